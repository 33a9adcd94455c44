//! A fast path for flat JSON objects (every FDR line): the object is read straight into an
//! event's field list, with no `serde_json::Value` tree. Anything nested returns `None`, and
//! the caller takes the general path (which flattens).

use crate::event::Value;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A flat object's fields, or `None` when a value is an object or an array.
pub fn flat_object(text: &str) -> Result<Option<Vec<(String, Value)>>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = de.deserialize_map(ObjectVisitor)?;
    de.end()?;
    Ok(fields)
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Option<Vec<(String, Value)>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(String, Value)> = Vec::with_capacity(map.size_hint().unwrap_or(48));
        let mut nested = false;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match map.next_value::<Scalar>()? {
                Scalar::Text(v) => {
                    // The first of duplicate keys wins, as on the general path.
                    if !out.iter().any(|(x, _)| x == k.as_ref()) {
                        out.push((k.into_owned(), Value::Str(v)));
                    }
                }
                Scalar::Null => {}
                Scalar::Nested => nested = true,
            }
        }
        Ok(if nested { None } else { Some(out) })
    }
}

struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

enum Scalar {
    Text(String),
    Null,
    Nested,
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Text(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                // serde_json::Number prints floats this way on the general path too.
                Ok(Scalar::Text(serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Scalar, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Nested)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Scalar, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Nested)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_nested() {
        let f = flat_object(r#"{"a":"x","b":1,"c":true,"d":null,"a":"dup","e":"q\"\\"}"#).unwrap().unwrap();
        let got: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        assert_eq!(got, ["a=\"x\"", "b=\"1\"", "c=\"true\"", "e=\"q\\\"\\\\\""]);
        assert!(flat_object(r#"{"a":{"b":1}}"#).unwrap().is_none());
        assert!(flat_object(r#"{"a":[1]}"#).unwrap().is_none());
        assert!(flat_object("[1]").is_err());
        assert!(flat_object("{\"a\":").is_err());
        assert!(flat_object("{} x").is_err());
    }
}
