//! Detection packs: a folder of LogScale alert definitions (`alerts/*.yaml`, a LogScale package)
//! with their metadata, and tuning files kept apart from them. See `docs/pack.md`.
//!
//! This module reads and checks the files; it does not run anything (`cli::detect` does).

use crate::diag::Diagnostic;
use crate::lang::{self, ParseOptions};
use std::fmt;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

pub mod tuning;

/// LogScale's alert schema, the form every rule file has.
pub const ALERT_SCHEMA_PREFIX: &str = "https://schemas.humio.com/alert/";

/// A severity label, ordered so that `Critical` sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" => Severity::Medium,
            "low" => Severity::Low,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::High => "High",
            Severity::Medium => "Medium",
            Severity::Low => "Low",
        }
    }

    /// The scores a label stands for (inclusive).
    pub fn band(self) -> (u8, u8) {
        match self {
            Severity::Critical => (90, 100),
            Severity::High => (70, 89),
            Severity::Medium => (40, 69),
            Severity::Low => (0, 39),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of a pack, as its file states it.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The file name without `.yaml`.
    pub id: String,
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub query: String,
    pub enabled: bool,
    pub labels: Vec<String>,
    /// `mitre-attack:` labels, in file order (`T1505`, `T1505.003`).
    pub techniques: Vec<String>,
    pub severity: Option<Severity>,
    pub score: Option<u8>,
    pub false_positives: Vec<String>,
    pub references: Vec<String>,
}

impl Rule {
    /// The most specific technique (a sub-technique when there is one).
    pub fn technique(&self) -> &str {
        self.techniques.iter().max_by_key(|t| t.len()).map(String::as_str).unwrap_or("")
    }

    /// Sort key: Critical first, then by score (highest first), then by id.
    pub fn rank(&self) -> (Severity, std::cmp::Reverse<u8>, &str) {
        (self.severity.unwrap_or(Severity::Low), std::cmp::Reverse(self.score.unwrap_or(0)), &self.id)
    }
}

/// A loaded pack.
#[derive(Debug, Clone)]
pub struct Pack {
    pub dir: PathBuf,
    /// The manifest's `name` (e.g. `cqlhunt/t1505`).
    pub name: String,
    pub version: String,
    pub rules: Vec<Rule>,
}

/// A problem with a pack file, naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

fn err(file: &Path, message: impl Into<String>) -> PackError {
    PackError { file: file.to_path_buf(), message: message.into() }
}

/// Parse one YAML document (the first), naming the file in errors.
pub fn load_yaml(text: &str, file: &Path) -> Result<Yaml, PackError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| err(file, format!("not valid YAML: {e}")))?;
    docs.into_iter().next().ok_or_else(|| err(file, "empty YAML document"))
}

pub(crate) fn get<'a>(y: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    y.as_hash()?.get(&Yaml::String(key.to_string()))
}

pub(crate) fn get_str<'a>(y: &'a Yaml, key: &str) -> Option<&'a str> {
    get(y, key).and_then(Yaml::as_str)
}

/// A list of strings (a single string counts as a list of one).
pub(crate) fn get_strs(y: &Yaml, key: &str, file: &Path) -> Result<Vec<String>, PackError> {
    match get(y, key) {
        None | Some(Yaml::Null) => Ok(Vec::new()),
        Some(Yaml::String(s)) => Ok(vec![s.clone()]),
        Some(Yaml::Array(a)) => a
            .iter()
            .map(|v| match v {
                Yaml::String(s) => Ok(s.clone()),
                Yaml::Integer(i) => Ok(i.to_string()),
                other => Err(err(file, format!("`{key}`: expected strings, found {other:?}"))),
            })
            .collect(),
        Some(other) => Err(err(file, format!("`{key}`: expected a list of strings, found {other:?}"))),
    }
}

