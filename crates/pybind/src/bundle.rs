//! `Bundle`, `Asset` and the ingest entry points.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rustybt_data::{BarSize, BarStore, DataError, Field, ParsedCsvDir, Session, SyntheticSpec};

use crate::bar_data::window_array;
use crate::conversion::read_only_view;
use crate::errors::{bad_value, guard_at, ingest, invalid_run, Result};

/// `(sids, ex-date sessions, price ratios, volume ratios)`.
type AdjustmentRatios = (Vec<u32>, Vec<u32>, Vec<f64>, Vec<f64>);

/// An equity in a bundle. Hashable, ordered by sid, picklable; as zipline's, equal to its
/// sid (`asset == 3`) and hashed like it.
#[pyclass(frozen, module = "rustybt._core", name = "Asset")]
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asset {
    #[pyo3(get)]
    pub sid: u32,
    #[pyo3(get)]
    pub symbol: String,
    #[pyo3(get)]
    pub exchange: String,
    /// First and last session with data, as days since 1970-01-01.
    #[pyo3(get)]
    pub start_day: i32,
    #[pyo3(get)]
    pub end_day: i32,
    /// Quantities trade in lots of `10^-lot_scale` (0: whole shares).
    pub lot_scale: u32,
}

#[pymethods]
impl Asset {
    #[new]
    #[pyo3(signature = (sid, symbol, exchange, start_day, end_day, lot_scale = 0))]
    fn new(
        sid: u32,
        symbol: String,
        exchange: String,
        start_day: i32,
        end_day: i32,
        lot_scale: u32,
    ) -> Result<Self> {
        guard_at("Asset.__new__", || {
            if lot_scale > rustybt_data::MAX_LOT_SCALE {
                return Err(crate::errors::bad_value(format!(
                    "lot_scale must be at most {}, got {lot_scale}",
                    rustybt_data::MAX_LOT_SCALE
                )));
            }
            Ok(Asset {
                sid,
                symbol,
                exchange,
                start_day,
                end_day,
                lot_scale,
            })
        })
    }
    /// Quantities trade in lots of `10^-lot_scale`: 0 for whole shares, 4 for 0.0001s.
    #[getter(lot_scale)]
    fn get_lot_scale(&self) -> Result<u32> {
        guard_at("Asset.lot_scale", || Ok(self.lot_scale))
    }
    /// The smallest quantity the asset trades in (1.0: whole shares; 0.0001 for a coin
    /// in ten-thousandths). Orders are rounded to whole lots.
    #[getter]
    fn lot_size(&self) -> Result<f64> {
        guard_at("Asset.lot_size", || {
            Ok(1.0 / rustybt_ledger::lots_per_unit(self.lot_scale) as f64)
        })
    }
    fn __repr__(&self) -> Result<String> {
        guard_at("Asset.__repr__", || {
            Ok(format!("Equity({} [{}])", self.sid, self.symbol))
        })
    }
    /// Compared by sid, with another asset or with an integer sid (zipline's rule).
    fn __richcmp__(
        &self,
        other: &Bound<'_, PyAny>,
        op: pyo3::basic::CompareOp,
    ) -> Result<Py<PyAny>> {
        guard_at("Asset.__richcmp__", || {
            let py = other.py();
            let theirs = if let Ok(a) = other.cast::<Asset>() {
                Some(i128::from(a.get().sid))
            } else if other.is_instance_of::<pyo3::types::PyBool>() {
                None
            } else {
                other.extract::<i128>().ok()
            };
            let Some(theirs) = theirs else {
                return Ok(py.NotImplemented());
            };
            let ours = i128::from(self.sid);
            Ok(pyo3::types::PyBool::new(py, op.matches(ours.cmp(&theirs)))
                .to_owned()
                .into_any()
                .unbind())
        })
    }
    /// The sid's hash, so that an asset and its sid are one dict key (zipline's rule).
    fn __hash__(&self) -> Result<isize> {
        guard_at("Asset.__hash__", || Ok(self.sid as isize))
    }
    /// zipline's `Asset.start_date`: the first session with a bar (midnight, no zone).
    #[getter]
    fn start_date<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        guard_at("Asset.start_date", || day_timestamp(py, self.start_day))
    }
    /// zipline's `Asset.end_date`: the last session with a bar.
    #[getter]
    fn end_date<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        guard_at("Asset.end_date", || day_timestamp(py, self.end_day))
    }
    /// zipline's `auto_close_date` as its bundles set it: the day after the last session,
    /// when open positions are closed out.
    #[getter]
    fn auto_close_date<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        guard_at("Asset.auto_close_date", || {
            day_timestamp(py, self.end_day.saturating_add(1))
        })
    }
    /// zipline's `first_traded`: None, as its bundles leave it.
    #[getter]
    #[allow(clippy::unused_self)]
    fn first_traded(&self) -> Result<Option<i64>> {
        guard_at("Asset.first_traded", || Ok(None))
    }
    /// zipline's `asset_name`: the symbol (a bundle stores no other name).
    #[getter]
    fn asset_name(&self) -> Result<String> {
        guard_at("Asset.asset_name", || Ok(self.symbol.clone()))
    }
    /// zipline's `tick_size` of an equity: 0.01.
    #[getter]
    #[allow(clippy::unused_self)]
    fn tick_size(&self) -> Result<f64> {
        guard_at("Asset.tick_size", || Ok(0.01))
    }
    /// zipline's `price_multiplier` of an equity: 1.0.
    #[getter]
    #[allow(clippy::unused_self)]
    fn price_multiplier(&self) -> Result<f64> {
        guard_at("Asset.price_multiplier", || Ok(1.0))
    }
    /// zipline's `Asset.to_dict()`: the asset's fields by name.
    fn to_dict<'py>(&self, py: Python<'py>) -> Result<Bound<'py, pyo3::types::PyDict>> {
        guard_at("Asset.to_dict", || {
            let d = pyo3::types::PyDict::new(py);
            d.set_item("sid", self.sid)?;
            d.set_item("symbol", &self.symbol)?;
            d.set_item("asset_name", &self.symbol)?;
            d.set_item("start_date", day_timestamp(py, self.start_day)?)?;
            d.set_item("end_date", day_timestamp(py, self.end_day)?)?;
            d.set_item("first_traded", py.None())?;
            d.set_item(
                "auto_close_date",
                day_timestamp(py, self.end_day.saturating_add(1))?,
            )?;
            d.set_item("exchange", &self.exchange)?;
            d.set_item("tick_size", 0.01)?;
            d.set_item("multiplier", 1.0)?;
            Ok(d)
        })
    }
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> Result<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        guard_at("Asset.__reduce__", || {
            let a = slf.get();
            let args = (
                a.sid,
                a.symbol.clone(),
                a.exchange.clone(),
                a.start_day,
                a.end_day,
                a.lot_scale,
            )
                .into_pyobject(slf.py())?;
            Ok((slf.get_type().into_any(), args))
        })
    }
}

