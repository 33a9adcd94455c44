//! The same query on ClickHouse: `cqlhunt sql`'s translation, run by a real ClickHouse server
//! over the events cqlhunt reads, gives cqlhunt's rows.
//!
//! - every query case of `tests/cases` that translates, over its input, gives its expected rows;
//! - every rule of the T1505 pack that translates, and the seed (as `fix` writes it and in the
//!   seed dialect), over the sample telemetry and the rules' fixtures (`examples/`,
//!   `rules/t1505/fixtures/`, read as `run -e '*' -o ndjson` prints them) and over generated
//!   Falcon data, gives the rows `cqlhunt run` gives; the rules that do not translate say why.
//!
//! Rows are compared as sets with their counts: a table keeps no input order. The server is
//! reached over HTTP at `CQLHUNT_CLICKHOUSE` (default `127.0.0.1:8123`). Without a server the
//! tests say so and pass, unless `CQLHUNT_REQUIRE_CLICKHOUSE=1` (CI sets it: `.ci/run` installs
//! and starts one).
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

struct ClickHouse {
    addr: String,
    db: String,
}

impl ClickHouse {
    /// The server, with a database of the test's own (dropped first and last), or `None` when
    /// there is none and none is required.
    fn connect(test: &str) -> Option<ClickHouse> {
        let addr = std::env::var("CQLHUNT_CLICKHOUSE").unwrap_or_else(|_| "127.0.0.1:8123".to_string());
        let db = format!("cqlhunt_{test}_{}", std::process::id());
        let ch = ClickHouse { addr, db };
        match ch.query("SELECT 1", None) {
            Ok(r) if r.trim() == "1" => {}
            other => {
                let why = format!("no ClickHouse server at {} ({other:?})", ch.addr);
                assert!(std::env::var("CQLHUNT_REQUIRE_CLICKHOUSE").as_deref() != Ok("1"), "{why}");
                eprintln!("{test}: skipped: {why}; set CQLHUNT_REQUIRE_CLICKHOUSE=1 to fail instead");
                return None;
            }
        }
        ch.query(&format!("DROP DATABASE IF EXISTS {}", ch.db), None).expect("drop database");
        ch.query(&format!("CREATE DATABASE {}", ch.db), None).expect("create database");
        Some(ch)
    }

    /// One statement (with `data`: an `INSERT`'s rows), as `run --clickhouse` sends it.
    fn query(&self, sql: &str, data: Option<&[u8]>) -> Result<String, String> {
        cqlhunt::cli::clickhouse::Server::new(&self.addr).post(sql, data)
    }

    /// A table of these events (NDJSON lines as `run -o ndjson` writes them), with a column
    /// for each of their fields and for `also`.
    fn load(&self, table: &str, lines: &[String], also: &[String]) -> String {
        let name = format!("{}.{table}", self.db);
        let mut fields: Vec<String> = also.to_vec();
        for l in lines {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            fields.extend(v.as_object().expect("an object").keys().cloned());
        }
        self.query(&format!("DROP TABLE IF EXISTS {name}"), None).expect("drop table");
        self.query(&cqlhunt::sql::create_table(&name, &fields), None).expect("create table");
        if !lines.is_empty() {
            let data = lines.join("\n");
            self.query(&format!("INSERT INTO {name} FORMAT JSONEachRow"), Some(data.as_bytes()))
                .unwrap_or_else(|e| panic!("insert into {name}: {e}"));
        }
        name
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        let _ = self.query(&format!("DROP DATABASE IF EXISTS {}", self.db), None);
    }
}

