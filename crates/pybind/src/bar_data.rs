//! `BarData`: what a strategy sees of the market at the clock's current step. The rules
//! (what is visible, what can trade, what is stale) are the data crate's
//! ([`rustybt_data::View`]); this type holds the view the clock last set.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use numpy::{PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use rustybt_data::{BarStore, Field, View};

use crate::bundle::PyBundle;
use crate::conversion::{read_only_view, sids_of};
use crate::errors::{guard_at, Error, Result};

/// What a strategy sees of the market at the current bar. `rustybt.data.BarData`
/// subclasses it with zipline's pandas-returning `current` / `history`.
#[pyclass(frozen, subclass, module = "rustybt._core", name = "BarData")]
pub struct PyBarData {
    pub(crate) store: Arc<BarStore>,
    bar: AtomicUsize,
    before_first: AtomicBool,
    /// Decimal places history windows are rounded to (zipline's 3); `NO_ROUNDING`: exact.
    round_places: AtomicU32,
}

/// `round_places` when history windows are not rounded.
const NO_ROUNDING: u32 = u32::MAX;

/// zipline rounds every history window of an equity to 3 decimal places.
pub const ZIPLINE_PLACES: u32 = 3;

impl PyBarData {
    /// Show what the clock's step shows.
    pub(crate) fn set_view(&self, view: View) {
        self.bar.store(view.bar, Ordering::Relaxed);
        self.before_first
            .store(view.before_first, Ordering::Relaxed);
    }

    fn rounding(&self) -> Option<u32> {
        Some(self.round_places.load(Ordering::Relaxed)).filter(|&p| p != NO_ROUNDING)
    }

    pub(crate) fn view(&self) -> View {
        View {
            bar: self.bar.load(Ordering::Relaxed),
            before_first: self.before_first.load(Ordering::Relaxed),
        }
    }
}

