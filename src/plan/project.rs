//! Projection: the fields of the input a query's result can depend on, when that set is known
//! from the query alone. Readers then keep only those fields (and never copy `@rawstring` when
//! no step reads it), which is most of the cost of parsing a wide Falcon line.
//!
//! The set is known only when the result is made of aggregate rows: the query reaches a
//! top-level aggregate, every step before it names the fields it reads (no free-text search,
//! no wildcard field names, no function that reads fields chosen at run time or every field),
//! and the aggregate and its sub-aggregates are ones whose rows hold only what they name. Any
//! doubt gives `None` (read everything): slower, never different.

use super::ir::{Call, Expr, Filter, Guard, Matcher, Pipeline, Step};
use crate::func::{Category, FunctionTable, ParamType};
use std::collections::BTreeSet;

/// Functions before the first aggregate whose inputs are the fields their arguments name (or
/// their documented defaults), and whose outputs are named by their arguments.
const ROW_FUNCTIONS: &[&str] = &[
    "in",
    "regex",
    "test",
    "cidr",
    "wildcard",
    "eval",
    "format",
    "lower",
    "upper",
    "coalesce",
    "if",
    "concat",
    "replace",
    "length",
    "splitString",
    "default",
    "rename",
    "drop",
    "parseInt",
    "parseHexString",
    "formatTime",
    "parseTimestamp",
    "urlDecode",
    "base64Decode",
    "shannonEntropy",
    "hash",
    "match",
    "kvParse",
    "parseJson",
    "sanitize",
    "unit:convert",
];

/// Aggregates whose rows hold only the fields they name (group keys and function outputs): not
/// `head`, `tail`, `sort`, `selectLast`… which output whole events.
const ROW_AGGREGATES: &[&str] = &[
    "groupBy",
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "stats",
    "top",
    "collect",
    "percentile",
    "stdDev",
    "range",
    "timeChart",
    "bucket",
    "table",
];

fn allowed(name: &str, aggregate: bool) -> bool {
    let prefixed = ["text:", "math:", "crypto:", "time:"].iter().any(|p| name.starts_with(p));
    if aggregate {
        ROW_AGGREGATES.contains(&name)
    } else {
        ROW_FUNCTIONS.contains(&name) || prefixed
    }
}

/// The input fields the result can depend on, or `None` when that is not known (see the module
/// documentation).
pub fn projection(p: &Pipeline) -> Option<BTreeSet<String>> {
    // Time is read without being named (`bucket()`, `timeChart()`, time functions' defaults).
    let mut out = BTreeSet::from(["@timestamp".to_string()]);
    for step in &p.steps {
        if let Step::Call(c) = step {
            if c.category == Category::Aggregate {
                call(c, true, false, &mut out)?;
                return Some(out);
            }
        }
        row_step(step, &mut out)?;
    }
    // No aggregate: the rows are the events themselves.
    None
}

fn row_pipeline(p: &Pipeline, out: &mut BTreeSet<String>) -> Option<()> {
    p.steps.iter().try_for_each(|s| row_step(s, out))
}

fn row_step(s: &Step, out: &mut BTreeSet<String>) -> Option<()> {
    match s {
        Step::Filter(f) => filter(f, out),
        Step::Assign(name, e) => {
            field(name, out)?;
            expr(e, out)
        }
        Step::Call(c) => {
            if c.category == Category::Aggregate {
                return None;
            }
            call(c, false, false, out)
        }
        Step::Case(bs) | Step::Union(bs) => bs.iter().try_for_each(|b| row_pipeline(b, out)),
        Step::Match(f, arms) => {
            field(f, out)?;
            for (g, body) in arms {
                match g {
                    Guard::Any | Guard::Pattern(_) => {}
                    Guard::Call(c) => call(c, false, false, out)?,
                }
                row_pipeline(body, out)?;
            }
            Some(())
        }
    }
}

