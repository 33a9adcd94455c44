//! `run -j N`: the input is cut into blocks of whole lines (a regular file's blocks are byte
//! ranges each worker reads itself, [`Claim`]; other inputs are read under the source's lock);
//! N workers split them into lines, drop the lines that cannot pass (`LineSkip`, the probe),
//! parse the others, and either run the front of the query (each worker its own executor: the
//! collector merges the partial aggregates in input order) or, when lineage enrichment can
//! change the result, hand the events over in order: the collector then enriches them and runs
//! the query, so the process tree sees every process event in input order (dropped ones too, as
//! lineage items). Memory is bounded by the blocks in flight (2 per worker) and the aggregates'
//! groups.

use super::run::{print_summary, warn, RunError, RunOptions, Summary};
use crate::eval::parallel::Chunk;
use crate::eval::{Ctx, Executor};
use crate::event::Event;
use crate::plan::ir;
use crate::read::json::LineOptions;
use crate::read::{self, FileStats, Problem};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver};
use std::sync::{Arc, Mutex};

/// Bytes per block (whole lines; a longer line makes a longer block).
const BLOCK: usize = 1 << 20;

struct Job {
    seq: u64,
    file: usize,
    /// A regular file's block, for the worker to read (outside the source's lock) into `data`.
    claim: Option<Claim>,
    /// Its lines, numbered from 1 within the block (the collector, taking blocks in order,
    /// knows how many lines came before: nobody counts them under the source's lock).
    data: Vec<u8>,
    /// The input ended early here (after the blocks before this one): the error.
    cut: Option<String>,
}

/// A block of a regular file: the lines that start in its byte range `start..end` (the last
/// block's: every line to the file's end, should it have grown). Blocks are claimed under the
/// source's lock, a range each, and read by their workers side by side (`pread`), where a
/// shared reader would copy one block at a time under the lock.
#[derive(Debug)]
struct Claim {
    file: Arc<std::fs::File>,
    start: u64,
    end: u64,
    last: bool,
}

impl Claim {
    fn read(&self, data: &mut Vec<u8>) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        read_block(&mut |buf, at| self.file.read_at(buf, at), self.start, self.end, self.last, data)
    }
}

/// The lines that start in `start..end` of what `read_at` reads (all of them to its end when
/// `last`), into `data` (a used buffer: its bytes are overwritten, not zeroed first). A line
/// starts at 0 and after each newline. On an error, `data` holds the whole lines read before it.
fn read_block(
    read_at: &mut dyn FnMut(&mut [u8], u64) -> std::io::Result<usize>,
    start: u64,
    end: u64,
    last: bool,
    data: &mut Vec<u8>,
) -> std::io::Result<()> {
    const STEP: usize = 64 << 10;
    let whole_lines = |data: &mut Vec<u8>, got: usize| {
        let keep = memchr::memrchr(b'\n', &data[..got]).map_or(0, |nl| nl + 1);
        data.truncate(keep);
    };
    // Where the first line starting at or after `start` starts: after the first newline from
    // `start - 1` on.
    let mut begin = start;
    if start > 0 {
        let mut probe = [0u8; 4096];
        let mut at = start - 1;
        begin = loop {
            let n = match read_at(&mut probe, at) {
                Ok(n) => n,
                Err(e) => {
                    data.clear();
                    return Err(e);
                }
            };
            if n == 0 {
                break at;
            }
            if let Some(nl) = memchr::memchr(b'\n', &probe[..n]) {
                break at + nl as u64 + 1;
            }
            at += n as u64;
        };
    }
    // No line starts in the range (a longer line crosses it whole).
    if begin >= end && !last {
        data.clear();
        return Ok(());
    }
    // From there to `end`; then on to the newline that ends the line holding byte `end - 1`
    // (unless that byte is one), or to the end when `last`.
    let mut got = 0usize;
    let mut reading_on = false;
    loop {
        let until = if reading_on { got + STEP } else { end.saturating_sub(begin) as usize };
        if got == until {
            if last || (got > 0 && data[got - 1] != b'\n') {
                reading_on = true;
                continue;
            }
            break;
        }
        if data.len() < until {
            data.resize(until, 0);
        }
        let n = match read_at(&mut data[got..until], begin + got as u64) {
            Ok(n) => n,
            Err(e) => {
                whole_lines(data, got);
                return Err(e);
            }
        };
        if n == 0 {
            break;
        }
        if reading_on && !last {
            if let Some(nl) = memchr::memchr(b'\n', &data[got..got + n]) {
                got += nl + 1;
                break;
            }
        }
        got += n;
    }
    data.truncate(got);
    Ok(())
}

