//! `cqlhunt run`: a query over inputs, rows out, a summary of what was read on stderr.

use super::output::{OutFormat, Output};
use crate::eval::{Ctx, Executor};
use crate::event::Event;
use crate::read::falcon::{self, FalconOptions};
use crate::read::json::LineOptions;
use crate::read::{self, FileStats, Problem};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// How many bad records per input are printed before the rest are only counted.
const MAX_PROBLEMS_SHOWN: u64 = 20;

/// Options of one run (already validated by clap).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub inputs: Vec<PathBuf>,
    pub output: Option<OutFormat>,
    pub aidmaster: Option<PathBuf>,
    pub strict_input: bool,
    pub wide: bool,
    pub rawstring: bool,
    pub lookup_dir: PathBuf,
    pub quiet: bool,
    pub threads: usize,
    /// Tables that normalise Windows and Linux records to the Falcon model.
    pub mappings: read::mapping::Mappings,
    /// Host name for sources that carry none (auditd without `node=`).
    pub hostname: Option<String>,
    /// Say nothing about bad records (a join's first pass reads the input again later).
    pub mute: bool,
    /// `--format`: read every input as this format instead of recognising it.
    pub format: Option<read::Format>,
    /// Falcon lines of event types the query cannot use are skipped unparsed.
    pub skip: Option<std::sync::Arc<read::skip::LineSkip>>,
    /// Fill lineage fields from earlier process events (`--no-enrich` turns it off).
    pub enrich: bool,
    /// The enrichment can change the result (the query reads a lineage field, or prints raw
    /// events): then the input is read in order, on one thread.
    pub enrich_matters: bool,
    /// Keep only these fields of Falcon lines (the query's projection, `plan::project`).
    pub projection: Option<std::sync::Arc<read::fastjson::Projection>>,
    /// Drop Falcon lines that no query of these can use before parsing them
    /// ([`super::probe`]); the main pass only.
    pub probe: Option<std::sync::Arc<Vec<super::probe::ProbeQuery>>>,
    /// The lineage fields an aggregating query's result depends on (its projection, see
    /// `plan::project`): the run is first tried without the process tree, and tried again with
    /// it only if an event turns up that lacks one of them where the tree could fill it.
    pub speculate: Vec<String>,
    /// The lineage fields the result depends on, when that is known (the projection's); empty
    /// when not known.
    pub lineage_reads: Vec<String>,
    /// Bad-record warnings kept here instead of printed (a speculative run's, printed only if it
    /// stands).
    pub capture: Option<std::sync::Arc<std::sync::Mutex<Vec<String>>>>,
}

impl RunOptions {
    /// With a projection, the mapping tables map only the fields it keeps (and those other rows
    /// read): the rest would be made for every Windows and auditd event and never read.
    pub(crate) fn map_only_projected(&mut self) {
        if let Some(p) = &self.projection {
            self.mappings = self.mappings.only(|t| p.keeps(t.as_bytes()));
        }
    }
}

/// What reading carries from one input to the next: the process tree (lineage enrichment is
/// part of reading: every event reaches the sink enriched) and the line probe.
#[derive(Debug)]
pub(crate) struct ReadState {
    pub tree: Option<read::tree::ProcessTree>,
    pub probe: Option<super::probe::Probe>,
}

impl ReadState {
    /// The tree when enrichment is on; the probe when the options give one (and its queries
    /// build: a lookup file that does not load leaves the lines to the query, which says so).
    pub fn new(opts: &RunOptions) -> ReadState {
        ReadState { tree: opts.enrich.then(read::tree::ProcessTree::new), probe: Self::probe_for(opts, true) }
    }

    /// The probe alone, for a worker thread (lineage items only when `lineage`).
    pub fn probe_for(opts: &RunOptions, lineage: bool) -> Option<super::probe::Probe> {
        let ps = opts.probe.as_ref()?;
        let ctx = || Ctx { lookup_dir: opts.lookup_dir.clone(), ..Ctx::default() };
        let execs: Result<Vec<(Executor, Option<read::skip::EventTypes>)>, String> = ps
            .iter()
            .map(|q| {
                let types = q.event_names.as_deref().and_then(read::skip::EventTypes::new);
                Executor::new(&q.ir, ctx()).map(|e| (e, types))
            })
            .collect();
        // Records need their parents unless the result is known not to read grandparents.
        let parents =
            opts.lineage_reads.is_empty() || opts.lineage_reads.iter().any(|f| f == "GrandParentBaseFileName");
        execs.ok().map(|e| super::probe::Probe::new(e, lineage && opts.enrich, !opts.speculate.is_empty(), parents))
    }

