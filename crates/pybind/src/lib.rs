//! `rustybt._core`: the one native module. Glue only — the work is in the core crates.
//! One module per Python type (`Bundle`, `BarData`, `Simulation`, the batch runner, the
//! metrics functions, the pipeline kernels); `conversion` turns Python values into core
//! types and `errors` turns core errors into Python exceptions.
// PyO3 extracts arguments as owned values; taking them by reference would add a copy.
#![allow(clippy::needless_pass_by_value)]

mod bar_data;
mod batch;
mod bundle;
mod conversion;
mod costs;
mod errors;
mod metrics;
mod perf;
mod pipeline;
mod simulation;

use pyo3::prelude::*;

/// `[(name, [(parameter, default), ...]), ...]` of a ledger model table.
type ModelTable = Vec<(&'static str, Vec<(&'static str, f64)>)>;

fn model_table(specs: &[rustybt_ledger::ModelSpec]) -> ModelTable {
    specs.iter().map(|m| (m.name, m.params.to_vec())).collect()
}

#[pymodule]
mod _core {
    #[pymodule_export]
    use crate::bar_data::PyBarData;
    #[pymodule_export]
    use crate::batch::run_batch;
    #[pymodule_export]
    use crate::bundle::{
        clean_bundle, clean_cache_leftovers, ingest_synthetic, Asset, PyBundle, PyCsvDir,
    };
    #[pymodule_export]
    use crate::errors::_set_failpoints;
    #[pymodule_export]
    use crate::metrics::{
        _panic_for_tests, benchmark_metrics, final_risk, risk_metrics, round_trips_of,
    };
    #[pymodule_export]
    use crate::perf::{PerfExact, PerfRecords};
    #[pymodule_export]
    use crate::pipeline::{
        pipeline_normalize, pipeline_peer_count, pipeline_percentile_between, pipeline_quantiles,
        pipeline_rank, pipeline_rolling, pipeline_rolling_stat,
    };
    #[pymodule_export]
    use crate::simulation::{OrderRecord, PySimulation};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("DIV_SCALE", rustybt_ledger::DIV_SCALE)?;
        m.add("CACHE_FORMAT", rustybt_data::cache::CACHE_FORMAT)?;
        // the models and their defaults, as the ledger defines them (`rustybt.finance`
        // builds its classes' defaults from these)
        m.add(
            "SLIPPAGE_MODELS",
            crate::model_table(rustybt_ledger::SLIPPAGE_MODELS),
        )?;
        m.add(
            "COMMISSION_MODELS",
            crate::model_table(rustybt_ledger::COMMISSION_MODELS),
        )?;
        Ok(())
    }
}
