//! Falcon telemetry as NDJSON: FDR (flat objects, every value a string) and NG-SIEM exports.
//! Adds what LogScale's Falcon ingest adds (telemetry.md §A.1, §A.7): the tags
//! `#event_simpleName` and `#repo`, `@timestamp` (ms) from `timestamp`, `@rawstring`, and,
//! when absent, `FileName`/`FilePath` from `ImageFileName` (process events) or
//! `TargetFileName` (file events); `ComputerName` from an aidmaster table by `aid`.

use super::{event_from, flatten_json, Problem};
use crate::event::{parse_num, Event, Value};
use std::collections::HashMap;

/// Reader options.
#[derive(Debug, Clone, Default)]
pub struct FalconOptions {
    /// aid → ComputerName (from `--aidmaster`).
    pub aidmaster: HashMap<String, String>,
}

/// Parse one NDJSON line into an event, or say why it is not one.
pub fn parse_line(line: &[u8], opts: &FalconOptions) -> Result<Event, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8 at byte offset {}", e.valid_up_to()))?;
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(_) = &v else {
        return Err("not a JSON object".to_string());
    };
    let mut flat = Vec::with_capacity(64);
    flatten_json("", &v, &mut flat);
    let mut ev = event_from(flat);
    normalise(&mut ev, Some(text), opts);
    Ok(ev)
}

/// Add LogScale's ingest fields to a Falcon event (`@rawstring` only when `raw` is given: a
/// projection that does not read it leaves it out).
pub fn normalise(ev: &mut Event, raw: Option<&str>, opts: &FalconOptions) {
    if !ev.has("#event_simpleName") {
        if let Some(n) = ev.get("event_simpleName").cloned() {
            ev.push("#event_simpleName", n);
        }
    }
    if !ev.has("#repo") {
        ev.push("#repo", Value::Str("base_sensor".to_string()));
    }
    if !ev.has("@timestamp") {
        if let Some(ms) = ev.get_str("timestamp").and_then(|t| timestamp_ms(&t)) {
            ev.push("@timestamp", Value::Num(ms));
        }
    } else if let Some(ms) = ev.get_str("@timestamp").and_then(|t| timestamp_ms(&t)) {
        ev.set("@timestamp", Value::Num(ms));
    }
    if !ev.has("FileName") {
        let name = ev.get_str("event_simpleName").map(|s| s.into_owned()).unwrap_or_default();
        let src = if ev.has("ImageFileName") {
            ev.get_str("ImageFileName").map(|s| s.into_owned())
        } else if is_file_event(&name) {
            ev.get_str("TargetFileName").map(|s| s.into_owned())
        } else {
            None
        };
        if let Some(path) = src {
            let (dir, base) = split_path(&path);
            ev.push("FileName", Value::Str(base.to_string()));
            if !ev.has("FilePath") {
                ev.push("FilePath", Value::Str(dir.to_string()));
            }
        }
    }
    if !ev.has("ComputerName") && !opts.aidmaster.is_empty() {
        if let Some(cn) = ev.get_str("aid").and_then(|a| opts.aidmaster.get(a.as_ref()).cloned()) {
            ev.push("ComputerName", Value::Str(cn));
        }
    }
    if let Some(raw) = raw {
        if !ev.has("@rawstring") {
            ev.push("@rawstring", Value::Str(raw.to_string()));
        }
    }
}

/// File events whose `FileName` is the written file's: `*Written`, `*Renamed`, `File*Info`,
/// `DirectoryCreate` (telemetry.md §A.5).
pub fn is_file_event(name: &str) -> bool {
    name.ends_with("Written") || name.ends_with("Renamed") || name.starts_with("File") || name == "DirectoryCreate"
}

