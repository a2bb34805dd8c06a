//! A bundle opened for simulation: dense time-major `[bars, assets]` matrices, so a
//! multi-asset history window is a run of contiguous rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::bundle::{self, Adjustment, AssetInfo, Manifest};
use crate::cache::{self, Columns, OwnedColumns, NO_CLOSE};
use crate::calendar::{bar_grid, BarSize, Session};
use crate::column::Column;
use crate::error::DataError;
use crate::resample::Resampled;

/// A bar field a strategy can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Open,
    High,
    Low,
    Close,
    Volume,
    /// Close, forward-filled over bars without a trade (zipline's `price`).
    Price,
}

impl Field {
    pub fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "open" => Field::Open,
            "high" => Field::High,
            "low" => Field::Low,
            "close" => Field::Close,
            "volume" => Field::Volume,
            "price" => Field::Price,
            _ => return None,
        })
    }
}

#[derive(Debug)]
pub struct BarStore {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub bar_size: BarSize,
    pub assets: Vec<AssetInfo>,
    pub adjustments: Vec<Adjustment>,
    pub sessions: Vec<Session>,
    /// Bar close instants, ns UTC.
    pub timestamps: Column<i64>,
    /// Session index of each bar.
    pub bar_session: Column<u32>,
    /// First bar of each session; one extra entry holds the bar count.
    pub session_first_bar: Column<u32>,
    n_assets: usize,
    /// Exact prices: mantissas at `manifest.price_scale`; 0 where the asset has no bar.
    pub open: Column<i64>,
    pub high: Column<i64>,
    pub low: Column<i64>,
    pub close: Column<i64>,
    pub volume: Column<i64>,
    /// The same prices as f64 (NaN where missing), for history windows.
    open_f: Column<f64>,
    high_f: Column<f64>,
    low_f: Column<f64>,
    close_f: Column<f64>,
    volume_f: Column<f64>,
    /// Per cell (time-major like the prices), the last bar at or before it where the asset
    /// has a close, [`NO_CLOSE`] when it has none yet: `last_close_mantissa` in O(1) instead
    /// of a scan back over every bar since the asset last traded. Built once with the
    /// other columns and stored in the pool's cache file. 4 bytes a cell against the 80 of
    /// the ten price and volume matrices (+5%: 196 MB for a year of minute bars of 500
    /// assets, next to 3.9 GB); mapped, its pages are only read in where a price is
    /// forward-filled, since a cell with a close of its own never consults it.
    last_close_bars: Column<u32>,
    /// Aggregations to coarser bar sizes, built on first use.
    resampled: Mutex<HashMap<BarSize, Arc<Resampled>>>,
    /// Whether every stored price has at most zipline's 3 decimal places (so rounding a
    /// window that no adjustment touched changes nothing), found on first use.
    prices_fit_3_places: std::sync::OnceLock<bool>,
    /// Per asset, its price adjustments in ex-date order (empty for most bundles).
    adjustment_factors: Vec<Vec<AdjustmentFactor>>,
    /// This version's lease: while the store lives, no clean or prune removes it.
    _lease: Option<crate::maintenance::Lease>,
}

/// zipline's rounding of history windows, as NumPy's `around(x, places)` computes it:
/// multiply by 10^places, round half to even, divide (ties and float error included).
pub fn round_like_numpy(values: &mut [f64], places: u32) {
    let factor = 10f64.powi(places as i32);
    for v in values {
        *v = (*v * factor).round_ties_even() / factor;
    }
}

/// How a split or dividend rescales history before its ex-date (zipline's ratios).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdjustmentFactor {
    /// Session index of the ex-date.
    pub session: u32,
    /// Multiplier for prices of earlier bars: 1 / split, or 1 − dividend / previous close.
    pub price: f64,
    /// Multiplier for volumes of earlier bars: the split (1 for dividends).
    pub volume: f64,
}

impl BarStore {
    /// Open a bundle directory (its root with `CURRENT`, or a version directory), reading
    /// its Parquet bars.
    pub fn open(path: &Path) -> Result<BarStore, DataError> {
        Self::open_pooled(path, None)
    }

