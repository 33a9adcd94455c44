//! Regexes as LogScale (JitRex) means them, compiled once: the `regex` crate for every
//! pattern it accepts, `fancy-regex` with a hard backtracking limit for lookahead and
//! back-references. A pattern that hits the limit is an error naming it, never a hang. A
//! pattern whose syntax is checked and that cannot fail later is compiled at its first use
//! (a pack's patterns for inputs it never sees are never compiled); every error is still found
//! when the query is compiled.

use std::collections::BTreeSet;
use std::fmt;

/// Backtracking steps allowed per match attempt in the fallback engine.
pub const BACKTRACK_LIMIT: usize = 1_000_000;

/// A compiled pattern.
#[derive(Clone)]
pub struct Rx {
    /// The pattern as LogScale would show it (`/…/flags` or the string given to `regex()`).
    pub source: String,
    engine: std::sync::Arc<Engine>,
    /// Named capture groups, in order.
    pub names: Vec<String>,
}

/// A pattern (flags inline) and its engines, compiled at once or, when nothing can fail later,
/// the first time it is used: a pack has a hundred patterns, many for event types or fields an
/// input never has, and compiling them all would be most of a small run. For an ASCII pattern
/// that waited and an ASCII value, the pattern compiled without Unicode answers (its automaton
/// is far smaller, compiled and run faster, and it answers alike: on ASCII text, Unicode's
/// `\w`, `\s`, `\d`, `\b` and case folding are ASCII's); the whole one answers everything else.
struct Engine {
    pattern: String,
    ascii_pattern: bool,
    ascii: std::sync::OnceLock<Option<regex_automata::meta::Regex>>,
    compiled: std::sync::OnceLock<Resolved>,
    /// The literals a match holds one of ([`crate::plan::required`]), worked out when first
    /// asked.
    required: std::sync::OnceLock<Option<Vec<Vec<u8>>>>,
    /// The pattern's syntax tree without Unicode, parsed once for both the literals and the
    /// ASCII engine.
    ascii_hir: std::sync::OnceLock<Option<regex_syntax::hir::Hir>>,
}

impl Engine {
    /// The ASCII engine, when it can answer for this value.
    fn ascii_for(&self, s: &str) -> Option<&regex_automata::meta::Regex> {
        if !self.ascii_pattern || !s.is_ascii() {
            return None;
        }
        self.ascii.get_or_init(|| ascii_engine(self.ascii_hir()?)).as_ref()
    }

    fn ascii_hir(&self) -> Option<&regex_syntax::hir::Hir> {
        self.ascii_hir.get_or_init(|| crate::plan::required::ascii_hir(&self.pattern)).as_ref()
    }

    /// The whole engine, compiled now if it waited.
    fn compiled(&self) -> &Resolved {
        self.compiled.get_or_init(|| build(&self.pattern).unwrap_or(Resolved::Failed))
    }
}

/// The engine that answers `is_match` for ASCII values: the pattern without Unicode (as
/// `regex::bytes` with `unicode(false)`, the `regex` crate's limits; built from the syntax tree
/// its literals are read from, parsed once), without what only finding a match's bounds or
/// groups needs (capture states, the one-pass DFA, the bounded backtracker), and without a
/// prefilter (the memo's scan for the literals rules most values out before a pattern runs):
/// most of compiling a large alternation, for an engine that answers yes or no.
fn ascii_engine(hir: &regex_syntax::hir::Hir) -> Option<regex_automata::meta::Regex> {
    use regex_automata::{meta, nfa::thompson::WhichCaptures, MatchKind};
    let config = meta::Config::new()
        .nfa_size_limit(Some(10 * (1 << 20)))
        .hybrid_cache_capacity(2 * (1 << 20))
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(false)
        .which_captures(WhichCaptures::None)
        .onepass(false)
        .backtrack(false)
        .auto_prefilter(false);
    meta::Builder::new().configure(config).build_from_hir(hir).ok()
}

