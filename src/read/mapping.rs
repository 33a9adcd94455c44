//! Normalisation to the Falcon event model, as data: one mapping table per source
//! (`src/read/mappings/*.map`, printable with `cqlhunt mappings`, overridable with
//! `--mapping FILE`). A row `Target = expr` sets a Falcon field from the record's own fields;
//! a field the event already has is left alone, and every original field stays.

use crate::event::{Event, Value};

/// An expression of a mapping row.
#[derive(Debug, Clone, PartialEq)]
pub enum MapExpr {
    Field(String),
    Lit(String),
    Call(String, Box<MapExpr>),
}

/// `Target = expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub target: crate::event::Name,
    pub expr: MapExpr,
}

/// How a mapped event is named.
#[derive(Debug, Clone, PartialEq)]
pub enum EventName {
    Fixed(String),
    /// `filetype(Field)`: the file-written event the file's extension implies.
    FileType(String),
}

/// One `event ID NAME` block.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMap {
    pub id: String,
    pub name: EventName,
    pub rows: Vec<Row>,
}

/// One source's table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceMap {
    pub source: String,
    /// Any of these (field, value) pairs selects the source; a value ending in `*` is a prefix.
    pub when: Vec<(String, String)>,
    pub common: Vec<Row>,
    pub events: Vec<EventMap>,
    /// The text it was read from (for `cqlhunt mappings`).
    pub text: String,
}

/// All mapping tables.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    pub sources: Vec<SourceMap>,
}

const BUILTIN: &[(&str, &str)] = &[
    ("sysmon.map", include_str!("mappings/sysmon.map")),
    ("security.map", include_str!("mappings/security.map")),
    ("auditd.map", include_str!("mappings/auditd.map")),
    ("mssql.map", include_str!("mappings/mssql.map")),
    ("exchange.map", include_str!("mappings/exchange.map")),
    ("powershell.map", include_str!("mappings/powershell.map")),
    ("iis.map", include_str!("mappings/iis.map")),
];

impl Mappings {
    /// The tables shipped with cqlhunt.
    pub fn builtin() -> Mappings {
        let mut m = Mappings::default();
        for (name, text) in BUILTIN {
            // The shipped tables are checked by a unit test; a broken one would be skipped.
            if let Ok(s) = parse(text, name) {
                m.sources.push(s);
            }
        }
        m
    }

    /// Add a table, replacing a shipped one of the same source name.
    pub fn add(&mut self, s: SourceMap) {
        self.sources.retain(|x| x.source != s.source);
        self.sources.insert(0, s);
    }

    /// The tables without the rows whose field nobody reads: a row is kept when `keep` keeps
    /// its target, or when a row of its source reads that target (rows read the event as the
    /// rows before them left it). A run that reads only some fields (its projection) maps only
    /// those, and its reader decodes only what they read ([`inputs`](Self::inputs)).
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> Mappings {
        let sources = self
            .sources
            .iter()
            .map(|s| {
                let mut read = Vec::new();
                for r in s.common.iter().chain(s.events.iter().flat_map(|e| &e.rows)) {
                    fields_read(&r.expr, &mut read);
                }
                let wanted = |r: &Row| keep(&r.target) || read.iter().any(|f| *f == *r.target);
                SourceMap {
                    common: s.common.iter().filter(|r| wanted(r)).cloned().collect(),
                    events: s
                        .events
                        .iter()
                        .map(|e| EventMap { rows: e.rows.iter().filter(|r| wanted(r)).cloned().collect(), ..e.clone() })
                        .collect(),
                    ..s.clone()
                }
            })
            .collect();
        Mappings { sources }
    }

