//! One JSON line, whatever wrote it: Falcon (FDR, NG-SIEM), or a Windows event as written by
//! `evtx_dump` (`{"Event":{"System":…,"EventData":…}}`), winlogbeat/ECS (`winlog.*`), or the
//! flat JSON of NXLog/OTRF Security-Datasets (`EventID`, `Hostname`, `SourceName`, EventData
//! at the top). Windows records get the field names of the XML reader, then the mapping
//! tables; so a record gives the same event from its EVTX, XML or JSON rendering.

use super::falcon::{self, FalconOptions};
use super::mapping::Mappings;
use super::{event_from, flatten_json};
use crate::event::{Event, Value};
use serde_json::Value as J;

/// What a JSON reader needs.
#[derive(Debug, Clone, Default)]
pub struct LineOptions {
    pub falcon: FalconOptions,
    pub mappings: Mappings,
    /// Keep only these fields of Falcon lines (`None`: every field).
    pub projection: Option<std::sync::Arc<super::fastjson::Projection>>,
}

static FALCON_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| crate::read::rawline::json_finder(b"event_simpleName\""));

/// Parse one line into an event, or say why it is not one.
pub fn parse_line(line: &[u8], opts: &LineOptions) -> Result<Event, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8 at byte offset {}", e.valid_up_to()))?;
    // Fast path: a flat Falcon object (every FDR line) straight into an event.
    if FALCON_KEY.find(line).is_some() {
        if let Some(p) = &opts.projection {
            // Only the fields the query and the enrichment read.
            let fields = match super::fastjson::flat_strings_projected(text, p) {
                Some(f) => Some(f),
                None => super::fastjson::flat_object(text)
                    .ok()
                    .flatten()
                    .map(|f| f.into_iter().filter(|(k, _)| p.keeps(k.as_bytes())).collect()),
            };
            if let Some(fields) = fields {
                let mut ev = Event::from_fields(fields);
                falcon::normalise(&mut ev, p.keeps_raw().then_some(text), &opts.falcon);
                return Ok(ev);
            }
        } else if let Ok(Some(fields)) = super::fastjson::flat_object(text) {
            let mut ev = Event::from_fields(fields);
            falcon::normalise(&mut ev, Some(text), &opts.falcon);
            return Ok(ev);
        }
    }
    // Sysmon for Linux straight from syslog (`Nov 20 14:21:03 web01 sysmon: <Event>…`), as
    // /var/log/syslog holds it: the XML after the syslog header.
    if !text.trim_start().starts_with('{') {
        if let Some(start) = text.find("<Event") {
            let (mut ev, _) = super::winevent::parse_event_salvage(&text[start..])?;
            ev.set("@rawstring", Value::Str(text.to_string()));
            opts.mappings.apply(&mut ev);
            return Ok(ev);
        }
    }
    let v: J = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let J::Object(o) = &v else {
        return Err("not a JSON object".to_string());
    };
    // Sysmon for Linux inside syslog (Sentinel `Syslog` rows, as the OTRF data sets ship them).
    if let Some(msg) = o.get("SyslogMessage").and_then(J::as_str) {
        // auditd through Microsoft's AUOMS plug-in: one exec per record.
        if msg.starts_with("type=AUOMS_EXECVE") {
            let mut ev = super::auditd::auoms(msg, "")?;
            if !ev.has("node") {
                if let Some(h) = o.get("Computer").or_else(|| o.get("HostName")).and_then(self::text) {
                    ev.set("node", Value::Str(h));
                }
            }
            ev.set("@rawstring", Value::Str(text.to_string()));
            opts.mappings.apply(&mut ev);
            return Ok(ev);
        }
        if let Some(start) = msg.find("<Event") {
            // Syslog cuts long messages: keep what came before the cut (marked
            // `cqlhunt_truncated`).
            let (mut ev, _) = super::winevent::parse_event_salvage(&msg[start..])?;
            ev.set("@rawstring", Value::Str(text.to_string()));
            opts.mappings.apply(&mut ev);
            return Ok(ev);
        }
    }
    if let Some(mut ev) = laurel(o) {
        ev.set("@rawstring", Value::Str(text.to_string()));
        opts.mappings.apply(&mut ev);
        return Ok(ev);
    }
    if let Some(mut ev) = windows(o) {
        ev.set("@rawstring", Value::Str(text.to_string()));
        opts.mappings.apply(&mut ev);
        return Ok(ev);
    }
    let mut flat = Vec::with_capacity(64);
    flatten_json("", &v, &mut flat);
    let mut ev = event_from(flat);
    falcon::normalise(&mut ev, Some(text), &opts.falcon);
    Ok(ev)
}

