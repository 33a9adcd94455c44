//! The binary, end to end: the seed's five defects, --lenient, fix, stdin, exit codes.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed/seed.cql");

fn run(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cqlhunt");
    if let Some(s) = stdin {
        child.stdin.take().expect("stdin").write_all(s.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The five defects of reference §1, each at its line and column.
const DEFECTS: [(&str, &str); 5] = [
    ("4:1", "error[E0202]"),    // `|` inside parentheses
    ("7:24", "error[E0204]"),   // if(FileName = /…/, "Critical", "High")
    ("9:1", "error[E0201]"),    // UNION
    ("11:1", "error[E0203]"),   // implicit AND between the groups
    ("15:134", "error[E0205]"), // unescaped `/` after nginx
];

#[test]
fn check_reports_the_seeds_five_defects() {
    let (code, out, _) = run(&["check", "--format", "short", SEED], None);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    for ((pos, what), line) in DEFECTS.iter().zip(&lines) {
        assert!(line.contains(&format!("seed.cql:{pos}: {what}")), "expected {pos} {what} in `{line}`");
    }
    // The human format gives a help line for each.
    let (_, human, _) = run(&["check", "--color", "never", SEED], None);
    assert_eq!(human.matches("= help:").count(), 5, "{human}");
    assert!(human.contains("failed: 5 errors, 0 warnings"), "{human}");
}

/// A rule file: its `queryString` is what is checked, with diagnostics placed in it.
#[test]
fn check_reads_a_rule_files_query() {
    let rule = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/t1505/alerts/mssql-clr-enabled.yaml");
    let (code, out, err) = run(&["check", rule], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("mssql-clr-enabled.yaml: queryString: ok: 0 errors"), "{out}");
    let dir = std::env::temp_dir().join(format!("cqlhunt-check-yaml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let bad = dir.join("bad.yaml");
    let text = "$schema: https://schemas.humio.com/alert/v0.3.0\nname: x\nqueryString: |-\n  FileName=cmd.exe\n  | groupBy(aid\n";
    std::fs::write(&bad, text).expect("write");
    let (code, out, _) = run(&["check", "--format", "short", bad.to_str().unwrap()], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("bad.yaml: queryString:2:10: error[E0102]"), "{out}");
    // Not a rule: the reason, exit 1.
    let broken = dir.join("broken.yml");
    std::fs::write(&broken, "name: [\n").expect("write");
    let (code, _, err) = run(&["check", broken.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("broken.yml: not valid YAML"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lenient_gives_five_warnings_and_no_error() {
    let (code, out, _) = run(&["check", "--lenient", "--format", "short", SEED], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");
    for ((pos, what), line) in DEFECTS.iter().zip(out.lines()) {
        let w = what.replace("error", "warning");
        assert!(line.contains(&format!("seed.cql:{pos}: {w}")), "expected {pos} {w} in `{line}`");
    }
}

#[test]
fn fix_prints_strict_valid_cql() {
    let (code, fixed, _) = run(&["fix", SEED], None);
    assert_eq!(code, 0);
    assert!(fixed.starts_with("case {"), "{fixed}");
    assert!(fixed.contains("if(regex(\"(?i)^(cmd|powershell|pwsh|wscript|cscript|mshta)\\\\.exe$\", field=FileName), then=\"Critical\", else=\"High\")"), "{fixed}");
    assert!(fixed.contains("\\/usr\\/share\\/nginx\\/)/"), "{fixed}");
    assert!(!fixed.contains("UNION"));
    let (code, out, _) = run(&["check", "-"], Some(&fixed));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 0 errors, 0 warnings"), "{out}");
    // fix is idempotent.
    let (_, again, _) = run(&["fix", "-"], Some(&fixed));
    assert_eq!(again, fixed);
}

#[test]
fn stdin_and_exit_codes() {
    let (code, out, _) = run(&["check", "-"], Some("FileName = cmd.exe | groupBy(aid)"));
    assert_eq!((code, out.trim()), (0, "<stdin>: ok: 0 errors, 0 warnings"));
    let (code, _, _) = run(&["check", "-"], Some("gropBy(aid)"));
    assert_eq!(code, 1);
    let (code, _, err) = run(&["check", "/nonexistent/q.cql"], None);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/q.cql"), "{err}");
    let (code, _, _) = run(&["check"], None);
    assert_eq!(code, 2);
}

#[test]
fn explain_dumps_ast_and_plan() {
    let (code, plan, _) = run(&["explain", "-e", "#event_simpleName=ProcessRollup2 | groupBy(aid)"], None);
    assert_eq!(code, 0);
    assert!(plan.contains("prefilter: an event must contain one of: ProcessRollup2"), "{plan}");
    assert!(plan.contains("limit = 20000   (default)"), "{plan}");
    let (code, ast, _) = run(&["explain", "--ast", "-e", "a=1"], None);
    assert_eq!(code, 0);
    assert!(ast.contains("Compare") && ast.contains("0..1"), "{ast}");
    let (code, _, err) = run(&["explain", "--lenient", "-f", SEED], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["explain", "-e", "aid = ?aid"], None);
    assert_eq!(code, 1);
    assert!(err.contains("E0312"), "{err}");
    let (code, out, _) = run(&["explain", "--param", "aid=x1", "-e", "aid = ?aid"], None);
    assert_eq!(code, 0);
    assert!(out.contains("?aid = x1"), "{out}");
}

#[test]
fn saved_queries_resolve_from_a_directory() {
    let dir = std::env::temp_dir().join(format!("cqlhunt-saved-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("zComputerName.cql"), "match(file=\"aid_master.csv\", field=aid, include=ComputerName)")
        .expect("write");
    let d = dir.to_string_lossy().into_owned();
    let q = "$\"crowdstrike/fltr-core:zComputerName\"() | groupBy(ComputerName)";
    let (code, out, _) = run(&["check", "--saved", &d, "-"], Some(q));
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&["check", "--saved", &d, "--format", "short", "-"], Some("$zComputerNam()"));
    assert_eq!(code, 1);
    assert!(out.contains("E0308"), "{out}");
    let (code, _, _) = run(&["check", "-"], Some(q));
    assert_eq!(code, 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sql_prints_clickhouse_sql_and_its_table() {
    // A query: one SELECT over the table, missing fields answered as cqlhunt answers them.
    let (code, out, err) = run(&["sql", "--table", "fdr.events", "-e", "FileName != /cmd/i | groupBy(aid)"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("SELECT ") && out.trim_end().ends_with(';'), "{out}");
    assert!(out.contains("FROM fdr.events"), "{out}");
    assert!(out.contains("NOT (ifNull(match(`FileName`, '(?:(?i)cmd)'), 0))"), "{out}");
    assert!(out.contains("GROUP BY `aid`"), "{out}");
    // The table it reads: the fields the query names.
    let (code, out, err) = run(&["sql", "--create", "--table", "t", "-e", "FileName = x | groupBy(aid)"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("CREATE TABLE IF NOT EXISTS t ("), "{out}");
    assert!(out.contains("`FileName` Nullable(String)") && out.contains("`aid` Nullable(String)"), "{out}");
    // A rule file's query.
    let (code, out, err) = run(&["sql", "-f", "rules/t1505/alerts/mssql-shell-child.yaml"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("GROUP BY"), "{out}");
    // No faithful translation: exit 1, naming what stops it.
    let (code, out, err) = run(&["sql", "-e", "head(10)"], None);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("no ClickHouse translation for head()"), "{err}");
    let (code, _, err) = run(&["sql", "-f", "rules/t1505/alerts/termservice-servicedll-changed.yaml"], None);
    assert_eq!(code, 1);
    assert!(err.contains("no ClickHouse translation for the named group `ServiceDllQuoted`"), "{err}");
    // A pack: one table for all its rules (the fields they read, not those they write) …
    let (code, out, err) = run(&["sql", "--create", "--rules", "rules/t1505"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("`CommandLine` Nullable(String)") && out.contains("`RegObjectName` Nullable(String)"),
        "{out}"
    );
    assert!(!out.contains("`DetectionType`") && !out.contains("`EventCount`"), "{out}");
    // … or each rule's query, and the rules with no translation named (exit 1).
    let (code, out, err) = run(&["sql", "--rules", "rules/t1505"], None);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("-- ")).count(), 22, "{out}");
    assert_eq!(err.lines().filter(|l| l.contains("no ClickHouse translation for")).count(), 3, "{err}");
    // A query with errors: its diagnostics, exit 1.
    let (code, _, err) = run(&["sql", "-e", "groupBy("], None);
    assert_eq!(code, 1);
    assert!(err.contains("error"), "{err}");
}