    /// Open a bundle through the bundle pool: map the columnar cache for its content hash
    /// from `cache_dir`, building it first if it is missing or stale.
    pub fn open_pooled(path: &Path, cache_dir: Option<&Path>) -> Result<BarStore, DataError> {
        let (dir, lease) = crate::maintenance::open_leased(path)?;
        let manifest: Manifest = bundle::read_json(&dir.join(bundle::MANIFEST_FILE))?;
        if manifest.schema_version != bundle::SCHEMA_VERSION {
            return Err(DataError::Corrupt {
                path: dir,
                reason: format!(
                    "schema version {} is not the supported {}; re-ingest the bundle",
                    manifest.schema_version,
                    bundle::SCHEMA_VERSION
                ),
            });
        }
        let assets: Vec<AssetInfo> = bundle::read_json(&dir.join("assets.json"))?;
        let adjustments: Vec<Adjustment> = bundle::read_json(&dir.join("adjustments.json"))?;
        check_adjustments(&dir.join("adjustments.json"), &adjustments, assets.len())?;
        let bar_size = manifest.bar_size()?;
        let sessions = manifest.sessions();
        let n_assets = assets.len();
        let columns = match cache_dir {
            Some(cd) => {
                let file = cache::cache_file(cd, &manifest);
                if let Some(mapped) = cache::map(&file, &manifest, n_assets) {
                    mapped
                } else {
                    let owned = build_columns(&dir, &manifest, &sessions, bar_size, n_assets)?;
                    // an unwritable cache directory costs speed, not correctness
                    match cache::write(&file, &manifest, n_assets, &owned) {
                        Ok(()) => {
                            cache::map(&file, &manifest, n_assets).unwrap_or_else(|| owned.into())
                        }
                        Err(_) => owned.into(),
                    }
                }
            }
            None => build_columns(&dir, &manifest, &sessions, bar_size, n_assets)?.into(),
        };
        let Columns {
            timestamps,
            bar_session,
            session_first_bar,
            ints,
            floats,
            last_close_bars,
        } = columns;
        let [open, high, low, close, volume] = ints;
        let [open_f, high_f, low_f, close_f, volume_f] = floats;
        Ok(BarStore {
            path: dir,
            manifest,
            bar_size,
            assets,
            adjustments,
            sessions,
            timestamps,
            bar_session,
            session_first_bar,
            n_assets,
            open,
            high,
            low,
            close,
            volume,
            open_f,
            high_f,
            low_f,
            close_f,
            volume_f,
            last_close_bars,
            resampled: Mutex::new(HashMap::new()),
            prices_fit_3_places: std::sync::OnceLock::new(),
            adjustment_factors: Vec::new(),
            _lease: lease,
        }
        .with_adjustment_factors())
    }

    /// zipline's history adjustment ratios, from the bundle's splits and dividends.
    fn with_adjustment_factors(mut self) -> Self {
        let mut factors = vec![Vec::new(); self.n_assets];
        for adj in &self.adjustments {
            let (sid, date, value, split) = match adj {
                Adjustment::Split { sid, date, ratio } => (*sid, *date, ratio, true),
                Adjustment::Dividend {
                    sid, date, amount, ..
                } => (*sid, *date, amount, false),
            };
            let (Ok(v), Some(list)) = (value.parse::<f64>(), factors.get_mut(sid as usize)) else {
                continue;
            };
            let s = self.session_at_or_after(date);
            if s >= self.sessions.len() || self.sessions[s].date != date || v <= 0.0 && split {
                continue;
            }
            let first_bar = self.session_first_bar[s] as usize;
            let factor = if split {
                AdjustmentFactor {
                    session: s as u32,
                    price: 1.0 / v,
                    volume: v,
                }
            } else {
                let prev = first_bar
                    .checked_sub(1)
                    .and_then(|b| self.last_close_mantissa(b, sid));
                let Some(prev) = prev else { continue };
                let prev = prev as f64 / 10f64.powi(self.manifest.price_scale as i32);
                AdjustmentFactor {
                    session: s as u32,
                    price: 1.0 - v / prev,
                    volume: 1.0,
                }
            };
            list.push(factor);
        }
        for list in &mut factors {
            list.sort_by_key(|f| f.session);
        }
        self.adjustment_factors = factors;
        self
    }