/// `\Device\HarddiskVolume3\Windows\cmd.exe` → (`\Device\HarddiskVolume3\Windows\`, `cmd.exe`);
/// the directory keeps its trailing separator (docs/semantics.md).
pub fn split_path(p: &str) -> (&str, &str) {
    match p.rfind(['\\', '/']) {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// `1751536496321` (ms), `1751536496` (s), `1625677504.770` (s with ms) → ms.
pub fn timestamp_ms(t: &str) -> Option<f64> {
    let n = parse_num(t.trim())?;
    let int_digits = t.trim().split('.').next().map_or(0, |s| s.trim_start_matches('-').len());
    Some(if int_digits <= 11 { (n * 1000.0).round() } else { n })
}

/// Load an aidmaster table (FDR's aidmaster CSV with a header, or NDJSON): aid → ComputerName.
pub fn load_aidmaster(text: &str, name: &str) -> Result<HashMap<String, String>, Problem> {
    let mut map = HashMap::new();
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Problem {
                file: name.to_string(),
                line: Some(i as u64 + 1),
                reason: format!("not JSON: {e}"),
            })?;
            if let (Some(a), Some(c)) =
                (v.get("aid").and_then(|x| x.as_str()), v.get("ComputerName").and_then(|x| x.as_str()))
            {
                map.insert(a.to_string(), c.to_string());
            }
        }
    } else {
        let mut recs = super::csv_records(text);
        let header = recs.next().unwrap_or_default();
        let ai = header.iter().position(|h| h == "aid");
        let ci = header.iter().position(|h| h == "ComputerName");
        let (Some(ai), Some(ci)) = (ai, ci) else {
            return Err(Problem {
                file: name.to_string(),
                line: Some(1),
                reason: "the header has no `aid` and `ComputerName` columns".to_string(),
            });
        };
        for r in recs {
            if let (Some(a), Some(c)) = (r.get(ai), r.get(ci)) {
                map.insert(a.clone(), c.clone());
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_fields() {
        let line = br#"{"event_simpleName":"ProcessRollup2","aid":"a1","timestamp":"1751536496321","ImageFileName":"\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe"}"#;
        let mut opts = FalconOptions::default();
        opts.aidmaster.insert("a1".into(), "WEB01".into());
        let e = parse_line(line, &opts).unwrap();
        assert_eq!(e.get_str("#event_simpleName").as_deref(), Some("ProcessRollup2"));
        assert_eq!(e.get_str("#repo").as_deref(), Some("base_sensor"));
        assert_eq!(e.get("@timestamp"), Some(&Value::Num(1751536496321.0)));
        assert_eq!(e.get_str("FileName").as_deref(), Some("cmd.exe"));
        assert_eq!(e.get_str("FilePath").as_deref(), Some("\\Device\\HarddiskVolume3\\Windows\\System32\\"));
        assert_eq!(e.get_str("ComputerName").as_deref(), Some("WEB01"));
        assert!(e.get_str("@rawstring").is_some_and(|r| r.starts_with("{\"event_simpleName\"")));
    }

    #[test]
    fn file_events_take_the_written_file() {
        let line = br#"{"event_simpleName":"NewScriptWritten","TargetFileName":"/var/www/html/x.php","ContextBaseFileName":"php-fpm"}"#;
        let e = parse_line(line, &FalconOptions::default()).unwrap();
        assert_eq!(e.get_str("FileName").as_deref(), Some("x.php"));
        assert_eq!(e.get_str("FilePath").as_deref(), Some("/var/www/html/"));
        let reg = br#"{"event_simpleName":"AsepValueUpdate","TargetFileName":"\\x\\a.dll"}"#;
        assert!(parse_line(reg, &FalconOptions::default()).unwrap().get("FileName").is_none());
    }

    #[test]
    fn bad_lines() {
        assert!(parse_line(b"[1,2]", &FalconOptions::default()).unwrap_err().contains("not a JSON object"));
        assert!(parse_line(b"{\"a\":", &FalconOptions::default()).unwrap_err().contains("not JSON"));
        assert!(parse_line(b"{\"a\":\"\xff\"}", &FalconOptions::default()).unwrap_err().contains("UTF-8"));
        assert_eq!(timestamp_ms("1625677504.770"), Some(1625677504770.0));
    }
}
