//! `run_batch`: the batch runner behind the binding. Matrices are copied out of NumPy a
//! chunk at a time; each chunk runs on rayon's threads with the GIL released.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rustybt_engine::{
    run_batch as engine_run_batch, BatchKind, BatchResult, BatchSpec, FillModel, LedgerKind,
};
use rustybt_ledger::Fixed;
use rustybt_ledger::{CancelPolicy, Commission, Money, Slippage};

use crate::bundle::PyBundle;
use crate::conversion::{commission, named_or_default, slippage};
use crate::errors::{guard_at, invalid_run, Result};

/// Matrices copied out of Python per chunk: bounds the extra memory of a large batch.
const CHUNK: usize = 128;

/// What a batch is told from Python, before its number type is chosen.
struct Settings<'a, 'py> {
    first_session: usize,
    last_session: usize,
    capital_base: f64,
    slippage: Option<&'a Bound<'py, PyAny>>,
    commission: Option<&'a Bound<'py, PyAny>>,
    cancel_policy: CancelPolicy,
    fill_model: FillModel,
    kind: BatchKind,
    keep_perf: bool,
}

fn spec<N: Money>(s: &Settings<'_, '_>, sids: Vec<u32>) -> Result<BatchSpec<N>> {
    let capital = N::from_f64(s.capital_base)
        .filter(|c| *c > N::zero())
        .ok_or_else(|| {
            invalid_run(format!(
                "capital_base must be positive, got {}",
                s.capital_base
            ))
        })?;
    Ok(BatchSpec {
        first_session: s.first_session,
        last_session: s.last_session,
        capital_base: capital,
        // zipline's defaults, as in the event-driven engine
        slippage: s
            .slippage
            .map_or_else(|| Ok(Slippage::zipline_default()), slippage)?,
        commission: s
            .commission
            .map_or_else(|| Ok(Commission::zipline_default()), commission)?,
        cancel_policy: s.cancel_policy,
        fill_model: s.fill_model,
        sids,
        kind: s.kind,
        keep_perf: s.keep_perf,
    })
}

fn run_all<N: Money>(
    py: Python<'_>,
    bundle: &PyBundle,
    spec: &BatchSpec<N>,
    matrices: &[PyReadonlyArray2<'_, f64>],
) -> Result<Vec<BatchResult>> {
    let mut results = Vec::with_capacity(matrices.len());
    for chunk in matrices.chunks(CHUNK) {
        let owned: Vec<Vec<f64>> = chunk
            .iter()
            .map(|m| match m.as_slice() {
                // `as_slice` also takes Fortran-ordered memory, which reads column-major
                Ok(values) if m.is_c_contiguous() => values.to_vec(),
                _ => m.as_array().iter().copied().collect(),
            })
            .collect();
        let store = bundle.store.clone();
        let part = py.detach(|| {
            let refs: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
            engine_run_batch(&store, spec, &refs)
        });
        results.extend(part?);
        py.check_signals()?;
    }
    Ok(results)
}

/// Simulate many precomputed strategies. Each matrix is `[bars, len(sids)]` (the run's
/// bars, time-major) of target weights (`kind="weights"`) or share quantities
/// (`kind="orders"`); NaN means "no order for this asset on this bar". `slippage` and
/// `commission` are `rustybt.finance` models (default: zipline's). Returns a dict of
/// columns, one entry per matrix.
#[pyfunction]
#[pyo3(signature = (bundle, matrices, first_session, last_session, sids, kind = None, capital_base = 1_000_000.0, ledger = None, slippage = None, commission = None, cancel_policy = None, fill_model = None, keep_perf = false))]
#[allow(clippy::too_many_arguments)]
pub fn run_batch<'py>(
    py: Python<'py>,
    bundle: &PyBundle,
    matrices: Vec<PyReadonlyArray2<'py, f64>>,
    first_session: usize,
    last_session: usize,
    sids: Vec<u32>,
    kind: Option<&str>,
    capital_base: f64,
    ledger: Option<&str>,
    slippage: Option<Bound<'py, PyAny>>,
    commission: Option<Bound<'py, PyAny>>,
    cancel_policy: Option<&str>,
    fill_model: Option<&str>,
    keep_perf: bool,
) -> Result<Bound<'py, PyDict>> {
    guard_at("run_batch", || {
        let settings = Settings {
            first_session,
            last_session,
            capital_base,
            slippage: slippage.as_ref(),
            commission: commission.as_ref(),
            cancel_policy: named_or_default(cancel_policy)?,
            fill_model: named_or_default(fill_model)?,
            kind: named_or_default(kind)?,
            keep_perf,
        };
        let results = match named_or_default::<LedgerKind>(ledger)? {
            LedgerKind::Decimal => {
                run_all(py, bundle, &spec::<Fixed>(&settings, sids)?, &matrices)?
            }
            LedgerKind::Float => run_all(py, bundle, &spec::<f64>(&settings, sids)?, &matrices)?,
        };
        let out = PyDict::new(py);
        let col = |f: &dyn Fn(&BatchResult) -> f64| PyArray1::from_iter(py, results.iter().map(f));
        out.set_item("final_portfolio_value", col(&|r| r.final_value))?;
        out.set_item("total_return", col(&|r| r.total_return))?;
        out.set_item("sharpe", col(&|r| r.sharpe))?;
        out.set_item("sortino", col(&|r| r.sortino))?;
        out.set_item("max_drawdown", col(&|r| r.max_drawdown))?;
        out.set_item("annual_volatility", col(&|r| r.volatility))?;
        out.set_item(
            "fills",
            PyArray1::from_iter(py, results.iter().map(|r| r.fills as u64)),
        )?;
        out.set_item(
            "exact_final_value",
            results
                .iter()
                .map(|r| r.exact_final_value.clone())
                .collect::<Vec<_>>(),
        )?;
        out.set_item(
            "error",
            results.iter().map(|r| r.error.clone()).collect::<Vec<_>>(),
        )?;
        if keep_perf {
            let sessions = results.iter().map(|r| r.returns.len()).max().unwrap_or(0);
            let mut rets = vec![f64::NAN; results.len() * sessions];
            let mut values = vec![f64::NAN; results.len() * sessions];
            for (i, r) in results.iter().enumerate() {
                rets[i * sessions..i * sessions + r.returns.len()].copy_from_slice(&r.returns);
                values[i * sessions..i * sessions + r.portfolio_value.len()]
                    .copy_from_slice(&r.portfolio_value);
            }
            let shape = [results.len(), sessions];
            out.set_item("returns", PyArray1::from_vec(py, rets).reshape(shape)?)?;
            out.set_item(
                "portfolio_value",
                PyArray1::from_vec(py, values).reshape(shape)?,
            )?;
        }
        Ok(out)
    })
}