    /// No probe (the passes before the main one read everything their subqueries use).
    pub fn without_probe(opts: &RunOptions) -> ReadState {
        ReadState { tree: opts.enrich.then(read::tree::ProcessTree::new), probe: None }
    }

    /// Remember a process event that cannot pass the query, from its line's spelling; false
    /// when the tree cannot read it (the line is to be parsed).
    pub(crate) fn note_spelled(&mut self, rec: &read::tree::SpelledProc<'_>) -> bool {
        self.tree.as_mut().is_none_or(|t| t.record_spelled(rec))
    }

    pub(crate) fn enrich(&mut self, ev: &mut Event) {
        if let Some(t) = self.tree.as_mut() {
            t.enrich(ev);
        }
    }
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum RunError {
    /// Bad input under `--strict-input`, or an unreadable input: exit 2.
    Input(String),
    /// The query failed while running (a regex over its backtracking limit): exit 1.
    Query(String),
    /// Writing the output failed.
    Output(String),
}

impl RunError {
    /// The message, whatever the kind.
    pub fn message(self) -> String {
        match self {
            RunError::Input(e) | RunError::Query(e) | RunError::Output(e) => e,
        }
    }
}

/// What a run read.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: Vec<FileStats>,
    pub rows: u64,
}

/// Count a bad record and say so (the first [`MAX_PROBLEMS_SHOWN`] of an input); under
/// `--strict-input` it comes back as the run's error.
pub(crate) fn bad_record(opts: &RunOptions, stats: &mut FileStats, p: Problem) -> Result<(), Problem> {
    stats.skipped += 1;
    if opts.strict_input {
        return Err(p);
    }
    if stats.skipped <= MAX_PROBLEMS_SHOWN {
        warn_record(opts, &format!("{p}; record skipped"));
    } else if stats.skipped == MAX_PROBLEMS_SHOWN + 1 {
        warn_record(opts, &format!("{}: more bad records; only counting them from here", stats.name));
    }
    Ok(())
}

/// [`bad_record`] inside a line loop: `false` (stop reading) under `--strict-input`, with the
/// record kept in `strict_fail` for the error.
fn record_or_stop(opts: &RunOptions, stats: &mut FileStats, p: Problem, strict_fail: &mut Option<Problem>) -> bool {
    match bad_record(opts, stats, p) {
        Ok(()) => true,
        Err(p) => {
            *strict_fail = Some(p);
            false
        }
    }
}

pub(crate) fn warn_record(opts: &RunOptions, msg: &str) {
    if opts.mute {
        return;
    }
    match &opts.capture {
        Some(c) => crate::eval::lock(c).push(msg.to_string()),
        None => warn(msg),
    }
}

pub(crate) fn warn(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "cqlhunt: warning: {msg}");
}

/// A temporary copy of standard input, removed when dropped.
#[derive(Debug)]
pub(crate) struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Replace `-` among the inputs by a temporary file holding standard input.
pub(crate) fn spool_stdin(inputs: &mut [PathBuf]) -> Result<Option<Spool>, RunError> {
    let Some(i) = inputs.iter().position(|p| p.as_os_str() == "-") else { return Ok(None) };
    let path = std::env::temp_dir().join(format!("cqlhunt-stdin-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    std::io::copy(&mut std::io::stdin().lock(), &mut f).map_err(|e| RunError::Input(format!("<stdin>: {e}")))?;
    inputs[i] = path.clone();
    Ok(Some(Spool(path)))
}

/// The output the options ask for: a table on a terminal, NDJSON otherwise, unless `-o`.
pub(crate) fn open_output(opts: &RunOptions) -> Output<std::io::BufWriter<std::io::StdoutLock<'static>>> {
    stdout_output(opts.output, opts.rawstring, opts.wide)
}

/// Standard output in the format asked for: a table on a terminal, NDJSON otherwise, unless
/// `format`.
pub(crate) fn stdout_output(
    format: Option<OutFormat>,
    rawstring: bool,
    wide: bool,
) -> Output<std::io::BufWriter<std::io::StdoutLock<'static>>> {
    let stdout = std::io::stdout();
    let format = format.unwrap_or(if stdout.is_terminal() { OutFormat::Table } else { OutFormat::Ndjson });
    let width = if format == OutFormat::Table { super::output::terminal_width() } else { 120 };
    Output::new(format, std::io::BufWriter::with_capacity(1 << 16, stdout.lock()), rawstring, width, wide)
}

