//! `detect`, `test` and `coverage`: a pack of rules over telemetry in one scan.

use super::output::{OutFormat, Output};
use super::run::{self, RunError, RunOptions, Summary};
use crate::eval::{Ctx, Executor};
use crate::event::{Event, Value};
use crate::pack::tuning::{self, Entry, Tuning};
use crate::pack::{Rule, Severity};
use crate::plan::{self, PlanOptions};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One rule, compiled, with the rows it has produced.
#[derive(Debug)]
pub struct Compiled {
    pub rule: Rule,
    ex: Executor,
    /// The compiled query (for the line probe).
    ir: plan::ir::Pipeline,
    /// The event types the rule can use (`None`: any).
    names: Option<crate::read::skip::EventTypes>,
    /// The same as the plan states them (names, `/regex/flags`).
    event_names: Vec<String>,
    /// For the passes before the main one (`None`: any event).
    prepass_names: Option<Vec<String>>,
    pub rows: Vec<Event>,
    /// The rule failed while running (a regex over its backtracking limit): it gets no more
    /// events; the others go on.
    pub error: Option<String>,
}

fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0)
}

/// Compile a query text into an executor and its plan; errors are rendered one per line,
/// naming `name`.
pub fn compile_text(
    name: &str,
    text: &str,
    lenient: bool,
) -> Result<(Executor, plan::Plan, plan::ir::Pipeline), String> {
    let popts = PlanOptions { require_params: true, lenient, ..PlanOptions::default() };
    let (q, p, diags) = super::parse_and_plan(text, lenient, &popts);
    let p = match p {
        Some(p) if !diags.iter().any(crate::diag::Diagnostic::is_error) => p,
        _ => {
            let errs: Vec<_> = diags.into_iter().filter(|d| d.is_error()).collect();
            return Err(crate::diag::render_short(name, text, &errs).trim_end().to_string());
        }
    };
    let ir = plan::compile::compile(&q, &popts)
        .map_err(|d| crate::diag::render_short(name, text, &d).trim_end().to_string())?;
    let ctx = Ctx { lookup_dir: PathBuf::from("."), now_ms: now_ms(), ..Ctx::default() };
    let ex = Executor::new(&ir, ctx).map_err(|e| format!("{name}: {e}"))?;
    Ok((ex, p, ir))
}

impl Compiled {
    /// A rule with the tuning entries that apply to it.
    pub fn new(rule: &Rule, tuning: Option<&Tuning>) -> Result<Compiled, String> {
        let entries: Vec<&Entry> =
            tuning.map(|t| t.entries.iter().filter(|e| e.applies_to(&rule.id)).collect()).unwrap_or_default();
        let text = tuning::apply(&rule.query, &entries).map_err(|e| format!("{}: {e}", rule.path.display()))?;
        Compiled::build(rule.clone(), &rule.path.display().to_string(), &text, false)
    }

    fn build(rule: Rule, name: &str, text: &str, lenient: bool) -> Result<Compiled, String> {
        let (ex, p, ir) = compile_text(name, text, lenient)?;
        Ok(Compiled {
            rule,
            ex,
            ir,
            names: p.event_names.as_deref().and_then(crate::read::skip::EventTypes::new),
            event_names: p.event_names.unwrap_or_default(),
            prepass_names: p.prepass_event_names,
            rows: Vec::new(),
            error: None,
        })
    }

    /// A query that is not a rule of the pack (the seed, as written).
    pub fn query(id: &str, text: &str, lenient: bool) -> Result<Compiled, String> {
        let rule = Rule {
            id: id.to_string(),
            path: PathBuf::from(id),
            name: id.to_string(),
            description: String::new(),
            query: text.to_string(),
            enabled: true,
            labels: Vec::new(),
            techniques: Vec::new(),
            severity: None,
            score: None,
            false_positives: Vec::new(),
            references: Vec::new(),
        };
        Compiled::build(rule, id, text, lenient)
    }