/// Rows as comparable texts, sorted: missing (`null`) fields dropped, values that read as
/// numbers written as numbers (ClickHouse writes counts as text, cqlhunt as numbers).
fn rows(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("a row `{l}`: {e}"));
            let mut row = BTreeMap::new();
            for (k, v) in v.as_object().expect("a row is an object") {
                let t = match v {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let t = match cqlhunt::event::parse_num(&t) {
                    Some(n) => cqlhunt::event::format_num(n),
                    None => t,
                };
                row.insert(k.clone(), t);
            }
            serde_json::to_string(&row).expect("json")
        })
        .collect();
    out.sort();
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cqlhunt(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cqlhunt")).args(args).current_dir(root()).output().expect("run cqlhunt");
    assert!(out.status.success(), "cqlhunt {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// A row with only the given fields.
fn only(line: &str, fields: &[String]) -> String {
    let v: serde_json::Value = serde_json::from_str(line).expect("a row");
    let o: serde_json::Map<String, serde_json::Value> = v
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(k, _)| fields.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::Value::Object(o).to_string()
}

/// An input event as a table row: its fields as text, `@timestamp` as its number.
fn row_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).expect("input JSON");
    let ev = cqlhunt::event::Event::from_json(&v).expect("an object");
    let mut o = serde_json::Map::new();
    for (k, v) in ev.fields() {
        let val = match (k, v) {
            ("@timestamp", v) => match v.as_num() {
                Some(n) => serde_json::json!(n),
                None => continue,
            },
            (_, v) => serde_json::Value::String(v.as_str().into_owned()),
        };
        o.insert(k.to_string(), val);
    }
    serde_json::Value::Object(o).to_string()
}

