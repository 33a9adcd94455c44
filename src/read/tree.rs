//! Process-tree enrichment: fill what a sensor leaves out from earlier process events of the
//! same host. Process events get `ParentBaseFileName` and `GrandParentBaseFileName`; file,
//! registry and network events get `ContextBaseFileName`/`ContextImageFileName` of the process
//! that acted (Falcon: `TargetProcessId`, `ParentProcessId`, `ContextProcessId`; Sysmon's
//! process GUIDs are mapped to the same names). Fields the event has are never changed.
//!
//! Only process events (and auditd's records) are remembered, and only they count as a host's
//! activity (the clock that orders hosts and generations); other events only read the tree.
//!
//! Memory is bounded, whatever the input's size: at most [`BUDGET`] processes in all, shared
//! between the hosts seen (each host between [`MIN_PER_HOST`] and [`PER_HOST`]; past
//! `BUDGET / MIN_PER_HOST` hosts, `MIN_PER_HOST` each), in a
//! two-generation cache per host (when the newer generation fills, the older is dropped, so
//! recently seen processes stay), and at most [`HOSTS`] hosts (the least recently seen host is
//! dropped first). A child's grandparent is the name its parent's own event gave (Falcon's and
//! Sysmon's do), so it is known even when the grandparent was dropped; only a parent whose event
//! did not name its parent is followed up the tree by id.

use crate::event::{Event, Value};
use crate::hash::FastMap as HashMap;
use std::sync::Arc;

/// Processes remembered per host, at most.
pub const PER_HOST: usize = 65_536;
/// Processes remembered per host, at least (when many hosts share the budget).
pub const MIN_PER_HOST: usize = 512;
/// Processes remembered in all (about 70 bytes each).
pub const BUDGET: usize = 131_072;
/// Hosts remembered.
pub const HOSTS: usize = 4096;

/// A remembered process: its image (shared between processes of the same image) and its
/// parent's id. Ids are kept as 64-bit hashes of their text, to keep the tree small.
#[derive(Debug, Clone)]
struct Proc {
    image: Arc<str>,
    /// Kept only when the event does not name the parent (`parent_name` is then what the tree
    /// filled, if anything): a grandchild's grandparent is the parent's `parent_name` when the
    /// event gave one, and only otherwise the image of the process this id names. So a line
    /// that names its parent needs no search for its parent's id.
    parent: Option<u64>,
    /// The parent's base name as the process's own event gave it (Falcon's
    /// `ParentBaseFileName`), for a grandchild when the parent's parent has no event of its own.
    parent_name: Option<Arc<str>>,
}

impl Proc {
    /// A process whose event gave it `image`, its parent's id and maybe its parent's name
    /// (`named`); `filled` is the name the tree gave the parent when the event did not. The
    /// parent's id is kept only when the event did not name the parent.
    fn new(image: Arc<str>, parent: Option<u64>, named: Option<Arc<str>>, filled: Option<Arc<str>>) -> Proc {
        let parent = parent.filter(|_| named.is_none());
        Proc { image, parent, parent_name: named.or(filled) }
    }
}

#[derive(Debug, Default)]
struct HostCache {
    new: HashMap<u64, Proc>,
    old: HashMap<u64, Proc>,
    last_seen: u64,
}

/// A 64-bit hash of an id's (or a host's) text, eight bytes at a time: ids and hosts are
/// kept as these.
fn key(id: &str) -> u64 {
    key_bytes(id.as_bytes())
}

/// [`key`] of a text's bytes.
fn key_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(K);
        h ^ (h >> 29)
    };
    let mut h = 0x243f_6a88_85a3_08d3 ^ b.len() as u64;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        h = mix(h, u64::from_le_bytes(w.try_into().unwrap_or_default()));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    h ^ (h >> 32)
}

impl HostCache {
    fn get(&self, id: u64) -> Option<&Proc> {
        self.new.get(&id).or_else(|| self.old.get(&id))
    }
    /// Insert, dropping the older generation when the newer holds `generation` processes.
    fn insert(&mut self, id: u64, p: Proc, generation: usize) {
        if self.new.len() >= generation {
            // The older generation's table is emptied and filled again: a new one would grow
            // through every size again, each on fresh pages the kernel zeroes.
            std::mem::swap(&mut self.old, &mut self.new);
            self.new.clear();
        }
        self.new.insert(id, p);
    }
}

/// What the tree reads from a process event (`ProcessRollup2`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcView<'a> {
    /// `aid`, else `ComputerName`.
    pub host: &'a str,
    /// `ParentProcessGuid` (Sysmon), else `ParentProcessId`.
    pub parent: Option<&'a str>,
    /// `TargetProcessId`.
    pub target: Option<&'a str>,
    /// `ImageFileName`.
    pub image: Option<&'a str>,
    /// `ParentBaseFileName` as the event has it.
    pub parent_name: Option<&'a str>,
    /// Whether the event has `GrandParentBaseFileName`.
    pub has_grandparent: bool,
}

/// What the tree fills on a process event.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fill {
    pub parent: Option<String>,
    pub grandparent: Option<String>,
}

/// Process records as lines spell them ([`SpelledProc`]), their bytes side by side in one
/// buffer: what a reader thread hands over for a block's process events that cannot pass the
/// query but still feed the tree (one buffer per block, not an allocation per event).
#[derive(Debug, Default)]
pub struct SpelledRecords {
    bytes: Vec<u8>,
}

