//! The CQL parser: recursive descent over the mode-driven lexer.
//!
//! Precedence, lowest first: `|` (pipeline steps), AND (explicit or implicit), OR, NOT.
//! The parser always returns a tree, recovering from errors, so that one run reports as many
//! problems as it can. With `lenient`, the seed dialect's defects become warnings and are read
//! as the seed's author meant them.

use super::ast::*;
use super::lex::{as_warning, Lexer, Mode, Tok, Token};
use crate::diag::{Code, Diagnostic, Span};

/// How deep parentheses, subqueries, `case`, and unary operators may nest.
pub const MAX_DEPTH: usize = 64;
/// After this many errors the parser stops reporting (the rest is usually noise).
const MAX_ERRORS: usize = 50;

/// Parser options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// Accept the seed dialect (UNION, parenthesised pipelines, positional `if`, unescaped `/`).
    pub lenient: bool,
}

/// Parse a query. The tree is always returned; check the diagnostics for errors.
pub fn parse(src: &str, opts: ParseOptions) -> (Query, Vec<Diagnostic>) {
    let mut p = Parser {
        lx: Lexer::new(src, opts.lenient),
        diags: Vec::new(),
        depth: 0,
        lenient: opts.lenient,
        aborted: false,
    };
    let pipeline = p.pipeline(Ctx::Top);
    let mut diags = p.diags;
    if !p.aborted {
        diags.extend(p.lx.take_diags());
    }
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    diags.dedup_by(|a, b| a.code == b.code && a.span == b.span);
    diags.truncate(MAX_ERRORS);
    (Query { pipeline }, crate::diag::merge_repeats(diags))
}

/// Where a pipeline is being read, which decides what ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    /// Inside `( … )`.
    Paren,
    /// Inside `{ … }` (subquery).
    Brace,
    /// A `case` branch or `match` arm body: ends at `;` or `}`.
    Branch,
}

struct Parser<'s> {
    lx: Lexer<'s>,
    diags: Vec<Diagnostic>,
    depth: usize,
    lenient: bool,
    /// Set when nesting hit [`MAX_DEPTH`]: the rest of the input is skipped and no further
    /// diagnostics are reported (they would only be echoes of the cut).
    aborted: bool,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w == kw || w.eq_ignore_ascii_case(kw) && (w == &kw.to_ascii_uppercase() || w == &kw.to_ascii_lowercase()))
}

impl<'s> Parser<'s> {
    fn err(&mut self, d: Diagnostic) {
        if !self.aborted {
            self.diags.push(d);
        }
    }

    /// A seed-dialect defect: an error in strict mode, a warning with `--lenient`.
    fn dialect(&mut self, d: Diagnostic) {
        let d = if self.lenient { as_warning(d) } else { d };
        self.diags.push(d);
    }

    fn peek(&mut self, mode: Mode) -> Token {
        self.lx.peek(mode)
    }

    fn next(&mut self, mode: Mode) -> Token {
        self.lx.next(mode)
    }

    /// The token after the next one.
    fn peek2(&mut self, m1: Mode, m2: Mode) -> (Token, Token) {
        let save = self.lx.snapshot();
        let a = self.lx.next(m1);
        let b = self.lx.next(m2);
        self.lx.restore(save);
        (a, b)
    }

    fn enter(&mut self, at: Span) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            if !self.diags.iter().any(|d| d.code == Code::TooDeep) {
                self.err(
                    Diagnostic::error(Code::TooDeep, at, format!("nesting deeper than {MAX_DEPTH} levels"))
                        .with_help("simplify the query; cqlhunt stops here rather than risk its stack"),
                );
            }
            // Skip the rest of the input: nothing sensible can follow.
            self.lx.pos = self.lx.src.len();
            self.aborted = true;
            self.depth -= 1;
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn at_end(&mut self, ctx: Ctx) -> bool {
        let t = self.peek(Mode::Filter).tok;
        match ctx {
            Ctx::Top => t == Tok::Eof,
            Ctx::Paren => matches!(t, Tok::RParen | Tok::Eof),
            Ctx::Brace => matches!(t, Tok::RBrace | Tok::Eof),
            Ctx::Branch => matches!(t, Tok::Semi | Tok::RBrace | Tok::Eof),
        }
    }

    // ---- pipelines and steps -------------------------------------------------------------

    fn pipeline(&mut self, ctx: Ctx) -> Pipeline {
        let mut steps = Vec::new();
        let mut pipes: Vec<Span> = Vec::new();
        // A leading `|` is allowed (CrowdStrike writes it often).
        let t = self.peek(Mode::Filter);
        let first_start = t.span.start as usize;
        if t.tok == Tok::Pipe {
            self.next(Mode::Filter);
        }
        loop {
            if self.at_end(ctx) {
                // A trailing `|` before the end is accepted: CrowdStrike's published
                // dashboards end queries with one (see docs/semantics.md).
                break;
            }
            let t = self.peek(Mode::Filter);
            match &t.tok {
                Tok::Pipe => {
                    self.err(
                        Diagnostic::error(Code::EmptyStep, t.span, "empty pipeline step")
                            .with_label("nothing between these pipes")
                            .with_help("remove one `|`"),
                    );
                    self.next(Mode::Filter);
                    pipes.push(t.span);
                    continue;
                }
                Tok::RParen | Tok::RBracket | Tok::RBrace | Tok::Semi | Tok::Comma => {
                    self.err(
                        Diagnostic::error(Code::UnmatchedDelimiter, t.span, format!("unexpected `{}`", t.tok.punct()))
                            .with_label(match t.tok {
                                Tok::Semi => "`;` separates branches only inside `case { … }` or `match { … }`",
                                Tok::Comma => "`,` separates arguments only inside a function call or an array",
                                _ => "no opening partner for this",
                            }),
                    );
                    self.next(Mode::Filter);
                    continue;
                }
                _ => {}
            }
            let before = self.lx.pos;
            if let Some(step) = self.step() {
                steps.push(step);
            }
            if self.lx.pos == before {
                // No progress: skip one token to avoid looping.
                self.next(Mode::Filter);
            }
            let t = self.peek(Mode::Filter);
            if t.tok == Tok::Pipe {
                self.next(Mode::Filter);
                pipes.push(t.span);
            } else if !self.at_end(ctx) {
                // Two steps without a pipe between them can only happen after an error.
                continue;
            }
        }
        let end = self.lx.pos;
        let span = match (steps.first(), steps.last()) {
            (Some(f), Some(l)) => f.span().to(l.span()),
            _ => Span::new(first_start.min(end), end),
        };
        let mut p = Pipeline { steps, span };
        self.check_paren_pipeline(&mut p, ctx, &pipes);
        p
    }

