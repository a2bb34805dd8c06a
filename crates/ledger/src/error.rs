use thiserror::Error;

/// Everything the ledger can refuse.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LedgerError {
    #[error("order amount must be a finite number, got {0}")]
    NonFiniteAmount(String),
    #[error("{kind} price must be a positive finite number, got {value}")]
    BadPrice { kind: &'static str, value: String },
    #[error("unknown order id {0:032x}")]
    UnknownOrder(u64),
    #[error("asset sid {sid} is outside this ledger's {n_assets} assets")]
    UnknownAsset { sid: u32, n_assets: usize },
    #[error("unknown {what} model '{name}' (known: {known})")]
    UnknownModel {
        what: &'static str,
        name: String,
        known: String,
    },
    #[error("{name} must be a finite, non-negative number, got {value}")]
    BadModelNumber { name: &'static str, value: String },
    #[error("{what} must be {known}, got '{name}'")]
    UnknownName {
        what: &'static str,
        name: String,
        known: &'static str,
    },
    #[error("{0}")]
    BadLot(String),
    #[error("invalid {model} parameter {name} = {value}: {reason}")]
    BadModelParameter {
        model: &'static str,
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}
