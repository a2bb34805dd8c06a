//! The one place errors become Python exceptions (the classes live in `rustybt.errors`).
//!
//! Every binding returns [`Result`]: core errors convert into [`Error`] with `?` (one
//! `From` per core crate) and [`Error`] into the Python exception by kind. Errors the
//! bindings find themselves (a wrong Python type, a length mismatch) are made by the
//! constructors below, so no other module builds a Python exception.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rustybt_data::DataError;
use rustybt_engine::{EngineError, Phase};
use rustybt_ledger::LedgerError;
use rustybt_pipeline::PipelineError;

pyo3::import_exception!(rustybt.errors, BundleNotFound);
pyo3::import_exception!(rustybt.errors, BundleError);
pyo3::import_exception!(rustybt.errors, ExactRangeExceeded);
pyo3::import_exception!(rustybt.errors, IngestError);
pyo3::import_exception!(rustybt.errors, InvalidRunParameters);
pyo3::import_exception!(rustybt.errors, BadOrderParameters);
pyo3::import_exception!(rustybt.errors, CannotOrderDelistedAsset);
pyo3::import_exception!(rustybt.errors, HistoryWindowError);
pyo3::import_exception!(rustybt.errors, InternalError);
pyo3::import_exception!(rustybt.errors, OrderDuringInitialize);
pyo3::import_exception!(rustybt.errors, OrderInBeforeTradingStart);
pyo3::import_exception!(rustybt.errors, StrategyError);
pyo3::import_exception!(rustybt.errors, RustyBTError);
pyo3::import_exception!(rustybt.errors, SymbolNotFound);
pyo3::import_exception!(rustybt.errors, TradingControlViolation);
pyo3::import_exception!(rustybt.errors, AccountControlViolation);

/// An error on its way to Python.
#[derive(Debug)]
pub enum Error {
    Engine(EngineError),
    Data(DataError),
    Ledger(LedgerError),
    Pipeline(PipelineError),
    /// Already a Python exception (a strategy's own, or one made below).
    Py(PyErr),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        Error::Engine(e)
    }
}
impl From<DataError> for Error {
    fn from(e: DataError) -> Self {
        Error::Data(e)
    }
}
impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        Error::Ledger(e)
    }
}
impl From<PipelineError> for Error {
    fn from(e: PipelineError) -> Self {
        Error::Pipeline(e)
    }
}
impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Py(e)
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Engine(e) => engine_err(e),
            Error::Data(e) => data_err(e),
            Error::Ledger(e) => ledger_err(e),
            Error::Pipeline(e) => pipeline_err(e),
            Error::Py(e) => e,
        }
    }
}

fn data_err(e: DataError) -> PyErr {
    let msg = e.to_string();
    match e {
        DataError::BundleNotFound(_) => BundleNotFound::new_err(msg),
        DataError::BadRow { .. } | DataError::BadFile { .. } | DataError::BadRequest(_) => {
            IngestError::new_err(msg)
        }
        DataError::BadFrequency(_) => InvalidRunParameters::new_err(msg),
        DataError::Interrupted => pyo3::exceptions::PyKeyboardInterrupt::new_err(msg),
        DataError::BadWindow(_) => HistoryWindowError::new_err(msg),
        DataError::UnknownSid { .. } => SymbolNotFound::new_err(msg),
        DataError::Corrupt { .. }
        | DataError::Io { .. }
        | DataError::Parquet { .. }
        | DataError::InUse(_) => BundleError::new_err(msg),
    }
}

fn ledger_err(e: LedgerError) -> PyErr {
    let msg = e.to_string();
    match e {
        LedgerError::UnknownAsset { .. } => SymbolNotFound::new_err(msg),
        LedgerError::BadModelParameter { .. }
        | LedgerError::BadModelNumber { .. }
        | LedgerError::UnknownModel { .. }
        | LedgerError::UnknownName { .. } => InvalidRunParameters::new_err(msg),
        _ => BadOrderParameters::new_err(msg),
    }
}

/// Every pipeline refusal is an argument that does not fit (a kind, a parameter, a
/// shape, a window): `InvalidRunParameters`, a `ValueError`.
fn pipeline_err(e: PipelineError) -> PyErr {
    let msg = e.to_string();
    match e {
        PipelineError::Shape(_) | PipelineError::Window(_) | PipelineError::Parameter(_) => {
            InvalidRunParameters::new_err(msg)
        }
    }
}