    fn check_paren_pipeline(&mut self, p: &mut Pipeline, ctx: Ctx, pipes: &[Span]) {
        if ctx != Ctx::Paren {
            return;
        }
        let is_filter_only = p.steps.len() == 1 && matches!(p.steps[0], Step::Filter(_));
        if !is_filter_only && !p.steps.is_empty() {
            let at = pipes.first().copied().unwrap_or(p.span);
            self.dialect(
                Diagnostic::error(Code::ParenPipeline, at, "a pipeline inside parentheses")
                    .with_label("`|` cannot appear inside `( … )`")
                    .with_note("parentheses group filters only; sub-pipelines are written in braces where a function or `case` takes them")
                    .with_help("route events through branches with `case { branch1 ; branch2 }` (cqlhunt fix writes it)"),
            );
        }
    }

    fn step(&mut self) -> Option<Step> {
        let t = self.peek(Mode::Filter);
        match &t.tok {
            Tok::LBracket => {
                let arr = self.expr()?;
                let span = arr.span();
                let Expr::Array(items, _) = arr else { return None };
                return Some(Step::Stats(items, span));
            }
            Tok::Word(w) if w == "case" => {
                let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                if b.tok == Tok::LBrace {
                    return self.case_stmt().map(Step::Case);
                }
            }
            Tok::Word(_) | Tok::Str(_) => {
                let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                if b.tok == Tok::Assign {
                    return self.assign().map(Step::Assign);
                }
                if is_kw(&b.tok, "match") {
                    let save = self.lx.snapshot();
                    self.next(Mode::Filter);
                    self.next(Mode::Filter);
                    let brace = self.peek(Mode::Filter).tok == Tok::LBrace;
                    self.lx.restore(save);
                    if brace {
                        return self.match_stmt().map(Step::Match);
                    }
                }
            }
            _ => {}
        }
        let f = self.filter()?;
        Some(match f {
            Filter::Union(branches, span) => Step::Union(branches, span),
            other => Step::Filter(other),
        })
    }

    fn field_name(&mut self, mode: Mode) -> Option<FieldName> {
        let t = self.next(mode);
        match t.tok {
            Tok::Word(w) => Some(FieldName { name: w, quoted: false, span: t.span }),
            Tok::Str(s) => Some(FieldName { name: s, quoted: true, span: t.span }),
            other => {
                self.err(
                    Diagnostic::error(
                        Code::InvalidTarget,
                        t.span,
                        format!("expected a field name, found {}", other.describe()),
                    )
                    .with_label("not a field name"),
                );
                None
            }
        }
    }

    fn assign(&mut self) -> Option<Assign> {
        let field = self.field_name(Mode::Filter)?;
        let op = self.next(Mode::Filter);
        debug_assert_eq!(op.tok, Tok::Assign);
        let value = self.value_expr(true, op.span)?;
        let span = field.span.to(value.span());
        Some(Assign { field, value, span })
    }

    /// The right side of `:=`, a named argument or an unnamed argument.
    fn value_expr(&mut self, is_assign: bool, after: Span) -> Option<Expr> {
        let t = self.peek(Mode::Filter);
        if let Tok::Regex { .. } = t.tok {
            let t = self.next(Mode::Filter);
            let Tok::Regex { body, flags, .. } = t.tok else { return None };
            let r = RegexLit { body, flags, span: t.span };
            if is_assign {
                self.err(
                    Diagnostic::error(Code::RegexNotExpression, t.span, "a regex literal is not an expression")
                        .with_label("regex literal here")
                        .with_help(format!(
                            "to test a field against it, use regex(): regex(\"{}\", field=FIELD)",
                            regex_to_string_body(&r.body)
                        )),
                );
            }
            return Some(Expr::Regex(r));
        }
        match self.peek(Mode::Expr).tok {
            Tok::Eof | Tok::Pipe | Tok::RParen | Tok::Comma | Tok::RBrace | Tok::Semi | Tok::RBracket => {
                let t = self.peek(Mode::Expr);
                self.err(
                    Diagnostic::error(
                        Code::MissingValue,
                        t.span,
                        format!("expected a value, found {}", t.tok.describe()),
                    )
                    .with_secondary(after, "a value must follow this"),
                );
                None
            }
            _ => self.expr(),
        }
    }

