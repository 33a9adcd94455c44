//! The fast paths of Falcon NDJSON change nothing: dropping lines before parsing them (the
//! probe of the query's leading filters on raw field values) and keeping only the fields a
//! query reads (projection) give the same rows as parsing every line whole, for the seed, every
//! rule of the pack, and queries written to trip them, on generated telemetry with planted
//! attacks plus lines that take the slow paths (escapes, `\u`, nested values, duplicates,
//! numbers, braces in strings).

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Tricky lines, each a variant of an event some rule or query looks for.
const TRICKY: &[&str] = &[
    // A web shell child whose parent name is spelled with a \u escape.
    r#"{"event_simpleName":"ProcessRollup2","aid":"t1","ComputerName":"TRICK-1","timestamp":"1751556762000","TargetProcessId":"901","ParentProcessId":"900","ParentBaseFileName":"w3wp\u002eexe","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe","FileName":"cmd.exe","CommandLine":"cmd /c whoami"}"#,
    // The key itself escaped: a search for its plain text misses it.
    r#"{"event_simpleName":"ProcessRollup2","aid":"t1","ComputerName":"TRICK-1","timestamp":"1751556762001","TargetProcessId":"902","ParentProcessId":"900","Parent\u0042aseFileName":"w3wp.exe","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\whoami.exe","FileName":"whoami.exe","CommandLine":"whoami"}"#,
    // Duplicate keys: the first wins.
    r#"{"event_simpleName":"ProcessRollup2","aid":"t1","ComputerName":"TRICK-1","timestamp":"1751556762002","TargetProcessId":"903","ParentProcessId":"900","ParentBaseFileName":"w3wp.exe","ParentBaseFileName":"explorer.exe","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\net.exe","FileName":"net.exe","CommandLine":"net user"}"#,
    r#"{"event_simpleName":"ProcessRollup2","aid":"t1","ComputerName":"TRICK-1","timestamp":"1751556762003","TargetProcessId":"904","ParentProcessId":"900","ParentBaseFileName":"explorer.exe","ParentBaseFileName":"w3wp.exe","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\net.exe","FileName":"net.exe","CommandLine":"net user"}"#,
    // The key named inside another value.
    r#"{"event_simpleName":"ProcessRollup2","aid":"t1","ComputerName":"TRICK-1","timestamp":"1751556762004","CommandLine":"x \"ParentBaseFileName\":\"w3wp.exe\"","TargetProcessId":"905","ParentProcessId":"900","ParentBaseFileName":"svchost.exe","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe","FileName":"cmd.exe"}"#,
    // A nested value (flattened by the general path), braces and brackets in strings.
    r#"{"event_simpleName":"ProcessRollup2","aid":"t1","ComputerName":"TRICK-1","timestamp":"1751556762005","Parent":{"BaseFileName":"w3wp.exe"},"ParentBaseFileName":"w3wp.exe","TargetProcessId":"906","ParentProcessId":"900","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe","FileName":"cmd.exe","CommandLine":"cmd /c {x} [y]"}"#,
    // A number where a string is usual; spaces around the punctuation.
    r#"{ "event_simpleName" : "ProcessRollup2" , "aid" : "t1" , "ComputerName" : "TRICK-1" , "timestamp" : 1751556762006 , "TargetProcessId" : 907 , "ParentProcessId" : "900" , "ParentBaseFileName" : "w3wp.exe" , "ImageFileName" : "\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe" }"#,
    // A process without its parent's name: lineage fills it from the parent's event.
    r#"{"event_simpleName":"ProcessRollup2","aid":"t2","ComputerName":"TRICK-2","timestamp":"1751556762100","TargetProcessId":"1000","ParentProcessId":"999","ParentBaseFileName":"svchost.exe","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\inetsrv\\w3wp.exe","FileName":"w3wp.exe","CommandLine":"w3wp.exe -ap DefaultAppPool"}"#,
    r#"{"event_simpleName":"ProcessRollup2","aid":"t2","ComputerName":"TRICK-2","timestamp":"1751556762101","TargetProcessId":"1001","ParentProcessId":"1000","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe","FileName":"cmd.exe","CommandLine":"cmd /c whoami"}"#,
    r#"{"event_simpleName":"NewScriptWritten","aid":"t2","ComputerName":"TRICK-2","timestamp":"1751556762102","ContextProcessId":"1001","TargetFileName":"\\Device\\HarddiskVolume3\\inetpub\\wwwroot\\x.aspx"}"#,
    // A file event whose name comes from TargetFileName (no FileName).
    r#"{"event_simpleName":"NewScriptWritten","aid":"t2","ComputerName":"TRICK-2","timestamp":"1751556762103","TargetFileName":"\\Device\\HarddiskVolume3\\inetpub\\wwwroot\\y.aspx","ContextProcessId":"1000"}"#,
    // A registry event with an escaped quote in its value.
    r#"{"event_simpleName":"RegGenericValueUpdate","aid":"t2","ComputerName":"TRICK-2","timestamp":"1751556762104","RegObjectName":"\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\InetStp\\x","RegStringValue":"C:\\m \"q\".dll","ContextProcessId":"1000"}"#,
    // Not JSON, and not an object: counted as bad records either way.
    r#"{"event_simpleName":"ProcessRollup2","aid":"t1","#,
    r#"["ProcessRollup2"]"#,
];

