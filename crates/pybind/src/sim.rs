//! `Simulation` (one backtest, decimal or float ledger), `BarData` (what a strategy sees
//! of the current bar) and the event loop that calls the strategy.
//!
//! The loop never holds a borrow of the simulation while Python runs: each step borrows,
//! mutates and releases, so `order()` and `history()` called from `handle_data` can borrow
//! it again. The strategy's own exceptions are carried through with their traceback.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rust_decimal::Decimal;
use rustybt_data::BarStore;
use rustybt_engine::{
    alpha_beta, cumulative_risk, fifo_round_trips, Control, FillModel, OnError, RoundTrip,
    Simulation,
};
use rustybt_ledger::{CancelPolicy, Commission, Money, Order, OrderStyle, Slippage};

use crate::bundle::{coarser_bar_size, history_array, parse_field, PyBundle};
use crate::errors::{
    engine_err, guard, ledger_err, BadOrderParameters, InvalidRunParameters, OrderDuringInitialize,
    RustyBTError, StrategyError,
};

/// Where the algorithm is in its lifecycle; orders are allowed only while trading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initialize,
    BeforeTradingStart,
    Trading,
    Analyze,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Initialize => "initialize",
            Phase::BeforeTradingStart => "before_trading_start",
            Phase::Trading => "handle_data",
            Phase::Analyze => "analyze",
        }
    }
}

enum AnySim {
    Decimal(Simulation<Decimal>),
    Float(Simulation<f64>),
}

/// Run `$body` with `$s` bound to the concrete simulation, whatever its number type.
macro_rules! with_sim {
    ($any:expr, $s:ident => $body:expr) => {
        match $any {
            AnySim::Decimal($s) => $body,
            AnySim::Float($s) => $body,
        }
    };
}

fn money<N: Money>(name: &'static str, v: f64) -> PyResult<N> {
    N::from_f64(v).ok_or_else(|| money_error(name, v))
}

fn money_error(name: &'static str, v: f64) -> PyErr {
    BadOrderParameters::new_err(format!(
        "{name} must be a finite number that a decimal with at most 28 places can hold exactly, got {v}"
    ))
}

fn param<N: Money>(name: &'static str, v: f64) -> PyResult<N> {
    match N::from_f64(v) {
        Some(x) if x >= N::zero() => Ok(x),
        _ => Err(InvalidRunParameters::new_err(format!(
            "{name} must be a finite, non-negative number, got {v}"
        ))),
    }
}

fn style<N: Money>(limit: Option<f64>, stop: Option<f64>) -> PyResult<OrderStyle<N>> {
    let price = |name: &'static str, v: f64| -> PyResult<N> {
        if v.is_finite() && v > 0.0 {
            money(name, v)
        } else {
            Err(BadOrderParameters::new_err(format!(
                "{name} price must be a positive finite number, got {v}"
            )))
        }
    };
    Ok(match (limit, stop) {
        (None, None) => OrderStyle::Market,
        (Some(l), None) => OrderStyle::Limit(price("limit", l)?),
        (None, Some(s)) => OrderStyle::Stop(price("stop", s)?),
        (Some(l), Some(s)) => OrderStyle::StopLimit {
            limit: price("limit", l)?,
            stop: price("stop", s)?,
        },
    })
}

fn place<N: Money>(
    sim: &mut Simulation<N>,
    kind: &str,
    sid: u32,
    value: f64,
    limit: Option<f64>,
    stop: Option<f64>,
) -> PyResult<Option<u64>> {
    let st = style::<N>(limit, stop)?;
    let mut amount = |name: &'static str| -> PyResult<N> {
        sim.param(value).ok_or_else(|| money_error(name, value))
    };
    let r = match kind {
        "shares" => {
            let raw = amount("amount")?;
            sim.order(sid, rustybt_ledger::round_order_amount(raw), st)
        }
        "value" => {
            let v = amount("value")?;
            sim.order_value(sid, v, st)
        }
        "percent" => {
            let v = amount("percent")?;
            sim.order_percent(sid, v, st)
        }
        "target" => {
            let raw = amount("target")?;
            sim.order_target(sid, rustybt_ledger::round_order_amount(raw), st)
        }
        "target_value" => {
            let v = amount("target")?;
            sim.order_target_value(sid, v, st)
        }
        "target_percent" => {
            let v = amount("target")?;
            sim.order_target_percent(sid, v, st)
        }
        other => {
            return Err(BadOrderParameters::new_err(format!(
                "unknown order kind '{other}'"
            )))
        }
    };
    r.map_err(engine_err)
}

/// One Python timestamp per bar, looked up in the caller's index once and reused
/// (an index lookup costs microseconds; a run has thousands of fills).
struct BarTimes<'a, 'py> {
    index: &'a Bound<'py, PyAny>,
    memo: Vec<Option<Bound<'py, PyAny>>>,
}

