//! The query golden tests (`tests/cases/**/*.cql`, run by `tests/cases.rs`) cover the
//! evaluator: at least 120 cases, and every function of the list below called (`name(`,
//! case-insensitively) in at least one case's query.

use std::path::Path;

mod common;

/// The functions the golden cases must exercise.
const FUNCTIONS: &[&str] = &[
    "groupBy",
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "stats",
    "collect",
    "top",
    "selectLast",
    "selectFromMax",
    "selectFromMin",
    "sort",
    "head",
    "tail",
    "table",
    "select",
    "drop",
    "rename",
    "in",
    "regex",
    "replace",
    "lower",
    "upper",
    "length",
    "concat",
    "format",
    "formatTime",
    "if",
    "test",
    "eval",
    "default",
    "coalesce",
    "splitString",
    "split",
    "parseJson",
    "kvParse",
    "cidr",
    "wildcard",
    "text:contains",
    "bucket",
    "timeChart",
    "match",
    "join",
    "selfJoinFilter",
    "defineTable",
    "readFile",
    "array:contains",
    "array:filter",
];

const MIN_CASES: usize = 120;

/// The query sections of every case, lowercased.
fn queries() -> (usize, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths = Vec::new();
    common::files(&root, &mut paths);
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).expect("read case file");
        let name = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
        out.extend(common::parse(&name, &text).into_iter().map(|c| c.query.to_lowercase()));
    }
    (out.len(), out)
}

/// Whether `q` calls `name` (`name(` not preceded by a name character, so `count(` is not
/// found in `mycount(` nor `in(` in `min(`).
fn calls(q: &str, name: &str) -> bool {
    let needle = format!("{}(", name.to_lowercase());
    let mut from = 0;
    while let Some(i) = q[from..].find(&needle) {
        let at = from + i;
        let before = q[..at].chars().next_back();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '.') {
            return true;
        }
        from = at + needle.len();
    }
    false
}

#[test]
fn enough_cases() {
    let (n, _) = queries();
    assert!(n >= MIN_CASES, "only {n} query cases; at least {MIN_CASES} are wanted");
}

#[test]
fn every_function_is_covered() {
    let (_, qs) = queries();
    let missing: Vec<&str> = FUNCTIONS.iter().copied().filter(|f| !qs.iter().any(|q| calls(q, f))).collect();
    assert!(missing.is_empty(), "functions without a golden case: {missing:?}");
}

#[test]
fn call_detection() {
    assert!(calls("groupby(a)", "groupBy"));
    assert!(calls("x | !in(a, values=[1])", "in"));
    assert!(!calls("min(a)", "in"));
    assert!(!calls("array:contains(a)", "contains"));
    assert!(calls("text:contains(string=a)", "text:contains"));
}
