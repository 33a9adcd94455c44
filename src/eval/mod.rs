//! The evaluator: a push-based pipeline of stages built from the plan ([`crate::plan::ir`]).
//!
//! Events flow through [`Node`]s one at a time; aggregates absorb them and emit their rows
//! when the input ends ([`Executor::finish`]), and the rows flow on through the rest of the
//! pipeline. Aggregates are [`agg::Agg`]s, whose `merge` combines partial results computed
//! on separate chunks of the input.

pub mod agg;
pub mod args;
pub mod expr;
pub mod filter;
pub mod funcs;
pub mod parallel;
pub mod time;

use crate::event::Event;
use crate::func::Category;
use crate::plan::ir;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a run shares with its stages: where lookup files are, the time, and where runtime
/// problems are reported.
#[derive(Debug, Default)]
pub struct Ctx {
    /// Directory that `match(file=…)` and `readFile()` resolve names against.
    pub lookup_dir: PathBuf,
    /// Query start in ms since the epoch (`now()`).
    pub now_ms: f64,
    /// The first fatal runtime error (a regex over its backtracking limit, …).
    pub error: Mutex<Option<String>>,
    /// Warnings (a default limit cut rows, …), each once.
    pub warnings: Mutex<Vec<String>>,
    /// Tables made by `defineTable()`, by name.
    pub tables: Mutex<BTreeMap<String, Vec<Event>>>,
}

/// Lock a mutex, taking the data even if another thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Ctx {
    pub fn fail(&self, msg: String) {
        let mut e = lock(&self.error);
        if e.is_none() {
            *e = Some(msg);
        }
    }
    pub fn warn(&self, msg: String) {
        let mut w = lock(&self.warnings);
        if !w.contains(&msg) {
            w.push(msg);
        }
    }
    pub fn failed(&self) -> bool {
        lock(&self.error).is_some()
    }
    /// The first runtime error, if any.
    pub fn error(&self) -> Option<String> {
        lock(&self.error).clone()
    }
    /// The warnings so far.
    pub fn warnings(&self) -> Vec<String> {
        lock(&self.warnings).clone()
    }
    /// A `defineTable()` table.
    pub fn table(&self, name: &str) -> Option<Vec<Event>> {
        lock(&self.tables).get(name).cloned()
    }
}

/// A per-event function: changes the event in place; `false` drops it.
pub trait Transform: Send {
    fn apply(&self, ev: &mut Event, ctx: &Ctx) -> bool;
}

/// A per-event function that may emit several events (`split`, `regex(repeat=true)`).
pub trait Expand: Send {
    fn expand(&self, ev: Event, ctx: &Ctx, out: &mut Vec<Event>);
}

/// One stage.
pub enum Node {
    Filter(filter::Pred),
    Assign(String, expr::X),
    Transform(Box<dyn Transform>),
    Expand(Box<dyn Expand>),
    Agg(Box<dyn agg::Agg>),
    Case(Vec<Chain>),
    Match(String, Vec<(filter::GuardX, Chain)>),
    Union(Vec<Chain>),
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Node::Filter(_) => "Filter",
            Node::Assign(..) => "Assign",
            Node::Transform(_) => "Transform",
            Node::Expand(_) => "Expand",
            Node::Agg(_) => "Agg",
            Node::Case(_) => "Case",
            Node::Match(..) => "Match",
            Node::Union(_) => "Union",
        })
    }
}

/// A pipeline of nodes.
pub type Chain = Vec<Node>;

/// Build the nodes of a pipeline. Errors name the function that is not supported.
pub fn build(p: &ir::Pipeline, ctx: &Arc<Ctx>) -> Result<Chain, String> {
    let mut chain = Vec::new();
    for s in &p.steps {
        chain.push(build_step(s, ctx)?);
    }
    Ok(chain)
}

