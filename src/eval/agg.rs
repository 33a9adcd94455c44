//! Aggregates: accumulators that absorb events and emit rows at the end, and that merge
//! (partial results of separate input chunks combine into the result of the whole).

use super::args::Args;
use super::{Chain, Ctx};
use crate::event::{format_num, Event, Value};
use crate::plan::ir;
use std::any::Any;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// An aggregate function's state.
pub trait Agg: Send {
    fn add(&mut self, ev: &Event, ctx: &Ctx);
    /// The result rows (the state is consumed; call once).
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event>;
    /// An empty state of the same function (one per group).
    fn fresh(&self) -> Box<dyn Agg>;
    /// Absorb another state of the same function, built by `fresh`, that saw other events
    /// (which came after this state's events, for order-sensitive functions).
    fn merge(&mut self, other: Box<dyn Agg>);
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    /// Whether `merge` gives the same result as one state that saw every event.
    fn mergeable(&self) -> bool {
        true
    }
    /// The fields it outputs, when known before it runs (to reject clashing names).
    fn outputs(&self) -> Vec<String> {
        Vec::new()
    }
}

fn downcast<T: 'static>(b: Box<dyn Agg>) -> Option<T> {
    b.into_any().downcast::<T>().ok().map(|b| *b)
}

macro_rules! agg_boilerplate {
    () => {
        fn into_any(self: Box<Self>) -> Box<dyn Any> {
            self
        }
    };
}

fn row1(name: &str, v: Value) -> Vec<Event> {
    let mut e = Event::new();
    e.set(name, v);
    vec![e]
}

/// Build an aggregate from a call.
pub fn build(c: &ir::Call, ctx: &Arc<Ctx>) -> Result<Box<dyn Agg>, String> {
    let a = Args::new(c)?;
    Ok(match c.name.as_str() {
        "count" => Box::new(Count {
            field: a.text("field"),
            distinct: a.bool("distinct", false),
            out: a.as_field("_count"),
            n: 0,
            seen: HashSet::new(),
        }),
        "sum" | "min" | "max" | "avg" => Box::new(Num {
            kind: c.name.clone(),
            field: a.need("field")?,
            out: a.as_field(&format!("_{}", c.name)),
            sum: 0.0,
            n: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }),
        "stats" => {
            let parts = sub_aggs(a.get("function"), ctx)?;
            Box::new(Stats { parts: if parts.is_empty() { vec![default_count()] } else { parts } })
        }
        "groupBy" => {
            let keys = a.names("field");
            if keys.is_empty() {
                return Err("groupBy() needs at least one field".to_string());
            }
            let mut protos = sub_aggs(a.get("function"), ctx)?;
            if a.get("function").is_none() {
                protos = vec![default_count()];
            }
            let (limit, default_limit) = a.limit("limit", 20_000, 1_000_000)?;
            Box::new(GroupBy {
                keys,
                protos,
                limit,
                default_limit,
                index: GroupIndex::default(),
                groups: Vec::new(),
                cut: 0,
            })
        }
        "collect" => {
            let fields = a.names("fields");
            let (limit, _) = a.limit("limit", 2000, 1_000_000)?;
            let sep = a.text("separator").unwrap_or_else(|| "\n".to_string());
            Box::new(Collect {
                values: vec![Vec::new(); fields.len()],
                seen: vec![HashSet::new(); fields.len()],
                fields,
                limit,
                sep,
            })
        }
        "top" => {
            let fields = a.names("field");
            let (limit, _) = a.limit("limit", 10, 20_000)?;
            let sum = a.text("sum");
            let max = a.text("max");
            if sum.is_some() && max.is_some() {
                return Err("top(): give sum= or max=, not both".to_string());
            }
            let out = a.as_field(if sum.is_some() {
                "_sum"
            } else if max.is_some() {
                "_max"
            } else {
                "_count"
            });
            let weight = match (sum, max) {
                (Some(f), _) => TopBy::Sum(f),
                (_, Some(f)) => TopBy::Max(f),
                _ => TopBy::Count,
            };
            Box::new(Top {
                fields,
                limit,
                weight,
                out,
                rest: a.text("rest"),
                percent: a.bool("percent", false),
                counts: HashMap::new(),
                order: Vec::new(),
                total: 0.0,
            })
        }
        "selectLast" => Box::new(SelectLast { fields: a.names("fields"), values: HashMap::new(), seq: 0 }),
        "selectFromMax" | "selectFromMin" => Box::new(SelectFrom {
            field: a.need("field")?,
            include: a.names("include"),
            max: c.name == "selectFromMax",
            best: None,
        }),
        "sort" => {
            let fields = a.names("field");
            let fields = if fields.is_empty() { vec!["_count".to_string()] } else { fields };
            let orders = a.names("order");
            let types = a.names("type");
            let (limit, default_limit) = a.limit("limit", 200, 200_000)?;
            Box::new(Sorter::new(fields, orders, types, limit, default_limit, "sort")?)
        }
        "table" => {
            let fields = a.names("fields");
            let (limit, default_limit) = a.limit("limit", 200, 200_000)?;
            let sortby = a.names("sortby");
            let sortby = if sortby.is_empty() { vec!["@timestamp".to_string()] } else { sortby };
            let mut s = Sorter::new(sortby, a.names("order"), a.names("type"), limit, default_limit, "table")?;
            s.project = Some(fields);
            Box::new(s)
        }
        "head" | "tail" => {
            let (limit, default_limit) = a.limit("limit", 200, 200_000)?;
            Box::new(HeadTail { head: c.name == "head", limit, default_limit, rows: Vec::new(), seq: 0, seen: 0 })
        }
        "bucket" | "timeChart" => {
            if a.get("buckets").is_some() && a.get("span").is_none() {
                return Err(format!("{}(buckets=…) is not supported yet; give span=", c.name));
            }
            let span_ms = match a.text("span") {
                Some(s) if s != "auto" => {
                    super::time::parse_span(&s).ok_or_else(|| format!("{}(): `{s}` is not a time span", c.name))?
                }
                _ => 3_600_000.0,
            };
            let series_param = if c.name == "timeChart" { "series" } else { "field" };
            let series = a.names(series_param);
            let mut protos = sub_aggs(a.get("function"), ctx)?;
            if protos.is_empty() {
                protos = vec![default_count()];
            }
            let (limit, default_limit) = a.limit("limit", 10, 500)?;
            Box::new(Bucket {
                span_ms,
                series,
                protos,
                limit,
                default_limit,
                what: if c.name == "timeChart" { "timeChart" } else { "bucket" },
                groups: HashMap::new(),
                order: Vec::new(),
                totals: HashMap::new(),
            })
        }
        "readFile" => {
            let files = a.names("file");
            for f in &files {
                // A table of this query is read after the prepass that builds it; a file must exist.
                if !super::depend_on_table(ctx, f) && !ctx.lookup_dir.join(f).is_file() {
                    return Err(format!("readFile(): no table or lookup file `{f}`"));
                }
            }
            let include = a.get("include").map(|e| e.names());
            let limit = match a.get("limit") {
                Some(_) => Some(a.limit("limit", usize::MAX, usize::MAX)?.0),
                None => None,
            };
            Box::new(ReadFile { files, include, limit, ctx: Arc::clone(ctx) })
        }
        other => return Err(format!("{other}() is not supported yet by cqlhunt's evaluator")),
    })
}

