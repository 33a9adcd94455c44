//! Filters: field comparisons, free text, and the filter functions (`in`, `regex`, `test`,
//! `cidr`, `wildcard`, `text:contains`, `array:contains`, …). A missing field fails every
//! comparison; `!=` and `NOT` therefore pass it (cql.md §4.2, §4.5).

use super::args::Args;
use super::expr::{self, X};
use super::{Chain, Ctx};
use crate::event::{Event, Value};
use crate::lang::ast::BinOp;
use crate::plan::ir::{self, Glob, Matcher};
use crate::plan::rx::{self, Rx};
use std::net::IpAddr;
use std::sync::Arc;

/// A compiled filter.
pub enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Field(String, Matcher),
    Num(String, BinOp, f64),
    Text(Matcher),
    Bool(bool),
    /// `in(field, values=[…])`
    In {
        field: String,
        values: Vec<Glob>,
    },
    /// `regex(…)`: search `field`; named groups become fields; `strict=false` never drops.
    Regex {
        rx: Arc<Rx>,
        field: String,
        strict: bool,
    },
    /// `test(expr)`, with the fields it may read when they can be named (`plan::project`).
    Test(X, Option<Vec<String>>),
    /// `cidr(field, subnet=[…])`
    Cidr {
        field: String,
        nets: Vec<(IpAddr, u8)>,
    },
    /// `wildcard(pattern, field=[…])`; no field: free text.
    Wildcard {
        fields: Vec<String>,
        glob: Glob,
    },
    /// `text:contains` / `startsWith` / `endsWith`.
    TextOp {
        kind: TextKind,
        string: X,
        sub: X,
    },
    /// `array:contains(array="a[]", value=…)`
    ArrayContains {
        base: String,
        value: String,
    },
    /// A sub-pipeline as a filter: passes when it outputs the event (seed parentheses).
    Sub(std::sync::Mutex<Chain>),
    /// A filter function that also enriches (`match()`), run as a transform.
    Transform(Box<dyn super::Transform>),
}

#[derive(Debug, Clone, Copy)]
pub enum TextKind {
    Contains,
    StartsWith,
    EndsWith,
}

/// The guard of a `match` arm.
pub enum GuardX {
    Any,
    Pattern(Matcher),
    Call(Pred),
}

impl GuardX {
    pub fn matches(&self, field: &str, ev: &mut Event, ctx: &Ctx) -> bool {
        match self {
            GuardX::Any => true,
            GuardX::Pattern(m) => field_matches(field, m, ev, ctx),
            GuardX::Call(p) => p.test(ev, ctx),
        }
    }
}

pub fn build_guard(g: &ir::Guard, ctx: &Arc<Ctx>) -> Result<GuardX, String> {
    Ok(match g {
        ir::Guard::Any => GuardX::Any,
        ir::Guard::Pattern(m) => GuardX::Pattern(m.clone()),
        ir::Guard::Call(c) => GuardX::Call(build(&ir::Filter::Call(c.clone()), ctx)?),
    })
}

pub fn build(f: &ir::Filter, ctx: &Arc<Ctx>) -> Result<Pred, String> {
    Ok(match f {
        ir::Filter::And(v) => Pred::And(v.iter().map(|x| build(x, ctx)).collect::<Result<_, _>>()?),
        ir::Filter::Or(v) => Pred::Or(v.iter().map(|x| build(x, ctx)).collect::<Result<_, _>>()?),
        ir::Filter::Not(x) => Pred::Not(Box::new(build(x, ctx)?)),
        ir::Filter::Field(n, m) => Pred::Field(n.clone(), m.clone()),
        ir::Filter::Num(n, op, v) => Pred::Num(n.clone(), *op, *v),
        ir::Filter::Text(m) => Pred::Text(m.clone()),
        ir::Filter::Bool(b) => Pred::Bool(*b),
        ir::Filter::Pipeline(p) => Pred::Sub(std::sync::Mutex::new(super::build(p, ctx)?)),
        ir::Filter::Call(c) => {
            let p = build_call(c, ctx)?;
            if c.negated {
                Pred::Not(Box::new(p))
            } else {
                p
            }
        }
    })
}