    fn case_stmt(&mut self) -> Option<CaseStmt> {
        let kw = self.next(Mode::Filter);
        let open = self.next(Mode::Filter);
        if !self.enter(open.span) {
            return None;
        }
        let mut branches = Vec::new();
        loop {
            let t = self.peek(Mode::Filter);
            match t.tok {
                Tok::RBrace => {
                    self.next(Mode::Filter);
                    break;
                }
                Tok::Eof => {
                    self.unclosed(open.span, "case");
                    break;
                }
                Tok::Semi => {
                    self.next(Mode::Filter);
                    // A `;` right before `}` is allowed (trailing separator); elsewhere it
                    // makes an empty branch.
                    if branches.is_empty() || self.peek(Mode::Filter).tok != Tok::RBrace {
                        self.err(
                            Diagnostic::error(Code::EmptyBranch, t.span, "empty case branch")
                                .with_label("a branch with nothing in it")
                                .with_help("write `*` for a branch that passes every event"),
                        );
                    }
                    continue;
                }
                _ => {}
            }
            let p = self.pipeline(Ctx::Branch);
            branches.push(p);
            let t = self.peek(Mode::Filter);
            if t.tok == Tok::Semi {
                self.next(Mode::Filter);
                if self.peek(Mode::Filter).tok == Tok::Semi {
                    let t2 = self.peek(Mode::Filter);
                    self.err(
                        Diagnostic::error(Code::EmptyBranch, t2.span, "empty case branch")
                            .with_label("a branch with nothing in it")
                            .with_help("write `*` for a branch that passes every event"),
                    );
                    self.next(Mode::Filter);
                }
            }
        }
        self.leave();
        let span = kw.span.to(Span::new(self.lx.pos, self.lx.pos));
        Some(CaseStmt { branches, span })
    }

    fn unclosed(&mut self, open: Span, what: &str) {
        let end = self.lx.src.len();
        self.err(
            Diagnostic::error(
                Code::UnclosedDelimiter,
                open,
                format!("unclosed `{}` of {what}", &self.lx.src[open.range()]),
            )
            .with_label("opened here")
            .with_secondary(Span::new(end, end), "the query ends here"),
        );
    }

    fn match_stmt(&mut self) -> Option<MatchStmt> {
        let field = self.field_name(Mode::Filter)?;
        self.next(Mode::Filter); // match
        let open = self.next(Mode::Filter);
        if !self.enter(open.span) {
            return None;
        }
        let mut arms = Vec::new();
        loop {
            let t = self.peek(Mode::Filter);
            match t.tok {
                Tok::RBrace => {
                    self.next(Mode::Filter);
                    break;
                }
                Tok::Eof => {
                    self.unclosed(open.span, "match");
                    break;
                }
                Tok::Semi => {
                    self.next(Mode::Filter);
                    if self.peek(Mode::Filter).tok != Tok::RBrace || arms.is_empty() {
                        self.err(
                            Diagnostic::error(Code::EmptyBranch, t.span, "empty match arm")
                                .with_help("write `* => …` for an arm that takes every event"),
                        );
                    }
                    continue;
                }
                _ => {}
            }
            let before = self.lx.pos;
            if let Some(arm) = self.match_arm() {
                arms.push(arm);
            } else {
                // Skip to the next `;` or `}`.
                while !matches!(self.peek(Mode::Filter).tok, Tok::Semi | Tok::RBrace | Tok::Eof) {
                    self.next(Mode::Filter);
                }
            }
            if self.lx.pos == before {
                self.next(Mode::Filter);
            }
            if self.peek(Mode::Filter).tok == Tok::Semi {
                self.next(Mode::Filter);
            }
        }
        self.leave();
        let span = field.span.to(Span::new(self.lx.pos, self.lx.pos));
        Some(MatchStmt { field, arms, span })
    }

    fn match_arm(&mut self) -> Option<MatchArm> {
        let t = self.peek(Mode::Filter);
        let guard = match &t.tok {
            Tok::Word(_) => {
                let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                if b.tok == Tok::LParen && !b.space_before {
                    Guard::Call(self.call()?)
                } else {
                    let t = self.next(Mode::Filter);
                    let Tok::Word(w) = t.tok else { return None };
                    Guard::Pattern(Pattern::Word(w, t.span))
                }
            }
            Tok::Str(_) | Tok::Regex { .. } | Tok::Param { .. } => Guard::Pattern(self.pattern()?),
            other => {
                let other = other.describe();
                self.err(
                    Diagnostic::error(Code::UnexpectedToken, t.span, format!("expected a match guard, found {other}"))
                        .with_help("a guard is a value, a \"string\", a /regex/, a ?parameter, a function call or `*`"),
                );
                return None;
            }
        };
        let arrow = self.peek(Mode::Filter);
        if arrow.tok != Tok::Arrow {
            self.err(
                Diagnostic::error(
                    Code::MissingArrow,
                    arrow.span,
                    format!("expected `=>`, found {}", arrow.tok.describe()),
                )
                .with_help("write `guard => pipeline`"),
            );
            return None;
        }
        self.next(Mode::Filter);
        if matches!(self.peek(Mode::Filter).tok, Tok::Semi | Tok::RBrace | Tok::Eof) {
            self.err(
                Diagnostic::error(Code::EmptyBranch, arrow.span, "match arm with nothing after `=>`")
                    .with_help("write `*` to pass the event unchanged"),
            );
            return None;
        }
        let body = self.pipeline(Ctx::Branch);
        let gspan = match &guard {
            Guard::Pattern(p) => p.span(),
            Guard::Call(c) => c.span,
        };
        Some(MatchArm { span: gspan.to(body.span), guard, body })
    }

    // ---- filters ---------------------------------------------------------------------------

    fn is_filter_end(&mut self) -> bool {
        matches!(
            self.peek(Mode::Filter).tok,
            Tok::Pipe | Tok::RParen | Tok::RBrace | Tok::Semi | Tok::Eof | Tok::RBracket | Tok::Comma
        )
    }

