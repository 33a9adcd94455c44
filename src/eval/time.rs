//! Time formatting for `formatTime()` and buckets: a strftime subset over UTC or a fixed
//! offset, with the civil-calendar arithmetic written out (no time-zone database).

/// Minutes east of UTC for `UTC`, `Z`, `GMT`, `+02:00`, `-0530`. Named zones other than UTC
/// are not supported yet (they need a zone database).
pub fn tz_offset_minutes(tz: &str) -> Result<i64, String> {
    let t = tz.trim();
    if matches!(t, "UTC" | "Z" | "GMT" | "Etc/UTC" | "utc" | "z") {
        return Ok(0);
    }
    let sign = match t.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(format!("time zone `{tz}` is not supported yet (use UTC or an offset like +02:00)")),
    };
    let digits: String = t[1..].chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().unwrap_or(0), 0),
        4 => (digits[..2].parse::<i64>().unwrap_or(0), digits[2..].parse::<i64>().unwrap_or(0)),
        _ => return Err(format!("time zone `{tz}` is not an offset")),
    };
    Ok(sign * (h * 60 + m))
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31). Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

/// A piece of a `formatTime()` format: a character written as it is, or a conversion (`%Y` is
/// `Conv('Y')`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimePiece {
    Text(char),
    Conv(char),
}

/// A format's pieces, as [`strftime`] reads them (and the ClickHouse translation): a `%` that
/// ends the format is text.
pub fn time_pieces(fmt: &str) -> impl Iterator<Item = TimePiece> + '_ {
    let mut it = fmt.chars();
    std::iter::from_fn(move || {
        let c = it.next()?;
        if c != '%' {
            return Some(TimePiece::Text(c));
        }
        Some(it.next().map_or(TimePiece::Text('%'), TimePiece::Conv))
    })
}

/// Format ms since the epoch with the conversions of Java's `Formatter` for dates (which
/// `formatTime()` documents as its format): %Y %y %C %m %d %e %j %H %I %k %l %M %S %L %N %p
/// %a %A %b %B %h %F %T %R %r %D %c %s %Q %z %Z %n %%; others are copied as written.
pub fn strftime(fmt: &str, ms: f64, offset_min: i64) -> String {
    let ms_i = ms.floor() as i64 + offset_min * 60_000;
    let secs = ms_i.div_euclid(1000);
    let milli = ms_i.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let wday = days.rem_euclid(7) as usize;
    let jan1 = days_from_civil(y, 1, 1);
    let yday = days - jan1 + 1;
    let mut out = String::new();
    for piece in time_pieces(fmt) {
        let k = match piece {
            TimePiece::Text(c) => {
                out.push(c);
                continue;
            }
            TimePiece::Conv(k) => k,
        };
        let h12 = if h % 12 == 0 { 12 } else { h % 12 };
        match k {
            'Y' => out.push_str(&format!("{y:04}")),
            'y' => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            'm' => out.push_str(&format!("{mo:02}")),
            'd' => out.push_str(&format!("{d:02}")),
            'e' => out.push_str(&d.to_string()),
            'C' => out.push_str(&format!("{:02}", y.div_euclid(100))),
            'k' => out.push_str(&h.to_string()),
            'l' => out.push_str(&h12.to_string()),
            'N' => out.push_str(&format!("{:09}", milli * 1_000_000)),
            'r' => out.push_str(&format!("{h12:02}:{mi:02}:{s:02} {}", if h < 12 { "AM" } else { "PM" })),
            'c' => out.push_str(&format!(
                "{} {} {d:02} {h:02}:{mi:02}:{s:02} {} {y:04}",
                &DAYS[wday][..3],
                &MONTHS[mo as usize - 1][..3],
                zone_name(offset_min)
            )),
            'n' => out.push('\n'),
            'H' => out.push_str(&format!("{h:02}")),
            'I' => out.push_str(&format!("{h12:02}")),
            'M' => out.push_str(&format!("{mi:02}")),
            'S' => out.push_str(&format!("{s:02}")),
            'L' => out.push_str(&format!("{milli:03}")),
            'p' => out.push_str(if h < 12 { "am" } else { "pm" }),
            'j' => out.push_str(&format!("{yday:03}")),
            'a' => out.push_str(&DAYS[wday][..3]),
            'A' => out.push_str(DAYS[wday]),
            'b' | 'h' => out.push_str(&MONTHS[mo as usize - 1][..3]),
            'B' => out.push_str(MONTHS[mo as usize - 1]),
            'F' => out.push_str(&format!("{y:04}-{mo:02}-{d:02}")),
            'T' => out.push_str(&format!("{h:02}:{mi:02}:{s:02}")),
            'R' => out.push_str(&format!("{h:02}:{mi:02}")),
            'D' => out.push_str(&format!("{mo:02}/{d:02}/{:02}", y.rem_euclid(100))),
            's' => out.push_str(&(ms.floor() as i64).div_euclid(1000).to_string()),
            'Q' => out.push_str(&(ms.floor() as i64).to_string()),
            'z' => {
                let sign = if offset_min < 0 { '-' } else { '+' };
                out.push_str(&format!("{sign}{:02}{:02}", offset_min.abs() / 60, offset_min.abs() % 60));
            }
            'Z' => out.push_str(&zone_name(offset_min)),
            '%' => out.push('%'),
            other => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// The zone name `%Z` prints: `UTC`, or `GMT+02:00` for an offset.
fn zone_name(offset_min: i64) -> String {
    if offset_min == 0 {
        "UTC".to_string()
    } else {
        let sign = if offset_min < 0 { '-' } else { '+' };
        format!("GMT{sign}{:02}:{:02}", offset_min.abs() / 60, offset_min.abs() % 60)
    }
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A relative time like `5m`, `1h`, `1day`, `30s`, `2w` in ms.
pub fn parse_span(s: &str) -> Option<f64> {
    let s = s.trim();
    let i = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let n: f64 = s[..i].parse().ok()?;
    let unit = s[i..].trim().to_ascii_lowercase();
    let ms = match unit.as_str() {
        "ms" | "millis" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        "y" | "year" | "years" => 31_536_000_000.0,
        _ => return None,
    };
    Some(n * ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        // 2025-07-03T10:34:56.321Z
        let ms = 1_751_538_896_321.0;
        assert_eq!(strftime("%Y-%m-%d %H:%M:%S.%L", ms, 0), "2025-07-03 10:34:56.321");
        assert_eq!(strftime("%F %T %z %a %b %j", ms, 120), "2025-07-03 12:34:56 +0200 Thu Jul 184");
        assert_eq!(days_from_civil(2025, 7, 3), 20272);
        assert_eq!(civil_from_days(20272), (2025, 7, 3));
        assert_eq!(parse_span("1day"), Some(86_400_000.0));
        assert_eq!(parse_span("5m"), Some(300_000.0));
        assert_eq!(tz_offset_minutes("-05:30"), Ok(-330));
        assert!(tz_offset_minutes("Europe/London").is_err());
    }
}
