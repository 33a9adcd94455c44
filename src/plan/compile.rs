//! Compile a checked AST into the executable plan ([`super::ir`]): decode strings, substitute
//! parameters and saved queries, compile regexes, bind calls to canonical names.

use super::ir::{self, Glob, Matcher};
use super::rx;
use super::{unescape_cql_string, PlanOptions};
use crate::diag::{Code, Diagnostic, Span};
use crate::func::{Category, FunctionTable};
use crate::lang::ast::*;
use crate::lang::{parse, ParseOptions};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A query's text parsed, checked and compiled (`opts.lenient` for the seed dialect); the first
/// error as `CODE: message`.
pub fn compile_text(text: &str, opts: &PlanOptions) -> Result<ir::Pipeline, String> {
    let (q, diags) = parse(text, ParseOptions { lenient: opts.lenient });
    if let Some(d) = diags.iter().find(|d| d.is_error()) {
        return Err(format!("{}: {}", d.code, d.message));
    }
    let (_, pd) = super::plan(&q, text, opts);
    if let Some(d) = pd.iter().find(|d| d.is_error()) {
        return Err(format!("{}: {}", d.code, d.message));
    }
    compile(&q, opts).map_err(|d| format!("{}: {}", d[0].code, d[0].message))
}

/// Compile a query. Errors are diagnostics (unbound parameters, bad regexes, unknown saved
/// queries), reported all at once.
pub fn compile(q: &Query, opts: &PlanOptions) -> Result<ir::Pipeline, Vec<Diagnostic>> {
    let mut c = Compiler { opts, params: opts.params.clone(), diags: Vec::new(), depth: 0 };
    let p = c.pipeline(&q.pipeline);
    if c.diags.iter().any(Diagnostic::is_error) {
        Err(c.diags)
    } else {
        Ok(p)
    }
}

struct Compiler<'a> {
    opts: &'a PlanOptions,
    params: BTreeMap<String, String>,
    diags: Vec<Diagnostic>,
    depth: usize,
}

fn err(code: Code, span: Span, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, span, msg)
}

/// A pattern text as a matcher: `*` alone is existence, other `*` are globs.
pub fn pattern_matcher(s: &str) -> Matcher {
    if !s.is_empty() && s.bytes().all(|b| b == b'*') {
        Matcher::Exists
    } else if s.contains('*') {
        Matcher::Glob(Arc::new(Glob::new(s, false)))
    } else {
        Matcher::Exact(s.to_string())
    }
}

