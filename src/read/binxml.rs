//! EVTX records made into events straight from their BinXML, without rendering them to text.
//!
//! A record of a Windows event log is almost always one *template instance*: a template
//! definition stored once per chunk (the XML skeleton, with element and attribute names and
//! numbered substitution slots) and the record's own array of typed values; the event's
//! `EventData` is usually a value of its own, a BinXML fragment holding a second template
//! instance. This module reads each template definition once per chunk into a [`Program`], the
//! list of fields the JSON reading of a record of that template sets
//! (`read::json::windows_json`: `System` children and attributes under the XML reader's names,
//! `EventData`'s `Data` under their names, `UserData`'s first element's children), and fills
//! them from the record's values, rendered as the `evtx` crate renders them (MS-EVEN6 2.2).
//!
//! It takes only shapes whose reading it knows to be the JSON reading's: a template with
//! anything else (a `Data` name that is a substitution, duplicate names, nested elements, entity
//! references, processing instructions…) has no program, and a value it does not render the way
//! the crate does (ANSI text, floating point numbers, arrays, handles) or a record of another
//! shape makes that record go the JSON way (`None`). `tests/renderings.rs` holds the two readings
//! equal, record for record, over every EVTX file of the corpus.

use crate::event::{push_decimal, Event, Value};
use crate::hash::FastMap;
use evtx::binxml::value_variant::BinXmlValue;
use std::rc::Rc;

/// What a template's records set, in document order.
#[derive(Debug)]
pub struct Program {
    ops: Vec<Op>,
    /// The fields it sets (`Data[` for the numbered items).
    names: Vec<Box<str>>,
    /// No field is set twice: its fields can be appended without looking for them.
    unique: bool,
}

#[derive(Debug)]
enum Op {
    /// Set `field` to the concatenated text of `parts`; a field whose text is empty is not set
    /// (the JSON rendering writes `null`) unless `keep_empty`.
    Set {
        field: crate::event::Name,
        parts: Vec<Part>,
        /// An item of several unnamed `Data`: the JSON reading numbers them and sets each one.
        keep_empty: bool,
        /// The substitutions the element and its ancestors depend on: an element whose
        /// dependency is a NullType value is left out (MS-EVEN6 2.2.12, as the crate does).
        deps: Vec<u16>,
    },
    /// A sole unnamed `Data`: `Data[0]`, or, when its one substitution holds an array of
    /// strings, one `Data[i]` per item (the element is repeated per item, MS-EVEN6 3.1.4.7.5).
    Items { parts: Vec<Part>, deps: Vec<u16> },
    /// A substitution holding a BinXML fragment (the `EventData` or `UserData` element):
    /// its own template instance, read with its own program.
    Nested { sub: u16, deps: Vec<u16>, mode: Mode },
}

impl Program {
    /// Without the fields `keep` leaves out.
    fn only(self, keep: Option<&crate::hash::FastSet<Box<str>>>) -> Program {
        let Some(keep) = keep else { return self };
        let ops = self
            .ops
            .into_iter()
            .filter(|op| match op {
                Op::Set { field, .. } => field == "TimeCreated" || keep.contains(field.as_ref()),
                Op::Items { .. } => keep.iter().any(|k| k.starts_with("Data[")),
                Op::Nested { .. } => true,
            })
            .collect();
        Program::new(ops)
    }

    fn new(ops: Vec<Op>) -> Program {
        let names: Vec<Box<str>> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Set { field, .. } => Some(field.as_ref().into()),
                Op::Items { .. } => Some("Data[".into()),
                Op::Nested { .. } => None,
            })
            .collect();
        let unique = !names.iter().enumerate().any(|(i, n)| names[..i].iter().any(|m| same_field(m, n)));
        Program { ops, names, unique }
    }
}

/// Whether two of [`Program::names`] may be one field (`Data[` stands for any `Data[i]`).
fn same_field(a: &str, b: &str) -> bool {
    a == b || (a == "Data[" && b.starts_with("Data[")) || (b == "Data[" && a.starts_with("Data["))
}

/// What a template is the template of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Mode {
    /// A record's: an `Event`.
    Event,
    /// A fragment in `Event`: `EventData` or `UserData`.
    Part,
    /// A fragment in `UserData`: the one element whose children are the fields.
    UserInner,
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Sub(u16),
}

/// One substitution value: its BinXML type, its bytes, and where they are in the chunk.
#[derive(Clone, Copy)]
struct Val<'a> {
    ty: u8,
    bytes: &'a [u8],
    at: usize,
}

/// A template of a chunk: the offset of its definition, and what it is the template of.
type TemplateAt = (u32, Mode);

/// How many templates' programs a decoder keeps across chunks.
const SHARED_PROGRAMS: usize = 4096;

/// The field names a run reads (see [`Decoder::new`]).
pub type Keep = std::sync::Arc<crate::hash::FastSet<Box<str>>>;

/// The programs of one chunk's templates, by the offset of their definition in the chunk.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Only these fields are made (`TimeCreated` always, for `@timestamp`); all when `None`.
    keep: Option<Keep>,
    programs: FastMap<(u32, Mode), Option<Rc<Program>>>,
    /// The programs of the templates met so far, by [`template_key`] (a file's chunks store
    /// the same few templates over and over); at most [`SHARED_PROGRAMS`].
    shared: FastMap<(Vec<u8>, Mode), Option<Rc<Program>>>,
    /// Whether two programs set no field in common.
    disjoint: FastMap<(TemplateAt, TemplateAt), bool>,
    /// The record's `TimeCreated`, when it is a FILETIME (100 ns since 1601): `@timestamp`
    /// without reading the text back.
    filetime: Option<u64>,
    /// The programs a record has been read with so far.
    applied: Vec<TemplateAt>,
}

