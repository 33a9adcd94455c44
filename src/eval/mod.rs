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
pub mod join;
pub mod parallel;
pub mod time;

use crate::event::Event;
use crate::func::Category;
use crate::plan::ir;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Subqueries that must see the whole input before the main pass (`join()`,
    /// `selfJoinFilter()`, `defineTable()`), registered while the query is built.
    pub prepasses: Mutex<Vec<PrepassJob>>,
    /// While building: the latest prepass round whose results the part being built reads.
    pub build_level: AtomicUsize,
    /// The prepass round that completes each `defineTable()` table.
    pub table_levels: Mutex<HashMap<String, usize>>,
    /// The event as it entered the query, while it goes through a query whose free-text
    /// filters come after steps that change events (free text reads the original fields).
    pub original: Mutex<Option<Event>>,
}

/// A subquery run over the whole input in a prepass round, before the main pass.
pub trait Prepass: Send {
    fn push(&mut self, ev: &Event, ctx: &Ctx);
    /// End of the round's input: publish the result.
    fn end(&mut self, ctx: &Ctx);
}

/// A registered prepass and the round (1, 2, …) it runs in.
pub struct PrepassJob {
    pub level: usize,
    pub job: Arc<Mutex<dyn Prepass>>,
}

impl std::fmt::Debug for PrepassJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrepassJob(level {})", self.level)
    }
}

/// Build the subquery of a prepass: returns what `f` built and the round it must run in (one
/// after every round whose results it reads). The part being built around it then depends
/// on that round.
pub fn prepass_scope<T>(ctx: &Arc<Ctx>, f: impl FnOnce() -> Result<T, String>) -> Result<(T, usize), String> {
    let saved = ctx.build_level.swap(0, Ordering::Relaxed);
    let r = f();
    let level = ctx.build_level.load(Ordering::Relaxed) + 1;
    ctx.build_level.store(saved.max(level), Ordering::Relaxed);
    Ok((r?, level))
}

/// Register a prepass job for round `level`.
pub fn register_prepass(ctx: &Ctx, level: usize, job: Arc<Mutex<dyn Prepass>>) {
    lock(&ctx.prepasses).push(PrepassJob { level, job });
}