fn default_count() -> Box<dyn Agg> {
    Box::new(Count { field: None, distinct: false, out: "_count".to_string(), n: 0, seen: HashSet::new() })
}

/// The `function=` argument: one aggregate, an array of them, `x := f()`, or `{ subquery }`.
fn sub_aggs(e: Option<&ir::Expr>, ctx: &Arc<Ctx>) -> Result<Vec<Box<dyn Agg>>, String> {
    let Some(e) = e else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for item in e.items() {
        out.push(match item {
            ir::Expr::Call(c) => build(c, ctx)?,
            ir::Expr::Assign(name, inner) => match &**inner {
                ir::Expr::Call(c) => {
                    let mut c = (**c).clone();
                    c.args.retain(|(n, _)| n != "as");
                    c.args.push(("as".to_string(), ir::Expr::Word(name.clone())));
                    build(&c, ctx)?
                }
                _ => return Err("function=[x := …] needs an aggregate call".to_string()),
            },
            ir::Expr::Query(p) => {
                Box::new(SubPipe { plan: (**p).clone(), chain: super::build(p, ctx)?, ctx: Arc::clone(ctx) })
            }
            _ => return Err("function= takes aggregate calls or { subqueries }".to_string()),
        });
    }
    // Two functions writing the same field is an error (stats() docs).
    let mut seen: Vec<String> = Vec::new();
    for a in &out {
        for f in a.outputs() {
            if seen.contains(&f) {
                return Err(format!("two functions output the field `{f}`; give one of them another name with as="));
            }
            seen.push(f);
        }
    }
    Ok(out)
}

// ---- count, sum/min/max/avg ---------------------------------------------------------------

struct Count {
    field: Option<String>,
    distinct: bool,
    out: String,
    n: u64,
    seen: HashSet<String>,
}

impl Agg for Count {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        match &self.field {
            None => self.n += 1,
            Some(f) => {
                if let Some(v) = ev.get(f) {
                    if self.distinct {
                        self.seen.insert(v.as_str().into_owned());
                    } else {
                        self.n += 1;
                    }
                }
            }
        }
    }
    fn finish(&mut self, _: &Ctx) -> Vec<Event> {
        let n = if self.distinct { self.seen.len() as u64 } else { self.n };
        row1(&self.out, Value::Num(n as f64))
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(Count {
            field: self.field.clone(),
            distinct: self.distinct,
            out: self.out.clone(),
            n: 0,
            seen: HashSet::new(),
        })
    }
    fn outputs(&self) -> Vec<String> {
        vec![self.out.clone()]
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<Count>(other) {
            self.n += o.n;
            self.seen.extend(o.seen);
        }
    }
    agg_boilerplate!();
}

