//! The perf frame's columns as Python objects: the engine's [`PerfTable`] as NumPy arrays,
//! each session's orders, transactions and positions kept in [`PerfRecords`], which
//! builds them as lists of dicts (zipline's record shapes) on request, and the run's
//! exact values kept in [`PerfExact`], which writes them out as decimal text on request.

use numpy::PyArray1;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3::IntoPyObjectExt;
use rustybt_engine::report::ExactFill;
use rustybt_engine::{ExactValues, PerfTable, Simulation};
use rustybt_ledger::{Money, Order};

use crate::conversion::{amount_py, order_id_text};
use crate::errors::{bad_value, guard_at, Result};

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

/// Each order's id as one Python string, made on its first use and shared by the order's
/// records (an order is in the orders of every session it is open in, and in its fills'
/// records): zipline's records share their order's id string too.
struct IdTexts<'py> {
    texts: Vec<Option<Bound<'py, PyString>>>,
}

impl<'py> IdTexts<'py> {
    fn get(&mut self, py: Python<'py>, id: u64) -> Bound<'py, PyString> {
        let Ok(slot) = usize::try_from(id) else {
            return PyString::new(py, &order_id_text(id));
        };
        if slot >= self.texts.len() {
            if slot > 4 * self.texts.len().max(1 << 16) {
                // ids are dense sequence numbers; a stray large one is not cached
                return PyString::new(py, &order_id_text(id));
            }
            self.texts.resize(slot + 1, None);
        }
        self.texts[slot]
            .get_or_insert_with(|| PyString::new(py, &order_id_text(id)))
            .clone()
    }
}

/// `record`, a perf record just built (an order, fill or position dict, or an exact
/// fill's tuple), taken off the cyclic GC's list. Its values are a bundle's assets,
/// timestamps, `ORDER_STATUS` members, numbers, strings and None: none of them refers back
/// to it, so it can be in no cycle, the condition CPython itself untracks dicts and tuples
/// on (checking only that the values are atomic). W1-50 builds 20,000 such dicts; tracked,
/// they cost each later collection a pass over them (3-5 ms while young, again in each
/// older generation). A value the strategy later stores in a dict tracks it again
/// (CPython's `MAINTAIN_TRACKING`); a tuple cannot change.
fn untracked<T>(record: Bound<'_, T>) -> Bound<'_, T> {
    // SAFETY: `record` is a live dict or tuple (GC types); untracking changes only
    // whether the collector visits it, and is safe whether or not it is tracked.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(record.as_ptr().cast()) };
    record
}

/// The keys of an order record, in zipline's order, each with the value most orders have
/// (a market order, no reason): records are copies of it with the rest set. The keys are
/// the interned strings `intern!` gives, so that setting a value finds its key by
/// identity rather than by comparing the text.
fn order_template(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = keys_template(
        py,
        &[
            "id",
            "dt",
            "created",
            "reason",
            "amount",
            "filled",
            "commission",
            "limit",
            "stop",
            "limit_reached",
            "stop_reached",
            "sid",
            "status",
        ],
    )?;
    for key in ["limit_reached", "stop_reached"] {
        d.set_item(PyString::intern(py, key), false)?;
    }
    Ok(d)
}

/// A dict of `keys` (interned, as in [`order_template`]), in order, each None.
fn keys_template<'py>(py: Python<'py>, keys: &[&str]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for key in keys {
        d.set_item(PyString::intern(py, key), py.None())?;
    }
    Ok(d)
}

/// An order as a session's record shows it: its money as the dict carries it (`f64`).
struct OrderRow {
    id: u64,
    sid: u32,
    amount: i64,
    filled: i64,
    scale: u32,
    /// `None`: zipline's int 0, an order with no fill and no commission yet.
    commission: Option<f64>,
    limit: Option<f64>,
    stop: Option<f64>,
    limit_reached: bool,
    stop_reached: bool,
    status: u8,
    created_bar: usize,
    updated_bar: usize,
    reason: Option<String>,
}

/// A fill as the transactions column shows it.
struct FillRow {
    order_id: Option<u64>,
    sid: u32,
    amount: i64,
    scale: u32,
    price: f64,
    bar: usize,
}

/// A position at a session's end, as the positions column shows it.
struct PositionRow {
    sid: u32,
    amount: i64,
    scale: u32,
    cost_basis: f64,
    last_sale_price: f64,
}

/// A run's per-session orders, transactions and positions, kept for the perf frame's
/// record columns (`rustybt.records`), which build their dicts (zipline's record shapes)
/// when a column is first read. A run that never reads them never pays for tens of
/// thousands of small dicts: that was a quarter of a 50-asset daily run.
#[pyclass(frozen, module = "rustybt._core")]
pub struct PerfRecords {
    orders: Vec<OrderRow>,
    /// Session `i`'s orders are `orders[orders_end[i - 1]..orders_end[i]]`; likewise below.
    orders_end: Vec<usize>,
    fills: Vec<FillRow>,
    fills_end: Vec<usize>,
    positions: Vec<PositionRow>,
    positions_end: Vec<usize>,
    assets: Py<PyList>,
    bar_times: Py<PyAny>,
}

impl PerfRecords {
    fn new<N: Money>(
        sim: &Simulation<N>,
        assets: &Bound<'_, PyList>,
        bar_times: &Bound<'_, PyAny>,
    ) -> Self {
        let ledger = sim.ledger();
        let txns = ledger.transactions();
        let (mut orders, mut orders_end) = (Vec::new(), Vec::new());
        let (mut fills, mut fills_end) = (Vec::new(), Vec::new());
        let (mut positions, mut positions_end) = (Vec::new(), Vec::new());
        for p in sim.perf() {
            orders.extend(p.orders.iter().map(order_row));
            orders_end.push(orders.len());
            fills.extend(txns[p.transactions.clone()].iter().map(|t| FillRow {
                order_id: t.order_id,
                sid: t.sid,
                amount: t.amount,
                scale: ledger.lot_scale(t.sid),
                price: t.price.to_f64(),
                bar: t.bar,
            }));
            fills_end.push(fills.len());
            positions.extend(p.positions.iter().map(|&(sid, amount, cost_basis, last)| {
                PositionRow {
                    sid,
                    amount,
                    scale: ledger.lot_scale(sid),
                    cost_basis: cost_basis.to_f64(),
                    last_sale_price: last.to_f64(),
                }
            }));
            positions_end.push(positions.len());
        }
        PerfRecords {
            orders,
            orders_end,
            fills,
            fills_end,
            positions,
            positions_end,
            assets: assets.clone().unbind(),
            bar_times: bar_times.clone().unbind(),
        }
    }

