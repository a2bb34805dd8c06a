//! zipline's trading controls: checked before an order is placed, each failing the order
//! or logging a warning.

use std::str::FromStr;

use rustybt_data::BarStore;
use rustybt_ledger::Money;

use crate::error::EngineError;

/// What a trading control does when an order breaks it (zipline's `on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Refuse the order with an error (the default).
    #[default]
    Fail,
    /// Place the order and record a warning.
    Log,
}

/// zipline's trading controls, checked before an order is placed.
#[derive(Debug, Clone, PartialEq)]
pub enum Control<N> {
    /// At most `max_shares` shares / `max_notional` value per order (one asset, or all).
    MaxOrderSize {
        sid: Option<u32>,
        max_shares: Option<i64>,
        max_notional: Option<N>,
        on_error: OnError,
    },
    /// The position after the order holds at most `max_shares` / `max_notional`.
    MaxPositionSize {
        sid: Option<u32>,
        max_shares: Option<i64>,
        max_notional: Option<N>,
        on_error: OnError,
    },
    /// At most `max_count` orders per session.
    MaxOrderCount { max_count: u32, on_error: OnError },
    /// No order may leave a short position.
    LongOnly { on_error: OnError },
    /// zipline's `RestrictedListOrder`: no order for an asset its restrictions freeze now.
    Restricted {
        /// Per sid, `(component, effective ns, frozen)` sorted by component then time: an
        /// asset is frozen at `t` when, in any component (one `Restrictions` of a union),
        /// its last entry effective at or before `t` says so.
        rules: Vec<Vec<(u32, i64, bool)>>,
        on_error: OnError,
    },
}

/// Whether `rules` (one sid's, as [`Control::Restricted`] holds them) freeze it at `now`.
pub fn frozen_at(rules: &[(u32, i64, bool)], now: i64) -> bool {
    let mut frozen = false;
    let mut component = None;
    for &(c, at, state) in rules {
        if component != Some(c) {
            if frozen {
                return true;
            }
            component = Some(c);
            frozen = false;
        }
        if at <= now {
            frozen = state;
        }
    }
    frozen
}

/// The control kinds by zipline's function names (without `set_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlKind {
    MaxOrderSize,
    MaxPositionSize,
    MaxOrderCount,
    LongOnly,
}

impl FromStr for ControlKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        Ok(match s {
            "max_order_size" => ControlKind::MaxOrderSize,
            "max_position_size" => ControlKind::MaxPositionSize,
            "max_order_count" => ControlKind::MaxOrderCount,
            "long_only" => ControlKind::LongOnly,
            other => {
                return Err(EngineError::BadConfig(format!(
                    "unknown trading control '{other}'"
                )))
            }
        })
    }
}

impl FromStr for OnError {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "fail" => Ok(OnError::Fail),
            "log" => Ok(OnError::Log),
            other => Err(EngineError::BadConfig(format!(
                "on_error must be 'fail' or 'log', got '{other}'"
            ))),
        }
    }
}

impl<N: Money> Control<N> {
    /// A control of `kind` from the arguments of zipline's `set_*` functions: `max_shares`
    /// (truncated to whole shares) and `max_notional` must be finite and non-negative;
    /// size controls need one of them, the count control its `max_count`.
    pub fn new(
        kind: ControlKind,
        sid: Option<u32>,
        max_shares: Option<f64>,
        max_notional: Option<f64>,
        max_count: Option<u32>,
        on_error: OnError,
    ) -> Result<Self, EngineError> {
        let shares = max_shares
            .map(|v| {
                if v.is_finite() && v >= 0.0 {
                    Ok(v.trunc() as i64)
                } else {
                    Err(EngineError::BadConfig(format!(
                        "max_shares must be a non-negative number, got {v}"
                    )))
                }
            })
            .transpose()?;
        let notional = max_notional
            .map(|v| crate::simulation::param::<N>("max_notional", v))
            .transpose()?;
        let name = match kind {
            ControlKind::MaxOrderSize => "max_order_size",
            ControlKind::MaxPositionSize => "max_position_size",
            _ => "",
        };
        Ok(match kind {
            ControlKind::MaxOrderSize | ControlKind::MaxPositionSize
                if shares.is_none() && notional.is_none() =>
            {
                return Err(EngineError::BadConfig(format!(
                    "{name} needs max_shares or max_notional"
                )))
            }
            ControlKind::MaxOrderSize => Control::MaxOrderSize {
                sid,
                max_shares: shares,
                max_notional: notional,
                on_error,
            },
            ControlKind::MaxPositionSize => Control::MaxPositionSize {
                sid,
                max_shares: shares,
                max_notional: notional,
                on_error,
            },
            ControlKind::MaxOrderCount => Control::MaxOrderCount {
                max_count: max_count.ok_or_else(|| {
                    EngineError::BadConfig("max_order_count needs max_count".into())
                })?,
                on_error,
            },
            ControlKind::LongOnly => Control::LongOnly { on_error },
        })
    }