impl<'py> BarTimes<'_, 'py> {
    /// Look up the timestamps of `bars` in one vectorized `take` (one `DatetimeIndex`
    /// item lookup costs ~12 µs; boxing many at once ~2 µs each).
    fn prefetch(&mut self, py: Python<'py>, mut bars: Vec<usize>) -> PyResult<()> {
        bars.sort_unstable();
        bars.dedup();
        let Some(&last) = bars.last() else {
            return Ok(());
        };
        let positions: Vec<i64> = bars
            .iter()
            .map(|&b| i64::try_from(b).unwrap_or(i64::MAX))
            .collect();
        let taken = self
            .index
            .call_method1("take", (PyArray1::from_vec(py, positions),))?
            .call_method0("tolist")?;
        let taken = taken.cast::<PyList>()?;
        if last >= self.memo.len() {
            self.memo.resize(last + 1, None);
        }
        for (i, &bar) in bars.iter().enumerate() {
            self.memo[bar] = Some(taken.get_item(i)?);
        }
        Ok(())
    }

    fn get(&mut self, bar: usize) -> PyResult<Bound<'py, PyAny>> {
        if let Some(Some(t)) = self.memo.get(bar) {
            return Ok(t.clone());
        }
        let t = self.index.get_item(bar)?;
        if bar >= self.memo.len() {
            self.memo.resize(bar + 1, None);
        }
        self.memo[bar] = Some(t.clone());
        Ok(t)
    }
}

fn order_dict<'py, N: Money>(
    py: Python<'py>,
    o: &Order<N>,
    assets: &Bound<'py, PyList>,
    times: &mut BarTimes<'_, 'py>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "id"), o.id)?;
    d.set_item(intern!(py, "dt"), times.get(o.updated_bar)?)?;
    d.set_item(intern!(py, "created"), times.get(o.created_bar)?)?;
    d.set_item(intern!(py, "reason"), o.reason.as_deref())?;
    d.set_item(intern!(py, "amount"), o.amount)?;
    d.set_item(intern!(py, "filled"), o.filled)?;
    d.set_item(intern!(py, "commission"), o.commission.to_f64())?;
    d.set_item(intern!(py, "limit"), o.limit.map(Money::to_f64))?;
    d.set_item(intern!(py, "stop"), o.stop.map(Money::to_f64))?;
    d.set_item(intern!(py, "limit_reached"), o.limit_reached)?;
    d.set_item(intern!(py, "stop_reached"), o.stop_reached)?;
    d.set_item(intern!(py, "sid"), assets.get_item(o.sid as usize)?)?;
    d.set_item(intern!(py, "status"), o.status.code())?;
    Ok(d)
}

/// Columns of the perf frame, built once at the end of a run.
fn perf_columns<'py, N: Money>(
    py: Python<'py>,
    sim: &Simulation<N>,
    assets: &Bound<'py, PyList>,
    bar_times: &Bound<'py, PyAny>,
    risk_metrics: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let perf = sim.perf();
    let store = sim.store();
    let out = PyDict::new(py);
    let f = |g: &dyn Fn(&rustybt_engine::SessionPerf<N>) -> f64| -> Vec<f64> {
        perf.iter().map(g).collect()
    };
    let returns = f(&|p| p.returns.to_f64());
    let cols: Vec<(&str, Vec<f64>)> = vec![
        ("portfolio_value", f(&|p| p.portfolio_value.to_f64())),
        ("returns", returns.clone()),
        ("pnl", f(&|p| p.pnl.to_f64())),
        ("capital_used", f(&|p| p.capital_used.to_f64())),
        ("starting_cash", f(&|p| p.starting_cash.to_f64())),
        ("ending_cash", f(&|p| p.ending_cash.to_f64())),
        ("starting_value", f(&|p| p.starting_value.to_f64())),
        ("ending_value", f(&|p| p.ending_value.to_f64())),
        ("starting_exposure", f(&|p| p.starting_value.to_f64())),
        ("ending_exposure", f(&|p| p.ending_value.to_f64())),
        ("long_value", f(&|p| p.exposure.long_value.to_f64())),
        ("short_value", f(&|p| p.exposure.short_value.to_f64())),
        ("long_exposure", f(&|p| p.exposure.long_value.to_f64())),
        ("short_exposure", f(&|p| p.exposure.short_value.to_f64())),
        ("longs_count", f(&|p| f64::from(p.exposure.long_count))),
        ("shorts_count", f(&|p| f64::from(p.exposure.short_count))),
        (
            "gross_leverage",
            f(&|p| ratio(p.exposure.gross(), p.portfolio_value)),
        ),
        (
            "net_leverage",
            f(&|p| ratio(p.exposure.net(), p.portfolio_value)),
        ),
    ];
    for (name, v) in cols {
        out.set_item(name, PyArray1::from_vec(py, v))?;
    }
    if risk_metrics {
        let risk = cumulative_risk(&returns);
        let risk_cols: Vec<(&str, Vec<f64>)> = vec![
            (
                "algorithm_period_return",
                risk.iter().map(|r| r.algorithm_period_return).collect(),
            ),
            (
                "algo_volatility",
                risk.iter().map(|r| r.algo_volatility).collect(),
            ),
            ("sharpe", risk.iter().map(|r| r.sharpe).collect()),
            ("sortino", risk.iter().map(|r| r.sortino).collect()),
            (
                "max_drawdown",
                risk.iter().map(|r| r.max_drawdown).collect(),
            ),
        ];
        for (name, v) in risk_cols {
            out.set_item(name, PyArray1::from_vec(py, v))?;
        }
    }
    let sessions: Vec<i64> = perf
        .iter()
        .map(|p| store.sessions[p.session].close_ns)
        .collect();
    out.set_item("period_close", PyArray1::from_vec(py, sessions))?;
    let opens: Vec<i64> = perf
        .iter()
        .map(|p| store.sessions[p.session].open_ns)
        .collect();
    out.set_item("period_open", PyArray1::from_vec(py, opens))?;
    let txns = sim.ledger().transactions();
    let mut times = BarTimes {
        index: bar_times,
        memo: Vec::new(),
    };
    let mut needed: Vec<usize> = txns.iter().map(|t| t.bar).collect();
    for p in perf {
        needed.extend(p.orders.iter().flat_map(|o| [o.updated_bar, o.created_bar]));
    }
    times.prefetch(py, needed)?;
    let (mut t_col, mut o_col, mut p_col) = (Vec::new(), Vec::new(), Vec::new());
    for p in perf {
        let tl = PyList::empty(py);
        for t in &txns[p.transactions.clone()] {
            let d = PyDict::new(py);
            d.set_item(intern!(py, "amount"), t.amount)?;
            d.set_item(intern!(py, "dt"), times.get(t.bar)?)?;
            d.set_item(intern!(py, "price"), t.price.to_f64())?;
            d.set_item(intern!(py, "order_id"), t.order_id)?;
            d.set_item(intern!(py, "sid"), assets.get_item(t.sid as usize)?)?;
            d.set_item(intern!(py, "commission"), t.commission.to_f64())?;
            tl.append(d)?;
        }
        t_col.push(tl);
        let ol = PyList::empty(py);
        for o in &p.orders {
            ol.append(order_dict(py, o, assets, &mut times)?)?;
        }
        o_col.push(ol);
        let pl = PyList::empty(py);
        for &(sid, amount, cost_basis, last) in &p.positions {
            let d = PyDict::new(py);
            d.set_item(intern!(py, "sid"), assets.get_item(sid as usize)?)?;
            d.set_item(intern!(py, "amount"), amount)?;
            d.set_item(intern!(py, "cost_basis"), cost_basis.to_f64())?;
            d.set_item(intern!(py, "last_sale_price"), last.to_f64())?;
            pl.append(d)?;
        }
        p_col.push(pl);
    }
    out.set_item("transactions", t_col)?;
    out.set_item("orders", o_col)?;
    out.set_item("positions", p_col)?;
    let exact = PyDict::new(py);
    let s = |g: &dyn Fn(&rustybt_engine::SessionPerf<N>) -> N| -> Vec<String> {
        perf.iter().map(|p| g(p).to_exact_string()).collect()
    };
    exact.set_item("portfolio_value", s(&|p| p.portfolio_value))?;
    exact.set_item("ending_cash", s(&|p| p.ending_cash))?;
    exact.set_item("ending_value", s(&|p| p.ending_value))?;
    exact.set_item("pnl", s(&|p| p.pnl))?;
    exact.set_item("returns", s(&|p| p.returns))?;
    exact.set_item("capital_used", s(&|p| p.capital_used))?;
    exact.set_item("starting_cash", s(&|p| p.starting_cash))?;
    let exact_txns: Vec<(Option<u64>, u32, i64, String, String, usize)> = txns
        .iter()
        .map(|t| {
            (
                t.order_id,
                t.sid,
                t.amount,
                t.price.to_exact_string(),
                t.commission.to_exact_string(),
                t.bar,
            )
        })
        .collect();
    exact.set_item("transactions", exact_txns)?;
    out.set_item("exact", exact)?;
    Ok(out)
}