    /// The rule (with its tuning) as ClickHouse SQL over `table` with these columns.
    pub fn sql(&self, table: &str, columns: &[String]) -> Result<crate::sql::Sql, String> {
        crate::sql::to_clickhouse_over(&self.ir, table, Some(columns))
    }

    /// The rule's runtime warnings (a default limit cut rows, …).
    pub fn warnings(&self) -> Vec<String> {
        self.ex.ctx.warnings()
    }

    fn wants(&self, event_name: Option<&str>) -> bool {
        self.error.is_none()
            && match (&self.names, event_name) {
                (None, _) => true,
                (Some(n), Some(e)) => n.contains(e.as_bytes()),
                (Some(_), None) => false,
            }
    }
}

/// The line probe of a scan: a line is parsed when some rule may use it.
pub fn probe_for(rules: &[Compiled]) -> std::sync::Arc<Vec<super::probe::ProbeQuery>> {
    std::sync::Arc::new(
        rules
            .iter()
            .map(|r| super::probe::ProbeQuery {
                ir: r.ir.clone(),
                event_names: r.names.as_ref().map(|_| r.event_names.clone()),
            })
            .collect(),
    )
}

/// The fields a scan keeps: those any rule's result can depend on (`None` when a rule's
/// cannot be known, see `plan::project`).
pub fn projection_for(rules: &[Compiled]) -> Option<std::sync::Arc<crate::read::fastjson::Projection>> {
    let mut all: BTreeSet<String> = BTreeSet::new();
    for r in rules {
        all.extend(plan::project::projection(&r.ir)?);
    }
    Some(std::sync::Arc::new(crate::read::fastjson::Projection::new(all)))
}

/// The line-skipping set for a scan: the union of the rules' event types (plus process events
/// for the lineage enrichment), or `None` when some rule can use any event.
pub fn skip_for(rules: &[Compiled], enrich: bool) -> Option<std::sync::Arc<crate::read::skip::LineSkip>> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for r in rules {
        r.names.as_ref()?;
        names.extend(r.event_names.iter().cloned());
    }
    crate::read::skip::LineSkip::for_query(names, enrich)
}