    pub(crate) fn describe(&self, store: &BarStore) -> String {
        let asset = |sid: &Option<u32>| {
            sid.map_or("all".to_string(), |s| {
                store.assets[s as usize].symbol.clone()
            })
        };
        let opt = |v: Option<String>| v.unwrap_or_else(|| "None".into());
        match self {
            Control::MaxOrderSize {
                sid,
                max_shares,
                max_notional,
                ..
            } => format!(
                "MaxOrderSize(asset={}, max_shares={}, max_notional={})",
                asset(sid),
                opt(max_shares.map(|v| v.to_string())),
                opt(max_notional.map(|v| v.to_string()))
            ),
            Control::MaxPositionSize {
                sid,
                max_shares,
                max_notional,
                ..
            } => format!(
                "MaxPositionSize(asset={}, max_shares={}, max_notional={})",
                asset(sid),
                opt(max_shares.map(|v| v.to_string())),
                opt(max_notional.map(|v| v.to_string()))
            ),
            Control::MaxOrderCount { max_count, .. } => {
                format!("MaxOrderCount(max_count={max_count})")
            }
            Control::LongOnly { .. } => "LongOnly()".to_string(),
            Control::Restricted { .. } => "RestrictedListOrder({})".to_string(),
        }
    }

    pub(crate) fn on_error(&self) -> OnError {
        match self {
            Control::MaxOrderSize { on_error, .. }
            | Control::MaxPositionSize { on_error, .. }
            | Control::MaxOrderCount { on_error, .. }
            | Control::LongOnly { on_error }
            | Control::Restricted { on_error, .. } => *on_error,
        }
    }

    /// Whether an order of `amount` lots of `10^-scale` (shares where `scale` is 0) of
    /// `sid` at `now` (ns) breaks this control. `max_shares` counts whole units.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn violated(
        &self,
        sid: u32,
        amount: i64,
        current: i64,
        scale: u32,
        price: Option<N>,
        orders_today: u32,
        now: i64,
    ) -> bool {
        let applies = |s: &Option<u32>| s.is_none_or(|x| x == sid);
        let per_unit = rustybt_ledger::lots_per_unit(scale);
        let too_big = |lots: i64, max_shares: &Option<i64>, max_notional: &Option<N>| {
            max_shares.is_some_and(|m| lots.abs() > m.saturating_mul(per_unit))
                || matches!((max_notional, price), (Some(m), Some(p)) if p.mul_qty(lots, scale).abs() > *m)
        };
        match self {
            Control::MaxOrderSize {
                sid: s,
                max_shares,
                max_notional,
                ..
            } => applies(s) && too_big(amount, max_shares, max_notional),
            Control::MaxPositionSize {
                sid: s,
                max_shares,
                max_notional,
                ..
            } => applies(s) && too_big(current + amount, max_shares, max_notional),
            Control::MaxOrderCount { max_count, .. } => orders_today >= *max_count,
            Control::LongOnly { .. } => current + amount < 0,
            Control::Restricted { rules, .. } => {
                rules.get(sid as usize).is_some_and(|r| frozen_at(r, now))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::frozen_at;

    #[test]
    fn restrictions_freeze_by_their_latest_state_in_any_component() {
        // component 0: frozen from 10, allowed again from 20; component 1: frozen from 30
        let rules = [(0, 10, true), (0, 20, false), (1, 30, true)];
        assert!(!frozen_at(&rules, 9));
        assert!(frozen_at(&rules, 10));
        assert!(frozen_at(&rules, 19));
        assert!(!frozen_at(&rules, 20));
        assert!(frozen_at(&rules, 30));
        assert!(!frozen_at(&[], 30));
        assert!(frozen_at(&[(0, i64::MIN, true)], i64::MIN));
    }
}