/// A record's place in its [`SpelledRecords`]: host, parent, target, image, parent's name as
/// (start, end), or `None`.
#[derive(Debug, Clone, Copy)]
pub struct SpelledAt([Option<(u32, u32)>; 5]);

impl SpelledRecords {
    /// Keeps a record whose values all decode as the tree will read them
    /// ([`ProcessTree::record_spelled`]); `None` when one does not (the line is to be parsed).
    pub fn push(&mut self, r: &SpelledProc<'_>) -> Option<SpelledAt> {
        let parts = [Some(r.host), r.parent, r.target, r.image, r.parent_name];
        if !parts.iter().flatten().all(|p| crate::read::rawline::decodes(p)) {
            return None;
        }
        let mut at = [None; 5];
        for (slot, p) in at.iter_mut().zip(parts) {
            if let Some(p) = p {
                let start = u32::try_from(self.bytes.len()).ok()?;
                self.bytes.extend_from_slice(p);
                *slot = Some((start, u32::try_from(self.bytes.len()).ok()?));
            }
        }
        Some(SpelledAt(at))
    }

    pub fn get(&self, at: &SpelledAt) -> SpelledProc<'_> {
        let get = |i: usize| at.0[i].map(|(a, b)| &self.bytes[a as usize..b as usize]);
        SpelledProc {
            host: get(0).unwrap_or_default(),
            parent: get(1),
            target: get(2),
            image: get(3),
            parent_name: get(4),
        }
    }
}

/// A process event's [`ProcView`] as its line spells it: the contents of JSON strings, escapes
/// not decoded (what the line probe hands over for a process event that cannot pass the query,
/// so that a remembered image is not decoded again).
#[derive(Debug, Default, Clone, Copy)]
pub struct SpelledProc<'a> {
    pub host: &'a [u8],
    pub parent: Option<&'a [u8]>,
    pub target: Option<&'a [u8]>,
    pub image: Option<&'a [u8]>,
    pub parent_name: Option<&'a [u8]>,
}

/// The [`key`] of a JSON string's text from its spelling (`None`: it does not decode). Ids and
/// hosts are kept as keys alone, and most are spelled as they read (printable ASCII without an
/// escape): their key is the spelling's, with no decoding.
fn spelled_key(t: &[u8]) -> Option<u64> {
    if crate::read::rawline::reads_as_spelled(t) {
        return Some(key_bytes(t));
    }
    crate::read::rawline::decode(t).map(|s| key(&s))
}

/// The process trees of the hosts seen so far.
#[derive(Debug, Default)]
pub struct ProcessTree {
    /// By the [`key`] of the host's name.
    hosts: HashMap<u64, HostCache>,
    clock: u64,
    /// Image paths, shared (most processes run a few images).
    images: HashMap<Arc<str>, ()>,
    /// The same, by their JSON spelling (escapes as a line writes them): a line probe's
    /// process record is remembered without decoding its image.
    spelled: HashMap<Box<[u8]>, Arc<str>>,
}

pub fn basename(p: &str) -> &str {
    p.rsplit(['\\', '/']).next().unwrap_or(p)
}

/// The fields [`ProcessTree::enrich`] reads, found in one pass over the event (the first of
/// each name, as [`Event::get`] finds it), rather than one search each.
#[derive(Debug, Default)]
struct Fields<'e> {
    name: Option<std::borrow::Cow<'e, str>>,
    aid: Option<std::borrow::Cow<'e, str>>,
    computer: Option<std::borrow::Cow<'e, str>>,
    parent_guid: Option<std::borrow::Cow<'e, str>>,
    parent_id: Option<std::borrow::Cow<'e, str>>,
    target: Option<std::borrow::Cow<'e, str>>,
    image: Option<std::borrow::Cow<'e, str>>,
    parent_name: Option<std::borrow::Cow<'e, str>>,
    context: Option<std::borrow::Cow<'e, str>>,
    has_grandparent: bool,
    has_context_base: bool,
    has_context_image: bool,
}

impl<'e> Fields<'e> {
    fn of(ev: &'e Event) -> Fields<'e> {
        let mut f = Fields::default();
        for (k, v) in ev.fields() {
            let slot = match k {
                "#event_simpleName" => &mut f.name,
                "aid" => &mut f.aid,
                "ComputerName" => &mut f.computer,
                "ParentProcessGuid" => &mut f.parent_guid,
                "ParentProcessId" => &mut f.parent_id,
                "TargetProcessId" => &mut f.target,
                "ImageFileName" => &mut f.image,
                "ParentBaseFileName" => &mut f.parent_name,
                "ContextProcessId" => &mut f.context,
                "GrandParentBaseFileName" => {
                    f.has_grandparent = true;
                    continue;
                }
                "ContextBaseFileName" => {
                    f.has_context_base = true;
                    continue;
                }
                "ContextImageFileName" => {
                    f.has_context_image = true;
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.as_str());
            }
        }
        f
    }
}

/// An auditd fork-family syscall that succeeded: (child pid, the image, the parent pid).
fn forked(ev: &Event) -> Option<(String, String, String)> {
    let id = ev.get_str("EventID")?;
    let x86_64 = ev.get_str("arch").is_some_and(|a| a.trim_start_matches("0x").eq_ignore_ascii_case("c000003e"));
    let fork = match id.as_ref() {
        "clone" | "fork" | "vfork" | "clone3" => true,
        "56" | "57" | "58" => x86_64,
        "435" => true,
        _ => false,
    };
    if !fork || ev.get_str("success").as_deref() != Some("yes") {
        return None;
    }
    let child = ev.get_str("exit").filter(|c| c.parse::<u32>().is_ok_and(|n| n > 0))?.into_owned();
    Some((child, ev.get_str("exe")?.into_owned(), ev.get_str("pid")?.into_owned()))
}

/// An auditd exec that failed (`EventID=execve_failed`): (pid, the image it still runs, ppid).
fn failed_exec(ev: &Event) -> Option<(String, String, String)> {
    if ev.get_str("EventID")? != "execve_failed" {
        return None;
    }
    Some((ev.get_str("pid")?.into_owned(), ev.get_str("exe")?.into_owned(), ev.get_str("ppid")?.into_owned()))
}

fn is_process_event(name: &str) -> bool {
    matches!(name, "ProcessRollup2" | "SyntheticProcessRollup2")
}

impl ProcessTree {
    pub fn new() -> ProcessTree {
        ProcessTree::default()
    }

