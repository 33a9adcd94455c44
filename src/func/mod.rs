//! The one function table: every LogScale query function with its signature, defaults and
//! examples. The data lives in `table.txt` (one block per function, see its header); this
//! module loads it and answers look-ups. `plan` checks calls against it; the evaluator will
//! implement a subset and report the rest as "not supported yet".

use std::collections::HashMap;
use std::sync::OnceLock;

/// What a function does to the event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Drops events (and may add fields): `in`, `regex`, `test`, `cidr`, …
    Filter,
    /// Consumes the stream and emits rows: `groupBy`, `count`, `sort`, `head`, …
    Aggregate,
    /// Adds or changes fields one event at a time: `eval`, `format`, `lower`, …
    Transform,
    /// Only allowed in parsers.
    Parser,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Filter => "filter",
            Category::Aggregate => "aggregate",
            Category::Transform => "transform",
            Category::Parser => "parser",
        }
    }
}

/// The declared type of a parameter (documentation and light checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Number,
    Integer,
    Boolean,
    Field,
    Fields,
    Expression,
    Regex,
    Query,
    Aggregate,
    Aggregates,
    Array,
    RelativeTime,
    Any,
}

impl ParamType {
    fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "string" => ParamType::String,
            "number" => ParamType::Number,
            "integer" => ParamType::Integer,
            "boolean" => ParamType::Boolean,
            "field" => ParamType::Field,
            "fields" => ParamType::Fields,
            "expression" => ParamType::Expression,
            "regex" => ParamType::Regex,
            "query" => ParamType::Query,
            "aggregate" => ParamType::Aggregate,
            "aggregates" => ParamType::Aggregates,
            "array" => ParamType::Array,
            "relativetime" => ParamType::RelativeTime,
            "any" => ParamType::Any,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
            ParamType::Field => "field",
            ParamType::Fields => "fields",
            ParamType::Expression => "expression",
            ParamType::Regex => "regex",
            ParamType::Query => "query",
            ParamType::Aggregate => "aggregate",
            ParamType::Aggregates => "aggregates",
            ParamType::Array => "array",
            ParamType::RelativeTime => "relativetime",
            ParamType::Any => "any",
        }
    }
}

/// One parameter of a function.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    pub name: String,
    pub ty: ParamType,
    pub required: bool,
    /// The documented default, as CQL text.
    pub default: Option<String>,
    /// Another accepted name (`replace`: `with` / `replacement`).
    pub alias: Option<String>,
    /// The one parameter whose name may be omitted.
    pub unnamed: bool,
}

/// One function.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncDef {
    /// LogScale's spelling (`groupBy`, `text:contains`).
    pub name: String,
    pub category: Category,
    /// Accepts arbitrary named arguments (`eval(f = expr)`).
    pub varargs: bool,
    pub deprecated: bool,
    pub since: Option<String>,
    pub doc: Option<String>,
    pub params: Vec<ParamDef>,
    pub examples: Vec<String>,
}

impl FuncDef {
    /// The parameter a named argument refers to (exact name or alias, then case-insensitive).
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name || p.alias.as_deref() == Some(name)).or_else(|| {
            self.params.iter().find(|p| {
                p.name.eq_ignore_ascii_case(name) || p.alias.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(name))
            })
        })
    }
    /// The parameter an unnamed argument binds to.
    pub fn unnamed(&self) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.unnamed)
    }
    /// `name(p1: type, *p2: type = default, …)`.
    pub fn signature(&self) -> String {
        let ps: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                let mut s = format!("{}{}: {}", if p.unnamed { "*" } else { "" }, p.name, p.ty.as_str());
                if let Some(d) = &p.default {
                    s.push_str(&format!(" = {d}"));
                } else if !p.required {
                    s.push('?');
                }
                s
            })
            .collect();
        format!("{}({})", self.name, ps.join(", "))
    }
}

/// The function table, indexed by lower-case name.
#[derive(Debug, Clone, Default)]
pub struct FunctionTable {
    funcs: Vec<FuncDef>,
    by_name: HashMap<String, usize>,
}

const TABLE: &str = include_str!("table.txt");

