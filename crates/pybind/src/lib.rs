//! `rustybt._core`: the one native module. Glue only — the work is in the core crates.
// PyO3 extracts arguments as owned values; taking them by reference would add a copy.
#![allow(clippy::needless_pass_by_value)]

mod batch;
mod bundle;
mod errors;
mod sim;

use pyo3::prelude::*;

#[pymodule]
mod _core {
    #[pymodule_export]
    use crate::batch::run_batch;
    #[pymodule_export]
    use crate::bundle::{ingest_synthetic, Asset, PyBundle, PyCsvDir};
    #[pymodule_export]
    use crate::sim::{
        _panic_for_tests, benchmark_metrics, risk_metrics, round_trips_of, PyBarData, PySimulation,
    };

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("DIV_SCALE", rustybt_ledger::DIV_SCALE)?;
        Ok(())
    }
}