/// What a worker made of a block.
enum Output {
    /// The front of the query ran on the worker.
    Chunk(Chunk),
    /// In order, for the collector to enrich and run: events, and process events that cannot
    /// pass but feed the tree (their records in the block's one buffer).
    Ordered(Vec<Item>, read::tree::SpelledRecords),
}

enum Item {
    Event(Event),
    Lineage(read::tree::SpelledAt),
    /// A line only the process tree can decide (`Verdict::Defer`), with its number: the
    /// collector checks it again, in order, with the tree.
    Deferred(Vec<u8>, u64),
}

struct Done {
    seq: u64,
    file: usize,
    out: Output,
    events: u64,
    /// Lines in the block (blank ones too): problems and deferred lines are numbered from 1
    /// within it.
    lines: u64,
    problems: Vec<Problem>,
    error: Option<String>,
    cut: Option<String>,
}

/// Per input, the lines of the blocks taken so far: block-relative line numbers made whole.
struct LineBase(Vec<u64>);

impl LineBase {
    /// Number a block's problems in its input, and count its lines.
    fn take(&mut self, d: &mut Done) -> u64 {
        let base = self.0[d.file];
        for p in &mut d.problems {
            p.line = p.line.map(|l| l + base);
        }
        self.0[d.file] += d.lines;
        base
    }

    /// The message for an input that ended early, after the lines taken so far.
    fn cut(&self, names: &[String], file: usize, e: &str) -> String {
        format!("{}: input ends early after line {}: {e}", names[file], self.0[file])
    }
}

fn ctx(opts: &RunOptions, now_ms: f64) -> Ctx {
    Ctx { lookup_dir: opts.lookup_dir.clone(), now_ms, ..Ctx::default() }
}

/// Run on several threads; `None` when the query cannot be split (run it on one thread).
pub fn run(ir: &ir::Pipeline, opts: &RunOptions) -> Option<Result<Summary, RunError>> {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0);
    let mut master = match Executor::new(ir, ctx(opts, now_ms)) {
        Ok(e) => e,
        Err(e) => return Some(Err(RunError::Query(e))),
    };
    // With lineage the query runs in order (`read_ordered`, through `run::read_all`); without,
    // it must split.
    let ordered = opts.enrich && opts.enrich_matters;
    if master.passes() > 1 || ordered || !master.parallel_ok() {
        return None;
    }
    // Only line-delimited Falcon input is cut into chunks; EVTX and XML read on one thread.
    let given = if opts.inputs.is_empty() { vec![PathBuf::from("-")] } else { opts.inputs.clone() };
    let inputs = read::expand_inputs(&given).ok()?;
    if !inputs.iter().all(|p| json_lines(p, opts)) {
        return None;
    }
    Some(run_split(ir, opts, &mut master, now_ms))
}

/// Whether an input is read as lines of JSON, so that the line workers may take it: forced so,
/// or recognised. Another format forced is read as that format, and a zip (which has no one
/// format) member by member (`run::read_one`): on one thread.
fn json_lines(p: &std::path::Path, opts: &RunOptions) -> bool {
    match opts.format {
        Some(f) => f == read::Format::FalconNdjson,
        None => matches!(read::sniff_path(p), Ok(Some(read::Format::FalconNdjson))),
    }
}

