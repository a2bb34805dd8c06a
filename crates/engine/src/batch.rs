//! The batch runner: many precomputed strategies (target-weight or order-quantity
//! matrices) simulated with the same ledger, costs and fill rules as the event-driven
//! engine, in parallel with rayon. Each run is exactly what a `TradingAlgorithm` calling
//! `order_target_percent(asset, w[bar, asset])` (or `order(asset, q[bar, asset])`) for every
//! asset on every bar would produce — no Python runs, so nothing holds the GIL.

use std::sync::Arc;

use rayon::prelude::*;
use rustybt_data::BarStore;
use rustybt_ledger::{CancelPolicy, Commission, Money, OrderStyle, Slippage};

use crate::error::EngineError;
use crate::metrics::final_risk;
use crate::simulation::{run, FillModel, Simulation, Strategy};

/// What each row of a matrix means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchKind {
    /// Target fraction of portfolio value per asset (`order_target_percent`).
    #[default]
    TargetWeights,
    /// Shares to order per asset (`order`); zero places nothing.
    OrderQuantities,
}

impl std::str::FromStr for BatchKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "weights" => Ok(BatchKind::TargetWeights),
            "orders" => Ok(BatchKind::OrderQuantities),
            other => Err(EngineError::BadConfig(format!(
                "kind must be 'weights' or 'orders', got '{other}'"
            ))),
        }
    }
}

/// Settings shared by every run of a batch.
#[derive(Debug, Clone)]
pub struct BatchSpec<N> {
    pub first_session: usize,
    pub last_session: usize,
    pub capital_base: N,
    pub slippage: Slippage<N>,
    pub commission: Commission<N>,
    pub cancel_policy: CancelPolicy,
    pub fill_model: FillModel,
    /// Asset of each matrix column.
    pub sids: Vec<u32>,
    pub kind: BatchKind,
    /// Keep each run's per-session returns and portfolio values.
    pub keep_perf: bool,
}

/// One run's outcome.
#[derive(Debug, Clone, Default)]
pub struct BatchResult {
    pub final_value: f64,
    pub total_return: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown: f64,
    pub volatility: f64,
    pub fills: usize,
    pub returns: Vec<f64>,
    pub portfolio_value: Vec<f64>,
    /// Exact final portfolio value (decimal string).
    pub exact_final_value: String,
    pub error: Option<String>,
}

struct MatrixStrategy<'a> {
    matrix: &'a [f64],
    sids: &'a [u32],
    first_bar: usize,
    kind: BatchKind,
}

impl<N: Money> Strategy<N> for MatrixStrategy<'_> {
    fn handle_data(&mut self, sim: &mut Simulation<N>) -> Result<(), EngineError> {
        let n = self.sids.len();
        let row = sim.current_bar() - self.first_bar;
        let values = &self.matrix[row * n..(row + 1) * n];
        for (&sid, &v) in self.sids.iter().zip(values) {
            if v.is_nan() {
                continue;
            }
            let x = sim.param(v).ok_or_else(|| EngineError::BadParameter {
                name: "matrix value",
                value: v.to_string(),
                reason: "not representable as an exact decimal".into(),
            })?;
            match self.kind {
                BatchKind::TargetWeights => sim.order_target_percent(sid, x, OrderStyle::Market)?,
                BatchKind::OrderQuantities => {
                    let scale = sim.ledger().lot_scale(sid);
                    sim.order(
                        sid,
                        crate::simulation::lots_of(x, scale),
                        OrderStyle::Market,
                    )?
                }
            };
        }
        Ok(())
    }
}

/// Bars the matrices must have: every bar of the run's sessions.
pub fn bars_in_span(store: &BarStore, first_session: usize, last_session: usize) -> usize {
    (store.session_first_bar[last_session + 1] - store.session_first_bar[first_session]) as usize
}

fn one<N: Money>(
    store: &Arc<BarStore>,
    spec: &BatchSpec<N>,
    matrix: &[f64],
) -> Result<BatchResult, EngineError> {
    let mut sim = Simulation::new(
        Arc::clone(store),
        spec.first_session,
        spec.last_session,
        spec.capital_base,
    )?;
    let ledger = sim.ledger_mut();
    ledger.slippage = spec.slippage;
    ledger.commission = spec.commission;
    ledger.cancel_policy = spec.cancel_policy;
    sim.fill_model = spec.fill_model;
    // a run is read for its returns and values alone
    sim.keep_session_detail(false);
    let first_bar = store.session_first_bar[spec.first_session] as usize;
    let mut strategy = MatrixStrategy {
        matrix,
        sids: &spec.sids,
        first_bar,
        kind: spec.kind,
    };
    run(&mut sim, &mut strategy)?;
    let returns: Vec<f64> = sim.perf().iter().map(|p| p.returns.to_f64()).collect();
    let last = final_risk(&returns, sim.periods_per_year());
    let final_value = sim.ledger().portfolio_value();
    Ok(BatchResult {
        final_value: final_value.to_f64(),
        total_return: last.algorithm_period_return,
        sharpe: last.sharpe,
        sortino: last.sortino,
        max_drawdown: last.max_drawdown,
        volatility: last.algo_volatility,
        fills: sim.ledger().transaction_count(),
        portfolio_value: if spec.keep_perf {
            sim.perf()
                .iter()
                .map(|p| p.portfolio_value.to_f64())
                .collect()
        } else {
            Vec::new()
        },
        returns: if spec.keep_perf { returns } else { Vec::new() },
        exact_final_value: final_value.to_string(),
        error: None,
    })
}

/// Run every matrix (time-major `[bars, len(sids)]`, row 0 = the first bar of the span) in
/// parallel. A run that fails (e.g. a weight for an asset with no price yet) reports its
/// error; the others go on.
pub fn run_batch<N: Money>(
    store: &Arc<BarStore>,
    spec: &BatchSpec<N>,
    matrices: &[&[f64]],
) -> Result<Vec<BatchResult>, EngineError> {
    if spec.first_session > spec.last_session || spec.last_session >= store.sessions.len() {
        return Err(EngineError::BadRun(format!(
            "session range {}..={} is not inside the bundle's {} sessions",
            spec.first_session,
            spec.last_session,
            store.sessions.len()
        )));
    }
    if let Some(&bad) = spec.sids.iter().find(|&&s| s as usize >= store.n_assets()) {
        return Err(rustybt_ledger::LedgerError::UnknownAsset {
            sid: bad,
            n_assets: store.n_assets(),
        }
        .into());
    }
    let bars = bars_in_span(store, spec.first_session, spec.last_session);
    let want = bars * spec.sids.len();
    if let Some((i, m)) = matrices.iter().enumerate().find(|(_, m)| m.len() != want) {
        return Err(EngineError::BadRun(format!(
            "matrix {i} has {} values; the span has {bars} bars × {} assets = {want}",
            m.len(),
            spec.sids.len()
        )));
    }
    Ok(matrices
        .par_iter()
        .map(|m| {
            one(store, spec, m).unwrap_or_else(|e| BatchResult {
                error: Some(e.to_string()),
                ..BatchResult::default()
            })
        })
        .collect())
}
