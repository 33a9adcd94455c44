//! The pack commands' drivers: `detect`, `test` (fixtures, metadata, tuning) and `coverage`.

use super::output::OutFormat;
use super::pack::{self, Compiled};
use super::run::{RunError, RunOptions};
use super::CoverageFormat;
use crate::pack::{self as pk, tuning, Pack, Rule};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(crate) fn errors_text(errs: &[pk::PackError]) -> String {
    errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\ncqlhunt: ")
}

fn compile_all(pack: &Pack, tuning: Option<&tuning::Tuning>) -> Result<Vec<Compiled>, String> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for r in pack.rules.iter().filter(|r| r.enabled) {
        match Compiled::new(r, tuning) {
            Ok(c) => out.push(c),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs.join("\n"))
    }
}

fn rule_ids(pack: &Pack) -> Vec<String> {
    pack.rules.iter().map(|r| r.id.clone()).collect()
}

/// `cqlhunt detect`.
/// `detect`; `pushdown` drops lines no rule can use before parsing them (`--no-pushdown` not given).
pub fn detect(
    rules_dir: &Path,
    tuning_file: Option<&Path>,
    mut opts: RunOptions,
    pushdown: bool,
) -> Result<ExitCode, String> {
    let Some((pack, tuning, mut rules)) = load_rules(rules_dir, tuning_file)? else { return Ok(ExitCode::from(1)) };
    opts.skip = pack::skip_for(&rules, opts.enrich);
    if pushdown {
        opts.probe = Some(pack::probe_for(&rules));
        opts.projection = pack::projection_for(&rules);
        opts.map_only_projected();
    }
    let summary = match pack::scan(&mut rules, &opts) {
        Ok(s) => s,
        Err(RunError::Query(e)) => {
            eprintln(&format!("cqlhunt: error: {e}"));
            return Ok(ExitCode::from(1));
        }
        Err(RunError::Input(e)) | Err(RunError::Output(e)) => return Err(e),
    };
    report(&pack, &rules, tuning.as_ref(), &opts, None, Some(summary))
}

/// A pack, its tuning and its rules compiled.
type Loaded = (pk::Pack, Option<tuning::Tuning>, Vec<pack::Compiled>);

/// A pack and its tuning, loaded, and its rules compiled; `None` (said on stderr) when a rule
/// has errors.
fn load_rules(rules_dir: &Path, tuning_file: Option<&Path>) -> Result<Option<Loaded>, String> {
    let pack = pk::load(rules_dir).map_err(|e| errors_text(&e))?;
    let tuning = match tuning_file {
        Some(f) => Some(tuning::load(f, Some(&rule_ids(&pack))).map_err(|e| errors_text(&e))?),
        None => None,
    };
    match compile_all(&pack, tuning.as_ref()) {
        Ok(rules) => Ok(Some((pack, tuning, rules))),
        Err(e) => {
            eprintln(&e);
            Ok(None)
        }
    }
}

/// `detect --clickhouse`: each rule's translation run on the server over `table`; a rule that
/// has no translation is a failed rule (its alerts are missing), the others go on.
pub fn detect_on(
    rules_dir: &Path,
    tuning_file: Option<&Path>,
    server: &super::clickhouse::Server,
    table: &str,
    opts: RunOptions,
) -> Result<ExitCode, String> {
    let Some((pack, tuning, mut rules)) = load_rules(rules_dir, tuning_file)? else { return Ok(ExitCode::from(1)) };
    let columns = server.columns(table)?;
    for r in &mut rules {
        match r.sql(table, &columns) {
            // A server that cannot be reached or fails a query stops the run (exit 2).
            Ok(sql) => {
                let mut rows = server.rows(&sql).map_err(|e| format!("rule {}: {e}", r.rule.id))?;
                // A table gives groups in no set order: the same alerts in the same order on
                // every run (ties of severity, score and time, by their fields).
                rows.sort_by_cached_key(|row| row.to_json(&[]));
                r.rows = rows;
            }
            Err(e) => r.error = Some(e),
        }
    }
    let over = format!("ClickHouse at {}, table {table}", server.addr);
    report(&pack, &rules, tuning.as_ref(), &opts, Some(&over), None)
}

