//! The plan's executable form: what `eval` runs. Strings are decoded, parameters and saved
//! queries substituted, regexes compiled, calls bound to their canonical function and
//! parameter names. `eval` never sees the AST.

use super::rx::Rx;
use crate::func::Category;
use crate::lang::ast::{BinOp, UnOp};
use std::sync::Arc;

/// A pipeline of steps.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub enum Step {
    Filter(Filter),
    /// `field := expr`
    Assign(String, Expr),
    /// A function call as a step (filter, transform or aggregate function).
    Call(Call),
    /// `case { … }`: first branch that outputs the event.
    Case(Vec<Pipeline>),
    /// `field match { guard => … }`
    Match(String, Vec<(Guard, Pipeline)>),
    /// Seed dialect: the union of the branches' outputs.
    Union(Vec<Pipeline>),
}

#[derive(Debug, Clone)]
pub enum Guard {
    /// `*` (or `true`): every event, even without the field.
    Any,
    Pattern(Matcher),
    /// A filter function with `field` set to the match field.
    Call(Call),
}

/// How a value is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `= *`: the field exists.
    Exists,
    /// Exact, case-sensitive.
    Exact(String),
    /// Anchored glob with `*`.
    Glob(Arc<Glob>),
    /// Unanchored regex search.
    Regex(Arc<Rx>),
}

/// An anchored `*` glob, split at the stars.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    pub parts: Vec<String>,
    pub ignore_case: bool,
}

impl Glob {
    pub fn new(pattern: &str, ignore_case: bool) -> Glob {
        let p = if ignore_case { pattern.to_lowercase() } else { pattern.to_string() };
        Glob { parts: p.split('*').map(str::to_string).collect(), ignore_case }
    }

    /// Anchored match: `a*b` matches "axxb".
    pub fn matches(&self, s: &str) -> bool {
        let lowered;
        let s = if self.ignore_case {
            lowered = s.to_lowercase();
            lowered.as_str()
        } else {
            s
        };
        let n = self.parts.len();
        if n == 1 {
            return s == self.parts[0];
        }
        let first = &self.parts[0];
        let last = &self.parts[n - 1];
        if !s.starts_with(first.as_str()) || s.len() < first.len() + last.len() || !s.ends_with(last.as_str()) {
            return false;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for mid in &self.parts[1..n - 1] {
            match rest.find(mid.as_str()) {
                Some(i) => rest = &rest[i + mid.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A filter.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `field = pattern` (anchored; `!=` is `Not` of this).
    Field(String, Matcher),
    /// `field < n` etc.
    Num(String, BinOp, f64),
    /// Free text: unanchored over every field but tags and @timestamp/@id, and @rawstring.
    Text(Matcher),
    Bool(bool),
    /// A filter function (`in`, `regex`, `test`, `cidr`, …).
    Call(Call),
    /// A sub-pipeline used as a filter (seed dialect parentheses).
    Pipeline(Box<Pipeline>),
}

/// An expression or argument value.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A bare word: a field reference in expressions; a number, keyword or name to functions.
    Word(String),
    /// A quoted string, decoded.
    Str(String),
    Call(Box<Call>),
    Array(Vec<Expr>),
    Query(Box<Pipeline>),
    /// A regex literal given as an argument: (pattern, flags).
    Regex(String, String),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `[x := count()]` inside an array.
    Assign(String, Box<Expr>),
}

/// A call bound to its function: arguments by canonical parameter name, in the order given.
#[derive(Debug, Clone)]
pub struct Call {
    /// Canonical name (`groupBy`, `text:contains`).
    pub name: String,
    pub category: Category,
    pub args: Vec<(String, Expr)>,
    /// Negated (`!in(…)`, `not test(…)` as a step).
    pub negated: bool,
}

impl Call {
    pub fn arg(&self, name: &str) -> Option<&Expr> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }
}

impl Expr {
    /// A literal or word as text (quoted strings and bare words alike).
    pub fn text(&self) -> Option<&str> {
        match self {
            Expr::Word(w) | Expr::Str(w) => Some(w),
            _ => None,
        }
    }

    /// The items of an array argument, or the single value as a one-item list.
    pub fn items(&self) -> Vec<&Expr> {
        match self {
            Expr::Array(v) => v.iter().collect(),
            e => vec![e],
        }
    }

    /// A list of names (field names, file names): words and strings, single or in an array.
    pub fn names(&self) -> Vec<String> {
        self.items().into_iter().filter_map(|e| e.text().map(str::to_string)).collect()
    }
}
