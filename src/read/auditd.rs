//! Linux auditd, raw `audit.log`: the records of one event share `msg=audit(TIME:SERIAL)`
//! (SYSCALL, EXECVE, CWD, PATH…, PROCTITLE, EOE). They are grouped into one event with the
//! records' own fields (`pid`, `ppid`, `uid`, `comm`, `exe`, `key`, `syscall`, `a0`…,
//! `cwd`, `PATH[0].name`…, `proctitle`), hex-encoded values decoded, and `EventID` set to
//! `execve`, `create` (a PATH with nametype=CREATE) or the syscall; the `auditd` mapping table
//! then adds the Falcon fields.

use super::Problem;
use crate::event::{Event, Value};

/// One parsed line: (record type, serial, time in ms, node, fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: String,
    pub serial: String,
    pub time_ms: f64,
    pub node: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// Parse one audit.log line.
pub fn parse_record(line: &str) -> Result<Record, String> {
    let mut rest = line.trim();
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, r2) = r.split_once(' ').ok_or("a `node=` with nothing after it")?;
        node = Some(n.to_string());
        rest = r2.trim_start();
    }
    let r = rest.strip_prefix("type=").ok_or("not an audit record (no `type=`)")?;
    let (kind, r) = r.split_once(' ').ok_or("a record with no `msg=audit(…)`")?;
    let r = r.trim_start().strip_prefix("msg=audit(").ok_or("a record with no `msg=audit(…)`")?;
    let (stamp, r) = r.split_once("):").ok_or("an unclosed `msg=audit(`")?;
    let (time, serial) = stamp.split_once(':').ok_or("`msg=audit(TIME:SERIAL)` without a serial")?;
    let secs: f64 = time.parse().map_err(|_| format!("`{time}` is not a time"))?;
    let mut fields = Vec::new();
    let b = r.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            // A bare word (e.g. the `'` enclosed user message of some records): skip it.
            continue;
        }
        let key = &r[ks..i];
        i += 1;
        let val = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
            let q = b[i];
            let vs = i + 1;
            i = vs;
            while i < b.len() && b[i] != q {
                i += 1;
            }
            let v = r[vs..i.min(b.len())].to_string();
            i += 1;
            v
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            let raw = &r[vs..i];
            decode_hex_field(kind, key, raw).unwrap_or_else(|| raw.to_string())
        };
        fields.push((key.to_string(), val));
    }
    Ok(Record { kind: kind.to_string(), serial: serial.to_string(), time_ms: (secs * 1000.0).round(), node, fields })
}

/// Unquoted values of these fields are hex (auditd encodes values with spaces or quotes so).
fn decode_hex_field(kind: &str, key: &str, raw: &str) -> Option<String> {
    let hexy = matches!((kind, key), ("PROCTITLE", "proctitle") | ("PATH", "name") | ("CWD", "cwd"))
        || (kind == "EXECVE" && key.starts_with('a') && key[1..].bytes().all(|c| c.is_ascii_digit() || c == b'['));
    if !hexy || raw.len() % 2 != 0 || raw.is_empty() || !raw.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> =
        (0..raw.len()).step_by(2).filter_map(|i| u8::from_str_radix(&raw[i..i + 2], 16).ok()).collect();
    let s = String::from_utf8_lossy(&bytes).into_owned();
    Some(if kind == "PROCTITLE" { s.trim_end_matches('\0').replace('\0', " ") } else { s })
}

/// Groups consecutive records by serial into events.
#[derive(Debug, Default)]
pub struct Grouper {
    cur: Vec<(u64, Record)>,
}

impl Grouper {
    /// Add a record (with its line number); returns a finished group when the serial changes.
    /// `EOE` (end of event) records carry nothing and are dropped.
    pub fn push(&mut self, line: u64, r: Record) -> Option<Vec<(u64, Record)>> {
        if r.kind == "EOE" {
            return None;
        }
        let done = match self.cur.first() {
            Some((_, first)) if first.serial != r.serial => Some(std::mem::take(&mut self.cur)),
            _ => None,
        };
        self.cur.push((line, r));
        done
    }

    /// The last group.
    pub fn finish(&mut self) -> Option<Vec<(u64, Record)>> {
        (!self.cur.is_empty()).then(|| std::mem::take(&mut self.cur))
    }
}