fn generated() -> String {
    let out =
        Command::new(BIN).args(["gen", "--events", "30000", "--seed", "7", "--hosts", "20"]).output().expect("gen");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")
}

fn data(dir: &Path) -> PathBuf {
    let mut text = generated();
    for t in TRICKY {
        text.push_str(t);
        text.push('\n');
    }
    let p = dir.join("events.ndjson");
    std::fs::write(&p, text).expect("write");
    p
}

/// Without the tricky lines, every process event names its parent: the run without the
/// process tree stands (and must give what the run with it gives); a bad record is reported
/// once, whether the first run stands or is done again.
#[test]
fn a_run_without_lineage_stands_only_when_nothing_lacks_it() {
    let dir = std::env::temp_dir().join(format!("cqlhunt-speculate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut text = generated();
    text.push_str("{\"event_simpleName\":\"ProcessRollup2\",\"aid\":\n");
    let complete = dir.join("complete.ndjson");
    std::fs::write(&complete, &text).expect("write");
    // The same, and a process event without its parent's name (lineage can fill it).
    text.push_str(TRICKY[7]);
    text.push('\n');
    text.push_str(TRICKY[8]);
    text.push('\n');
    let lacking = dir.join("lacking.ndjson");
    std::fs::write(&lacking, &text).expect("write");
    let seed = root().join("tests/seed/seed.cql");
    let q = dir.join("q.cql");
    std::fs::write(&q, "#event_simpleName=ProcessRollup2 | groupBy([ParentBaseFileName], function=count())")
        .expect("q");
    for file in [&complete, &lacking] {
        for query in [&seed, &q] {
            for extra in [&["-j", "1"][..], &["-j", "2"][..]] {
                let fast = run(query, file, extra, true);
                let slow = run(query, file, extra, false);
                assert_eq!(fast.1, slow.1, "{} {} {extra:?}", file.display(), query.display());
                assert!(!fast.1.trim().is_empty());
                let bad = |e: &str| e.lines().filter(|l| l.contains("not JSON")).count();
                assert_eq!((bad(&fast.2), bad(&slow.2)), (1, 1), "{}\n{}", fast.2, slow.2);
            }
        }
    }
    // The lacking file's extra events count: cmd.exe's parent is named by lineage only.
    let with = run(&q, &lacking, &[], true).1;
    let without = run(&q, &complete, &[], true).1;
    assert_ne!(with, without);
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(query: &Path, data: &Path, extra: &[&str], pushdown: bool) -> (i32, String, String) {
    let rules = root().join("rules/t1505");
    let mut args: Vec<String> = vec!["run".into(), "--lenient".into(), "-o".into(), "ndjson".into()];
    args.extend(["--lookup-dir".into(), rules.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    if !pushdown {
        args.push("--no-pushdown".into());
    }
    args.extend(["-f".into(), query.display().to_string(), data.display().to_string()]);
    let o = Command::new(BIN).args(&args).output().expect("run");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn fast_paths_give_the_same_rows() {
    let dir = std::env::temp_dir().join(format!("cqlhunt-pushdown-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let events = data(&dir);
    let mut queries: Vec<(String, String)> =
        vec![("seed".into(), std::fs::read_to_string(root().join("tests/seed/seed.cql")).expect("seed"))];
    let pack = cqlhunt::pack::load(&root().join("rules/t1505")).expect("pack");
    for r in &pack.rules {
        queries.push((r.id.clone(), r.query.clone()));
    }
    for (i, q) in [
        // Filters on fields that lineage fills, that normalisation derives, or that are absent.
        "#event_simpleName=ProcessRollup2 | ParentBaseFileName=/w3wp/i | groupBy([ComputerName, FileName, GrandParentBaseFileName])",
        "#event_simpleName=/Written$/ | ContextBaseFileName=* | groupBy([ContextBaseFileName, FileName])",
        "#event_simpleName=NewScriptWritten | FileName=/\\.aspx$/ | count(as=n)",
        "#event_simpleName=ProcessRollup2 | NoSuchField!=x | ParentBaseFileName!=svchost.exe | count()",
        "ParentBaseFileName=w3wp.exe | groupBy(FileName)",
        "in(FileName, values=[cmd.exe, whoami.exe, net.exe]) | groupBy([ParentBaseFileName, CommandLine])",
        // Raw events out (no projection), a free-text search, @rawstring, head().
        "#event_simpleName=ProcessRollup2 | ParentBaseFileName=w3wp.exe | sort(@timestamp, order=asc, limit=50)",
        "\"w3wp\" | count()",
        "@rawstring=/whoami/ | groupBy(#event_simpleName)",
        "#event_simpleName=RegGenericValueUpdate | RegStringValue=/\\.dll$/i | head(20)",
        "TargetProcessId=907 | count()",
        // A field regex whose groups assign fields (the probe tests it, then stops), one group
        // named as a real field, and a query after it reading what was assigned.
        "#event_simpleName=NewScriptWritten | TargetFileName=/\\\\(?<FileName>[^\\\\]+\\.aspx)$/i | FileName=/^[a-m]/i | groupBy(FileName)",
        "#event_simpleName=ProcessRollup2 | CommandLine=/(?<Verb>whoami|net |ipconfig)/i | groupBy([Verb, ParentBaseFileName])",
    ]
    .iter()
    .enumerate()
    {
        queries.push((format!("query {i}"), q.to_string()));
    }
    let mut nonempty = 0;
    for (name, q) in &queries {
        let qf = dir.join("q.cql");
        std::fs::write(&qf, q).expect("write query");
        for extra in [&["-j", "1"][..], &["-j", "1", "--no-enrich"][..], &["-j", "2"][..]] {
            let fast = run(&qf, &events, extra, true);
            let slow = run(&qf, &events, extra, false);
            assert_eq!(fast.0, slow.0, "{name} {extra:?}: exit codes differ\n{}\n{}", fast.2, slow.2);
            assert_eq!(fast.1, slow.1, "{name} {extra:?}: rows differ\nquery: {q}");
            // The same records are counted, read and skipped.
            let summary =
                |e: &str| e.lines().filter(|l| l.contains("events read")).map(str::to_string).collect::<Vec<_>>();
            assert_eq!(summary(&fast.2), summary(&slow.2), "{name} {extra:?}: summaries differ");
            if !fast.1.trim().is_empty() && fast.1.trim() != "{\"_count\":0}" {
                nonempty += 1;
            }
        }
    }
    // The comparison means something only if the queries find things.
    assert!(nonempty >= 30, "only {nonempty} runs returned rows");
    // The whole pack in one scan: the same alerts.
    for extra in [&["-j", "1"][..], &["-j", "2"][..]] {
        let detect = |pushdown: bool| {
            let mut args = vec!["detect", "-o", "ndjson"];
            args.extend(extra);
            if !pushdown {
                args.push("--no-pushdown");
            }
            let ev = events.display().to_string();
            let o = Command::new(BIN).args(&args).arg(&ev).output().expect("detect");
            (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
        };
        let (fast, slow) = (detect(true), detect(false));
        assert_eq!(fast, slow, "detect {extra:?}: alerts differ");
        assert!(fast.1.lines().count() >= 5, "detect found only {}", fast.1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Over the corpus's EVTX files, read straight from their BinXML with only the fields a query
/// reads (the fast path) or through their JSON rendering whole (`--no-pushdown`): the seed,
/// every pack rule and `detect` give the same rows.
#[test]
fn evtx_fast_paths_give_the_same_rows() {
    let corpus = root().join("../shared/corpus/EVTX-ATTACK-SAMPLES");
    let dir = std::env::temp_dir().join(format!("cqlhunt-pushdown-evtx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut queries: Vec<(String, String)> =
        vec![("seed".into(), std::fs::read_to_string(root().join("tests/seed/seed.cql")).expect("seed"))];
    let pack = cqlhunt::pack::load(&root().join("rules/t1505")).expect("pack");
    for r in &pack.rules {
        queries.push((r.id.clone(), r.query.clone()));
    }
    queries.push(("fields".into(), "groupBy([#event_simpleName, EventID, Channel, ComputerName, aid, FileName, ParentBaseFileName, GrandParentBaseFileName, CommandLine, ContextBaseFileName, RegObjectName, Data[0], SubjectUserName], limit=max)".into()));
    let mut nonempty = 0;
    for (name, q) in &queries {
        let qf = dir.join("q.cql");
        std::fs::write(&qf, q).expect("write query");
        for extra in [&["-j", "1"][..], &["-j", "2"][..]] {
            let fast = run(&qf, &corpus, extra, true);
            let slow = run(&qf, &corpus, extra, false);
            assert_eq!(fast.0, slow.0, "{name} {extra:?}: exit codes differ\n{}\n{}", fast.2, slow.2);
            assert_eq!(fast.1, slow.1, "{name} {extra:?}: rows differ\nquery: {q}");
            if !fast.1.trim().is_empty() && fast.1.trim() != "{\"_count\":0}" {
                nonempty += 1;
            }
        }
    }
    assert!(nonempty >= 6, "only {nonempty} runs returned rows");
    let detect = |pushdown: bool| {
        let mut args = vec!["detect", "-o", "ndjson"];
        if !pushdown {
            args.push("--no-pushdown");
        }
        let o = Command::new(BIN).args(&args).arg(&corpus).output().expect("detect");
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let fast = detect(true);
    assert_eq!(fast, detect(false), "detect: alerts differ");
    assert!(fast.1.lines().count() >= 3, "detect found only {}", fast.1);
    let _ = std::fs::remove_dir_all(&dir);
}
