//! Windows events as XML (`wevtutil qe /f:xml`, `Get-WinEvent | % ToXml`, and what the `evtx`
//! crate renders from binary EVTX): one or many `<Event>` elements, with or without an
//! `<Events>` wrapper. Each `<Event>` is parsed on its own, so one broken record (a truncated
//! document) costs only that record.

use crate::event::{Event, Value};

/// Field names taken from `<System>`: the names Hayabusa, Chainsaw and Sigma use.
fn system_fields(sys: roxmltree::Node<'_, '_>, ev: &mut Event) {
    for c in sys.children().filter(|c| c.is_element()) {
        let name = c.tag_name().name();
        match name {
            "Provider" => {
                if let Some(n) = c.attribute("Name") {
                    ev.set("Provider_Name", Value::Str(n.to_string()));
                }
                if let Some(g) = c.attribute("Guid") {
                    ev.set("Provider_Guid", Value::Str(g.to_string()));
                }
            }
            "TimeCreated" => {
                if let Some(t) = c.attribute("SystemTime") {
                    ev.set("TimeCreated", Value::Str(t.to_string()));
                }
            }
            "Execution" => {
                if let Some(p) = c.attribute("ProcessID") {
                    ev.set("Execution_ProcessID", Value::Str(p.to_string()));
                }
                if let Some(t) = c.attribute("ThreadID") {
                    ev.set("Execution_ThreadID", Value::Str(t.to_string()));
                }
            }
            "Security" => {
                if let Some(u) = c.attribute("UserID") {
                    ev.set("Security_UserID", Value::Str(u.to_string()));
                }
            }
            "Correlation" => {
                if let Some(a) = c.attribute("ActivityID") {
                    ev.set("Correlation_ActivityID", Value::Str(a.to_string()));
                }
            }
            _ => {
                let text = c.text().unwrap_or("").trim();
                ev.set(name, Value::Str(text.to_string()));
            }
        }
    }
}

