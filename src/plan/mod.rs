//! The planner: checks a parsed query against the function table (names, arity, argument
//! names, required parameters), resolves saved queries and parameters, validates regexes, and
//! describes what the query needs: the functions it calls, the fields it reads, the literals
//! an event must contain to pass its first filter (a prefilter for readers).
//!
//! `plan` knows nothing about files: saved queries arrive as a name → text map.

use crate::diag::{Code, Diagnostic, Span};
use crate::func::{Category, FuncDef, FunctionTable, ParamType};
use crate::lang::ast::*;
use crate::lang::{parse, ParseOptions};
use std::collections::{BTreeMap, BTreeSet};

pub mod compile;
pub mod ir;
pub mod project;
pub(crate) mod regex_check;
pub mod required;
pub mod rx;

/// The leading inline-flag group of a pattern that also has a top-level `|` (JitRex v1 quirk).
pub fn regex_check_leading(p: &str) -> Option<String> {
    regex_check::leading_flag_with_alternation(p)
}

/// What the planner is given besides the query.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--param name=value`.
    pub params: BTreeMap<String, String>,
    /// Saved queries by name (from `--saved DIR`); `None` when no directory was given.
    pub saved: Option<BTreeMap<String, String>>,
    /// A parameter without value and default is an error (for running, not for `check`).
    pub require_params: bool,
    /// Parse saved queries in the seed dialect too.
    pub lenient: bool,
}

/// One step as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStep {
    /// filter, assign, transform, aggregate, case, match, stats, union, saved.
    pub kind: &'static str,
    /// The step in canonical CQL.
    pub text: String,
    /// Function calls with every parameter bound (defaults filled in).
    pub calls: Vec<BoundCall>,
}

/// A call with its arguments bound to parameter names.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundCall {
    pub name: String,
    pub category: Category,
    /// (parameter, value as CQL, taken from the default)
    pub args: Vec<(String, String, bool)>,
}

/// The planner's description of a query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<PlanStep>,
    /// Field names the query reads.
    pub fields_read: BTreeSet<String>,
    /// Field names the query writes.
    pub fields_written: BTreeSet<String>,
    /// One of these literal strings must occur in an event for it to pass the first filter,
    /// or `None` when no such set is known.
    pub prefilter: Option<Vec<String>>,
    /// Query parameters used, with their bound value or default.
    pub params: BTreeMap<String, Option<String>>,
    /// Saved queries called.
    pub saved: BTreeSet<String>,
    /// Whether the query aggregates (else LogScale would add `tail(200)`).
    pub aggregates: bool,
    /// The event types (`#event_simpleName` values) of which an event must have one to pass the
    /// query's first filter, or `None` when any event may pass; an entry `/body/flags` is a regex
    /// the event type must match. Readers use it to skip Falcon lines without parsing them.
    pub event_names: Option<Vec<String>>,
    /// The same for the passes before the main one: the event types the subqueries of `join()`
    /// and `defineTable()` can use (`None` when one can use any, or for `selfJoinFilter()`).
    pub prepass_event_names: Option<Vec<String>>,
}

/// Check and describe a query.
pub fn plan(q: &Query, src: &str, opts: &PlanOptions) -> (Plan, Vec<Diagnostic>) {
    let mut pl = Planner {
        table: FunctionTable::builtin(),
        opts,
        diags: Vec::new(),
        plan: Plan::default(),
        src,
        saved_stack: Vec::new(),
    };
    pl.top(&q.pipeline);
    pl.plan.prefilter = prefilter_pipeline(&q.pipeline);
    pl.plan.event_names = event_names_pipeline(&q.pipeline);
    pl.plan.prepass_event_names = {
        let mut out = Vec::new();
        prepass_names(&q.pipeline, &mut out).then(|| {
            out.sort();
            out.dedup();
            out
        })
    };
    let Planner { plan, mut diags, .. } = pl;
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (plan, diags)
}

struct Planner<'a> {
    table: &'static FunctionTable,
    opts: &'a PlanOptions,
    diags: Vec<Diagnostic>,
    plan: Plan,
    #[allow(dead_code)]
    src: &'a str,
    saved_stack: Vec<String>,
}

/// How a call is used, which decides implied arguments.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    Plain,
    /// `x := f(…)`: `as` is given.
    Assigned,
    /// `x =~ f(…)` or a match guard: `field` is given.
    FieldGiven,
}