    /// The fields of a record the tables read: the fields that pick a source, `EventID`, and
    /// every field a row's expression or an event's name reads.
    pub fn inputs(&self) -> Vec<String> {
        let mut out = vec!["EventID".to_string()];
        for s in &self.sources {
            out.extend(s.when.iter().map(|(f, _)| f.clone()));
            for r in &s.common {
                fields_read(&r.expr, &mut out);
            }
            for e in &s.events {
                if let EventName::FileType(f) = &e.name {
                    out.push(f.clone());
                }
                for r in &e.rows {
                    fields_read(&r.expr, &mut out);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Normalise an event in place; returns the source that matched, if any.
    pub fn apply(&self, ev: &mut Event) -> Option<&str> {
        let src = self.sources.iter().find(|s| {
            s.when.iter().any(|(f, v)| {
                ev.get_str(f).is_some_and(|x| match v.strip_suffix('*') {
                    Some(prefix) => x.starts_with(prefix),
                    None => x == *v,
                })
            })
        })?;
        let em = {
            let id = ev.get_str("EventID");
            let id = id.as_deref().unwrap_or_default();
            src.events.iter().find(|e| e.id == id)
        };
        if let Some(em) = em {
            let name = match &em.name {
                EventName::Fixed(n) => Some(n.clone()),
                EventName::FileType(f) => ev.get_str(f).map(|p| file_event_name(&p).to_string()),
            };
            if let Some(n) = name {
                set_absent(ev, "#event_simpleName", Value::Str(n.clone()));
                set_absent(ev, "event_simpleName", Value::Str(n));
            }
            apply_rows(&em.rows, ev);
        }
        apply_rows(&src.common, ev);
        Some(&src.source)
    }
}

/// The fields an expression reads, added to `out`.
fn fields_read(e: &MapExpr, out: &mut Vec<String>) {
    match e {
        MapExpr::Field(f) => out.push(f.clone()),
        MapExpr::Lit(_) => {}
        MapExpr::Call(_, a) => fields_read(a, out),
    }
}

fn set_absent(ev: &mut Event, k: &'static str, v: Value) {
    if !ev.has(k) {
        ev.push(k, v);
    }
}

fn apply_rows(rows: &[Row], ev: &mut Event) {
    for r in rows {
        if ev.has(&r.target) {
            continue;
        }
        if let Some(v) = eval(&r.expr, ev).map(std::borrow::Cow::into_owned) {
            // Absent (above): appended.
            ev.push(r.target.clone(), Value::Str(v));
        }
    }
}

fn eval<'a>(e: &'a MapExpr, ev: &'a Event) -> Option<std::borrow::Cow<'a, str>> {
    use std::borrow::Cow;
    match e {
        // Windows writes `-` for "no value": it does not count as one.
        MapExpr::Field(f) => ev.get_str(f).filter(|s| s != "-" && !s.is_empty()),
        MapExpr::Lit(s) => Some(Cow::Borrowed(s)),
        MapExpr::Call(f, arg) => {
            let a = eval(arg, ev)?;
            call(f, &a).map(Cow::Owned)
        }
    }
}

/// Mapping functions.
pub fn call(f: &str, a: &str) -> Option<String> {
    Some(match f {
        "basename" => a.rsplit(['\\', '/']).next().unwrap_or(a).to_string(),
        "dirname" => match a.rfind(['\\', '/']) {
            Some(i) => a[..=i].to_string(),
            None => String::new(),
        },
        "ntpath" => ntpath(a),
        "regkey" => regkey(a),
        "regop" => match a {
            "SetValue" => "1",
            "DeleteValue" => "2",
            "CreateKey" => "3",
            "DeleteKey" => "4",
            "RenameKey" => "7",
            _ => return None,
        }
        .to_string(),
        "hexdec" => {
            let t = a.trim();
            let h = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
            u64::from_str_radix(h, 16).ok()?.to_string()
        }
        "hostid" => hostid(a),
        "platform" => if a.starts_with("Linux") { "Lin" } else { "Win" }.to_string(),
        "lower" => a.to_lowercase(),
        "sha256" | "md5" | "sha1" => hash_part(a, f)?,
        _ => return None,
    })
}

/// `C:\Windows\x.exe` → `\Device\HarddiskVolume3\Windows\x.exe`: drive C is volume 3, D is 4,
/// and so on (the usual layout: recovery and EFI partitions first; docs/reading.md). Device
/// paths and POSIX paths are unchanged.
pub fn ntpath(p: &str) -> String {
    let b = p.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        let vol = 3 + (b[0].to_ascii_uppercase() as i32 - b'C' as i32).max(-2);
        let rest = &p[2..];
        let mut out = String::with_capacity(p.len() + 24);
        out.push_str("\\Device\\HarddiskVolume");
        crate::event::push_decimal(&mut out, vol as u64);
        if !rest.starts_with('\\') {
            out.push('\\');
        }
        out.push_str(rest);
        return out;
    }
    p.to_string()
}

/// `HKLM\SYSTEM\…` → `\REGISTRY\MACHINE\SYSTEM\…` (Falcon's kernel form, telemetry.md §A.6).
pub fn regkey(p: &str) -> String {
    let (root, rest) = p.split_once('\\').unwrap_or((p, ""));
    let base = match root.to_ascii_uppercase().as_str() {
        "HKLM" | "HKEY_LOCAL_MACHINE" => "\\REGISTRY\\MACHINE",
        "HKU" | "HKEY_USERS" => "\\REGISTRY\\USER",
        "HKCR" | "HKEY_CLASSES_ROOT" => "\\REGISTRY\\MACHINE\\SOFTWARE\\Classes",
        "HKCU" | "HKEY_CURRENT_USER" => "\\REGISTRY\\USER\\CURRENT_USER",
        _ => return p.to_string(),
    };
    let rest = rest.trim_end_matches('\\');
    if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}\\{rest}")
    }
}

/// A stable 32-hex `aid` for a host: two FNV-1a 64 hashes of the lower-cased host name.
pub fn hostid(host: &str) -> String {
    // A file's events mostly come from one host: the last answer is kept.
    thread_local! {
        static LAST: std::cell::RefCell<(String, String)> = const { std::cell::RefCell::new((String::new(), String::new())) };
    }
    LAST.with_borrow_mut(|(from, to)| {
        if from != host || to.is_empty() {
            *to = hostid_of(host);
            from.clear();
            from.push_str(host);
        }
        to.clone()
    })
}

fn hostid_of(host: &str) -> String {
    let h = host.trim().to_lowercase();
    let fnv = |seed: u64| {
        let mut x: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in h.bytes() {
            x ^= u64::from(b);
            x = x.wrapping_mul(0x0000_0100_0000_01b3);
        }
        x
    };
    format!("{:016x}{:016x}", fnv(0), fnv(0x9e37_79b9_7f4a_7c15))
}

fn hash_part(hashes: &str, which: &str) -> Option<String> {
    hashes.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim().eq_ignore_ascii_case(which).then(|| v.trim().to_lowercase())
    })
}

