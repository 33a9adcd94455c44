//! A ClickHouse server over its HTTP interface (`run --clickhouse`, `detect --clickhouse`):
//! `sql`'s translation sent as one request, its `JSONEachRow` answer made into rows as `run`
//! would give them. HTTP/1.0 over a plain TCP connection, written here: one POST per query
//! needs no HTTP crate.

use crate::event::{Event, Value};
use std::io::{Read, Write};
use std::time::Duration;

/// A server at `host:port` (its HTTP port, 8123 by default).
#[derive(Debug, Clone)]
pub struct Server {
    pub addr: String,
}

impl Server {
    pub fn new(addr: &str) -> Server {
        // `http://host:port/` as well as `host:port`.
        let a = addr.trim_start_matches("http://").trim_end_matches('/');
        Server { addr: a.to_string() }
    }

    /// Run a statement: with `data`, the statement goes in the URL and the data in the body
    /// (`INSERT … FORMAT …`); else the statement is the body. The answer's body, or why there
    /// is none (the server's own message for a failed query).
    pub fn post(&self, sql: &str, data: Option<&[u8]>) -> Result<String, String> {
        let mut path = String::from("/?input_format_skip_unknown_fields=1");
        let body: &[u8] = match data {
            Some(d) => {
                path.push_str("&query=");
                path.push_str(&encode(sql));
                d
            }
            None => sql.as_bytes(),
        };
        let mut s = std::net::TcpStream::connect(&self.addr)
            .map_err(|e| format!("ClickHouse at {}: cannot connect: {e}", self.addr))?;
        let _ = s.set_read_timeout(Some(Duration::from_secs(600)));
        let head = format!("POST {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\n\r\n", self.addr, body.len());
        s.write_all(head.as_bytes())
            .and_then(|_| s.write_all(body))
            .map_err(|e| format!("ClickHouse at {}: {e}", self.addr))?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).map_err(|e| format!("ClickHouse at {}: {e}", self.addr))?;
        let split = memchr::memmem::find(&resp, b"\r\n\r\n")
            .ok_or_else(|| format!("ClickHouse at {}: not an HTTP answer", self.addr))?;
        let head = String::from_utf8_lossy(&resp[..split]).into_owned();
        let raw = &resp[split + 4..];
        let body =
            if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(raw) } else { raw.to_vec() };
        let body =
            String::from_utf8(body).map_err(|_| format!("ClickHouse at {}: an answer that is not UTF-8", self.addr))?;
        match head.split_whitespace().nth(1) {
            Some("200") => Ok(body),
            status => Err(format!("ClickHouse at {} ({}): {}", self.addr, status.unwrap_or("?"), body.trim())),
        }
    }

    /// The columns of a table (`db.table` or `table`).
    pub fn columns(&self, table: &str) -> Result<Vec<String>, String> {
        let text = self.post(&format!("DESCRIBE TABLE {table} FORMAT JSONEachRow"), None)?;
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("DESCRIBE {table}: {e}"))?;
            if let Some(n) = v.get("name").and_then(serde_json::Value::as_str) {
                out.push(n.to_string());
            }
        }
        Ok(out)
    }

    /// A translated query's rows, as `run` gives them: missing fields absent, numbers where
    /// cqlhunt writes numbers.
    pub fn rows(&self, sql: &crate::sql::Sql) -> Result<Vec<Event>, String> {
        let text = self.post(&format!("{} FORMAT JSONEachRow", sql.text), None)?;
        rows(&text, &sql.numbers)
    }
}

/// `JSONEachRow` lines as rows.
pub fn rows(text: &str, numbers: &[String]) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("ClickHouse's row {}: not JSON: {e}", i + 1))?;
        let serde_json::Value::Object(o) = v else { return Err(format!("ClickHouse's row {}: not an object", i + 1)) };
        let mut ev = Event::with_capacity(o.len());
        for (k, v) in o {
            let t = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let v = match numbers.contains(&k).then(|| crate::event::parse_num(&t)).flatten() {
                Some(n) => Value::Num(n),
                None => Value::Str(t),
            };
            ev.push(k, v);
        }
        out.push(ev);
    }
    Ok(out)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A chunked body's data.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    while let Some(nl) = memchr::memmem::find(body, b"\r\n") {
        let size = std::str::from_utf8(&body[..nl])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let rest = &body[nl + 2..];
        match size {
            Some(n) if n > 0 && rest.len() >= n => {
                out.extend_from_slice(&rest[..n]);
                body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_numbers_where_cqlhunt_writes_numbers() {
        let r = rows("{\"a\":\"1\",\"n\":\"3\",\"m\":null}\n\n{\"a\":\"x\",\"n\":\"2.5\"}\n", &["n".to_string()])
            .expect("rows");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].get("a"), Some(&Value::Str("1".to_string())));
        assert_eq!(r[0].get("n"), Some(&Value::Num(3.0)));
        assert_eq!(r[0].get("m"), None);
        assert_eq!(r[1].get("n"), Some(&Value::Num(2.5)));
        assert!(rows("[1]", &[]).is_err());
        assert!(rows("{", &[]).is_err());
    }

    #[test]
    fn chunked_bodies_and_url_encoding() {
        assert_eq!(unchunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert_eq!(unchunk(b"zz\r\n"), b"");
        assert_eq!(encode("INSERT INTO t FORMAT JSONEachRow"), "INSERT%20INTO%20t%20FORMAT%20JSONEachRow");
    }

    #[test]
    fn no_server_is_a_clear_error() {
        // Port 9 (discard) on loopback: nothing listens here.
        let e = Server::new("http://127.0.0.1:9/").post("SELECT 1", None).expect_err("no server");
        assert!(e.starts_with("ClickHouse at 127.0.0.1:9: cannot connect"), "{e}");
    }
}