fn run_split(ir: &ir::Pipeline, opts: &RunOptions, master: &mut Executor, now_ms: f64) -> Result<Summary, RunError> {
    let fopts = Arc::new(super::run::line_options(opts)?);
    let inputs = if opts.inputs.is_empty() { vec![PathBuf::from("-")] } else { opts.inputs.clone() };
    let inputs = read::expand_inputs(&inputs).map_err(|e| RunError::Input(e.to_string()))?;
    let names: Vec<String> = inputs
        .iter()
        .map(|p| if p.as_os_str() == "-" { "<stdin>".to_string() } else { p.display().to_string() })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let source = Mutex::new(Source::new(&inputs, &names, opts));
    let (done_tx, done_rx) = channel::<Done>();

    std::thread::scope(|scope| -> Result<Summary, RunError> {
        for _ in 0..opts.threads {
            let done_tx = done_tx.clone();
            let fopts = Arc::clone(&fopts);
            let stop = Arc::clone(&stop);
            let names = names.clone();
            let source = &source;
            scope.spawn(move || worker(ir, opts, now_ms, source, &done_tx, &fopts, &stop, &names));
        }
        drop(done_tx);
        // The collector runs here, merging in input order.
        let collected = collect(master, done_rx, &names, opts, &stop, &source);
        let (mut summary, truncated) = collected?;
        let src = crate::eval::lock(&source);
        if let Some(f) = &src.failure {
            return Err(RunError::Input(f.clone()));
        }
        let ends = src.ended.clone();
        for (i, f) in summary.files.iter_mut().enumerate() {
            f.truncated = truncated.get(&i).copied().unwrap_or(false) || ends.get(&i).copied().unwrap_or(false);
        }
        if !opts.quiet {
            print_summary(&summary);
        }
        Ok(summary)
    })
}

