//! What a finished run reports: the perf table (zipline's per-session columns, as arrays)
//! and a sweep trial's summary. Both read the simulation's exact books once and convert
//! to `f64` here, so every front end (the Python perf frame, `run_trial`, `Results`)
//! shows the same figures.

use rustybt_ledger::Money;

use crate::error::EngineError;
use crate::metrics::{alpha_beta, cumulative_risk, fifo_round_trips};
use crate::simulation::{SessionPerf, Simulation};

/// A fill in exact terms: (order id, sid, (lots, lot scale), price, commission, bar).
pub type FillOf<V> = (Option<u64>, u32, (i64, u32), V, V, usize);

/// A fill with its price and commission as decimal text.
pub type ExactFill = FillOf<String>;

/// The money columns kept exactly, by name, beside the perf table's `f64` columns.
pub const EXACT_COLUMNS: [&str; 7] = [
    "portfolio_value",
    "ending_cash",
    "ending_value",
    "pnl",
    "returns",
    "capital_used",
    "starting_cash",
];

/// The run's exact values, as the books hold them: each session's money columns
/// ([`EXACT_COLUMNS`], in that order) and every fill. Their decimal text is made by
/// [`ExactValues::texts`], when asked for: most runs are never read to the last digit.
#[derive(Debug, Clone, Default)]
pub struct ExactValues<N> {
    /// `EXACT_COLUMNS[k]` of session `i` is `sessions[i][k]`.
    sessions: Vec<[N; 7]>,
    fills: Vec<FillOf<N>>,
}

impl<N: Money> ExactValues<N> {
    /// The exact values of `sim`'s sessions so far and of all its fills.
    pub fn new(sim: &Simulation<N>) -> Self {
        let ledger = sim.ledger();
        let money = money_columns::<N>();
        let getters = EXACT_COLUMNS.map(|name| {
            money
                .iter()
                .find(|(n, _)| *n == name)
                .expect("every exact column is a money column")
                .1
        });
        ExactValues {
            sessions: sim
                .perf()
                .iter()
                .map(|p| getters.map(|get| get(p)))
                .collect(),
            fills: ledger
                .transactions()
                .iter()
                .map(|t| {
                    let lots = (t.amount, ledger.lot_scale(t.sid));
                    (t.order_id, t.sid, lots, t.price, t.commission, t.bar)
                })
                .collect(),
        }
    }

