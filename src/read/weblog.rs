//! Web server access logs: IIS W3C extended logs (the `#Fields:` header names the columns)
//! and Apache/Nginx common and combined logs. Each request becomes a `WebServerRequest` event
//! (cqlhunt's own event name, docs/reading.md) with the log's own columns and common names:
//! `HttpMethod`, `UriPath`, `UriQuery`, `HttpStatus`, `ClientIp`, `UserAgent`, `Referer`,
//! `UserName`, `WebServer` (`iis`, `apache`).

use crate::event::{Event, Value};

/// IIS W3C extended log state: the current `#Fields:` columns.
#[derive(Debug, Default)]
pub struct W3c {
    fields: Vec<String>,
}

fn dash(s: &str) -> Option<&str> {
    (s != "-" && !s.is_empty()).then_some(s)
}

/// W3C column → common name.
fn w3c_common(col: &str) -> Option<&'static str> {
    Some(match col {
        "cs-method" => "HttpMethod",
        "cs-uri-stem" => "UriPath",
        "cs-uri-query" => "UriQuery",
        "sc-status" => "HttpStatus",
        "c-ip" => "ClientIp",
        "cs(User-Agent)" => "UserAgent",
        "cs(Referer)" => "Referer",
        "cs-username" => "UserName",
        "s-ip" => "ServerIp",
        "s-port" => "ServerPort",
        "s-computername" => "ComputerName",
        "cs-host" => "HttpHost",
        _ => return None,
    })
}