struct Num {
    kind: String,
    field: String,
    out: String,
    sum: f64,
    n: u64,
    min: f64,
    max: f64,
}

impl Agg for Num {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        // Values that are not numbers are ignored (docs/semantics.md).
        if let Some(x) = ev.get(&self.field).and_then(Value::as_num) {
            self.sum += x;
            self.n += 1;
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
    }
    fn finish(&mut self, _: &Ctx) -> Vec<Event> {
        let v = match self.kind.as_str() {
            "sum" => Some(self.sum),
            "min" => (self.n > 0).then_some(self.min),
            "max" => (self.n > 0).then_some(self.max),
            _ => (self.n > 0).then(|| self.sum / self.n as f64),
        };
        match v {
            Some(v) => row1(&self.out, Value::Num(v)),
            None => vec![Event::new()],
        }
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(Num {
            kind: self.kind.clone(),
            field: self.field.clone(),
            out: self.out.clone(),
            sum: 0.0,
            n: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        })
    }
    fn outputs(&self) -> Vec<String> {
        vec![self.out.clone()]
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<Num>(other) {
            self.sum += o.sum;
            self.n += o.n;
            self.min = self.min.min(o.min);
            self.max = self.max.max(o.max);
        }
    }
    agg_boilerplate!();
}

// ---- stats: the product of the parts' rows ------------------------------------------------

struct Stats {
    parts: Vec<Box<dyn Agg>>,
}

/// Combine rows of several aggregates: the Cartesian product (usually one row each).
fn product(parts: &mut [Box<dyn Agg>], ctx: &Ctx, base: &Event) -> Vec<Event> {
    let mut rows = vec![base.clone()];
    for p in parts.iter_mut() {
        let prs = p.finish(ctx);
        if prs.is_empty() {
            continue;
        }
        let mut next = Vec::with_capacity(rows.len() * prs.len());
        for r in &rows {
            for pr in &prs {
                let mut e = r.clone();
                for (k, v) in pr.fields() {
                    e.set(k, v.clone());
                }
                next.push(e);
            }
        }
        rows = next;
    }
    rows
}

impl Agg for Stats {
    fn add(&mut self, ev: &Event, ctx: &Ctx) {
        for p in &mut self.parts {
            p.add(ev, ctx);
        }
    }
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event> {
        product(&mut self.parts, ctx, &Event::new())
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(Stats { parts: self.parts.iter().map(|p| p.fresh()).collect() })
    }
    fn mergeable(&self) -> bool {
        self.parts.iter().all(|p| p.mergeable())
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<Stats>(other) {
            for (a, b) in self.parts.iter_mut().zip(o.parts) {
                a.merge(b);
            }
        }
    }
    agg_boilerplate!();
}

// ---- groupBy ------------------------------------------------------------------------------

type Key = Vec<Option<String>>;

/// The groups' index: positions in `groups`, hashed by their key values. The keys come from the
/// data, so the hash has a random key, as `std`'s maps: aHash's (built for HashDoS resistance,
/// and already in the build for the EVTX crate), at a fraction of SipHash's cost on a
/// command line. An event's group is found from its values as the event holds them; a key is
/// copied only for a new group; groups keep the order they were made in, whatever the hash.
#[derive(Default)]
struct GroupIndex {
    table: hashbrown::HashTable<usize>,
    state: ahash::RandomState,
}

fn key_hash<'a>(state: &ahash::RandomState, key: impl Iterator<Item = Option<&'a str>>) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = state.build_hasher();
    for v in key {
        match v {
            None => h.write_u8(0),
            Some(v) => {
                h.write_u8(1);
                h.write_usize(v.len());
                h.write(v.as_bytes());
            }
        }
    }
    h.finish()
}

fn same_key<'a>(key: &Key, mut other: impl Iterator<Item = Option<&'a str>>) -> bool {
    key.iter().all(|k| other.next() == Some(k.as_deref())) && other.next().is_none()
}

struct GroupBy {
    keys: Vec<String>,
    protos: Vec<Box<dyn Agg>>,
    limit: usize,
    default_limit: bool,
    index: GroupIndex,
    groups: Vec<(Key, Vec<Box<dyn Agg>>)>,
    /// Events dropped because their group would exceed the limit.
    cut: u64,
}