/// The part being built reads the `defineTable()` table `name` (if it is one): it runs after
/// the round that completes it. Returns whether `name` is a table of this query.
pub fn depend_on_table(ctx: &Ctx, name: &str) -> bool {
    match lock(&ctx.table_levels).get(name) {
        Some(&l) => {
            ctx.build_level.fetch_max(l, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Lock a mutex, taking the data even if another thread panicked while holding it.
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
    /// A filter, and whether it is pure (cannot change the event: `Pred::may_modify`).
    Filter(filter::Pred, bool),
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
            Node::Filter(..) => "Filter",
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
        ir::Step::Filter(f) => filter_node(filter::build(f, ctx)?),
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
        // `regex(…, repeat=true)` emits an event per match.
        Category::Filter if c.name == "regex" && c.arg("repeat").and_then(ir::Expr::text) == Some("true") => {
            funcs::build(c, ctx)
        }
        Category::Filter => Ok(filter_node(filter::build(&ir::Filter::Call(c.clone()), ctx)?)),
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
        Node::Filter(p, _) => {
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
            let mut i = 0;
            while i < branches.len() {
                // The branch's leading filters that cannot change the event are tested on the
                // event itself: most events fail one of them, and then nothing is copied.
                let Some(k) = pure_prefix_passes(&branches[i], &mut ev, ctx) else {
                    i += 1;
                    continue;
                };
                // The first later branch that may take the event if this one outputs nothing
                // (its leading filters not known to fail: they are not run, only answered when
                // that cannot fail the run): without one, the event is moved into this branch,
                // not copied.
                let next = (i + 1..branches.len()).find(|&j| !pure_prefix_fails_quietly(&branches[j], &ev));
                let mut tmp = Vec::new();
                let Some(next) = next else {
                    push(&mut branches[i][k..], ev, ctx, &mut tmp);
                    for e in tmp {
                        push(rest, e, ctx, out);
                    }
                    return;
                };
                push(&mut branches[i][k..], ev.clone(), ctx, &mut tmp);
                if !tmp.is_empty() {
                    for e in tmp {
                        push(rest, e, ctx, out);
                    }
                    return;
                }
                i = next;
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
                // As in `case`: copied only for the branches whose pure leading filters pass.
                if let Some(k) = pure_prefix_passes(b, &mut ev, ctx) {
                    push(&mut b[k..], ev.clone(), ctx, &mut tmp);
                }
            }
            for e in tmp {
                push(rest, e, ctx, out);
            }
        }
    }
}

/// Whether an event may pass a chain, judged on the event itself from the chain's leading
/// filters that cannot change it, looking into the branches of a leading `case` or union.
/// `false` is certain; `true` means "run it".
fn may_pass(chain: &[Node], ev: &mut Event, ctx: &Ctx) -> bool {
    match chain.first() {
        Some(Node::Filter(p, true)) => p.test(ev, ctx) && may_pass(&chain[1..], ev, ctx),
        Some(Node::Case(branches)) | Some(Node::Union(branches)) => branches.iter().any(|b| may_pass(b, ev, ctx)),
        _ => true,
    }
}

fn filter_node(p: filter::Pred) -> Node {
    let pure = !p.may_modify();
    Node::Filter(p, pure)
}

/// [`may_pass`] knowing only some of the event's fields: before a filter is tested, `known`
/// is asked for each field it reads; it puts the field into the event when its value is known
/// (or leaves it out when it is known to be absent) and says whether it knows. A filter on a
/// field it does not know, or one that reads fields it cannot name, may pass; the test goes on
/// with the next filter, and ends ("may pass") at the first step that is not a pure filter.
fn may_pass_lazy(chain: &[Node], ev: &mut Event, ctx: &Ctx, known: &mut dyn FnMut(&str, &mut Event) -> bool) -> bool {
    match chain.first() {
        Some(Node::Filter(p, true)) => {
            // A filter on a field that is not known may pass; the ones after it are still
            // tested (they are ANDed with it, and a pure filter changes nothing they read).
            if p.test_known(ev, ctx, known) == Some(false) {
                return false;
            }
            may_pass_lazy(&chain[1..], ev, ctx, known)
        }
        Some(Node::Filter(p, false)) => match p.capture_names() {
            // A field regex whose groups assign fields: whether it passes is known when its
            // field is, but what follows may read what it assigns, so the walk stops here. The
            // probe's event is shared by the queries it tries: the assigned names are put back.
            Some(names) => {
                let saved: Vec<Option<crate::event::Value>> = names.iter().map(|n| ev.get(n).cloned()).collect();
                let passes = p.test_known(ev, ctx, known) != Some(false);
                for (n, v) in names.iter().zip(saved) {
                    match v {
                        Some(v) => ev.set(n, v),
                        None => {
                            ev.remove(n);
                        }
                    }
                }
                passes
            }
            None => true,
        },
        Some(Node::Case(branches)) | Some(Node::Union(branches)) => {
            branches.iter().any(|b| may_pass_lazy(b, ev, ctx, known))
        }
        _ => true,
    }
}

fn leading_guard(
    chain: &[Node],
    mut tests: Vec<(String, crate::plan::ir::Matcher)>,
) -> Vec<Vec<(String, crate::plan::ir::Matcher)>> {
    for (k, node) in chain.iter().enumerate() {
        match node {
            Node::Filter(p, pure) => {
                p.necessary_tests(&mut tests);
                // What follows an impure filter may read what it changed.
                if !pure {
                    break;
                }
            }
            Node::Case(branches) | Node::Union(branches) => {
                let alts = branches.iter().flat_map(|b| leading_guard(b, tests.clone()));
                // The filters after it test the event as it came in, when no branch can write
                // a field they read: their tests hold of every alternative.
                let mut written = Vec::new();
                if !branches.iter().all(|b| writes(b, &mut written)) {
                    return alts.collect();
                }
                let mut after = Vec::new();
                for node in &chain[k + 1..] {
                    let Node::Filter(p, true) = node else { break };
                    let mut reads_written = false;
                    let named = p.visit_fields(&mut |f| {
                        reads_written |= written.iter().any(|w| w == f);
                        !reads_written
                    });
                    if named.is_none() || reads_written {
                        break;
                    }
                    p.necessary_tests(&mut after);
                }
                return alts
                    .map(|mut a| {
                        a.extend(after.iter().cloned());
                        a
                    })
                    .collect();
            }
            _ => break,
        }
    }
    vec![tests]
}

/// Add the fields a chain may write to `out`: assignments and the named groups of field
/// regexes, through `case` and UNION branches; false when a step may change the event in
/// other ways (a function that transforms or expands it, an aggregate, a `match`).
fn writes(chain: &[Node], out: &mut Vec<String>) -> bool {
    for node in chain {
        match node {
            Node::Filter(_, true) => {}
            Node::Filter(p, false) => match p.capture_names() {
                Some(names) => out.extend(names.iter().cloned()),
                None => return false,
            },
            Node::Assign(name, _) => out.push(name.clone()),
            Node::Case(branches) | Node::Union(branches) => {
                if !branches.iter().all(|b| writes(b, out)) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Test a chain's leading filters that cannot change the event on the event itself: `None` when
/// one fails, else how many passed.
fn pure_prefix_passes(chain: &[Node], ev: &mut Event, ctx: &Ctx) -> Option<usize> {
    let mut k = 0;
    while let Some(Node::Filter(p, pure)) = chain.get(k) {
        if !pure {
            break;
        }
        if !p.test(ev, ctx) {
            return None;
        }
        k += 1;
    }
    Some(k)
}

/// Whether one of a chain's leading filters that cannot change the event fails on it, as told
/// without running anything that could fail the run ([`filter::Pred::quiet_test`]).
fn pure_prefix_fails_quietly(chain: &[Node], ev: &Event) -> bool {
    chain
        .iter()
        .map_while(|n| match n {
            Node::Filter(p, true) => Some(p),
            _ => None,
        })
        .any(|p| p.quiet_test(ev) == Some(false))
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

/// Whether a chain (or a branch in it) has a free-text filter.
pub fn has_free_text(chain: &[Node]) -> bool {
    chain.iter().any(|n| match n {
        Node::Filter(p, _) => p.has_free_text(),
        Node::Case(bs) | Node::Union(bs) => bs.iter().any(|b| has_free_text(b)),
        Node::Match(_, arms) => {
            arms.iter().any(|(g, b)| matches!(g, filter::GuardX::Call(p) if p.has_free_text()) || has_free_text(b))
        }
        _ => false,
    })
}

/// Whether free text in the chain can see a changed event: a free-text filter after the
/// leading run of plain filters.
pub fn needs_original(chain: &[Node]) -> bool {
    let lead = chain.iter().take_while(|n| matches!(n, Node::Filter(..))).count();
    has_free_text(&chain[lead..])
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
///
/// A query with `join()`, `selfJoinFilter()` or `defineTable()` reads its input more than
/// once: [`Executor::passes`] says how many times. Each pass but the last is a prepass: every
/// input event goes to [`Executor::push_prepass`], then [`Executor::end_prepass`] is called
/// once; the last pass is the main one ([`Executor::push`], then [`Executor::finish`]).
#[derive(Debug)]
pub struct Executor {
    pub(crate) chain: Chain,
    pub ctx: Arc<Ctx>,
    /// The next prepass round (1-based).
    round: usize,
    /// Keep each event's original in `ctx.original` while it goes through ([`needs_original`]).
    pub(crate) keep_original: bool,
    /// [`Executor::passes`], fixed when the query is built.
    passes: usize,
}

impl Executor {
    pub fn new(p: &ir::Pipeline, ctx: Ctx) -> Result<Executor, String> {
        let ctx = Arc::new(ctx);
        let chain = build(p, &ctx)?;
        let keep_original = needs_original(&chain);
        let passes = 1 + lock(&ctx.prepasses).iter().map(|j| j.level).max().unwrap_or(0);
        Ok(Executor { chain, ctx, round: 1, keep_original, passes })
    }

    /// How many times the input must be read: 1, or 2 when the query has a `join()`,
    /// `selfJoinFilter()` or `defineTable()` (more when a table's subquery reads an earlier
    /// table, or a join's subquery has a join of its own).
    pub fn passes(&self) -> usize {
        self.passes
    }

    fn round_jobs(&self) -> Vec<Arc<Mutex<dyn Prepass>>> {
        lock(&self.ctx.prepasses).iter().filter(|j| j.level == self.round).map(|j| Arc::clone(&j.job)).collect()
    }

    /// Feed one event to the current prepass.
    pub fn push_prepass(&mut self, ev: &Event) {
        for j in self.round_jobs() {
            lock(&j).push(ev, &self.ctx);
        }
    }

    /// End of the current prepass's input; the next call to `push_prepass` starts the next
    /// prepass (if [`Executor::passes`] asks for one).
    pub fn end_prepass(&mut self) {
        for j in self.round_jobs() {
            lock(&j).end(&self.ctx);
        }
        self.round += 1;
    }

    /// Feed one event; events that pass a non-aggregating query come out in `out`.
    pub fn push(&mut self, ev: Event, out: &mut Vec<Event>) {
        self.push_to(self.chain.len(), ev, out);
    }

    /// Feed one event that other queries read too (a pack's rules): the leading filters that
    /// cannot change the event (and those leading each branch of a leading `case`) are tested
    /// on it in place, and it is copied only for a query it may pass.
    pub fn push_shared(&mut self, ev: &mut Event, out: &mut Vec<Event>) {
        if self.round < self.passes || self.keep_original {
            self.push(ev.clone(), out);
            return;
        }
        if may_pass(&self.chain, ev, &self.ctx) {
            // The copy goes on from the first step after the leading filters that cannot change
            // the event: `may_pass` has just passed them.
            let tested = self.chain.iter().take_while(|n| matches!(n, Node::Filter(_, true))).count();
            push(&mut self.chain[tested..], ev.clone(), &self.ctx, out);
        }
    }

    /// Whether an event of which `known` can tell some fields (see [`may_pass_lazy`]) may pass
    /// the query's leading filters: `false` means it cannot change the result. Readers use it
    /// to drop lines of the main pass before parsing them whole.
    pub fn may_pass_lazy(&self, ev: &mut Event, known: &mut dyn FnMut(&str, &mut Event) -> bool) -> bool {
        may_pass_lazy(&self.chain, ev, &self.ctx, known)
    }

    /// A necessary condition for an event to pass the leading filters, as alternatives (the
    /// branches of a leading `case` or UNION) of `Field=pattern` tests that must all pass: an
    /// event that fails a test of every alternative cannot change the result. An alternative
    /// without tests says nothing.
    pub fn leading_guard(&self) -> Vec<Vec<(String, crate::plan::ir::Matcher)>> {
        leading_guard(&self.chain, Vec::new())
    }

    /// Push one event through the first `n` nodes.
    pub(crate) fn push_to(&mut self, n: usize, ev: Event, out: &mut Vec<Event>) {
        if self.round < self.passes {
            // Joins and tables would silently be empty.
            self.ctx.fail(format!(
                "this query reads its input {} times (join, selfJoinFilter or defineTable), but the main pass started after {} prepass(es)",
                self.passes,
                self.round - 1
            ));
            return;
        }
        if self.keep_original {
            *lock(&self.ctx.original) = Some(ev.clone());
            push(&mut self.chain[..n], ev, &self.ctx, out);
            *lock(&self.ctx.original) = None;
        } else {
            push(&mut self.chain[..n], ev, &self.ctx, out);
        }
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
            if let Some(err) = self.ctx.error() {
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
    use crate::plan::PlanOptions;
    let opts = PlanOptions { params: params.iter().cloned().collect(), lenient, ..PlanOptions::default() };
    let ir = crate::plan::compile::compile_text(text, &opts)?;
    let mut ex = Executor::new(&ir, ctx)?;
    let rows = ex.run_all(events)?;
    let warnings = ex.ctx.warnings();
    Ok((rows, warnings))
}
