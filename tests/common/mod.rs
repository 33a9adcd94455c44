//! The query cases of `tests/cases/` (the format `tests/cases.rs` documents), read alike by the
//! tests that run them: cqlhunt's evaluator (`cases.rs`), ClickHouse (`clickhouse.rs`) and the
//! coverage of the functions (`cases_coverage.rs`). Each reads the parts it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Case {
    pub file: String,
    pub name: String,
    pub options: Vec<String>,
    pub input: Vec<String>,
    pub query: String,
    pub output: Vec<String>,
    pub error: Option<String>,
}

pub fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("cases dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "cql") {
            out.push(p);
        }
    }
}

pub fn parse(file: &str, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for block in text.split("\n=== ").skip(1) {
        let (name, body) = block.split_once('\n').unwrap_or((block, ""));
        let mut c = Case { file: file.to_string(), name: name.trim().to_string(), ..Case::default() };
        let mut section = "";
        for line in body.lines() {
            if let Some(s) = line.strip_prefix("--- ") {
                section = match s.trim() {
                    "options" => "options",
                    "input" => "input",
                    "query" => "query",
                    "output" => "output",
                    "error" => "error",
                    other => panic!("{file}: case `{}`: unknown section `{other}`", c.name),
                };
                continue;
            }
            match section {
                "options" if !line.trim().is_empty() => c.options.push(line.trim().to_string()),
                "input" if !line.trim().is_empty() => c.input.push(line.to_string()),
                "query" => {
                    c.query.push_str(line);
                    c.query.push('\n');
                }
                "output" if !line.trim().is_empty() => c.output.push(line.trim().to_string()),
                "error" if !line.trim().is_empty() => c.error = Some(line.trim().to_string()),
                _ => {}
            }
        }
        cases.push(c);
    }
    cases
}
