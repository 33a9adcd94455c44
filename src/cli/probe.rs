//! Dropping Falcon lines that cannot pass the query before parsing them: the query's leading
//! filters (`Executor::may_pass_lazy`) are tested on the few fields they read, taken from the
//! line's raw text (`read::rawline`). Most lines of a detection fail its first field test, and a
//! line's parse costs far more than finding one key in it.
//!
//! A field is known when its value is a plain string in the line, or when the key is absent and
//! nothing adds it later (normalisation derives `FileName`, `FilePath`, `#repo`, `@timestamp`,
//! `ComputerName`; lineage the fields of [`read::tree::ENRICHED_FIELDS`]). Anything else is
//! unknown, and a filter on an unknown field keeps the line. A dropped process event still
//! feeds the process tree: the probe returns the fields the tree reads.

use crate::eval::Executor;
use crate::event::{Event, Value};
use crate::read::rawline::{self, Key, Raw};
use crate::read::skip::EventTypes;
use crate::read::tree::{ProcRecord, ProcView, ProcessTree, ENRICHED_FIELDS};

/// A query the probe tests lines against, with the event types it can use (`None`: any).
#[derive(Debug, Clone)]
pub struct ProbeQuery {
    pub ir: crate::plan::ir::Pipeline,
    pub event_names: Option<Vec<String>>,
}

/// What to do with a line.
#[derive(Debug)]
pub enum Verdict {
    /// Parse it.
    Keep,
    /// It cannot pass: count it and go on.
    Drop,
    /// It cannot pass, but it is a process event: what lineage reads of it.
    Lineage(ProcRecord),
}

/// The probe of one reader (each thread has its own).
#[derive(Debug)]
pub struct Probe {
    /// The queries, each with the event types it can use (a line of another type is not
    /// tested against it).
    execs: Vec<(Executor, Option<EventTypes>)>,
    lineage: bool,
    derive: bool,
    parents: bool,
    keys: Vec<Key>,
    /// Per line, per key index: not asked yet (0), known (1), not known (2); `touched` lists
    /// the indices to reset for the next line.
    asked: Vec<u8>,
    touched: Vec<usize>,
    /// Per event type: the queries that can use it (indices into `execs`).
    routes: crate::hash::FastMap<Box<[u8]>, Vec<usize>>,
    /// The keys of [`TREE_FIELDS`], in order (indices into `keys`).
    tree_keys: [usize; TREE_FIELDS.len()],
    /// The keys of [`LINEAGE_INPUTS`], in order (indices into `keys`).
    extra_keys: [usize; LINEAGE_INPUTS.len()],
    /// Per query: its leading guard (`Executor::leading_guard`) with field names as key
    /// indices (`usize::MAX` for the event type), or `None` when it says nothing.
    guards: Vec<Option<Guard>>,
    /// Field-name strings of the filters (address, length) → index into `keys`.
    by_addr: crate::hash::FastMap<(usize, usize), usize>,
    /// Lines checked and dropped: a probe that drops too few (the queries use most lines, as a
    /// whole pack does) costs more than it saves, and stops checking.
    checked: u64,
    dropped: u64,
    off: bool,
}

/// The fields the process tree reads from a process event.
const TREE_FIELDS: [&str; 7] = [
    "aid",
    "ComputerName",
    "TargetProcessId",
    "ParentProcessId",
    "ParentProcessGuid",
    "ImageFileName",
    "ParentBaseFileName",
];

/// Alternatives of tests that must all pass: (key index, pattern).
type Guard = Vec<Vec<(usize, crate::plan::ir::Matcher)>>;

/// The other fields [`lineage_value`] reads.
const LINEAGE_INPUTS: [&str; 2] = ["GrandParentBaseFileName", "ContextProcessId"];

/// Fields the reader derives or the enrichment fills when the line lacks them.
fn derived(name: &str, lineage: bool) -> bool {
    matches!(
        name,
        "FileName" | "FilePath" | "ComputerName" | "#repo" | "@rawstring" | "@timestamp" | "#event_simpleName"
    ) || (lineage && ENRICHED_FIELDS.contains(&name))
}

