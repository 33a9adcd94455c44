//! Binary EVTX through the `evtx` crate. Two readings give the same event (held equal record
//! for record by `tests/renderings.rs`):
//! - straight from the record's BinXML ([`super::binxml`]): the template's fields filled from
//!   the record's values, no text rendered or parsed; used when the run does not read
//!   `@rawstring`;
//! - through the crate's JSON rendering, read by [`super::json::windows_json`], which keeps the
//!   JSON text as `@rawstring`; used when the run reads it, and for the records the first
//!   reading leaves to it.
//!
//! Chunks are read by their position, each only as far as its records go ([`FileChunks`]),
//! walked as the crate walks them ([`Walk`]), into one buffer. On more than one thread, a
//! thread of its own reads and decodes them, and hands their events over in batches
//! ([`Flat`]). An input that cannot be opened again by its path is read through the crate.

use super::binxml::{Decoder, Keep};
use super::mapping::Mappings;
use super::Problem;
use crate::event::{Event, Value};
use evtx::{EvtxChunkData, EvtxChunkHeader, EvtxParser, ParserSettings};
use std::path::Path;
use std::sync::Arc;

/// How to read an EVTX file.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// More than one: chunks are read and decoded on a thread of their own.
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
    let file = std::fs::File::open(path).and_then(|f| Ok((f.metadata()?.len(), f)));
    let Ok((len, file)) = file else {
        // Not reopened: the crate reads the file it opened.
        let mut dec = Decoder::new(keep);
        for chunk in parser.chunks() {
            if !decode_chunk(Chunk::of(&chunk), &settings, &mut dec, name, Some(maps), &mut emit) {
                break;
            }
        }
        return Ok(n);
    };
    let count = chunk_count(len, u64::from(parser.header().header_block_size));
    let mut src = FileChunks::new(file, len);
    let mut walk = Walk::new(count, oldest_chunk(count, &mut src));
    if threads <= 1 {
        let mut dec = Decoder::new(keep);
        while let Some(true) = decode_next(&mut walk, &mut src, &settings, &mut dec, name, Some(maps), &mut emit) {}
    } else {
        parallel(walk, src, &settings, name, keep, maps, &mut emit);
    }
    Ok(n)
}

/// A chunk the [`Walk`] reached: its header and number, or the number of a chunk whose header
/// does not parse.
type Reached = Result<(EvtxChunkHeader, u64), u64>;

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

/// Chunks read from a file by their position, each into the source's one buffer, reused (on
/// two threads, by the decoding thread). (The crate's parser seeks, reads through its buffer
/// and makes a new 64 KiB vector per chunk.)
///
/// Of a chunk, only its used part is read: up to its header's free-space offset, where its
/// records end (the crate and [`Decoder::chunk`] read nothing past it, and its checksum covers
/// nothing past it). The rest of the buffer is kept zeroed. A small log's chunks, and a log's
/// last, are mostly free space; the benchmark's EVTX file (the corpus's small files' chunks)
/// uses 80 MB of its 200.
#[derive(Debug)]
struct FileChunks {
    file: std::fs::File,
    /// The file's length: a chunk is there when all its 64 KiB are, used or not (as the crate
    /// counts chunks).
    len: u64,
    buf: Buffer,
}

/// A chunk's 64 KiB buffer, zero past `dirty`.
#[derive(Debug)]
struct Buffer {
    bytes: Vec<u8>,
    dirty: usize,
}

impl Buffer {
    fn new() -> Buffer {
        Buffer { bytes: vec![0; CHUNK], dirty: 0 }
    }
}

impl FileChunks {
    fn new(file: std::fs::File, len: u64) -> FileChunks {
        FileChunks { file, len, buf: Buffer::new() }
    }
}

/// A chunk's used bytes as its header (the first 512 bytes) says: up to its free-space offset;
/// all of it when the header is not a chunk's or the offset is out of place.
fn used_bytes(header: &[u8]) -> usize {
    let offset = match header.get(0x30..0x34) {
        Some(b) if header.starts_with(b"ElfChnk\0") => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
        _ => return CHUNK,
    };
    if (512..=CHUNK).contains(&offset) {
        offset
    } else {
        CHUNK
    }
}