impl FunctionTable {
    /// The built-in table (parsed once).
    pub fn builtin() -> &'static FunctionTable {
        static T: OnceLock<FunctionTable> = OnceLock::new();
        // The embedded table is checked by a unit test to load without errors.
        T.get_or_init(|| FunctionTable::parse(TABLE).0)
    }

    /// Parse a table; returns the table and the problems found (line: message).
    pub fn parse(text: &str) -> (FunctionTable, Vec<String>) {
        let mut t = FunctionTable::default();
        let mut errs = Vec::new();
        let mut cur: Option<FuncDef> = None;
        for (i, raw) in text.lines().enumerate() {
            let ln = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let head = words.next().unwrap_or("");
            if head == "fn" {
                if let Some(f) = cur.take() {
                    t.push(f, &mut errs);
                }
                let name = words.next().unwrap_or("").to_string();
                let category = match words.next() {
                    Some("filter") => Category::Filter,
                    Some("aggregate") => Category::Aggregate,
                    Some("transform") => Category::Transform,
                    Some("parser") => Category::Parser,
                    other => {
                        errs.push(format!("{ln}: unknown category {other:?}"));
                        Category::Transform
                    }
                };
                let mut f = FuncDef {
                    name,
                    category,
                    varargs: false,
                    deprecated: false,
                    since: None,
                    doc: None,
                    params: Vec::new(),
                    examples: Vec::new(),
                };
                for w in words {
                    match w {
                        "varargs" => f.varargs = true,
                        "deprecated" => f.deprecated = true,
                        w if w.starts_with("since=") => f.since = Some(w["since=".len()..].to_string()),
                        other => errs.push(format!("{ln}: unknown flag {other:?}")),
                    }
                }
                cur = Some(f);
                continue;
            }
            let Some(f) = cur.as_mut() else {
                errs.push(format!("{ln}: `{head}` outside a fn block"));
                continue;
            };
            let rest = line[head.len()..].trim();
            match head {
                "doc" => f.doc = Some(rest.to_string()),
                "example" => f.examples.push(rest.to_string()),
                "param" => {
                    let mut w = rest.split_whitespace();
                    let name = w.next().unwrap_or("");
                    let (unnamed, name) = match name.strip_prefix('*') {
                        Some(n) => (true, n),
                        None => (false, name),
                    };
                    let ty = w.next().and_then(ParamType::parse);
                    let Some(ty) = ty else {
                        errs.push(format!("{ln}: parameter {name} has no valid type"));
                        continue;
                    };
                    let mut p =
                        ParamDef { name: name.to_string(), ty, required: false, default: None, alias: None, unnamed };
                    for a in w {
                        if a == "required" {
                            p.required = true;
                        } else if let Some(d) = a.strip_prefix("default=") {
                            p.default = Some(d.to_string());
                        } else if let Some(d) = a.strip_prefix("alias=") {
                            p.alias = Some(d.to_string());
                        } else {
                            errs.push(format!("{ln}: unknown parameter attribute {a:?}"));
                        }
                    }
                    f.params.push(p);
                }
                other => errs.push(format!("{ln}: unknown line kind {other:?}")),
            }
        }
        if let Some(f) = cur.take() {
            t.push(f, &mut errs);
        }
        (t, errs)
    }

    fn push(&mut self, f: FuncDef, errs: &mut Vec<String>) {
        let key = f.name.to_ascii_lowercase();
        if self.by_name.contains_key(&key) {
            errs.push(format!("function {} listed twice", f.name));
            return;
        }
        if f.params.iter().filter(|p| p.unnamed).count() > 1 {
            errs.push(format!("function {} has more than one unnamed parameter", f.name));
        }
        self.by_name.insert(key, self.funcs.len());
        self.funcs.push(f);
    }

    /// Look a function up; names are case-insensitive.
    pub fn get(&self, name: &str) -> Option<&FuncDef> {
        self.by_name.get(&name.to_ascii_lowercase()).map(|&i| &self.funcs[i])
    }

    pub fn all(&self) -> &[FuncDef] {
        &self.funcs
    }

    /// The closest known function name, for "did you mean".
    pub fn suggest(&self, name: &str) -> Option<&str> {
        suggest(name, self.funcs.iter().map(|f| f.name.as_str()))
    }
}

/// The candidate closest to `name` (case-insensitive edit distance), if close enough.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lname = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&lname, &c.to_ascii_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (name.chars().count() / 3).max(1);
    (d <= limit).then_some(c)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_loads_without_errors() {
        let (t, errs) = FunctionTable::parse(TABLE);
        assert!(errs.is_empty(), "table.txt problems: {errs:#?}");
        assert!(t.all().len() >= 190, "only {} functions", t.all().len());
    }

    #[test]
    fn lookups_are_case_insensitive_and_suggest() {
        let t = FunctionTable::builtin();
        assert_eq!(t.get("groupby").map(|f| f.name.as_str()), Some("groupBy"));
        assert_eq!(t.get("TEXT:CONTAINS").map(|f| f.name.as_str()), Some("text:contains"));
        assert_eq!(t.suggest("gropBy"), Some("groupBy"));
        assert_eq!(t.suggest("formatTme"), Some("formatTime"));
        assert_eq!(t.suggest("zzzzzzzz"), None);
        let g = t.get("groupBy").map(FuncDef::signature).unwrap_or_default();
        assert!(g.starts_with("groupBy(*field: fields"), "{g}");
    }

    #[test]
    fn every_function_has_a_doc_page_and_an_example() {
        for f in FunctionTable::builtin().all() {
            assert!(f.doc.is_some(), "{} has no doc line", f.name);
            if f.category != Category::Parser {
                assert!(!f.examples.is_empty(), "{} has no example", f.name);
            }
        }
    }
}