/// Build one event from a group; a group missing the part that gives it meaning (an EXECVE
/// without its SYSCALL) is a problem naming the file and the serial.
/// One AUOMS record (Microsoft's auditd plug-in, as Sentinel's `Syslog` rows carry it): a whole
/// exec on one line, `type=AUOMS_EXECVE audit(TIME:SERIAL): … exe="…" cmdline="…"`. Its
/// `cmdline` is written between quotes without escaping the quotes inside it, so it is taken as
/// everything up to the `"` before the next known field (`redactors=`, `containerid=`) or the
/// end of the record.
pub fn auoms(msg: &str, file: &str) -> Result<Event, String> {
    let mut text = msg.trim().to_string();
    let mut cmdline = None;
    if let Some(start) = text.find(" cmdline=\"") {
        let from = start + " cmdline=\"".len();
        let tail = &text[from..];
        let end = ["\" redactors=", "\" containerid="]
            .iter()
            .filter_map(|m| tail.find(m))
            .min()
            .or_else(|| tail.rfind('"'))
            .unwrap_or(tail.len());
        cmdline = Some(tail[..end].to_string());
        let after = (from + end + 1).min(text.len());
        text = format!("{}{}", &text[..start], &text[after..]);
    }
    let text = text.replacen(" audit(", " msg=audit(", 1);
    let rec = parse_record(&text)?;
    let mut ev = event(vec![(1, rec)], file).map_err(|p| p.reason)?;
    if let Some(c) = cmdline {
        ev.set("cmdline", Value::Str(c));
    }
    Ok(ev)
}

