//! The CQL lexer. It is driven by the parser: the meaning of a character depends on whether the
//! parser is reading a filter (`/` starts a regex, `*`, `-`, `:` belong to words) or an
//! expression (`/`, `*`, `-` are operators). The parser asks for one token at a time in a
//! [`Mode`], so the lexer never guesses.

use crate::diag::{Code, Diagnostic, Span};

/// What the parser is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Filters and patterns: words may hold `* + - : ~ /`, a leading `/` starts a regex.
    Filter,
    /// Expressions: words are field names, numbers and relative times; `/ * + - %` are operators.
    Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An unquoted word as written.
    Word(String),
    /// A quoted string, raw (escapes kept, quotes removed).
    Str(String),
    /// A regex literal: body as written and flags. `repaired` when the lenient rule for an
    /// unescaped `/` was applied (the body then has the `/` escaped).
    Regex {
        body: String,
        flags: String,
        repaired: Vec<Span>,
    },
    /// `?name`, `?{name=default}`, `?{name}`.
    Param {
        name: String,
        default: Option<(String, bool)>,
        braced: bool,
    },
    /// `$name` or `$"name"`.
    Saved {
        name: String,
        quoted: bool,
    },
    Pipe,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semi,
    Colon,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `:=`
    Assign,
    /// `=~`
    Tilde,
    /// `=>`
    Arrow,
    /// `<=>`
    Link,
    Lt,
    Le,
    Gt,
    Ge,
    Bang,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// An unexpected character, already reported; `next` skips it.
    Skip,
    Eof,
}

impl Tok {
    /// How the token is shown in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("word `{w}`"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Regex { body, flags, .. } => format!("regex /{body}/{flags}"),
            Tok::Param { name, .. } => format!("parameter ?{name}"),
            Tok::Saved { name, .. } => format!("saved query ${name}"),
            Tok::Eof => "end of query".to_string(),
            other => format!("`{}`", other.punct()),
        }
    }

    pub fn punct(&self) -> &'static str {
        match self {
            Tok::Pipe => "|",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Colon => ":",
            Tok::Eq => "=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Assign => ":=",
            Tok::Tilde => "=~",
            Tok::Arrow => "=>",
            Tok::Link => "<=>",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Bang => "!",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            _ => "",
        }
    }
}

/// A token with its span and whether whitespace or a comment preceded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
    pub space_before: bool,
}

/// Characters of an unquoted field name (grammar: UnquotedFieldNameChar), plus any non-ASCII
/// letter (LogScale's table is ISO-8859-1; we accept other letters rather than fail).
pub fn is_field_char(c: char) -> bool {
    matches!(c, '#' | '%' | '&' | '.' | '0'..='9' | '@' | 'A'..='Z' | '\\' | '^' | '_' | 'a'..='z')
        || (c as u32 >= 0xA1 && !matches!(c, '\u{AB}' | '\u{AD}' | '\u{BB}') && !c.is_whitespace())
}

/// Characters of an unquoted pattern (grammar: UnquotedPatternChar).
pub fn is_pattern_char(c: char) -> bool {
    is_field_char(c) || matches!(c, '*' | '+' | '-' | ':' | '~')
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// A saved lexer state (see [`Lexer::snapshot`]).
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pos: usize,
    diags: usize,
    reported: usize,
}