    /// Session `i`'s slice of `rows`, whose sessions end at `ends`.
    fn session<'a, T>(rows: &'a [T], ends: &[usize], i: usize) -> &'a [T] {
        let start = if i == 0 { 0 } else { ends[i - 1] };
        &rows[start..ends[i]]
    }
}

fn order_row<N: Money>(o: &Order<N>) -> OrderRow {
    OrderRow {
        id: o.id,
        sid: o.sid,
        amount: o.amount,
        filled: o.filled,
        scale: o.scale,
        commission: (o.filled != 0 || !o.commission.is_zero()).then(|| o.commission.to_f64()),
        limit: o.limit.map(Money::to_f64),
        stop: o.stop.map(Money::to_f64),
        limit_reached: o.limit_reached,
        stop_reached: o.stop_reached,
        status: o.status.code(),
        created_bar: o.created_bar,
        updated_bar: o.updated_bar,
        reason: o.reason.clone(),
    }
}

#[pymethods]
impl PerfRecords {
    fn __len__(&self) -> Result<usize> {
        guard_at("PerfRecords.__len__", || Ok(self.orders_end.len()))
    }

    /// Each session's `kind` records (`"orders"`, `"transactions"` or `"positions"`) as a
    /// list of dicts in zipline's shapes, in an object array with one list per session.
    fn column<'py>(&self, py: Python<'py>, kind: &str) -> Result<Bound<'py, PyArray1<Py<PyAny>>>> {
        guard_at("PerfRecords.column", || self.build(py, kind))
    }
}

