//! The fleet of hosts and the event writers: each writer fills the reusable `Line` with the
//! common fields of one event and its type-specific ones (telemetry.md §A.2–§A.7, NG-SIEM
//! additions `ComputerName`, `FileName`, `FilePath` included).

use std::collections::HashMap;

use super::catalog::{self, role, Ev, Tpl, User, EV_COUNT};
use super::line::{push_hex, push_num, push_num_pad, Line};
use super::rng::{fnv, pick_cum, Rng};

/// Cumulative weights over the templates of one catalog that apply to a host.
#[derive(Debug, Default)]
pub(crate) struct Table {
    cum: Vec<u32>,
    idx: Vec<u16>,
}

impl Table {
    fn new<T: Tpl>(items: &[T], roles: u32) -> Table {
        let mut t = Table::default();
        let mut total = 0;
        for (i, it) in items.iter().enumerate() {
            if it.roles() & roles != 0 && it.weight() > 0 {
                total += it.weight();
                t.cum.push(total);
                t.idx.push(i as u16);
            }
        }
        t
    }

    /// A template index, or `None` when nothing applies.
    fn pick(&self, rng: &mut Rng) -> Option<usize> {
        if self.idx.is_empty() {
            return None;
        }
        Some(self.idx[pick_cum(rng, &self.cum)] as usize)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Recent {
    tpid: u64,
    raw: u32,
    start_ms: u64,
}

/// One sensor (host).
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) aid: String,
    pub(crate) name: String,
    pub(crate) lin: bool,
    pub(crate) roles: u32,
    aip: &'static str,
    ip: [u8; 4],
    build: &'static str,
    state_hash: String,
    vol: u8,
    user: &'static str,
    user_sid: String,
    iface: String,
    spawns: Table,
    files: Table,
    regs: Table,
    sysconf: Table,
    aseps: Table,
    dns: Table,
    conns: Table,
    listens: Table,
    modules: Table,
    procs: HashMap<&'static str, (u64, u32)>,
    recent: [Recent; 32],
    next_tpid: u64,
    next_raw: u32,
}

/// The fixed hosts every fleet starts with (planted events use only these), in this order.
pub(crate) const FIXED: &[(&str, bool, u32)] = &[
    ("WEB-IIS01", false, role::WIN | role::SRV | role::IIS),
    ("web-lnx01", true, role::LIN | role::APACHE),
    ("SQL01", false, role::WIN | role::SRV | role::SQL),
    ("EXCH01", false, role::WIN | role::SRV | role::IIS | role::EXCH),
    ("web-lnx02", true, role::LIN | role::NGINX),
    ("APP-TC01", false, role::WIN | role::SRV | role::TC),
    ("WKS-DEV01", false, role::WIN | role::WKS | role::DEV),
    ("app-lnx01", true, role::LIN | role::LTC),
];

/// The smallest fleet: the fixed hosts.
pub(crate) const MIN_HOSTS: u32 = FIXED.len() as u32;

/// Generator state: fleet, clock, the line being built, counts.
#[derive(Debug)]
pub(crate) struct Gen {
    pub(crate) rng: Rng,
    pub(crate) line: Line,
    pub(crate) hosts: Vec<Host>,
    host_cum: Vec<u32>,
    win_mix: Vec<u32>,
    lin_mix: Vec<u32>,
    clock: u64,
    gap: u64,
    /// `timestamp` of the current event (epoch ms).
    pub(crate) ts: u64,
    cid: String,
    salt: u64,
    scratch: String,
    pub(crate) by_type: [u64; EV_COUNT],
}

/// The file name part of a path (after the last `\` or `/`).
pub(crate) fn base(p: &str) -> &str {
    p.rfind(['\\', '/']).map_or(p, |i| &p[i + 1..])
}

fn hex_string(rng: &mut Rng, digits: u32) -> String {
    let mut s = String::with_capacity(digits as usize);
    let mut left = digits;
    while left > 0 {
        let n = left.min(16);
        push_hex(&mut s, rng.next_u64(), n, false);
        left -= n;
    }
    s
}

