//! No panic and no stack overflow on hostile input. These run on the default 2 MiB test
//! thread stack, in debug builds, which is the tightest place the parser runs.

use cqlhunt::cli::{check_source, decode, fix_text};
use cqlhunt::diag::Code;
use cqlhunt::lang::parse::MAX_DEPTH;
use cqlhunt::lang::{parse, ParseOptions};
use cqlhunt::plan::PlanOptions;

fn codes(q: &str) -> Vec<Code> {
    check_source(q, false, &PlanOptions::default()).into_iter().map(|d| d.code).collect()
}

fn nest(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{}{}", open.repeat(n), inner, close.repeat(n))
}

#[test]
fn ten_thousand_nested_parentheses() {
    let q = nest("(", "a", ")", 10_000);
    assert!(codes(&q).contains(&Code::TooDeep));
    // Just under the limit parses cleanly.
    let ok = nest("(", "a=1", ")", MAX_DEPTH - 2);
    assert_eq!(codes(&ok), vec![]);
}

#[test]
fn every_kind_of_nesting_is_bounded() {
    let n = 10_000;
    let cases = [
        nest("!", "a", "", n),
        nest("NOT ", "a", "", n),
        format!("x := {}", nest("-", "1", "", n)),
        format!("x := {}", nest("(", "1", ")", n)),
        format!("x := {}", nest("[", "1", "]", n)),
        format!("x := {}", nest("lower(", "a", ")", n)),
        nest("case { ", "a", " }", n),
        format!("groupBy(a, function={})", nest("{ groupBy(b, function=", "count()", ") }", n)),
        nest("(", "a", "", n),
        nest("x match { * => ", "a", " }", n),
    ];
    for q in &cases {
        let c = codes(q);
        assert!(c.contains(&Code::TooDeep), "{}…: {c:?}", &q[..20]);
    }
}

#[test]
fn a_ten_megabyte_query() {
    // 10 MB of filters and steps: parses, plans, and reports nothing.
    let step = "| FileName = /(?i)^(cmd|pwsh)\\.exe$/ CommandLine = \"*whoami*\" | x := lower(FileName)\n";
    let q = step.repeat(10 * 1024 * 1024 / step.len() + 1);
    assert!(q.len() >= 10 * 1024 * 1024);
    let (ast, diags) = parse(&q, ParseOptions::default());
    assert!(diags.is_empty(), "{:?}", &diags[..diags.len().min(3)]);
    assert!(ast.pipeline.steps.len() > 200_000);
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let (text, d) = decode(b"FileName = \"a\xff\xfeb\" | count()");
    let d = d.expect("diagnostic");
    assert_eq!(d.code, Code::InvalidUtf8);
    assert_eq!(d.span.start, 13);
    // The rest still parses.
    let (_, diags) = parse(&text, ParseOptions::default());
    assert!(diags.is_empty());
}

#[test]
fn garbage_never_panics() {
    // A deterministic sweep over short strings of CQL's special characters.
    let alphabet: Vec<char> = "()[]{}|;,=!<>:~*/\\\"'?$`#@ aZ0\n-+%".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut s = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 24) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let _ = check_source(&s, false, &PlanOptions::default());
        let _ = check_source(&s, true, &PlanOptions::default());
        let _ = fix_text(&s);
    }
}
