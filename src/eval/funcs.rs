//! Per-event functions (transforms): `eval`, `if`, `lower`, `format`, `replace`, `rename`,
//! `match()` lookups, … Each is built once from its bound call.

use super::args::Args;
use super::expr::{self, X};
use super::{Ctx, Expand, Node, Transform};
use crate::event::{format_num, Event, Value};
use crate::plan::ir;
use crate::plan::rx::{self, Rx};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;

/// Filter-category functions that cqlhunt runs as transforms (they enrich as well as filter).
pub fn is_filter_transform(name: &str) -> bool {
    matches!(name, "match" | "join")
}

struct Fn1<F: Fn(&mut Event, &Ctx) -> bool + Send>(F);

impl<F: Fn(&mut Event, &Ctx) -> bool + Send> Transform for Fn1<F> {
    fn apply(&self, ev: &mut Event, ctx: &Ctx) -> bool {
        (self.0)(ev, ctx)
    }
}

fn t<F: Fn(&mut Event, &Ctx) -> bool + Send + 'static>(f: F) -> Result<Node, String> {
    Ok(Node::Transform(Box::new(Fn1(f))))
}

/// Build a transform (or expanding) node for a call.
pub fn build(c: &ir::Call, ctx: &Arc<Ctx>) -> Result<Node, String> {
    let a = Args::new(c)?;
    let name = c.name.as_str();
    match name {
        "eval" => {
            let mut sets = Vec::new();
            for (n, e) in &c.args {
                sets.push((n.clone(), expr::build(e, ctx)?));
            }
            t(move |ev, ctx| {
                for (n, x) in &sets {
                    if let Some(v) = x.eval(ev, ctx) {
                        ev.set(n, v);
                    }
                }
                true
            })
        }
        "if" => {
            let cond = expr::build(a.get("condition").ok_or("if() needs a condition")?, ctx)?;
            let then = expr::build(a.get("then").ok_or("if() needs then=")?, ctx)?;
            let els = expr::build(a.get("else").ok_or("if() needs else=")?, ctx)?;
            let out = a.as_field("_if");
            t(move |ev, ctx| {
                // A null condition takes the else branch (cql.md §4.7).
                let c = cond.eval(ev, ctx).is_some_and(|v| v.truthy());
                if let Some(v) = if c { then.eval(ev, ctx) } else { els.eval(ev, ctx) } {
                    ev.set(&out, v);
                }
                true
            })
        }
        "default" => {
            let fields = a.names("field");
            let value = a.need("value")?;
            let replace_empty = a.bool("replaceEmpty", false);
            t(move |ev, _| {
                for f in &fields {
                    let missing = match ev.get(f) {
                        None => true,
                        Some(v) => replace_empty && v.is_empty(),
                    };
                    if missing {
                        ev.set(f, Value::Str(value.clone()));
                    }
                }
                true
            })
        }
        "coalesce" => {
            let items: Vec<X> = a
                .get("expressions")
                .ok_or("coalesce() needs expressions")?
                .items()
                .into_iter()
                .map(|e| expr::build(e, ctx))
                .collect::<Result<_, _>>()?;
            let ignore_empty = a.bool("ignoreEmpty", true);
            let out = a.as_field("_coalesce");
            t(move |ev, ctx| {
                let v = items.iter().filter_map(|x| x.eval(ev, ctx)).find(|v| !(ignore_empty && v.is_empty()));
                if let Some(v) = v {
                    ev.set(&out, v);
                }
                true
            })
        }
        "lower" | "upper" | "length" => {
            let field = a.need("field")?;
            let out = a.as_field(&format!("_{name}"));
            let kind = expr::FieldFn::named(name).ok_or("a function of one field")?;
            t(move |ev, _| {
                if let Some(v) = ev.get_str(&field) {
                    let r = kind.apply(&v);
                    ev.set(&out, r);
                }
                true
            })
        }
        "concat" => {
            let fields = a.names("field");
            let out = a.as_field("_concat");
            t(move |ev, _| {
                let mut s = String::new();
                for f in &fields {
                    if let Some(v) = ev.get_str(f) {
                        s.push_str(&v);
                    }
                }
                ev.set(&out, Value::Str(s));
                true
            })
        }
        "format" => {
            let fmt = a.need("format")?;
            let fields = a.names("field");
            let out = a.as_field("_format");
            t(move |ev, _| {
                let vals: Vec<Option<Value>> = fields.iter().map(|f| ev.get(f).cloned()).collect();
                if let Some(s) = printf(&fmt, &vals) {
                    ev.set(&out, Value::Str(s));
                }
                true
            })
        }
        "formatTime" => {
            let fmt = a.need("format")?;
            let out = a.need("as")?;
            let field = a.text_or("field", "@timestamp");
            let tz = a.text_or("timezone", "UTC");
            let offset = super::time::tz_offset_minutes(&tz)?;
            let unit = a.text_or("unit", "auto");
            t(move |ev, _| {
                if let Some(n) = ev.get(&field).and_then(Value::as_num) {
                    let ms = match unit.as_str() {
                        "milliseconds" => n,
                        "seconds" => n * 1000.0,
                        // auto: up to 100,000,000,000 is seconds, above is milliseconds.
                        _ => {
                            if n.abs() <= 1e11 {
                                n * 1000.0
                            } else {
                                n
                            }
                        }
                    };
                    ev.set(&out, Value::Str(super::time::strftime(&fmt, ms, offset)));
                }
                true
            })
        }
        "now" => {
            let out = a.as_field("_now");
            let now = ctx.now_ms;
            t(move |ev, _| {
                ev.set(&out, Value::Num(now));
                true
            })
        }
        "replace" => {
            let pattern = a.need("regex")?;
            let with = a.text("with").unwrap_or_default();
            let field = a.text_or("field", "@rawstring");
            let out = a.text("as").unwrap_or_else(|| field.clone());
            let flags = a.text_or("flags", "m");
            let rx = rx::compile(&pattern, &flags, &format!("replace(\"{pattern}\")"))?;
            let with = java_replacement(&with);
            t(move |ev, ctx| {
                if let Some(v) = ev.get_str(&field).map(|s| s.into_owned()) {
                    match rx.replace_all(&v, &with) {
                        Ok(r) => ev.set(&out, Value::Str(r)),
                        Err(e) => ctx.fail(e.to_string()),
                    }
                }
                true
            })
        }
        "splitString" => {
            let field = a.text_or("field", "@rawstring");
            let by = a.need("by")?;
            let index = a.num("index", f64::MAX).map(|n| n as i64);
            let out = a.as_field("_splitstring");
            let rx = rx::compile(&by, "", &format!("splitString(by=\"{by}\")"))?;
            t(move |ev, _| {
                if let Some(v) = ev.get_str(&field).map(|s| s.into_owned()) {
                    let parts = rx.split(&v);
                    match index {
                        Some(i) => {
                            let i = if i < 0 { parts.len() as i64 + i } else { i };
                            if let Some(p) = usize::try_from(i).ok().and_then(|i| parts.get(i)) {
                                ev.set(&out, Value::Str(p.clone()));
                            }
                        }
                        None => {
                            for (i, p) in parts.into_iter().enumerate() {
                                ev.set(&format!("{out}[{i}]"), Value::Str(p));
                            }
                        }
                    }
                }
                true
            })
        }
        "rename" => {
            let pairs: Vec<(String, String)> = match a.get("field") {
                Some(ir::Expr::Array(items)) if items.iter().all(|i| matches!(i, ir::Expr::Array(_))) => items
                    .iter()
                    .filter_map(|i| {
                        let n = i.names();
                        (n.len() == 2).then(|| (n[0].clone(), n[1].clone()))
                    })
                    .collect(),
                _ => vec![(a.need("field")?, a.need("as")?)],
            };
            t(move |ev, _| {
                for (old, new) in &pairs {
                    if let Some(v) = ev.remove(old) {
                        ev.set(new, v);
                    }
                }
                true
            })
        }
        "drop" => {
            let fields = a.names("fields");
            t(move |ev, _| {
                ev.retain(|k| !fields.iter().any(|f| f == k));
                true
            })
        }
        "select" => {
            let fields = a.names("fields");
            t(move |ev, _| {
                *ev = ev.project(&fields);
                true
            })
        }
        "parseJson" => {
            let field = a.text_or("field", "@rawstring");
            let opts = JsonOpts {
                prefix: a.text("prefix").unwrap_or_default(),
                exclude: a.get("exclude").map(|e| e.names()).unwrap_or_default(),
                include: a.get("include").map(|e| e.names()).unwrap_or_default(),
                exclude_empty: a.bool("excludeEmpty", false),
                nulls: match a.text_or("handleNull", "keep").as_str() {
                    "keep" => Some("null"),
                    "empty" => Some(""),
                    "discard" => None,
                    other => return Err(format!("parseJson(): handleNull={other} is not keep, empty or discard")),
                },
            };
            t(move |ev, _| {
                if let Some(v) = ev.get_str(&field).map(|s| s.into_owned()) {
                    // Text that is not JSON leaves the event unchanged.
                    if let Ok(j) = serde_json::from_str::<serde_json::Value>(&v) {
                        let mut flat = Vec::new();
                        flatten_json(&opts, "", &j, &mut flat);
                        for (k, v) in flat {
                            if opts.keep(&k, &v) {
                                ev.set(&k, v);
                            }
                        }
                    }
                }
                true
            })
        }
        "kvParse" => {
            let field = a.text_or("field", "@rawstring");
            let sep = a.text_or("separator", "=");
            let over = a.bool("override", false);
            let prefix = a.text("prefix").unwrap_or_default();
            t(move |ev, _| {
                if let Some(v) = ev.get_str(&field).map(|s| s.into_owned()) {
                    for (k, val) in kv_pairs(&v, &sep) {
                        let k = format!("{prefix}{k}");
                        if over || !ev.has(&k) {
                            ev.set(&k, Value::Str(val));
                        }
                    }
                }
                true
            })
        }
        "match" => lookup(&a, ctx),
        "join" => super::join::join(&a, ctx),
        "selfJoinFilter" => super::join::self_join_filter(&a, ctx),
        "defineTable" => super::join::define_table(&a, ctx),
        "array:filter" => array_filter(&a, ctx),
        "split" => {
            let field = a.text_or("field", "_events");
            Ok(Node::Expand(Box::new(Split { field, strip: a.bool("strip", false) })))
        }
        "regex" => {
            let pattern = a.need("regex")?;
            let flags: String = a.text_or("flags", "m").chars().filter(|c| *c != 'g').collect();
            let rx = rx::compile(&pattern, &flags, &format!("regex(\"{pattern}\")"))?;
            let (limit, _) = a.limit("limit", 100, 1_000_000)?;
            Ok(Node::Expand(Box::new(RegexRepeat {
                rx: Arc::new(rx),
                field: a.text_or("field", "@rawstring"),
                strict: a.bool("strict", true),
                limit,
            })))
        }
        _ => Err(format!("{name}() is not supported yet by cqlhunt's evaluator")),
    }
}