    /// AND level: implicit or explicit AND of OR-filters.
    fn filter(&mut self) -> Option<Filter> {
        let mut items: Vec<Filter> = Vec::new();
        let mut last_paren = false;
        let mut last_open = Span::default();
        let mut implicit_reported = false;
        loop {
            if self.is_filter_end() {
                break;
            }
            let t = self.peek(Mode::Filter);
            if is_kw(&t.tok, "and") {
                self.next(Mode::Filter);
                if items.is_empty() || self.is_filter_end() {
                    self.err(
                        Diagnostic::error(Code::UnexpectedToken, t.span, "`AND` needs a filter on each side")
                            .with_label("missing operand"),
                    );
                }
                last_paren = false;
                continue;
            }
            if let Tok::Word(w) = &t.tok {
                if w.eq_ignore_ascii_case("union") && last_paren {
                    let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                    if b.tok == Tok::LParen {
                        self.next(Mode::Filter);
                        self.dialect(
                            Diagnostic::error(Code::Union, t.span, "`UNION` is not part of CQL")
                                .with_label("not a keyword, function or operator")
                                .with_note("LogScale reads a bare word as a case-sensitive free-text search for `*UNION*`")
                                .with_help("to send each event through the first branch it matches, write `case { branch1 ; branch2 ; branch3 }` (cqlhunt fix writes it)"),
                        );
                        if !implicit_reported {
                            implicit_reported = true;
                            let prev = last_open;
                            self.dialect(
                                Diagnostic::error(
                                    Code::ImplicitAndUnion,
                                    b.span,
                                    "adjacent groups are joined by implicit AND: this is an intersection, not a union",
                                )
                                .with_label("this group is ANDed with the one before it")
                                .with_secondary(prev, "… with this one")
                                .with_note("`(A) UNION (B)` means `A AND \"*UNION*\" AND B`: only events matching every branch and containing the text UNION")
                                .with_help("write the branches as `case { A ; B }` to keep events matching any of them"),
                            );
                        }
                        let Some(branch) = self.unary() else { break };
                        let prev = items.pop();
                        let merged = match prev {
                            Some(Filter::Union(mut bs, span)) => {
                                let s = span.to(branch.span());
                                bs.push(to_pipeline(branch));
                                Filter::Union(bs, s)
                            }
                            Some(prev) => {
                                let s = prev.span().to(branch.span());
                                Filter::Union(vec![to_pipeline(prev), to_pipeline(branch)], s)
                            }
                            None => branch,
                        };
                        items.push(merged);
                        last_paren = true;
                        continue;
                    }
                }
            }
            last_paren = t.tok == Tok::LParen;
            if last_paren {
                last_open = t.span;
            }
            let before = self.lx.pos;
            match self.or_filter() {
                Some(f) => {
                    if matches!(f, Filter::Or(..) | Filter::Not(..)) {
                        last_paren = false;
                    }
                    items.push(f);
                }
                None => {
                    if self.lx.pos == before {
                        self.next(Mode::Filter);
                    }
                }
            }
        }
        match items.len() {
            0 => None,
            1 => items.pop(),
            _ => {
                let span = items[0].span().to(items[items.len() - 1].span());
                Some(Filter::And(items, span))
            }
        }
    }

    fn or_filter(&mut self) -> Option<Filter> {
        let first = self.unary()?;
        let mut items = vec![first];
        loop {
            let t = self.peek(Mode::Filter);
            if !is_kw(&t.tok, "or") {
                break;
            }
            self.next(Mode::Filter);
            if self.is_filter_end() {
                self.err(
                    Diagnostic::error(Code::UnexpectedToken, t.span, "`OR` needs a filter on each side")
                        .with_label("missing operand"),
                );
                break;
            }
            if let Some(f) = self.unary() {
                items.push(f);
            }
        }
        if items.len() == 1 {
            items.pop()
        } else {
            let span = items[0].span().to(items[items.len() - 1].span());
            Some(Filter::Or(items, span))
        }
    }

    fn unary(&mut self) -> Option<Filter> {
        let t = self.peek(Mode::Filter);
        let is_not = match &t.tok {
            Tok::Bang => true,
            Tok::Word(_) if is_kw(&t.tok, "not") => {
                // `not = x` is a filter on a field named `not`.
                let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                !matches!(b.tok, Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge | Tok::Assign | Tok::Tilde)
                    && !matches!(b.tok, Tok::Pipe | Tok::Eof | Tok::RParen | Tok::RBrace | Tok::Semi)
            }
            _ => false,
        };
        if is_not {
            self.next(Mode::Filter);
            if !self.enter(t.span) {
                return None;
            }
            let inner = self.unary();
            self.leave();
            let inner = inner?;
            let span = t.span.to(inner.span());
            return Some(Filter::Not(Box::new(inner), span));
        }
        if let Tok::Word(w) = &t.tok {
            if ["Not", "Or", "And"].contains(&w.as_str()) {
                self.err(
                    Diagnostic::warning(
                        Code::MixedCaseKeyword,
                        t.span,
                        format!("`{w}` is a free-text search, not an operator"),
                    )
                    .with_help(format!(
                        "write `{}` or `{}` for the operator, or \"{w}\" to search for the text",
                        w.to_uppercase(),
                        w.to_lowercase()
                    )),
                );
            }
        }
        self.primary()
    }