/// What the line readers need: the aidmaster table and the mapping tables.
pub(crate) fn line_options(opts: &RunOptions) -> Result<LineOptions, RunError> {
    let mut fopts = FalconOptions::default();
    if let Some(p) = &opts.aidmaster {
        let text =
            std::fs::read_to_string(p).map_err(|e| RunError::Input(format!("--aidmaster {}: {e}", p.display())))?;
        fopts.aidmaster =
            falcon::load_aidmaster(&text, &p.display().to_string()).map_err(|p| RunError::Input(p.to_string()))?;
    }
    Ok(LineOptions { falcon: fopts, mappings: opts.mappings.clone(), projection: opts.projection.clone() })
}

/// Run a compiled query over the inputs.
pub fn run(ir: &crate::plan::ir::Pipeline, opts: &RunOptions) -> Result<Summary, RunError> {
    // Lineage costs a third of a Falcon run and changes nothing when every event already has
    // the lineage fields the query reads (FDR's process events name their parent): try without
    // the tree first, on inputs that can be read again.
    let rereadable = !opts.inputs.is_empty() && opts.inputs.iter().all(|p| p.as_os_str() != "-");
    // Not over EVTX files: Windows process events seldom name their grandparent or their file
    // events' writer, so the first such event would end the try, and a second start reads the
    // file's chunk headers again.
    let evtx = opts.format == Some(read::Format::Evtx)
        || opts.inputs.iter().any(|p| matches!(read::sniff_path(p), Ok(Some(read::Format::Evtx))));
    if opts.enrich && !opts.speculate.is_empty() && rereadable && !evtx {
        let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let spec = RunOptions { enrich: false, capture: Some(captured.clone()), ..opts.clone() };
        if let Some(summary) = run_main(ir, &spec, Some(&opts.speculate))? {
            return Ok(summary);
        }
    }
    let plain = RunOptions { speculate: Vec::new(), ..opts.clone() };
    run_main(ir, &plain, None).map(|s| s.expect("a run that does not speculate finishes"))
}

/// One run; with `watch`, it gives up (`None`, nothing printed) at the first event that lacks
/// one of those lineage fields where the tree could fill it.
fn run_main(
    ir: &crate::plan::ir::Pipeline,
    opts: &RunOptions,
    watch: Option<&[String]>,
) -> Result<Option<Summary>, RunError> {
    if opts.threads > 1 && watch.is_none() {
        if let Some(r) = super::parallel::run(ir, opts) {
            return r.map(Some);
        }
        // The query cannot be split (an aggregate inside a branch, a composite function=,
        // a join's second pass): one thread gives the right answer.
    }
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0);
    let ctx = Ctx { lookup_dir: opts.lookup_dir.clone(), now_ms, ..Ctx::default() };
    let mut ex = Executor::new(ir, ctx).map_err(RunError::Query)?;
    // A query that reads its input more than once (join, selfJoinFilter, defineTable) uses other
    // event types in its subqueries: no line may be skipped.
    let unskipped;
    let opts = if ex.passes() > 1 && opts.skip.is_some() {
        unskipped = RunOptions { skip: None, ..opts.clone() };
        &unskipped
    } else {
        opts
    };
    let fopts = line_options(opts)?;
    let inputs = if opts.inputs.is_empty() { vec![PathBuf::from("-")] } else { opts.inputs.clone() };
    let mut inputs = read::expand_inputs(&inputs).map_err(|e| RunError::Input(e.to_string()))?;
    // join(), selfJoinFilter() and defineTable() read the input more than once: standard input
    // is kept in a temporary file for the later passes.
    let _spool = if ex.passes() > 1 { spool_stdin(&mut inputs)? } else { None };
    for _ in 1..ex.passes() {
        let pre_opts = RunOptions { mute: true, strict_input: false, ..opts.clone() };
        let mut state = ReadState::without_probe(opts);
        for input in &inputs {
            read_one(input, &fopts, &pre_opts, &mut state, &mut |ev| {
                ex.push_prepass(&ev);
                !ex.ctx.failed()
            })?;
        }
        ex.end_prepass();
        if let Some(e) = ex.ctx.error() {
            return Err(RunError::Query(e));
        }
    }
    let mut out = open_output(opts);
    let mut summary = Summary::default();
    let mut rows: Vec<Event> = Vec::new();
    let mut state = if ex.passes() > 1 { ReadState::without_probe(opts) } else { ReadState::new(opts) };
    let mut gave_up = false;
    let stats = read_all(&inputs, &fopts, opts, &mut state, &mut |ev| {
        if let Some(w) = watch {
            if read::tree::could_fill(&ev, w) {
                gave_up = true;
                return false;
            }
        }
        ex.push(ev, &mut rows);
        if ex.ctx.failed() {
            return false;
        }
        // While speculating, rows wait for the end (an aggregating query has none before).
        if watch.is_none() {
            for r in rows.drain(..) {
                if out.row(r).is_err() {
                    return false;
                }
            }
        }
        true
    })?;
    if gave_up {
        return Ok(None);
    }
    if let Some(c) = &opts.capture {
        for w in crate::eval::lock(c).drain(..) {
            warn(&w);
        }
    }
    summary.files.extend(stats);
    if let Some(e) = ex.ctx.error() {
        return Err(RunError::Query(e));
    }
    ex.finish(&mut rows);
    if let Some(e) = ex.ctx.error() {
        return Err(RunError::Query(e));
    }
    for r in rows.drain(..) {
        out.row(r).map_err(|e| RunError::Output(e.to_string()))?;
    }
    summary.rows = out.written;
    match out.finish() {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(RunError::Output(e.to_string())),
    }
    for w in ex.ctx.warnings().iter() {
        warn(w);
    }
    if !opts.quiet {
        print_summary(&summary);
    }
    Ok(Some(summary))
}