impl PerfRecords {
    fn build<'py>(&self, py: Python<'py>, kind: &str) -> Result<Bound<'py, PyArray1<Py<PyAny>>>> {
        let assets = self.assets.bind(py);
        let mut times = BarTimes {
            index: self.bar_times.bind(py),
            memo: Vec::new(),
        };
        let mut ids = IdTexts { texts: Vec::new() };
        let sessions = self.orders_end.len();
        let mut out: Vec<Py<PyAny>> = Vec::with_capacity(sessions);
        match kind {
            "orders" => {
                let needed = self
                    .orders
                    .iter()
                    .flat_map(|o| [o.updated_bar, o.created_bar])
                    .collect();
                times.prefetch(py, needed)?;
                // zipline's ORDER_STATUS members (IntEnum), indexed by status code
                let enum_type = py.import("rustybt.protocol")?.getattr("ORDER_STATUS")?;
                let statuses = PyList::empty(py);
                for code in 0..4u8 {
                    statuses.append(enum_type.call1((code,))?)?;
                }
                let template = order_template(py)?;
                for i in 0..sessions {
                    let list = PyList::empty(py);
                    for o in Self::session(&self.orders, &self.orders_end, i) {
                        list.append(order_dict(
                            py, o, &template, assets, &statuses, &mut times, &mut ids,
                        )?)?;
                    }
                    out.push(list.into_any().unbind());
                }
            }
            "transactions" => {
                times.prefetch(py, self.fills.iter().map(|t| t.bar).collect())?;
                // zipline records commissions on orders; its transaction dicts carry None
                let template = keys_template(
                    py,
                    &["amount", "dt", "price", "order_id", "sid", "commission"],
                )?;
                for i in 0..sessions {
                    let list = PyList::empty(py);
                    for t in Self::session(&self.fills, &self.fills_end, i) {
                        let d = template.copy()?;
                        d.set_item(intern!(py, "amount"), amount_py(py, t.amount, t.scale)?)?;
                        d.set_item(intern!(py, "dt"), times.get(t.bar)?)?;
                        d.set_item(intern!(py, "price"), t.price)?;
                        if let Some(id) = t.order_id {
                            d.set_item(intern!(py, "order_id"), ids.get(py, id))?;
                        }
                        d.set_item(intern!(py, "sid"), assets.get_item(t.sid as usize)?)?;
                        list.append(untracked(d))?;
                    }
                    out.push(list.into_any().unbind());
                }
            }
            "positions" => {
                let template =
                    keys_template(py, &["sid", "amount", "cost_basis", "last_sale_price"])?;
                for i in 0..sessions {
                    let list = PyList::empty(py);
                    for p in Self::session(&self.positions, &self.positions_end, i) {
                        let d = template.copy()?;
                        d.set_item(intern!(py, "sid"), assets.get_item(p.sid as usize)?)?;
                        d.set_item(intern!(py, "amount"), amount_py(py, p.amount, p.scale)?)?;
                        d.set_item(intern!(py, "cost_basis"), p.cost_basis)?;
                        d.set_item(intern!(py, "last_sale_price"), p.last_sale_price)?;
                        list.append(untracked(d))?;
                    }
                    out.push(list.into_any().unbind());
                }
            }
            other => {
                return Err(bad_value(format!(
                    "PerfRecords.column({other:?}): the record columns are \"orders\", \
                     \"transactions\" and \"positions\""
                )));
            }
        }
        Ok(PyArray1::from_vec(py, out))
    }
}