    /// The values as decimal text: each of [`EXACT_COLUMNS`] with its sessions' values,
    /// and the fills.
    pub fn texts(&self) -> (Vec<(&'static str, Vec<String>)>, Vec<ExactFill>) {
        let columns = EXACT_COLUMNS
            .iter()
            .enumerate()
            .map(|(k, &name)| {
                let values = self.sessions.iter().map(|s| s[k].to_exact_string());
                (name, values.collect())
            })
            .collect();
        let fills = self
            .fills
            .iter()
            .map(|&(id, sid, lots, price, commission, bar)| {
                let (price, commission) = (price.to_exact_string(), commission.to_exact_string());
                (id, sid, lots, price, commission, bar)
            })
            .collect();
        (columns, fills)
    }
}

/// The perf frame's per-session columns, one value per session of the run.
#[derive(Debug, Clone, Default)]
pub struct PerfTable {
    /// `float64` columns by zipline's names, in a fixed order.
    pub columns: Vec<(&'static str, Vec<f64>)>,
    /// Each session's close and open (ns since the epoch, UTC).
    pub period_close: Vec<i64>,
    pub period_open: Vec<i64>,
}

/// `a / b` as `f64`, NaN when `b` is zero (leverage of an empty account).
fn ratio<N: Money>(a: N, b: N) -> f64 {
    if b.is_zero() {
        f64::NAN
    } else {
        a.to_f64() / b.to_f64()
    }
}

type Getter<N> = fn(&SessionPerf<N>) -> N;

/// The perf table's money columns by zipline's names, each with the session value it is.
fn money_columns<N: Money>() -> [(&'static str, Getter<N>); 14] {
    [
        ("portfolio_value", |p| p.portfolio_value),
        ("returns", |p| p.returns),
        ("pnl", |p| p.pnl),
        ("capital_used", |p| p.capital_used),
        ("starting_cash", |p| p.starting_cash),
        ("ending_cash", |p| p.ending_cash),
        ("starting_value", |p| p.starting_value),
        ("ending_value", |p| p.ending_value),
        ("starting_exposure", |p| p.starting_value),
        ("ending_exposure", |p| p.ending_value),
        ("long_value", |p| p.exposure.long_value),
        ("short_value", |p| p.exposure.short_value),
        ("long_exposure", |p| p.exposure.long_value),
        ("short_exposure", |p| p.exposure.short_value),
    ]
}

impl PerfTable {
    /// The table of `sim`'s sessions so far; `risk` adds the cumulative risk columns
    /// (`algorithm_period_return`, `algo_volatility`, `sharpe`, `sortino`, `max_drawdown`).
    pub fn new<N: Money>(sim: &Simulation<N>, risk: bool) -> Self {
        let perf = sim.perf();
        let store = sim.store();
        let mut columns: Vec<(&'static str, Vec<f64>)> = money_columns::<N>()
            .iter()
            .map(|&(name, get)| (name, perf.iter().map(|p| get(p).to_f64()).collect()))
            .collect();
        columns.push((
            "longs_count",
            perf.iter()
                .map(|p| f64::from(p.exposure.long_count))
                .collect(),
        ));
        columns.push((
            "shorts_count",
            perf.iter()
                .map(|p| f64::from(p.exposure.short_count))
                .collect(),
        ));
        columns.push((
            "gross_leverage",
            perf.iter()
                .map(|p| ratio(p.exposure.gross(), p.portfolio_value))
                .collect(),
        ));
        columns.push((
            "net_leverage",
            perf.iter()
                .map(|p| ratio(p.exposure.net(), p.portfolio_value))
                .collect(),
        ));
        if risk {
            let returns = &columns[1].1;
            let rows = cumulative_risk(returns, sim.periods_per_year());
            columns.extend([
                (
                    "algorithm_period_return",
                    rows.iter().map(|r| r.algorithm_period_return).collect(),
                ),
                (
                    "algo_volatility",
                    rows.iter().map(|r| r.algo_volatility).collect(),
                ),
                ("sharpe", rows.iter().map(|r| r.sharpe).collect()),
                ("sortino", rows.iter().map(|r| r.sortino).collect()),
                (
                    "max_drawdown",
                    rows.iter().map(|r| r.max_drawdown).collect(),
                ),
            ]);
        }
        PerfTable {
            columns,
            period_close: perf
                .iter()
                .map(|p| store.sessions[p.session].close_ns)
                .collect(),
            period_open: perf
                .iter()
                .map(|p| store.sessions[p.session].open_ns)
                .collect(),
        }
    }
}

/// What a sweep's trial keeps of a run instead of the perf frame: the same figures
/// `stats_from_perf` reads from the frame, from the same values.
#[derive(Debug, Clone, Default)]
pub struct TrialSummary {
    /// Per-session returns.
    pub returns: Vec<f64>,
    pub final_value: f64,
    pub fills: usize,
    /// Sessions that ended holding a position.
    pub invested: usize,
    /// Closed round trips' pnl, FIFO per group, group by group.
    pub pnl: Vec<f64>,
    /// Of the whole run against the benchmark; NaN without one.
    pub alpha: f64,
    pub beta: f64,
}

impl TrialSummary {
    /// The summary of `sim`'s run. Round trips are matched per `group_of_sid[sid]` (e.g.
    /// the rank of each asset's symbol); `benchmark` has one return per session.
    pub fn new<N: Money>(
        sim: &Simulation<N>,
        group_of_sid: &[u32],
        benchmark: Option<&[f64]>,
    ) -> Result<Self, EngineError> {
        let perf = sim.perf();
        let returns: Vec<f64> = perf.iter().map(|p| p.returns.to_f64()).collect();
        let txns = sim.ledger().transactions();
        let group = txns
            .iter()
            .map(|t| {
                group_of_sid.get(t.sid as usize).copied().ok_or_else(|| {
                    EngineError::BadConfig(format!("no symbol rank for sid {}", t.sid))
                })
            })
            .collect::<Result<Vec<u32>, _>>()?;
        // in lots, priced per lot: a round trip's pnl is lots × price per lot
        let amount: Vec<i64> = txns.iter().map(|t| t.amount).collect();
        #[allow(clippy::cast_precision_loss)] // a power of ten up to 10^8
        let price: Vec<f64> = txns
            .iter()
            .map(|t| match sim.ledger().lot_scale(t.sid) {
                0 => t.price.to_f64(),
                scale => t.price.to_f64() / rustybt_ledger::lots_per_unit(scale) as f64,
            })
            .collect();
        let commission: Vec<f64> = txns.iter().map(|t| t.commission.to_f64()).collect();
        let trips = fifo_round_trips(&group, &amount, &price, &commission);
        let (alpha, beta) = match benchmark {
            Some(b) if b.len() == returns.len() => alpha_beta(&returns, b, sim.periods_per_year()),
            Some(b) => {
                return Err(EngineError::BadConfig(format!(
                    "the run has {} sessions but benchmark has {}",
                    returns.len(),
                    b.len()
                )))
            }
            None => (f64::NAN, f64::NAN),
        };
        Ok(TrialSummary {
            final_value: perf.last().map_or(f64::NAN, |p| p.portfolio_value.to_f64()),
            fills: txns.len(),
            invested: perf.iter().filter(|p| !p.positions.is_empty()).count(),
            pnl: trips.iter().map(|t| t.pnl).collect(),
            returns,
            alpha,
            beta,
        })
    }
}
