//! Ingest of zipline's `csvdir` layout: `DIR/daily/SYM.csv` or `DIR/minute/SYM.csv`, columns
//! `date,open,high,low,close,volume[,dividend,split]`.
//!
//! Two phases: [`ParsedCsvDir::parse`] reads and validates every row (nothing needs a
//! calendar); [`ParsedCsvDir::into_content`] places rows on the calendar's bar grid and
//! rejects timestamps that are not bars of a session. Every error names file, line,
//! column and reason.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::bundle::{Adjustment, AssetInfo, BarRows, BundleContent};
use crate::calendar::{
    bar_grid, format_date, format_timestamp, parse_date, parse_timestamp, BarSize, Session,
    NANOS_PER_DAY,
};
use crate::error::DataError;

const REQUIRED: [&str; 6] = ["date", "open", "high", "low", "close", "volume"];
const OPTIONAL: [&str; 3] = ["dividend", "split", "pay_date"];

#[derive(Debug, Clone)]
pub struct CsvRow {
    pub line: usize,
    /// ns UTC; for daily files midnight of the session date.
    pub ts: i64,
    pub ohlcv: [i64; 5],
    pub dividend: Option<String>,
    /// The dividend's pay date (days since 1970-01-01), when the source has one.
    pub pay_date: Option<i32>,
    pub split: Option<String>,
}