/// Read a pack folder: `manifest.yaml` and every `alerts/*.yaml`, in name order. Every file's
/// problems are returned together.
pub fn load(dir: &Path) -> Result<Pack, Vec<PackError>> {
    let mut errors = Vec::new();
    let manifest_path = dir.join("manifest.yaml");
    let (mut name, mut version) = (String::new(), String::new());
    match std::fs::read_to_string(&manifest_path) {
        Err(e) => errors.push(err(&manifest_path, format!("cannot read the package manifest: {e}"))),
        Ok(text) => match load_yaml(&text, &manifest_path) {
            Err(e) => errors.push(e),
            Ok(y) => {
                name = get_str(&y, "name").unwrap_or_default().to_string();
                version = match get(&y, "version") {
                    Some(Yaml::String(s)) | Some(Yaml::Real(s)) => s.clone(),
                    _ => String::new(),
                };
                if name.is_empty() {
                    errors.push(err(&manifest_path, "the manifest has no `name`"));
                }
                if !get_str(&y, "$schema").is_some_and(|s| s.starts_with("https://schemas.humio.com/manifest/")) {
                    errors.push(err(&manifest_path, "`$schema` is not a LogScale package manifest schema"));
                }
            }
        },
    }
    let alerts = dir.join("alerts");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&alerts) {
        Err(e) => {
            errors.push(err(&alerts, format!("cannot list the rules: {e}")));
            Vec::new()
        }
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect(),
    };
    files.sort();
    let mut rules = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f)
            .map_err(|e| err(&f, format!("cannot read: {e}")))
            .and_then(|t| parse_rule(&t, &f))
        {
            Ok(r) => rules.push(r),
            Err(e) => errors.push(e),
        }
    }
    if rules.is_empty() && errors.is_empty() {
        errors.push(err(&alerts, "no rules (alerts/*.yaml)"));
    }
    if errors.is_empty() {
        Ok(Pack { dir: dir.to_path_buf(), name, version, rules })
    } else {
        Err(errors)
    }
}

/// One rule file.
pub fn parse_rule(text: &str, file: &Path) -> Result<Rule, PackError> {
    let y = load_yaml(text, file)?;
    if y.as_hash().is_none() {
        return Err(err(file, "a rule file must be a YAML mapping"));
    }
    let id = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let schema = get_str(&y, "$schema").unwrap_or_default();
    if !schema.starts_with(ALERT_SCHEMA_PREFIX) {
        return Err(err(file, format!("`$schema` must be LogScale's alert schema ({ALERT_SCHEMA_PREFIX}…)")));
    }
    let name = get_str(&y, "name").ok_or_else(|| err(file, "no `name`"))?.to_string();
    let query = get_str(&y, "queryString").ok_or_else(|| err(file, "no `queryString`"))?.to_string();
    let description = get_str(&y, "description").unwrap_or_default().to_string();
    let enabled = get(&y, "enabled").and_then(Yaml::as_bool).unwrap_or(true);
    let labels = get_strs(&y, "labels", file)?;
    let mut techniques = Vec::new();
    let mut severity = None;
    let mut score = None;
    for l in &labels {
        let (k, v) = l.split_once(':').unwrap_or(("", l));
        match k.trim().to_ascii_lowercase().as_str() {
            "mitre-attack" => techniques.push(v.trim().to_string()),
            "severity" => {
                let s = Severity::parse(v.trim())
                    .ok_or_else(|| err(file, format!("label `{l}`: severity must be Critical, High, Medium or Low")))?;
                if severity.replace(s).is_some() {
                    return Err(err(file, "more than one `severity:` label"));
                }
            }
            "score" => {
                let n: u8 = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n <= 100)
                    .ok_or_else(|| err(file, format!("label `{l}`: a score is a whole number from 0 to 100")))?;
                if score.replace(n).is_some() {
                    return Err(err(file, "more than one `score:` label"));
                }
            }
            _ => {}
        }
    }
    let false_positives = section(&description, "false positives");
    let references = section(&description, "references");
    Ok(Rule {
        id,
        path: file.to_path_buf(),
        name,
        description,
        query,
        enabled,
        labels,
        techniques,
        severity,
        score,
        false_positives,
        references,
    })
}