    /// A shared copy of an image path or name (most processes run a few images). The table is
    /// bounded too: past the cap it starts again.
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some((k, _)) = self.images.get_key_value(s) {
            return Arc::clone(k);
        }
        let a: Arc<str> = Arc::from(s);
        if self.images.len() >= PER_HOST {
            self.images.clear();
            self.spelled.clear();
        }
        self.images.insert(Arc::clone(&a), ());
        a
    }

    /// Remember a process event, and fill the event's missing lineage fields.
    pub fn enrich(&mut self, ev: &mut Event) {
        let f = Fields::of(ev);
        let name: &str = f.name.as_deref().unwrap_or_default();
        if !name.is_empty() && !is_process_event(name) {
            // File, registry, network events only read the tree: they neither count as a host's
            // activity nor advance the clock, so that a reader may skip the ones that cannot
            // pass the query without changing what the others get.
            let Some(ctx) = f.context.as_deref().map(key) else { return };
            let found = match f.aid.as_deref().or(f.computer.as_deref()) {
                Some(host) => self.hosts.get(&key(host)).and_then(|c| c.get(ctx)),
                None => None,
            };
            let (has_base, has_image) = (f.has_context_base, f.has_context_image);
            if let Some(p) = found {
                if !has_base {
                    ev.set("ContextBaseFileName", Value::Str(basename(&p.image).to_string()));
                }
                if !has_image {
                    ev.set("ContextImageFileName", Value::Str(p.image.to_string()));
                }
            }
            return;
        }
        if is_process_event(name) {
            let Some(host) = f.aid.as_deref().or(f.computer.as_deref()) else { return };
            let fill = self.process(ProcView {
                host,
                // Sysmon keeps its own ParentProcessId (the OS pid); its ParentProcessGuid is
                // the unique id that TargetProcessId (= ProcessGuid) is matched against.
                parent: f.parent_guid.as_deref().or(f.parent_id.as_deref()),
                target: f.target.as_deref(),
                image: f.image.as_deref(),
                parent_name: f.parent_name.as_deref(),
                has_grandparent: f.has_grandparent,
            });
            drop(f);
            if let Some(p) = fill.parent {
                ev.set("ParentBaseFileName", Value::Str(p));
            }
            if let Some(g) = fill.grandparent {
                ev.set("GrandParentBaseFileName", Value::Str(g));
            }
            return;
        }
        drop(f);
        // auditd records (no event name).
        let host = match ev.get_str("aid").or_else(|| ev.get_str("ComputerName")) {
            Some(h) => h.into_owned(),
            None => return,
        };
        let host = key(&host);
        let generation = self.touch(host);
        let Some(cache) = self.hosts.get_mut(&host) else { return };
        // A successful fork/clone makes the child a copy of its parent's image, so a pre-forked
        // worker (apache2, php-fpm) that never execs still names its children's parent.
        if let Some((child, image, parent)) = forked(ev) {
            let image: Arc<str> = Arc::from(image.as_str());
            cache.insert(key(&child), Proc { image, parent: Some(key(&parent)), parent_name: None }, generation);
        } else if let Some((pid, image, parent)) = failed_exec(ev) {
            // The exec failed, so `exe` is still the image the process was forked with: its
            // own, and (when nothing is known of it) its parent's, which forked it.
            let image: Arc<str> = Arc::from(image.as_str());
            let (pk, ppk) = (key(&pid), key(&parent));
            if cache.get(ppk).is_none() {
                cache.insert(ppk, Proc { image: Arc::clone(&image), parent: None, parent_name: None }, generation);
            }
            cache.insert(pk, Proc { image, parent: Some(ppk), parent_name: None }, generation);
        }
    }