/// A chunk's record: its ID, and its event when read from its BinXML (`None`: left to the
/// JSON rendering).
pub type Record = (u64, Option<Event>);

impl Decoder {
    /// A decoder that makes only the fields in `keep` (the fields a run reads: its query's and
    /// the mapping tables' inputs), or all of them.
    pub fn new(keep: Option<Keep>) -> Decoder {
        Decoder { keep, ..Decoder::default() }
    }

    /// A new chunk: its template offsets mean other templates.
    pub fn clear(&mut self) {
        self.programs.clear();
        self.disjoint.clear();
    }

    /// The records of a chunk (its 64 KiB and its parsed header), walked as the crate walks
    /// them, into `out`; `false` when the walk meets a record header it does not expect (the
    /// chunk is then left to the crate whole).
    pub fn chunk(&mut self, data: &[u8], header: &evtx::EvtxChunkHeader, out: &mut Vec<Record>) -> bool {
        self.clear();
        let live_end = (header.free_space_offset as usize).min(data.len());
        let mut at = 512usize;
        while at < live_end {
            let Ok(h) = evtx::EvtxRecordHeader::from_bytes_at(data, at) else { return false };
            let size = h.data_size as usize;
            if size < 28 || at + size > data.len() {
                return false;
            }
            let (start, end) = (at + 24, at + size - 4);
            out.push((h.event_record_id, self.record(data, start, end - start)));
            if h.event_record_id == header.last_event_record_id {
                break;
            }
            at += size;
        }
        true
    }

    /// The event of the record whose BinXML is `size` bytes at `offset` of the chunk `chunk`,
    /// or `None` when the record is one this reader leaves to the JSON rendering.
    pub fn record(&mut self, chunk: &[u8], offset: usize, size: usize) -> Option<Event> {
        let mut ev = Event::with_capacity(48);
        self.applied.clear();
        self.filetime = None;
        self.fragment(chunk, offset, size, &mut ev, Mode::Event, 0)?;
        // The text's digits cut to milliseconds (`winevent::iso8601_ms`), for the years the
        // text has four digits for.
        let ms = match self.filetime {
            Some(ft) if ft < 2_650_467_744_000_000_000 => Some((ft / 10_000) as f64 - 11_644_473_600_000.0),
            _ => ev.get_str("TimeCreated").and_then(|t| super::winevent::iso8601_ms(&t)),
        };
        if let Some(ms) = ms {
            ev.set("@timestamp", Value::Num(ms));
        }
        Some(ev)
    }

    /// A fragment that is one template instance (maybe behind a fragment header), alone.
    fn fragment(
        &mut self,
        chunk: &[u8],
        offset: usize,
        size: usize,
        ev: &mut Event,
        mode: Mode,
        depth: u8,
    ) -> Option<()> {
        let end = offset.checked_add(size)?;
        let bytes = chunk.get(offset..end)?;
        let at = match bytes {
            [0x0f, 0x01, _, _, 0x0c, ..] => offset + 4,
            [0x0c, ..] => offset,
            _ => return None,
        };
        let (def, vals, stop) = instance(chunk, at)?;
        if stop > end || (stop < end && chunk[stop] != 0x00) {
            return None;
        }
        let program = self
            .programs
            .entry((def, mode))
            .or_insert_with(|| {
                let compiled = || compile(chunk, def, mode).map(|p| Rc::new(p.only(self.keep.as_deref())));
                let key = template_key(chunk, def)?;
                let key = (key, mode);
                if let Some(p) = self.shared.get(&key) {
                    return p.clone();
                }
                let p = compiled();
                if self.shared.len() < SHARED_PROGRAMS {
                    self.shared.insert(key, p.clone());
                }
                p
            })
            .clone()?;
        // Fields are appended when no earlier program of the record may have set them.
        let key = (def, mode);
        let mut append = program.unique;
        for prev in &self.applied {
            if !append {
                break;
            }
            let programs = &self.programs;
            append = *self.disjoint.entry((*prev, key)).or_insert_with(|| {
                programs
                    .get(prev)
                    .and_then(|p| p.as_ref())
                    .is_some_and(|p| !p.names.iter().any(|a| program.names.iter().any(|b| same_field(a, b))))
            });
        }
        self.applied.push(key);
        let put = |ev: &mut Event, name: &crate::event::Name, v: String| {
            if append {
                ev.push(name.clone(), Value::Str(v));
            } else {
                ev.set_name(name, Value::Str(v));
            }
        };
        'ops: for op in &program.ops {
            let deps = match op {
                Op::Set { deps, .. } | Op::Items { deps, .. } | Op::Nested { deps, .. } => deps,
            };
            for d in deps {
                if vals.get(*d as usize).is_some_and(|v| v.ty == 0x00) {
                    continue 'ops;
                }
            }
            match op {
                Op::Set { field, parts, keep_empty, .. } => {
                    if field == "TimeCreated" {
                        if let [Part::Sub(i)] = parts.as_slice() {
                            self.filetime = vals
                                .get(*i as usize)
                                .filter(|v| v.ty == 0x11 && v.bytes.len() == 8)
                                .map(|v| u64::from_le_bytes(v.bytes.try_into().unwrap_or_default()));
                        }
                    }
                    let text = parts_text(parts, &vals)?;
                    if !text.is_empty() || *keep_empty {
                        put(ev, field, text);
                    }
                }
                Op::Items { parts, .. } => {
                    let array = match parts.as_slice() {
                        [Part::Sub(i)] => vals.get(*i as usize).filter(|v| v.ty == 0x81),
                        _ => None,
                    };
                    if let Some(v) = array {
                        for (i, item) in string_array(v.bytes)?.into_iter().enumerate() {
                            put(ev, &data_name(i), item);
                        }
                        continue;
                    }
                    let text = parts_text(parts, &vals)?;
                    if !text.is_empty() {
                        put(ev, &data_name(0), text);
                    }
                }
                Op::Nested { sub, mode, .. } => match vals.get(*sub as usize) {
                    None => {}
                    Some(v) if v.ty == 0x00 => {}
                    Some(v) if v.ty == 0x21 && depth < 3 => {
                        self.fragment(chunk, v.at, v.bytes.len(), ev, *mode, depth + 1)?
                    }
                    Some(_) => return None,
                },
            }
        }
        Some(())
    }
}