/// The `- item` lines under a heading line (`False positives:`) of a description.
fn section(text: &str, heading: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.trim_end_matches(':').eq_ignore_ascii_case(heading) && t.ends_with(':') {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(item) = t.strip_prefix("- ") {
            out.push(item.trim().to_string());
        } else if t.is_empty() && out.is_empty() {
            continue;
        } else if !t.is_empty() && !out.is_empty() && line.starts_with("  ") {
            // A continuation line of the last item.
            let last = out.last_mut().expect("non-empty");
            last.push(' ');
            last.push_str(t);
        } else {
            break;
        }
    }
    out
}

/// What `cqlhunt test` requires of a rule beyond valid CQL: its metadata and the output
/// contract (docs/pack.md). Each problem is one line.
pub fn lint(rule: &Rule) -> Vec<String> {
    let mut p = Vec::new();
    match rule.techniques.iter().find(|t| !t.contains('.')) {
        None => p.push("no `mitre-attack:T…` technique label".to_string()),
        Some(t) => {
            if !rule.techniques.iter().any(|s| s.starts_with(&format!("{t}."))) {
                p.push(format!("no `mitre-attack:{t}.NNN` sub-technique label"));
            }
        }
    }
    for t in &rule.techniques {
        let ok = t.strip_prefix('T').is_some_and(|r| {
            let (a, b) = r.split_once('.').unwrap_or((r, "000"));
            a.len() == 4 && b.len() == 3 && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
        });
        if !ok {
            p.push(format!("`mitre-attack:{t}` is not an ATT&CK id (T1234 or T1234.001)"));
        }
    }
    match (rule.severity, rule.score) {
        (None, _) => p.push("no `severity:` label".to_string()),
        (_, None) => p.push("no `score:` label".to_string()),
        (Some(s), Some(n)) => {
            let (lo, hi) = s.band();
            if n < lo || n > hi {
                p.push(format!("score {n} is outside {s}'s band ({lo}–{hi})"));
            }
        }
    }
    if rule.false_positives.is_empty() {
        p.push("the description has no `False positives:` list".to_string());
    }
    if !rule.references.iter().any(|r| r.starts_with("https://") || r.starts_with("http://")) {
        p.push("the description has no `References:` list of URLs".to_string());
    }
    if rule.name.trim().is_empty() {
        p.push("the name is empty".to_string());
    }
    p.extend(output_contract(&rule.query));
    p
}