    /// Price and volume adjustments of `sid`, in ex-date order.
    pub fn adjustment_factors(&self, sid: u32) -> &[AdjustmentFactor] {
        self.adjustment_factors
            .get(sid as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether rounding a window of `sids` ending at `end_bar` to `places` decimals can
    /// change it: the stored prices have more places, or a split or dividend has already
    /// rescaled some of its rows. (Stored prices `m / 10^s` with `s <= places` round to
    /// themselves, so the zero-copy path stays valid for them.)
    pub fn window_needs_rounding(&self, sids: &[u32], end_bar: usize, places: u32) -> bool {
        if !self.prices_fit_places(places) {
            return true;
        }
        let now = self.bar_session.get(end_bar).copied().unwrap_or(u32::MAX);
        sids.iter().any(|&sid| {
            self.adjustment_factors(sid)
                .first()
                .is_some_and(|f| f.session <= now)
        })
    }

    /// Whether every stored price has at most `places` decimal places: trivially when the
    /// bundle's price scale is no finer, else by a scan of the mantissas (cached for
    /// zipline's 3 places; other rounding is assumed to be needed).
    fn prices_fit_places(&self, places: u32) -> bool {
        let scale = self.manifest.price_scale;
        if scale <= places {
            return true;
        }
        if places != 3 {
            return false;
        }
        *self.prices_fit_3_places.get_or_init(|| {
            let unit = 10i64.pow(scale - places);
            [&self.open, &self.high, &self.low, &self.close]
                .iter()
                .all(|col| col.iter().all(|&m| m % unit == 0))
        })
    }

    /// Whether the bar columns are mapped from the pool's cache (rather than owned).
    pub fn is_mapped(&self) -> bool {
        self.close.is_mapped()
    }
}

/// Refuse adjustments that name an asset the bundle does not have, or whose value is not
/// a positive number (a split of 0 or a negative dividend): the ledger would index past
/// its positions or divide by zero. Checked on every open, before anything trades.
fn check_adjustments(
    file: &Path,
    adjustments: &[Adjustment],
    n_assets: usize,
) -> Result<(), DataError> {
    for (i, adj) in adjustments.iter().enumerate() {
        let (sid, value, what) = match adj {
            Adjustment::Split { sid, ratio, .. } => (*sid, ratio, "split ratio"),
            Adjustment::Dividend { sid, amount, .. } => (*sid, amount, "dividend"),
        };
        let bad = |reason: String| DataError::Corrupt {
            path: file.to_path_buf(),
            reason: format!("adjustment {i}: {reason}; re-ingest the bundle"),
        };
        if sid as usize >= n_assets {
            return Err(bad(format!(
                "names sid {sid}, but the bundle has {n_assets} assets"
            )));
        }
        let ok = value
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && (v > 0.0 || (what == "dividend" && v >= 0.0)));
        if !ok {
            return Err(bad(format!(
                "{what} of sid {sid} is {value:?}, not a positive number"
            )));
        }
    }
    Ok(())
}

/// Dense columns from the bundle's Parquet bars.
fn build_columns(
    dir: &Path,
    manifest: &Manifest,
    sessions: &[Session],
    bar_size: BarSize,
    n_assets: usize,
) -> Result<OwnedColumns, DataError> {
    {
        let bars = dir.join("bars.parquet");
        let stored = bundle::stored_price_scale(&bars)?;
        if i64::from(stored) != i64::from(manifest.price_scale) {
            return Err(DataError::Corrupt {
                path: dir.join(bundle::MANIFEST_FILE),
                reason: format!(
                    "price_scale is {} but bars.parquet stores prices at scale {stored}: the \
                     manifest was edited; restore it or re-ingest the bundle",
                    manifest.price_scale
                ),
            });
        }
        let (sids, [ts, open, high, low, close, volume]) = bundle::read_bars(&bars)?;
        let (timestamps, bar_session) = bar_grid(sessions, bar_size);
        let n_bars = timestamps.len();
        let corrupt = |reason: String| DataError::Corrupt {
            path: dir.to_path_buf(),
            reason,
        };
        if n_bars != manifest.n_bars {
            return Err(corrupt(format!(
                "{} bars in the grid, manifest says {}",
                n_bars, manifest.n_bars
            )));
        }
        // bar indexes are u32 throughout, and the last-close index reserves u32::MAX
        if n_bars >= NO_CLOSE as usize {
            return Err(corrupt(format!(
                "{n_bars} bars, more than a u32 bar index holds"
            )));
        }
        let cells = n_bars * n_assets;
        let mut m: [Vec<i64>; 5] = std::array::from_fn(|_| vec![0; cells]);
        let mut bar = 0usize;
        for i in 0..sids.len() {
            let sid = sids[i] as usize;
            if sid >= n_assets {
                return Err(corrupt(format!(
                    "row {i} has sid {sid}, only {n_assets} assets"
                )));
            }
            // rows are sorted by (sid, ts): search forward, restart per asset
            if i == 0 || sids[i - 1] != sids[i] || timestamps.get(bar).is_none_or(|&t| t > ts[i]) {
                bar = timestamps.partition_point(|&t| t < ts[i]);
            }
            while bar < n_bars && timestamps[bar] < ts[i] {
                bar += 1;
            }
            if bar >= n_bars || timestamps[bar] != ts[i] {
                return Err(corrupt(format!(
                    "row {i} has a timestamp off the bundle's bar grid"
                )));
            }
            let cell = bar * n_assets + sid;
            m[0][cell] = open[i];
            m[1][cell] = high[i];
            m[2][cell] = low[i];
            m[3][cell] = close[i];
            m[4][cell] = volume[i];
        }
        let [open, high, low, close, volume] = m;
        let scale = 10f64.powi(manifest.price_scale as i32);
        let to_f = |v: &Vec<i64>| -> Vec<f64> {
            v.iter()
                .map(|&x| if x == 0 { f64::NAN } else { x as f64 / scale })
                .collect()
        };
        let (open_f, high_f, low_f, close_f) = (to_f(&open), to_f(&high), to_f(&low), to_f(&close));
        // volume 0 is a real value where the bar exists: tell them apart through close
        let volume_f = volume
            .iter()
            .zip(&close)
            .map(|(&v, &c)| if c == 0 { f64::NAN } else { v as f64 })
            .collect();
        let mut session_first_bar = vec![0u32; sessions.len() + 1];
        for (b, &s) in bar_session.iter().enumerate().rev() {
            session_first_bar[s as usize] = b as u32;
        }
        session_first_bar[sessions.len()] = n_bars as u32;
        let last_close_bars = last_close_bars(&close, n_assets);
        Ok(OwnedColumns {
            timestamps,
            bar_session,
            session_first_bar,
            ints: [open, high, low, close, volume],
            floats: [open_f, high_f, low_f, close_f, volume_f],
            last_close_bars,
        })
    }
}

/// The last-close index of a time-major `[bars, n_assets]` close matrix (0 = no bar): per
/// cell, the last bar at or before it with a close, [`NO_CLOSE`] for none. One pass over
/// the rows in storage order, carrying each asset's last bar forward.
fn last_close_bars(close: &[i64], n_assets: usize) -> Vec<u32> {
    let mut out = vec![NO_CLOSE; close.len()];
    if n_assets == 0 {
        return out;
    }
    let mut last = vec![NO_CLOSE; n_assets];
    let rows = close
        .chunks_exact(n_assets)
        .zip(out.chunks_exact_mut(n_assets));
    for (bar, (row, dst)) in rows.enumerate() {
        for ((l, &c), d) in last.iter_mut().zip(row).zip(dst) {
            if c != 0 {
                *l = bar as u32;
            }
            *d = *l;
        }
    }
    out
}

/// The last close at or before `bar` of `sid` from the close matrix and its last-close
/// index: the cell's own close when it has one (the index is not touched), else the close
/// at the bar the index names.
#[inline]
fn last_close_at(
    close: &[i64],
    last_close_bars: &[u32],
    n_assets: usize,
    bar: usize,
    sid: u32,
) -> Option<i64> {
    let cell = bar * n_assets + sid as usize;
    let v = close[cell];
    if v != 0 {
        return Some(v);
    }
    let last = last_close_bars[cell];
    debug_assert!(last == NO_CLOSE || (last as usize) < bar);
    (last != NO_CLOSE).then(|| close[last as usize * n_assets + sid as usize])
}

impl BarStore {
    pub fn n_assets(&self) -> usize {
        self.n_assets
    }
    pub fn n_bars(&self) -> usize {
        self.timestamps.len()
    }
    pub fn price_scale(&self) -> u32 {
        self.manifest.price_scale
    }