impl Planner<'_> {
    fn top(&mut self, p: &Pipeline) {
        let mut seen_other = false;
        let mut after_agg = false;
        for s in &p.steps {
            let is_define = matches!(s, Step::Filter(Filter::Call(c)) if c.name.eq_ignore_ascii_case("defineTable"));
            if is_define && seen_other {
                self.diags.push(
                    Diagnostic::error(
                        Code::DefineTablePlacement,
                        s.span(),
                        "defineTable() must come before every other step",
                    )
                    .with_help("move the defineTable() calls to the start of the query"),
                );
            }
            if !is_define {
                seen_other = true;
            }
            let kind = self.step(s, after_agg, true);
            if kind == "aggregate" || matches!(s, Step::Stats(..)) {
                after_agg = true;
                self.plan.aggregates = true;
            }
            let calls = self.bound_calls(s);
            self.plan.steps.push(PlanStep { kind, text: step_text(s), calls });
        }
    }

    fn pipeline(&mut self, p: &Pipeline, after_agg: bool) {
        let mut after = after_agg;
        for s in &p.steps {
            if self.step(s, after, false) == "aggregate" {
                after = true;
            }
        }
    }

    fn step(&mut self, s: &Step, after_agg: bool, top: bool) -> &'static str {
        match s {
            Step::Filter(Filter::Call(c)) => {
                if c.name.eq_ignore_ascii_case("defineTable") && !top {
                    self.diags.push(
                        Diagnostic::error(
                            Code::DefineTablePlacement,
                            c.span,
                            "defineTable() is allowed only at the top level",
                        )
                        .with_help("move it out of the subquery, to the start of the query"),
                    );
                }
                match self.call(c, Use::Plain) {
                    Some(Category::Aggregate) => "aggregate",
                    Some(Category::Transform) => "transform",
                    _ => "filter",
                }
            }
            Step::Filter(f) => {
                self.filter(f, after_agg);
                if let Filter::Saved(_) = f {
                    "saved"
                } else {
                    "filter"
                }
            }
            Step::Assign(a) => {
                self.assign(a);
                "assign"
            }
            Step::Case(c) => {
                for b in &c.branches {
                    self.pipeline(b, after_agg);
                }
                "case"
            }
            Step::Match(m) => {
                self.plan.fields_read.insert(m.field.name.clone());
                for a in &m.arms {
                    match &a.guard {
                        Guard::Pattern(p) => self.pattern(p),
                        Guard::Call(c) => {
                            self.call(c, Use::FieldGiven);
                        }
                    }
                    self.pipeline(&a.body, after_agg);
                }
                "match"
            }
            Step::Stats(items, _) => {
                for e in items {
                    self.expr(e, Use::Plain);
                }
                "stats"
            }
            Step::Union(bs, _) => {
                for b in bs {
                    self.pipeline(b, after_agg);
                }
                "union"
            }
        }
    }

    fn assign(&mut self, a: &Assign) {
        self.plan.fields_written.insert(a.field.name.clone());
        match &a.value {
            Expr::Call(c) => {
                self.call(c, Use::Assigned);
            }
            e => self.expr(e, Use::Plain),
        }
    }

    fn filter(&mut self, f: &Filter, after_agg: bool) {
        match f {
            Filter::And(items, _) | Filter::Or(items, _) => items.iter().for_each(|i| self.filter(i, after_agg)),
            Filter::Not(inner, _) => self.filter(inner, after_agg),
            Filter::Compare { field, value, .. } => {
                self.plan.fields_read.insert(field.name.clone());
                self.pattern(value);
            }
            Filter::FreeText(p) => {
                if after_agg {
                    self.diags.push(
                        Diagnostic::error(
                            Code::FreeTextAfterAggregate,
                            p.span(),
                            "free-text filter after an aggregate",
                        )
                        .with_label("free text searches the original events, which an aggregate has consumed")
                        .with_help("filter a field instead, e.g. `@rawstring = /…/` or `field = \"…\"`"),
                    );
                }
                if let Pattern::Word(w, sp) = p {
                    if let Some(def) = self.table.get(w) {
                        self.diags.push(
                            Diagnostic::error(
                                Code::ReservedWord,
                                *sp,
                                format!("`{w}` is a function name, reserved in CQL"),
                            )
                            .with_label("a bare function name cannot be a free-text search")
                            .with_help(format!(
                                "to search for the text, quote it: \"{w}\"; to call it, write {}(…)",
                                def.name
                            )),
                        );
                    }
                }
                self.pattern(p);
            }
            Filter::Bool(..) => {}
            Filter::Call(c) => {
                self.call(c, Use::Plain);
            }
            Filter::FieldCall { field, call, .. } => {
                self.plan.fields_read.insert(field.name.clone());
                self.call(call, Use::FieldGiven);
            }
            Filter::Saved(s) => self.saved(s),
            Filter::Pipeline(p) => self.pipeline(p, after_agg),
            Filter::Union(bs, _) => bs.iter().for_each(|b| self.pipeline(b, after_agg)),
        }
    }

    fn pattern(&mut self, p: &Pattern) {
        match p {
            Pattern::Regex(r) => self.regex_literal(r),
            Pattern::Param(p) => self.param(p),
            _ => {}
        }
    }

    fn param(&mut self, p: &Param) {
        let bound = self.opts.params.get(&p.name).cloned().or_else(|| p.default.as_ref().map(|d| d.0.clone()));
        if bound.is_none() && self.opts.require_params {
            self.diags.push(
                Diagnostic::error(Code::UnboundParameter, p.span, format!("parameter ?{} has no value", p.name))
                    .with_help(format!("bind it with --param {}=VALUE, or give a default: ?{{{}=*}}", p.name, p.name)),
            );
        }
        self.plan.params.entry(p.name.clone()).or_insert(bound);
    }

    fn regex_literal(&mut self, r: &RegexLit) {
        let pattern = r.body.replace("\\/", "/");
        self.check_regex(&pattern, r.flags.contains('F'), r.span);
    }

    fn check_regex(&mut self, pattern: &str, engine_v2: bool, span: Span) {
        if let Err(msg) = regex_check::validate(pattern) {
            self.diags.push(
                Diagnostic::error(Code::InvalidRegex, span, "invalid regular expression").with_label(msg).with_help(
                    "LogScale's regex flavour is close to Java's; see docs/semantics.md for what cqlhunt accepts",
                ),
            );
        }
        if !engine_v2 {
            if let Some(flag) = regex_check::leading_flag_with_alternation(pattern) {
                self.diags.push(
                    Diagnostic::warning(
                        Code::InlineFlagFirstAlternative,
                        span,
                        format!("the leading `{flag}` applies only to the first top-level alternative"),
                    )
                    .with_note(
                        "LogScale's default regex engine (v1) scopes a leading inline flag to the first `|` branch",
                    )
                    .with_help("wrap the alternatives in a group, `(?i)(a|b)`, or use the /…/i flag"),
                );
            }
        }
    }

    fn saved(&mut self, s: &SavedCall) {
        self.plan.saved.insert(s.name.clone());
        for a in &s.args {
            self.expr(&a.value, Use::Plain);
        }
        let Some(map) = &self.opts.saved else {
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownSavedQuery,
                    s.span,
                    format!("saved query `{}` cannot be resolved", s.name),
                )
                .with_label("no --saved directory was given")
                .with_help("pass --saved DIR, a directory holding NAME.cql (or NAME.logscale) files"),
            );
            return;
        };
        let short = s.name.rsplit(':').next().unwrap_or(&s.name);
        let text = map.get(&s.name).or_else(|| map.get(short)).cloned();
        let Some(text) = text else {
            let hint = crate::func::suggest(&s.name, map.keys().map(String::as_str));
            let mut d =
                Diagnostic::error(Code::UnknownSavedQuery, s.span, format!("saved query `{}` not found", s.name))
                    .with_label("not in the --saved directory");
            if let Some(h) = hint {
                d = d.with_help(format!("did you mean ${h}()?"));
            }
            self.diags.push(d);
            return;
        };
        if self.saved_stack.contains(&s.name) || self.saved_stack.len() > 16 {
            self.diags.push(Diagnostic::error(
                Code::UnknownSavedQuery,
                s.span,
                format!("saved query `{}` calls itself (through {})", s.name, self.saved_stack.join(" → ")),
            ));
            return;
        }
        let (q, diags) = parse(&text, ParseOptions { lenient: self.opts.lenient });
        if diags.iter().any(Diagnostic::is_error) {
            self.diags.push(
                Diagnostic::error(Code::UnknownSavedQuery, s.span, format!("saved query `{}` does not parse", s.name))
                    .with_help(format!("run `cqlhunt check` on its file; first error: {}", diags[0].message)),
            );
            return;
        }
        // Check the saved query's body; its diagnostics point into another text, so they are
        // reported at the call site.
        self.saved_stack.push(s.name.clone());
        let before = self.diags.len();
        self.pipeline(&q.pipeline, false);
        for d in &mut self.diags[before..] {
            d.message = format!("in saved query `{}`: {}", s.name, d.message);
            d.span = s.span;
            d.labels.clear();
        }
        self.saved_stack.pop();
    }

    /// Check one call; returns its category when the function is known.
    fn call(&mut self, c: &Call, usage: Use) -> Option<Category> {
        let Some(def) = self.table.get(&c.name) else {
            let mut d = Diagnostic::error(Code::UnknownFunction, c.name_span, format!("unknown function `{}`", c.name))
                .with_label("no LogScale function has this name");
            if let Some(s) = self.table.suggest(&c.name) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.diags.push(d);
            for a in &c.args {
                self.expr(&a.value, Use::Plain);
            }
            return None;
        };
        if def.category == Category::Parser {
            self.diags.push(
                Diagnostic::error(Code::ParserOnly, c.name_span, format!("`{}` can only be used in parsers", def.name))
                    .with_help("remove it from the query; it runs at ingest time"),
            );
        }
        if def.deprecated {
            let mut d = Diagnostic::warning(Code::Deprecated, c.name_span, format!("`{}` is deprecated", def.name));
            if let Some(doc) = &def.doc {
                d = d.with_note(format!("see {doc}"));
            }
            self.diags.push(d);
        }
        self.args(c, def, usage);
        Some(def.category)
    }

    fn args(&mut self, c: &Call, def: &FuncDef, usage: Use) {
        let mut given: Vec<&str> = Vec::new();
        let mut unnamed_seen: Option<Span> = None;
        for a in &c.args {
            let pdef = match &a.name {
                Some((n, nspan)) => match def.param(n) {
                    Some(p) => {
                        if given.contains(&p.name.as_str()) {
                            self.diags.push(
                                Diagnostic::error(Code::DuplicateArgument, *nspan, format!("`{}` given twice", p.name))
                                    .with_help("keep one of them"),
                            );
                        }
                        given.push(&p.name);
                        Some(p)
                    }
                    None if def.varargs => None,
                    None => {
                        let mut d = Diagnostic::error(
                            Code::UnknownArgument,
                            *nspan,
                            format!("{}() has no parameter `{n}`", def.name),
                        )
                        .with_note(format!("signature: {}", def.signature()));
                        if let Some(s) = crate::func::suggest(n, def.params.iter().map(|p| p.name.as_str())) {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        self.diags.push(d);
                        None
                    }
                },
                None => {
                    if named_subquery(&a.value).is_some() {
                        // correlate(name: {…}): named subqueries fill the `query` parameter.
                        given.push("query");
                        self.expr(&a.value, Use::Plain);
                        continue;
                    }
                    if let Some(prev) = unnamed_seen {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TooManyUnnamed,
                                a.span,
                                format!("{}() takes at most one unnamed argument", def.name),
                            )
                            .with_secondary(prev, "the unnamed argument")
                            .with_help(format!("name this argument; signature: {}", def.signature())),
                        );
                    }
                    unnamed_seen = Some(a.span);
                    match def.unnamed() {
                        Some(p) => {
                            if given.contains(&p.name.as_str()) {
                                self.diags.push(Diagnostic::error(
                                    Code::DuplicateArgument,
                                    a.span,
                                    format!("`{}` given twice (unnamed and by name)", p.name),
                                ));
                            }
                            given.push(&p.name);
                            Some(p)
                        }
                        None => {
                            if unnamed_seen == Some(a.span) {
                                self.diags.push(
                                    Diagnostic::error(
                                        Code::TooManyUnnamed,
                                        a.span,
                                        format!("{}() has no parameter whose name may be omitted", def.name),
                                    )
                                    .with_help(format!("name the argument; signature: {}", def.signature())),
                                );
                            }
                            None
                        }
                    }
                }
            };
            // Arguments that take a query or aggregate are checked as calls.
            match (&a.value, pdef.map(|p| p.ty)) {
                (Expr::Str(s, sp), Some(ParamType::Regex)) => {
                    let pattern = unescape_cql_string(s);
                    let v2 = c.args.iter().any(|x| {
                        x.name.as_ref().is_some_and(|(n, _)| n == "flags")
                            && matches!(&x.value, Expr::Str(f, _) | Expr::Word(f, _) if f.contains('F'))
                    });
                    self.check_regex(&pattern, v2, *sp);
                }
                (Expr::Word(w, _), Some(ParamType::Field | ParamType::Fields)) => {
                    if !is_output_param(pdef) {
                        self.plan.fields_read.insert(w.clone());
                    }
                }
                (Expr::Array(items, _), Some(ParamType::Fields)) if !is_output_param(pdef) => {
                    for i in items {
                        if let Expr::Word(w, _) | Expr::Str(w, _) = i {
                            self.plan.fields_read.insert(w.clone());
                        }
                    }
                }
                // A bare word given to a plain parameter is a value (`order=desc`), not a field.
                (
                    Expr::Word(..),
                    Some(
                        ParamType::String
                        | ParamType::Number
                        | ParamType::Integer
                        | ParamType::Boolean
                        | ParamType::RelativeTime
                        | ParamType::Regex
                        | ParamType::Array,
                    ),
                ) => {}
                (Expr::Array(items, _), Some(ParamType::Array))
                    if items.iter().all(|i| matches!(i, Expr::Word(..) | Expr::Str(..))) => {}
                (v, _) => self.expr(v, Use::Plain),
            }
            if let (Some(p), Some((_, _))) = (pdef, &a.name) {
                if p.name == "as" {
                    if let Expr::Word(w, _) | Expr::Str(w, _) = &a.value {
                        self.plan.fields_written.insert(w.clone());
                    }
                }
            }
        }
        for p in &def.params {
            if !p.required || given.contains(&p.name.as_str()) {
                continue;
            }
            if (p.name == "as" && usage == Use::Assigned) || (p.name == "field" && usage == Use::FieldGiven) {
                continue;
            }
            let how = if p.unnamed {
                format!("{}(VALUE, …) or {}={}", def.name, p.name, "VALUE")
            } else {
                format!("{}=VALUE", p.name)
            };
            self.diags.push(
                Diagnostic::error(Code::MissingArgument, c.span, format!("{}() needs `{}`", def.name, p.name))
                    .with_label(format!("`{}` is required", p.name))
                    .with_help(format!("add {how}; signature: {}", def.signature())),
            );
        }
    }

    fn expr(&mut self, e: &Expr, usage: Use) {
        match e {
            Expr::Word(w, _) => {
                if !crate::lang::parse::is_number(w) && w != "*" && w != "true" && w != "false" {
                    self.plan.fields_read.insert(w.clone());
                }
            }
            Expr::Str(..) => {}
            Expr::Param(p) => self.param(p),
            Expr::Call(c) => {
                self.call(c, usage);
            }
            Expr::Saved(s) => self.saved(s),
            Expr::Array(items, _) => items.iter().for_each(|i| self.expr(i, Use::Plain)),
            Expr::Subquery(q) => {
                self.pipeline(&q.pipeline, false);
                for (_, v) in &q.attrs {
                    self.expr(v, Use::Plain);
                }
            }
            Expr::Unary(_, inner, _) => self.expr(inner, Use::Plain),
            Expr::Binary(_, l, r, _) => {
                self.expr(l, Use::Plain);
                self.expr(r, Use::Plain);
            }
            Expr::Assign(a) => self.assign(a),
            Expr::Regex(r) => self.regex_literal(r),
        }
    }

    fn bound_calls(&self, s: &Step) -> Vec<BoundCall> {
        let mut out = Vec::new();
        let call = match s {
            Step::Filter(Filter::Call(c)) => Some((c, Use::Plain)),
            Step::Filter(Filter::FieldCall { call, .. }) => Some((call, Use::FieldGiven)),
            Step::Assign(Assign { value: Expr::Call(c), .. }) => Some((c, Use::Assigned)),
            _ => None,
        };
        if let Some((c, _)) = call {
            if let Some(def) = self.table.get(&c.name) {
                out.push(bind(c, def));
            }
        }
        out
    }
}