fn build_call(c: &ir::Call, ctx: &Arc<Ctx>) -> Result<Pred, String> {
    let a = Args::new(c)?;
    Ok(match c.name.as_str() {
        "in" => {
            let field = a.need("field")?;
            let ic = a.bool("ignoreCase", false);
            let values = a.get("values").map(|v| v.names()).unwrap_or_default();
            Pred::In { field, values: values.iter().map(|v| Glob::new(v, ic)).collect() }
        }
        "regex" => {
            let pattern = a.need("regex")?;
            let flags: String = a.text_or("flags", "m").chars().filter(|c| *c != 'g').collect();
            if a.bool("repeat", false) {
                return Err("regex(repeat=true) can only be a pipeline step".to_string());
            }
            let rx = rx::compile(&pattern, &flags, &format!("regex(\"{pattern}\")"))?;
            Pred::Regex { rx: Arc::new(rx), field: a.text_or("field", "@rawstring"), strict: a.bool("strict", true) }
        }
        "test" => {
            let e = a.get("expression").ok_or("test() needs an expression")?;
            Pred::Test(expr::build(e, ctx)?, crate::plan::project::expr_fields(e))
        }
        "cidr" => {
            if a.get("file").is_some() {
                return Err("cidr(file=…) is not supported yet".to_string());
            }
            let field = a.need("field")?;
            let subnets = a.get("subnet").map(|v| v.names()).unwrap_or_default();
            let nets = subnets.iter().map(|s| parse_cidr(s)).collect::<Result<_, _>>()?;
            let p = Pred::Cidr { field, nets };
            if a.bool("negate", false) {
                Pred::Not(Box::new(p))
            } else {
                p
            }
        }
        "wildcard" => {
            let pattern = a.need("pattern")?;
            let ic = a.bool("ignoreCase", false);
            let fields = a.get("field").map(|f| f.names()).unwrap_or_default();
            // Anchored on a field; unanchored free text without one (cql.md §5).
            let glob = if fields.is_empty() { Glob::new(&format!("*{pattern}*"), ic) } else { Glob::new(&pattern, ic) };
            Pred::Wildcard { fields, glob }
        }
        "text:contains" | "text:startsWith" | "text:endsWith" => {
            let kind = match c.name.as_str() {
                "text:contains" => TextKind::Contains,
                "text:startsWith" => TextKind::StartsWith,
                _ => TextKind::EndsWith,
            };
            let string = expr::build(a.get("string").ok_or("needs `string`")?, ctx)?;
            let sub_name = if a.get("substring").is_some() {
                "substring"
            } else if a.get("prefix").is_some() {
                "prefix"
            } else {
                "suffix"
            };
            let sub = expr::build(a.get(sub_name).ok_or_else(|| format!("{}() needs `{sub_name}`", c.name))?, ctx)?;
            Pred::TextOp { kind, string, sub }
        }
        "array:contains" => {
            let arr = a.need("array")?;
            Pred::ArrayContains { base: arr.trim_end_matches("[]").to_string(), value: a.need("value")? }
        }
        _ => match super::funcs::build(c, ctx)? {
            super::Node::Transform(t) => Pred::Transform(t),
            _ => return Err(format!("{}() is not supported yet as a filter", c.name)),
        },
    })
}

/// `1.2.3.0/24`, `::1/128`, or a bare address.
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = addr.trim().parse().map_err(|_| format!("`{s}` is not a subnet"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => {
            b.trim().parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| format!("`{s}`: bad prefix length"))?
        }
        None => max,
    };
    Ok((ip, bits))
}

