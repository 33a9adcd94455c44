//! Expressions: `:=`, `eval()`, `test()`, `if()`, argument values. A missing field is null;
//! operators on null or on the wrong types give null (cql.md §4.1).

use super::{filter, funcs, Ctx, Transform};
use crate::event::{format_num, parse_num, Event, Value};
use crate::func::Category;
use crate::lang::ast::{BinOp, UnOp};
use crate::plan::ir;
use std::sync::Arc;

/// A compiled expression.
pub enum X {
    Num(f64),
    Str(String),
    /// A field reference (a bare word that is not a number or boolean).
    Field(String),
    /// A filter function used as a value: "true" / "false".
    Pred(Box<filter::Pred>),
    /// A transform function used as a value: run on a copy of the event, read `out`.
    Func(Box<dyn Transform>, String),
    /// `lower(f)`, `upper(f)` or `length(f)` of one field: its value, computed without a copy
    /// of the event (none when the field is absent, as the function then writes nothing).
    FieldFn(FieldFn, String),
    Unary(UnOp, Box<X>),
    Binary(BinOp, Box<X>, Box<X>),
    Array(Vec<X>),
}

/// The field a function used inside an expression writes to (then read back).
pub const TMP: &str = "__cqlhunt_expr";

pub fn build(e: &ir::Expr, ctx: &Arc<Ctx>) -> Result<X, String> {
    Ok(match e {
        ir::Expr::Word(w) => match parse_num(w) {
            Some(n) => X::Num(n),
            None if w == "true" || w == "false" => X::Str(w.clone()),
            None => X::Field(w.clone()),
        },
        ir::Expr::Str(s) => X::Str(s.clone()),
        ir::Expr::Regex(p, f) => {
            return Err(format!("a regex literal /{p}/{f} is not an expression; use regex(\"…\", field=…)"));
        }
        ir::Expr::Call(c) => {
            if let Some((kind, field)) = one_field(c) {
                X::FieldFn(kind, field)
            } else if c.category == Category::Filter && !funcs::is_filter_transform(&c.name) {
                X::Pred(Box::new(filter::build(&ir::Filter::Call((**c).clone()), ctx)?))
            } else {
                let mut c2 = (**c).clone();
                c2.args.retain(|(n, _)| n != "as");
                c2.args.push(("as".to_string(), ir::Expr::Word(TMP.to_string())));
                match funcs::build(&c2, ctx)? {
                    super::Node::Transform(t) => X::Func(t, TMP.to_string()),
                    _ => return Err(format!("{}() cannot be used inside an expression", c.name)),
                }
            }
        }
        ir::Expr::Array(items) => X::Array(items.iter().map(|i| build(i, ctx)).collect::<Result<_, _>>()?),
        ir::Expr::Unary(op, inner) => X::Unary(*op, Box::new(build(inner, ctx)?)),
        ir::Expr::Binary(op, l, r) => X::Binary(*op, Box::new(build(l, ctx)?), Box::new(build(r, ctx)?)),
        ir::Expr::Query(_) => return Err("a subquery is not a value".to_string()),
        ir::Expr::Assign(..) => return Err("an assignment is not a value".to_string()),
    })
}

/// What [`X::FieldFn`] computes.
#[derive(Debug, Clone, Copy)]
pub enum FieldFn {
    Lower,
    Upper,
    Length,
}

impl FieldFn {
    /// `lower`, `upper` or `length` by name.
    pub fn named(name: &str) -> Option<FieldFn> {
        Some(match name {
            "lower" => FieldFn::Lower,
            "upper" => FieldFn::Upper,
            "length" => FieldFn::Length,
            _ => return None,
        })
    }

    /// The function's value on a field's text.
    pub fn apply(self, v: &str) -> Value {
        match self {
            FieldFn::Lower => Value::Str(v.to_lowercase()),
            FieldFn::Upper => Value::Str(v.to_uppercase()),
            FieldFn::Length => Value::Num(v.chars().count() as f64),
        }
    }
}

/// A call of `lower`, `upper` or `length` whose only argument (besides `as`, which an
/// expression names itself) is a field name.
fn one_field(c: &ir::Call) -> Option<(FieldFn, String)> {
    let kind = FieldFn::named(&c.name)?;
    let mut args = c.args.iter().filter(|(n, _)| n != "as");
    let (name, ir::Expr::Word(field)) = args.next()? else { return None };
    (name == "field" && args.next().is_none()).then(|| (kind, field.clone()))
}

fn boolean(b: bool) -> Value {
    Value::Str(if b { "true" } else { "false" }.to_string())
}

impl X {
    pub fn eval(&self, ev: &Event, ctx: &Ctx) -> Option<Value> {
        match self {
            X::Num(n) => Some(Value::Num(*n)),
            X::Str(s) => Some(Value::Str(s.clone())),
            X::Field(f) => ev.get(f).cloned(),
            X::Pred(p) => {
                let mut copy = ev.clone();
                Some(boolean(p.test(&mut copy, ctx)))
            }
            X::FieldFn(kind, field) => Some(kind.apply(&ev.get_str(field)?)),
            X::Func(t, out) => {
                let mut copy = ev.clone();
                if !t.apply(&mut copy, ctx) {
                    return None;
                }
                copy.get(out).cloned()
            }
            X::Array(_) => None,
            X::Unary(op, inner) => {
                let v = inner.eval(ev, ctx)?;
                match op {
                    UnOp::Neg => v.as_num().map(|n| Value::Num(-n)),
                    UnOp::Not => Some(boolean(!v.truthy())),
                }
            }
            X::Binary(op, l, r) => {
                let a = l.eval(ev, ctx)?;
                let b = r.eval(ev, ctx)?;
                binary(*op, &a, &b)
            }
        }
    }
}

/// Apply a binary operator; `None` is null.
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Option<Value> {
    match op {
        BinOp::Eq | BinOp::Ne => {
            let eq = match (a.as_num(), b.as_num()) {
                (Some(x), Some(y)) => x == y,
                _ => a.as_str() == b.as_str(),
            };
            Some(boolean(if op == BinOp::Eq { eq } else { !eq }))
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let (x, y) = (a.as_num()?, b.as_num()?);
            Some(boolean(match op {
                BinOp::Lt => x < y,
                BinOp::Le => x <= y,
                BinOp::Gt => x > y,
                _ => x >= y,
            }))
        }
        BinOp::Link => None,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
            let (x, y) = (a.as_num()?, b.as_num()?);
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => {
                    if y == 0.0 {
                        return None;
                    }
                    x / y
                }
                _ => {
                    if y == 0.0 {
                        return None;
                    }
                    x % y
                }
            };
            r.is_finite().then_some(Value::Num(r))
        }
    }
}

/// A value as the text LogScale would store (numbers without a trailing `.0`).
pub fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Num(n) => format_num(*n),
    }
}

impl std::fmt::Debug for X {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            X::Num(n) => write!(f, "{n}"),
            X::Str(s) => write!(f, "{s:?}"),
            X::Field(n) => write!(f, "field {n}"),
            X::Pred(_) => f.write_str("predicate"),
            X::Func(_, o) => write!(f, "function → {o}"),
            X::FieldFn(k, field) => write!(f, "{k:?}({field})"),
            X::Unary(op, x) => write!(f, "{op:?}({x:?})"),
            X::Binary(op, a, b) => write!(f, "({a:?} {} {b:?})", op.as_str()),
            X::Array(v) => f.debug_list().entries(v).finish(),
        }
    }
}