/// What a sweep's trial keeps of a run (`Simulation.trial_summary`), without the perf
/// frame: the same figures `stats_from_perf` reads from it, taken from the same values.
fn trial_summary<'py, N: Money>(
    py: Python<'py>,
    sim: &Simulation<N>,
    group_of_sid: &[u32],
    benchmark: Option<Vec<f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let perf = sim.perf();
    let returns: Vec<f64> = perf.iter().map(|p| p.returns.to_f64()).collect();
    let txns = sim.ledger().transactions();
    let group = txns
        .iter()
        .map(|t| {
            group_of_sid.get(t.sid as usize).copied().ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err(format!("no symbol rank for sid {}", t.sid))
            })
        })
        .collect::<PyResult<Vec<u32>>>()?;
    let amount: Vec<i64> = txns.iter().map(|t| t.amount).collect();
    let price: Vec<f64> = txns.iter().map(|t| t.price.to_f64()).collect();
    let commission: Vec<f64> = txns.iter().map(|t| t.commission.to_f64()).collect();
    let trips = fifo_round_trips(&group, &amount, &price, &commission);
    let (alpha, beta) = match benchmark {
        Some(b) if b.len() == returns.len() => alpha_beta(&returns, &b),
        Some(b) => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the run has {} sessions but benchmark has {}",
                returns.len(),
                b.len()
            )))
        }
        None => (f64::NAN, f64::NAN),
    };
    let out = PyDict::new(py);
    out.set_item(
        "final_value",
        perf.last().map_or(f64::NAN, |p| p.portfolio_value.to_f64()),
    )?;
    out.set_item("fills", txns.len())?;
    out.set_item(
        "invested",
        perf.iter().filter(|p| !p.positions.is_empty()).count(),
    )?;
    out.set_item("pnl", PyArray1::from_iter(py, trips.iter().map(|t| t.pnl)))?;
    out.set_item("returns", PyArray1::from_vec(py, returns))?;
    out.set_item("alpha", alpha)?;
    out.set_item("beta", beta)?;
    Ok(out)
}