    /// Exact close mantissa of `sid` at `bar`, `None` when the asset has no bar there.
    #[inline]
    pub fn close_mantissa(&self, bar: usize, sid: u32) -> Option<i64> {
        let v = self.close[bar * self.n_assets + sid as usize];
        (v != 0).then_some(v)
    }

    /// Exact open mantissa of `sid` at `bar`, `None` when the asset has no bar there.
    #[inline]
    pub fn open_mantissa(&self, bar: usize, sid: u32) -> Option<i64> {
        let v = self.open[bar * self.n_assets + sid as usize];
        (v != 0).then_some(v)
    }

    #[inline]
    pub fn volume_at(&self, bar: usize, sid: u32) -> i64 {
        self.volume[bar * self.n_assets + sid as usize]
    }

    /// Last close at or before `bar` (zipline's forward-filled `price`), in O(1) through
    /// the last-close index.
    #[inline]
    pub fn last_close_mantissa(&self, bar: usize, sid: u32) -> Option<i64> {
        last_close_at(&self.close, &self.last_close_bars, self.n_assets, bar, sid)
    }

    /// The last bar at or before `bar` where `sid` has a close (`None`: not yet traded).
    #[inline]
    pub fn last_close_bar(&self, bar: usize, sid: u32) -> Option<usize> {
        let last = self.last_close_bars[bar * self.n_assets + sid as usize];
        (last != NO_CLOSE).then_some(last as usize)
    }

