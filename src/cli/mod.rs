//! The command line: the only module that knows about files, flags and terminals.
//!
//! Exit codes: 0 success (no errors); 1 the query has errors (diagnostics printed);
//! 2 usage or I/O error (bad flags, unreadable file).

use crate::diag::{self, Code, Diagnostic, Severity, Span};
use crate::lang::{self, ParseOptions};
use crate::plan::{self, PlanOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const ABOUT: &str = "Run CrowdStrike LogScale (CQL) detection queries offline, and check them as LogScale reads them.";

#[derive(Debug, Parser)]
#[command(name = "cqlhunt", version, about = ABOUT, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Parse and plan queries; print diagnostics. Exit 0 when no errors, 1 otherwise.
    #[command(
        after_help = "Examples:\n  cqlhunt check rules/*.cql\n  cqlhunt check rules/t1505/alerts/*.yaml\n  cqlhunt check --lenient ../shared/seed/query.cql\n  echo 'FileName=cmd.exe | groupBy(aid)' | cqlhunt check -"
    )]
    Check {
        /// Query files (`-` reads standard input); a `.yaml`/`.yml` file is a LogScale alert
        /// whose `queryString` is checked.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Output format of the diagnostics.
        #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
        format: DiagFormat,
    },
    /// Dump the stages of a query: the AST (with byte spans) or the plan.
    #[command(
        after_help = "Examples:\n  cqlhunt explain -e 'FileName=/cmd\\.exe/i | count()'\n  cqlhunt explain -f query.cql --ast"
    )]
    Explain {
        /// Read the query from FILE (`-` for standard input).
        #[arg(short = 'f', long = "file", conflicts_with = "expr", required_unless_present = "expr")]
        file: Option<PathBuf>,
        /// The query text itself.
        #[arg(short = 'e', long = "expr")]
        expr: Option<String>,
        /// Print the syntax tree.
        #[arg(long, conflicts_with = "plan")]
        ast: bool,
        /// Print the plan (the default).
        #[arg(long)]
        plan: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Print a strict-valid, canonical rewrite of a query (the seed dialect made valid CQL).
    #[command(after_help = "Examples:\n  cqlhunt fix seed.cql > seed-fixed.cql\n  cqlhunt check seed-fixed.cql")]
    Fix {
        /// The query file (`-` for standard input).
        file: PathBuf,
    },
    /// Print a query as ClickHouse SQL, to run over a table of the events cqlhunt reads.
    #[command(
        after_help = "Examples:\n  cqlhunt run -e '*' -o ndjson fdr/ > events.ndjson\n  cqlhunt sql --create -f q.cql | clickhouse-client\n  clickhouse-client --input_format_skip_unknown_fields=1 --query 'INSERT INTO events FORMAT JSONEachRow' < events.ndjson\n  cqlhunt sql -f q.cql | clickhouse-client --format JSONEachRow\n\nThe table: one column per field, named as the field, Nullable(String) (`@timestamp`\nNullable(Float64)); see docs/clickhouse.md for what translates.\nExit codes: 0 printed; 1 the query has errors or a part with no ClickHouse translation; 2 usage error."
    )]
    Sql {
        /// Read the query from FILE (`-` for standard input; a `.yaml` rule's `queryString`).
        #[arg(short = 'f', long = "file", conflicts_with_all = ["expr", "rules"], required_unless_present_any = ["expr", "rules"])]
        file: Option<PathBuf>,
        /// The query text itself.
        #[arg(short = 'e', long = "expr", conflicts_with = "rules")]
        expr: Option<String>,
        /// Every rule of a pack (a LogScale package folder): each rule's query, or with
        /// `--create` one table for them all (the table `detect --clickhouse` reads).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// The table the events are in.
        #[arg(long, default_value = "events")]
        table: String,
        /// Print `CREATE TABLE` for the fields the query reads instead of the query.
        #[arg(long)]
        create: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Run a query over telemetry: files, directories (recursive), or standard input.
    #[command(
        after_help = "Examples:\n  cqlhunt run --lenient -f tests/seed/seed.cql events.ndjson.gz\n  cqlhunt run -e '#event_simpleName=ProcessRollup2 | groupBy(ComputerName)' fdr/\n  zcat events.gz | cqlhunt run -f q.cql -o csv\n\nExit codes: 0 rows printed (bad records are skipped and counted); 1 the query has errors or failed;\n2 usage error, unreadable input, or a bad record under --strict-input."
    )]
    Run {
        /// Read the query from FILE (`-` for standard input).
        #[arg(short = 'f', long = "file", conflicts_with = "expr", required_unless_present = "expr")]
        file: Option<PathBuf>,
        /// The query text itself.
        #[arg(short = 'e', long = "expr")]
        expr: Option<String>,
        /// Inputs: files, directories, `-` for standard input (the default). gzip and zstd are
        /// decompressed by content.
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Output format (default: table on a terminal, NDJSON otherwise).
        #[arg(short = 'o', long = "output", value_enum)]
        output: Option<output::OutFormat>,
        /// Print @rawstring too.
        #[arg(long)]
        rawstring: bool,
        /// Directory for match(file=…) and readFile() lookups (default: the current directory).
        #[arg(long, value_name = "DIR")]
        lookup_dir: Option<PathBuf>,
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        ch: ClickHouseArgs,
    },
    /// Write deterministic NG-SIEM-shaped Falcon NDJSON with planted T1505 true positives and
    /// near misses (for tests and benchmarks).
    #[command(
        after_help = "Examples:\n  cqlhunt gen --events 100000 > events.ndjson\n  cqlhunt gen --events 2700000 --seed 7 --hosts 200 | zstd > big.ndjson.zst"
    )]
    Gen {
        /// Number of events.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Seed: the same options always give the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of hosts (at least 8: one per server role).
        #[arg(long, default_value_t = 50)]
        hosts: u32,
        /// Print what was planted, per kind, on stderr.
        #[arg(long)]
        summary: bool,
    },
    /// Run a detection pack (every rule, one scan) and print its alerts, Critical first.
    #[command(
        after_help = "Examples:\n  cqlhunt detect                      (the T1505 pack over examples/)\n  cqlhunt detect fdr/ Security.evtx --tuning site-tuning.yaml\n  cqlhunt detect -o ndjson audit.log > alerts.ndjson\n\nExit codes: 0 the pack ran (with or without alerts); 1 a rule has errors or failed;\n2 usage error, unreadable input or pack file, or a bad record under --strict-input."
    )]
    Detect {
        /// Inputs: files and directories (walked for telemetry; `.md`/`.yaml` notes are passed
        /// over), `-` for standard input. Default: `examples/`.
        inputs: Vec<PathBuf>,
        /// The pack: a LogScale package folder with `alerts/*.yaml` (default: `rules/t1505`).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// Tuning file: exclusions per rule, kept apart from the rules (docs/pack.md).
        #[arg(long, value_name = "FILE")]
        tuning: Option<PathBuf>,
        /// Output format (default: table).
        #[arg(short = 'o', long = "output", value_enum, default_value_t = output::OutFormat::Table)]
        output: output::OutFormat,
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        ch: ClickHouseArgs,
    },
    /// Run every rule's fixtures and check its metadata; exit 1 on any mismatch.
    #[command(after_help = "Examples:\n  cqlhunt test\n  cqlhunt test rules/t1505 --junit results.xml")]
    Test {
        /// Pack folders (default: `rules/t1505`).
        dirs: Vec<PathBuf>,
        /// Also write the results as JUnit XML.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print every case, not only failures.
        #[arg(short, long)]
        verbose: bool,
    },
    /// What the pack detects: the seed's five tests per telemetry form, and T1505.001–.006.
    #[command(
        after_help = "Exit codes: 0 full coverage; 1 a seed test form without an alert, or a sub-technique\nwithout a rule whose fixtures pass; 2 unreadable files."
    )]
    Coverage {
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = CoverageFormat::Table)]
        output: CoverageFormat,
        /// The pack (default: `rules/t1505`).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// The index of the seed's tests (default: `examples/atomic/index.yaml`).
        #[arg(long, value_name = "FILE")]
        index: Option<PathBuf>,
    },
    /// Print the tables that map Windows and Linux records to the Falcon event model.
    Mappings {
        /// One source (sysmon, security, …).
        source: Option<String>,
    },
    /// List LogScale's functions with their signatures, or show one.
    Functions {
        /// A function name (case-insensitive).
        name: Option<String>,
    },
}

