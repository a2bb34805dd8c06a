//! Sessions, bar sizes and the bar grid. The calendar itself (which days trade, when
//! they open and close) comes from exchange_calendars at ingest time and is stored in
//! the bundle; nothing here computes holidays.

use serde::{Deserialize, Serialize};

use crate::error::DataError;

pub const NANOS_PER_MINUTE: i64 = 60_000_000_000;
pub const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// One trading session: its label (days since 1970-01-01) and its open and close instants (ns UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub date: i32,
    pub open_ns: i64,
    pub close_ns: i64,
}

/// A bar size: one bar per session, or a fixed number of minutes within sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BarSize {
    Daily,
    Minutes(u32),
}

impl BarSize {
    /// Parse `1m`, `5m`, `15m`, `1h`, `2h`, `1d` and zipline's `minute` / `daily`.
    pub fn parse(text: &str) -> Result<BarSize, DataError> {
        let t = text.trim().to_ascii_lowercase();
        let bad = || DataError::BadFrequency(text.to_string());
        match t.as_str() {
            "daily" | "day" | "1d" | "d" => return Ok(BarSize::Daily),
            "minute" | "1m" | "1min" | "m" => return Ok(BarSize::Minutes(1)),
            "hourly" | "hour" | "1h" => return Ok(BarSize::Minutes(60)),
            _ => {}
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (num, unit) = t.split_at(split);
        let n: u32 = num.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        match unit {
            "m" | "min" | "t" => Ok(BarSize::Minutes(n)),
            "h" => Ok(BarSize::Minutes(n * 60)),
            "d" if n == 1 => Ok(BarSize::Daily),
            _ => Err(bad()),
        }
    }

    /// Canonical spelling: `1d`, `1m`, `5m`, `1h`, `90m`.
    pub fn label(self) -> String {
        match self {
            BarSize::Daily => "1d".to_string(),
            BarSize::Minutes(m) if m % 60 == 0 => format!("{}h", m / 60),
            BarSize::Minutes(m) => format!("{m}m"),
        }
    }

    pub fn is_daily(self) -> bool {
        self == BarSize::Daily
    }
}

/// Bar close instants for `sessions` at `bar`: daily bars close at the session close;
/// intraday bars close every `bar` minutes after the open, the last one at the close
/// (hourly XNYS: 10:30, 11:30, ..., 15:30, 16:00). Returns (timestamps, session index per bar).
pub fn bar_grid(sessions: &[Session], bar: BarSize) -> (Vec<i64>, Vec<u32>) {
    let mut ts = Vec::new();
    let mut sess = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        match bar {
            BarSize::Daily => {
                ts.push(s.close_ns);
                sess.push(i as u32);
            }
            BarSize::Minutes(m) => {
                let step = i64::from(m) * NANOS_PER_MINUTE;
                let mut t = s.open_ns + step;
                while t < s.close_ns {
                    ts.push(t);
                    sess.push(i as u32);
                    t += step;
                }
                ts.push(s.close_ns);
                sess.push(i as u32);
            }
        }
    }
    (ts, sess)
}

/// Days since 1970-01-01 for a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i32;
    era * 146_097 + doe - 719_468
}

/// Civil date (y, m, d) of a day number.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
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

pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parse `YYYY-MM-DD` into a day number.
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    // `get`, not indexing: a multibyte character may straddle a byte offset
    let y: i32 = s.get(0..4)?.parse().ok()?;
    let m: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parse a timestamp: `YYYY-MM-DD`, optionally followed by ` HH:MM[:SS]` or `THH:MM[:SS]`
