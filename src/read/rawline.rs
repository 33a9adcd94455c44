//! Field values read straight from a flat JSON line's text, without parsing the line: what a
//! reader needs to decide that a Falcon line cannot pass a query (and so need not be parsed).
//!
//! A key is found by searching for `"Key"`. Inside a JSON string every `"` is escaped, so an
//! occurrence whose quote is not preceded by `\` and that is followed by `:` is the key itself
//! (a `\` before it means the text is inside a string, or right after a string that ends in an
//! escaped backslash, where no key can start). The first such occurrence is the one a parser
//! keeps (the first of duplicate keys wins). Escapes are decoded, but `\u` and values that are
//! not strings are left to the parser ([`Raw::Unsure`]).

use memchr::memmem::Finder;
use std::borrow::Cow;

/// A field of a line, as far as its raw text tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw<'a> {
    /// No such key in the line.
    Absent,
    /// A string value (escapes decoded).
    Plain(Cow<'a, str>),
    /// Present, but only a parser can tell its value (escapes, a number, `null`, …).
    Unsure,
}

/// A finder for one key.
#[derive(Debug, Clone)]
pub struct Key {
    name: String,
    finder: Finder<'static>,
}

impl Key {
    pub fn new(name: &str) -> Key {
        let needle = format!("\"{name}\"");
        Key { name: name.to_string(), finder: json_finder(needle.as_bytes()) }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's value in `line`.
    pub fn get<'a>(&self, line: &'a [u8]) -> Raw<'a> {
        self.text(line).raw()
    }

    /// The key's value in `line` as the line spells it, not decoded.
    pub fn text<'a>(&self, line: &'a [u8]) -> Text<'a> {
        let plen = self.name.len() + 2;
        let mut from = 0;
        while let Some(i) = self.finder.find(&line[from..]) {
            let at = from + i;
            from = at + 1;
            if at == 0 || line[at - 1] == b'\\' {
                continue;
            }
            let j = ws(line, at + plen);
            if line.get(j) != Some(&b':') {
                continue;
            }
            return text_at(line, j + 1);
        }
        Text::Absent
    }
}

/// How often each byte occurs in real Falcon lines (FDR, `data/fdr-lines.ndjson`: the test lines
/// of Elastic's CrowdStrike integration), on a log scale (255: the most frequent, `"`).
static FALCON_RANKS: std::sync::LazyLock<[u8; 256]> = std::sync::LazyLock::new(|| {
    let mut n = [0u32; 256];
    for &b in include_bytes!("data/fdr-lines.ndjson") {
        n[b as usize] += 1;
    }
    let top = f64::from(n.iter().copied().max().unwrap_or(1)).ln_1p();
    let mut r = [0u8; 256];
    for (r, &n) in r.iter_mut().zip(&n) {
        *r = (f64::from(n).ln_1p() / top * 255.0).round() as u8;
    }
    r
});

struct FalconRank;

impl memchr::arch::all::packedpair::HeuristicFrequencyRank for FalconRank {
    fn rank(&self, byte: u8) -> u8 {
        FALCON_RANKS[byte as usize]
    }
}

/// A finder for text in Falcon lines. memmem's prefilter looks for the two bytes of the needle
/// that are rarest by a table of general text's byte frequencies, where `"` is rare; in JSON it
/// is the most frequent byte, and a key's quotes would make a candidate of every value. Ranked
/// by Falcon's frequencies, a key's capital letters are picked instead.
pub fn json_finder(needle: &[u8]) -> Finder<'static> {
    memchr::memmem::FinderBuilder::new().build_forward_with_ranker(FalconRank, needle).into_owned()
}

/// A value as a line spells it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Text<'a> {
    /// No such key in the line.
    Absent,
    /// A string: the bytes between its quotes, escapes as written ([`decode`] reads them).
    Str(&'a [u8]),
    /// Present, but not a string, or a string without its end.
    Unsure,
}

impl<'a> Text<'a> {
    /// The value decoded: a string that [`decode`] refuses is `Unsure`.
    pub fn raw(self) -> Raw<'a> {
        match self {
            Text::Absent => Raw::Absent,
            Text::Str(t) => decode(t).map_or(Raw::Unsure, Raw::Plain),
            Text::Unsure => Raw::Unsure,
        }
    }
}

fn text_at(line: &[u8], j: usize) -> Text<'_> {
    let j = ws(line, j);
    if line.get(j) != Some(&b'"') {
        return Text::Unsure;
    }
    let v = &line[j + 1..];
    // The first quote after an even number of backslashes (an odd number escapes it): one
    // search per quote, not one per escape (Windows paths are full of `\\`).
    let mut i = 0;
    loop {
        let Some(q) = memchr::memchr(b'"', &v[i..]).map(|q| i + q) else { return Text::Unsure };
        let escapes = v[..q].iter().rev().take_while(|&&b| b == b'\\').count();
        if escapes % 2 == 0 {
            return Text::Str(&v[..q]);
        }
        i = q + 1;
    }
}