/// The text of an element or attribute: its parts, the substitutions rendered.
fn parts_text(parts: &[Part], vals: &[Val<'_>]) -> Option<String> {
    let mut text = match parts {
        [Part::Sub(i)] => String::with_capacity(vals.get(*i as usize).map_or(0, |v| v.bytes.len() / 2)),
        _ => String::new(),
    };
    for p in parts {
        match p {
            Part::Lit(s) => text.push_str(s),
            Part::Sub(i) => {
                if let Some(v) = vals.get(*i as usize) {
                    value_text(v, &mut text)?;
                }
            }
        }
    }
    Some(text)
}

/// The template instance at `at` of the chunk: the offset of its definition, its values, and
/// where it ends. Token (0x0c), a byte, template ID (4), definition offset (4), the definition
/// itself when it is stored right here, then the number of values, their descriptors (size (2),
/// type (1), a byte) and the values one after the other.
fn instance(chunk: &[u8], at: usize) -> Option<(u32, Vec<Val<'_>>, usize)> {
    let mut c = Cur { b: chunk, pos: at };
    if c.u8()? != 0x0c {
        return None;
    }
    c.u8()?;
    let _id = c.u32()?;
    let def = c.u32()?;
    if c.pos == def as usize {
        let size = u32::from_le_bytes(chunk.get(c.pos + 20..c.pos + 24)?.try_into().ok()?) as usize;
        c.pos = c.pos.checked_add(24 + size)?;
    }
    let n = c.u32()? as usize;
    let desc = chunk.get(c.pos..c.pos.checked_add(n.checked_mul(4)?)?)?;
    let mut pos = c.pos + desc.len();
    let mut vals = Vec::with_capacity(n);
    for d in desc.chunks_exact(4) {
        let size = u16::from_le_bytes([d[0], d[1]]) as usize;
        let bytes = chunk.get(pos..pos + size)?;
        vals.push(Val { ty: d[2], bytes, at: pos });
        pos += size;
    }
    Some((def, vals, pos))
}

fn push_int(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_decimal(out, v.unsigned_abs());
}

/// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`, lower case, the first three groups little-endian
/// (as the crate writes a GUID).
fn push_guid(out: &mut String, g: &[u8; 16]) {
    const ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'-'; 38];
    buf[0] = b'{';
    buf[37] = b'}';
    let mut n = 1;
    for (i, &idx) in ORDER.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            n += 1;
        }
        buf[n] = HEX[(g[idx] >> 4) as usize];
        buf[n + 1] = HEX[(g[idx] & 0x0f) as usize];
        n += 2;
    }
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// A FILETIME (100 ns ticks since 1601-01-01) as the crate writes it:
/// `YYYY-MM-DDTHH:MM:SS.fffffffZ`, the year modulo 10,000, and a value past `i64::MAX` as
/// `0000-00-00T00:00:00.0000000Z`.
fn push_filetime(out: &mut String, ft: u64) {
    const TICKS_PER_SEC: u64 = 10_000_000;
    const TICKS_PER_DAY: u64 = 86_400 * TICKS_PER_SEC;
    let mut buf = *b"0000-00-00T00:00:00.0000000Z";
    if ft <= i64::MAX as u64 {
        let (days, ticks) = (ft / TICKS_PER_DAY, ft % TICKS_PER_DAY);
        // Howard Hinnant's civil_from_days, counted from 0000-03-01 (584,694 days before
        // 1601-01-01), in eras of 400 years.
        let z = days + 584_694;
        let (era, doe) = (z / 146_097, z % 146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        let secs = ticks / TICKS_PER_SEC;
        let digits = |out: &mut [u8], mut v: u64| {
            for b in out.iter_mut().rev() {
                *b = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        digits(&mut buf[0..4], year % 10_000);
        digits(&mut buf[5..7], month);
        digits(&mut buf[8..10], day);
        digits(&mut buf[11..13], secs / 3_600);
        digits(&mut buf[14..16], secs / 60 % 60);
        digits(&mut buf[17..19], secs % 60);
        digits(&mut buf[20..27], ticks % TICKS_PER_SEC);
    }
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// `Data[i]`, the name of the i-th unnamed `Data`.
fn data_name(i: usize) -> std::borrow::Cow<'static, str> {
    const NAMES: [&str; 8] = ["Data[0]", "Data[1]", "Data[2]", "Data[3]", "Data[4]", "Data[5]", "Data[6]", "Data[7]"];
    match NAMES.get(i) {
        Some(n) => std::borrow::Cow::Borrowed(n),
        None => std::borrow::Cow::Owned(format!("Data[{i}]")),
    }
}

/// Sixteen UTF-16LE units (32 bytes), when each is ASCII and not NUL: their low bytes, in
/// order. Written as whole-array steps (units, their OR and minimum, then the narrowing), which
/// the compiler turns into vector instructions: twice as fast as word tricks.
#[inline(always)]
fn ascii16(c: &[u8; 32]) -> Option<[u8; 16]> {
    let mut units = [0u16; 16];
    for (u, pair) in units.iter_mut().zip(c.chunks_exact(2)) {
        *u = u16::from_le_bytes([pair[0], pair[1]]);
    }
    let (or, min) = units.iter().fold((0u16, u16::MAX), |(or, min), &u| (or | u, min.min(u)));
    if or >= 0x80 || min == 0 {
        return None;
    }
    let mut low = [0u8; 16];
    for (b, u) in low.iter_mut().zip(units) {
        *b = u as u8;
    }
    Some(low)
}

/// UTF-16LE text up to its first NUL, appended to `out`; `None` when it is not valid UTF-16
/// (an unpaired surrogate). ASCII, by far the most common, goes sixteen units at a time
/// ([`ascii16`]).
fn push_utf16(b: &[u8], out: &mut String) -> Option<()> {
    utf16_to_nul(b, out).map(|_| ())
}

/// [`push_utf16`], saying where the text ended: the offset of its NUL, or the length.
fn utf16_to_nul(b: &[u8], out: &mut String) -> Option<usize> {
    out.reserve(b.len() / 2);
    let mut buf = [0u8; 128];
    let mut k = 0;
    let mut i = 0;
    while let Some(low) = b.get(i..i + 32).and_then(|c| ascii16(c.try_into().ok()?)) {
        buf[k..k + 16].copy_from_slice(&low);
        k += 16;
        i += 32;
        if k == buf.len() {
            out.push_str(std::str::from_utf8(&buf).ok()?);
            k = 0;
        }
    }
    // The rest of the ASCII run, a unit at a time.
    while let Some(&[l, 0]) = b.get(i..i + 2) {
        if l == 0 || l >= 0x80 || k == buf.len() {
            break;
        }
        buf[k] = l;
        k += 1;
        i += 2;
    }
    out.push_str(std::str::from_utf8(&buf[..k]).ok()?);
    let rest = &b[i..b.len() & !1];
    let len = rest.chunks_exact(2).position(|u| u == [0, 0]).map_or(rest.len(), |n| 2 * n);
    let units = rest[..len].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    for ch in char::decode_utf16(units) {
        out.push(ch.ok()?);
    }
    Some(i + len)
}

/// A string array value: UTF-16LE strings, each ended by a NUL (the last one maybe not). Each
/// string is read as [`push_utf16`] reads one, which finds its NUL on the way.
fn string_array(b: &[u8]) -> Option<Vec<String>> {
    if b.len() % 2 != 0 {
        return None;
    }
    let b = b.strip_suffix(&[0, 0]).unwrap_or(b);
    if b.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let mut s = String::new();
        let end = start + utf16_to_nul(&b[start..], &mut s)?;
        out.push(s);
        if end >= b.len() {
            return Some(out);
        }
        start = end + 2;
    }
}

/// A value's text as the crate's JSON rendering holds it once read back; `None` for a value
/// this reader leaves to the JSON rendering.
fn value_text(v: &Val<'_>, out: &mut String) -> Option<()> {
    use std::fmt::Write;
    let b = v.bytes;
    let le = |n: usize| -> Option<u64> {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(b.get(..n)?);
        Some(u64::from_le_bytes(x))
    };
    match v.ty {
        0x00 => {}
        0x01 => {
            if b.len() % 2 != 0 {
                return None;
            }
            push_utf16(b, out)?;
        }
        0x03 => push_int(out, i64::from(le(1)? as u8 as i8)),
        0x04 => push_decimal(out, le(1)?),
        0x05 => push_int(out, i64::from(le(2)? as u16 as i16)),
        0x06 => push_decimal(out, le(2)?),
        0x07 => push_int(out, i64::from(le(4)? as u32 as i32)),
        0x08 => push_decimal(out, le(4)?),
        0x09 => push_int(out, le(8)? as i64),
        0x0a => push_decimal(out, le(8)?),
        0x0d => match le(4)? as u32 as i32 {
            0 => out.push_str("false"),
            1 => out.push_str("true"),
            n => push_int(out, i64::from(n)),
        },
        0x0e => write!(out, "{}", BinXmlValue::BinaryType(b)).ok()?,
        0x0f => push_guid(out, b.get(..16)?.try_into().ok()?),
        0x10 if b.len() == 4 => write!(out, "0x{:x}", le(4)?).ok()?,
        0x10 if b.len() == 8 => write!(out, "0x{:x}", le(8)?).ok()?,
        0x11 => push_filetime(out, le(8)?),
        0x12 => {
            let st = evtx::binxml::value_variant::SysTime::from_bytes(b.get(..16)?.try_into().ok()?);
            write!(out, "{}", BinXmlValue::SysTimeType(st)).ok()?
        }
        0x13 => {
            // Revision, sub-authority count, 48-bit big-endian authority, the sub-authorities.
            let [rev, count, a0, a1, a2, a3, a4, a5, ref subs @ ..] = *b else { return None };
            let authority = u64::from_be_bytes([0, 0, a0, a1, a2, a3, a4, a5]);
            if subs.len() < count as usize * 4 {
                return None;
            }
            write!(out, "S-{rev}-{authority}").ok()?;
            for s in subs.chunks_exact(4).take(count as usize) {
                write!(out, "-{}", u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok()?;
            }
        }
        0x14 => write!(out, "0x{:x}", le(4)?).ok()?,
        0x15 => write!(out, "0x{:x}", le(8)?).ok()?,
        _ => return None,
    }
    Some(())
}

/// One element of a template definition.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: Vec<(String, Vec<Part>)>,
    children: Vec<Child>,
    /// The substitution whose emptiness leaves the element out, if any.
    dependency: Option<u16>,
}

#[derive(Debug)]
enum Child {
    El(El),
    Text(Part),
}

/// A little-endian reader over the chunk; every read is checked.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cur<'_> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let v = u16::from_le_bytes(self.b.get(self.pos..self.pos + 2)?.try_into().ok()?);
        self.pos += 2;
        Some(v)
    }
    fn u32(&mut self) -> Option<u32> {
        let v = u32::from_le_bytes(self.b.get(self.pos..self.pos + 4)?.try_into().ok()?);
        self.pos += 4;
        Some(v)
    }
    fn utf16(&mut self, chars: usize) -> Option<String> {
        let bytes = self.b.get(self.pos..self.pos + chars * 2)?;
        self.pos += chars * 2;
        let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(units).collect::<Result<String, _>>().ok()
    }
    /// A name reference: the offset of the name's entry in the chunk, the entry stored right
    /// here when the offset is this position (then skipped).
    fn name_ref(&mut self) -> Option<usize> {
        let off = self.u32()? as usize;
        if off == self.pos {
            let len = u16::from_le_bytes(self.b.get(off + 6..off + 8)?.try_into().ok()?) as usize;
            self.pos += 6 + 2 + len * 2 + 2;
        }
        Some(off)
    }
}

