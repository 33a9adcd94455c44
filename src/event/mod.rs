//! The one event model: an ordered list of named values. Every reader produces it, every
//! stage consumes it. LogScale values are strings interpreted by context; aggregate outputs
//! are numbers (printed as JSON numbers).

use std::borrow::Cow;
use std::fmt;

/// A field value.
#[derive(Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
}

impl Value {
    /// The value as text (numbers as LogScale prints them).
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s),
            Value::Num(n) => Cow::Owned(format_num(*n)),
        }
    }

    /// The value as a number, if it reads as one (`" 42 "` does not; `"4.2e1"` does).
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => parse_num(s),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Str(s) if s.is_empty())
    }

    /// LogScale's truthiness for `test()` and `if()`: `true`, or a non-zero number.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Num(n) => *n != 0.0,
            Value::Str(s) => s == "true" || parse_num(s).is_some_and(|n| n != 0.0),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Num(n) => write!(f, "{}", format_num(*n)),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Num(n)
    }
}

/// Parse a number the way LogScale's numeric filters do: optional sign, digits, optional
/// fraction and exponent; no surrounding spaces; hex is not a number here.
pub fn parse_num(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 64 {
        return None;
    }
    let first = b[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    let last = b[b.len() - 1];
    if !(last.is_ascii_digit() || last == b'.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Integers without a fraction, others in the shortest form that reads back.
pub fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Field names compared by length, then (for names of eight bytes or more) by their last and
/// first eight bytes as two words, which for names of up to sixteen bytes is the whole
/// comparison: names of one length often share a start or an end (`ParentProcessId`,
/// `TargetProcessId`), and a lookup passes most fields without a call to compare bytes.
#[inline]
fn same_name(k: &str, name: &str) -> bool {
    let (a, b) = (k.as_bytes(), name.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    word(a, n - 8) == word(b, n - 8) && word(a, 0) == word(b, 0) && (n <= 16 || a[8..n - 8] == b[8..n - 8])
}

/// A field's name: borrowed for the names a reader or a mapping knows before it reads (its
/// programs and tables hold them, [`intern`]), so that giving one to each event copies a
/// pointer, not the text; owned for the others (JSON keys, results).
pub type Name = Cow<'static, str>;

/// Names kept for the rest of the run, bounded.
struct Interner {
    names: crate::hash::FastSet<&'static str>,
    bytes: usize,
    max_names: usize,
    max_bytes: usize,
}

impl Interner {
    /// The name, shared when kept (now or before), owned when the table is full.
    fn get(&mut self, name: &str) -> Name {
        if let Some(&k) = self.names.get(name) {
            return Cow::Borrowed(k);
        }
        if self.names.len() >= self.max_names || self.bytes + name.len() > self.max_bytes {
            return Cow::Owned(name.to_string());
        }
        let k: &'static str = Box::leak(name.to_string().into_boxed_str());
        self.names.insert(k);
        self.bytes += k.len();
        Cow::Borrowed(k)
    }
}

/// The names [`intern`] keeps: at most 16,384, of 1 MB in all, whatever the input.
static NAMES: std::sync::Mutex<Interner> = std::sync::Mutex::new(Interner {
    names: crate::hash::FastSet::with_hasher(std::hash::BuildHasherDefault::new()),
    bytes: 0,
    max_names: 16_384,
    max_bytes: 1 << 20,
});

/// A name a reader's program or a mapping table gives many events, kept for the rest of the
/// run (bounded, [`NAMES`]: past the bound, each event owns the name as any other).
pub fn intern(name: &str) -> Name {
    match NAMES.lock() {
        Ok(mut n) => n.get(name),
        Err(_) => Cow::Owned(name.to_string()),
    }
}

/// One event (or one result row).
#[derive(Clone, Default)]
pub struct Event {
    fields: Vec<(Name, Value)>,
    /// Set by a reader whose line probe tested a pack's rules on the line: bit `i` set when
    /// rule `i` may pass its leading filters (the others cannot, [`Event::rules_hint`]). Not
    /// a field: not printed, not compared.
    hint: Option<u64>,
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.fields == other.fields
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.fields.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl Event {
    pub fn new() -> Event {
        Event { fields: Vec::new(), hint: None }
    }

    pub fn with_capacity(n: usize) -> Event {
        Event { fields: Vec::with_capacity(n), hint: None }
    }

    /// The position of a field (the first, should a reader have given a name twice).
    fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(k, _)| same_name(k, name))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| same_name(k, name)).map(|(_, v)| v)
    }

    /// The value as text, if present.
    pub fn get_str(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(Value::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(k, _)| same_name(k, name))
    }

    /// Set a field, replacing an existing value in place (order kept).
    pub fn set(&mut self, name: &str, v: Value) {
        match self.position(name) {
            Some(i) => self.fields[i].1 = v,
            None => self.fields.push((Cow::Owned(name.to_string()), v)),
        }
    }

    /// [`set`](Self::set), with the name given to the event as it is when new (a shared name
    /// stays shared).
    pub fn set_name(&mut self, name: &Name, v: Value) {
        match self.position(name) {
            Some(i) => self.fields[i].1 = v,
            None => self.fields.push((name.clone(), v)),
        }
    }

    /// Which of a pack's rules (bit `i`: rule `i`) the line probe found may pass on the line
    /// this event was read from; `None` when not probed that way (every rule may).
    pub fn rules_hint(&self) -> Option<u64> {
        self.hint
    }

    pub fn set_rules_hint(&mut self, hint: Option<u64>) {
        self.hint = hint;
    }

    /// An event from fields already free of duplicates (readers).
    pub fn from_fields(fields: Vec<(String, Value)>) -> Event {
        Event { fields: fields.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect(), hint: None }
    }

    /// Append without checking for an existing field (readers building a fresh event).
    pub fn push(&mut self, name: impl Into<Name>, v: Value) {
        self.fields.push((name.into(), v));
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.position(name)?;
        Some(self.fields.remove(i).1)
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The fields with their names as the event holds them (a name the table of known names
    /// gave is `Cow::Borrowed`, shared, not allocated).
    pub fn named_fields(&self) -> impl Iterator<Item = (&Name, &Value)> {
        self.fields.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// The value of the field at a position of [`fields`](Self::fields).
    pub fn value_at(&self, i: usize) -> Option<&Value> {
        self.fields.get(i).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Keep only the named fields, in the given order.
    pub fn project(&self, names: &[String]) -> Event {
        let mut e = Event::with_capacity(names.len());
        for n in names {
            if let Some(v) = self.get(n) {
                e.fields.push((Cow::Owned(n.clone()), v.clone()));
            }
        }
        e
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.fields.retain(|(k, _)| keep(k));
    }

    /// Event time in ms (`@timestamp`), if present and numeric.
    pub fn timestamp(&self) -> Option<f64> {
        self.get("@timestamp").and_then(Value::as_num)
    }
}

/// Appends `n` in decimal (the readers and the generator write numbers this way, without
/// `fmt`).
pub fn push_decimal(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// JSON string escaping.
pub fn json_escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Event {
    /// One JSON object: numbers as JSON numbers, everything else as strings, in field order.
    /// Fields named in `skip` are left out.
    pub fn to_json(&self, skip: &[&str]) -> String {
        let mut s = String::with_capacity(64 + self.len() * 24);
        s.push('{');
        let mut first = true;
        for (k, v) in self.fields() {
            if skip.contains(&k) {
                continue;
            }
            if !first {
                s.push(',');
            }
            first = false;
            json_escape(k, &mut s);
            s.push(':');
            match v {
                Value::Num(n) if n.is_finite() => s.push_str(&format_num(*n)),
                other => json_escape(&other.as_str(), &mut s),
            }
        }
        s.push('}');
        s
    }

    /// An event from a JSON object (tests and lookup files): values as strings, `@timestamp`
    /// as a number.
    pub fn from_json(v: &serde_json::Value) -> Option<Event> {
        v.as_object()?;
        let mut flat = Vec::new();
        crate::read::flatten_json("", v, &mut flat);
        let mut e = Event::with_capacity(flat.len());
        for (k, v) in flat {
            let v = if k == "@timestamp" { v.as_num().map(Value::Num).unwrap_or(v) } else { v };
            e.set(&k, v);
        }
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_hint_is_not_a_field() {
        let mut a = Event::new();
        a.set("x", Value::Str("1".into()));
        let mut b = a.clone();
        b.set_rules_hint(Some(0b10));
        assert_eq!(a, b);
        assert_eq!((a.rules_hint(), b.rules_hint()), (None, Some(0b10)));
        assert_eq!(format!("{b:?}"), format!("{a:?}"));
    }

    #[test]
    fn interned_names_are_shared_and_bounded() {
        let a = intern("EventData.CommandLine");
        let b = intern(&String::from("EventData.CommandLine"));
        match (&a, &b) {
            (Cow::Borrowed(x), Cow::Borrowed(y)) => assert!(std::ptr::eq(*x, *y)),
            _ => panic!("interned names are borrowed: {a:?} {b:?}"),
        }
        let mut small = Interner { names: Default::default(), bytes: 0, max_names: 2, max_bytes: 8 };
        assert!(matches!(small.get("abcd"), Cow::Borrowed("abcd")));
        assert!(matches!(small.get("abcd"), Cow::Borrowed("abcd")));
        // Past the bytes, then past the count: owned, and the same text.
        assert!(matches!(small.get("efghi"), Cow::Owned(ref s) if s == "efghi"));
        assert!(matches!(small.get("ef"), Cow::Borrowed("ef")));
        assert!(matches!(small.get("g"), Cow::Owned(ref s) if s == "g"));
        assert_eq!(small.names.len(), 2);
        // An event holds either kind alike.
        let mut e = Event::new();
        e.push(a, Value::Str("x".into()));
        e.set_name(&Cow::Owned("y".to_string()), Value::Str("1".into()));
        e.set_name(&b, Value::Str("z".into()));
        assert_eq!(e.get_str("EventData.CommandLine").as_deref(), Some("z"));
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn names_are_equal_when_their_bytes_are() {
        let names = [
            "",
            "a",
            "aid",
            "abcdefg",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "ParentProcessId",
            "TargetProcessId",
            "ParentProcessIe",
            "ParentBaseFileName",
            "ParentBaseFileNamf",
            "ParentBaseFjleName",
            "GrandParentBaseFileName",
            "GrandParentBaseFileNam",
            "0123456789abcdef",
            "0123456789abcdeg",
            "0123456789abcdef0",
            "0123456789abXdef0",
            "abcdefghijklmnopqrst",
            "abcdefghXjklmnopqrst",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_name(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_num("42"), Some(42.0));
        assert_eq!(parse_num("-1.5"), Some(-1.5));
        assert_eq!(parse_num(" 1"), None);
        assert_eq!(parse_num("0x1f"), None);
        assert_eq!(parse_num("abc"), None);
        assert_eq!(format_num(3.0), "3");
        assert_eq!(format_num(2.5), "2.5");
    }

    #[test]
    fn set_keeps_order() {
        let mut e = Event::new();
        e.set("a", "1".into());
        e.set("b", "2".into());
        e.set("a", "3".into());
        let ks: Vec<_> = e.fields().map(|(k, _)| k.to_string()).collect();
        assert_eq!(ks, ["a", "b"]);
        assert_eq!(e.get_str("a").as_deref(), Some("3"));
    }
}