impl GroupBy {
    /// The position of a key's group, made when new (`None` past the limit: counted as cut).
    fn slot<'a>(&mut self, key: &[Option<std::borrow::Cow<'a, str>>]) -> Option<usize> {
        let hash = key_hash(&self.index.state, key.iter().map(|v| v.as_deref()));
        let groups = &self.groups;
        if let Some(&i) = self.index.table.find(hash, |&i| same_key(&groups[i].0, key.iter().map(|v| v.as_deref()))) {
            return Some(i);
        }
        if self.groups.len() >= self.limit {
            self.cut += 1;
            return None;
        }
        let i = self.groups.len();
        let owned: Key = key.iter().map(|v| v.as_deref().map(str::to_string)).collect();
        self.insert(hash, owned, self.protos.iter().map(|p| p.fresh()).collect());
        Some(i)
    }

    fn insert(&mut self, hash: u64, key: Key, aggs: Vec<Box<dyn Agg>>) {
        let i = self.groups.len();
        let (groups, state) = (&self.groups, &self.index.state);
        self.index.table.insert_unique(hash, i, |&j| key_hash(state, groups[j].0.iter().map(Option::as_deref)));
        self.groups.push((key, aggs));
    }
}

impl Agg for GroupBy {
    fn add(&mut self, ev: &Event, ctx: &Ctx) {
        // A missing key field does not drop the event: its group has that key absent.
        let key: Vec<_> = self.keys.iter().map(|k| ev.get_str(k)).collect();
        if let Some(i) = self.slot(&key) {
            for a in &mut self.groups[i].1 {
                a.add(ev, ctx);
            }
        }
    }
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event> {
        if self.cut > 0 {
            ctx.warn(format!(
                "groupBy() reached its {}limit of {} groups; {} events in further groups were not counted (set limit= up to 1,000,000, or limit=max)",
                if self.default_limit { "default " } else { "" },
                self.limit,
                self.cut
            ));
        }
        let mut out = Vec::new();
        for (key, aggs) in &mut self.groups {
            let mut base = Event::with_capacity(self.keys.len() + aggs.len());
            for (k, v) in self.keys.iter().zip(key.iter()) {
                if let Some(v) = v {
                    base.set(k, Value::Str(v.clone()));
                }
            }
            out.extend(product(aggs, ctx, &base));
        }
        out
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(GroupBy {
            keys: self.keys.clone(),
            protos: self.protos.iter().map(|p| p.fresh()).collect(),
            limit: self.limit,
            default_limit: self.default_limit,
            index: GroupIndex::default(),
            groups: Vec::new(),
            cut: 0,
        })
    }
    fn mergeable(&self) -> bool {
        self.protos.iter().all(|p| p.mergeable())
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        let Some(o) = downcast::<GroupBy>(other) else { return };
        self.cut += o.cut;
        for (key, aggs) in o.groups {
            let hash = key_hash(&self.index.state, key.iter().map(Option::as_deref));
            let groups = &self.groups;
            match self.index.table.find(hash, |&i| same_key(&groups[i].0, key.iter().map(Option::as_deref))) {
                Some(&i) => {
                    for (a, b) in self.groups[i].1.iter_mut().zip(aggs) {
                        a.merge(b);
                    }
                }
                None if self.groups.len() < self.limit => self.insert(hash, key, aggs),
                None => self.cut += 1,
            }
        }
    }
    agg_boilerplate!();
}

// ---- collect, top, selectLast, selectFromMax/Min --------------------------------------------

struct Collect {
    fields: Vec<String>,
    limit: usize,
    sep: String,
    values: Vec<Vec<String>>,
    seen: Vec<HashSet<String>>,
}

impl Agg for Collect {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(v) = ev.get_str(f) {
                if self.values[i].len() < self.limit && !self.seen[i].contains(v.as_ref()) {
                    self.seen[i].insert(v.to_string());
                    self.values[i].push(v.into_owned());
                }
            }
        }
    }
    fn finish(&mut self, _: &Ctx) -> Vec<Event> {
        let mut e = Event::new();
        for (f, vs) in self.fields.iter().zip(&self.values) {
            if !vs.is_empty() {
                e.set(f, Value::Str(vs.join(&self.sep)));
            }
        }
        vec![e]
    }
    fn fresh(&self) -> Box<dyn Agg> {
        let n = self.fields.len();
        Box::new(Collect {
            fields: self.fields.clone(),
            limit: self.limit,
            sep: self.sep.clone(),
            values: vec![Vec::new(); n],
            seen: vec![HashSet::new(); n],
        })
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<Collect>(other) {
            for (i, vs) in o.values.into_iter().enumerate() {
                for v in vs {
                    if self.values[i].len() < self.limit && self.seen[i].insert(v.clone()) {
                        self.values[i].push(v);
                    }
                }
            }
        }
    }
    agg_boilerplate!();
}

/// What `top()` ranks by.
#[derive(Clone)]
enum TopBy {
    Count,
    Sum(String),
    Max(String),
}