/// The name stored at `off` of the chunk: next-name link (4), hash (2), length in UTF-16 units
/// (2), the units, a NUL.
fn name_at(chunk: &[u8], off: usize) -> Option<String> {
    let len = u16::from_le_bytes(chunk.get(off + 6..off + 8)?.try_into().ok()?) as usize;
    let mut c = Cur { b: chunk, pos: off + 8 };
    c.utf16(len)
}

/// Read the template definition at `def` (next-template link (4), GUID (16), data size (4),
/// then the BinXML fragment) into its element tree.
fn parse_template(chunk: &[u8], def: u32) -> Option<El> {
    let mut stack: Vec<El> = vec![El::default()]; // a document node holding the root
                                                  // Where value tokens go: an attribute of the element being opened, or its content.
    let mut in_attr = false;
    template_tokens(chunk, def, |t| {
        match t {
            Tok::Open { dep, name } => {
                stack.push(El { name: name_at(chunk, name)?, dependency: dep, ..El::default() });
                in_attr = false;
            }
            Tok::CloseStart => in_attr = false,
            Tok::Close => {
                let el = stack.pop()?;
                stack.last_mut()?.children.push(Child::El(el));
                in_attr = false;
            }
            Tok::Attr { name } => {
                stack.last_mut()?.attrs.push((name_at(chunk, name)?, Vec::new()));
                in_attr = true;
            }
            Tok::Lit(units) => {
                let mut c = Cur { b: units, pos: 0 };
                let s = c.utf16(units.len() / 2)?;
                push_part(stack.last_mut()?, in_attr, Part::Lit(s))?;
            }
            Tok::Sub(i) => push_part(stack.last_mut()?, in_attr, Part::Sub(i))?,
        }
        Some(())
    })?;
    let mut doc = stack.pop()?;
    if !stack.is_empty() || doc.children.len() != 1 {
        return None;
    }
    match doc.children.pop()? {
        Child::El(root) => Some(root),
        Child::Text(_) => None,
    }
}

