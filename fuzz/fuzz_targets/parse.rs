//! Fuzz the front end: any bytes through decode → parse (strict and lenient) → plan → fix,
//! and for accepted queries the print → parse round trip.
#![no_main]

use cqlhunt::cli::{check_source, decode, fix_text};
use cqlhunt::lang::spans::erase;
use cqlhunt::lang::{parse, query_to_string, ParseOptions};
use cqlhunt::plan::PlanOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, _) = decode(data);
    let _ = check_source(&text, false, &PlanOptions::default());
    let _ = check_source(&text, true, &PlanOptions::default());
    let _ = fix_text(&text);
    let (mut a, d) = parse(&text, ParseOptions::default());
    if !d.iter().any(|d| d.is_error()) {
        let printed = query_to_string(&a);
        let (mut b, d2) = parse(&printed, ParseOptions::default());
        assert!(!d2.iter().any(|d| d.is_error()), "printed form does not parse: {printed:?}");
        erase(&mut a);
        erase(&mut b);
        assert_eq!(a, b, "round trip changed the tree: {printed:?}");
    }
});