/// Read every input in order into `sink`. With more than one thread (`-j`), reading and parsing
/// run on a thread of their own and hand events over in batches, while `sink` (lineage
/// enrichment and the query, which need the events in order) runs here: the two overlap.
pub(crate) fn read_all(
    inputs: &[PathBuf],
    fopts: &LineOptions,
    opts: &RunOptions,
    state: &mut ReadState,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Result<Vec<FileStats>, RunError> {
    // EVTX hands its chunks' events over from a decoding thread itself (`read::evtx`: a
    // reading thread beside it would cost more than it saves).
    let evtx = inputs.iter().any(|p| matches!(read::sniff_path(p), Ok(Some(read::Format::Evtx))));
    if opts.threads <= 1 || evtx {
        let mut all = Vec::new();
        for input in inputs {
            all.extend(read_one(input, fopts, opts, state, sink)?);
        }
        return Ok(all);
    }
    // NDJSON: blocks split, probed and parsed on worker threads, events back in order.
    if let Some(r) = super::parallel::read_ordered(inputs, fopts, opts, state, sink) {
        return r;
    }
    const BATCH: usize = 512;
    // The reading thread is the second thread: it reads and parses as one thread does.
    let one = RunOptions { threads: 1, ..opts.clone() };
    let opts = &one;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Event>>(16);
    std::thread::scope(|scope| {
        let stop = &stop;
        let reader = scope.spawn(move || {
            let tx = tx;
            let mut all = Vec::new();
            for input in inputs {
                let mut batch = Vec::with_capacity(BATCH);
                let stats = read_one(input, fopts, opts, state, &mut |ev| {
                    batch.push(ev);
                    if batch.len() == BATCH
                        && tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err()
                    {
                        return false;
                    }
                    !stop.load(std::sync::atomic::Ordering::Relaxed)
                });
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                all.extend(stats?);
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
            Ok(all)
        });
        'batches: for batch in rx.iter() {
            for ev in batch {
                if !sink(ev) {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    break 'batches;
                }
            }
        }
        // Unblock the reader if it is waiting to send, then collect what it read.
        drop(rx);
        reader.join().unwrap_or_else(|_| Err(RunError::Input("the reading thread failed".to_string())))
    })
}

pub(crate) fn print_summary(s: &Summary) {
    print_summary_of(s, "rows");
}

/// The summary with the last line counting `what` (rows, alerts).
pub(crate) fn print_summary_of(s: &Summary, what: &str) {
    let mut e = std::io::stderr().lock();
    let (mut ev, mut sk) = (0, 0);
    for f in &s.files {
        ev += f.events;
        sk += f.skipped;
        let _ = writeln!(
            e,
            "cqlhunt: {}: {} events read, {} records skipped{}",
            f.name,
            f.events,
            f.skipped,
            if f.truncated { ", input ended early" } else { "" }
        );
    }
    if s.files.len() > 1 {
        let _ = writeln!(e, "cqlhunt: total: {ev} events read, {sk} records skipped, {} files", s.files.len());
    }
    let _ = writeln!(e, "cqlhunt: {} {what}", s.rows);
}

/// Read one input, calling `sink` per event (it returns false to stop). A `.zip` gives one
/// entry in the summary per member.
pub(crate) fn read_one(
    path: &Path,
    fopts: &LineOptions,
    opts: &RunOptions,
    state: &mut ReadState,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Result<Vec<FileStats>, RunError> {
    let name = if path.as_os_str() == "-" { "<stdin>".to_string() } else { path.display().to_string() };
    let mut reader = read::open(path).map_err(|e| RunError::Input(format!("{name}: {e}")))?;
    // Look at the first bytes through the reader itself (stdin and pipes cannot be reopened).
    let head = reader.fill_buf().map(|b| b[..b.len().min(512)].to_vec()).unwrap_or_default();
    if opts.format == Some(read::Format::Evtx) || (opts.format.is_none() && head.starts_with(b"ElfFile\0")) {
        if path.as_os_str() == "-" || !path.is_file() {
            return Err(RunError::Input(format!("{name}: EVTX is read with seeks; save it to a file first")));
        }
        drop(reader);
        let stats = FileStats { name: name.clone(), ..FileStats::default() };
        let mut enriched = |mut ev: Event| {
            state.enrich(&mut ev);
            sink(ev)
        };
        return read_windows(&name, read::Format::Evtx, Some(path), opts, &mut enriched, stats, None).map(|s| vec![s]);
    }
    if opts.format.is_none() && head.starts_with(b"PK\x03\x04") {
        drop(reader);
        return read_zip(path, &name, fopts, opts, state, sink);
    }
    read_stream(&name, &mut *reader, fopts, opts, state, sink).map(|s| vec![s])
}

/// Every member of a zip archive, each read like a file of its own.
fn read_zip(
    path: &Path,
    name: &str,
    fopts: &LineOptions,
    opts: &RunOptions,
    state: &mut ReadState,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Result<Vec<FileStats>, RunError> {
    let f = std::fs::File::open(path).map_err(|e| RunError::Input(format!("{name}: {e}")))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| RunError::Input(format!("{name}: not a readable zip: {e}")))?;
    let mut all = Vec::new();
    for i in 0..zip.len() {
        let member = match zip.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                warn_record(opts, &format!("{name}: zip member {i}: {e}; skipped"));
                continue;
            }
        };
        if member.is_dir() {
            continue;
        }
        let mname = format!("{name}:{}", member.name());
        let mut reader = std::io::BufReader::with_capacity(1 << 16, member);
        all.push(read_stream(&mname, &mut reader, fopts, opts, state, sink)?);
    }
    Ok(all)
}

