//! The literals a pattern needs: a set of strings of which every match holds one, compared
//! without ASCII case. A value that holds none of them cannot match, whatever the pattern's
//! engine, so one scan for the literals of all the patterns tested on a field
//! ([`Literals`]) answers most of them without running them.
//!
//! Read from the pattern's syntax tree compiled without Unicode. Classes, `\w`, `\b` and the
//! like are not literals, so what Unicode changes there does not matter; a letter under `(?i)`
//! is. Unicode case folding maps two non-ASCII characters to ASCII letters (`ſ` is `s`, the
//! Kelvin sign `k`): a value holding one of them may match without the literal, and callers
//! do not rule a pattern out on such a value. A pattern the syntax does not take (lookaround,
//! back-references) needs nothing that is known.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Literals shorter than this say too little to be worth a scan.
const MIN_LEN: usize = 3;
/// At most this many literals for one pattern (an alternation of more says little).
const MAX_SET: usize = 64;

/// What a piece of a pattern needs.
#[derive(Debug, Clone, PartialEq)]
enum Need {
    /// It matches exactly one of these texts (lower case), nothing else: it joins its
    /// neighbours.
    Exact(Vec<Vec<u8>>),
    /// Every match holds one of these (lower case).
    Any(Vec<Vec<u8>>),
    /// Nothing known.
    Nothing,
}

/// The literals every match of `pattern` (flags inline, as `plan::rx` compiles it) holds one
/// of, lower case ASCII; `None` when none are known or they are too short to help.
pub fn required(pattern: &str) -> Option<Vec<Vec<u8>>> {
    required_of(&ascii_hir(pattern)?)
}

/// A pattern's syntax tree compiled without Unicode and for bytes (what [`required`] reads,
/// and what `plan::rx` builds its ASCII engine from); `None` when the syntax does not take it.
pub fn ascii_hir(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(pattern).ok()
}

/// [`required`] of a pattern's [`ascii_hir`].
pub fn required_of(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut set = match need(hir) {
        Need::Exact(set) | Need::Any(set) => set,
        Need::Nothing => return None,
    };
    set.sort();
    set.dedup();
    let ok = !set.is_empty() && set.len() <= MAX_SET && set.iter().all(|s| s.len() >= MIN_LEN && s.is_ascii());
    ok.then_some(set)
}

/// Every text of `a` followed by every text of `b`; `None` past [`MAX_SET`] texts.
fn cross(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len() * b.len() > MAX_SET {
        return None;
    }
    Some(a.iter().flat_map(|x| b.iter().map(move |y| [x.as_slice(), y].concat())).collect())
}

fn need(h: &Hir) -> Need {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Need::Exact(vec![Vec::new()]),
        HirKind::Literal(l) => Need::Exact(vec![l.0.to_ascii_lowercase()]),
        HirKind::Class(c) => match one_letter(c) {
            Some(b) => Need::Exact(vec![vec![b]]),
            None => Need::Nothing,
        },
        HirKind::Capture(c) => need(&c.sub),
        HirKind::Repetition(r) => {
            if r.min == 0 {
                // An optional exact piece (`x?`, `php[3-8]?`) is its texts or nothing.
                return match need(&r.sub) {
                    Need::Exact(mut set) if r.max == Some(1) => {
                        set.push(Vec::new());
                        Need::Exact(set)
                    }
                    _ => Need::Nothing,
                };
            }
            match need(&r.sub) {
                Need::Exact(set) if r.min == 1 && r.max == Some(1) => Need::Exact(set),
                Need::Exact(set) | Need::Any(set) if set.iter().all(|s| !s.is_empty()) => Need::Any(set),
                _ => Need::Nothing,
            }
        }
        HirKind::Concat(parts) => {
            // Runs of exact pieces are one set of texts each; the best of them and of the
            // other pieces' sets is the need of the whole.
            let mut best: Option<Vec<Vec<u8>>> = None;
            let offer = |set: Vec<Vec<u8>>, best: &mut Option<Vec<Vec<u8>>>| {
                if set.iter().all(|s| !s.is_empty()) && best.as_ref().is_none_or(|b| score(&set) > score(b)) {
                    *best = Some(set);
                }
            };
            let mut run: Vec<Vec<u8>> = vec![Vec::new()];
            let mut exact = true;
            for p in parts {
                match need(p) {
                    // One text: appended to each of the run's, in place.
                    Need::Exact(set) if set.len() == 1 => {
                        for r in &mut run {
                            r.extend_from_slice(&set[0]);
                        }
                    }
                    Need::Exact(set) => {
                        run = match cross(&run, &set) {
                            Some(r) => r,
                            None => {
                                exact = false;
                                offer(std::mem::take(&mut run), &mut best);
                                set
                            }
                        }
                    }
                    other => {
                        exact = false;
                        offer(std::mem::replace(&mut run, vec![Vec::new()]), &mut best);
                        if let Need::Any(set) = other {
                            offer(set, &mut best);
                        }
                    }
                }
            }
            if exact {
                return Need::Exact(run);
            }
            offer(run, &mut best);
            best.map_or(Need::Nothing, Need::Any)
        }
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            let mut exact = true;
            for a in alts {
                match need(a) {
                    Need::Exact(set) => all.extend(set),
                    Need::Any(set) => {
                        exact = false;
                        all.extend(set);
                    }
                    Need::Nothing => return Need::Nothing,
                }
            }
            if exact {
                return Need::Exact(all);
            }
            if all.iter().any(Vec::is_empty) {
                return Need::Nothing;
            }
            Need::Any(all)
        }
    }
}