/// Read NDJSON inputs on worker threads (split into lines, skipped, probed, parsed) and hand
/// the events to `sink` in input order on this thread, enriched by `state`'s tree (fed by the
/// process events the probe dropped, too). `None` when an input is not NDJSON.
pub(crate) fn read_ordered(
    inputs: &[PathBuf],
    fopts: &LineOptions,
    opts: &RunOptions,
    state: &mut super::run::ReadState,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Option<Result<Vec<FileStats>, RunError>> {
    if inputs.is_empty() || !inputs.iter().all(|p| json_lines(p, opts)) {
        return None;
    }
    let names: Vec<String> = inputs
        .iter()
        .map(|p| if p.as_os_str() == "-" { "<stdin>".to_string() } else { p.display().to_string() })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let source = Mutex::new(Source::new(inputs, &names, opts));
    let (done_tx, done_rx) = sync_channel::<Done>(opts.threads * 8);
    let lineage = state.tree.is_some();
    Some(std::thread::scope(|scope| -> Result<Vec<FileStats>, RunError> {
        for _ in 0..opts.threads {
            let done_tx = done_tx.clone();
            let stop = Arc::clone(&stop);
            let names = &names;
            let source = &source;
            scope.spawn(move || item_worker(opts, source, &done_tx, fopts, &stop, names, lineage));
        }
        drop(done_tx);
        let mut stats: Vec<FileStats> =
            names.iter().map(|n| FileStats { name: n.clone(), ..FileStats::default() }).collect();
        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next = 0u64;
        let mut failure: Option<RunError> = None;
        let mut skip = opts.skip.as_deref().cloned();
        let mut lines = LineBase(vec![0; names.len()]);
        // Inputs that ended early: their later blocks (claimed before it was known) are dropped.
        let mut cut = vec![false; names.len()];
        'all: for d in done_rx.iter() {
            pending.insert(d.seq, d);
            while let Some(mut d) = pending.remove(&next) {
                next += 1;
                if cut[d.file] {
                    continue;
                }
                cut[d.file] = d.cut.is_some();
                let base = lines.take(&mut d);
                let fs = &mut stats[d.file];
                fs.events += d.events;
                for p in d.problems {
                    if let Err(p) = super::run::bad_record(opts, fs, p) {
                        failure = Some(RunError::Input(format!("{p} (--strict-input)")));
                        break 'all;
                    }
                }
                let Output::Ordered(items, records) = d.out else { continue };
                for item in items {
                    let mut ev = match item {
                        Item::Lineage(at) => {
                            // It decodes: the worker checked.
                            let known = state.note_spelled(&records.get(&at));
                            debug_assert!(known, "a record the worker checked decodes");
                            continue;
                        }
                        Item::Event(ev) => ev,
                        Item::Deferred(bytes, n) => {
                            let first_type = skip.as_mut().and_then(|s| s.check(&bytes).1);
                            let verdict = match state.probe.as_mut() {
                                Some(p) => p.check(&bytes, first_type, state.tree.as_ref()),
                                None => super::probe::Verdict::Keep,
                            };
                            match verdict {
                                super::probe::Verdict::Keep => {}
                                super::probe::Verdict::Lineage(rec) => {
                                    if state.note_spelled(&rec) {
                                        continue;
                                    }
                                }
                                super::probe::Verdict::Drop | super::probe::Verdict::Defer => continue,
                            }
                            match read::json::parse_line(&bytes, fopts) {
                                Ok(mut ev) => {
                                    ev.set_rules_hint(state.probe.as_ref().and_then(|p| p.rules_hint()));
                                    ev
                                }
                                Err(reason) => {
                                    let fs = &mut stats[d.file];
                                    fs.events -= 1;
                                    let p = Problem { file: names[d.file].clone(), line: Some(base + n), reason };
                                    if let Err(p) = super::run::bad_record(opts, fs, p) {
                                        failure = Some(RunError::Input(format!("{p} (--strict-input)")));
                                        break 'all;
                                    }
                                    continue;
                                }
                            }
                        }
                    };
                    state.enrich(&mut ev);
                    if !sink(ev) {
                        break 'all;
                    }
                }
                if let Some(e) = &d.cut {
                    let msg = lines.cut(&names, d.file, e);
                    if opts.strict_input {
                        failure = Some(RunError::Input(format!("{msg} (--strict-input)")));
                        break 'all;
                    }
                    super::run::warn_record(opts, &format!("{msg}; the events before it were read"));
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        // Unblock the workers (a send fails), then see what reading said.
        drop(done_rx);
        if let Some(f) = failure {
            return Err(f);
        }
        let src = crate::eval::lock(&source);
        if let Some(f) = &src.failure {
            return Err(RunError::Input(f.clone()));
        }
        for (&i, &e) in &src.ended {
            stats[i].truncated = e;
        }
        Ok(stats)
    }))
}

#[allow(clippy::too_many_arguments)]
fn item_worker(
    opts: &RunOptions,
    source: &Mutex<Source<'_>>,
    done: &std::sync::mpsc::SyncSender<Done>,
    fopts: &LineOptions,
    stop: &AtomicBool,
    names: &[String],
    lineage: bool,
) {
    let mut probe = super::run::ReadState::probe_for(opts, lineage);
    let mut skip = opts.skip.as_deref().cloned();
    if let Some(p) = probe.as_mut() {
        p.defer_lineage();
    }
    loop {
        let Some(mut job) = crate::eval::lock(source).next_job(stop) else { return };
        read_claim(&mut job, source);
        let Parsed { items, records, events, lines, problems } =
            parse_block(&job, fopts, probe.as_mut(), &mut skip, names);
        // The block's buffer goes back to be filled again.
        crate::eval::lock(source).give_back(job.data);
        let out = Output::Ordered(items, records);
        let d = Done { seq: job.seq, file: job.file, out, events, lines, problems, error: None, cut: job.cut };
        if done.send(d).is_err() || stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// One block's lines: skipped, probed, parsed, in order.
fn parse_block(
    job: &Job,
    fopts: &LineOptions,
    mut probe: Option<&mut super::probe::Probe>,
    skip: &mut Option<read::skip::LineSkip>,
    names: &[String],
) -> Parsed {
    let mut items: Vec<Item> = Vec::new();
    let mut records = read::tree::SpelledRecords::default();
    let mut problems = Vec::new();
    let mut count = 0u64;
    let lines = read::for_each_line_in(&job.data, 1, |n, bytes| {
        count += 1;
        let (skipped, first_type) = skip.as_mut().map_or((false, None), |s| s.check(bytes));
        if skipped {
            return true;
        }
        if let Some(p) = probe.as_deref_mut() {
            match p.check(bytes, first_type, None) {
                super::probe::Verdict::Keep => {}
                super::probe::Verdict::Drop => return true,
                super::probe::Verdict::Lineage(rec) => {
                    // Kept as the line spells it when it decodes (checked here, on a reader's
                    // thread), else parsed.
                    if let Some(at) = records.push(&rec) {
                        items.push(Item::Lineage(at));
                        return true;
                    }
                }
                super::probe::Verdict::Defer => {
                    items.push(Item::Deferred(bytes.to_vec(), n));
                    return true;
                }
            }
        }
        match read::json::parse_line(bytes, fopts) {
            Ok(mut e) => {
                e.set_rules_hint(probe.as_deref().and_then(|p| p.rules_hint()));
                items.push(Item::Event(e))
            }
            Err(reason) => {
                count -= 1;
                problems.push(Problem { file: names[job.file].clone(), line: Some(n), reason });
            }
        }
        true
    });
    Parsed { items, records, events: count, lines: lines.unwrap_or(0), problems }
}

/// What [`parse_block`] made of a block.
struct Parsed {
    items: Vec<Item>,
    records: read::tree::SpelledRecords,
    events: u64,
    lines: u64,
    problems: Vec<Problem>,
}

/// The inputs, read block by block by whichever worker asks next (under a lock): no reading
/// thread of its own, so on N cores N workers do all the work.
struct Source<'a> {
    inputs: &'a [PathBuf],
    names: &'a [String],
    opts: &'a RunOptions,
    /// The input being read, and whether it has given a block yet.
    file: usize,
    cur: Option<read::Blocks<Box<dyn read::Source + Send>>>,
    sent: bool,
    seq: u64,
    /// Inputs that ended early.
    ended: BTreeMap<usize, bool>,
    /// Why reading stopped (an unreadable input, or a cut one under `--strict-input`).
    failure: Option<String>,
    /// Used blocks handed back, to fill again.
    spare: Vec<Vec<u8>>,
    /// An input ended early under --strict-input: no more blocks.
    halted: bool,
    /// The regular file being read by [`Claim`]s, its length, and where the next block starts.
    claimed: Option<(Arc<std::fs::File>, u64, u64)>,
}

/// A regular file that is not compressed, to read by [`Claim`]s: the file and its length.
/// `None` for anything else (read through `read::open`, which reports what cannot be opened),
/// and for a file that says it is empty (`/proc` files say so, and hold lines).
fn claimable(path: &std::path::Path) -> Option<(Arc<std::fs::File>, u64)> {
    use std::os::unix::fs::FileExt;
    if path.as_os_str() == "-" {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    let mut head = [0u8; 4];
    let n = file.read_at(&mut head, 0).ok()?;
    (!read::compressed(&head[..n])).then(|| (Arc::new(file), meta.len()))
}

impl<'a> Source<'a> {
    fn new(inputs: &'a [PathBuf], names: &'a [String], opts: &'a RunOptions) -> Source<'a> {
        Source {
            inputs,
            names,
            opts,
            file: 0,
            cur: None,
            sent: false,
            seq: 0,
            ended: BTreeMap::new(),
            failure: None,
            spare: Vec::new(),
            halted: false,
            claimed: None,
        }
    }

    fn job(&mut self, data: Vec<u8>, cut: Option<String>) -> Job {
        let job = Job { seq: self.seq, file: self.file, claim: None, data, cut };
        self.seq += 1;
        job
    }

    /// The next block of lines, or `None` when every input is read, reading failed, or the
    /// run stops. Every input gives at least one block (an empty one), so that its summary
    /// line exists.
    fn next_job(&mut self, stop: &AtomicBool) -> Option<Job> {
        loop {
            if stop.load(Ordering::Relaxed) || self.failure.is_some() || self.halted || self.file >= self.inputs.len() {
                return None;
            }
            if self.cur.is_none() && self.claimed.is_none() {
                if let Some((file, len)) = claimable(&self.inputs[self.file]) {
                    self.claimed = Some((file, len, 0));
                    self.sent = false;
                }
            }
            if let Some((file, len, next)) = &mut self.claimed {
                if *next < *len {
                    let (start, end) = (*next, (*next + BLOCK as u64).min(*len));
                    *next = end;
                    let claim = Claim { file: Arc::clone(file), start, end, last: end >= *len };
                    self.sent = true;
                    let data = self.spare.pop().unwrap_or_default();
                    let mut job = self.job(data, None);
                    job.claim = Some(claim);
                    return Some(job);
                }
                if let Some(job) = self.input_done() {
                    return Some(job);
                }
                continue;
            }
            if self.cur.is_none() {
                match read::open(&self.inputs[self.file]) {
                    Ok(r) => {
                        self.cur = Some(read::Blocks::new(r, BLOCK, false));
                        self.sent = false;
                    }
                    Err(e) => {
                        self.failure = Some(format!("{}: {e}", self.names[self.file]));
                        stop.store(true, Ordering::Relaxed);
                        return None;
                    }
                }
            }
            let spare = self.spare.pop();
            let res = self.cur.as_mut().map(|b| b.next_block_of(spare)).unwrap_or(Ok(None));
            match res {
                Ok(Some((_, data))) => {
                    self.sent = true;
                    return Some(self.job(data, None));
                }
                Ok(None) => {}
                Err((_, e)) => {
                    let job = self.job(Vec::new(), Some(e.to_string()));
                    self.ended_early(job.file);
                    return Some(job);
                }
            }
            if let Some(job) = self.input_done() {
                return Some(job);
            }
        }
    }

    /// The input being read is done: the next one is read. An input that gave no block gives
    /// one empty block, so that its summary line exists.
    fn input_done(&mut self) -> Option<Job> {
        self.cur = None;
        self.claimed = None;
        let job = (!self.sent).then(|| self.job(Vec::new(), None));
        self.file += 1;
        job
    }

    /// A used block, to fill again (a few are kept; its bytes too, which a claim overwrites
    /// without zeroing them first, and `read::Blocks` clears).
    fn give_back(&mut self, data: Vec<u8>) {
        if self.spare.len() < 4 && data.capacity() > 0 {
            self.spare.push(data);
        }
    }

    /// Input `file` could not be read on (a claimed block, or the reader's next one): it ends
    /// early there, said in order by the collector, which knows the line it ended after. No
    /// more of its blocks are read (claims already made past it are dropped by the collectors);
    /// under --strict-input, nothing more is read at all.
    fn ended_early(&mut self, file: usize) {
        self.ended.insert(file, true);
        self.halted = self.opts.strict_input;
        if self.file == file && (self.claimed.is_some() || self.cur.is_some()) {
            self.cur = None;
            self.claimed = None;
            self.file += 1;
        }
    }
}

/// A job's block, read by its worker when it is a claim (outside the source's lock); a read
/// error ends its input there, as a reader's does.
fn read_claim(job: &mut Job, source: &Mutex<Source<'_>>) {
    if let Some(claim) = job.claim.take() {
        if let Err(e) = claim.read(&mut job.data) {
            job.cut = Some(e.to_string());
            crate::eval::lock(source).ended_early(job.file);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    ir: &ir::Pipeline,
    opts: &RunOptions,
    now_ms: f64,
    source: &Mutex<Source<'_>>,
    done: &std::sync::mpsc::Sender<Done>,
    fopts: &LineOptions,
    stop: &AtomicBool,
    names: &[String],
) {
    let mut ex = match Executor::new(ir, ctx(opts, now_ms)) {
        Ok(e) => e,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            let _ = done.send(Done {
                seq: 0,
                file: 0,
                out: Output::Chunk(Chunk::Rows(Vec::new())),
                events: 0,
                lines: 0,
                problems: Vec::new(),
                error: Some(e),
                cut: None,
            });
            return;
        }
    };
    // No lineage here: the query's result does not depend on it.
    let mut probe = super::run::ReadState::probe_for(opts, false);
    let mut skip = opts.skip.as_deref().cloned();
    loop {
        let Some(mut job) = crate::eval::lock(source).next_job(stop) else { return };
        read_claim(&mut job, source);
        let Parsed { items, events: count, lines, problems, .. } =
            parse_block(&job, fopts, probe.as_mut(), &mut skip, names);
        crate::eval::lock(source).give_back(job.data);
        let out = {
            let events = items
                .into_iter()
                .filter_map(|i| match i {
                    Item::Event(e) => Some(e),
                    // This probe has no lineage: it neither hands lines to the tree nor defers.
                    Item::Lineage(_) | Item::Deferred(..) => None,
                })
                .collect();
            Output::Chunk(ex.run_chunk(events))
        };
        let error = ex.ctx.error();
        let d = Done { seq: job.seq, file: job.file, out, events: count, lines, problems, error, cut: job.cut };
        if done.send(d).is_err() {
            return;
        }
    }
}

type Collected = Result<(Summary, BTreeMap<usize, bool>), RunError>;

fn collect(
    master: &mut Executor,
    done: Receiver<Done>,
    names: &[String],
    opts: &RunOptions,
    stop: &AtomicBool,
    source: &Mutex<Source<'_>>,
) -> Collected {
    let mut out = super::run::open_output(opts);
    let mut stats: Vec<FileStats> =
        names.iter().map(|n| FileStats { name: n.clone(), ..FileStats::default() }).collect();
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut rows = Vec::new();
    let mut failure: Option<RunError> = None;
    let mut warnings: Vec<String> = Vec::new();
    let mut lines = LineBase(vec![0; names.len()]);
    // Inputs that ended early: their later blocks (claimed before it was known) are dropped.
    let mut cut = vec![false; names.len()];
    for d in done {
        pending.insert(d.seq, d);
        while let Some(mut d) = pending.remove(&next) {
            next += 1;
            if failure.is_some() || cut[d.file] {
                continue;
            }
            cut[d.file] = d.cut.is_some();
            lines.take(&mut d);
            if let Some(e) = d.error {
                stop.store(true, Ordering::Relaxed);
                failure = Some(RunError::Query(e));
                continue;
            }
            let fs = &mut stats[d.file];
            fs.events += d.events;
            for p in d.problems {
                if let Err(p) = super::run::bad_record(opts, fs, p) {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(RunError::Input(format!("{p} (--strict-input)")));
                    break;
                }
            }
            if failure.is_some() {
                continue;
            }
            match d.out {
                Output::Chunk(c) => master.absorb(c, &mut rows),
                // Ordered items go to `read_ordered`, never here.
                Output::Ordered(..) => {}
            }
            for r in rows.drain(..) {
                if let Err(e) = out.row(r) {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(RunError::Output(e.to_string()));
                    break;
                }
            }
            if let (Some(e), None) = (&d.cut, &failure) {
                let msg = lines.cut(names, d.file, e);
                if opts.strict_input {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(RunError::Input(format!("{msg} (--strict-input)")));
                } else {
                    super::run::warn_record(opts, &format!("{msg}; the events before it were read"));
                }
            }
        }
    }
    if let Some(f) = failure {
        return Err(f);
    }
    // Reading failed (`--strict-input`, an unreadable input): no final rows, as on one thread.
    if let Some(f) = &crate::eval::lock(source).failure {
        return Err(RunError::Input(f.clone()));
    }
    master.finish(&mut rows);
    if let Some(e) = master.ctx.error() {
        return Err(RunError::Query(e));
    }
    for r in rows.drain(..) {
        out.row(r).map_err(|e| RunError::Output(e.to_string()))?;
    }
    let written = out.written;
    match out.finish() {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(RunError::Output(e.to_string())),
    }
    warnings.extend(master.ctx.warnings());
    for w in &warnings {
        warn(w);
    }
    Ok((Summary { files: stats, rows: written }, BTreeMap::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read_at` over bytes, at most `most` bytes a call (short reads, as a file may give),
    /// failing from offset `fail` on.
    fn reader(bytes: &[u8], most: usize, fail: u64) -> impl FnMut(&mut [u8], u64) -> std::io::Result<usize> + '_ {
        move |buf: &mut [u8], at: u64| {
            if at >= fail {
                return Err(std::io::Error::other("injected"));
            }
            let from = (at as usize).min(bytes.len());
            let n = buf.len().min(most).min(bytes.len() - from).min((fail - at) as usize);
            buf[..n].copy_from_slice(&bytes[from..from + n]);
            Ok(n)
        }
    }

    /// The blocks of `bytes` claimed `size` bytes at a time, read into a reused buffer.
    fn blocks(bytes: &[u8], size: u64, most: usize) -> Vec<Vec<u8>> {
        let len = bytes.len() as u64;
        let mut out = Vec::new();
        // A used buffer, longer than any block, full of other bytes.
        let mut data = vec![b'Z'; 3 * size as usize + 10];
        let mut start = 0;
        while start < len {
            let end = (start + size).min(len);
            read_block(&mut reader(bytes, most, u64::MAX), start, end, end >= len, &mut data).expect("read");
            out.push(data.clone());
            start = end;
        }
        out
    }

    /// A regular file's blocks are its lines, each once, in order, whatever the block size:
    /// lines longer than a block, empty lines, a last line without its newline, short reads.
    #[test]
    fn claimed_blocks_are_the_files_lines_once() {
        let mut texts: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n".to_vec(),
            b"\n\n\n".to_vec(),
            b"a".to_vec(),
            b"a\n".to_vec(),
            b"one\ntwo\nthree".to_vec(),
        ];
        let mut rng = 7u64;
        for _ in 0..30 {
            let mut t = Vec::new();
            for _ in 0..(rng % 40) {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = (rng >> 33) % 23;
                t.extend(std::iter::repeat_n(b'a' + (n % 26) as u8, n as usize));
                t.push(b'\n');
            }
            if rng % 3 == 0 {
                t.extend_from_slice(b"tail");
            }
            texts.push(t);
        }
        for t in &texts {
            for size in 1..=12u64 {
                for most in [1, 2, 5, 4096] {
                    let bs = blocks(t, size, most);
                    assert_eq!(bs.concat(), *t, "size {size}, most {most}: {:?}", String::from_utf8_lossy(t));
                    // Each block is whole lines: only the one that reaches the end may lack
                    // the newline (the text's own last line).
                    let mut at = 0;
                    for b in &bs {
                        at += b.len();
                        assert!(b.is_empty() || b.ends_with(b"\n") || at == t.len(), "a block of whole lines: {b:?}");
                    }
                }
            }
        }
    }

    /// Only plain regular files that say how long they are are claimed: not standard input,
    /// nor a compressed file, nor a file that says it is empty (a `/proc` file holds lines).
    #[test]
    fn what_is_read_by_claims() {
        let dir = std::env::temp_dir().join(format!("cqlhunt-claims-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).expect("write");
            p
        };
        assert_eq!(claimable(&file("lines.ndjson", b"{}\n{}\n")).map(|c| c.1), Some(6));
        assert!(claimable(&file("empty.ndjson", b"")).is_none());
        assert!(claimable(&file("x.gz", &[0x1f, 0x8b, 8, 0, 0])).is_none());
        assert!(claimable(&file("x.zst", &[0x28, 0xb5, 0x2f, 0xfd, 0])).is_none());
        assert!(claimable(std::path::Path::new("-")).is_none());
        assert!(claimable(&dir).is_none());
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(claimable(std::path::Path::new("/proc/self/status")).is_none());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A read error: the block holds the whole lines read before it, and says so.
    #[test]
    fn a_claimed_block_that_fails_keeps_its_whole_lines() {
        let t = b"aa\nbbb\ncccc\ndd\n";
        let mut data = Vec::new();
        let r = read_block(&mut reader(t, 4096, 9), 0, t.len() as u64, true, &mut data);
        assert!(r.is_err());
        assert_eq!(data, b"aa\nbbb\n");
        // Failing before the block's first line is found: nothing.
        let r = read_block(&mut reader(t, 4096, 1), 4, t.len() as u64, true, &mut data);
        assert!(r.is_err());
        assert!(data.is_empty());
    }
}