/// The lexer: a cursor over the source. Errors are pushed to `diags`; the lexer always makes
/// progress, so the parser can recover.
#[derive(Debug)]
pub struct Lexer<'s> {
    pub src: &'s str,
    pub lenient: bool,
    /// Byte offset of the next unread character.
    pub pos: usize,
    diags: Vec<Diagnostic>,
    sticky: Vec<Diagnostic>,
    /// Regex repairs already reported (the same token may be scanned more than once).
    reported: Vec<u32>,
    /// The last token read that reported nothing, with where and in which mode it was read and
    /// where it ended: the parser peeks at most tokens before it reads them, and reading one
    /// again (a word a character at a time) was most of the time spent parsing.
    last: Option<(usize, Mode, Token, usize)>,
    /// A stretch of the source without a line break and where it ends (at a `\n` or the end):
    /// a regex ends on its line, and finding the line's end from each regex of a long one-line
    /// query read the rest of the query each time.
    line: Option<(usize, usize)>,
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str, lenient: bool) -> Lexer<'s> {
        Lexer {
            src,
            lenient,
            pos: 0,
            diags: Vec::new(),
            sticky: Vec::new(),
            reported: Vec::new(),
            last: None,
            line: None,
        }
    }

    fn rest(&self, at: usize) -> &'s str {
        &self.src[at..]
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..).and_then(|s| s.chars().next())
    }

    /// Skip whitespace and comments from `at`; returns the new offset.
    fn skip_trivia(&mut self, mut at: usize) -> usize {
        loop {
            let r = self.rest(at);
            if let Some(c) = r.chars().next() {
                if is_ws(c) {
                    at += c.len_utf8();
                    continue;
                }
            }
            if r.starts_with("//") {
                at += r.find('\n').unwrap_or(r.len());
                continue;
            }
            if let Some(body) = r.strip_prefix("/*") {
                match body.find("*/") {
                    Some(i) => at += i + 4,
                    None => {
                        self.push_once(
                            Diagnostic::error(
                                Code::UnterminatedComment,
                                Span::new(at, at + 2),
                                "unterminated block comment",
                            )
                            .with_label("this comment is never closed")
                            .with_help("close it with `*/`"),
                        );
                        at = self.src.len();
                    }
                }
                continue;
            }
            return at;
        }
    }

    /// A problem that is one whatever the mode (a stray character, an unclosed string or
    /// comment): kept even when found during a look-ahead.
    fn push_once(&mut self, d: Diagnostic) {
        if !self.sticky.iter().any(|x| x.code == d.code && x.span == d.span) {
            self.sticky.push(d);
        }
    }

    /// A problem of the token as read in the current mode: forgotten if the read was a
    /// look-ahead.
    fn push_mode(&mut self, d: Diagnostic) {
        if !self.diags.iter().any(|x| x.code == d.code && x.span == d.span) {
            self.diags.push(d);
        }
    }

    /// All problems found: mode-independent ones and those of the tokens really read.
    pub fn take_diags(&mut self) -> Vec<Diagnostic> {
        let mut out = std::mem::take(&mut self.sticky);
        out.append(&mut self.diags);
        out
    }

    /// Look at the next token in `mode` without consuming it. A look-ahead leaves no trace:
    /// problems it meets are reported only when the token is really read, in the mode the
    /// parser then chooses (a `/` peeked in filter mode may be a division after all).
    pub fn peek(&mut self, mode: Mode) -> Token {
        let save = self.snapshot();
        let t = self.next(mode);
        self.restore(save);
        t
    }

    /// The lexer's state, to return to after a look-ahead.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { pos: self.pos, diags: self.diags.len(), reported: self.reported.len() }
    }

    /// Return to a snapshot, forgetting what was read and reported since.
    pub fn restore(&mut self, s: Snapshot) {
        self.pos = s.pos;
        self.diags.truncate(s.diags);
        self.reported.truncate(s.reported);
    }

    /// Read the next token in `mode`.
    pub fn next(&mut self, mode: Mode) -> Token {
        let start0 = self.pos;
        if let Some((at, m, t, end)) = &self.last {
            if *at == start0 && *m == mode {
                self.pos = *end;
                return t.clone();
            }
        }
        let (diags, reported) = (self.diags.len(), self.reported.len());
        loop {
            let start = self.skip_trivia(self.pos);
            let space_before = start > start0 || start0 == 0;
            let (tok, end) = self.scan(start, mode);
            self.pos = end;
            if tok != Tok::Skip {
                let t = Token { tok, span: Span::new(start, end), space_before };
                // A token that reported a problem of its mode is read again, so that the
                // problem is reported again after a look-ahead forgot it (a problem of any
                // mode is kept, once).
                if self.diags.len() == diags && self.reported.len() == reported {
                    self.last = Some((start0, mode, t.clone(), end));
                }
                return t;
            }
        }
    }

    fn scan(&mut self, at: usize, mode: Mode) -> (Tok, usize) {
        let r = self.rest(at);
        let Some(c) = r.chars().next() else {
            return (Tok::Eof, at);
        };
        let two = |s: &str| r.starts_with(s);
        let p = |t: Tok, n: usize| (t, at + n);
        match c {
            '|' => p(Tok::Pipe, 1),
            '(' => p(Tok::LParen, 1),
            ')' => p(Tok::RParen, 1),
            '[' => p(Tok::LBracket, 1),
            ']' => p(Tok::RBracket, 1),
            '{' => p(Tok::LBrace, 1),
            '}' => p(Tok::RBrace, 1),
            ',' => p(Tok::Comma, 1),
            ';' => p(Tok::Semi, 1),
            '"' => self.scan_string(at),
            '=' if two("==") => p(Tok::EqEq, 2),
            '=' if two("=~") => p(Tok::Tilde, 2),
            '=' if two("=>") => p(Tok::Arrow, 2),
            '=' => p(Tok::Eq, 1),
            '!' if two("!=") => p(Tok::Ne, 2),
            '!' => p(Tok::Bang, 1),
            ':' if two(":=") => p(Tok::Assign, 2),
            '<' if two("<=>") => p(Tok::Link, 3),
            '<' if two("<=") => p(Tok::Le, 2),
            '<' => p(Tok::Lt, 1),
            '>' if two(">=") => p(Tok::Ge, 2),
            '>' => p(Tok::Gt, 1),
            '?' => self.scan_param(at),
            '$' => self.scan_saved(at),
            '/' if mode == Mode::Filter => self.scan_regex(at),
            '/' => p(Tok::Slash, 1),
            '`' => self.scan_word(at, mode),
            ':' if mode == Mode::Expr => p(Tok::Colon, 1),
            '*' | '+' | '-' | '%' if mode == Mode::Expr => {
                // `*` in an operand position is a word (`include=*`); the parser decides. Here
                // the lexer gives the operator, and `expr_word` re-reads it as a word.
                let t = match c {
                    '*' => Tok::Star,
                    '+' => Tok::Plus,
                    '-' => Tok::Minus,
                    _ => Tok::Percent,
                };
                p(t, 1)
            }
            c if is_pattern_char(c) => self.scan_word(at, mode),
            ':' => p(Tok::Colon, 1),
            c => {
                let n = c.len_utf8();
                let mut d = Diagnostic::error(
                    Code::UnexpectedChar,
                    Span::new(at, at + n),
                    format!("unexpected character `{}`", c.escape_debug()),
                );
                if c == '\'' {
                    d = d.with_help("single quotes are not string delimiters in CQL; use double quotes");
                } else {
                    d = d.with_help("quote the text if it is part of a value: \"…\"");
                }
                self.push_once(d);
                // Skip it and go on with the next token.
                (Tok::Skip, at + n)
            }
        }
    }

    /// Read a word in an operand position of an expression, where `*`, `-` and `+` are not
    /// operators but part of a pattern-like value (`include=*`, `values=[*.exe]`).
    pub fn expr_star_word(&mut self) -> Option<Token> {
        let start0 = self.pos;
        let start = self.skip_trivia(self.pos);
        if self.char_at(start) != Some('*') {
            return None;
        }
        let (tok, end) = self.scan_word(start, Mode::Filter);
        self.pos = end;
        Some(Token { tok, span: Span::new(start, end), space_before: start > start0 })
    }

    fn scan_word(&mut self, at: usize, mode: Mode) -> (Tok, usize) {
        let src = self.src;
        let mut i = at;
        let mut out = String::new();
        loop {
            // A run of letters, digits, `_` and `.` (word characters in every mode, none of them
            // special) is taken whole.
            let run = src.as_bytes()[i.min(src.len())..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
                .count();
            if run > 0 {
                out.push_str(&src[i..i + run]);
                i += run;
            }
            let Some(c) = self.char_at(i) else { break };
            let next = self.char_at(i + c.len_utf8());
            if c == '`' {
                // Back-quoted segment: `user.\`e-mail\``.
                match src[i + 1..].find('`') {
                    Some(j) if !src[i + 1..i + 1 + j].contains('\n') => {
                        out.push_str(&src[i..i + 2 + j]);
                        i += j + 2;
                        continue;
                    }
                    _ => {
                        self.push_once(
                            Diagnostic::error(
                                Code::UnexpectedChar,
                                Span::new(i, i + 1),
                                "unterminated back-quoted name",
                            )
                            .with_help("close the name with a back quote: `name`"),
                        );
                        i += 1;
                        continue;
                    }
                }
            }
            let ok = match mode {
                Mode::Filter => {
                    if c == ':' {
                        // `a:=b` is an assignment, `text:contains(` a namespaced name.
                        next != Some('=')
                    } else if c == '/' {
                        // A slash inside a word: `repo.name=docker/*`, `https://x.y/`.
                        i > at
                    } else {
                        is_pattern_char(c)
                    }
                }
                Mode::Expr => {
                    if c == ':' {
                        // Namespaced function or field names: `text:contains`, `a:b`.
                        i > at && next.is_some_and(|n| n.is_ascii_alphabetic())
                    } else {
                        is_field_char(c)
                    }
                }
            };
            if !ok {
                // A field name may end in an array index: `foo[0]`, `foo[]`.
                if c == '[' && i > at {
                    let tail = &src[i + 1..];
                    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
                    if tail.as_bytes().get(digits) == Some(&b']') {
                        out.push_str(&src[i..i + digits + 2]);
                        i += digits + 2;
                        continue;
                    }
                }
                break;
            }
            if c == '/' {
                // `//` ends a word only as a comment; a word cannot end with `//`.
                if next == Some('/') {
                    let after = self.char_at(i + 2);
                    if after.is_some_and(is_pattern_char) {
                        out.push_str("//");
                        i += 2;
                        continue;
                    }
                    self.push_mode(
                        Diagnostic::error(
                            Code::WordEndsWithSlashes,
                            Span::new(at, i + 2),
                            "an unquoted word cannot end with `//`",
                        )
                        .with_help(format!("quote it: \"{}//\"", &src[at..i])),
                    );
                    i += 2;
                    break;
                }
            }
            out.push(c);
            i += c.len_utf8();
        }
        if i == at {
            // Cannot happen for callers that checked the first char; stay safe.
            let n = self.char_at(at).map_or(1, char::len_utf8);
            return (Tok::Word(src[at..at + n].to_string()), at + n);
        }
        (Tok::Word(out), i)
    }

    fn scan_string(&mut self, at: usize) -> (Tok, usize) {
        let (s, end) = self.scan_string_raw(at);
        (Tok::Str(s), end)
    }

    fn scan_string_raw(&mut self, at: usize) -> (String, usize) {
        // Strings may span lines: the grammar subset says they cannot, but CrowdStrike's own
        // dashboards (createEvents with multi-line JSON) use them. See docs/semantics.md.
        let bytes = self.src.as_bytes();
        let mut i = at + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => return (self.src[at + 1..i].to_string(), i + 1),
                _ => i += 1,
            }
        }
        let end = bytes.len();
        let mut d = Diagnostic::error(Code::UnterminatedString, Span::new(at, at + 1), "unterminated string")
            .with_label("this quote is never closed")
            .with_help("add the closing `\"`");
        if let Some(nl) = self.src[at..].find('\n') {
            let (l, c) = crate::diag::line_col(self.src, at + nl);
            d = d.with_note(format!("the string runs to the end of the query; its first line ends at {l}:{c}"));
        }
        self.push_once(d);
        let mut body_end = end.max(at + 1);
        while !self.src.is_char_boundary(body_end) {
            body_end -= 1;
        }
        (self.src[(at + 1).min(end)..body_end].to_string(), end)
    }

    /// Where the line holding `at` ends: the next `\n`, or the end of the source.
    fn line_end(&mut self, at: usize) -> usize {
        if let Some((from, end)) = self.line {
            if (from..=end).contains(&at) {
                return end;
            }
        }
        let end = self.src[at..].find('\n').map_or(self.src.len(), |i| at + i);
        self.line = Some((at, end));
        end
    }

    fn scan_regex(&mut self, at: usize) -> (Tok, usize) {
        let src = self.src;
        let line_end = self.line_end(at);
        let body_start = at + 1;
        let Some(close) = regex_close(&src[body_start..line_end], 0) else {
            self.push_mode(
                Diagnostic::error(Code::UnterminatedRegex, Span::new(at, line_end), "unterminated regex literal")
                    .with_label("no closing `/` on this line")
                    .with_help("end the regex with `/`; write a slash inside it as `\\/`"),
            );
            let body = src[body_start.min(line_end)..line_end].to_string();
            return (Tok::Regex { body, flags: String::new(), repaired: Vec::new() }, line_end);
        };
        let mut close = body_start + close;
        let mut repaired = Vec::new();
        // The seed dialect: a `/` while parentheses are still open belongs to the literal, if a
        // later `/` on the line closes it with the parentheses balanced.
        loop {
            let body = &src[body_start..close];
            if paren_depth(body) <= 0 {
                break;
            }
            let Some(next) = regex_close(&src[close + 1..line_end], 0) else { break };
            let candidate = close + 1 + next;
            // Only text that continues the pattern without a break: the seed's `nginx/)/`.
            if src[close + 1..candidate].contains(char::is_whitespace) {
                break;
            }
            let whole = &src[body_start..candidate];
            if paren_depth(whole) < 0 {
                break;
            }
            repaired.push(Span::new(close, close + 1));
            close = candidate;
            if paren_depth(whole) == 0 {
                break;
            }
        }
        if !repaired.is_empty() && paren_depth(&src[body_start..close]) != 0 {
            repaired.clear();
            close = body_start + regex_close(&src[body_start..line_end], 0).unwrap_or(0);
        }
        let mut body = String::new();
        let mut last = body_start;
        for s in &repaired {
            body.push_str(&src[last..s.start as usize]);
            body.push_str("\\/");
            last = s.end as usize;
        }
        body.push_str(&src[last..close]);
        let mut end = close + 1;
        let mut flags = String::new();
        while let Some(c) = self.char_at(end) {
            if !c.is_ascii_alphanumeric() {
                break;
            }
            if !matches!(c, 'd' | 'g' | 'i' | 'm' | 'F') {
                self.push_mode(
                    Diagnostic::error(
                        Code::UnknownRegexFlag,
                        Span::new(end, end + 1),
                        format!("unknown regex flag `{c}`"),
                    )
                    .with_help(
                        "regex flags are d (dot-all), g (global), i (case-insensitive), m (multi-line), F (engine v2)",
                    ),
                );
            } else {
                flags.push(c);
            }
            end += 1;
        }
        for s in &repaired {
            if self.reported.contains(&s.start) {
                continue;
            }
            self.reported.push(s.start);
            let fixed = format!("/{body}/{flags}");
            let d = Diagnostic::error(
                Code::RegexSlash,
                *s,
                "this `/` ends the regex literal while its parentheses are still open",
            )
            .with_label("unescaped `/`")
            .with_note("LogScale ends the literal here and then fails on the rest of the line")
            .with_help(format!("escape the slash: {fixed}"));
            self.diags.push(if self.lenient { as_warning(d) } else { d });
        }
        (Tok::Regex { body, flags, repaired }, end)
    }

    fn scan_param(&mut self, at: usize) -> (Tok, usize) {
        let src = self.src;
        if src[at + 1..].starts_with('{') {
            let Some(close) = src[at + 2..].find('}') else {
                self.push_once(
                    Diagnostic::error(Code::BadParameter, Span::new(at, at + 2), "unclosed query parameter `?{`")
                        .with_help("write ?{name=default}"),
                );
                return (Tok::Param { name: String::new(), default: None, braced: true }, src.len());
            };
            let inner = &src[at + 2..at + 2 + close];
            let end = at + 3 + close;
            let (name, default) = match inner.find('=') {
                Some(eq) => {
                    let d = inner[eq + 1..].trim();
                    let default = if d.len() >= 2 && d.starts_with('"') && d.ends_with('"') {
                        (d[1..d.len() - 1].to_string(), true)
                    } else {
                        (d.to_string(), false)
                    };
                    (unquote_name(inner[..eq].trim()), Some(default))
                }
                None => (unquote_name(inner.trim()), None),
            };
            if name.is_empty() {
                self.push_once(
                    Diagnostic::error(Code::BadParameter, Span::new(at, end), "query parameter without a name")
                        .with_help("write ?{name=default}"),
                );
            }
            return (Tok::Param { name, default, braced: true }, end);
        }
        if src[at + 1..].starts_with('"') {
            let (s, end) = self.scan_string_raw(at + 1);
            return (Tok::Param { name: s, default: None, braced: false }, end);
        }
        let mut i = at + 1;
        while let Some(c) = self.char_at(i) {
            if !(is_field_char(c) || c == '-') {
                break;
            }
            i += c.len_utf8();
        }
        if i == at + 1 {
            self.push_once(
                Diagnostic::error(
                    Code::BadParameter,
                    Span::new(at, at + 1),
                    "`?` must be followed by a parameter name",
                )
                .with_help("write ?name or ?{name=default}"),
            );
        }
        (Tok::Param { name: src[at + 1..i].to_string(), default: None, braced: false }, i)
    }

    fn scan_saved(&mut self, at: usize) -> (Tok, usize) {
        let src = self.src;
        if src[at + 1..].starts_with('"') {
            let (s, end) = self.scan_string_raw(at + 1);
            return (Tok::Saved { name: s, quoted: true }, end);
        }
        let mut i = at + 1;
        while let Some(c) = self.char_at(i) {
            if !(is_pattern_char(c) || c == '/') {
                break;
            }
            i += c.len_utf8();
        }
        if i == at + 1 {
            self.push_once(
                Diagnostic::error(
                    Code::BadSavedCall,
                    Span::new(at, at + 1),
                    "`$` must be followed by a saved query name",
                )
                .with_help("write $name() or $\"package:name\"()"),
            );
        }
        (Tok::Saved { name: src[at + 1..i].to_string(), quoted: false }, i)
    }
}