/// `regex(…, repeat=true)`: one event per match.
struct RegexRepeat {
    rx: Arc<Rx>,
    field: String,
    strict: bool,
    limit: usize,
}

impl Expand for RegexRepeat {
    fn expand(&self, ev: Event, ctx: &Ctx, out: &mut Vec<Event>) {
        let Some(s) = ev.get_str(&self.field).map(|s| s.into_owned()) else {
            if !self.strict {
                out.push(ev);
            }
            return;
        };
        match self.rx.captures_all(&s, self.limit) {
            Ok(all) if all.is_empty() => {
                if !self.strict {
                    out.push(ev);
                }
            }
            Ok(all) => {
                for groups in all {
                    let mut e = ev.clone();
                    for (k, v) in groups {
                        e.set(&k, Value::Str(v));
                    }
                    out.push(e);
                }
            }
            Err(e) => ctx.fail(e.to_string()),
        }
    }
}

/// `split(field)`: one event per element of the array `field[0]`, `field[1]`, … (elements
/// may be objects: `field[0].x` becomes `field.x`, or `x` with `strip=true`), each with its
/// position in `_index`.
struct Split {
    field: String,
    strip: bool,
}

impl Expand for Split {
    fn expand(&self, ev: Event, _ctx: &Ctx, out: &mut Vec<Event>) {
        let f = &self.field;
        let prefix = format!("{f}[");
        // index → [(rest of the name after `]`, value)]
        let mut items: Vec<Vec<(String, Value)>> = Vec::new();
        for (k, v) in ev.fields() {
            let Some(after) = k.strip_prefix(&prefix) else { continue };
            let Some((n, rest)) = after.split_once(']') else { continue };
            let Ok(n) = n.parse::<usize>() else { continue };
            if items.len() <= n {
                items.resize_with(n + 1, Vec::new);
            }
            items[n].push((rest.to_string(), v.clone()));
        }
        // An array ends at its first gap.
        let len = items.iter().position(Vec::is_empty).unwrap_or(items.len());
        if len == 0 {
            out.push(ev);
            return;
        }
        let mut base = ev.clone();
        base.retain(|k| !(k.starts_with(&prefix)));
        let id = base.get_str("@id").map(|s| s.into_owned());
        for (i, fields) in items.into_iter().take(len).enumerate() {
            let mut e = base.clone();
            for (rest, v) in fields {
                let name = if rest.is_empty() {
                    f.clone()
                } else if self.strip {
                    rest.trim_start_matches('.').to_string()
                } else {
                    format!("{f}{rest}")
                };
                e.set(&name, v);
            }
            if let Some(id) = &id {
                e.set("@id", Value::Str(format!("{id}__{i}")));
            }
            e.set("_index", Value::Num(i as f64));
            out.push(e);
        }
    }
}

