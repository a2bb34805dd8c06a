//! `Simulation`: one backtest (decimal or float ledger) as Python sees it. The clock, the
//! order rules and the books are the engine's; `run` only hands each of the clock's
//! steps to the strategy's callbacks.
//!
//! No borrow of the simulation is held while Python runs: each step borrows, advances and
//! releases, so `order()` and `history()` called from `handle_data` can borrow it again.
//! The strategy's own exceptions are carried through with their traceback.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rustybt_engine::{
    Control, ControlKind, FillModel, LedgerKind, OnError, Simulation, Step, TrialSummary,
};
use rustybt_ledger::Fixed;
use rustybt_ledger::{CancelPolicy, Money};

use crate::bar_data::PyBarData;
use crate::bundle::PyBundle;
use crate::conversion::{
    amount_py, commission, named, named_or_default, order_id_of, order_id_text, slippage,
};
use crate::errors::{guard_at, strategy_error, Result};
use crate::perf::perf_columns;

enum AnySim {
    Decimal(Simulation<Fixed>),
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

/// The warnings of trading controls set to "log", to the `rustybt` logger (called with no
/// borrow of the simulation held: a handler may call back into it).
fn log_warnings(py: Python<'_>, warnings: Vec<String>) -> PyResult<()> {
    if warnings.is_empty() {
        return Ok(());
    }
    let logger = py
        .import("logging")?
        .call_method1("getLogger", ("rustybt",))?;
    for w in warnings {
        logger.call_method1("warning", (w,))?;
    }
    Ok(())
}

/// An open position: (sid, amount as strategies see it, cost basis, last sale price).
type PositionRow = (u32, Py<PyAny>, f64, f64);

/// An order as the strategy's `get_order` shows it.
#[pyclass(frozen, module = "rustybt._core", name = "OrderRecord")]
pub struct OrderRecord {
    #[pyo3(get)]
    sid: u32,
    /// An int of shares, or a float quantity for an asset traded in finer lots.
    #[pyo3(get)]
    amount: Py<PyAny>,
    #[pyo3(get)]
    filled: Py<PyAny>,
    #[pyo3(get)]
    commission: f64,
    #[pyo3(get)]
    limit: Option<f64>,
    #[pyo3(get)]
    stop: Option<f64>,
    /// zipline's `ORDER_STATUS` code.
    #[pyo3(get)]
    status: u8,
    #[pyo3(get)]
    reason: Option<String>,
    #[pyo3(get)]
    created_bar: usize,
    #[pyo3(get)]
    updated_bar: usize,
}

/// One backtest: the ledger (decimal or float), the clock and the results.
#[pyclass(module = "rustybt._core", name = "Simulation")]
pub struct PySimulation {
    sim: AnySim,
    /// What a strategy's own cost model raised during a fill, raised by `run`.
    cost_error: crate::costs::CostError,
}

#[pymethods]
impl PySimulation {
    /// A simulation over sessions `first_session..=last_session` of `bundle`, starting with
    /// `capital_base` in cash, on a `"decimal"` (exact) or `"float"` ledger.
    #[new]
    #[pyo3(signature = (bundle, first_session, last_session, capital_base, ledger = None))]
    fn new(
        bundle: &PyBundle,
        first_session: usize,
        last_session: usize,
        capital_base: f64,
        ledger: Option<&str>,
    ) -> Result<Self> {
        guard_at("Simulation.__new__", || {
            let store = bundle.store.clone();
            let sim = match named_or_default::<LedgerKind>(ledger)? {
                LedgerKind::Decimal => AnySim::Decimal(Simulation::with_capital(
                    store,
                    first_session,
                    last_session,
                    capital_base,
                )?),
                LedgerKind::Float => AnySim::Float(Simulation::with_capital(
                    store,
                    first_session,
                    last_session,
                    capital_base,
                )?),
            };
            Ok(PySimulation {
                sim,
                cost_error: std::sync::Arc::default(),
            })
        })
    }