struct Top {
    fields: Vec<String>,
    limit: usize,
    weight: TopBy,
    out: String,
    /// `rest=`: the label of a row holding what the top rows leave out.
    rest: Option<String>,
    percent: bool,
    counts: HashMap<Vec<String>, f64>,
    order: Vec<Vec<String>>,
    total: f64,
}

impl Agg for Top {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        // "An event is not counted if fields are not present."
        let mut key = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            match ev.get_str(f) {
                Some(v) => key.push(v.into_owned()),
                None => return,
            }
        }
        let (w, is_max) = match &self.weight {
            TopBy::Count => (1.0, false),
            TopBy::Sum(f) | TopBy::Max(f) => match ev.get(f).and_then(Value::as_num) {
                Some(x) => (x, matches!(self.weight, TopBy::Max(_))),
                None => return,
            },
        };
        self.combine(key, w, is_max);
    }
    fn finish(&mut self, _: &Ctx) -> Vec<Event> {
        let mut keys: Vec<(usize, &Vec<String>)> = self.order.iter().enumerate().collect();
        keys.sort_by(|a, b| {
            let (ca, cb) = (self.counts[a.1], self.counts[b.1]);
            cb.partial_cmp(&ca).unwrap_or(Ordering::Equal).then(a.0.cmp(&b.0))
        });
        let shown: f64 = keys.iter().take(self.limit).map(|(_, k)| self.counts[*k]).sum();
        let rest = match (&self.rest, &self.weight) {
            (Some(label), TopBy::Count | TopBy::Sum(_)) if keys.len() > self.limit => {
                let mut e = Event::new();
                if let Some(f) = self.fields.first() {
                    e.set(f, Value::Str(label.clone()));
                }
                let c = self.total - shown;
                e.set(&self.out, Value::Num(c));
                if self.percent && self.total > 0.0 {
                    e.set("percent", Value::Num(c * 100.0 / self.total));
                }
                Some(e)
            }
            _ => None,
        };
        let mut rows: Vec<Event> = keys
            .into_iter()
            .take(self.limit)
            .map(|(_, k)| {
                let mut e = Event::new();
                for (f, v) in self.fields.iter().zip(k) {
                    e.set(f, Value::Str(v.clone()));
                }
                let c = self.counts[k];
                e.set(&self.out, Value::Num(c));
                if self.percent && self.total > 0.0 {
                    e.set("percent", Value::Num(c * 100.0 / self.total));
                }
                e
            })
            .collect();
        rows.extend(rest);
        rows
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(Top {
            fields: self.fields.clone(),
            limit: self.limit,
            weight: self.weight.clone(),
            out: self.out.clone(),
            rest: self.rest.clone(),
            percent: self.percent,
            counts: HashMap::new(),
            order: Vec::new(),
            total: 0.0,
        })
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(mut o) = downcast::<Top>(other) {
            let is_max = matches!(self.weight, TopBy::Max(_));
            for k in o.order {
                if let Some(c) = o.counts.remove(&k) {
                    self.combine(k, c, is_max);
                }
            }
        }
    }
    agg_boilerplate!();
}

impl Top {
    /// Add a count or sum (or take a maximum) for a key.
    fn combine(&mut self, key: Vec<String>, w: f64, is_max: bool) {
        self.total += w;
        match self.counts.get_mut(&key) {
            Some(c) => {
                if is_max {
                    *c = c.max(w);
                } else {
                    *c += w;
                }
            }
            None => {
                self.order.push(key.clone());
                self.counts.insert(key, w);
            }
        }
    }
}

struct SelectLast {
    fields: Vec<String>,
    /// field → (timestamp, arrival, value)
    values: HashMap<String, (f64, u64, Value)>,
    seq: u64,
}

impl Agg for SelectLast {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        self.seq += 1;
        let ts = ev.timestamp().unwrap_or(f64::NEG_INFINITY);
        for f in &self.fields {
            if let Some(v) = ev.get(f) {
                let newer = self.values.get(f).is_none_or(|(t, s, _)| (ts, self.seq) >= (*t, *s));
                if newer {
                    self.values.insert(f.clone(), (ts, self.seq, v.clone()));
                }
            }
        }
    }
    fn finish(&mut self, _: &Ctx) -> Vec<Event> {
        let mut e = Event::new();
        for f in &self.fields {
            if let Some((_, _, v)) = self.values.get(f) {
                e.set(f, v.clone());
            }
        }
        vec![e]
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(SelectLast { fields: self.fields.clone(), values: HashMap::new(), seq: 0 })
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<SelectLast>(other) {
            let base = self.seq;
            for (f, (t, s, v)) in o.values {
                let s = s + base;
                let newer = self.values.get(&f).is_none_or(|(t0, s0, _)| (t, s) >= (*t0, *s0));
                if newer {
                    self.values.insert(f, (t, s, v));
                }
            }
            self.seq += o.seq;
        }
    }
    agg_boilerplate!();
}

