//! The one place core errors become Python exceptions (classes defined in `rustybt.errors`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use rustybt_data::DataError;
use rustybt_engine::EngineError;
use rustybt_ledger::LedgerError;

pyo3::import_exception!(rustybt.errors, BundleNotFound);
pyo3::import_exception!(rustybt.errors, BundleError);
pyo3::import_exception!(rustybt.errors, IngestError);
pyo3::import_exception!(rustybt.errors, InvalidRunParameters);
pyo3::import_exception!(rustybt.errors, BadOrderParameters);
pyo3::import_exception!(rustybt.errors, CannotOrderDelistedAsset);
pyo3::import_exception!(rustybt.errors, HistoryWindowError);
pyo3::import_exception!(rustybt.errors, InternalError);
pyo3::import_exception!(rustybt.errors, OrderDuringInitialize);
pyo3::import_exception!(rustybt.errors, RegisterTradingControlPostInit);
pyo3::import_exception!(rustybt.errors, StrategyError);
pyo3::import_exception!(rustybt.errors, RustyBTError);
pyo3::import_exception!(rustybt.errors, SymbolNotFound);
pyo3::import_exception!(rustybt.errors, TradingControlViolation);
pyo3::import_exception!(rustybt.errors, AccountControlViolation);

pub fn data_err(e: DataError) -> PyErr {
    let msg = e.to_string();
    match e {
        DataError::BundleNotFound(_) => BundleNotFound::new_err(msg),
        DataError::BadRow { .. } | DataError::BadFile { .. } | DataError::BadRequest(_) => {
            IngestError::new_err(msg)
        }
        DataError::BadFrequency(_) => InvalidRunParameters::new_err(msg),
        DataError::Corrupt { .. } | DataError::Io { .. } | DataError::Parquet { .. } => {
            BundleError::new_err(msg)
        }
    }
}

pub fn ledger_err(e: LedgerError) -> PyErr {
    let msg = e.to_string();
    match e {
        LedgerError::UnknownAsset { .. } => SymbolNotFound::new_err(msg),
        LedgerError::BadModelParameter { .. } => InvalidRunParameters::new_err(msg),
        _ => BadOrderParameters::new_err(msg),
    }
}

pub fn engine_err(e: EngineError) -> PyErr {
    let msg = e.to_string();
    match e {
        EngineError::Ledger(l) => ledger_err(l),
        EngineError::Data(d) => data_err(d),
        EngineError::BadRun(_) | EngineError::BadParameter { .. } => {
            InvalidRunParameters::new_err(msg)
        }
        EngineError::NoPrice { .. } | EngineError::Delisted { .. } => {
            CannotOrderDelistedAsset::new_err(msg)
        }
        EngineError::UnknownField(_) => HistoryWindowError::new_err(msg),
        EngineError::TradingControl(_) => TradingControlViolation::new_err(msg),
        EngineError::OrderTooLarge(_) => BadOrderParameters::new_err(msg),
        EngineError::AccountControl(_) => AccountControlViolation::new_err(msg),
    }
}

/// Run `f`, turning a Rust panic into `rustybt.errors.InternalError` instead of letting
/// it unwind into the interpreter.
pub fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(InternalError::new_err(format!(
                "internal error (a Rust panic was caught): {what}"
            )))
        }
    }
}
