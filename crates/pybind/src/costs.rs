//! A strategy's own cost models — zipline's `SlippageModel.process_order` and
//! `CommissionModel.calculate` written in Python — asked by the ledger in place of its
//! models ([`rustybt_ledger::CostHook`]). Each call builds the order's fields as a tuple
//! for `rustybt.algorithm`'s adapter, which calls the model as zipline does. A model that
//! raises stops the fills; the run then raises its exception.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use rustybt_data::View;
use rustybt_ledger::{CostHook, Money, Order, SlippageOutcome};

use crate::bar_data::PyBarData;
use crate::conversion::{amount_py, order_id_text};

/// The error a model raised, kept for the run loop to raise.
pub type CostError = Arc<Mutex<Option<PyErr>>>;

pub struct PyCostHook {
    /// `(order fields, volume_for_bar) -> None | "liquidity" | (price, amount)`.
    pub slippage: Option<Py<PyAny>>,
    /// `(order fields, price, amount) -> commission`.
    pub commission: Option<Py<PyAny>>,
    /// The strategy's `data`, moved to the bar being filled before a model reads it.
    pub data: Py<PyBarData>,
    pub error: CostError,
}

type OrderFields = (
    String,
    u32,
    Py<PyAny>,
    Py<PyAny>,
    f64,
    Option<f64>,
    Option<f64>,
    usize,
);

/// The order as the adapter reads it (amounts as strategies see them: [`amount_py`]).
fn fields<N: Money>(py: Python<'_>, o: &Order<N>) -> PyResult<OrderFields> {
    Ok((
        order_id_text(o.id),
        o.sid,
        amount_py(py, o.amount, o.scale)?,
        amount_py(py, o.filled, o.scale)?,
        o.commission.to_f64(),
        o.limit.map(Money::to_f64),
        o.stop.map(Money::to_f64),
        o.created_bar,
    ))
}

impl PyCostHook {
    fn fail(&self, err: PyErr) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(err);
        }
    }

    fn model_error(what: &str, detail: String) -> PyErr {
        crate::errors::invalid_run(format!("{what}: {detail}")).into()
    }
}

impl<N: Money> CostHook<N> for PyCostHook {
    fn has_slippage(&self) -> bool {
        self.slippage.is_some()
    }
    fn has_commission(&self) -> bool {
        self.commission.is_some()
    }
    fn failed(&self) -> bool {
        self.error.lock().map_or(true, |e| e.is_some())
    }

    fn slippage(
        &mut self,
        order: &Order<N>,
        bar: usize,
        volume_for_bar: i64,
    ) -> SlippageOutcome<N> {
        let Some(model) = &self.slippage else {
            return SlippageOutcome::Skip;
        };
        let outcome = Python::attach(|py| -> PyResult<SlippageOutcome<N>> {
            self.data.get().set_view(View {
                bar,
                before_first: false,
            });
            let volume = amount_py(py, volume_for_bar, order.scale)?;
            let out = model.call1(py, (fields(py, order)?, volume))?;
            let out = out.bind(py);
            if out.is_none() {
                return Ok(SlippageOutcome::Skip);
            }
            if out.extract::<&str>().is_ok_and(|s| s == "liquidity") {
                return Ok(SlippageOutcome::LiquidityExceeded);
            }
            let bad = || {
                Self::model_error(
                    "a slippage model's process_order",
                    format!("must return (price, amount) or None, got {out}"),
                )
            };
            let (price, amount): (Option<f64>, Option<f64>) = out.extract().map_err(|_| bad())?;
            // zipline: no price, no transaction
            let Some(price) = price else {
                return Ok(SlippageOutcome::Skip);
            };
            let amount = amount.ok_or_else(bad)?;
            // zipline's create_transaction: the amount truncated, at least one share (in
            // lots for an asset traded in finer lots: at least one lot)
            #[allow(clippy::cast_precision_loss)] // a power of ten up to 10^8
            let shares = (amount * rustybt_ledger::lots_per_unit(order.scale) as f64).trunc();
            if !shares.is_finite() || shares.abs() < 1.0 || shares.abs() > 9.0e15 {
                let unit = if order.scale == 0 { "share" } else { "lot" };
                return Err(Self::model_error(
                    "a slippage model's process_order",
                    format!("a fill must be at least 1 {unit} (and finite), got amount {amount}"),
                ));
            }
            let price = N::from_f64(price)
                .filter(|p| *p > N::zero())
                .ok_or_else(|| {
                    Self::model_error(
                        "a slippage model's process_order",
                        format!("the price must be a positive number, got {price}"),
                    )
                })?;
            // finer lots: the price at the places that keep price × lots exact
            let price = if order.scale == 0 {
                price
            } else {
                price.quantize_fill(order.scale)
            };
            Ok(SlippageOutcome::Fill {
                price,
                amount: shares as i64,
            })
        });
        outcome.unwrap_or_else(|e| {
            self.fail(e);
            SlippageOutcome::Skip
        })
    }

    fn commission(&mut self, order: &Order<N>, price: N, amount: i64, _bar: usize) -> N {
        let Some(model) = &self.commission else {
            return N::zero();
        };
        let cost = Python::attach(|py| -> PyResult<N> {
            let amount = amount_py(py, amount, order.scale)?;
            let out = model.call1(py, (fields(py, order)?, price.to_f64(), amount))?;
            let value: f64 = out.extract(py).map_err(|_| {
                Self::model_error(
                    "a commission model's calculate",
                    format!("must return a number, got {}", out.bind(py)),
                )
            })?;
            N::from_f64(value).ok_or_else(|| {
                Self::model_error(
                    "a commission model's calculate",
                    format!("the commission must be a finite number, got {value}"),
                )
            })
        });
        cost.unwrap_or_else(|e| {
            self.fail(e);
            N::zero()
        })
    }
}