/// `parseJson()` options.
struct JsonOpts {
    prefix: String,
    exclude: Vec<String>,
    include: Vec<String>,
    exclude_empty: bool,
    /// What a JSON `null` becomes (`None`: no field).
    nulls: Option<&'static str>,
}

/// Whether `name` is `path` or inside it (`a.b` holds `a.b.c` and `a.b[0]`); `[*]` in the
/// path matches any index.
fn json_path_covers(path: &str, name: &str) -> bool {
    let g = ir::Glob::new(path, false);
    g.matches(name)
        || ir::Glob::new(&format!("{path}.*"), false).matches(name)
        || ir::Glob::new(&format!("{path}[*"), false).matches(name)
}

impl JsonOpts {
    fn keep(&self, name: &str, v: &Value) -> bool {
        if self.exclude_empty && v.is_empty() {
            return false;
        }
        let excluded = self.exclude.iter().any(|p| json_path_covers(p, name));
        !excluded || self.include.iter().any(|p| json_path_covers(p, name))
    }
}

/// Flatten JSON the way `parseJson()` names fields: `prefix` + `a.b`, `c[0]`; scalars as
/// written; `null` per `handleNull`.
fn flatten_json(o: &JsonOpts, path: &str, v: &serde_json::Value, out: &mut Vec<(String, Value)>) {
    let name = |p: &str| format!("{}{p}", o.prefix);
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                flatten_json(o, &p, v, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten_json(o, &format!("{path}[{i}]"), v, out);
            }
        }
        serde_json::Value::String(s) => out.push((name(path), Value::Str(s.clone()))),
        serde_json::Value::Number(n) => out.push((name(path), Value::Str(n.to_string()))),
        serde_json::Value::Bool(b) => out.push((name(path), Value::Str(b.to_string()))),
        serde_json::Value::Null => {
            if let Some(x) = o.nulls {
                out.push((name(path), Value::Str(x.to_string())));
            }
        }
    }
}