    /// A host's activity: the clock advances, the host is made (dropping the one whose last
    /// activity is the oldest when there are [`HOSTS`]), and hosts over today's share give
    /// back their excess. Returns the size of a generation.
    /// `host`: the [`key`] of its name.
    fn touch(&mut self, host: u64) -> usize {
        self.clock += 1;
        if self.hosts.len() >= HOSTS && !self.hosts.contains_key(&host) {
            if let Some(oldest) = self.hosts.iter().min_by_key(|(_, c)| c.last_seen).map(|(&k, _)| k) {
                self.hosts.remove(&oldest);
            }
        }
        // Each host's share of the budget, in two generations.
        let generation = (BUDGET / (self.hosts.len() + 1)).clamp(MIN_PER_HOST, PER_HOST) / 2;
        // Hosts that filled up while there were fewer hosts give back what exceeds today's
        // share (checked every few thousand events: a pass over the hosts).
        if self.clock % 4096 == 0 && self.len() > BUDGET {
            for c in self.hosts.values_mut() {
                if c.new.len() + c.old.len() > 2 * generation {
                    c.old = std::mem::take(&mut c.new);
                    if c.old.len() > generation {
                        c.old = HashMap::default();
                    }
                }
            }
        }
        let clock = self.clock;
        self.hosts.entry(host).or_default().last_seen = clock;
        generation
    }

    /// Remember a process event, and say what it lacks that the tree knows: its parent's and
    /// grandparent's names (the parent's is remembered with it, given or filled).
    pub fn process(&mut self, v: ProcView<'_>) -> Fill {
        let generation = self.touch(key(v.host));
        let fill = self.lookup(&v);
        self.remember(&v, fill.parent.as_deref(), generation);
        fill
    }

    /// Remember a process event whose own fields nobody reads (one that cannot pass the
    /// query): what [`process`](Self::process) remembers, without working out the names it
    /// would fill, unless the event lacks its parent's name (its record keeps the one filled).
    pub fn record(&mut self, v: ProcView<'_>) {
        let generation = self.touch(key(v.host));
        if v.parent_name.is_some() {
            self.remember(&v, None, generation);
        } else {
            let fill = self.lookup(&ProcView { has_grandparent: true, ..v });
            self.remember(&v, fill.parent.as_deref(), generation);
        }
    }

    /// [`record`](Self::record) from a line's spelling; false (nothing remembered) when a value
    /// is not a string [`rawline::decode`](crate::read::rawline::decode) reads: the line is then
    /// parsed instead.
    pub fn record_spelled(&mut self, r: &SpelledProc<'_>) -> bool {
        let opt = |t: Option<&[u8]>| match t {
            None => Some(None),
            Some(t) => spelled_key(t).map(Some),
        };
        let (Some(host), Some(parent), Some(target)) = (spelled_key(r.host), opt(r.parent), opt(r.target)) else {
            return false;
        };
        let mut name = |t: Option<&[u8]>| match t {
            None => Some(None),
            Some(t) => self.intern_spelled(t).map(Some),
        };
        let (Some(image), Some(parent_name)) = (name(r.image), name(r.parent_name)) else { return false };
        let generation = self.touch(host);
        let filled = if parent_name.is_some() {
            None
        } else {
            self.lookup_keys(host, parent, false, true).parent.map(|p| self.intern(&p))
        };
        if let (Some(id), Some(image), Some(c)) = (target, image, self.hosts.get_mut(&host)) {
            c.insert(id, Proc::new(image, parent, parent_name, filled), generation);
        }
        true
    }

    /// [`intern`](Self::intern) by a JSON string's spelling; `None` when it does not decode.
    /// Bounded as the images are (spellings of one image may differ in their escapes).
    fn intern_spelled(&mut self, t: &[u8]) -> Option<Arc<str>> {
        if let Some(a) = self.spelled.get(t) {
            return Some(Arc::clone(a));
        }
        let a = self.intern(&crate::read::rawline::decode(t)?);
        if self.spelled.len() >= PER_HOST {
            self.spelled.clear();
        }
        self.spelled.insert(t.into(), Arc::clone(&a));
        Some(a)
    }

    /// Keep a process by its id, its image and parent's name interned (`filled_parent`: its
    /// parent's name when the event lacks it).
    fn remember(&mut self, v: &ProcView<'_>, filled_parent: Option<&str>, generation: usize) {
        let (Some(id), Some(image)) = (v.target, v.image) else { return };
        let image = self.intern(image);
        let named = v.parent_name.map(|p| self.intern(p));
        let filled = filled_parent.filter(|_| named.is_none()).map(|p| self.intern(p));
        if let Some(c) = self.hosts.get_mut(&key(v.host)) {
            c.insert(key(id), Proc::new(image, v.parent.map(key), named, filled), generation);
        }
    }

    /// What [`process`](Self::process) would fill on a process event now, without remembering
    /// it; `None` when that cannot be told without advancing the clock (the next event is one
    /// that may make the hosts give back processes).
    pub fn peek(&self, v: &ProcView<'_>) -> Option<Fill> {
        if (self.clock + 1) % 4096 == 0 && self.len() > BUDGET {
            return None;
        }
        Some(self.lookup(v))
    }

    /// A process event's missing parent and grandparent names, from its host's processes.
    fn lookup(&self, v: &ProcView<'_>) -> Fill {
        self.lookup_keys(key(v.host), v.parent.map(key), v.parent_name.is_some(), v.has_grandparent)
    }