fn filter(f: &Filter, out: &mut BTreeSet<String>) -> Option<()> {
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().try_for_each(|x| filter(x, out)),
        Filter::Not(x) => filter(x, out),
        Filter::Field(name, m) => {
            let _: &Matcher = m;
            field(name, out)
        }
        Filter::Num(name, ..) => field(name, out),
        // `*` passes every event; other free text searches every field.
        Filter::Text(Matcher::Exists) => Some(()),
        Filter::Text(Matcher::Glob(g)) if g.parts.iter().all(String::is_empty) => Some(()),
        Filter::Text(_) => None,
        Filter::Bool(_) => Some(()),
        Filter::Call(c) => {
            if c.category == Category::Aggregate {
                return None;
            }
            call(c, false, false, out)
        }
        Filter::Pipeline(p) => row_pipeline(p, out),
    }
}

/// A field name: a wildcard or an array reference is not a fixed set of input fields.
fn field(name: &str, out: &mut BTreeSet<String>) -> Option<()> {
    if name.contains(['*', '[']) {
        return None;
    }
    out.insert(name.to_string());
    Some(())
}

/// `in_expr`: a call inside an expression, whose output the evaluator names itself (`eval::expr`
/// passes `as`): its default `as` is not a field of the event.
fn call(c: &Call, aggregate: bool, in_expr: bool, out: &mut BTreeSet<String>) -> Option<()> {
    if !allowed(&c.name, aggregate) {
        return None;
    }
    let def = FunctionTable::builtin().get(&c.name)?;
    for (param, e) in &c.args {
        let ty = def.param(param).map(|p| p.ty);
        match (ty, e) {
            // Sub-aggregates (`function=`) must hold only what they name too.
            (Some(ParamType::Aggregate | ParamType::Aggregates), _) => {
                for item in e.items() {
                    match item {
                        Expr::Call(sub) => call(sub, true, false, out)?,
                        Expr::Assign(name, inner) => {
                            field(name, out)?;
                            match inner.as_ref() {
                                Expr::Call(sub) => call(sub, true, false, out)?,
                                _ => return None,
                            }
                        }
                        _ => return None,
                    }
                }
            }
            // Text that is not a field name (a regex, a format string, a number).
            (
                Some(
                    ParamType::String
                    | ParamType::Regex
                    | ParamType::Number
                    | ParamType::Integer
                    | ParamType::Boolean
                    | ParamType::RelativeTime,
                ),
                Expr::Str(_) | Expr::Word(_) | Expr::Regex(..),
            ) => {}
            _ => expr(e, out)?,
        }
    }
    // Fields read by default (`regex()` reads @rawstring, `bucket()` @timestamp).
    for p in &def.params {
        if matches!(p.ty, ParamType::Field | ParamType::Fields)
            && c.arg(&p.name).is_none()
            && !(in_expr && p.name == "as")
        {
            if let Some(d) = &p.default {
                for name in d.trim_matches(['[', ']']).split(',') {
                    let name = name.trim().trim_matches('"');
                    if !name.is_empty() {
                        field(name, out)?;
                    }
                }
            }
        }
    }
    Some(())
}

/// The fields an expression may read (a superset: every word that is not a number or a
/// boolean, and every string, as [`expr`] reads arguments), or `None` when it may read fields
/// it cannot name (a glob or array name, an aggregate, a function outside [`ROW_FUNCTIONS`]).
pub fn expr_fields(e: &Expr) -> Option<Vec<String>> {
    let mut out = BTreeSet::new();
    expr(e, &mut out)?;
    Some(out.into_iter().filter(|w| w.parse::<f64>().is_err() && w != "true" && w != "false").collect())
}

