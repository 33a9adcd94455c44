//! Every example in the function table is valid CQL: it parses in strict mode and the planner
//! accepts its names and arguments.

use cqlhunt::cli::check_source;
use cqlhunt::func::{Category, FunctionTable};
use cqlhunt::plan::PlanOptions;

#[test]
fn every_example_checks_clean() {
    let mut bad = Vec::new();
    let mut n = 0;
    for f in FunctionTable::builtin().all() {
        if f.category == Category::Parser {
            // Parser-only functions are rejected in queries by design (E0307).
            continue;
        }
        for ex in &f.examples {
            n += 1;
            let errs: Vec<_> =
                check_source(ex, false, &PlanOptions::default()).into_iter().filter(|d| d.is_error()).collect();
            if !errs.is_empty() {
                bad.push(format!("{}: `{ex}`: {}", f.name, errs[0].message));
            }
        }
    }
    assert!(n >= 190, "only {n} examples");
    assert!(bad.is_empty(), "{} examples fail:\n{}", bad.len(), bad.join("\n"));
}