/// laurel's JSON (one audit event per line: `ID`, `SYSCALL`, `EXECVE.ARGV`, `PATH`, …) as the
/// raw auditd reader's event, so the `auditd` table applies. laurel's `PPID` names the parent.
fn laurel(o: &serde_json::Map<String, J>) -> Option<Event> {
    let id = o.get("ID").and_then(J::as_str)?;
    let sys = o.get("SYSCALL").and_then(J::as_object);
    if sys.is_none() && !o.contains_key("EXECVE") {
        return None;
    }
    let mut ev = Event::with_capacity(32);
    ev.set("Channel", Value::Str("auditd".to_string()));
    let (time, serial) = id.split_once(':').unwrap_or((id, ""));
    if let Some(t) = crate::event::parse_num(time) {
        ev.set("@timestamp", Value::Num((t * 1000.0).round()));
    }
    ev.set("audit_serial", Value::Str(serial.to_string()));
    if let Some(n) = o.get("NODE").and_then(text) {
        ev.set("node", Value::Str(n));
    }
    let mut syscall_name = String::new();
    if let Some(sys) = sys {
        for (k, v) in sys {
            match (k.as_str(), v) {
                ("PPID", J::Object(p)) => {
                    if let Some(e) = p.get("exe").and_then(text) {
                        ev.set("ppid_exe", Value::Str(e));
                    }
                    if let Some(c) = p.get("comm").and_then(text) {
                        ev.set("ppid_comm", Value::Str(c));
                    }
                }
                ("SYSCALL", v) => syscall_name = text(v).unwrap_or_default(),
                (_, v) => {
                    if let Some(t) = text(v) {
                        ev.set(k, Value::Str(t));
                    }
                }
            }
        }
    }
    let argv: Vec<String> = o
        .get("EXECVE")
        .and_then(|e| e.get("ARGV"))
        .and_then(J::as_array)
        .map(|a| a.iter().filter_map(text).collect())
        .unwrap_or_default();
    if !argv.is_empty() {
        ev.set("cmdline", Value::Str(argv.join(" ")));
    }
    let created = o.get("PATH").and_then(J::as_array).and_then(|ps| {
        ps.iter()
            .find(|p| p.get("nametype").and_then(J::as_str) == Some("CREATE"))
            .and_then(|p| p.get("name"))
            .and_then(text)
    });
    let number = ev.get_str("syscall").map(|s| s.into_owned()).unwrap_or_default();
    let event_id =
        if o.contains_key("EXECVE") || syscall_name.starts_with("execve") || number == "59" || number == "322" {
            if ev.get_str("success").as_deref() == Some("no") { "execve_failed" } else { "execve" }.to_string()
        } else if let Some(c) = created {
            ev.set("created", Value::Str(c));
            "create".to_string()
        } else if !syscall_name.is_empty() {
            syscall_name
        } else {
            number
        };
    ev.set("EventID", Value::Str(event_id));
    Some(ev)
}

/// Hayabusa's channel abbreviations (`Sec`, `Sysmon`, …) and their channels.
const HAYABUSA_CHANNELS: &[(&str, &str)] = &[
    ("Sec", "Security"),
    ("Sysmon", "Microsoft-Windows-Sysmon/Operational"),
    ("Sys", "System"),
    ("App", "Application"),
    ("PwSh", "Microsoft-Windows-PowerShell/Operational"),
    ("PwShClassic", "Windows PowerShell"),
];

/// Hayabusa's `Details` keys and the event fields they abbreviate (only where the record's own
/// name is unambiguous; `Proc` depends on the event).
const HAYABUSA_DETAILS: &[(&str, &str)] = &[
    ("Cmdline", "CommandLine"),
    ("CmdLine", "CommandLine"),
    ("ParentCmdline", "ParentCommandLine"),
    ("ParentCmdLine", "ParentCommandLine"),
    ("PID", "ProcessId"),
    ("PGUID", "ProcessGuid"),
    ("ParentPID", "ParentProcessId"),
    ("ParentPGUID", "ParentProcessGuid"),
    ("LID", "LogonId"),
    ("LGUID", "LogonGuid"),
    ("TgtObj", "TargetObject"),
    ("ScriptBlock", "ScriptBlockText"),
];