/// Falcon's file-written event for a path (telemetry.md §A.5): scripts (web pages included)
/// `NewScriptWritten`; executables by extension `NewExecutableWritten`; other PE files
/// `PeFileWritten`; anything else `FileCreateInfo`.
pub fn file_event_name(path: &str) -> &'static str {
    let ext = path.rsplit(['\\', '/']).next().unwrap_or(path).rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some(
            "ps1" | "psm1" | "vbs" | "vbe" | "js" | "jse" | "wsf" | "hta" | "bat" | "cmd" | "aspx" | "asp" | "ashx"
            | "asmx" | "ascx" | "php" | "phtml" | "jsp" | "jspx" | "cfm" | "shtml" | "py" | "pl" | "sh" | "rb" | "lua",
        ) => "NewScriptWritten",
        Some("exe" | "scr" | "com" | "cpl" | "msi" | "pif") => "NewExecutableWritten",
        Some("dll" | "sys" | "ocx" | "drv" | "efi") => "PeFileWritten",
        _ => "FileCreateInfo",
    }
}

/// Parse a mapping table.
pub fn parse(text: &str, name: &str) -> Result<SourceMap, String> {
    let mut s = SourceMap { text: text.to_string(), ..SourceMap::default() };
    let mut cur: Option<usize> = None;
    let mut in_common = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim_end();
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let err = |m: &str| format!("{name}:{}: {m}", i + 1);
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented {
            let mut w = t.splitn(3, ' ');
            match w.next() {
                Some("source") => s.source = w.next().ok_or_else(|| err("source needs a name"))?.to_string(),
                Some("when") => {
                    let rest = t["when".len()..].trim();
                    let (f, v) = rest.split_once('=').ok_or_else(|| err("when FIELD = VALUE"))?;
                    s.when.push((f.trim().to_string(), v.trim().to_string()));
                }
                Some("common") => {
                    in_common = true;
                    cur = None;
                }
                Some("event") => {
                    let id = w.next().ok_or_else(|| err("event ID NAME"))?.to_string();
                    let n = w.next().ok_or_else(|| err("event ID NAME"))?.trim();
                    let name = match n.strip_prefix("filetype(").and_then(|x| x.strip_suffix(')')) {
                        Some(f) => EventName::FileType(f.to_string()),
                        None => EventName::Fixed(n.to_string()),
                    };
                    s.events.push(EventMap { id, name, rows: Vec::new() });
                    cur = Some(s.events.len() - 1);
                    in_common = false;
                }
                Some(other) => return Err(err(&format!("unknown line `{other}`"))),
                None => {}
            }
            continue;
        }
        let (target, expr) = t.split_once('=').ok_or_else(|| err("rows are TARGET = EXPR"))?;
        let row =
            Row { target: crate::event::intern(target.trim()), expr: parse_expr(expr.trim()).map_err(|m| err(&m))? };
        match (in_common, cur) {
            (true, _) => s.common.push(row),
            (false, Some(c)) => s.events[c].rows.push(row),
            _ => return Err(err("a row outside `common` or `event`")),
        }
    }
    if s.source.is_empty() {
        return Err(format!("{name}: no `source` line"));
    }
    Ok(s)
}

