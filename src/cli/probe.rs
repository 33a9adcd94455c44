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
use crate::read::rawline::{self, Key, Raw, Text};
use crate::read::skip::EventTypes;
use crate::read::tree::{ProcView, ProcessTree, SpelledProc, ENRICHED_FIELDS};

/// A query the probe tests lines against, with the event types it can use (`None`: any).
#[derive(Debug, Clone)]
pub struct ProbeQuery {
    pub ir: crate::plan::ir::Pipeline,
    pub event_names: Option<Vec<String>>,
}

/// What to do with a line.
#[derive(Debug)]
pub enum Verdict<'l> {
    /// Parse it.
    Keep,
    /// It cannot pass: count it and go on.
    Drop,
    /// It cannot pass, but it is a process event: what lineage reads of it, as the line spells
    /// it (when the tree cannot read that, [`ProcessTree::record_spelled`], parse the line).
    Lineage(SpelledProc<'l>),
    /// Only the process tree can tell (a deferring probe, [`Probe::defer_lineage`]): check it
    /// again where the tree is.
    Defer,
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
    /// Per event type: the queries that can use it, with their guards for that type.
    routes: Vec<Box<[Route]>>,
    /// Per event type (as `routes`): the groups of its routes.
    groups: Vec<Box<[Group]>>,
    /// Per event type (as `routes`): its name.
    route_names: Vec<Box<str>>,
    /// Per (event type, query) whose leading filters dropped a line on its values alone: the
    /// keys they asked for, in order ([`LazyDrops`]).
    lazy_keys: crate::hash::FastMap<(usize, usize), LazyKeys>,
    /// The keys and their values (as memo entries) on which the leading filters dropped a line.
    /// The keys are part of it: a query asks for other keys on other values, and two memos
    /// give the same entry numbers.
    lazy_drops: crate::hash::FastSet<(usize, usize, LazyKeys, [u64; LAZY_KEYS])>,
    /// Whether routes are grouped and drops remembered (off: each guard and each query's
    /// leading filters are walked, as a reference for tests).
    shortcuts: bool,
    /// Event type → index into `routes`.
    route_of: crate::hash::FastMap<Box<[u8]>, usize>,
    /// The keys of [`TREE_FIELDS`], in order (indices into `keys`).
    tree_keys: [usize; TREE_FIELDS.len()],
    /// The keys of [`LINEAGE_INPUTS`], in order (indices into `keys`).
    extra_keys: [usize; LINEAGE_INPUTS.len()],
    /// Per query: its leading guard (`Executor::leading_guard`) with field names as key
    /// indices (`usize::MAX` for the event type), or `None` when it says nothing.
    guards: Vec<Option<Guard>>,
    /// Per key index: the guards' answers on its values.
    memos: Vec<Memo>,
    /// Field-name strings of the filters (address, length) → index into `keys`.
    by_addr: crate::hash::FastMap<(usize, usize), usize>,
    /// Lines checked and dropped: a probe that drops too few (the queries use most lines, as a
    /// whole pack does) costs more than it saves, and stops checking.
    checked: u64,
    dropped: u64,
    off: bool,
    /// Without the tree, lines that may pass only through lineage fields they lack are
    /// deferred rather than kept.
    defer: bool,
    /// Whether kept lines say which queries may pass ([`Probe::rules_hint`]): for a pack of
    /// up to 64 rules, where a rule given an event it cannot pass still tests it.
    hints: bool,
    hint: Option<u64>,
}

/// The fields the process tree reads from a process event.
/// The parent's name comes before its ids: a line that names its parent is not searched for
/// them (the tree keeps no parent id for such a process).
const TREE_FIELDS: [&str; 7] = [
    "aid",
    "ComputerName",
    "TargetProcessId",
    "ImageFileName",
    "ParentBaseFileName",
    "ParentProcessId",
    "ParentProcessGuid",
];

/// Alternatives of tests that must all pass.
type Guard = Vec<Vec<Test>>;

/// A guard's test: a pattern on the field of a key index (`usize::MAX`: the event type), with
/// its slot among the distinct patterns tested on that field (their answers are remembered
/// per value, [`Memo`]).
#[derive(Debug, Clone)]
struct Test {
    key: usize,
    slot: usize,
    m: crate::plan::ir::Matcher,
}

/// The guards' answers on one field's values, remembered across lines: field values repeat
/// (process names, command lines of services, registry paths), and a pack tests a dozen
/// patterns on each. Bounded: values longer than [`Memo::MAX_LEN`] are not remembered, and the
/// memo starts over when it holds [`Memo::ENTRIES`] values or [`Memo::BYTES`] of them (script
/// blocks are long, and their scans are the costliest to repeat). A value that repeats comes
/// back soon after a new start; a small table stays in the CPU's cache with its answers (2,048
/// values measured 2-3% faster for `detect` than 8,192 on the benchmark's data).
#[derive(Debug, Default)]
struct Memo {
    /// Distinct patterns tested on the field (their names, to give each its slot).
    patterns: Vec<String>,
    /// Per slot: its pattern (for the literals it needs, [`crate::plan::required`]).
    matchers: Vec<crate::plan::ir::Matcher>,
    /// The slots' literals, found in one scan of a value: a value that holds none of a
    /// pattern's is answered without running it. Made with the first value asked about.
    literals: Option<Option<crate::plan::required::Literals>>,
    index: crate::hash::FastMap<Box<[u8]>, u32>,
    /// The bytes of the values in `index`.
    bytes: usize,
    /// Per value, per slot: not asked (0), false (1), true (2), no answer (3).
    answers: Vec<u8>,
    /// Per value: the literals it holds, once scanned (0 before).
    present: Vec<u128>,
    /// Per value, for the first 64 slots: those answered, and those answered false (bit `s`:
    /// slot `s`), for [`Group`]s to read in one load.
    masks: Vec<[u64; 2]>,
    /// How many times the memo has started over: an entry names a value within one generation.
    generation: u32,
}

impl Memo {
    const ENTRIES: usize = 2048;
    const MAX_LEN: usize = 64 << 10;
    const BYTES: usize = 4 << 20;

    fn slot(&mut self, m: &crate::plan::ir::Matcher) -> usize {
        use crate::plan::ir::Matcher;
        let id = match m {
            Matcher::Exists => "*".to_string(),
            Matcher::Exact(x) => format!("={x}"),
            Matcher::Glob(g) => format!("{}{:?}", g.ignore_case, g.parts),
            Matcher::Regex(r) => format!("/{}", r.compiled()),
        };
        match self.patterns.iter().position(|p| *p == id) {
            Some(i) => i,
            None => {
                self.patterns.push(id);
                self.matchers.push(m.clone());
                self.literals = None;
                self.patterns.len() - 1
            }
        }
    }

    /// The entry of a value as the line spells it, made when new (`None` for a long value).
    fn entry(&mut self, text: &[u8]) -> Option<u32> {
        if text.len() > Self::MAX_LEN || self.patterns.is_empty() {
            return None;
        }
        if let Some(&e) = self.index.get(text) {
            return Some(e);
        }
        if self.index.len() >= Self::ENTRIES || self.bytes + text.len() > Self::BYTES {
            self.index.clear();
            self.answers.clear();
            self.present.clear();
            self.masks.clear();
            self.generation = self.generation.wrapping_add(1);
            self.bytes = 0;
        }
        self.bytes += text.len();
        let e = self.index.len() as u32;
        self.index.insert(text.into(), e);
        self.answers.resize(self.answers.len() + self.patterns.len(), 0);
        self.present.push(0);
        self.masks.push([0; 2]);
        Some(e)
    }

    /// Whether the slot's pattern cannot match the value: it needs literals the value lacks
    /// (the value is scanned once for all the slots' literals). The literals are ASCII, read
    /// as ASCII case folding reads letters; Unicode's folds two more characters to ASCII
    /// letters (`ſ` to `s`, the Kelvin sign to `k`), so a value holding one is not ruled out.
    fn ruled_out(&mut self, entry: Option<u32>, slot: usize, v: &str) -> bool {
        // (Past 64 slots, a pattern is run: slower, never different.)
        let bit = u32::try_from(slot).ok().and_then(|s| 1u64.checked_shl(s));
        bit.is_some_and(|b| self.ruled_out_slots(entry, b, v) != 0)
    }

    /// The slots among `slots` (all below 64) whose patterns the value's literals rule out, as
    /// [`Memo::ruled_out`] tells, with one scan of the value for them all (kept with the entry).
    fn ruled_out_slots(&mut self, entry: Option<u32>, slots: u64, v: &str) -> u64 {
        use crate::plan::ir::Matcher;
        if !v.is_ascii() && v.contains(['\u{17f}', '\u{212a}']) {
            return 0;
        }
        self.build_literals();
        let Some(Some(lits)) = &self.literals else { return 0 };
        let cand = bits(slots)
            .filter(|&s| matches!(self.matchers.get(s), Some(Matcher::Regex(_))) && lits.needs(s))
            .fold(0u64, |m, s| m | 1 << s);
        if cand == 0 {
            return 0;
        }
        let present = match entry.and_then(|e| self.present.get_mut(e as usize)) {
            Some(p) => {
                if *p == 0 {
                    *p = lits.present(v.as_bytes());
                }
                *p
            }
            None => lits.present(v.as_bytes()),
        };
        bits(cand).filter(|&s| lits.rules_out(s, present)).fold(0u64, |m, s| m | 1 << s)
    }

    /// The slots' literals, made the first time they are asked for.
    fn build_literals(&mut self) {
        use crate::plan::ir::Matcher;
        let matchers = &self.matchers;
        self.literals.get_or_insert_with(|| {
            let needs: Vec<_> = matchers
                .iter()
                .map(|m| match m {
                    Matcher::Regex(r) => r.required().map(<[_]>::to_vec),
                    _ => None,
                })
                .collect();
            crate::plan::required::Literals::new(&needs)
        });
    }

