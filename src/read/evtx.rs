//! Binary EVTX through the `evtx` crate. Two readings give the same event (held equal record
//! for record by `tests/renderings.rs`):
//! - straight from the record's BinXML ([`super::binxml`]): the template's fields filled from
//!   the record's values, no text rendered or parsed; used when the run does not read
//!   `@rawstring`;
//! - through the crate's JSON rendering, read by [`super::json::windows_json`], which keeps the
//!   JSON text as `@rawstring`; used when the run reads it, and for the records the first
//!   reading leaves to it.
//!
//! On one thread, chunks are read by their position into one buffer ([`FileChunks`], walked as
//! the crate walks them: [`Walk`]); on more, a thread of their own reads them through the crate.

use super::binxml::{Decoder, Keep};
use super::mapping::Mappings;
use super::Problem;
use crate::event::Event;
use evtx::{EvtxChunkData, EvtxChunkHeader, EvtxParser, ParserSettings};
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
        if let Ok(file) = std::fs::File::open(path) {
            let len = file.metadata().map_err(|e| format!("{name}: {e}"))?.len();
            let count = chunk_count(len, u64::from(parser.header().header_block_size));
            let mut src = FileChunks { file, buf: vec![0; CHUNK] };
            let mut walk = Walk::new(count, oldest_chunk(count, &mut src));
            while let Some(chunk) = walk.next(&mut src) {
                let header;
                let chunk = match chunk {
                    Ok((h, n)) => {
                        header = h;
                        Ok(Chunk { data: src.bytes(), header: &header, number: Some(n) })
                    }
                    // Said as the crate says it of the chunk.
                    Err(n) => Err(format!("EVTX record: Failed to parse chunk number {n}")),
                };
                if !decode_chunk(chunk, &settings, &mut dec, name, maps, &mut emit) {
                    break;
                }
            }
            return Ok(n);
        }
        for chunk in parser.chunks() {
            if !decode_chunk(Chunk::of(&chunk), &settings, &mut dec, name, maps, &mut emit) {
                break;
            }
        }
    } else {
        parallel(&mut parser, &settings, name, keep, maps, &mut emit);
    }
    Ok(n)
}

type Item = Result<Event, Problem>;

/// A chunk as read: its 64 KiB, its header, and its number in the file (when known).
#[derive(Debug)]
struct Chunk<'a> {
    data: &'a [u8],
    header: &'a EvtxChunkHeader,
    number: Option<u64>,
}

impl Chunk<'_> {
    /// A chunk the crate read, or what it said of a broken one.
    fn of(read: &evtx::err::Result<EvtxChunkData>) -> Result<Chunk<'_>, String> {
        match read {
            Ok(d) => Ok(Chunk { data: &d.data, header: &d.header, number: d.number }),
            Err(e) => Err(format!("EVTX record: {e}")),
        }
    }
}

/// Where a [`Walk`] reads chunks from: chunk `n`'s 64 KiB are loaded into one buffer, reused.
trait ChunkSource {
    /// Loads chunk `n`; false when the input ends before it does (or cannot be read there).
    fn load(&mut self, n: u64) -> bool;
    /// The chunk loaded last.
    fn bytes(&self) -> &[u8];
    /// Chunk `n`'s header (its first 512 bytes) into `buf`, the loaded chunk left as it is;
    /// false when they are not there.
    fn header(&mut self, n: u64, buf: &mut [u8; 512]) -> bool;
}

/// Where chunk `n` starts in the file.
fn chunk_at(n: u64) -> Option<u64> {
    n.checked_mul(CHUNK as u64)?.checked_add(FILE_HEADER as u64)
}

/// Chunks read from a file by their position, each into the one buffer (what the crate's
/// parser does with a seek, a read through its buffer and a new 64 KiB vector per chunk).
#[derive(Debug)]
struct FileChunks {
    file: std::fs::File,
    buf: Vec<u8>,
}

impl ChunkSource for FileChunks {
    fn load(&mut self, n: u64) -> bool {
        use std::os::unix::fs::FileExt;
        chunk_at(n).is_some_and(|at| self.file.read_exact_at(&mut self.buf, at).is_ok())
    }

    fn bytes(&self) -> &[u8] {
        &self.buf
    }

    fn header(&mut self, n: u64, buf: &mut [u8; 512]) -> bool {
        use std::os::unix::fs::FileExt;
        chunk_at(n).is_some_and(|at| self.file.read_exact_at(buf, at).is_ok())
    }
}

/// The chunks' size, and where the first starts.
const CHUNK: usize = 65536;
const FILE_HEADER: usize = 4096;

/// Whole chunks after the file header (of `header_block_size` bytes), as the crate counts them.
fn chunk_count(len: u64, header_block_size: u64) -> u64 {
    len.saturating_sub(header_block_size) / CHUNK as u64
}