const FUNCTIONS: &[&str] = &[
    "basename", "dirname", "ntpath", "regkey", "regop", "hexdec", "hostid", "platform", "lower", "sha256", "md5",
    "sha1",
];

fn parse_expr(s: &str) -> Result<MapExpr, String> {
    if let Some(lit) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        return Ok(MapExpr::Lit(lit.to_string()));
    }
    if let Some(open) = s.find('(') {
        let f = &s[..open];
        let inner = s[open + 1..].strip_suffix(')').ok_or_else(|| format!("unclosed `(` in `{s}`"))?;
        if !FUNCTIONS.contains(&f) {
            return Err(format!("unknown mapping function `{f}` (known: {})", FUNCTIONS.join(", ")));
        }
        return Ok(MapExpr::Call(f.to_string(), Box::new(parse_expr(inner.trim())?)));
    }
    if s.is_empty() || s.contains(char::is_whitespace) {
        return Err(format!("`{s}` is not a field name"));
    }
    Ok(MapExpr::Field(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_tables_parse() {
        for (name, text) in BUILTIN {
            let s = parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.events.is_empty(), "{name}");
        }
        assert_eq!(Mappings::builtin().sources.len(), BUILTIN.len());
    }

    #[test]
    fn functions() {
        assert_eq!(ntpath("C:\\Windows\\cmd.exe"), "\\Device\\HarddiskVolume3\\Windows\\cmd.exe");
        assert_eq!(ntpath("/bin/sh"), "/bin/sh");
        assert_eq!(
            regkey("HKLM\\SYSTEM\\CurrentControlSet\\Services\\W3SVC\\"),
            "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\W3SVC"
        );
        assert_eq!(call("hexdec", "0x1a").as_deref(), Some("26"));
        assert_eq!(file_event_name("C:\\inetpub\\wwwroot\\x.ASPX"), "NewScriptWritten");
        assert_eq!(file_event_name("a.dll"), "PeFileWritten");
        assert_eq!(hostid("WEB01"), hostid("web01"));
        assert_eq!(hostid("WEB01").len(), 32);
        assert_eq!(call("sha256", "SHA1=AA,SHA256=BBcc").as_deref(), Some("bbcc"));
    }

    #[test]
    fn a_projection_maps_only_what_it_reads() {
        let text = "source t\nwhen Channel = T\ncommon\n  aid = hostid(Computer)\n  Unread = Extra\nevent 1 ProcessRollup2\n  ImageFileName = ntpath(Image)\n  Hash = sha256(Hashes)\n  Mid = basename(Image)\n  Kept = lower(Mid)\n";
        let mut m = Mappings::default();
        m.add(parse(text, "t.map").expect("parses"));
        let only = m.only(|t| matches!(t, "aid" | "ImageFileName" | "Kept"));
        let targets: Vec<&str> =
            only.sources[0].common.iter().chain(&only.sources[0].events[0].rows).map(|r| r.target.as_ref()).collect();
        // `Mid` is not kept, but `Kept` reads it.
        assert_eq!(targets, ["aid", "ImageFileName", "Mid", "Kept"]);
        assert_eq!(only.inputs(), ["Channel", "Computer", "EventID", "Image", "Mid"]);
        assert!(m.inputs().contains(&"Hashes".to_string()) && m.inputs().contains(&"Extra".to_string()));
        // The events it makes hold the same kept fields.
        let mut ev = Event::new();
        for (k, v) in [
            ("Channel", "T"),
            ("EventID", "1"),
            ("Computer", "h"),
            ("Image", "C:\\x\\Y.exe"),
            ("Hashes", "SHA256=AB"),
            ("Extra", "e"),
        ] {
            ev.push(k.to_string(), Value::Str(v.into()));
        }
        let (mut all, mut some) = (ev.clone(), ev);
        m.apply(&mut all);
        only.apply(&mut some);
        for f in ["aid", "ImageFileName", "Kept", "#event_simpleName"] {
            assert!(all.get_str(f).is_some() && all.get_str(f) == some.get_str(f), "{f}");
        }
        assert!(all.has("Hash") && !some.has("Hash") && !some.has("Unread"));
    }

    #[test]
    fn bad_tables_say_where() {
        assert!(parse("source x\nevent 1 A\n  B = nosuch(C)\n", "t.map")
            .unwrap_err()
            .contains("t.map:3: unknown mapping function"));
        assert!(parse("event 1 A\n", "t.map").unwrap_err().contains("no `source`"));
    }
}
