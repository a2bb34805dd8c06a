//! The rustybt engine: the bar clock, the simulation steps around a strategy, and the
//! risk metrics of its returns.

pub mod batch;
pub mod error;
pub mod metrics;
pub mod simulation;

pub use batch::{run_batch, BatchKind, BatchResult, BatchSpec};
pub use error::EngineError;
pub use metrics::{
    alpha_beta, cumulative_benchmark_risk, cumulative_risk, fifo_round_trips, final_risk,
    BenchmarkRow, RiskRow, RoundTrip,
};
pub use simulation::{run, Control, FillModel, OnError, SessionPerf, Simulation, Strategy};
