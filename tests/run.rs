//! `cqlhunt run` end to end: inputs (files, directories, stdin, gzip, zstd), bad records
//! (message, exit code, and the good records around them still processed), outputs, aidmaster.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cqlhunt-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(s) = stdin {
        child.stdin.take().expect("stdin").write_all(s).expect("write");
    }
    drop(child.stdin.take());
    let o = child.wait_with_output().expect("wait");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn line(i: usize, name: &str) -> String {
    format!(
        "{{\"event_simpleName\":\"{name}\",\"aid\":\"a{}\",\"timestamp\":\"17515364{:05}\",\"ImageFileName\":\"\\\\Device\\\\HarddiskVolume3\\\\Windows\\\\System32\\\\cmd.exe\"}}",
        i % 3,
        i
    )
}

fn good_lines(n: usize) -> String {
    (0..n).map(|i| line(i, "ProcessRollup2") + "\n").collect()
}

fn write(p: &Path, bytes: &[u8]) {
    std::fs::write(p, bytes).expect("write");
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gz");
    e.finish().expect("gz")
}

/// Over many blocks, with bad records and blank lines, and cut short: two threads say the same
/// things as one, at the same line numbers, in the same order.
#[test]
fn threads_number_lines_as_one_thread_does() {
    let d = tmpdir("numbering");
    let mut lines: Vec<String> = good_lines(30_000).lines().map(str::to_string).collect();
    for (at, bad) in [(99, "not json"), (12_345, "{\"cut\": "), (20_000, ""), (20_001, "   "), (29_998, "[1]")] {
        lines[at] = bad.to_string();
    }
    let text = lines.join("\n") + "\n";
    assert!(text.len() > 3 << 20, "several blocks");
    let plain = d.join("bad.ndjson");
    write(&plain, text.as_bytes());
    let whole = gz(text.as_bytes());
    let cut = d.join("cut.ndjson.gz");
    write(&cut, &whole[..whole.len() * 2 / 3]);
    for file in [&plain, &cut] {
        let f = file.to_str().unwrap();
        for args in [
            &["run", "-e", "count()", "-o", "ndjson"][..],
            &["detect", "-o", "ndjson"][..],
            &["run", "--strict-input", "-e", "count()"][..],
        ] {
            let one = run(&[args, &["-j", "1", f]].concat(), None);
            let two = run(&[args, &["-j", "2", f]].concat(), None);
            assert_eq!(one, two, "{args:?} {f}");
            if args[0] == "run" && args[1] != "--strict-input" {
                assert!(one.2.contains(":100: not JSON"), "{}", one.2);
            }
        }
    }
    let (_, _, err) = run(&["run", "-j", "2", "-e", "count()", cut.to_str().unwrap()], None);
    assert!(err.contains("input ends early after line "), "{err}");
}