fn order_dict<'py>(
    py: Python<'py>,
    o: &OrderRow,
    template: &Bound<'py, PyDict>,
    assets: &Bound<'py, PyList>,
    statuses: &Bound<'py, PyList>,
    times: &mut BarTimes<'_, 'py>,
    ids: &mut IdTexts<'py>,
) -> PyResult<Bound<'py, PyDict>> {
    // a copy of the template keeps zipline's key order and is cheaper than building the
    // dict key by key (its table is copied whole, without resizing)
    let d = template.copy()?;
    d.set_item(intern!(py, "id"), ids.get(py, o.id))?;
    d.set_item(intern!(py, "dt"), times.get(o.updated_bar)?)?;
    d.set_item(intern!(py, "created"), times.get(o.created_bar)?)?;
    if let Some(reason) = o.reason.as_deref() {
        d.set_item(intern!(py, "reason"), reason)?;
    }
    d.set_item(intern!(py, "amount"), amount_py(py, o.amount, o.scale)?)?;
    d.set_item(intern!(py, "filled"), amount_py(py, o.filled, o.scale)?)?;
    match o.commission {
        None => d.set_item(intern!(py, "commission"), 0i64)?, // zipline's int 0 until a fill
        Some(c) => d.set_item(intern!(py, "commission"), c)?,
    }
    if let Some(limit) = o.limit {
        d.set_item(intern!(py, "limit"), limit)?;
    }
    if let Some(stop) = o.stop {
        d.set_item(intern!(py, "stop"), stop)?;
    }
    if o.limit_reached {
        d.set_item(intern!(py, "limit_reached"), true)?;
    }
    if o.stop_reached {
        d.set_item(intern!(py, "stop_reached"), true)?;
    }
    d.set_item(intern!(py, "sid"), assets.get_item(o.sid as usize)?)?;
    d.set_item(
        intern!(py, "status"),
        statuses.get_item(usize::from(o.status))?,
    )?;
    Ok(untracked(d))
}

/// The perf columns of `sim`'s run: the table's arrays, `period_close` / `period_open`
/// (ns), `records` (the per-session orders, transactions and positions, a
/// [`PerfRecords`]), and `exact` (the money columns and the fills as decimal text).
pub fn perf_columns<'py, N: Money>(
    py: Python<'py>,
    sim: &Simulation<N>,
    assets: &Bound<'py, PyList>,
    bar_times: &Bound<'py, PyAny>,
    risk: bool,
) -> Result<Bound<'py, PyDict>> {
    let table = PerfTable::new(sim, risk);
    let out = PyDict::new(py);
    for (name, values) in table.columns {
        out.set_item(name, PyArray1::from_vec(py, values))?;
    }
    out.set_item("period_close", PyArray1::from_vec(py, table.period_close))?;
    out.set_item("period_open", PyArray1::from_vec(py, table.period_open))?;
    out.set_item("records", PerfRecords::new(sim, assets, bar_times))?;
    let exact = PerfExact {
        values: Box::new(ExactValues::new(sim)),
    };
    out.set_item("exact", exact)?;
    Ok(out)
}

/// What [`PerfExact`] keeps: a run's [`ExactValues`], whatever its number type.
trait ExactSource: Send + Sync {
    fn texts(&self) -> (Vec<(&'static str, Vec<String>)>, Vec<ExactFill>);
}

impl<N: Money + Send + Sync> ExactSource for ExactValues<N> {
    fn texts(&self) -> (Vec<(&'static str, Vec<String>)>, Vec<ExactFill>) {
        ExactValues::texts(self)
    }
}

/// A finished run's exact values: each session's money columns and every fill, kept as
/// the books hold them and written out as decimal text only when asked (`build`). Read
/// through `perf.attrs["rustybt"]["exact"]` (`rustybt.runner.ExactValues`), which asks
/// once; most runs are never read to the last digit, and the ~20,000 strings of a
/// 50-asset daily run were a tenth of its time.
#[pyclass(frozen, module = "rustybt._core")]
pub struct PerfExact {
    values: Box<dyn ExactSource>,
}

#[pymethods]
impl PerfExact {
    /// `{column: [decimal text per session], "transactions": [(order id, sid, amount,
    /// price text, commission text, bar), ...]}`, a new dict on every call. An amount is
    /// an int of shares, or the exact quantity as text for lots finer than a share.
    fn build<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyDict>> {
        guard_at("PerfExact.build", || {
            let (columns, exact_fills) = self.values.texts();
            let exact = PyDict::new(py);
            for (name, values) in columns {
                exact.set_item(name, values)?;
            }
            let fills = PyList::empty(py);
            for (id, sid, (units, scale), price, commission, bar) in exact_fills {
                let amount = if scale == 0 {
                    units.into_py_any(py)?
                } else {
                    rustybt_ledger::qty_text(units, scale).into_py_any(py)?
                };
                // atomic values only: the tuple CPython would untrack at its first collection
                let fill = (id, sid, amount, price, commission, bar).into_pyobject(py)?;
                fills.append(untracked(fill))?;
            }
            exact.set_item("transactions", fills)?;
            Ok(exact)
        })
    }
}
