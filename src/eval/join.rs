//! Functions that read the input twice: `join()`, `selfJoinFilter()` and `defineTable()`.
//! Their subqueries run over the whole input in a prepass ([`super::Prepass`]); the main pass
//! then reads what the prepass published.

use super::args::Args;
use super::{lock, Chain, Ctx, Expand, Node, Prepass, Transform};
use crate::event::{Event, Value};
use crate::plan::ir;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A subquery's result rows, filled at the end of its prepass round.
type Rows = Arc<Mutex<Vec<Event>>>;

/// Runs a subquery over the whole input; at the end publishes its rows (and, for
/// `defineTable()`, stores them as a table).
struct SubRows {
    chain: Chain,
    out: Vec<Event>,
    sink: Rows,
    limit: usize,
    what: &'static str,
    /// `defineTable()`: the table's name and the fields kept (`None`: all).
    table: Option<(String, Option<Vec<String>>)>,
}

impl Prepass for SubRows {
    fn push(&mut self, ev: &Event, ctx: &Ctx) {
        super::push(&mut self.chain, ev.clone(), ctx, &mut self.out);
    }
    fn end(&mut self, ctx: &Ctx) {
        super::finish(&mut self.chain, ctx, &mut self.out);
        let mut rows = std::mem::take(&mut self.out);
        if rows.len() > self.limit {
            ctx.warn(format!(
                "{}: the subquery gave {} rows; only the first {} are used (limit={})",
                self.what,
                rows.len(),
                self.limit,
                self.limit
            ));
            rows.truncate(self.limit);
        }
        if let Some((name, include)) = &self.table {
            if let Some(inc) = include {
                rows = rows.iter().map(|r| r.project(inc)).collect();
            }
            lock(&ctx.tables).insert(name.clone(), rows.clone());
        }
        *lock(&self.sink) = rows;
    }
}

/// The pipeline an argument holds: `{ … }`, or a single call (`function=test(x > 1)`).
pub fn sub_pipeline(e: Option<&ir::Expr>, what: &str) -> Result<ir::Pipeline, String> {
    match e {
        Some(ir::Expr::Query(p)) => Ok((**p).clone()),
        Some(ir::Expr::Call(c)) => Ok(ir::Pipeline { steps: vec![ir::Step::Call((**c).clone())] }),
        _ => Err(format!("{what} needs a subquery {{ … }}")),
    }
}

/// Build a subquery that runs in a prepass and register it; returns where its rows will be.
fn prepass_rows(
    p: &ir::Pipeline,
    ctx: &Arc<Ctx>,
    limit: usize,
    what: &'static str,
    table: Option<(String, Option<Vec<String>>)>,
) -> Result<(Rows, usize), String> {
    let (chain, level) = super::prepass_scope(ctx, || super::build(p, ctx))?;
    let sink: Rows = Arc::new(Mutex::new(Vec::new()));
    let job = SubRows { chain, out: Vec::new(), sink: Arc::clone(&sink), limit, what, table };
    super::register_prepass(ctx, level, Arc::new(Mutex::new(job)));
    Ok((sink, level))
}

/// The values of `fields` in `ev`, if it has them all.
fn key_of(ev: &Event, fields: &[String]) -> Option<Vec<String>> {
    fields.iter().map(|f| ev.get_str(f).map(|s| s.into_owned())).collect()
}

// ---- join ------------------------------------------------------------------------------------

struct Join {
    fields: Vec<String>,
    keys: Vec<String>,
    include: Vec<String>,
    left: bool,
    max: usize,
    rows: Rows,
    index: Mutex<Option<HashMap<Vec<String>, Vec<Event>>>>,
}

impl Join {
    /// The subquery rows matching the event (at most `max`), indexed on first use.
    fn matches(&self, ev: &Event) -> Vec<Event> {
        let mut idx = lock(&self.index);
        let idx = idx.get_or_insert_with(|| {
            let mut m: HashMap<Vec<String>, Vec<Event>> = HashMap::new();
            for r in lock(&self.rows).iter() {
                if let Some(k) = key_of(r, &self.keys) {
                    let v = m.entry(k).or_default();
                    if v.len() < self.max {
                        v.push(r.clone());
                    }
                }
            }
            m
        });
        key_of(ev, &self.fields).and_then(|k| idx.get(&k).cloned()).unwrap_or_default()
    }

    fn enrich(&self, ev: &mut Event, row: &Event) {
        for f in &self.include {
            // Include fields the subquery row lacks become "" (cql.md §3.7).
            let v = row.get(f).cloned().unwrap_or_else(|| Value::Str(String::new()));
            ev.set(f, v);
        }
    }
}

