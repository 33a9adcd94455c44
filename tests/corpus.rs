#![allow(clippy::print_stderr)]
//! Real-world coverage: every query and transform text of CrowdStrike's public
//! logscale-community-content repository (../shared/corpus/cql-queries/) must parse, except the
//! texts listed with a reason in tests/corpus-known-failures.txt.

use cqlhunt::diag::{render_short, Severity};
use cqlhunt::lang::{parse, ParseOptions};
use std::collections::BTreeMap;
use std::path::Path;

const CORPUS: &str = "../shared/corpus/cql-queries/logscale-community-content.jsonl";

fn corpus() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        let kind = v["kind"].as_str().unwrap_or("");
        if kind != "query" && kind != "transform" {
            continue;
        }
        let id = format!("{}#{}", v["path"].as_str().unwrap_or(""), v["where"].as_str().unwrap_or(""));
        out.push((id, v["query"].as_str().unwrap_or("").to_string()));
    }
    out
}

fn known_failures() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-known-failures.txt");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, why) = l.split_once('\t').unwrap_or((l, ""));
            (id.to_string(), why.trim().to_string())
        })
        .collect()
}

#[test]
fn corpus_parses() {
    let texts = corpus();
    assert!(texts.len() > 2700, "corpus has {} texts", texts.len());
    let known = known_failures();
    let mut failed = Vec::new();
    let mut unexpected = Vec::new();
    for (id, q) in &texts {
        let (_, diags) = parse(q, ParseOptions::default());
        if diags.iter().any(|d| d.severity == Severity::Error) {
            failed.push(id.clone());
            if !known.contains_key(id) {
                let errs: Vec<_> = diags.into_iter().filter(|d| d.severity == Severity::Error).collect();
                unexpected.push(format!("{id}\n{}", render_short("query", q, &errs)));
            }
        }
    }
    for (id, why) in &known {
        assert!(!why.is_empty(), "{id}: a known failure needs a reason");
    }
    let stale: Vec<_> = known.keys().filter(|k| !failed.contains(k)).collect();
    let rate = 1.0 - failed.len() as f64 / texts.len() as f64;
    eprintln!("{} of {} texts parse ({:.2}%)", texts.len() - failed.len(), texts.len(), rate * 100.0);
    if std::env::var_os("CQLHUNT_CORPUS_DUMP").is_some() {
        std::fs::write("target/corpus-failures.txt", unexpected.join("\n")).ok();
    }
    assert!(
        unexpected.is_empty(),
        "{} texts fail outside the known list:\n{}",
        unexpected.len(),
        unexpected.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(stale.is_empty(), "listed as known failures but parse now: {stale:?}");
    assert!(rate >= 0.99, "only {:.2}% parse", rate * 100.0);
}