fn engine_err(e: EngineError) -> PyErr {
    let msg = e.to_string();
    match e {
        EngineError::Ledger(l) => ledger_err(l),
        EngineError::Data(d) => data_err(d),
        EngineError::BadRun(_) | EngineError::BadParameter { .. } | EngineError::BadConfig(_) => {
            InvalidRunParameters::new_err(msg)
        }
        EngineError::NoPrice { .. }
        | EngineError::NotStarted { .. }
        | EngineError::Delisted { .. } => CannotOrderDelistedAsset::new_err(msg),
        EngineError::WrongPhase(Phase::BeforeTradingStart) => {
            OrderInBeforeTradingStart::new_err(msg)
        }
        EngineError::WrongPhase(_) => OrderDuringInitialize::new_err(msg),
        EngineError::UnknownField(_) => HistoryWindowError::new_err(msg),
        EngineError::TradingControl(_) => TradingControlViolation::new_err(msg),
        EngineError::OrderTooLarge(_) | EngineError::BadOrder(_) => {
            BadOrderParameters::new_err(msg)
        }
        EngineError::AccountControl(_) => AccountControlViolation::new_err(msg),
        EngineError::BeyondExactRange(_) => ExactRangeExceeded::new_err(msg),
    }
}

/// An order id that names no order: `BadOrderParameters`, as the ledger's `UnknownOrder`.
pub fn unknown_order(shown: String) -> Error {
    Error::Py(BadOrderParameters::new_err(format!(
        "unknown order id {shown}"
    )))
}

/// Arguments that do not fit together (lengths, ranges): a `ValueError`.
pub fn bad_value(msg: String) -> Error {
    Error::Py(PyValueError::new_err(msg))
}

/// A run argument of the wrong kind: `InvalidRunParameters`.
pub fn invalid_run(msg: String) -> Error {
    Error::Py(InvalidRunParameters::new_err(msg))
}

/// A history window argument of the wrong kind: `HistoryWindowError`.
pub fn bad_window(msg: String) -> Error {
    Error::Py(HistoryWindowError::new_err(msg))
}

/// An ingest that cannot go on: `IngestError`.
pub fn ingest(msg: String) -> Error {
    Error::Py(IngestError::new_err(msg))
}

/// Wrap an exception from strategy code in `StrategyError`, the original as `__cause__`
/// (traceback intact), saying which `callback` raised it and when. rustybt's own errors
/// and non-`Exception`s (KeyboardInterrupt, SystemExit) pass through untouched.
pub fn strategy_error(py: Python<'_>, err: PyErr, callback: &str, when: &str) -> PyErr {
    if err.is_instance_of::<RustyBTError>(py) {
        // rustybt's own error (a rule the strategy broke) keeps its class; a note (shown
        // under its traceback, Python 3.11+) says where in the run it was raised
        let value = err.value(py);
        if value.hasattr("add_note").unwrap_or(false) {
            let _ = value.call_method1("add_note", (format!("raised in {callback} at {when}"),));
        }
        return err;
    }
    if !err.is_instance_of::<pyo3::exceptions::PyException>(py) {
        return err;
    }
    let kind = err
        .get_type(py)
        .name()
        .map_or_else(|_| "Exception".to_string(), |n| n.to_string());
    let msg = err
        .value(py)
        .str()
        .map_or_else(|_| String::new(), |s| s.to_string());
    let wrapped = StrategyError::new_err(format!("{callback} raised {kind} at {when}: {msg}"));
    wrapped.set_cause(py, Some(err));
    wrapped
}

/// Entry points where a panic is injected (`_set_failpoints`); empty in normal runs, so
/// the check is one relaxed atomic load.
static FAILPOINTS_ON: AtomicBool = AtomicBool::new(false);
static FAILPOINTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Inject a panic into the named entry points (`"Bundle.history"`, `"run_batch"`, or `"*"`
/// for all) until cleared with an empty list: how the tests prove that every entry point
/// turns a panic into `InternalError`, without a second build.
#[pyfunction]
pub fn _set_failpoints(names: Vec<String>) {
    let mut points = FAILPOINTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    FAILPOINTS_ON.store(!names.is_empty(), Ordering::Relaxed);
    *points = names;
}

fn failpoint(entry: &str) {
    if FAILPOINTS_ON.load(Ordering::Relaxed) {
        let hit = FAILPOINTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|p| p == "*" || p == entry);
        assert!(!hit, "failpoint: a panic injected into {entry}");
    }
}

/// Run `f` for the entry point `entry` (`Class.method` or a function's name), turning a
/// Rust panic into `rustybt.errors.InternalError` naming the entry point, instead of
/// letting it unwind into the interpreter as pyo3's `PanicException` (which is not an
/// `Exception`, so no `except Exception` would catch it). Every `#[pyfunction]` and
/// method of `_core` runs its body in here (`tests/test_guard.py` checks each one).
pub fn guard_at<T>(entry: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(|| {
        failpoint(entry);
        f()
    })) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(Error::Py(InternalError::new_err(format!(
                "internal error in {entry} (a Rust panic was caught): {what}. This is a bug \
                 in rustybt: please report it with the input that caused it"
            ))))
        }
    }
}
