//! `run -j N`: the reader cuts the input into blocks of whole lines; N workers split them into
//! lines, drop the lines that cannot pass (`LineSkip`, the probe), parse the others, and either
//! run the front of the query (each worker its own executor: the collector merges the partial
//! aggregates in input order) or, when lineage enrichment can change the result, hand the
//! events over in order: the collector then enriches them and runs the query, so the process
//! tree sees every process event in input order (dropped ones too, as lineage items). Memory is
//! bounded by the blocks in flight (2 per worker) and the aggregates' groups.

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
    /// Its lines, numbered from 1 within the block (the collector, taking blocks in order,
    /// knows how many lines came before: nobody counts them under the source's lock).
    data: Vec<u8>,
    /// The input ended early here (after the blocks before this one): the error.
    cut: Option<String>,
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
        'all: for d in done_rx.iter() {
            pending.insert(d.seq, d);
            while let Some(mut d) = pending.remove(&next) {
                next += 1;
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
        let Some(job) = crate::eval::lock(source).next_job(stop) else { return };
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
        }
    }

    fn job(&mut self, data: Vec<u8>, cut: Option<String>) -> Job {
        let job = Job { seq: self.seq, file: self.file, data, cut };
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
                    // Said in order by the collector, which knows the line it ended after; under
                    // --strict-input, nothing more is read.
                    self.ended.insert(self.file, true);
                    self.halted = self.opts.strict_input;
                    self.cur = None;
                    let job = self.job(Vec::new(), Some(e.to_string()));
                    self.file += 1;
                    return Some(job);
                }
            }
            // This input is done.
            self.cur = None;
            let empty = !self.sent;
            if empty {
                let job = self.job(Vec::new(), None);
                self.file += 1;
                return Some(job);
            }
            self.file += 1;
        }
    }

    /// A used block, to fill again (a few are kept).
    fn give_back(&mut self, mut data: Vec<u8>) {
        if self.spare.len() < 4 && data.capacity() > 0 {
            data.clear();
            self.spare.push(data);
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
        let Some(job) = crate::eval::lock(source).next_job(stop) else { return };
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
    for d in done {
        pending.insert(d.seq, d);
        while let Some(mut d) = pending.remove(&next) {
            next += 1;
            if failure.is_some() {
                continue;
            }
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
