//! The engine's metrics as functions of plain arrays (for the reference engine's
//! cross-checks, `Results` and the statistics of a run).

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rustybt_engine::{fifo_round_trips, RoundTrip};

use crate::errors::{bad_value, guard_at, Result};

/// The engine's cumulative risk metrics of a return series (row i uses returns 0..=i):
/// algorithm_period_return, algo_volatility, sharpe, sortino, max_drawdown; annualised
/// with `periods_per_year` (252: an exchange's sessions; 365: a 24/7 calendar's days).
#[pyfunction]
#[pyo3(name = "cumulative_risk", signature = (returns, periods_per_year = 252.0))]
pub fn risk_metrics(
    py: Python<'_>,
    returns: Vec<f64>,
    periods_per_year: f64,
) -> Result<Bound<'_, PyDict>> {
    guard_at("cumulative_risk", || {
        let periods = rustybt_engine::check_periods(periods_per_year)?;
        let rows = rustybt_engine::cumulative_risk(&returns, periods);
        let out = PyDict::new(py);
        let col = |f: &dyn Fn(&rustybt_engine::RiskRow) -> f64| {
            PyArray1::from_iter(py, rows.iter().map(f))
        };
        out.set_item(
            "algorithm_period_return",
            col(&|r| r.algorithm_period_return),
        )?;
        out.set_item("algo_volatility", col(&|r| r.algo_volatility))?;
        out.set_item("sharpe", col(&|r| r.sharpe))?;
        out.set_item("sortino", col(&|r| r.sortino))?;
        out.set_item("max_drawdown", col(&|r| r.max_drawdown))?;
        Ok(out)
    })
}

/// The engine's statistics of a whole return series (the last row of `cumulative_risk`,
/// in O(n)): what every end-of-run figure (`Results.stats`, a sweep trial's row, the batch
/// runner's columns) is read from. `(total_return, annual_volatility, sharpe, sortino,
/// max_drawdown)`.
#[pyfunction]
#[pyo3(signature = (returns, periods_per_year = 252.0))]
pub fn final_risk(returns: Vec<f64>, periods_per_year: f64) -> Result<(f64, f64, f64, f64, f64)> {
    guard_at("final_risk", || {
        let periods = rustybt_engine::check_periods(periods_per_year)?;
        Ok({
            let r = rustybt_engine::final_risk(&returns, periods);
            (
                r.algorithm_period_return,
                r.algo_volatility,
                r.sharpe,
                r.sortino,
                r.max_drawdown,
            )
        })
    })
}

/// The engine's cumulative benchmark metrics of a return series against a benchmark's
/// (row i uses periods 0..=i): benchmark_period_return, benchmark_volatility, alpha, beta.
#[pyfunction]
#[pyo3(name = "cumulative_benchmark_risk", signature = (returns, benchmark, periods_per_year = 252.0))]
pub fn benchmark_metrics(
    py: Python<'_>,
    returns: Vec<f64>,
    benchmark: Vec<f64>,
    periods_per_year: f64,
) -> Result<Bound<'_, PyDict>> {
    guard_at("cumulative_benchmark_risk", || {
        let periods = rustybt_engine::check_periods(periods_per_year)?;
        if returns.len() != benchmark.len() {
            return Err(bad_value(format!(
                "returns has {} periods but benchmark has {}",
                returns.len(),
                benchmark.len()
            )));
        }
        let rows = rustybt_engine::cumulative_benchmark_risk(&returns, &benchmark, periods);
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
    })
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
) -> Result<Bound<'_, PyDict>> {
    guard_at("fifo_round_trips", || {
        let n = group.len();
        if amount.len() != n || price.len() != n || commission.len() != n {
            return Err(bad_value(format!(
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
    })
}

/// Raise a Rust panic inside the guard, to prove panics surface as `InternalError`.
#[pyfunction]
pub fn _panic_for_tests(message: &str) -> Result<()> {
    guard_at("_panic_for_tests", || panic!("{message}"))
}
