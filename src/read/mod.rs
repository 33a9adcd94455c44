//! Readers: one per input format, all producing [`Event`]s. Compressed input (gzip, zstd) is
//! recognised by its first bytes, not its name. Bad records are reported (file, line,
//! reason), counted, and skipped; the rest of the input is read.

pub mod auditd;
pub mod binxml;
pub mod evtx;
pub mod falcon;
pub mod fastjson;
pub mod json;
pub mod mapping;
pub mod rawline;
pub mod skip;
pub mod tree;
pub mod weblog;
pub mod winevent;

use crate::event::{Event, Value};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Flatten JSON into dotted field names: `{"a":{"b":1},"c":[2,3]}` → `a.b`, `c[0]`, `c[1]`.
/// Scalars become strings as written (numbers keep their text); nulls are skipped.
pub fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, Value)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_json(&name, v, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten_json(&format!("{prefix}[{i}]"), v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), Value::Str(s.clone()))),
        serde_json::Value::Number(n) => out.push((prefix.to_string(), Value::Str(n.to_string()))),
        serde_json::Value::Bool(b) => out.push((prefix.to_string(), Value::Str(b.to_string()))),
        serde_json::Value::Null => {}
    }
}

/// CSV records (RFC 4180: quoted fields with `""`, commas and newlines inside quotes).
pub fn csv_records(text: &str) -> impl Iterator<Item = Vec<String>> + '_ {
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || {
        chars.peek()?;
        let mut rec = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        loop {
            match chars.next() {
                None => {
                    rec.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if quoted => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                Some('"') if field.is_empty() => quoted = true,
                Some(',') if !quoted => rec.push(std::mem::take(&mut field)),
                Some('\r') if !quoted && chars.peek() == Some(&'\n') => {}
                Some('\n') if !quoted => {
                    rec.push(std::mem::take(&mut field));
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        Some(rec)
    })
    .filter(|r| !(r.len() == 1 && r[0].is_empty()))
}

/// What happened while reading one input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileStats {
    pub name: String,
    pub events: u64,
    pub skipped: u64,
    /// The input ended early (a truncated compressed stream, a read error).
    pub truncated: bool,
}

/// A problem with one record or one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: String,
    /// 1-based line, when the problem is about one record.
    pub line: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// An opened input: its bytes, and (when read on a thread of its own) its blocks of whole
/// lines, handed over as that thread read them.
pub trait Source: BufRead {
    /// The reader thread, when there is one ([`Threaded::next_block`]).
    fn threaded(&mut self) -> Option<&mut Threaded> {
        None
    }
}

impl<R: Read> Source for BufReader<R> {}

impl<S: Source + ?Sized> Source for &mut S {
    fn threaded(&mut self) -> Option<&mut Threaded> {
        (**self).threaded()
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn threaded(&mut self) -> Option<&mut Threaded> {
        (**self).threaded()
    }
}

impl Source for Threaded {
    fn threaded(&mut self) -> Option<&mut Threaded> {
        Some(self)
    }
}

/// Open an input (a path or `-` for stdin), decompressing gzip or zstd by content. Standard
/// input is read on a thread of its own (a pipe's reads cost as much as a file's parse), so
/// that reading and parsing overlap.
pub fn open(path: &Path) -> io::Result<Box<dyn Source + Send>> {
    if path.as_os_str() == "-" {
        let mut t = Threaded::spawn(Box::new(io::stdin()));
        let head = t.fill_buf()?;
        if !compressed(head) {
            return Ok(Box::new(t));
        }
        return decompress_buffered(t);
    }
    decompress(Box::new(std::fs::File::open(path)?))
}

/// Whether an input's first bytes are gzip's or zstd's magic (what [`open`] decompresses).
pub fn compressed(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Wrap a reader in the decompressor its first bytes call for.
pub fn decompress(raw: Box<dyn Read + Send>) -> io::Result<Box<dyn Source + Send>> {
    let mut br = BufReader::with_capacity(1 << 16, raw);
    if !compressed(br.fill_buf()?) {
        return Ok(Box::new(br));
    }
    decompress_buffered(br)
}

/// A compressed stream (its first bytes say which) decompressed on a thread of its own.
fn decompress_buffered<R: BufRead + Send + 'static>(mut br: R) -> io::Result<Box<dyn Source + Send>> {
    if br.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(Threaded::spawn(Box::new(flate2::bufread::MultiGzDecoder::new(br)))))
    } else {
        Ok(Box::new(Threaded::spawn(Box::new(zstd::stream::read::Decoder::with_buffer(br)?))))
    }
}