/// A Hayabusa `json-timeline` row: a detection, with the record's fields in `AllFieldInfo`
/// (profile `all-field-info`) or, abbreviated, in `Details` and `ExtraFieldInfo`. The record's
/// own names win over the abbreviations.
fn hayabusa(o: &serde_json::Map<String, J>, ev: &mut Event) -> Option<()> {
    let get = |k: &str| o.get(k).and_then(text);
    ev.set("EventID", Value::Str(get("EventID")?));
    if let Some(c) = get("Channel") {
        let full = HAYABUSA_CHANNELS.iter().find(|(a, _)| *a == c).map(|(_, f)| f.to_string()).unwrap_or(c);
        ev.set("Channel", Value::Str(full));
    }
    for (k, name) in [("Computer", "Computer"), ("RecordID", "EventRecordID"), ("Provider", "Provider_Name")] {
        if let Some(v) = get(k) {
            ev.set(name, Value::Str(v));
        }
    }
    if let Some(ms) = get("Timestamp").and_then(|t| super::winevent::iso8601_ms(&t)) {
        let iso = crate::eval::time::strftime("%Y-%m-%dT%H:%M:%S.%LZ", ms, 0);
        ev.set("TimeCreated", Value::Str(iso));
    }
    for k in ["RuleTitle", "Level", "RuleFile", "EvtxFile"] {
        if let Some(v) = get(k) {
            ev.set(&format!("Hayabusa_{k}"), Value::Str(v));
        }
    }
    for part in ["AllFieldInfo", "ExtraFieldInfo"] {
        if let Some(J::Object(d)) = o.get(part) {
            for (k, v) in d {
                if let Some(t) = text(v) {
                    if !ev.has(k) {
                        ev.set(k, Value::Str(t));
                    }
                }
            }
        }
    }
    if let Some(J::Object(d)) = o.get("Details") {
        let sysmon = ev.get_str("Channel").is_some_and(|c| c.contains("Sysmon"));
        for (k, v) in d {
            let Some(t) = text(v) else { continue };
            let name = match k.as_str() {
                "Proc" if sysmon => "Image",
                "Proc" => "NewProcessName",
                "Path" if sysmon => "TargetFilename",
                other => HAYABUSA_DETAILS.iter().find(|(a, _)| *a == other).map(|(_, f)| *f).unwrap_or(other),
            };
            if !ev.has(name) {
                ev.set(name, Value::Str(t));
            }
        }
    }
    Some(())
}

fn text(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        J::Object(o) => o.get("#text").and_then(text),
        _ => None,
    }
}

/// A record as the `evtx` crate renders it to JSON (`{"Event":{"System":…}}`, what
/// `evtx_dump -o json` prints), with `@rawstring` that text. The text is read into a light
/// borrowed tree ([`Node`]) and the event made from it as [`windows`] makes it from a
/// `serde_json` value (`tests/renderings.rs` holds the two to the XML reader).
pub fn windows_json(text: String) -> Result<Event, String> {
    let node: Node<'_> = serde_json::from_str(&text).map_err(|e| format!("JSON: {e}"))?;
    let mut ev = match evtx_event(&node) {
        Some(ev) => ev,
        None => {
            // Another shape: the general reader.
            let v: J = serde_json::from_str(&text).map_err(|e| format!("JSON: {e}"))?;
            let o = v.as_object().ok_or("not a JSON object")?;
            windows(o).ok_or("not a Windows event")?
        }
    };
    ev.set("@rawstring", Value::Str(text));
    Ok(ev)
}

/// [`windows_json`] through the general reader only (`serde_json` values): what the light
/// tree must agree with (`tests/renderings.rs`).
#[doc(hidden)]
pub fn windows_json_general(text: String) -> Result<Event, String> {
    let v: J = serde_json::from_str(&text).map_err(|e| format!("JSON: {e}"))?;
    let o = v.as_object().ok_or("not a JSON object")?;
    let mut ev = windows(o).ok_or("not a Windows event")?;
    ev.set("@rawstring", Value::Str(text));
    Ok(ev)
}

