//! Binary EVTX through the `evtx` crate: every record rendered to XML and read by the same
//! code as Windows event XML, so a record gives the same event from either rendering.

use super::Problem;
use crate::event::Event;
use std::path::Path;

/// Read an EVTX file; `on_event` gets each event (and returns false to stop). Broken records
/// and chunks are reported and skipped.
pub fn read(
    path: &Path,
    name: &str,
    threads: usize,
    on_event: &mut dyn FnMut(Event) -> bool,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<u64, String> {
    // The crate renders chunks on `threads` threads and yields records in file order.
    let settings = evtx::ParserSettings::new().num_threads(threads.max(1)).indent(false);
    let mut parser = evtx::EvtxParser::from_path(path)
        .map_err(|e| format!("{name}: not a readable EVTX file: {e}"))?
        .with_configuration(settings);
    let mut n = 0u64;
    for rec in parser.records_json() {
        match rec {
            Ok(r) => match super::json::windows_json(r.data) {
                Ok(ev) => {
                    n += 1;
                    if !on_event(ev) {
                        break;
                    }
                }
                Err(reason) => on_problem(Problem { file: name.to_string(), line: Some(r.event_record_id), reason }),
            },
            Err(e) => on_problem(Problem { file: name.to_string(), line: None, reason: format!("EVTX record: {e}") }),
        }
    }
    Ok(n)
}
