//! `run -j N`: the reader cuts the input into chunks of lines; N workers parse them and run
//! the front of the query (each worker its own executor); a collector takes the results in
//! input order, merging partial aggregates or writing rows. Memory is bounded by the number
//! of chunks in flight (2 per worker) and the aggregates' groups.

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

/// Lines per chunk.
const CHUNK_LINES: usize = 4096;

struct Job {
    seq: u64,
    file: usize,
    lines: Vec<(u64, Vec<u8>)>,
}

struct Done {
    seq: u64,
    file: usize,
    chunk: Chunk,
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
    if !master.parallel_ok() || master.passes() > 1 || (opts.enrich && opts.enrich_matters) {
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
    let (done_tx, done_rx) = channel::<Done>();

    std::thread::scope(|scope| -> Result<Summary, RunError> {
        for _ in 0..opts.threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let fopts = Arc::clone(&fopts);
            let stop = Arc::clone(&stop);
            let names = names.clone();
            scope.spawn(move || worker(ir, opts, now_ms, &job_rx, &done_tx, &fopts, &stop, &names));
        }
        drop(done_tx);
        // The reader runs here; the collector in its own thread.
        let collector = scope.spawn(|| collect(master, done_rx, &names, opts, &stop));
        let read_result = read_all(&inputs, &names, opts, &job_tx, &stop);
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

/// Read every input into chunks; returns which inputs ended early.
fn read_all(
    inputs: &[PathBuf],
    names: &[String],
    opts: &RunOptions,
    job_tx: &std::sync::mpsc::SyncSender<Job>,
    stop: &AtomicBool,
) -> Result<BTreeMap<usize, bool>, RunError> {
    let mut seq = 0u64;
    let mut ended = BTreeMap::new();
    for (fi, path) in inputs.iter().enumerate() {
        let mut reader = read::open(path).map_err(|e| RunError::Input(format!("{}: {e}", names[fi])))?;
        let mut lines = Vec::with_capacity(CHUNK_LINES);
        let res = read::for_each_line(&mut *reader, |n, bytes| {
            lines.push((n, bytes.to_vec()));
            if lines.len() >= CHUNK_LINES {
                let job = Job { seq, file: fi, lines: std::mem::take(&mut lines) };
                seq += 1;
                if job_tx.send(job).is_err() || stop.load(Ordering::Relaxed) {
                    return false;
                }
            }
            true
        });
        if !lines.is_empty() {
            let _ = job_tx.send(Job { seq, file: fi, lines });
            seq += 1;
        }
        // Every input gets at least one chunk, so that its summary line exists.
        if seq == 0 || stop.load(Ordering::Relaxed) {
            let _ = job_tx.send(Job { seq, file: fi, lines: Vec::new() });
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
                chunk: Chunk::Rows(Vec::new()),
                events: 0,
                problems: Vec::new(),
                error: Some(e),
            });
            return;
        }
    };
    loop {
        let job = {
            let rx = crate::eval::lock(jobs);
            rx.recv()
        };
        let Ok(job) = job else { return };
        let mut events: Vec<Event> = Vec::with_capacity(job.lines.len());
        let mut problems = Vec::new();
        let mut skipped_lines = 0u64;
        for (n, bytes) in &job.lines {
            if opts.skip.as_ref().is_some_and(|s| s.skippable(bytes)) {
                skipped_lines += 1;
                continue;
            }
            match read::json::parse_line(bytes, fopts) {
                Ok(e) => events.push(e),
                Err(reason) => problems.push(Problem { file: names[job.file].clone(), line: Some(*n), reason }),
            }
        }
        let count = events.len() as u64 + skipped_lines;
        let chunk = ex.run_chunk(events);
        let error = ex.ctx.error();
        if done.send(Done { seq: job.seq, file: job.file, chunk, events: count, problems, error }).is_err() {
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
            master.absorb(d.chunk, &mut rows);
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