/// A column of an in-memory table, as its buffers (read in place: an Arrow table's through
/// NumPy views). Nulls are empty values, as in a CSV.
#[derive(Debug, Clone)]
pub enum TableColumn<'a> {
    /// Strings by dictionary: `codes[i]` indexes `values`; a negative code is a null.
    Dictionary {
        codes: &'a [i32],
        values: Vec<String>,
    },
    /// NaN is a null.
    F64(&'a [f64]),
    /// NaN is a null; read by float32's own shortest digits (`64.3`, not `64.30000305`).
    F32(&'a [f32]),
    I64(&'a [i64]),
    /// Instants, ns since the epoch (UTC); `i64::MIN` is a null.
    TimestampNs(&'a [i64]),
    /// Days since the epoch; `i32::MIN` is a null.
    Date(&'a [i32]),
}

impl TableColumn<'_> {
    fn len(&self) -> usize {
        match self {
            TableColumn::Dictionary { codes, .. } => codes.len(),
            TableColumn::F64(v) => v.len(),
            TableColumn::F32(v) => v.len(),
            TableColumn::I64(v) | TableColumn::TimestampNs(v) => v.len(),
            TableColumn::Date(v) => v.len(),
        }
    }

    /// Row `row` as a CSV of the table would hold it, appended to `out`.
    fn write_text(&self, row: usize, out: &mut String) -> Result<(), String> {
        use std::fmt::Write as _;
        match self {
            TableColumn::Dictionary { codes, values } => {
                let code = codes[row];
                if code >= 0 {
                    let value = usize::try_from(code)
                        .ok()
                        .and_then(|c| values.get(c))
                        .ok_or_else(|| format!("dictionary code {code} out of range"))?;
                    out.push_str(value);
                }
            }
            TableColumn::F64(v) if !v[row].is_nan() => {
                let _ = write!(out, "{}", v[row]);
            }
            TableColumn::F32(v) if !v[row].is_nan() => {
                let _ = write!(out, "{}", v[row]);
            }
            TableColumn::I64(v) => {
                let _ = write!(out, "{}", v[row]);
            }
            TableColumn::TimestampNs(v) if v[row] != i64::MIN => {
                let ns = v[row];
                if ns.rem_euclid(1_000_000_000) != 0 {
                    return Err(format!(
                        "a time finer than a second ({ns} ns since 1970): bars are stamped \
                         in whole seconds"
                    ));
                }
                let days = ns.div_euclid(NANOS_PER_DAY);
                let secs = ns.rem_euclid(NANOS_PER_DAY) / 1_000_000_000;
                let day = i32::try_from(days).map_err(|_| format!("{ns} ns is out of range"))?;
                let _ = write!(
                    out,
                    "{} {:02}:{:02}:{:02}",
                    format_date(day),
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                );
            }
            TableColumn::Date(v) if v[row] != i32::MIN => out.push_str(&format_date(v[row])),
            // nulls: an empty value, as in a CSV
            TableColumn::F64(_)
            | TableColumn::F32(_)
            | TableColumn::TimestampNs(_)
            | TableColumn::Date(_) => {}
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct CsvAsset {
    pub symbol: String,
    pub file: PathBuf,
    pub rows: Vec<CsvRow>,
}

#[derive(Debug, Clone)]
pub struct ParsedCsvDir {
    pub frequency: BarSize,
    pub price_scale: u32,
    pub assets: Vec<CsvAsset>,
    /// Prices rounded to the price scale (with `round_prices`; else 0).
    pub rounded: usize,
}

/// The first and last day a bundle holds (1678-01-01 and 2261-12-31, days since the
/// epoch): nanosecond timestamps reach a little further (1677-09-21 to 2262-04-11), and
/// the calendar's sessions around the data need the margin.
const FIRST_DAY: i64 = -106_650;
const LAST_DAY: i64 = 106_650;

/// A bundle's price scale: at most 12 places.
fn check_price_scale(price_scale: u32) -> Result<(), DataError> {
    if price_scale > 12 {
        return Err(DataError::BadRequest(format!(
            "price scale {price_scale} is above the maximum of 12: choose 12 or fewer \
             decimal places (a price with more digits is refused unless they are zeros)"
        )));
    }
    Ok(())
}

/// `v` rounded half to even to a whole multiple of `tick` (> 0), in integers.
fn round_half_even_to(v: i64, tick: i64) -> i64 {
    let (q, r) = (v.div_euclid(tick), v.rem_euclid(tick));
    let up = match (2 * i128::from(r)).cmp(&i128::from(tick)) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q % 2 != 0,
    };
    (q + i64::from(up)).saturating_mul(tick)
}

/// Consecutive rows of one symbol further apart than this (days) are refused unless
/// gaps are allowed: most often one stray row of another decade, which would otherwise
/// stretch the bundle's sessions over the years between without a word.
pub const MAX_GAP_DAYS: i64 = 366;

/// `mantissa` at `scale` as decimal text.
fn fixed_text(mantissa: i64, scale: u32) -> String {
    let p = 10i64.pow(scale);
    if scale == 0 {
        return mantissa.to_string();
    }
    let sign = if mantissa < 0 { "-" } else { "" };
    let m = mantissa.unsigned_abs();
    let p = p.unsigned_abs();
    format!("{sign}{}.{:0width$}", m / p, m % p, width = scale as usize)
}

/// Parse a decimal string into a mantissa at `scale`. Trailing zeros past the scale are
/// fine; any other digit past it is refused (it would be silently rounded).
pub fn parse_fixed(text: &str, scale: u32) -> Result<i64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty value".into());
    }
    if t.eq_ignore_ascii_case("nan")
        || t.eq_ignore_ascii_case("inf")
        || t.eq_ignore_ascii_case("-inf")
    {
        return Err(format!("'{t}' is not a number"));
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("'{t}' is not a decimal number"));
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > scale as usize {
        let advice = if frac_trimmed.len() > 12 || scale >= 12 {
            "round them with round_prices=True (--round-prices): half to even, at the price \
             scale, counted in the ingest report"
                .to_string()
        } else {
            format!(
                "pass a price scale of {} (--price-scale), or round with round_prices=True \
                 (--round-prices)",
                frac_trimmed.len()
            )
        };
        return Err(format!(
            "'{t}' has {} decimal places, more than the bundle's price scale of {scale}: {advice}",
            frac_trimmed.len()
        ));
    }
    let mut mantissa: i64 = 0;
    let overflow = || format!("'{t}' is too large");
    for b in int_part.bytes() {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    for i in 0..scale as usize {
        let digit = frac_trimmed
            .as_bytes()
            .get(i)
            .map_or(0, |b| i64::from(b - b'0'));
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(digit))
            .ok_or_else(overflow)?;
    }
    if mantissa >= 1_000_000_000_000_000_000 {
        return Err(format!(
            "'{t}' has more than 18 digits at this scale (the bundle stores DECIMAL(18, {scale}))"
        ));
    }
    Ok(if neg { -mantissa } else { mantissa })
}

/// [`parse_fixed`], rounding a value with more places than `scale` half to even (on its
/// decimal digits, as written) instead of refusing it; the flag says it was rounded.
pub fn parse_fixed_rounding(text: &str, scale: u32) -> Result<(i64, bool), String> {
    match parse_fixed(text, scale) {
        Ok(m) => Ok((m, false)),
        Err(reason) if reason.contains("decimal places") => {
            let t = text.trim();
            let (neg, body) = match t.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, t.strip_prefix('+').unwrap_or(t)),
            };
            let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
            let (kept, rest) = frac_part.split_at(scale as usize);
            let mut m = parse_fixed(&format!("{int_part}.{kept}"), scale)?.unsigned_abs();
            let first = rest.as_bytes()[0];
            let beyond = rest[1..].bytes().any(|b| b != b'0');
            let up = first > b'5' || (first == b'5' && (beyond || m % 2 == 1));
            if up {
                m += 1;
            }
            let m = i64::try_from(m).map_err(|_| format!("'{t}' is too large"))?;
            Ok((if neg { -m } else { m }, true))
        }
        Err(reason) => Err(reason),
    }
}

fn bad_row(file: &Path, line: usize, column: &str, reason: impl Into<String>) -> DataError {
    DataError::BadRow {
        file: file.to_path_buf(),
        line,
        column: column.to_string(),
        reason: reason.into(),
    }
}

/// The checks of a row against the one before it of the same symbol, in time order:
/// `cur` is (line, timestamp, the date as written). Duplicates, rows out of order, gaps
/// over a year (unless allowed) and a dividend not below the previous close are refused.
fn check_after(
    path: &Path,
    prev: &CsvRow,
    cur: (usize, i64, &str),
    dividend: Option<&str>,
    scale: u32,
    allow_gaps: bool,
) -> Result<(), DataError> {
    let (line, ts, date_text) = cur;
    if ts == prev.ts {
        return Err(bad_row(
            path,
            line,
            "date",
            format!(
                "duplicate timestamp {date_text} (also on line {})",
                prev.line
            ),
        ));
    }
    if ts < prev.ts {
        return Err(bad_row(
            path,
            line,
            "date",
            format!(
                "timestamps not sorted: {date_text} comes after {} (line {})",
                format_timestamp(prev.ts),
                prev.line
            ),
        ));
    }
    let gap_days = (ts - prev.ts) / NANOS_PER_DAY;
    if !allow_gaps && gap_days > MAX_GAP_DAYS {
        return Err(bad_row(
            path,
            line,
            "date",
            format!(
                "{date_text} is {gap_days} days after the previous row ({}, line {}): \
                 a stray row? If the data really has a gap of over a year, allow it \
                 with allow_gaps=True (--allow-gaps)",
                format_timestamp(prev.ts),
                prev.line
            ),
        ));
    }
    if let Some(d) = dividend {
        // zipline's ratio 1 - dividend / previous close must stay positive
        let d_m = i128::from(parse_fixed(d, 12).unwrap_or(0));
        let close_m = i128::from(prev.ohlcv[3]) * 10i128.pow(12 - scale);
        if d_m >= close_m {
            return Err(bad_row(
                path,
                line,
                "dividend",
                format!(
                    "dividend {d} is not below the previous close {} (line {}): \
                     adjusted prices before it would be zero or negative",
                    fixed_text(prev.ohlcv[3], scale),
                    prev.line
                ),
            ));
        }
    }
    Ok(())
}

/// A long table's rows of one symbol in time order (any order in the file), then checked
/// pair by pair as a csvdir file's are.
fn sort_and_check(
    path: &Path,
    rows: &mut [CsvRow],
    frequency: BarSize,
    scale: u32,
    allow_gaps: bool,
) -> Result<(), DataError> {
    rows.sort_by_key(|r| (r.ts, r.line));
    for i in 1..rows.len() {
        let (before, after) = rows.split_at(i);
        let cur = &after[0];
        let text = match frequency {
            BarSize::Daily => format_date(cur.ts.div_euclid(NANOS_PER_DAY) as i32),
            BarSize::Minutes(_) => format_timestamp(cur.ts),
        };
        // the later line of a duplicate is the one refused, wherever it sorts
        let (prev, cur) = if before[i - 1].ts == cur.ts && before[i - 1].line > cur.line {
            (cur, &before[i - 1])
        } else {
            (&before[i - 1], cur)
        };
        check_after(
            path,
            prev,
            (cur.line, cur.ts, &text),
            cur.dividend.as_deref(),
            scale,
            allow_gaps,
        )?;
    }
    Ok(())
}

/// A column name of a table's header, as the parser reads it: trimmed, lower-cased, without
/// a byte-order mark (`timestamp` read as `date` in a long table).
fn column_name(name: &str, long: bool) -> String {
    let s = name
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase();
    if long && s == "timestamp" {
        "date".to_string()
    } else {
        s
    }
}

/// The columns of a file's header line.
fn header_names(header: &str, long: bool) -> Vec<String> {
    header
        .trim_end_matches('\r')
        .split(',')
        .map(|s| column_name(s, long))
        .collect()
}

/// Rows by symbol, in order of first appearance.
type SymbolRows = Vec<(String, Vec<CsvRow>)>;

/// Rows of one table, checked and grouped by symbol as they come: what a csvdir file's
/// or a long table's lines and an in-memory table's rows share. Each row is its fields as
/// text, in the header's order (an in-memory table's numbers as their shortest digits).
struct RowParser<'a> {
    path: &'a Path,
    frequency: BarSize,
    scale: u32,
    long: bool,
    allow_gaps: bool,
    round_prices: bool,
    rounded: usize,
    cols: [usize; 6],
    div_col: Option<usize>,
    split_col: Option<usize>,
    pay_col: Option<usize>,
    symbol_col: Option<usize>,
    groups: Vec<(String, Vec<CsvRow>)>,
    group_of: HashMap<String, usize>,
}