/// How much a set says: its shortest literal's length, then fewer literals.
fn score(set: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    (set.iter().map(Vec::len).min().unwrap_or(0), std::cmp::Reverse(set.len()))
}

/// The byte a class matches when it is one ASCII byte, or one letter in either case (lower
/// case); `None` otherwise.
fn one_letter(c: &Class) -> Option<u8> {
    // The class's first three members are enough to tell (more than two: not one letter).
    let mut bytes = [0u32; 3];
    let mut n = 0;
    let mut take = |lo: u32, hi: u32| {
        for x in lo..=hi.min(lo + 2) {
            if n < 3 {
                bytes[n] = x;
            }
            n += 1;
        }
    };
    match c {
        Class::Bytes(b) => b.ranges().iter().for_each(|r| take(u32::from(r.start()), u32::from(r.end()))),
        Class::Unicode(u) => u.ranges().iter().for_each(|r| take(u32::from(r.start()), u32::from(r.end()))),
    }
    let ascii = |x: u32| u8::try_from(x).ok().filter(u8::is_ascii);
    match bytes[..n.min(3)] {
        [a] => ascii(a).map(|b| b.to_ascii_lowercase()),
        [a, b] => {
            let (a, b) = (ascii(a)?, ascii(b)?);
            (a != b && a.eq_ignore_ascii_case(&b)).then(|| a.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// The literals of several patterns tested on one field, found in one scan of a value: by an
/// Aho-Corasick NFA, cheap to build, for the first [`Literals::DFA_AFTER`] values, then by a DFA,
/// faster to scan with but costlier to build (a run over EVTX files scans a few hundred values
/// per field; one over a large NDJSON export, hundreds of thousands).
#[derive(Debug)]
pub struct Literals {
    nfa: aho_corasick::AhoCorasick,
    dfa: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
    scans: std::sync::atomic::AtomicU32,
    all: Vec<Vec<u8>>,
    /// Per pattern (in the order given): the bits of its literals, 0 when it needs none known.
    needs: Vec<u128>,
}

impl Literals {
    /// Literals for the patterns (`None`: a pattern with nothing known); `None` when no pattern
    /// needs any. At most 127 literals are kept (patterns past them need nothing known).
    pub fn new(patterns: &[Option<Vec<Vec<u8>>>]) -> Option<Literals> {
        let mut all: Vec<Vec<u8>> = Vec::new();
        let mut needs = Vec::with_capacity(patterns.len());
        for set in patterns {
            let mut bits = 0u128;
            if let Some(set) = set {
                let mut ids = Vec::new();
                for lit in set {
                    let id = match all.iter().position(|l| l == lit) {
                        Some(i) => i,
                        None => {
                            all.push(lit.clone());
                            all.len() - 1
                        }
                    };
                    ids.push(id);
                }
                if ids.iter().all(|&i| i < 127) {
                    bits = ids.iter().fold(0, |b, &i| b | 1u128 << i);
                } else {
                    all.truncate(all.len().min(127));
                }
            }
            needs.push(bits);
        }
        if needs.iter().all(|&b| b == 0) {
            return None;
        }
        let nfa = Self::automaton(&all, aho_corasick::AhoCorasickKind::ContiguousNFA)?;
        Some(Literals { nfa, dfa: Default::default(), scans: Default::default(), all, needs })
    }

    /// Values scanned by the NFA before the DFA is built.
    pub const DFA_AFTER: u32 = 512;

    fn automaton(all: &[Vec<u8>], kind: aho_corasick::AhoCorasickKind) -> Option<aho_corasick::AhoCorasick> {
        aho_corasick::AhoCorasick::builder().ascii_case_insensitive(true).kind(Some(kind)).build(all).ok()
    }

    /// Whether pattern `i` needs literals (so [`Literals::present`] can rule it out).
    pub fn needs(&self, i: usize) -> bool {
        self.needs.get(i).is_some_and(|&b| b != 0)
    }

    /// The bits of the literals a value holds (bit 127 always set: asked).
    pub fn present(&self, value: &[u8]) -> u128 {
        use std::sync::atomic::Ordering::Relaxed;
        let ac = match self.dfa.get() {
            Some(dfa) => dfa.as_ref().unwrap_or(&self.nfa),
            None if self.scans.fetch_add(1, Relaxed) < Self::DFA_AFTER => &self.nfa,
            None => {
                let dfa = self.dfa.get_or_init(|| Self::automaton(&self.all, aho_corasick::AhoCorasickKind::DFA));
                dfa.as_ref().unwrap_or(&self.nfa)
            }
        };
        let mut bits = 1u128 << 127;
        for m in ac.find_overlapping_iter(value) {
            bits |= 1u128 << m.pattern().as_usize();
        }
        bits
    }

    /// Whether pattern `i` cannot match a value whose literals are `present`.
    pub fn rules_out(&self, i: usize, present: u128) -> bool {
        let need = self.needs.get(i).copied().unwrap_or(0);
        need != 0 && need & present == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &str) -> Option<Vec<String>> {
        required(p).map(|s| s.into_iter().map(|l| String::from_utf8(l).unwrap()).collect())
    }

    #[test]
    fn literals_of_the_packs_kinds_of_patterns() {
        assert_eq!(
            req(r"(?i)\.software\.acceptance\.set\b.*CommunitySupported"),
            Some(vec![".software.acceptance.set".into()])
        );
        assert_eq!(req(r"(?i)\b(esxcli|localcli)\b[^;|&\n]*\bsoftware"), Some(vec!["software".into()]));
        assert_eq!(req(r"(?i)\b(esxcli|localcli)\b"), Some(vec!["esxcli".into(), "localcli".into()]));
        assert_eq!(
            req(r"(?i)\\TransportRoles\\Shared\\(fet)?agents\.config$"),
            Some(vec![
                "\\transportroles\\shared\\agents.config".into(),
                "\\transportroles\\shared\\fetagents.config".into()
            ])
        );
        assert_eq!(
            req(r"(?i)[\\/](inetpub|wwwroot)[\\/]|\\FrontEnd\\HttpProxy\\"),
            Some(vec!["\\frontend\\httpproxy\\".into(), "inetpub".into(), "wwwroot".into()])
        );
        assert_eq!(req(r"(?i)\.(aspx|asp|php)$"), Some(vec![".asp".into(), ".aspx".into(), ".php".into()]));
        assert_eq!(req(r"^ImagePath$"), Some(vec!["imagepath".into()]));
        assert_eq!(req(r"(ab)+cde"), Some(vec!["cde".into()]));
        assert_eq!(req(r"(abc)+"), Some(vec!["abc".into()]));
    }

    #[test]
    fn nothing_known_is_nothing_required() {
        // Exact pieces side by side join into whole texts.
        assert_eq!(req(r"(?i)^(cmd|sh)\.exe$"), Some(vec!["cmd.exe".into(), "sh.exe".into()]));
        assert_eq!(req(r".*"), None);
        assert_eq!(req(r"a|bcd"), None); // "a" is too short
        assert_eq!(req(r"(abc)?def|x"), None);
        assert_eq!(req(r"[a-z]+"), None);
        assert_eq!(req(r"ab(?=c)"), None); // lookahead: not the regex crate's
        assert_eq!(req(r"\d{3}"), None);
    }

    #[test]
    fn optional_pieces_break_runs() {
        // "abc" and "def" are not adjacent in every match; an optional exact piece is either
        // of its texts or nothing.
        assert_eq!(req(r"abc(x)?def"), Some(vec!["abcdef".into(), "abcxdef".into()]));
        assert_eq!(req(r"abc(x|y)*def"), Some(vec!["abc".into()]));
        assert_eq!(req(r"(?i)a[Bb]c"), Some(vec!["abc".into()]));
        assert_eq!(req(r"(?i)\.(aspx?|ashx)$"), Some(vec![".ashx".into(), ".asp".into(), ".aspx".into()]));
        // A class of several bytes ends a run (each of its bytes would multiply the texts).
        assert_eq!(req(r"abc[a-c]def"), Some(vec!["abc".into()]));
        assert_eq!(req(r"(?i)\.php[3-5]?$"), Some(vec![".php".into()]));
        // The pack's web script extensions, through `(;...)?` and a second alternative (its
        // image extensions say more than its script ones): literals, where `x?` ending every
        // run gave none.
        let exts = req(
            r"(?i)\.(aspx?|php[3-8]?|jspx?)(;[^\\\/]*)?$|\.(php[3-8]?|phtml)\.(jpe?g|png|gif|bmp|ico|webp|txt|pdf)$",
        )
        .expect("literals");
        let want = [
            ".bmp", ".gif", ".ico", ".jpeg", ".jpg", ".pdf", ".png", ".txt", ".webp", "asp", "aspx", "jsp", "jspx",
            "php",
        ];
        assert_eq!(exts, want);
    }

    #[test]
    fn scans_find_every_literal_without_case() {
        let lits = Literals::new(&[required(r"(?i)\b(esxcli|localcli)\b"), None, required(r"termsrv\.dll")]).unwrap();
        assert!(lits.needs(0) && !lits.needs(1) && lits.needs(2));
        let p = lits.present(b"C:\\x\\LOCALCLI software");
        assert!(!lits.rules_out(0, p) && !lits.rules_out(1, p) && lits.rules_out(2, p));
        let p = lits.present(b"copy TermSrv.DLL x");
        assert!(lits.rules_out(0, p) && !lits.rules_out(2, p));
    }

    /// The first values are scanned by the NFA, the later ones by the DFA: the same literals.
    #[test]
    fn the_dfa_finds_what_the_nfa_found() {
        let lits = Literals::new(&[
            required(r"(?i)\b(esxcli|localcli)\b"),
            required(r"(?i)(cmd|powershell|pwsh)\.exe"),
            required(r"termsrv\.dll"),
        ])
        .unwrap();
        let values: Vec<&[u8]> = vec![
            b"C:\\x\\LOCALCLI software",
            b"copy TermSrv.DLL x",
            b"powershell.EXE -c esxcli",
            b"nothing here",
            b"cmd.execmd.exe pwsh.exe termsrv.dll localcli",
        ];
        let by_nfa: Vec<u128> = values.iter().map(|v| lits.present(v)).collect();
        assert!(lits.dfa.get().is_none());
        for _ in 0..Literals::DFA_AFTER {
            lits.present(b"x");
        }
        let by_dfa: Vec<u128> = values.iter().map(|v| lits.present(v)).collect();
        assert!(lits.dfa.get().is_some_and(Option::is_some), "the DFA is built");
        assert_eq!(by_nfa, by_dfa);
        assert_eq!(by_nfa[3], 1 << 127, "only the asked bit");
        assert_eq!(by_nfa[4].count_ones(), 5, "its four literals, and the asked bit");
    }

    /// Why callers do not rule patterns out on values with `ſ` or the Kelvin sign: Unicode case
    /// folding matches them as ASCII letters, which the literals' scan does not.
    #[test]
    fn unicode_folds_two_characters_to_ascii_letters() {
        let p = r"(?i)\b(esxcli|klist)\b";
        let re = regex::Regex::new(p).unwrap();
        let lits = Literals::new(&[required(p)]).unwrap();
        for v in ["e\u{17f}xcli", "\u{212a}list"] {
            assert!(re.is_match(v), "{v}");
            assert!(lits.rules_out(0, lits.present(v.as_bytes())), "{v}");
        }
    }

    /// The literals are a necessary condition: a pattern matches only values that hold one of
    /// its literals, but for values with `ſ` or the Kelvin sign (checked over generated values
    /// for the pack's kinds of patterns).
    #[test]
    fn a_match_always_holds_a_literal() {
        let patterns = [
            r"(?i)\b(esxcli|localcli)\b[^;|&\n]*\bsoftware\s+acceptance\s+set\b",
            r"(?i)[\\/](inetpub|wwwroot|htdocs)[\\/]|\\FrontEnd\\HttpProxy\\",
            r"(?i)\.(aspx?|php[3-8]?|jspx?)$",
            r"(?i)Set-\w*VirtualDirectory",
            r"(?i)(^|\n)object_name:xp_cmdshell\s*(\n|$)",
        ];
        let words = [
            "esxcli",
            "ESXCLI",
            "software",
            "acceptance",
            "set",
            " ",
            "\\",
            "/",
            "inetpub",
            "WWWROOT",
            "htdocs",
            "\\FrontEnd\\HttpProxy\\",
            ".aspx",
            ".asp",
            ".php5",
            ".jspx",
            "Set-",
            "Web",
            "VirtualDirectory",
            "\n",
            "object_name:",
            "xp_cmdshell",
            "x",
            "\u{e9}",
            "\u{17f}oftware",
            "E\u{17f}XCLI",
            "\u{212a}",
            "\u{3a3}",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for p in patterns {
            let re = regex::Regex::new(p).unwrap();
            let lits = Literals::new(&[required(p)]).unwrap();
            for _ in 0..4000 {
                let mut v = String::new();
                for _ in 0..6 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    v.push_str(words[(seed % words.len() as u64) as usize]);
                }
                // The two characters Unicode folds to ASCII letters are the exception.
                if re.is_match(&v) && !v.contains(['\u{17f}', '\u{212a}']) {
                    assert!(!lits.rules_out(0, lits.present(v.as_bytes())), "{p} on {v:?}");
                }
            }
        }
    }
}
