//! Skipping Falcon lines that cannot pass a query, without parsing them: when the query's first
//! filter requires one of a few event types (`Plan::event_names`), a Falcon line (one with an
//! `event_simpleName` key) that names none of them is counted and dropped.

use memchr::memmem;
use std::collections::HashSet;

/// The event types a query can use.
#[derive(Debug, Clone)]
pub struct LineSkip {
    names: HashSet<Vec<u8>>,
    marker: memmem::Finder<'static>,
}

impl LineSkip {
    /// `None` when a name cannot be compared safely (it would need JSON escaping).
    pub fn new(names: &[String]) -> Option<LineSkip> {
        if names.is_empty() || names.iter().any(|n| n.contains(['"', '\\']) || n.chars().any(char::is_control)) {
            return None;
        }
        let names = names.iter().map(|n| n.as_bytes().to_vec()).collect();
        Some(LineSkip { names, marker: memmem::Finder::new(b"event_simpleName\"").into_owned() })
    }

    /// A Falcon line whose `event_simpleName` (or `#event_simpleName`) is none of the event
    /// types. The key is found by its closing quote: inside a JSON string every `"` is escaped,
    /// so `event_simpleName"` can only be the end of a key (checked: the key is exactly that
    /// name). Anything unusual (an escaped value, another key ending the same way, a value that
    /// is not a string) keeps the line.
    pub fn skippable(&self, line: &[u8]) -> bool {
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
            let Some(rest) = rest.strip_prefix(b":") else { return false };
            let Some(rest) = trim_ws(rest).strip_prefix(b"\"") else { return false };
            let Some(end) = memchr::memchr2(b'"', b'\\', rest) else { return false };
            if rest[end] == b'\\' {
                return false;
            }
            return !self.names.contains(&rest[..end]);
        }
        false
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
        let s = LineSkip::new(&["ProcessRollup2".to_string()]).unwrap();
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
    }
}