/// Every word and string of an argument is taken as a field name it may read (reading more
/// than needed is only slower).
fn expr(e: &Expr, out: &mut BTreeSet<String>) -> Option<()> {
    match e {
        Expr::Word(w) | Expr::Str(w) => {
            // A glob or array pattern as an argument may name fields chosen at run time.
            if w.contains(['*', '[']) {
                return None;
            }
            out.insert(w.clone());
            Some(())
        }
        Expr::Call(c) => {
            if c.category == Category::Aggregate {
                return None;
            }
            call(c, false, true, out)
        }
        Expr::Array(v) => v.iter().try_for_each(|x| expr(x, out)),
        Expr::Query(p) => row_pipeline(p, out),
        Expr::Regex(..) => Some(()),
        Expr::Unary(_, x) => expr(x, out),
        Expr::Binary(_, a, b) => {
            expr(a, out)?;
            expr(b, out)
        }
        Expr::Assign(name, x) => {
            field(name, out)?;
            expr(x, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{parse, ParseOptions};
    use crate::plan::{compile::compile, PlanOptions};

    fn proj(q: &str) -> Option<Vec<String>> {
        let (ast, d) = parse(q, ParseOptions { lenient: true });
        assert!(d.iter().all(|d| !d.is_error()), "{q}: {d:?}");
        let ir = compile(&ast, &PlanOptions::default()).expect(q);
        projection(&ir).map(|s| s.into_iter().collect())
    }

    #[test]
    fn aggregates_of_named_fields_project() {
        assert_eq!(
            proj("#event_simpleName=ProcessRollup2 | FileName=/cmd/i | groupBy(ComputerName, function=count(aid))"),
            // (`_count`, count()'s default output name, is taken as read too: harmless.)
            Some(vec![
                "#event_simpleName".into(),
                "@timestamp".into(),
                "ComputerName".into(),
                "FileName".into(),
                "_count".into(),
                "aid".into()
            ])
        );
        // regex() without field= reads @rawstring; timeChart() reads @timestamp.
        let p = proj("regex(\"x(?<y>.)\") | timeChart(span=1h, function=count())").unwrap();
        assert!(p.contains(&"@rawstring".to_string()) && p.contains(&"@timestamp".to_string()), "{p:?}");
        let p = proj("x := lower(CommandLine) | case { x=/a/ | s := \"1\"; * } | groupBy(s)").unwrap();
        assert!(p.contains(&"CommandLine".to_string()), "{p:?}");
        // A regex argument is not a field name, whatever its brackets.
        let p = proj("regex(\"^(?<H>[^.]+)\", field=ComputerName) | groupBy(H)").unwrap();
        assert!(p.contains(&"ComputerName".to_string()) && !p.iter().any(|f| f.contains('[')), "{p:?}");
    }

    /// The fields of a `test()` expression: its words and strings, not its numbers or
    /// the output names the evaluator gives the functions inside it.
    #[test]
    fn an_expression_names_the_fields_it_reads() {
        let fields = |q: &str| -> Option<Vec<String>> {
            let (ast, d) = parse(q, ParseOptions { lenient: false });
            assert!(d.iter().all(|d| !d.is_error()), "{q}: {d:?}");
            let ir = compile(&ast, &PlanOptions::default()).expect(q);
            let Step::Call(c) = &ir.steps[0] else { panic!("{q}: {:?}", ir.steps[0]) };
            expr_fields(c.arg("expression").expect("an expression"))
        };
        assert_eq!(
            fields("test(lower(FileName) == lower(ParentBaseFileName))"),
            Some(vec!["FileName".to_string(), "ParentBaseFileName".to_string()])
        );
        assert_eq!(fields("test(length(CommandLine) > 10)"), Some(vec!["CommandLine".to_string()]));
        assert_eq!(fields("test(now() < 0)"), None);
        // The projection of a step still counts a function's default output as read: an event
        // may carry that field already, and the function may leave it as it was.
        let p = proj("lower(FileName) | groupBy(_lower)").unwrap();
        assert!(p.contains(&"_lower".to_string()), "{p:?}");
    }

    #[test]
    fn anything_that_may_read_other_fields_does_not() {
        for q in [
            "#event_simpleName=ProcessRollup2",                     // the events themselves
            "foo | groupBy(ComputerName)",                          // free text
            "#event_simpleName=ProcessRollup2 | sort(FileName)",    // whole events
            "head(5)",                                              // whole events
            "groupBy(ComputerName, function=tail(3))",              // whole events inside
            "groupBy(ComputerName, function=selectLast(FileName))", // not in the list
            "select([FileName]) | groupBy(FileName)",               // not in the list
            "rename(field=\"*\", as=x) | count()",                  // wildcard
            "array:contains(array=\"a[]\", value=x) | count()",     // run-time names
        ] {
            assert_eq!(proj(q), None, "{q}");
        }
    }
}