/// A pattern's engine, compiled.
enum Resolved {
    Fast(regex::Regex),
    Back(Box<fancy_regex::Regex>),
    /// Neither engine took a pattern that waited (a size limit): it gives up on every event.
    Failed,
}

/// The engine for a pattern (flags inline): the `regex` crate when it takes the pattern, else
/// `fancy-regex` with the backtracking limit; the error is the `regex` crate's.
fn build(p: &str) -> Result<Resolved, String> {
    match regex::Regex::new(p) {
        Ok(r) => Ok(Resolved::Fast(r)),
        Err(fast_err) => match fancy_regex::RegexBuilder::new(p).backtrack_limit(BACKTRACK_LIMIT).build() {
            Ok(r) => Ok(Resolved::Back(Box::new(r))),
            Err(_) => Err(first_line(&fast_err.to_string())),
        },
    }
}

/// Whether compiling a pattern can be left to its first use: its syntax parses (so it compiles,
/// but for the `regex` crate's size limit, which a pattern this short does not reach), and
/// nothing in it can fail later, in translation (Unicode class names, bytes mode).
fn can_wait(p: &str) -> bool {
    p.len() <= 4096
        && !p.contains("\\p")
        && !p.contains("\\P")
        && !p.contains("-u")
        && regex_syntax::ast::parse::Parser::new().parse(p).is_ok()
}

impl fmt::Debug for Rx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rx({})", self.source)
    }
}

/// A match that could not be decided within the backtracking limit.
#[derive(Debug, Clone, PartialEq)]
pub struct RxLimit(pub String);

impl fmt::Display for RxLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "regex {} exceeded the backtracking limit ({BACKTRACK_LIMIT} steps) on an event", self.0)
    }
}

/// Flags as LogScale writes them: i (case-insensitive), m (multi-line), d (dot-all),
/// g (repeat; ignored here), F (engine v2: leading inline flags apply to every alternative).
pub fn compile(pattern: &str, flags: &str, source: &str) -> Result<Rx, String> {
    let v2 = flags.contains('F');
    let mut p = if v2 { pattern.to_string() } else { scope_leading_flag(pattern) };
    let mut prefix = String::new();
    for (c, f) in [('i', 'i'), ('m', 'm'), ('d', 's')] {
        if flags.contains(c) {
            prefix.push(f);
        }
    }
    if !prefix.is_empty() {
        p = format!("(?{prefix}){p}");
    }
    if p.contains("(?<=") || p.contains("(?<!") {
        return Err("lookbehind is not supported by LogScale's regex engine".to_string());
    }
    let names: Vec<String> = {
        let mut seen = BTreeSet::new();
        capture_names(&p).into_iter().filter(|n| seen.insert(n.clone())).collect()
    };
    let p = any_char_classes(&p);
    if let Some(engine) = shared(&p) {
        return Ok(Rx { source: source.to_string(), engine, names });
    }
    let waits = can_wait(&p);
    let compiled = if waits { std::sync::OnceLock::new() } else { std::sync::OnceLock::from(build(&p)?) };
    let engine = std::sync::Arc::new(Engine {
        ascii_pattern: waits && p.is_ascii(),
        pattern: p.into_owned(),
        ascii: std::sync::OnceLock::new(),
        compiled,
        required: std::sync::OnceLock::new(),
        ascii_hir: std::sync::OnceLock::new(),
    });
    share(&engine);
    Ok(Rx { source: source.to_string(), engine, names })
}

/// The engines of the patterns compiled so far, by pattern, while a query holds them: a pack
/// writes one pattern in several rules (a web server's names, a tool list), and each is
/// checked, compiled and its literals worked out once. At most [`SHARED`] patterns.
static ENGINES: std::sync::Mutex<Option<crate::hash::FastMap<String, std::sync::Weak<Engine>>>> =
    std::sync::Mutex::new(None);

const SHARED: usize = 4096;