    /// The slots among `slots` (all below 64) that an entry's value rules out, as
    /// [`Memo::ruled_out`] tells each (one scan of the value for them all), remembered as
    /// false: most of a new value's slots are answered so, without a call each.
    fn rule_out(&mut self, e: u32, slots: u64, v: &str) -> u64 {
        let out = self.ruled_out_slots(Some(e), slots, v);
        for s in bits(out) {
            self.remember(Some(e), s, Some(false));
        }
        out
    }

    /// A test's answer remembered for an entry: `None` when not asked yet, `Some(None)` when
    /// the pattern gave up.
    fn known(&self, entry: Option<u32>, t: &Test) -> Option<Option<bool>> {
        match self.answers[entry? as usize * self.patterns.len() + t.slot] {
            1 => Some(Some(false)),
            2 => Some(Some(true)),
            3 => Some(None),
            _ => None,
        }
    }

    fn remember(&mut self, entry: Option<u32>, slot: usize, a: Option<bool>) {
        if let Some(e) = entry {
            self.answers[e as usize * self.patterns.len() + slot] = match a {
                Some(false) => 1,
                Some(true) => 2,
                None => 3,
            };
            if let (Some(m), Ok(s)) = (self.masks.get_mut(e as usize), u32::try_from(slot)) {
                let b = 1u64.checked_shl(s).unwrap_or(0);
                m[0] |= b;
                if a == Some(false) {
                    m[1] |= b;
                }
            }
        }
    }

    /// A test's answer, from the memo when asked before; else the test's on the value
    /// (`None`: the value cannot be read, nothing to remember), remembered.
    fn answer<'v>(&mut self, entry: Option<u32>, t: &Test, value: impl FnOnce() -> Option<&'v str>) -> Option<bool> {
        if let Some(a) = self.known(entry, t) {
            return a;
        }
        let v = value()?;
        self.answer_new(entry, t.slot, v)
    }

    /// A slot's answer on a value not asked about before, remembered.
    fn answer_new(&mut self, entry: Option<u32>, slot: usize, v: &str) -> Option<bool> {
        let a = if self.ruled_out(entry, slot, v) {
            Some(false)
        } else {
            crate::eval::filter::matcher_answer(&self.matchers[slot], v)
        };
        self.remember(entry, slot, a);
        a
    }

    /// The slots (all below 64) an entry's value fails, asking those not asked yet (`value`:
    /// the value, read only then); 0 when it cannot be read.
    fn fails<'v>(&mut self, e: u32, slots: u64, value: impl FnOnce() -> Option<&'v str>) -> u64 {
        let Some(&[asked, _]) = self.masks.get(e as usize) else { return 0 };
        let mut missing = slots & !asked;
        if missing != 0 {
            let Some(v) = value() else { return 0 };
            missing &= !self.rule_out(e, missing, v);
            for slot in bits(missing) {
                self.answer_new(Some(e), slot, v);
            }
        }
        self.masks[e as usize][1] & slots
    }
}

/// A value of the line: where it is, decoded once asked, with its memo entry once a guard
/// has asked for it.
#[derive(Debug)]
struct Slot<'l> {
    key: usize,
    text: Text<'l>,
    value: Option<Raw<'l>>,
    entry: Option<Option<u32>>,
}

/// The values of one line read so far, by key index: each key is searched for once.
#[derive(Debug)]
struct Fetched<'l> {
    line: &'l [u8],
    got: Vec<Slot<'l>>,
    /// Per key index (the first [`Fetched::DIRECT`]): its position in `got`, `u8::MAX` before it
    /// is asked.
    at: [u8; Fetched::DIRECT],
}

impl<'l> Fetched<'l> {
    const DIRECT: usize = 64;

    fn new(line: &'l [u8]) -> Fetched<'l> {
        Fetched { line, got: Vec::with_capacity(16), at: [u8::MAX; Fetched::DIRECT] }
    }

    /// The position in `got` of a key's value, searched for the first time it is asked.
    fn index(&mut self, keys: &[Key], i: usize) -> usize {
        let known = match self.at.get(i) {
            Some(&at) if at != u8::MAX => Some(at as usize),
            Some(_) => None,
            None => self.got.iter().position(|s| s.key == i),
        };
        match known {
            Some(at) => at,
            None => {
                self.got.push(Slot { key: i, text: keys[i].text(self.line), value: None, entry: None });
                let at = self.got.len() - 1;
                if let (Some(slot), Ok(small)) = (self.at.get_mut(i), u8::try_from(at)) {
                    if small != u8::MAX {
                        *slot = small;
                    }
                }
                at
            }
        }
    }

    /// The decoded value at a position of `got`.
    fn value(&mut self, at: usize) -> &Raw<'l> {
        let s = &mut self.got[at];
        s.value.get_or_insert_with(|| s.text.raw())
    }

    fn get(&mut self, keys: &[Key], i: usize) -> &Raw<'l> {
        let at = self.index(keys, i);
        self.value(at)
    }
}

/// What [`lineage_value`] needs to tell a line's missing lineage fields.
#[derive(Debug)]
struct LineageView<'a> {
    tree: &'a ProcessTree,
    tree_keys: &'a [usize; TREE_FIELDS.len()],
    extra_keys: &'a [usize; LINEAGE_INPUTS.len()],
    event_type: &'a str,
}

impl LineageView<'_> {
    /// [`lineage_value`] of a field, reading the line's values through `fetched`.
    fn value(&self, keys: &[Key], fetched: &mut Fetched<'_>, name: &str) -> Option<Option<String>> {
        let mut fetch = |i: usize| fetched.get(keys, i).clone();
        lineage_value(self.tree, &mut fetch, self.tree_keys, self.extra_keys, self.event_type, name)
    }
}

/// The set bits of a mask, lowest first.
fn bits(mut m: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let s = m.trailing_zeros() as usize;
        m &= m.checked_sub(1)?;
        Some(s)
    })
}

/// Bit `i` of a set of queries (none past the 64th: hints are off for larger packs).
fn bit(i: usize) -> u64 {
    1u64.checked_shl(i as u32).unwrap_or(0)
}

/// A query that lines of one event type go to, with its guard's tests on the event type
/// already answered (the alternatives that fail on it left out, the tests it passes dropped):
/// `None` when the guard says nothing about such lines.
#[derive(Debug)]
struct Route {
    rule: usize,
    guard: Option<Guard>,
}

/// Routes of one event type that test one key in every alternative of their guards: a route
/// whose tests on the key its value fails (read from one mask of the memo entry) fails, and
/// the group ends all such routes at once, without walking their guards one by one. Most
/// lines a pack reads end so: a process's command line matches none of a dozen patterns, its
/// parent is not a web server.
#[derive(Debug)]
struct Group {
    key: usize,
    /// The routes (bit `i`: route `i` of the type).
    routes: u64,
    /// Per route: its bit, and the slots of its tests on the key (all below 64).
    members: Box<[(u64, u64)]>,
}

impl Group {
    /// The slots of the member routes not in `ended`.
    fn open_slots(&self, ended: u64) -> u64 {
        self.members.iter().filter(|m| m.0 & ended == 0).fold(0, |a, m| a | m.1)
    }

    /// The member routes a value ends: those whose every slot it fails (`failed`).
    fn ended_by(&self, failed: u64) -> u64 {
        self.members.iter().filter(|&&(_, slots)| failed & slots == slots).fold(0, |a, m| a | m.0)
    }
}

/// The [`Group`]s of an event type's routes (of two routes or more; none past 64 routes), the
/// largest first: a group whose routes others have ended is not asked (nor its key searched
/// for). Keys a line seldom carries make no group (their search reads the whole line).
fn groups(routes: &[Route], keys: &[Key]) -> Box<[Group]> {
    if routes.len() > 64 {
        return Box::default();
    }
    let mut out: Vec<(usize, Vec<(u64, u64)>)> = Vec::new();
    for (i, g) in routes.iter().enumerate().filter_map(|(i, r)| Some((i, r.guard.as_ref()?))) {
        let Some(first) = g.first() else { continue };
        let mut in_all: Vec<usize> = first.iter().map(|t| t.key).collect();
        in_all.sort_unstable();
        in_all.dedup();
        in_all.retain(|&k| {
            !SELDOM_IN_LINE.contains(&keys[k].name()) && g.iter().all(|alt| alt.iter().any(|t| t.key == k))
        });
        for k in in_all {
            let mut slots = 0u64;
            for t in g.iter().flatten().filter(|t| t.key == k) {
                if t.slot >= 64 {
                    slots = 0;
                    break;
                }
                slots |= 1 << t.slot;
            }
            if slots == 0 {
                continue;
            }
            match out.iter_mut().find(|(key, _)| *key == k) {
                Some((_, members)) => members.push((bit(i), slots)),
                None => out.push((k, vec![(bit(i), slots)])),
            }
        }
    }
    out.retain(|(_, members)| members.len() >= 2);
    out.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
    out.into_iter()
        .map(|(key, members)| Group { key, routes: members.iter().fold(0, |a, m| a | m.0), members: members.into() })
        .collect()
}

/// Queries whose leading filters ask for more keys than this are not remembered.
const LAZY_KEYS: usize = 4;

/// The keys a query's leading filters asked for on a line they dropped.
type LazyKeys = ([usize; LAZY_KEYS], usize);

/// Remembered drops are forgotten past this many.
const LAZY_DROPS: usize = 1 << 16;