/// A day number (days since 1970-01-01) as zipline's dates: a `pandas.Timestamp` at
/// midnight, without a zone.
fn day_timestamp(py: Python<'_>, day: i32) -> Result<Bound<'_, PyAny>> {
    let ns = i64::from(day) * 86_400_000_000_000;
    Ok(py.import("pandas")?.getattr("Timestamp")?.call1((ns,))?)
}

/// Bar close instants and a `[bars, assets]` matrix.
type TimedMatrix<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray2<f64>>);

/// An opened bundle: dense bar matrices in memory, shared (read-only) by every
/// simulation that runs on it.
#[pyclass(frozen, module = "rustybt._core", name = "Bundle")]
pub struct PyBundle {
    pub store: Arc<BarStore>,
}

#[pymethods]
impl PyBundle {
    /// Open the bundle at `path` (its directory, or one of its version directories). With
    /// `cache_dir`, through the bundle pool: the columns are memory-mapped from a cache file
    /// keyed by content hash (built on first use).
    #[staticmethod]
    #[pyo3(signature = (path, cache_dir = None))]
    fn open(py: Python<'_>, path: PathBuf, cache_dir: Option<PathBuf>) -> Result<Self> {
        guard_at("Bundle.open", || {
            let store = py
                .detach(|| BarStore::open_pooled(&path, cache_dir.as_deref()))
                .map_err(crate::errors::Error::from)?;
            Ok(PyBundle {
                store: Arc::new(store),
            })
        })
    }
    /// Whether the bars are mapped from the bundle pool's cache.
    #[getter]
    fn is_mapped(&self) -> Result<bool> {
        guard_at("Bundle.is_mapped", || Ok(self.store.is_mapped()))
    }
    #[getter]
    fn name(&self) -> Result<String> {
        guard_at("Bundle.name", || Ok(self.store.manifest.name.clone()))
    }
    #[getter]
    fn path(&self) -> Result<PathBuf> {
        guard_at("Bundle.path", || Ok(self.store.path.clone()))
    }
    #[getter]
    fn frequency(&self) -> Result<String> {
        guard_at("Bundle.frequency", || {
            Ok(self.store.manifest.frequency.clone())
        })
    }
    #[getter]
    fn calendar(&self) -> Result<String> {
        guard_at("Bundle.calendar", || {
            Ok(self.store.manifest.calendar.clone())
        })
    }
    #[getter]
    fn price_scale(&self) -> Result<u32> {
        guard_at("Bundle.price_scale", || Ok(self.store.price_scale()))
    }
    #[getter]
    fn content_hash(&self) -> Result<String> {
        guard_at("Bundle.content_hash", || {
            Ok(self.store.manifest.content_hash.clone())
        })
    }
    #[getter]
    fn created_at(&self) -> Result<String> {
        guard_at("Bundle.created_at", || {
            Ok(self.store.manifest.created_at.clone())
        })
    }
    #[getter]
    fn source(&self) -> Result<String> {
        guard_at("Bundle.source", || Ok(self.store.manifest.source.clone()))
    }
    #[getter]
    fn n_assets(&self) -> Result<usize> {
        guard_at("Bundle.n_assets", || Ok(self.store.n_assets()))
    }
    #[getter]
    fn n_bars(&self) -> Result<usize> {
        guard_at("Bundle.n_bars", || Ok(self.store.n_bars()))
    }
    /// The close of `sid` at the end of every session (forward-filled within the bundle;
    /// NaN before its first bar): what a benchmark's daily returns are computed from.
    fn _session_closes(&self, sid: u32) -> Result<Vec<f64>> {
        guard_at("Bundle._session_closes", || {
            if sid as usize >= self.store.n_assets() {
                return Err(bad_value(format!(
                    "sid {sid} is outside the bundle's {} assets",
                    self.store.n_assets()
                )));
            }
            let scale = 10f64.powi(i32::try_from(self.store.price_scale()).unwrap_or(0));
            Ok((0..self.store.sessions.len())
                .map(|s| {
                    let last_bar = self.store.session_first_bar[s + 1] as usize;
                    last_bar
                        .checked_sub(1)
                        .and_then(|bar| self.store.last_close_mantissa(bar, sid))
                        .map_or(f64::NAN, |m| m as f64 / scale)
                })
                .collect())
        })
    }
    /// `field` of every asset at every bar, raw (unadjusted; NaN where an asset has no
    /// bar), `[bars, assets]`: a read-only view of the bundle's column, no copy.
    fn field_matrix<'py>(slf: &Bound<'py, Self>, field: &str) -> Result<Bound<'py, PyArray2<f64>>> {
        guard_at("Bundle.field_matrix", || {
            let me = slf.get();
            let values = me.store.field_matrix(Field::named(field)?);
            let (rows, cols) = (me.store.n_bars(), me.store.n_assets());
            read_only_view(values, rows, cols, slf.clone().into_any())
        })
    }
    /// Every split and dividend as zipline's ratios: `(sids, ex-date sessions, price
    /// ratios, volume ratios)`; prices of earlier bars are multiplied by the price ratio
    /// (1 / split, or 1 − dividend / previous close), volumes by the volume ratio.
    fn adjustment_ratios(&self) -> Result<AdjustmentRatios> {
        guard_at("Bundle.adjustment_ratios", || {
            Ok({
                let mut out = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for sid in 0..self.store.n_assets() as u32 {
                    for f in self.store.adjustment_factors(sid) {
                        out.0.push(sid);
                        out.1.push(f.session);
                        out.2.push(f.price);
                        out.3.push(f.volume);
                    }
                }
                out
            })
        })
    }
    /// The assets, indexed by sid.
    fn assets(&self) -> Result<Vec<Asset>> {
        guard_at("Bundle.assets", || {
            Ok({
                self.store
                    .assets
                    .iter()
                    .map(|a| Asset {
                        sid: a.sid,
                        symbol: a.symbol.clone(),
                        exchange: a.exchange.clone(),
                        start_day: a.start_date,
                        end_day: a.end_date,
                        lot_scale: a.lot_scale,
                    })
                    .collect()
            })
        })
    }
    /// Session labels (days since the epoch), opens and closes (ns UTC).
    #[allow(clippy::type_complexity)]
    fn sessions<'py>(
        &self,
        py: Python<'py>,
    ) -> Result<(
        Bound<'py, PyArray1<i32>>,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<i64>>,
    )> {
        guard_at("Bundle.sessions", || {
            Ok({
                let s = &self.store.sessions;
                (
                    PyArray1::from_iter(py, s.iter().map(|x| x.date)),
                    PyArray1::from_iter(py, s.iter().map(|x| x.open_ns)),
                    PyArray1::from_iter(py, s.iter().map(|x| x.close_ns)),
                )
            })
        })
    }
    /// Bar close instants (ns UTC).
    fn timestamps<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyArray1<i64>>> {
        guard_at("Bundle.timestamps", || {
            Ok(PyArray1::from_slice(py, &self.store.timestamps))
        })
    }
    /// First bar of each session, plus the bar count.
    fn session_first_bar<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyArray1<u32>>> {
        guard_at("Bundle.session_first_bar", || {
            Ok(PyArray1::from_slice(py, &self.store.session_first_bar))
        })
    }
    /// Every completed bar of `field` aggregated to `frequency`, for all assets:
    /// (bar close instants ns UTC, `[bars, assets]` float64).
    fn resample<'py>(
        &self,
        py: Python<'py>,
        field: &str,
        frequency: &str,
    ) -> Result<TimedMatrix<'py>> {
        guard_at("Bundle.resample", || {
            let field = Field::named(field)?;
            let target = self.store.coarser_bar_size(frequency)?;
            let r = self.store.resampled(target);
            let values = py.detach(|| r.all(&self.store, field));
            let rows = r.timestamps.len();
            let arr = PyArray1::from_vec(py, values).reshape([rows, self.store.n_assets()])?;
            Ok((PyArray1::from_slice(py, &r.timestamps), arr))
        })
    }
    /// Close instants (ns UTC) of the bars of `frequency` over this bundle's sessions.
    fn resampled_timestamps<'py>(
        &self,
        py: Python<'py>,
        frequency: &str,
    ) -> Result<Bound<'py, PyArray1<i64>>> {
        guard_at("Bundle.resampled_timestamps", || {
            let target = self.store.coarser_bar_size(frequency)?;
            Ok(PyArray1::from_slice(
                py,
                &self.store.resampled(target).timestamps,
            ))
        })
    }
    /// (hits, misses) of the cache of completed `frequency` bars.
    fn cache_stats(&self, frequency: &str) -> Result<(u64, u64)> {
        guard_at("Bundle.cache_stats", || {
            let target = self.store.coarser_bar_size(frequency)?;
            let s = self.store.resampled(target).stats();
            Ok((s.hits, s.misses))
        })
    }
    /// `count` bars of `field` ending at bar `end_bar`, as a `[count, len(sids)]` float64
    /// array: at the bundle's bar size, or aggregated to the coarser `frequency`; adjusted
    /// for splits and dividends as of `end_bar`, rounded to `round_places` decimals as
    /// zipline rounds history (`None`: exact).
    #[pyo3(signature = (field, sids, end_bar, count, frequency = None, round_places = None))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        field: &str,
        sids: Vec<u32>,
        end_bar: usize,
        count: usize,
        frequency: Option<&str>,
        round_places: Option<u32>,
    ) -> Result<Bound<'py, PyArray2<f64>>> {
        guard_at("Bundle.history", || {
            let field = Field::named(field)?;
            if let Some(p) = round_places.filter(|&p| p > 12) {
                return Err(crate::errors::bad_value(format!(
                    "round_places takes 0..=12 decimal places or None, got {p}"
                )));
            }
            let target = frequency
                .map(|fr| self.store.coarser_bar_size(fr))
                .transpose()?;
            window_array(
                py,
                &self.store,
                rustybt_data::View::at_bar(end_bar),
                field,
                &sids,
                count,
                target,
                round_places.filter(|&p| self.store.window_needs_rounding(&sids, end_bar, p)),
            )
        })
    }
}