/// A stream of NDJSON lines (any JSON rendering) or Windows event XML.
fn read_stream(
    name: &str,
    reader: &mut dyn read::Source,
    fopts: &LineOptions,
    opts: &RunOptions,
    state: &mut ReadState,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Result<FileStats, RunError> {
    let mut stats = FileStats { name: name.to_string(), ..FileStats::default() };
    let head = reader.fill_buf().map(|b| b[..b.len().min(512)].to_vec()).unwrap_or_default();
    let format = opts.format.unwrap_or_else(|| read::sniff(&head));
    let mut enriched = |mut ev: Event| {
        state.enrich(&mut ev);
        sink(ev)
    };
    match format {
        read::Format::WinXml => {
            return read_windows(name, read::Format::WinXml, None, opts, &mut enriched, stats, Some(reader))
        }
        read::Format::Auditd => return read_auditd(name, reader, opts, &mut enriched, stats),
        read::Format::W3c | read::Format::Combined => {
            return read_weblog(name, format, reader, opts, &mut enriched, stats)
        }
        _ => {}
    }
    let mut strict_fail: Option<Problem> = None;
    let mut skip = opts.skip.as_deref().cloned();
    let mut on_line = |line_no: u64, bytes: &[u8]| -> bool {
        let (skipped, first_type) = skip.as_mut().map_or((false, None), |s| s.check(bytes));
        if skipped {
            stats.events += 1;
            return true;
        }
        if let Some(p) = state.probe.as_mut() {
            match p.check(bytes, first_type, state.tree.as_ref()) {
                // This probe does not defer (the tree is here): parsed either way.
                super::probe::Verdict::Keep | super::probe::Verdict::Defer => {}
                super::probe::Verdict::Drop => {
                    stats.events += 1;
                    return true;
                }
                super::probe::Verdict::Lineage(rec) => {
                    if state.note_spelled(&rec) {
                        stats.events += 1;
                        return true;
                    }
                }
            }
        }
        match read::json::parse_line(bytes, fopts) {
            Ok(mut ev) => {
                stats.events += 1;
                ev.set_rules_hint(state.probe.as_ref().and_then(|p| p.rules_hint()));
                state.enrich(&mut ev);
                sink(ev)
            }
            Err(reason) => {
                let p = Problem { file: name.to_string(), line: Some(line_no), reason };
                record_or_stop(opts, &mut stats, p, &mut strict_fail)
            }
        }
    };
    // Blocks of whole lines, split in place (no copy per line).
    // The lines are numbered here, as they go by (no counting pass).
    let mut next_line = 1u64;
    // One block buffer, handed back after each block.
    let spare: std::cell::Cell<Option<Vec<u8>>> = std::cell::Cell::new(None);
    let res = read::for_each_block_of(reader, 1 << 20, false, &mut || spare.take(), |_, data| {
        let r = read::for_each_line_in(&data, next_line, &mut on_line);
        spare.set(Some(data));
        match r {
            Some(n) => {
                next_line += n;
                true
            }
            None => false,
        }
    });
    if let Some(p) = strict_fail {
        return Err(RunError::Input(format!("{p} (--strict-input)")));
    }
    if let Err((_, e)) = res {
        stats.truncated = true;
        let msg = format!("{name}: input ends early after line {}: {e}", next_line - 1);
        if opts.strict_input {
            return Err(RunError::Input(format!("{msg} (--strict-input)")));
        }
        warn_record(opts, &format!("{msg}; the events before it were read"));
    }
    Ok(stats)
}

/// EVTX and Windows event XML: records normalised to the Falcon model by the mapping tables.
fn read_windows(
    name: &str,
    format: read::Format,
    path: Option<&Path>,
    opts: &RunOptions,
    sink: &mut dyn FnMut(Event) -> bool,
    mut stats: FileStats,
    reader: Option<&mut dyn BufRead>,
) -> Result<FileStats, RunError> {
    let maps = &opts.mappings;
    let mut strict_fail: Option<Problem> = None;
    let mut problem = |p: Problem, stats: &mut FileStats| {
        if let Err(p) = bad_record(opts, stats, p) {
            strict_fail.get_or_insert(p);
        }
    };
    match format {
        read::Format::Evtx => {
            let mut probs = Vec::new();
            let mut count = 0u64;
            let Some(path) = path else { return Ok(stats) };
            // Straight from the BinXML unless the run reads the records' text, and then only
            // the fields the query and the mapping tables read.
            let raw = opts.projection.as_ref().is_none_or(|p| p.keeps_raw());
            let keep = opts.projection.as_ref().map(|p| {
                let names = p.names().into_iter().chain(maps.inputs());
                std::sync::Arc::new(names.map(String::into_boxed_str).collect())
            });
            let eopts = read::evtx::Options { threads: opts.threads, raw, keep: keep.as_ref(), maps };
            let res = read::evtx::read(
                path,
                name,
                eopts,
                &mut |ev| {
                    count += 1;
                    sink(ev)
                },
                &mut |p| probs.push(p),
            );
            stats.events = count;
            for p in probs {
                problem(p, &mut stats);
            }
            if let Err(e) = res {
                return Err(RunError::Input(e));
            }
        }
        _ => {
            // One element at a time: memory holds the largest element, not the document.
            let Some(reader) = reader else { return Ok(stats) };
            let mut rec = 0u64;
            let res = read::winevent::for_each_event(reader, &mut |offset, part| {
                rec += 1;
                match part.and_then(read::winevent::parse_event) {
                    Ok(mut ev) => {
                        maps.apply(&mut ev);
                        stats.events += 1;
                        sink(ev)
                    }
                    Err(reason) => {
                        let p = Problem {
                            file: name.to_string(),
                            line: None,
                            reason: format!("record {rec} (byte offset {offset}): {reason}"),
                        };
                        problem(p, &mut stats);
                        true
                    }
                }
            });
            if let Err(e) = res {
                stats.truncated = true;
                warn_record(opts, &format!("{name}: input ends early: {e}; the records before it were read"));
            }
        }
    }
    if let Some(p) = strict_fail {
        return Err(RunError::Input(format!("{p} (--strict-input)")));
    }
    Ok(stats)
}

/// Linux audit.log: records grouped by serial into events, mapped to the Falcon model.
fn read_auditd(
    name: &str,
    reader: &mut dyn BufRead,
    opts: &RunOptions,
    sink: &mut dyn FnMut(Event) -> bool,
    mut stats: FileStats,
) -> Result<FileStats, RunError> {
    let mut grouper = read::auditd::Grouper::default();
    let mut problems: Vec<Problem> = Vec::new();
    let mut stop = false;
    let mut emit =
        |group: Vec<(u64, read::auditd::Record)>, stats: &mut FileStats, problems: &mut Vec<Problem>| -> bool {
            match read::auditd::event(group, name) {
                Ok(mut ev) => {
                    if let Some(h) = &opts.hostname {
                        if !ev.has("node") {
                            ev.set("node", crate::event::Value::Str(h.clone()));
                        }
                    }
                    opts.mappings.apply(&mut ev);
                    stats.events += 1;
                    sink(ev)
                }
                Err(p) => {
                    problems.push(p);
                    true
                }
            }
        };
    let res = read::for_each_line(reader, |n, bytes| {
        let text = String::from_utf8_lossy(bytes);
        match read::auditd::parse_record(&text) {
            Ok(r) => {
                if let Some(g) = grouper.push(n, r) {
                    if !emit(g, &mut stats, &mut problems) {
                        stop = true;
                        return false;
                    }
                }
            }
            Err(reason) => problems.push(Problem { file: name.to_string(), line: Some(n), reason }),
        }
        !opts.strict_input || problems.is_empty()
    });
    if !stop {
        if let Some(g) = grouper.finish() {
            emit(g, &mut stats, &mut problems);
        }
    }
    for p in problems {
        if let Err(p) = bad_record(opts, &mut stats, p) {
            return Err(RunError::Input(format!("{p} (--strict-input)")));
        }
    }
    if let Err((line, e)) = res {
        stats.truncated = true;
        warn_record(opts, &format!("{name}: input ends early after line {line}: {e}; the events before it were read"));
    }
    Ok(stats)
}

/// IIS W3C and Apache/Nginx access logs: one `WebServerRequest` event per request.
fn read_weblog(
    name: &str,
    format: read::Format,
    reader: &mut dyn BufRead,
    opts: &RunOptions,
    sink: &mut dyn FnMut(Event) -> bool,
    mut stats: FileStats,
) -> Result<FileStats, RunError> {
    let mut w3c = read::weblog::W3c::default();
    let mut strict_fail: Option<Problem> = None;
    let res = read::for_each_line(reader, |n, bytes| {
        let line = String::from_utf8_lossy(bytes);
        let parsed = match format {
            read::Format::W3c => w3c.line(&line),
            _ => Some(read::weblog::combined(&line)),
        };
        match parsed {
            None => true,
            Some(Ok(mut ev)) => {
                if let Some(h) = &opts.hostname {
                    if !ev.has("ComputerName") {
                        ev.set("ComputerName", crate::event::Value::Str(h.clone()));
                    }
                }
                if let Some(h) = ev.get_str("ComputerName").map(|s| s.into_owned()) {
                    ev.set("aid", crate::event::Value::Str(read::mapping::hostid(&h)));
                }
                stats.events += 1;
                sink(ev)
            }
            Some(Err(reason)) => {
                let p = Problem { file: name.to_string(), line: Some(n), reason };
                record_or_stop(opts, &mut stats, p, &mut strict_fail)
            }
        }
    });
    if let Some(p) = strict_fail {
        return Err(RunError::Input(format!("{p} (--strict-input)")));
    }
    if let Err((line, e)) = res {
        stats.truncated = true;
        warn_record(opts, &format!("{name}: input ends early after line {line}: {e}; the events before it were read"));
    }
    Ok(stats)
}