/// The value the process tree would give a lineage field that a line lacks (`Some(None)`: it
/// would stay absent); `None` when that cannot be told from the line's raw values.
fn lineage_value(
    tree: &ProcessTree,
    keys: &[Key],
    tree_keys: &[usize; TREE_FIELDS.len()],
    extra_keys: &[usize; LINEAGE_INPUTS.len()],
    line: &[u8],
    event_type: &str,
    name: &str,
) -> Option<Option<String>> {
    // A raw value: `Some(None)` when absent (no key escapes: checked by the caller).
    let raw = |field: &str| -> Option<Option<std::borrow::Cow<'_, str>>> {
        let i = match TREE_FIELDS.iter().position(|f| *f == field) {
            Some(t) => tree_keys[t],
            None => extra_keys[LINEAGE_INPUTS.iter().position(|f| *f == field)?],
        };
        let got = keys[i].get(line);
        match got {
            Raw::Plain(v) => Some(Some(v)),
            Raw::Absent => Some(None),
            Raw::Unsure => None,
        }
    };
    // The tree names a host by `aid`, else `ComputerName` (which an aidmaster table may add:
    // then it cannot be told).
    let host = match raw("aid")? {
        Some(h) => h,
        None => raw("ComputerName")??,
    };
    if matches!(event_type, "ProcessRollup2" | "SyntheticProcessRollup2") {
        let parent = match raw("ParentProcessGuid")? {
            Some(g) => Some(g),
            None => raw("ParentProcessId")?,
        };
        let parent_name = raw("ParentBaseFileName")?;
        let has_grandparent = raw("GrandParentBaseFileName")?.is_some();
        let fill = tree.peek(&ProcView {
            host: &host,
            parent: parent.as_deref(),
            target: None,
            image: None,
            parent_name: parent_name.as_deref(),
            has_grandparent,
        })?;
        return match name {
            "ParentBaseFileName" => Some(fill.parent),
            "GrandParentBaseFileName" => Some(fill.grandparent),
            _ => None,
        };
    }
    let image = match raw("ContextProcessId")? {
        Some(ctx) => tree.context_image(&host, &ctx),
        None => None,
    };
    match name {
        "ContextBaseFileName" => Some(image.map(|i| crate::read::tree::basename(&i).to_string())),
        "ContextImageFileName" => Some(image.map(|i| i.to_string())),
        _ => None,
    }
}

impl Probe {
    /// A probe over the executors (an event is kept when any may pass), with lineage on or off.
    /// `derive`: lineage may fill its fields later (so their absence says nothing), even when
    /// `lineage` (handing process events to the tree) is off.
    /// `parents`: the tree's records need their parent (for grandparents' names); without, only
    /// a process's own id and image are looked up.
    pub fn new(execs: Vec<(Executor, Option<EventTypes>)>, lineage: bool, derive: bool, parents: bool) -> Probe {
        let keys: Vec<Key> = TREE_FIELDS.iter().chain(LINEAGE_INPUTS.iter()).map(|f| Key::new(f)).collect();
        let guards: Vec<_> = execs.iter().map(|(ex, _)| ex.leading_guard()).collect();
        let mut p = Probe {
            execs,
            lineage,
            derive,
            parents,
            keys,
            tree_keys: std::array::from_fn(|i| i),
            extra_keys: std::array::from_fn(|i| TREE_FIELDS.len() + i),
            guards: Vec::new(),
            asked: Vec::new(),
            touched: Vec::new(),
            routes: Default::default(),
            by_addr: Default::default(),
            checked: 0,
            dropped: 0,
            off: false,
        };
        for g in guards {
            let mut alts: Guard = Vec::new();
            for alt in g {
                let tests: Vec<_> = alt
                    .into_iter()
                    .filter_map(|(field, m)| match field.as_str() {
                        "#event_simpleName" => Some((usize::MAX, m)),
                        f if f.starts_with(['@', '#']) => None,
                        f => Some((p.key_by_name(f), m)),
                    })
                    .collect();
                alts.push(tests);
            }
            let says_something = alts.iter().all(|a| !a.is_empty());
            p.guards.push(says_something.then_some(alts));
        }
        p
    }

    /// Whether every alternative of a query's guard has a test the line fails for sure (read
    /// from its raw values, as `known` reads them: an absent field fails unless the reader or
    /// the tree may add it, or a key has an escape).
    fn guard_fails<'l>(
        &self,
        g: &Guard,
        line: &'l [u8],
        event_type: &str,
        lineage: bool,
        u_escape: &mut Option<bool>,
        cache: &mut Vec<(usize, Raw<'l>)>,
    ) -> bool {
        g.iter().all(|alt| {
            alt.iter().any(|(i, m)| {
                if *i == usize::MAX {
                    return crate::eval::filter::matcher_answer(m, event_type) == Some(false);
                }
                let raw = match cache.iter().find(|(k, _)| k == i) {
                    Some((_, r)) => r.clone(),
                    None => {
                        let r = self.keys[*i].get(line);
                        cache.push((*i, r.clone()));
                        r
                    }
                };
                match raw {
                    Raw::Plain(v) => crate::eval::filter::matcher_answer(m, &v) == Some(false),
                    Raw::Absent => {
                        !*u_escape.get_or_insert_with(|| rawline::has_u_escape(line))
                            && !derived(self.keys[*i].name(), lineage)
                    }
                    Raw::Unsure => false,
                }
            })
        })
    }