    fn primary(&mut self) -> Option<Filter> {
        let t = self.peek(Mode::Filter);
        match t.tok.clone() {
            Tok::LParen => {
                self.next(Mode::Filter);
                if !self.enter(t.span) {
                    return None;
                }
                let p = self.pipeline(Ctx::Paren);
                self.leave();
                let close = self.peek(Mode::Filter);
                if close.tok == Tok::RParen {
                    self.next(Mode::Filter);
                } else {
                    self.unclosed(t.span, "a group");
                }
                let is_filter = p.steps.len() == 1 && matches!(p.steps[0], Step::Filter(_));
                if is_filter {
                    let Some(Step::Filter(f)) = p.steps.into_iter().next() else { return None };
                    Some(f)
                } else if p.steps.is_empty() {
                    self.err(
                        Diagnostic::error(Code::UnexpectedToken, t.span.to(close.span), "empty parentheses")
                            .with_help("put a filter inside, or remove them"),
                    );
                    None
                } else {
                    Some(Filter::Pipeline(p))
                }
            }
            Tok::Word(w) => {
                let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                if b.tok == Tok::LParen && !b.space_before {
                    return self.call().map(Filter::Call);
                }
                if (w == "true" || w == "false") && !is_cmp(&b.tok) {
                    self.next(Mode::Filter);
                    return Some(Filter::Bool(w == "true", t.span));
                }
                if is_cmp(&b.tok) || is_kw(&b.tok, "like") || b.tok == Tok::Tilde {
                    return self.comparison();
                }
                self.next(Mode::Filter);
                Some(Filter::FreeText(Pattern::Word(w, t.span)))
            }
            Tok::Str(s) => {
                let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                if is_cmp(&b.tok) || is_kw(&b.tok, "like") || b.tok == Tok::Tilde {
                    return self.comparison();
                }
                self.next(Mode::Filter);
                Some(Filter::FreeText(Pattern::Quoted(s, t.span)))
            }
            Tok::Regex { .. } | Tok::Param { .. } => Some(Filter::FreeText(self.pattern()?)),
            Tok::Saved { .. } => self.saved().map(Filter::Saved),
            Tok::Assign => {
                self.next(Mode::Filter);
                self.err(
                    Diagnostic::error(
                        Code::InvalidTarget,
                        t.span,
                        "`:=` must follow a field name at the start of a step",
                    )
                    .with_help("write `| field := value` as its own pipeline step"),
                );
                None
            }
            Tok::LBracket => {
                self.err(
                    Diagnostic::error(Code::UnexpectedToken, t.span, "an array cannot be used as a filter")
                        .with_help("`[agg1(), agg2()]` is a pipeline step of its own: put a `|` before it"),
                );
                let _ = self.expr();
                None
            }
            other => {
                self.next(Mode::Filter);
                let mut d = Diagnostic::error(
                    Code::UnexpectedToken,
                    t.span,
                    format!("expected a filter, found {}", other.describe()),
                )
                .with_label("unexpected here");
                if matches!(other, Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge) {
                    d = d.with_help("the left side of a comparison must be a field name");
                }
                self.err(d);
                None
            }
        }
    }