fn named_subquery(e: &Expr) -> Option<&str> {
    match e {
        Expr::Subquery(q) => q.name.as_ref().map(|n| n.0.as_str()),
        _ => None,
    }
}

fn is_output_param(p: Option<&crate::func::ParamDef>) -> bool {
    p.is_some_and(|p| matches!(p.name.as_str(), "as" | "prefix" | "asArray"))
}

/// Bind a call's arguments to parameter names, filling defaults.
pub fn bind(c: &Call, def: &FuncDef) -> BoundCall {
    use crate::lang::print::expr_to_string;
    let mut args = Vec::new();
    for a in &c.args {
        let name = match &a.name {
            Some((n, _)) => def.param(n).map_or(n.clone(), |p| p.name.clone()),
            None => match named_subquery(&a.value) {
                Some(n) => format!("query:{n}"),
                None => def.unnamed().map_or("?".to_string(), |p| p.name.clone()),
            },
        };
        args.push((name, expr_to_string(&a.value), false));
    }
    for p in &def.params {
        if let Some(d) = &p.default {
            if !args.iter().any(|(n, _, _)| n == &p.name) {
                args.push((p.name.clone(), d.clone(), true));
            }
        }
    }
    BoundCall { name: def.name.clone(), category: def.category, args }
}

fn step_text(s: &Step) -> String {
    let q = Query { pipeline: Pipeline { steps: vec![s.clone()], span: s.span() } };
    crate::lang::print::query_to_string(&q)
}