    /// The aggregation of this bundle to `bar_size` (shared, built once).
    pub fn resampled(&self, bar_size: BarSize) -> Arc<Resampled> {
        let mut map = self
            .resampled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(bar_size)
            .or_insert_with(|| Arc::new(Resampled::new(self, bar_size)))
            .clone()
    }

    /// A field as an f64 time-major matrix (NaN where missing; volume NaN where no bar).
    pub fn field_matrix(&self, field: Field) -> &[f64] {
        self.matrix(field)
    }

    fn matrix(&self, field: Field) -> &[f64] {
        match field {
            Field::Open => &self.open_f,
            Field::High => &self.high_f,
            Field::Low => &self.low_f,
            Field::Close | Field::Price => &self.close_f,
            Field::Volume => &self.volume_f,
        }
    }

    /// One field at one bar, as f64 (NaN when missing; `Price` forward-fills, volume is 0
    /// where the asset did not trade).
    pub fn current(&self, field: Field, bar: usize, sid: u32) -> f64 {
        let cell = bar * self.n_assets + sid as usize;
        match field {
            Field::Price => self.last_close_mantissa(bar, sid).map_or(f64::NAN, |m| {
                m as f64 / 10f64.powi(self.manifest.price_scale as i32)
            }),
            Field::Volume => {
                let v = self.volume_f[cell];
                if v.is_nan() {
                    0.0
                } else {
                    v
                }
            }
            f => self.matrix(f)[cell],
        }
    }

