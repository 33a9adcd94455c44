//! Regex checks for `check`: does a LogScale (JitRex) pattern compile, and does it hit the v1
//! engine's inline-flag quirk. Validation uses `regex-syntax`; constructs JitRex accepts and
//! regex-syntax does not (lookahead, `\Q…\E`, back-references) are not reported as errors.

/// `Err(reason)` when the pattern is invalid for LogScale.
pub fn validate(pattern: &str) -> Result<(), String> {
    if pattern.contains("(?<=") || pattern.contains("(?<!") {
        return Err("lookbehind is not supported by LogScale's regex engine".to_string());
    }
    let unsure = pattern.contains("(?=")
        || pattern.contains("(?!")
        || pattern.contains("\\Q")
        || pattern.as_bytes().windows(2).any(|w| w[0] == b'\\' && w[1].is_ascii_digit() && w[1] != b'0');
    if unsure {
        return Ok(());
    }
    // Translation (Unicode classes by name, bytes mode) can fail only where a pattern names a
    // class or turns Unicode off: otherwise its syntax says all, and the translation (costly
    // for a long alternation under `(?i)`) is skipped.
    if !pattern.contains("\\p") && !pattern.contains("\\P") && !pattern.contains("-u") {
        return match regex_syntax::ast::parse::Parser::new().parse(pattern) {
            Ok(_) => Ok(()),
            Err(e) => Err(e.kind().to_string()),
        };
    }
    // `(?P<n>…)` and `(?<n>…)` both parse in regex-syntax.
    match regex_syntax::ParserBuilder::new().build().parse(pattern) {
        Ok(_) => Ok(()),
        Err(regex_syntax::Error::Parse(e)) => Err(e.kind().to_string()),
        Err(regex_syntax::Error::Translate(e)) => Err(e.kind().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `Some("(?i)")` when the pattern starts with an inline flag group and has a top-level `|`.
pub fn leading_flag_with_alternation(pattern: &str) -> Option<String> {
    let rest = pattern.strip_prefix("(?")?;
    let end = rest.find(')')?;
    let flags = &rest[..end];
    if flags.is_empty() || !flags.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
        return None;
    }
    let body = &rest[end + 1..];
    top_level_bar(body).map(|_| format!("(?{flags})"))
}

/// The offset of the first `|` outside groups and character classes.
pub(crate) fn top_level_bar(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut in_class, mut i) = (0i32, false, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => depth -= 1,
            b'|' if !in_class && depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        assert!(validate(r"^(cmd|powershell)\.exe$").is_ok());
        assert!(validate(r"(?<name>\S+)\s+").is_ok());
        assert!(validate(r"foo(?=bar)").is_ok());
        assert!(validate(r"(?<=a)b").is_err());
        assert!(validate(r"a(b").is_err());
        assert!(validate(r"[z-a]").is_err());
        // Errors only translation finds: an unknown Unicode class; bytes mode matching
        // invalid UTF-8.
        assert!(validate(r"\p{Bogus}").is_err());
        assert!(validate(r"\p{Greek}+").is_ok());
        assert!(validate(r"(?-u)\xFF").is_err());
        // A long alternation under (?i), read from its syntax alone, and its errors.
        let long = (0..300).map(|i| format!("name{i}")).collect::<Vec<_>>().join("|");
        assert!(validate(&format!("(?i)^({long})\\.exe$")).is_ok());
        assert!(validate(&format!("(?i)^({long}\\.exe$")).is_err());
    }

    #[test]
    fn inline_flag_quirk() {
        assert_eq!(leading_flag_with_alternation("(?i)Huck[a-z]+|Saw[a-z]+").as_deref(), Some("(?i)"));
        assert_eq!(leading_flag_with_alternation("(?i)^(a|b)$"), None);
        assert_eq!(leading_flag_with_alternation("a|b"), None);
    }
}