/// A reader whose source runs on a thread of its own (decompression, a pipe), handing over
/// blocks of whole lines through a small bounded channel, so that reading and parsing overlap.
/// An error of the source comes out after the data read before it, as it would from the
/// source itself. Read as a stream ([`BufRead`]), the blocks are the source's bytes in order;
/// [`Threaded::next_block`] hands each block over whole, without a copy.
pub struct Threaded {
    rx: std::sync::mpsc::Receiver<Msg>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    /// `cur` is the bytes read before an error (its last line may be cut).
    tail: bool,
    done: bool,
}

/// What the reader thread hands over.
enum Msg {
    /// Whole lines (the last block of the source may lack its final newline).
    Lines(Vec<u8>),
    /// The bytes read before an error (the last line may be cut).
    Tail(Vec<u8>),
    Failed(io::Error),
}

/// Bytes per block handed over, and blocks in flight (bounded memory: about 4 MiB, more only
/// for a line longer than a block).
const BLOCK: usize = 1 << 20;
const IN_FLIGHT: usize = 4;

impl std::fmt::Debug for Threaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threaded").field("pos", &self.pos).field("done", &self.done).finish()
    }
}

impl Threaded {
    pub fn spawn(src: Box<dyn Read + Send>) -> Threaded {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(IN_FLIGHT);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        std::thread::spawn(move || {
            let mut blocks = Blocks::new(src, BLOCK, false);
            loop {
                let msg = match blocks.next_block(spare.try_recv().ok()) {
                    // The last whole lines before an error, with the line it cut: one block.
                    Ok(Some((_, mut block))) if blocks.failing() => {
                        block.append(&mut blocks.unread());
                        Msg::Tail(block)
                    }
                    Ok(Some((_, block))) => Msg::Lines(block),
                    Ok(None) => return,
                    Err((_, e)) => {
                        // The bytes of the line the error cut, for a stream read, then the error.
                        let tail = blocks.unread();
                        if !tail.is_empty() && tx.send(Msg::Tail(tail)).is_err() {
                            return;
                        }
                        Msg::Failed(e)
                    }
                };
                let last = matches!(msg, Msg::Failed(_));
                // The reader is gone, or this was the error that ends the source.
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        });
        Threaded { rx, back, cur: Vec::new(), pos: 0, tail: false, done: false }
    }

    /// The next block of whole lines (the last may lack its newline), as the thread read it;
    /// `Ok(None)` at the end. What was read of the current block through [`Read`] is not given
    /// again. Before an error, the lines read whole are given, and the cut one is not (as
    /// [`for_each_block_of`] does). `spare`: a used block, for the thread to fill again.
    pub fn next_block(&mut self, spare: Option<Vec<u8>>) -> io::Result<Option<Vec<u8>>> {
        if let Some(v) = spare.filter(|v| v.capacity() > 0) {
            let _ = self.back.try_send(v);
        }
        // The whole lines of bytes read before an error (only a stream read sees the cut one).
        let whole = |mut block: Vec<u8>| {
            let nl = memchr::memrchr(b'\n', &block)?;
            block.truncate(nl + 1);
            Some(block)
        };
        if self.pos < self.cur.len() {
            let rest = if self.pos == 0 { std::mem::take(&mut self.cur) } else { self.cur[self.pos..].to_vec() };
            self.pos = self.cur.len();
            match self.tail {
                false => return Ok(Some(rest)),
                true => {
                    if let Some(block) = whole(rest) {
                        return Ok(Some(block));
                    }
                }
            }
        }
        while !self.done {
            match self.rx.recv() {
                Ok(Msg::Lines(block)) => return Ok(Some(block)),
                Ok(Msg::Tail(block)) => {
                    if let Some(block) = whole(block) {
                        return Ok(Some(block));
                    }
                }
                Ok(Msg::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(None)
    }
}

impl Read for Threaded {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Threaded {
    /// Make a block the current one (a stream read goes on in it).
    fn hold(&mut self, block: Vec<u8>, tail: bool) {
        let old = std::mem::replace(&mut self.cur, block);
        if old.capacity() > 0 {
            let _ = self.back.try_send(old);
        }
        self.pos = 0;
        self.tail = tail;
    }
}

impl BufRead for Threaded {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.cur.len() && !self.done {
            match self.rx.recv() {
                Ok(Msg::Lines(block)) => self.hold(block, false),
                Ok(Msg::Tail(block)) => self.hold(block, true),
                Ok(Msg::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(&self.cur[self.pos.min(self.cur.len())..])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// Files a directory walk passes over: dot-files, and the notes and metadata kept beside
/// telemetry (`.md`, `.yaml`, `.yml`, and a test's `*.expected.ndjson`). Named on the command
/// line, such a file is read like any other.
pub fn is_note(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    name.starts_with('.') || matches!(ext.as_str(), "md" | "yaml" | "yml") || name.ends_with(".expected.ndjson")
}

/// Expand inputs: files as given, directories recursively (sorted, notes passed over), `-` as
/// stdin.
pub fn expand_inputs(inputs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.as_os_str() != "-" && p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if !is_note(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Read newline-delimited records; calls `on_line(line_no, bytes)` for each non-empty line.
/// A read error (truncated gzip) ends the input and is returned.
pub fn for_each_line(
    r: &mut dyn BufRead,
    mut on_line: impl FnMut(u64, &[u8]) -> bool,
) -> Result<u64, (u64, io::Error)> {
    let mut buf = Vec::with_capacity(4096);
    let mut n = 0u64;
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(n),
            Ok(_) => {
                n += 1;
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if !on_line(n, &buf) {
                    return Ok(n);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((n, e)),
        }
    }
}

/// Read an opened input in blocks of whole lines of about `size` bytes (a longer line makes a
/// longer block; the last block may lack its newline), handing each with the number of its
/// first line to `on_block` (which returns false to stop). A reader thread's blocks are handed
/// over as it read them (no copy); `size` applies to the others. On a read error, the whole
/// lines read before it are handed over and the error comes back with the number of lines
/// handed over. Without `count`, blocks are numbered 0 and the caller numbers the lines
/// itself. `spare` may hand back a used block to fill again.
pub fn for_each_block_of(
    src: &mut dyn Source,
    size: usize,
    count: bool,
    spare: &mut dyn FnMut() -> Option<Vec<u8>>,
    mut on_block: impl FnMut(u64, Vec<u8>) -> bool,
) -> Result<u64, (u64, io::Error)> {
    let mut blocks = Blocks::new(src, size, count);
    while let Some((first, data)) = blocks.next_block_of(spare())? {
        if !on_block(first, data) {
            break;
        }
    }
    Ok(blocks.lines())
}

/// The number of a block's first line (0 without `count`), counting its lines into `lines`.
fn number_lines(count: bool, lines: &mut u64, data: &[u8]) -> u64 {
    if !count {
        return 0;
    }
    let first = *lines + 1;
    *lines += memchr::memchr_iter(b'\n', data).count() as u64;
    if data.last().is_some_and(|&b| b != b'\n') {
        *lines += 1;
    }
    first
}

/// The blocks of [`for_each_block_of`], one at a time (for readers shared between threads).
#[derive(Debug)]
pub struct Blocks<R: Read> {
    r: R,
    size: usize,
    count: bool,
    buf: Vec<u8>,
    eof: bool,
    lines: u64,
    /// A read error, reported after the lines read before it.
    failed: Option<io::Error>,
}

impl<R: Read> Blocks<R> {
    pub fn new(r: R, size: usize, count: bool) -> Blocks<R> {
        Blocks { r, size, count, buf: Vec::with_capacity(size + size / 4), eof: false, lines: 0, failed: None }
    }

    /// Lines handed over so far (when counting).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Read until `want` bytes are buffered or the input ends (read_to_end keeps what it read
    /// before an error).
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.buf.len() >= want || self.eof {
            return Ok(());
        }
        let before = self.buf.len();
        (&mut self.r).take((want - before) as u64).read_to_end(&mut self.buf)?;
        if self.buf.len() < want {
            self.eof = true;
        }
        Ok(())
    }

    fn number(&mut self, data: &[u8]) -> u64 {
        number_lines(self.count, &mut self.lines, data)
    }

    /// The next block and the number of its first line; `Ok(None)` at the end; the error
    /// (with the lines handed over before it) once the whole lines read before it were handed.
    /// `spare` is a used block to fill again (fresh pages cost the kernel a zeroing each).
    #[allow(clippy::type_complexity)]
    pub fn next_block(&mut self, spare: Option<Vec<u8>>) -> Result<Option<(u64, Vec<u8>)>, (u64, io::Error)> {
        if let Some(e) = self.failed.take() {
            return Err((self.lines, e));
        }
        let mut want = self.size;
        let cut = loop {
            if let Err(e) = self.fill(want) {
                self.eof = true;
                match memchr::memrchr(b'\n', &self.buf) {
                    Some(nl) => {
                        self.failed = Some(e);
                        break nl + 1;
                    }
                    None => return Err((self.lines, e)),
                }
            }
            if self.buf.is_empty() {
                return Ok(None);
            }
            if self.eof && self.failed.is_none() {
                break self.buf.len();
            }
            match memchr::memrchr(b'\n', &self.buf) {
                Some(nl) => break nl + 1,
                // One line longer than the block: read on until it ends.
                None => want = self.buf.len() + self.size,
            }
        };
        let next = match spare {
            Some(mut v) => {
                v.clear();
                v
            }
            None => Vec::with_capacity(self.size + self.size / 4),
        };
        let mut block = std::mem::replace(&mut self.buf, next);
        self.buf.extend_from_slice(&block[cut..]);
        block.truncate(cut);
        let first = self.number(&block);
        Ok(Some((first, block)))
    }
}

impl<R: Read> Blocks<R> {
    /// The bytes read and not handed over: after an error, the line it cut.
    pub fn unread(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The block just handed over is the last before an error (the next call returns it).
    pub fn failing(&self) -> bool {
        self.failed.is_some()
    }
}

impl<R: Source> Blocks<R> {
    /// [`Blocks::next_block`], taking a reader thread's blocks as it read them.
    #[allow(clippy::type_complexity)]
    pub fn next_block_of(&mut self, spare: Option<Vec<u8>>) -> Result<Option<(u64, Vec<u8>)>, (u64, io::Error)> {
        let Some(t) = self.r.threaded() else { return self.next_block(spare) };
        match t.next_block(spare) {
            Ok(Some(data)) => Ok(Some((number_lines(self.count, &mut self.lines, &data), data))),
            Ok(None) => Ok(None),
            Err(e) => Err((self.lines, e)),
        }
    }
}

/// The lines of a block from [`for_each_block_of`], numbered from `first_line`, as
/// [`for_each_line`] gives them (line ends stripped, blank lines left out); `on_line` returns
/// false to stop. The number of lines in the block, or `None` when stopped.
pub fn for_each_line_in(data: &[u8], first_line: u64, mut on_line: impl FnMut(u64, &[u8]) -> bool) -> Option<u64> {
    let mut n = first_line;
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let mut line = &data[start..end];
        while let Some((&last, rest)) = line.split_last() {
            if last == b'\r' {
                line = rest;
            } else {
                break;
            }
        }
        if !line.iter().all(u8::is_ascii_whitespace) && !on_line(n, line) {
            return None;
        }
        n += 1;
        start = end + 1;
    }
    Some(n - first_line)
}

/// Set an event's fields from a flat list, keeping the first of duplicate names.
pub fn event_from(fields: Vec<(String, Value)>) -> Event {
    let mut e = Event::with_capacity(fields.len() + 4);
    for (k, v) in fields {
        if !e.has(&k) {
            e.push(k, v);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_whole_lines_give_the_lines_of_for_each_line() {
        let text = "a\r\n\nbb\n   \nccc\r\n".repeat(50) + &"x".repeat(300) + "\nlast";
        let mut want = Vec::new();
        for_each_line(&mut text.as_bytes(), |n, l| {
            want.push((n, l.to_vec()));
            true
        })
        .unwrap();
        for size in [1, 7, 64, 1000, 1 << 20] {
            let mut got = Vec::new();
            let mut src = BufReader::new(text.as_bytes());
            let total = for_each_block_of(&mut src, size, true, &mut || None, |first, data| {
                assert!(data.ends_with(b"\n") || data.ends_with(b"last"), "{size}: a block of whole lines");
                for_each_line_in(&data, first, |n, l| {
                    got.push((n, l.to_vec()));
                    true
                })
                .is_some()
            })
            .unwrap();
            assert_eq!(got, want, "block size {size}");
            assert_eq!(total, 252, "block size {size}");
            // Numbered by the caller: the same lines.
            let (mut got2, mut next) = (Vec::new(), 1);
            let mut src = BufReader::new(text.as_bytes());
            for_each_block_of(&mut src, size, false, &mut || None, |_, data| {
                let n = for_each_line_in(&data, next, |n, l| {
                    got2.push((n, l.to_vec()));
                    true
                });
                next += n.unwrap_or(0);
                n.is_some()
            })
            .unwrap();
            assert_eq!(got2, want, "block size {size}, numbered by the caller");
            assert_eq!(next, 253);
        }
    }

    #[test]
    fn threaded_reader_hands_over_everything_then_the_error() {
        // More than one block, then an error from the source.
        struct Src(usize);
        impl Read for Src {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"));
                }
                let n = out.len().min(self.0).min(70_000);
                out[..n].fill(b'x');
                self.0 -= n;
                Ok(n)
            }
        }
        let mut t = Threaded::spawn(Box::new(Src(BLOCK + 12_345)));
        let mut got = Vec::new();
        let err = t.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(got.len(), BLOCK + 12_345);
        // A clean source ends cleanly, and an empty one gives nothing.
        let mut t = Threaded::spawn(Box::new(&b"a\nb\n"[..]));
        let mut s = String::new();
        t.read_to_string(&mut s).unwrap();
        assert_eq!(s, "a\nb\n");
        let mut t = Threaded::spawn(Box::new(io::empty()));
        assert_eq!(t.fill_buf().unwrap().len(), 0);
    }

    #[test]
    fn threaded_blocks_are_whole_lines_then_the_error() {
        // Lines of many lengths (one longer than a block), then an error from the source.
        struct Src(Vec<u8>, usize);
        impl Read for Src {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.1 == self.0.len() {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"));
                }
                let n = out.len().min(self.0.len() - self.1).min(70_000);
                out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let mut text = Vec::new();
        for i in 0..40_000 {
            text.extend_from_slice(format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 97)).as_bytes());
        }
        text.extend_from_slice(&vec![b'y'; BLOCK + 5]);
        text.extend_from_slice(b"\nlast");
        let mut t = Threaded::spawn(Box::new(Src(text.clone(), 0)));
        // What a sniff looks at stays in the first block.
        assert!(t.fill_buf().unwrap().starts_with(b"{\"n\":0,"));
        let (mut got, mut blocks, mut spare) = (Vec::new(), 0, None);
        let err = loop {
            match t.next_block(spare.take()) {
                Ok(Some(b)) => {
                    got.extend_from_slice(&b);
                    blocks += 1;
                    spare = Some(b);
                    if got.len() < text.len() {
                        assert!(got.ends_with(b"\n"), "block {blocks} ends a line");
                    }
                }
                Ok(None) => panic!("the error comes after the data"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        // Every whole line, not the one the error cut.
        assert_eq!(got, text[..text.len() - 4]);
        assert!(blocks > 2);
        // Read as a stream, everything before the error.
        let mut t = Threaded::spawn(Box::new(Src(text.clone(), 0)));
        let mut all = Vec::new();
        assert!(t.read_to_end(&mut all).is_err());
        assert_eq!(all, text);
        // A source shorter than a block, cut: looked at first (as a sniff does), then taken
        // in blocks, its cut line is not given.
        let short = b"{\"a\":1}\n{\"a\":2}\n{\"a\"".to_vec();
        let mut t = Threaded::spawn(Box::new(Src(short.clone(), 0)));
        assert_eq!(t.fill_buf().unwrap(), &short[..]);
        assert_eq!(t.next_block(None).unwrap(), Some(short[..short.len() - 4].to_vec()));
        assert!(t.next_block(None).is_err());
        // Numbered through an opened input as any reader's blocks are.
        let mut src: Box<dyn Source + Send> = Box::new(Threaded::spawn(Box::new(&b"a\n\nb\nc"[..])));
        let mut firsts = Vec::new();
        let n = for_each_block_of(&mut *src, 1 << 20, true, &mut || None, |first, data| {
            firsts.push((first, data));
            true
        })
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(firsts, vec![(1, b"a\n\nb\nc".to_vec())]);
    }

    #[test]
    fn csv() {
        let recs: Vec<_> = csv_records("a,b\n\"x,1\",\"he said \"\"hi\"\"\"\r\nz,\n").collect();
        assert_eq!(recs, vec![vec!["a", "b"], vec!["x,1", "he said \"hi\""], vec!["z", ""]]);
    }

    #[test]
    fn flatten() {
        let v: serde_json::Value = serde_json::from_str(r#"{"a":{"b":1},"c":[2,"x"],"d":null,"e":true}"#).unwrap();
        let mut out = Vec::new();
        flatten_json("", &v, &mut out);
        let names: Vec<_> = out.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        assert_eq!(names, ["a.b=\"1\"", "c[0]=\"2\"", "c[1]=\"x\"", "e=\"true\""]);
    }
}

/// Input formats cqlhunt recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Falcon NDJSON (FDR, NG-SIEM exports).
    FalconNdjson,
    /// Windows event XML (one or many `<Event>`, with or without `<Events>`).
    WinXml,
    /// Binary EVTX.
    Evtx,
    /// Linux auditd `audit.log`.
    Auditd,
    /// IIS W3C extended log.
    W3c,
    /// Apache/Nginx common or combined access log.
    Combined,
}

/// Recognise a format from the first bytes (after decompression).
pub fn sniff(head: &[u8]) -> Format {
    if head.starts_with(b"ElfFile\0") {
        return Format::Evtx;
    }
    let first = head.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &head[i..]).unwrap_or(&[]);
    let first = first.strip_prefix(b"\xef\xbb\xbf").unwrap_or(first);
    if first.starts_with(b"<") {
        return Format::WinXml;
    }
    // `evtx_dump -o xml` writes `Record N` before each record's XML.
    if first.starts_with(b"Record ") {
        let line_end = first.iter().position(|&b| b == b'\n').unwrap_or(first.len());
        let next = first[line_end..].iter().position(|b| !b.is_ascii_whitespace()).map(|i| &first[line_end + i..]);
        if first[7..line_end].trim_ascii().iter().all(u8::is_ascii_digit) && next.is_some_and(|n| n.starts_with(b"<")) {
            return Format::WinXml;
        }
    }
    if first.starts_with(b"type=") || (first.starts_with(b"node=") && head.windows(6).any(|w| w == b" type=")) {
        return Format::Auditd;
    }
    if first.starts_with(b"#Software: Microsoft Internet Information Services")
        || first.starts_with(b"#Fields:")
        || first.starts_with(b"#Version:")
    {
        return Format::W3c;
    }
    if !first.starts_with(b"{") && weblog::looks_combined(&String::from_utf8_lossy(first)) {
        return Format::Combined;
    }
    Format::FalconNdjson
}

/// The format of a regular file (decompressing its start), or of standard input (looked at
/// through its own buffer, which later reads see again). Pipes and other special files cannot
/// be looked at twice: `None` (sniff them from their reader instead). A zip archive has no one
/// format (its members are read one by one, each recognised on its own): `None` too.
pub fn sniff_path(path: &Path) -> io::Result<Option<Format>> {
    if path.as_os_str() == "-" {
        return sniff_stdin();
    }
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let mut head = [0u8; 8];
    let n = {
        let mut f = std::fs::File::open(path)?;
        f.read(&mut head)?
    };
    if head[..n].starts_with(b"ElfFile\0") {
        return Ok(Some(Format::Evtx));
    }
    if head[..n].starts_with(b"PK\x03\x04") {
        return Ok(None);
    }
    let mut r = open(path)?;
    let buf = r.fill_buf()?;
    Ok(Some(sniff(&buf[..buf.len().min(512)])))
}

/// Standard input's format, from the bytes in its buffer (nothing is consumed). Compressed
/// input is decompressed from those bytes only; `None` when that is not enough to tell.
fn sniff_stdin() -> io::Result<Option<Format>> {
    let mut lock = io::stdin().lock();
    let head = lock.fill_buf()?.to_vec();
    drop(lock);
    if head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let mut out = vec![0u8; 512];
        let mut dec = decompress(Box::new(io::Cursor::new(head)))?;
        let n = dec.read(&mut out).unwrap_or(0);
        return Ok((n > 0).then(|| sniff(&out[..n])));
    }
    Ok(Some(sniff(&head[..head.len().min(512)])))
}