/// A token of a template definition, as this reader reads it (names as the offsets of their
/// entries in the chunk).
enum Tok<'a> {
    Open {
        dep: Option<u16>,
        name: usize,
    },
    CloseStart,
    Close,
    Attr {
        name: usize,
    },
    /// Literal text: its UTF-16LE units.
    Lit(&'a [u8]),
    Sub(u16),
}

/// Walk the tokens of the template definition at `def` (next-template link (4), GUID (16),
/// data size (4), then the BinXML fragment); `None` for a token this reader does not read
/// (CDATA, character and entity references, processing instructions, a template inside a
/// template) or a definition that does not fit in the chunk.
fn template_tokens<'a>(chunk: &'a [u8], def: u32, mut f: impl FnMut(Tok<'a>) -> Option<()>) -> Option<()> {
    let def = def as usize;
    let size = u32::from_le_bytes(chunk.get(def + 20..def + 24)?.try_into().ok()?) as usize;
    let end = def.checked_add(24)?.checked_add(size)?;
    if end > chunk.len() {
        return None;
    }
    let mut c = Cur { b: &chunk[..end], pos: def + 24 };
    while c.pos < end {
        let t = c.u8()?;
        match t {
            0x00 => break,
            0x0f => c.pos += 3,
            0x01 | 0x41 => {
                let dep = c.u16()?;
                let _size = c.u32()?;
                let name = c.name_ref()?;
                if t & 0x40 != 0 {
                    let _attr_size = c.u32()?;
                }
                f(Tok::Open { dep: (dep != 0xffff).then_some(dep), name })?;
            }
            0x02 => f(Tok::CloseStart)?,
            0x03 | 0x04 => f(Tok::Close)?,
            0x06 | 0x46 => {
                let name = c.name_ref()?;
                f(Tok::Attr { name })?;
            }
            0x05 | 0x45 => {
                // A literal value: only text is read here.
                if c.u8()? != 0x01 {
                    return None;
                }
                let n = c.u16()? as usize;
                let units = chunk.get(c.pos..c.pos + n * 2)?;
                c.pos += n * 2;
                f(Tok::Lit(units))?;
            }
            0x0d | 0x0e => {
                let i = c.u16()?;
                let _ty = c.u8()?;
                f(Tok::Sub(i))?;
            }
            _ => return None,
        }
    }
    Some(())
}

