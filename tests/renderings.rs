//! A record gives the same event whether it is read from its EVTX, its XML or its JSON
//! rendering (the XML and JSON that `evtx_dump` writes, produced here with the same `evtx`
//! crate): a detection returns the same rows from all three.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed/seed.cql");
const EVTX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/EVTX-ATTACK-SAMPLES");

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "evtx") {
            out.push(p);
        }
    }
}

/// Every EVTX file of the two corpus folders that hold them.
fn files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(Path::new(EVTX), &mut out);
    walk(&Path::new(EVTX).join("../EVTX-to-MITRE-Attack"), &mut out);
    out.sort();
    assert!(out.len() >= 10, "{out:?}");
    out
}

fn render(src: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let mut parser = evtx::EvtxParser::from_path(src).expect("evtx");
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Events>\n");
    for r in parser.records().flatten() {
        let body = r.data.trim_start_matches(|c| c != '<');
        let body = body.strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>").unwrap_or(body);
        xml.push_str(body.trim());
        xml.push('\n');
    }
    xml.push_str("</Events>\n");
    let mut parser = evtx::EvtxParser::from_path(src).expect("evtx");
    let mut json = String::new();
    for r in parser.records_json_value().flatten() {
        json.push_str(&r.data.to_string());
        json.push('\n');
    }
    let (x, j) = (dir.join(format!("{stem}.xml")), dir.join(format!("{stem}.jsonl")));
    std::fs::write(&x, xml).expect("write xml");
    std::fs::write(&j, json).expect("write json");
    (x, j)
}

fn run(query: &[&str], input: &Path) -> String {
    let mut args = vec!["run", "-q", "-o", "ndjson"];
    args.extend_from_slice(query);
    let input = input.to_string_lossy().into_owned();
    args.push(&input);
    let out = Command::new(BIN).args(&args).output().expect("run");
    assert!(out.status.success(), "{input}: {}", String::from_utf8_lossy(&out.stderr));
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    lines.join("\n")
}

#[test]
fn evtx_xml_and_json_give_the_same_rows() {
    let dir = std::env::temp_dir().join(format!("cqlhunt-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let everything = "groupBy([#event_simpleName, EventID, ComputerName, aid, FileName, ParentBaseFileName, CommandLine, TargetFileName, RegObjectName, RegValueName, ContextBaseFileName, ConfigOption, ConfigNewValue, CmdletName, CmdletParameters, @timestamp], limit=max)";
    let mut compared = 0;
    for f in files() {
        let (xml, json) = render(&f, &dir);
        let seed = ["--lenient", "-f", SEED];
        let all = ["-e", everything];
        for q in [&seed[..], &all[..]] {
            let a = run(q, &f);
            assert_eq!(a, run(q, &xml), "{}: EVTX and XML differ", f.display());
            assert_eq!(a, run(q, &json), "{}: EVTX and JSON differ", f.display());
            if !a.is_empty() {
                compared += 1;
            }
        }
    }
    assert!(compared >= 10, "{compared}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The EVTX reader's light JSON tree gives, record for record, the event the general JSON
/// reader gives, over every corpus EVTX file, and over edge shapes written here.
#[test]
fn the_light_tree_agrees_with_the_general_reader() {
    let mut n = 0;
    for f in files() {
        let Ok(mut parser) = evtx::EvtxParser::from_path(&f) else { continue };
        for rec in parser.records_json().flatten() {
            let fast = cqlhunt::read::json::windows_json(rec.data.clone());
            let general = cqlhunt::read::json::windows_json_general(rec.data.clone());
            assert_eq!(fast, general, "{} record {}", f.display(), rec.event_record_id);
            n += 1;
        }
    }
    assert!(n > 250, "only {n} records");
    for text in [
        r##"{"Event":{"System":{"EventID":1,"EventID":2,"Computer":"a"},"EventData":{"Data":{"#text":["x","y"]},"Image":null}}}"##,
        r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"P","Name":"Q"}}},"EventData":{"Data":"one","Data":["a","b"]}}}"##,
        r##"{"Event":{"System":{"TimeCreated":{"#attributes":{"SystemTime":"2021-04-13T21:56:36.1888803Z"}}},"UserData":{"Inner":{"A":"1","#attributes":{}},"Other":{"B":"2"}}}}"##,
        r##"{"Event":{"System":{"Level":4.5,"Task":true,"Keywords":{"#text":"0x8"}},"EventData":{"A":"\u00e9\"q"}}}"##,
        r##"{"Event":{"System":{}},"Event":{"System":{"EventID":7}}}"##,
        r##"{"Event":{"System":{"EventID":3}},"event_simpleName":"X"}"##,
    ] {
        let fast = cqlhunt::read::json::windows_json(text.to_string());
        let general = cqlhunt::read::json::windows_json_general(text.to_string());
        assert_eq!(fast, general, "{text}");
    }
}

/// The EVTX reader's BinXML reading (no text rendered) gives, record for record, the event the
/// JSON rendering gives (less `@rawstring`), over every corpus EVTX file; the records it leaves
/// to the JSON rendering are few.
#[test]
fn the_binxml_reading_agrees_with_the_json_reading() {
    use cqlhunt::read::binxml::Decoder;
    let settings = std::sync::Arc::new(evtx::ParserSettings::new().indent(false));
    let (mut direct, mut total) = (0, 0);
    let mut diffs = Vec::new();
    for f in files() {
        let Ok(mut parser) = evtx::EvtxParser::from_path(&f) else { continue };
        let mut dec = Decoder::default();
        for chunk in parser.chunks() {
            let Ok(mut data) = chunk else { continue };
            let Ok(mut chunk) = data.parse(settings.clone()) else { continue };
            dec.clear();
            let bytes = chunk.data;
            for rec in chunk.iter().flatten() {
                total += 1;
                let fast = dec.record(bytes, rec.binxml_offset as usize, rec.binxml_size as usize);
                let id = rec.event_record_id;
                let json = rec.into_json().expect("JSON rendering");
                let mut want = cqlhunt::read::json::windows_json(json.data).expect("JSON reading");
                want.remove("@rawstring");
                if let Some(ev) = fast {
                    direct += 1;
                    if ev != want && diffs.len() < 5 {
                        diffs.push(format!("{} record {id}:\n binxml {ev:?}\n json   {want:?}", f.display()));
                    }
                }
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // Every record of the corpus is one this reader reads.
    assert!(total > 250 && direct == total, "{direct} of {total} read from their BinXML");
}

/// The EVTX reader gives the same events, in the same order, straight from the BinXML (on one
/// and on two threads) as through the JSON rendering.
#[test]
fn the_evtx_reader_gives_the_same_events_either_way() {
    let read = |f: &Path, threads: usize, raw: bool| {
        let mut evs = Vec::new();
        let mut problems = 0;
        let maps = cqlhunt::read::mapping::Mappings::default();
        let opts = cqlhunt::read::evtx::Options { threads, raw, keep: None, maps: &maps };
        cqlhunt::read::evtx::read(
            f,
            "f",
            opts,
            &mut |mut ev| {
                ev.remove("@rawstring");
                evs.push(ev);
                true
            },
            &mut |_| problems += 1,
        )
        .expect("read");
        (evs, problems)
    };
    let mut n = 0;
    for f in files() {
        let want = read(&f, 1, true);
        n += want.0.len();
        assert_eq!(read(&f, 1, false), want, "{}", f.display());
        assert_eq!(read(&f, 2, false), want, "{}", f.display());
    }
    assert!(n > 250, "{n}");
}