    fn comparison(&mut self) -> Option<Filter> {
        let field = self.field_name(Mode::Filter)?;
        let op_t = self.next(Mode::Filter);
        let op = match op_t.tok {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Link => CmpOp::Link,
            Tok::Tilde => {
                let neg = self.peek(Mode::Filter);
                let negated = neg.tok == Tok::Bang;
                if negated {
                    self.next(Mode::Filter);
                }
                let t = self.peek(Mode::Filter);
                let (_, b) = self.peek2(Mode::Filter, Mode::Filter);
                if !matches!(t.tok, Tok::Word(_)) || b.tok != Tok::LParen {
                    self.err(
                        Diagnostic::error(Code::ExpectedCallAfterTilde, t.span, format!("expected a function call after `=~`, found {}", t.tok.describe()))
                            .with_help("write `field =~ function(…)`, e.g. `ip =~ cidr(subnet=\"10.0.0.0/8\")`; to match a regex write `field = /re/`"),
                    );
                    if !self.is_filter_end() {
                        self.next(Mode::Filter);
                    }
                    return None;
                }
                let call = self.call()?;
                let span = field.span.to(call.span);
                return Some(Filter::FieldCall { field, negated, call, span });
            }
            Tok::Word(_) => CmpOp::Like,
            _ => return None,
        };
        let v = self.peek(Mode::Filter);
        let value = match &v.tok {
            Tok::Word(_) | Tok::Str(_) | Tok::Regex { .. } | Tok::Param { .. } => self.pattern()?,
            other => {
                let (code, msg) = if op == CmpOp::Like {
                    (Code::BadLikePattern, format!("`like` needs a pattern, found {}", other.describe()))
                } else {
                    (
                        Code::MissingValue,
                        format!("expected a value after `{}`, found {}", op.as_str(), other.describe()),
                    )
                };
                self.err(
                    Diagnostic::error(code, v.span, msg)
                        .with_secondary(op_t.span, "this operator needs a value")
                        .with_help(format!(
                            "write `{} {} \"value\"`; `{} = *` tests that the field exists",
                            field.name,
                            op.as_str(),
                            field.name
                        )),
                );
                return None;
            }
        };
        if matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge) {
            let ok = match &value {
                // A quoted number is accepted: CrowdStrike's dashboards write `Severity >= "80"`.
                Pattern::Word(w, _) | Pattern::Quoted(w, _) => is_number(w),
                Pattern::Param(_) => true,
                _ => false,
            };
            if !ok {
                self.err(
                    Diagnostic::error(
                        Code::NumberExpected,
                        value.span(),
                        format!("`{}` compares numbers", op.as_str()),
                    )
                    .with_label("not a number")
                    .with_help(format!(
                        "to compare with another field, write test({} {} other)",
                        field.name,
                        op.as_str()
                    )),
                );
            }
        }
        // `like /re/` is accepted: the Operators page shows `class like /Bucket/`, though the
        // grammar's LikePattern does not list regexes.
        let span = field.span.to(value.span());
        Some(Filter::Compare { field, op, value, span })
    }

    fn pattern(&mut self) -> Option<Pattern> {
        let t = self.next(Mode::Filter);
        Some(match t.tok {
            Tok::Word(w) => Pattern::Word(w, t.span),
            Tok::Str(s) => Pattern::Quoted(s, t.span),
            Tok::Regex { body, flags, .. } => Pattern::Regex(RegexLit { body, flags, span: t.span }),
            Tok::Param { name, default, braced } => Pattern::Param(Param { name, default, braced, span: t.span }),
            _ => return None,
        })
    }

    fn saved(&mut self) -> Option<SavedCall> {
        let t = self.next(Mode::Filter);
        let Tok::Saved { name, quoted } = t.tok else { return None };
        let open = self.peek(Mode::Filter);
        if open.tok != Tok::LParen {
            self.err(
                Diagnostic::error(Code::BadSavedCall, t.span, "a saved query call needs parentheses")
                    .with_help(format!("write ${}()", if quoted { format!("\"{name}\"") } else { name.clone() })),
            );
            return Some(SavedCall { name, quoted, args: Vec::new(), span: t.span });
        }
        self.next(Mode::Filter);
        let (args, close) = self.args(open.span)?;
        Some(SavedCall { name, quoted, args, span: t.span.to(close) })
    }

    // ---- calls -----------------------------------------------------------------------------

    fn call(&mut self) -> Option<Call> {
        let name_t = self.next(Mode::Expr);
        let Tok::Word(name) = name_t.tok else {
            return None;
        };
        let open = self.next(Mode::Expr);
        if open.tok != Tok::LParen {
            return None;
        }
        if !self.enter(open.span) {
            return None;
        }
        let r = self.args(open.span);
        self.leave();
        let (args, close) = r?;
        let mut call = Call { name, name_span: name_t.span, args, span: name_t.span.to(close) };
        if call.name.eq_ignore_ascii_case("if") {
            self.check_if(&mut call);
        }
        Some(call)
    }

    /// Arguments after `(` up to and including `)`. Returns the span of `)`.
    fn args(&mut self, open: Span) -> Option<(Vec<Arg>, Span)> {
        let mut args = Vec::new();
        loop {
            let t = self.peek(Mode::Expr);
            match t.tok {
                Tok::RParen => {
                    self.next(Mode::Expr);
                    return Some((args, t.span));
                }
                Tok::Eof => {
                    self.unclosed(open, "the argument list");
                    return Some((args, t.span));
                }
                Tok::Comma => {
                    self.err(
                        Diagnostic::error(Code::UnexpectedToken, t.span, "expected an argument, found `,`")
                            .with_help("remove the extra comma"),
                    );
                    self.next(Mode::Expr);
                    continue;
                }
                _ => {}
            }
            let before = self.lx.pos;
            if let Some(a) = self.arg() {
                args.push(a);
            }
            let t = self.peek(Mode::Expr);
            match t.tok {
                Tok::Comma => {
                    self.next(Mode::Expr);
                    if self.peek(Mode::Expr).tok == Tok::RParen {
                        // A trailing comma: LogScale rejects it? Unknown; accept quietly.
                    }
                }
                Tok::RParen | Tok::Eof => {}
                ref other => {
                    let other = other.describe();
                    self.err(
                        Diagnostic::error(Code::UnexpectedToken, t.span, format!("expected `,` or `)`, found {other}"))
                            .with_secondary(open, "in this argument list"),
                    );
                    // Skip to the next comma or closing parenthesis at this level.
                    self.skip_to_arg_end();
                    if self.lx.pos == before {
                        self.next(Mode::Expr);
                    }
                }
            }
        }
    }

    fn skip_to_arg_end(&mut self) {
        let mut depth = 0i32;
        loop {
            let t = self.peek(Mode::Expr);
            match t.tok {
                Tok::Eof => return,
                Tok::Comma | Tok::RParen if depth == 0 => return,
                Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace => depth -= 1,
                _ => {}
            }
            self.next(Mode::Expr);
            if depth < 0 {
                return;
            }
        }
    }

    fn arg(&mut self) -> Option<Arg> {
        let (a, b) = self.peek2(Mode::Expr, Mode::Expr);
        // name = value
        if matches!(a.tok, Tok::Word(_) | Tok::Str(_)) && b.tok == Tok::Eq {
            let name = match a.tok {
                Tok::Word(w) | Tok::Str(w) => w,
                _ => String::new(),
            };
            self.next(Mode::Expr);
            self.next(Mode::Expr);
            let value = self.value_expr(false, b.span)?;
            let span = a.span.to(value.span());
            return Some(Arg { name: Some((name, a.span)), value, span });
        }
        // name: { subquery } attr: value …   (correlate)
        if let (Tok::Word(w), Tok::Colon) = (&a.tok, &b.tok) {
            let save = self.lx.snapshot();
            self.next(Mode::Expr);
            self.next(Mode::Expr);
            if self.peek(Mode::Expr).tok == Tok::LBrace {
                let name = Some((w.clone(), a.span));
                let e = self.subquery(name)?;
                return Some(Arg { name: None, span: e.span(), value: e });
            }
            self.lx.restore(save);
        }
        let value = self.value_expr(false, a.span)?;
        Some(Arg { name: None, span: value.span(), value })
    }

    fn subquery(&mut self, name: Option<(String, Span)>) -> Option<Expr> {
        let open = self.next(Mode::Expr);
        if !self.enter(open.span) {
            return None;
        }
        let pipeline = self.pipeline(Ctx::Brace);
        self.leave();
        let close = self.peek(Mode::Filter);
        if close.tok == Tok::RBrace {
            self.next(Mode::Filter);
        } else {
            self.unclosed(open.span, "a subquery");
        }
        let mut span = name.as_ref().map_or(open.span, |n| n.1).to(close.span);
        let mut attrs = Vec::new();
        if name.is_some() {
            // Attributes: `include: [a, b]`.
            loop {
                let (a, b) = self.peek2(Mode::Expr, Mode::Expr);
                let (Tok::Word(w), Tok::Colon) = (&a.tok, &b.tok) else { break };
                self.next(Mode::Expr);
                self.next(Mode::Expr);
                let v = self.expr()?;
                span = span.to(v.span());
                attrs.push((w.clone(), v));
            }
        }
        Some(Expr::Subquery(Box::new(Subquery { name, pipeline, attrs, span })))
    }

    /// Seed dialect: `if(Field = /re/, "a", "b")`.
    fn check_if(&mut self, call: &mut Call) {
        let known = ["condition", "then", "else", "as"];
        let odd = call.args.iter().position(|a| a.name.as_ref().is_some_and(|(n, _)| !known.contains(&n.as_str())));
        let unnamed: Vec<usize> = (0..call.args.len()).filter(|&i| call.args[i].name.is_none()).collect();
        let Some(cond_i) = odd else { return };
        if unnamed.len() != 2 {
            return;
        }
        let cond = &call.args[cond_i];
        let Some((field, fspan)) = cond.name.clone() else { return };
        let condition = match filter_as_condition(&field, &cond.value) {
            Some(c) => c,
            None => return,
        };
        let then = call.args[unnamed[0]].value.clone();
        let els = call.args[unnamed[1]].value.clone();
        let mut new_args = vec![
            Arg { name: None, span: cond.span, value: condition },
            Arg { name: Some(("then".into(), then.span())), span: then.span(), value: then },
            Arg { name: Some(("else".into(), els.span())), span: els.span(), value: els },
        ];
        for (i, a) in call.args.iter().enumerate() {
            if i != cond_i && !unnamed.contains(&i) {
                new_args.push(a.clone());
            }
        }
        let fixed = Call { args: new_args, ..call.clone() };
        let shown = super::print::call_to_string(&fixed);
        self.dialect(
            Diagnostic::error(
                Code::IfPositional,
                fspan.to(cond.span),
                format!(
                    "`{field} = …` inside an argument list is a named argument, and if() has no parameter `{field}`"
                ),
            )
            .with_label("read as the argument `{field}=`, not as a filter")
            .with_secondary(
                call.args[unnamed[0]].span.to(call.args[unnamed[1]].span),
                "if() takes these only as then= and else=",
            )
            .with_note(
                "if() takes one unnamed condition (an expression, not a filter) and required named then= and else=",
            )
            .with_help(format!("write {shown}")),
        );
        if let Some(d) = self.diags.last_mut() {
            d.label = Some(format!("read as the argument `{field}=`, not as a filter"));
        }
        *call = fixed;
    }

    // ---- expressions -----------------------------------------------------------------------

    fn expr(&mut self) -> Option<Expr> {
        self.binary(1)
    }

    fn binop(&mut self) -> Option<(BinOp, Token)> {
        let t = self.peek(Mode::Expr);
        let op = match t.tok {
            Tok::EqEq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::Link => BinOp::Link,
            Tok::Plus => BinOp::Add,
            Tok::Minus => BinOp::Sub,
            Tok::Star => BinOp::Mul,
            Tok::Slash => BinOp::Div,
            Tok::Percent => BinOp::Rem,
            _ => return None,
        };
        Some((op, t))
    }

    fn binary(&mut self, min_prec: u8) -> Option<Expr> {
        let mut lhs = self.expr_unary()?;
        while let Some((op, _)) = self.binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.next(Mode::Expr);
            let rhs = self.binary(prec + 1)?;
            let span = lhs.span().to(rhs.span());
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs), span);
            if prec == 1 {
                // Comparisons do not chain.
                if let Some((op2, t2)) = self.binop() {
                    if op2.precedence() == 1 {
                        self.err(
                            Diagnostic::error(Code::UnexpectedToken, t2.span, "comparisons cannot be chained")
                                .with_help("compare two values at a time"),
                        );
                        break;
                    }
                }
            }
        }
        Some(lhs)
    }

    fn expr_unary(&mut self) -> Option<Expr> {
        let t = self.peek(Mode::Expr);
        let op = match t.tok {
            Tok::Minus => Some(UnOp::Neg),
            Tok::Bang => Some(UnOp::Not),
            _ => None,
        };
        if let Some(op) = op {
            self.next(Mode::Expr);
            if !self.enter(t.span) {
                return None;
            }
            let inner = self.expr_unary();
            self.leave();
            let inner = inner?;
            let span = t.span.to(inner.span());
            return Some(Expr::Unary(op, Box::new(inner), span));
        }
        self.expr_primary()
    }

    fn expr_primary(&mut self) -> Option<Expr> {
        if let Some(t) = self.lx.expr_star_word() {
            let Tok::Word(w) = t.tok else { return None };
            return Some(Expr::Word(w, t.span));
        }
        let t = self.peek(Mode::Expr);
        match t.tok.clone() {
            Tok::LParen => {
                self.next(Mode::Expr);
                if !self.enter(t.span) {
                    return None;
                }
                let e = self.expr();
                self.leave();
                let close = self.peek(Mode::Expr);
                if close.tok == Tok::RParen {
                    self.next(Mode::Expr);
                } else {
                    self.err(
                        Diagnostic::error(Code::UnclosedDelimiter, t.span, "unclosed `(` in an expression")
                            .with_label("opened here")
                            .with_secondary(close.span, format!("expected `)`, found {}", close.tok.describe())),
                    );
                }
                e
            }
            Tok::LBrace => self.subquery(None),
            Tok::LBracket => {
                self.next(Mode::Expr);
                if !self.enter(t.span) {
                    return None;
                }
                let mut items = Vec::new();
                let close;
                loop {
                    let n = self.peek(Mode::Expr);
                    match n.tok {
                        Tok::RBracket => {
                            self.next(Mode::Expr);
                            close = n.span;
                            break;
                        }
                        Tok::Eof => {
                            self.unclosed(t.span, "an array");
                            close = n.span;
                            break;
                        }
                        Tok::Comma => {
                            self.next(Mode::Expr);
                            continue;
                        }
                        _ => {}
                    }
                    let (a, b) = self.peek2(Mode::Filter, Mode::Filter);
                    let item = if matches!(a.tok, Tok::Word(_) | Tok::Str(_)) && b.tok == Tok::Assign {
                        self.assign().map(|a| Expr::Assign(Box::new(a)))
                    } else {
                        self.value_expr(false, n.span)
                    };
                    if let Some(i) = item {
                        items.push(i);
                    }
                    let n = self.peek(Mode::Expr);
                    if !matches!(n.tok, Tok::Comma | Tok::RBracket | Tok::Eof) {
                        self.err(
                            Diagnostic::error(
                                Code::UnexpectedToken,
                                n.span,
                                format!("expected `,` or `]`, found {}", n.tok.describe()),
                            )
                            .with_secondary(t.span, "in this array"),
                        );
                        self.next(Mode::Expr);
                    }
                }
                self.leave();
                Some(Expr::Array(items, t.span.to(close)))
            }
            Tok::Str(s) => {
                self.next(Mode::Expr);
                Some(Expr::Str(s, t.span))
            }
            Tok::Param { name, default, braced } => {
                self.next(Mode::Expr);
                Some(Expr::Param(Param { name, default, braced, span: t.span }))
            }
            Tok::Saved { .. } => self.saved().map(Expr::Saved),
            Tok::Word(w) => {
                let (_, b) = self.peek2(Mode::Expr, Mode::Expr);
                if b.tok == Tok::LParen && !b.space_before {
                    return self.call().map(Expr::Call);
                }
                self.next(Mode::Expr);
                // `cmd*` : a trailing wildcard makes a pattern word.
                let mut w = w;
                let mut span = t.span;
                let rest = &self.lx.src[self.lx.pos..];
                if rest.starts_with('*') {
                    let after = rest.strip_prefix('*').and_then(|r| r.chars().next());
                    if after.is_none_or(|c| matches!(c, ',' | ')' | ']' | ' ' | '\t' | '\n' | '\r' | '*')) {
                        let stars = rest.bytes().take_while(|&b| b == b'*').count();
                        w.push_str(&rest[..stars]);
                        self.lx.pos += stars;
                        span = Span::new(span.start as usize, self.lx.pos);
                    }
                }
                Some(Expr::Word(w, span))
            }
            other => {
                let mut d = Diagnostic::error(
                    Code::UnexpectedToken,
                    t.span,
                    format!("expected a value, found {}", other.describe()),
                );
                if matches!(other, Tok::Slash) {
                    d = d.with_help("a regex literal is not an expression; use regex(\"…\", field=…)");
                }
                self.err(d);
                if !matches!(other, Tok::Eof | Tok::RParen | Tok::Comma | Tok::RBracket | Tok::RBrace | Tok::Pipe) {
                    self.next(Mode::Expr);
                }
                None
            }
        }
    }
}