/// Print a scan's alerts, the rules' errors and warnings, and the summary; the exit code.
fn report(
    pack: &pk::Pack,
    rules: &[pack::Compiled],
    tuning: Option<&tuning::Tuning>,
    opts: &RunOptions,
    over: Option<&str>,
    summary: Option<super::run::Summary>,
) -> Result<ExitCode, String> {
    let alerts = pack::alerts(rules);
    let n = alerts.len();
    let mut by_sev: BTreeMap<pk::Severity, usize> = BTreeMap::new();
    for r in rules {
        *by_sev.entry(r.rule.severity.unwrap_or(pk::Severity::Low)).or_default() += r.rows.len();
    }
    match pack::print_alerts(alerts, opts.output.unwrap_or(OutFormat::Table), opts.wide) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(format!("writing output: {e}")),
    }
    let mut failed = false;
    for r in rules {
        if let Some(e) = &r.error {
            failed = true;
            eprintln(&format!("cqlhunt: error: rule {}: {e}; its alerts may be missing", r.rule.id));
        }
        for w in r.warnings() {
            eprintln(&format!("cqlhunt: warning: rule {}: {w}", r.rule.id));
        }
    }
    if !opts.quiet {
        if let Some(summary) = summary {
            super::run::print_summary_of(&super::run::Summary { files: summary.files, rows: n as u64 }, "alerts");
        }
        let sev: Vec<String> =
            by_sev.iter().filter(|(_, n)| **n > 0).map(|(s, n)| format!("{n} {}", s.as_str().to_lowercase())).collect();
        let tuned = tuning.map(|t| format!(", tuning {}", t.path.display())).unwrap_or_default();
        eprintln(&format!(
            "cqlhunt: pack {} ({}, {} rules{tuned}{}): {n} alerts{}",
            pack.name,
            pack.dir.display(),
            rules.len(),
            over.map(|o| format!(", over {o}")).unwrap_or_default(),
            if sev.is_empty() { String::new() } else { format!(" ({})", sev.join(", ")) }
        ));
    }
    Ok(ExitCode::from(u8::from(failed)))
}

fn eprintln(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{s}");
}

/// The options fixtures are read with: strict (a bad record in a fixture is a failure), quiet.
fn fixture_opts(inputs: Vec<PathBuf>) -> RunOptions {
    RunOptions {
        inputs,
        output: Some(OutFormat::Ndjson),
        aidmaster: None,
        strict_input: true,
        wide: false,
        rawstring: false,
        lookup_dir: PathBuf::from("."),
        quiet: true,
        threads: 1,
        mappings: crate::read::mapping::Mappings::builtin(),
        hostname: None,
        mute: true,
        format: None,
        skip: None,
        enrich: true,
        enrich_matters: true,
        projection: None,
        probe: None,
        speculate: Vec::new(),
        lineage_reads: Vec::new(),
        capture: None,
    }
}

/// One checked thing: a rule's CQL, its metadata, one fixture, one tuning case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub suite: String,
    pub name: String,
    pub failure: Option<String>,
}

fn case(suite: &str, name: &str, failure: Option<String>) -> CaseResult {
    CaseResult { suite: suite.to_string(), name: name.to_string(), failure }
}

/// The fixture cases of a rule: `(case name, input file)`, in name order.
pub fn fixture_cases(pack: &Pack, id: &str) -> Vec<(String, PathBuf)> {
    let dir = pack.dir.join("fixtures").join(id);
    let Ok(rd) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (n.starts_with("tp-") || n.starts_with("tn-")) && !n.ends_with(".expected.ndjson")
        })
        .map(|p| (p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string(), p))
        .collect()
}

/// Run one rule alone over one file: its output rows as NDJSON lines.
pub fn run_rule(rule: &Rule, tuning: Option<&tuning::Tuning>, input: &Path) -> Result<Vec<String>, String> {
    let mut c = vec![Compiled::new(rule, tuning)?];
    scan_file(&mut c, input)?;
    if let Some(e) = &c[0].error {
        return Err(e.clone());
    }
    Ok(pack::ndjson(&c[0].rows))
}