    #[getter]
    fn ledger(&self) -> Result<&'static str> {
        guard_at("Simulation.ledger", || {
            Ok({
                match self.sim {
                    AnySim::Decimal(_) => LedgerKind::Decimal.name(),
                    AnySim::Float(_) => LedgerKind::Float.name(),
                }
            })
        })
    }

    /// The lifecycle phase: the name of the callback that may run now.
    #[getter]
    fn phase(&self) -> Result<&'static str> {
        guard_at("Simulation.phase", || {
            Ok(with_sim!(&self.sim, s => s.phase().name()))
        })
    }

    #[getter]
    fn current_bar(&self) -> Result<usize> {
        guard_at("Simulation.current_bar", || {
            Ok(with_sim!(&self.sim, s => s.current_bar()))
        })
    }

    /// The session the clock is in (from `before_trading_start` on; the first session
    /// before the clock starts).
    #[getter]
    fn current_session(&self) -> Result<usize> {
        guard_at("Simulation.current_session", || {
            Ok(with_sim!(&self.sim, s => s.current_session()))
        })
    }

    /// Place an order. `kind` is one of shares, value, percent, target, target_value,
    /// target_percent (zipline's order functions). Returns the order id (32 hex digits),
    /// or None when the computed amount is zero.
    #[pyo3(signature = (kind, sid, value, limit = None, stop = None))]
    fn order(
        slf: &Bound<'_, Self>,
        kind: &str,
        sid: u32,
        value: f64,
        limit: Option<f64>,
        stop: Option<f64>,
    ) -> Result<Option<String>> {
        guard_at("Simulation.order", || {
            let (placed, warnings) = {
                let mut me = slf.borrow_mut();
                let placed: Result<_> =
                    with_sim!(&mut me.sim, s => s.place(kind, sid, value, limit, stop))
                        .map_err(Into::into);
                let warnings = with_sim!(&mut me.sim, s => s.take_warnings());
                (placed, warnings)
            };
            // logging handlers may call back into the simulation: no borrow is held here
            log_warnings(slf.py(), warnings)?;
            Ok(placed?.map(order_id_text))
        })
    }

    /// Place one order of `kind` per `(sids[i], values[i])`, in order, in one call: what
    /// calling `order` for each does (each sees the ones before it), returning their ids
    /// (None where an amount is zero). The first refusal raises; the orders before it stay
    /// placed.
    fn order_many(
        slf: &Bound<'_, Self>,
        kind: &str,
        sids: Vec<u32>,
        values: Vec<f64>,
    ) -> Result<Vec<Option<String>>> {
        guard_at("Simulation.order_many", || {
            if sids.len() != values.len() {
                return Err(crate::errors::bad_value(format!(
                    "{} assets but {} values",
                    sids.len(),
                    values.len()
                )));
            }
            let (placed, warnings) = {
                let mut me = slf.borrow_mut();
                let pairs = sids.iter().copied().zip(values.iter().copied());
                let placed = with_sim!(&mut me.sim, s => s.place_many(kind, pairs));
                let warnings = with_sim!(&mut me.sim, s => s.take_warnings());
                (placed, warnings)
            };
            log_warnings(slf.py(), warnings)?;
            Ok(placed?
                .into_iter()
                .map(|id| id.map(order_id_text))
                .collect())
        })
    }

    /// Add a trading control: kind is max_order_size | max_position_size | max_order_count
    /// | long_only; `on_error` is "fail" (the default) or "log".
    #[pyo3(signature = (kind, sid = None, max_shares = None, max_notional = None, max_count = None, on_error = None))]
    fn add_control(
        &mut self,
        kind: &str,
        sid: Option<u32>,
        max_shares: Option<f64>,
        max_notional: Option<f64>,
        max_count: Option<u32>,
        on_error: Option<&str>,
    ) -> Result<()> {
        guard_at("Simulation.add_control", || {
            let kind = named::<ControlKind>(kind)?;
            let on_error = named_or_default::<OnError>(on_error)?;
            with_sim!(&mut self.sim, s => {
                s.add_control(Control::new(kind, sid, max_shares, max_notional, max_count, on_error)?);
            });
            Ok(())
        })
    }

    /// `next_close` (zipline's, the default) or `next_open` (backtrader's).
    fn set_fill_model(&mut self, model: &str) -> Result<()> {
        guard_at("Simulation.set_fill_model", || {
            let m = named::<FillModel>(model)?;
            with_sim!(&mut self.sim, s => s.fill_model = m);
            Ok(())
        })
    }

    /// zipline's `set_asset_restrictions`: `rules` are `(sid, component, effective ns,
    /// frozen)`; an order for an asset frozen now (in any component) breaks the control.
    #[pyo3(signature = (rules, on_error = None))]
    fn add_restrictions(
        &mut self,
        rules: Vec<(u32, u32, i64, bool)>,
        on_error: Option<&str>,
    ) -> Result<()> {
        guard_at("Simulation.add_restrictions", || {
            let on_error = named_or_default::<OnError>(on_error)?;
            let n = with_sim!(&self.sim, s => s.store().n_assets());
            let mut per_sid: Vec<Vec<(u32, i64, bool)>> = vec![Vec::new(); n];
            for (sid, component, at, frozen) in rules {
                per_sid
                    .get_mut(sid as usize)
                    .ok_or_else(|| {
                        crate::errors::bad_value(format!(
                            "restriction for sid {sid}: the bundle has {n} assets"
                        ))
                    })?
                    .push((component, at, frozen));
            }
            for r in &mut per_sid {
                r.sort_by_key(|&(c, at, _)| (c, at));
            }
            with_sim!(&mut self.sim, s => s.add_control(Control::Restricted { rules: per_sid, on_error }));
            Ok(())
        })
    }

    /// A strategy's own cost models, asked in the ledger's place from the next bar on:
    /// `slippage(order fields, volume_for_bar)` returns None, "liquidity" or (price,
    /// amount); `commission(order fields, price, amount)` a number. `data` is moved to the
    /// bar being filled before either is called. With neither, the ledger's own models
    /// are back.
    #[pyo3(signature = (data, slippage = None, commission = None))]
    fn set_cost_models(
        &mut self,
        data: Py<PyBarData>,
        slippage: Option<Py<PyAny>>,
        commission: Option<Py<PyAny>>,
    ) -> Result<()> {
        guard_at("Simulation.set_cost_models", || {
            let hook =
                (slippage.is_some() || commission.is_some()).then(|| crate::costs::PyCostHook {
                    slippage,
                    commission,
                    data,
                    error: self.cost_error.clone(),
                });
            with_sim!(&mut self.sim, s => s.set_cost_hook(
                hook.map(|h| Box::new(h) as Box<dyn rustybt_ledger::CostHook<_> + Send + Sync>)
            ));
            Ok(())
        })
    }

    /// zipline's `set_min_leverage`: after `deadline_ns`, gross leverage below `min_leverage`
    /// fails the run after any bar.
    fn set_min_leverage(&mut self, min_leverage: f64, deadline_ns: i64) -> Result<()> {
        guard_at("Simulation.set_min_leverage", || {
            with_sim!(&mut self.sim, s => s.set_min_leverage_f64(min_leverage, deadline_ns))?;
            Ok(())
        })
    }

    /// zipline's `set_max_leverage`: gross leverage is checked after every bar.
    fn set_max_leverage(&mut self, max_leverage: f64) -> Result<()> {
        guard_at("Simulation.set_max_leverage", || {
            with_sim!(&mut self.sim, s => s.set_max_leverage_f64(max_leverage))?;
            Ok(())
        })
    }

    /// Periods a year the risk metrics annualise with: the calendar's nominal count (252
    /// for an exchange, 365 for 24/7) unless set.
    #[getter]
    fn periods_per_year(&self) -> Result<f64> {
        guard_at("Simulation.periods_per_year", || {
            Ok(with_sim!(&self.sim, s => s.periods_per_year()))
        })
    }

    /// Annualise the risk metrics with `periods` a year instead of the calendar's count.
    fn set_periods_per_year(&mut self, periods: f64) -> Result<()> {
        guard_at("Simulation.set_periods_per_year", || {
            with_sim!(&mut self.sim, s => s.set_periods_per_year(periods))?;
            Ok(())
        })
    }

    /// Cancel the order with this id (its 32-hex-digit text, or the integer it encodes).
    fn cancel_order(&mut self, order_id: &Bound<'_, PyAny>) -> Result<()> {
        guard_at("Simulation.cancel_order", || {
            let id = order_id_of(order_id)?;
            Ok(with_sim!(&mut self.sim, s => s.cancel_order(id))?)
        })
    }

    /// Ids of open orders (of one asset, or all).
    #[pyo3(signature = (sid = None))]
    fn open_orders(&self, sid: Option<u32>) -> Result<Vec<(u32, String)>> {
        guard_at("Simulation.open_orders", || {
            let ids = with_sim!(&self.sim, s => s.open_order_ids(sid));
            Ok(ids
                .into_iter()
                .map(|(sid, id)| (sid, order_id_text(id)))
                .collect())
        })
    }

    /// The order with this id (its 32-hex-digit text, or the integer it encodes).
    fn order_info(&self, order_id: &Bound<'_, PyAny>) -> Result<OrderRecord> {
        guard_at("Simulation.order_info", || {
            let id = order_id_of(order_id)?;
            let py = order_id.py();
            with_sim!(&self.sim, s => {
                let o = s.ledger().order(id)?;
                Ok(OrderRecord {
                    sid: o.sid,
                    amount: amount_py(py, o.amount, o.scale)?,
                    filled: amount_py(py, o.filled, o.scale)?,
                    commission: o.commission.to_f64(),
                    limit: o.limit.map(Money::to_f64),
                    stop: o.stop.map(Money::to_f64),
                    status: o.status.code(),
                    reason: o.reason.clone(),
                    created_bar: o.created_bar,
                    updated_bar: o.updated_bar,
                })
            })
        })
    }

    fn cash(&self) -> Result<f64> {
        guard_at("Simulation.cash", || {
            Ok(with_sim!(&self.sim, s => s.ledger().cash().to_f64()))
        })
    }
    fn portfolio_value(&self) -> Result<f64> {
        guard_at("Simulation.portfolio_value", || {
            Ok(with_sim!(&self.sim, s => s.ledger().portfolio_value().to_f64()))
        })
    }
    fn positions_value(&self) -> Result<f64> {
        guard_at("Simulation.positions_value", || {
            Ok(with_sim!(&self.sim, s => s.ledger().positions_value().to_f64()))
        })
    }
    fn starting_cash(&self) -> Result<f64> {
        guard_at("Simulation.starting_cash", || {
            Ok(with_sim!(&self.sim, s => s.ledger().starting_cash().to_f64()))
        })
    }
    /// Exact (decimal string) cash and portfolio value.
    fn exact_state(&self) -> Result<(String, String)> {
        guard_at("Simulation.exact_state", || {
            Ok({
                with_sim!(&self.sim, s => (s.ledger().cash().to_string(), s.ledger().portfolio_value().to_string()))
            })
        })
    }
    /// Open positions: (sid, amount, cost basis, last sale price); the amount is an int
    /// of shares, or a float quantity for an asset traded in finer lots.
    fn positions(&mut self, py: Python<'_>) -> Result<Vec<PositionRow>> {
        guard_at("Simulation.positions", || {
            with_sim!(&mut self.sim, s => {
                // the bases once, however often a strategy reads them between fills
                s.ledger_mut().settle_positions();
                let l = s.ledger();
                l.held().iter().map(|&sid| {
                    let p = l.position(sid);
                    Ok((
                        sid,
                        amount_py(py, p.amount, p.scale)?,
                        p.cost_basis().to_f64(),
                        p.last_sale_price.to_f64(),
                    ))
                }).collect()
            })
        })
    }

    /// The slippage model: a `rustybt.finance.slippage` model.
    fn set_slippage(&mut self, model: &Bound<'_, PyAny>) -> Result<()> {
        guard_at("Simulation.set_slippage", || {
            with_sim!(&mut self.sim, s => s.ledger_mut().slippage = slippage(model)?);
            Ok(())
        })
    }

    /// The commission model: a `rustybt.finance.commission` model.
    fn set_commission(&mut self, model: &Bound<'_, PyAny>) -> Result<()> {
        guard_at("Simulation.set_commission", || {
            with_sim!(&mut self.sim, s => s.ledger_mut().commission = commission(model)?);
            Ok(())
        })
    }

    /// `never` (zipline's default) or `eod`.
    fn set_cancel_policy(&mut self, policy: &str) -> Result<()> {
        guard_at("Simulation.set_cancel_policy", || {
            let p = named::<CancelPolicy>(policy)?;
            with_sim!(&mut self.sim, s => s.ledger_mut().cancel_policy = p);
            Ok(())
        })
    }

    /// Run the clock to its end, handing each step to the strategy: before each session
    /// `before_trading_start(context, data)` (if given), at each bar
    /// `handle_data(context, data)`, and at each session's end a snapshot of `recorded`.
    /// Returns the snapshots, one dict per session.
    #[pyo3(signature = (context, data, handle_data, before_trading_start, recorded))]
    fn run<'py>(
        slf: &Bound<'py, Self>,
        context: &Bound<'py, PyAny>,
        data: &Bound<'py, PyBarData>,
        handle_data: &Bound<'py, PyAny>,
        before_trading_start: Option<&Bound<'py, PyAny>>,
        recorded: &Bound<'py, PyDict>,
    ) -> Result<Bound<'py, PyList>> {
        guard_at("Simulation.run", || {
            let py = slf.py();
            let snapshots = PyList::empty(py);
            let bar_data = data.get();
            let when = |bar: usize| {
                format!(
                    "{} (bar {bar})",
                    rustybt_data::calendar::format_timestamp(bar_data.store.timestamps[bar])
                )
            };
            loop {
                let step = with_sim!(&mut slf.borrow_mut().sim, s => s.advance())?;
                let raised = slf
                    .borrow()
                    .cost_error
                    .lock()
                    .ok()
                    .and_then(|mut e| e.take());
                if let Some(err) = raised {
                    let bar = with_sim!(&slf.borrow().sim, s => s.current_bar());
                    return Err(strategy_error(py, err, "a cost model", &when(bar)).into());
                }
                let Some(step) = step else { break };
                if let Some(view) = step.view() {
                    bar_data.set_view(view);
                }
                match step {
                    Step::BeforeTradingStart { session, .. } => {
                        if let Some(bts) = before_trading_start {
                            bts.call1((context, data)).map_err(|e| {
                            let first =
                                with_sim!(&slf.borrow().sim, s => s.session_bars(session).start);
                            strategy_error(py, e, "before_trading_start", &when(first))
                        })?;
                        }
                    }
                    Step::Bar { bar } => {
                        handle_data
                            .call1((context, data))
                            .map_err(|e| strategy_error(py, e, "handle_data", &when(bar)))?;
                    }
                    Step::SessionEnd { .. } => {
                        snapshots.append(recorded.copy()?)?;
                        py.check_signals()?;
                    }
                }
            }
            Ok(snapshots)
        })
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
    ) -> Result<Bound<'py, PyDict>> {
        guard_at(
            "Simulation.perf",
            || with_sim!(&self.sim, s => perf_columns(py, s, assets, bar_times, risk)),
        )
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
    ) -> Result<Bound<'py, PyDict>> {
        guard_at("Simulation.trial_summary", || {
            let t = with_sim!(&self.sim, s => TrialSummary::new(s, &group_of_sid, benchmark.as_deref()))?;
            let out = PyDict::new(py);
            out.set_item("final_value", t.final_value)?;
            out.set_item("fills", t.fills)?;
            out.set_item("invested", t.invested)?;
            out.set_item("pnl", numpy::PyArray1::from_vec(py, t.pnl))?;
            out.set_item("returns", numpy::PyArray1::from_vec(py, t.returns))?;
            out.set_item("alpha", t.alpha)?;
            out.set_item("beta", t.beta)?;
            Ok(out)
        })
    }
}
