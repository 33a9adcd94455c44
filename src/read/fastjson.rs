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

/// The fields a reader keeps: the query's projection (`plan::project`) plus what the Falcon
/// normalisation and the process tree read. `@rawstring` is made only when kept.
#[derive(Debug, Clone)]
pub struct Projection {
    /// Kept key names by length (a key is compared with the few names of its length).
    by_len: Vec<Vec<Box<[u8]>>>,
    raw: bool,
}

/// What normalisation ([`super::falcon::normalise`]) and lineage ([`super::tree`]) read or
/// write, kept whatever the query reads.
const ALWAYS: &[&str] = &[
    "event_simpleName",
    "#event_simpleName",
    "#repo",
    "timestamp",
    "@timestamp",
    "ImageFileName",
    "TargetFileName",
    "FileName",
    "FilePath",
    "aid",
    "ComputerName",
    "TargetProcessId",
    "ParentProcessId",
    "ParentProcessGuid",
    "ContextProcessId",
    "ParentBaseFileName",
    "GrandParentBaseFileName",
    "ContextBaseFileName",
    "ContextImageFileName",
    "EventID",
    "arch",
    "success",
    "exit",
    "exe",
    "pid",
    "ppid",
];

impl Projection {
    /// Keep `fields` and what normalisation and lineage need.
    pub fn new<S: AsRef<str>>(fields: impl IntoIterator<Item = S>) -> Projection {
        let mut p = Projection { by_len: Vec::new(), raw: false };
        for f in fields.into_iter().map(|f| f.as_ref().to_string()).chain(ALWAYS.iter().map(|s| s.to_string())) {
            if f == "@rawstring" {
                p.raw = true;
            }
            let b = f.into_bytes().into_boxed_slice();
            if p.by_len.len() <= b.len() {
                p.by_len.resize(b.len() + 1, Vec::new());
            }
            if !p.by_len[b.len()].contains(&b) {
                p.by_len[b.len()].push(b);
            }
        }
        p
    }

    #[inline]
    pub fn keeps(&self, key: &[u8]) -> bool {
        match self.by_len.get(key.len()) {
            Some(v) => v.iter().any(|k| k.last() == key.last() && k[0] == key[0] && **k == *key),
            None => false,
        }
    }

    /// Whether `@rawstring` is read.
    pub fn keeps_raw(&self) -> bool {
        self.raw
    }

    /// The kept names, sorted (for `explain`).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.by_len.iter().flatten().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
        v.sort();
        v
    }
}

/// The kept fields of a flat object whose values are all strings (every FDR line), scanned
/// without building anything for the others. `None` when the line is anything else (a number,
/// `null`, a nested value, an escaped key, any doubt about its syntax): the caller then takes
/// the general path, which also says what is wrong with a bad line.
pub fn flat_strings_projected(text: &str, proj: &Projection) -> Option<Vec<(String, Value)>> {
    let b = text.as_bytes();
    let sp = Specials::new(b);
    let mut out: Vec<(String, Value)> = Vec::with_capacity(24);
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (ws(b, i + 1) == b.len()).then_some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let ks = i + 1;
        let ke = sp.next(ks)?;
        if b[ke] != b'"' {
            return None;
        }
        i = ws(b, ke + 1);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(b, i + 1);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key = &b[ks..ke];
        let keep = proj.keeps(key);
        let (value, next) = string(b, &sp, i + 1, keep)?;
        if let Some(v) = value {
            // The first of duplicate keys wins, as on the general path.
            let k = &text[ks..ke];
            if !out.iter().any(|(x, _)| x == k) {
                out.push((k.to_string(), Value::Str(v)));
            }
        }
        i = ws(b, next);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => return (ws(b, i + 1) == b.len()).then_some(out),
            _ => return None,
        }
    }
}

/// The positions of a line's `"`, `\` and control bytes, as a bitmask (one bit per byte), so
/// that a string's end is found without looking at its bytes one by one.
struct Specials {
    words: Vec<u64>,
}