struct SelectFrom {
    field: String,
    include: Vec<String>,
    max: bool,
    best: Option<(f64, Event)>,
}

impl SelectFrom {
    /// Whether `x` beats the value kept so far (the first of equal values stays).
    fn better(&self, x: f64) -> bool {
        match &self.best {
            None => true,
            Some((b, _)) => {
                if self.max {
                    x > *b
                } else {
                    x < *b
                }
            }
        }
    }
}

impl Agg for SelectFrom {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        let Some(x) = ev.get(&self.field).and_then(Value::as_num) else { return };
        if self.better(x) {
            self.best = Some((x, ev.project(&self.include)));
        }
    }
    fn finish(&mut self, _: &Ctx) -> Vec<Event> {
        vec![self.best.take().map(|(_, e)| e).unwrap_or_default()]
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(SelectFrom { field: self.field.clone(), include: self.include.clone(), max: self.max, best: None })
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<SelectFrom>(other) {
            if let Some((x, e)) = o.best {
                if self.better(x) {
                    self.best = Some((x, e));
                }
            }
        }
    }
    agg_boilerplate!();
}

// ---- sort, table, head, tail ----------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum SortType {
    Number,
    String,
    Hex,
}

struct Sorter {
    fields: Vec<String>,
    desc: Vec<bool>,
    types: Vec<SortType>,
    limit: usize,
    default_limit: bool,
    what: &'static str,
    rows: Vec<(u64, Event)>,
    seq: u64,
    seen: u64,
    project: Option<Vec<String>>,
}

impl Sorter {
    fn new(
        fields: Vec<String>,
        orders: Vec<String>,
        types: Vec<String>,
        limit: usize,
        default_limit: bool,
        what: &'static str,
    ) -> Result<Sorter, String> {
        let n = fields.len();
        let pick = |v: &Vec<String>, i: usize| v.get(i).or(v.last()).cloned();
        let mut desc = Vec::with_capacity(n);
        let mut tys = Vec::with_capacity(n);
        for i in 0..n {
            desc.push(match pick(&orders, i).as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("desc") | Some("descending") => true,
                Some("asc") | Some("ascending") => false,
                Some(o) => return Err(format!("{what}(): order={o} is not asc or desc")),
            });
            tys.push(match pick(&types, i).as_deref() {
                None | Some("number") => SortType::Number,
                Some("string") => SortType::String,
                Some("hex") => SortType::Hex,
                Some(t) => return Err(format!("{what}(): type={t} is not number, string or hex")),
            });
        }
        Ok(Sorter {
            fields,
            desc,
            types: tys,
            limit,
            default_limit,
            what,
            rows: Vec::new(),
            seq: 0,
            seen: 0,
            project: None,
        })
    }

    fn cmp(&self, a: &(u64, Event), b: &(u64, Event)) -> Ordering {
        for (i, f) in self.fields.iter().enumerate() {
            let o = cmp_values(a.1.get(f), b.1.get(f), self.types[i], self.desc[i]);
            if o != Ordering::Equal {
                return o;
            }
        }
        a.0.cmp(&b.0)
    }

    fn compact(&mut self) {
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|a, b| self.cmp(a, b));
        rows.truncate(self.limit);
        self.rows = rows;
    }
}