/// Every rule over every input, in one read: each event is enriched once and handed to the
/// rules that can use its event type.
pub fn scan(rules: &mut [Compiled], opts: &RunOptions) -> Result<Summary, RunError> {
    let fopts = run::line_options(opts)?;
    let inputs = if opts.inputs.is_empty() { vec![PathBuf::from("-")] } else { opts.inputs.clone() };
    let mut inputs = crate::read::expand_inputs(&inputs).map_err(|e| RunError::Input(e.to_string()))?;
    // Rules with join(), selfJoinFilter() or defineTable() read the input before the main pass
    // (only they do: the others wait for the shared main pass).
    let passes = rules.iter().map(|r| r.ex.passes()).max().unwrap_or(1);
    let _spool = if passes > 1 { run::spool_stdin(&mut inputs)? } else { None };
    // The prepasses read only the event types the multi-pass rules' subqueries can use.
    let pre_skip = if opts.skip.is_some() {
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut known = true;
        for r in rules.iter().filter(|r| r.ex.passes() > 1) {
            match &r.prepass_names {
                Some(v) => names.extend(v.iter().cloned()),
                None => known = false,
            }
        }
        known.then(|| crate::read::skip::LineSkip::for_query(names, opts.enrich)).flatten()
    } else {
        None
    };
    for round in 1..passes {
        let pre = RunOptions { mute: true, strict_input: false, skip: pre_skip.clone(), ..opts.clone() };
        let mut state = run::ReadState::without_probe(opts);
        for input in &inputs {
            run::read_one(input, &fopts, &pre, &mut state, &mut |ev| {
                for r in rules.iter_mut().filter(|r| r.ex.passes() > round) {
                    r.ex.push_prepass(&ev);
                }
                true
            })?;
        }
        for r in rules.iter_mut().filter(|r| r.ex.passes() > round) {
            r.ex.end_prepass();
            if let Some(e) = r.ex.ctx.error() {
                r.error = Some(e);
            }
        }
    }
    let mut state = run::ReadState::new(opts);
    let mut summary = Summary::default();
    // Which rules can use an event type, worked out once per type (there are few): the type's
    // index into `route_lists` (events without a type use the last entry, made first).
    let mut routes: crate::hash::FastMap<String, usize> = Default::default();
    let untyped: Vec<usize> = rules.iter().enumerate().filter(|(_, r)| r.wants(None)).map(|(i, _)| i).collect();
    let mut route_lists: Vec<Vec<usize>> = vec![untyped];
    // The rules' guards for events that come without a line probe's hint (EVTX, XML): a probe
    // of its own, asked about events only.
    let mut event_probe = run::ReadState::probe_for(opts, false);
    {
        let stats = run::read_all(&inputs, &fopts, opts, &mut state, &mut |mut ev| {
            if ev.rules_hint().is_none() {
                if let Some(p) = event_probe.as_mut() {
                    ev.set_rules_hint(p.event_hint(&ev));
                }
            }
            let route = match ev.get("#event_simpleName").or_else(|| ev.get("event_simpleName")).map(Value::as_str) {
                None => 0,
                Some(name) => match routes.get(name.as_ref()) {
                    Some(&i) => i,
                    None => {
                        // Bounded: past a few thousand types (not Falcon's), it starts over.
                        if routes.len() >= 4096 {
                            routes.clear();
                            route_lists.truncate(1);
                        }
                        let list =
                            rules.iter().enumerate().filter(|(_, r)| r.wants(Some(&name))).map(|(i, _)| i).collect();
                        route_lists.push(list);
                        routes.insert(name.into_owned(), route_lists.len() - 1);
                        route_lists.len() - 1
                    }
                },
            };
            // The rules the line probe says cannot pass on this event's line are not asked.
            let hint = ev.rules_hint();
            let asked =
                |r: &Compiled, i: usize| r.error.is_none() && !hint.is_some_and(|h| i < 64 && h & (1 << i) == 0);
            let list = &route_lists[route];
            // The last rule asked takes the event itself; the others a copy of it.
            let last = list.iter().rposition(|&i| asked(&rules[i], i));
            for (n, &i) in list.iter().enumerate() {
                let r = &mut rules[i];
                if !asked(r, i) {
                    continue;
                }
                if Some(n) == last {
                    // Moved in, not copied: the query tests its leading filters itself (testing
                    // them first, as for a shared event, would only repeat them).
                    r.ex.push(std::mem::take(&mut ev), &mut r.rows);
                } else {
                    r.ex.push_shared(&mut ev, &mut r.rows);
                }
                if let Some(e) = r.ex.ctx.error() {
                    r.error = Some(e);
                }
            }
            true
        })?;
        summary.files.extend(stats);
    }
    for r in rules.iter_mut() {
        if r.error.is_none() {
            r.ex.finish(&mut r.rows);
            r.error = r.ex.ctx.error();
        }
    }
    Ok(summary)
}

/// The first of `fields` present and non-empty in a row.
fn first(row: &Event, fields: &[&str]) -> Option<String> {
    fields.iter().find_map(|f| row.get_str(f).filter(|v| !v.is_empty()).map(|v| v.into_owned()))
}

