//! Diagnostics as data: a code, a message, a primary span with labels, and help lines.
//! They are rendered in one place ([`render`]), with file:line:col, the source line and a caret.

use std::fmt;

/// A byte range in the query source.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: clamp(start), end: clamp(end.max(start)) }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

macro_rules! codes {
    ($( $variant:ident = $id:literal, $slug:literal, $doc:literal; )*) => {
        /// Every diagnostic code cqlhunt emits. `docs/diagnostics.md` explains each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( #[doc = $doc] $variant, )* }
        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];
            /// The stable identifier, e.g. `E0001`.
            pub fn id(self) -> &'static str { match self { $( Code::$variant => $id, )* } }
            /// A short kebab-case name.
            pub fn slug(self) -> &'static str { match self { $( Code::$variant => $slug, )* } }
            /// One line saying what the code means.
            pub fn doc(self) -> &'static str { match self { $( Code::$variant => $doc, )* } }
        }
    };
}

codes! {
    // Lexical
    UnterminatedString = "E0001", "unterminated-string", "A quoted string has no closing quote.";
    UnterminatedRegex = "E0003", "unterminated-regex", "A regex literal has no closing slash on its line.";
    UnknownRegexFlag = "E0004", "unknown-regex-flag", "A regex literal has a flag other than d, g, i, m, F.";
    UnterminatedComment = "E0005", "unterminated-comment", "A /* comment has no closing */.";
    UnexpectedChar = "E0006", "unexpected-character", "A character that cannot start a token here.";
    WordEndsWithSlashes = "E0007", "word-ends-with-slashes", "An unquoted word cannot end with //.";
    InvalidUtf8 = "E0008", "invalid-utf8", "The query text is not valid UTF-8.";
    // Syntax
    UnexpectedToken = "E0101", "unexpected-token", "A token that does not fit the grammar here.";
    UnclosedDelimiter = "E0102", "unclosed-delimiter", "An opening (, [ or { without its closing partner.";
    UnmatchedDelimiter = "E0103", "unmatched-delimiter", "A closing ), ] or } without an opening partner.";
    EmptyStep = "E0104", "empty-step", "A pipeline step with nothing in it (`a | | b`, a trailing `|`).";
    MissingValue = "E0105", "missing-value", "A comparison operator with nothing on its right.";
    NumberExpected = "E0106", "number-expected", "`<`, `<=`, `>`, `>=` in a filter take a number.";
    RegexNotExpression = "E0107", "regex-not-expression", "A /regex/ literal is not an expression (`a := /x/`).";
    EmptyBranch = "E0108", "empty-branch", "An empty case branch or match arm.";
    MissingArrow = "E0109", "missing-arrow", "A match arm without `=>`.";
    InvalidTarget = "E0110", "invalid-target", "The left side of `=`, `:=` or `=~` is not a field name.";
    TooDeep = "E0111", "nesting-too-deep", "Nesting deeper than cqlhunt's limit.";
    BadParameter = "E0112", "bad-parameter", "A malformed query parameter (`?`, `?{…}`).";
    BadSavedCall = "E0113", "bad-saved-query", "A malformed saved-query call (`$name(…)`).";
    BadLikePattern = "E0114", "bad-like-pattern", "`like` takes an unquoted or quoted pattern.";
    ExpectedCallAfterTilde = "E0115", "expected-call", "`=~` must be followed by a function call.";
    // Seed dialect (accepted with --lenient)
    Union = "E0201", "union", "`UNION` is not part of CQL.";
    ParenPipeline = "E0202", "paren-pipeline", "Parentheses hold a filter, not a pipeline.";
    ImplicitAndUnion = "E0203", "implicit-and-union", "Adjacent groups are joined by implicit AND: `(A) UNION (B)` is an intersection.";
    IfPositional = "E0204", "if-positional", "if() takes a condition and named then=/else=, not a filter and positional values.";
    RegexSlash = "E0205", "regex-unescaped-slash", "An unescaped `/` ends a regex literal before its parentheses balance.";
    // Plan: names and arity against the function table
    UnknownFunction = "E0301", "unknown-function", "No LogScale function has this name.";
    UnknownArgument = "E0302", "unknown-argument", "The function has no parameter of this name.";
    MissingArgument = "E0303", "missing-argument", "A required parameter is not given.";
    TooManyUnnamed = "E0304", "too-many-unnamed", "More than one unnamed argument, or one where the function takes none.";
    DuplicateArgument = "E0305", "duplicate-argument", "The same parameter given twice.";
    ReservedWord = "E0306", "reserved-word", "A function name used as a bare free-text word.";
    ParserOnly = "E0307", "parser-only", "A function that LogScale allows only in parsers.";
    UnknownSavedQuery = "E0308", "unknown-saved-query", "A saved query that cannot be found (see --saved).";
    InvalidRegex = "E0309", "invalid-regex", "A regex that does not compile.";
    FreeTextAfterAggregate = "E0310", "free-text-after-aggregate", "Free-text filters are allowed only before the first aggregate.";
    DefineTablePlacement = "E0311", "define-table-placement", "defineTable() belongs in the query's preamble, at top level.";
    UnboundParameter = "E0312", "unbound-parameter", "A query parameter with no value and no default.";
    // Warnings
    Deprecated = "W0401", "deprecated", "A deprecated function.";
    MixedCaseKeyword = "W0402", "mixed-case-keyword", "`Or`, `And`, `Not` in mixed case are free-text words, not operators.";
    InlineFlagFirstAlternative = "W0403", "inline-flag-first-alternative", "In LogScale's default regex engine a leading inline flag applies only to the first top-level alternative.";
    CaseMayOverlap = "W0404", "case-may-overlap", "`fix` turned a UNION into `case`; an event matching several branches now goes to the first only.";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One finding about a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub span: Span,
    /// The label under the primary caret.
    pub label: Option<String>,
    /// Secondary spans with their labels.
    pub labels: Vec<(Span, String)>,
    /// `help:` lines.
    pub help: Vec<String>,
    /// `note:` lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: None,
            labels: Vec::new(),
            help: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.labels.push((span, label.into()));
        self
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Merge diagnostics of the same seed-dialect code into one, later occurrences becoming
/// secondary labels ("also here"), so that each defect is reported once.
pub fn merge_repeats(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for d in diags {
        let mergeable = matches!(
            d.code,
            Code::Union | Code::ParenPipeline | Code::ImplicitAndUnion | Code::IfPositional | Code::RegexSlash
        );
        if mergeable {
            if let Some(prev) = out.iter_mut().find(|p| p.code == d.code) {
                prev.labels.push((d.span, "and here".to_string()));
                continue;
            }
        }
        out.push(d);
    }
    out
}

/// Line and column (both 1-based, column in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let mut off = offset;
    while !src.is_char_boundary(off) {
        off -= 1;
    }
    let before = &src[..off];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..off].chars().count() + 1;
    (line, col)
}

