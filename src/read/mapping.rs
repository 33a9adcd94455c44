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
    sources: Vec<SourceMap>,
    /// The tables as [`Mappings::apply`] runs them, made whenever `sources` changes.
    compiled: Compiled,
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
        let mut sources = Vec::new();
        for (name, text) in BUILTIN {
            // The shipped tables are checked by a unit test; a broken one would be skipped.
            if let Ok(s) = parse(text, name) {
                sources.push(s);
            }
        }
        Mappings::of(sources)
    }

    fn of(sources: Vec<SourceMap>) -> Mappings {
        let compiled = Compiled::new(&sources);
        Mappings { sources, compiled }
    }

    /// The tables, in the order they are tried.
    pub fn sources(&self) -> &[SourceMap] {
        &self.sources
    }

    /// Add a table, replacing a shipped one of the same source name.
    pub fn add(&mut self, s: SourceMap) {
        self.sources.retain(|x| x.source != s.source);
        self.sources.insert(0, s);
        self.compiled = Compiled::new(&self.sources);
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
        Mappings::of(sources)
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
        let c = &self.compiled;
        // Where each name the tables read or write first is in the event (`NONE`: absent),
        // found in one pass over its fields.
        let mut small = [NONE; 256];
        let mut large = Vec::new();
        let at: &mut [u32] = if c.names.len() <= small.len() {
            &mut small[..c.names.len()]
        } else {
            large.resize(c.names.len(), NONE);
            &mut large
        };
        for (i, (name, _)) in ev.fields().enumerate() {
            if let Some(slot) = c.slot(name) {
                if at[slot] == NONE {
                    at[slot] = i as u32;
                }
            }
        }
        let (i, src) = c.sources.iter().enumerate().find(|(_, s)| {
            s.when.iter().any(|(slot, v)| {
                value(ev, at, *slot).is_some_and(|x| {
                    let x = x.as_str();
                    match v.strip_suffix('*') {
                        Some(prefix) => x.starts_with(prefix),
                        None => *x == **v,
                    }
                })
            })
        })?;
        let id = value(ev, at, c.event_id).map(Value::as_str);
        let em = {
            let id = id.as_deref().unwrap_or_default();
            src.events.iter().find(|e| e.id == id)
        };
        if let Some(em) = em {
            let name = match &em.name {
                CName::Fixed(n) => Some(n.clone()),
                CName::FileType(f) => value(ev, at, *f).map(|p| file_event_name(&p.as_str()).to_string()),
            };
            if let Some(n) = name {
                c.put(ev, at, c.simple[0], Value::Str(n.clone()));
                c.put(ev, at, c.simple[1], Value::Str(n));
            }
            run_rows(&em.rows, c, ev, at);
        }
        run_rows(&src.common, c, ev, at);
        Some(&self.sources[i].source)
    }
}

/// An absent name's position.
const NONE: u32 = u32::MAX;

/// The value of the name in `slot`, from its position in the event (`at`).
fn value<'e>(ev: &'e Event, at: &[u32], slot: u32) -> Option<&'e Value> {
    ev.value_at(at[slot as usize] as usize)
}

/// The tables as [`Mappings::apply`] runs them: every name a table reads or writes has a slot,
/// found in an event's fields in one pass (by a hash of the name's length and first and last
/// eight bytes, then its text), rather than one search of the fields per row.
#[derive(Debug, Clone, Default)]
struct Compiled {
    /// By slot.
    names: Vec<crate::event::Name>,
    /// Open addressing by [`name_hash`]: (hash, slot), slot `u32::MAX` for an empty place.
    table: Vec<(u64, u32)>,
    event_id: u32,
    /// `#event_simpleName`, `event_simpleName`.
    simple: [u32; 2],
    sources: Vec<CSource>,
}

#[derive(Debug, Clone, Default)]
struct CSource {
    when: Vec<(u32, String)>,
    events: Vec<CEvent>,
    common: Vec<CRow>,
}

#[derive(Debug, Clone)]
struct CEvent {
    id: String,
    name: CName,
    rows: Vec<CRow>,
}