impl<'a> RowParser<'a> {
    /// Check the header's `names` (line 1 of `path`).
    fn new(
        path: &'a Path,
        names: &[String],
        frequency: BarSize,
        scale: u32,
        long: bool,
        allow_gaps: bool,
        round_prices: bool,
    ) -> Result<Self, DataError> {
        for n in names {
            let known = REQUIRED.contains(&n.as_str())
                || OPTIONAL.contains(&n.as_str())
                || (long && n == "symbol");
            if !known {
                let expected = if long {
                    "unknown column (expected symbol,date|timestamp,open,high,low,close,volume[,dividend,split,pay_date])"
                } else {
                    "unknown column (expected date,open,high,low,close,volume[,dividend,split,pay_date])"
                };
                return Err(bad_row(path, 1, n, expected));
            }
            if names.iter().filter(|m| *m == n).count() > 1 {
                return Err(bad_row(path, 1, n, "column appears twice"));
            }
        }
        let index = |name: &str| names.iter().position(|n| n == name);
        let mut cols = [0usize; 6];
        for (k, name) in REQUIRED.iter().enumerate() {
            cols[k] =
                index(name).ok_or_else(|| bad_row(path, 1, name, "missing required column"))?;
        }
        let (div_col, split_col) = (index("dividend"), index("split"));
        let pay_col = index("pay_date");
        if pay_col.is_some() && div_col.is_none() {
            return Err(bad_row(
                path,
                1,
                "pay_date",
                "a pay_date column needs a dividend column",
            ));
        }
        let symbol_col = if long {
            Some(
                index("symbol")
                    .ok_or_else(|| bad_row(path, 1, "symbol", "missing required column"))?,
            )
        } else {
            None
        };
        Ok(RowParser {
            path,
            frequency,
            scale,
            long,
            allow_gaps,
            round_prices,
            rounded: 0,
            cols,
            div_col,
            split_col,
            pay_col,
            symbol_col,
            groups: Vec::new(),
            group_of: HashMap::new(),
        })
    }

    /// Check one data row (`line`, counted from the header's 1) and add it to its symbol.
    #[allow(clippy::too_many_lines)]
    fn row(&mut self, line: usize, fields: &[&str]) -> Result<(), DataError> {
        let (path, scale, frequency) = (self.path, self.scale, self.frequency);
        let (long, allow_gaps, round_prices) = (self.long, self.allow_gaps, self.round_prices);
        let (cols, div_col, split_col) = (self.cols, self.div_col, self.split_col);
        let (pay_col, symbol_col) = (self.pay_col, self.symbol_col);
        let rounded = &mut self.rounded;
        let (groups, group_of) = (&mut self.groups, &mut self.group_of);
        let date_text = fields[cols[0]].trim();
        let ts = parse_timestamp(date_text)
            .filter(|ts| (FIRST_DAY..=LAST_DAY).contains(&ts.div_euclid(NANOS_PER_DAY)))
            .ok_or_else(|| {
                let reason = if date_text.get(..10).and_then(parse_date).is_some() {
                    format!(
                        "'{date_text}' is outside the dates a bundle can hold (1678-01-01 to \
                     2261-12-31: nanosecond timestamps)"
                    )
                } else {
                    format!("'{date_text}' is not a date/timestamp (YYYY-MM-DD[ HH:MM[:SS]])")
                };
                bad_row(path, line, "date", reason)
            })?;
        if frequency.is_daily() && ts.rem_euclid(NANOS_PER_DAY) != 0 {
            return Err(bad_row(
                path,
                line,
                "date",
                format!("'{date_text}' has a time of day in a daily file"),
            ));
        }
        let mut ohlcv = [0i64; 5];
        for k in 0..4 {
            let name = REQUIRED[k + 1];
            let v = if round_prices {
                let (v, was) = parse_fixed_rounding(fields[cols[k + 1]], scale)
                    .map_err(|r| bad_row(path, line, name, r))?;
                *rounded += usize::from(was);
                v
            } else {
                parse_fixed(fields[cols[k + 1]], scale).map_err(|r| bad_row(path, line, name, r))?
            };
            if v <= 0 {
                return Err(bad_row(
                    path,
                    line,
                    name,
                    format!("price must be positive, got {}", fields[cols[k + 1]].trim()),
                ));
            }
            ohlcv[k] = v;
        }
        let vol_text = fields[cols[5]];
        let v = parse_fixed(vol_text, 0).map_err(|r| {
            bad_row(
                path,
                line,
                "volume",
                r.replace("price scale of 0", "volume (whole shares)"),
            )
        })?;
        if v < 0 {
            return Err(bad_row(
                path,
                line,
                "volume",
                format!("negative volume {}", vol_text.trim()),
            ));
        }
        ohlcv[4] = v;
        let [o, h, l, c, _] = ohlcv;
        if h < l {
            return Err(bad_row(
                path,
                line,
                "high",
                format!(
                    "high {} is below low {}",
                    fields[cols[2]].trim(),
                    fields[cols[3]].trim()
                ),
            ));
        }
        for (k, name) in [(0usize, "open"), (3, "close")] {
            let p = [o, c][usize::from(k == 3)];
            if p < l || p > h {
                return Err(bad_row(
                    path,
                    line,
                    name,
                    format!(
                        "{name} {} is outside [low {}, high {}]",
                        fields[cols[k + 1]].trim(),
                        fields[cols[3]].trim(),
                        fields[cols[2]].trim()
                    ),
                ));
            }
        }
        let extra =
            |col: Option<usize>, name: &str, neutral: &str| -> Result<Option<String>, DataError> {
                let Some(ci) = col else { return Ok(None) };
                let t = fields[ci].trim();
                let m = parse_fixed(t, 12).map_err(|r| {
                    bad_row(
                        path,
                        line,
                        name,
                        r.replace("the bundle's price scale of 12", "12"),
                    )
                })?;
                if m < 0 || (name == "split" && m == 0) {
                    return Err(bad_row(
                        path,
                        line,
                        name,
                        format!(
                            "{name} must be {}, got {t}",
                            if name == "split" {
                                "positive"
                            } else {
                                "non-negative"
                            }
                        ),
                    ));
                }
                let neutral_m = parse_fixed(neutral, 12).expect("neutral parses");
                Ok((m != neutral_m).then(|| t.to_string()))
            };
        let dividend = extra(div_col, "dividend", "0")?;
        let split = extra(split_col, "split", "1")?;
        let pay_date = match pay_col.map(|ci| fields[ci].trim()) {
            None | Some("") => None,
            Some(t) => {
                let day = parse_date(t).ok_or_else(|| {
                    bad_row(
                        path,
                        line,
                        "pay_date",
                        format!("'{t}' is not a date (YYYY-MM-DD)"),
                    )
                })?;
                if dividend.is_none() {
                    return Err(bad_row(
                        path,
                        line,
                        "pay_date",
                        format!("pay date {t} on a row without a dividend"),
                    ));
                }
                if i64::from(day) < ts.div_euclid(NANOS_PER_DAY) {
                    return Err(bad_row(
                        path,
                        line,
                        "pay_date",
                        format!("pay date {t} is before the ex-date {date_text}"),
                    ));
                }
                Some(day)
            }
        };
        let symbol = match symbol_col {
            Some(ci) => {
                let s = fields[ci].trim();
                if s.is_empty() {
                    return Err(bad_row(path, line, "symbol", "empty symbol"));
                }
                if let Some(c) = s.chars().find(|c| c.is_control()) {
                    return Err(bad_row(
                        path,
                        line,
                        "symbol",
                        format!("symbol {s:?} holds the control character {c:?}"),
                    ));
                }
                s.to_string()
            }
            None => String::new(),
        };
        let g = *group_of.entry(symbol.clone()).or_insert_with(|| {
            groups.push((symbol.clone(), Vec::new()));
            groups.len() - 1
        });
        let rows = &mut groups[g].1;
        if !long {
            // a csvdir file must be in time order; a long table is sorted below
            if let Some(prev) = rows.last() {
                check_after(
                    path,
                    prev,
                    (line, ts, date_text),
                    dividend.as_deref(),
                    scale,
                    allow_gaps,
                )?;
            }
        }
        rows.push(CsvRow {
            line,
            ts,
            ohlcv,
            dividend,
            pay_date,
            split,
        });
        Ok(())
    }

