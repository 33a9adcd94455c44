//! The printer: any AST back to canonical CQL. Parsing the output gives the same AST (spans
//! aside); `tests/` checks this over the corpus and over generated queries.

use super::ast::*;

/// Print a query as canonical CQL: one step per line, `|` leading each later step.
pub fn query_to_string(q: &Query) -> String {
    let mut p = Printer { out: String::new(), indent: 0 };
    p.pipeline(&q.pipeline, true);
    p.out
}

/// Print one function call.
pub fn call_to_string(c: &Call) -> String {
    let mut p = Printer { out: String::new(), indent: 0 };
    p.call(c);
    p.out
}

/// Print one filter.
pub fn filter_to_string(f: &Filter) -> String {
    let mut p = Printer { out: String::new(), indent: 0 };
    p.filter(f, Ctx::Top);
    p.out
}

/// Print one expression.
pub fn expr_to_string(e: &Expr) -> String {
    let mut p = Printer { out: String::new(), indent: 0 };
    p.expr(e, 0);
    p.out
}

struct Printer {
    out: String,
    indent: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Top,
    And,
    Or,
    Not,
}

impl Printer {
    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn newline(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    fn pipeline(&mut self, p: &Pipeline, multiline: bool) {
        for (i, s) in p.steps.iter().enumerate() {
            if i > 0 {
                if multiline {
                    self.newline();
                    self.push("| ");
                } else {
                    self.push(" | ");
                }
            }
            self.step(s);
        }
    }

    fn step(&mut self, s: &Step) {
        match s {
            Step::Filter(f) => self.filter(f, Ctx::Top),
            Step::Assign(a) => self.assign(a),
            Step::Case(c) => {
                self.push("case {");
                self.branches(c.branches.iter().map(|b| (None, b)));
                self.push("}");
            }
            Step::Match(m) => {
                self.field(&m.field);
                self.push(" match {");
                self.branches(m.arms.iter().map(|a| (Some(&a.guard), &a.body)));
                self.push("}");
            }
            Step::Stats(items, _) => self.array(items),
            Step::Union(bs, _) => self.union(bs),
        }
    }

    fn branches<'a>(&mut self, it: impl Iterator<Item = (Option<&'a Guard>, &'a Pipeline)>) {
        self.indent += 1;
        let items: Vec<_> = it.collect();
        let n = items.len();
        for (i, (g, body)) in items.into_iter().enumerate() {
            self.newline();
            if let Some(g) = g {
                match g {
                    Guard::Pattern(p) => self.pattern(p),
                    Guard::Call(c) => self.call(c),
                }
                self.push(" => ");
            }
            self.indent += 1;
            self.pipeline(body, true);
            self.indent -= 1;
            if i + 1 < n {
                self.push(" ;");
            }
        }
        self.indent -= 1;
        self.newline();
    }

    fn union(&mut self, bs: &[Pipeline]) {
        for (i, b) in bs.iter().enumerate() {
            if i > 0 {
                self.newline();
                self.push("UNION");
                self.newline();
            }
            self.push("(");
            self.indent += 1;
            self.pipeline(b, true);
            self.indent -= 1;
            self.push(")");
        }
    }

    fn assign(&mut self, a: &Assign) {
        self.field(&a.field);
        self.push(" := ");
        self.expr(&a.value, 0);
    }

    fn field(&mut self, f: &FieldName) {
        if f.quoted {
            self.push("\"");
            self.push(&f.name);
            self.push("\"");
        } else {
            self.push(&f.name);
        }
    }

