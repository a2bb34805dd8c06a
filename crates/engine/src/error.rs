use thiserror::Error;

use rustybt_data::DataError;
use rustybt_ledger::LedgerError;

/// Everything the engine can refuse.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("invalid run: {0}")]
    BadRun(String),
    #[error("invalid parameter {name} = {value}: {reason}")]
    BadParameter {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "cannot order {symbol} at {when}: it has no price yet (no bar at or before this time)"
    )]
    NoPrice { symbol: String, when: String },
    #[error("unknown field '{0}': use open, high, low, close, volume or price")]
    UnknownField(String),
    #[error("cannot order {symbol} at {when}: its data ended on {end_date}")]
    Delisted {
        symbol: String,
        when: String,
        end_date: String,
    },
    #[error("{0}")]
    TradingControl(String),
    #[error("{0}")]
    OrderTooLarge(String),
    #[error("{0}")]
    AccountControl(String),
}