    /// The index of a field's key. The filters ask with the same strings line after line: their
    /// addresses are looked up first (a plain integer compare), the text only the first time.
    fn key(&mut self, name: &str) -> usize {
        let addr = (name.as_ptr() as usize, name.len());
        if let Some(&i) = self.by_addr.get(&addr) {
            return i;
        }
        let i = self.key_by_name(name);
        self.by_addr.insert(addr, i);
        i
    }

    fn key_by_name(&mut self, name: &str) -> usize {
        match self.keys.iter().position(|k| k.name() == name) {
            Some(i) => i,
            None => {
                self.keys.push(Key::new(name));
                self.keys.len() - 1
            }
        }
    }

    /// Lines checked before deciding whether checking pays.
    const TRIAL: u64 = 16_384;

    /// The verdict on one line, given the event type the line skip read (the first type key's
    /// plain value), which is the type when the line has no `#` (so no `#event_simpleName`).
    /// `tree`: the process tree as it stands before this line (reading in order, enrichment
    /// on): the lineage fields the line lacks are then known, as the tree would fill them.
    pub fn check(&mut self, line: &[u8], first_type: Option<&[u8]>, tree: Option<&ProcessTree>) -> Verdict {
        if self.off {
            return Verdict::Keep;
        }
        let v = self.verdict(line, first_type, tree.filter(|_| self.lineage));
        self.checked += 1;
        if !matches!(v, Verdict::Keep) {
            self.dropped += 1;
        }
        if self.checked == Self::TRIAL && self.dropped * 4 < self.checked {
            self.off = true;
        }
        v
    }