/// Java-style `$1` / `${name}` in a replacement are the same in the `regex` crate, except that
/// `$1a` must be written `${1}a` there.
fn java_replacement(s: &str) -> String {
    let mut out = String::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '\\' && i + 1 < b.len() {
            if b[i + 1] == '$' {
                out.push_str("$$");
            } else {
                out.push(b[i + 1]);
            }
            i += 2;
            continue;
        }
        if b[i] == '$' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            out.push_str(&format!("${{{}}}", b[i + 1..j].iter().collect::<String>()));
            i = j;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `key=value` pairs separated by spaces, commas or semicolons; values may be quoted.
pub fn kv_pairs(s: &str, sep: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(sep) {
        let key_part = &rest[..i];
        let key = key_part.rsplit(|c: char| c.is_whitespace() || c == ',' || c == ';').next().unwrap_or("").trim();
        let after = &rest[i + sep.len()..];
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(j) => (q[..j].to_string(), &q[j + 1..]),
                None => (q.to_string(), ""),
            }
        } else {
            let end = after.find(|c: char| c.is_whitespace() || c == ',' || c == ';').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '#')) {
            out.push((key.to_string(), val));
        }
        rest = next;
    }
    out
}

/// printf subset: `%s %d %i %f %.Nf %x %X %%`, with width and `-` flag.
pub fn printf(fmt: &str, vals: &[Option<Value>]) -> Option<String> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut i = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if it.peek() == Some(&'%') {
            it.next();
            out.push('%');
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = it.peek() {
            if d.is_ascii_digit() || matches!(d, '.' | '-' | '+' | ',' | ' ' | '0') {
                spec.push(d);
                it.next();
            } else {
                break;
            }
        }
        let conv = it.next()?;
        let v = vals.get(i).cloned().flatten();
        i += 1;
        let left = spec.starts_with('-');
        let spec_t = spec.trim_start_matches(['-', '+', ',', ' ']);
        let (width, prec) = match spec_t.split_once('.') {
            Some((w, p)) => (w.parse::<usize>().ok(), p.parse::<usize>().ok()),
            None => (spec_t.parse::<usize>().ok(), None),
        };
        let body = match conv {
            's' => v.map(|v| expr::text(&v)).unwrap_or_else(|| "null".to_string()),
            'd' | 'i' => format_num(v.and_then(|v| v.as_num())?.trunc()),
            'f' => format!("{:.*}", prec.unwrap_or(6), v.and_then(|v| v.as_num())?),
            'x' => format!("{:x}", v.and_then(|v| v.as_num())? as i64),
            'X' => format!("{:X}", v.and_then(|v| v.as_num())? as i64),
            'e' => format!("{:e}", v.and_then(|v| v.as_num())?),
            _ => return None,
        };
        let w = width.unwrap_or(0);
        if body.chars().count() < w {
            let pad = " ".repeat(w - body.chars().count());
            if left {
                out.push_str(&body);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    Some(out)
}

/// `match(file=…)`: look the field's value up in a CSV or JSON file (relative to the lookup
/// directory) or a `defineTable()` table; add the `include` columns; `strict=false` keeps
/// events without a match.
fn lookup(a: &Args<'_>, ctx: &Arc<Ctx>) -> Result<Node, String> {
    let file = a.text("file").or_else(|| a.text("table")).ok_or("match() needs file=")?;
    let fields = a.names("field");
    if fields.is_empty() {
        return Err("match() needs field=".to_string());
    }
    let columns = if a.get("column").is_some() { a.names("column") } else { fields.clone() };
    if columns.len() != fields.len() {
        return Err(format!("match(): field= names {} fields but column= names {}", fields.len(), columns.len()));
    }
    let mode = if a.bool("glob", false) { "glob".to_string() } else { a.text_or("mode", "string") };
    if !matches!(mode.as_str(), "string" | "glob" | "cidr") {
        return Err(format!("match(mode={mode}) is not a mode (string, glob, cidr)"));
    }
    if mode != "string" && fields.len() > 1 {
        return Err(format!("match(mode={mode}) takes one field"));
    }
    // A table of this query is read when first needed (after the prepass that builds it);
    // a file is read now, so that a missing file is an error before any input is read.
    let source = if super::depend_on_table(ctx, &file) {
        Source::Table(file)
    } else {
        Source::Rows(load_table(&ctx.lookup_dir.join(&file))?)
    };
    let include = a.get("include").map(|e| e.names());
    let l = Lookup {
        source: Mutex::new(source),
        fields,
        columns,
        include,
        strict: a.bool("strict", true),
        ignore_case: a.bool("ignoreCase", false),
        mode,
        index: Mutex::new(None),
    };
    Ok(Node::Transform(Box::new(l)))
}

enum Source {
    Rows(Vec<Event>),
    Table(String),
}

/// A lookup table indexed for one mode.
enum Index {
    Exact(HashMap<Vec<String>, Event>),
    Glob(Vec<(ir::Glob, Event)>),
    Cidr(Vec<((std::net::IpAddr, u8), Event)>),
}

struct Lookup {
    source: Mutex<Source>,
    fields: Vec<String>,
    columns: Vec<String>,
    include: Option<Vec<String>>,
    strict: bool,
    ignore_case: bool,
    mode: String,
    /// (index, the columns added to matching events)
    index: Mutex<Option<(Index, Vec<String>)>>,
}

impl Lookup {
    fn key(&self, s: &str) -> String {
        if self.ignore_case {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    }

    fn build_index(&self, ctx: &Ctx) -> (Index, Vec<String>) {
        let rows = match &mut *super::lock(&self.source) {
            Source::Rows(r) => std::mem::take(r),
            Source::Table(name) => ctx.table(name).unwrap_or_default(),
        };
        // Default: "all columns from the corresponding row" (F:match), key columns included.
        let include = match &self.include {
            Some(i) => i.clone(),
            None => {
                let mut cols: Vec<String> = Vec::new();
                for r in &rows {
                    for (k, _) in r.fields() {
                        if !cols.iter().any(|c| c == k) {
                            cols.push(k.to_string());
                        }
                    }
                }
                cols
            }
        };
        let col = &self.columns[0];
        let index = match self.mode.as_str() {
            "glob" => Index::Glob(
                rows.into_iter()
                    .filter_map(|r| r.get_str(col).map(|p| ir::Glob::new(&p, self.ignore_case)).map(|g| (g, r)))
                    .collect(),
            ),
            "cidr" => Index::Cidr(
                rows.into_iter()
                    .filter_map(|r| r.get_str(col).and_then(|p| super::filter::parse_cidr(&p).ok()).map(|n| (n, r)))
                    .collect(),
            ),
            _ => {
                let mut map: HashMap<Vec<String>, Event> = HashMap::new();
                for r in rows {
                    let k: Option<Vec<String>> =
                        self.columns.iter().map(|c| r.get_str(c).map(|s| self.key(&s))).collect();
                    if let Some(k) = k {
                        // The first row with a key wins (docs/semantics.md).
                        map.entry(k).or_insert(r);
                    }
                }
                Index::Exact(map)
            }
        };
        (index, include)
    }
}

impl Transform for Lookup {
    fn apply(&self, ev: &mut Event, ctx: &Ctx) -> bool {
        let mut guard = super::lock(&self.index);
        let (index, include) = guard.get_or_insert_with(|| self.build_index(ctx));
        let hit = match index {
            Index::Exact(map) => {
                let k: Option<Vec<String>> = self.fields.iter().map(|f| ev.get_str(f).map(|s| self.key(&s))).collect();
                k.and_then(|k| map.get(&k))
            }
            Index::Glob(globs) => {
                ev.get_str(&self.fields[0]).and_then(|v| globs.iter().find(|(g, _)| g.matches(&v)).map(|(_, r)| r))
            }
            Index::Cidr(nets) => {
                let ip = ev.get_str(&self.fields[0]).and_then(|s| s.trim().parse::<std::net::IpAddr>().ok());
                // The most specific subnet wins.
                ip.and_then(|ip| {
                    nets.iter().filter(|(n, _)| super::filter::in_net(ip, *n)).max_by_key(|(n, _)| n.1).map(|(_, r)| r)
                })
            }
        };
        match hit {
            Some(r) => {
                let r = r.clone();
                for c in include.iter() {
                    if let Some(v) = r.get(c) {
                        ev.set(c, v.clone());
                    }
                }
                true
            }
            None => !self.strict,
        }
    }
}

/// `array:filter(array="a[]", function={…}, var=x, asArray="b[]")`: keep the elements for
/// which the function (run on the event with the element in field `var`) passes; the output
/// array is compacted (indexes 0, 1, …).
fn array_filter(a: &Args<'_>, ctx: &Arc<Ctx>) -> Result<Node, String> {
    let array = a.need("array")?;
    let base = array.trim_end_matches("[]").to_string();
    let out = a.text("asArray").unwrap_or_else(|| array.clone());
    let out = out.trim_end_matches("[]").to_string();
    let var = a.text("var").unwrap_or_else(|| array.clone());
    let p = super::join::sub_pipeline(a.get("function"), "array:filter(function=…)")?;
    let chain = Mutex::new(super::build(&p, ctx)?);
    t(move |ev, ctx| {
        let items: Vec<Value> = (0..).map_while(|i| ev.get(&format!("{base}[{i}]")).cloned()).collect();
        if items.is_empty() {
            return true;
        }
        let mut kept = Vec::new();
        for v in items {
            let mut tmp = ev.clone();
            tmp.set(&var, v.clone());
            let mut res = Vec::new();
            super::push(&mut super::lock(&chain), tmp, ctx, &mut res);
            if !res.is_empty() {
                kept.push(v);
            }
        }
        let prefix = format!("{out}[");
        ev.retain(|k| !(k.starts_with(&prefix) && k[prefix.len()..].trim_end_matches(']').parse::<usize>().is_ok()));
        for (i, v) in kept.into_iter().enumerate() {
            ev.set(&format!("{out}[{i}]"), v);
        }
        true
    })
}

/// Load a lookup file: CSV with a header row, or JSON (an array of objects, or NDJSON).
pub fn load_table(path: &std::path::Path) -> Result<Vec<Event>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("lookup file {}: {e}", path.display()))?;
    let trimmed = text.trim_start();
    let mut rows = Vec::new();
    if trimmed.starts_with('[') {
        let v: serde_json::Value =
            serde_json::from_str(trimmed).map_err(|e| format!("lookup file {}: {e}", path.display()))?;
        for item in v.as_array().into_iter().flatten() {
            let mut flat = Vec::new();
            crate::read::flatten_json("", item, &mut flat);
            let mut e = Event::new();
            for (k, v) in flat {
                e.set(&k, v);
            }
            rows.push(e);
        }
    } else if trimmed.starts_with('{') {
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("lookup file {}:{}: {e}", path.display(), i + 1))?;
            let mut flat = Vec::new();
            crate::read::flatten_json("", &v, &mut flat);
            let mut e = Event::new();
            for (k, v) in flat {
                e.set(&k, v);
            }
            rows.push(e);
        }
    } else {
        let mut lines = crate::read::csv_records(&text);
        let header = lines.next().ok_or_else(|| format!("lookup file {} is empty", path.display()))?;
        for rec in lines {
            let mut e = Event::new();
            for (k, v) in header.iter().zip(rec) {
                e.set(k, Value::Str(v));
            }
            rows.push(e);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_subset() {
        let v = |s: &str| Some(Value::Str(s.to_string()));
        assert_eq!(printf("%s-%s", &[v("a"), v("b")]).as_deref(), Some("a-b"));
        assert_eq!(printf("%.2f%%", &[v("3.14159")]).as_deref(), Some("3.14%"));
        assert_eq!(printf("%5s|%-3s|", &[v("ab"), v("c")]).as_deref(), Some("   ab|c  |"));
        assert_eq!(printf("%d", &[v("x")]), None);
    }

    #[test]
    fn kv() {
        assert_eq!(
            kv_pairs("a=1 b=\"x y\", c=3", "="),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into()), ("c".into(), "3".into())]
        );
    }

    #[test]
    fn replacement_refs() {
        assert_eq!(java_replacement("$1a"), "${1}a");
        assert_eq!(java_replacement("\\$x"), "$$x");
    }
}