/// Forward `(done, total)` to a Python callable at most ~100 times, re-attaching the GIL
/// only for the call (the work itself runs detached).
/// Why an ingest stopped early: the exception of the progress callback or of a signal
/// handler (Ctrl-C's `KeyboardInterrupt`), raised again once the ingest has let go.
#[derive(Clone, Default)]
pub(crate) struct Stop(Arc<Mutex<Option<PyErr>>>);

impl Stop {
    fn set(&self, err: PyErr) {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert(err);
    }
    fn is_set(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }
    /// Whether to stop now: a pending signal (Ctrl-C) counts.
    fn now(&self) -> bool {
        if !self.is_set() {
            #[allow(clippy::redundant_closure_for_method_calls)] // the lifetime needs the closure
            if let Err(e) = Python::attach(|py| py.check_signals()) {
                self.set(e);
            }
        }
        self.is_set()
    }
    /// The ingest's result, with `Interrupted` replaced by the exception that stopped it.
    fn result<T>(&self, r: std::result::Result<T, DataError>) -> Result<T> {
        match r {
            Err(DataError::Interrupted) => {
                let err = self
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                Err(err.map_or_else(|| DataError::Interrupted.into(), crate::errors::Error::Py))
            }
            r => Ok(r?),
        }
    }
}