/// zipline's slippage models by name: none | fixed(spread) | fixed_basis_points(bps, volume_limit)
/// | volume_share(volume_limit, price_impact).
pub(crate) fn slippage_model<N: Money>(kind: &str, a: f64, b: f64) -> PyResult<Slippage<N>> {
    Ok(match kind {
        "none" => Slippage::NoSlippage,
        "fixed" => Slippage::Fixed {
            spread: param("spread", a)?,
        },
        "fixed_basis_points" => Slippage::FixedBasisPoints {
            basis_points: param("basis_points", a)?,
            volume_limit: param("volume_limit", b)?,
        },
        "volume_share" => Slippage::VolumeShare {
            volume_limit: param("volume_limit", a)?,
            price_impact: param("price_impact", b)?,
        },
        other => {
            return Err(InvalidRunParameters::new_err(format!(
                "unknown slippage model '{other}'"
            )))
        }
    })
}

/// zipline's commission models by name: none | per_share(cost, min) | per_trade(cost) | per_dollar(cost).
pub(crate) fn commission_model<N: Money>(kind: &str, a: f64, b: f64) -> PyResult<Commission<N>> {
    Ok(match kind {
        "none" => Commission::NoCommission,
        "per_share" => Commission::PerShare {
            cost: param("cost", a)?,
            min_trade_cost: param("min_trade_cost", b)?,
        },
        "per_trade" => Commission::PerTrade {
            cost: param("cost", a)?,
        },
        "per_dollar" => Commission::PerDollar {
            cost: param("cost", a)?,
        },
        other => {
            return Err(InvalidRunParameters::new_err(format!(
                "unknown commission model '{other}'"
            )))
        }
    })
}

fn ratio<N: Money>(a: N, b: N) -> f64 {
    if b.is_zero() {
        f64::NAN
    } else {
        a.to_f64() / b.to_f64()
    }
}

/// One backtest: the ledger (decimal or float), the clock position and the results.
#[pyclass(module = "rustybt._core", name = "Simulation")]
pub struct PySimulation {
    sim: AnySim,
    phase: Phase,
}

