//! Readers: `tests/read/<format>/` holds raw inputs (or a `.source` file naming one in
//! ../shared/corpus) and, beside each, `<input>.expected.ndjson`: the normalised events
//! `cqlhunt run -e '*'` prints. CQLHUNT_BLESS=1 rewrites the expected files (review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");

fn inputs() -> Vec<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).expect("tests/read").flatten().map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs.into_iter().filter(|d| d.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d).expect("dir").flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".expected.ndjson") || name == "SOURCES.md" {
                continue;
            }
            let input = if name.ends_with(".source") {
                let rel = std::fs::read_to_string(&f).expect("source").trim().to_string();
                Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
            } else {
                f.clone()
            };
            out.push((input, d.join(format!("{name}.expected.ndjson"))));
        }
    }
    out
}

#[test]
fn readers_produce_the_expected_events() {
    let cases = inputs();
    assert!(cases.len() >= 6, "{cases:?}");
    let bless = std::env::var_os("CQLHUNT_BLESS").is_some();
    let mut failures = Vec::new();
    // Each input on one thread and on two: the same events, in the same order (a zip read
    // with two threads once went to the line workers whole, and gave nothing).
    for ((input, expected), threads) in cases.iter().flat_map(|c| [(c, "1"), (c, "2")]) {
        let out = Command::new(BIN)
            .args(["run", "-q", "-o", "ndjson", "-j", threads, "-e", "*"])
            .arg(input)
            .output()
            .expect("run");
        assert!(out.status.success(), "{} (-j {threads}): {}", input.display(), String::from_utf8_lossy(&out.stderr));
        let got = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!got.is_empty(), "{}: no events", input.display());
        if bless && threads == "1" {
            std::fs::write(expected, &got).expect("write expected");
            continue;
        }
        let want = std::fs::read_to_string(expected).unwrap_or_default();
        if got != want {
            let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
            let first = g.iter().zip(&w).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
            failures.push(format!(
                "{} (-j {threads}): line {} differs ({} vs {} lines)\n  want: {}\n  got:  {}",
                input.display(),
                first + 1,
                w.len(),
                g.len(),
                w.get(first).unwrap_or(&""),
                g.get(first).unwrap_or(&"")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