impl W3c {
    /// Feed one line: a directive updates the columns; a data line gives an event.
    pub fn line(&mut self, line: &str) -> Option<Result<Event, String>> {
        if let Some(d) = line.strip_prefix('#') {
            if let Some(f) = d.strip_prefix("Fields:") {
                self.fields = f.split_whitespace().map(str::to_string).collect();
            }
            return None;
        }
        if line.trim().is_empty() {
            return None;
        }
        if self.fields.is_empty() {
            return Some(Err("a W3C data line before any #Fields: header".to_string()));
        }
        let vals: Vec<&str> = line.split(' ').collect();
        if vals.len() != self.fields.len() {
            return Some(Err(format!("{} values for {} #Fields: columns", vals.len(), self.fields.len())));
        }
        let mut ev = Event::with_capacity(self.fields.len() + 8);
        ev.set("#event_simpleName", Value::Str("WebServerRequest".to_string()));
        ev.set("WebServer", Value::Str("iis".to_string()));
        let (mut date, mut time) = (None, None);
        for (k, v) in self.fields.iter().zip(vals) {
            ev.set(k, Value::Str(v.to_string()));
            match k.as_str() {
                "date" => date = Some(v),
                "time" => time = Some(v),
                _ => {}
            }
            if let (Some(c), Some(v)) = (w3c_common(k), dash(v)) {
                // W3C writes spaces in the user agent as `+`.
                let v = if c == "UserAgent" { v.replace('+', " ") } else { v.to_string() };
                ev.set(c, Value::Str(v));
            }
        }
        if let (Some(d), Some(t)) = (date, time) {
            if let Some(ms) = super::winevent::iso8601_ms(&format!("{d}T{t}Z")) {
                ev.set("@timestamp", Value::Num(ms));
            }
        }
        ev.set("@rawstring", Value::Str(line.to_string()));
        Some(Ok(ev))
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `10/Oct/2000:13:55:36 -0700` → ms.
fn clf_time(t: &str) -> Option<f64> {
    let (dt, zone) = t.split_once(' ').unwrap_or((t, "+0000"));
    let (date, time) = dt.split_once(':')?;
    let mut d = date.split('/');
    let day: u32 = d.next()?.parse().ok()?;
    let mname = d.next()?;
    let mon = MONTHS.iter().position(|m| *m == mname)? as u32 + 1;
    let year: i64 = d.next()?.parse().ok()?;
    let z = format!("{}:{}", &zone.get(..3)?, zone.get(3..5)?);
    super::winevent::iso8601_ms(&format!("{year:04}-{mon:02}-{day:02}T{time}{z}"))
}

/// Parse one Apache/Nginx common or combined log line.
pub fn combined(line: &str) -> Result<Event, String> {
    let bad = || "not a common/combined access log line".to_string();
    let (host, rest) = line.split_once(' ').ok_or_else(bad)?;
    let (_ident, rest) = rest.split_once(' ').ok_or_else(bad)?;
    let (user, rest) = rest.split_once(' ').ok_or_else(bad)?;
    let rest = rest.strip_prefix('[').ok_or_else(bad)?;
    let (time, rest) = rest.split_once("] ").ok_or_else(bad)?;
    let rest = rest.strip_prefix('"').ok_or_else(bad)?;
    let (request, rest) = rest.split_once("\" ").ok_or_else(bad)?;
    let mut tail = rest.splitn(3, ' ');
    let status = tail.next().ok_or_else(bad)?;
    let size = tail.next().unwrap_or("-");
    let extra = tail.next().unwrap_or("");
    let quoted: Vec<&str> = extra.split('"').skip(1).step_by(2).collect();
    let mut ev = Event::with_capacity(16);
    ev.set("#event_simpleName", Value::Str("WebServerRequest".to_string()));
    ev.set("WebServer", Value::Str("apache".to_string()));
    ev.set("ClientIp", Value::Str(host.to_string()));
    if let Some(u) = dash(user) {
        ev.set("UserName", Value::Str(u.to_string()));
    }
    let mut r = request.splitn(3, ' ');
    if let Some(m) = r.next() {
        ev.set("HttpMethod", Value::Str(m.to_string()));
    }
    if let Some(uri) = r.next() {
        ev.set("Uri", Value::Str(uri.to_string()));
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        ev.set("UriPath", Value::Str(path.to_string()));
        if !query.is_empty() {
            ev.set("UriQuery", Value::Str(query.to_string()));
        }
    }
    if let Some(p) = r.next() {
        ev.set("HttpProtocol", Value::Str(p.to_string()));
    }
    ev.set("HttpStatus", Value::Str(status.to_string()));
    if let Some(s) = dash(size) {
        ev.set("ResponseBytes", Value::Str(s.to_string()));
    }
    if let Some(r) = quoted.first().and_then(|r| dash(r)) {
        ev.set("Referer", Value::Str(r.to_string()));
    }
    if let Some(a) = quoted.get(1).and_then(|a| dash(a)) {
        ev.set("UserAgent", Value::Str(a.to_string()));
    }
    if let Some(ms) = clf_time(time) {
        ev.set("@timestamp", Value::Num(ms));
    } else {
        return Err(format!("`{time}` is not a log time"));
    }
    ev.set("@rawstring", Value::Str(line.to_string()));
    Ok(ev)
}

/// Does this look like a combined/common log line?
pub fn looks_combined(head: &str) -> bool {
    let line = head.lines().next().unwrap_or("");
    line.contains(" [") && line.contains("] \"") && combined(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3c() {
        let mut w = W3c::default();
        assert!(w.line("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status").is_none());
        let e = w
            .line("2019-09-03 10:13:36 10.0.2.15 GET /erp/conn.aspx cmd=whoami 80 - 10.0.2.17 Mozilla/5.0+(X11) 200")
            .unwrap()
            .unwrap();
        assert_eq!(e.get_str("UriPath").as_deref(), Some("/erp/conn.aspx"));
        assert_eq!(e.get_str("UriQuery").as_deref(), Some("cmd=whoami"));
        assert_eq!(e.get_str("UserAgent").as_deref(), Some("Mozilla/5.0 (X11)"));
        assert!(e.get("UserName").is_none());
        assert_eq!(e.get("@timestamp"), Some(&Value::Num(1567505616000.0)));
        assert!(w.line("2019-09-03 10:13:36 too few").unwrap().is_err());
    }

    #[test]
    fn apache() {
        let e = combined(r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /x.php?cmd=id HTTP/1.0" 200 2326 "http://r/" "curl/8""#).unwrap();
        assert_eq!(e.get_str("UriPath").as_deref(), Some("/x.php"));
        assert_eq!(e.get_str("UriQuery").as_deref(), Some("cmd=id"));
        assert_eq!(e.get_str("UserName").as_deref(), Some("frank"));
        assert_eq!(e.get_str("UserAgent").as_deref(), Some("curl/8"));
        assert_eq!(e.get("@timestamp"), Some(&Value::Num(971211336000.0)));
        assert!(looks_combined(r#"1.2.3.4 - - [11/Jul/2018:08:41:28 +0300] "GET / HTTP/1.1" 200 11444"#));
        assert!(combined("hello").is_err());
    }
}
