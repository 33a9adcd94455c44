//! Result output: a table that fits the terminal, NDJSON, JSON, CSV.

use crate::event::{Event, Value};
use std::io::{self, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    /// Columns fitted to the terminal (`--wide` keeps long values whole).
    Table,
    /// One JSON object per row; aggregate results as numbers, other fields as strings.
    Ndjson,
    /// One JSON array of objects.
    Json,
    /// A header from the rows' fields, then one line per row.
    Csv,
}

/// Fields never printed unless asked for (`--rawstring`).
pub fn skipped_fields(rawstring: bool) -> &'static [&'static str] {
    if rawstring {
        &[]
    } else {
        &["@rawstring"]
    }
}

/// A sink for rows. NDJSON streams; the others need every row first (their columns are the
/// union of all rows' fields).
#[derive(Debug)]
pub struct Output<W: Write> {
    pub format: OutFormat,
    out: W,
    rows: Vec<Event>,
    skip: &'static [&'static str],
    width: usize,
    wide: bool,
    pub written: u64,
}

impl<W: Write> Output<W> {
    pub fn new(format: OutFormat, out: W, rawstring: bool, width: usize, wide: bool) -> Output<W> {
        Output { format, out, rows: Vec::new(), skip: skipped_fields(rawstring), width, wide, written: 0 }
    }

    pub fn row(&mut self, e: Event) -> io::Result<()> {
        self.written += 1;
        match self.format {
            OutFormat::Ndjson => {
                let line = e.to_json(self.skip);
                self.out.write_all(line.as_bytes())?;
                self.out.write_all(b"\n")
            }
            _ => {
                self.rows.push(e);
                Ok(())
            }
        }
    }

    pub fn finish(mut self) -> io::Result<()> {
        let rows = std::mem::take(&mut self.rows);
        match self.format {
            OutFormat::Ndjson => {}
            OutFormat::Json => {
                self.out.write_all(b"[")?;
                for (i, r) in rows.iter().enumerate() {
                    self.out.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
                    self.out.write_all(r.to_json(self.skip).as_bytes())?;
                }
                self.out.write_all(if rows.is_empty() { b"]\n" } else { b"\n]\n" })?;
            }
            OutFormat::Csv => {
                let cols = columns(&rows, self.skip);
                let header: Vec<String> = cols.iter().map(|c| csv_cell(c)).collect();
                writeln!(self.out, "{}", header.join(","))?;
                for r in &rows {
                    let cells: Vec<String> =
                        cols.iter().map(|c| r.get(c).map(|v| csv_cell(&v.as_str())).unwrap_or_default()).collect();
                    writeln!(self.out, "{}", cells.join(","))?;
                }
            }
            OutFormat::Table => {
                let cols = columns(&rows, self.skip);
                let text = table(&rows, &cols, self.width, self.wide);
                self.out.write_all(text.as_bytes())?;
            }
        }
        self.out.flush()
    }
}

/// The union of the rows' fields, in first-seen order.
pub fn columns(rows: &[Event], skip: &[&str]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        for (k, _) in r.fields() {
            if !skip.contains(&k) && !cols.iter().any(|c| c == k) {
                cols.push(k.to_string());
            }
        }
    }
    cols
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn cell(v: Option<&Value>) -> String {
    v.map(|v| v.as_str().replace(['\n', '\r', '\t'], " ")).unwrap_or_default()
}

fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A plain-text table that fits `width` columns: long cells are cut with `…` unless `wide`.
pub fn table(rows: &[Event], cols: &[String], width: usize, wide: bool) -> String {
    if cols.is_empty() {
        return format!("({} rows, no fields)\n", rows.len());
    }
    let cells: Vec<Vec<String>> = rows.iter().map(|r| cols.iter().map(|c| cell(r.get(c))).collect()).collect();
    let mut widths: Vec<usize> = cols.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    if !wide {
        // Shrink the widest columns until the table fits (each keeps at least 8 characters).
        let sep = 2 * (cols.len() - 1);
        while widths.iter().sum::<usize>() + sep > width {
            let Some((i, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else { break };
            if w <= 8 {
                break;
            }
            widths[i] = w - 1;
        }
    }
    let mut out = String::new();
    let line = |vals: Vec<String>| -> String {
        let parts: Vec<String> =
            vals.iter().zip(&widths).map(|(v, w)| format!("{:<w$}", truncate(v, *w), w = *w)).collect();
        parts.join("  ").trim_end().to_string()
    };
    out.push_str(&line(cols.to_vec()));
    out.push('\n');
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    out.push('\n');
    for row in cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.push_str(&format!("({} row{})\n", rows.len(), if rows.len() == 1 { "" } else { "s" }));
    out
}

/// The terminal's width: `COLUMNS`, else what `stty size` says of the controlling terminal,
/// else 120. (No dependency for an ioctl; this runs once per `run`.)
pub fn terminal_width() -> usize {
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()) {
        return c;
    }
    let tty = std::fs::File::open("/dev/tty");
    let out = tty.ok().and_then(|t| std::process::Command::new("stty").arg("size").stdin(t).output().ok());
    out.and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).and_then(|w| w.parse().ok()))
        .filter(|w: &usize| *w >= 20)
        .unwrap_or(120)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(pairs: &[(&str, Value)]) -> Event {
        let mut e = Event::new();
        for (k, v) in pairs {
            e.set(k, v.clone());
        }
        e
    }

    #[test]
    fn formats() {
        let rows = vec![
            ev(&[("a", Value::Str("x,y".into())), ("n", Value::Num(3.0))]),
            ev(&[("b", Value::Str("z".into())), ("@rawstring", Value::Str("{}".into()))]),
        ];
        let mut buf = Vec::new();
        let mut o = Output::new(OutFormat::Csv, &mut buf, false, 80, false);
        for r in rows.clone() {
            o.row(r).unwrap();
        }
        o.finish().unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "a,n,b\n\"x,y\",3,\n,,z\n");
        let mut buf = Vec::new();
        let mut o = Output::new(OutFormat::Ndjson, &mut buf, false, 80, false);
        for r in rows.clone() {
            o.row(r).unwrap();
        }
        o.finish().unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "{\"a\":\"x,y\",\"n\":3}\n{\"b\":\"z\"}\n");
        let t = table(&rows, &columns(&rows, &[]), 80, false);
        assert!(t.starts_with("a    n  b  @rawstring\n"), "{t}");
        assert!(t.ends_with("(2 rows)\n"));
    }

    #[test]
    fn table_fits_width() {
        let rows = vec![ev(&[("long", Value::Str("x".repeat(200))), ("b", Value::Str("y".into()))])];
        let t = table(&rows, &columns(&rows, &[]), 40, false);
        assert!(t.lines().all(|l| l.chars().count() <= 40), "{t}");
        assert!(t.contains('…'));
        let w = table(&rows, &columns(&rows, &[]), 40, true);
        assert!(w.contains(&"x".repeat(200)));
    }
}
