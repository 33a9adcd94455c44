//! Skipping Falcon lines that cannot pass a query, without parsing them: when the query's first
//! filter requires one of a few event types (`Plan::event_names`), a Falcon line (one with an
//! `event_simpleName` key) that names none of them is counted and dropped.

use crate::hash::FastSet as HashSet;
use memchr::memmem;

/// A set of event types: names, and regexes (`/body/flags`, as `Plan::event_names` writes a
/// regex filter on `#event_simpleName`).
#[derive(Debug, Clone)]
pub struct EventTypes {
    names: HashSet<Vec<u8>>,
    regexes: Vec<regex::bytes::Regex>,
}

impl EventTypes {
    /// `None` when an entry cannot be tested safely here: a name that would need JSON escaping,
    /// or a regex the `regex` crate does not take (lookaround): then nothing is skipped.
    pub fn new(entries: &[String]) -> Option<EventTypes> {
        let mut names = HashSet::default();
        let mut regexes = Vec::new();
        for e in entries {
            if let Some(rest) = e.strip_prefix('/') {
                let (body, flags) = rest.rsplit_once('/')?;
                let body = body.replace("\\/", "/");
                let pattern = if flags.contains('i') { format!("(?i){body}") } else { body };
                regexes.push(regex::bytes::Regex::new(&pattern).ok()?);
            } else {
                if e.contains(['"', '\\']) || e.chars().any(char::is_control) {
                    return None;
                }
                names.insert(e.as_bytes().to_vec());
            }
        }
        if names.is_empty() && regexes.is_empty() {
            return None;
        }
        Some(EventTypes { names, regexes })
    }

    /// The event type is one of the set (a few names are compared directly: cheaper than
    /// hashing every line's type).
    pub fn contains(&self, name: &[u8]) -> bool {
        let listed = if self.names.len() <= 16 {
            self.names.iter().any(|n| n.len() == name.len() && n.as_slice() == name)
        } else {
            self.names.contains(name)
        };
        listed || self.regexes.iter().any(|r| r.is_match(name))
    }
}

/// The event types a query can use. Each reader works on its own copy (`check` remembers
/// the answer per event type: a pack's set has regexes, and a line's type is one of a few).
#[derive(Debug, Clone)]
pub struct LineSkip {
    types: EventTypes,
    marker: memmem::Finder<'static>,
    seen: crate::hash::FastMap<Box<[u8]>, bool>,
}

impl LineSkip {
    /// The skip for a query's event types; with lineage enrichment on, process events are kept
    /// too (the lineage comes from them).
    pub fn for_query(names: impl IntoIterator<Item = String>, lineage: bool) -> Option<std::sync::Arc<LineSkip>> {
        let mut names: Vec<String> = names.into_iter().collect();
        if lineage {
            names.extend(["ProcessRollup2".to_string(), "SyntheticProcessRollup2".to_string()]);
        }
        names.sort();
        names.dedup();
        LineSkip::new(&names).map(std::sync::Arc::new)
    }

    /// `None` when an entry cannot be tested safely (see [`EventTypes::new`]).
    pub fn new(names: &[String]) -> Option<LineSkip> {
        let types = EventTypes::new(names)?;
        Some(LineSkip {
            types,
            marker: crate::read::rawline::json_finder(b"event_simpleName\""),
            seen: Default::default(),
        })
    }

    /// A Falcon line whose `event_simpleName` (or `#event_simpleName`) is none of the event
    /// types. The key is found by its closing quote: inside a JSON string every `"` is escaped,
    /// so `event_simpleName"` can only be the end of a key (checked: the key is exactly that
    /// name). Anything unusual (an escaped value, another key ending the same way, a value that
    /// is not a string) keeps the line.
    pub fn skippable(&mut self, line: &[u8]) -> bool {
        self.check(line).0
    }

    /// [`LineSkip::skippable`], and the event type it read (a plain string value of the first
    /// `event_simpleName` or `#event_simpleName` key), for the line probe to reuse.
    pub fn check<'a>(&mut self, line: &'a [u8]) -> (bool, Option<&'a [u8]>) {
        let mut from = 0;
        while let Some(i) = self.marker.find(&line[from..]) {
            let at = from + i;
            from = at + 1;
            let key_start = match line[..at].last() {
                Some(b'"') => true,
                Some(b'#') => at >= 2 && line[at - 2] == b'"',
                _ => false,
            };
            if !key_start {
                continue;
            }
            let rest = &line[at + b"event_simpleName\"".len()..];
            let rest = trim_ws(rest);
            let Some(rest) = rest.strip_prefix(b":") else { return (false, None) };
            let Some(rest) = trim_ws(rest).strip_prefix(b"\"") else { return (false, None) };
            let Some(end) = memchr::memchr2(b'"', b'\\', rest) else { return (false, None) };
            if rest[end] == b'\\' {
                return (false, None);
            }
            let t = &rest[..end];
            return (!self.listed(t), Some(t));
        }
        (false, None)
    }
}

impl LineSkip {
    /// Whether an event type is one of the set, remembered (for a few hundred types).
    fn listed(&mut self, t: &[u8]) -> bool {
        if let Some(&k) = self.seen.get(t) {
            return k;
        }
        let k = self.types.contains(t);
        if self.seen.len() < 512 {
            self.seen.insert(t.into(), k);
        }
        k
    }
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_only_falcon_lines_of_other_types() {
        let mut s = LineSkip::new(&["ProcessRollup2".to_string()]).unwrap();
        assert!(!s.skippable(br#"{"event_simpleName":"ProcessRollup2"}"#));
        assert!(s.skippable(br#"{"event_simpleName":"SyntheticProcessRollup2"}"#));
        assert!(s.skippable(br##"{"#event_simpleName":"DnsRequest"}"##));
        // Not a Falcon line: a Windows rendering is never skipped here.
        assert!(!s.skippable(br#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"}"#));
        assert!(LineSkip::new(&["a\"b".to_string()]).is_none());
        // The value decides, not a mention elsewhere in the line.
        assert!(s.skippable(br#"{"CommandLine":"ProcessRollup2","event_simpleName":"DnsRequest"}"#));
        assert!(!s.skippable(br#"{"event_simpleName" : "ProcessRollup2","x":1}"#));
        // Another key ending the same way is not the event type; escapes keep the line.
        assert!(!s.skippable(br#"{"Parentevent_simpleName":"DnsRequest"}"#));
        assert!(!s.skippable(br#"{"event_simpleName":"Process\u0052ollup2"}"#));
        assert!(!s.skippable(br#"{"event_simpleName":7}"#));
        // Regex entries, as a filter `#event_simpleName=/Written$/i` gives them.
        let mut r = LineSkip::new(&["/Written$/i".to_string(), "FileCreateInfo".to_string()]).unwrap();
        assert!(!r.skippable(br#"{"event_simpleName":"NewScriptWritten"}"#));
        // Asked again: the remembered answers are the same.
        assert!(!r.skippable(br#"{"event_simpleName":"NewScriptWritten"}"#));
        assert!(r.skippable(br#"{"event_simpleName":"ProcessRollup2"}"#));
        assert!(!r.skippable(br#"{"event_simpleName":"FileCreateInfo"}"#));
        assert!(r.skippable(br#"{"event_simpleName":"ProcessRollup2"}"#));
        assert!(LineSkip::new(&["/(?<=x)y/".to_string()]).is_none());
    }
}