#[pymethods]
impl PySimulation {
    /// A simulation over sessions `first_session..=last_session` of `bundle`, starting with
    /// `capital_base` in cash, on a `"decimal"` (exact) or `"float"` ledger.
    #[new]
    #[pyo3(signature = (bundle, first_session, last_session, capital_base, ledger = "decimal"))]
    fn new(
        bundle: &PyBundle,
        first_session: usize,
        last_session: usize,
        capital_base: f64,
        ledger: &str,
    ) -> PyResult<Self> {
        let store = bundle.store.clone();
        let sim = match ledger {
            "decimal" => AnySim::Decimal(
                Simulation::new(
                    store,
                    first_session,
                    last_session,
                    param("capital_base", capital_base)?,
                )
                .map_err(engine_err)?,
            ),
            "float" => AnySim::Float(
                Simulation::new(
                    store,
                    first_session,
                    last_session,
                    param("capital_base", capital_base)?,
                )
                .map_err(engine_err)?,
            ),
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "ledger must be 'decimal' or 'float', got '{other}'"
                )));
            }
        };
        Ok(PySimulation {
            sim,
            phase: Phase::Initialize,
        })
    }

    #[getter]
    fn ledger(&self) -> &'static str {
        with_sim!(&self.sim, s => { let _ = s; if matches!(self.sim, AnySim::Decimal(_)) { "decimal" } else { "float" } })
    }

    #[getter]
    fn phase(&self) -> &'static str {
        self.phase.name()
    }

    fn set_phase(&mut self, phase: &str) -> PyResult<()> {
        self.phase = match phase {
            "initialize" => Phase::Initialize,
            "before_trading_start" => Phase::BeforeTradingStart,
            "handle_data" => Phase::Trading,
            "analyze" => Phase::Analyze,
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "unknown phase '{other}'"
                )))
            }
        };
        Ok(())
    }

    #[getter]
    fn current_bar(&self) -> usize {
        with_sim!(&self.sim, s => s.current_bar())
    }

    /// Place an order. `kind` is one of shares, value, percent, target, target_value,
    /// target_percent (zipline's order functions). Returns the order id, or None when the
    /// computed amount is zero.
    #[pyo3(signature = (kind, sid, value, limit = None, stop = None))]
    fn order(
        slf: &Bound<'_, Self>,
        kind: &str,
        sid: u32,
        value: f64,
        limit: Option<f64>,
        stop: Option<f64>,
    ) -> PyResult<Option<u64>> {
        let (placed, warnings) = {
            let mut me = slf.borrow_mut();
            if me.phase != Phase::Trading {
                return Err(OrderDuringInitialize::new_err(format!(
                    "orders cannot be placed in {}; place them in handle_data or a scheduled function",
                    me.phase.name()
                )));
            }
            let placed =
                guard(|| with_sim!(&mut me.sim, s => place(s, kind, sid, value, limit, stop)));
            let warnings = with_sim!(&mut me.sim, s => s.take_warnings());
            (placed, warnings)
        };
        // logging handlers may call back into the simulation: no borrow is held here
        if !warnings.is_empty() {
            let logger = slf
                .py()
                .import("logging")?
                .call_method1("getLogger", ("rustybt",))?;
            for w in warnings {
                logger.call_method1("warning", (w,))?;
            }
        }
        placed
    }

    /// Add a trading control: kind is max_order_size | max_position_size | max_order_count
    /// | long_only; `on_error` is "fail" or "log".
    #[pyo3(signature = (kind, sid = None, max_shares = None, max_notional = None, max_count = None, on_error = "fail"))]
    fn add_control(
        &mut self,
        kind: &str,
        sid: Option<u32>,
        max_shares: Option<f64>,
        max_notional: Option<f64>,
        max_count: Option<u32>,
        on_error: &str,
    ) -> PyResult<()> {
        fn build<N: Money>(
            kind: &str,
            sid: Option<u32>,
            max_shares: Option<f64>,
            max_notional: Option<f64>,
            max_count: Option<u32>,
            on_error: OnError,
        ) -> PyResult<Control<N>> {
            let shares = max_shares
                .map(|v| {
                    if v.is_finite() && v >= 0.0 {
                        Ok(v.trunc() as i64)
                    } else {
                        Err(InvalidRunParameters::new_err(format!(
                            "max_shares must be a non-negative number, got {v}"
                        )))
                    }
                })
                .transpose()?;
            let notional = max_notional
                .map(|v| param::<N>("max_notional", v))
                .transpose()?;
            Ok(match kind {
                "max_order_size" | "max_position_size" => {
                    if shares.is_none() && notional.is_none() {
                        return Err(InvalidRunParameters::new_err(format!(
                            "{kind} needs max_shares or max_notional"
                        )));
                    }
                    if kind == "max_order_size" {
                        Control::MaxOrderSize {
                            sid,
                            max_shares: shares,
                            max_notional: notional,
                            on_error,
                        }
                    } else {
                        Control::MaxPositionSize {
                            sid,
                            max_shares: shares,
                            max_notional: notional,
                            on_error,
                        }
                    }
                }
                "max_order_count" => Control::MaxOrderCount {
                    max_count: max_count.ok_or_else(|| {
                        InvalidRunParameters::new_err("max_order_count needs max_count")
                    })?,
                    on_error,
                },
                "long_only" => Control::LongOnly { on_error },
                other => {
                    return Err(InvalidRunParameters::new_err(format!(
                        "unknown trading control '{other}'"
                    )))
                }
            })
        }
        let on_error = match on_error {
            "fail" => OnError::Fail,
            "log" => OnError::Log,
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "on_error must be 'fail' or 'log', got '{other}'"
                )))
            }
        };
        with_sim!(&mut self.sim, s => {
            s.add_control(build(kind, sid, max_shares, max_notional, max_count, on_error)?);
            Ok(())
        })
    }

    /// `next_close` (zipline's, the default) or `next_open` (backtrader's).
    fn set_fill_model(&mut self, model: &str) -> PyResult<()> {
        let m = match model {
            "next_close" => FillModel::NextClose,
            "next_open" => FillModel::NextOpen,
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "fill model must be 'next_close' or 'next_open', got '{other}'"
                )));
            }
        };
        with_sim!(&mut self.sim, s => { s.fill_model = m; Ok(()) })
    }

    /// zipline's `set_max_leverage`: gross leverage is checked after every bar.
    fn set_max_leverage(&mut self, max_leverage: f64) -> PyResult<()> {
        with_sim!(&mut self.sim, s => { s.set_max_leverage(param("max_leverage", max_leverage)?); Ok(()) })
    }

    fn cancel_order(&mut self, order_id: u64) -> PyResult<()> {
        guard(|| with_sim!(&mut self.sim, s => s.cancel_order(order_id).map_err(engine_err)))
    }

    /// Ids of open orders (of one asset, or all).
    #[pyo3(signature = (sid = None))]
    fn open_orders(&self, sid: Option<u32>) -> Vec<(u32, u64)> {
        with_sim!(&self.sim, s => {
            let l = s.ledger();
            let sids: Vec<u32> = match sid {
                Some(x) if (x as usize) < l.n_assets() => vec![x],
                Some(_) => vec![],
                None => l.assets_with_open_orders().to_vec(),
            };
            sids.iter().flat_map(|&x| l.open_orders(x).map(move |o| (x, o.id))).collect()
        })
    }

    /// (sid, amount, filled, commission, limit, stop, status code, reason, created bar, updated bar).
    #[allow(clippy::type_complexity)]
    fn order_info(
        &self,
        order_id: u64,
    ) -> PyResult<(
        u32,
        i64,
        i64,
        f64,
        Option<f64>,
        Option<f64>,
        u8,
        Option<String>,
        usize,
        usize,
    )> {
        with_sim!(&self.sim, s => {
            let o = s.ledger().order(order_id).map_err(ledger_err)?;
            Ok((o.sid, o.amount, o.filled, o.commission.to_f64(), o.limit.map(Money::to_f64), o.stop.map(Money::to_f64), o.status.code(), o.reason.clone(), o.created_bar, o.updated_bar))
        })
    }

    fn cash(&self) -> f64 {
        with_sim!(&self.sim, s => s.ledger().cash().to_f64())
    }
    fn portfolio_value(&self) -> f64 {
        with_sim!(&self.sim, s => s.ledger().portfolio_value().to_f64())
    }
    fn positions_value(&self) -> f64 {
        with_sim!(&self.sim, s => s.ledger().positions_value().to_f64())
    }
    fn starting_cash(&self) -> f64 {
        with_sim!(&self.sim, s => s.ledger().starting_cash().to_f64())
    }
    /// Exact (decimal string) cash and portfolio value.
    fn exact_state(&self) -> (String, String) {
        with_sim!(&self.sim, s => (s.ledger().cash().to_string(), s.ledger().portfolio_value().to_string()))
    }
    /// Open positions: (sid, amount, cost basis, last sale price).
    fn positions(&self) -> Vec<(u32, i64, f64, f64)> {
        with_sim!(&self.sim, s => {
            let l = s.ledger();
            l.held().iter().map(|&sid| {
                let p = l.position(sid);
                (sid, p.amount, p.cost_basis.to_f64(), p.last_sale_price.to_f64())
            }).collect()
        })
    }

    /// Slippage model: none | fixed(spread) | fixed_basis_points(basis_points, volume_limit)
    /// | volume_share(volume_limit, price_impact).
    #[pyo3(signature = (kind, a = 0.0, b = 0.0))]
    fn set_slippage(&mut self, kind: &str, a: f64, b: f64) -> PyResult<()> {
        with_sim!(&mut self.sim, s => { s.ledger_mut().slippage = slippage_model(kind, a, b)?; Ok(()) })
    }

    /// Commission model: none | per_share(cost, min_trade_cost) | per_trade(cost) | per_dollar(cost).
    #[pyo3(signature = (kind, a = 0.0, b = 0.0))]
    fn set_commission(&mut self, kind: &str, a: f64, b: f64) -> PyResult<()> {
        with_sim!(&mut self.sim, s => { s.ledger_mut().commission = commission_model(kind, a, b)?; Ok(()) })
    }

    /// `never` (zipline's default) or `eod`.
    fn set_cancel_policy(&mut self, policy: &str) -> PyResult<()> {
        let p = match policy {
            "never" => CancelPolicy::Never,
            "eod" | "end_of_day" => CancelPolicy::EndOfDay,
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "cancel policy must be 'never' or 'eod', got '{other}'"
                )))
            }
        };
        with_sim!(&mut self.sim, s => { s.ledger_mut().cancel_policy = p; Ok(()) })
    }

    /// The event loop. For each session: `before_trading_start(context, data)` (if given),
    /// then per bar: fill orders against the bar, mark to market, `handle_data(context, data)`;
    /// at the session's end, close its books and snapshot `recorded`.
    /// Returns the recorded-variable snapshots, one dict per session.
    #[pyo3(signature = (context, data, handle_data, before_trading_start, recorded))]
    fn run<'py>(
        slf: &Bound<'py, Self>,
        context: &Bound<'py, PyAny>,
        data: &Bound<'py, PyBarData>,
        handle_data: &Bound<'py, PyAny>,
        before_trading_start: Option<&Bound<'py, PyAny>>,
        recorded: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let sessions = with_sim!(&slf.borrow().sim, s => s.sessions());
        let snapshots = PyList::empty(py);
        let bar_data = data.get();
        for session in sessions {
            let bars = {
                let mut me = slf.borrow_mut();
                let bars = with_sim!(&mut me.sim, s => { s.start_session(session); s.session_bars(session) });
                me.phase = Phase::BeforeTradingStart;
                bars
            };
            // before the session's first bar, data shows the bar before it (or nothing at
            // the bundle's very first session): never the session's own bars
            bar_data
                .bar
                .store(bars.start.saturating_sub(1), Ordering::Relaxed);
            bar_data
                .before_first
                .store(bars.start == 0, Ordering::Relaxed);
            if let Some(bts) = before_trading_start {
                bts.call1((context, data)).map_err(|e| {
                    strategy_error(py, e, "before_trading_start", &bar_data.store, bars.start)
                })?;
            }
            bar_data.before_first.store(false, Ordering::Relaxed);
            slf.borrow_mut().phase = Phase::Trading;
            for bar in bars {
                guard(|| {
                    with_sim!(&mut slf.borrow_mut().sim, s => s.process_bar(bar));
                    Ok(())
                })?;
                bar_data.bar.store(bar, Ordering::Relaxed);
                handle_data
                    .call1((context, data))
                    .map_err(|e| strategy_error(py, e, "handle_data", &bar_data.store, bar))?;
                with_sim!(&slf.borrow().sim, s => s.check_account_controls())
                    .map_err(engine_err)?;
            }
            guard(|| {
                with_sim!(&mut slf.borrow_mut().sim, s => s.end_session());
                Ok(())
            })?;
            snapshots.append(recorded.copy()?)?;
            py.check_signals()?;
        }
        slf.borrow_mut().phase = Phase::Analyze;
        Ok(snapshots)
    }

    /// The perf columns (numpy arrays and per-session lists of dicts) and exact values;
    /// `risk=False` leaves out the cumulative risk metrics (`metrics_set="none"`).
    #[pyo3(signature = (assets, bar_times, risk = true))]
    fn perf<'py>(
        &self,
        py: Python<'py>,
        assets: &Bound<'py, PyList>,
        bar_times: &Bound<'py, PyAny>,
        risk: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(|| with_sim!(&self.sim, s => perf_columns(py, s, assets, bar_times, risk)))
    }

    /// What a sweep's trial needs instead of the perf frame: `returns` (per session),
    /// `final_value`, `fills`, `invested` (sessions ending with a position), `pnl` (the
    /// round trips' pnl, FIFO, grouped by `group_of_sid[sid]`, e.g. the rank of each
    /// asset's symbol) and `alpha` / `beta` of the whole run against `benchmark` (NaN
    /// without one).
    #[pyo3(signature = (group_of_sid, benchmark = None))]
    fn trial_summary<'py>(
        &self,
        py: Python<'py>,
        group_of_sid: Vec<u32>,
        benchmark: Option<Vec<f64>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(|| with_sim!(&self.sim, s => trial_summary(py, s, &group_of_sid, benchmark)))
    }
}