/// The chunk whose header names the lowest record ID, where Windows starts reading a log (a
/// header whose range is reversed says nothing of where its records belong).
fn oldest_chunk(count: u64, src: &mut dyn ChunkSource) -> u64 {
    let mut oldest = (u64::MAX, 0);
    let mut bytes = [0u8; 512];
    for n in 0..count {
        if !src.header(n, &mut bytes) {
            break;
        }
        if let Ok(h) = EvtxChunkHeader::from_bytes(&bytes) {
            if h.first_event_record_id <= h.last_event_record_id && h.first_event_record_id < oldest.0 {
                oldest = (h.first_event_record_id, n);
            }
        }
    }
    oldest.1
}

/// `EvtxParser::chunks`, chunk for chunk (the same chunks in the same order, the same ones
/// broken: held equal by a test): from the chunk that holds the oldest records to the end of
/// the file, then from its start (a full log writes each new chunk over its oldest), empty
/// chunks passed over, and chunks past the count the file's size gives read while they are
/// whole. (Checksums are not checked: the reader's settings do not ask the crate to.)
#[derive(Debug)]
struct Walk {
    count: u64,
    next: u64,
    oldest: u64,
    wrapped: bool,
}

impl Walk {
    /// The walk from chunk `oldest` ([`oldest_chunk`]) of `count`.
    fn new(count: u64, oldest: u64) -> Walk {
        Walk { count, next: oldest, oldest, wrapped: false }
    }

    /// The next chunk: loaded in `src`, with its header and number; `Err` with the number of a
    /// broken one (cut short, or its header not a chunk's).
    fn next(&mut self, src: &mut dyn ChunkSource) -> Option<Result<(EvtxChunkHeader, u64), u64>> {
        loop {
            // Once it has wrapped around, the walk ends where it started.
            let end = if self.wrapped { self.oldest } else { u64::MAX };
            if let Some((chunk, n)) = self.find_next(src, self.next, end) {
                self.next = n.checked_add(1)?;
                return Some(chunk.map(|header| (header, n)));
            }
            if self.wrapped || self.oldest == 0 {
                return None;
            }
            self.wrapped = true;
            self.next = 0;
        }
    }

    /// The first chunk from `n` on, before `end`, that is not empty, with its number.
    fn find_next(
        &self,
        src: &mut dyn ChunkSource,
        mut n: u64,
        end: u64,
    ) -> Option<(Result<EvtxChunkHeader, u64>, u64)> {
        loop {
            if n >= end {
                return None;
            }
            let header = if !src.load(n) {
                None
            } else if src.bytes().iter().all(|&b| b == 0) {
                n = n.checked_add(1)?;
                continue;
            } else {
                EvtxChunkHeader::from_bytes(src.bytes()).ok()
            };
            return match header {
                Some(h) => Some((Ok(h), n)),
                // Past the count a broken chunk is the end of the file, not a broken chunk.
                None if n >= self.count => None,
                None => Some((Err(n), n)),
            };
        }
    }
}