/// Order two values: missing and unconvertible values come last, whatever the order
/// (docs/semantics.md), in arrival order.
fn cmp_values(a: Option<&Value>, b: Option<&Value>, ty: SortType, desc: bool) -> Ordering {
    let key = |v: Option<&Value>| -> Option<Result<f64, String>> {
        let v = v?;
        match ty {
            SortType::Number => v.as_num().map(Ok),
            SortType::Hex => {
                let s = v.as_str();
                let t = s.trim_start_matches("0x").trim_start_matches("0X");
                i64::from_str_radix(t, 16).ok().map(|n| Ok(n as f64))
            }
            SortType::String => Some(Err(v.as_str().into_owned())),
        }
    };
    match (key(a), key(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let o = match (x, y) {
                (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                (Err(x), Err(y)) => x.cmp(&y),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

impl Agg for Sorter {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        self.seq += 1;
        self.seen += 1;
        self.rows.push((self.seq, ev.clone()));
        // Memory stays bounded by the limit, not by the input.
        if self.rows.len() >= self.limit.max(1024) * 2 {
            self.compact();
        }
    }
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event> {
        self.compact();
        if self.default_limit && self.seen > self.limit as u64 {
            ctx.warn(format!(
                "{}() kept {} of {} rows ({}limit={}); set limit= to see more",
                self.what,
                self.limit,
                self.seen,
                if self.default_limit { "default " } else { "" },
                self.limit
            ));
        }
        let rows = std::mem::take(&mut self.rows);
        rows.into_iter()
            .map(|(_, e)| match &self.project {
                Some(p) if !p.is_empty() => e.project(p),
                _ => e,
            })
            .collect()
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(Sorter {
            fields: self.fields.clone(),
            desc: self.desc.clone(),
            types: self.types.clone(),
            limit: self.limit,
            default_limit: self.default_limit,
            what: self.what,
            rows: Vec::new(),
            seq: 0,
            seen: 0,
            project: self.project.clone(),
        })
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<Sorter>(other) {
            let base = self.seq;
            self.rows.extend(o.rows.into_iter().map(|(s, e)| (s + base, e)));
            self.seq += o.seq;
            self.seen += o.seen;
            self.compact();
        }
    }
    agg_boilerplate!();
}

/// `head()` / `tail()`: the oldest / newest events by `@timestamp` (then `@ingesttimestamp`),
/// output oldest first. Events without either time are older than any with one, in arrival
/// order (docs/semantics.md).
struct HeadTail {
    head: bool,
    limit: usize,
    default_limit: bool,
    rows: Vec<(TimeKey, Event)>,
    seq: u64,
    seen: u64,
}

/// (has a time, the time, arrival)
type TimeKey = (bool, f64, u64);

fn time_key(ev: &Event, seq: u64) -> TimeKey {
    match ev.timestamp().or_else(|| ev.get("@ingesttimestamp").and_then(Value::as_num)) {
        Some(t) => (true, t, seq),
        None => (false, 0.0, seq),
    }
}

fn cmp_time(a: &TimeKey, b: &TimeKey) -> Ordering {
    a.0.cmp(&b.0).then(a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal)).then(a.2.cmp(&b.2))
}

impl HeadTail {
    /// Keep only the `limit` oldest (head) or newest (tail), oldest first.
    fn compact(&mut self) {
        self.rows.sort_by(|a, b| cmp_time(&a.0, &b.0));
        if self.rows.len() > self.limit {
            if self.head {
                self.rows.truncate(self.limit);
            } else {
                self.rows.drain(..self.rows.len() - self.limit);
            }
        }
    }
}

impl Agg for HeadTail {
    fn add(&mut self, ev: &Event, _: &Ctx) {
        self.seen += 1;
        self.seq += 1;
        self.rows.push((time_key(ev, self.seq), ev.clone()));
        if self.rows.len() >= self.limit.max(1024) * 2 {
            self.compact();
        }
    }
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event> {
        self.compact();
        if self.default_limit && self.seen > self.limit as u64 {
            ctx.warn(format!(
                "{}() kept {} of {} events (default limit={}); set limit= to see more",
                if self.head { "head" } else { "tail" },
                self.limit,
                self.seen,
                self.limit
            ));
        }
        std::mem::take(&mut self.rows).into_iter().map(|(_, e)| e).collect()
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(HeadTail {
            head: self.head,
            limit: self.limit,
            default_limit: self.default_limit,
            rows: Vec::new(),
            seq: 0,
            seen: 0,
        })
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(o) = downcast::<HeadTail>(other) {
            let base = self.seq;
            self.seen += o.seen;
            self.seq += o.seq;
            self.rows.extend(o.rows.into_iter().map(|((h, t, s), e)| ((h, t, s + base), e)));
            self.compact();
        }
    }
    agg_boilerplate!();
}

// ---- bucket / timeChart ---------------------------------------------------------------------

/// `bucket()` / `timeChart()`: aggregates per time bucket (and series). Buckets without
/// events are not output; with more series than `limit`, the series with the most events are
/// kept (docs/semantics.md).
struct Bucket {
    span_ms: f64,
    series: Vec<String>,
    protos: Vec<Box<dyn Agg>>,
    limit: usize,
    default_limit: bool,
    what: &'static str,
    groups: HashMap<(i64, Key), Vec<Box<dyn Agg>>>,
    order: Vec<(i64, Key)>,
    /// Events per series.
    totals: HashMap<Key, u64>,
}

impl Agg for Bucket {
    fn add(&mut self, ev: &Event, ctx: &Ctx) {
        let Some(ts) = ev.timestamp() else { return };
        let b = (ts / self.span_ms).floor() as i64;
        let key: Key = self.series.iter().map(|k| ev.get_str(k).map(|s| s.into_owned())).collect();
        *self.totals.entry(key.clone()).or_default() += 1;
        let k = (b, key);
        if !self.groups.contains_key(&k) {
            self.order.push(k.clone());
            self.groups.insert(k.clone(), self.protos.iter().map(|p| p.fresh()).collect());
        }
        if let Some(aggs) = self.groups.get_mut(&k) {
            for a in aggs {
                a.add(ev, ctx);
            }
        }
    }
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event> {
        // Keep the `limit` series with the most events; the rest are dropped (with a warning
        // when the limit is the default one).
        let mut series: Vec<(Key, u64)> = std::mem::take(&mut self.totals).into_iter().collect();
        series.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if !self.series.is_empty() && series.len() > self.limit && self.default_limit {
            ctx.warn(format!(
                "{}() kept {} of {} series (default limit={}); set limit= (at most 500) to see more",
                self.what,
                self.limit,
                series.len(),
                self.limit
            ));
        }
        let keep: HashSet<Key> = series.into_iter().take(self.limit).map(|(k, _)| k).collect();
        let mut order = std::mem::take(&mut self.order);
        order.sort_by_key(|k| k.0);
        let mut out = Vec::new();
        for k in order {
            if !self.series.is_empty() && !keep.contains(&k.1) {
                continue;
            }
            let Some(mut aggs) = self.groups.remove(&k) else { continue };
            let mut base = Event::new();
            base.set("_bucket", Value::Num(k.0 as f64 * self.span_ms));
            for (f, v) in self.series.iter().zip(&k.1) {
                if let Some(v) = v {
                    base.set(f, Value::Str(v.clone()));
                }
            }
            out.extend(product(&mut aggs, ctx, &base));
        }
        out
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(Bucket {
            span_ms: self.span_ms,
            series: self.series.clone(),
            protos: self.protos.iter().map(|p| p.fresh()).collect(),
            limit: self.limit,
            default_limit: self.default_limit,
            what: self.what,
            groups: HashMap::new(),
            order: Vec::new(),
            totals: HashMap::new(),
        })
    }
    fn mergeable(&self) -> bool {
        self.protos.iter().all(|p| p.mergeable())
    }
    fn merge(&mut self, other: Box<dyn Agg>) {
        if let Some(mut o) = downcast::<Bucket>(other) {
            for (k, n) in o.totals {
                *self.totals.entry(k).or_default() += n;
            }
            for k in o.order {
                let Some(aggs) = o.groups.remove(&k) else { continue };
                match self.groups.get_mut(&k) {
                    Some(mine) => {
                        for (a, b) in mine.iter_mut().zip(aggs) {
                            a.merge(b);
                        }
                    }
                    None => {
                        self.order.push(k.clone());
                        self.groups.insert(k, aggs);
                    }
                }
            }
        }
    }
    agg_boilerplate!();
}

// ---- composite functions and tables -----------------------------------------------------------

/// `function={ … }`: a sub-pipeline per group.
struct SubPipe {
    plan: ir::Pipeline,
    chain: Chain,
    ctx: Arc<Ctx>,
}

impl Agg for SubPipe {
    fn add(&mut self, ev: &Event, ctx: &Ctx) {
        let mut out = Vec::new();
        super::push(&mut self.chain, ev.clone(), ctx, &mut out);
        // Events that pass a non-aggregating subquery are not rows; LogScale requires the
        // subquery to aggregate.
    }
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event> {
        let mut out = Vec::new();
        super::finish(&mut self.chain, ctx, &mut out);
        out
    }
    fn fresh(&self) -> Box<dyn Agg> {
        let chain = super::build(&self.plan, &self.ctx).unwrap_or_default();
        Box::new(SubPipe { plan: self.plan.clone(), chain, ctx: Arc::clone(&self.ctx) })
    }
    fn merge(&mut self, _other: Box<dyn Agg>) {
        self.ctx.fail("a composite function={ … } cannot run on several threads yet; use -j 1".to_string());
    }
    fn mergeable(&self) -> bool {
        false
    }
    agg_boilerplate!();
}

/// `readFile([…])`: discards its input and emits the rows of tables and files.
struct ReadFile {
    files: Vec<String>,
    include: Option<Vec<String>>,
    limit: Option<usize>,
    ctx: Arc<Ctx>,
}

impl Agg for ReadFile {
    fn add(&mut self, _ev: &Event, _: &Ctx) {}
    fn finish(&mut self, ctx: &Ctx) -> Vec<Event> {
        let mut out = Vec::new();
        for f in &self.files {
            let rows = match ctx.table(f) {
                Some(rows) => rows,
                None => match super::funcs::load_table(&ctx.lookup_dir.join(f)) {
                    Ok(rows) => rows,
                    Err(e) => {
                        ctx.fail(e);
                        continue;
                    }
                },
            };
            out.extend(rows.into_iter().map(|r| match &self.include {
                Some(inc) => r.project(inc),
                None => r,
            }));
        }
        if let Some(l) = self.limit {
            out.truncate(l);
        }
        out
    }
    fn fresh(&self) -> Box<dyn Agg> {
        Box::new(ReadFile {
            files: self.files.clone(),
            include: self.include.clone(),
            limit: self.limit,
            ctx: Arc::clone(&self.ctx),
        })
    }
    fn merge(&mut self, _other: Box<dyn Agg>) {}
    agg_boilerplate!();
}

/// For tests: format a row's numeric values the way outputs print them.
pub fn show(v: &Value) -> String {
    match v {
        Value::Num(n) => format_num(*n),
        Value::Str(s) => s.clone(),
    }
}
