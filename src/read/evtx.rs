//! Binary EVTX through the `evtx` crate. Two readings give the same event (held equal record
//! for record by `tests/renderings.rs`):
//! - straight from the record's BinXML ([`super::binxml`]): the template's fields filled from
//!   the record's values, no text rendered or parsed; used when the run does not read
//!   `@rawstring`;
//! - through the crate's JSON rendering, read by [`super::json::windows_json`], which keeps the
//!   JSON text as `@rawstring`; used when the run reads it, and for the records the first
//!   reading leaves to it.

use super::binxml::{Decoder, Keep};
use super::mapping::Mappings;
use super::Problem;
use crate::event::Event;
use evtx::{EvtxChunkData, EvtxParser, ParserSettings};
use std::path::Path;
use std::sync::Arc;

/// How to read an EVTX file.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// More than one: chunks are read on a thread of their own.
    pub threads: usize,
    /// Keep each record's JSON rendering as `@rawstring` (otherwise records are read straight
    /// from their BinXML where they can be).
    pub raw: bool,
    /// Only these fields, when read from the BinXML (all when `None`).
    pub keep: Option<&'a Keep>,
    /// Each event is normalised by these tables.
    pub maps: &'a Mappings,
}

/// Read an EVTX file; `on_event` gets each event (and returns false to stop). Broken records
/// and chunks are reported and skipped.
pub fn read(
    path: &Path,
    name: &str,
    opts: Options<'_>,
    on_event: &mut dyn FnMut(Event) -> bool,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<u64, String> {
    let Options { threads, raw, keep, maps } = opts;
    let keep = keep.cloned();
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
                    Ok(mut ev) => {
                        maps.apply(&mut ev);
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
            if !decode_chunk(chunk, &settings, &mut dec, name, maps, &mut emit) {
                break;
            }
        }
    } else {
        parallel(&mut parser, &settings, name, keep, maps, &mut emit);
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
    maps: &Mappings,
    emit: &mut dyn FnMut(Item) -> bool,
) -> bool {
    let mut emit = |item: Item| {
        emit(item.map(|mut ev| {
            maps.apply(&mut ev);
            ev
        }))
    };
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

/// Chunks read on a thread of their own, decoded here in file order. (Decoding on other
/// threads makes each event's strings be freed by a thread that did not allocate them, which
/// costs the allocator more than the decoding saves.)
fn parallel(
    parser: &mut EvtxParser<std::fs::File>,
    settings: &Arc<ParserSettings>,
    name: &str,
    keep: Option<Keep>,
    maps: &Mappings,
    emit: &mut dyn FnMut(Item) -> bool,
) {
    // A batch of chunks at a time: one is too little to pay for the hand-over.
    const BATCH: usize = 16;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<evtx::err::Result<EvtxChunkData>>>(4);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut chunks = parser.chunks();
            loop {
                let batch: Vec<_> = chunks.by_ref().take(BATCH).collect();
                if batch.is_empty() || tx.send(batch).is_err() {
                    break;
                }
            }
        });
        let mut dec = Decoder::new(keep);
        'read: for batch in rx.iter() {
            for chunk in batch {
                if !decode_chunk(chunk, settings, &mut dec, name, maps, emit) {
                    break 'read;
                }
            }
        }
        // Dropping the receiver stops the reading thread.
        drop(rx);
    });
}