/// Whether a string's text (between its quotes) is printable ASCII without an escape: then it
/// reads as it is spelled. Most values are: one pass (no early exit, so that it compiles to
/// wide compares) tells.
pub fn reads_as_spelled(v: &[u8]) -> bool {
    v.iter().fold(true, |ok, &c| ok & (0x20..0x80).contains(&c) & (c != b'\\'))
}

/// Whether [`decode`] reads a string's text, without decoding it when it reads as spelled.
pub fn decodes(v: &[u8]) -> bool {
    reads_as_spelled(v) || decode(v).is_some()
}

/// A string's text (between its quotes), decoded; `None` for a control byte, a `\u` or an
/// unknown escape, or bytes that are not UTF-8.
pub fn decode(v: &[u8]) -> Option<Cow<'_, str>> {
    if reads_as_spelled(v) {
        return std::str::from_utf8(v).ok().map(Cow::Borrowed);
    }
    let mut i = 0;
    let mut out: Option<Vec<u8>> = None;
    loop {
        let e = memchr::memchr(b'\\', &v[i..]).map_or(v.len(), |e| i + e);
        let seg = &v[i..e];
        if seg.iter().any(|&c| c < 0x20) {
            return None;
        }
        if e == v.len() {
            return match out {
                None => std::str::from_utf8(seg).ok().map(Cow::Borrowed),
                Some(mut o) => {
                    o.extend_from_slice(seg);
                    String::from_utf8(o).ok().map(Cow::Owned)
                }
            };
        }
        let o = out.get_or_insert_with(|| Vec::with_capacity(v.len()));
        o.extend_from_slice(seg);
        o.push(match v.get(e + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            _ => return None,
        });
        i = e + 2;
    }
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

static U_ESCAPE: std::sync::LazyLock<Finder<'static>> = std::sync::LazyLock::new(|| Finder::new(b"\\u"));
static EVENT_TYPE: std::sync::LazyLock<Finder<'static>> =
    std::sync::LazyLock::new(|| json_finder(b"event_simpleName\""));

/// A flat JSON object: it starts with `{`, ends with `}` (a line cut short is left to the
/// parser, which says so: what was cut could have been anything), and no value is an object or an array (a `{` or `[`
/// right after a key's `":` is a nested value; one after `\":` may be inside a string, and is
/// taken as nested too, to be safe).
pub fn is_flat_object(line: &[u8]) -> bool {
    flat_shape(line).is_some()
}

/// [`is_flat_object`], and whether the line has a `#` (without one, it has no
/// `#event_simpleName` key): `None` when not flat; one pass.
pub fn flat_shape(line: &[u8]) -> Option<bool> {
    let i = ws(line, 0);
    if line.get(i) != Some(&b'{') || !trim_end(line).ends_with(b"}") {
        return None;
    }
    let mut hash = false;
    for at in memchr::memchr3_iter(b'{', b'[', b'#', &line[i + 1..]) {
        let at = i + 1 + at;
        if line[at] == b'#' {
            hash = true;
            continue;
        }
        let before = trim_end(&line[..at]);
        if let Some(b) = before.strip_suffix(b":") {
            if trim_end(b).ends_with(b"\"") {
                return None;
            }
        }
    }
    Some(hash)
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b.iter().rev().take_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')).count();
    &b[..b.len() - n]
}

/// Whether a key of the line has a `\u` escape, which could spell a key that a search for its
/// plain text misses: then a key not found is not known to be absent. Escapes in values (FDR
/// writes `\u0000` in multi-string registry values) do not count; a string whose end cannot be
/// found counts.
pub fn has_u_escape(line: &[u8]) -> bool {
    // Most lines of Linux hosts hold no backslash at all: one byte search says so, faster
    // than the search for two.
    let Some(mut from) = memchr::memchr(b'\\', line) else { return false };
    while let Some(i) = U_ESCAPE.find(&line[from..]) {
        // The end of the string holding it: the next quote not escaped (escapes before the hit
        // are whole, so the scan from after it is aligned).
        let mut k = from + i + 2;
        let end = loop {
            match line.get(k) {
                None => return true,
                Some(b'\\') => k += 2,
                Some(b'"') => break k,
                Some(_) => k += 1,
            }
        };
        if line.get(ws(line, end + 1)) == Some(&b':') {
            return true;
        }
        from = end + 1;
    }
    false
}

