//! Tuning files: exclusions kept apart from the rules (docs/pack.md, "Tuning").

use super::{err, get_str, get_strs, load_yaml, PackError};
use crate::diag::Diagnostic;
use crate::lang::{self, ast, ParseOptions};
use crate::plan::{self, PlanOptions};
use std::path::{Path, PathBuf};

/// One exclusion.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    /// Rule ids; `*` means every rule.
    pub rules: Vec<String>,
    /// Where the exclusion applies (a CQL filter); `None`: everywhere.
    pub scope: Option<String>,
    /// What is not an alert there (a CQL filter).
    pub exclude: String,
    pub reason: String,
}

impl Entry {
    pub fn applies_to(&self, rule: &str) -> bool {
        self.rules.iter().any(|r| r == "*" || r == rule)
    }

    /// The filter step that drops what the entry excludes.
    pub fn filter_text(&self) -> String {
        match &self.scope {
            Some(s) => format!("not (({s}) and ({}))", self.exclude),
            None => format!("not ({})", self.exclude),
        }
    }
}

/// A tuning file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tuning {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

/// Read and check a tuning file: every filter must be one strict-valid CQL filter expression,
/// and every rule id must name a rule of `known` (when given).
pub fn load(path: &Path, known: Option<&[String]>) -> Result<Tuning, Vec<PackError>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![err(path, format!("cannot read: {e}"))])?;
    parse(&text, path, known)
}

