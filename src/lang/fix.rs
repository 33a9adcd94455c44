//! `cqlhunt fix`: rewrite a query parsed in lenient mode into strict, canonical CQL.
//!
//! The parser already repairs what is local (unescaped `/` in regex literals, positional
//! `if()`); this pass rewrites what is structural: `(p1) UNION (p2) …` becomes
//! `case { p1 ; p2 ; … }`, and a lone parenthesised pipeline is inlined.

use super::ast::*;
use crate::diag::{Code, Diagnostic};

/// Rewrite the seed dialect into valid CQL. Returns warnings about the rewrite's exactness.
pub fn fix(q: &mut Query) -> Vec<Diagnostic> {
    let mut warns = Vec::new();
    fix_pipeline(&mut q.pipeline, &mut warns);
    warns
}

fn fix_pipeline(p: &mut Pipeline, warns: &mut Vec<Diagnostic>) {
    let steps = std::mem::take(&mut p.steps);
    for s in steps {
        match s {
            Step::Union(mut branches, span) => {
                for b in &mut branches {
                    fix_pipeline(b, warns);
                }
                if branches.len() == 1 {
                    p.steps.extend(branches.remove(0).steps);
                    continue;
                }
                if !branches_disjoint(&branches) {
                    warns.push(
                        Diagnostic::warning(
                            Code::CaseMayOverlap,
                            span,
                            "the UNION's branches may match the same event; `case` sends each event to the first branch it matches only",
                        )
                        .with_help("if an event must count in several branches, use defineTable() per branch and readFile([…])"),
                    );
                }
                p.steps.push(Step::Case(CaseStmt { branches, span }));
            }
            Step::Filter(Filter::Pipeline(mut inner)) => {
                fix_pipeline(&mut inner, warns);
                p.steps.extend(inner.steps);
            }
            Step::Case(mut c) => {
                c.branches.iter_mut().for_each(|b| fix_pipeline(b, warns));
                p.steps.push(Step::Case(c));
            }
            Step::Match(mut m) => {
                m.arms.iter_mut().for_each(|a| fix_pipeline(&mut a.body, warns));
                p.steps.push(Step::Match(m));
            }
            other => p.steps.push(other),
        }
    }
}

/// True when each branch starts with a filter that pins one field to literal values, on the
/// same field, with no value shared: then no event can enter two branches, and `case` is an
/// exact union.
fn branches_disjoint(bs: &[Pipeline]) -> bool {
    let mut field: Option<&str> = None;
    let mut seen: Vec<&str> = Vec::new();
    for b in bs {
        let Some(Step::Filter(f)) = b.steps.first() else { return false };
        let Some((fname, values)) = pinned(f) else { return false };
        if *field.get_or_insert(fname) != fname {
            return false;
        }
        for v in values {
            if seen.contains(&v) {
                return false;
            }
            seen.push(v);
        }
    }
    true
}

/// `f = "a"` or `f = "a" OR f = "b"` (no wildcards): the field and the values.
fn pinned(f: &Filter) -> Option<(&str, Vec<&str>)> {
    match f {
        Filter::Compare { field, op: CmpOp::Eq, value, .. } => {
            let v = match value {
                Pattern::Word(w, _) | Pattern::Quoted(w, _) if !w.contains('*') && !w.contains('\\') => w.as_str(),
                _ => return None,
            };
            Some((field.name.as_str(), vec![v]))
        }
        Filter::Or(items, _) => {
            let mut name = None;
            let mut vals = Vec::new();
            for it in items {
                let (n, v) = pinned(it)?;
                if *name.get_or_insert(n) != n {
                    return None;
                }
                vals.extend(v);
            }
            Some((name?, vals))
        }
        Filter::And(items, _) => items.iter().find_map(pinned),
        _ => None,
    }
}
