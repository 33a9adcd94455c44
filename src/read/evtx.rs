//! Binary EVTX through the `evtx` crate. Two readings give the same event (held equal record
//! for record by `tests/renderings.rs`):
//! - straight from the record's BinXML ([`super::binxml`]): the template's fields filled from
//!   the record's values, no text rendered or parsed; used when the run does not read
//!   `@rawstring`;
//! - through the crate's JSON rendering, read by [`super::json::windows_json`], which keeps the
//!   JSON text as `@rawstring`; used when the run reads it, and for the records the first
//!   reading leaves to it.

use super::binxml::{Decoder, Keep};
use super::Problem;
use crate::event::Event;
use evtx::{EvtxChunkData, EvtxParser, ParserSettings};
use std::path::Path;
use std::sync::Arc;

/// Read an EVTX file; `on_event` gets each event (and returns false to stop). Broken records
/// and chunks are reported and skipped. `raw`: keep each record's JSON rendering as
/// `@rawstring` (otherwise records are read straight from their BinXML where they can be, with
/// only the fields in `keep` when it is given).
pub fn read(
    path: &Path,
    name: &str,
    threads: usize,
    raw: bool,
    keep: Option<Keep>,
    on_event: &mut dyn FnMut(Event) -> bool,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<u64, String> {
    let settings = ParserSettings::new().num_threads(threads.max(1)).indent(false);
    let mut parser = EvtxParser::from_path(path)
        .map_err(|e| format!("{name}: not a readable EVTX file: {e}"))?
        .with_configuration(settings.clone());
    let mut n = 0u64;
    if raw {
        // The crate renders chunks on `threads` threads and yields records in file order.
        for rec in parser.records_json() {
            match rec {
                Ok(r) => match super::json::windows_json(r.data) {
                    Ok(ev) => {
                        n += 1;
                        if !on_event(ev) {
                            break;
                        }
                    }
                    Err(reason) => {
                        on_problem(Problem { file: name.to_string(), line: Some(r.event_record_id), reason })
                    }
                },
                Err(e) => {
                    on_problem(Problem { file: name.to_string(), line: None, reason: format!("EVTX record: {e}") })
                }
            }
        }
        return Ok(n);
    }
    let settings = Arc::new(settings);
    let mut emit = |item: Item| -> bool {
        match item {
            Ok(ev) => {
                n += 1;
                on_event(ev)
            }
            Err(p) => {
                on_problem(p);
                true
            }
        }
    };
    if threads <= 1 {
        let mut dec = Decoder::new(keep);
        for chunk in parser.chunks() {
            if !decode_chunk(chunk, &settings, &mut dec, name, &mut emit) {
                break;
            }
        }
    } else {
        parallel(&mut parser, &settings, threads, name, keep, &mut emit);
    }
    Ok(n)
}

type Item = Result<Event, Problem>;

/// One chunk's records to `emit` (false: stop; returned): read from their BinXML where they
/// can be, through the crate's JSON rendering where not (the whole chunk when its records are
/// not laid out as expected).
fn decode_chunk(
    chunk: evtx::err::Result<EvtxChunkData>,
    settings: &Arc<ParserSettings>,
    dec: &mut Decoder,
    name: &str,
    emit: &mut dyn FnMut(Item) -> bool,
) -> bool {
    let problem = |reason: String, line: Option<u64>| Problem { file: name.to_string(), line, reason };
    let mut data = match chunk {
        Ok(d) => d,
        Err(e) => return emit(Err(problem(format!("EVTX record: {e}"), None))),
    };
    let mut recs = Vec::new();
    if dec.chunk(&data.data, &data.header, &mut recs) {
        let mut rendered: Option<Vec<(u64, Item)>> = None;
        for (id, ev) in recs {
            let item = match ev {
                Some(ev) => Ok(ev),
                None => {
                    let all = rendered.get_or_insert_with(|| {
                        let mut v = Vec::new();
                        rendered_chunk(&mut data, settings, name, &mut |id, item| {
                            v.push((id.unwrap_or(u64::MAX), item));
                            true
                        });
                        v
                    });
                    match all.iter().position(|(x, _)| *x == id) {
                        Some(i) => all.swap_remove(i).1,
                        None => Err(problem("EVTX record: not read by the evtx crate".to_string(), Some(id))),
                    }
                }
            };
            if !emit(item) {
                return false;
            }
        }
        return true;
    }
    rendered_chunk(&mut data, settings, name, &mut |_, item| emit(item))
}

/// A chunk's records through the crate's JSON rendering, each with its ID when known.
fn rendered_chunk(
    data: &mut EvtxChunkData,
    settings: &Arc<ParserSettings>,
    name: &str,
    emit: &mut dyn FnMut(Option<u64>, Item) -> bool,
) -> bool {
    let problem = |reason: String, line: Option<u64>| Problem { file: name.to_string(), line, reason };
    let number = data.number;
    let mut chunk = match data.parse(Arc::clone(settings)) {
        Ok(c) => c,
        Err(e) => {
            let at = number.map(|n| format!("chunk {n}: ")).unwrap_or_default();
            return emit(None, Err(problem(format!("EVTX record: {at}{e}"), None)));
        }
    };
    for rec in chunk.iter() {
        let (id, item) = match rec {
            Ok(r) => {
                let (id, recovered) = (r.event_record_id, r.recovered);
                match r.into_json().map_err(|e| e.to_string()).and_then(|j| super::json::windows_json(j.data)) {
                    Ok(ev) => (Some(id), Ok(ev)),
                    // Carved records that fail to render are noise, as the crate treats them.
                    Err(_) if recovered => continue,
                    Err(reason) => (Some(id), Err(problem(reason, Some(id)))),
                }
            }
            Err(e) => (None, Err(problem(format!("EVTX record: {e}"), None))),
        };
        if !emit(id, item) {
            return false;
        }
    }
    true
}

/// Chunks read here, in file order, parsed and decoded on `threads` workers, their records
/// given to `emit` in file order (at most two chunks per worker in flight).
fn parallel(
    parser: &mut EvtxParser<std::fs::File>,
    settings: &Arc<ParserSettings>,
    threads: usize,
    name: &str,
    keep: Option<Keep>,
    emit: &mut dyn FnMut(Item) -> bool,
) {
    use std::collections::BTreeMap;
    use std::sync::mpsc;
    use std::sync::Mutex;
    let (job_tx, job_rx) = mpsc::channel::<(u64, evtx::err::Result<EvtxChunkData>)>();
    let (done_tx, done_rx) = mpsc::channel::<(u64, Vec<Item>)>();
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (job_rx, done_tx, keep) = (&job_rx, done_tx.clone(), keep.clone());
            s.spawn(move || {
                let mut dec = Decoder::new(keep);
                loop {
                    let job = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, chunk))) = job else { break };
                    let mut out = Vec::new();
                    decode_chunk(chunk, settings, &mut dec, name, &mut |item| {
                        out.push(item);
                        true
                    });
                    if done_tx.send((seq, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut chunks = parser.chunks();
        let (mut sent, mut next, mut exhausted) = (0u64, 0u64, false);
        let mut ready: BTreeMap<u64, Vec<Item>> = BTreeMap::new();
        'run: loop {
            while !exhausted && sent - next < 2 * threads as u64 {
                match chunks.next() {
                    Some(c) => {
                        if job_tx.send((sent, c)).is_err() {
                            break 'run;
                        }
                        sent += 1;
                    }
                    None => exhausted = true,
                }
            }
            while let Some(items) = ready.remove(&next) {
                next += 1;
                for item in items {
                    if !emit(item) {
                        break 'run;
                    }
                }
            }
            if exhausted && next == sent {
                break;
            }
            // Wait for the next chunk's records, when it is on its way (else read more).
            if sent > next && !ready.contains_key(&next) {
                match done_rx.recv() {
                    Ok((seq, items)) => {
                        ready.insert(seq, items);
                    }
                    Err(_) => break,
                }
            }
        }
        drop(job_tx);
    });
}