/// Wrap an exception from strategy code in `StrategyError`, the original as `__cause__`
/// (traceback intact). rustybt's own errors and non-`Exception`s (KeyboardInterrupt,
/// SystemExit) pass through untouched.
fn strategy_error(
    py: Python<'_>,
    err: PyErr,
    callback: &str,
    store: &BarStore,
    bar: usize,
) -> PyErr {
    if !err.is_instance_of::<PyException>(py) || err.is_instance_of::<RustyBTError>(py) {
        return err;
    }
    let when = rustybt_data::calendar::format_timestamp(store.timestamps[bar]);
    let kind = err
        .get_type(py)
        .name()
        .map_or_else(|_| "Exception".to_string(), |n| n.to_string());
    let msg = err
        .value(py)
        .str()
        .map_or_else(|_| String::new(), |s| s.to_string());
    let wrapped = StrategyError::new_err(format!(
        "{callback} raised {kind} at {when} (bar {bar}): {msg}"
    ));
    wrapped.set_cause(py, Some(err));
    wrapped
}

/// What a strategy sees of the market at the current bar. `rustybt.data.BarData`
/// subclasses it with zipline's pandas-returning `current` / `history`.
#[pyclass(frozen, subclass, module = "rustybt._core", name = "BarData")]
pub struct PyBarData {
    store: Arc<BarStore>,
    bar: AtomicUsize,
    /// Set during `before_trading_start` of the bundle's first session: no bar yet.
    before_first: AtomicBool,
}

