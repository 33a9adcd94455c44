//! Golden diagnostics: tests/diag/cases.txt holds known-bad queries with the diagnostics
//! cqlhunt must render for them (no colour). Run with CQLHUNT_BLESS=1 to rewrite the expected
//! sections after a deliberate change, then review the diff.
#![allow(clippy::print_stderr)]

use cqlhunt::cli::{check_source, decode, fix_text};
use cqlhunt::diag::{render, Code};
use cqlhunt::plan::PlanOptions;
use std::collections::BTreeSet;
use std::path::Path;

struct Case {
    title: String,
    mode: String,
    input: String,
    expected: String,
}

const FILE: &str = "tests/diag/cases.txt";

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for block in text.split("\n=== ").skip(1) {
        let (title, rest) = block.split_once('\n').unwrap_or((block, ""));
        let (head, expected) = rest.split_once("--- expected\n").unwrap_or((rest, ""));
        let (mode, input) = match head.strip_prefix("--- mode: ") {
            Some(r) => {
                let (m, i) = r.split_once('\n').unwrap_or((r, ""));
                (m.trim().to_string(), i)
            }
            None => ("check".to_string(), head),
        };
        let input = input.strip_prefix("--- input\n").unwrap_or(input);
        cases.push(Case {
            title: title.trim().to_string(),
            mode,
            input: input.strip_suffix('\n').unwrap_or(input).to_string(),
            expected: expected.trim_end().to_string(),
        });
    }
    cases
}

/// `<<0xFF>>` in an input stands for that byte.
fn input_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("<<0x") {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let hex = &rest[i + 4..i + 6];
        out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
        rest = &rest[i + 8..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn run_case(c: &Case) -> (String, Vec<Code>) {
    let (text, bad) = decode(&input_bytes(&c.input));
    let mut opts = PlanOptions::default();
    let mut lenient = false;
    let diags = match c.mode.as_str() {
        "fix" => fix_text(&text).1,
        m => {
            for flag in m.split_whitespace() {
                match flag {
                    "lenient" => lenient = true,
                    "require-params" => opts.require_params = true,
                    "saved-empty" => opts.saved = Some(Default::default()),
                    _ => {}
                }
            }
            let mut d = check_source(&text, lenient, &opts);
            if let Some(b) = bad {
                d.insert(0, b);
            }
            d
        }
    };
    let codes = diags.iter().map(|d| d.code).collect();
    (render("query.cql", &text, &diags, false).trim_end().to_string(), codes)
}

#[test]
fn golden_diagnostics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
    let text = std::fs::read_to_string(&path).expect("cases file");
    let cases = parse_cases(&text);
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let bless = std::env::var_os("CQLHUNT_BLESS").is_some();
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    let mut blessed = String::from(text.split("\n=== ").next().unwrap_or(""));
    for c in &cases {
        let (got, codes) = run_case(c);
        assert!(!codes.is_empty(), "case `{}` produced no diagnostic", c.title);
        seen.extend(codes);
        if got != c.expected {
            failures.push(format!("=== {}\n--- expected\n{}\n--- got\n{}\n", c.title, c.expected, got));
        }
        blessed.push_str(&format!("\n=== {}\n", c.title));
        if c.mode != "check" {
            blessed.push_str(&format!("--- mode: {}\n", c.mode));
        }
        blessed.push_str(&format!("--- input\n{}\n--- expected\n{}\n", c.input, got));
    }
    if bless {
        std::fs::write(&path, blessed).expect("write cases");
        return;
    }
    let missing: Vec<_> = Code::ALL.iter().filter(|c| !seen.contains(c)).map(|c| c.id()).collect();
    assert!(missing.is_empty(), "codes without a golden case: {missing:?}");
    assert!(failures.is_empty(), "{} golden cases differ:\n{}", failures.len(), failures.join("\n"));
    let errors = Code::ALL.iter().filter(|c| c.id().starts_with('E')).count();
    eprintln!("{} cases cover all {} codes ({errors} errors)", cases.len(), Code::ALL.len());
}
