//! What a strategy sees of the market at one moment of the clock: the rules behind
//! `data.current`, `data.can_trade`, `data.is_stale` and the masking of history windows.

use crate::calendar::BarSize;
use crate::error::DataError;
use crate::store::{BarStore, Field};

/// A moment of the clock as the strategy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    /// The last visible bar (inclusive): bars after it are the future.
    pub bar: usize,
    /// `before_trading_start` of the bundle's very first session: no bar is visible yet.
    pub before_first: bool,
}

impl View {
    /// While handling bar `bar`: bars up to and including it are visible.
    pub fn at_bar(bar: usize) -> Self {
        View {
            bar,
            before_first: false,
        }
    }

    /// Before the first bar of a session that starts at `first_bar`: the bar before it is
    /// the last one visible, and at the bundle's first bar nothing is.
    pub fn before_session(first_bar: usize) -> Self {
        View {
            bar: first_bar.saturating_sub(1),
            before_first: first_bar == 0,
        }
    }
}

/// What a masked (not yet visible) value reads as: no volume, no price.
pub fn masked_value(field: Field) -> f64 {
    if field == Field::Volume {
        0.0
    } else {
        f64::NAN
    }
}

impl BarStore {
    /// `field` of `sid` as seen at `view` (NaN where there is no bar; `price` forward-fills).
    pub fn current_at(&self, view: View, field: Field, sid: u32) -> f64 {
        if view.before_first {
            masked_value(field)
        } else {
            self.current(field, view.bar, sid)
        }
    }

    /// Whether `sid` has a price at `view` and its data has not ended.
    pub fn can_trade(&self, view: View, sid: u32) -> bool {
        if view.before_first {
            return false;
        }
        let Some(asset) = self.assets.get(sid as usize) else {
            return false;
        };
        let day = self.sessions[self.bar_session[view.bar] as usize].date;
        day <= asset.end_date && self.last_close_mantissa(view.bar, sid).is_some()
    }

    /// Whether `sid` has a price at `view` but no bar of its own at that moment.
    pub fn is_stale(&self, view: View, sid: u32) -> bool {
        if view.before_first || sid as usize >= self.n_assets() {
            return false;
        }
        self.close_mantissa(view.bar, sid).is_none()
            && self.last_close_mantissa(view.bar, sid).is_some()
    }
}

impl Field {
    /// The field named `name`, or an error listing the names.
    pub fn named(name: &str) -> Result<Field, DataError> {
        Field::parse(name).ok_or_else(|| {
            DataError::BadWindow(format!(
                "unknown field '{name}': use open, high, low, close, volume or price"
            ))
        })
    }
}

impl BarStore {
    /// `sid` if the bundle has it.
    pub fn check_sid(&self, sid: u32) -> Result<u32, DataError> {
        if (sid as usize) < self.n_assets() {
            Ok(sid)
        } else {
            Err(DataError::UnknownSid {
                sid,
                n_assets: self.n_assets(),
            })
        }
    }

    /// Whether a window of `sids` ending at `end_bar` can be read.
    pub fn check_window(&self, sids: &[u32], end_bar: usize) -> Result<(), DataError> {
        for &sid in sids {
            self.check_sid(sid)?;
        }
        if end_bar >= self.n_bars() {
            return Err(DataError::BadWindow(format!(
                "bar {end_bar} is past the bundle's {} bars",
                self.n_bars()
            )));
        }
        Ok(())
    }

    /// The bar size named `frequency`, which history windows may aggregate this bundle's
    /// bars to: a coarser multiple of its own (minutes to hours or days).
    pub fn coarser_bar_size(&self, frequency: &str) -> Result<BarSize, DataError> {
        let target = BarSize::parse(frequency).map_err(|e| DataError::BadWindow(e.to_string()))?;
        let coarser = match (self.bar_size, target) {
            (BarSize::Minutes(_), BarSize::Daily) => true,
            (BarSize::Minutes(src), BarSize::Minutes(dst)) => dst > src && dst % src == 0,
            (BarSize::Daily, _) => false,
        };
        if !coarser {
            return Err(DataError::BadWindow(format!(
                "cannot aggregate {} bars to {}: the target must be a coarser multiple",
                self.bar_size.label(),
                target.label()
            )));
        }
        Ok(target)
    }

    /// `count` bars of `field` for `sids` ending at `view`'s bar, time-major, into `out`
    /// (`count × sids.len()`): at the bundle's bar size, or aggregated to `target` (the
    /// bar in progress from the bars seen so far). Nothing is visible before the first bar.
    pub fn window_into(
        &self,
        view: View,
        field: Field,
        sids: &[u32],
        count: usize,
        target: Option<BarSize>,
        out: &mut [f64],
    ) -> Result<(), DataError> {
        self.check_window(sids, view.bar)?;
        if view.before_first {
            out.fill(masked_value(field));
            return Ok(());
        }
        match target {
            None => self.history_into(field, sids, view.bar, count, out),
            Some(t) => self
                .resampled(t)
                .history_into(self, field, sids, view.bar, count, out),
        }
        Ok(())
    }
}