/// What identifies a template definition across chunks: its tokens, with each name's text in
/// place of the offset of its entry (the same template is stored once per chunk, its names at
/// other offsets).
fn template_key(chunk: &[u8], def: u32) -> Option<Vec<u8>> {
    let mut key = Vec::with_capacity(512);
    let name = |key: &mut Vec<u8>, off: usize| -> Option<()> {
        let len = u16::from_le_bytes(chunk.get(off + 6..off + 8)?.try_into().ok()?) as usize;
        key.extend_from_slice(&(len as u16).to_le_bytes());
        key.extend_from_slice(chunk.get(off + 8..off + 8 + len * 2)?);
        Some(())
    };
    template_tokens(chunk, def, |t| {
        match t {
            Tok::Open { dep, name: n } => {
                key.push(1);
                key.extend_from_slice(&dep.unwrap_or(0xffff).to_le_bytes());
                name(&mut key, n)?;
            }
            Tok::CloseStart => key.push(2),
            Tok::Close => key.push(3),
            Tok::Attr { name: n } => {
                key.push(6);
                name(&mut key, n)?;
            }
            Tok::Lit(units) => {
                key.push(5);
                key.extend_from_slice(&(units.len() as u32).to_le_bytes());
                key.extend_from_slice(units);
            }
            Tok::Sub(i) => {
                key.push(0x0d);
                key.extend_from_slice(&i.to_le_bytes());
            }
        }
        Some(())
    })?;
    Some(key)
}

fn push_part(el: &mut El, in_attr: bool, p: Part) -> Option<()> {
    if in_attr {
        el.attrs.last_mut()?.1.push(p);
    } else {
        el.children.push(Child::Text(p));
    }
    Some(())
}

/// The element's text: its content when that is text only; `None` when it holds elements.
fn text_parts(el: &El) -> Option<Vec<Part>> {
    el.children
        .iter()
        .map(|c| match c {
            Child::Text(p) => Some(p.clone()),
            Child::El(_) => None,
        })
        .collect()
}

/// The element's children when they are all elements; `None` when it holds text.
fn element_children(el: &El) -> Option<Vec<&El>> {
    el.children
        .iter()
        .map(|c| match c {
            Child::El(e) => Some(e),
            Child::Text(_) => None,
        })
        .collect()
}

fn deps(parent: &[u16], el: &El) -> Vec<u16> {
    let mut d = parent.to_vec();
    d.extend(el.dependency);
    d
}

fn has_duplicate_names(els: &[&El]) -> bool {
    els.iter().enumerate().any(|(i, e)| els[..i].iter().any(|x| x.name == e.name))
}

/// The program of the template at `def` for `mode`, or `None` for a shape left to the JSON
/// rendering.
fn compile(chunk: &[u8], def: u32, mode: Mode) -> Option<Program> {
    let root = parse_template(chunk, def)?;
    let mut ops = Vec::new();
    // The root is always rendered, whatever it depends on.
    match (mode, root.name.as_str()) {
        (Mode::Event, "Event") => {}
        (Mode::Part, "EventData") => {
            data_ops(&root, &[], &mut ops)?;
            return Some(Program::new(ops));
        }
        (Mode::Part, "UserData") => {
            user_ops(&root, &[], &mut ops)?;
            return Some(Program::new(ops));
        }
        (Mode::UserInner, _) => {
            inner_ops(&root, &mut ops)?;
            return Some(Program::new(ops));
        }
        _ => return None,
    }
    let mut names: Vec<&str> = Vec::new();
    for c in &root.children {
        match c {
            // The fragment holding `EventData` or `UserData`.
            Child::Text(Part::Sub(i)) => ops.push(Op::Nested { sub: *i, deps: Vec::new(), mode: Mode::Part }),
            Child::Text(Part::Lit(_)) => return None,
            Child::El(part) => {
                if names.contains(&part.name.as_str()) {
                    return None;
                }
                names.push(&part.name);
                let d = deps(&[], part);
                match part.name.as_str() {
                    "System" => system_ops(part, &d, &mut ops)?,
                    "EventData" => data_ops(part, &d, &mut ops)?,
                    "UserData" => user_ops(part, &d, &mut ops)?,
                    _ => return None,
                }
            }
        }
    }
    Some(Program::new(ops))
}