/// A JSON value with borrowed strings and maps kept as lists. A key looked up gives its last
/// value, as `serde_json`'s map does; walking a list sets each value in turn, which leaves
/// what the map's walk leaves (the last value, at the first key's place).
#[derive(Debug)]
enum Node<'a> {
    Text(std::borrow::Cow<'a, str>),
    Other(String),
    Null,
    Obj(Vec<(std::borrow::Cow<'a, str>, Node<'a>)>),
    Arr(Vec<Node<'a>>),
}

impl<'de> serde::Deserialize<'de> for Node<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Node<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Node<'de>, E> {
                Ok(Node::Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Node<'de>, E> {
                Ok(Node::Text(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Node<'de>, E> {
                Ok(Node::Text(std::borrow::Cow::Owned(v)))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Node<'de>, E> {
                Ok(Node::Other(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Node<'de>, E> {
                Ok(Node::Other(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Node<'de>, E> {
                Ok(Node::Other(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Node<'de>, E> {
                Ok(Node::Other(serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Node<'de>, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Node<'de>, E> {
                Ok(Node::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Node<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Node::Arr(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Node<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = m.next_entry::<std::borrow::Cow<'de, str>, Node<'de>>()? {
                    v.push((k, x));
                }
                Ok(Node::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'a> Node<'a> {
    fn get(&self, k: &str) -> Option<&Node<'a>> {
        match self {
            Node::Obj(v) => v.iter().rev().find(|(x, _)| x == k).map(|(_, n)| n),
            _ => None,
        }
    }

    fn has_duplicates(&self) -> bool {
        match self {
            Node::Obj(v) => v.iter().enumerate().any(|(i, (k, _))| v[..i].iter().any(|(x, _)| x == k)),
            _ => false,
        }
    }

    /// As [`text`] on the `serde_json` value.
    fn text(&self) -> Option<String> {
        match self {
            Node::Text(s) => Some(s.to_string()),
            Node::Other(s) => Some(s.clone()),
            Node::Obj(_) => self.get("#text").and_then(Node::text),
            _ => None,
        }
    }
}

/// What [`evtx_parts`] needs of a JSON value: `serde_json`'s, or the light [`Node`].
trait JsonView: Sized {
    fn field(&self, k: &str) -> Option<&Self>;
    /// As [`text`]: a string, a number or a boolean as text, an object's `#text`.
    fn text_of(&self) -> Option<String>;
    /// Each key and value of an object in order; `false` when it is not an object.
    fn each_entry(&self, f: &mut dyn FnMut(&str, &Self)) -> bool;
    fn first_value(&self) -> Option<&Self>;
    fn list(&self) -> Option<&[Self]>;
    fn is_object(&self) -> bool;
    /// A string, a number or a boolean.
    fn is_scalar(&self) -> bool;
    /// An attribute as the JSON rendering holds it: `#attributes.name`, else `name`.
    fn attr(&self, name: &str) -> Option<&Self> {
        self.field("#attributes").and_then(|a| a.field(name)).or_else(|| self.field(name))
    }
}

impl JsonView for J {
    fn field(&self, k: &str) -> Option<&J> {
        self.get(k)
    }
    fn text_of(&self) -> Option<String> {
        text(self)
    }
    fn each_entry(&self, f: &mut dyn FnMut(&str, &J)) -> bool {
        let J::Object(o) = self else { return false };
        o.iter().for_each(|(k, v)| f(k, v));
        true
    }
    fn first_value(&self) -> Option<&J> {
        self.as_object()?.values().next()
    }
    fn list(&self) -> Option<&[J]> {
        self.as_array().map(Vec::as_slice)
    }
    fn is_object(&self) -> bool {
        self.is_object()
    }
    fn is_scalar(&self) -> bool {
        matches!(self, J::String(_) | J::Number(_) | J::Bool(_))
    }
}

impl<'a> JsonView for Node<'a> {
    fn field(&self, k: &str) -> Option<&Node<'a>> {
        self.get(k)
    }
    fn text_of(&self) -> Option<String> {
        self.text()
    }
    fn each_entry(&self, f: &mut dyn FnMut(&str, &Node<'a>)) -> bool {
        let Node::Obj(v) = self else { return false };
        v.iter().for_each(|(k, n)| f(k, n));
        true
    }
    fn first_value(&self) -> Option<&Node<'a>> {
        match self {
            Node::Obj(v) => v.first().map(|(_, n)| n),
            _ => None,
        }
    }
    fn list(&self) -> Option<&[Node<'a>]> {
        match self {
            Node::Arr(v) => Some(v),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Node::Obj(_))
    }
    fn is_scalar(&self) -> bool {
        matches!(self, Node::Text(_) | Node::Other(_))
    }
}

/// The `Event` object of the `evtx` crate's JSON (what `evtx_dump -o json` prints): `System`
/// (attributes under the XML reader's names), then `EventData` or `UserData` (its first
/// object). `None` when `System` is not an object.
fn evtx_parts<V: JsonView>(e: &V, ev: &mut Event) -> Option<()> {
    let sys = e.field("System")?;
    let is_object = sys.each_entry(&mut |k, v| {
        let attrs: &[(&str, &str)] = match k {
            "Provider" => &[("Name", "Provider_Name"), ("Guid", "Provider_Guid")],
            "TimeCreated" => &[("SystemTime", "TimeCreated")],
            "Execution" => &[("ProcessID", "Execution_ProcessID"), ("ThreadID", "Execution_ThreadID")],
            "Security" => &[("UserID", "Security_UserID")],
            _ => {
                if let Some(t) = v.text_of() {
                    ev.set(k, Value::Str(t));
                }
                return;
            }
        };
        for (attr, name) in attrs {
            if let Some(t) = v.attr(attr).and_then(JsonView::text_of) {
                ev.set(name, Value::Str(t));
            }
        }
    });
    if !is_object {
        return None;
    }
    for part in ["EventData", "UserData"] {
        let Some(d) = e.field(part).filter(|d| d.is_object()) else { continue };
        let d = if part == "UserData" { d.first_value().filter(|x| x.is_object()).unwrap_or(d) } else { d };
        d.each_entry(&mut |k, v| {
            if k == "#attributes" {
                return;
            }
            // Unnamed <Data> items: `"Data":{"#text":["a","b"]}` (one item: a string), numbered
            // as the XML reader numbers them.
            if k == "Data" {
                let inner = v.field("#text").unwrap_or(v);
                if let Some(items) = inner.list() {
                    for (i, item) in items.iter().enumerate() {
                        ev.set(&format!("Data[{i}]"), Value::Str(item.text_of().unwrap_or_default()));
                    }
                    return;
                }
                if inner.is_scalar() {
                    ev.set("Data[0]", Value::Str(inner.text_of().unwrap_or_default()));
                    return;
                }
            }
            if let Some(t) = v.text_of() {
                ev.set(k, Value::Str(t));
            }
        });
    }
    Some(())
}

/// The `{"Event":{"System":…}}` shape, as [`windows`] reads it; `None` for anything else (or
/// duplicate keys where the two readers could differ).
fn evtx_event(root: &Node<'_>) -> Option<Event> {
    let Node::Obj(top) = root else { return None };
    if root.has_duplicates() || top.iter().any(|(k, _)| k == "event_simpleName" || k == "#event_simpleName") {
        return None;
    }
    let e = root.get("Event")?;
    if !matches!(e, Node::Obj(_)) || e.has_duplicates() {
        return None;
    }
    // Duplicate keys the map and the list would read differently: a duplicated UserData key
    // (its first value is the data), or two `Data` lists.
    if e.get("UserData").is_some_and(Node::has_duplicates) {
        return None;
    }
    for part in ["EventData", "UserData"] {
        let Some(d @ Node::Obj(_)) = e.get(part) else { continue };
        let d = if part == "UserData" { d.first_value().filter(|x| x.is_object()).unwrap_or(d) } else { d };
        if let Node::Obj(items) = d {
            if items.iter().filter(|(k, _)| k == "Data").count() > 1 {
                return None;
            }
        }
    }
    let mut ev = Event::with_capacity(48);
    evtx_parts(e, &mut ev)?;
    if let Some(ms) = ev.get_str("TimeCreated").and_then(|t| super::winevent::iso8601_ms(&t)) {
        ev.set("@timestamp", Value::Num(ms));
    }
    Some(ev)
}

/// A Windows event in one of its JSON renderings, with the XML reader's field names.
fn windows(o: &serde_json::Map<String, J>) -> Option<Event> {
    if o.contains_key("event_simpleName") || o.contains_key("#event_simpleName") {
        return None;
    }
    let mut ev = Event::with_capacity(48);
    if let Some(e) = o.get("Event").filter(|e| e.is_object()) {
        // evtx_dump -o json / jsonl
        evtx_parts(e, &mut ev)?;
    } else if let Some(w) = o.get("winlog").and_then(J::as_object) {
        // winlogbeat / ECS
        let get = |k: &str| w.get(k).and_then(text);
        ev.set("EventID", Value::Str(get("event_id")?));
        if let Some(c) = get("channel") {
            ev.set("Channel", Value::Str(c));
        }
        if let Some(c) = get("computer_name") {
            ev.set("Computer", Value::Str(c));
        }
        if let Some(p) = get("provider_name") {
            ev.set("Provider_Name", Value::Str(p));
        }
        if let Some(r) = get("record_id") {
            ev.set("EventRecordID", Value::Str(r));
        }
        if let Some(J::Object(d)) = w.get("event_data") {
            for (k, v) in d {
                if let Some(t) = text(v) {
                    ev.set(k, Value::Str(t));
                }
            }
        }
        if let Some(t) = o.get("@timestamp").and_then(text) {
            ev.set("TimeCreated", Value::Str(t));
        }
    } else if o.contains_key("RuleTitle") && (o.contains_key("Details") || o.contains_key("AllFieldInfo")) {
        hayabusa(o, &mut ev)?;
    } else if o.contains_key("EventID")
        && (o.contains_key("Hostname") || o.contains_key("Computer") || o.contains_key("Channel"))
    {
        // Flat: NXLog / OTRF Security-Datasets / Hayabusa-like.
        // Sentinel's `WindowsEvent` table keeps the record's fields as a JSON string in
        // `EventData`: they are the event's fields.
        let mut expanded = false;
        if let Some(J::String(data)) = o.get("EventData") {
            if let Ok(J::Object(d)) = serde_json::from_str::<J>(data) {
                expanded = true;
                for (k, v) in &d {
                    if let Some(t) = text(v) {
                        ev.set(k, Value::Str(t));
                    }
                }
            }
        }
        for (k, v) in o {
            if k == "EventData" && expanded {
                continue;
            }
            let Some(t) = text(v) else { continue };
            let name = match k.as_str() {
                "Hostname" => "Computer",
                "SourceName" | "ProviderName" | "Provider" => "Provider_Name",
                "@timestamp" => continue,
                "EventTime" => "TimeCreated",
                other => other,
            };
            if !ev.has(name) {
                ev.set(name, Value::Str(t));
            }
        }
        if !ev.has("TimeCreated") {
            // Sentinel's tables: TimeGenerated.
            if let Some(t) = o.get("@timestamp").or_else(|| o.get("TimeGenerated")).and_then(text) {
                ev.set("TimeCreated", Value::Str(t));
            }
        }
    } else {
        return None;
    }
    if let Some(ms) = ev.get_str("TimeCreated").and_then(|t| super::winevent::iso8601_ms(&t)) {
        ev.set("@timestamp", Value::Num(ms));
    }
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LineOptions {
        LineOptions { mappings: Mappings::builtin(), ..LineOptions::default() }
    }

    #[test]
    fn renderings_agree() {
        let flat = br#"{"SourceName":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WEB01","TimeCreated":"2021-03-14T01:39:32.609Z","EventID":1,"Image":"C:\\Windows\\System32\\cmd.exe","ParentImage":"C:\\Windows\\System32\\inetsrv\\w3wp.exe","CommandLine":"cmd /c whoami"}"#;
        let dump = br##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WEB01","TimeCreated":{"#attributes":{"SystemTime":"2021-03-14T01:39:32.609Z"}}},"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","ParentImage":"C:\\Windows\\System32\\inetsrv\\w3wp.exe","CommandLine":"cmd /c whoami"}}}"##;
        let beat = br#"{"@timestamp":"2021-03-14T01:39:32.609Z","winlog":{"event_id":1,"channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"WEB01","provider_name":"Microsoft-Windows-Sysmon","event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","ParentImage":"C:\\Windows\\System32\\inetsrv\\w3wp.exe","CommandLine":"cmd /c whoami"}}}"#;
        for line in [&flat[..], &dump[..], &beat[..]] {
            let e = parse_line(line, &opts()).unwrap();
            assert_eq!(e.get_str("#event_simpleName").as_deref(), Some("ProcessRollup2"), "{e:?}");
            assert_eq!(e.get_str("FileName").as_deref(), Some("cmd.exe"));
            assert_eq!(e.get_str("ParentBaseFileName").as_deref(), Some("w3wp.exe"));
            assert_eq!(e.get_str("ComputerName").as_deref(), Some("WEB01"));
            assert_eq!(e.get("@timestamp"), Some(&Value::Num(1615685972609.0)));
        }
    }

    #[test]
    fn sysmon_for_linux_in_a_raw_syslog_line() {
        let line = br#"Nov 20 14:21:03 web01 sysmon: <Event><System><Provider Name="Linux-Sysmon" Guid="{ff032593-a8d3-4f13-b0d6-01fc615a0f97}"/><EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime="2026-11-20T14:21:03.118000000Z"/><EventRecordID>7781</EventRecordID><Correlation/><Execution ProcessID="812" ThreadID="812"/><Channel>Linux-Sysmon/Operational</Channel><Computer>web01</Computer><Security UserId="0"/></System><EventData><Data Name="Image">/usr/bin/dash</Data><Data Name="CommandLine">sh -c id</Data><Data Name="ParentImage">/usr/sbin/apache2</Data></EventData></Event>"#;
        let ev = parse_line(line, &opts()).unwrap();
        assert_eq!(ev.get_str("Computer").as_deref(), Some("web01"));
        assert_eq!(ev.get_str("CommandLine").as_deref(), Some("sh -c id"));
        assert!(ev.get_str("@rawstring").is_some_and(|r| r.starts_with("Nov 20")));
        // Not JSON and no event: still an error naming why.
        assert!(parse_line(b"Nov 20 14:21:03 web01 CRON[1]: (root) CMD (true)", &opts())
            .unwrap_err()
            .contains("not JSON"));
    }

    #[test]
    fn sentinel_windowsevent_rows_expand_their_eventdata_string() {
        let data = serde_json::json!({
            "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "ParentImage": "C:\\Program Files\\Apache Software Foundation\\Tomcat 9.0\\bin\\tomcat9.exe",
            "CommandLine": "powershell.exe -NonI"
        });
        let row = serde_json::json!({"TimeGenerated": "2022-05-13T08:54:08.437Z", "Provider": "Microsoft-Windows-Sysmon",
            "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WORKSTATION5", "EventID": 1,
            "Type": "WindowsEvent", "EventData": data.to_string()});
        let line = row.to_string();
        let line = line.as_bytes();
        let ev = parse_line(line, &opts()).unwrap();
        assert_eq!(ev.get_str("FileName").as_deref(), Some("powershell.exe"));
        assert_eq!(ev.get_str("ParentBaseFileName").as_deref(), Some("tomcat9.exe"));
        assert!(!ev.has("EventData"));
        assert_eq!(ev.get("@timestamp"), Some(&Value::Num(1652432048437.0)));
    }

    #[test]
    fn laurel_lines() {
        let line = br#"{"ID":"1751536496.901:84138","SYSCALL":{"arch":"0xc000003e","syscall":59,"success":"yes","ppid":21544,"pid":21871,"uid":33,"comm":"sh","exe":"/usr/bin/dash","key":"exec","SYSCALL":"execve","PPID":{"EVENT_ID":"1751530001.114:80211","comm":"apache2","exe":"/usr/sbin/apache2","ppid":21540}},"EXECVE":{"argc":3,"ARGV":["/bin/sh","-c","id"]},"CWD":{"cwd":"/"},"PATH":[{"item":0,"name":"/bin/sh","nametype":"NORMAL"}],"PROCTITLE":{"ARGV":["/bin/sh","-c","id"]}}"#;
        let e = parse_line(line, &opts()).unwrap();
        assert_eq!(e.get_str("#event_simpleName").as_deref(), Some("ProcessRollup2"));
        assert_eq!(e.get_str("CommandLine").as_deref(), Some("/bin/sh -c id"));
        assert_eq!(e.get_str("ParentBaseFileName").as_deref(), Some("apache2"));
        assert_eq!(e.get_str("event_platform").as_deref(), Some("Lin"));
        assert_eq!(e.get("@timestamp"), Some(&Value::Num(1751536496901.0)));
    }

    #[test]
    fn falcon_lines_stay_falcon() {
        let e =
            parse_line(br#"{"event_simpleName":"ProcessRollup2","ImageFileName":"\\x\\cmd.exe"}"#, &opts()).unwrap();
        assert_eq!(e.get_str("FileName").as_deref(), Some("cmd.exe"));
        assert_eq!(e.get_str("#repo").as_deref(), Some("base_sensor"));
    }
}
