//! `run_batch`: the batch runner behind the binding. Matrices are copied out of NumPy a
//! chunk at a time; each chunk runs on rayon's threads with the GIL released.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rust_decimal::Decimal;
use rustybt_engine::{run_batch as engine_run_batch, BatchKind, BatchResult, BatchSpec, FillModel};
use rustybt_ledger::{CancelPolicy, Money};

use crate::bundle::PyBundle;
use crate::errors::{engine_err, guard, InvalidRunParameters};
use crate::sim::{commission_model, slippage_model};

/// Matrices copied out of Python per chunk: bounds the extra memory of a large batch.
const CHUNK: usize = 128;

#[allow(clippy::too_many_arguments)]
fn spec<N: Money>(
    first_session: usize,
    last_session: usize,
    capital_base: f64,
    slippage: (&str, f64, f64),
    commission: (&str, f64, f64),
    cancel_policy: &str,
    fill_model: &str,
    sids: Vec<u32>,
    kind: &str,
    keep_perf: bool,
) -> PyResult<BatchSpec<N>> {
    let capital = N::from_f64(capital_base)
        .filter(|c| *c > N::zero())
        .ok_or_else(|| {
            InvalidRunParameters::new_err(format!(
                "capital_base must be positive, got {capital_base}"
            ))
        })?;
    Ok(BatchSpec {
        first_session,
        last_session,
        capital_base: capital,
        slippage: slippage_model(slippage.0, slippage.1, slippage.2)?,
        commission: commission_model(commission.0, commission.1, commission.2)?,
        cancel_policy: match cancel_policy {
            "never" => CancelPolicy::Never,
            "eod" => CancelPolicy::EndOfDay,
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "cancel policy must be 'never' or 'eod', got '{other}'"
                )))
            }
        },
        fill_model: match fill_model {
            "next_close" => FillModel::NextClose,
            "next_open" => FillModel::NextOpen,
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "fill model must be 'next_close' or 'next_open', got '{other}'"
                )))
            }
        },
        sids,
        kind: match kind {
            "weights" => BatchKind::TargetWeights,
            "orders" => BatchKind::OrderQuantities,
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "kind must be 'weights' or 'orders', got '{other}'"
                )))
            }
        },
        keep_perf,
    })
}

fn run_all<N: Money>(
    py: Python<'_>,
    bundle: &PyBundle,
    spec: &BatchSpec<N>,
    matrices: &[PyReadonlyArray2<'_, f64>],
) -> PyResult<Vec<BatchResult>> {
    let mut results = Vec::with_capacity(matrices.len());
    for chunk in matrices.chunks(CHUNK) {
        let owned: Vec<Vec<f64>> = chunk
            .iter()
            .map(|m| {
                m.as_slice()
                    .map_or_else(|_| m.as_array().iter().copied().collect(), <[f64]>::to_vec)
            })
            .collect();
        let store = bundle.store.clone();
        let part = py.detach(|| {
            let refs: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
            engine_run_batch(&store, spec, &refs)
        });
        results.extend(part.map_err(engine_err)?);
        py.check_signals()?;
    }
    Ok(results)
}

/// Simulate many precomputed strategies. Each matrix is `[bars, len(sids)]` (the run's
/// bars, time-major) of target weights (`kind="weights"`) or share quantities
/// (`kind="orders"`); NaN means "no order for this asset on this bar". Returns a dict of
/// columns, one entry per matrix.
#[pyfunction]
#[pyo3(signature = (bundle, matrices, first_session, last_session, sids, kind = "weights", capital_base = 1_000_000.0, ledger = "decimal", slippage = None, commission = None, cancel_policy = "never", fill_model = "next_close", keep_perf = false))]
#[allow(clippy::too_many_arguments)]
pub fn run_batch<'py>(
    py: Python<'py>,
    bundle: &PyBundle,
    matrices: Vec<PyReadonlyArray2<'py, f64>>,
    first_session: usize,
    last_session: usize,
    sids: Vec<u32>,
    kind: &str,
    capital_base: f64,
    ledger: &str,
    slippage: Option<(String, f64, f64)>,
    commission: Option<(String, f64, f64)>,
    cancel_policy: &str,
    fill_model: &str,
    keep_perf: bool,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        // zipline's defaults, as in the event-driven engine
        let slippage = slippage.unwrap_or_else(|| ("fixed_basis_points".into(), 5.0, 0.1));
        let commission = commission.unwrap_or_else(|| ("per_share".into(), 0.001, 0.0));
        let slip = (slippage.0.as_str(), slippage.1, slippage.2);
        let comm = (commission.0.as_str(), commission.1, commission.2);
        // the same spec and run on either number type
        macro_rules! run_on {
            ($n:ty) => {{
                let s = spec::<$n>(
                    first_session,
                    last_session,
                    capital_base,
                    slip,
                    comm,
                    cancel_policy,
                    fill_model,
                    sids,
                    kind,
                    keep_perf,
                )?;
                run_all(py, bundle, &s, &matrices)?
            }};
        }
        let results = match ledger {
            "decimal" => run_on!(Decimal),
            "float" => run_on!(f64),
            other => {
                return Err(InvalidRunParameters::new_err(format!(
                    "ledger must be 'decimal' or 'float', got '{other}'"
                )))
            }
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
