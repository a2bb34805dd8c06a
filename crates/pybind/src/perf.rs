//! The perf frame's columns as Python objects: the engine's [`PerfTable`] as NumPy arrays,
//! and each session's orders, transactions and positions as lists of dicts (zipline's
//! record shapes).

use numpy::PyArray1;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3::IntoPyObjectExt;
use rustybt_engine::{PerfTable, Simulation};
use rustybt_ledger::{Money, Order};

use crate::conversion::{amount_py, order_id_text};
use crate::errors::Result;

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

fn order_dict<'py, N: Money>(
    py: Python<'py>,
    o: &Order<N>,
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
    if o.filled == 0 && o.commission.is_zero() {
        d.set_item(intern!(py, "commission"), 0i64)?; // zipline's int 0 until a fill
    } else {
        d.set_item(intern!(py, "commission"), o.commission.to_f64())?;
    }
    if let Some(limit) = o.limit {
        d.set_item(intern!(py, "limit"), limit.to_f64())?;
    }
    if let Some(stop) = o.stop {
        d.set_item(intern!(py, "stop"), stop.to_f64())?;
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
        statuses.get_item(usize::from(o.status.code()))?,
    )?;
    Ok(untracked(d))
}

/// The perf columns of `sim`'s run: the table's arrays, `period_close` / `period_open`
/// (ns), per-session `transactions`, `orders` and `positions`, and `exact` (the money
/// columns and the fills as decimal text).
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
    let perf = sim.perf();
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
    // zipline's ORDER_STATUS members (IntEnum), indexed by status code
    let enum_type = py.import("rustybt.protocol")?.getattr("ORDER_STATUS")?;
    let statuses = PyList::empty(py);
    for code in 0..4u8 {
        statuses.append(enum_type.call1((code,))?)?;
    }
    let template = order_template(py)?;
    // zipline's key orders; records are copies of these, values then replaced (a copy
    // takes the table whole, with no hashing or resizing)
    // (zipline records commissions on orders; its transaction dicts carry None)
    let txn_template = keys_template(
        py,
        &["amount", "dt", "price", "order_id", "sid", "commission"],
    )?;
    let position_template = keys_template(py, &["sid", "amount", "cost_basis", "last_sale_price"])?;
    let mut ids = IdTexts { texts: Vec::new() };
    let (mut t_col, mut o_col, mut p_col) = (Vec::new(), Vec::new(), Vec::new());
    for p in perf {
        let tl = PyList::empty(py);
        for t in &txns[p.transactions.clone()] {
            let d = txn_template.copy()?;
            let scale = sim.ledger().lot_scale(t.sid);
            d.set_item(intern!(py, "amount"), amount_py(py, t.amount, scale)?)?;
            d.set_item(intern!(py, "dt"), times.get(t.bar)?)?;
            d.set_item(intern!(py, "price"), t.price.to_f64())?;
            if let Some(id) = t.order_id {
                d.set_item(intern!(py, "order_id"), ids.get(py, id))?;
            }
            d.set_item(intern!(py, "sid"), assets.get_item(t.sid as usize)?)?;
            tl.append(untracked(d))?;
        }
        t_col.push(tl);
        let ol = PyList::empty(py);
        for o in &p.orders {
            ol.append(order_dict(
                py, o, &template, assets, &statuses, &mut times, &mut ids,
            )?)?;
        }
        o_col.push(ol);
        let pl = PyList::empty(py);
        for &(sid, amount, cost_basis, last) in &p.positions {
            let d = position_template.copy()?;
            d.set_item(intern!(py, "sid"), assets.get_item(sid as usize)?)?;
            let scale = sim.ledger().lot_scale(sid);
            d.set_item(intern!(py, "amount"), amount_py(py, amount, scale)?)?;
            d.set_item(intern!(py, "cost_basis"), cost_basis.to_f64())?;
            d.set_item(intern!(py, "last_sale_price"), last.to_f64())?;
            pl.append(untracked(d))?;
        }
        p_col.push(pl);
    }
    out.set_item("transactions", t_col)?;
    out.set_item("orders", o_col)?;
    out.set_item("positions", p_col)?;
    let exact = PyDict::new(py);
    for (name, values) in table.exact {
        exact.set_item(name, values)?;
    }
    // amounts: an int of shares, or the exact decimal quantity as text for finer lots
    let fills = PyList::empty(py);
    for (id, sid, (units, scale), price, commission, bar) in table.exact_fills {
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
    out.set_item("exact", exact)?;
    Ok(out)
}
