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
    /// The number of the block's first line.
    first_line: u64,
    data: Vec<u8>,
}

/// What a worker made of a block.
enum Output {
    /// The front of the query ran on the worker.
    Chunk(Chunk),
    /// In order, for the collector to enrich and run: events, and process events that cannot
    /// pass but feed the tree.
    Ordered(Vec<Item>),
}

enum Item {
    Event(Event),
    Lineage(read::tree::ProcRecord),
}

struct Done {
    seq: u64,
    file: usize,
    out: Output,
    events: u64,
    problems: Vec<Problem>,
    error: Option<String>,
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
    let forced_json = opts.format == Some(read::Format::FalconNdjson);
    if !forced_json && inputs.iter().any(|p| !matches!(read::sniff_path(p), Ok(Some(read::Format::FalconNdjson)))) {
        return None;
    }
    Some(run_split(ir, opts, &mut master, now_ms))
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
    let (job_tx, job_rx) = sync_channel::<Job>(opts.threads * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    // Block buffers handed back by the workers for the reader to fill again.
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(opts.threads * 2 + 2);
    let (done_tx, done_rx) = channel::<Done>();

    std::thread::scope(|scope| -> Result<Summary, RunError> {
        for _ in 0..opts.threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let fopts = Arc::clone(&fopts);
            let stop = Arc::clone(&stop);
            let names = names.clone();
            let recycle = recycle_tx.clone();
            scope.spawn(move || worker(&recycle, ir, opts, now_ms, &job_rx, &done_tx, &fopts, &stop, &names));
        }
        // Only the workers hold the jobs' receiver: when they stop, the reader's sends fail.
        drop(job_rx);
        drop(done_tx);
        // The reader runs here; the collector in its own thread.
        let collector = scope.spawn(|| collect(master, done_rx, &names, opts, &stop));
        drop(recycle_tx);
        let read_result = read_all(&inputs, &names, opts, &job_tx, &stop, &recycle_rx);
        drop(job_tx);
        let collected = collector.join().map_err(|_| RunError::Query("a worker thread panicked".to_string()))?;
        let (mut summary, truncated) = collected?;
        let ends = read_result?;
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
    let forced_json = opts.format == Some(read::Format::FalconNdjson);
    if inputs.is_empty()
        || (!forced_json && inputs.iter().any(|p| !matches!(read::sniff_path(p), Ok(Some(read::Format::FalconNdjson)))))
    {
        return None;
    }
    let names: Vec<String> = inputs
        .iter()
        .map(|p| if p.as_os_str() == "-" { "<stdin>".to_string() } else { p.display().to_string() })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (job_tx, job_rx) = sync_channel::<Job>(opts.threads * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    // Block buffers handed back by the workers for the reader to fill again.
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(opts.threads * 2 + 2);
    let (done_tx, done_rx) = sync_channel::<Done>(opts.threads * 8);
    let lineage = state.tree.is_some();
    Some(std::thread::scope(|scope| -> Result<Vec<FileStats>, RunError> {
        for _ in 0..opts.threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let stop = Arc::clone(&stop);
            let names = &names;
            let recycle = recycle_tx.clone();
            scope.spawn(move || item_worker(&recycle, opts, &job_rx, &done_tx, fopts, &stop, names, lineage));
        }
        drop(recycle_tx);
        // Only the workers hold the jobs' receiver: when they stop, the reader's sends fail.
        drop(job_rx);
        drop(done_tx);
        let reader = {
            let stop = Arc::clone(&stop);
            let names = &names;
            scope.spawn(move || read_all(inputs, names, opts, &job_tx, &stop, &recycle_rx))
        };
        let mut stats: Vec<FileStats> =
            names.iter().map(|n| FileStats { name: n.clone(), ..FileStats::default() }).collect();
        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next = 0u64;
        let mut failure: Option<RunError> = None;
        'all: for d in done_rx.iter() {
            pending.insert(d.seq, d);
            while let Some(d) = pending.remove(&next) {
                next += 1;
                let fs = &mut stats[d.file];
                fs.events += d.events;
                for p in d.problems {
                    if let Err(p) = super::run::bad_record(opts, fs, p) {
                        failure = Some(RunError::Input(format!("{p} (--strict-input)")));
                        break 'all;
                    }
                }
                let Output::Ordered(items) = d.out else { continue };
                for item in items {
                    match item {
                        Item::Lineage(rec) => state.note(&rec),
                        Item::Event(mut ev) => {
                            state.enrich(&mut ev);
                            if !sink(ev) {
                                break 'all;
                            }
                        }
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        // Unblock the workers and the reader, then collect what the reader says.
        drop(done_rx);
        let ended = reader.join().unwrap_or_else(|_| Err(RunError::Input("the reading thread failed".to_string())));
        if let Some(f) = failure {
            return Err(f);
        }
        for (i, e) in ended? {
            stats[i].truncated = e;
        }
        Ok(stats)
    }))
}

#[allow(clippy::too_many_arguments)]
fn item_worker(
    recycle: &std::sync::mpsc::SyncSender<Vec<u8>>,
    opts: &RunOptions,
    jobs: &Mutex<Receiver<Job>>,
    done: &std::sync::mpsc::SyncSender<Done>,
    fopts: &LineOptions,
    stop: &AtomicBool,
    names: &[String],
    lineage: bool,
) {
    let mut probe = super::run::ReadState::probe_for(opts, lineage);
    loop {
        let job = {
            let rx = crate::eval::lock(jobs);
            rx.recv()
        };
        let Ok(job) = job else { return };
        let (items, count, problems) = parse_block(&job, opts, fopts, probe.as_mut(), names);
        // The block's buffer goes back to the reader.
        let _ = recycle.try_send(job.data);
        let d =
            Done { seq: job.seq, file: job.file, out: Output::Ordered(items), events: count, problems, error: None };
        if done.send(d).is_err() || stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// One block's lines: skipped, probed, parsed, in order.
fn parse_block(
    job: &Job,
    opts: &RunOptions,
    fopts: &LineOptions,
    mut probe: Option<&mut super::probe::Probe>,
    names: &[String],
) -> (Vec<Item>, u64, Vec<Problem>) {
    let mut items: Vec<Item> = Vec::new();
    let mut problems = Vec::new();
    let mut count = 0u64;
    let _ = read::for_each_line_in(&job.data, job.first_line, |n, bytes| {
        count += 1;
        let (skipped, first_type) = opts.skip.as_ref().map_or((false, None), |s| s.check(bytes));
        if skipped {
            return true;
        }
        if let Some(p) = probe.as_deref_mut() {
            match p.check_typed(bytes, first_type) {
                super::probe::Verdict::Keep => {}
                super::probe::Verdict::Drop => return true,
                super::probe::Verdict::Lineage(ev) => {
                    items.push(Item::Lineage(ev));
                    return true;
                }
            }
        }
        match read::json::parse_line(bytes, fopts) {
            Ok(e) => items.push(Item::Event(e)),
            Err(reason) => {
                count -= 1;
                problems.push(Problem { file: names[job.file].clone(), line: Some(n), reason });
            }
        }
        true
    });
    (items, count, problems)
}

/// Read every input into chunks; returns which inputs ended early.
fn read_all(
    inputs: &[PathBuf],
    names: &[String],
    opts: &RunOptions,
    job_tx: &std::sync::mpsc::SyncSender<Job>,
    stop: &AtomicBool,
    recycled: &Receiver<Vec<u8>>,
) -> Result<BTreeMap<usize, bool>, RunError> {
    let mut seq = 0u64;
    let mut ended = BTreeMap::new();
    for (fi, path) in inputs.iter().enumerate() {
        let mut reader = read::open(path).map_err(|e| RunError::Input(format!("{}: {e}", names[fi])))?;
        let mut sent_any = false;
        let res =
            read::for_each_block(&mut *reader, BLOCK, true, &mut || recycled.try_recv().ok(), |first_line, data| {
                let job = Job { seq, file: fi, first_line, data };
                seq += 1;
                sent_any = true;
                job_tx.send(job).is_ok() && !stop.load(Ordering::Relaxed)
            });
        // Every input gets at least one block, so that its summary line exists.
        if !sent_any {
            let _ = job_tx.send(Job { seq, file: fi, first_line: 1, data: Vec::new() });
            seq += 1;
        }
        if let Err((line, e)) = res {
            let msg = format!("{}: input ends early after line {line}: {e}", names[fi]);
            if opts.strict_input {
                stop.store(true, Ordering::Relaxed);
                return Err(RunError::Input(format!("{msg} (--strict-input)")));
            }
            warn(&format!("{msg}; the events before it were read"));
            ended.insert(fi, true);
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(ended)
}

#[allow(clippy::too_many_arguments)]
fn worker(
    recycle: &std::sync::mpsc::SyncSender<Vec<u8>>,
    ir: &ir::Pipeline,
    opts: &RunOptions,
    now_ms: f64,
    jobs: &Mutex<Receiver<Job>>,
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
                problems: Vec::new(),
                error: Some(e),
            });
            return;
        }
    };
    // No lineage here: the query's result does not depend on it.
    let mut probe = super::run::ReadState::probe_for(opts, false);
    loop {
        let job = {
            let rx = crate::eval::lock(jobs);
            rx.recv()
        };
        let Ok(job) = job else { return };
        let (items, count, problems) = parse_block(&job, opts, fopts, probe.as_mut(), names);
        let _ = recycle.try_send(job.data);
        let out = {
            let events = items
                .into_iter()
                .filter_map(|i| match i {
                    Item::Event(e) => Some(e),
                    Item::Lineage(_) => None,
                })
                .collect();
            Output::Chunk(ex.run_chunk(events))
        };
        let error = ex.ctx.error();
        if done.send(Done { seq: job.seq, file: job.file, out, events: count, problems, error }).is_err() {
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
) -> Collected {
    let mut out = super::run::open_output(opts);
    let mut stats: Vec<FileStats> =
        names.iter().map(|n| FileStats { name: n.clone(), ..FileStats::default() }).collect();
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut rows = Vec::new();
    let mut failure: Option<RunError> = None;
    let mut warnings: Vec<String> = Vec::new();
    for d in done {
        pending.insert(d.seq, d);
        while let Some(d) = pending.remove(&next) {
            next += 1;
            if failure.is_some() {
                continue;
            }
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
                Output::Ordered(_) => {}
            }
            for r in rows.drain(..) {
                if let Err(e) = out.row(r) {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(RunError::Output(e.to_string()));
                    break;
                }
            }
        }
    }
    if let Some(f) = failure {
        return Err(f);
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