/// `UserData`: the children of its one element, under their names.
fn user_ops(u: &El, dep: &[u16], ops: &mut Vec<Op>) -> Option<()> {
    if !u.attrs.is_empty() {
        return None;
    }
    let inner = match u.children.as_slice() {
        [Child::El(inner)] => inner,
        // The element is a fragment of its own.
        [Child::Text(Part::Sub(i))] => {
            ops.push(Op::Nested { sub: *i, deps: dep.to_vec(), mode: Mode::UserInner });
            return Some(());
        }
        _ => return None,
    };
    if inner.children.is_empty() {
        return None;
    }
    let dep = deps(dep, inner);
    let mut names: Vec<&str> = Vec::new();
    for c in &inner.children {
        let Child::El(e) = c else { return None };
        if names.contains(&e.name.as_str()) || e.name == "Data" || e.name == "#attributes" || !e.attrs.is_empty() {
            return None;
        }
        names.push(&e.name);
        ops.push(Op::Set {
            field: crate::event::intern(&e.name),
            parts: text_parts(e)?,
            keep_empty: false,
            deps: deps(&dep, e),
        });
    }
    Some(())
}

/// `System`: attributes of `Provider`, `TimeCreated`, `Execution` and `Security` under the
/// XML reader's names, the text of the other children under their own.
fn system_ops(sys: &El, dep: &[u16], ops: &mut Vec<Op>) -> Option<()> {
    let children = element_children(sys)?;
    if has_duplicate_names(&children) {
        return None;
    }
    for c in children {
        let deps = deps(dep, c);
        let attrs: &[(&str, &str)] = match c.name.as_str() {
            "Provider" => &[("Name", "Provider_Name"), ("Guid", "Provider_Guid")],
            "TimeCreated" => &[("SystemTime", "TimeCreated")],
            "Execution" => &[("ProcessID", "Execution_ProcessID"), ("ThreadID", "Execution_ThreadID")],
            "Security" => &[("UserID", "Security_UserID")],
            _ => {
                if c.attrs.iter().enumerate().any(|(i, (n, _))| c.attrs[..i].iter().any(|(x, _)| x == n)) {
                    return None;
                }
                ops.push(Op::Set {
                    field: crate::event::intern(&c.name),
                    parts: text_parts(c)?,
                    keep_empty: false,
                    deps,
                });
                continue;
            }
        };
        // The JSON reading takes such an element's attribute, else a child element of that
        // name: children are left to it.
        if !c.children.is_empty() {
            return None;
        }
        for (attr, field) in attrs {
            let mut found = c.attrs.iter().filter(|(n, _)| n == attr);
            if let Some((_, parts)) = found.next() {
                if found.next().is_some() {
                    return None;
                }
                ops.push(Op::Set {
                    field: crate::event::intern(field),
                    parts: parts.clone(),
                    keep_empty: false,
                    deps: deps.clone(),
                });
            }
        }
    }
    Some(())
}

/// `EventData`: each `Data` under its literal `Name`, or unnamed `Data` numbered
/// (`Data[0]`, …); other children under their own names.
fn data_ops(d: &El, dep: &[u16], ops: &mut Vec<Op>) -> Option<()> {
    let children = element_children(d)?;
    // One `Data` with a `Name` makes the named form: `Data` without one are then left out.
    let named_form = children.iter().any(|c| c.name == "Data" && !c.attrs.is_empty());
    let positional: Vec<&&El> = children.iter().filter(|c| c.name == "Data").collect();
    let mut fields: Vec<String> = Vec::new();
    let mut positional_done = false;
    for c in &children {
        let deps = deps(dep, c);
        if c.name != "Data" {
            if !c.attrs.is_empty() {
                return None;
            }
            fields.push(c.name.clone());
            ops.push(Op::Set { field: crate::event::intern(&c.name), parts: text_parts(c)?, keep_empty: false, deps });
        } else if named_form {
            let name = match c.attrs.as_slice() {
                [] => continue,
                [(n, parts)] if n == "Name" => match parts.as_slice() {
                    [Part::Lit(s)] if !s.is_empty() => s.clone(),
                    _ => return None,
                },
                _ => return None,
            };
            fields.push(name.clone());
            // A named `Data` with no text is `""` in the JSON rendering.
            ops.push(Op::Set { field: crate::event::intern(&name), parts: text_parts(c)?, keep_empty: true, deps });
        } else if !positional_done {
            // The unnamed `Data`, numbered where the first one is: `Data[0]`, `Data[1]`, …
            positional_done = true;
            if positional.iter().any(|p| !p.attrs.is_empty()) {
                return None;
            }
            if let [one] = positional.as_slice() {
                fields.push("Data[0]".to_string());
                ops.push(Op::Items { parts: text_parts(one)?, deps: deps.clone() });
                continue;
            }
            // Numbered by position: one left out would renumber the rest.
            if positional.iter().any(|p| p.dependency.is_some()) {
                return None;
            }
            for (i, p) in positional.iter().enumerate() {
                fields.push(format!("Data[{i}]"));
                ops.push(Op::Set { field: data_name(i), parts: text_parts(p)?, keep_empty: true, deps: dep.to_vec() });
            }
        }
    }
    if fields
        .iter()
        .enumerate()
        .any(|(i, n)| fields[..i].contains(n) || n == "#attributes" || (named_form && n == "Data"))
    {
        return None;
    }
    Some(())
}