fn check_case(rule: &Rule, name: &str, input: &Path) -> Option<String> {
    let got = match run_rule(rule, None, input) {
        Ok(g) => g,
        Err(e) => return Some(format!("the rule failed: {e}")),
    };
    let expected_path = PathBuf::from(format!("{}.expected.ndjson", input.display()));
    let expected_text = std::fs::read_to_string(&expected_path).unwrap_or_default();
    let expected: Vec<&str> = expected_text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tp = name.starts_with("tp-");
    if tp && expected.is_empty() {
        return Some(format!("a true-positive case needs expected rows in {}", expected_path.display()));
    }
    if !tp && !expected.is_empty() {
        return Some(format!("a true-negative case must expect no rows ({})", expected_path.display()));
    }
    let parse = |l: &str| serde_json::from_str::<serde_json::Value>(l).map_err(|e| e.to_string());
    let mut diffs = Vec::new();
    for i in 0..got.len().max(expected.len()) {
        let (g, e) = (got.get(i).map(String::as_str), expected.get(i).copied());
        let same = match (g, e) {
            (Some(g), Some(e)) => match (parse(g), parse(e)) {
                (Ok(a), Ok(b)) => a == b,
                (_, Err(err)) => {
                    diffs.push(format!("  {}: line {}: not JSON: {err}", expected_path.display(), i + 1));
                    continue;
                }
                _ => false,
            },
            _ => false,
        };
        if !same {
            if let Some(e) = e {
                diffs.push(format!("  - {e}"));
            }
            if let Some(g) = g {
                diffs.push(format!("  + {g}"));
            }
        }
    }
    if diffs.is_empty() {
        None
    } else {
        let what = if got.is_empty() && tp {
            "no rows (the rule missed its true positive)".to_string()
        } else if expected.is_empty() {
            format!("{} rows (a false positive)", got.len())
        } else {
            format!("{} rows, {} expected", got.len(), expected.len())
        };
        Some(format!("{what}; expected (-) and got (+):\n{}", diffs.join("\n")))
    }
}

/// Everything `cqlhunt test` checks in one pack.
pub fn test_pack(dir: &Path) -> Vec<CaseResult> {
    let pack = match pk::load(dir) {
        Ok(p) => p,
        Err(e) => return vec![case(&dir.display().to_string(), "load", Some(errors_text(&e)))],
    };
    let mut out = Vec::new();
    let popts = crate::plan::PlanOptions { require_params: true, ..crate::plan::PlanOptions::default() };
    for rule in &pack.rules {
        let diags = super::check_source(&rule.query, false, &popts);
        let fail = (!diags.is_empty()).then(|| {
            crate::diag::render_short(&rule.path.display().to_string(), &rule.query, &diags).trim_end().to_string()
        });
        out.push(case(&rule.id, "check (strict CQL, no warnings)", fail));
        let lint = pk::lint(rule);
        out.push(case(&rule.id, "metadata and output contract", (!lint.is_empty()).then(|| lint.join("; "))));
        let cases = fixture_cases(&pack, &rule.id);
        let (tp, tn) = (
            cases.iter().filter(|(n, _)| n.starts_with("tp-")).count(),
            cases.iter().filter(|(n, _)| n.starts_with("tn-")).count(),
        );
        out.push(case(
            &rule.id,
            "has true-positive and true-negative fixtures",
            (tp == 0 || tn == 0)
                .then(|| format!("{tp} true-positive and {tn} true-negative cases in fixtures/{}/", rule.id)),
        ));
        for (name, input) in cases {
            let f = check_case(rule, &name, &input);
            out.push(case(&rule.id, &name, f));
        }
    }
    // Fixture folders must belong to a rule (a renamed rule would silently lose its tests).
    let ids = rule_ids(&pack);
    if let Ok(rd) = std::fs::read_dir(pack.dir.join("fixtures")) {
        let mut dirs: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        dirs.sort();
        for d in dirs {
            if d != "tuning" && !ids.contains(&d) {
                out.push(case("fixtures", &d, Some(format!("fixtures/{d}/ names no rule of the pack"))));
            }
        }
    }
    out.extend(tuning_tests(&pack));
    out
}