fn build_step(s: &ir::Step, ctx: &Arc<Ctx>) -> Result<Node, String> {
    Ok(match s {
        // `x =~ f(…)` as a step: the call itself (joins and lookups enrich as well as filter).
        ir::Step::Filter(ir::Filter::Call(c)) if !c.negated => build_call(c, ctx)?,
        ir::Step::Filter(f) => Node::Filter(filter::build(f, ctx)?),
        ir::Step::Assign(name, e) => Node::Assign(name.clone(), expr::build(e, ctx)?),
        ir::Step::Call(c) => build_call(c, ctx)?,
        ir::Step::Case(bs) => Node::Case(bs.iter().map(|b| build(b, ctx)).collect::<Result<_, _>>()?),
        ir::Step::Union(bs) => Node::Union(bs.iter().map(|b| build(b, ctx)).collect::<Result<_, _>>()?),
        ir::Step::Match(field, arms) => {
            let mut out = Vec::new();
            for (g, body) in arms {
                out.push((filter::build_guard(g, ctx)?, build(body, ctx)?));
            }
            Node::Match(field.clone(), out)
        }
    })
}

fn build_call(c: &ir::Call, ctx: &Arc<Ctx>) -> Result<Node, String> {
    match c.category {
        Category::Filter if funcs::is_filter_transform(&c.name) => funcs::build(c, ctx),
        Category::Filter => Ok(Node::Filter(filter::build(&ir::Filter::Call(c.clone()), ctx)?)),
        Category::Aggregate => Ok(Node::Agg(agg::build(c, ctx)?)),
        _ => funcs::build(c, ctx),
    }
}

/// Push one event through a chain; outputs that leave the chain go to `out`.
pub fn push(chain: &mut [Node], ev: Event, ctx: &Ctx, out: &mut Vec<Event>) {
    let Some((first, rest)) = chain.split_first_mut() else {
        out.push(ev);
        return;
    };
    let mut ev = ev;
    match first {
        Node::Filter(p) => {
            if p.test(&mut ev, ctx) {
                push(rest, ev, ctx, out);
            }
        }
        Node::Assign(name, x) => {
            // Assigning null creates nothing and changes nothing.
            if let Some(v) = x.eval(&ev, ctx) {
                ev.set(name, v);
            }
            push(rest, ev, ctx, out);
        }
        Node::Transform(t) => {
            if t.apply(&mut ev, ctx) {
                push(rest, ev, ctx, out);
            }
        }
        Node::Expand(t) => {
            let mut tmp = Vec::new();
            t.expand(ev, ctx, &mut tmp);
            for e in tmp {
                push(rest, e, ctx, out);
            }
        }
        Node::Agg(a) => a.add(&ev, ctx),
        Node::Case(branches) => {
            for b in branches.iter_mut() {
                let mut tmp = Vec::new();
                push(b, ev.clone(), ctx, &mut tmp);
                if !tmp.is_empty() {
                    for e in tmp {
                        push(rest, e, ctx, out);
                    }
                    return;
                }
            }
        }
        Node::Match(field, arms) => {
            for (g, body) in arms.iter_mut() {
                if g.matches(field, &mut ev, ctx) {
                    let mut tmp = Vec::new();
                    push(body, ev, ctx, &mut tmp);
                    for e in tmp {
                        push(rest, e, ctx, out);
                    }
                    return;
                }
            }
        }
        Node::Union(branches) => {
            let mut tmp = Vec::new();
            for b in branches.iter_mut() {
                push(b, ev.clone(), ctx, &mut tmp);
            }
            for e in tmp {
                push(rest, e, ctx, out);
            }
        }
    }
}