pub fn event(group: Vec<(u64, Record)>, file: &str) -> Result<Event, Problem> {
    let line = group.first().map(|(l, _)| *l);
    let first = &group[0].1;
    let serial = first.serial.clone();
    let has = |k: &str| group.iter().any(|(_, r)| r.kind == k);
    let problem = |reason: String| Problem { file: file.to_string(), line, reason };
    if has("EXECVE") && !has("SYSCALL") {
        return Err(problem(format!(
            "audit event {serial}: an EXECVE record without its SYSCALL record (half of the event is missing)"
        )));
    }
    let mut ev = Event::with_capacity(32);
    ev.set("Channel", Value::Str("auditd".to_string()));
    ev.set("@timestamp", Value::Num(first.time_ms));
    ev.set("audit_serial", Value::Str(serial.clone()));
    if let Some(n) = group.iter().find_map(|(_, r)| r.node.clone()) {
        ev.set("node", Value::Str(n));
    }
    let mut argv: Vec<(usize, String)> = Vec::new();
    let mut paths = 0usize;
    let mut created: Option<String> = None;
    let mut types = Vec::new();
    for (_, r) in &group {
        types.push(r.kind.clone());
        match r.kind.as_str() {
            "EXECVE" => {
                for (k, v) in &r.fields {
                    if let Some(n) = k.strip_prefix('a').and_then(|n| n.parse::<usize>().ok()) {
                        argv.push((n, v.clone()));
                    }
                    ev.set(&format!("EXECVE.{k}"), Value::Str(v.clone()));
                }
            }
            "PATH" => {
                let mut name = None;
                let mut nametype = None;
                for (k, v) in &r.fields {
                    ev.set(&format!("PATH[{paths}].{k}"), Value::Str(v.clone()));
                    match k.as_str() {
                        "name" => name = Some(v.clone()),
                        "nametype" => nametype = Some(v.clone()),
                        _ => {}
                    }
                }
                if nametype.as_deref() == Some("CREATE") {
                    created = name;
                }
                paths += 1;
            }
            _ => {
                for (k, v) in &r.fields {
                    if !ev.has(k) {
                        ev.set(k, Value::Str(v.clone()));
                    }
                }
            }
        }
    }
    ev.set("audit_types", Value::Str(types.join(",")));
    argv.sort_by_key(|(n, _)| *n);
    if !argv.is_empty() {
        let cmd: Vec<String> = argv.into_iter().map(|(_, a)| a).collect();
        ev.set("cmdline", Value::Str(cmd.join(" ")));
    }
    let syscall = ev.get_str("syscall").map(|s| s.into_owned()).unwrap_or_default();
    let id = if has("EXECVE") || matches!(syscall.as_str(), "59" | "322" | "execve" | "execveat") {
        // A failed exec started nothing (dash trying each $PATH entry): not a process event.
        if ev.get_str("success").as_deref() == Some("no") { "execve_failed" } else { "execve" }.to_string()
    } else if let Some(c) = &created {
        ev.set("created", Value::Str(c.clone()));
        "create".to_string()
    } else if !syscall.is_empty() {
        syscall
    } else {
        first.kind.clone()
    };
    ev.set("EventID", Value::Str(id));
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC: &str = r#"type=SYSCALL msg=audit(1751536496.901:84138): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c1a3e2b0 a1=55d0c1a3e330 items=2 ppid=21544 pid=21871 auid=4294967295 uid=33 gid=33 comm="sh" exe="/usr/bin/dash" key="exec"
type=EXECVE msg=audit(1751536496.901:84138): argc=3 a0="/bin/sh" a1="-c" a2="id"
type=CWD msg=audit(1751536496.901:84138): cwd="/"
type=PATH msg=audit(1751536496.901:84138): item=0 name="/bin/sh" inode=1311 nametype=NORMAL
type=PROCTITLE msg=audit(1751536496.901:84138): proctitle=2F62696E2F7368002D63006964"#;

    fn group(text: &str) -> Vec<Vec<(u64, Record)>> {
        let mut g = Grouper::default();
        let mut out = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if let Some(x) = g.push(i as u64 + 1, parse_record(l).unwrap()) {
                out.push(x);
            }
        }
        out.extend(g.finish());
        out
    }

    #[test]
    fn auoms_exec_with_unescaped_quotes_in_its_command_line() {
        let m = r#"type=AUOMS_EXECVE audit(1652292621.990:84143): SchemaVersion="1" node=UBUNTU5 arch=x86_64 syscall=execve syscall_r=59 success=yes exit=0 ppid=1340 pid=17790 user=tomcat uid=1001 comm="bash" exe="/bin/bash" cwd="/" name="/bin/bash" argc=3 cmdline="bash -c "{echo,YmFzaA==}|{base64,-d}|{bash,-i}"" redactors= containerid="#;
        let e = auoms(m, "x").unwrap();
        assert_eq!(e.get_str("EventID").as_deref(), Some("execve"));
        assert_eq!(e.get_str("cmdline").as_deref(), Some(r#"bash -c "{echo,YmFzaA==}|{base64,-d}|{bash,-i}""#));
        assert_eq!(e.get_str("exe").as_deref(), Some("/bin/bash"));
        assert_eq!(e.get_str("ppid").as_deref(), Some("1340"));
        assert_eq!(e.get_str("node").as_deref(), Some("UBUNTU5"));
        let failed = m.replace("success=yes exit=0", "success=no exit=-2");
        assert_eq!(auoms(&failed, "x").unwrap().get_str("EventID").as_deref(), Some("execve_failed"));
        assert!(auoms("type=AUOMS_EXECVE nonsense", "x").is_err());
    }

    #[test]
    fn execve_event() {
        let gs = group(EXEC);
        assert_eq!(gs.len(), 1);
        let e = event(gs.into_iter().next().unwrap(), "audit.log").unwrap();
        assert_eq!(e.get_str("EventID").as_deref(), Some("execve"));
        assert_eq!(e.get_str("cmdline").as_deref(), Some("/bin/sh -c id"));
        assert_eq!(e.get_str("proctitle").as_deref(), Some("/bin/sh -c id"));
        assert_eq!(e.get_str("exe").as_deref(), Some("/usr/bin/dash"));
        assert_eq!(e.get_str("ppid").as_deref(), Some("21544"));
        assert_eq!(e.get("@timestamp"), Some(&Value::Num(1751536496901.0)));
        // The same exec failing (ENOENT while the shell walks $PATH) started no process.
        let failed = EXEC.replace("success=yes exit=0", "success=no exit=-2");
        let recs: Vec<(u64, Record)> =
            failed.lines().enumerate().map(|(i, l)| (i as u64 + 1, parse_record(l).unwrap())).collect();
        let e = event(recs, "a.log").unwrap();
        assert_eq!(e.get_str("EventID").as_deref(), Some("execve_failed"));
    }

    #[test]
    fn hex_arguments_and_missing_halves() {
        let r = parse_record(r#"type=EXECVE msg=audit(1.0:7): argc=2 a0="php" a1=2D7220276563686F20313B27"#).unwrap();
        assert_eq!(r.fields[2], ("a1".to_string(), "-r 'echo 1;'".to_string()));
        let gs =
            group("type=EXECVE msg=audit(1.0:7): argc=1 a0=\"id\"\ntype=PROCTITLE msg=audit(1.0:7): proctitle=6964");
        let err = event(gs.into_iter().next().unwrap(), "a.log").unwrap_err();
        assert!(err.reason.contains("audit event 7") && err.reason.contains("without its SYSCALL"), "{err:?}");
        assert!(parse_record("hello").is_err());
    }
}
