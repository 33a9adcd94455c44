//! Span erasure: two trees that differ only in where their nodes came from compare equal
//! after [`erase`]. Used by the print→parse round-trip tests and by `explain --ast`.

use super::ast::*;
use crate::diag::Span;

const Z: Span = Span { start: 0, end: 0 };

/// Set every span in the query to `0..0`.
pub fn erase(q: &mut Query) {
    pipeline(&mut q.pipeline);
}

fn pipeline(p: &mut Pipeline) {
    p.span = Z;
    p.steps.iter_mut().for_each(step);
}

fn step(s: &mut Step) {
    match s {
        Step::Filter(f) => filter(f),
        Step::Assign(a) => assign(a),
        Step::Case(c) => {
            c.span = Z;
            c.branches.iter_mut().for_each(pipeline);
        }
        Step::Match(m) => {
            m.span = Z;
            field(&mut m.field);
            for a in &mut m.arms {
                a.span = Z;
                match &mut a.guard {
                    Guard::Pattern(p) => pattern(p),
                    Guard::Call(c) => call(c),
                }
                pipeline(&mut a.body);
            }
        }
        Step::Stats(items, sp) => {
            *sp = Z;
            items.iter_mut().for_each(expr);
        }
        Step::Union(bs, sp) => {
            *sp = Z;
            bs.iter_mut().for_each(pipeline);
        }
    }
}

fn assign(a: &mut Assign) {
    a.span = Z;
    field(&mut a.field);
    expr(&mut a.value);
}

fn field(f: &mut FieldName) {
    f.span = Z;
}

fn filter(f: &mut Filter) {
    match f {
        Filter::And(items, sp) | Filter::Or(items, sp) => {
            *sp = Z;
            items.iter_mut().for_each(filter);
        }
        Filter::Not(inner, sp) => {
            *sp = Z;
            filter(inner);
        }
        Filter::Compare { field: fl, value, span, .. } => {
            *span = Z;
            field(fl);
            pattern(value);
        }
        Filter::FreeText(p) => pattern(p),
        Filter::Bool(_, sp) => *sp = Z,
        Filter::Call(c) => call(c),
        Filter::FieldCall { field: fl, call: c, span, .. } => {
            *span = Z;
            field(fl);
            call(c);
        }
        Filter::Saved(s) => saved(s),
        Filter::Pipeline(p) => pipeline(p),
        Filter::Union(bs, sp) => {
            *sp = Z;
            bs.iter_mut().for_each(pipeline);
        }
    }
}

fn pattern(p: &mut Pattern) {
    match p {
        Pattern::Word(_, sp) | Pattern::Quoted(_, sp) => *sp = Z,
        Pattern::Regex(r) => r.span = Z,
        Pattern::Param(p) => p.span = Z,
    }
}

fn saved(s: &mut SavedCall) {
    s.span = Z;
    s.args.iter_mut().for_each(arg);
}

fn call(c: &mut Call) {
    c.span = Z;
    c.name_span = Z;
    c.args.iter_mut().for_each(arg);
}

fn arg(a: &mut Arg) {
    a.span = Z;
    if let Some((_, sp)) = &mut a.name {
        *sp = Z;
    }
    expr(&mut a.value);
}

fn expr(e: &mut Expr) {
    match e {
        Expr::Word(_, sp) | Expr::Str(_, sp) => *sp = Z,
        Expr::Param(p) => p.span = Z,
        Expr::Call(c) => call(c),
        Expr::Saved(s) => saved(s),
        Expr::Array(items, sp) => {
            *sp = Z;
            items.iter_mut().for_each(expr);
        }
        Expr::Subquery(q) => {
            q.span = Z;
            if let Some((_, sp)) = &mut q.name {
                *sp = Z;
            }
            pipeline(&mut q.pipeline);
            for (_, v) in &mut q.attrs {
                expr(v);
            }
        }
        Expr::Unary(_, inner, sp) => {
            *sp = Z;
            expr(inner);
        }
        Expr::Binary(_, l, r, sp) => {
            *sp = Z;
            expr(l);
            expr(r);
        }
        Expr::Assign(a) => assign(a),
        Expr::Regex(r) => r.span = Z,
    }
}