/// A ClickHouse table to run on instead of files (shared by `run` and `detect`).
#[derive(Debug, Args)]
struct ClickHouseArgs {
    /// Run on a ClickHouse server (its HTTP interface, `HOST:PORT`) over the table of events
    /// `--table` names, instead of reading files (docs/clickhouse.md).
    #[arg(long, value_name = "HOST:PORT")]
    clickhouse: Option<String>,
    /// The table of events, with `--clickhouse`.
    #[arg(long, value_name = "NAME", default_value = "events", requires = "clickhouse")]
    table: String,
}

/// How inputs are read (shared by `run` and `detect`).
#[derive(Debug, Args)]
struct InputArgs {
    /// Input format.
    #[arg(long, value_enum, default_value_t = InFormat::Auto)]
    format: InFormat,
    /// FDR aidmaster table (CSV with a header, or NDJSON): adds ComputerName by aid.
    #[arg(long, value_name = "FILE")]
    aidmaster: Option<PathBuf>,
    /// Keep long values whole in the table.
    #[arg(long)]
    wide: bool,
    /// Stop at the first bad record (exit 2) instead of skipping it.
    #[arg(long)]
    strict_input: bool,
    /// No summary on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// A mapping table to the Falcon model (replaces the shipped table of its source).
    #[arg(long, value_name = "FILE")]
    mapping: Vec<PathBuf>,
    /// Do not fill ParentBaseFileName, GrandParentBaseFileName, ContextBaseFileName and
    /// ContextImageFileName from earlier process events of the same host.
    #[arg(long)]
    no_enrich: bool,
    /// Host name for inputs that carry none (auditd logs without `node=`).
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Worker threads: line-delimited input is cut into blocks that N workers read, probe and
    /// parse (a query that needs lineage, and `detect`, then runs in input order on one thread);
    /// EVTX chunks are read and decoded on a thread of their own beside the query's (rendered
    /// on N threads when the query reads `@rawstring`). Results are the same, in the same
    /// order, for every N. Default: the CPUs this process may use, at most 8.
    #[arg(short = 'j', long = "threads", default_value_t = default_threads())]
    threads: usize,
    /// Parse every line whole, with every field (turns off dropping lines that cannot pass
    /// before parsing them, and keeping only the fields a query reads): for checking that the
    /// fast paths change nothing.
    #[arg(long, hide = true)]
    no_pushdown: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CoverageFormat {
    Table,
    Json,
    Md,
}

#[derive(Debug, Args)]
struct Common {
    /// Accept the seed dialect (`UNION`, parenthesised pipelines, positional `if`,
    /// unescaped `/` in regexes) and report each recovery as a warning.
    #[arg(long)]
    lenient: bool,
    /// Bind a query parameter: `--param name=value` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Directory of saved queries (`NAME.cql`) for `$NAME()` calls.
    #[arg(long, value_name = "DIR")]
    saved: Option<PathBuf>,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum InFormat {
    /// Recognise the format from the content (and each JSON line by its shape).
    Auto,
    /// JSON lines: Falcon (FDR, NG-SIEM) or a Windows event JSON rendering.
    Json,
    /// Windows event XML.
    Xml,
    /// Binary EVTX.
    Evtx,
    /// Linux audit.log.
    Auditd,
    /// IIS W3C extended log.
    W3c,
    /// Apache/Nginx common or combined access log.
    Combined,
}

impl InFormat {
    fn forced(self) -> Option<crate::read::Format> {
        use crate::read::Format;
        Some(match self {
            InFormat::Auto => return None,
            InFormat::Json => Format::FalconNdjson,
            InFormat::Xml => Format::WinXml,
            InFormat::Evtx => Format::Evtx,
            InFormat::Auditd => Format::Auditd,
            InFormat::W3c => Format::W3c,
            InFormat::Combined => Format::Combined,
        })
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiagFormat {
    /// Source line, caret, labels and help.
    Human,
    /// One line per diagnostic: file:line:col: severity[code]: message.
    Short,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `-j`'s default: the CPUs this process may use (its affinity and cgroup quota), at most 8
/// (past that, blocks in flight cost memory and the reader's one thread feeds no more).
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(msg) => {
            eprintln_safe(&format!("cqlhunt: {msg}"));
            ExitCode::from(2)
        }
    }
}

fn eprintln_safe(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{s}");
}

fn print_out(s: &str) -> Result<(), String> {
    let mut o = std::io::stdout().lock();
    match o.write_all(s.as_bytes()).and_then(|()| o.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing output: {e}")),
    }
}

fn use_color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    }
}

fn read_input(path: &Path) -> Result<(String, Vec<u8>), String> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("<stdin>: {e}"))?;
        return Ok(("<stdin>".to_string(), buf));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path.display().to_string(), bytes))
}