#[derive(Debug, Clone)]
enum CName {
    Fixed(String),
    FileType(u32),
}

#[derive(Debug, Clone)]
struct CRow {
    target: u32,
    expr: CExpr,
}

#[derive(Debug, Clone)]
enum CExpr {
    Field(u32),
    Lit(String),
    Call(Func, Box<CExpr>),
}

/// The mapping functions ([`FUNCTIONS`]), resolved when the tables are compiled.
#[derive(Debug, Clone, Copy)]
enum Func {
    Basename,
    Dirname,
    Ntpath,
    Regkey,
    Regop,
    Hexdec,
    Hostid,
    Platform,
    Lower,
    Hash(&'static str),
}

impl Func {
    fn of(name: &str) -> Option<Func> {
        Some(match name {
            "basename" => Func::Basename,
            "dirname" => Func::Dirname,
            "ntpath" => Func::Ntpath,
            "regkey" => Func::Regkey,
            "regop" => Func::Regop,
            "hexdec" => Func::Hexdec,
            "hostid" => Func::Hostid,
            "platform" => Func::Platform,
            "lower" => Func::Lower,
            "sha256" => Func::Hash("sha256"),
            "md5" => Func::Hash("md5"),
            "sha1" => Func::Hash("sha1"),
            _ => return None,
        })
    }
}

/// A name's hash for [`Compiled`]'s table: its length and its first and last eight bytes.
fn name_hash(name: &str) -> u64 {
    let b = name.as_bytes();
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        w[..s.len()].copy_from_slice(s);
        u64::from_le_bytes(w)
    };
    let (first, last) = if b.len() >= 8 { (word(&b[..8]), word(&b[b.len() - 8..])) } else { (word(b), 0) };
    let h = (first ^ last.rotate_left(29) ^ (b.len() as u64).rotate_left(57)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 31)
}

impl Compiled {
    fn new(sources: &[SourceMap]) -> Compiled {
        let mut c = Compiled::default();
        c.event_id = c.intern("EventID");
        c.simple = [c.intern("#event_simpleName"), c.intern("event_simpleName")];
        for s in sources {
            let when = s.when.iter().map(|(f, v)| (c.intern(f), v.clone())).collect();
            let events = s
                .events
                .iter()
                .map(|e| CEvent {
                    id: e.id.clone(),
                    name: match &e.name {
                        EventName::Fixed(n) => CName::Fixed(n.clone()),
                        EventName::FileType(f) => CName::FileType(c.intern(f)),
                    },
                    rows: e.rows.iter().map(|r| c.row(r)).collect(),
                })
                .collect();
            let common = s.common.iter().map(|r| c.row(r)).collect();
            c.sources.push(CSource { when, events, common });
        }
        c
    }

    fn row(&mut self, r: &Row) -> CRow {
        CRow { target: self.intern(&r.target), expr: self.expr(&r.expr) }
    }

    fn expr(&mut self, e: &MapExpr) -> CExpr {
        match e {
            MapExpr::Field(f) => CExpr::Field(self.intern(f)),
            MapExpr::Lit(l) => CExpr::Lit(l.clone()),
            // Tables are parsed with their functions checked: an unknown one gives nothing.
            MapExpr::Call(f, a) => match Func::of(f) {
                Some(func) => CExpr::Call(func, Box::new(self.expr(a))),
                None => CExpr::Lit(String::new()),
            },
        }
    }