/// The output contract: the query's last aggregate is a `groupBy` keyed by `ComputerName` whose
/// functions include `count(as=EventCount)` and `min(@timestamp, as=FirstSeen)`, followed by
/// nothing but filters on its rows.
pub fn output_contract(query: &str) -> Vec<String> {
    let (q, diags) = lang::parse(query, ParseOptions::default());
    if diags.iter().any(Diagnostic::is_error) {
        return Vec::new(); // reported as CQL errors
    }
    use lang::ast::{Filter, Step};
    // The last groupBy(), followed by nothing but filters on its rows (`x > 0`, `test(…)`).
    let is_group = |s: &Step| matches!(s, Step::Filter(Filter::Call(c)) if c.name.eq_ignore_ascii_case("groupBy"));
    let Some(at) = q.pipeline.steps.iter().rposition(is_group) else {
        return vec!["the query does not end in a groupBy()".to_string()];
    };
    let row_filter = |s: &Step| match s {
        Step::Filter(Filter::Call(c)) => c.name.eq_ignore_ascii_case("test"),
        Step::Filter(_) => true,
        _ => false,
    };
    if let Some(s) = q.pipeline.steps[at + 1..].iter().find(|s| !row_filter(s)) {
        let what = match s {
            Step::Filter(Filter::Call(c)) => format!("{}()", c.name),
            _ => "a step that is not a filter".to_string(),
        };
        return vec![format!("the final groupBy() is followed by {what}; only filters on its rows may follow it")];
    }
    let Step::Filter(Filter::Call(call)) = &q.pipeline.steps[at] else { return Vec::new() };
    let text = lang::print::call_to_string(call);
    let mut p = Vec::new();
    let head = text.split("function").next().unwrap_or("");
    if !head.contains("ComputerName") {
        p.push("the final groupBy() is not keyed by ComputerName".to_string());
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("count(as=EventCount)") {
        p.push("the final groupBy() has no count(as=EventCount)".to_string());
    }
    if !compact.contains("min(@timestamp,as=FirstSeen)") && !compact.contains("min(field=@timestamp,as=FirstSeen)") {
        p.push("the final groupBy() has no min(@timestamp, as=FirstSeen)".to_string());
    }
    p
}

/// Where `detect` looks for the pack and the examples when not told: the current directory,
/// then the source tree cqlhunt was built from.
pub fn default_path(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() {
        return here;
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if built.exists() {
        built
    } else {
        here
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"$schema: https://schemas.humio.com/alert/v0.3.0
name: T1505.003 Test rule
description: |-
  Finds things.

  False positives:
  - Admins doing admin
    things on two lines.
  - Another one.

  References:
  - https://attack.mitre.org/techniques/T1505/003/
enabled: true
labels:
- mitre-attack:T1505
- mitre-attack:T1505.003
- severity:High
- score:80
queryString: |-
  #event_simpleName=ProcessRollup2 FileName=cmd.exe
  | groupBy([ComputerName, FileName], function=[count(as=EventCount), min(@timestamp, as=FirstSeen)], limit=max)
"#;

    #[test]
    fn reads_a_rule_and_its_metadata() {
        let r = parse_rule(RULE, Path::new("alerts/test-rule.yaml")).unwrap();
        assert_eq!(r.id, "test-rule");
        assert_eq!(r.technique(), "T1505.003");
        assert_eq!(r.severity, Some(Severity::High));
        assert_eq!(r.score, Some(80));
        assert_eq!(r.false_positives, vec!["Admins doing admin things on two lines.", "Another one."]);
        assert_eq!(r.references, vec!["https://attack.mitre.org/techniques/T1505/003/"]);
        assert!(r.query.ends_with("limit=max)"));
        assert_eq!(lint(&r), Vec::<String>::new());
    }

    #[test]
    fn lint_names_each_problem() {
        let bad = RULE
            .replace("- score:80", "- score:95")
            .replace("- mitre-attack:T1505.003\n", "")
            .replace("count(as=EventCount), ", "")
            .replace("[ComputerName, FileName]", "[FileName]");
        let r = parse_rule(&bad, Path::new("x.yaml")).unwrap();
        let p = lint(&r);
        assert!(p.iter().any(|m| m.contains("sub-technique")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("outside High's band")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("EventCount")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("ComputerName")), "{p:?}");
        let none = RULE.replace("  References:\n  - https://attack.mitre.org/techniques/T1505/003/\n", "");
        assert!(lint(&parse_rule(&none, Path::new("x.yaml")).unwrap()).iter().any(|m| m.contains("References")));
    }

    #[test]
    fn the_final_groupby_may_only_be_followed_by_row_filters() {
        let g = "#event_simpleName=X | groupBy([ComputerName], function=[count(as=EventCount), min(@timestamp, as=FirstSeen), count(R, as=Requests)])";
        assert_eq!(output_contract(&format!("{g} | Requests > 0 | test(Requests < 9)")), Vec::<String>::new());
        let p = output_contract(&format!("{g} | sort(EventCount)"));
        assert!(p[0].contains("followed by sort()"), "{p:?}");
        let p = output_contract(&format!("{g} | x := 1"));
        assert!(p[0].contains("not a filter"), "{p:?}");
        assert!(output_contract("#event_simpleName=X | count()")[0].contains("does not end in a groupBy()"));
    }

    #[test]
    fn rejects_what_is_not_an_alert() {
        let e = parse_rule(&RULE.replace("alert/v0.3.0", "query/v0.1.0"), Path::new("x.yaml")).unwrap_err();
        assert!(e.message.contains("alert schema"), "{e}");
        let e = parse_rule(&RULE.replace("- score:80", "- score:800"), Path::new("x.yaml")).unwrap_err();
        assert!(e.message.contains("0 to 100"), "{e}");
        let e = parse_rule("name: [unclosed", Path::new("x.yaml")).unwrap_err();
        assert!(e.to_string().starts_with("x.yaml: not valid YAML"), "{e}");
        assert!(Severity::Critical < Severity::High && Severity::Medium < Severity::Low);
    }
}