/// The ingest's progress report: calls `callback(done, total)` at most about a hundred
/// times, and checks for Ctrl-C at each of them; an exception from either stops the
/// ingest (the closure returns `false`) and is kept in `stop`.
fn progress_fn(callback: Option<Py<PyAny>>, stop: Stop) -> impl FnMut(usize, usize) -> bool + Send {
    let mut last = usize::MAX;
    move |done, total| {
        let step = total.div_ceil(100).max(1);
        if done / step != last || done == total {
            last = done / step;
            if let Some(cb) = callback.as_ref() {
                if let Err(e) = Python::attach(|py| cb.call1(py, (done, total)).map(drop)) {
                    stop.set(e);
                }
            }
            return !stop.now();
        }
        true
    }
}

fn sessions_from(dates: &[i32], opens: &[i64], closes: &[i64]) -> Result<Vec<Session>> {
    if dates.len() != opens.len() || dates.len() != closes.len() {
        return Err(invalid_run("session arrays differ in length".into()));
    }
    Ok((0..dates.len())
        .map(|i| Session {
            date: dates[i],
            open_ns: opens[i],
            close_ns: closes[i],
        })
        .collect())
}

fn parse_bar_size(frequency: &str) -> Result<BarSize> {
    Ok(BarSize::parse(frequency)?)
}

