//! Query golden tests: every `tests/cases/**/*.cql` file holds cases of the form
//!
//! ```text
//! === name
//! --- options        (optional: lenient, unordered, param NAME=VALUE, warns TEXT)
//! --- input          (NDJSON events)
//! --- query          (CQL)
//! --- output         (NDJSON rows, in order unless `unordered`)  or  --- error (a substring)
//! ```
//!
//! Run one file with `CQLHUNT_CASES=name cargo test --test cases`.
#![allow(clippy::print_stderr)]

use common::{files, parse, Case};
use cqlhunt::eval::{run_query, Ctx};
use cqlhunt::event::Event;
use std::path::Path;

mod common;

fn normalise_json(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad expected JSON `{line}`: {e}"));
    v.to_string()
}

fn run(c: &Case, root: &Path) -> Result<(), String> {
    let mut events = Vec::new();
    for l in &c.input {
        let v: serde_json::Value = serde_json::from_str(l).map_err(|e| format!("bad input `{l}`: {e}"))?;
        events.push(Event::from_json(&v).ok_or_else(|| format!("input is not an object: {l}"))?);
    }
    let lenient = c.options.iter().any(|o| o == "lenient");
    let unordered = c.options.iter().any(|o| o == "unordered");
    let params: Vec<(String, String)> = c
        .options
        .iter()
        .filter_map(|o| o.strip_prefix("param "))
        .filter_map(|p| p.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let warns: Vec<&str> = c.options.iter().filter_map(|o| o.strip_prefix("warns ")).collect();
    let ctx = Ctx { lookup_dir: root.to_path_buf(), now_ms: 1_700_000_000_000.0, ..Ctx::default() };
    match (run_query(&c.query, lenient, &params, events, ctx), &c.error) {
        (Ok(_), Some(e)) => Err(format!("expected an error containing `{e}`, got rows")),
        (Err(got), Some(e)) => {
            if got.contains(e.as_str()) {
                Ok(())
            } else {
                Err(format!("expected an error containing `{e}`, got `{got}`"))
            }
        }
        (Err(got), None) => Err(format!("error: {got}")),
        (Ok((rows, warnings)), None) => {
            let mut got: Vec<String> = rows.iter().map(|r| normalise_json(&r.to_json(&[]))).collect();
            let mut want: Vec<String> = c.output.iter().map(|l| normalise_json(l)).collect();
            if unordered {
                got.sort();
                want.sort();
            }
            if got != want {
                return Err(format!(
                    "rows differ\n  want:\n    {}\n  got:\n    {}",
                    want.join("\n    "),
                    got.join("\n    ")
                ));
            }
            for w in warns {
                if !warnings.iter().any(|x| x.contains(w)) {
                    return Err(format!("expected a warning containing `{w}`, got {warnings:?}"));
                }
            }
            if c.options.iter().all(|o| !o.starts_with("warns ")) && !warnings.is_empty() {
                return Err(format!("unexpected warnings: {warnings:?}"));
            }
            Ok(())
        }
    }
}

#[test]
fn query_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    let only = std::env::var("CQLHUNT_CASES").ok();
    let mut total = 0;
    let mut failures = Vec::new();
    for p in &paths {
        let name = p.strip_prefix(&root).unwrap_or(p).display().to_string();
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let text = std::fs::read_to_string(p).expect("read case file");
        let cases = parse(&name, &text);
        assert!(!cases.is_empty(), "{name} has no cases");
        for c in cases {
            total += 1;
            if let Err(e) = run(&c, &root) {
                failures.push(format!("{} :: {}\n  {e}", c.file, c.name));
            }
        }
    }
    eprintln!("{total} query cases");
    assert!(failures.is_empty(), "{} of {total} cases fail:\n{}", failures.len(), failures.join("\n"));
}