/// The children of the element a `UserData` fragment holds, under their names (its attributes
/// are the JSON rendering's `#attributes`, which the JSON reading passes over).
fn inner_ops(inner: &El, ops: &mut Vec<Op>) -> Option<()> {
    let mut names: Vec<&str> = Vec::new();
    if inner.children.is_empty() {
        return None;
    }
    for c in &inner.children {
        let Child::El(e) = c else { return None };
        if names.contains(&e.name.as_str()) || e.name == "Data" || e.name == "#attributes" || !e.attrs.is_empty() {
            return None;
        }
        names.push(&e.name);
        ops.push(Op::Set {
            field: crate::event::intern(&e.name),
            parts: text_parts(e)?,
            keep_empty: false,
            deps: deps(&[], e),
        });
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use evtx::binxml::value_variant::FileTime;

    #[test]
    fn values_are_written_as_the_crate_writes_them() {
        let mut fts = vec![0u64, 1, 9_999_999, 116_444_736_000_000_000, 132_037_698_123_456_789];
        fts.extend([2_650_466_807_999_999_999, 2_650_467_743_999_999_999, 2_650_467_744_000_000_000]);
        fts.extend([i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            fts.push(x >> 1);
            fts.push(x % 3_000_000_000_000_000_000);
        }
        for ft in fts {
            let mut s = String::new();
            push_filetime(&mut s, ft);
            assert_eq!(s, BinXmlValue::FileTimeType(FileTime(ft)).to_string(), "{ft}");
        }
        for g in [[0u8; 16], [0xff; 16], *b"0123456789abcdef"] {
            let mut s = String::new();
            push_guid(&mut s, &g);
            assert_eq!(s, BinXmlValue::GuidType(g).to_string());
        }
        for v in [0i64, 1, -1, 42, i64::MIN, i64::MAX] {
            let mut s = String::new();
            push_int(&mut s, v);
            assert_eq!(s, BinXmlValue::Int64Type(v).to_string());
        }
        let mut s = String::new();
        push_decimal(&mut s, u64::MAX);
        assert_eq!(s, BinXmlValue::UInt64Type(u64::MAX).to_string());
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn text_stops_at_its_first_nul_and_refuses_broken_surrogates() {
        for t in [
            "",
            "a",
            "abcd",
            "C:\\Windows\\System32\\cmd.exe /c whoami",
            "héllo wörld ünïcode",
            "x😀y",
            &"z".repeat(300),
        ] {
            let mut s = String::new();
            push_utf16(&utf16(t), &mut s).expect("valid");
            assert_eq!(s, t);
            let mut with_nul = utf16(t);
            with_nul.extend(utf16("\0after"));
            let mut s = String::new();
            push_utf16(&with_nul, &mut s).expect("valid");
            assert_eq!(s, t);
        }
        // Every length around the eight-unit steps, with what ends or breaks an ASCII run at
        // every position: a NUL, U+0100 (a zero low byte), U+0080, a surrogate pair, DEL.
        for len in 0..40 {
            for at in 0..len {
                for odd in ["\0", "\u{100}", "\u{80}", "😀", "\u{7f}", "é"] {
                    let t: String = (0..len)
                        .map(|i| if i == at { odd.to_string() } else { ((b'a' + (i % 26) as u8) as char).to_string() })
                        .collect();
                    let mut s = String::new();
                    push_utf16(&utf16(&t), &mut s).expect("valid");
                    assert_eq!(s, t.split('\0').next().unwrap_or_default(), "{t:?}");
                }
            }
        }
        let mut lone = utf16("abcdefgh");
        lone.extend(0xd800u16.to_le_bytes());
        assert!(push_utf16(&lone, &mut String::new()).is_none());
        assert_eq!(string_array(&utf16("a\0bc\0\0d")), Some(vec!["a".into(), "bc".into(), "".into(), "d".into()]));
        assert_eq!(string_array(&utf16("a\0")), Some(vec!["a".to_string()]));
        assert_eq!(string_array(&[]), Some(Vec::new()));
        assert_eq!(string_array(&utf16("\0")), Some(Vec::new()));
        assert_eq!(string_array(&utf16("\0\0")), Some(vec![String::new(), String::new()]));
        assert_eq!(string_array(&utf16("a\0\0")), Some(vec!["a".to_string(), String::new()]));
        let long = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
        assert_eq!(
            string_array(&utf16(&format!("{long}\0é€x\0{long}"))),
            Some(vec![long.into(), "é€x".into(), long.into()])
        );
        // An unpaired surrogate is not text.
        assert_eq!(string_array(&[0x00, 0xd8, 0x41, 0x00]), None);
        // Against the plain reading (units split at each NUL), items of every length around the
        // sixteen-unit steps, ASCII or not, empty ones among them.
        let plain = |b: &[u8]| -> Option<Vec<String>> {
            let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            let units = units.strip_suffix(&[0]).unwrap_or(&units);
            if units.is_empty() {
                return Some(Vec::new());
            }
            units.split(|u| *u == 0).map(|item| String::from_utf16(item).ok()).collect()
        };
        for n in 0..40 {
            let item: String = (0..n).map(|i| if i == n / 2 && n % 3 == 0 { 'é' } else { 'x' }).collect();
            for text in [format!("{item}\0{item}"), format!("{item}\0\0{item}\0"), format!("\0{item}"), item.clone()] {
                let b = utf16(&text);
                assert_eq!(string_array(&b), plain(&b), "{text:?}");
            }
        }
    }
}
