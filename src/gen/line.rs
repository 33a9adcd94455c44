//! One NDJSON line built without per-event allocation: values are appended raw to one buffer,
//! fields remember their key and value range, and `render` writes `{"key":"value",...}\n` in a
//! shuffled key order (FDR's key order is arbitrary) with JSON string escaping.

use super::rng::Rng;

#[derive(Debug, Clone, Copy)]
struct Field {
    key: &'static str,
    start: u32,
    end: u32,
}

/// A line under construction; reused for every event.
#[derive(Debug, Default)]
pub(crate) struct Line {
    vals: String,
    fields: Vec<Field>,
    /// The rendered line (valid after `render`).
    pub(crate) out: Vec<u8>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Line {
    pub(crate) fn new() -> Line {
        Line { vals: String::with_capacity(4096), fields: Vec::with_capacity(64), out: Vec::with_capacity(8192) }
    }

    pub(crate) fn clear(&mut self) {
        self.vals.clear();
        self.fields.clear();
    }

    /// Start of a value assembled piecewise with `push*`; finish it with `close`.
    pub(crate) fn mark(&self) -> usize {
        self.vals.len()
    }

    /// Ends the value started at `start` under `key`.
    pub(crate) fn close(&mut self, key: &'static str, start: usize) {
        self.fields.push(Field { key, start: start as u32, end: self.vals.len() as u32 });
    }

    pub(crate) fn push(&mut self, s: &str) {
        self.vals.push_str(s);
    }

    /// The value buffer, for writers that append to the current value directly.
    pub(crate) fn buf(&mut self) -> &mut String {
        &mut self.vals
    }

    pub(crate) fn push_num(&mut self, n: u64) {
        push_num(&mut self.vals, n);
    }

    pub(crate) fn push_hex(&mut self, x: u64, digits: u32) {
        push_hex(&mut self.vals, x, digits, false);
    }

    pub(crate) fn str(&mut self, key: &'static str, v: &str) {
        let start = self.mark();
        self.vals.push_str(v);
        self.close(key, start);
    }

    pub(crate) fn num(&mut self, key: &'static str, n: u64) {
        let start = self.mark();
        self.push_num(n);
        self.close(key, start);
    }

    pub(crate) fn secs(&mut self, key: &'static str, ms: u64) {
        let start = self.mark();
        push_secs(&mut self.vals, ms);
        self.close(key, start);
    }

    /// A hex string of `len` digits drawn from a stream seeded by `seed`.
    pub(crate) fn hex(&mut self, key: &'static str, seed: u64, len: u32) {
        let start = self.mark();
        let mut state = seed;
        let mut left = len;
        while left > 0 {
            let n = left.min(16);
            self.push_hex(super::rng::splitmix(&mut state), n);
            left -= n;
        }
        self.close(key, start);
    }

    /// The value text of the field `key` (tests and derived fields).
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.key == key).map(|f| &self.vals[f.start as usize..f.end as usize])
    }

    /// Writes the line (keys shuffled by `rng`) into `out`, ending with a newline.
    pub(crate) fn render(&mut self, rng: &mut Rng) {
        let n = self.fields.len();
        for i in (1..n).rev() {
            let j = rng.below(i as u32 + 1) as usize;
            self.fields.swap(i, j);
        }
        let out = &mut self.out;
        out.clear();
        out.push(b'{');
        for (i, f) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(f.key.as_bytes());
            out.extend_from_slice(b"\":\"");
            escape_into(out, &self.vals.as_bytes()[f.start as usize..f.end as usize]);
            out.push(b'"');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Appends `n` in decimal.
pub(crate) use crate::event::push_decimal as push_num;

/// Appends `n` zero-padded to `width` digits.
pub(crate) fn push_num_pad(s: &mut String, n: u64, width: usize) {
    let mut digits = 1;
    let mut m = n;
    while m >= 10 {
        m /= 10;
        digits += 1;
    }
    for _ in digits..width {
        s.push('0');
    }
    push_num(s, n);
}

/// Appends the low `digits` hex digits of `x` (at most 16).
pub(crate) fn push_hex(s: &mut String, x: u64, digits: u32, upper: bool) {
    for i in (0..digits).rev() {
        let c = HEX[((x >> (i * 4)) & 0xf) as usize];
        s.push(if upper { c.to_ascii_uppercase() } else { c } as char);
    }
}

/// Appends epoch milliseconds as seconds with three decimals (`1751536496.123`).
pub(crate) fn push_secs(s: &mut String, ms: u64) {
    push_num(s, ms / 1000);
    s.push('.');
    push_num_pad(s, ms % 1000, 3);
}

/// JSON string escaping (RFC 8259): `"` and `\` backslashed, control characters as `\n`, `\t`,
/// `\r`, `\b`, `\f` or `\u00XX`; everything else (UTF-8 included) copied.
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    let mut run = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&s[run..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                run = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&s[run..i]);
        out.extend_from_slice(esc);
        run = i + 1;
    }
    out.extend_from_slice(&s[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_line_escapes_and_shuffles() {
        let mut out = Vec::new();
        escape_into(&mut out, "a\"b\\c\nd\u{0}e\u{1f}é".as_bytes());
        assert_eq!(String::from_utf8(out).unwrap(), r#"a\"b\\c\nd\u0000e\u001fé"#);
        let mut l = Line::new();
        let mut rng = Rng::new(1, 1);
        l.str("a", "\\Device\\x");
        l.num("b", 1234567890123);
        l.secs("c", 1751536496023);
        l.hex("d", 9, 40);
        let st = l.mark();
        push_num_pad(l.buf(), 7, 3);
        l.close("e", st);
        assert_eq!(l.get("c"), Some("1751536496.023"));
        assert_eq!(l.get("d").map(str::len), Some(40));
        assert_eq!(l.get("e"), Some("007"));
        l.render(&mut rng);
        let v: serde_json::Value = serde_json::from_slice(&l.out).unwrap();
        assert_eq!(v["a"], "\\Device\\x");
        assert_eq!(v["b"], "1234567890123");
        assert!(l.out.ends_with(b"}\n"));
    }
}
