//! The exact ledger behind rustybt: orders with zipline's trigger rules, slippage and
//! commission models with zipline's formulas, positions, cash and exposure.
//!
//! The ledger is generic over [`Money`]: `rust_decimal::Decimal` for exact accounting and
//! `f64` as a twin, so the cost of exactness is measured on one implementation.

pub mod error;
pub mod ledger;
pub mod models;
pub mod num;
pub mod order;
pub mod position;

pub use error::LedgerError;
pub use ledger::{CancelPolicy, CostHook, Exposure, Ledger, Transaction};
pub use models::{
    Commission, ModelSpec, Quote, Slippage, SlippageOutcome, COMMISSION_MODELS, SLIPPAGE_MODELS,
};
pub use num::{
    beyond_notional, in_lots, lots_per_unit, qty_text, round_order_amount, saturated_shares, Money,
    DIV_SCALE, MAX_LOT_SCALE, MAX_NOTIONAL, MAX_SHARES,
};
pub use order::{Order, OrderId, OrderStatus, OrderStyle};
pub use position::{python_round, Position};
pub use rust_decimal::Decimal;