/// and a `Z` / `+00:00` suffix. Times are UTC. Returns ns since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() < 10 {
        return None;
    }
    // `get`, not indexing: the 10th byte may be inside a multibyte character
    let day = i64::from(parse_date(s.get(..10)?)?);
    // nanoseconds in an i64 reach from 1677-09-21 to 2262-04-11: None outside, no wrap
    let midnight = day.checked_mul(NANOS_PER_DAY)?;
    let mut rest = s.get(10..)?;
    if rest.is_empty() {
        return Some(midnight);
    }
    rest = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('T'))?;
    for suffix in ["+00:00", "Z", "+0000"] {
        if let Some(r) = rest.strip_suffix(suffix) {
            rest = r;
            break;
        }
    }
    let parts: Vec<&str> = rest.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let mi: i64 = parts[1].parse().ok()?;
    let sec: i64 = if parts.len() == 3 {
        parts[2].parse().ok()?
    } else {
        0
    };
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    midnight.checked_add(((h * 60 + mi) * 60 + sec) * 1_000_000_000)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for ns since the epoch.
pub fn format_timestamp(ns: i64) -> String {
    let days = ns.div_euclid(NANOS_PER_DAY);
    let secs = ns.rem_euclid(NANOS_PER_DAY) / 1_000_000_000;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_date(days as i32),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_text_is_refused_not_a_panic() {
        // the 10th byte (and the 4th, 7th) inside a multibyte character
        for text in [
            "2022-01-0é",
            "202é-01-03",
            "2022-0é-03",
            "2022-01-03é 10:00",
            "€€€€€€€€€€",
            "2022-01-03\u{00e9}",
            "２０２２-01-03",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
            assert_eq!(parse_date(text), None, "{text}");
        }
        assert_eq!(parse_date("2022-01-03"), Some(18_995));
        let mut chars = String::new();
        for c in ['é', '€', '𝄞', 'a', '-', '0', ' ', ':'] {
            chars.push(c);
            for prefix in ["2022-01-0", "2022-01", "2022-01-03 1", ""] {
                let text = format!("{prefix}{chars}");
                let _ = parse_timestamp(&text); // never panics
            }
        }
    }

    #[test]
    fn bar_sizes_parse_and_print() {
        assert_eq!(BarSize::parse("daily").unwrap(), BarSize::Daily);
        assert_eq!(BarSize::parse("1d").unwrap(), BarSize::Daily);
        assert_eq!(BarSize::parse("minute").unwrap(), BarSize::Minutes(1));
        assert_eq!(BarSize::parse("15m").unwrap(), BarSize::Minutes(15));
        assert_eq!(BarSize::parse("1h").unwrap(), BarSize::Minutes(60));
        assert_eq!(BarSize::Minutes(60).label(), "1h");
        assert_eq!(BarSize::Minutes(5).label(), "5m");
        assert!(BarSize::parse("0m").is_err());
        assert!(BarSize::parse("weekly").is_err());
    }

    #[test]
    fn civil_dates_round_trip() {
        for z in [-800_000, -1, 0, 1, 18_993, 19_358, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(parse_date("2022-01-03"), Some(18_995));
        assert_eq!(format_date(18_995), "2022-01-03");
        assert_eq!(parse_date("2022-02-30"), None);
        assert_eq!(
            parse_timestamp("2022-01-03 14:31:00"),
            Some(18_995 * NANOS_PER_DAY + (14 * 60 + 31) * NANOS_PER_MINUTE)
        );
        assert_eq!(
            parse_timestamp("2022-01-03T14:31Z"),
            parse_timestamp("2022-01-03 14:31:00+00:00")
        );
        assert_eq!(parse_timestamp("2022-01-03 25:00"), None);
    }

    #[test]
    fn hourly_grid_closes_on_the_half_hour_and_at_the_close() {
        let open = 18_995 * NANOS_PER_DAY + (14 * 60 + 30) * NANOS_PER_MINUTE; // 09:30 New York
        let close = open + 390 * NANOS_PER_MINUTE;
        let s = [Session {
            date: 18_995,
            open_ns: open,
            close_ns: close,
        }];
        let (ts, sess) = bar_grid(&s, BarSize::Minutes(60));
        assert_eq!(ts.len(), 7);
        assert_eq!(ts[0], open + 60 * NANOS_PER_MINUTE);
        assert_eq!(ts[6], close);
        assert_eq!(sess, vec![0; 7]);
        assert_eq!(bar_grid(&s, BarSize::Minutes(1)).0.len(), 390);
    }
}