    fn filter(&mut self, f: &Filter, ctx: Ctx) {
        match f {
            Filter::And(items, _) => {
                let paren = ctx != Ctx::Top;
                if paren {
                    self.push("(");
                }
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        self.push(" AND ");
                    }
                    self.filter(it, Ctx::And);
                }
                if paren {
                    self.push(")");
                }
            }
            Filter::Or(items, _) => {
                let paren = ctx != Ctx::Top;
                if paren {
                    self.push("(");
                }
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        self.push(" OR ");
                    }
                    self.filter(it, Ctx::Or);
                }
                if paren {
                    self.push(")");
                }
            }
            Filter::Not(inner, _) => match &**inner {
                Filter::Call(c) => {
                    self.push("!");
                    self.call(c);
                }
                other => {
                    self.push("NOT ");
                    self.filter(other, Ctx::Not);
                }
            },
            Filter::Compare { field, op, value, .. } => {
                self.field(field);
                self.push(" ");
                self.push(op.as_str());
                self.push(" ");
                self.pattern(value);
            }
            // A free-text word spelled like an operator (`not`, `OR`) reads as the word only
            // before `)`: in parentheses it stays a word.
            Filter::FreeText(p @ Pattern::Word(w, _))
                if ["not", "or"].iter().any(|k| w == k || *w == k.to_ascii_uppercase()) =>
            {
                self.push("(");
                self.pattern(p);
                self.push(")");
            }
            Filter::FreeText(p) => self.pattern(p),
            Filter::Bool(b, _) => self.push(if *b { "true" } else { "false" }),
            Filter::Call(c) => self.call(c),
            Filter::FieldCall { field, negated, call, .. } => {
                self.field(field);
                self.push(" =~ ");
                if *negated {
                    self.push("!");
                }
                self.call(call);
            }
            Filter::Saved(s) => self.saved(s),
            Filter::Pipeline(p) => {
                self.push("(");
                self.pipeline(p, false);
                self.push(")");
            }
            Filter::Union(bs, _) => self.union(bs),
        }
    }

    fn pattern(&mut self, p: &Pattern) {
        match p {
            Pattern::Word(w, _) => self.push(w),
            Pattern::Quoted(s, _) => {
                self.push("\"");
                self.push(s);
                self.push("\"");
            }
            Pattern::Regex(r) => self.regex(r),
            Pattern::Param(p) => self.param(p),
        }
    }

    fn regex(&mut self, r: &RegexLit) {
        self.push("/");
        self.push(&escape_regex_slashes(&r.body));
        self.push("/");
        self.push(&r.flags);
    }

    fn param(&mut self, p: &Param) {
        let name = if needs_quotes(&p.name) { format!("\"{}\"", p.name) } else { p.name.clone() };
        match (&p.default, p.braced) {
            (Some((d, quoted)), _) => {
                self.push("?{");
                self.push(&name);
                self.push("=");
                if *quoted {
                    self.push("\"");
                    self.push(d);
                    self.push("\"");
                } else {
                    self.push(d);
                }
                self.push("}");
            }
            (None, true) => {
                self.push("?{");
                self.push(&name);
                self.push("}");
            }
            (None, false) => {
                self.push("?");
                self.push(&name);
            }
        }
    }

    fn saved(&mut self, s: &SavedCall) {
        self.push("$");
        if s.quoted {
            self.push("\"");
            self.push(&s.name);
            self.push("\"");
        } else {
            self.push(&s.name);
        }
        self.args(&s.args);
    }

    fn call(&mut self, c: &Call) {
        self.push(&c.name);
        self.args(&c.args);
    }

    fn args(&mut self, args: &[Arg]) {
        self.push("(");
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            if let Some((n, _)) = &a.name {
                if needs_quotes(n) {
                    self.push("\"");
                    self.push(n);
                    self.push("\"");
                } else {
                    self.push(n);
                }
                self.push("=");
            }
            self.expr(&a.value, 0);
        }
        self.push(")");
    }

    fn array(&mut self, items: &[Expr]) {
        self.push("[");
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(e, 0);
        }
        self.push("]");
    }

    /// `min_prec`: the binding power the context requires; lower needs parentheses.
    fn expr(&mut self, e: &Expr, min_prec: u8) {
        match e {
            Expr::Word(w, _) => self.push(w),
            Expr::Str(s, _) => {
                self.push("\"");
                self.push(s);
                self.push("\"");
            }
            Expr::Param(p) => self.param(p),
            Expr::Call(c) => self.call(c),
            Expr::Saved(s) => self.saved(s),
            Expr::Array(items, _) => self.array(items),
            Expr::Subquery(q) => {
                if let Some((n, _)) = &q.name {
                    self.push(n);
                    self.push(": ");
                }
                self.push("{ ");
                self.pipeline(&q.pipeline, false);
                self.push(" }");
                for (k, v) in &q.attrs {
                    self.push(" ");
                    self.push(k);
                    self.push(": ");
                    self.expr(v, 1);
                }
            }
            Expr::Unary(op, inner, _) => {
                self.push(match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                });
                let wrap = matches!(**inner, Expr::Binary(..))
                    || matches!((op, &**inner), (UnOp::Neg, Expr::Word(w, _)) if w.starts_with('-'))
                    || matches!((op, &**inner), (UnOp::Neg, Expr::Unary(UnOp::Neg, ..)));
                if wrap {
                    self.push("(");
                }
                self.expr(inner, 4);
                if wrap {
                    self.push(")");
                }
            }
            Expr::Binary(op, l, r, _) => {
                let prec = op.precedence();
                let wrap = prec < min_prec;
                if wrap {
                    self.push("(");
                }
                self.expr(l, prec);
                self.push(" ");
                self.push(op.as_str());
                self.push(" ");
                self.expr(r, prec + 1);
                if wrap {
                    self.push(")");
                }
            }
            Expr::Assign(a) => self.assign(a),
            Expr::Regex(r) => self.regex(r),
        }
    }
}

/// Escape each `/` in a regex body that is not already escaped and not inside a character
/// class (where the lexer accepts it as written).
pub fn escape_regex_slashes(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '/' if !in_class => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out
}

/// A name must be quoted unless the lexer reads it back as this one bare word.
fn needs_quotes(name: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    if name.chars().all(super::lex::is_field_char) {
        return false;
    }
    let mut lx = super::lex::Lexer::new(name, false);
    let t = lx.next(super::lex::Mode::Expr);
    let whole = t.span.start == 0 && t.span.end as usize == name.len();
    !(whole && t.tok == super::lex::Tok::Word(name.to_string()) && lx.take_diags().is_empty())
}