    /// [`lookup`](Self::lookup) by the keys of the host and the parent, and whether the event
    /// has its parent's and grandparent's names.
    fn lookup_keys(&self, host: u64, parent: Option<u64>, has_parent_name: bool, has_grandparent: bool) -> Fill {
        let mut fill = Fill::default();
        let Some(cache) = self.hosts.get(&host) else { return fill };
        if let Some(pp) = parent.and_then(|pid| cache.get(pid)) {
            if !has_parent_name {
                fill.parent = Some(basename(&pp.image).to_string());
            }
            if !has_grandparent {
                // The parent's own event names its parent when it can (the sensor saw it); the
                // tree's record of that process is asked only when it does not.
                fill.grandparent = match &pp.parent_name {
                    Some(n) => Some(n.to_string()),
                    None => pp.parent.and_then(|g| cache.get(g)).map(|gp| basename(&gp.image).to_string()),
                };
            }
        }
        fill
    }

    /// The image of a host's process, as [`enrich`](Self::enrich) gives it to the file and
    /// registry events that name it (`ContextProcessId`).
    pub fn context_image(&self, host: &str, context_process_id: &str) -> Option<Arc<str>> {
        self.hosts.get(&key(host))?.get(key(context_process_id)).map(|p| Arc::clone(&p.image))
    }