/// What an alert shows as its evidence (docs/pack.md, "The output contract").
fn evidence(row: &Event) -> String {
    let pair = |a: &str, sep: &str, b: &str| {
        row.get_str(a).filter(|v| !v.is_empty()).map(|v| match row.get_str(b).filter(|w| !w.is_empty()) {
            Some(w) => format!("{v}{sep}{w}"),
            None => v.into_owned(),
        })
    };
    first(row, &["CommandLine", "TargetFileName"])
        .or_else(|| pair("RegObjectName", " = ", "RegStringValue"))
        .or_else(|| first(row, &["ScriptContent"]))
        .or_else(|| pair("CmdletName", " ", "CmdletParameters"))
        .or_else(|| pair("ConfigOption", " = ", "ConfigNewValue"))
        .or_else(|| pair("UriPath", "?", "UriQuery"))
        .or_else(|| {
            // A SQL Server audit record: its `statement:` line says what ran.
            let a = first(row, &["AuditRecord"])?;
            let stmt = a.lines().find_map(|l| l.strip_prefix("statement:")).filter(|s| !s.trim().is_empty());
            Some(stmt.map(|s| s.trim().to_string()).unwrap_or(a))
        })
        .unwrap_or_default()
}

/// One alert per output row of every rule, Critical first, then by score, time and rule.
pub fn alerts(rules: &[Compiled]) -> Vec<Event> {
    let mut out: Vec<(Severity, std::cmp::Reverse<u8>, f64, String, Event)> = Vec::new();
    for r in rules {
        let sev = r.rule.severity.unwrap_or(Severity::Low);
        let score = r.rule.score.unwrap_or(0);
        for row in &r.rows {
            let t = row.get("FirstSeen").or_else(|| row.get("@timestamp")).and_then(Value::as_num);
            let mut a = Event::new();
            a.push("Severity", Value::Str(sev.as_str().into()));
            a.push("Score", Value::Num(score as f64));
            a.push("Rule", Value::Str(r.rule.id.clone()));
            a.push("Technique", Value::Str(r.rule.technique().into()));
            // Apache logs name no host (unless `--hostname`): say so rather than leave it blank.
            a.push("ComputerName", Value::Str(first(row, &["ComputerName"]).unwrap_or_else(|| "(unknown)".into())));
            let when = t.map(|ms| crate::eval::time::strftime("%Y-%m-%d %H:%M:%S", ms, 0)).unwrap_or_default();
            a.push("FirstSeen", Value::Str(when));
            a.push(
                "Process",
                Value::Str(first(row, &["FileName", "ContextBaseFileName", "WebServer"]).unwrap_or_default()),
            );
            let mut parent = first(row, &["ParentBaseFileName"]).unwrap_or_default();
            if let Some(g) = first(row, &["GrandParentBaseFileName"]) {
                parent = format!("{g} > {parent}");
            }
            a.push("Parent", Value::Str(parent));
            a.push("Evidence", Value::Str(evidence(row)));
            a.push("EventCount", row.get("EventCount").cloned().unwrap_or(Value::Num(1.0)));
            a.push("RuleName", Value::Str(r.rule.name.clone()));
            out.push((sev, std::cmp::Reverse(score), t.unwrap_or(f64::MAX), r.rule.id.clone(), a));
        }
    }
    out.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)).then_with(|| a.3.cmp(&b.3)));
    out.into_iter().map(|x| x.4).collect()
}

/// Print alerts; the table leaves out the score and the rule's title (they are in the other
/// formats).
pub fn print_alerts(alerts: Vec<Event>, format: OutFormat, wide: bool) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let width = super::output::terminal_width();
    let mut out = Output::new(format, std::io::BufWriter::new(stdout.lock()), false, width, wide);
    for a in alerts {
        if format == OutFormat::Table {
            // Short headers, so that the evidence gets the width.
            let mut t = Event::with_capacity(9);
            for (k, v) in a.fields() {
                let k = match k {
                    "Score" | "RuleName" => continue,
                    "ComputerName" => "Host",
                    "EventCount" => "Count",
                    "Technique" => "ATT&CK",
                    other => other,
                };
                t.push(k.to_string(), v.clone());
            }
            out.row(t)?;
        } else {
            out.row(a)?;
        }
    }
    out.finish()
}

/// Rows as `run -o ndjson` prints them.
pub fn ndjson(rows: &[Event]) -> Vec<String> {
    rows.iter().map(|r| r.to_json(super::output::skipped_fields(false))).collect()
}