fn push_guid(s: &mut String, rng: &mut Rng, upper: bool) {
    let a = rng.next_u64();
    let b = rng.next_u64();
    push_hex(s, a >> 32, 8, upper);
    s.push('-');
    push_hex(s, a >> 16, 4, upper);
    s.push('-');
    push_hex(s, a, 4, upper);
    s.push('-');
    push_hex(s, b >> 48, 4, upper);
    s.push('-');
    push_hex(s, b, 12, upper);
}

/// Civil date (y, m, d) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Expands the `$X$` placeholders of `tpl` (see `catalog`) into `out`.
fn expand(out: &mut String, tpl: &str, host: &Host, rng: &mut Rng, ts: u64) {
    let b = tpl.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] != b'$' || b[i + 2] != b'$' {
            i += 1;
            continue;
        }
        let before = out.len();
        out.push_str(&tpl[run..i]);
        match b[i + 1] {
            b'G' => push_guid(out, rng, true),
            b'g' => push_guid(out, rng, false),
            b'Q' => out.push_str(&host.iface),
            b'H' => push_hex(out, rng.next_u64(), 8, false),
            b'X' => {
                push_hex(out, rng.next_u64(), 16, true);
                push_hex(out, rng.next_u64(), 16, true);
            }
            b'N' => push_num(out, rng.range(1, 10_000)),
            b'n' => push_num(out, u64::from(rng.below(10))),
            b'P' => push_num(out, if host.lin { rng.range(300, 400_000) } else { 4 * rng.range(100, 16_000) }),
            b'U' => out.push_str(if host.lin { "ubuntu" } else { host.user }),
            b'S' => out.push_str(&host.user_sid),
            b'D' => {
                let (y, m, d) = civil((ts / 86_400_000) as i64);
                push_num(out, y as u64);
                push_num_pad(out, u64::from(m), 2);
                push_num_pad(out, u64::from(d), 2);
            }
            b'E' => push_num(out, ts / 1000),
            b'R' => out.push_str(rng.pick::<&str>(catalog::WORDS)),
            b'T' => {
                const AN: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                for k in 0..12 {
                    out.push(if k == 8 { '.' } else { AN[rng.below(AN.len() as u32) as usize] as char });
                }
            }
            b'I' => {
                for (k, o) in host.ip.iter().enumerate() {
                    if k > 0 {
                        out.push('.');
                    }
                    push_num(out, u64::from(*o));
                }
            }
            b'Y' => out.push_str(rng.pick::<&str>(catalog::SERVICES)),
            b'0' => out.push('\0'),
            _ => {
                // Not a placeholder: keep the `$` and go on after it.
                out.truncate(before);
                i += 1;
                continue;
            }
        }
        i += 3;
        run = i;
    }
    out.push_str(&tpl[run..]);
}