/// The engine of a pattern compiled before, when a query still holds it.
fn shared(p: &str) -> Option<std::sync::Arc<Engine>> {
    ENGINES.lock().ok()?.as_ref()?.get(p)?.upgrade()
}

/// Offer an engine to the patterns compiled after it (dropped ones are forgotten first when the
/// table is full).
fn share(engine: &std::sync::Arc<Engine>) {
    let Ok(mut table) = ENGINES.lock() else { return };
    let table = table.get_or_insert_with(Default::default);
    if table.len() >= SHARED {
        table.retain(|_, e| e.strong_count() > 0);
    }
    if table.len() < SHARED {
        table.insert(engine.pattern.clone(), std::sync::Arc::downgrade(engine));
    }
}

/// `[\s\S]` (and `[\S\s]`, `[\w\W]`, `[\d\D]`, …), the portable spelling of "any character",
/// as `(?s:.)`: the same class, but compiled at once. Under `(?i)` the `regex` crate case-folds
/// a bracketed class code point by code point, 4 ms for this one (a pack has several).
fn any_char_classes(p: &str) -> std::borrow::Cow<'_, str> {
    const ANY: [&str; 6] = ["[\\s\\S]", "[\\S\\s]", "[\\w\\W]", "[\\W\\w]", "[\\d\\D]", "[\\D\\d]"];
    if !ANY.iter().any(|a| p.contains(a)) || p.contains("\\Q") {
        return std::borrow::Cow::Borrowed(p);
    }
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    // Outside a class: `[` opens one; inside, an escape or a nested `[` is skipped over.
    let mut depth = 0usize;
    while i < b.len() {
        if depth == 0 {
            if let Some(a) = ANY.iter().find(|a| p[i..].starts_with(**a)) {
                out.push_str("(?s:.)");
                i += a.len();
                continue;
            }
        }
        let c = p[i..].chars().next().expect("in bounds");
        match c {
            '\\' => {
                let next = p[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&p[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            '[' => {
                depth += 1;
                // A `]` or `^]` right after the opening bracket is a literal.
                out.push('[');
                i += 1;
                if depth == 1 {
                    for lit in ["^]", "]"] {
                        if p[i..].starts_with(lit) {
                            out.push_str(lit);
                            i += lit.len();
                            break;
                        }
                    }
                }
                continue;
            }
            ']' if depth > 0 => depth -= 1,
            _ => {}
        }
        out.push(c);
        i += c.len_utf8();
    }
    std::borrow::Cow::Owned(out)
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_string()
}

/// JitRex v1: `(?i)A|B` means `(?i:A)|B`.
fn scope_leading_flag(p: &str) -> String {
    match crate::plan::regex_check_leading(p) {
        Some(flag) => {
            let body = &p[flag.len()..];
            let (first, rest) = split_top_alternation(body);
            let flags = &flag[2..flag.len() - 1];
            format!("(?{flags}:{first}){rest}")
        }
        None => p.to_string(),
    }
}

/// Split at the first top-level `|`: (`A`, `|B…`).
fn split_top_alternation(s: &str) -> (&str, &str) {
    super::regex_check::top_level_bar(s).map_or((s, ""), |i| (&s[..i], &s[i..]))
}

fn capture_names(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = p.as_bytes();
    let mut i = 0;
    while i + 3 < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'(' && b[i + 1] == b'?' {
            let start = if b[i + 2] == b'<' && b[i + 3] != b'=' && b[i + 3] != b'!' {
                Some(i + 3)
            } else if b[i + 2] == b'P' && b.get(i + 3) == Some(&b'<') {
                Some(i + 4)
            } else {
                None
            };
            if let Some(s) = start {
                if let Some(end) = p[s..].find('>') {
                    out.push(p[s..s + end].to_string());
                }
            }
        }
        i += 1;
    }
    out
}

impl Rx {
    /// The pattern as compiled (flags inline): two regexes with the same one match alike.
    pub fn compiled(&self) -> &str {
        &self.engine.pattern
    }

    /// The literals every match holds one of (ASCII, without case), for ASCII values
    /// ([`crate::plan::required`]); `None` when none are known.
    pub fn required(&self) -> Option<&[Vec<u8>]> {
        let e = &self.engine;
        e.required.get_or_init(|| crate::plan::required::required_of(e.ascii_hir()?)).as_deref()
    }

    /// The whole engine, compiled now if it waited.
    fn engine(&self) -> &Resolved {
        self.engine.compiled()
    }

    fn gave_up(&self) -> RxLimit {
        RxLimit(self.source.clone())
    }

    /// Unanchored search.
    pub fn is_match(&self, s: &str) -> Result<bool, RxLimit> {
        if let Some(r) = self.engine.ascii_for(s) {
            return Ok(r.is_match(s.as_bytes()));
        }
        match self.engine() {
            Resolved::Fast(r) => Ok(r.is_match(s)),
            Resolved::Back(r) => r.is_match(s).map_err(|_| self.gave_up()),
            Resolved::Failed => Err(self.gave_up()),
        }
    }

    /// The named groups of the first match, or `None` when there is no match.
    pub fn captures(&self, s: &str) -> Result<Option<Vec<(String, String)>>, RxLimit> {
        let mut out = Vec::new();
        match self.engine() {
            Resolved::Fast(r) => {
                let Some(c) = r.captures(s) else { return Ok(None) };
                for n in &self.names {
                    if let Some(m) = c.name(n) {
                        out.push((n.clone(), m.as_str().to_string()));
                    }
                }
            }
            Resolved::Back(r) => {
                let Some(c) = r.captures(s).map_err(|_| self.gave_up())? else { return Ok(None) };
                for n in &self.names {
                    if let Some(m) = c.name(n) {
                        out.push((n.clone(), m.as_str().to_string()));
                    }
                }
            }
            Resolved::Failed => return Err(self.gave_up()),
        }
        Ok(Some(out))
    }

    /// Every match's named groups (`repeat=true`), up to `limit` matches.
    pub fn captures_all(&self, s: &str, limit: usize) -> Result<Vec<Vec<(String, String)>>, RxLimit> {
        let mut all = Vec::new();
        match self.engine() {
            Resolved::Fast(r) => {
                for c in r.captures_iter(s).take(limit) {
                    all.push(
                        self.names
                            .iter()
                            .filter_map(|n| c.name(n).map(|m| (n.clone(), m.as_str().to_string())))
                            .collect(),
                    );
                }
            }
            Resolved::Back(r) => {
                for c in r.captures_iter(s).take(limit) {
                    let c = c.map_err(|_| self.gave_up())?;
                    all.push(
                        self.names
                            .iter()
                            .filter_map(|n| c.name(n).map(|m| (n.clone(), m.as_str().to_string())))
                            .collect(),
                    );
                }
            }
            Resolved::Failed => return Err(self.gave_up()),
        }
        Ok(all)
    }

    /// Replace every match (`$1`, `${name}` references) — `replace()`.
    pub fn replace_all(&self, s: &str, with: &str) -> Result<String, RxLimit> {
        match self.engine() {
            Resolved::Fast(r) => Ok(r.replace_all(s, with).into_owned()),
            Resolved::Back(r) => r.try_replacen(s, 0, with).map(|c| c.into_owned()).map_err(|_| self.gave_up()),
            Resolved::Failed => Err(self.gave_up()),
        }
    }

    /// Split by the pattern (a pattern that gave up does not split).
    pub fn split(&self, s: &str) -> Vec<String> {
        match self.engine() {
            Resolved::Fast(r) => r.split(s).map(str::to_string).collect(),
            Resolved::Back(r) => r.split(s).filter_map(Result::ok).map(str::to_string).collect(),
            Resolved::Failed => vec![s.to_string()],
        }
    }

    pub fn is_backtracking(&self) -> bool {
        matches!(self.engine(), Resolved::Back(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_quirk() {
        let r = compile(r"^cmd\.exe$", "i", "/x/").unwrap();
        assert_eq!(r.is_match("CMD.EXE"), Ok(true));
        // v1: the leading (?i) covers only the first alternative.
        let r = compile("(?i)huck|saw", "", "/x/").unwrap();
        assert_eq!(r.is_match("HUCK"), Ok(true));
        assert_eq!(r.is_match("SAW"), Ok(false));
        let r = compile("(?i)huck|saw", "F", "/x/").unwrap();
        assert_eq!(r.is_match("SAW"), Ok(true));
    }

    #[test]
    fn any_character_classes_compile_as_dot_all() {
        let cases = [
            (r"a[\s\S]*b", r"a(?s:.)*b"),
            (r"(?i)x[\S\s]+?y|[\w\W]", r"(?i)x(?s:.)+?y|(?s:.)"),
            // Escaped, inside a class, or quoted: left alone.
            (r"\[\s\S]", r"\[\s\S]"),
            (r"[a[\s\S]]", r"[a[\s\S]]"),
            (r"[]\s\S]", r"[]\s\S]"),
            (r"\Q[\s\S]\E", r"\Q[\s\S]\E"),
        ];
        for (p, want) in cases {
            assert_eq!(any_char_classes(p), want, "{p}");
        }
        // The same class, with or without case folding: the parsed patterns are equal.
        for flags in ["", "(?i)", "(?im)"] {
            let parse = |p: &str| regex_syntax::Parser::new().parse(&format!("{flags}{p}")).unwrap();
            for (p, _) in &cases[..2] {
                assert_eq!(parse(p), parse(&any_char_classes(p)), "{flags}{p}");
            }
        }
        let r = compile(r"sp_configure[\s\S]*CLR", "i", "/x/").unwrap();
        assert_eq!(r.is_match("SP_CONFIGURE 'x',\n\r 'clr'"), Ok(true));
    }

    #[test]
    fn patterns_compile_at_first_use_and_fail_at_once() {
        // Waits: it parses, and nothing in it can fail later.
        // (A pattern of this test alone: the engines of equal patterns are shared.)
        let r = compile(r"^(?<tool>whoami|net1?)\.exe$|^lazy-test$", "i", "/t/").unwrap();
        assert!(r.engine.compiled.get().is_none());
        assert_eq!(r.compiled(), r"(?i)^(?<tool>whoami|net1?)\.exe$|^lazy-test$");
        assert_eq!(r.is_match("NET1.EXE"), Ok(true));
        // An ASCII value needed only the ASCII engine; captures compile the whole one.
        assert!(r.engine.ascii.get().is_some() && r.engine.compiled.get().is_none());
        assert_eq!(r.captures("whoami.exe").unwrap(), Some(vec![("tool".to_string(), "whoami".to_string())]));
        assert_eq!(r.split("a"), vec!["a"]);
        // Errors are found when the query is compiled, not on the first event.
        for bad in ["(", r"\p{NoSuchScript}", "(?-u:\\xFF)", "[z-a]"] {
            assert!(compile(bad, "", "/b/").is_err(), "{bad}");
        }
        // A Unicode class name is checked at once, and then works.
        let g = compile(r"\p{Greek}+", "", "/g/").unwrap();
        assert!(matches!(g.engine.compiled.get(), Some(Resolved::Fast(_))));
        assert_eq!(g.is_match("αβγ"), Ok(true));
        // Clones share the compiled engine.
        let c = r.clone();
        assert_eq!(c.is_match("whoami.exe"), Ok(true));
    }

    #[test]
    fn equal_patterns_share_their_engine_while_held() {
        let a = compile(r"^share-test-(one|two)$", "i", "/a/").unwrap();
        let b = compile(r"^share-test-(one|two)$", "i", "/b/").unwrap();
        assert!(std::sync::Arc::ptr_eq(&a.engine, &b.engine));
        assert_eq!(b.source, "/b/");
        assert_eq!(a.is_match("SHARE-TEST-ONE"), Ok(true));
        assert!(b.engine.ascii.get().is_some(), "compiled once, for both");
        // Other flags are another pattern.
        let c = compile(r"^share-test-(one|two)$", "", "/c/").unwrap();
        assert!(!std::sync::Arc::ptr_eq(&a.engine, &c.engine));
        assert_eq!(c.is_match("SHARE-TEST-ONE"), Ok(false));
        // Once no query holds it, a pattern is compiled anew.
        drop((a, b));
        let d = compile(r"^share-test-(one|two)$", "i", "/d/").unwrap();
        assert!(d.engine.ascii.get().is_none());
    }

    #[test]
    fn an_ascii_value_gets_the_unicode_answer_from_the_ascii_engine() {
        let patterns = [
            (r"\b(esxcli|localcli)\b[^;|&\n]*\bsoftware\s+acceptance\s+set\b", "i"),
            (r"^((w3wp|httpd|tomcat\d*)\.exe|apache2|php-fpm[0-9.]*)$", "i"),
            (r"(^|[^\w:-])(Install|Enable)-TransportAgent(\s+[^\s{]|\s*([;|)]|$))", "i"),
            (r"Set-\w*VirtualDirectory", "i"),
            (r"a.b|\W+x\D\S\B", ""),
            (r"(?i)sk|[^k]", ""),
            (r"^.{3}$", "s"),
        ];
        let values = [
            "esxcli software acceptance set --level CommunitySupported",
            "LOCALCLI  Software Acceptance SET",
            "W3WP.EXE",
            "tomcat9.exe",
            "php-fpm8.1",
            "powershell Install-TransportAgent -Name x",
            "x;Enable-TransportAgent",
            "Set-OwaVirtualDirectory",
            "a\nb",
            "axb",
            "k",
            "K",
            "s",
            "",
            "abc",
            "a\tb\r\n",
            "_x9 !x1",
        ];
        for (p, flags) in patterns {
            let r = compile(p, flags, "/t/").unwrap();
            let l = &r.engine;
            assert!(l.compiled.get().is_none(), "{p} waits");
            for v in values {
                let whole = match r.engine() {
                    Resolved::Fast(f) => f.is_match(v),
                    _ => panic!("{p}: the regex crate"),
                };
                let ascii = l.ascii_for(v).expect("an ASCII engine").is_match(v.as_bytes());
                assert_eq!(ascii, whole, "/{p}/{flags} on {v:?}");
                assert_eq!(r.is_match(v), Ok(whole));
            }
            // A value that is not ASCII goes to the whole engine: Unicode word characters.
            assert!(l.ascii_for("é").is_none());
        }
        let w = compile(r"^\w+$", "", "/w/").unwrap();
        assert_eq!(w.is_match("été"), Ok(true));
        let k = compile("k", "i", "/k/").unwrap();
        assert_eq!(k.is_match("\u{212A}"), Ok(true), "the Kelvin sign folds to k");
    }

    #[test]
    fn lookahead_uses_the_backtracker_and_names_capture() {
        let r = compile(r"(?<user>\w+)(?=@)", "", "/x/").unwrap();
        assert!(r.is_backtracking());
        assert_eq!(r.captures("bob@x").unwrap(), Some(vec![("user".to_string(), "bob".to_string())]));
    }

    #[test]
    fn catastrophic_pattern_hits_the_limit() {
        // A back-reference forces the backtracking engine over a nested quantifier.
        let r = compile(r"^(a|aa)+\1(?=b)$", "", "/x/").unwrap();
        assert!(r.is_backtracking());
        let s = "a".repeat(60) + "c";
        assert_eq!(r.is_match(&s), Err(RxLimit("/x/".to_string())));
    }
}