/// Decode query bytes; invalid UTF-8 becomes a diagnostic (and U+FFFD in the text).
pub fn decode(bytes: &[u8]) -> (String, Option<Diagnostic>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let d = Diagnostic::error(Code::InvalidUtf8, Span::new(at, at + 1), format!("invalid UTF-8 at byte {at}"))
                .with_label("not UTF-8")
                .with_help("save the query as UTF-8");
            (text, Some(d))
        }
    }
}

fn load_saved(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    let rd = std::fs::read_dir(dir).map_err(|e| format!("--saved {}: {e}", dir.display()))?;
    for entry in rd {
        let entry = entry.map_err(|e| format!("--saved {}: {e}", dir.display()))?;
        let p = entry.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "cql" | "logscale") {
            continue;
        }
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else { continue };
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        map.insert(stem.to_string(), text);
    }
    Ok(map)
}

fn plan_options(common: &Common) -> Result<PlanOptions, String> {
    Ok(PlanOptions {
        params: common.params.iter().cloned().collect(),
        saved: common.saved.as_deref().map(load_saved).transpose()?,
        require_params: false,
        lenient: common.lenient,
    })
}

/// Everything `check` finds in one source: parse and plan diagnostics.
pub fn check_source(text: &str, lenient: bool, opts: &PlanOptions) -> Vec<Diagnostic> {
    parse_and_plan(text, lenient, opts).2
}