impl Transform for Join {
    fn apply(&self, ev: &mut Event, _ctx: &Ctx) -> bool {
        match self.matches(ev).first() {
            Some(r) => {
                self.enrich(ev, r);
                true
            }
            None => self.left,
        }
    }
}

impl Expand for Join {
    fn expand(&self, ev: Event, _ctx: &Ctx, out: &mut Vec<Event>) {
        let rows = self.matches(&ev);
        if rows.is_empty() {
            if self.left {
                out.push(ev);
            }
            return;
        }
        for r in &rows {
            let mut e = ev.clone();
            self.enrich(&mut e, r);
            out.push(e);
        }
    }
}

/// `join(query={…}, field=[…], key=[…], include=[…], mode=inner|left, max=1, limit=100000)`.
pub fn join(a: &Args<'_>, ctx: &Arc<Ctx>) -> Result<Node, String> {
    let q = sub_pipeline(a.get("query"), "join()")?;
    let fields = a.names("field");
    if fields.is_empty() {
        return Err("join() needs field=".to_string());
    }
    let keys = if a.get("key").is_some() { a.names("key") } else { fields.clone() };
    if keys.len() != fields.len() {
        return Err(format!("join(): field= names {} fields but key= names {}", fields.len(), keys.len()));
    }
    let left = match a.text_or("mode", "inner").as_str() {
        "inner" => false,
        "left" => true,
        m => return Err(format!("join(): mode={m} is not inner or left")),
    };
    let (max, _) = a.limit("max", 1, 200_000)?;
    let (limit, _) = a.limit("limit", 100_000, 200_000)?;
    let (rows, _) = prepass_rows(&q, ctx, limit, "join()", None)?;
    let j = Join { fields, keys, include: a.names("include"), left, max: max.max(1), rows, index: Mutex::new(None) };
    Ok(if j.max == 1 { Node::Transform(Box::new(j)) } else { Node::Expand(Box::new(j)) })
}

// ---- selfJoinFilter --------------------------------------------------------------------------

/// Prepass of `selfJoinFilter()`: which keys have, for every `where` clause, some event
/// satisfying it.
struct SelfJoinScan {
    fields: Vec<String>,
    wheres: Vec<Chain>,
    seen: HashMap<Vec<String>, Vec<bool>>,
    result: Arc<Mutex<HashSet<Vec<String>>>>,
}

fn passes(chain: &mut Chain, ev: &Event, ctx: &Ctx) -> bool {
    let mut out = Vec::new();
    super::push(chain, ev.clone(), ctx, &mut out);
    !out.is_empty()
}

impl Prepass for SelfJoinScan {
    fn push(&mut self, ev: &Event, ctx: &Ctx) {
        let Some(k) = key_of(ev, &self.fields) else { return };
        let n = self.wheres.len();
        let mut hits = Vec::with_capacity(n);
        for w in &mut self.wheres {
            hits.push(passes(w, ev, ctx));
        }
        if hits.iter().any(|h| *h) {
            let e = self.seen.entry(k).or_insert_with(|| vec![false; n]);
            for (s, h) in e.iter_mut().zip(hits) {
                *s |= h;
            }
        }
    }
    fn end(&mut self, _ctx: &Ctx) {
        let seen = std::mem::take(&mut self.seen);
        *lock(&self.result) = seen.into_iter().filter(|(_, v)| v.iter().all(|b| *b)).map(|(k, _)| k).collect();
    }
}

struct SelfJoinFilter {
    fields: Vec<String>,
    /// `prefilter=true`: the event must also satisfy one of the `where` clauses.
    prefilter: Option<Mutex<Vec<Chain>>>,
    keys: Arc<Mutex<HashSet<Vec<String>>>>,
}

impl Transform for SelfJoinFilter {
    fn apply(&self, ev: &mut Event, ctx: &Ctx) -> bool {
        let Some(k) = key_of(ev, &self.fields) else { return false };
        if !lock(&self.keys).contains(&k) {
            return false;
        }
        match &self.prefilter {
            None => true,
            Some(ws) => lock(ws).iter_mut().any(|w| passes(w, ev, ctx)),
        }
    }
}