#[test]
fn query_cases_agree_on_clickhouse() {
    let Some(ch) = ClickHouse::connect("cases") else { return };
    let dir = root().join("tests/cases");
    let mut paths = Vec::new();
    common::files(&dir, &mut paths);
    let (mut translated, mut total) = (0, 0);
    let mut not_translated: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for p in &paths {
        let file = p.strip_prefix(&dir).unwrap_or(p).display().to_string();
        let text = std::fs::read_to_string(p).expect("read cases");
        for (i, c) in common::parse(&file, &text).into_iter().enumerate() {
            // Cases that need what a table does not hold: parameters, lookup files, the clock.
            if c.error.is_some() || c.options.iter().any(|o| o.starts_with("param ")) || file == "lookups.cql" {
                continue;
            }
            total += 1;
            let lenient = c.options.iter().any(|o| o == "lenient");
            let table = format!("{}.c{i}_{}", ch.db, file.trim_end_matches(".cql"));
            let sql = match cqlhunt::sql::translate(&c.query, lenient, &table) {
                Ok(s) => s,
                Err(e) => {
                    assert!(
                        e.starts_with("no ClickHouse translation for"),
                        "{} :: {}: a query run accepts fails to translate for another reason: {e}",
                        c.file,
                        c.name
                    );
                    let what = e.trim_start_matches("no ClickHouse translation for ").to_string();
                    *not_translated.entry(what.chars().take(60).collect()).or_default() += 1;
                    continue;
                }
            };
            translated += 1;
            let input: Vec<String> = c.input.iter().map(|l| row_of(l)).collect();
            ch.load(&format!("c{i}_{}", file.trim_end_matches(".cql")), &input, &sql.inputs);
            match ch.query(&format!("{} FORMAT JSONEachRow", sql.text), None) {
                Ok(got) => {
                    // Rows that are events hold the fields the query names (docs/clickhouse.md).
                    let want: Vec<String> = match sql.events {
                        false => c.output.clone(),
                        true => c.output.iter().map(|l| only(l, &sql.outputs)).collect(),
                    };
                    let (got, want) = (rows(&got), rows(&want.join("\n")));
                    if got != want {
                        failures.push(format!(
                            "{} :: {}\n  query: {}\n  want: {want:?}\n  got:  {got:?}\n  sql: {}",
                            c.file,
                            c.name,
                            c.query.trim(),
                            sql.text
                        ));
                    }
                }
                Err(e) => {
                    failures.push(format!("{} :: {}: ClickHouse: {}\n  sql: {}", c.file, c.name, e.trim(), sql.text))
                }
            }
        }
    }
    eprintln!("{translated} of {total} query cases translate; the others, by what stops them: {not_translated:#?}");
    assert!(
        failures.is_empty(),
        "{} of {translated} translated cases differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The comparison is not vacuous: most of the cases translate.
    assert!(translated >= 60, "only {translated} of {total} cases translate");
}

/// The rules that have no translation, and the part each names.
const UNTRANSLATED: &[(&str, &str)] = &[
    ("exchange-transport-agent-cmdlet", "the named group `CmdletParameters`"),
    ("termservice-servicedll-changed", "the named group `ServiceDllQuoted`"),
    ("webshell-request-fresh-script", "collect() in groupBy()"),
];

#[test]
fn the_pack_and_the_seed_agree_on_clickhouse() {
    let Some(ch) = ClickHouse::connect("pack") else { return };
    let tmp = std::env::temp_dir().join(format!("cqlhunt-ch-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    // The queries: each rule's, and the seed's in both forms.
    let mut queries: Vec<(String, String, bool)> = Vec::new();
    let mut alerts: Vec<PathBuf> =
        std::fs::read_dir(root().join("rules/t1505/alerts")).expect("alerts").map(|e| e.expect("e").path()).collect();
    alerts.sort();
    for a in &alerts {
        let text = std::fs::read_to_string(a).expect("rule");
        let rule = cqlhunt::pack::parse_rule(&text, a).expect("a rule");
        let name = a.file_stem().expect("stem").to_string_lossy().into_owned();
        queries.push((name, rule.query, false));
    }
    let seed = std::fs::read_to_string(root().join("tests/seed/seed.cql")).expect("seed");
    queries.push(("seed (lenient)".to_string(), seed, true));
    queries.push(("seed (fixed)".to_string(), cqlhunt(&["fix", "tests/seed/seed.cql"]), false));
    // The data: sample telemetry and fixtures of every form, and generated Falcon lines.
    let generated = tmp.join("generated.ndjson");
    std::fs::write(&generated, cqlhunt(&["gen", "--events", "20000", "--seed", "3", "--hosts", "20"])).expect("gen");
    let generated = generated.to_string_lossy().into_owned();
    let sets: Vec<(&str, Vec<&str>)> =
        vec![("samples", vec!["examples", "rules/t1505/fixtures"]), ("generated", vec![generated.as_str()])];
    let mut failures = Vec::new();
    let mut untranslated = Vec::new();
    for (set, inputs) in &sets {
        let mut args = vec!["run", "-q", "-e", "*", "-o", "ndjson"];
        args.extend(inputs.iter().copied());
        let events: Vec<String> = cqlhunt(&args).lines().map(str::to_string).collect();
        assert!(events.len() > 500, "{set}: {} events", events.len());
        let mut reads = Vec::new();
        let mut sqls = Vec::new();
        for (name, q, lenient) in &queries {
            match cqlhunt::sql::translate(q, *lenient, &format!("{}.{set}", ch.db)) {
                Ok(s) => {
                    reads.extend(s.inputs.iter().cloned());
                    sqls.push((name, q, *lenient, s));
                }
                Err(e) => untranslated.push((name.clone(), e)),
            }
        }
        ch.load(set, &events, &reads);
        for (name, q, lenient, sql) in sqls {
            let qfile = tmp.join("q.cql");
            std::fs::write(&qfile, q).expect("write query");
            let qpath = qfile.to_string_lossy().into_owned();
            let mut args = vec!["run", "-q", "-o", "ndjson", "-f", qpath.as_str()];
            if lenient {
                args.push("--lenient");
            }
            args.extend(inputs.iter().copied());
            let want = rows(&cqlhunt(&args));
            let got = match ch.query(&format!("{} FORMAT JSONEachRow", sql.text), None) {
                Ok(t) => rows(&t),
                Err(e) => {
                    failures.push(format!("{set} :: {name}: ClickHouse: {}", e.trim()));
                    continue;
                }
            };
            if got != want {
                failures.push(format!("{set} :: {name}\n  want: {want:?}\n  got:  {got:?}"));
            }
            // Every query finds its own behaviour in the samples (the rules' fixtures).
            if *set == "samples" && want.is_empty() {
                failures.push(format!("{set} :: {name}: no rows, so nothing was compared"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
    // Those that do not translate are the ones known, each for the reason it names (twice: once
    // per data set).
    untranslated.sort();
    untranslated.dedup();
    let names: Vec<&str> = untranslated.iter().map(|(n, _)| n.as_str()).collect();
    let known: Vec<&str> = UNTRANSLATED.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, known, "{untranslated:#?}");
    for ((_, e), (_, why)) in untranslated.iter().zip(UNTRANSLATED) {
        assert!(e.starts_with("no ClickHouse translation for") && e.contains(why), "{e}");
    }
}

/// cqlhunt's output lines, sorted (a table keeps no order).
fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn run_and_detect_on_a_clickhouse_table_print_what_they_print_over_files() {
    let Some(ch) = ClickHouse::connect("cli") else { return };
    // The samples in the table `sql --create --rules` makes for the pack (the fields its rules
    // read; the events' other fields are passed over).
    let table = format!("{}.samples", ch.db);
    let create = cqlhunt(&["sql", "--create", "--rules", "rules/t1505", "--table", &table]);
    ch.query(create.trim_end().trim_end_matches(';'), None).expect("create the pack's table");
    let inputs = ["examples", "rules/t1505/fixtures"];
    let files = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(inputs);
        cqlhunt(&a)
    };
    let events = files(&["run", "-q", "-e", "*", "-o", "ndjson"]);
    ch.query(&format!("INSERT INTO {table} FORMAT JSONEachRow"), Some(events.as_bytes())).expect("insert");
    let bin = env!("CARGO_BIN_EXE_cqlhunt");
    let on_ch = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--clickhouse", ch.addr.as_str(), "--table", table.as_str()]);
        Command::new(bin).args(&a).current_dir(root()).output().expect("run cqlhunt")
    };
    // `run`: the seed's rows, numbers as numbers, the same lines as over the files.
    let out = on_ch(&["run", "-q", "--lenient", "-o", "ndjson", "-f", "tests/seed/seed.cql"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = sorted_lines(&String::from_utf8_lossy(&out.stdout));
    let want = sorted_lines(&files(&["run", "-q", "--lenient", "-o", "ndjson", "-f", "tests/seed/seed.cql"]));
    assert!(want.len() >= 4, "{want:?}");
    assert_eq!(got, want);
    // `detect`, with and without the example tuning: the alerts of the rules that translate,
    // exactly; the others named, exit 1.
    let names: Vec<String> = UNTRANSLATED
        .iter()
        .map(|(r, _)| {
            let text = std::fs::read_to_string(root().join(format!("rules/t1505/alerts/{r}.yaml"))).expect("rule");
            cqlhunt::pack::parse_rule(&text, Path::new(r)).expect("rule").name
        })
        .collect();
    let mut counts = Vec::new();
    for tuning in [&[][..], &["--tuning", "rules/t1505/tuning.example.yaml"][..]] {
        let out = on_ch(&[&["detect", "-o", "ndjson"][..], tuning].concat());
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        for (rule, why) in UNTRANSLATED {
            assert!(err.contains(&format!("cqlhunt: error: rule {rule}: no ClickHouse translation for")), "{err}");
            assert!(err.lines().any(|l| l.contains(rule) && l.contains(why)), "{err}");
        }
        assert!(err.contains(&format!("over ClickHouse at {}, table {table}", ch.addr)), "{err}");
        let got = sorted_lines(&String::from_utf8_lossy(&out.stdout));
        let want: Vec<String> = sorted_lines(&files(&[&["detect", "-q", "-o", "ndjson"][..], tuning].concat()))
            .into_iter()
            .filter(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("alert");
                !names.iter().any(|n| v["RuleName"].as_str() == Some(n.as_str()))
            })
            .collect();
        assert!(want.len() > 200, "{}", want.len());
        assert_eq!(got, want, "{tuning:?}");
        counts.push(got.len());
    }
    // The tuning holds back the false positives of the fixtures on ClickHouse too.
    assert!(counts[1] < counts[0], "{counts:?}");
    // Files and a table at once: a usage error.
    let out = on_ch(&["detect", "examples"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every query of the public corpus that cqlhunt runs either translates or names what stops
/// it; ClickHouse accepts every translation, and over a table of 20,000 generated Falcon events
/// gives the rows cqlhunt gives over those events (but where a default limit cut cqlhunt's rows:
/// which are kept then depends on order).
#[test]
fn the_corpus_translates_into_sql_that_gives_cqlhunts_rows() {
    let path = root().join("../shared/corpus/cql-queries/logscale-community-content.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ch = ClickHouse::connect("corpus");
    let mut queries = Vec::new();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut not_translated: BTreeMap<String, usize> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a corpus line");
        if v["kind"] != "query" {
            continue;
        }
        let q = v["query"].as_str().unwrap_or_default().to_string();
        // Only the queries cqlhunt runs: those that check clean (no parameters, no saved
        // searches) and that its evaluator builds.
        let opts = cqlhunt::plan::PlanOptions { require_params: true, ..Default::default() };
        let Ok(ir) = cqlhunt::plan::compile::compile_text(&q, &opts) else { continue };
        if cqlhunt::eval::Executor::new(&ir, cqlhunt::eval::Ctx::default()).is_err() {
            continue;
        }
        total += 1;
        let table = ch.as_ref().map(|c| format!("{}.events", c.db)).unwrap_or_else(|| "events".to_string());
        match cqlhunt::sql::to_clickhouse(&ir, &table) {
            Ok(sql) => queries.push((format!("line {}: {}", n + 1, v["path"]), q, sql)),
            Err(e) if e.starts_with("no ClickHouse translation for") => {
                let what = e.trim_start_matches("no ClickHouse translation for ").chars().take(40).collect();
                *not_translated.entry(what).or_default() += 1;
            }
            Err(e) => failures.push(format!("line {}: {}: {e}\n  query: {q}", n + 1, v["path"])),
        }
    }
    let mut by_count: Vec<(usize, String)> = not_translated.into_iter().map(|(w, n)| (n, w)).collect();
    by_count.sort_by(|a, b| b.cmp(a));
    eprintln!(
        "{} of {total} corpus queries that cqlhunt runs translate; the others, most common reason first: {by_count:?}",
        queries.len()
    );
    assert!(total > 800 && queries.len() > 400, "{} of {total}", queries.len());
    assert!(failures.is_empty(), "{} fail:\n{}", failures.len(), failures.join("\n\n"));
    let Some(ch) = ch else { return };
    // One table of generated events with a column for every field any query reads.
    let data = cqlhunt(&["gen", "--events", "3000", "--seed", "5", "--hosts", "30"]);
    let tmp = std::env::temp_dir().join(format!("cqlhunt-corpus-{}.ndjson", std::process::id()));
    std::fs::write(&tmp, data).expect("write");
    let exported = cqlhunt(&["run", "-q", "-e", "*", "-o", "ndjson", &tmp.to_string_lossy()]);
    let _ = std::fs::remove_file(&tmp);
    let lines: Vec<String> = exported.lines().map(str::to_string).collect();
    let reads: Vec<String> = queries.iter().flat_map(|(_, _, s)| s.inputs.clone()).collect();
    ch.load("events", &lines, &reads);
    let events: Vec<cqlhunt::event::Event> = lines
        .iter()
        .map(|l| cqlhunt::event::Event::from_json(&serde_json::from_str(l).expect("an event")).expect("an object"))
        .collect();
    let (mut compared, mut with_rows) = (0, 0);
    for (name, q, sql) in &queries {
        let got = match ch.query(&format!("{} FORMAT JSONEachRow", sql.text), None) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}\n  query: {q}\n  ClickHouse: {}", e.trim()));
                continue;
            }
        };
        let ctx = cqlhunt::eval::Ctx { now_ms: 1_751_600_000_000.0, ..Default::default() };
        let (want, warnings) = match cqlhunt::eval::run_query(q, false, &[], events.clone(), ctx) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: cqlhunt fails over the events: {e}"));
                continue;
            }
        };
        // Rows a limit cut (with a warning, or as many as an explicit `LIMIT`): which of those
        // that tie are kept depends on the input's order.
        if !warnings.is_empty() || sql.text.contains(&format!("LIMIT {}", want.len())) {
            continue;
        }
        compared += 1;
        with_rows += usize::from(!want.is_empty());
        let want: Vec<String> = want.iter().map(|r| r.to_json(&[])).collect();
        let want: Vec<String> = match sql.events {
            false => want,
            true => want.iter().map(|l| only(l, &sql.outputs)).collect(),
        };
        let (got, want) = (rows(&got), rows(&want.join("\n")));
        if got != want {
            let cut = |v: &Vec<String>| v.iter().take(3).cloned().collect::<Vec<_>>();
            failures.push(format!(
                "{name}\n  query: {q}\n  want ({}): {:?}\n  got ({}): {:?}",
                want.len(),
                cut(&want),
                got.len(),
                cut(&got)
            ));
        }
    }
    eprintln!("{compared} compared over generated events, {with_rows} of them with rows");
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n\n"));
    assert!(compared > 300 && with_rows > 50, "{compared} compared, {with_rows} with rows");
}
