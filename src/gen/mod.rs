//! `cqlhunt gen`: a deterministic generator of NG-SIEM-shaped Falcon telemetry (NDJSON), for
//! tests and benchmarks of the seed detection (T1505) and the engine.
//!
//! Each line is one flat JSON object whose values are all strings, keys in a shuffled order,
//! as Falcon Data Replicator writes them (../shared/reference/telemetry.md Part A), plus what
//! NG-SIEM adds: `ComputerName` on every event, and `FileName`/`FilePath` (the last component
//! of the path and the rest, trailing separator kept) of `ImageFileName` on events that have
//! one and of `TargetFileName` on file events — the same rule as `read::falcon`, so a reader
//! that derives them finds them already equal.
//!
//! The fleet has `hosts` sensors, about 70% Windows and 30% Linux. Eight fixed hosts come first
//! (`events::FIXED`: IIS, Exchange, SQL Server, Tomcat/XAMPP and Apache/nginx/PHP-FPM and Tomcat
//! web servers, a developer workstation); then domain controllers, file servers, workstations, application,
//! database and Kubernetes hosts. Windows paths are NT device paths
//! (`\Device\HarddiskVolume3\Windows\System32\cmd.exe`); Linux paths are POSIX, without `.exe`.
//! Processes form trees: `ParentProcessId` and `ContextProcessId` are the `TargetProcessId` of
//! an earlier process on the same host when that process was seen.
//!
//! About 55% of lines carry one of the six event names the seed reads (ProcessRollup2,
//! NewExecutableWritten, NewScriptWritten, PeFileWritten, RegGenericValueUpdate, and the rare
//! fictional RegKeyCreate); the rest are DnsRequest, NetworkConnectIP4, NetworkListenIP4,
//! EndOfProcess, TerminateProcess, SyntheticProcessRollup2, ProcessRollup2Stats, ImageHash,
//! ClassifiedModuleLoad, UserLogon, AsepValueUpdate, AsepKeyUpdate, RegGenericKeyUpdate,
//! RegSystemConfigValueUpdate, DirectoryCreate, CriticalFileAccessed and SensorHeartbeat.
//!
//! Lines average about 700 bytes (the fields common to every event take about 420), so
//! 1 GB is about 1.5 M events; generation runs at about 1 M events (700 MB) per second.
//!
//! Planted events (`planted.rs`, about 0.1% of lines and at least one of each kind) are the
//! only ones the seed's three signals match; they come from small fixed pools on fixed hosts,
//! so the seed returns a few dozen groups whatever the number of events.

mod catalog;
mod events;
mod line;
mod planted;
mod rng;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};

use catalog::Ev;
use events::Gen;
use planted::{Schedule, KINDS};

/// Options for `cqlhunt gen`.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Number of NDJSON lines (events) to write.
    pub events: u64,
    /// Seed: the same options give byte-identical output; another seed, other data.
    pub seed: u64,
    /// Number of hosts (sensors); fewer than 8 are raised to 8 so every server role exists.
    pub hosts: u32,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenSummary {
    /// Lines written.
    pub events: u64,
    /// Bytes written (newlines included).
    pub bytes: u64,
    /// Lines per `event_simpleName` (types that occur).
    pub by_type: BTreeMap<String, u64>,
    /// Planted events per kind, every kind listed: `tp:` attacks the seed matches, `fp:` benign
    /// events it matches, `fn:` attacks it misses, `nm:` near misses it must not match.
    pub planted: BTreeMap<String, u64>,
}

/// Write `opts.events` NDJSON lines to `out`. Same options → byte-identical output.
///
/// Output goes through a `BufWriter` created here; the only errors are `out`'s.
pub fn generate<W: Write>(opts: &GenOptions, out: W) -> std::io::Result<GenSummary> {
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let mut g = Gen::new(opts.seed, opts.hosts);
    let mut schedule = Schedule::new(opts.events, opts.seed);
    let mut planted = vec![0u64; KINDS.len()];
    let mut bytes = 0u64;
    for i in 0..opts.events {
        g.begin();
        match schedule.at(i) {
            Some(k) => {
                planted::plant(&mut g, k);
                planted[k] += 1;
            }
            None => g.background(),
        }
        g.line.render(&mut g.rng);
        w.write_all(&g.line.out)?;
        bytes += g.line.out.len() as u64;
    }
    w.flush()?;
    let by_type = Ev::ALL
        .iter()
        .zip(g.by_type.iter())
        .filter(|(_, &n)| n > 0)
        .map(|(ev, &n)| (ev.name().to_string(), n))
        .collect();
    let planted = KINDS.iter().zip(planted).map(|(k, n)| (k.label.to_string(), n)).collect();
    Ok(GenSummary { events: opts.events, bytes, by_type, planted })
}