fn unquote_name(s: &str) -> String {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// Turn an error into the warning `--lenient` prints for a recovered seed-dialect defect.
pub fn as_warning(mut d: Diagnostic) -> Diagnostic {
    d.severity = crate::diag::Severity::Warning;
    d
}

/// Offset of the first unescaped `/` in `s` at or after `from`, outside a character class
/// (CrowdStrike's own queries write `/[-/][ix]/` and `/[^\\/]*/`).
fn regex_close(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = from;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' if !in_class => {
                in_class = true;
                // `[]…]` and `[^]…]`: a leading `]` is a literal.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
                i += 1;
            }
            b']' if in_class => {
                in_class = false;
                i += 1;
            }
            b'/' if !in_class => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Net count of unescaped `(` minus `)` outside character classes.
fn paren_depth(s: &str) -> i32 {
    let b = s.as_bytes();
    let mut depth = 0;
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens and problems of a source read in a fixed order of modes, with or without a
    /// look-ahead (in each mode) before each read.
    fn read(src: &str, modes: &[Mode], peek: bool) -> (Vec<Token>, Vec<(Code, Span)>) {
        let mut lx = Lexer::new(src, false);
        let mut out = Vec::new();
        for (i, &m) in modes.iter().cycle().enumerate() {
            if peek {
                let other = if m == Mode::Filter { Mode::Expr } else { Mode::Filter };
                lx.peek(other);
                lx.peek(m);
                if i % 3 == 0 {
                    // peek2's pattern: two tokens ahead, then back.
                    let save = lx.snapshot();
                    lx.next(m);
                    lx.next(other);
                    lx.restore(save);
                }
            }
            let t = lx.next(m);
            let end = t.tok == Tok::Eof;
            out.push(t);
            if end || i > 10_000 {
                break;
            }
        }
        let diags = lx.take_diags().into_iter().map(|d| (d.code, d.span)).collect();
        (out, diags)
    }

    #[test]
    fn a_regex_ends_on_its_line() {
        // Regexes on several lines, one that runs past its line's end, one at the very end.
        let src = "a=/x\ny/ | b=/p/i\nc=/q\n/ d=/r/ e=/s";
        let mut lx = Lexer::new(src, false);
        let mut regexes = Vec::new();
        loop {
            let t = lx.next(Mode::Filter);
            match t.tok {
                Tok::Eof => break,
                Tok::Regex { body, flags, .. } => regexes.push((body, flags, t.span.end)),
                _ => {}
            }
        }
        let unterminated: Vec<Span> =
            lx.take_diags().into_iter().filter(|d| d.code == Code::UnterminatedRegex).map(|d| d.span).collect();
        let nl = |n: usize| src.match_indices('\n').nth(n).map(|(i, _)| i).expect("a line break");
        assert_eq!(
            regexes,
            [
                ("x".to_string(), String::new(), nl(0)),
                ("p".into(), "i".into(), src.find("/i").expect("b") + 2),
                ("q".into(), String::new(), nl(2)),
                (" d=".into(), String::new(), src.find("r/").expect("d") + 1),
                (" e=".into(), String::new(), src.len()),
            ]
            .map(|(b, f, e)| (b, f, e as u32))
        );
        assert_eq!(unterminated.len(), 2, "{unterminated:?}");
    }

    #[test]
    fn a_token_read_after_a_look_ahead_is_the_token_read_alone() {
        let sources = [
            r#"#event_simpleName=ProcessRollup2 | FileName=/^(cmd|pwsh)\.exe$/i | x := a / 2"#,
            r#"a=/unterminated"#,
            r#"b="unclosed"#,
            r#"c=1 /* open comment"#,
            r#"d=/x{2,1}/ | e := 3 % 2 | f=*\* | g=/(?<=x)y/ | h=/[z-a]/"#,
            "groupBy([aid, \"Computer Name\"], function=count()) | `odd name`=1 | \u{0}",
            r#"case { a=1 | b:="2"; * } | test(length(x) > 3) | y =~ wildcard("*.aspx")"#,
            "a=/x\ny/ | b=/p/\nc=/q\n/ d=/r/ e=/s",
            "",
        ];
        for src in sources {
            for modes in [
                &[Mode::Filter][..],
                &[Mode::Expr],
                &[Mode::Filter, Mode::Expr],
                &[Mode::Expr, Mode::Filter, Mode::Filter],
            ] {
                assert_eq!(read(src, modes, true), read(src, modes, false), "{src:?} {modes:?}");
            }
        }
    }
}
