//! Broken Windows inputs: a corrupted EVTX chunk and a truncated XML document each give a
//! warning naming the file and the record or chunk, and the other records are still read.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");
const SRC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/EVTX-ATTACK-SAMPLES/Credential Access/discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx"
);

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cqlhunt-badwin-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    d.join(name)
}

fn count(path: &Path) -> (u64, String, i32) {
    let out =
        Command::new(BIN).args(["run", "-o", "ndjson", "-e", "count()", path.to_str().unwrap()]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let n = text.trim().trim_start_matches("{\"_count\":").trim_end_matches('}').parse().unwrap_or(0);
    (n, String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code().unwrap_or(-1))
}

#[test]
fn a_corrupted_evtx_chunk_costs_only_its_records() {
    let bytes = std::fs::read(SRC).expect("corpus evtx");
    let chunks = (bytes.len() - 0x1000) / 0x10000;
    assert!(chunks >= 3, "{chunks}");
    let (whole, _, _) = count(Path::new(SRC));
    // Overwrite the second chunk's header and records with garbage.
    let mut bad = bytes.clone();
    let at = 0x1000 + 0x10000;
    for b in &mut bad[at..at + 0x10000] {
        *b = 0xAB;
    }
    let p = tmp("corrupt.evtx");
    std::fs::write(&p, &bad).expect("write");
    let (n, err, code) = count(&p);
    assert_eq!(code, 0, "{err}");
    assert!(n > 0 && n < whole, "{n} of {whole}");
    assert!(err.contains("corrupt.evtx") && err.contains("EVTX"), "{err}");
    assert!(err.contains("records skipped"), "{err}");
}

#[test]
fn a_truncated_xml_document_keeps_the_records_before_the_cut() {
    let ev = |i: u32| {
        format!(
            "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Sysmon\"/><EventID>1</EventID><EventRecordID>{i}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WEB01</Computer></System><EventData><Data Name=\"Image\">C:\\Windows\\System32\\cmd.exe</Data><Data Name=\"ParentImage\">C:\\Windows\\System32\\inetsrv\\w3wp.exe</Data></EventData></Event>"
        )
    };
    let mut doc = String::from("<Events>\n");
    for i in 1..=3 {
        doc.push_str(&ev(i));
        doc.push('\n');
    }
    // A record with broken XML in the middle, and the document cut inside the last one.
    doc.push_str("<Event><System><EventID>1</EventID></Sys></Event>\n");
    doc.push_str(&ev(5));
    doc.push('\n');
    let last = ev(6);
    doc.push_str(&last[..last.len() / 2]);
    let p = tmp("cut.xml");
    std::fs::write(&p, doc).expect("write");
    let (n, err, code) = count(&p);
    assert_eq!(code, 0, "{err}");
    assert_eq!(n, 4, "{err}");
    assert!(err.contains("cut.xml: record 4 (byte offset"), "{err}");
    assert!(err.contains("cut.xml: record 6 (byte offset") && err.contains("not closed"), "{err}");
    assert!(err.contains("4 events read, 2 records skipped"), "{err}");
}