    /// Fill `out` (time-major `[count, sids.len()]`) with the `count` bars ending at
    /// `end_bar` inclusive. Bars before the bundle's first bar are NaN.
    pub fn history_into(
        &self,
        field: Field,
        sids: &[u32],
        end_bar: usize,
        count: usize,
        out: &mut [f64],
    ) {
        let n = sids.len();
        debug_assert_eq!(out.len(), n * count);
        let data = self.matrix(field);
        let first = end_bar as isize + 1 - count as isize;
        let all_assets =
            n == self.n_assets && sids.iter().enumerate().all(|(i, &s)| s as usize == i);
        for row in 0..count {
            let bar = first + row as isize;
            let dst = &mut out[row * n..(row + 1) * n];
            if bar < 0 {
                dst.fill(f64::NAN);
                continue;
            }
            let base = bar as usize * self.n_assets;
            if all_assets {
                dst.copy_from_slice(&data[base..base + n]);
            } else {
                for (d, &s) in dst.iter_mut().zip(sids) {
                    *d = data[base + s as usize];
                }
            }
        }
        // adjust first, so a forward-filled price carries its adjusted value
        let row_bar = |row: usize| usize::try_from(first + row as isize).ok();
        self.adjust_window(field, sids, end_bar, count, &row_bar, out);
        if field == Field::Price {
            let before = (first > 0).then(|| first as usize - 1);
            self.forward_fill(sids, before, count, out);
        } else if field == Field::Volume {
            for v in out.iter_mut() {
                if v.is_nan() {
                    *v = 0.0;
                }
            }
        }
    }

    /// The `[count, n_assets]` rows of `field` ending at `end_bar`, as stored, when a window
    /// of every asset needs no transformation: inside the bundle, a raw field (not the
    /// forward-filled `price`, not `volume`), and a bundle without adjustments.
    pub fn raw_block(&self, field: Field, end_bar: usize, count: usize) -> Option<&[f64]> {
        let raw = !matches!(field, Field::Price | Field::Volume);
        if !raw || count == 0 || count > end_bar + 1 || !self.adjustments.is_empty() {
            return None;
        }
        let first = end_bar + 1 - count;
        Some(&self.matrix(field)[first * self.n_assets..(end_bar + 1) * self.n_assets])
    }

    /// Apply splits and dividends as of `end_bar` to a window whose row `r` starts at
    /// source bar `row_bar(r)` (`None`: before the bundle): rows before an ex-date that has
    /// already come are rescaled; later ex-dates are not applied (no look-ahead).
    pub(crate) fn adjust_window(
        &self,
        field: Field,
        sids: &[u32],
        end_bar: usize,
        count: usize,
        row_bar: &dyn Fn(usize) -> Option<usize>,
        out: &mut [f64],
    ) {
        let now = self.bar_session[end_bar];
        let n = sids.len();
        for (j, &sid) in sids.iter().enumerate() {
            for f in self.adjustment_factors(sid) {
                if f.session > now {
                    break;
                }
                let multiplier = if field == Field::Volume {
                    f.volume
                } else {
                    f.price
                };
                let ex_bar = self.session_first_bar[f.session as usize] as usize;
                for row in 0..count {
                    match row_bar(row) {
                        Some(bar) if bar >= ex_bar => break,
                        Some(_) => out[row * n + j] *= multiplier,
                        None => {}
                    }
                }
            }
        }
    }

    /// Forward-fill NaN prices in a `[count, len(sids)]` window, starting from each asset's
    /// last close at or before source bar `before` (the bar just ahead of the window;
    /// `None` when the window starts at the bundle's first bar).
    pub(crate) fn forward_fill(
        &self,
        sids: &[u32],
        before: Option<usize>,
        count: usize,
        out: &mut [f64],
    ) {
        let n = sids.len();
        let scale = 10f64.powi(self.manifest.price_scale as i32);
        for (j, &sid) in sids.iter().enumerate() {
            let mut last = before
                .and_then(|b| self.last_close_mantissa(b, sid))
                .map_or(f64::NAN, |m| m as f64 / scale);
            for row in 0..count {
                let v = &mut out[row * n + j];
                if v.is_nan() {
                    *v = last;
                } else {
                    last = *v;
                }
            }
        }
    }

    /// Index of the first bar closing at or after `ns`.
    pub fn bar_at_or_after(&self, ns: i64) -> usize {
        self.timestamps.partition_point(|&t| t < ns)
    }