/// `selfJoinFilter(field=[…], where=[{…}, {…}], prefilter=false)`.
pub fn self_join_filter(a: &Args<'_>, ctx: &Arc<Ctx>) -> Result<Node, String> {
    let fields = a.names("field");
    if fields.is_empty() {
        return Err("selfJoinFilter() needs field=".to_string());
    }
    let wheres: Vec<ir::Pipeline> = a
        .get("where")
        .ok_or("selfJoinFilter() needs where=[{…}, …]")?
        .items()
        .into_iter()
        .map(|e| sub_pipeline(Some(e), "selfJoinFilter(where=…)"))
        .collect::<Result<_, _>>()?;
    if wheres.is_empty() {
        return Err("selfJoinFilter() needs at least one where clause".to_string());
    }
    let (chains, level) =
        super::prepass_scope(ctx, || wheres.iter().map(|p| super::build(p, ctx)).collect::<Result<Vec<_>, _>>())?;
    let keys = Arc::new(Mutex::new(HashSet::new()));
    let scan = SelfJoinScan { fields: fields.clone(), wheres: chains, seen: HashMap::new(), result: Arc::clone(&keys) };
    super::register_prepass(ctx, level, Arc::new(Mutex::new(scan)));
    let prefilter = if a.bool("prefilter", false) {
        Some(Mutex::new(wheres.iter().map(|p| super::build(p, ctx)).collect::<Result<Vec<_>, _>>()?))
    } else {
        None
    };
    Ok(Node::Transform(Box::new(SelfJoinFilter { fields, prefilter, keys })))
}

// ---- defineTable -----------------------------------------------------------------------------

/// `defineTable(name=…, query={…}, include=[…|*])`: builds the table in a prepass; in the main
/// pass events go through unchanged.
pub fn define_table(a: &Args<'_>, ctx: &Arc<Ctx>) -> Result<Node, String> {
    let name = a.need("name")?;
    let q = sub_pipeline(a.get("query"), "defineTable()")?;
    let include = a.names("include");
    if include.is_empty() {
        return Err("defineTable() needs include=[…] (or include=*)".to_string());
    }
    let include = if include.iter().any(|f| f == "*") { None } else { Some(include) };
    if lock(&ctx.table_levels).contains_key(&name) {
        return Err(format!("defineTable(): table `{name}` is defined twice"));
    }
    let (_, level) = prepass_rows(&q, ctx, usize::MAX, "defineTable()", Some((name.clone(), include)))?;
    lock(&ctx.table_levels).insert(name, level);
    Ok(Node::Transform(Box::new(PassThrough)))
}

struct PassThrough;

impl Transform for PassThrough {
    fn apply(&self, _ev: &mut Event, _ctx: &Ctx) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::eval::{Ctx, Executor};
    use crate::event::Event;
    use crate::lang::{parse, ParseOptions};
    use crate::plan::{compile::compile, PlanOptions};

    fn executor(q: &str) -> Executor {
        let (ast, d) = parse(q, ParseOptions::default());
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        let ir = compile(&ast, &PlanOptions::default()).expect("compiles");
        Executor::new(&ir, Ctx::default()).expect("builds")
    }

    fn ev(pairs: &[(&str, &str)]) -> Event {
        let mut e = Event::new();
        for (k, v) in pairs {
            e.set(k, (*v).into());
        }
        e
    }

    #[test]
    fn passes_count_prepasses() {
        assert_eq!(executor("a=1 | count()").passes(), 1);
        assert_eq!(executor("join({t=d}, field=aid)").passes(), 2);
        assert_eq!(executor("selfJoinFilter(aid, where=[{a=1}])").passes(), 2);
        // A table read by a later table's query needs a prepass of its own.
        let q = "defineTable(name=\"a\", query={t=1}, include=[aid]) \
                 | defineTable(name=\"b\", query={match(table=a, field=aid)}, include=[aid]) \
                 | readFile(b)";
        assert_eq!(executor(q).passes(), 3);
    }

    #[test]
    fn prepass_then_main_pass() {
        let events = [ev(&[("aid", "a1"), ("t", "p")]), ev(&[("aid", "a1"), ("t", "d"), ("n", "x")])];
        let mut ex = executor("t=p | join({t=d}, field=aid, include=[n])");
        for e in &events {
            ex.push_prepass(e);
        }
        ex.end_prepass();
        let mut out = Vec::new();
        for e in events {
            ex.push(e, &mut out);
        }
        ex.finish(&mut out);
        assert_eq!(out, vec![ev(&[("aid", "a1"), ("t", "p"), ("n", "x")])]);
    }

    #[test]
    fn main_pass_without_prepass_fails() {
        let mut ex = executor("join({t=d}, field=aid)");
        let mut out = Vec::new();
        ex.push(ev(&[("aid", "a1")]), &mut out);
        assert!(ex.ctx.error().is_some_and(|e| e.contains("reads its input 2 times")));
    }
}