/// Parse one `<Event>` element's XML text into an event with the record's own field names.
pub fn parse_event(xml: &str) -> Result<Event, String> {
    let repaired;
    let text = if xml.contains('&') {
        repaired = repair_entities(xml);
        repaired.as_str()
    } else {
        xml
    };
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Event" {
        return Err(format!("expected <Event>, found <{}>", root.tag_name().name()));
    }
    let mut ev = Event::with_capacity(32);
    for part in root.children().filter(|c| c.is_element()) {
        match part.tag_name().name() {
            "System" => system_fields(part, &mut ev),
            "EventData" => {
                let mut unnamed = 0;
                for d in part.children().filter(|c| c.is_element()) {
                    let text = d.text().unwrap_or("").to_string();
                    match d.attribute("Name") {
                        Some(n) => ev.set(n, Value::Str(text)),
                        None => {
                            let tag = d.tag_name().name();
                            let n = if tag == "Data" { format!("Data[{unnamed}]") } else { tag.to_string() };
                            unnamed += 1;
                            ev.set(&n, Value::Str(text));
                        }
                    }
                }
            }
            "UserData" => {
                for top in part.children().filter(|c| c.is_element()) {
                    for d in top.children().filter(|c| c.is_element()) {
                        ev.set(d.tag_name().name(), Value::Str(d.text().unwrap_or("").to_string()));
                    }
                }
            }
            "RenderingInfo" => {
                for d in part.children().filter(|c| c.is_element()) {
                    if d.tag_name().name() == "Message" {
                        ev.set("Message", Value::Str(d.text().unwrap_or("").to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(ms) = ev.get_str("TimeCreated").and_then(|t| iso8601_ms(&t)) {
        ev.set("@timestamp", Value::Num(ms));
    }
    ev.set("@rawstring", Value::Str(xml.to_string()));
    Ok(ev)
}

/// Like [`parse_event`], but a record cut short (syslog truncates long Sysmon-for-Linux
/// messages) keeps the fields before the cut: the text is closed after its last complete
/// `</Data>`. Returns the event and whether it was cut.
pub fn parse_event_salvage(xml: &str) -> Result<(Event, bool), String> {
    match parse_event(xml) {
        Ok(e) => Ok((e, false)),
        Err(first) => {
            let Some(end) = xml.rfind("</Data>") else { return Err(first) };
            if !xml[..end].contains("<EventData>") {
                return Err(first);
            }
            let closed = format!("{}</Data></EventData></Event>", &xml[..end]);
            let mut e = parse_event(&closed).map_err(|_| first)?;
            e.set("@rawstring", Value::Str(xml.to_string()));
            e.set("cqlhunt_truncated", Value::Str("true".to_string()));
            Ok((e, true))
        }
    }
}

/// Sysmon for Linux writes `&lt unknown process&gt ` (entities without their `;`): add it.
fn repair_entities(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len() + 8);
    let mut rest = xml;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        for name in ["lt", "gt", "amp", "quot", "apos"] {
            if rest.starts_with(name) && !rest[name.len()..].starts_with(';') {
                out.push_str(name);
                out.push(';');
                rest = &rest[name.len()..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The largest `<Event>` element read whole; a start without its end within this many bytes is
/// reported as a broken record and the reading goes on after it.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// Stream a document's `<Event …>…</Event>` elements from `r`, as splitting the whole text
/// would, holding no more than one element (and a read block) in memory: `on` gets each
/// element's byte offset and text (invalid UTF-8 replaced), or the reason it is broken (a start
/// without an end: a truncated document, or an element over [`MAX_EVENT_BYTES`]), and returns
/// false to stop. A read error ends the stream after the elements before it.
pub fn for_each_event(
    r: &mut dyn std::io::Read,
    on: &mut dyn FnMut(usize, Result<&str, String>) -> bool,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    // The stream offset of buf[0], and where the search resumes in buf.
    let (mut base, mut pos) = (0usize, 0usize);
    let mut block = vec![0u8; 1 << 20];
    let mut eof = false;
    loop {
        // Every complete element in the buffer.
        loop {
            let Some(i) = find_event_start_bytes(&buf[pos..], eof) else {
                // Keep only what could be the start of a `<Event` cut by the block's end.
                let keep = if eof { 0 } else { 6.min(buf.len() - pos) };
                let cut = buf.len() - keep;
                buf.drain(..cut);
                base += cut;
                pos = 0;
                break;
            };
            let start = pos + i;
            match memchr::memmem::find(&buf[start..], b"</Event>") {
                Some(j) => {
                    let end = start + j + "</Event>".len();
                    let text = String::from_utf8_lossy(&buf[start..end]);
                    if !on(base + start, Ok(&text)) {
                        return Ok(());
                    }
                    pos = end;
                }
                None if eof => {
                    on(base + start, Err("the <Event> element is not closed (truncated document?)".to_string()));
                    return Ok(());
                }
                None if buf.len() - start > MAX_EVENT_BYTES => {
                    let reason = format!("no </Event> within {} MiB of its start", MAX_EVENT_BYTES >> 20);
                    if !on(base + start, Err(reason)) {
                        return Ok(());
                    }
                    pos = start + 6;
                }
                None => {
                    // Wait for the rest of the element.
                    buf.drain(..start);
                    base += start;
                    pos = 0;
                    break;
                }
            }
        }
        if eof {
            return Ok(());
        }
        let n = loop {
            match r.read(&mut block) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The complete elements before the failure were given; a started one is
                    // reported by the caller's warning.
                    return Err(e);
                }
            }
        };
        if n == 0 {
            eof = true;
        } else {
            buf.extend_from_slice(&block[..n]);
        }
    }
}

/// Where the first `<Event` start tag begins (the name followed by `>` or white space); `None`
/// when there is none, or (before the end of the input) when the byte after a candidate is not
/// read yet.
fn find_event_start_bytes(s: &[u8], eof: bool) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&s[from..], b"<Event") {
        let at = from + i;
        match s.get(at + 6) {
            Some(b'>' | b' ' | b'\n' | b'\r' | b'\t') => return Some(at),
            None if !eof => return None,
            _ => from = at + 6,
        }
    }
    None
}

/// `2019-05-23T21:29:43.8123456Z` → ms since the epoch (UTC; an explicit offset is applied).
pub fn iso8601_ms(t: &str) -> Option<f64> {
    let t = t.trim();
    let (date, rest) = t.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, u32, u32) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (time, offset_min) = if let Some(x) = rest.strip_suffix('Z') {
        (x, 0)
    } else if let Some(i) = rest.rfind(['+', '-']).filter(|i| *i >= 8) {
        let sign = if rest.as_bytes()[i] == b'-' { -1 } else { 1 };
        let o = &rest[i + 1..];
        let (oh, om) = o.split_once(':').unwrap_or((o.get(..2)?, o.get(2..).unwrap_or("0")));
        (&rest[..i], sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().unwrap_or(0)))
    } else {
        (rest, 0)
    };
    // Hayabusa writes `2016-08-19 08:06:57.658 +09:00`: a space before the offset.
    let mut parts = time.trim_end().split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let mi: i64 = parts.next()?.parse().ok()?;
    // Seconds and their fraction, read as digits: LogScale's @timestamp is whole milliseconds,
    // and the sub-millisecond digits (Windows writes seven) are cut, not rounded.
    let sec = parts.next().unwrap_or("0").trim();
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms_digits: i64 =
        frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0, |a, b| a * 10 + i64::from(b - b'0'));
    let days = crate::eval::time::days_from_civil(y, m, day);
    let secs = days * 86_400 + h * 3600 + mi * 60 + whole - offset_min * 60;
    Some((secs * 1000 + ms_digits) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The whole-text splitter the streaming one is held to.
    /// Split an XML text into its `<Event …>…</Event>` elements: (byte offset, element text).
    /// A start without an end (a truncated document) is returned as the error of that record.
    fn split_events(text: &str) -> Vec<(usize, Result<&str, String>)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some(i) = find_event_start(&text[pos..]) {
            let start = pos + i;
            match text[start..].find("</Event>") {
                Some(j) => {
                    let end = start + j + "</Event>".len();
                    out.push((start, Ok(&text[start..end])));
                    pos = end;
                }
                None => {
                    out.push((start, Err("the <Event> element is not closed (truncated document?)".to_string())));
                    break;
                }
            }
        }
        out
    }

    fn find_event_start(s: &str) -> Option<usize> {
        let mut from = 0;
        while let Some(i) = s[from..].find("<Event") {
            let at = from + i;
            let next = s.as_bytes().get(at + 6).copied();
            if matches!(next, Some(b'>') | Some(b' ') | Some(b'\n') | Some(b'\r') | Some(b'\t')) {
                return Some(at);
            }
            from = at + 6;
        }
        None
    }

    const SYSMON1: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"/><EventID>1</EventID><TimeCreated SystemTime="2019-05-23T21:29:43.812345Z"/><EventRecordID>42</EventRecordID><Execution ProcessID="1" ThreadID="2"/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WEB01</Computer></System><EventData><Data Name="Image">C:\Windows\System32\cmd.exe</Data><Data Name="CommandLine">cmd /c whoami</Data><Data Name="ParentImage">c:\windows\system32\inetsrv\w3wp.exe</Data></EventData></Event>"#;

    #[test]
    fn sysmon_fields() {
        let e = parse_event(SYSMON1).unwrap();
        assert_eq!(e.get_str("EventID").as_deref(), Some("1"));
        assert_eq!(e.get_str("Channel").as_deref(), Some("Microsoft-Windows-Sysmon/Operational"));
        assert_eq!(e.get_str("Computer").as_deref(), Some("WEB01"));
        assert_eq!(e.get_str("Provider_Name").as_deref(), Some("Microsoft-Windows-Sysmon"));
        assert_eq!(e.get_str("Image").as_deref(), Some("C:\\Windows\\System32\\cmd.exe"));
        assert_eq!(e.get("@timestamp"), Some(&Value::Num(1558646983812.0)));
    }

    #[test]
    fn splitting_and_truncation() {
        let doc = format!("<Events>{SYSMON1}\n{SYSMON1}\n<Event><System><EventID>4688</Ev");
        let parts = split_events(&doc);
        assert_eq!(parts.len(), 3);
        assert!(parts[0].1.is_ok() && parts[1].1.is_ok());
        assert!(parts[2].1.as_ref().unwrap_err().contains("not closed"));
        assert!(find_event_start("<EventData>").is_none());
    }

    #[test]
    fn streaming_gives_what_splitting_gives() {
        let doc = format!(
            "<?xml version=\"1.0\"?>\n<Events>{SYSMON1}\n<EventData/>{SYSMON1}\n<Event><System><EventID>4688</Ev"
        );
        let whole: Vec<(usize, Result<String, String>)> =
            split_events(&doc).into_iter().map(|(o, r)| (o, r.map(str::to_string))).collect();
        // Any block size: the reader hands out a few bytes at a time.
        struct Trickle<'a>(&'a [u8], usize);
        impl std::io::Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(self.0.len()).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for step in [1, 3, 7, 64, 1 << 20] {
            let mut got = Vec::new();
            for_each_event(&mut Trickle(doc.as_bytes(), step), &mut |o, r| {
                got.push((o, r.map(str::to_string)));
                true
            })
            .expect("read");
            assert_eq!(got, whole, "blocks of {step}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(iso8601_ms("1970-01-01T00:00:01.5Z"), Some(1500.0));
        assert_eq!(iso8601_ms("1970-01-01T01:00:00+01:00"), Some(0.0));
        // Sub-millisecond digits are cut, never rounded into the next millisecond.
        assert_eq!(iso8601_ms("2019-05-23T21:29:43.9999996Z"), Some(1558646983999.0));
        assert_eq!(iso8601_ms("2019-05-23T21:29:43Z"), Some(1558646983000.0));
        assert_eq!(iso8601_ms("2019-05-23T21:29:43.5Z"), Some(1558646983500.0));
        assert_eq!(iso8601_ms("2019-05-23T21:29:4x.5Z"), None);
    }
}