/// Decode a CQL string body: `\"` → `"`, `\\` → `\`, `\n` → newline, `\t` → tab; other
/// backslash sequences are kept as written (docs/semantics.md).
pub fn unescape_cql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

// ---- prefilters ------------------------------------------------------------------------------

/// The event names the first filter of a pipeline requires (see [`Plan::event_names`]). Only
/// filters that read fields without changing them are looked through; anything else ends the
/// search with `None`.
fn event_names_pipeline(p: &Pipeline) -> Option<Vec<String>> {
    for s in &p.steps {
        match s {
            Step::Filter(f) => {
                if let Some(v) = event_names(f) {
                    return Some(v);
                }
                if !pure_filter(f) {
                    return None;
                }
            }
            Step::Case(c) => return union_names(c.branches.iter()),
            Step::Union(bs, _) => return union_names(bs.iter()),
            _ => return None,
        }
    }
    None
}

/// The event types of every subquery that runs before the main pass, into `out`; `false` when
/// one of them can use any event.
fn prepass_names(p: &Pipeline, out: &mut Vec<String>) -> bool {
    for s in &p.steps {
        let ok = match s {
            Step::Filter(f) => filter_prepass_names(f, out),
            Step::Case(c) => c.branches.iter().all(|b| prepass_names(b, out)),
            Step::Union(bs, _) => bs.iter().all(|b| prepass_names(b, out)),
            Step::Match(m) => m.arms.iter().all(|a| prepass_names(&a.body, out)),
            Step::Assign(_) | Step::Stats(..) => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn filter_prepass_names(f: &Filter, out: &mut Vec<String>) -> bool {
    match f {
        Filter::Call(c) | Filter::FieldCall { call: c, .. } => {
            let name = c.name.to_ascii_lowercase();
            if name == "selfjoinfilter" {
                return false;
            }
            for a in &c.args {
                if let Expr::Subquery(q) = &a.value {
                    if matches!(name.as_str(), "join" | "definetable") {
                        match event_names_pipeline(&q.pipeline) {
                            Some(v) => out.extend(v),
                            None => return false,
                        }
                    }
                    if !prepass_names(&q.pipeline, out) {
                        return false;
                    }
                }
            }
            true
        }
        Filter::And(v, _) | Filter::Or(v, _) => v.iter().all(|x| filter_prepass_names(x, out)),
        Filter::Not(x, _) => filter_prepass_names(x, out),
        // A saved query may hold a join: its events are not known here.
        Filter::Saved(_) => false,
        Filter::Pipeline(p) => prepass_names(p, out),
        Filter::Union(bs, _) => bs.iter().all(|b| prepass_names(b, out)),
        Filter::Compare { .. } | Filter::FreeText(_) | Filter::Bool(..) => true,
    }
}

fn union_names<'a>(it: impl Iterator<Item = &'a Pipeline>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for b in it {
        out.extend(event_names_pipeline(b)?);
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// A filter that cannot change the event (no regex extraction, no function).
fn pure_filter(f: &Filter) -> bool {
    match f {
        Filter::And(v, _) | Filter::Or(v, _) => v.iter().all(pure_filter),
        Filter::Not(x, _) => pure_filter(x),
        Filter::Compare { value: Pattern::Regex(r), .. } | Filter::FreeText(Pattern::Regex(r)) => {
            !r.body.contains("(?<")
        }
        Filter::Compare { .. } | Filter::FreeText(_) | Filter::Bool(..) => true,
        _ => false,
    }
}

fn event_names(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare { field, op: CmpOp::Eq, value: Pattern::Word(w, _) | Pattern::Quoted(w, _), .. }
            if matches!(field.name.as_str(), "#event_simpleName" | "event_simpleName")
                && !w.is_empty()
                && !w.contains(['*', '\\', '"']) =>
        {
            Some(vec![w.clone()])
        }
        // A regex over the event type: kept as `/body/flags`, which the readers test on each
        // line's event type (read::skip::EventTypes).
        Filter::Compare { field, op: CmpOp::Eq, value: Pattern::Regex(r), .. }
            if matches!(field.name.as_str(), "#event_simpleName" | "event_simpleName") =>
        {
            Some(vec![format!("/{}/{}", r.body, r.flags)])
        }
        Filter::Or(items, _) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(event_names(i)?);
            }
            Some(out)
        }
        Filter::And(items, _) => items.iter().find_map(event_names),
        // `in(#event_simpleName, values=[A, B])`, `#event_simpleName =~ in(values=[A, B])`.
        Filter::Call(c) => in_event_names(c, None),
        Filter::FieldCall { field, negated: false, call, .. } => in_event_names(call, Some(&field.name)),
        _ => None,
    }
}

/// The values of an `in()` of the event type: exact names (no `*`, not ignoring case). `field`:
/// the field given by `field =~ in(…)`.
fn in_event_names(c: &Call, field: Option<&str>) -> Option<Vec<String>> {
    if !c.name.eq_ignore_ascii_case("in") {
        return None;
    }
    let text = |e: &Expr| match e {
        Expr::Word(w, _) | Expr::Str(w, _) if !w.is_empty() && !w.contains(['*', '\\', '"']) => Some(w.clone()),
        _ => None,
    };
    let (mut named_field, mut values) = (field.map(str::to_string), None);
    for a in &c.args {
        match a.name.as_ref().map(|(n, _)| n.as_str()) {
            Some("field") | None => named_field = Some(text(&a.value)?),
            Some("values") => match &a.value {
                Expr::Array(items, _) if !items.is_empty() => {
                    values = Some(items.iter().map(text).collect::<Option<Vec<_>>>()?);
                }
                _ => return None,
            },
            Some("ignoreCase") if matches!(&a.value, Expr::Word(w, _) if w == "false") => {}
            Some(_) => return None,
        }
    }
    matches!(named_field.as_deref(), Some("#event_simpleName" | "event_simpleName")).then_some(values).flatten()
}

fn prefilter_pipeline(p: &Pipeline) -> Option<Vec<String>> {
    for s in &p.steps {
        match s {
            Step::Filter(f) => {
                if let Some(v) = prefilter(f) {
                    return Some(v);
                }
                if !matches!(f, Filter::Call(_) | Filter::FieldCall { .. } | Filter::Compare { .. } | Filter::And(..)) {
                    return None;
                }
            }
            Step::Case(c) => return union_of(c.branches.iter()),
            Step::Union(bs, _) => return union_of(bs.iter()),
            Step::Assign(_) => continue,
            _ => return None,
        }
    }
    None
}

fn union_of<'a>(it: impl Iterator<Item = &'a Pipeline>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for b in it {
        out.extend(prefilter_pipeline(b)?);
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn prefilter(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare { op: CmpOp::Eq, value: Pattern::Word(w, _) | Pattern::Quoted(w, _), .. }
            if !w.contains('*') && !w.contains('\\') && !w.is_empty() =>
        {
            Some(vec![w.clone()])
        }
        Filter::Or(items, _) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(prefilter(i)?);
            }
            Some(out)
        }
        Filter::And(items, _) => items.iter().find_map(prefilter),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diags(q: &str) -> Vec<(Code, String)> {
        let (ast, d) = parse(q, ParseOptions::default());
        assert!(d.is_empty(), "{q}: {d:?}");
        let (_, d) = plan(&ast, q, &PlanOptions::default());
        d.into_iter().map(|d| (d.code, d.message)).collect()
    }

    #[test]
    fn accepts_valid_calls() {
        for q in [
            "groupBy([a, b], function=count(aid, as=n))",
            "x := lower(y)",
            "ip =~ cidr(subnet=\"10.0.0.0/8\")",
            "t := formatTime(\"%Y\", field=@timestamp)",
            "in(FileName, values=[\"a\", \"b\"])",
            "eval(x = a + b)",
            "sort(x, order=desc, limit=10)",
        ] {
            assert_eq!(diags(q), vec![], "{q}");
        }
    }

    #[test]
    fn reports_names_and_arity() {
        let d = diags("gropBy(x)");
        assert_eq!(d[0].0, Code::UnknownFunction);
        assert_eq!(diags("count(x, bogus=1)")[0].0, Code::UnknownArgument);
        assert_eq!(diags("formatTime(\"%Y\")")[0].0, Code::MissingArgument);
        assert_eq!(diags("lower(a, b)")[0].0, Code::TooManyUnnamed);
        assert_eq!(diags("count(a, field=b)")[0].0, Code::DuplicateArgument);
        assert_eq!(diags("test")[0].0, Code::ReservedWord);
    }

    #[test]
    fn prepass_event_names_of_joins_and_tables() {
        let names = |q: &str| {
            let (ast, d) = crate::lang::parse(q, crate::lang::ParseOptions::default());
            assert!(d.is_empty(), "{d:?}");
            plan(&ast, q, &PlanOptions::default()).0.prepass_event_names
        };
        assert_eq!(
            names("#event_simpleName=A | join({#event_simpleName=B OR #event_simpleName=C | x=1}, field=k)"),
            Some(vec!["B".to_string(), "C".to_string()])
        );
        assert_eq!(names("#event_simpleName=A | join({x=1}, field=k)"), None);
        assert_eq!(names("#event_simpleName=A | selfJoinFilter(field=k, where=[{x=1}, {y=2}])"), None);
        assert_eq!(names("#event_simpleName=A | FileName=x"), Some(vec![]));
    }

    #[test]
    fn event_names_of_the_seed() {
        let seed = include_str!("../../tests/seed/seed.cql");
        let (ast, _) = parse(seed, ParseOptions { lenient: true });
        let (p, _) = plan(&ast, seed, &PlanOptions { lenient: true, ..PlanOptions::default() });
        let names = p.event_names.unwrap();
        assert_eq!(names.len(), 6, "{names:?}");
        for q in [
            "x := 1 | #event_simpleName=A",
            "groupBy(a) | #event_simpleName=A",
            "#event_simpleName!=/A/",
            "CommandLine=/(?<x>.)/ | #event_simpleName=A",
        ] {
            let (ast, _) = parse(q, ParseOptions::default());
            assert_eq!(plan(&ast, q, &PlanOptions::default()).0.event_names, None, "{q}");
        }
        let q = "#event_simpleName=/Written$/i | count()";
        let (ast, _) = parse(q, ParseOptions::default());
        assert_eq!(plan(&ast, q, &PlanOptions::default()).0.event_names, Some(vec!["/Written$/i".to_string()]));
        let q = "FileName=cmd.exe #event_simpleName=ProcessRollup2 | groupBy(aid)";
        let (ast, _) = parse(q, ParseOptions::default());
        assert_eq!(plan(&ast, q, &PlanOptions::default()).0.event_names, Some(vec!["ProcessRollup2".to_string()]));
    }

    /// `in()` of the event type names the types as an OR of them does; wildcards, ignoring
    /// case, a negation or another field say nothing.
    #[test]
    fn event_names_of_in() {
        let names = |q: &str| {
            let (ast, diags) = parse(q, ParseOptions::default());
            assert!(diags.iter().all(|d| !d.is_error()), "{q}: {diags:?}");
            plan(&ast, q, &PlanOptions::default()).0.event_names
        };
        let ab = Some(vec!["A".to_string(), "B".to_string()]);
        assert_eq!(names(r##"in(field="#event_simpleName", values=[A, "B"]) | x=1"##), ab);
        assert_eq!(names("in(#event_simpleName, values=[A, B], ignoreCase=false)"), ab);
        assert_eq!(names("#event_simpleName =~ in(values=[A, B])"), ab);
        assert_eq!(names("case { in(#event_simpleName, values=[A]) | x=1 ; #event_simpleName=B }"), ab);
        for q in [
            r#"in(#event_simpleName, values=[A, "B*"])"#,
            "in(#event_simpleName, values=[A], ignoreCase=true)",
            "!in(#event_simpleName, values=[A])",
            "#event_simpleName =~ !in(values=[A])",
            "in(FileName, values=[A])",
            "in(#event_simpleName, values=[A, ?b])",
        ] {
            assert_eq!(names(q), None, "{q}");
        }
    }

    #[test]
    fn prefilter_from_tags() {
        let q = "#event_simpleName=ProcessRollup2 OR #event_simpleName=SyntheticProcessRollup2 | x=1";
        let (ast, _) = parse(q, ParseOptions::default());
        let (p, _) = plan(&ast, q, &PlanOptions::default());
        assert_eq!(p.prefilter, Some(vec!["ProcessRollup2".to_string(), "SyntheticProcessRollup2".to_string()]));
    }
}