impl ChunkSource for FileChunks {
    fn load(&mut self, n: u64) -> bool {
        use std::os::unix::fs::FileExt;
        let Some(at) = chunk_at(n).filter(|&at| at.checked_add(CHUNK as u64).is_some_and(|end| end <= self.len)) else {
            return false;
        };
        // The header's page, then the rest of the used part.
        const FIRST: usize = 4096;
        let buf = &mut self.buf;
        if self.file.read_exact_at(&mut buf.bytes[..FIRST], at).is_err() {
            return false;
        }
        let used = used_bytes(&buf.bytes[..512]).max(FIRST);
        if self.file.read_exact_at(&mut buf.bytes[FIRST..used], at + FIRST as u64).is_err() {
            return false;
        }
        // What an earlier chunk left past this one's used part.
        if buf.dirty > used {
            buf.bytes[used..buf.dirty].fill(0);
        }
        buf.dirty = used;
        true
    }

    fn bytes(&self) -> &[u8] {
        &self.buf.bytes
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
    fn next(&mut self, src: &mut dyn ChunkSource) -> Option<Reached> {
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
/// not laid out as expected). Each is normalised by `maps` when given (a decoding thread
/// leaves that to the thread that takes its events, [`parallel`]).
fn decode_chunk(
    chunk: Result<Chunk<'_>, String>,
    settings: &Arc<ParserSettings>,
    dec: &mut Decoder,
    name: &str,
    maps: Option<&Mappings>,
    emit: &mut dyn FnMut(Item) -> bool,
) -> bool {
    let mut emit = |item: Item| {
        emit(item.map(|mut ev| {
            if let Some(maps) = maps {
                maps.apply(&mut ev);
            }
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

/// The next chunk the walk reaches, decoded into `emit` as [`decode_chunk`] does (what it
/// returns); `None` past the last chunk.
fn decode_next(
    walk: &mut Walk,
    src: &mut FileChunks,
    settings: &Arc<ParserSettings>,
    dec: &mut Decoder,
    name: &str,
    maps: Option<&Mappings>,
    emit: &mut dyn FnMut(Item) -> bool,
) -> Option<bool> {
    let reached = walk.next(src)?;
    let chunk = match &reached {
        Ok((header, n)) => Ok(Chunk { data: src.bytes(), header, number: Some(*n) }),
        // Said as the crate says it of the chunk.
        Err(n) => Err(format!("EVTX record: Failed to parse chunk number {n}")),
    };
    Some(decode_chunk(chunk, settings, dec, name, maps, emit))
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

/// Items (events and problems) written into a few buffers by the thread that decoded them, to
/// be made into events again by the thread that reads them. Each thread allocates and frees
/// its own events' strings: a string freed by a thread that did not allocate it costs the
/// allocator more than its decoding. The buffers go back and forth, reused.
#[derive(Debug, Default)]
struct Flat {
    text: String,
    fields: Vec<(FlatName, FlatValue)>,
    items: Vec<FlatItem>,
}

#[derive(Debug)]
enum FlatName {
    /// A name from the table of known names, shared.
    Known(&'static str),
    /// Another: its place in `text`.
    Text(usize, usize),
}

#[derive(Debug)]
enum FlatValue {
    Str(usize, usize),
    Num(f64),
}

#[derive(Debug)]
enum FlatItem {
    /// An event of the next `n` fields.
    Event {
        n: usize,
        hint: Option<u64>,
    },
    Problem(Problem),
}

impl Flat {
    fn clear(&mut self) {
        self.text.clear();
        self.fields.clear();
        self.items.clear();
    }

    fn push(&mut self, item: Item) {
        let ev = match item {
            Ok(ev) => ev,
            Err(p) => return self.items.push(FlatItem::Problem(p)),
        };
        let mut text = |t: &str| {
            let at = self.text.len();
            self.text.push_str(t);
            (at, self.text.len())
        };
        for (k, v) in ev.named_fields() {
            let name = match k {
                std::borrow::Cow::Borrowed(k) => FlatName::Known(k),
                std::borrow::Cow::Owned(k) => {
                    let (a, b) = text(k);
                    FlatName::Text(a, b)
                }
            };
            let value = match v {
                Value::Str(v) => {
                    let (a, b) = text(v);
                    FlatValue::Str(a, b)
                }
                Value::Num(n) => FlatValue::Num(*n),
            };
            self.fields.push((name, value));
        }
        self.items.push(FlatItem::Event { n: ev.len(), hint: ev.rules_hint() });
    }

    /// The items, made again (in order) and normalised by `maps`; `emit` returns false to stop.
    fn emit(&mut self, maps: &Mappings, emit: &mut dyn FnMut(Item) -> bool) -> bool {
        let mut fields = self.fields.iter();
        for item in self.items.drain(..) {
            let item = match item {
                FlatItem::Problem(p) => Err(p),
                FlatItem::Event { n, hint } => {
                    let mut ev = Event::with_capacity(n);
                    for (k, v) in fields.by_ref().take(n) {
                        let name: crate::event::Name = match *k {
                            FlatName::Known(k) => std::borrow::Cow::Borrowed(k),
                            FlatName::Text(a, b) => std::borrow::Cow::Owned(self.text[a..b].to_string()),
                        };
                        let value = match *v {
                            FlatValue::Str(a, b) => Value::Str(self.text[a..b].to_string()),
                            FlatValue::Num(n) => Value::Num(n),
                        };
                        ev.push(name, value);
                    }
                    ev.set_rules_hint(hint);
                    maps.apply(&mut ev);
                    Ok(ev)
                }
            };
            if !emit(item) {
                return false;
            }
        }
        true
    }
}

/// Two threads: one walks the chunks, reads and decodes them, handing their events over a
/// batch at a time ([`Flat`]); this one makes the events again, normalises them and gives them
/// to `emit`, in file order. (Normalising here balances the two: with it, the decoding thread
/// has the larger share, and the run waits on it when the query's work per event is light.)
fn parallel(
    mut walk: Walk,
    mut src: FileChunks,
    settings: &Arc<ParserSettings>,
    name: &str,
    keep: Option<Keep>,
    maps: &Mappings,
    emit: &mut dyn FnMut(Item) -> bool,
) {
    // A batch of chunks at a time: one is too little to pay for the hand-over.
    const BATCH: usize = 16;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Flat>(4);
    let (give_back, spares) = std::sync::mpsc::channel::<Flat>();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut dec = Decoder::new(keep);
            let mut more = true;
            while more {
                let mut flat = spares.try_recv().unwrap_or_default();
                flat.clear();
                for _ in 0..BATCH {
                    let mut push = |item| {
                        flat.push(item);
                        true
                    };
                    if decode_next(&mut walk, &mut src, settings, &mut dec, name, None, &mut push).is_none() {
                        more = false;
                        break;
                    }
                }
                // This one's end, or the reader's (it has stopped).
                if tx.send(flat).is_err() {
                    break;
                }
            }
        });
        for mut flat in rx.iter() {
            if !flat.emit(maps, emit) {
                break;
            }
            // The decoding thread may have ended: the buffers are then dropped.
            let _ = give_back.send(flat);
        }
        // Dropping the receiver stops the decoding thread.
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

    /// [`our_walk`] over a file, its chunks read by their used parts ([`FileChunks`]), each
    /// checked to hold the file's bytes up to its free-space offset (the header's page at
    /// least) and zeros past it, whatever the chunk read before it left there.
    fn file_walk(bytes: &[u8]) -> Vec<Result<u64, String>> {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("cqlhunt-walk-{}-{n}.evtx", std::process::id()));
        std::fs::write(&path, bytes).expect("a temporary file");
        let parser = EvtxParser::from_read_seek(std::io::Cursor::new(bytes.to_vec())).expect("header");
        let count = chunk_count(bytes.len() as u64, u64::from(parser.header().header_block_size));
        let mut src = FileChunks::new(std::fs::File::open(&path).expect("open"), bytes.len() as u64);
        let mut walk = Walk::new(count, oldest_chunk(count, &mut src));
        let mut out = Vec::new();
        while let Some(c) = walk.next(&mut src) {
            if let Ok((_, n)) = &c {
                let at = chunk_at(*n).expect("a small file") as usize;
                let whole = &bytes[at..at + CHUNK];
                let used = used_bytes(whole).max(4096);
                assert_eq!(&src.bytes()[..used], &whole[..used], "chunk {n}");
                assert!(src.bytes()[used..].iter().all(|&b| b == 0), "chunk {n}: stale bytes past {used}");
            }
            out.push(c.map(|(_, n)| n).map_err(|n| format!("Failed to parse chunk number {n}")));
        }
        let _ = std::fs::remove_file(&path);
        out
    }

    /// Events handed over through [`Flat`] come back as they were, in order with the problems
    /// between them: names from the table of known names shared, other names and values
    /// copied, numbers and hints kept; normalised by the tables; `emit` stops them.
    #[test]
    fn a_flat_batch_gives_back_its_items() {
        let mut known = Event::new();
        known.push(crate::event::intern("EventID"), Value::Str("1".into()));
        known.push(std::borrow::Cow::Owned("Data.Custom Name".to_string()), Value::Str("a\u{e9}\\b".into()));
        known.push(crate::event::intern("@timestamp"), Value::Num(1.5));
        known.push(std::borrow::Cow::Owned(String::new()), Value::Str(String::new()));
        let mut hinted = Event::new();
        hinted.push(crate::event::intern("Channel"), Value::Str("Security".into()));
        hinted.set_rules_hint(Some(0b101));
        let problem = Problem { file: "f.evtx".into(), line: Some(7), reason: "broken".into() };
        let items: Vec<Item> = vec![Ok(known), Err(problem), Ok(Event::new()), Ok(hinted)];
        let mut flat = Flat::default();
        // Twice: a batch is cleared and used again.
        for _ in 0..2 {
            flat.clear();
            for it in items.iter().cloned() {
                flat.push(it);
            }
            let mut got = Vec::new();
            assert!(flat.emit(&Mappings::default(), &mut |it| {
                got.push(it);
                true
            }));
            assert_eq!(format!("{got:?}"), format!("{items:?}"));
            let hints: Vec<_> = got.iter().map(|it| it.as_ref().ok().and_then(Event::rules_hint)).collect();
            assert_eq!(hints, [None, None, None, Some(0b101)]);
            let shared = |it: &Item| match it {
                Ok(ev) => ev.named_fields().map(|(k, _)| matches!(k, std::borrow::Cow::Borrowed(_))).collect(),
                Err(_) => Vec::new(),
            };
            assert_eq!(got.iter().map(shared).collect::<Vec<_>>(), items.iter().map(shared).collect::<Vec<_>>());
        }
        // Stopped after the second item.
        flat.clear();
        for it in items.iter().cloned() {
            flat.push(it);
        }
        let mut n = 0;
        assert!(!flat.emit(&Mappings::default(), &mut |_| {
            n += 1;
            n < 2
        }));
        assert_eq!(n, 2);
        // Normalised: a Sysmon process creation gets its Falcon event type.
        let mut sysmon = Event::new();
        sysmon.push(crate::event::intern("Channel"), Value::Str("Microsoft-Windows-Sysmon/Operational".into()));
        sysmon.push(crate::event::intern("EventID"), Value::Str("1".into()));
        let mut direct = sysmon.clone();
        let maps = Mappings::builtin();
        maps.apply(&mut direct);
        flat.clear();
        flat.push(Ok(sysmon));
        let mut got = Vec::new();
        flat.emit(&maps, &mut |it| {
            got.push(it);
            true
        });
        assert_eq!(format!("{got:?}"), format!("{:?}", [Ok::<_, Problem>(direct)]));
        assert!(format!("{got:?}").contains("ProcessRollup2"), "{got:?}");
    }

    /// On two threads, a reader that stops gets no more events, and the decoding thread ends,
    /// within a batch of chunks or past several (a file of 48 chunks: a corpus file's, over
    /// and over).
    #[test]
    fn two_threads_stop_when_the_reader_does() {
        let mut all = Vec::new();
        files(Path::new(CORPUS), &mut all);
        let bytes = all
            .iter()
            .map(|p| std::fs::read(p).expect("read"))
            .find(|b| {
                let w = crate_walk(b);
                w.len() >= 3 && w.iter().all(Result::is_ok)
            })
            .expect("a corpus file of three chunks or more");
        let chunks = crate_walk(&bytes).len();
        let mut big = bytes[..FILE_HEADER].to_vec();
        for i in 0..48 {
            let c = FILE_HEADER + (i % chunks) * CHUNK;
            big.extend_from_slice(&bytes[c..c + CHUNK]);
        }
        let path = std::env::temp_dir().join(format!("cqlhunt-stop-{}.evtx", std::process::id()));
        std::fs::write(&path, &big).expect("a temporary file");
        let maps = Mappings::builtin();
        let count = |threads: usize, stop_after: usize| {
            let mut n = 0;
            let read = read(
                &path,
                "x.evtx",
                Options { threads, raw: false, keep: None, maps: &maps },
                &mut |_| {
                    n += 1;
                    n < stop_after
                },
                &mut |_| {},
            )
            .expect("read");
            assert_eq!(read, n as u64);
            n
        };
        let total = count(1, usize::MAX);
        assert!(total > 100, "{total} events");
        assert_eq!(count(2, usize::MAX), total);
        for stop_after in [1, 5, total / 2, total - 1] {
            assert_eq!(count(2, stop_after), stop_after);
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_chunks_used_part_is_its_header_s_free_space_offset() {
        let mut h = vec![0u8; 512];
        h[..8].copy_from_slice(b"ElfChnk\0");
        let with = |h: &mut Vec<u8>, off: u32| {
            h[0x30..0x34].copy_from_slice(&off.to_le_bytes());
            used_bytes(h)
        };
        assert_eq!(with(&mut h, 9000), 9000);
        assert_eq!(with(&mut h, 512), 512);
        assert_eq!(with(&mut h, CHUNK as u32), CHUNK);
        // Out of place, or not a chunk's header: all of it.
        assert_eq!(with(&mut h, 100), CHUNK);
        assert_eq!(with(&mut h, CHUNK as u32 + 1), CHUNK);
        h[0] = b'X';
        assert_eq!(with(&mut h, 9000), CHUNK);
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
            assert_eq!(file_walk(&bytes), walk, "{}", p.display());
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
        // Free space holding bytes (as a reused chunk's does: records of its earlier use).
        let mut stale = bytes.clone();
        for n in 0..n {
            let c = chunk(n);
            let used = used_bytes(&stale[c.clone()]);
            stale[c.start + used..c.end].fill(0xCD);
        }
        variants.push(("stale free space", stale));
        for (what, v) in &variants {
            let walk = crate_walk(v);
            assert_eq!(our_walk(v), walk, "{what}");
            assert_eq!(file_walk(v), walk, "{what}");
            assert!(!walk.is_empty(), "{what}");
        }
        // The events, on one thread and on two: the free space's bytes are not read.
        let events = |bytes: &[u8], threads: usize| {
            static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("cqlhunt-events-{}-{n}.evtx", std::process::id()));
            std::fs::write(&path, bytes).expect("a temporary file");
            let maps = Mappings::builtin();
            let opts = Options { threads, raw: false, keep: None, maps: &maps };
            let out = std::cell::RefCell::new(Vec::new());
            read(
                &path,
                "x.evtx",
                opts,
                &mut |ev| {
                    out.borrow_mut().push(format!("{ev:?}"));
                    true
                },
                &mut |p| out.borrow_mut().push(format!("{p:?}")),
            )
            .expect("read");
            let _ = std::fs::remove_file(&path);
            out.into_inner()
        };
        let stale = &variants.iter().find(|(w, _)| *w == "stale free space").expect("stale").1;
        let clean = events(&bytes, 1);
        assert!(clean.len() > 10, "{} events", clean.len());
        assert_eq!(events(&bytes, 2), clean);
        assert_eq!(events(stale, 1), clean);
        assert_eq!(events(stale, 2), clean);
        let order = |what: &str| our_walk(&variants.iter().find(|(w, _)| *w == what).expect(what).1);
        assert!(order("a broken chunk").iter().any(Result::is_err), "the broken chunk is said");
        assert_eq!(order("an empty chunk").len(), n - 1, "the empty chunk is passed over");
        assert_eq!(order("wrapped").first(), Some(&Ok(1)), "from the oldest records");
        assert_eq!(order("wrapped").last(), Some(&Ok(0)), "the newest last");
    }
}