/// The values of `keys` in a line as memo entries of one generation each, when each is a
/// string the memo remembers (the drop was told on those values alone).
fn lazy_signature(
    keys: &LazyKeys,
    k: &[Key],
    memos: &mut [Memo],
    fetched: &mut Fetched<'_>,
) -> Option<[u64; LAZY_KEYS]> {
    let mut sig = [u64::MAX; LAZY_KEYS];
    for (s, &key) in sig.iter_mut().zip(&keys.0[..keys.1]) {
        let at = fetched.index(k, key);
        let Text::Str(text) = fetched.got[at].text else { return None };
        // Keys the filters name beyond the guards have no memo.
        let memo = memos.get_mut(key)?;
        let e = (*fetched.got[at].entry.get_or_insert_with(|| memo.entry(text)))?;
        if !matches!(fetched.value(at), Raw::Plain(_)) {
            return None;
        }
        *s = (u64::from(memo.generation) << 32) | u64::from(e);
    }
    Some(sig)
}

/// Lineage fields a Falcon event seldom carries itself (it names its parent, but not its
/// grandparent, nor the image of the process that wrote a file).
const SELDOM_IN_LINE: [&str; 3] = ["GrandParentBaseFileName", "ContextBaseFileName", "ContextImageFileName"];

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
fn lineage_value<'l>(
    tree: &ProcessTree,
    fetch: &mut dyn FnMut(usize) -> Raw<'l>,
    tree_keys: &[usize; TREE_FIELDS.len()],
    extra_keys: &[usize; LINEAGE_INPUTS.len()],
    event_type: &str,
    name: &str,
) -> Option<Option<String>> {
    // A raw value: `Some(None)` when absent (no key escapes: checked by the caller).
    let mut raw = |field: &str| -> Option<Option<std::borrow::Cow<'l, str>>> {
        let i = match TREE_FIELDS.iter().position(|f| *f == field) {
            Some(t) => tree_keys[t],
            None => extra_keys[LINEAGE_INPUTS.iter().position(|f| *f == field)?],
        };
        match fetch(i) {
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
            memos: Vec::new(),
            asked: Vec::new(),
            touched: Vec::new(),
            routes: Vec::new(),
            groups: Vec::new(),
            route_names: Vec::new(),
            lazy_keys: Default::default(),
            lazy_drops: Default::default(),
            shortcuts: true,
            route_of: Default::default(),
            by_addr: Default::default(),
            checked: 0,
            dropped: 0,
            off: false,
            defer: false,
            hints: false,
            hint: None,
        };
        p.hints = (2..=64).contains(&p.execs.len());
        for g in guards {
            let mut alts: Guard = Vec::new();
            for alt in g {
                let mut tests = Vec::new();
                for (field, m) in alt {
                    let key = match field.as_str() {
                        "#event_simpleName" => usize::MAX,
                        f if f.starts_with(['@', '#']) => continue,
                        f => p.key_by_name(f),
                    };
                    let slot = if key == usize::MAX {
                        0
                    } else {
                        if p.memos.len() <= key {
                            p.memos.resize_with(key + 1, Memo::default);
                        }
                        p.memos[key].slot(&m)
                    };
                    tests.push(Test { key, slot, m });
                }
                alts.push(tests);
            }
            let says_something = alts.iter().all(|a| !a.is_empty());
            p.guards.push(says_something.then_some(alts));
        }
        p.memos.resize_with(p.keys.len(), Memo::default);
        p
    }

    /// The queries lines of an event type go to: those that can use the type and whose guard
    /// has an alternative the type passes.
    fn route(&self, execs: &[(Executor, Option<EventTypes>)], event_type: &str) -> Vec<Route> {
        let mut routes = Vec::new();
        for (rule, (_, types)) in execs.iter().enumerate() {
            if types.as_ref().is_some_and(|t| !t.contains(event_type.as_bytes())) {
                continue;
            }
            let Some(g) = &self.guards[rule] else {
                routes.push(Route { rule, guard: None });
                continue;
            };
            let mut alts: Guard = Vec::new();
            let mut says_nothing = false;
            for alt in g {
                // A test the event type fails for sure drops the alternative; one it passes (or
                // a regex that gives up, which the query will report) is not tested again.
                let fails = alt.iter().any(|t| {
                    t.key == usize::MAX && crate::eval::filter::matcher_answer(&t.m, event_type) == Some(false)
                });
                if fails {
                    continue;
                }
                let rest: Vec<_> = alt.iter().filter(|t| t.key != usize::MAX).cloned().collect();
                if rest.is_empty() {
                    says_nothing = true;
                    break;
                }
                alts.push(rest);
            }
            match (says_nothing, alts.is_empty()) {
                (true, _) => routes.push(Route { rule, guard: None }),
                // No alternative passes on this type: the query cannot use the line.
                (false, true) => {}
                (false, false) => routes.push(Route { rule, guard: Some(alts) }),
            }
        }
        self.order_tests(&mut routes, event_type);
        routes
    }

    /// Orders each alternative's tests (a conjunction: the order changes no answer, only which
    /// keys a line is searched for). Fields the tree fills and Falcon events seldom carry go
    /// last: a search for a key the line lacks reads all of it, to learn nothing (the tree may
    /// fill it). Before them, the keys that more of the type's alternatives test (a line is
    /// searched for them anyway), and first those the tree reads from a process event: a
    /// key tested by one rule only is then searched for only on the lines that pass the rest.
    fn order_tests(&self, routes: &mut [Route], event_type: &str) {
        let mut tested = vec![0usize; self.keys.len()];
        for g in routes.iter().filter_map(|r| r.guard.as_ref()) {
            for alt in g {
                for t in alt {
                    tested[t.key] += 1;
                }
            }
        }
        if self.lineage && matches!(event_type, "ProcessRollup2" | "SyntheticProcessRollup2") {
            for &k in &self.tree_keys {
                tested[k] = usize::MAX;
            }
        }
        for g in routes.iter_mut().filter_map(|r| r.guard.as_mut()) {
            for alt in g.iter_mut() {
                alt.sort_by_key(|t| {
                    (SELDOM_IN_LINE.contains(&self.keys[t.key].name()), std::cmp::Reverse(tested[t.key]))
                });
            }
        }
    }

    /// The index into `routes` of an event type's routes, worked out the first time it is seen.
    fn route_for(&mut self, execs: &[(Executor, Option<EventTypes>)], event_type: &str) -> usize {
        match self.route_of.get(event_type.as_bytes()) {
            Some(&at) => at,
            None => {
                // Bounded: past a few thousand event types (not Falcon's), it starts over.
                if self.routes.len() >= 4096 {
                    self.routes.clear();
                    self.groups.clear();
                    self.route_names.clear();
                    self.lazy_keys.clear();
                    self.lazy_drops.clear();
                    self.route_of.clear();
                }
                let routes = self.route(execs, event_type);
                self.groups.push(if self.shortcuts { groups(&routes, &self.keys) } else { Box::default() });
                self.route_names.push(event_type.into());
                self.routes.push(routes.into());
                self.route_of.insert(event_type.as_bytes().into(), self.routes.len() - 1);
                self.routes.len() - 1
            }
        }
    }

    /// [`Probe::route_for`] by the event type's bytes (as the line skip read them): a type seen
    /// before is not decoded again; `None` when it is not UTF-8.
    fn route_for_bytes(&mut self, execs: &[(Executor, Option<EventTypes>)], t: &[u8]) -> Option<usize> {
        if let Some(&at) = self.route_of.get(t) {
            return Some(at);
        }
        Some(self.route_for(execs, std::str::from_utf8(t).ok()?))
    }

    /// For an event read whole and enriched (EVTX, Windows XML, a line kept without a hint):
    /// the queries of a pack that may pass on it (bit `i`: query `i`), by the same guards as
    /// lines, their answers remembered per value. A field the event lacks stays absent (its
    /// reader and the tree are done with it). `None` when this says nothing: not a pack, or an
    /// event without a plain `#event_simpleName`. A probe asked about events is asked about
    /// nothing else: its memos are keyed by values, not by their spelling in a line.
    pub fn event_hint(&mut self, ev: &Event) -> Option<u64> {
        if !self.hints {
            return None;
        }
        let Some(Value::Str(event_type)) = ev.get("#event_simpleName") else { return None };
        let execs = std::mem::take(&mut self.execs);
        let at = self.route_for(&execs, event_type);
        self.execs = execs;
        // Taken out while the memos are asked, put back after.
        let routes = std::mem::take(&mut self.routes);
        let mut hint = 0u64;
        // Per key index, once asked: its value in the event, and its memo entry once a test has
        // asked for it.
        type Asked<'e> = Option<(Option<&'e Value>, Option<Option<u32>>)>;
        let mut asked: Vec<Asked<'_>> = vec![None; self.keys.len()];
        // First the groups, as for lines: one mask of a value's memo entry ends every route of
        // a group whose tests on the key the value fails (a field the event lacks fails them
        // all).
        let mut ended = 0u64;
        for gr in self.groups[at].iter() {
            if gr.routes & !ended == 0 {
                continue;
            }
            let (value, entry) = asked[gr.key].get_or_insert_with(|| (ev.get(self.keys[gr.key].name()), None));
            let failed = match *value {
                None => u64::MAX,
                Some(Value::Str(v)) => {
                    let memo = &mut self.memos[gr.key];
                    let Some(e) = *entry.get_or_insert_with(|| memo.entry(v.as_bytes())) else { continue };
                    memo.fails(e, gr.open_slots(ended), || Some(v.as_str()))
                }
                Some(_) => continue,
            };
            ended |= gr.ended_by(failed);
        }
        for (i, Route { rule, guard }) in routes[at].iter().enumerate() {
            if ended & bit(i) != 0 {
                continue;
            }
            let fails = guard.as_ref().is_some_and(|g| {
                g.iter().all(|alt| {
                    alt.iter().any(|t| {
                        let (value, entry) =
                            asked[t.key].get_or_insert_with(|| (ev.get(self.keys[t.key].name()), None));
                        match *value {
                            None => true,
                            Some(Value::Str(v)) => {
                                let memo = &mut self.memos[t.key];
                                let e = *entry.get_or_insert_with(|| memo.entry(v.as_bytes()));
                                memo.answer(e, t, || Some(v.as_str())) == Some(false)
                            }
                            // Numbers, lists: the query tells.
                            Some(_) => false,
                        }
                    })
                })
            });
            if !fails {
                hint |= bit(*rule);
            }
        }
        self.routes = routes;
        Some(hint)
    }

    /// Whether every alternative of a query's guard has a test the line fails for sure (read
    /// from its raw values, as `known` reads them: an absent field fails unless the reader or
    /// the tree may add it, or a key has an escape).
    #[allow(clippy::too_many_arguments)]
    fn guard_fails(
        keys: &[Key],
        memos: &mut [Memo],
        g: &Guard,
        lineage: bool,
        u_escape: &mut Option<bool>,
        fetched: &mut Fetched<'_>,
        tree: Option<&LineageView<'_>>,
    ) -> bool {
        g.iter().all(|alt| {
            alt.iter().any(|t| {
                let at = fetched.index(keys, t.key);
                match fetched.got[at].text {
                    Text::Str(text) => {
                        let memo = &mut memos[t.key];
                        let e = *fetched.got[at].entry.get_or_insert_with(|| memo.entry(text));
                        let f = &mut *fetched;
                        let value = move || {
                            let f = f;
                            match f.value(at) {
                                Raw::Plain(v) => Some(&**v),
                                _ => None,
                            }
                        };
                        memo.answer(e, t, value) == Some(false)
                    }
                    Text::Absent => {
                        if *u_escape.get_or_insert_with(|| rawline::has_u_escape(fetched.line)) {
                            return false;
                        }
                        let name = keys[t.key].name();
                        if !derived(name, lineage) {
                            return true;
                        }
                        // A lineage field the line lacks: what the tree would fill, if it can
                        // tell (fields are tested last, after the line's own have passed).
                        let Some(lv) = tree.filter(|_| ENRICHED_FIELDS.contains(&name)) else { return false };
                        match lv.value(keys, fetched, name) {
                            Some(Some(v)) => crate::eval::filter::matcher_answer(&t.m, &v) == Some(false),
                            // It stays absent: a `Field=pattern` test fails.
                            Some(None) => true,
                            None => false,
                        }
                    }
                    Text::Unsure => false,
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

    /// A probe checking lines without the process tree, for a reader that checks the lines it
    /// could not decide again in order, with the tree (`run -j`): a line whose queries may
    /// pass only through the lineage fields it lacks is [`Verdict::Defer`]red, not kept
    /// (whether `GrandParentBaseFileName` is a web server is known only there).
    pub fn defer_lineage(&mut self) {
        self.defer = self.lineage;
    }

    /// After a line it kept: the queries that may pass on it (bit `i`: query `i`), when it
    /// tested them all (a pack); `None` otherwise.
    pub fn rules_hint(&self) -> Option<u64> {
        self.hint
    }

    /// Lines checked before deciding whether checking pays.
    const TRIAL: u64 = 16_384;

    /// The verdict on one line, given the event type the line skip read (the first type key's
    /// plain value), which is the type when the line has no `#` (so no `#event_simpleName`).
    /// `tree`: the process tree as it stands before this line (reading in order, enrichment
    /// on): the lineage fields the line lacks are then known, as the tree would fill them.
    pub fn check<'l>(&mut self, line: &'l [u8], first_type: Option<&[u8]>, tree: Option<&ProcessTree>) -> Verdict<'l> {
        self.hint = None;
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

    fn verdict<'l>(&mut self, line: &'l [u8], first_type: Option<&[u8]>, tree: Option<&ProcessTree>) -> Verdict<'l> {
        let Some(has_hash) = rawline::flat_shape(line) else { return Verdict::Keep };
        let execs = std::mem::take(&mut self.execs);
        let at = match first_type.filter(|_| !has_hash).and_then(|t| self.route_for_bytes(&execs, t)) {
            Some(at) => at,
            None => match rawline::event_type(line) {
                Raw::Plain(t) => self.route_for(&execs, &t),
                _ => {
                    self.execs = execs;
                    return Verdict::Keep;
                }
            },
        };
        // Taken out while the line is checked, put back after.
        let names = std::mem::take(&mut self.route_names);
        let event_type: &str = &names[at];
        let is_process = matches!(event_type, "ProcessRollup2" | "SyntheticProcessRollup2");
        // The event the walks build, made when the first one starts.
        let mut ev: Option<Event> = None;
        // Per key index: whether its value is known (asked once per line).
        for i in self.touched.drain(..) {
            self.asked[i] = 0;
        }
        let mut u_escape: Option<bool> = None;
        // The values read from the line, each searched for once.
        let mut fetched = Fetched::new(line);
        let lineage = self.lineage || self.derive;
        // Lineage fields the line lacks are first unknown, then asked of the tree, or (a
        // deferring probe without the tree) the line is deferred.
        let two_phase = tree.is_some() || self.defer;
        let mut pass = false;
        let mut deferred = false;
        // The rules that pass, and (without the tree) those that may, by bit.
        let (mut passing, mut maybe) = (0u64, 0u64);
        let routes = std::mem::take(&mut self.routes);
        let (tree_keys, extra_keys) = (self.tree_keys, self.extra_keys);
        let lv = tree.map(|tree| LineageView { tree, tree_keys: &tree_keys, extra_keys: &extra_keys, event_type });
        // The routes a group has ended (the value of its key fails each of their tests on it).
        let mut ended = 0u64;
        for gr in self.groups[at].iter() {
            if gr.routes & !ended == 0 {
                continue;
            }
            let i = fetched.index(&self.keys, gr.key);
            let Text::Str(text) = fetched.got[i].text else { continue };
            let memo = &mut self.memos[gr.key];
            let Some(e) = *fetched.got[i].entry.get_or_insert_with(|| memo.entry(text)) else { continue };
            let f = &mut fetched;
            let value = move || {
                let f = f;
                match f.value(i) {
                    Raw::Plain(v) => Some(&**v),
                    _ => None,
                }
            };
            // Only the slots of the routes not ended yet are asked.
            let failed = memo.fails(e, gr.open_slots(ended), value);
            ended |= gr.ended_by(failed);
        }
        for (i, Route { rule: r, guard }) in routes[at].iter().enumerate() {
            if ended & bit(i) != 0 {
                continue;
            }
            if let Some(g) = guard {
                let (keys, memos) = (&self.keys, &mut self.memos);
                if Self::guard_fails(keys, memos, g, lineage, &mut u_escape, &mut fetched, lv.as_ref()) {
                    continue;
                }
            }
            // Dropped before on these values.
            if let Some(lk) = self.lazy_keys.get(&(at, *r)) {
                let lk = *lk;
                if let Some(sig) = lazy_signature(&lk, &self.keys, &mut self.memos, &mut fetched) {
                    if self.lazy_drops.contains(&(at, *r, lk, sig)) {
                        continue;
                    }
                }
            }
            let ex = &execs[*r].0;
            let ev = ev.get_or_insert_with(|| {
                let mut ev = Event::with_capacity(4);
                ev.push("#event_simpleName", Value::Str(event_type.to_string()));
                ev
            });
            // First without the tree (the lineage fields the line lacks are unknown); only a
            // query that may still pass then is tried again with them (asking the tree costs
            // more than the line's own fields, and most lines fail on those).
            let mut wanted_tree = false;
            let mut rule_pass = false;
            // The keys the first pass asks for (`LAZY_KEYS + 1`: too many to remember).
            let mut asked_keys: LazyKeys = ([0; LAZY_KEYS], 0);
            for use_tree in [false, true] {
                if use_tree && (!wanted_tree || tree.is_none()) {
                    break;
                }
                let mut known = |name: &str, ev: &mut Event| -> bool {
                    if name.starts_with(['@', '#']) {
                        return name == "#event_simpleName";
                    }
                    let i = self.key(name);
                    if !use_tree
                        && asked_keys.1 <= LAZY_KEYS
                        && !asked_keys.0[..asked_keys.1.min(LAZY_KEYS)].contains(&i)
                    {
                        if let Some(slot) = asked_keys.0.get_mut(asked_keys.1) {
                            *slot = i;
                        }
                        asked_keys.1 += 1;
                    }
                    if self.asked.len() <= i {
                        self.asked.resize(i + 1, 0);
                    }
                    match self.asked[i] {
                        1 => return true,
                        2 => return false,
                        _ => {}
                    }
                    let k = match fetched.get(&self.keys, i).clone() {
                        Raw::Plain(v) => {
                            ev.push(name.to_string(), Value::Str(v.into_owned()));
                            true
                        }
                        Raw::Absent if *u_escape.get_or_insert_with(|| rawline::has_u_escape(line)) => false,
                        Raw::Absent if !derived(name, lineage) => true,
                        // A lineage field the line lacks: unknown, then (asked again) what
                        // the tree would fill, if it can tell.
                        Raw::Absent if two_phase && !use_tree && ENRICHED_FIELDS.contains(&name) => {
                            wanted_tree = true;
                            return false;
                        }
                        Raw::Absent => match lv.as_ref().map(|lv| lv.value(&self.keys, &mut fetched, name)) {
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
                if !ex.may_pass_lazy(ev, &mut known) {
                    // Told on the line's own values (each a string the memo remembers): the
                    // same values drop the next line too.
                    if self.shortcuts && !use_tree && asked_keys.1 <= LAZY_KEYS {
                        if let Some(sig) = lazy_signature(&asked_keys, &self.keys, &mut self.memos, &mut fetched) {
                            if self.lazy_drops.len() >= LAZY_DROPS {
                                self.lazy_drops.clear();
                            }
                            self.lazy_keys.insert((at, *r), asked_keys);
                            self.lazy_drops.insert((at, *r, asked_keys, sig));
                        }
                    }
                    break;
                }
                if use_tree || !wanted_tree {
                    rule_pass = true;
                    break;
                }
                // It may pass, if the lineage fields the line lacks say so.
                if tree.is_none() {
                    deferred = true;
                    maybe |= bit(*r);
                }
            }
            if rule_pass {
                pass = true;
                passing |= bit(*r);
                // With hints, every rule is asked (the line's reader says which may pass).
                if !self.hints {
                    break;
                }
            }
        }
        if pass && self.hints {
            self.hint = Some(passing | maybe);
        }
        self.execs = execs;
        self.routes = routes;
        self.route_names = names;
        if pass {
            return Verdict::Keep;
        }
        if deferred {
            return Verdict::Defer;
        }
        if !self.lineage || !is_process {
            return Verdict::Drop;
        }
        // The values as the line spells them: the tree decodes only what it has not seen.
        let mut vals: [Option<&'l [u8]>; TREE_FIELDS.len()] = Default::default();
        let (mut seen_aid, mut named_parent) = (false, false);
        for (t, name) in TREE_FIELDS.into_iter().enumerate() {
            // The tree names a host by `aid`, else `ComputerName`.
            if name == "ComputerName" && seen_aid {
                continue;
            }
            let parents = matches!(name, "ParentProcessId" | "ParentProcessGuid" | "ParentBaseFileName");
            if parents && (!self.parents || named_parent) {
                continue;
            }
            let at = fetched.index(&self.keys, self.tree_keys[t]);
            match fetched.got[at].text {
                Text::Str(v) => {
                    seen_aid |= name == "aid";
                    named_parent |= name == "ParentBaseFileName";
                    vals[t] = Some(v);
                }
                Text::Absent if *u_escape.get_or_insert_with(|| rawline::has_u_escape(line)) => return Verdict::Keep,
                Text::Absent => {}
                // Parse it: the tree must see the same values as from a parsed line.
                Text::Unsure => return Verdict::Keep,
            }
        }
        let [aid, computer, target, image, pname, ppid, pguid] = vals;
        let Some(host) = aid.or(computer) else { return Verdict::Drop };
        Verdict::Lineage(SpelledProc { host, parent: pguid.or(ppid), target, image, parent_name: pname })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ir::Matcher;

    fn exec(q: &str) -> Executor {
        let (query, diags) = crate::lang::parse(q, crate::lang::ParseOptions { lenient: false });
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let ir = crate::plan::compile::compile(&query, &crate::plan::PlanOptions::default()).expect("compiles");
        Executor::new(&ir, crate::eval::Ctx::default()).expect("executor")
    }

    /// A probe over the rules with its shortcuts, and one without (the reference).
    fn with_and_without_shortcuts(rules: &[&str]) -> (Probe, Probe) {
        let probe = |shortcuts: bool| {
            let mut p = Probe::new(rules.iter().map(|q| (exec(q), None)).collect(), false, false, false);
            p.shortcuts = shortcuts;
            p
        };
        (probe(true), probe(false))
    }

    fn ask(m: &mut Memo, e: Option<u32>, t: &Test, v: &str) -> Option<bool> {
        m.answer(e, t, || Some(v))
    }

    fn rx(p: &str) -> Matcher {
        Matcher::Regex(std::sync::Arc::new(crate::plan::rx::compile(p, "i", p).expect("regex")))
    }

    /// A memo that rules patterns out by their literals answers as the patterns do, for values
    /// it remembers and values it does not, ASCII or not (Unicode case folding: `ſ` is `s`).
    #[test]
    fn literals_answer_as_the_patterns_do() {
        let mut m = Memo::default();
        let pats = [rx(r"\b(esxcli|localcli)\b"), rx(r"termsrv\.dll"), rx(r"^(cmd|sh)\.exe$"), rx(r"^a")];
        let tests: Vec<Test> = pats.iter().map(|p| Test { key: 0, slot: m.slot(p), m: p.clone() }).collect();
        let values = [
            "esxcli software vib install",
            "C:\\x\\LOCALCLI.exe",
            "copy TermSrv.DLL c:\\temp",
            "termsrv dll",
            "CMD.EXE",
            "\u{17f}h.exe",
            "\u{212a}\u{17f}h.exe",
            "Jos\u{e9} esxcli",
            "Jos\u{e9} \u{212a}",
            "\u{e9}cmd.exe",
            "sh.exe x",
            "abc",
            "",
        ];
        for round in 0..2 {
            for v in values {
                let e = m.entry(v.as_bytes());
                for t in &tests {
                    let want = crate::eval::filter::matcher_answer(&t.m, v);
                    assert_eq!(ask(&mut m, e, t, v), want, "{v:?} {:?} round {round}", t.m);
                    assert_eq!(ask(&mut m, None, t, v), want, "{v:?} {:?} unremembered", t.m);
                }
            }
        }
        // All the slots at once, for a group: the ones ruled out by the literals in one scan,
        // the others asked; on a new entry and on one asked before.
        let all = (1u64 << tests.len()) - 1;
        let failing = |v: &str| {
            tests
                .iter()
                .filter(|t| crate::eval::filter::matcher_answer(&t.m, v) == Some(false))
                .fold(0, |a, t| a | 1 << t.slot)
        };
        let mut fresh = Memo::default();
        for t in &tests {
            fresh.slot(&t.m);
        }
        for round in 0..2 {
            for v in values {
                let e = fresh.entry(v.as_bytes()).expect("an entry");
                assert_eq!(fresh.fails(e, all, || Some(v)), failing(v), "{v:?} round {round}");
            }
        }
        assert!(matches!(m.literals, Some(Some(_))), "the patterns' literals are scanned for");
    }

    #[test]
    fn tests_are_ordered_by_how_many_alternatives_test_their_key() {
        let rules = [
            "#event_simpleName=ProcessRollup2 | event_platform=Win | ParentBaseFileName=/^w3wp\\.exe$/i | count()",
            "#event_simpleName=ProcessRollup2 | ParentBaseFileName=/^sqlservr\\.exe$/i | count()",
            "#event_simpleName=ProcessRollup2 | UserName=x | ImageFileName=/inetpub/i | count()",
            "#event_simpleName=ProcessRollup2 | GrandParentBaseFileName=/^w3wp/i | CommandLine=/x/ | count()",
        ];
        let names = |p: &Probe| -> Vec<Vec<String>> {
            let routes = p.route(&p.execs, "ProcessRollup2");
            routes
                .iter()
                .map(|r| {
                    r.guard.as_ref().expect("a guard")[0].iter().map(|t| p.keys[t.key].name().to_string()).collect()
                })
                .collect()
        };
        let execs = || rules.iter().map(|q| (exec(q), None)).collect::<Vec<_>>();
        // The parent's name, tested by two rules, before the platform; a lineage field last.
        let p = Probe::new(execs(), false, false, false);
        assert_eq!(
            names(&p),
            [
                vec!["ParentBaseFileName", "event_platform"],
                vec!["ParentBaseFileName"],
                vec!["UserName", "ImageFileName"],
                vec!["CommandLine", "GrandParentBaseFileName"],
            ]
        );
        // With the tree, the fields it reads from a process event come first.
        let p = Probe::new(execs(), true, true, true);
        assert_eq!(names(&p)[2], ["ImageFileName", "UserName"]);
    }

    #[test]
    fn routes_answer_the_event_type_tests_once() {
        let q = "case { #event_simpleName=ProcessRollup2 CommandLine=/whoami/i ; \
                 #event_simpleName=/^(PowerShellScriptBlock|ScriptControlScanInfo)$/ ScriptContent=/whoami/i ; \
                 #event_simpleName=DnsRequest ; } | count()";
        let mut p = Probe::new(vec![(exec(q), None)], false, false, false);
        let routes = p.route(&p.execs, "ProcessRollup2");
        // Only the first branch is left, without its event-type test.
        assert_eq!(routes.len(), 1);
        let g = routes[0].guard.as_ref().expect("a guard");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].len(), 1);
        assert_eq!(p.keys[g[0][0].key].name(), "CommandLine");
        // A type whose branch tests nothing else: the guard says nothing.
        let routes = p.route(&p.execs, "DnsRequest");
        assert!(routes.len() == 1 && routes[0].guard.is_none());
        // A type no branch takes: not routed.
        assert!(p.route(&p.execs, "NetworkConnectIP4").is_empty());
        // And the lines: dropped or kept as the branches say.
        let line = |t: &str, field: &str, v: &str| format!(r#"{{"event_simpleName":"{t}","{field}":"{v}"}}"#);
        let check = |p: &mut Probe, l: String| matches!(p.check(l.as_bytes(), None, None), Verdict::Keep);
        assert!(check(&mut p, line("ProcessRollup2", "CommandLine", "cmd /c WHOAMI")));
        assert!(!check(&mut p, line("ProcessRollup2", "CommandLine", "cmd /c dir")));
        assert!(!check(&mut p, line("ProcessRollup2", "ScriptContent", "whoami")));
        assert!(check(&mut p, line("ScriptControlScanInfo", "ScriptContent", "whoami")));
        assert!(check(&mut p, line("DnsRequest", "DomainName", "x")));
        assert!(!check(&mut p, line("NetworkConnectIP4", "CommandLine", "whoami")));
        // Routes are remembered for a few thousand event types, then worked out again.
        for i in 0..5000 {
            assert!(!check(&mut p, line(&format!("T{i}"), "CommandLine", "whoami")));
            assert!(p.routes.len() <= 4096 && p.route_of.len() == p.routes.len());
        }
        assert!(check(&mut p, line("ProcessRollup2", "CommandLine", "cmd /c WHOAMI")));
        assert!(!check(&mut p, line("ProcessRollup2", "CommandLine", "cmd /c dir")));
    }

    /// The seed's branches name their event types with OR (`#event_simpleName=A OR
    /// #event_simpleName=B | …`): one test of the type, answered once per type, so a process
    /// line is never searched for the file branch's `TargetFileName` (a search for a key the
    /// line lacks reads all of it).
    #[test]
    fn an_or_of_event_types_is_one_test_of_the_type() {
        let q = "case { #event_simpleName=ProcessRollup2 | ParentBaseFileName=/^w3wp\\.exe$/i ; \
                 #event_simpleName=NewScriptWritten OR (#event_simpleName=PeFileWritten OR #event_simpleName=\"a.b\") \
                 | TargetFileName=/\\.aspx$/i ; } | count()";
        let p = Probe::new(vec![(exec(q), None)], false, false, false);
        let names = |t: &str| -> Vec<Vec<&str>> {
            let routes = p.route(&p.execs, t);
            routes
                .iter()
                .flat_map(|r| r.guard.as_ref().expect("a guard"))
                .map(|alt| alt.iter().map(|t| p.keys[t.key].name()).collect())
                .collect()
        };
        assert_eq!(names("ProcessRollup2"), [["ParentBaseFileName"]]);
        assert_eq!(names("NewScriptWritten"), [["TargetFileName"]]);
        assert_eq!(names("PeFileWritten"), [["TargetFileName"]]);
        assert_eq!(names("a.b"), [["TargetFileName"]]);
        // Exact values: not a part of a name, nor a regex's reading of one.
        assert!(names("NewScriptWrittenV2").is_empty());
        assert!(names("axb").is_empty());
        // in() of exact values is the same test; on another field too.
        let q = "case { in(#event_simpleName, values=[ProcessRollup2, SyntheticProcessRollup2]) \
                 | in(FileName, values=[cmd.exe, \"a*\"]) | in(ParentBaseFileName, values=[w3wp.exe]) ; \
                 #event_simpleName=NewScriptWritten OR in(#event_simpleName, values=[PeFileWritten]) \
                 | TargetFileName=/\\.aspx$/i ; } | count()";
        let p = Probe::new(vec![(exec(q), None)], false, false, false);
        let routes = p.route(&p.execs, "SyntheticProcessRollup2");
        let g = routes[0].guard.as_ref().expect("a guard");
        assert_eq!(g.len(), 1);
        // (a value with `*` makes in() say nothing)
        assert_eq!(g[0].iter().map(|t| p.keys[t.key].name()).collect::<Vec<_>>(), ["ParentBaseFileName"]);
        let m = &g[0][0].m;
        assert_eq!(crate::eval::filter::matcher_answer(m, "w3wp.exe"), Some(true));
        assert_eq!(crate::eval::filter::matcher_answer(m, "W3WP.EXE"), Some(false));
        assert_eq!(crate::eval::filter::matcher_answer(m, "w3wp.exe2"), Some(false));
        assert_eq!(p.route(&p.execs, "PeFileWritten").len(), 1);
        assert!(p.route(&p.execs, "ProcessRollup2V2").is_empty());
        // An OR that is not of one field's exact values says nothing about the type.
        for q in [
            "case { #event_simpleName=A OR FileName=x | TargetFileName=y ; #event_simpleName=B | CommandLine=z ; }",
            "case { #event_simpleName=A OR #event_simpleName=/B/ | TargetFileName=y ; #event_simpleName=B | CommandLine=z ; }",
        ] {
            let p = Probe::new(vec![(exec(q), None)], false, false, false);
            let routes = p.route(&p.execs, "B");
            let g = routes[0].guard.as_ref().expect("a guard");
            let keys: Vec<&str> = g.iter().flat_map(|a| a.iter().map(|t| p.keys[t.key].name())).collect();
            assert_eq!(keys, ["TargetFileName", "CommandLine"], "{q}");
        }
    }

    #[test]
    fn fields_lineage_fills_are_tested_last() {
        let q = "#event_simpleName=ProcessRollup2 | GrandParentBaseFileName=/^w3wp\\.exe$/i \
                 | ParentBaseFileName=/^cmd\\.exe$/i | FileName=whoami.exe";
        let p = Probe::new(vec![(exec(q), None)], true, true, true);
        let routes = p.route(&p.execs, "ProcessRollup2");
        let names: Vec<&str> =
            routes[0].guard.as_ref().expect("a guard")[0].iter().map(|t| p.keys[t.key].name()).collect();
        assert_eq!(names.last(), Some(&"GrandParentBaseFileName"), "{names:?}");
        assert_eq!(names.len(), 3);
    }

    #[test]
    fn filters_after_a_case_join_its_guard_unless_a_branch_writes_their_fields() {
        let names = |q: &str| -> Vec<Vec<String>> {
            let p = Probe::new(vec![(exec(q), None)], false, false, false);
            let routes = p.route(&p.execs, "ProcessRollup2");
            let g = routes[0].guard.as_ref().expect("a guard");
            g.iter().map(|alt| alt.iter().map(|t| p.keys[t.key].name().to_string()).collect()).collect()
        };
        let q = "case { ParentBaseFileName=sqlservr.exe | Kind := \"child\" ; \
                 GrandParentBaseFileName=sqlservr.exe ParentBaseFileName=cmd.exe | Kind := \"grandchild\" ; } \
                 | FileName=/^(cmd|whoami)\\.exe$/i | Kind=child";
        assert_eq!(
            names(q),
            [vec!["ParentBaseFileName", "FileName"], vec!["ParentBaseFileName", "FileName", "GrandParentBaseFileName"]]
        );
        // A branch that writes the field: the filter tests what it wrote, not the event.
        let q =
            "case { ParentBaseFileName=a.exe | FileName := \"x\" ; ParentBaseFileName=b.exe ; } | FileName=whoami.exe";
        assert_eq!(names(q), [vec!["ParentBaseFileName"], vec!["ParentBaseFileName"]]);
        // A step whose writes cannot be named ends it too.
        let q =
            "case { ParentBaseFileName=a.exe | regex(\"(?<FileName>.+)\", field=CommandLine) ; } | FileName=whoami.exe";
        assert_eq!(names(q), [vec!["ParentBaseFileName"]]);
    }

    /// A `test()` whose fields can be named is decided on the line, as the query would decide
    /// it (a web server starting a copy of itself is the benchmark's commonest such line); one
    /// that may read fields it cannot name keeps the line.
    #[test]
    fn a_test_of_named_fields_is_decided_on_the_line() {
        let line = |parent: &str, file: Option<&str>| {
            let file = file.map(|f| format!(r#","FileName":"{f}""#)).unwrap_or_default();
            format!(r#"{{"event_simpleName":"ProcessRollup2","ParentBaseFileName":"{parent}"{file}}}"#)
        };
        let q = "#event_simpleName=ProcessRollup2 | ParentBaseFileName=/^(nginx|apache2)$/i \
                 | not test(lower(FileName) == lower(ParentBaseFileName)) | count()";
        let mut p = Probe::new(vec![(exec(q), None)], false, false, false);
        let mut keep = |l: String| matches!(p.check(l.as_bytes(), None, None), Verdict::Keep);
        assert!(!keep(line("nginx", Some("NGINX"))));
        assert!(keep(line("nginx", Some("frpc"))));
        assert!(!keep(line("sshd", Some("frpc"))));
        // A field normalisation may derive from the image is not known when absent.
        assert!(keep(line("nginx", None)));
        // Each answer is what the query gives the line parsed whole.
        for (parent, file) in [("nginx", Some("NGINX")), ("nginx", Some("frpc")), ("apache2", Some("apache2"))] {
            let mut ex = exec(q);
            let opts = crate::read::json::LineOptions::default();
            let ev = crate::read::json::parse_line(line(parent, file).as_bytes(), &opts).expect("parses");
            let rows = ex.run_all([ev]).expect("runs");
            assert_eq!(rows[0].get_str("_count").as_deref(), Some(if file == Some("frpc") { "1" } else { "0" }));
        }
        // `now()` is not one of the functions whose reads are named (`plan::project`).
        let q = "#event_simpleName=ProcessRollup2 | test(now() < 0) | count()";
        let mut p = Probe::new(vec![(exec(q), None)], false, false, false);
        assert!(matches!(p.check(line("nginx", Some("nginx")).as_bytes(), None, None), Verdict::Keep));
    }

    /// Routes ended by their group's key give the verdicts and hints that walking each guard
    /// gives: on values that fail the group, pass one of its tests, or cannot be read (absent,
    /// escaped, not a string), first seen and remembered.
    #[test]
    fn grouped_routes_end_as_their_guards_do() {
        let rules = [
            "#event_simpleName=ProcessRollup2 | CommandLine=/\\bwhoami\\b/i | count()",
            "#event_simpleName=ProcessRollup2 | CommandLine=/esxcli|localcli/i | count()",
            "#event_simpleName=ProcessRollup2 | case { CommandLine=/sp_configure/i FileName=/^sqlcmd\\.exe$/i ; \
             ParentBaseFileName=/^sqlservr\\.exe$/i CommandLine=/xp_cmdshell/i ; } | count()",
            "#event_simpleName=ProcessRollup2 | ParentBaseFileName=/^w3wp\\.exe$/i | FileName=/^cmd\\.exe$/i | count()",
            "#event_simpleName=ProcessRollup2 | ParentBaseFileName=/^(w3wp|httpd)\\.exe$/i | event_platform=Win | count()",
            "#event_simpleName=ProcessRollup2 | case { ParentBaseFileName=/^nginx$/ ; ImageFileName=/wwwroot/i ; } | count()",
            "#event_simpleName=NewScriptWritten | TargetFileName=/\\.aspx$/i | count()",
            // Dropped by its leading filters past the guard: remembered by the values they read.
            "#event_simpleName=ProcessRollup2 | ParentBaseFileName=/^(nginx|apache2)$/i \
             | not test(lower(FileName) == lower(ParentBaseFileName)) | count()",
        ];
        let (mut grouped, mut walked) = with_and_without_shortcuts(&rules);
        let execs = std::mem::take(&mut grouped.execs);
        let at = grouped.route_for(&execs, "ProcessRollup2");
        grouped.execs = execs;
        let keys: Vec<&str> = grouped.groups[at].iter().map(|g| grouped.keys[g.key].name()).collect();
        assert_eq!(keys, ["CommandLine", "ParentBaseFileName"], "the largest group first");
        let cmds = ["cmd /c whoami", "esxcli vib list", "sp_configure", "xp_cmdshell 1", "dir", "whoamix", r"n\u0065t"];
        let parents = ["w3wp.exe", "HTTPD.EXE", "nginx", "sqlservr.exe", "services.exe"];
        let mut lines = Vec::new();
        for (i, c) in cmds.iter().enumerate() {
            for (j, p) in parents.iter().enumerate() {
                let file = ["cmd.exe", "sqlcmd.exe", "net.exe"][(i + j) % 3];
                let platform = if j % 2 == 0 { r#","event_platform":"Win""# } else { "" };
                lines.push(format!(
                    r#"{{"event_simpleName":"ProcessRollup2","CommandLine":"{c}","ParentBaseFileName":"{p}","FileName":"{file}"{platform}}}"#
                ));
            }
        }
        lines.push(r#"{"event_simpleName":"ProcessRollup2","FileName":"cmd.exe"}"#.to_string());
        lines.push(r#"{"event_simpleName":"ProcessRollup2","CommandLine":7,"ParentBaseFileName":null}"#.to_string());
        lines.push(
            r#"{"event_simpleName":"ProcessRollup2","CommandLine":"x","ImageFileName":"C:\\wwwroot\\a.exe"}"#
                .to_string(),
        );
        lines.push(r#"{"event_simpleName":"NewScriptWritten","TargetFileName":"C:\\x.aspx"}"#.to_string());
        // A server starting a copy of itself (dropped), and another program (kept); spelled with
        // an escape, or without the file name (normalisation may derive it).
        for file in ["nginx", "NGINX", "frpc", r"ngin\u0078", r"ngin\\x"] {
            lines.push(format!(
                r#"{{"event_simpleName":"ProcessRollup2","ParentBaseFileName":"nginx","FileName":"{file}"}}"#
            ));
        }
        lines.push(r#"{"event_simpleName":"ProcessRollup2","ParentBaseFileName":"nginx"}"#.to_string());
        let mut ended = 0;
        for round in 0..2 {
            for l in &lines {
                let verdict =
                    |p: &mut Probe| (matches!(p.check(l.as_bytes(), None, None), Verdict::Keep), p.rules_hint());
                let want = verdict(&mut walked);
                assert_eq!(verdict(&mut grouped), want, "round {round}: {l}");
                ended += usize::from(!want.0);
            }
        }
        assert!(ended > 20, "most lines are dropped, as groups drop them: {ended}");
        assert!(!grouped.lazy_drops.is_empty(), "drops past the guard are remembered");
        // Past a start over of the memos (new values take their entries' numbers), a drop
        // remembered before is not taken for another value.
        for i in 0..(Memo::ENTRIES + 100) {
            for (parent, file) in
                [("nginx".to_string(), format!("x{i}")), ("apache2".to_string(), "apache2".to_string())]
            {
                let l = format!(
                    r#"{{"event_simpleName":"ProcessRollup2","ParentBaseFileName":"{parent}","FileName":"{file}"}}"#
                );
                let verdict = |p: &mut Probe| matches!(p.check(l.as_bytes(), None, None), Verdict::Keep);
                assert_eq!(verdict(&mut grouped), verdict(&mut walked), "{l}");
            }
        }
        for l in &lines {
            let verdict = |p: &mut Probe| (matches!(p.check(l.as_bytes(), None, None), Verdict::Keep), p.rules_hint());
            assert_eq!(verdict(&mut grouped), verdict(&mut walked), "after a start over: {l}");
        }
    }

    /// A drop remembered by the values a query's leading filters read is not taken for other
    /// values once a memo starts over and gives their entries' numbers to new values.
    #[test]
    fn a_remembered_drop_does_not_outlive_a_memo_start_over() {
        let rules = [
            "#event_simpleName=ProcessRollup2 | FileName=/^sqlcmd\\.exe$/i | count()",
            "#event_simpleName=ProcessRollup2 | ParentBaseFileName=/^nginx$/i \
             | not test(lower(FileName) == lower(ParentBaseFileName)) | count()",
        ];
        let (mut fast, mut walked) = with_and_without_shortcuts(&rules);
        let line = |file: &str| {
            format!(r#"{{"event_simpleName":"ProcessRollup2","ParentBaseFileName":"nginx","FileName":"{file}"}}"#)
        };
        let mut drops = 0;
        for round in 0..3 {
            for i in 0..(Memo::ENTRIES + 50) {
                // New values, each kept; `nginx` (dropped) now and then, so that after a start
                // over its old entry's number goes to another value.
                let mut files = vec![format!("f{round}-{i}")];
                if i % 5 == 4 {
                    files.push("nginx".to_string());
                }
                for file in files {
                    let l = line(&file);
                    let keep = |p: &mut Probe| matches!(p.check(l.as_bytes(), None, None), Verdict::Keep);
                    let want = keep(&mut walked);
                    assert_eq!(keep(&mut fast), want, "round {round}: {l}");
                    drops += usize::from(!want);
                }
            }
        }
        assert_eq!(drops, 3 * ((Memo::ENTRIES + 50) / 5));
        assert!(fast.memos.iter().any(|m| m.generation > 1), "the memo started over");
        assert!(!fast.lazy_drops.is_empty());
    }

    /// A query may ask for other keys on other values (`case` branches): a remembered drop is
    /// found by the keys as well as by their values' entry numbers, which two memos share.
    #[test]
    fn a_remembered_drop_is_found_by_its_keys_too() {
        let rules = [
            // Gives `A` a memo.
            "#event_simpleName=ProcessRollup2 | A=/^zzz$/ | count()",
            "#event_simpleName=ProcessRollup2 | case { test(length(A) > 3) | B=/^x$/ ; \
             test(length(A) <= 3) | C=/^x$/ } | count()",
        ];
        let (mut fast, mut walked) = with_and_without_shortcuts(&rules);
        // Dropped after asking for A and C; dropped after asking for A and B; kept.
        for (a, b, c) in [("ab", "x", "q"), ("abcd", "q", "x"), ("ab", "x", "x")] {
            let l = format!(r#"{{"event_simpleName":"ProcessRollup2","A":"{a}","B":"{b}","C":"{c}"}}"#);
            let keep = |p: &mut Probe| matches!(p.check(l.as_bytes(), None, None), Verdict::Keep);
            assert_eq!(keep(&mut fast), keep(&mut walked), "{l}");
        }
    }

    /// The pack's own rules over generated lines, and the same lines with a parent or a file
    /// name swapped for one the rules look for: the shortcuts (route groups, slots ruled out
    /// in bulk, remembered drops) give the verdicts and hints of the plain walk.
    #[test]
    fn the_packs_rules_get_the_plain_walks_verdicts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/t1505");
        let pack = crate::pack::load(&dir).expect("the pack loads");
        let execs = || -> Vec<(Executor, Option<EventTypes>)> {
            pack.rules
                .iter()
                .map(|r| {
                    let (ex, plan, _) = crate::cli::pack::compile_text(&r.id, &r.query, false).expect("compiles");
                    (ex, plan.event_names.as_deref().and_then(EventTypes::new))
                })
                .collect()
        };
        let (mut fast, mut walked) =
            (Probe::new(execs(), false, false, false), Probe::new(execs(), false, false, false));
        walked.shortcuts = false;
        let mut data = Vec::new();
        let opts = crate::gen::GenOptions { events: 12_000, seed: 7, hosts: 16 };
        crate::gen::generate(&opts, &mut data).expect("generates");
        let text = String::from_utf8(data).expect("UTF-8");
        let (mut lines, mut dropped) = (0, 0);
        for line in text.lines() {
            let swaps = [
                ("\"ParentBaseFileName\":\"", "\"ParentBaseFileName\":\"w3wp.exe\",\"Was\":\""),
                ("\"ParentBaseFileName\":\"", "\"ParentBaseFileName\":\"apache2\",\"Was\":\""),
                ("\"FileName\":\"", "\"FileName\":\"cmd.exe\",\"Was\":\""),
            ];
            let variants = std::iter::once(line.to_string()).chain(swaps.iter().map(|(a, b)| line.replacen(a, b, 1)));
            for l in variants {
                let verdict = |p: &mut Probe| {
                    let v = p.check(l.as_bytes(), None, None);
                    (matches!(v, Verdict::Keep), matches!(v, Verdict::Drop), p.rules_hint())
                };
                let want = verdict(&mut walked);
                assert_eq!(verdict(&mut fast), want, "{l}");
                lines += 1;
                dropped += usize::from(want.1);
            }
        }
        assert!(dropped * 2 > lines, "most lines are dropped: {dropped} of {lines}");
        assert!(!fast.lazy_drops.is_empty(), "drops past the guards are remembered");
    }

    #[test]
    fn a_kept_line_says_which_rules_may_pass() {
        let rules = [
            "#event_simpleName=ProcessRollup2 | FileName=/^cmd\\.exe$/i | count()",
            "#event_simpleName=ProcessRollup2 | CommandLine=/whoami/i | count()",
            "#event_simpleName=NewScriptWritten | count()",
            "FileName=/cmd/ | count()",
        ];
        let execs = rules.iter().map(|q| (exec(q), None)).collect();
        let mut p = Probe::new(execs, false, false, false);
        let mut check = |l: &str| (matches!(p.check(l.as_bytes(), None, None), Verdict::Keep), p.rules_hint());
        let pr2 = |f: &str, c: &str| {
            format!(r#"{{"event_simpleName":"ProcessRollup2","FileName":"{f}","CommandLine":"{c}"}}"#)
        };
        assert_eq!(check(&pr2("cmd.exe", "cmd /c whoami")), (true, Some(0b1011)));
        assert_eq!(check(&pr2("CMD.EXE", "cmd /c whoami")), (true, Some(0b0011)));
        assert_eq!(check(&pr2("net.exe", "net user")), (false, None));
        assert_eq!(check(&pr2("net.exe", "whoami")), (true, Some(0b0010)));
        // A line the probe cannot read: kept, every rule may pass.
        assert_eq!(check(r#"{"event_simpleName":"ProcessRollup2","x":[1]}"#), (true, None));
        // One query: no hint.
        let mut one = Probe::new(vec![(exec(rules[0]), None)], false, false, false);
        assert!(matches!(one.check(pr2("cmd.exe", "").as_bytes(), None, None), Verdict::Keep));
        assert_eq!(one.rules_hint(), None);
    }

    #[test]
    fn an_event_read_whole_says_which_rules_may_pass() {
        let rules = [
            "#event_simpleName=ProcessRollup2 | FileName=/^cmd\\.exe$/i | count()",
            "#event_simpleName=ProcessRollup2 | CommandLine=/whoami/i | count()",
            "#event_simpleName=NewScriptWritten | count()",
            "FileName=/cmd/ | count()",
        ];
        let mut p = Probe::new(rules.iter().map(|q| (exec(q), None)).collect(), false, false, false);
        let ev = |fields: &[(&str, Value)]| {
            let mut e = Event::new();
            for (k, v) in fields {
                e.set(k, v.clone());
            }
            e
        };
        let s = |v: &str| Value::Str(v.to_string());
        let pr2 = |f: &str, c: &str| {
            ev(&[("#event_simpleName", s("ProcessRollup2")), ("FileName", s(f)), ("CommandLine", s(c))])
        };
        // The same answers as for the lines of a_kept_line_says_which_rules_may_pass, asked twice
        // (the second time from the memos).
        for _ in 0..2 {
            assert_eq!(p.event_hint(&pr2("cmd.exe", "cmd /c whoami")), Some(0b1011));
            assert_eq!(p.event_hint(&pr2("CMD.EXE", "cmd /c whoami")), Some(0b0011));
            assert_eq!(p.event_hint(&pr2("net.exe", "net user")), Some(0));
            assert_eq!(p.event_hint(&pr2("net.exe", "whoami")), Some(0b0010));
        }
        // A field the event lacks fails its tests; one that is not a string leaves it to the rule.
        let no_cmd = ev(&[("#event_simpleName", s("ProcessRollup2")), ("FileName", s("cmd.exe"))]);
        assert_eq!(p.event_hint(&no_cmd), Some(0b1001));
        // Rules 0 and 3 test FileName in every alternative (a group): an event without it ends
        // both at once; one whose value fails one of them ends that one only.
        let no_file = ev(&[("#event_simpleName", s("ProcessRollup2")), ("CommandLine", s("whoami"))]);
        assert_eq!(p.event_hint(&no_file), Some(0b0010));
        assert_eq!(p.event_hint(&pr2("xcmd", "x")), Some(0b1000));
        let odd =
            ev(&[("#event_simpleName", s("ProcessRollup2")), ("FileName", s("x")), ("CommandLine", Value::Num(1.0))]);
        assert_eq!(p.event_hint(&odd), Some(0b0010));
        assert_eq!(p.event_hint(&ev(&[("#event_simpleName", s("NewScriptWritten"))])), Some(0b0100));
        // A route whose alternatives test the key twice ends only when the value fails both.
        let two = [
            "#event_simpleName=ProcessRollup2 | case { FileName=/^cmd\\.exe$/ | x := 1 ; FileName=/^net\\.exe$/ | x := 2 } | count()",
            "#event_simpleName=ProcessRollup2 | FileName=/^net\\.exe$/ | count()",
        ];
        let mut q = Probe::new(two.iter().map(|q| (exec(q), None)).collect(), false, false, false);
        assert_eq!(q.groups.len(), 0);
        for (file, hint) in [("net.exe", 0b11), ("cmd.exe", 0b01), ("sh", 0b00)] {
            assert_eq!(q.event_hint(&pr2(file, "")), Some(hint), "{file}");
        }
        assert!(q.groups.iter().any(|g| g.iter().any(|gr| gr.members.len() == 2)), "a group of both rules");
        // Without a plain event type, or for one query: nothing said.
        assert_eq!(p.event_hint(&ev(&[("FileName", s("cmd.exe"))])), None);
        let mut one = Probe::new(vec![(exec(rules[0]), None)], false, false, false);
        assert_eq!(one.event_hint(&pr2("cmd.exe", "")), None);
    }

    #[test]
    fn the_memo_gives_each_pattern_its_own_answer_per_value() {
        let mut m = Memo::default();
        let t = |m: &mut Memo, p: Matcher| Test { key: 0, slot: m.slot(&p), m: p };
        let web = t(&mut m, rx("^w3wp\\.exe$"));
        let same = t(&mut m, rx("^w3wp\\.exe$"));
        let cmd = t(&mut m, rx("cmd"));
        let exact = t(&mut m, Matcher::Exact("w3wp.exe".into()));
        // The same pattern twice shares a slot; the others have their own.
        assert_eq!(web.slot, same.slot);
        assert_eq!(m.patterns.len(), 3);
        for round in 0..2 {
            let e = m.entry(b"W3WP.EXE");
            assert_eq!(e, Some(0), "round {round}");
            assert_eq!(ask(&mut m, e, &web, "W3WP.EXE"), Some(true));
            assert_eq!(ask(&mut m, e, &same, "W3WP.EXE"), Some(true));
            assert_eq!(ask(&mut m, e, &cmd, "W3WP.EXE"), Some(false));
            assert_eq!(ask(&mut m, e, &exact, "W3WP.EXE"), Some(false));
            let e = m.entry(b"cmd.exe");
            assert_eq!(e, Some(1));
            assert_eq!(ask(&mut m, e, &cmd, "cmd.exe"), Some(true));
            assert_eq!(ask(&mut m, e, &web, "cmd.exe"), Some(false));
        }
        // Long values (a script block) are remembered, up to a point; longer ones are still
        // answered.
        let long = "cmd ".repeat(100);
        let e = m.entry(long.as_bytes());
        assert!(e.is_some());
        assert_eq!(ask(&mut m, e, &cmd, long.as_str()), Some(true));
        let again = m.entry(long.as_bytes());
        assert_eq!((again, m.known(again, &cmd)), (e, Some(Some(true))));
        let huge = "x".repeat(Memo::MAX_LEN + 1);
        assert_eq!(m.entry(huge.as_bytes()), None);
        assert_eq!(ask(&mut m, None, &cmd, huge.as_str()), Some(false));
        // Past its byte budget, it starts over.
        let half = "y".repeat(Memo::MAX_LEN / 2);
        for i in 0..2 * Memo::BYTES / half.len() {
            let v = format!("{i}{half}");
            let e = m.entry(v.as_bytes());
            assert!(e.is_some());
            assert_eq!(ask(&mut m, e, &cmd, v.as_str()), Some(false));
        }
        assert!(
            m.bytes <= Memo::BYTES && m.index.len() <= Memo::BYTES / half.len(),
            "{} values, {} bytes",
            m.index.len(),
            m.bytes
        );
        // Full: it starts over, and answers stay right.
        for i in 0..Memo::ENTRIES + 10 {
            let v = format!("v{i}.exe");
            let e = m.entry(v.as_bytes());
            assert_eq!(ask(&mut m, e, &cmd, v.as_str()), Some(false));
        }
        assert!(m.index.len() <= Memo::ENTRIES);
        let e = m.entry(b"w3wp.exe");
        assert_eq!(ask(&mut m, e, &web, "w3wp.exe"), Some(true));
        assert_eq!(ask(&mut m, e, &exact, "w3wp.exe"), Some(true));
    }

    #[test]
    fn a_regex_that_gives_up_is_remembered_as_no_answer() {
        let mut m = Memo::default();
        let p = Matcher::Regex(std::sync::Arc::new(crate::plan::rx::compile(r"^(a|aa)+\1(?=b)$", "", "/x/").unwrap()));
        let t = Test { key: 0, slot: m.slot(&p), m: p };
        let v = "a".repeat(60) + "c";
        for _ in 0..2 {
            let e = m.entry(v.as_bytes());
            assert_eq!(ask(&mut m, e, &t, v.as_str()), None);
        }
    }
}