impl Gen {
    pub(crate) fn new(seed: u64, hosts: u32) -> Gen {
        let n = hosts.max(MIN_HOSTS) as usize;
        let mut rng = Rng::new(seed, 1);
        let cid = hex_string(&mut rng, 32);
        let domain_sid = format!(
            "S-1-5-21-{}-{}-{}",
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(1_000_000_000, 4_000_000_000)
        );
        let mut specs: Vec<(String, bool, u32)> = FIXED.iter().map(|&(n, l, r)| (n.to_string(), l, r)).collect();
        let target_lin = (n * 3 + 5) / 10;
        let mut lin = FIXED.iter().filter(|f| f.1).count();
        let mut counters: HashMap<&'static str, u32> = HashMap::new();
        let mut next = |prefix: &'static str, first: u32| {
            let c = counters.entry(prefix).or_insert(first);
            let v = *c;
            *c += 1;
            v
        };
        for i in FIXED.len()..n {
            let left = (n - i) as u32;
            let need = target_lin.saturating_sub(lin) as u32;
            let is_lin = rng.below(left) < need;
            if is_lin {
                lin += 1;
                let (prefix, roles, first) = match rng.below(10) {
                    0..=2 => ("app-lnx", role::LIN | role::LAPP, 2),
                    3..=4 => ("k8s-node-", role::LIN | role::K8S, 1),
                    5 => ("db-lnx", role::LIN | role::DB, 1),
                    6 => ("web-lnx", role::LIN | role::APACHE, 3),
                    7 => ("web-lnx", role::LIN | role::NGINX, 3),
                    8 => ("app-lnx", role::LIN | role::LTC, 2),
                    _ => ("app-lnx", role::LIN | role::LAPP, 2),
                };
                let num = next(prefix, first);
                specs.push((format!("{prefix}{num:02}"), true, roles));
            } else {
                let extra = specs.iter().filter(|s| !s.1).count() - 5;
                let (prefix, roles, first) = match extra {
                    0 => ("DC", role::WIN | role::SRV | role::DC, 1),
                    1 => ("FS", role::WIN | role::SRV | role::FS, 1),
                    2 => ("DC", role::WIN | role::SRV | role::DC, 1),
                    _ => match rng.below(20) {
                        0 => ("WEB-IIS", role::WIN | role::SRV | role::IIS, 2),
                        1 => ("SQL", role::WIN | role::SRV | role::SQL, 2),
                        2 | 3 => ("APP-SRV", role::WIN | role::SRV, 1),
                        _ => ("WKS-", role::WIN | role::WKS, 0),
                    },
                };
                let name = if prefix == "WKS-" {
                    let num = next(prefix, 0);
                    format!("WKS-{:04}", 1000 + num * 10 + rng.below(10))
                } else {
                    format!("{prefix}{:02}", next(prefix, first))
                };
                specs.push((name, false, roles));
            }
        }
        let user_offset = rng.below(catalog::WKS_USERS.len() as u32) as usize;
        let mut hosts = Vec::with_capacity(n);
        let mut host_cum = Vec::with_capacity(n);
        let mut total = 0u32;
        for (i, (name, lin, roles)) in specs.into_iter().enumerate() {
            let (user, rid) = if roles & role::WKS != 0 {
                let k = (user_offset + i) % catalog::WKS_USERS.len();
                (catalog::WKS_USERS[k], 1100 + k as u64 * 3)
            } else {
                let k = i % catalog::ADMIN_USERS.len();
                (catalog::ADMIN_USERS[k], 1010 + k as u64)
            };
            let aip = if lin {
                *rng.pick(&["81.2.69.144", "89.160.20.128", "198.51.100.9"])
            } else if roles & role::WKS != 0 {
                *rng.pick(&["203.0.113.10", "203.0.113.11"])
            } else {
                "198.51.100.7"
            };
            let ip = if lin {
                [10, 30, rng.below(4) as u8, 10 + rng.below(200) as u8]
            } else if roles & role::WKS != 0 {
                [10, 10, rng.below(16) as u8, 10 + rng.below(240) as u8]
            } else {
                [10, 20, 1, 10 + (i % 240) as u8]
            };
            let build = if lin {
                *rng.pick(&["1007.8.0018702.1", "1007.8.0019005.1"])
            } else {
                *rng.pick(&["1007.3.0019206.1", "1007.3.0018909.1"])
            };
            let mut iface = String::new();
            push_guid(&mut iface, &mut rng, true);
            let (spawns, files) = if lin {
                (Table::new(catalog::LIN_SPAWNS, roles), Table::new(catalog::LIN_FILES, roles))
            } else {
                (Table::new(catalog::WIN_SPAWNS, roles), Table::new(catalog::WIN_FILES, roles))
            };
            let weight = if roles & (role::IIS | role::SQL | role::EXCH | role::APACHE | role::NGINX) != 0 {
                4
            } else if roles & (role::WKS | role::DEV) == role::WKS {
                2
            } else {
                3
            };
            total += weight;
            host_cum.push(total);
            hosts.push(Host {
                aid: hex_string(&mut rng, 32),
                name,
                lin,
                roles,
                aip,
                ip,
                build,
                state_hash: rng.range(100_000_000, 4_294_967_295).to_string(),
                vol: if rng.chance(3, 4) { 3 } else { 2 + 2 * rng.below(2) as u8 },
                user,
                user_sid: format!("{domain_sid}-{rid}"),
                iface,
                spawns,
                files,
                regs: Table::new(catalog::REG_VALUES, roles),
                sysconf: Table::new(catalog::REG_SYSCONFIG, roles),
                aseps: Table::new(catalog::ASEPS, roles),
                dns: Table::new(catalog::DNS, roles),
                conns: Table::new(catalog::CONNS, roles),
                listens: Table::new(catalog::LISTENS, roles),
                modules: Table::new(catalog::MODULES, roles),
                procs: HashMap::new(),
                recent: [Recent::default(); 32],
                next_tpid: rng.range(1_000_000_000_000, 90_000_000_000_000),
                next_raw: if lin { rng.range(1000, 90_000) as u32 } else { 4 * rng.range(100, 4000) as u32 },
            });
        }
        let cum = |mix: &[(Ev, u32)]| -> Vec<u32> {
            let mut t = 0;
            mix.iter()
                .map(|&(_, w)| {
                    t += w;
                    t
                })
                .collect()
        };
        let win_mix = cum(catalog::WIN_MIX);
        let lin_mix = cum(catalog::LIN_MIX);
        // About two events per host and second; start on 2025-07-03 plus up to a day.
        let gap = (2 * 500 / n as u64).max(1);
        let clock = 1_751_500_800_000 + rng.below64(86_400_000);
        Gen {
            salt: rng.next_u64(),
            rng,
            line: Line::new(),
            hosts,
            host_cum,
            win_mix,
            lin_mix,
            clock,
            gap,
            ts: clock,
            cid,
            scratch: String::with_capacity(512),
            by_type: [0; EV_COUNT],
        }
    }

    /// Starts a new event: clears the line and advances the clock (FDR's `timestamp` is the
    /// cloud's receipt time, so it is only roughly ordered: jitter up to 2 s).
    pub(crate) fn begin(&mut self) {
        self.line.clear();
        self.clock += self.rng.range(0, self.gap + 1);
        self.ts = self.clock + self.rng.range(0, 2000);
    }

    /// Sensor-side time: 0.2–15 s before `timestamp`.
    fn context_ms(&mut self) -> u64 {
        self.ts - self.rng.range(200, 15_000)
    }

    /// Writes the common fields.
    fn common(&mut self, h: usize, ev: Ev) {
        self.by_type[ev as usize] += 1;
        let host = &self.hosts[h];
        let l = &mut self.line;
        l.str("event_simpleName", ev.name());
        l.str("name", ev.schema(host.lin));
        l.str("event_platform", if host.lin { "Lin" } else { "Win" });
        l.str("aid", &host.aid);
        l.str("cid", &self.cid);
        l.str("aip", host.aip);
        let st = l.mark();
        push_guid(l.buf(), &mut self.rng, false);
        l.close("id", st);
        l.num("timestamp", self.ts);
        l.str("ConfigBuild", host.build);
        l.str("ConfigStateHash", &host.state_hash);
        l.str("Entitlements", "15");
        l.str("EffectiveTransmissionClass", if host.lin { "2" } else { "3" });
        l.str("ComputerName", &host.name);
    }

    fn context_time(&mut self) {
        let ms = self.context_ms();
        self.line.secs("ContextTimeStamp", ms);
    }

    /// Expands a template as the value of `key`.
    fn text(&mut self, h: usize, key: &'static str, tpl: &str) {
        let st = self.line.mark();
        expand(self.line.buf(), tpl, &self.hosts[h], &mut self.rng, self.ts);
        self.line.close(key, st);
    }

    /// A path field (device path on Windows) and, when `names`, NG-SIEM's `FileName` and
    /// `FilePath` (its last component and the rest, separator kept).
    fn path(&mut self, h: usize, key: &'static str, tpl: &str, names: bool) {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        let host = &self.hosts[h];
        if !host.lin {
            s.push_str("\\Device\\HarddiskVolume");
            push_num(&mut s, u64::from(host.vol));
        }
        expand(&mut s, tpl, host, &mut self.rng, self.ts);
        self.line.str(key, &s);
        if names {
            let cut = s.rfind(['\\', '/']).map_or(0, |i| i + 1);
            self.line.str("FileName", &s[cut..]);
            self.line.str("FilePath", &s[..cut]);
        }
        self.scratch = s;
    }

    /// The Falcon id of the running process `name` on host `h` (made up if never seen: it
    /// started before the data begins).
    fn proc_of(&mut self, h: usize, name: &'static str) -> (u64, u32) {
        if let Some(&p) = self.hosts[h].procs.get(name) {
            return p;
        }
        self.new_proc(h, name)
    }

    /// A new process on host `h`.
    fn new_proc(&mut self, h: usize, name: &'static str) -> (u64, u32) {
        let step = self.rng.range(1_000, 3_000_000);
        let raw_step = self.rng.range(1, 60) as u32;
        let start_ms = self.ts;
        let slot = self.rng.below(32) as usize;
        let host = &mut self.hosts[h];
        host.next_tpid += step;
        host.next_raw = if host.lin {
            (host.next_raw + raw_step) % 4_000_000 + 300
        } else {
            (host.next_raw + 4 * raw_step) % 65_536 + 4
        };
        let p = (host.next_tpid, host.next_raw);
        host.procs.insert(name, p);
        host.recent[slot] = Recent { tpid: p.0, raw: p.1, start_ms };
        p
    }

    fn sha256(&mut self, key: &'static str, of: &str) {
        let seed = fnv(of) ^ self.salt;
        self.line.hex(key, seed, 64);
    }

    fn user_fields(&mut self, h: usize, user: User) {
        let host = &self.hosts[h];
        if host.lin {
            let (name, uid) = user.fixed();
            self.line.str("UserName", name);
            self.line.str("UID", uid);
        } else if user == User::Interactive {
            self.line.str("UserName", host.user);
            self.line.str("UserSid", &host.user_sid);
            self.line.str("IntegrityLevel", "8192");
        } else {
            let (name, sid) = user.fixed();
            self.line.str("UserName", name);
            self.line.str("UserSid", sid);
            self.line.str("IntegrityLevel", if user == User::AppPool { "8192" } else { "16384" });
        }
    }

    /// ProcessRollup2 / SyntheticProcessRollup2: `parent` starts `image` with `cmd`.
    pub(crate) fn process(
        &mut self,
        h: usize,
        ev: Ev,
        parent: &'static str,
        image: &'static str,
        cmd: &str,
        user: User,
    ) {
        self.common(h, ev);
        let (ptpid, _) = self.proc_of(h, parent);
        let (tpid, raw) = self.new_proc(h, base(image));
        self.line.num("TargetProcessId", tpid);
        self.line.num("ParentProcessId", ptpid);
        self.line.num("RawProcessId", u64::from(raw));
        self.path(h, "ImageFileName", image, true);
        self.text(h, "CommandLine", cmd);
        self.line.str("ParentBaseFileName", parent);
        self.user_fields(h, user);
        self.sha256("SHA256HashData", image);
        // A synthetic rollup describes a process already running when the sensor started.
        let age = if ev == Ev::SyntheticProcessRollup2 {
            self.rng.range(600_000, 30 * 86_400_000)
        } else {
            self.rng.range(50, 3000)
        };
        self.line.secs("ProcessStartTime", self.ts - age);
        if ev == Ev::SyntheticProcessRollup2 {
            self.context_time();
            self.line.str("SyntheticPR2Flags", if self.hosts[h].lin { "4" } else { "8" });
        }
    }

    /// A file write (or directory creation) by the running process `actor`.
    pub(crate) fn file(&mut self, h: usize, ev: Ev, actor: &'static str, target: &str) {
        self.common(h, ev);
        let (ctx, _) = self.proc_of(h, actor);
        self.line.num("ContextProcessId", ctx);
        self.context_time();
        if !self.hosts[h].lin {
            self.line.str("ContextBaseFileName", actor);
        }
        self.path(h, "TargetFileName", target, true);
        match ev {
            Ev::PeFileWritten => {
                self.sha256("SHA256HashData", target);
                let size = self.rng.range(20_000, 9_000_000);
                self.line.num("Size", size);
            }
            Ev::NewScriptWritten | Ev::WebScriptFileWritten | Ev::NewExecutableWritten if self.hosts[h].lin => {
                let size = self.rng.range(40, 200_000);
                self.line.num("Size", size);
            }
            _ => {}
        }
    }

    /// A registry value set (RegGenericValueUpdate, RegSystemConfigValueUpdate, and the
    /// fictional RegKeyCreate when it carries a value).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reg_value(
        &mut self,
        h: usize,
        ev: Ev,
        actor: &'static str,
        key: &str,
        vname: &str,
        rtype: u8,
        val: &str,
    ) {
        self.common(h, ev);
        let (ctx, _) = self.proc_of(h, actor);
        self.line.num("ContextProcessId", ctx);
        self.context_time();
        self.text(h, "RegObjectName", key);
        self.text(h, "RegValueName", vname);
        self.line.num("RegType", u64::from(rtype));
        self.line.str("RegOperationType", if ev == Ev::RegKeyCreate { "3" } else { "1" });
        let field = match rtype {
            4 | 11 => "RegNumericValue",
            3 => "RegBinaryValue",
            _ => "RegStringValue",
        };
        self.text(h, field, val);
    }

    /// A key-level registry event (RegGenericKeyUpdate, RegKeyCreate without a value).
    fn reg_key(&mut self, h: usize, ev: Ev, actor: &'static str, key: &str) {
        self.common(h, ev);
        let (ctx, _) = self.proc_of(h, actor);
        self.line.num("ContextProcessId", ctx);
        self.context_time();
        self.text(h, "RegObjectName", key);
        let op = if ev == Ev::RegKeyCreate || self.rng.chance(3, 4) { "3" } else { "4" };
        self.line.str("RegOperationType", op);
    }

    /// An autostart value (AsepValueUpdate): the value and the file it starts.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn asep_value(
        &mut self,
        h: usize,
        actor: &'static str,
        key: &str,
        vname: &str,
        rtype: u8,
        val: &str,
        target: &str,
        class: u8,
    ) {
        self.common(h, Ev::AsepValueUpdate);
        let (ctx, _) = self.proc_of(h, actor);
        self.line.num("ContextProcessId", ctx);
        self.context_time();
        self.text(h, "RegObjectName", key);
        self.text(h, "RegValueName", vname);
        self.text(h, "RegStringValue", val);
        self.line.num("RegType", u64::from(rtype));
        self.line.str("RegOperationType", "1");
        self.line.num("AsepClass", u64::from(class));
        let idx = self.rng.range(1, 700);
        self.line.num("AsepIndex", idx);
        self.line.str("AsepFlags", "0");
        self.path(h, "TargetFileName", target, false);
    }

    fn end_process(&mut self, h: usize, ev: Ev) {
        self.common(h, ev);
        let slot = self.rng.below(32) as usize;
        let r = self.hosts[h].recent[slot];
        let r = if r.tpid == 0 {
            let (tpid, raw) = self.new_proc(h, "unknown");
            Recent { tpid, raw, start_ms: self.ts - 60_000 }
        } else {
            self.hosts[h].recent[slot] = Recent::default();
            r
        };
        self.line.num("TargetProcessId", r.tpid);
        self.line.num("RawProcessId", u64::from(r.raw));
        self.context_time();
        if ev == Ev::EndOfProcess {
            self.line.secs("ProcessStartTime", r.start_ms);
            self.line.str("ExitCode", if self.rng.chance(1, 20) { "1" } else { "0" });
        }
    }

    fn ip_field(&mut self, key: &'static str, ip: [u8; 4]) {
        let st = self.line.mark();
        for (k, o) in ip.iter().enumerate() {
            if k > 0 {
                self.line.push(".");
            }
            self.line.push_num(u64::from(*o));
        }
        self.line.close(key, st);
    }

    /// One background event on a host picked by activity.
    pub(crate) fn background(&mut self) {
        let h = pick_cum(&mut self.rng, &self.host_cum);
        let lin = self.hosts[h].lin;
        let ev = if lin {
            catalog::LIN_MIX[pick_cum(&mut self.rng, &self.lin_mix)].0
        } else {
            catalog::WIN_MIX[pick_cum(&mut self.rng, &self.win_mix)].0
        };
        match ev {
            Ev::ProcessRollup2 | Ev::SyntheticProcessRollup2 | Ev::ProcessRollup2Stats => {
                let spawns = if lin { catalog::LIN_SPAWNS } else { catalog::WIN_SPAWNS };
                let Some(i) = self.hosts[h].spawns.pick(&mut self.rng) else { return self.heartbeat(h) };
                let s = &spawns[i];
                let cmd = *self.rng.pick(s.cmds);
                if ev == Ev::ProcessRollup2Stats {
                    self.stats(h, s.image, s.user);
                } else {
                    self.process(h, ev, s.parent, s.image, cmd, s.user);
                }
            }
            Ev::NewExecutableWritten | Ev::NewScriptWritten | Ev::PeFileWritten | Ev::DirectoryCreate => {
                let files = if lin { catalog::LIN_FILES } else { catalog::WIN_FILES };
                // Draw until the template's event type matches (bounded; falls back to any).
                let mut pick = None;
                for _ in 0..16 {
                    let Some(i) = self.hosts[h].files.pick(&mut self.rng) else { break };
                    pick = Some(i);
                    if files[i].ev == ev {
                        break;
                    }
                }
                let Some(i) = pick else { return self.heartbeat(h) };
                let f = &files[i];
                self.file(h, f.ev, f.actor, f.target);
            }
            Ev::RegGenericValueUpdate => {
                let Some(i) = self.hosts[h].regs.pick(&mut self.rng) else { return self.heartbeat(h) };
                let r = &catalog::REG_VALUES[i];
                self.reg_value(h, ev, r.actor, r.key, r.vname, r.rtype, r.val);
            }
            Ev::RegKeyCreate | Ev::RegGenericKeyUpdate => {
                let Some(i) = self.hosts[h].regs.pick(&mut self.rng) else { return self.heartbeat(h) };
                let r = &catalog::REG_VALUES[i];
                self.reg_key(h, ev, r.actor, r.key);
            }
            Ev::RegSystemConfigValueUpdate => {
                let Some(i) = self.hosts[h].sysconf.pick(&mut self.rng) else { return self.heartbeat(h) };
                let r = &catalog::REG_SYSCONFIG[i];
                self.reg_value(h, ev, r.actor, r.key, r.vname, r.rtype, r.val);
            }
            Ev::AsepValueUpdate | Ev::AsepKeyUpdate => {
                let Some(i) = self.hosts[h].aseps.pick(&mut self.rng) else { return self.heartbeat(h) };
                let a = &catalog::ASEPS[i];
                if ev == Ev::AsepValueUpdate {
                    self.asep_value(h, a.actor, a.key, a.vname, a.rtype, a.val, a.target, a.class);
                } else {
                    self.common(h, ev);
                    let (ctx, _) = self.proc_of(h, a.actor);
                    self.line.num("ContextProcessId", ctx);
                    self.context_time();
                    self.text(h, "RegObjectName", a.key);
                    self.line.str("RegOperationType", "3");
                    self.line.num("AsepClass", u64::from(a.class));
                    self.line.str("AsepFlags", "3");
                }
            }
            Ev::DnsRequest => {
                let Some(i) = self.hosts[h].dns.pick(&mut self.rng) else { return self.heartbeat(h) };
                let d = &catalog::DNS[i];
                self.common(h, ev);
                let (ctx, _) = self.proc_of(h, d.actor);
                self.line.num("ContextProcessId", ctx);
                self.context_time();
                self.line.str("DomainName", d.domain);
                self.line.str("RequestType", d.rtype);
            }
            Ev::NetworkConnectIP4 => {
                let Some(i) = self.hosts[h].conns.pick(&mut self.rng) else { return self.heartbeat(h) };
                let c = &catalog::CONNS[i];
                self.common(h, ev);
                let (ctx, _) = self.proc_of(h, c.actor);
                self.line.num("ContextProcessId", ctx);
                self.context_time();
                let ip = self.hosts[h].ip;
                self.ip_field("LocalAddressIP4", ip);
                let lport = if lin { self.rng.range(32_768, 61_000) } else { self.rng.range(49_152, 65_536) };
                self.line.num("LocalPort", lport);
                let remote = if c.internal {
                    [10, 20, 1, 10 + self.rng.below(12) as u8]
                } else {
                    let nets: [[u8; 2]; 6] = [[13, 107], [20, 190], [52, 96], [142, 250], [151, 101], [104, 18]];
                    let n = *self.rng.pick(&nets);
                    [n[0], n[1], self.rng.below(256) as u8, 1 + self.rng.below(254) as u8]
                };
                self.ip_field("RemoteAddressIP4", remote);
                self.line.num("RemotePort", u64::from(c.port));
                self.line.str("Protocol", "6");
            }
            Ev::NetworkListenIP4 => {
                let Some(i) = self.hosts[h].listens.pick(&mut self.rng) else { return self.heartbeat(h) };
                let c = &catalog::LISTENS[i];
                self.common(h, ev);
                let (ctx, _) = self.proc_of(h, c.actor);
                self.line.num("ContextProcessId", ctx);
                self.context_time();
                self.line.str("LocalAddressIP4", "0.0.0.0");
                self.line.num("LocalPort", u64::from(c.port));
                self.line.str("Protocol", "6");
            }
            Ev::EndOfProcess | Ev::TerminateProcess => self.end_process(h, ev),
            Ev::ImageHash | Ev::ClassifiedModuleLoad => {
                let Some(i) = self.hosts[h].modules.pick(&mut self.rng) else { return self.heartbeat(h) };
                let m = &catalog::MODULES[i];
                self.common(h, ev);
                let (ctx, _) = self.proc_of(h, m.actor);
                self.line.num("ContextProcessId", ctx);
                self.context_time();
                self.path(h, "ImageFileName", m.image, true);
                self.sha256("SHA256HashData", m.image);
            }
            Ev::UserLogon => {
                self.common(h, ev);
                self.context_time();
                let host = &self.hosts[h];
                self.line.str("UserName", host.user);
                self.line.str("UserSid", &host.user_sid);
                self.line.str("LogonDomain", "CORP");
                let lt = if host.roles & role::WKS != 0 { "2" } else { "10" };
                self.line.str("LogonType", lt);
            }
            Ev::CriticalFileAccessed => {
                let (file, actor) = *self.rng.pick(catalog::CRITICAL_FILES);
                self.common(h, ev);
                let (ctx, _) = self.proc_of(h, actor);
                self.line.num("ContextProcessId", ctx);
                self.context_time();
                self.line.str("TargetFileName", file);
                self.line.str("UID", "0");
                self.line.str("UnixMode", "33184");
            }
            Ev::SensorHeartbeat | Ev::WebScriptFileWritten => self.heartbeat(h),
        }
    }

    fn heartbeat(&mut self, h: usize) {
        self.common(h, Ev::SensorHeartbeat);
        self.context_time();
        self.line.str("SensorStateBitMap", "0");
    }

    /// ProcessRollup2Stats (Linux): per-image counters.
    fn stats(&mut self, h: usize, image: &'static str, user: User) {
        self.common(h, Ev::ProcessRollup2Stats);
        self.context_time();
        self.path(h, "ImageFileName", image, true);
        self.sha256("SHA256HashData", image);
        let count = self.rng.range(1, 40);
        self.line.num("ProcessCount", count);
        self.line.str("UID", user.fixed().1);
    }

    /// A well-mixed value for callers (planted variant choice).
    pub(crate) fn draw(&mut self, n: u32) -> u32 {
        self.rng.below(n)
    }
}
