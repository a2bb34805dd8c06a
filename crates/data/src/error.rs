use std::path::PathBuf;

use thiserror::Error;

/// Everything the data layer can refuse, with enough context to fix the input.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("{file}:{line}: column '{column}': {reason}")]
    BadRow {
        file: PathBuf,
        line: usize,
        column: String,
        reason: String,
    },
    #[error("{file}: {reason}")]
    BadFile { file: PathBuf, reason: String },
    #[error("no bundle at {0} (expected a directory with a manifest.json or a CURRENT pointer)")]
    BundleNotFound(PathBuf),
    #[error("bundle at {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("unknown frequency '{0}': use 1m, 5m, 15m, 1h, 1d, minute, hourly or daily")]
    BadFrequency(String),
    #[error("invalid ingest request: {0}")]
    BadRequest(String),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A history window or field that cannot be read (unknown field, bar past the data,
    /// a bar size that is not a coarser multiple).
    #[error("{0}")]
    BadWindow(String),
    #[error("sid {sid} is not in the bundle ({n_assets} assets)")]
    UnknownSid { sid: u32, n_assets: usize },
    /// The caller asked the ingest to stop (Ctrl-C): nothing was published.
    #[error("interrupted: the ingest stopped before publishing anything")]
    Interrupted,
    /// A maintenance step refused because a reader uses the version.
    #[error("{0}")]
    InUse(String),
    #[error("parquet error on {path}: {reason}")]
    Parquet { path: PathBuf, reason: String },
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
        let path = path.into();
        move |source| DataError::Io { path, source }
    }
}