pub fn parse(text: &str, path: &Path, known: Option<&[String]>) -> Result<Tuning, Vec<PackError>> {
    let y = load_yaml(text, path).map_err(|e| vec![e])?;
    let Some(items) = super::get(&y, "tuning").and_then(|v| v.as_vec()) else {
        return Err(vec![err(path, "expected a top-level `tuning:` list")]);
    };
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |m: String| err(path, format!("tuning entry {}: {m}", i + 1));
        let id = get_str(item, "id").unwrap_or_default().to_string();
        if id.is_empty() {
            errors.push(at("no `id`".to_string()));
            continue;
        }
        let at = |m: String| err(path, format!("tuning entry `{id}`: {m}"));
        let rules = match get_strs(item, "rules", path) {
            Ok(r) if !r.is_empty() => r,
            Ok(_) => {
                errors.push(at("no `rules` (rule ids, or \"*\" for every rule)".to_string()));
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if let Some(known) = known {
            for r in &rules {
                if r != "*" && !known.contains(r) {
                    errors.push(at(format!("`{r}` names no rule of the pack")));
                }
            }
        }
        let scope = get_str(item, "scope").map(str::to_string);
        let Some(exclude) = get_str(item, "exclude").map(str::to_string) else {
            errors.push(at("no `exclude` filter".to_string()));
            continue;
        };
        for (what, f) in [("scope", scope.as_deref()), ("exclude", Some(exclude.as_str()))] {
            if let Some(f) = f {
                if let Err(m) = check_filter(f) {
                    errors.push(at(format!("`{what}`: {m}")));
                }
            }
        }
        let reason = get_str(item, "reason").unwrap_or_default().to_string();
        if entries.iter().any(|e: &Entry| e.id == id) {
            errors.push(at("the id is used twice".to_string()));
        }
        entries.push(Entry { id, rules, scope, exclude, reason });
    }
    if errors.is_empty() {
        Ok(Tuning { path: path.to_path_buf(), entries })
    } else {
        Err(errors)
    }
}

/// One strict-valid filter expression: no `|`, no assignments, no aggregates.
fn check_filter(text: &str) -> Result<(), String> {
    let (q, mut diags) = lang::parse(text, ParseOptions::default());
    if !diags.iter().any(Diagnostic::is_error) {
        diags.extend(plan::plan(&q, text, &PlanOptions::default()).1);
    }
    if let Some(d) = diags.iter().find(|d| d.is_error()) {
        return Err(format!("{} (in `{text}`)", d.message));
    }
    match q.pipeline.steps.as_slice() {
        [ast::Step::Filter(f)] if !matches!(f, ast::Filter::Call(_)) || filter_call(f) => Ok(()),
        [_] => Err(format!("`{text}` is not a filter")),
        _ => Err(format!("`{text}` is a pipeline; a tuning filter is one expression (no `|`)")),
    }
}

/// A filter function (`in()`, `cidr()`, `regex()` without extraction…) as a whole filter.
fn filter_call(f: &ast::Filter) -> bool {
    let ast::Filter::Call(c) = f else { return false };
    crate::func::FunctionTable::builtin().get(&c.name).is_some_and(|d| d.category == crate::func::Category::Filter)
}

/// The rule's query with the entries' filters inserted where the events enter it: after its
/// first step when that step is a plain filter (so the event-type analysis still sees it),
/// else first.
pub fn apply(query: &str, entries: &[&Entry]) -> Result<String, String> {
    if entries.is_empty() {
        return Ok(query.to_string());
    }
    let (mut q, diags) = lang::parse(query, ParseOptions::default());
    if let Some(d) = diags.iter().find(|d| d.is_error()) {
        return Err(d.message.clone());
    }
    let at = match q.pipeline.steps.first() {
        Some(ast::Step::Filter(f)) if !matches!(f, ast::Filter::Call(_) | ast::Filter::FieldCall { .. }) => 1,
        _ => 0,
    };
    for (k, e) in entries.iter().enumerate() {
        let text = e.filter_text();
        let (f, d) = lang::parse(&text, ParseOptions::default());
        if let Some(d) = d.iter().find(|d| d.is_error()) {
            return Err(format!("tuning entry `{}`: {}", e.id, d.message));
        }
        let step = f.pipeline.steps.into_iter().next().ok_or_else(|| format!("tuning entry `{}` is empty", e.id))?;
        q.pipeline.steps.insert(at + k, step);
    }
    Ok(lang::query_to_string(&q))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
tuning:
  - id: dev-boxes
    rules: [a]
    scope: ComputerName=/^DEV-/i
    exclude: ParentBaseFileName=/^(python|node)/i
    reason: developers
  - id: everywhere
    rules: ["*"]
    exclude: in(field=FileName, values=["x.exe"])
"#;

    #[test]
    fn reads_entries_and_inserts_their_filters_after_the_event_type() {
        let known = vec!["a".to_string(), "b".to_string()];
        let t = parse(FILE, Path::new("t.yaml"), Some(&known)).unwrap();
        assert_eq!(t.entries.len(), 2);
        assert!(t.entries[1].applies_to("b") && !t.entries[0].applies_to("b"));
        let q = "#event_simpleName=ProcessRollup2 | FileName=cmd.exe | groupBy(ComputerName)";
        let refs: Vec<&Entry> = t.entries.iter().collect();
        let out = apply(q, &refs).unwrap();
        let want = "#event_simpleName = ProcessRollup2\n| NOT (ComputerName = /^DEV-/i AND ParentBaseFileName = /^(python|node)/i)\n| !in(field=FileName, values=[\"x.exe\"])\n| FileName = cmd.exe";
        assert!(out.starts_with(want), "{out}");
        let (q2, d) = lang::parse(&out, ParseOptions::default());
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(q2.pipeline.steps.len(), 5);
    }

    #[test]
    fn names_what_is_wrong() {
        let known = vec!["a".to_string()];
        let bad = FILE.replace("rules: [a]", "rules: [nope]").replace("/^DEV-/i", "/^DEV-/i | count()");
        let e = parse(&bad, Path::new("t.yaml"), Some(&known)).unwrap_err();
        let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert!(text.iter().any(|m| m.contains("`nope` names no rule")), "{text:?}");
        assert!(text.iter().any(|m| m.contains("`scope`") && m.contains("pipeline")), "{text:?}");
        let e =
            parse("tuning:\n  - id: x\n    rules: [a]\n    exclude: count()\n", Path::new("t.yaml"), None).unwrap_err();
        assert!(e[0].message.contains("not a filter"), "{e:?}");
        assert!(parse("nothing: 1", Path::new("t.yaml"), None).is_err());
    }
}