impl Compiler<'_> {
    fn pipeline(&mut self, p: &Pipeline) -> ir::Pipeline {
        let mut out = ir::Pipeline::default();
        for s in &p.steps {
            self.step(s, &mut out.steps);
        }
        out
    }

    fn step(&mut self, s: &Step, out: &mut Vec<ir::Step>) {
        match s {
            Step::Filter(Filter::Call(c)) => {
                if let Some(call) = self.call(c, None, None) {
                    out.push(ir::Step::Call(call));
                }
            }
            Step::Filter(Filter::Saved(sv)) => self.saved(sv, out),
            Step::Filter(Filter::Pipeline(p)) => out.extend(self.pipeline(p).steps),
            Step::Filter(f) => {
                if let Some(f) = self.filter(f) {
                    out.push(ir::Step::Filter(f));
                }
            }
            Step::Assign(a) => {
                if let Some(s) = self.assign(a) {
                    out.push(s);
                }
            }
            Step::Case(c) => out.push(ir::Step::Case(c.branches.iter().map(|b| self.pipeline(b)).collect())),
            Step::Match(m) => {
                let mut arms = Vec::new();
                for a in &m.arms {
                    let g = match &a.guard {
                        Guard::Pattern(Pattern::Word(w, _)) if w == "*" || w == "true" => ir::Guard::Any,
                        Guard::Pattern(p) => match self.matcher(p, true) {
                            Some(m) => ir::Guard::Pattern(m),
                            None => continue,
                        },
                        Guard::Call(c) => match self.call(c, Some(&m.field.name), None) {
                            Some(c) => ir::Guard::Call(c),
                            None => continue,
                        },
                    };
                    arms.push((g, self.pipeline(&a.body)));
                }
                out.push(ir::Step::Match(m.field.name.clone(), arms));
            }
            Step::Stats(items, _) => {
                let args =
                    vec![("function".to_string(), ir::Expr::Array(items.iter().map(|e| self.expr(e)).collect()))];
                out.push(ir::Step::Call(ir::Call {
                    name: "stats".to_string(),
                    category: Category::Aggregate,
                    args,
                    negated: false,
                }));
            }
            Step::Union(bs, _) => out.push(ir::Step::Union(bs.iter().map(|b| self.pipeline(b)).collect())),
        }
    }

    fn assign(&mut self, a: &Assign) -> Option<ir::Step> {
        if let Expr::Call(c) = &a.value {
            let def = FunctionTable::builtin().get(&c.name)?;
            if def.param("as").is_some() {
                return self.call(c, None, Some(&a.field.name)).map(ir::Step::Call);
            }
        }
        Some(ir::Step::Assign(a.field.name.clone(), self.expr(&a.value)))
    }

    fn saved(&mut self, sv: &SavedCall, out: &mut Vec<ir::Step>) {
        let Some(map) = &self.opts.saved else {
            self.diags.push(err(
                Code::UnknownSavedQuery,
                sv.span,
                format!("saved query `{}` cannot be resolved", sv.name),
            ));
            return;
        };
        let short = sv.name.rsplit(':').next().unwrap_or(&sv.name);
        let Some(text) = map.get(&sv.name).or_else(|| map.get(short)).cloned() else {
            self.diags.push(err(Code::UnknownSavedQuery, sv.span, format!("saved query `{}` not found", sv.name)));
            return;
        };
        if self.depth > 16 {
            self.diags.push(err(Code::UnknownSavedQuery, sv.span, format!("saved query `{}` nests too deep", sv.name)));
            return;
        }
        let (q, d) = parse(&text, ParseOptions { lenient: self.opts.lenient });
        if d.iter().any(Diagnostic::is_error) {
            self.diags.push(err(Code::UnknownSavedQuery, sv.span, format!("saved query `{}` does not parse", sv.name)));
            return;
        }
        // Arguments bind the saved query's parameters.
        let saved_params = self.params.clone();
        for a in &sv.args {
            if let (Some((n, _)), Some(v)) = (&a.name, self.expr(&a.value).text().map(str::to_string)) {
                self.params.insert(n.clone(), v);
            }
        }
        self.depth += 1;
        let p = self.pipeline(&q.pipeline);
        self.depth -= 1;
        self.params = saved_params;
        out.extend(p.steps);
    }

    fn param_value(&mut self, p: &Param) -> Option<String> {
        if let Some(v) = self.params.get(&p.name) {
            return Some(v.clone());
        }
        if let Some((d, quoted)) = &p.default {
            return Some(if *quoted { unescape_cql_string(d) } else { d.clone() });
        }
        self.diags.push(
            err(Code::UnboundParameter, p.span, format!("parameter ?{} has no value", p.name))
                .with_help(format!("bind it with --param {}=VALUE", p.name)),
        );
        None
    }

    fn regex(&mut self, r: &RegexLit) -> Option<Arc<rx::Rx>> {
        let pattern = r.body.replace("\\/", "/");
        let source = format!("/{}/{}", r.body, r.flags);
        match rx::compile(&pattern, &r.flags, &source) {
            Ok(x) => Some(Arc::new(x)),
            Err(e) => {
                self.diags.push(err(Code::InvalidRegex, r.span, format!("invalid regular expression: {e}")));
                None
            }
        }
    }

    /// `anchored`: field filters and match guards are anchored; free text is not.
    fn matcher(&mut self, p: &Pattern, anchored: bool) -> Option<Matcher> {
        let text = match p {
            Pattern::Regex(r) => return self.regex(r).map(Matcher::Regex),
            Pattern::Word(w, _) => w.clone(),
            Pattern::Quoted(q, _) => unescape_cql_string(q),
            Pattern::Param(p) => self.param_value(p)?,
        };
        Some(if anchored { pattern_matcher(&text) } else { unanchored(&text) })
    }

    fn filter(&mut self, f: &Filter) -> Option<ir::Filter> {
        Some(match f {
            Filter::And(items, _) => ir::Filter::And(items.iter().filter_map(|i| self.filter(i)).collect()),
            Filter::Or(items, _) => ir::Filter::Or(items.iter().filter_map(|i| self.filter(i)).collect()),
            Filter::Not(inner, _) => ir::Filter::Not(Box::new(self.filter(inner)?)),
            Filter::Compare { field, op, value, span } => match op {
                CmpOp::Eq => ir::Filter::Field(field.name.clone(), self.matcher(value, true)?),
                CmpOp::Ne => {
                    ir::Filter::Not(Box::new(ir::Filter::Field(field.name.clone(), self.matcher(value, true)?)))
                }
                CmpOp::Like => ir::Filter::Field(field.name.clone(), self.matcher(value, false)?),
                CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
                    let text = match value {
                        Pattern::Word(w, _) => w.clone(),
                        Pattern::Quoted(q, _) => unescape_cql_string(q),
                        Pattern::Param(p) => self.param_value(p)?,
                        Pattern::Regex(_) => String::new(),
                    };
                    let Some(n) = crate::event::parse_num(&text) else {
                        self.diags.push(err(Code::NumberExpected, *span, format!("`{text}` is not a number")));
                        return None;
                    };
                    let op = match op {
                        CmpOp::Lt => BinOp::Lt,
                        CmpOp::Le => BinOp::Le,
                        CmpOp::Gt => BinOp::Gt,
                        _ => BinOp::Ge,
                    };
                    ir::Filter::Num(field.name.clone(), op, n)
                }
                CmpOp::Link => {
                    self.diags.push(err(
                        Code::UnknownFunction,
                        *span,
                        "`<=>` links are supported only inside correlate(), which cqlhunt does not run yet",
                    ));
                    return None;
                }
            },
            Filter::FreeText(p) => ir::Filter::Text(self.matcher(p, false)?),
            Filter::Bool(b, _) => ir::Filter::Bool(*b),
            Filter::Call(c) => ir::Filter::Call(self.call(c, None, None)?),
            Filter::FieldCall { field, negated, call, .. } => {
                let c = self.call(call, Some(&field.name), None)?;
                let f = ir::Filter::Call(c);
                if *negated {
                    ir::Filter::Not(Box::new(f))
                } else {
                    f
                }
            }
            Filter::Saved(sv) => {
                let mut steps = Vec::new();
                self.saved(sv, &mut steps);
                ir::Filter::Pipeline(Box::new(ir::Pipeline { steps }))
            }
            Filter::Pipeline(p) => ir::Filter::Pipeline(Box::new(self.pipeline(p))),
            Filter::Union(_, span) => {
                self.diags.push(err(Code::Union, *span, "UNION must be a whole pipeline step"));
                return None;
            }
        })
    }

    /// Bind a call. `field`: implied by `x =~ f()` or a match guard; `as_`: implied by `x := f()`.
    fn call(&mut self, c: &Call, field: Option<&str>, as_: Option<&str>) -> Option<ir::Call> {
        let Some(def) = FunctionTable::builtin().get(&c.name) else {
            self.diags.push(err(Code::UnknownFunction, c.name_span, format!("unknown function `{}`", c.name)));
            return None;
        };
        let mut args = Vec::new();
        for a in &c.args {
            let name = match &a.name {
                Some((n, _)) => def.param(n).map_or_else(|| n.clone(), |p| p.name.clone()),
                None => match &a.value {
                    Expr::Subquery(q) if q.name.is_some() => "query".to_string(),
                    _ => def.unnamed().map_or_else(|| "?".to_string(), |p| p.name.clone()),
                },
            };
            args.push((name, self.expr(&a.value)));
        }
        if let Some(f) = field {
            if !args.iter().any(|(n, _)| n == "field") {
                args.push(("field".to_string(), ir::Expr::Word(f.to_string())));
            }
        }
        if let Some(a) = as_ {
            args.retain(|(n, _)| n != "as");
            args.push(("as".to_string(), ir::Expr::Word(a.to_string())));
        }
        Some(ir::Call { name: def.name.clone(), category: def.category, args, negated: false })
    }

    fn expr(&mut self, e: &Expr) -> ir::Expr {
        match e {
            Expr::Word(w, _) => ir::Expr::Word(w.clone()),
            Expr::Str(s, _) => ir::Expr::Str(unescape_cql_string(s)),
            Expr::Param(p) => ir::Expr::Str(self.param_value(p).unwrap_or_default()),
            Expr::Call(c) => match self.call(c, None, None) {
                Some(c) => ir::Expr::Call(Box::new(c)),
                None => ir::Expr::Str(String::new()),
            },
            Expr::Saved(sv) => {
                let mut steps = Vec::new();
                self.saved(sv, &mut steps);
                ir::Expr::Query(Box::new(ir::Pipeline { steps }))
            }
            Expr::Array(items, _) => ir::Expr::Array(items.iter().map(|i| self.expr(i)).collect()),
            Expr::Subquery(q) => ir::Expr::Query(Box::new(self.pipeline(&q.pipeline))),
            Expr::Unary(op, inner, _) => ir::Expr::Unary(*op, Box::new(self.expr(inner))),
            Expr::Binary(op, l, r, _) => ir::Expr::Binary(*op, Box::new(self.expr(l)), Box::new(self.expr(r))),
            Expr::Assign(a) => ir::Expr::Assign(a.field.name.clone(), Box::new(self.expr(&a.value))),
            Expr::Regex(r) => ir::Expr::Regex(r.body.replace("\\/", "/"), r.flags.clone()),
        }
    }
}

/// A free-text or `like` pattern: unanchored.
pub fn unanchored(s: &str) -> Matcher {
    if s.is_empty() || s.bytes().all(|b| b == b'*') {
        return Matcher::Exists;
    }
    Matcher::Glob(Arc::new(Glob::new(&format!("*{s}*"), false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = Glob::new("*\\cmd.exe", false);
        assert!(g.matches("\\Windows\\cmd.exe"));
        assert!(!g.matches("\\Windows\\CMD.exe"));
        assert!(Glob::new("a*b*c", false).matches("abc"));
        assert!(Glob::new("a*b*c", false).matches("axxbyyc"));
        assert!(!Glob::new("a*b*c", false).matches("ac"));
        assert!(Glob::new("*whoami*", false).matches("whoami"));
        assert!(Glob::new("CMD*", true).matches("cmd.exe"));
    }
}