    /// The rows by symbol, in order of first appearance (a long table's sorted by time and
    /// checked), and how many prices were rounded.
    fn finish(self) -> Result<(SymbolRows, usize), DataError> {
        let mut groups = self.groups;
        if groups.is_empty() {
            return Err(DataError::BadFile {
                file: self.path.to_path_buf(),
                reason: "no data rows after the header".into(),
            });
        }
        if self.long {
            for (_, rows) in &mut groups {
                sort_and_check(self.path, rows, self.frequency, self.scale, self.allow_gaps)?;
            }
        }
        Ok((groups, self.rounded))
    }
}

/// Parse one file. With `long`, the file is a long table: a `symbol` column says whose
/// row it is (`timestamp` may name the date column) and rows of different symbols may
/// interleave; ordering and duplicates are checked per symbol. Returns rows per symbol in
/// order of first appearance (one unnamed group for a csvdir file).
#[allow(clippy::too_many_arguments)]
fn parse_file(
    path: &Path,
    frequency: BarSize,
    scale: u32,
    long: bool,
    allow_gaps: bool,
    round_prices: bool,
    rounded: &mut usize,
) -> Result<Vec<(String, Vec<CsvRow>)>, DataError> {
    let bytes = fs::read(path).map_err(DataError::io(path))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::BadFile {
            file: path.to_path_buf(),
            reason: "empty file".into(),
        });
    }
    // lines end in \n or \r\n; a file with \r alone (classic Mac) ends them in \r
    let eol = if !bytes.contains(&b'\n') && bytes.contains(&b'\r') {
        b'\r'
    } else {
        b'\n'
    };
    let mut lines = bytes.split(|&b| b == eol).enumerate();
    let (_, header_bytes) = lines.next().expect("non-empty file has a first line");
    let header = std::str::from_utf8(header_bytes).map_err(|e| {
        bad_row(
            path,
            1,
            "header",
            format!("not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let names = header_names(header, long);
    let mut parser = RowParser::new(
        path,
        &names,
        frequency,
        scale,
        long,
        allow_gaps,
        round_prices,
    )?;
    for (ix, raw) in lines {
        let line = ix + 1;
        let text = std::str::from_utf8(raw).map_err(|e| {
            bad_row(
                path,
                line,
                "-",
                format!("not UTF-8 (byte {} of the line)", e.valid_up_to()),
            )
        })?;
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(',').collect();
        if fields.len() != names.len() {
            return Err(bad_row(
                path,
                line,
                "-",
                format!("{} fields, the header has {}", fields.len(), names.len()),
            ));
        }
        parser.row(line, &fields)?;
    }
    let (groups, n) = parser.finish()?;
    *rounded += n;
    Ok(groups)
}

/// Refuse a symbol with a control character, or one equal to an earlier symbol when
/// case-folded (`AAA.csv` and `AAA.CSV` would be two assets named alike, one of them
/// unreachable by `symbol()`). `seen` maps case-folded symbols to where they came from.
fn check_symbol(
    symbol: &str,
    file: &Path,
    line: Option<usize>,
    seen: &mut HashMap<String, String>,
) -> Result<(), DataError> {
    let here = match line {
        Some(l) => format!("{}:{l}", file.display()),
        None => file.display().to_string(),
    };
    let bad = |reason: String| match line {
        Some(l) => bad_row(file, l, "symbol", reason),
        None => DataError::BadFile {
            file: file.to_path_buf(),
            reason,
        },
    };
    if symbol.is_empty() {
        return Err(bad("an empty symbol".into()));
    }
    if let Some(c) = symbol.chars().find(|c| c.is_control()) {
        return Err(bad(format!(
            "symbol {symbol:?} holds the control character {c:?}"
        )));
    }
    if let Some(first) = seen.insert(symbol.to_lowercase(), here.clone()) {
        return Err(bad(format!(
            "symbol {symbol:?} differs only in case from the one of {first}: symbols must \
             stay distinct when case is ignored"
        )));
    }
    Ok(())
}

impl ParsedCsvDir {
    /// Read `dir/daily/*.csv` (or `minute/`, by `frequency`). Files are read in symbol order;
    /// sids follow that order.
    pub fn parse(
        dir: &Path,
        frequency: BarSize,
        price_scale: u32,
    ) -> Result<ParsedCsvDir, DataError> {
        Self::parse_with_progress(dir, frequency, price_scale, false, false, &mut |_, _| true)
    }

    /// [`ParsedCsvDir::parse`], reporting `(files done, files)` after each file. With
    /// `round_prices`, prices with more places than the scale are rounded (half to even)
    /// and counted instead of refused.
    pub fn parse_with_progress(
        dir: &Path,
        frequency: BarSize,
        price_scale: u32,
        allow_gaps: bool,
        round_prices: bool,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<ParsedCsvDir, DataError> {
        check_price_scale(price_scale)?;
        let sub = match frequency {
            BarSize::Daily => "daily",
            BarSize::Minutes(1) => "minute",
            other @ BarSize::Minutes(_) => {
                return Err(DataError::BadRequest(format!(
                    "csvdir holds daily/ or minute/ files; {} bars cannot be ingested from it: \
                     ingest the minute files and let history and pipelines aggregate them \
                     (data.history(..., frequency=...)), or ingest {}-bar rows with \
                     `rustybt ingest table`",
                    other.label(),
                    other.label()
                )));
            }
        };
        let files_dir = dir.join(sub);
        if !dir.is_dir() {
            return Err(DataError::BadFile {
                file: dir.to_path_buf(),
                reason: "no such directory".into(),
            });
        }
        if !files_dir.is_dir() {
            return Err(DataError::BadFile {
                file: files_dir,
                reason: format!("missing the '{sub}' directory of the csvdir layout"),
            });
        }
        let mut files: Vec<PathBuf> = fs::read_dir(&files_dir)
            .map_err(DataError::io(&files_dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(DataError::BadFile {
                file: files_dir,
                reason: "no .csv files".into(),
            });
        }
        let mut assets = Vec::with_capacity(files.len());
        let mut rounded = 0usize;
        let total = files.len();
        let mut seen = HashMap::new();
        for (done, file) in files.into_iter().enumerate() {
            let symbol = match file.file_stem().map(|s| s.to_str()) {
                Some(Some(s)) => s.to_string(),
                _ => {
                    return Err(DataError::BadFile {
                        file,
                        reason: "the file name is not UTF-8, so it cannot name a symbol; \
                                 rename the file"
                            .into(),
                    })
                }
            };
            check_symbol(&symbol, &file, None, &mut seen)?;
            let (_, rows) = parse_file(
                &file,
                frequency,
                price_scale,
                false,
                allow_gaps,
                round_prices,
                &mut rounded,
            )?
            .pop()
            .expect("a parsed file has rows");
            assets.push(CsvAsset { symbol, file, rows });
            if !progress(done + 1, total) {
                return Err(DataError::Interrupted);
            }
        }
        Ok(ParsedCsvDir {
            frequency,
            price_scale,
            assets,
            rounded,
        })
    }

    /// Read a long table: one CSV with a `symbol` column (`timestamp` or `date`, OHLCV,
    /// optional dividend, split and pay date), rows in any order (each asset's are sorted
    /// by time here, then checked as a csvdir file's). Sids follow symbol order.
    pub fn parse_long(
        path: &Path,
        frequency: BarSize,
        price_scale: u32,
        allow_gaps: bool,
        round_prices: bool,
    ) -> Result<ParsedCsvDir, DataError> {
        check_price_scale(price_scale)?;
        let mut rounded = 0usize;
        let groups = parse_file(
            path,
            frequency,
            price_scale,
            true,
            allow_gaps,
            round_prices,
            &mut rounded,
        )?;
        Self::from_long_groups(path, frequency, price_scale, groups, rounded)
    }

    /// A long table's rows by symbol as a parsed table: symbols checked, sids in symbol
    /// order.
    fn from_long_groups(
        path: &Path,
        frequency: BarSize,
        price_scale: u32,
        mut groups: Vec<(String, Vec<CsvRow>)>,
        rounded: usize,
    ) -> Result<ParsedCsvDir, DataError> {
        let mut seen = HashMap::new();
        for (symbol, rows) in &groups {
            check_symbol(symbol, path, rows.first().map(|r| r.line), &mut seen)?;
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let assets = groups
            .into_iter()
            .map(|(symbol, rows)| CsvAsset {
                symbol,
                file: path.to_path_buf(),
                rows,
            })
            .collect();
        Ok(ParsedCsvDir {
            frequency,
            price_scale,
            assets,
            rounded,
        })
    }

    /// Read a long table held in memory (an Arrow table's columns, read in place): the
    /// columns `names` (as a long table's header names them) over the same rows. Each
    /// value is read as the text a CSV of the table would hold (numbers by their shortest
    /// digits, float32 by its own), then checked as [`ParsedCsvDir::parse_long`] checks a
    /// file's; `label` names the table in errors, whose lines count the header as line 1
    /// (row `i` of the table is line `i + 2`).
    pub fn parse_table(
        label: &Path,
        names: &[String],
        columns: &[TableColumn<'_>],
        frequency: BarSize,
        price_scale: u32,
        allow_gaps: bool,
        round_prices: bool,
    ) -> Result<ParsedCsvDir, DataError> {
        check_price_scale(price_scale)?;
        if names.len() != columns.len() {
            return Err(DataError::BadRequest(format!(
                "{} column names for {} columns",
                names.len(),
                columns.len()
            )));
        }
        let n = columns.first().map_or(0, TableColumn::len);
        if let Some((name, c)) = names.iter().zip(columns).find(|(_, c)| c.len() != n) {
            return Err(DataError::BadRequest(format!(
                "column {name:?} has {} rows, the table {n}",
                c.len()
            )));
        }
        let names: Vec<String> = names.iter().map(|n| column_name(n, true)).collect();
        let mut parser = RowParser::new(
            label,
            &names,
            frequency,
            price_scale,
            true,
            allow_gaps,
            round_prices,
        )?;
        let mut texts = vec![String::new(); columns.len()];
        for row in 0..n {
            for (text, column) in texts.iter_mut().zip(columns) {
                text.clear();
                column
                    .write_text(row, text)
                    .map_err(|reason| bad_row(label, row + 2, "-", reason))?;
            }
            let fields: Vec<&str> = texts.iter().map(String::as_str).collect();
            parser.row(row + 2, &fields)?;
        }
        let (groups, rounded) = parser.finish()?;
        Self::from_long_groups(label, frequency, price_scale, groups, rounded)
    }

    /// Round each asset's open, high, low and close half to even to a whole number of its
    /// tick (`ticks[sid]`, a mantissa at the price scale; 0 leaves the asset as it is).
    /// Counted in [`ParsedCsvDir::rounded`]; returns how many prices changed. A price the
    /// tick would round to zero is refused, naming its place.
    pub fn round_to_ticks(&mut self, ticks: &[i64]) -> Result<usize, DataError> {
        if ticks.len() != self.assets.len() {
            return Err(DataError::BadRequest(format!(
                "{} tick sizes for {} symbols",
                ticks.len(),
                self.assets.len()
            )));
        }
        if let Some((asset, _)) = self.assets.iter().zip(ticks).find(|(_, &t)| t < 0) {
            return Err(DataError::BadRequest(format!(
                "{}: a tick size must be positive",
                asset.symbol
            )));
        }
        let mut changed = 0usize;
        for (asset, &tick) in self.assets.iter_mut().zip(ticks) {
            if tick <= 1 {
                continue; // none, or one unit of the price scale: nothing to round
            }
            for row in &mut asset.rows {
                for (k, name) in ["open", "high", "low", "close"].iter().enumerate() {
                    let v = row.ohlcv[k];
                    let r = round_half_even_to(v, tick);
                    if r == v {
                        continue;
                    }
                    if r <= 0 {
                        return Err(DataError::BadRow {
                            file: asset.file.clone(),
                            line: row.line,
                            column: (*name).to_string(),
                            reason: format!(
                                "{}'s price rounds to 0 at its tick size (a price must be \
                                 positive)",
                                asset.symbol
                            ),
                        });
                    }
                    row.ohlcv[k] = r;
                    changed += 1;
                }
            }
        }
        self.rounded += changed;
        Ok(changed)
    }

    /// First and last date (day numbers) found in any file.
    pub fn date_range(&self) -> (i32, i32) {
        let day = |ts: i64| ts.div_euclid(NANOS_PER_DAY) as i32;
        let lo = self
            .assets
            .iter()
            .map(|a| day(a.rows[0].ts))
            .min()
            .unwrap_or(0);
        let hi = self
            .assets
            .iter()
            .map(|a| day(a.rows[a.rows.len() - 1].ts))
            .max()
            .unwrap_or(0);
        (lo, hi)
    }

    /// Place every row on the bar grid of `sessions` (restricted to the data's span).
    /// Rows on dates (or minutes) that are not the calendar's are all reported at once,
    /// the first ten by place with the total; with `drop_non_sessions` they are left out
    /// instead (a dropped row may not carry a split or dividend), and counted: the second
    /// value returned.
    pub fn into_content(
        self,
        sessions: &[Session],
        calendar: &str,
        drop_non_sessions: bool,
    ) -> Result<(BundleContent, usize), DataError> {
        let (lo, hi) = self.date_range();
        // minute timestamps are UTC and can fall on the next UTC day of their session
        let sessions: Vec<Session> = sessions
            .iter()
            .copied()
            .filter(|s| s.date >= lo - 1 && s.date <= hi)
            .collect();
        let (timestamps, _) = bar_grid(&sessions, self.frequency);
        let mut rows = BarRows::default();
        let mut assets = Vec::new();
        let mut adjustments = Vec::new();
        // every row off the calendar: (file, line, what it is)
        let mut off: Vec<(&Path, usize, String)> = Vec::new();
        let mut off_with_action = None;
        for (sid, asset) in self.assets.iter().enumerate() {
            let sid32 = sid as u32;
            let mut first_bar = None;
            let mut last_bar = 0usize;
            for r in &asset.rows {
                let bar = match self.frequency {
                    BarSize::Daily => {
                        let date = r.ts.div_euclid(NANOS_PER_DAY) as i32;
                        let i = sessions.partition_point(|s| s.date < date);
                        (i < sessions.len() && sessions[i].date == date).then_some(i)
                    }
                    BarSize::Minutes(_) => {
                        let i = timestamps.partition_point(|&t| t < r.ts);
                        (i < timestamps.len() && timestamps[i] == r.ts).then_some(i)
                    }
                };
                let Some(bar) = bar else {
                    let what = match self.frequency {
                        BarSize::Daily => format_date(r.ts.div_euclid(NANOS_PER_DAY) as i32),
                        BarSize::Minutes(_) => format_timestamp(r.ts),
                    };
                    if off_with_action.is_none() && (r.dividend.is_some() || r.split.is_some()) {
                        off_with_action = Some((asset.file.as_path(), r.line, what.clone()));
                    }
                    off.push((asset.file.as_path(), r.line, what));
                    continue;
                };
                first_bar.get_or_insert(bar);
                last_bar = bar;
                rows.push(sid32, bar as u32, r.ohlcv);
                let session_date = |b: usize| match self.frequency {
                    BarSize::Daily => sessions[b].date,
                    BarSize::Minutes(_) => {
                        let (_, sess) =
                            (0, sessions.partition_point(|s| s.close_ns < timestamps[b]));
                        sessions[sess.min(sessions.len() - 1)].date
                    }
                };
                if let Some(amount) = &r.dividend {
                    adjustments.push(Adjustment::Dividend {
                        sid: sid32,
                        date: session_date(bar),
                        amount: amount.clone(),
                        pay_date: r.pay_date,
                    });
                }
                if let Some(ratio) = &r.split {
                    adjustments.push(Adjustment::Split {
                        sid: sid32,
                        date: session_date(bar),
                        ratio: ratio.clone(),
                    });
                }
            }
            let date_of = |b: usize| match self.frequency {
                BarSize::Daily => sessions[b].date,
                BarSize::Minutes(_) => {
                    sessions[sessions
                        .partition_point(|s| s.close_ns < timestamps[b])
                        .min(sessions.len() - 1)]
                    .date
                }
            };
            if first_bar.is_none() && drop_non_sessions {
                return Err(DataError::BadFile {
                    file: asset.file.clone(),
                    reason: format!(
                        "every row of {} is off the {calendar} calendar: dropping them would \
                         leave the asset with no bars",
                        asset.symbol
                    ),
                });
            }
            assets.push(AssetInfo {
                sid: sid32,
                symbol: asset.symbol.clone(),
                exchange: calendar.to_string(),
                start_date: date_of(first_bar.unwrap_or(0)),
                end_date: date_of(last_bar),
                lot_scale: 0,
            });
        }
        if let Some((file, line, what)) = off_with_action.filter(|_| drop_non_sessions) {
            return Err(bad_row(
                file,
                line,
                "date",
                format!(
                    "{what} is not a {calendar} session and the row carries a split or \
                     dividend, which dropping it would lose: move it to the next session"
                ),
            ));
        }
        if !off.is_empty() && !drop_non_sessions {
            let (file, line, what) = &off[0];
            let kind = match self.frequency {
                BarSize::Daily => format!("a {calendar} trading session"),
                BarSize::Minutes(_) => format!(
                    "a minute of a {calendar} session (minute bars are stamped with their close, UTC)"
                ),
            };
            let mut reason = format!("{what} is not {kind}");
            if off.len() > 1 {
                use std::fmt::Write as _;
                let shown: Vec<String> = off
                    .iter()
                    .take(10)
                    .map(|(f, l, w)| {
                        let name = f.file_name().map_or_else(
                            || f.display().to_string(),
                            |n| n.to_string_lossy().into_owned(),
                        );
                        format!("{name}:{l} {w}")
                    })
                    .collect();
                let _ = write!(
                    reason,
                    "; {} rows in all are off the calendar (first {}: {}): the calendar's \
                     sessions are the bundle's, so drop them with drop_non_sessions=True \
                     (--drop-non-sessions) or ingest with the calendar the data follows",
                    off.len(),
                    shown.len(),
                    shown.join(", ")
                );
            }
            return Err(bad_row(file, *line, "date", reason));
        }
        if rows.is_empty() {
            return Err(DataError::BadRequest(format!(
                "no row of the data is on a {calendar} session: is it the right calendar?"
            )));
        }
        let dropped = off.len();
        // keep only sessions from the first to the last with data
        let used_first = rows.bar.iter().min().copied().unwrap_or(0) as usize;
        let used_last = rows.bar.iter().max().copied().unwrap_or(0) as usize;
        let (s_lo, s_hi) = match self.frequency {
            BarSize::Daily => (used_first, used_last),
            BarSize::Minutes(_) => {
                let s = |b: usize| sessions.partition_point(|s| s.close_ns < timestamps[b]);
                (s(used_first), s(used_last))
            }
        };
        let kept: Vec<Session> = sessions[s_lo..=s_hi].to_vec();
        let (new_ts, _) = bar_grid(&kept, self.frequency);
        let offset = timestamps.partition_point(|&t| t < new_ts[0]) as u32;
        for b in &mut rows.bar {
            *b -= offset;
        }
        Ok((
            BundleContent {
                frequency: self.frequency,
                calendar: calendar.to_string(),
                price_scale: self.price_scale,
                source: "csvdir".to_string(),
                sessions: kept,
                timestamps: new_ts,
                assets,
                rows,
                adjustments,
            },
            dropped,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_parsing() {
        assert_eq!(parse_fixed("12.34", 4), Ok(123_400));
        assert_eq!(parse_fixed("12.340000", 4), Ok(123_400));
        assert_eq!(parse_fixed("-0.5", 2), Ok(-50));
        assert_eq!(parse_fixed("7", 0), Ok(7));
        assert!(parse_fixed("12.34567", 4)
            .unwrap_err()
            .contains("--price-scale"));
        assert!(parse_fixed("NaN", 4).unwrap_err().contains("not a number"));
        assert!(parse_fixed("", 4).unwrap_err().contains("empty"));
        assert!(parse_fixed("1e5", 4).is_err());
    }

    #[test]
    fn table_columns_read_as_a_csv_of_the_table_would_hold_them() {
        let text = |c: &TableColumn<'_>, row: usize| {
            let mut out = String::new();
            c.write_text(row, &mut out).map(|()| out)
        };
        let f32s = [64.3f32, f32::NAN];
        assert_eq!(text(&TableColumn::F32(&f32s), 0).unwrap(), "64.3");
        assert_eq!(text(&TableColumn::F32(&f32s), 1).unwrap(), "");
        let f64s = [f64::from(64.3f32), 1e-7, 1e21];
        assert_eq!(
            text(&TableColumn::F64(&f64s), 0).unwrap(),
            "64.30000305175781"
        );
        assert_eq!(text(&TableColumn::F64(&f64s), 1).unwrap(), "0.0000001");
        assert_eq!(
            text(&TableColumn::F64(&f64s), 2).unwrap(),
            "1000000000000000000000"
        );
        let ts = [1_641_220_200_000_000_000i64, i64::MIN, 1];
        let c = TableColumn::TimestampNs(&ts);
        assert_eq!(text(&c, 0).unwrap(), "2022-01-03 14:30:00");
        assert_eq!(text(&c, 1).unwrap(), "");
        assert!(text(&c, 2).unwrap_err().contains("finer than a second"));
        let codes = [1, -1, 7];
        let c = TableColumn::Dictionary {
            codes: &codes,
            values: vec!["AAA".into(), "BBB".into()],
        };
        assert_eq!(text(&c, 0).unwrap(), "BBB");
        assert_eq!(text(&c, 1).unwrap(), "");
        assert!(text(&c, 2).is_err());
        let names: Vec<String> = ["symbol", "date", "open", "high", "low", "close", "volume"]
            .map(String::from)
            .to_vec();
        let (sym, day, p, v) = ([0], [19_360], [10.5], [100i64]);
        let cols = [
            TableColumn::Dictionary {
                codes: &sym,
                values: vec!["AAA".into()],
            },
            TableColumn::Date(&day),
            TableColumn::F64(&p),
            TableColumn::F64(&p),
            TableColumn::F64(&p),
            TableColumn::F64(&p),
            TableColumn::I64(&v),
        ];
        let label = Path::new("the table");
        let parsed =
            ParsedCsvDir::parse_table(label, &names, &cols, BarSize::Daily, 2, false, false)
                .unwrap();
        assert_eq!(
            parsed.assets[0].rows[0].ohlcv,
            [1050, 1050, 1050, 1050, 100]
        );
        let short = [TableColumn::I64(&v), TableColumn::I64(&[])];
        assert!(ParsedCsvDir::parse_table(
            label,
            &names[..2],
            &short,
            BarSize::Daily,
            2,
            false,
            false
        )
        .is_err());
    }

    #[test]
    fn prices_round_half_to_even_to_a_tick() {
        // ticks of 0.25 at 2 places: mantissa 25
        assert_eq!(round_half_even_to(1012, 25), 1000);
        assert_eq!(round_half_even_to(1013, 25), 1025);
        assert_eq!(round_half_even_to(1037, 25), 1025); // 1037.5 would tie; 1037 is below
        assert_eq!(round_half_even_to(50, 100), 0); // a tie: to the even multiple
        assert_eq!(round_half_even_to(150, 100), 200);
        assert_eq!(round_half_even_to(250, 100), 200);
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "AAA.csv",
            "date,open,high,low,close,volume\n2022-01-03,10.12,10.40,10.01,10.13,100\n",
        );
        write(
            dir.path(),
            "BBB.csv",
            "date,open,high,low,close,volume\n2022-01-03,0.04,0.05,0.04,0.05,100\n",
        );
        let mut parsed = ParsedCsvDir::parse(dir.path(), BarSize::Daily, 2).unwrap();
        assert_eq!(parsed.round_to_ticks(&[25, 0]).unwrap(), 4);
        assert_eq!(parsed.rounded, 4);
        assert_eq!(
            parsed.assets[0].rows[0].ohlcv[..4],
            [1000, 1050, 1000, 1025]
        );
        // BBB at 0.10 ticks: 0.04 rounds to nothing, refused with its place
        let mut parsed = ParsedCsvDir::parse(dir.path(), BarSize::Daily, 2).unwrap();
        let e = parsed.round_to_ticks(&[0, 10]).unwrap_err().to_string();
        assert!(
            e.contains("BBB.csv:2: column 'open'") && e.contains("rounds to 0"),
            "{e}"
        );
        assert!(parsed.round_to_ticks(&[1]).is_err());
    }

    fn write(dir: &Path, name: &str, body: &str) {
        fs::create_dir_all(dir.join("daily")).unwrap();
        fs::write(dir.join("daily").join(name), body).unwrap();
    }

    fn err_of(body: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "AAA.csv", body);
        ParsedCsvDir::parse(dir.path(), BarSize::Daily, 4)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn validation_names_file_line_column_and_reason() {
        let h = "date,open,high,low,close,volume\n";
        let e = err_of(&format!(
            "{h}2022-01-03,10,11,9,10,100\n2022-01-04,10,9,11,10,100\n"
        ));
        assert!(
            e.contains("AAA.csv:3: column 'high': high 9 is below low 11"),
            "{e}"
        );
        let e = err_of(&format!("{h}2022-01-03,10,11,9,12,100\n"));
        assert!(
            e.contains(":2: column 'close'") && e.contains("outside"),
            "{e}"
        );
        let e = err_of(&format!("{h}2022-01-03,10,11,9,10,-5\n"));
        assert!(e.contains("negative volume"), "{e}");
        let e = err_of(&format!("{h}2022-01-03,10,11,9,nan,5\n"));
        assert!(
            e.contains("column 'close'") && e.contains("not a number"),
            "{e}"
        );
        let e = err_of(&format!("{h}2022-01-03,10,11,9,,5\n"));
        assert!(e.contains("empty value"), "{e}");
        let e = err_of(&format!(
            "{h}2022-01-04,10,11,9,10,5\n2022-01-04,10,11,9,10,5\n"
        ));
        assert!(e.contains(":3: column 'date': duplicate timestamp"), "{e}");
        let e = err_of(&format!(
            "{h}2022-01-05,10,11,9,10,5\n2022-01-04,10,11,9,10,5\n"
        ));
        assert!(e.contains("not sorted"), "{e}");
        let e = err_of("date,open,high,low,close,volume,colour\n");
        assert!(e.contains("column 'colour': unknown column"), "{e}");
        let e = err_of("date,open,high,low,volume\n");
        assert!(e.contains("column 'close': missing required column"), "{e}");
        let e = err_of("");
        assert!(e.contains("empty file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("daily")).unwrap();
        let mut bytes = format!("{h}2022-01-03,10,11,9,10,5\n").into_bytes();
        bytes.extend_from_slice(b"2022-01-04,1\xff0,11,9,10,5\n");
        fs::write(dir.path().join("daily/BBB.csv"), bytes).unwrap();
        let e = ParsedCsvDir::parse(dir.path(), BarSize::Daily, 4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("BBB.csv:3") && e.contains("not UTF-8"), "{e}");
    }

    #[test]
    fn off_calendar_dates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "AAA.csv", "date,open,high,low,close,volume\n2022-01-03,10,11,9,10,100\n2022-01-08,10,11,9,10,100\n");
        let parsed = ParsedCsvDir::parse(dir.path(), BarSize::Daily, 4).unwrap();
        let sessions: Vec<Session> = [18_995, 18_996, 18_997]
            .iter()
            .map(|&d| Session {
                date: d,
                open_ns: i64::from(d) * NANOS_PER_DAY,
                close_ns: i64::from(d) * NANOS_PER_DAY + 1,
            })
            .collect();
        let e = parsed
            .clone()
            .into_content(&sessions, "XNYS", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AAA.csv:3: column 'date': 2022-01-08 is not a XNYS trading session"),
            "{e}"
        );
        // dropped instead, and counted
        let (content, dropped) = parsed.into_content(&sessions, "XNYS", true).unwrap();
        assert_eq!((dropped, content.rows.len()), (1, 1));
    }

    #[test]
    fn prices_round_half_to_even_on_request() {
        assert_eq!(
            parse_fixed_rounding("100.12999725341797", 4),
            Ok((1_001_300, true))
        );
        assert_eq!(parse_fixed_rounding("1.00005", 4), Ok((10_000, true)));
        assert_eq!(parse_fixed_rounding("1.00015", 4), Ok((10_002, true)));
        assert_eq!(parse_fixed_rounding("1.000050001", 4), Ok((10_001, true)));
        assert_eq!(parse_fixed_rounding("-2.5", 0), Ok((-2, true)));
        assert_eq!(parse_fixed_rounding("1.25", 4), Ok((12_500, false)));
        assert!(parse_fixed_rounding("abc", 4).is_err());
        let refused = parse_fixed("100.12999725341797", 12).unwrap_err();
        assert!(refused.contains("round_prices=True"), "{refused}");
    }

    #[test]
    fn long_tables_are_sorted_per_symbol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(
            &path,
            "symbol,date,open,high,low,close,volume\nB,2022-01-04,1,1,1,1,1\nA,2022-01-04,2,2,2,2,2\nB,2022-01-03,3,3,3,3,3\nA,2022-01-03,4,4,4,4,4\n",
        )
        .unwrap();
        let parsed = ParsedCsvDir::parse_long(&path, BarSize::Daily, 4, false, false).unwrap();
        let lines: Vec<Vec<usize>> = parsed
            .assets
            .iter()
            .map(|a| a.rows.iter().map(|r| r.line).collect())
            .collect();
        assert_eq!(lines, vec![vec![5, 3], vec![4, 2]]);
        std::fs::write(
            &path,
            "symbol,date,open,high,low,close,volume\nA,2022-01-04,1,1,1,1,1\nA,2022-01-03,1,1,1,1,1\nA,2022-01-04,1,1,1,1,1\n",
        )
        .unwrap();
        let e = ParsedCsvDir::parse_long(&path, BarSize::Daily, 4, false, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.csv:4: column 'date': duplicate timestamp 2022-01-04 (also on line 2)"),
            "{e}"
        );
    }
}