/// End of input: flush aggregates (and aggregates inside branches) through the rest.
pub fn finish(chain: &mut [Node], ctx: &Ctx, out: &mut Vec<Event>) {
    for i in 0..chain.len() {
        let (head, rest) = chain.split_at_mut(i + 1);
        let mut rows = Vec::new();
        match &mut head[i] {
            Node::Agg(a) => {
                for r in a.finish(ctx) {
                    push(rest, r, ctx, out);
                }
                finish(rest, ctx, out);
                return;
            }
            Node::Case(bs) | Node::Union(bs) => {
                for b in bs.iter_mut() {
                    finish(b, ctx, &mut rows);
                }
            }
            Node::Match(_, arms) => {
                for (_, b) in arms.iter_mut() {
                    finish(b, ctx, &mut rows);
                }
            }
            _ => {}
        }
        for r in rows {
            push(rest, r, ctx, out);
        }
    }
}

/// Whether a chain (or a branch in it) aggregates.
pub fn aggregates(chain: &[Node]) -> bool {
    chain.iter().any(|n| match n {
        Node::Agg(_) => true,
        Node::Case(bs) | Node::Union(bs) => bs.iter().any(|b| aggregates(b)),
        Node::Match(_, arms) => arms.iter().any(|(_, b)| aggregates(b)),
        _ => false,
    })
}

/// A compiled query ready to consume events.
#[derive(Debug)]
pub struct Executor {
    pub(crate) chain: Chain,
    pub ctx: Arc<Ctx>,
}

impl Executor {
    pub fn new(p: &ir::Pipeline, ctx: Ctx) -> Result<Executor, String> {
        let ctx = Arc::new(ctx);
        let chain = build(p, &ctx)?;
        Ok(Executor { chain, ctx })
    }

    /// Feed one event; events that pass a non-aggregating query come out in `out`.
    pub fn push(&mut self, ev: Event, out: &mut Vec<Event>) {
        push(&mut self.chain, ev, &self.ctx, out);
    }

    /// End of input: the remaining rows.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        finish(&mut self.chain, &self.ctx, out);
    }

    pub fn aggregates(&self) -> bool {
        aggregates(&self.chain)
    }

    /// Run over a list of events (tests, subqueries): every prepass, then the main pass.
    pub fn run_all(&mut self, events: impl IntoIterator<Item = Event>) -> Result<Vec<Event>, String> {
        let events: Vec<Event> = events.into_iter().collect();
        for _ in 1..self.passes() {
            for e in &events {
                self.push_prepass(e);
            }
            self.end_prepass();
            if let Some(err) = self.ctx.error.borrow().clone() {
                return Err(err);
            }
        }
        let mut out = Vec::new();
        for e in events {
            self.push(e, &mut out);
            if let Some(err) = self.ctx.error() {
                return Err(err);
            }
        }
        self.finish(&mut out);
        if let Some(err) = self.ctx.error() {
            return Err(err);
        }
        Ok(out)
    }
}

/// Compile and run a query text over events: the shortest path from CQL to rows.
pub fn run_query(
    text: &str,
    lenient: bool,
    params: &[(String, String)],
    events: Vec<Event>,
    ctx: Ctx,
) -> Result<(Vec<Event>, Vec<String>), String> {
    use crate::lang::{parse, ParseOptions};
    use crate::plan::{compile::compile, PlanOptions};
    let (q, diags) = parse(text, ParseOptions { lenient });
    if let Some(d) = diags.iter().find(|d| d.is_error()) {
        return Err(format!("{}: {}", d.code, d.message));
    }
    let opts = PlanOptions { params: params.iter().cloned().collect(), lenient, ..PlanOptions::default() };
    let (_, pd) = crate::plan::plan(&q, text, &opts);
    if let Some(d) = pd.iter().find(|d| d.is_error()) {
        return Err(format!("{}: {}", d.code, d.message));
    }
    let ir = compile(&q, &opts).map_err(|d| format!("{}: {}", d[0].code, d[0].message))?;
    let mut ex = Executor::new(&ir, ctx)?;
    let rows = ex.run_all(events)?;
    let warnings = ex.ctx.warnings();
    Ok((rows, warnings))
}