/// The event type as normalisation gives it: `#event_simpleName`, else `event_simpleName`
/// (both found in one pass).
pub fn event_type(line: &[u8]) -> Raw<'_> {
    // Without a `#` in the line there is no `#event_simpleName`: the first key is the one.
    let hash_possible = memchr::memchr(b'#', line).is_some();
    let mut plain: Option<usize> = None;
    let mut from = 0;
    while let Some(i) = EVENT_TYPE.find(&line[from..]) {
        let at = from + i;
        from = at + 1;
        let hashed = at >= 2 && line[at - 1] == b'#' && line[at - 2] == b'"' && (at < 3 || line[at - 3] != b'\\');
        let bare = at >= 1 && line[at - 1] == b'"' && (at < 2 || line[at - 2] != b'\\');
        if !hashed && !bare {
            continue;
        }
        let j = ws(line, at + b"event_simpleName\"".len());
        if line.get(j) != Some(&b':') {
            continue;
        }
        if hashed || !hash_possible {
            return value_at(line, j + 1);
        }
        plain.get_or_insert(j + 1);
    }
    match plain {
        Some(j) => value_at(line, j),
        None if has_u_escape(line) => Raw::Unsure,
        None => Raw::Absent,
    }
}

fn value_at(line: &[u8], j: usize) -> Raw<'_> {
    // A key was found: present, so never `Absent`.
    match text_at(line, j) {
        Text::Absent => Raw::Unsure,
        t => t.raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranks read Falcon lines: the quote is the most frequent byte, digits and lowercase
    /// letters come before capitals, so a key's search keys on its capitals.
    #[test]
    fn falcon_ranks_put_quotes_first_and_capitals_last() {
        let r = &*FALCON_RANKS;
        assert_eq!(r[b'"' as usize], 255);
        for (common, rare) in [(b'0', b'G'), (b'e', b'P'), (b':', b'T'), (b'a', b'Z')] {
            assert!(r[common as usize] > r[rare as usize], "{} {}", common as char, rare as char);
        }
        for k in ["aid", "ParentProcessGuid", "CommandLine"] {
            let line = format!(r#"{{"x":"\"{k}\"","{k}":"v"}}"#);
            assert_eq!(Key::new(k).get(line.as_bytes()), Raw::Plain("v".into()), "{k}");
        }
    }

    #[test]
    fn only_escapes_in_keys_count() {
        assert!(!has_u_escape(br#"{"a":"x"}"#));
        assert!(!has_u_escape(br#"{"RegStringValue":"a\u0000b\u0000","b":"c"}"#));
        assert!(has_u_escape(br#"{"\u0054argetFileName":"x"}"#));
        assert!(has_u_escape(br#"{"a":"x","Ta\u0072get" : "y"}"#));
        // An escaped backslash before `u` is no escape, but the string is still a key.
        assert!(has_u_escape(br#"{"a\\u":"y"}"#));
        assert!(!has_u_escape(br#"{"a":"x\\u0041\"q","b":"y"}"#));
        // A string with no end: cannot tell.
        assert!(has_u_escape(br#"{"a":"x\u0041"#));
    }

    #[test]
    fn text_is_the_value_as_spelled() {
        let k = Key::new("ImageFileName");
        let line = br#"{"ImageFileName":"C:\\w\"x\"","b":1}"#;
        assert_eq!(k.text(line), Text::Str(br#"C:\\w\"x\""#));
        assert_eq!(k.get(line), Raw::Plain(Cow::Borrowed("C:\\w\"x\"")));
        assert_eq!(Key::new("b").text(line), Text::Unsure);
        assert_eq!(Key::new("c").text(line), Text::Absent);
        // No end, or an escape at the very end: only a parser can tell.
        assert_eq!(k.text(br#"{"ImageFileName":"abc"#), Text::Unsure);
        assert_eq!(k.text(br#"{"ImageFileName":"abc\"#), Text::Unsure);
        // Runs of backslashes: an even run leaves the quote that follows it the end.
        assert_eq!(k.text(br#"{"ImageFileName":"C:\\\\","b":"x"}"#), Text::Str(br"C:\\\\"));
        assert_eq!(k.text(br#"{"ImageFileName":"a\\\\\"b","c":1}"#), Text::Str(br#"a\\\\\"b"#));
        assert_eq!(k.text(br#"{"ImageFileName":"\\\"\\","c":1}"#), Text::Str(br#"\\\"\\"#));
        assert_eq!(k.text(br#"{"ImageFileName":"a\\\""#), Text::Unsure);
        // What decoding refuses: control bytes, \u, unknown escapes, bytes that are not UTF-8.
        assert_eq!(decode(br"a\u0041"), None);
        assert_eq!(decode(br"a\qb"), None);
        assert_eq!(decode(b"a\x01b"), None);
        assert_eq!(decode(&[b'a', 0xff]), None);
        assert_eq!(decode(br"a\tb").as_deref(), Some("a\tb"));
        assert_eq!(decode(br"C:\\w").as_deref(), Some("C:\\w"));
    }

    #[test]
    fn keys_not_their_mentions() {
        let k = Key::new("ParentBaseFileName");
        let get = |l: &'static str| k.get(l.as_bytes());
        let plain = |s: &'static str| Raw::Plain(Cow::Borrowed(s));
        assert_eq!(get(r#"{"a":"b","ParentBaseFileName":"w3wp.exe"}"#), plain("w3wp.exe"));
        assert_eq!(get(r#"{ "ParentBaseFileName" : "x" }"#), plain("x"));
        assert_eq!(get(r#"{"a":"b"}"#), Raw::Absent);
        // A value that names the key, or the key inside a string, is not the key.
        assert_eq!(get(r#"{"CommandLine":"ParentBaseFileName","ParentBaseFileName":"y"}"#), plain("y"));
        assert_eq!(get(r#"{"c":"x \"ParentBaseFileName\":\"z\"","ParentBaseFileName":"y"}"#), plain("y"));
        assert_eq!(get(r#"{"c":"\"ParentBaseFileName\":\"z\""}"#), Raw::Absent);
        // The first of duplicates, as the parser keeps it.
        assert_eq!(get(r#"{"ParentBaseFileName":"1","ParentBaseFileName":"2"}"#), plain("1"));
        // What only a parser can tell.
        assert_eq!(get(r#"{"ParentBaseFileName":"C:\\w\"x\"\/\t"}"#), plain("C:\\w\"x\"/\t"));
        assert_eq!(get(r#"{"ParentBaseFileName":"a\u0041"}"#), Raw::Unsure);
        assert_eq!(get(r#"{"ParentBaseFileName":"a\q"}"#), Raw::Unsure);
        assert_eq!(get(r#"{"ParentBaseFileName":7}"#), Raw::Unsure);
        assert_eq!(get(r#"{"ParentBaseFileName":null}"#), Raw::Unsure);
        assert_eq!(get("{\"ParentBaseFileName\":\"a\tb\"}"), Raw::Unsure);
        assert_eq!(get(r#"{"ParentBaseFileName":"unterminated"#), Raw::Unsure);
    }

    #[test]
    fn the_event_type_as_normalised() {
        let plain = |s: &'static str| Raw::Plain(Cow::Borrowed(s));
        assert_eq!(event_type(br#"{"event_simpleName":"A"}"#), plain("A"));
        assert_eq!(event_type(br##"{"event_simpleName":"A","#event_simpleName":"B"}"##), plain("B"));
        assert_eq!(event_type(br#"{"x":"\"event_simpleName\":1","event_simpleName":"A"}"#), plain("A"));
        assert_eq!(event_type(br#"{"Parentevent_simpleName":"A"}"#), Raw::Absent);
        assert_eq!(event_type(br#"{"a":"b"}"#), Raw::Absent);
        // An escape in a value cannot spell the key; one in a key can.
        assert_eq!(event_type(br#"{"a":"\u0062"}"#), Raw::Absent);
        assert_eq!(event_type(br#"{"\u0065vent_simpleName":"A"}"#), Raw::Unsure);
        assert_eq!(event_type(br#"{"event_simpleName":3}"#), Raw::Unsure);
    }

    #[test]
    fn flat_shape_sees_the_hash() {
        assert_eq!(flat_shape(br##"{"#event_simpleName":"A"}"##), Some(true));
        assert_eq!(flat_shape(br#"{"event_simpleName":"A","b":"{x}"}"#), Some(false));
        assert_eq!(flat_shape(br##"{"a":{"b":"#"}}"##), None);
    }

    #[test]
    fn flat_objects_only() {
        assert!(is_flat_object(br#" {"a":"b"}"#));
        assert!(!is_flat_object(br#"{"a":{"b":"c"}}"#));
        assert!(!is_flat_object(br#"{"a":["b"]}"#));
        assert!(!is_flat_object(br#"{"a": [ "b"]}"#));
        // Braces and brackets inside strings are text.
        assert!(is_flat_object(br#"{"a":"x{y}","b":"[priv]","c":"{1-2}"}"#));
        // `":{` inside a string is taken as nested, to be safe.
        assert!(!is_flat_object(br#"{"a":"x\":{y"}"#));
        assert!(!is_flat_object(br#"["a"]"#));
        assert!(!is_flat_object(br#"{"a":"b","#));
    }
}