/// One chunk's records to `emit` (false: stop; returned): read from their BinXML where they
/// can be, through the crate's JSON rendering where not (the whole chunk when its records are
/// not laid out as expected).
fn decode_chunk(
    chunk: Result<Chunk<'_>, String>,
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
    let chunk = match chunk {
        Ok(c) => c,
        Err(e) => return emit(Err(problem(e, None))),
    };
    let mut recs = Vec::new();
    if dec.chunk(chunk.data, chunk.header, &mut recs) {
        let mut rendered: Option<Vec<(u64, Item)>> = None;
        for (id, ev) in recs {
            let item = match ev {
                Some(ev) => Ok(ev),
                None => {
                    let all = rendered.get_or_insert_with(|| {
                        let mut v = Vec::new();
                        rendered_chunk(&chunk, settings, name, &mut |id, item| {
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
    rendered_chunk(&chunk, settings, name, &mut |_, item| emit(item))
}

/// A chunk's records through the crate's JSON rendering, each with its ID when known.
fn rendered_chunk(
    chunk: &Chunk<'_>,
    settings: &Arc<ParserSettings>,
    name: &str,
    emit: &mut dyn FnMut(Option<u64>, Item) -> bool,
) -> bool {
    let problem = |reason: String, line: Option<u64>| Problem { file: name.to_string(), line, reason };
    let number = chunk.number;
    // The crate renders a chunk it owns: a copy (of the few chunks this reader leaves to it).
    let mut data = match EvtxChunkData::new(chunk.data.to_vec(), false) {
        Ok(d) => EvtxChunkData { number, ..d },
        Err(e) => return emit(None, Err(problem(format!("EVTX record: {e}"), None))),
    };
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
                if !decode_chunk(Chunk::of(&chunk), settings, &mut dec, name, maps, emit) {
                    break 'read;
                }
            }
        }
        // Dropping the receiver stops the reading thread.
        drop(rx);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

    /// The chunks the crate's parser yields over a file's bytes: each chunk's number, or what
    /// it says of a broken one.
    fn crate_walk(bytes: &[u8]) -> Vec<Result<u64, String>> {
        let parser = EvtxParser::from_read_seek(std::io::Cursor::new(bytes.to_vec()));
        let mut parser = parser.expect("an EVTX file header");
        let walk = parser.chunks().map(|c| c.map(|d| d.number.expect("numbered")).map_err(|e| e.to_string()));
        walk.collect()
    }

    /// Chunks from a file's bytes.
    struct Bytes<'a> {
        data: &'a [u8],
        at: usize,
    }

    impl ChunkSource for Bytes<'_> {
        fn load(&mut self, n: u64) -> bool {
            self.at = chunk_at(n).expect("a small file") as usize;
            self.data.len() >= self.at + CHUNK
        }

        fn bytes(&self) -> &[u8] {
            &self.data[self.at..self.at + CHUNK]
        }

        fn header(&mut self, n: u64, buf: &mut [u8; 512]) -> bool {
            let at = chunk_at(n).expect("a small file") as usize;
            self.data.get(at..at + 512).map(|b| buf.copy_from_slice(b)).is_some()
        }
    }

    /// The same from [`Walk`], its errors said as the reader says them.
    fn our_walk(bytes: &[u8]) -> Vec<Result<u64, String>> {
        let parser = EvtxParser::from_read_seek(std::io::Cursor::new(bytes.to_vec())).expect("header");
        let count = chunk_count(bytes.len() as u64, u64::from(parser.header().header_block_size));
        let mut src = Bytes { data: bytes, at: 0 };
        let mut walk = Walk::new(count, oldest_chunk(count, &mut src));
        let mut out = Vec::new();
        while let Some(c) = walk.next(&mut src) {
            out.push(c.map(|(_, n)| n).map_err(|n| format!("Failed to parse chunk number {n}")));
        }
        out
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("corpus folder").flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "evtx") {
                out.push(p);
            }
        }
    }

    /// The walk reads the chunks the crate reads, in its order, with the same ones
    /// broken: over every corpus file, and over a file made to have a broken chunk, an empty
    /// one, a cut last one, and records that wrapped around (the oldest chunk in the middle).
    #[test]
    fn the_chunk_walk_is_the_crates() {
        let mut paths = Vec::new();
        files(Path::new(CORPUS), &mut paths);
        assert!(paths.len() >= 20, "{} corpus EVTX files", paths.len());
        let mut multi = None;
        for p in &paths {
            let bytes = std::fs::read(p).expect("read");
            let walk = crate_walk(&bytes);
            assert_eq!(our_walk(&bytes), walk, "{}", p.display());
            if walk.len() >= 3 && walk.iter().all(Result::is_ok) && multi.is_none() {
                multi = Some(bytes);
            }
        }
        let bytes = multi.expect("a corpus file of three chunks or more");
        let chunk = |n: usize| FILE_HEADER + n * CHUNK..FILE_HEADER + (n + 1) * CHUNK;
        let mut variants: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut broken = bytes.clone();
        broken[chunk(1)].fill(0xAB);
        variants.push(("a broken chunk", broken));
        let mut empty = bytes.clone();
        empty[chunk(1)].fill(0);
        variants.push(("an empty chunk", empty));
        let mut cut = bytes.clone();
        cut.truncate(chunk(2).start + CHUNK / 2);
        variants.push(("a cut last chunk", cut));
        // The last chunk moved to the front: the oldest records are in the second chunk, and
        // the walk goes from there to the end, then back to the first.
        // (A log's file may hold empty chunks past those written: `n` are.)
        let n = crate_walk(&bytes).len();
        assert_eq!(crate_walk(&bytes), (0..n as u64).map(Ok).collect::<Vec<_>>());
        let mut wrapped = bytes[..FILE_HEADER].to_vec();
        wrapped.extend_from_slice(&bytes[chunk(n - 1)]);
        wrapped.extend_from_slice(&bytes[chunk(0).start..chunk(n - 2).end]);
        wrapped.extend_from_slice(&bytes[chunk(n).start..]);
        variants.push(("wrapped", wrapped));
        let mut broken_header = bytes.clone();
        broken_header[chunk(0).start] = b'X';
        variants.push(("the first chunk's magic broken", broken_header));
        for (what, v) in &variants {
            let walk = crate_walk(v);
            assert_eq!(our_walk(v), walk, "{what}");
            assert!(!walk.is_empty(), "{what}");
        }
        let order = |what: &str| our_walk(&variants.iter().find(|(w, _)| *w == what).expect(what).1);
        assert!(order("a broken chunk").iter().any(Result::is_err), "the broken chunk is said");
        assert_eq!(order("an empty chunk").len(), n - 1, "the empty chunk is passed over");
        assert_eq!(order("wrapped").first(), Some(&Ok(1)), "from the oldest records");
        assert_eq!(order("wrapped").last(), Some(&Ok(0)), "the newest last");
    }
}