/// Run compiled rules over one fixture file.
fn scan_file(rules: &mut [Compiled], input: &Path) -> Result<(), String> {
    pack::scan(rules, &fixture_opts(vec![input.to_path_buf()])).map(|_| ()).map_err(RunError::message)
}

/// The rules that raise alerts over `input`, with how many.
fn alert_counts(pack: &Pack, tuning: Option<&tuning::Tuning>, input: &Path) -> Result<BTreeMap<String, usize>, String> {
    let mut rules = compile_all(pack, tuning)?;
    scan_file(&mut rules, input)?;
    if let Some(r) = rules.iter().find(|r| r.error.is_some()) {
        return Err(format!("rule {}: {}", r.rule.id, r.error.as_deref().unwrap_or("")));
    }
    Ok(rules.iter().filter(|r| !r.rows.is_empty()).map(|r| (r.rule.id.clone(), r.rows.len())).collect())
}

/// The rules that raise at least one alert over `input`.
fn fired(pack: &Pack, tuning: Option<&tuning::Tuning>, input: &Path) -> Result<Vec<String>, String> {
    alert_counts(pack, tuning, input).map(|c| c.into_keys().collect())
}

/// `tuning-tests.yaml`: each case's alerting rules with and without the example tuning.
fn tuning_tests(pack: &Pack) -> Vec<CaseResult> {
    let path = pack.dir.join("tuning-tests.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
    let suite = "tuning";
    let y = match pk::load_yaml(&text, &path) {
        Ok(y) => y,
        Err(e) => return vec![case(suite, "tuning-tests.yaml", Some(e.to_string()))],
    };
    let tfile = pack.dir.join(pk::get_str(&y, "tuning").unwrap_or("tuning.example.yaml"));
    let t = match tuning::load(&tfile, Some(&rule_ids(pack))) {
        Ok(t) => t,
        Err(e) => return vec![case(suite, &tfile.display().to_string(), Some(errors_text(&e)))],
    };
    let mut out = Vec::new();
    let tests = pk::get(&y, "tests").and_then(|v| v.as_vec()).cloned().unwrap_or_default();
    if tests.is_empty() {
        out.push(case(suite, "tuning-tests.yaml", Some("no `tests:` list".to_string())));
    }
    for item in &tests {
        let name = pk::get_str(item, "name").unwrap_or("(unnamed)").to_string();
        let Some(input) = pk::get_str(item, "input") else {
            out.push(case(suite, &name, Some("no `input`".to_string())));
            continue;
        };
        let input = pack.dir.join(input);
        let want = |k: &str| {
            let mut v = pk::get_strs(item, k, &path).unwrap_or_default();
            v.sort();
            v
        };
        let mut failure = Vec::new();
        if want("untuned").is_empty() {
            failure.push("`untuned` is empty: a tuning case must alert without the tuning".to_string());
        }
        for (label, tuning, expected) in [("untuned", None, want("untuned")), ("tuned", Some(&t), want("tuned"))] {
            match alert_counts(pack, tuning, &input) {
                Ok(counts) => {
                    let got: Vec<String> = counts.keys().cloned().collect();
                    if got != expected {
                        failure.push(format!("{label}: rules with alerts {got:?}, expected {expected:?}"));
                    }
                    let n: usize = counts.values().sum();
                    if let Some(want_n) = pk::get(item, &format!("{label}_alerts")).and_then(|v| v.as_i64()) {
                        if n as i64 != want_n {
                            failure.push(format!("{label}: {n} alerts, expected {want_n}"));
                        }
                    }
                }
                Err(e) => failure.push(format!("{label}: {e}")),
            }
        }
        out.push(case(suite, &name, (!failure.is_empty()).then(|| failure.join("; "))));
    }
    out
}

/// `cqlhunt test`.
pub fn test(dirs: &[PathBuf], junit: Option<&Path>, verbose: bool) -> Result<ExitCode, String> {
    let mut all: Vec<(PathBuf, Vec<CaseResult>)> = Vec::new();
    let mut failed = 0;
    let mut total = 0;
    for d in dirs {
        let results = test_pack(d);
        let mut o = std::io::stdout().lock();
        for r in &results {
            total += 1;
            match &r.failure {
                Some(f) => {
                    failed += 1;
                    let _ = writeln!(o, "FAIL {} {}: {}", r.suite, r.name, f);
                }
                None if verbose => {
                    let _ = writeln!(o, "ok   {} {}", r.suite, r.name);
                }
                None => {}
            }
        }
        all.push((d.clone(), results));
    }
    if let Some(j) = junit {
        std::fs::write(j, junit_xml(&all)).map_err(|e| format!("--junit {}: {e}", j.display()))?;
    }
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "cqlhunt test: {} passed, {failed} failed", total - failed);
    Ok(ExitCode::from(u8::from(failed > 0)))
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test suite per pack, one test case per check.
pub fn junit_xml(all: &[(PathBuf, Vec<CaseResult>)]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (dir, results) in all {
        let failures = results.iter().filter(|r| r.failure.is_some()).count();
        s.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            xml_escape(&dir.display().to_string()),
            results.len()
        ));
        for r in results {
            s.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml_escape(&r.suite),
                xml_escape(&r.name)
            ));
            match &r.failure {
                None => s.push_str("/>\n"),
                Some(f) => {
                    let first = f.lines().next().unwrap_or("");
                    s.push_str(&format!(
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                        xml_escape(first),
                        xml_escape(f)
                    ));
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// One row of the seed-tests matrix.
#[derive(Debug, Clone)]
pub struct FormRow {
    pub test: i64,
    pub title: String,
    pub form: String,
    pub file: String,
    pub rules: Vec<String>,
    pub seed: Option<bool>,
}

/// One row of the sub-technique matrix.
#[derive(Debug, Clone)]
pub struct TechniqueRow {
    pub technique: String,
    /// Rules with the label, and whether all their fixtures pass.
    pub rules: Vec<(String, bool)>,
    /// True-positive fixtures of those rules the seed's query (as written) catches, of all.
    pub seed: (usize, usize),
}

pub const SUBTECHNIQUES: [(&str, &str); 6] = [
    ("T1505.001", "SQL Stored Procedures"),
    ("T1505.002", "Transport Agent"),
    ("T1505.003", "Web Shell"),
    ("T1505.004", "IIS Components"),
    ("T1505.005", "Terminal Services DLL"),
    ("T1505.006", "vSphere Installation Bundles"),
];

fn seed_catches(seed: Option<&str>, input: &Path) -> Option<bool> {
    let text = seed?;
    let mut c = vec![Compiled::query("seed", text, true).ok()?];
    scan_file(&mut c, input).ok()?;
    Some(!c[0].rows.is_empty())
}

/// Both coverage matrices.
pub fn coverage_rows(rules_dir: &Path, index: &Path) -> Result<(Vec<FormRow>, Vec<TechniqueRow>), String> {
    let pack = pk::load(rules_dir).map_err(|e| errors_text(&e))?;
    let seed = std::fs::read_to_string(rules_dir.join("original/seed.cql")).ok();
    let text = std::fs::read_to_string(index).map_err(|e| format!("{}: {e}", index.display()))?;
    let y = pk::load_yaml(&text, index).map_err(|e| e.to_string())?;
    let base = index.parent().unwrap_or(Path::new("."));
    let mut forms = Vec::new();
    for t in pk::get(&y, "tests").and_then(|v| v.as_vec()).cloned().unwrap_or_default() {
        let n = pk::get(&t, "test").and_then(|v| v.as_i64()).unwrap_or(0);
        let title = pk::get_str(&t, "title").unwrap_or("").to_string();
        for f in pk::get(&t, "forms").and_then(|v| v.as_vec()).cloned().unwrap_or_default() {
            let file = pk::get_str(&f, "file").unwrap_or("").to_string();
            let path = base.join(&file);
            let rules = fired(&pack, None, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            forms.push(FormRow {
                test: n,
                title: title.clone(),
                form: pk::get_str(&f, "form").unwrap_or("").to_string(),
                file,
                rules,
                seed: seed_catches(seed.as_deref(), &path),
            });
        }
    }
    let mut techs = Vec::new();
    for (t, _) in SUBTECHNIQUES {
        let mut rules = Vec::new();
        let (mut caught, mut tps) = (0, 0);
        for r in pack.rules.iter().filter(|r| r.techniques.iter().any(|x| x == t)) {
            let cases = fixture_cases(&pack, &r.id);
            let has_tp = cases.iter().any(|(n, _)| n.starts_with("tp-"));
            let pass = has_tp && cases.iter().all(|(n, p)| check_case(r, n, p).is_none());
            for (_, p) in cases.iter().filter(|(n, _)| n.starts_with("tp-")) {
                tps += 1;
                caught += usize::from(seed_catches(seed.as_deref(), p) == Some(true));
            }
            rules.push((r.id.clone(), pass));
        }
        techs.push(TechniqueRow { technique: t.to_string(), rules, seed: (caught, tps) });
    }
    Ok((forms, techs))
}

/// `cqlhunt coverage`.
pub fn coverage(rules_dir: &Path, index: &Path, format: CoverageFormat) -> Result<ExitCode, String> {
    let (forms, techs) = coverage_rows(rules_dir, index)?;
    let gap = forms.iter().any(|f| f.rules.is_empty()) || techs.iter().any(|t| !t.rules.iter().any(|(_, p)| *p));
    let seed_col = |s: Option<bool>| match s {
        Some(true) => "yes",
        Some(false) => "MISSED",
        None => "-",
    };
    let text = match format {
        CoverageFormat::Json => {
            let f: Vec<serde_json::Value> = forms
                .iter()
                .map(|f| {
                    serde_json::json!({"test": f.test, "title": f.title, "form": f.form, "file": f.file,
                        "rules": f.rules, "detected": !f.rules.is_empty(), "seed_as_written": f.seed})
                })
                .collect();
            let t: Vec<serde_json::Value> = techs
                .iter()
                .map(|t| {
                    let rules: Vec<serde_json::Value> =
                        t.rules.iter().map(|(r, p)| serde_json::json!({"rule": r, "fixtures_pass": p})).collect();
                    serde_json::json!({"technique": t.technique, "rules": rules,
                        "seed_as_written_true_positives": {"caught": t.seed.0, "of": t.seed.1}})
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({"seed_tests": f, "techniques": t}))
                .map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        CoverageFormat::Md | CoverageFormat::Table => {
            let md = format == CoverageFormat::Md;
            let mut rows1 = vec![vec![
                "Seed test".to_string(),
                "Telemetry form".to_string(),
                "File".to_string(),
                "Pack rules with alerts".to_string(),
                "Seed as written".to_string(),
            ]];
            for f in &forms {
                rows1.push(vec![
                    format!("{} {}", f.test, f.title),
                    f.form.clone(),
                    f.file.clone(),
                    if f.rules.is_empty() { "NONE".to_string() } else { f.rules.join(", ") },
                    seed_col(f.seed).to_string(),
                ]);
            }
            let mut rows2 = vec![vec![
                "Sub-technique".to_string(),
                "Rules (fixtures pass)".to_string(),
                "Seed as written: TP fixtures caught".to_string(),
            ]];
            for t in &techs {
                let name = SUBTECHNIQUES.iter().find(|(id, _)| *id == t.technique).map(|x| x.1).unwrap_or("");
                let rules: Vec<String> =
                    t.rules.iter().map(|(r, p)| format!("{r}{}", if *p { "" } else { " (FAILING)" })).collect();
                rows2.push(vec![
                    format!("{} {name}", t.technique),
                    if rules.is_empty() { "NONE".to_string() } else { rules.join(", ") },
                    format!("{} of {}", t.seed.0, t.seed.1),
                ]);
            }
            format!("{}\n{}", grid(&rows1, md), grid(&rows2, md))
        }
    };
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(ExitCode::from(u8::from(gap)))
}

/// A plain-text or Markdown table; the first row is the header.
fn grid(rows: &[Vec<String>], md: bool) -> String {
    let mut s = String::new();
    if md {
        for (i, r) in rows.iter().enumerate() {
            let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            s.push_str(&format!("| {} |\n", cells.join(" | ")));
            if i == 0 {
                s.push_str(&format!("|{}\n", "---|".repeat(r.len())));
            }
        }
        return s;
    }
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..n).map(|i| rows.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0)).collect();
    for (k, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
        if k == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            s.push_str(&rule.join("  "));
            s.push('\n');
        }
    }
    s
}