#[pymethods]
impl PyBarData {
    #[new]
    fn new(bundle: &PyBundle) -> Self {
        PyBarData {
            store: bundle.store.clone(),
            bar: AtomicUsize::new(0),
            before_first: AtomicBool::new(false),
        }
    }
    /// Index of the current bar in the bundle.
    #[getter]
    fn current_bar(&self) -> usize {
        self.bar.load(Ordering::Relaxed)
    }
    /// Move to bar `bar` (for drivers other than the Rust loop, e.g. the reference engine).
    /// `before_first`: `before_trading_start` of the bundle's first session, where no bar
    /// is visible yet (data shows NaN, as in the Rust loop).
    #[pyo3(signature = (bar, before_first = false))]
    fn _set_bar(&self, bar: usize, before_first: bool) -> PyResult<()> {
        if bar >= self.store.n_bars() {
            return Err(crate::errors::HistoryWindowError::new_err(format!(
                "bar {bar} is past the bundle's {} bars",
                self.store.n_bars()
            )));
        }
        self.bar.store(bar, Ordering::Relaxed);
        self.before_first.store(before_first, Ordering::Relaxed);
        Ok(())
    }
    /// One field of one asset at the current bar (NaN when there is no bar; `price` forward-fills).
    fn _current(&self, sid: u32, field: &str) -> PyResult<f64> {
        let f = parse_field(field)?;
        if sid as usize >= self.store.n_assets() {
            return Err(crate::errors::SymbolNotFound::new_err(format!(
                "sid {sid} is not in the bundle"
            )));
        }
        if self.before_first.load(Ordering::Relaxed) {
            return Ok(if f == rustybt_data::Field::Volume {
                0.0
            } else {
                f64::NAN
            });
        }
        Ok(self.store.current(f, self.current_bar(), sid))
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
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let py = slf.py();
        let me = slf.get();
        let sids = sids_of(assets)?;
        let f = parse_field(field)?;
        let target = frequency
            .map(|fr| coarser_bar_size(&me.store, fr))
            .transpose()?;
        let before_first = me.before_first.load(Ordering::Relaxed);
        let all_assets = sids.len() == me.store.n_assets()
            && sids.iter().enumerate().all(|(i, &s)| s as usize == i);
        if all_assets && target.is_none() && !before_first {
            if let Some(block) = me.store.raw_block(f, me.current_bar(), count) {
                // zero-copy: a read-only view of the store's rows, kept alive by this object
                let view = numpy::ndarray::ArrayView2::from_shape((count, sids.len()), block)
                    .map_err(|e| crate::errors::InternalError::new_err(e.to_string()))?;
                // SAFETY: the store is immutable and lives as long as `slf` (the array's base)
                let arr = unsafe { PyArray2::borrow_from_array(&view, slf.clone().into_any()) };
                // SAFETY: clearing the writeable flag of an array we just created
                unsafe {
                    (*arr.as_array_ptr()).fields.flags &=
                        !numpy::npyffi::flags::NPY_ARRAY_WRITEABLE;
                }
                return Ok(arr);
            }
        }
        let arr = history_array(py, &me.store, f, &sids, me.current_bar(), count, target)?;
        if before_first {
            let fill = if f == rustybt_data::Field::Volume {
                0.0
            } else {
                f64::NAN
            };
            arr.readwrite()
                .as_slice_mut()
                .expect("fresh array")
                .fill(fill);
        }
        Ok(arr)
    }
    /// True while `before_trading_start` runs for the bundle's first session (no bar yet).
    #[getter]
    fn _before_first(&self) -> bool {
        self.before_first.load(Ordering::Relaxed)
    }
    /// Whether the asset has a price now and its data has not ended.
    fn _can_trade(&self, sid: u32) -> bool {
        if self.before_first.load(Ordering::Relaxed) {
            return false;
        }
        let bar = self.current_bar();
        let Some(asset) = self.store.assets.get(sid as usize) else {
            return false;
        };
        let day = self.store.sessions[self.store.bar_session[bar] as usize].date;
        day <= asset.end_date && self.store.last_close_mantissa(bar, sid).is_some()
    }
    /// Whether the asset has a price but no bar now.
    fn _is_stale(&self, sid: u32) -> bool {
        if self.before_first.load(Ordering::Relaxed) {
            return false;
        }
        let bar = self.current_bar();
        (sid as usize) < self.store.n_assets()
            && self.store.close_mantissa(bar, sid).is_none()
            && self.store.last_close_mantissa(bar, sid).is_some()
    }
}