fn is_cmp(t: &Tok) -> bool {
    matches!(t, Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge | Tok::Link)
}

/// A number as LogScale's filters accept it: optional sign, digits, optional fraction.
pub fn is_number(w: &str) -> bool {
    let w = w.strip_prefix(['-', '+']).unwrap_or(w);
    let mut parts = w.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn to_pipeline(f: Filter) -> Pipeline {
    match f {
        Filter::Pipeline(p) => p,
        other => Pipeline { span: other.span(), steps: vec![Step::Filter(other)] },
    }
}

/// The body of a regex literal as the content of a CQL string: `\/` becomes `/`, then
/// backslashes and quotes are escaped.
pub fn regex_to_string_body(body: &str) -> String {
    let unescaped = body.replace("\\/", "/");
    unescaped.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The seed's `if(Field = /re/, …)` condition as a valid expression.
fn filter_as_condition(field: &str, value: &Expr) -> Option<Expr> {
    let sp = value.span();
    let arg = |n: &str, v: Expr| Arg { name: Some((n.to_string(), sp)), span: sp, value: v };
    match value {
        Expr::Regex(r) => {
            let mut args = vec![
                Arg { name: None, span: sp, value: Expr::Str(regex_to_string_body(&r.body), sp) },
                arg("field", Expr::Word(field.to_string(), sp)),
            ];
            let flags: String = r.flags.chars().filter(|c| *c != 'g').collect();
            if !flags.is_empty() {
                args.push(arg("flags", Expr::Str(flags, sp)));
            }
            Some(Expr::Call(Call { name: "regex".into(), name_span: sp, args, span: sp }))
        }
        Expr::Str(s, _) if s.contains('*') => Some(Expr::Call(Call {
            name: "wildcard".into(),
            name_span: sp,
            args: vec![
                Arg { name: None, span: sp, value: Expr::Str(s.clone(), sp) },
                arg("field", Expr::Word(field.to_string(), sp)),
            ],
            span: sp,
        })),
        Expr::Str(..) | Expr::Word(..) => Some(Expr::Binary(
            BinOp::Eq,
            Box::new(Expr::Word(field.to_string(), sp)),
            Box::new(match value {
                Expr::Word(w, s) if !is_number(w) => Expr::Str(w.clone(), *s),
                v => v.clone(),
            }),
            sp,
        )),
        _ => None,
    }
}
