//! Skipping Falcon lines that cannot pass a query, without parsing them: when the query's first
//! filter requires one of a few event types (`Plan::event_names`), a Falcon line (one with an
//! `event_simpleName` key) that names none of them is counted and dropped.

use aho_corasick::AhoCorasick;
use memchr::memmem;

/// The event types a query can use, as quoted JSON strings.
#[derive(Debug, Clone)]
pub struct LineSkip {
    names: AhoCorasick,
    marker: memmem::Finder<'static>,
}

impl LineSkip {
    /// `None` when a name cannot be searched for safely (it needs JSON escaping).
    pub fn new(names: &[String]) -> Option<LineSkip> {
        if names.is_empty() || names.iter().any(|n| n.contains(['"', '\\']) || n.chars().any(char::is_control)) {
            return None;
        }
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let names = AhoCorasick::new(&quoted).ok()?;
        Some(LineSkip { names, marker: memmem::Finder::new(b"event_simpleName\"").into_owned() })
    }

    /// A Falcon line that names none of the event types.
    pub fn skippable(&self, line: &[u8]) -> bool {
        self.marker.find(line).is_some() && !self.names.is_match(line)
    }
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
    }
}
