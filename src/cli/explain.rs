//! `cqlhunt explain --plan`: the plan as text.

use crate::lang::ast::Query;
use crate::plan::Plan;
use std::fmt::Write;

/// Render a plan for people.
pub fn plan_text(q: &Query, p: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "query ({} steps{}):",
        q.pipeline.steps.len(),
        if p.aggregates {
            ", aggregating"
        } else {
            ", no aggregate: LogScale would keep the newest 200 events; cqlhunt prints all"
        }
    );
    for (i, st) in p.steps.iter().enumerate() {
        let text = st.text.replace('\n', "\n        ");
        let _ = writeln!(s, "  {:>2}. {:<9} {}", i + 1, st.kind, text);
        for c in &st.calls {
            let _ = writeln!(s, "      {} ({}):", c.name, c.category.as_str());
            for (n, v, d) in &c.args {
                let _ = writeln!(s, "        {n} = {v}{}", if *d { "   (default)" } else { "" });
            }
        }
    }
    let list = |v: &std::collections::BTreeSet<String>| v.iter().cloned().collect::<Vec<_>>().join(", ");
    let _ = writeln!(s, "fields read: {}", list(&p.fields_read));
    let _ = writeln!(s, "fields written: {}", list(&p.fields_written));
    match &p.prefilter {
        Some(v) => {
            let _ = writeln!(s, "prefilter: an event must contain one of: {}", v.join(", "));
        }
        None => {
            let _ = writeln!(s, "prefilter: none (every event is evaluated)");
        }
    }
    if let Some(names) = &p.event_names {
        let _ =
            writeln!(s, "event types: only {} can pass (other Falcon lines are skipped unparsed)", names.join(", "));
    }
    if !p.params.is_empty() {
        let _ = writeln!(s, "parameters:");
        for (k, v) in &p.params {
            let _ = writeln!(s, "  ?{k} = {}", v.as_deref().unwrap_or("(unbound)"));
        }
    }
    if !p.saved.is_empty() {
        let _ = writeln!(s, "saved queries: {}", list(&p.saved));
    }
    s
}