#[test]
fn a_line_that_is_not_a_json_object_is_skipped_and_counted() {
    let d = tmpdir("notjson");
    let f = d.join("e.ndjson");
    let text = format!("{}not json at all\n[1,2,3]\n{}", good_lines(2), good_lines(3));
    write(&f, text.as_bytes());
    let (code, out, err) = run(&["run", "-e", "count()", "-o", "ndjson", f.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "{\"_count\":5}");
    assert!(err.contains("e.ndjson:3: not JSON"), "{err}");
    assert!(err.contains("e.ndjson:4: not a JSON object"), "{err}");
    assert!(err.contains("5 events read, 2 records skipped"), "{err}");
}

#[test]
fn invalid_utf8_is_skipped_and_counted() {
    let d = tmpdir("utf8");
    let f = d.join("e.ndjson");
    let mut bytes = good_lines(1).into_bytes();
    bytes.extend_from_slice(b"{\"event_simpleName\":\"x\xff\xfe\"}\n");
    bytes.extend_from_slice(good_lines(1).as_bytes());
    write(&f, &bytes);
    let (code, out, err) = run(&["run", "-e", "count()", "-o", "ndjson", f.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "{\"_count\":2}");
    assert!(err.contains("e.ndjson:2: invalid UTF-8 at byte offset 22"), "{err}");
    assert!(err.contains("2 events read, 1 records skipped"), "{err}");
}

#[test]
fn a_truncated_gzip_stream_keeps_what_was_read_and_goes_on() {
    let d = tmpdir("trunc");
    let full = gz(good_lines(5000).as_bytes());
    let cut = &full[..full.len() / 2];
    write(&d.join("a-cut.ndjson.gz"), cut);
    write(&d.join("b-whole.ndjson.gz"), &gz(good_lines(10).as_bytes()));
    let (code, out, err) = run(&["run", "-e", "count()", "-o", "ndjson", d.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("a-cut.ndjson.gz: input ends early after line"), "{err}");
    assert!(err.contains("input ended early"), "{err}");
    assert!(err.contains("b-whole.ndjson.gz: 10 events read, 0 records skipped"), "{err}");
    let n: u64 = out.trim().trim_start_matches("{\"_count\":").trim_end_matches('}').parse().expect("count");
    assert!(n > 1000 && n < 5010, "{n}");
}

#[test]
fn strict_input_makes_the_first_bad_record_fatal() {
    let d = tmpdir("strict");
    let f = d.join("e.ndjson");
    write(&f, format!("{}oops\n{}", good_lines(1), good_lines(1)).as_bytes());
    let (code, _, err) = run(&["run", "--strict-input", "-e", "count()", f.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(err.contains("e.ndjson:2: not JSON"), "{err}");
    assert!(err.contains("--strict-input"), "{err}");
    let cut = gz(good_lines(3000).as_bytes());
    let g = d.join("cut.gz");
    write(&g, &cut[..cut.len() / 2]);
    // One thread or two: exit 2, the reason, and no rows.
    for j in ["1", "2"] {
        let (code, out, err) = run(&["run", "-j", j, "--strict-input", "-e", "count()", g.to_str().unwrap()], None);
        assert_eq!(code, 2, "-j {j}: {err}");
        assert!(err.contains("input ends early"), "-j {j}: {err}");
        assert!(out.trim().is_empty(), "-j {j}: {out}");
        let (code, out, err) = run(&["run", "-j", j, "--strict-input", "-e", "count()", f.to_str().unwrap()], None);
        assert_eq!((code, out.trim()), (2, ""), "-j {j}: {err}");
    }
}

#[test]
fn stdin_zstd_and_directories() {
    let text = good_lines(7);
    let (code, out, _) = run(&["run", "-e", "count()", "-o", "ndjson"], Some(text.as_bytes()));
    assert_eq!((code, out.trim()), (0, "{\"_count\":7}"));
    let z = zstd::encode_all(text.as_bytes(), 3).expect("zstd");
    let (code, out, err) = run(&["run", "-e", "count()", "-o", "ndjson", "-"], Some(&z));
    assert_eq!((code, out.trim()), (0, "{\"_count\":7}"), "{err}");
    let d = tmpdir("dirs");
    std::fs::create_dir_all(d.join("sub/deeper")).expect("mkdir");
    write(&d.join("one.log"), text.as_bytes());
    write(&d.join("sub/deeper/two.bin"), &gz(text.as_bytes()));
    let (code, out, err) = run(&["run", "-e", "count()", "-o", "ndjson", d.to_str().unwrap()], None);
    assert_eq!((code, out.trim()), (0, "{\"_count\":14}"), "{err}");
    assert!(err.contains("total: 14 events read, 0 records skipped, 2 files"), "{err}");
}

#[test]
fn outputs_and_ingest_fields() {
    let d = tmpdir("out");
    let f = d.join("e.ndjson");
    write(&f, good_lines(4).as_bytes());
    let am = d.join("aidmaster.csv");
    write(&am, b"aid,ComputerName,AgentVersion\na0,WEB01,7.1\na1,SQL01,7.1\n");
    let q = "groupBy([ComputerName, #event_simpleName, FileName], function=count(aid, as=n)) | sort(n)";
    let args = |fmt: &'static str| {
        vec!["run", "-e", q, "--aidmaster", am.to_str().unwrap(), "-o", fmt, f.to_str().unwrap()]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let a: Vec<String> = args("ndjson");
    let (code, out, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines.contains(
            &"{\"ComputerName\":\"WEB01\",\"#event_simpleName\":\"ProcessRollup2\",\"FileName\":\"cmd.exe\",\"n\":2}"
        ),
        "{out}"
    );
    // aid a2 has no aidmaster row: its group has no ComputerName.
    assert!(lines.contains(&"{\"#event_simpleName\":\"ProcessRollup2\",\"FileName\":\"cmd.exe\",\"n\":1}"), "{out}");
    let a = args("csv");
    let (_, out, _) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert!(out.starts_with("ComputerName,#event_simpleName,FileName,n\n"), "{out}");
    let a = args("json");
    let (_, out, _) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json array");
    assert_eq!(v.as_array().map(Vec::len), Some(3));
    let a = args("table");
    let (_, out, _) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert!(out.contains("ComputerName") && out.ends_with("(3 rows)\n"), "{out}");
    // Events keep every field but @rawstring (unless --rawstring).
    let (_, out, _) = run(&["run", "-e", "head(1)", "-o", "ndjson", f.to_str().unwrap()], None);
    assert!(out.contains("\"@timestamp\":1751536400000") && !out.contains("@rawstring"), "{out}");
    let (_, out, _) = run(&["run", "--rawstring", "-e", "head(1)", "-o", "ndjson", f.to_str().unwrap()], None);
    assert!(out.contains("@rawstring"), "{out}");
}

#[test]
fn query_errors_and_default_limit_warnings() {
    let d = tmpdir("errs");
    let f = d.join("e.ndjson");
    write(&f, good_lines(250).as_bytes());
    let (code, _, err) = run(&["run", "-e", "gropBy(aid)", f.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("E0301"), "{err}");
    let (code, out, err) = run(&["run", "-e", "sort(timestamp)", "-o", "ndjson", f.to_str().unwrap()], None);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 200);
    assert!(err.contains("sort() kept 200 of 250 rows (default limit=200)"), "{err}");
    let (code, _, err) = run(&["run", "-e", "ipLocation(aip)", f.to_str().unwrap()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ipLocation() is not supported yet"), "{err}");
}

#[test]
fn threads_give_the_same_rows_in_the_same_order() {
    let d = tmpdir("threads");
    let f = d.join("e.ndjson");
    // More lines than one chunk (4096), several inputs, a bad record in the middle.
    let mut text = good_lines(9000);
    text.push_str("garbage\n");
    text.push_str(&good_lines(3000));
    write(&f, text.as_bytes());
    write(&d.join("f.ndjson.gz"), &gz(good_lines(5000).as_bytes()));
    for q in [
        "groupBy([aid, FileName], function=[count(), max(timestamp)])",
        "sort(timestamp, limit=25)",
        "head(7)",
        "tail(7)",
        "timestamp > 1751536408990",
        "top(aid)",
        "count(aid, distinct=true)",
    ] {
        let one = run(&["run", "-q", "-j", "1", "-o", "ndjson", "-e", q, d.to_str().unwrap()], None);
        let two = run(&["run", "-q", "-j", "2", "-o", "ndjson", "-e", q, d.to_str().unwrap()], None);
        assert_eq!(one.0, 0, "{q}: {}", one.2);
        assert_eq!(one.1, two.1, "{q}: -j 2 differs");
        assert!(!one.1.is_empty(), "{q}");
    }
    let (_, _, err) = run(&["run", "-j", "2", "-o", "ndjson", "-e", "count()", d.to_str().unwrap()], None);
    assert!(err.contains("e.ndjson:9001: not JSON"), "{err}");
    assert!(err.contains("e.ndjson: 12000 events read, 1 records skipped"), "{err}");
    assert!(err.contains("f.ndjson.gz: 5000 events read, 0 records skipped"), "{err}");
}

#[test]
fn process_tree_enrichment_fills_lineage_and_context() {
    let d = tmpdir("tree");
    let f = d.join("e.ndjson");
    let lines = [
        r#"{"event_simpleName":"ProcessRollup2","aid":"h1","TargetProcessId":"10","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\inetsrv\\w3wp.exe"}"#,
        r#"{"event_simpleName":"ProcessRollup2","aid":"h1","TargetProcessId":"11","ParentProcessId":"10","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami"}"#,
        r#"{"event_simpleName":"ProcessRollup2","aid":"h1","TargetProcessId":"12","ParentProcessId":"11","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\whoami.exe"}"#,
        r#"{"event_simpleName":"NewScriptWritten","aid":"h1","ContextProcessId":"10","TargetFileName":"\\Device\\HarddiskVolume3\\inetpub\\wwwroot\\x.aspx"}"#,
        r#"{"event_simpleName":"NewScriptWritten","aid":"h2","ContextProcessId":"10","TargetFileName":"\\Device\\HarddiskVolume3\\inetpub\\wwwroot\\y.aspx"}"#,
    ];
    write(&f, (lines.join("\n") + "\n").as_bytes());
    let q = "groupBy([FileName, ParentBaseFileName, GrandParentBaseFileName, ContextBaseFileName], limit=max)";
    let (code, out, err) = run(&["run", "-q", "-o", "ndjson", "-e", q, f.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#"{"FileName":"cmd.exe","ParentBaseFileName":"w3wp.exe","_count":1}"#), "{out}");
    assert!(out.contains(r#"{"FileName":"whoami.exe","ParentBaseFileName":"cmd.exe","GrandParentBaseFileName":"w3wp.exe","_count":1}"#), "{out}");
    assert!(out.contains(r#"{"FileName":"x.aspx","ContextBaseFileName":"w3wp.exe","_count":1}"#), "{out}");
    // Another host's process ids are not this host's.
    assert!(out.contains(r#"{"FileName":"y.aspx","_count":1}"#), "{out}");
    let (_, out, _) = run(&["run", "-q", "--no-enrich", "-o", "ndjson", "-e", q, f.to_str().unwrap()], None);
    assert!(!out.contains("ParentBaseFileName") && !out.contains("ContextBaseFileName"), "{out}");
    // -j 2 reads in order when enrichment matters: same rows.
    let (_, two, _) = run(&["run", "-q", "-j", "2", "-o", "ndjson", "-e", q, f.to_str().unwrap()], None);
    let (_, one, _) = run(&["run", "-q", "-j", "1", "-o", "ndjson", "-e", q, f.to_str().unwrap()], None);
    assert_eq!(one, two);
}

/// With threads, a line that may pass only through the lineage fields it lacks is decided
/// in input order, where the process tree is (the workers do not have it): the same rows,
/// counts and warnings as one thread, and a broken such line is reported once.
#[test]
fn lines_only_the_tree_can_decide_are_decided_in_order() {
    let d = tmpdir("defer");
    let f = d.join("e.ndjson");
    let mut text = String::new();
    let proc = |host: u32, id: u32, parent: u32, image: &str| {
        format!(
            r#"{{"event_simpleName":"ProcessRollup2","aid":"h{host}","TargetProcessId":"{id}","ParentProcessId":"{parent}","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\{image}"}}"#
        )
    };
    for i in 0..3000u32 {
        // Web server -> shell -> recon on some hosts, explorer -> shell -> recon on others.
        let top = if i % 3 == 0 { r"inetsrv\\w3wp.exe" } else { "explorer.exe" };
        let (h, id) = (i % 7, i * 10);
        text += &(proc(h, id, 1, top) + "\n");
        text += &(proc(h, id + 1, id, r"System32\\cmd.exe") + "\n");
        text += &(proc(h, id + 2, id + 1, r"System32\\whoami.exe") + "\n");
    }
    // A broken line the probe cannot reject (its grandparent is unknown to a worker).
    text += r#"{"event_simpleName":"ProcessRollup2","aid":"h0","TargetProcessId":"5","ParentProcessId":"1","FileName":"whoami.exe" "ParentBaseFileName":"cmd.exe"}"#;
    text += "\n";
    write(&f, text.as_bytes());
    let q = "#event_simpleName=ProcessRollup2 | GrandParentBaseFileName=w3wp.exe | ParentBaseFileName=cmd.exe \
             | FileName=whoami.exe | groupBy([aid], function=count())";
    let go = |j: &str, strict: bool| {
        let mut args = vec!["run", "-j", j, "-o", "ndjson", "-e", q, f.to_str().unwrap()];
        if strict {
            args.insert(1, "--strict-input");
        }
        run(&args, None)
    };
    let one = go("1", false);
    let two = go("2", false);
    assert_eq!(one.0, 0, "{}", one.2);
    assert_eq!(one.1, two.1);
    // 1,000 web server chains over 7 hosts.
    let counts: Vec<u32> =
        one.1.lines().map(|l| l.rsplit(':').next().unwrap().trim_end_matches('}').parse().expect("a count")).collect();
    assert_eq!((counts.len(), counts.iter().sum::<u32>()), (7, 1000), "{}", one.1);
    for err in [&one.2, &two.2] {
        assert!(err.contains("9000 events read, 1 records skipped"), "{err}");
        assert_eq!(err.matches(":9001: not JSON").count(), 1, "{err}");
    }
    assert_eq!(one.2, two.2);
    let (c1, c2) = (go("1", true), go("2", true));
    assert_eq!((c1.0, c2.0), (2, 2), "{}\n{}", c1.2, c2.2);
    assert!(c2.2.contains(":9001:") && c2.1.is_empty(), "{}", c2.2);
}

#[test]
fn joins_read_the_input_twice_even_from_stdin() {
    let d = tmpdir("join");
    let f = d.join("e.ndjson");
    let lines = [
        r#"{"event_simpleName":"ProcessRollup2","aid":"h1","TargetProcessId":"10","ImageFileName":"\\x\\w3wp.exe"}"#,
        r#"{"event_simpleName":"NewScriptWritten","aid":"h1","ContextProcessId":"10","TargetFileName":"\\inetpub\\wwwroot\\a.aspx"}"#,
        r#"{"event_simpleName":"NewScriptWritten","aid":"h1","ContextProcessId":"99","TargetFileName":"\\inetpub\\wwwroot\\b.aspx"}"#,
        "not json",
    ];
    let text = lines.join("\n") + "\n";
    write(&f, text.as_bytes());
    let q = "#event_simpleName=NewScriptWritten | join({#event_simpleName=ProcessRollup2}, field=[aid, ContextProcessId], key=[aid, TargetProcessId], include=[ImageFileName]) | table([FileName, ImageFileName])";
    let (code, out, err) = run(&["run", "-o", "ndjson", "--no-enrich", "-e", q, f.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"{"FileName":"a.aspx","ImageFileName":"\\x\\w3wp.exe"}"#);
    // The bad record is reported once, not once per pass.
    assert_eq!(err.matches("not JSON").count(), 1, "{err}");
    let (code, out2, err) = run(&["run", "-o", "ndjson", "--no-enrich", "-e", q], Some(text.as_bytes()));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out2, out);
}

#[test]
fn format_overrides_recognition() {
    let d = tmpdir("format");
    let f = d.join("e.log");
    write(&f, good_lines(3).as_bytes());
    // Read as JSON (recognised): 3 events; forced as XML: no <Event> element, no events. The
    // same on two threads (their line workers once read a file forced as XML as JSON lines).
    for j in ["1", "2"] {
        let (_, out, _) = run(&["run", "-q", "-j", j, "-o", "ndjson", "-e", "count()", f.to_str().unwrap()], None);
        assert_eq!(out.trim(), "{\"_count\":3}", "-j {j}");
        let (_, out, _) =
            run(&["run", "-q", "-j", j, "--format", "xml", "-o", "ndjson", "-e", "count()", f.to_str().unwrap()], None);
        assert_eq!(out.trim(), "{\"_count\":0}", "-j {j}");
    }
    let (code, _, err) =
        run(&["run", "--format", "auditd", "-o", "ndjson", "-e", "count()", f.to_str().unwrap()], None);
    assert_eq!(code, 0);
    assert!(err.contains("not an audit record"), "{err}");
    // Forced JSON lets standard input run on two threads.
    let (code, out, err) = run(
        &["run", "-q", "--format", "json", "-j", "2", "-o", "ndjson", "-e", "count()"],
        Some(good_lines(9000).as_bytes()),
    );
    assert_eq!((code, out.trim()), (0, "{\"_count\":9000}"), "{err}");
}

#[test]
fn standard_input_is_recognised_without_losing_bytes() {
    // NDJSON on stdin runs on two threads; gzip'd too; XML on stdin falls back to one thread.
    let text = good_lines(9000);
    let (code, out, err) = run(&["run", "-q", "-j", "2", "-o", "ndjson", "-e", "count()"], Some(text.as_bytes()));
    assert_eq!((code, out.trim()), (0, "{\"_count\":9000}"), "{err}");
    let (code, out, err) = run(&["run", "-q", "-j", "2", "-o", "ndjson", "-e", "count()"], Some(&gz(text.as_bytes())));
    assert_eq!((code, out.trim()), (0, "{\"_count\":9000}"), "{err}");
    let xml = "<Events><Event><System><Provider Name=\"Microsoft-Windows-Sysmon\"/><EventID>1</EventID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>H</Computer></System><EventData><Data Name=\"Image\">C:\\\\x\\\\cmd.exe</Data></EventData></Event></Events>";
    let (code, out, err) =
        run(&["run", "-q", "-j", "2", "-o", "ndjson", "-e", "FileName=cmd.exe | count()"], Some(xml.as_bytes()));
    assert_eq!((code, out.trim()), (0, "{\"_count\":1}"), "{err}");
}