    /// Processes remembered (for tests and `--stats`).
    pub fn len(&self) -> usize {
        self.hosts.values().map(|c| c.new.len() + c.old.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether enrichment could add one of `fields` to this event: it lacks it, and is an event the
/// tree fills it on (or one the tree reads in its own way, such as an auditd record).
pub fn could_fill(ev: &Event, fields: &[String]) -> bool {
    let name = ev.get_str("#event_simpleName");
    let lacks = |f: &str| fields.iter().any(|x| x == f) && !ev.has(f);
    match name.as_deref() {
        None | Some("") => true,
        Some(n) if is_process_event(n) => lacks("ParentBaseFileName") || lacks("GrandParentBaseFileName"),
        Some(_) => ev.has("ContextProcessId") && (lacks("ContextBaseFileName") || lacks("ContextImageFileName")),
    }
}

/// Fields that enrichment fills: a query that reads none of them does not need it.
pub const ENRICHED_FIELDS: &[&str] =
    &["ParentBaseFileName", "GrandParentBaseFileName", "ContextBaseFileName", "ContextImageFileName"];

#[cfg(test)]
mod tests {
    use super::*;

    /// An id recorded from its spelling is the id its decoded text names: escaped or not, the
    /// tree finds it by the decoded text; a spelling that does not decode is refused.
    #[test]
    fn spelled_ids_are_their_decoded_text() {
        for (spelled, text) in [(&b"12345"[..], "12345"), (br"a\/b", "a/b"), (br"C:\\x", r"C:\x"), (br#"\"q"#, "\"q")] {
            assert_eq!(spelled_key(spelled), Some(key(text)), "{}", String::from_utf8_lossy(spelled));
        }
        assert_eq!(spelled_key(br"a\tb"), Some(key("a\tb")));
        assert_eq!(spelled_key(b"a\x01"), None, "a control byte");
        assert_eq!(spelled_key(b"\xff"), None, "not UTF-8");
        // Recorded from spellings, found by a parsed event's values.
        let mut t = ProcessTree::new();
        let spelled = |target: &'static [u8], parent: &'static [u8], image: &'static [u8]| SpelledProc {
            host: br"h\\1",
            parent: Some(parent),
            target: Some(target),
            image: Some(image),
            // Unnamed: the tree follows the ids.
            parent_name: None,
        };
        assert!(t.record_spelled(&spelled(br"7\/1", b"1", br"C:\\w3wp.exe")));
        assert!(t.record_spelled(&spelled(b"8", b"7/1", br"C:\\cmd.exe")));
        let v = ProcView { host: r"h\1", parent: Some("8"), target: Some("9"), image: Some("x"), ..Default::default() };
        assert_eq!(t.peek(&v).and_then(|f| f.grandparent).as_deref(), Some("w3wp.exe"));
        assert!(!t.record_spelled(&spelled(b"9", b"\x01", b"x")), "an id that does not decode");
    }

    /// A grandparent is the name the parent's own event gave its parent, when it gave one: the
    /// tree's record of the process that id named is not asked (so a line that names its parent
    /// needs no search for the parent's id), and a grandparent already dropped is still named.
    #[test]
    fn the_parents_own_event_names_the_grandparent() {
        let mut t = ProcessTree::new();
        let v =
            |target: &'static str, parent: &'static str, image: &'static str, named: Option<&'static str>| ProcView {
                host: "h",
                parent: Some(parent),
                target: Some(target),
                image: Some(image),
                parent_name: named,
                has_grandparent: false,
            };
        t.process(v("1", "0", r"C:\w\w3wp.exe", None));
        // Its event says its parent is svchost.exe; the tree's process 1 runs w3wp.exe.
        t.process(v("2", "1", r"C:\w\cmd.exe", Some("svchost.exe")));
        assert_eq!(
            t.process(v("3", "2", r"C:\w\whoami.exe", Some("cmd.exe"))).grandparent.as_deref(),
            Some("svchost.exe")
        );
        // Unnamed, the parent's id is followed.
        t.process(v("4", "1", r"C:\w\cmd.exe", None));
        let fill = t.process(v("5", "4", r"C:\w\whoami.exe", Some("cmd.exe")));
        assert_eq!(fill.grandparent.as_deref(), Some("w3wp.exe"));
        // The same from a line's spelling.
        let rec = |target: &'static [u8], parent: &'static [u8], named: Option<&'static [u8]>| SpelledProc {
            host: b"h",
            parent: Some(parent),
            target: Some(target),
            image: Some(br"C:\\w\\cmd.exe"),
            parent_name: named,
        };
        assert!(t.record_spelled(&rec(b"6", b"1", Some(b"explorer.exe"))));
        assert_eq!(t.process(v("7", "6", "x", Some("cmd.exe"))).grandparent.as_deref(), Some("explorer.exe"));
        assert!(t.record_spelled(&rec(b"8", b"1", None)));
        assert_eq!(t.process(v("9", "8", "x", Some("cmd.exe"))).grandparent.as_deref(), Some("w3wp.exe"));
    }

    #[test]
    fn peeking_tells_what_processing_fills() {
        let mut t = ProcessTree::new();
        let v = |target: &'static str, parent: Option<&'static str>, image: &'static str| ProcView {
            host: "h",
            parent,
            target: Some(target),
            image: Some(image),
            parent_name: None,
            has_grandparent: false,
        };
        t.process(v("1", None, "\\w3wp.exe"));
        t.process(v("2", Some("1"), "\\cmd.exe"));
        for probe in [v("3", Some("2"), "\\whoami.exe"), v("4", Some("1"), "x"), v("5", Some("9"), "y")] {
            let peeked = t.peek(&probe).expect("no rotation due");
            assert_eq!(peeked, t.process(probe));
        }
        assert_eq!(t.peek(&v("6", Some("3"), "z")).unwrap().grandparent.as_deref(), Some("cmd.exe"));
        assert_eq!(t.context_image("h", "2").as_deref(), Some("\\cmd.exe"));
        assert!(t.context_image("other", "2").is_none());
    }

    #[test]
    fn recording_remembers_what_processing_does() {
        let v = |target: &'static str, parent: Option<&'static str>, image: &'static str, pname| ProcView {
            host: "h",
            parent,
            target: Some(target),
            image: Some(image),
            parent_name: pname,
            has_grandparent: false,
        };
        let events = [
            v("1", None, "\\w3wp.exe", Some("svchost.exe")),
            v("2", Some("1"), "\\cmd.exe", None),
            v("3", Some("2"), "\\whoami.exe", Some("cmd.exe")),
            v("4", Some("9"), "\\net.exe", None),
        ];
        let (mut a, mut b) = (ProcessTree::new(), ProcessTree::new());
        for e in events {
            a.process(e);
            b.record(e);
        }
        for probe in [v("5", Some("3"), "x", None), v("6", Some("2"), "y", None), v("7", Some("4"), "z", None)] {
            assert_eq!(a.peek(&probe), b.peek(&probe));
        }
        // cmd.exe's record keeps the parent name filled from the tree: its child's grandparent.
        assert_eq!(b.peek(&v("8", Some("3"), "w", None)).unwrap().grandparent.as_deref(), Some("cmd.exe"));
        assert_eq!(b.peek(&v("9", Some("2"), "w", None)).unwrap().grandparent.as_deref(), Some("w3wp.exe"));
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn a_spelled_record_is_the_decoded_one() {
        // As lines spell them: escaped backslashes, an escaped quote in a parent's name.
        let spelled = [
            ("1", None, r"\\Device\\w3wp.exe", Some(r#"svc\"host.exe"#)),
            ("2", Some("1"), r"\\Device\\cmd.exe", None),
            ("3", Some("2"), r"\\Device\\whoami.exe", Some("cmd.exe")),
            ("4", Some("9"), r"\\Device\\cmd.exe", None),
        ];
        let (mut a, mut b) = (ProcessTree::new(), ProcessTree::new());
        for (target, parent, image, pname) in spelled {
            let s = SpelledProc {
                host: b"h",
                parent: parent.map(str::as_bytes),
                target: Some(target.as_bytes()),
                image: Some(image.as_bytes()),
                parent_name: pname.map(str::as_bytes),
            };
            let d = |t: Option<&'static [u8]>| t.map(|t| crate::read::rawline::decode(t).expect("decodes"));
            let (parent, target, image, pname) = (d(s.parent), d(s.target), d(s.image), d(s.parent_name));
            a.record(ProcView {
                host: "h",
                parent: parent.as_deref(),
                target: target.as_deref(),
                image: image.as_deref(),
                parent_name: pname.as_deref(),
                has_grandparent: false,
            });
            assert!(b.record_spelled(&s));
            // Handed over in a block's buffer, the same record.
            let mut buf = SpelledRecords::default();
            let at = buf.push(&s).expect("decodes");
            let back = buf.get(&at);
            assert_eq!(
                (back.host, back.parent, back.target, back.image, back.parent_name),
                (s.host, s.parent, s.target, s.image, s.parent_name)
            );
        }
        let v = |parent| ProcView { host: "h", parent: Some(parent), target: Some("9"), ..ProcView::default() };
        for p in ["1", "2", "3", "4"] {
            assert_eq!(a.peek(&v(p)), b.peek(&v(p)), "child of {p}");
        }
        assert_eq!(b.peek(&v("2")).unwrap().parent.as_deref(), Some("cmd.exe"));
        assert_eq!(b.peek(&v("2")).unwrap().grandparent.as_deref(), Some("w3wp.exe"));
        assert_eq!(b.context_image("h", "1").as_deref(), Some(r"\Device\w3wp.exe"));
        assert_eq!(a.len(), b.len());
        // A value a parser must read (a \u escape): nothing remembered, the line is parsed.
        let odd = SpelledProc { host: b"h", target: Some(b"5"), image: Some(br"\u0041.exe"), ..SpelledProc::default() };
        assert!(SpelledRecords::default().push(&odd).is_none());
        assert!(!b.record_spelled(&odd));
        assert!(b.context_image("h", "5").is_none());
        assert_eq!(a.len(), b.len());
        // One image spelled many ways (`/` escaped or not): bounded all the same.
        let mut t = ProcessTree::new();
        for i in 0..PER_HOST + 100 {
            let spelling: String = (0..17).map(|bit| if i >> bit & 1 == 1 { r"\/d" } else { "/d" }).collect();
            let s = SpelledProc {
                host: b"h",
                target: Some(b"1"),
                image: Some(spelling.as_bytes()),
                ..SpelledProc::default()
            };
            assert!(t.record_spelled(&s));
        }
        assert!(t.spelled.len() <= PER_HOST && t.images.len() == 1, "{} spellings", t.spelled.len());
    }

    fn ev(pairs: &[(&str, &str)]) -> Event {
        let mut e = Event::new();
        for (k, v) in pairs {
            e.set(k, Value::Str(v.to_string()));
        }
        e
    }

    #[test]
    fn a_forked_worker_names_its_childrens_parent() {
        // apache2's master execs; a worker is forked (clone, no exec); the worker runs sh.
        let mut t = ProcessTree::new();
        let pr2 = |id: &str, ppid: &str, img: &str| {
            ev(&[
                ("ComputerName", "web01"),
                ("#event_simpleName", "ProcessRollup2"),
                ("TargetProcessId", id),
                ("ParentProcessId", ppid),
                ("ImageFileName", img),
            ])
        };
        t.enrich(&mut pr2("100", "1", "/usr/sbin/apache2"));
        let clone = |exit: &str, success: &str, arch: &str| {
            ev(&[
                ("ComputerName", "web01"),
                ("EventID", "56"),
                ("arch", arch),
                ("success", success),
                ("pid", "100"),
                ("exit", exit),
                ("exe", "/usr/sbin/apache2"),
            ])
        };
        t.enrich(&mut clone("200", "yes", "c000003e"));
        let mut sh = pr2("300", "200", "/usr/bin/dash");
        t.enrich(&mut sh);
        assert_eq!(sh.get_str("ParentBaseFileName").as_deref(), Some("apache2"));
        assert_eq!(sh.get_str("GrandParentBaseFileName").as_deref(), Some("apache2"));
        // A failed clone, or syscall 56 on another architecture, names nobody.
        t.enrich(&mut clone("201", "no", "c000003e"));
        t.enrich(&mut clone("202", "yes", "c00000b7"));
        for p in ["201", "202"] {
            let mut x = pr2("400", p, "/usr/bin/dash");
            t.enrich(&mut x);
            assert!(!x.has("ParentBaseFileName"), "{p}");
        }
    }

    #[test]
    fn what_the_tree_could_fill() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let pr2 = ev(&[("#event_simpleName", "ProcessRollup2"), ("aid", "h"), ("ParentBaseFileName", "x.exe")]);
        assert!(!could_fill(&pr2, &f(&["ParentBaseFileName"])));
        assert!(could_fill(&pr2, &f(&["GrandParentBaseFileName"])));
        let file = ev(&[("#event_simpleName", "NewScriptWritten"), ("aid", "h")]);
        assert!(!could_fill(&file, &f(&["ContextBaseFileName", "ParentBaseFileName"])));
        let file = ev(&[("#event_simpleName", "NewScriptWritten"), ("aid", "h"), ("ContextProcessId", "1")]);
        assert!(could_fill(&file, &f(&["ContextBaseFileName"])));
        assert!(!could_fill(&file, &f(&["ParentBaseFileName"])));
        // An auditd record: the tree reads it in its own way.
        assert!(could_fill(&ev(&[("EventID", "59")]), &f(&["ParentBaseFileName"])));
    }

    #[test]
    fn a_grandparent_from_the_parents_own_event() {
        // Falcon: cmd.exe's event names its parent (w3wp.exe) but w3wp's own event is not in the input.
        let mut t = ProcessTree::new();
        let mut cmd = ev(&[
            ("aid", "h"),
            ("#event_simpleName", "ProcessRollup2"),
            ("TargetProcessId", "2"),
            ("ParentProcessId", "1"),
            ("ParentBaseFileName", "w3wp.exe"),
            ("ImageFileName", "\\D\\cmd.exe"),
        ]);
        t.enrich(&mut cmd);
        let mut who = ev(&[
            ("aid", "h"),
            ("#event_simpleName", "ProcessRollup2"),
            ("TargetProcessId", "3"),
            ("ParentProcessId", "2"),
            ("ImageFileName", "\\D\\whoami.exe"),
        ]);
        t.enrich(&mut who);
        assert_eq!(who.get_str("ParentBaseFileName").as_deref(), Some("cmd.exe"));
        assert_eq!(who.get_str("GrandParentBaseFileName").as_deref(), Some("w3wp.exe"));
    }

    #[test]
    fn a_failed_exec_names_the_forker() {
        // java (pid 1340, its own exec not in the log) forks 17790, which tries /usr/local/sbin/bash
        // (fails, still java) and then execs /bin/bash.
        let mut t = ProcessTree::new();
        let mut failed = ev(&[
            ("ComputerName", "UBUNTU5"),
            ("EventID", "execve_failed"),
            ("pid", "17790"),
            ("ppid", "1340"),
            ("exe", "/usr/lib/jvm/java-8-openjdk-amd64/jre/bin/java"),
        ]);
        t.enrich(&mut failed);
        let mut bash = ev(&[
            ("ComputerName", "UBUNTU5"),
            ("#event_simpleName", "ProcessRollup2"),
            ("TargetProcessId", "17790"),
            ("ParentProcessId", "1340"),
            ("ImageFileName", "/bin/bash"),
        ]);
        t.enrich(&mut bash);
        assert_eq!(bash.get_str("ParentBaseFileName").as_deref(), Some("java"));
    }

    #[test]
    fn sysmon_lineage_uses_the_process_guids() {
        let mut t = ProcessTree::new();
        let sysmon = |guid: &str, pguid: &str, ppid: &str, img: &str| {
            ev(&[
                ("ComputerName", "IIS01"),
                ("#event_simpleName", "ProcessRollup2"),
                ("TargetProcessId", guid),
                ("ParentProcessGuid", pguid),
                ("ParentProcessId", ppid),
                ("ImageFileName", img),
            ])
        };
        t.enrich(&mut sysmon("{a}", "{0}", "600", "C:\\w3wp.exe"));
        t.enrich(&mut sysmon("{b}", "{a}", "4120", "C:\\cmd.exe"));
        let mut who = sysmon("{c}", "{b}", "5980", "C:\\whoami.exe");
        t.enrich(&mut who);
        assert_eq!(who.get_str("ParentBaseFileName").as_deref(), Some("cmd.exe"));
        assert_eq!(who.get_str("GrandParentBaseFileName").as_deref(), Some("w3wp.exe"));
    }

    #[test]
    fn lineage_and_context() {
        let mut t = ProcessTree::new();
        let mut w3wp = ev(&[
            ("aid", "h"),
            ("#event_simpleName", "ProcessRollup2"),
            ("TargetProcessId", "1"),
            ("ImageFileName", "\\D\\inetsrv\\w3wp.exe"),
        ]);
        t.enrich(&mut w3wp);
        let mut cmd = ev(&[
            ("aid", "h"),
            ("#event_simpleName", "ProcessRollup2"),
            ("TargetProcessId", "2"),
            ("ParentProcessId", "1"),
            ("ImageFileName", "\\D\\cmd.exe"),
        ]);
        t.enrich(&mut cmd);
        assert_eq!(cmd.get_str("ParentBaseFileName").as_deref(), Some("w3wp.exe"));
        let mut who = ev(&[
            ("aid", "h"),
            ("#event_simpleName", "ProcessRollup2"),
            ("TargetProcessId", "3"),
            ("ParentProcessId", "2"),
            ("ImageFileName", "\\D\\whoami.exe"),
        ]);
        t.enrich(&mut who);
        assert_eq!(who.get_str("ParentBaseFileName").as_deref(), Some("cmd.exe"));
        assert_eq!(who.get_str("GrandParentBaseFileName").as_deref(), Some("w3wp.exe"));
        let mut file = ev(&[("aid", "h"), ("#event_simpleName", "NewScriptWritten"), ("ContextProcessId", "1")]);
        t.enrich(&mut file);
        assert_eq!(file.get_str("ContextBaseFileName").as_deref(), Some("w3wp.exe"));
        // Another host does not see host h's processes; an existing field is kept.
        let mut other = ev(&[("aid", "x"), ("#event_simpleName", "NewScriptWritten"), ("ContextProcessId", "1")]);
        t.enrich(&mut other);
        assert!(other.get("ContextBaseFileName").is_none());
        let mut kept = ev(&[
            ("aid", "h"),
            ("#event_simpleName", "ProcessRollup2"),
            ("TargetProcessId", "4"),
            ("ParentProcessId", "1"),
            ("ParentBaseFileName", "given.exe"),
        ]);
        t.enrich(&mut kept);
        assert_eq!(kept.get_str("ParentBaseFileName").as_deref(), Some("given.exe"));
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = ProcessTree::new();
        for i in 0..(PER_HOST * 3) {
            let mut e = ev(&[("aid", "h"), ("#event_simpleName", "ProcessRollup2"), ("ImageFileName", "x.exe")]);
            e.set("TargetProcessId", Value::Str(i.to_string()));
            t.enrich(&mut e);
        }
        assert!(t.len() <= PER_HOST, "{}", t.len());
        // Many hosts share the budget: the total stays under it (each host above its minimum).
        let mut t = ProcessTree::new();
        for h in 0..200 {
            for i in 0..5_000 {
                let mut e = ev(&[("#event_simpleName", "ProcessRollup2"), ("ImageFileName", "x.exe")]);
                e.set("aid", Value::Str(format!("h{h}")));
                e.set("TargetProcessId", Value::Str(i.to_string()));
                t.enrich(&mut e);
            }
        }
        assert!(t.len() <= BUDGET + 200 * MIN_PER_HOST / 2, "{}", t.len());
    }
}