/// Sids of a sequence of `Asset`s or integers, read without a Python-level loop.
fn sids_of(assets: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    let one = |item: Bound<'_, PyAny>| -> PyResult<u32> {
        if let Ok(a) = item.cast::<crate::bundle::Asset>() {
            return Ok(a.get().sid);
        }
        item.extract::<u32>().map_err(|_| {
            crate::errors::HistoryWindowError::new_err(format!(
                "expected an Asset, got {}",
                item.repr()
                    .map_or_else(|_| "?".to_string(), |r| r.to_string())
            ))
        })
    };
    if let Ok(list) = assets.cast::<PyList>() {
        return list.iter().map(one).collect();
    }
    assets.try_iter()?.map(|item| one(item?)).collect()
}

/// The engine's cumulative risk metrics of a return series (row i uses returns 0..=i):
/// algorithm_period_return, algo_volatility, sharpe, sortino, max_drawdown.
#[pyfunction]
#[pyo3(name = "cumulative_risk")]
pub fn risk_metrics(py: Python<'_>, returns: Vec<f64>) -> PyResult<Bound<'_, PyDict>> {
    let rows = rustybt_engine::cumulative_risk(&returns);
    let out = PyDict::new(py);
    let col =
        |f: &dyn Fn(&rustybt_engine::RiskRow) -> f64| PyArray1::from_iter(py, rows.iter().map(f));
    out.set_item(
        "algorithm_period_return",
        col(&|r| r.algorithm_period_return),
    )?;
    out.set_item("algo_volatility", col(&|r| r.algo_volatility))?;
    out.set_item("sharpe", col(&|r| r.sharpe))?;
    out.set_item("sortino", col(&|r| r.sortino))?;
    out.set_item("max_drawdown", col(&|r| r.max_drawdown))?;
    Ok(out)
}

/// The engine's cumulative benchmark metrics of a return series against a benchmark's
/// (row i uses periods 0..=i): benchmark_period_return, benchmark_volatility, alpha, beta.
#[pyfunction]
#[pyo3(name = "cumulative_benchmark_risk")]
pub fn benchmark_metrics(
    py: Python<'_>,
    returns: Vec<f64>,
    benchmark: Vec<f64>,
) -> PyResult<Bound<'_, PyDict>> {
    if returns.len() != benchmark.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "returns has {} periods but benchmark has {}",
            returns.len(),
            benchmark.len()
        )));
    }
    let rows = rustybt_engine::cumulative_benchmark_risk(&returns, &benchmark);
    let out = PyDict::new(py);
    let col = |f: &dyn Fn(&rustybt_engine::BenchmarkRow) -> f64| {
        PyArray1::from_iter(py, rows.iter().map(f))
    };
    out.set_item(
        "benchmark_period_return",
        col(&|r| r.benchmark_period_return),
    )?;
    out.set_item("benchmark_volatility", col(&|r| r.benchmark_volatility))?;
    out.set_item("alpha", col(&|r| r.alpha))?;
    out.set_item("beta", col(&|r| r.beta))?;
    Ok(out)
}

/// Closed round trips of a fill log, FIFO per group (see the engine's `fifo_round_trips`):
/// columns `open`, `close` (indices of the opening and closing fills), `shares` (signed),
/// `entry`, `exit`, `pnl`, group by group in rank order.
#[pyfunction]
#[pyo3(name = "fifo_round_trips")]
pub fn round_trips_of(
    py: Python<'_>,
    group: Vec<u32>,
    amount: Vec<i64>,
    price: Vec<f64>,
    commission: Vec<f64>,
) -> PyResult<Bound<'_, PyDict>> {
    let n = group.len();
    if amount.len() != n || price.len() != n || commission.len() != n {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "fill columns differ in length: group {n}, amount {}, price {}, commission {}",
            amount.len(),
            price.len(),
            commission.len()
        )));
    }
    let trips = fifo_round_trips(&group, &amount, &price, &commission);
    let out = PyDict::new(py);
    let col = |f: &dyn Fn(&RoundTrip) -> f64| PyArray1::from_iter(py, trips.iter().map(f));
    out.set_item(
        "open",
        PyArray1::from_iter(py, trips.iter().map(|t| t.open)),
    )?;
    out.set_item(
        "close",
        PyArray1::from_iter(py, trips.iter().map(|t| t.close)),
    )?;
    out.set_item(
        "shares",
        PyArray1::from_iter(py, trips.iter().map(|t| t.shares)),
    )?;
    out.set_item("entry", col(&|t| t.entry))?;
    out.set_item("exit", col(&|t| t.exit))?;
    out.set_item("pnl", col(&|t| t.pnl))?;
    Ok(out)
}

/// Raise a Rust panic inside the guard, to prove panics surface as `InternalError`.
#[pyfunction]
pub fn _panic_for_tests(message: &str) -> PyResult<()> {
    guard(|| panic!("{message}"))
}
