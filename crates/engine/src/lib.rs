//! The rustybt engine: the one clock every driver advances, the simulation of orders and
//! books around a strategy, the batch runner, and the metrics of the results.

pub mod batch;
pub mod clock;
pub mod controls;
pub mod error;
pub mod metrics;
pub mod report;
pub mod simulation;

pub use batch::{run_batch, BatchKind, BatchResult, BatchSpec};
pub use clock::{Phase, Step};
pub use controls::{Control, ControlKind, OnError};
pub use error::EngineError;
pub use metrics::{
    alpha_beta, check_periods, cumulative_benchmark_risk, cumulative_risk, fifo_round_trips,
    final_risk, periods_per_year, BenchmarkRow, RiskRow, RoundTrip, PERIODS_PER_YEAR,
};
pub use report::{ExactValues, PerfTable, TrialSummary, EXACT_COLUMNS};
pub use simulation::{
    order_style, run, FillModel, LedgerKind, OrderKind, SessionPerf, Simulation, Strategy,
};