/// Generate a deterministic synthetic bundle and write it atomically. Returns the new
/// version directory.
#[pyfunction]
#[pyo3(signature = (bundles_dir, name, n_assets, seed, frequency, calendar, price_scale, dates, opens, closes, progress = None))]
pub fn ingest_synthetic(
    py: Python<'_>,
    bundles_dir: PathBuf,
    name: String,
    n_assets: usize,
    seed: u64,
    frequency: &str,
    calendar: String,
    price_scale: u32,
    dates: Vec<i32>,
    opens: Vec<i64>,
    closes: Vec<i64>,
    progress: Option<Py<PyAny>>,
) -> Result<PathBuf> {
    guard_at("ingest_synthetic", || {
        let stop = Stop::default();
        let mut report = progress_fn(progress, stop.clone());
        let spec = SyntheticSpec {
            n_assets,
            seed,
            frequency: parse_bar_size(frequency)?,
            calendar,
            price_scale,
            sessions: sessions_from(&dates, &opens, &closes)?,
        };
        stop.result(py.detach(|| {
            let content = rustybt_data::generate_with_progress(&spec, &mut report)?;
            rustybt_data::write_bundle_unless(&bundles_dir, &name, &content, &|| stop.now())
        }))
    })
}

/// Clean the bundle in `bundle_dir` (see `rustybt_data::maintenance::clean`): returns
/// `{"versions": [...], "leftovers": [...], "leased": [...]}`.
#[pyfunction]
pub fn clean_bundle(
    py: Python<'_>,
    bundle_dir: PathBuf,
    remove: bool,
) -> Result<std::collections::HashMap<&'static str, Vec<String>>> {
    guard_at("clean_bundle", || {
        let out = py
            .detach(|| rustybt_data::maintenance::clean(&bundle_dir, remove))
            .map_err(crate::errors::Error::from)?;
        Ok(std::collections::HashMap::from([
            ("versions", out.versions),
            ("leftovers", out.leftovers),
            ("leased", out.leased),
        ]))
    })
}