#[pymethods]
impl PyBarData {
    #[new]
    fn new(bundle: &PyBundle) -> Result<Self> {
        guard_at("BarData.__new__", || {
            Ok({
                PyBarData {
                    store: bundle.store.clone(),
                    bar: AtomicUsize::new(0),
                    before_first: AtomicBool::new(false),
                    round_places: AtomicU32::new(ZIPLINE_PLACES),
                }
            })
        })
    }
    /// Index of the current bar in the bundle.
    #[getter]
    fn current_bar(&self) -> Result<usize> {
        guard_at("BarData.current_bar", || {
            Ok(self.bar.load(Ordering::Relaxed))
        })
    }
    /// Move to bar `bar` (for drivers other than the Rust clock, e.g. the reference
    /// engine). `before_first`: `before_trading_start` of the bundle's first session,
    /// where no bar is visible yet.
    #[pyo3(signature = (bar, before_first = false))]
    fn _set_bar(&self, bar: usize, before_first: bool) -> Result<()> {
        guard_at("BarData._set_bar", || {
            self.store.check_window(&[], bar)?;
            self.set_view(View { bar, before_first });
            Ok(())
        })
    }
    /// Decimal places of history windows (`None`: the exact stored and adjusted values).
    #[getter]
    fn _round_places(&self) -> Result<Option<u32>> {
        guard_at("BarData._round_places", || Ok(self.rounding()))
    }
    /// Round history windows to `places` decimals as zipline does (NumPy's `around`:
    /// half to even on the binary value), or not at all with `None`.
    #[pyo3(signature = (places))]
    fn _set_round_places(&self, places: Option<u32>) -> Result<()> {
        guard_at("BarData._set_round_places", || {
            if places.is_some_and(|p| p > 12) {
                return Err(crate::errors::bad_value(format!(
                    "history rounding takes 0..=12 decimal places or None, got {}",
                    places.unwrap_or_default()
                )));
            }
            self.round_places
                .store(places.unwrap_or(NO_ROUNDING), Ordering::Relaxed);
            Ok(())
        })
    }
    /// One field of one asset at the current bar (NaN when there is no bar; `price`
    /// forward-fills).
    fn _current(&self, sid: u32, field: &str) -> Result<f64> {
        guard_at("BarData._current", || {
            let f = Field::named(field)?;
            self.store.check_sid(sid)?;
            Ok(self.store.current_at(self.view(), f, sid))
        })
    }
    /// `[count, len(sids)]` window of `field` ending at the current bar (inclusive); with
    /// `frequency`, of bars aggregated to that coarser size (the current one so far).
    /// `assets` is a sequence of `Asset`s (or sids).
    #[pyo3(signature = (assets, field, count, frequency = None))]
    fn _history<'py>(
        slf: &Bound<'py, Self>,
        assets: &Bound<'py, PyAny>,
        field: &str,
        count: usize,
        frequency: Option<&str>,
    ) -> Result<Bound<'py, PyArray2<f64>>> {
        guard_at("BarData._history", || {
            let py = slf.py();
            let me = slf.get();
            let sids = sids_of(assets)?;
            let f = Field::named(field)?;
            let target = frequency
                .map(|fr| me.store.coarser_bar_size(fr))
                .transpose()?;
            let view = me.view();
            let all_assets = sids.len() == me.store.n_assets()
                && sids.iter().enumerate().all(|(i, &s)| s as usize == i);
            // decimal places to round to, where rounding can change the window
            let round = me
                .rounding()
                .filter(|&p| me.store.window_needs_rounding(&sids, view.bar, p));
            if all_assets && target.is_none() && !view.before_first && round.is_none() {
                if let Some(block) = me.store.raw_block(f, view.bar, count) {
                    // zero-copy: a read-only view of the store's rows, kept alive by this object
                    return read_only_view(block, count, sids.len(), slf.clone().into_any());
                }
            }
            window_array(py, &me.store, view, f, &sids, count, target, round)
        })
    }
    /// True while `before_trading_start` runs for the bundle's first session (no bar yet).
    #[getter]
    fn _before_first(&self) -> Result<bool> {
        guard_at("BarData._before_first", || {
            Ok(self.before_first.load(Ordering::Relaxed))
        })
    }
    /// Whether the asset has a price now and its data has not ended.
    fn _can_trade(&self, sid: u32) -> Result<bool> {
        guard_at("BarData._can_trade", || {
            Ok(self.store.can_trade(self.view(), sid))
        })
    }
    /// Whether the asset has a price but no bar now.
    fn _is_stale(&self, sid: u32) -> Result<bool> {
        guard_at("BarData._is_stale", || {
            Ok(self.store.is_stale(self.view(), sid))
        })
    }
}

/// A fresh `[count, len(sids)]` array of the window ending at `view` (see
/// [`BarStore::window_into`]), rounded to `round` decimals as zipline rounds history
/// (every row but the current aggregated bar, which zipline builds from the finer bars
/// unrounded). Callers pass `round` only where rounding can change the window
/// ([`BarStore::window_needs_rounding`]).
#[allow(clippy::too_many_arguments)]
pub fn window_array<'py>(
    py: Python<'py>,
    store: &BarStore,
    view: View,
    field: Field,
    sids: &[u32],
    count: usize,
    target: Option<rustybt_data::BarSize>,
    round: Option<u32>,
) -> Result<Bound<'py, PyArray2<f64>>> {
    store.check_window(sids, view.bar)?;
    // SAFETY: every element is written by `window_into` before the array is returned
    let arr = unsafe { PyArray2::<f64>::new(py, [count, sids.len()], false) };
    {
        let mut rw = arr.readwrite();
        let out = rw.as_slice_mut().map_err(|e| Error::Py(e.into()))?;
        store.window_into(view, field, sids, count, target, out)?;
        if let Some(p) = round {
            let rows = if target.is_some() { count - 1 } else { count };
            rustybt_data::round_like_numpy(&mut out[..rows * sids.len()], p);
        }
    }
    Ok(arr)
}