    fn verdict(&mut self, line: &[u8], first_type: Option<&[u8]>, tree: Option<&ProcessTree>) -> Verdict {
        let Some(has_hash) = rawline::flat_shape(line) else { return Verdict::Keep };
        let hinted = first_type
            .filter(|_| !has_hash)
            .and_then(|t| std::str::from_utf8(t).ok())
            .map(|t| Raw::Plain(std::borrow::Cow::Borrowed(t)));
        let event_type = match hinted.unwrap_or_else(|| rawline::event_type(line)) {
            Raw::Plain(t) => t,
            _ => return Verdict::Keep,
        };
        let event_type: &str = &event_type;
        let mut ev = Event::with_capacity(4);
        ev.push("#event_simpleName".to_string(), Value::Str(event_type.to_string()));
        // Per key index: whether its value is known (asked once per line).
        for i in self.touched.drain(..) {
            self.asked[i] = 0;
        }
        let mut u_escape: Option<bool> = None;
        // Tree fields the filters fetched (not searched for again).
        let mut seen: Vec<(usize, Raw<'_>)> = Vec::new();
        let mut seen_aid = false;
        let lineage = self.lineage || self.derive;
        let mut pass = false;
        let execs = std::mem::take(&mut self.execs);
        let wants = |i: usize| execs[i].1.as_ref().is_none_or(|t| t.contains(event_type.as_bytes()));
        // A pack's rules are routed by event type through a table; one or two queries directly.
        let mut few = [0usize; 2];
        let mut n_few = 0;
        let route: Vec<usize> = if execs.len() <= 2 {
            for i in (0..execs.len()).filter(|&i| wants(i)) {
                few[n_few] = i;
                n_few += 1;
            }
            Vec::new()
        } else {
            if !self.routes.contains_key(event_type.as_bytes()) {
                let list = (0..execs.len()).filter(|&i| wants(i)).collect();
                self.routes.insert(event_type.as_bytes().into(), list);
            }
            std::mem::take(self.routes.get_mut(event_type.as_bytes()).expect("just made"))
        };
        let list: &[usize] = if execs.len() <= 2 { &few[..n_few] } else { &route };
        let mut guard_cache: Vec<(usize, Raw<'_>)> = Vec::new();
        for &r in list {
            if let Some(Some(g)) = self.guards.get(r) {
                if self.guard_fails(g, line, event_type, lineage, &mut u_escape, &mut guard_cache) {
                    continue;
                }
            }
            let ex = &execs[r].0;
            // First without the tree (the lineage fields the line lacks are unknown); only a
            // query that may still pass then is tried again with them (asking the tree costs
            // more than the line's own fields, and most lines fail on those).
            let mut wanted_tree = false;
            for use_tree in [false, true] {
                if use_tree && (!wanted_tree || tree.is_none()) {
                    break;
                }
                let mut known = |name: &str, ev: &mut Event| -> bool {
                    if name.starts_with(['@', '#']) {
                        return name == "#event_simpleName";
                    }
                    let i = self.key(name);
                    if self.asked.len() <= i {
                        self.asked.resize(i + 1, 0);
                    }
                    match self.asked[i] {
                        1 => return true,
                        2 => return false,
                        _ => {}
                    }
                    // A value the guards already read is not searched for again.
                    let raw = match guard_cache.iter().find(|(k, _)| *k == i) {
                        Some((_, r)) => r.clone(),
                        None => self.keys[i].get(line),
                    };
                    if lineage && TREE_FIELDS.contains(&name) {
                        seen.push((i, raw.clone()));
                    }
                    let k = match raw {
                        Raw::Plain(v) => {
                            ev.push(name.to_string(), Value::Str(v.into_owned()));
                            true
                        }
                        Raw::Absent if *u_escape.get_or_insert_with(|| rawline::has_u_escape(line)) => false,
                        Raw::Absent if !derived(name, lineage) => true,
                        // A lineage field the line lacks: unknown, then (asked again) what
                        // the tree would fill, if it can tell.
                        Raw::Absent if tree.is_some() && !use_tree && ENRICHED_FIELDS.contains(&name) => {
                            wanted_tree = true;
                            return false;
                        }
                        Raw::Absent => match tree.map(|t| {
                            lineage_value(t, &self.keys, &self.tree_keys, &self.extra_keys, line, event_type, name)
                        }) {
                            Some(Some(v)) => {
                                if let Some(v) = v {
                                    ev.push(name.to_string(), Value::Str(v));
                                }
                                true
                            }
                            _ => false,
                        },
                        Raw::Unsure => false,
                    };
                    self.asked[i] = if k { 1 } else { 2 };
                    self.touched.push(i);
                    k
                };
                if !ex.may_pass_lazy(&mut ev, &mut known) {
                    break;
                }
                if use_tree || !wanted_tree {
                    pass = true;
                    break;
                }
            }
            if pass {
                break;
            }
        }
        if let Some(slot) = self.routes.get_mut(event_type.as_bytes()) {
            *slot = route;
        }
        self.execs = execs;
        if pass {
            return Verdict::Keep;
        }
        if !self.lineage || !matches!(event_type, "ProcessRollup2" | "SyntheticProcessRollup2") {
            return Verdict::Drop;
        }
        let mut vals: [Option<std::borrow::Cow<'_, str>>; TREE_FIELDS.len()] = Default::default();
        for (t, (slot, name)) in vals.iter_mut().zip(TREE_FIELDS).enumerate() {
            // The tree names a host by `aid`, else `ComputerName`.
            if name == "ComputerName" && seen_aid {
                continue;
            }
            if !self.parents && matches!(name, "ParentProcessId" | "ParentProcessGuid" | "ParentBaseFileName") {
                continue;
            }
            let i = self.tree_keys[t];
            let raw = match seen.iter().find(|(k, _)| *k == i) {
                Some((_, r)) => r.clone(),
                None => self.keys[i].get(line),
            };
            match raw {
                Raw::Plain(v) => {
                    if name == "aid" {
                        seen_aid = true;
                    }
                    *slot = Some(v);
                }
                Raw::Absent if *u_escape.get_or_insert_with(|| rawline::has_u_escape(line)) => return Verdict::Keep,
                Raw::Absent => {}
                // Parse it: the tree must see the same values as from a parsed line.
                Raw::Unsure => return Verdict::Keep,
            }
        }
        let [aid, computer, target, ppid, pguid, image, pname] = vals;
        let Some(host) = aid.or(computer) else { return Verdict::Drop };
        Verdict::Lineage(ProcRecord::new(
            &host,
            pguid.as_deref().or(ppid.as_deref()),
            target.as_deref(),
            image.as_deref(),
            pname.as_deref(),
        ))
    }
}
