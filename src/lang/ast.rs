//! The CQL abstract syntax tree. Every node carries the [`Span`] of the source it came from.
//!
//! Text is kept as written (raw): quoted strings keep their escapes, regex literals keep their
//! body, so that the printer can reproduce it and later stages decide how to decode it.

use crate::diag::Span;

/// A whole query: one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub pipeline: Pipeline,
}

/// `step | step | …`
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub steps: Vec<Step>,
    pub span: Span,
}

/// One pipeline step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A filter: field comparisons, free text, filter functions combined with AND/OR/NOT.
    /// A step that is a single function call (`groupBy(…)`) is a `Filter::Call`.
    Filter(Filter),
    /// `field := expr` (also `field := fn(…)`, which LogScale reads as `fn(…, as=field)`).
    Assign(Assign),
    /// `case { p1 ; p2 ; … }`
    Case(CaseStmt),
    /// `field match { guard => p ; … }`
    Match(MatchStmt),
    /// `[agg1(), agg2()]`, shorthand for `stats([…])`.
    Stats(Vec<Expr>, Span),
    /// Seed dialect only (`--lenient`): `(p1) UNION (p2) …`, the union of the branches' outputs.
    Union(Vec<Pipeline>, Span),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assign {
    pub field: FieldName,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseStmt {
    pub branches: Vec<Pipeline>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatchStmt {
    pub field: FieldName,
    pub arms: Vec<MatchArm>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatchArm {
    pub guard: Guard,
    pub body: Pipeline,
    pub span: Span,
}

/// The left side of a `match` arm.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// `*`, a word, a quoted string, a regex or a parameter.
    Pattern(Pattern),
    /// A filter function with a `field` parameter: `in(values=[…])`, `cidr(…)`.
    Call(Call),
}

/// A field name as written on the left of a filter or an assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldName {
    /// The name, decoded (quotes removed).
    pub name: String,
    /// Written as a quoted string (`"host-name" = x`).
    pub quoted: bool,
    pub span: Span,
}

/// Filter operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    /// `<=>`, the correlate() link operator.
    Link,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Like => "like",
            CmpOp::Link => "<=>",
        }
    }
}

/// A filter expression. OR binds tighter than AND; NOT tightest.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>, Span),
    Or(Vec<Filter>, Span),
    Not(Box<Filter>, Span),
    /// `field op pattern`
    Compare {
        field: FieldName,
        op: CmpOp,
        value: Pattern,
        span: Span,
    },
    /// Free-text search: a bare word, a quoted string, a regex or a parameter on its own.
    FreeText(Pattern),
    /// `true` / `false`
    Bool(bool, Span),
    /// A function call in filter position (also any step that is a call).
    Call(Call),
    /// `field =~ fn(…)`: the call with `field=field`. `negated` for `field =~ !fn(…)`.
    FieldCall {
        field: FieldName,
        negated: bool,
        call: Call,
        span: Span,
    },
    /// A saved-query call `$name(…)`.
    Saved(SavedCall),
    /// Seed dialect only: a parenthesised pipeline `( a | b := c )`.
    Pipeline(Pipeline),
    /// Seed dialect only: `(p1) UNION (p2) …`.
    Union(Vec<Pipeline>, Span),
}

/// The right side of a filter, or a free-text term.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// An unquoted word (may hold `*` wildcards).
    Word(String, Span),
    /// A quoted string, raw (escapes not decoded, quotes removed).
    Quoted(String, Span),
    Regex(RegexLit),
    Param(Param),
}

/// `/body/flags`. `body` is the text between the slashes as written (with `\/`).
#[derive(Debug, Clone, PartialEq)]
pub struct RegexLit {
    pub body: String,
    pub flags: String,
    pub span: Span,
}

/// `?name` or `?{name=default}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    /// The default as written: `(raw, quoted)`.
    pub default: Option<(String, bool)>,
    /// `?{name}`: braces without a default.
    pub braced: bool,
    pub span: Span,
}

/// `$name(args)` or `$"pkg:name"(args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedCall {
    pub name: String,
    pub quoted: bool,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// `name(args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// As written (function names are case-insensitive).
    pub name: String,
    pub name_span: Span,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// One argument: `value`, `name=value`, or (correlate) `name: {…} attr: value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<(String, Span)>,
    pub value: Expr,
    pub span: Span,
}

/// Expression operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Link,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Link => "<=>",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    /// Binding power: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Link => 1,
            BinOp::Add | BinOp::Sub => 2,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

/// An expression (`:=`, function arguments, `test()`, `if()`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A bare word: a field reference, a number, `true`/`false`, a relative time, `*`.
    Word(String, Span),
    /// A quoted string, raw.
    Str(String, Span),
    Param(Param),
    Call(Call),
    Saved(SavedCall),
    Array(Vec<Expr>, Span),
    /// `{ pipeline }`, optionally named (`name: { … }`, correlate) with attributes
    /// (`include: [a, b]`).
    Subquery(Box<Subquery>),
    Unary(UnOp, Box<Expr>, Span),
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
    /// `field := expr` inside an array (`[x := count(), …]`).
    Assign(Box<Assign>),
    /// A regex literal where LogScale accepts one in an argument (`array:filter`, …).
    Regex(RegexLit),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    pub name: Option<(String, Span)>,
    pub pipeline: Pipeline,
    pub attrs: Vec<(String, Expr)>,
    pub span: Span,
}

impl Filter {
    pub fn span(&self) -> Span {
        match self {
            Filter::And(_, s) | Filter::Or(_, s) | Filter::Not(_, s) | Filter::Bool(_, s) => *s,
            Filter::Compare { span, .. } | Filter::FieldCall { span, .. } => *span,
            Filter::FreeText(p) => p.span(),
            Filter::Call(c) => c.span,
            Filter::Saved(c) => c.span,
            Filter::Pipeline(p) => p.span,
            Filter::Union(_, s) => *s,
        }
    }
}

impl Pattern {
    pub fn span(&self) -> Span {
        match self {
            Pattern::Word(_, s) | Pattern::Quoted(_, s) => *s,
            Pattern::Regex(r) => r.span,
            Pattern::Param(p) => p.span,
        }
    }
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Word(_, s) | Expr::Str(_, s) | Expr::Array(_, s) => *s,
            Expr::Unary(_, _, s) | Expr::Binary(_, _, _, s) => *s,
            Expr::Param(p) => p.span,
            Expr::Call(c) => c.span,
            Expr::Saved(c) => c.span,
            Expr::Subquery(q) => q.span,
            Expr::Assign(a) => a.span,
            Expr::Regex(r) => r.span,
        }
    }
}

impl Step {
    pub fn span(&self) -> Span {
        match self {
            Step::Filter(f) => f.span(),
            Step::Assign(a) => a.span,
            Step::Case(c) => c.span,
            Step::Match(m) => m.span,
            Step::Stats(_, s) | Step::Union(_, s) => *s,
        }
    }
}