    /// A name's slot, made when new (the table grows to stay at most half full).
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(s) = self.slot(name) {
            return s as u32;
        }
        let slot = self.names.len() as u32;
        self.names.push(crate::event::intern(name));
        if self.table.len() < 2 * self.names.len() {
            let size = (4 * self.names.len()).next_power_of_two();
            self.table = vec![(0, u32::MAX); size];
            let hashes: Vec<u64> = self.names.iter().map(|n| name_hash(n)).collect();
            for (i, h) in hashes.into_iter().enumerate() {
                self.place(h, i as u32);
            }
        } else {
            self.place(name_hash(name), slot);
        }
        slot
    }

    fn place(&mut self, h: u64, slot: u32) {
        let mask = self.table.len() - 1;
        let mut i = h as usize & mask;
        while self.table[i].1 != u32::MAX {
            i = (i + 1) & mask;
        }
        self.table[i] = (h, slot);
    }

    /// Append the name in `slot` with its value, when the event lacks it (its position noted).
    fn put(&self, ev: &mut Event, at: &mut [u32], slot: u32, v: Value) {
        if at[slot as usize] == NONE {
            at[slot as usize] = ev.len() as u32;
            ev.push(self.names[slot as usize].clone(), v);
        }
    }

    /// The slot of a name the tables read or write.
    #[inline]
    fn slot(&self, name: &str) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let h = name_hash(name);
        let mut i = h as usize & mask;
        loop {
            let (eh, slot) = self.table[i];
            if slot == u32::MAX {
                return None;
            }
            if eh == h && *self.names[slot as usize] == *name {
                return Some(slot as usize);
            }
            i = (i + 1) & mask;
        }
    }
}

/// A table's rows over an event whose names' positions are `at`: a row whose target the event
/// has is passed over; one whose value is there appends it (and its position).
fn run_rows(rows: &[CRow], c: &Compiled, ev: &mut Event, at: &mut [u32]) {
    for r in rows {
        if at[r.target as usize] != NONE {
            continue;
        }
        if let Some(v) = run_expr(&r.expr, ev, at).map(std::borrow::Cow::into_owned) {
            c.put(ev, at, r.target, Value::Str(v));
        }
    }
}

