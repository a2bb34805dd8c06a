//! The exact ledger behind rustybt: orders with zipline's trigger rules, slippage and
//! commission models with zipline's formulas, positions, cash and exposure.
//!
//! The ledger is generic over [`Money`]: [`Fixed`] (an `i128` fixed-point decimal) for
//! exact accounting and `f64` as a twin, so the cost of exactness is measured on one
//! implementation. `rust_decimal::Decimal` implements it too: the earlier exact number,
//! kept as a second, independent exact implementation the tests compare against.

pub mod error;
pub mod fixed;
pub mod ledger;
pub mod models;
pub mod num;
pub mod order;
pub mod position;

pub use error::LedgerError;
pub use fixed::Fixed;
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