    /// Index of the session labelled `date`, or of the first one after it.
    pub fn session_at_or_after(&self, date: i32) -> usize {
        self.sessions.partition_point(|s| s.date < date)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::bundle::{write_bundle, BarRows, BundleContent};
    use crate::calendar::{NANOS_PER_DAY, NANOS_PER_MINUTE};

    /// The scan `last_close_mantissa` did before the index: the reference it must match.
    fn last_close_scan(close: &[i64], n_assets: usize, bar: usize, sid: u32) -> Option<i64> {
        (0..=bar).rev().find_map(|b| {
            let v = close[b * n_assets + sid as usize];
            (v != 0).then_some(v)
        })
    }

    /// `last_close_scan` through the store's own close accessor.
    fn store_scan(store: &BarStore, bar: usize, sid: u32) -> Option<i64> {
        (0..=bar).rev().find_map(|b| store.close_mantissa(b, sid))
    }

    /// Every (bar, sid) of `store` agrees with the scan, through both lookups.
    fn assert_matches_scan(store: &BarStore) {
        for bar in 0..store.n_bars() {
            for sid in 0..store.n_assets() as u32 {
                let want = store_scan(store, bar, sid);
                assert_eq!(
                    store.last_close_mantissa(bar, sid),
                    want,
                    "bar {bar} sid {sid}"
                );
                let at = store.last_close_bar(bar, sid);
                assert_eq!(at.and_then(|b| store.close_mantissa(b, sid)), want);
                assert!(at.is_none_or(|b| b <= bar));
                let price = store.current(Field::Price, bar, sid);
                let scale = 10f64.powi(store.price_scale() as i32);
                match want {
                    Some(m) => assert_eq!(price, m as f64 / scale),
                    None => assert!(price.is_nan()),
                }
            }
        }
    }

    /// A daily bundle from a time-major close matrix (0: no bar), written under `dir`.
    fn content(close: &[i64], n_assets: usize) -> BundleContent {
        let n_bars = close.len() / n_assets;
        let sessions: Vec<Session> = (0..n_bars as i32)
            .map(|i| {
                let open_ns = i64::from(18_995 + i) * NANOS_PER_DAY + 870 * NANOS_PER_MINUTE;
                Session {
                    date: 18_995 + i,
                    open_ns,
                    close_ns: open_ns + 390 * NANOS_PER_MINUTE,
                }
            })
            .collect();
        let (timestamps, _) = bar_grid(&sessions, BarSize::Daily);
        let mut rows = BarRows::default();
        for sid in 0..n_assets {
            for bar in 0..n_bars {
                let c = close[bar * n_assets + sid];
                if c != 0 {
                    rows.push(sid as u32, bar as u32, [c, c, c, c, 100]);
                }
            }
        }
        let (first, last) = (sessions[0].date, sessions[n_bars - 1].date);
        BundleContent {
            frequency: BarSize::Daily,
            calendar: "XNYS".into(),
            price_scale: 2,
            source: "test".into(),
            assets: (0..n_assets as u32)
                .map(|sid| AssetInfo {
                    sid,
                    symbol: format!("S{sid}"),
                    exchange: "XNYS".into(),
                    start_date: first,
                    end_date: last,
                    lot_scale: 0,
                })
                .collect(),
            sessions,
            timestamps,
            rows,
            adjustments: Vec::new(),
        }
    }

    /// The bundle opened three ways: straight from Parquet, through the pool building its
    /// cache file, and through the pool mapping the file built.
    fn open_all(close: &[i64], n_assets: usize) -> [BarStore; 3] {
        let dir = tempfile::tempdir().unwrap();
        write_bundle(dir.path(), "b", &content(close, n_assets)).unwrap();
        let path = dir.path().join("b");
        let cache = dir.path().join("cache");
        let owned = BarStore::open(&path).unwrap();
        let built = BarStore::open_pooled(&path, Some(&cache)).unwrap();
        let mapped = BarStore::open_pooled(&path, Some(&cache)).unwrap();
        assert!(!owned.is_mapped() && mapped.is_mapped());
        [owned, built, mapped]
    }

    #[test]
    fn last_close_edges() {
        // 6 bars of 6 assets: never trades (S0), bar 0 only (S1), last bar only (S2),
        // starts late (S3), gaps (S4), every bar (S5)
        #[rustfmt::skip]
        let close: Vec<i64> = vec![
            0, 11, 0, 0,  41, 51,
            0, 0,  0, 0,  0,  52,
            0, 0,  0, 31, 0,  53,
            0, 0,  0, 0,  44, 54,
            0, 0,  0, 0,  0,  55,
            0, 0,  26, 36, 0, 56,
        ];
        for store in open_all(&close, 6) {
            assert_matches_scan(&store);
            let last = store.n_bars() - 1;
            assert_eq!(last, 5);
            let at = |bar, sid| store.last_close_mantissa(bar, sid);
            assert_eq!((0..=last).map(|b| at(b, 0)).collect::<Vec<_>>(), [None; 6]);
            assert_eq!(store.last_close_bar(last, 0), None);
            assert_eq!(at(0, 1), Some(11));
            assert_eq!(
                (at(last, 1), store.last_close_bar(last, 1)),
                (Some(11), Some(0))
            );
            assert_eq!((at(last - 1, 2), at(last, 2)), (None, Some(26)));
            assert_eq!((at(1, 3), at(2, 3), at(4, 3)), (None, Some(31), Some(31)));
            assert_eq!(
                (at(2, 4), at(3, 4), at(last, 4)),
                (Some(41), Some(44), Some(44))
            );
            assert_eq!(store.last_close_bar(last, 4), Some(3));
            assert_eq!((at(0, 5), at(last, 5)), (Some(51), Some(56)));
            assert_eq!(store.last_close_bar(4, 5), Some(4));
            // the forward-filled window starts from the index too
            let mut out = vec![0.0; 6 * 2];
            store.history_into(Field::Price, &[0, 1, 2, 3, 4, 5], last, 2, &mut out);
            let want = [f64::NAN, 0.11, f64::NAN, 0.31, 0.44, 0.55];
            let want = want.iter().chain(&[f64::NAN, 0.11, 0.26, 0.36, 0.44, 0.56]);
            for (got, want) in out.iter().zip(want) {
                assert!(got == want || got.is_nan() && want.is_nan(), "{out:?}");
            }
        }
    }

    #[test]
    fn index_of_no_assets_or_one_bar() {
        assert!(last_close_bars(&[], 0).is_empty());
        assert!(last_close_bars(&[], 3).is_empty());
        assert_eq!(last_close_bars(&[0, 7, 0], 3), [NO_CLOSE, 0, NO_CLOSE]);
    }

    /// A sparse time-major close matrix: 1..6 assets × 1..80 bars, each asset trading at
    /// its own density inside its own window of bars (late starts, early stops, never).
    fn sparse(max_bars: usize) -> impl Strategy<Value = (usize, Vec<i64>)> {
        (1usize..6, 1..max_bars).prop_flat_map(|(n_assets, n_bars)| {
            let asset = (0u32..=100, 0..=n_bars, 0..=n_bars);
            let cell = (0u32..100, 1i64..1_000_000_000);
            (
                Just(n_assets),
                vec(asset, n_assets),
                vec(cell, n_assets * n_bars),
            )
                .prop_map(|(n_assets, assets, cells)| {
                    let close = cells
                        .iter()
                        .enumerate()
                        .map(|(i, &(draw, v))| {
                            let (bar, sid) = (i / n_assets, i % n_assets);
                            let (density, a, b) = assets[sid];
                            let live = a.min(b) <= bar && bar < a.max(b);
                            if live && draw < density {
                                v
                            } else {
                                0
                            }
                        })
                        .collect();
                    (n_assets, close)
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn index_lookup_matches_the_scan((n_assets, close) in sparse(80)) {
            let index = last_close_bars(&close, n_assets);
            prop_assert_eq!(index.len(), close.len());
            for bar in 0..close.len() / n_assets {
                for sid in 0..n_assets as u32 {
                    prop_assert_eq!(
                        last_close_at(&close, &index, n_assets, bar, sid),
                        last_close_scan(&close, n_assets, bar, sid),
                        "bar {} sid {}", bar, sid
                    );
                }
            }
        }
    }

    proptest! {
        // each case writes and opens a bundle three ways
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn store_lookup_matches_the_scan((n_assets, close) in sparse(40)) {
            // a bundle holds at least one bar
            prop_assume!(close.iter().any(|&c| c != 0));
            for store in open_all(&close, n_assets) {
                assert_matches_scan(&store);
            }
        }
    }
}