fn run_expr<'a>(e: &'a CExpr, ev: &'a Event, at: &[u32]) -> Option<std::borrow::Cow<'a, str>> {
    use std::borrow::Cow;
    match e {
        // Windows writes `-` for "no value": it does not count as one.
        CExpr::Field(f) => value(ev, at, *f).map(Value::as_str).filter(|s| s != "-" && !s.is_empty()),
        CExpr::Lit(s) => Some(Cow::Borrowed(s)),
        CExpr::Call(f, arg) => {
            let a = run_expr(arg, ev, at)?;
            f.apply(&a).map(Cow::Owned)
        }
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

/// Mapping functions.
pub fn call(f: &str, a: &str) -> Option<String> {
    Func::of(f)?.apply(a)
}

impl Func {
    fn apply(self, a: &str) -> Option<String> {
        Some(match self {
            Func::Basename => a.rsplit(['\\', '/']).next().unwrap_or(a).to_string(),
            Func::Dirname => match a.rfind(['\\', '/']) {
                Some(i) => a[..=i].to_string(),
                None => String::new(),
            },
            Func::Ntpath => ntpath(a),
            Func::Regkey => regkey(a),
            Func::Regop => match a {
                "SetValue" => "1",
                "DeleteValue" => "2",
                "CreateKey" => "3",
                "DeleteKey" => "4",
                "RenameKey" => "7",
                _ => return None,
            }
            .to_string(),
            Func::Hexdec => {
                let t = a.trim();
                let h = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
                u64::from_str_radix(h, 16).ok()?.to_string()
            }
            Func::Hostid => hostid(a),
            Func::Platform => if a.starts_with("Linux") { "Lin" } else { "Win" }.to_string(),
            Func::Lower => a.to_lowercase(),
            Func::Hash(h) => hash_part(a, h)?,
        })
    }
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
        assert_eq!(Mappings::builtin().sources().len(), BUILTIN.len());
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

    /// [`Mappings::apply`] as the tables read before they were compiled: one search of the
    /// event's fields per row.
    fn reference(m: &Mappings, ev: &mut Event) -> Option<String> {
        fn eval(e: &MapExpr, ev: &Event) -> Option<String> {
            match e {
                MapExpr::Field(f) => ev.get_str(f).filter(|s| s != "-" && !s.is_empty()).map(|s| s.into_owned()),
                MapExpr::Lit(s) => Some(s.clone()),
                MapExpr::Call(f, a) => call(f, &eval(a, ev)?),
            }
        }
        fn rows(rows: &[Row], ev: &mut Event) {
            for r in rows {
                if !ev.has(&r.target) {
                    if let Some(v) = eval(&r.expr, ev) {
                        ev.push(r.target.clone(), Value::Str(v));
                    }
                }
            }
        }
        let src = m.sources().iter().find(|s| {
            s.when.iter().any(|(f, v)| {
                ev.get_str(f).is_some_and(|x| match v.strip_suffix('*') {
                    Some(prefix) => x.starts_with(prefix),
                    None => x == *v,
                })
            })
        })?;
        let id = ev.get_str("EventID").map(|s| s.into_owned()).unwrap_or_default();
        if let Some(em) = src.events.iter().find(|e| e.id == id) {
            let name = match &em.name {
                EventName::Fixed(n) => Some(n.clone()),
                EventName::FileType(f) => ev.get_str(f).map(|p| file_event_name(&p).to_string()),
            };
            if let Some(n) = name {
                for k in ["#event_simpleName", "event_simpleName"] {
                    if !ev.has(k) {
                        ev.push(k, Value::Str(n.clone()));
                    }
                }
            }
            rows(&em.rows, ev);
        }
        rows(&src.common, ev);
        Some(src.source.clone())
    }

    /// The compiled tables make the events the tables say, field for field and in order: over
    /// events drawn from the names the shipped tables read and write, in any order, some
    /// repeated (the first counts), some already mapped (left alone), some `-` or empty.
    #[test]
    fn compiled_tables_map_as_the_tables_read() {
        let m = Mappings::builtin();
        let mut names: Vec<String> = m.inputs();
        for s in m.sources() {
            for r in s.common.iter().chain(s.events.iter().flat_map(|e| &e.rows)) {
                names.push(r.target.to_string());
            }
        }
        names.extend(["#event_simpleName", "Other", "event_simpleName"].map(String::from));
        names.sort();
        names.dedup();
        let mut ids: Vec<String> = m.sources().iter().flat_map(|s| s.events.iter().map(|e| e.id.clone())).collect();
        ids.push("9999".into());
        let whens: Vec<(String, String)> = m
            .sources()
            .iter()
            .flat_map(|s| {
                s.when.iter().map(|(f, v)| (f.clone(), v.strip_suffix('*').map_or(v.clone(), |p| format!("{p}x"))))
            })
            .collect();
        let values = [
            "C:\\Windows\\System32\\cmd.exe",
            "-",
            "",
            "HKLM\\SOFTWARE\\x",
            "0x1f",
            "SHA256=AB,MD5=CD",
            "w.aspx",
            "Linux",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut mapped = 0;
        for _ in 0..3000 {
            let mut ev = Event::new();
            let (f, v) = &whens[next(whens.len())];
            ev.push(f.clone(), Value::Str(v.clone()));
            ev.push("EventID", Value::Str(ids[next(ids.len())].clone()));
            for _ in 0..next(30) {
                let name = names[next(names.len())].clone();
                ev.push(name, Value::Str(values[next(values.len())].to_string()));
            }
            if next(4) == 0 {
                ev.push(f.clone(), Value::Str("other".into()));
            }
            let (mut got, mut want) = (ev.clone(), ev.clone());
            let (a, b) = (m.apply(&mut got).map(str::to_string), reference(&m, &mut want));
            assert_eq!(a, b, "{ev:?}");
            let fields = |e: &Event| e.fields().map(|(k, v)| format!("{k}={}", v.as_str())).collect::<Vec<_>>();
            assert_eq!(fields(&got), fields(&want), "{ev:?}");
            mapped += usize::from(got.len() > ev.len());
        }
        assert!(mapped > 1000, "{mapped} events mapped");
    }

    #[test]
    fn bad_tables_say_where() {
        assert!(parse("source x\nevent 1 A\n  B = nosuch(C)\n", "t.map")
            .unwrap_err()
            .contains("t.map:3: unknown mapping function"));
        assert!(parse("event 1 A\n", "t.map").unwrap_err().contains("no `source`"));
    }
}
