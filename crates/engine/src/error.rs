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
    /// A configuration value the engine does not know (a model, policy or control name,
    /// a missing argument): the message says which and what is accepted.
    #[error("{0}")]
    BadConfig(String),
    /// An order placed outside `handle_data` and scheduled functions.
    #[error("orders cannot be placed in {}; place them in handle_data or a scheduled function", .0.name())]
    WrongPhase(crate::clock::Phase),
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
    #[error(
        "cannot order {symbol} at {when} by value or percent: it starts trading on {start_date}"
    )]
    NotStarted {
        symbol: String,
        when: String,
        start_date: String,
    },
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
    /// An order argument the engine cannot take (an unknown kind, an unrepresentable number).
    #[error("{0}")]
    BadOrder(String),
    #[error("{0}")]
    AccountControl(String),
    /// A value the run reached that the exact ledger cannot hold without rounding.
    #[error("{0}")]
    BeyondExactRange(String),
}