/// Render diagnostics for one source. `color` selects ANSI colours.
pub fn render(name: &str, src: &str, diags: &[Diagnostic], color: bool) -> String {
    use codespan_reporting::diagnostic::{Diagnostic as CsDiag, Label};
    use codespan_reporting::files::SimpleFile;
    use codespan_reporting::term::{self, termcolor::Buffer, Config};

    let file = SimpleFile::new(name, src);
    let mut buf = if color { Buffer::ansi() } else { Buffer::no_color() };
    let config = Config::default();
    for d in diags {
        let fix = |s: Span| {
            let mut r = s.range();
            r.start = r.start.min(src.len());
            r.end = r.end.clamp(r.start, src.len());
            while !src.is_char_boundary(r.start) {
                r.start -= 1;
            }
            while !src.is_char_boundary(r.end) {
                r.end += 1;
            }
            r
        };
        let mut labels = vec![Label::primary((), fix(d.span)).with_message(d.label.clone().unwrap_or_default())];
        for (s, l) in &d.labels {
            labels.push(Label::secondary((), fix(*s)).with_message(l.clone()));
        }
        let mut notes: Vec<String> = d.help.iter().map(|h| format!("help: {h}")).collect();
        notes.extend(d.notes.iter().map(|n| format!("note: {n}")));
        let cs = match d.severity {
            Severity::Error => CsDiag::error(),
            Severity::Warning => CsDiag::warning(),
        }
        .with_code(d.code.id())
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes);
        // Rendering into an in-memory buffer cannot fail on I/O; a failure would be a bug in
        // our spans, so fall back to a plain line rather than losing the diagnostic.
        if term::emit_to_write_style(&mut buf, &config, &file, &cs).is_err() {
            let (l, c) = line_col(src, d.span.start as usize);
            buf_push(&mut buf, &format!("{}[{}]: {}\n  --> {name}:{l}:{c}\n", sev(d), d.code, d.message));
        }
    }
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}

fn sev(d: &Diagnostic) -> &'static str {
    match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn buf_push(buf: &mut codespan_reporting::term::termcolor::Buffer, s: &str) {
    use std::io::Write;
    let _ = buf.write_all(s.as_bytes());
}

/// One line per diagnostic: `name:line:col: error[E0101]: message` (for `--format short`).
pub fn render_short(name: &str, src: &str, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let (l, c) = line_col(src, d.span.start as usize);
        out.push_str(&format!("{name}:{l}:{c}: {}[{}]: {}\n", sev(d), d.code, d.message));
    }
    out
}