/// Whether `ip` is inside `net`.
pub fn in_net(ip: IpAddr, net: (IpAddr, u8)) -> bool {
    match (ip, net.0) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = if net.1 == 0 { 0 } else { u32::MAX << (32 - net.1) };
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = if net.1 == 0 { 0 } else { u128::MAX << (128 - net.1) };
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

/// A pattern's answer on a value, as a filter gives it; `None` when the regex gives up (the
/// filter would fail the run).
pub fn matcher_answer(m: &Matcher, s: &str) -> Option<bool> {
    match m {
        Matcher::Exists => Some(true),
        Matcher::Exact(x) => Some(s == x),
        Matcher::Glob(g) => Some(g.matches(s)),
        Matcher::Regex(r) => r.is_match(s).ok(),
    }
}

fn matcher_test(m: &Matcher, s: &str, ctx: &Ctx) -> bool {
    match m {
        Matcher::Exists => true,
        Matcher::Exact(x) => s == x,
        Matcher::Glob(g) => g.matches(s),
        Matcher::Regex(r) => r.is_match(s).unwrap_or_else(|e| {
            ctx.fail(e.to_string());
            false
        }),
    }
}

/// The longest value [`Pred::quiet_test`] runs a regex on.
const QUIET_REGEX_LEN: usize = 256;

/// Three-valued AND (`None`: not known), asking no further after a `false`.
fn all3(answers: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut all = Some(true);
    for a in answers {
        match a {
            Some(false) => return Some(false),
            Some(true) => {}
            None => all = None,
        }
    }
    all
}

/// Three-valued OR, asking no further after a `true`.
fn any3(answers: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    all3(answers.map(|a| a.map(|b| !b))).map(|b| !b)
}

/// `field = pattern`; a regex with named groups also extracts them.
fn field_matches(field: &str, m: &Matcher, ev: &mut Event, ctx: &Ctx) -> bool {
    let Some(v) = ev.get(field) else { return false };
    if let Matcher::Regex(r) = m {
        if !r.names.is_empty() {
            let s = v.as_str().into_owned();
            return extract(r, &s, ev, ctx);
        }
    }
    let s = v.as_str();
    matcher_test(m, &s, ctx)
}

fn extract(r: &Rx, s: &str, ev: &mut Event, ctx: &Ctx) -> bool {
    match r.captures(s) {
        Ok(Some(groups)) => {
            for (k, v) in groups {
                ev.set(&k, Value::Str(v));
            }
            true
        }
        Ok(None) => false,
        Err(e) => {
            ctx.fail(e.to_string());
            false
        }
    }
}

/// Free text searches every field except tags, `@id`, `@timestamp`, `@ingesttimestamp`.
fn text_fields(ev: &Event) -> impl Iterator<Item = &Value> {
    ev.fields()
        .filter(|(k, _)| !k.starts_with('#') && !matches!(*k, "@id" | "@timestamp" | "@ingesttimestamp" | "@timezone"))
        .map(|(_, v)| v)
}

impl Pred {
    /// Whether testing this filter can change the event (regex extraction, sub-pipelines,
    /// enriching functions).
    pub fn may_modify(&self) -> bool {
        match self {
            Pred::And(v) | Pred::Or(v) => v.iter().any(Pred::may_modify),
            Pred::Not(p) => p.may_modify(),
            Pred::Field(_, Matcher::Regex(r)) | Pred::Text(Matcher::Regex(r)) => !r.names.is_empty(),
            Pred::Regex { .. } | Pred::Sub(_) | Pred::Transform(_) => true,
            _ => false,
        }
    }

    /// The names a field regex with named groups assigns (`Field=/(?<name>…)/`): its only
    /// effect besides passing or not. `None` for any other filter.
    pub fn capture_names(&self) -> Option<&[String]> {
        match self {
            Pred::Field(_, Matcher::Regex(r)) if !r.names.is_empty() => Some(&r.names),
            _ => None,
        }
    }

    /// The `Field=pattern` tests an event must pass for it to pass (the conjuncts of an `And`
    /// that are such tests, and a test of one field's exact values, as
    /// [`Pred::exact_alternatives`] tells; nothing for anything else), appended to `out`.
    pub fn necessary_tests(&self, out: &mut Vec<(String, Matcher)>) {
        match self {
            Pred::Field(f, m) => out.push((f.clone(), m.clone())),
            Pred::And(v) => v.iter().for_each(|p| p.necessary_tests(out)),
            Pred::Or(_) | Pred::In { .. } => {
                if let Some(t) = self.exact_alternatives() {
                    out.push(t);
                }
            }
            _ => {}
        }
    }

    /// `F=a OR F=b OR …` and `in(F, values=[a, b, …])` (exact values of one field: no `*`, not
    /// ignoring case; the two nested in any way) as one test: the field, and an anchored regex
    /// of the values (`#event_simpleName=A OR #event_simpleName=B` is a test of the event
    /// type, which a reader that knows a line's type answers once per type). `None` for
    /// anything else.
    pub fn exact_alternatives(&self) -> Option<(String, Matcher)> {
        fn values<'a>(p: &'a Pred, field: &mut Option<&'a str>, out: &mut Vec<&'a str>) -> bool {
            match p {
                Pred::Or(v) => !v.is_empty() && v.iter().all(|p| values(p, field, out)),
                Pred::Field(f, Matcher::Exact(x)) if *field.get_or_insert(f) == f => {
                    out.push(x);
                    true
                }
                Pred::In { field: f, values: v } if !v.is_empty() && *field.get_or_insert(f) == f => {
                    v.iter().all(|g| match g.parts.as_slice() {
                        [x] if !g.ignore_case => {
                            out.push(x);
                            true
                        }
                        _ => false,
                    })
                }
                _ => false,
            }
        }
        let (mut field, mut exact) = (None, Vec::new());
        if !matches!(self, Pred::Or(_) | Pred::In { .. }) || !values(self, &mut field, &mut exact) {
            return None;
        }
        let alternation: Vec<String> = exact.iter().map(|x| regex::escape(x)).collect();
        let pattern = format!(r"\A(?:{})\z", alternation.join("|"));
        let rx = rx::compile(&pattern, "", &pattern).ok()?;
        Some((field?.to_string(), Matcher::Regex(Arc::new(rx))))
    }

    /// Call `f` on each field it reads, stopping at the first `false`; `None` when it may read
    /// fields it cannot name (free text, expressions, sub-pipelines, arrays).
    pub fn visit_fields(&self, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        match self {
            Pred::And(v) | Pred::Or(v) => {
                for p in v {
                    if !p.visit_fields(f)? {
                        return Some(false);
                    }
                }
                Some(true)
            }
            Pred::Not(p) => p.visit_fields(f),
            Pred::Field(x, _) | Pred::Num(x, ..) | Pred::In { field: x, .. } | Pred::Cidr { field: x, .. } => {
                Some(f(x))
            }
            Pred::Wildcard { fields, .. } if !fields.is_empty() => Some(fields.iter().all(|x| f(x))),
            Pred::Test(_, Some(fields)) => Some(fields.iter().all(|x| f(x))),
            Pred::Bool(_) => Some(true),
            _ => None,
        }
    }

    /// Three-valued test on an event of which only some fields are known (`known` as in
    /// `eval::may_pass_lazy`): `None` when the answer depends on what is not known.
    pub fn test_known(
        &self,
        ev: &mut Event,
        ctx: &Ctx,
        known: &mut dyn FnMut(&str, &mut Event) -> bool,
    ) -> Option<bool> {
        match self {
            Pred::And(v) => all3(v.iter().map(|p| p.test_known(ev, ctx, known))),
            Pred::Or(v) => any3(v.iter().map(|p| p.test_known(ev, ctx, known))),
            Pred::Not(p) => p.test_known(ev, ctx, known).map(|b| !b),
            _ => {
                if self.visit_fields(&mut |f| known(f, ev)) == Some(true) {
                    Some(self.test(ev, ctx))
                } else {
                    None
                }
            }
        }
    }

    /// Whether it searches free text (which reads the event as it entered the query).
    pub fn has_free_text(&self) -> bool {
        match self {
            Pred::Text(_) => true,
            Pred::Wildcard { fields, .. } => fields.is_empty(),
            Pred::And(v) | Pred::Or(v) => v.iter().any(Pred::has_free_text),
            Pred::Not(p) => p.has_free_text(),
            Pred::Sub(c) => super::has_free_text(&super::lock(c)),
            _ => false,
        }
    }

    /// The test's answer when it can be told without running anything that could fail the run
    /// or change the event (a regex that gives up fails the run), else `None`: for looking
    /// ahead at `case` branches the event may not reach.
    pub fn quiet_test(&self, ev: &Event) -> Option<bool> {
        match self {
            Pred::And(v) => all3(v.iter().map(|p| p.quiet_test(ev))),
            Pred::Or(v) => any3(v.iter().map(|p| p.quiet_test(ev))),
            Pred::Not(p) => p.quiet_test(ev).map(|b| !b),
            // As `field_matches`, but for a regex that extracts fields, or one on a long value
            // (looking ahead must cost less than the copy it saves).
            Pred::Field(_, Matcher::Regex(r)) if !r.names.is_empty() => None,
            Pred::Field(f, m) => match ev.get(f) {
                None => Some(false),
                Some(v) => {
                    let v = v.as_str();
                    if matches!(m, Matcher::Regex(_)) && v.len() > QUIET_REGEX_LEN {
                        return None;
                    }
                    matcher_answer(m, &v)
                }
            },
            Pred::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn test(&self, ev: &mut Event, ctx: &Ctx) -> bool {
        match self {
            Pred::And(v) => v.iter().all(|p| p.test(ev, ctx)),
            Pred::Or(v) => v.iter().any(|p| p.test(ev, ctx)),
            Pred::Not(p) => !p.test(ev, ctx),
            Pred::Field(f, m) => field_matches(f, m, ev, ctx),
            Pred::Num(f, op, n) => {
                let Some(x) = ev.get(f).and_then(Value::as_num) else { return false };
                match op {
                    BinOp::Lt => x < *n,
                    BinOp::Le => x <= *n,
                    BinOp::Gt => x > *n,
                    BinOp::Ge => x >= *n,
                    _ => false,
                }
            }
            Pred::Text(m) => {
                // Free text reads the event as it entered the query (cql.md §4.3).
                let (raw, hit) = {
                    let orig = super::lock(&ctx.original);
                    let src: &Event = orig.as_ref().unwrap_or(ev);
                    let raw = match m {
                        Matcher::Regex(r) if !r.names.is_empty() => src.get_str("@rawstring").map(|s| s.into_owned()),
                        _ => None,
                    };
                    let hit = text_fields(src).any(|v| matcher_test(m, &v.as_str(), ctx));
                    (raw, hit)
                };
                if let (Matcher::Regex(r), Some(raw)) = (m, raw) {
                    // Extraction tries @rawstring first (cql.md §4.3).
                    if extract(r, &raw, ev, ctx) {
                        return true;
                    }
                }
                hit
            }
            Pred::Bool(b) => *b,
            Pred::In { field, values } => {
                let Some(v) = ev.get(field) else { return false };
                let s = v.as_str();
                values.iter().any(|g| g.matches(&s))
            }
            Pred::Regex { rx, field, strict } => {
                let Some(v) = ev.get(field) else { return !strict };
                let s = v.as_str().into_owned();
                let hit = extract(rx, &s, ev, ctx);
                hit || !strict
            }
            Pred::Test(x, _) => x.eval(ev, ctx).is_some_and(|v| v.truthy()),
            Pred::Cidr { field, nets } => {
                let Some(ip) = ev.get_str(field).and_then(|s| s.trim().parse::<IpAddr>().ok()) else { return false };
                nets.iter().any(|n| in_net(ip, *n))
            }
            Pred::Wildcard { fields, glob } => {
                if fields.is_empty() {
                    let orig = super::lock(&ctx.original);
                    let src: &Event = orig.as_ref().unwrap_or(ev);
                    let hit = text_fields(src).any(|v| glob.matches(&v.as_str()));
                    hit
                } else {
                    fields.iter().any(|f| ev.get_str(f).is_some_and(|s| glob.matches(&s)))
                }
            }
            Pred::TextOp { kind, string, sub } => {
                let (Some(s), Some(x)) = (string.eval(ev, ctx), sub.eval(ev, ctx)) else { return false };
                let (s, x) = (expr::text(&s), expr::text(&x));
                match kind {
                    TextKind::Contains => s.contains(&x),
                    TextKind::StartsWith => s.starts_with(&x),
                    TextKind::EndsWith => s.ends_with(&x),
                }
            }
            Pred::ArrayContains { base, value } => {
                (0..).map_while(|i| ev.get_str(&format!("{base}[{i}]")).map(|s| s.into_owned())).any(|s| &s == value)
            }
            Pred::Sub(chain) => {
                let mut out = Vec::new();
                super::push(&mut super::lock(chain), ev.clone(), ctx, &mut out);
                match out.into_iter().next() {
                    Some(e) => {
                        *ev = e;
                        true
                    }
                    None => false,
                }
            }
            Pred::Transform(t) => t.apply(ev, ctx),
        }
    }
}

impl std::fmt::Debug for Pred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pred::And(v) => f.debug_tuple("And").field(v).finish(),
            Pred::Or(v) => f.debug_tuple("Or").field(v).finish(),
            Pred::Not(p) => f.debug_tuple("Not").field(p).finish(),
            Pred::Field(n, m) => write!(f, "{n} = {m:?}"),
            Pred::Num(n, op, v) => write!(f, "{n} {} {v}", op.as_str()),
            Pred::Text(m) => write!(f, "text {m:?}"),
            Pred::Bool(b) => write!(f, "{b}"),
            Pred::In { field, .. } => write!(f, "in({field})"),
            Pred::Regex { rx, field, .. } => write!(f, "regex({rx:?}, field={field})"),
            Pred::Test(x, _) => write!(f, "test({x:?})"),
            Pred::Cidr { field, .. } => write!(f, "cidr({field})"),
            Pred::Wildcard { .. } => f.write_str("wildcard"),
            Pred::TextOp { kind, .. } => write!(f, "text:{kind:?}"),
            Pred::ArrayContains { base, .. } => write!(f, "array:contains({base}[])"),
            Pred::Sub(_) => f.write_str("subpipeline"),
            Pred::Transform(_) => f.write_str("transform"),
        }
    }
}

impl std::fmt::Debug for GuardX {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuardX::Any => f.write_str("*"),
            GuardX::Pattern(m) => write!(f, "{m:?}"),
            GuardX::Call(p) => write!(f, "{p:?}"),
        }
    }
}