/// A source parsed and planned once: the tree, its plan (only a clean parse is planned: a tree
/// that failed to parse gives noise), and the diagnostics of both in source order.
pub fn parse_and_plan(
    text: &str,
    lenient: bool,
    opts: &PlanOptions,
) -> (lang::ast::Query, Option<plan::Plan>, Vec<Diagnostic>) {
    let (q, mut diags) = lang::parse(text, ParseOptions { lenient });
    let planned = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        let (p, pd) = plan::plan(&q, text, opts);
        diags.extend(pd);
        Some(p)
    };
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (q, planned, diags)
}

fn count(diags: &[Diagnostic]) -> (usize, usize) {
    let e = diags.iter().filter(|d| d.severity == Severity::Error).count();
    (e, diags.len() - e)
}

fn plural(n: usize, w: &str) -> String {
    format!("{n} {w}{}", if n == 1 { "" } else { "s" })
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::Check { files, common, format } => {
            let opts = plan_options(&common)?;
            let color = use_color(common.color);
            let mut any_err = false;
            for f in &files {
                let (mut name, bytes) = read_input(f)?;
                let (mut text, bad) = decode(&bytes);
                // A rule file: its query, with diagnostics placed in the query's own text.
                let yaml = f.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml"));
                if yaml && bad.is_none() {
                    match crate::pack::parse_rule(&text, f) {
                        Ok(rule) => {
                            name = format!("{name}: queryString");
                            text = rule.query;
                        }
                        Err(e) => {
                            eprintln_safe(&format!("cqlhunt: {e}"));
                            any_err = true;
                            continue;
                        }
                    }
                }
                let mut diags = check_source(&text, common.lenient, &opts);
                if let Some(b) = bad {
                    diags.insert(0, b);
                }
                let (e, w) = count(&diags);
                any_err |= e > 0;
                let out = match format {
                    DiagFormat::Human => diag::render(&name, &text, &diags, color),
                    DiagFormat::Short => diag::render_short(&name, &text, &diags),
                };
                print_out(&out)?;
                if format == DiagFormat::Human {
                    let verdict = if e == 0 { "ok" } else { "failed" };
                    print_out(&format!("{name}: {verdict}: {}, {}\n", plural(e, "error"), plural(w, "warning")))?;
                }
            }
            Ok(ExitCode::from(u8::from(any_err)))
        }
        Cmd::Explain { file, expr, ast, plan: _, common } => {
            let (name, text) = match (file, expr) {
                (Some(f), _) => {
                    let (name, bytes) = read_input(&f)?;
                    (name, decode(&bytes).0)
                }
                (None, Some(e)) => ("<expr>".to_string(), e),
                (None, None) => return Err("give -f FILE or -e TEXT".to_string()),
            };
            let opts = PlanOptions { require_params: true, ..plan_options(&common)? };
            let (q, mut diags) = lang::parse(&text, ParseOptions { lenient: common.lenient });
            let plan_result = if diags.iter().any(Diagnostic::is_error) {
                None
            } else {
                let (p, pd) = plan::plan(&q, &text, &opts);
                diags.extend(pd);
                Some(p)
            };
            let color = use_color(common.color);
            if !diags.is_empty() {
                eprintln_safe(diag::render(&name, &text, &diags, color).trim_end());
            }
            if ast {
                print_out(&format!("{q:#?}\n"))?;
            } else if let Some(p) = plan_result {
                let mut text = crate::cli::explain::plan_text(&q, &p);
                if let Ok(ir) = plan::compile::compile(&q, &opts) {
                    text.push_str(&match plan::project::projection(&ir) {
                        Some(f) => format!(
                            "projection: Falcon lines keep only {} (and what ingest and lineage read)\n",
                            f.into_iter().collect::<Vec<_>>().join(", ")
                        ),
                        None => "projection: none (the result may depend on any field)\n".to_string(),
                    });
                }
                print_out(&text)?;
            }
            Ok(ExitCode::from(u8::from(diags.iter().any(Diagnostic::is_error))))
        }
        Cmd::Fix { file } => {
            let (name, bytes) = read_input(&file)?;
            let (text, bad) = decode(&bytes);
            let color = use_color(ColorChoice::Auto);
            if let Some(b) = bad {
                eprintln_safe(diag::render(&name, &text, &[b], color).trim_end());
                return Ok(ExitCode::from(1));
            }
            let (fixed, diags) = fix_text(&text);
            if !diags.is_empty() {
                eprintln_safe(diag::render(&name, &text, &diags, color).trim_end());
            }
            match fixed {
                Some(out) => {
                    print_out(&out)?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Ok(ExitCode::from(1)),
            }
        }
        Cmd::Sql { file, expr, rules: Some(dir), table, create, common: _ } => {
            let _ = (file, expr);
            let pack = crate::pack::load(&dir).map_err(|e| packtest::errors_text(&e))?;
            let (mut fields, mut failed) = (Vec::new(), false);
            let mut out = String::new();
            for rule in &pack.rules {
                match crate::sql::translate(&rule.query, false, &table) {
                    Ok(sql) => {
                        fields.extend(sql.inputs.iter().cloned());
                        out.push_str(&format!("-- {}: {}\n{};\n", rule.id, rule.name, sql.text));
                    }
                    Err(e) => {
                        failed = true;
                        eprintln_safe(&format!("cqlhunt: rule {}: {e}", rule.id));
                    }
                }
            }
            if create {
                print_out(&format!("{};\n", crate::sql::create_table(&table, &fields)))?;
                return Ok(ExitCode::SUCCESS);
            }
            print_out(&out)?;
            Ok(ExitCode::from(u8::from(failed)))
        }
        Cmd::Sql { file, expr, rules: None, table, create, common } => {
            let (name, text) = match (file, expr) {
                (Some(f), _) => {
                    let (name, bytes) = read_input(&f)?;
                    let text = decode(&bytes).0;
                    // A rule file: its query.
                    match f.extension().and_then(|e| e.to_str()) {
                        Some("yaml" | "yml") => (
                            format!("{name}: queryString"),
                            crate::pack::parse_rule(&text, &f).map_err(|e| e.to_string())?.query,
                        ),
                        _ => (name, text),
                    }
                }
                (None, Some(e)) => ("<expr>".to_string(), e),
                (None, None) => return Err("give -f FILE or -e TEXT".to_string()),
            };
            let color = use_color(common.color);
            let popts = PlanOptions { require_params: true, ..plan_options(&common)? };
            let (q, described, diags) = parse_and_plan(&text, common.lenient, &popts);
            if !diags.is_empty() {
                eprintln_safe(diag::render(&name, &text, &diags, color).trim_end());
            }
            if described.is_none() || diags.iter().any(Diagnostic::is_error) {
                return Ok(ExitCode::from(1));
            }
            let ir = match plan::compile::compile(&q, &popts) {
                Ok(ir) => ir,
                Err(d) => {
                    eprintln_safe(diag::render(&name, &text, &d, color).trim_end());
                    return Ok(ExitCode::from(1));
                }
            };
            match crate::sql::to_clickhouse(&ir, &table) {
                Ok(sql) if create => print_out(&format!("{};\n", crate::sql::create_table(&table, &sql.inputs)))?,
                Ok(sql) => print_out(&format!("{};\n", sql.text))?,
                Err(e) => {
                    eprintln_safe(&format!("cqlhunt: {name}: {e}"));
                    return Ok(ExitCode::from(1));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run { file, expr, inputs, common, output, rawstring, lookup_dir, input, ch } => {
            let InputArgs {
                format,
                aidmaster,
                wide,
                strict_input,
                quiet,
                mapping,
                no_enrich,
                hostname,
                threads,
                no_pushdown,
            } = input;
            if threads == 0 {
                return Err("--threads must be at least 1".to_string());
            }
            let (name, text) = match (file, expr) {
                (Some(f), _) => {
                    let (name, bytes) = read_input(&f)?;
                    let (text, bad) = decode(&bytes);
                    if let Some(b) = bad {
                        eprintln_safe(diag::render(&name, &text, &[b], use_color(common.color)).trim_end());
                        return Ok(ExitCode::from(1));
                    }
                    (name, text)
                }
                (None, Some(e)) => ("<expr>".to_string(), e),
                (None, None) => return Err("give -f FILE or -e TEXT".to_string()),
            };
            let popts = PlanOptions { require_params: true, ..plan_options(&common)? };
            let (q, described, diags) = parse_and_plan(&text, common.lenient, &popts);
            let described = match described {
                Some(p) if !diags.iter().any(Diagnostic::is_error) => p,
                _ => {
                    eprintln_safe(diag::render(&name, &text, &diags, use_color(common.color)).trim_end());
                    return Ok(ExitCode::from(1));
                }
            };
            // Warnings (the seed dialect's recoveries) one line each; `check` shows them in full.
            if !diags.is_empty() && !quiet {
                eprintln_safe(diag::render_short(&name, &text, &diags).trim_end());
            }
            let enrich_matters = !described.aggregates
                || crate::read::tree::ENRICHED_FIELDS.iter().any(|f| described.fields_read.contains(*f));
            let ir = match plan::compile::compile(&q, &popts) {
                Ok(ir) => ir,
                Err(d) => {
                    eprintln_safe(diag::render(&name, &text, &d, use_color(common.color)).trim_end());
                    return Ok(ExitCode::from(1));
                }
            };
            if let Some(addr) = &ch.clickhouse {
                if !inputs.is_empty() {
                    return Err("--clickhouse runs over the table, not over files: give one or the other".to_string());
                }
                let server = clickhouse::Server::new(addr);
                let columns = server.columns(&ch.table)?;
                let sql = match crate::sql::to_clickhouse_over(&ir, &ch.table, Some(&columns)) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln_safe(&format!("cqlhunt: {name}: {e}"));
                        return Ok(ExitCode::from(1));
                    }
                };
                let rows = server.rows(&sql).map_err(|e| format!("{name}: {e}"))?;
                let n = rows.len();
                let mut out = run::stdout_output(output, rawstring, wide);
                let written = rows.into_iter().try_for_each(|r| out.row(r)).and_then(|_| out.finish());
                match written {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(format!("writing output: {e}")),
                    _ => {}
                }
                if !quiet {
                    eprintln_safe(&format!("cqlhunt: {n} rows (ClickHouse at {}, table {})", server.addr, ch.table));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let projected = plan::project::projection(&ir);
            let lineage_reads: Vec<String> = projected
                .iter()
                .flatten()
                .filter(|f| crate::read::tree::ENRICHED_FIELDS.contains(&f.as_str()))
                .filter(|_| !no_pushdown)
                .cloned()
                .collect();
            let mut ropts = run::RunOptions {
                inputs,
                output,
                aidmaster,
                strict_input,
                wide,
                rawstring,
                lookup_dir: lookup_dir.unwrap_or_else(|| PathBuf::from(".")),
                quiet,
                threads,
                mappings: load_mappings(&mapping)?,
                enrich: !no_enrich,
                enrich_matters,
                hostname,
                mute: false,
                format: format.forced(),
                skip: described
                    .event_names
                    .clone()
                    .and_then(|names| crate::read::skip::LineSkip::for_query(names, !no_enrich && enrich_matters)),
                projection: projected
                    .clone()
                    .filter(|_| !no_pushdown)
                    .map(|f| std::sync::Arc::new(crate::read::fastjson::Projection::new(f))),
                // The lineage fields the result depends on (only when it depends on named fields).
                speculate: lineage_reads.clone(),
                lineage_reads,
                capture: None,
                probe: (!no_pushdown).then(|| {
                    std::sync::Arc::new(vec![probe::ProbeQuery {
                        ir: ir.clone(),
                        event_names: described.event_names.clone(),
                    }])
                }),
            };
            ropts.map_only_projected();
            match run::run(&ir, &ropts) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(run::RunError::Query(e)) => {
                    eprintln_safe(&format!("cqlhunt: error: {e}"));
                    Ok(ExitCode::from(1))
                }
                Err(run::RunError::Input(e)) | Err(run::RunError::Output(e)) => Err(e),
            }
        }
        Cmd::Gen { events, seed, hosts, summary } => {
            let opts = crate::gen::GenOptions { events, seed, hosts };
            let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            match crate::gen::generate(&opts, out) {
                Ok(s) => {
                    if summary {
                        let mut text = format!("{} events, {} bytes\n", s.events, s.bytes);
                        for (k, v) in &s.planted {
                            text.push_str(&format!("  {k}: {v}\n"));
                        }
                        eprintln_safe(text.trim_end());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                Err(e) => Err(format!("writing events: {e}")),
            }
        }
        Cmd::Detect { inputs, rules, tuning, output, input, ch } => {
            if ch.clickhouse.is_some() && !inputs.is_empty() {
                return Err("--clickhouse runs over the table, not over files: give one or the other".to_string());
            }
            let inputs = if inputs.is_empty() { vec![crate::pack::default_path("examples")] } else { inputs };
            let rules = rules.unwrap_or_else(|| crate::pack::default_path("rules/t1505"));
            let ropts = run::RunOptions {
                inputs,
                output: Some(output),
                aidmaster: input.aidmaster,
                strict_input: input.strict_input,
                wide: input.wide,
                rawstring: false,
                lookup_dir: rules.clone(),
                quiet: input.quiet,
                threads: input.threads.max(1),
                mappings: load_mappings(&input.mapping)?,
                enrich: !input.no_enrich,
                enrich_matters: true,
                hostname: input.hostname,
                mute: false,
                format: input.format.forced(),
                skip: None,
                projection: None,
                probe: None,
                speculate: Vec::new(),
                lineage_reads: Vec::new(),
                capture: None,
            };
            if let Some(addr) = &ch.clickhouse {
                let server = clickhouse::Server::new(addr);
                return packtest::detect_on(&rules, tuning.as_deref(), &server, &ch.table, ropts);
            }
            packtest::detect(&rules, tuning.as_deref(), ropts, !input.no_pushdown)
        }
        Cmd::Test { dirs, junit, verbose } => {
            let dirs = if dirs.is_empty() { vec![crate::pack::default_path("rules/t1505")] } else { dirs };
            packtest::test(&dirs, junit.as_deref(), verbose)
        }
        Cmd::Coverage { output, rules, index } => {
            let rules = rules.unwrap_or_else(|| crate::pack::default_path("rules/t1505"));
            let index = index.unwrap_or_else(|| crate::pack::default_path("examples/atomic/index.yaml"));
            packtest::coverage(&rules, &index, output)
        }
        Cmd::Mappings { source } => {
            let m = crate::read::mapping::Mappings::builtin();
            let mut found = false;
            for s in m.sources() {
                if source.as_ref().is_none_or(|x| x == &s.source) {
                    found = true;
                    print_out(&s.text)?;
                    print_out("\n")?;
                }
            }
            if !found {
                let names: Vec<&str> = m.sources().iter().map(|s| s.source.as_str()).collect();
                return Err(format!("no mapping table for that source (have: {})", names.join(", ")));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Functions { name } => {
            let t = crate::func::FunctionTable::builtin();
            match name {
                Some(n) => match t.get(&n) {
                    Some(f) => {
                        let mut s = format!("{}\n  category: {}\n", f.signature(), f.category.as_str());
                        if let Some(d) = &f.doc {
                            s.push_str(&format!("  docs: {d}\n"));
                        }
                        for ex in &f.examples {
                            s.push_str(&format!("  example: {ex}\n"));
                        }
                        print_out(&s)?;
                        Ok(ExitCode::SUCCESS)
                    }
                    None => {
                        let hint = t.suggest(&n).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
                        Err(format!("unknown function `{n}`{hint}"))
                    }
                },
                None => {
                    let mut s = String::new();
                    for f in t.all() {
                        s.push_str(&format!("{:<10} {}\n", f.category.as_str(), f.signature()));
                    }
                    print_out(&s)?;
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

fn load_mappings(files: &[PathBuf]) -> Result<crate::read::mapping::Mappings, String> {
    let mut m = crate::read::mapping::Mappings::builtin();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("--mapping {}: {e}", f.display()))?;
        m.add(crate::read::mapping::parse(&text, &f.display().to_string())?);
    }
    Ok(m)
}

/// `fix`: parse leniently, rewrite the seed dialect, print canonical CQL, and check that the
/// result is strict-valid. Returns the text (or `None` when the query has real errors) and the
/// diagnostics to show.
pub fn fix_text(text: &str) -> (Option<String>, Vec<Diagnostic>) {
    let (mut q, diags) = lang::parse(text, ParseOptions { lenient: true });
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    let mut shown: Vec<Diagnostic> = diags;
    shown.extend(lang::fix::fix(&mut q));
    let mut out = lang::query_to_string(&q);
    out.push('\n');
    let (_, after) = lang::parse(&out, ParseOptions::default());
    if let Some(e) = after.iter().find(|d| d.is_error()) {
        // A bug in fix or the printer: say so rather than print invalid CQL.
        shown.push(Diagnostic::error(
            e.code,
            Span::new(0, 0),
            format!("cqlhunt fix produced invalid CQL ({}); please report this", e.message),
        ));
        return (None, shown);
    }
    (Some(out), shown)
}

pub mod clickhouse;
pub mod explain;
pub mod output;
pub mod pack;
pub mod packtest;
pub mod parallel;
pub mod probe;
pub mod run;