impl Specials {
    fn new(b: &[u8]) -> Specials {
        let mut words = Vec::with_capacity(b.len() / 64 + 1);
        let mut chunks = b.chunks_exact(64);
        for c in &mut chunks {
            words.push(mask64(c.try_into().expect("64 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Padding that is none of the special bytes.
            let mut pad = [b'a'; 64];
            pad[..rest.len()].copy_from_slice(rest);
            words.push(mask64(&pad));
        }
        Specials { words }
    }

    /// The first special byte at or after `from`.
    #[inline]
    fn next(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        let mut bits = *self.words.get(w)? & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            bits = *self.words.get(w)?;
        }
    }
}

/// Bit i set when byte i is `"`, `\` or below 0x20: eight bytes at a time (SWAR), each byte's
/// test giving its high bit, the eight high bits gathered by one multiplication.
#[inline]
fn mask64(c: &[u8; 64]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const L7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of each byte that is zero, exactly (no borrow between bytes).
    #[inline]
    fn zero_bytes(x: u64) -> u64 {
        !(((x & L7) + L7) | x | L7)
    }
    let mut m = 0u64;
    for k in 0..8 {
        let x = u64::from_le_bytes(c[k * 8..k * 8 + 8].try_into().expect("8 bytes"));
        let hi = zero_bytes(x ^ (ONES * u64::from(b'"')))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')))
            | zero_bytes(x & (ONES * 0xe0));
        m |= ((hi >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (k * 8);
    }
    m
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// A JSON string starting after its opening quote at `start`: (its decoded text when `decode`,
/// the index after the closing quote). `None` when it is not valid JSON or uses an escape this
/// scanner leaves to serde (a `\u` escape that is not a whole character).
fn string(b: &[u8], sp: &Specials, start: usize, decode: bool) -> Option<(Option<String>, usize)> {
    let mut i = start;
    let mut buf: Option<Vec<u8>> = None;
    loop {
        let j = sp.next(i)?;
        let seg = &b[i..j];
        match b[j] {
            b'"' => {
                let v = if !decode {
                    None
                } else if let Some(mut buf) = buf {
                    buf.extend_from_slice(seg);
                    Some(String::from_utf8(buf).ok()?)
                } else {
                    // The line was checked to be UTF-8, and `"` is never inside a character.
                    Some(std::str::from_utf8(seg).ok()?.to_string())
                };
                return Some((v, j + 1));
            }
            b'\\' => {}
            // A control byte inside a string.
            _ => return None,
        }
        let e = *b.get(j + 1)?;
        let out = buf.get_or_insert_with(Vec::new);
        out.extend_from_slice(seg);
        i = j + 2;
        match e {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hi = hex4(b.get(j + 2..j + 6)?)?;
                i = j + 6;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    if b.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(b.get(i + 2..i + 6)?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                };
                let mut tmp = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
            _ => return None,
        }
    }
}

fn hex4(h: &[u8]) -> Option<u32> {
    if h.len() != 4 || !h.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
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

    /// The projected scanner gives what the general path gives (then filtered), or leaves the
    /// line to it.
    #[test]
    fn special_byte_mask() {
        let mut c = [b'a'; 64];
        for (i, x) in [(0, b'"'), (7, b'\\'), (8, 0x1f), (9, 0), (33, 0x20), (40, 0x80), (41, 0xe0), (63, b'"')] {
            c[i] = x;
        }
        assert_eq!(mask64(&c), 1 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 63);
    }

    #[test]
    fn projected_scan_agrees_with_serde() {
        let all = Projection::new(["a", "b", "c", "e", "k", "é", "@rawstring"]);
        let cases = [
            r#"{"a":"x","b":"y"}"#,
            r#" { "a" : "x" , "b":"y" } "#,
            r#"{}"#,
            r#"{"a":"x","a":"dup"}"#,
            r#"{"a":"q\"\\\/\b\f\n\r\t"}"#,
            r#"{"a":"\u00e9\u0041\ud83d\ude00"}"#,
            r#"{"é":"accent key","zz":"skipped \" value"}"#,
            r#"{"a":"\ud83d"}"#,
            r#"{"a":"\ud83dx"}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":1}"#,
            r#"{"a":null,"b":"y"}"#,
            r#"{"a":{"b":"c"}}"#,
            r#"{"a":"x",}"#,
            r#"{"a":"x""#,
            r#"{"a":"x"} y"#,
            r#"{"a" "x"}"#,
            "{\"a\":\"raw\ttab\"}",
            r#"{"\u0061":"escaped key"}"#,
            r#"["a"]"#,
        ];
        for c in cases {
            let text = c.to_string();
            let fast = flat_strings_projected(&text, &all);
            let slow = flat_object(&text);
            match (&fast, &slow) {
                (Some(f), Ok(Some(s))) => {
                    let s: Vec<_> = s.iter().filter(|(k, _)| all.keeps(k.as_bytes())).cloned().collect();
                    assert_eq!(f, &s, "{text}");
                }
                (Some(f), other) => panic!("{text}: fast {f:?}, serde {other:?}"),
                (None, _) => {}
            }
        }
        for ok in [cases[0], cases[1], cases[2], cases[4], cases[5], cases[6]] {
            assert!(flat_strings_projected(ok, &all).is_some(), "{ok}");
        }
        // The common line is taken by the fast path; keys outside the projection are dropped.
        let p = Projection::new(["a"]);
        let got = flat_strings_projected(r#"{"a":"1","zz":"2","aid":"h"}"#, &p).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(!p.keeps_raw() && all.keeps_raw());
        // Bad lines are never accepted by the fast path.
        for bad in [r#"{"a":"x",}"#, r#"{"a":"x""#, r#"{"a":"x"} y"#, "{\"a\":\"raw\ttab\"}", r#"{"a":"\x"}"#] {
            let text = bad.to_string();
            assert!(flat_strings_projected(&text, &all).is_none(), "{text}");
        }
    }
}