/// Remove the pool cache's temporaries of writers that have exited; returns their names.
#[pyfunction]
pub fn clean_cache_leftovers(cache_dir: PathBuf) -> Result<Vec<String>> {
    guard_at("clean_cache_leftovers", || {
        Ok(rustybt_data::maintenance::clean_cache_leftovers(
            &cache_dir,
        )?)
    })
}

/// A parsed, validated csvdir, waiting for its calendar's sessions.
#[pyclass(module = "rustybt._core", name = "CsvDir")]
pub struct PyCsvDir {
    parsed: Option<ParsedCsvDir>,
}

#[pymethods]
impl PyCsvDir {
    /// Read and validate every file of `path/daily/` (or `path/minute/`). With
    /// `allow_gaps`, consecutive rows of a symbol may be more than a year apart.
    #[staticmethod]
    #[pyo3(signature = (path, frequency, price_scale, progress = None, allow_gaps = false, round_prices = false))]
    fn parse(
        py: Python<'_>,
        path: PathBuf,
        frequency: &str,
        price_scale: u32,
        progress: Option<Py<PyAny>>,
        allow_gaps: bool,
        round_prices: bool,
    ) -> Result<Self> {
        guard_at("CsvDir.parse", || {
            let bar = parse_bar_size(frequency)?;
            let stop = Stop::default();
            let mut report = progress_fn(progress, stop.clone());
            let parsed = stop.result(py.detach(|| {
                ParsedCsvDir::parse_with_progress(
                    &path,
                    bar,
                    price_scale,
                    allow_gaps,
                    round_prices,
                    &mut report,
                )
            }))?;
            Ok(PyCsvDir {
                parsed: Some(parsed),
            })
        })
    }
    /// Read and validate a long table held in memory, from its columns' buffers: `names`
    /// (as a long table's header), and per column `(kind, data, values)` with kind `dict`
    /// (int32 codes into the strings `values`; a negative code is a null), `f64` / `f32`
    /// (NaN: null), `i64`, `ts` (int64 ns UTC; i64 min: null) or `date` (int32 days;
    /// i32 min: null); `data` a 1-D contiguous NumPy array, read in place. `label` names
    /// the table in errors (its rows are lines from 2).
    #[staticmethod]
    #[pyo3(signature = (label, names, columns, frequency, price_scale, allow_gaps = false, round_prices = false))]
    #[allow(clippy::too_many_arguments)]
    fn parse_table(
        py: Python<'_>,
        label: PathBuf,
        names: Vec<String>,
        columns: Vec<(String, Bound<'_, PyAny>, Option<Vec<String>>)>,
        frequency: &str,
        price_scale: u32,
        allow_gaps: bool,
        round_prices: bool,
    ) -> Result<Self> {
        guard_at("CsvDir.parse_table", || {
            let bar = parse_bar_size(frequency)?;
            let mut f64s = Vec::new();
            let mut f32s = Vec::new();
            let mut i64s = Vec::new();
            let mut i32s = Vec::new();
            for (kind, data, _) in &columns {
                let bad = || {
                    ingest(format!(
                        "a table column of kind {kind:?} has the wrong dtype"
                    ))
                };
                match kind.as_str() {
                    "f64" => f64s.push(data.cast::<PyArray1<f64>>().map_err(|_| bad())?.readonly()),
                    "f32" => f32s.push(data.cast::<PyArray1<f32>>().map_err(|_| bad())?.readonly()),
                    "i64" | "ts" => {
                        i64s.push(data.cast::<PyArray1<i64>>().map_err(|_| bad())?.readonly());
                    }
                    "dict" | "date" => {
                        i32s.push(data.cast::<PyArray1<i32>>().map_err(|_| bad())?.readonly());
                    }
                    other => return Err(ingest(format!("unknown table column kind {other:?}"))),
                }
            }
            let (mut f64s, mut f32s) = (f64s.iter(), f32s.iter());
            let (mut i64s, mut i32s) = (i64s.iter(), i32s.iter());
            let mut table = Vec::with_capacity(columns.len());
            for (kind, _, values) in &columns {
                table.push(match kind.as_str() {
                    "f64" => rustybt_data::TableColumn::F64(slice_of(f64s.next())?),
                    "f32" => rustybt_data::TableColumn::F32(slice_of(f32s.next())?),
                    "i64" => rustybt_data::TableColumn::I64(slice_of(i64s.next())?),
                    "ts" => rustybt_data::TableColumn::TimestampNs(slice_of(i64s.next())?),
                    "date" => rustybt_data::TableColumn::Date(slice_of(i32s.next())?),
                    _ => rustybt_data::TableColumn::Dictionary {
                        codes: slice_of(i32s.next())?,
                        values: values.clone().unwrap_or_default(),
                    },
                });
            }
            let parsed = py
                .detach(|| {
                    ParsedCsvDir::parse_table(
                        &label,
                        &names,
                        &table,
                        bar,
                        price_scale,
                        allow_gaps,
                        round_prices,
                    )
                })
                .map_err(crate::errors::Error::from)?;
            Ok(PyCsvDir {
                parsed: Some(parsed),
            })
        })
    }
    /// Read and validate a long table (CSV with a `symbol` column; rows in any order).
    #[staticmethod]
    #[pyo3(signature = (path, frequency, price_scale, allow_gaps = false, round_prices = false))]
    fn parse_long(
        py: Python<'_>,
        path: PathBuf,
        frequency: &str,
        price_scale: u32,
        allow_gaps: bool,
        round_prices: bool,
    ) -> Result<Self> {
        guard_at("CsvDir.parse_long", || {
            let bar = parse_bar_size(frequency)?;
            let parsed = py
                .detach(|| {
                    ParsedCsvDir::parse_long(&path, bar, price_scale, allow_gaps, round_prices)
                })
                .map_err(crate::errors::Error::from)?;
            Ok(PyCsvDir {
                parsed: Some(parsed),
            })
        })
    }
    /// Prices rounded to the price scale while parsing (with `round_prices`).
    #[getter]
    fn rounded(&self) -> Result<usize> {
        guard_at("CsvDir.rounded", || Ok(self.get()?.rounded))
    }
    /// Round each symbol's prices half to even to its tick (`ticks` in sid order, as
    /// mantissas at the price scale; 0: none). Returns how many prices changed (also
    /// counted in `rounded`).
    fn round_to_ticks(&mut self, ticks: Vec<i64>) -> Result<usize> {
        guard_at("CsvDir.round_to_ticks", || {
            let parsed = self
                .parsed
                .as_mut()
                .ok_or_else(|| ingest("this CsvDir was already written".into()))?;
            Ok(parsed.round_to_ticks(&ticks)?)
        })
    }
    /// (first, last) date in the files, as days since the epoch.
    fn date_range(&self) -> Result<(i32, i32)> {
        guard_at("CsvDir.date_range", || Ok(self.get()?.date_range()))
    }
    /// Symbols found, in sid order.
    fn symbols(&self) -> Result<Vec<String>> {
        guard_at("CsvDir.symbols", || {
            Ok(self
                .get()?
                .assets
                .iter()
                .map(|a| a.symbol.clone())
                .collect())
        })
    }
    /// Place rows on the calendar's bars and write the bundle atomically: `(its path,
    /// rows dropped)`; rows off the calendar are refused, all named, unless
    /// `drop_non_sessions`.
    /// `lot_scales` (one per symbol, in sid order) gives each asset its lot of
    /// `10^-scale` (default: whole shares).
    #[pyo3(signature = (bundles_dir, name, calendar, dates, opens, closes, drop_non_sessions = false, lot_scales = None))]
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        py: Python<'_>,
        bundles_dir: PathBuf,
        name: String,
        calendar: String,
        dates: Vec<i32>,
        opens: Vec<i64>,
        closes: Vec<i64>,
        drop_non_sessions: bool,
        lot_scales: Option<Vec<u32>>,
    ) -> Result<(PathBuf, usize)> {
        guard_at("CsvDir.write", || {
            let sessions = sessions_from(&dates, &opens, &closes)?;
            let parsed = self
                .parsed
                .take()
                .ok_or_else(|| ingest("this CsvDir was already written".into()))?;
            let stop = Stop::default();
            stop.result(py.detach(|| {
                let (mut content, dropped) =
                    parsed.into_content(&sessions, &calendar, drop_non_sessions)?;
                if let Some(scales) = &lot_scales {
                    content.set_lot_scales(scales)?;
                }
                rustybt_data::write_bundle_unless(&bundles_dir, &name, &content, &|| stop.now())
                    .map(|path| (path, dropped))
            }))
        })
    }
}

/// A table column's values, read in place (refused where the array is not contiguous).
fn slice_of<'a, T: numpy::Element>(
    array: Option<&'a numpy::PyReadonlyArray1<'_, T>>,
) -> Result<&'a [T]> {
    array
        .and_then(|a| a.as_slice().ok())
        .ok_or_else(|| ingest("a table column is not a contiguous array".into()))
}

impl PyCsvDir {
    fn get(&self) -> Result<&ParsedCsvDir> {
        self.parsed
            .as_ref()
            .ok_or_else(|| ingest("this CsvDir was already written".into()))
    }
}
