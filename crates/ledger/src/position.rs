//! A position in one asset, updated the way zipline's `Position` is.
//!
//! zipline's average cost basis divides on every fill (twice where a commission is folded
//! in), and most runs never read it: a batch run reads only its values. So a position
//! keeps its fills since the basis was last computed and folds them, in order and with the
//! same operations, when the basis is read ([`Position::cost_basis`]) or the list grows
//! long ([`PENDING_MAX`]). A fill that leaves the position flat drops them: the basis of
//! a flat position is zero whatever came before.
//!
//! A ledger that asks for it ([`Position::track_lots`], for its P&L invariant) also keeps
//! the open lots (first in, first out) at their fill prices. Realised and unrealised P&L
//! come from the lots, so they add up exactly: realised + unrealised == portfolio value −
//! starting cash, to the last digit (average-cost P&L cannot, because averaging divides).

use std::collections::VecDeque;

use crate::num::Money;

/// Fills a position keeps unfolded into its cost basis; the next fill folds them. A
/// pending fill (40 bytes with exact prices) is a copy of part of a transaction the
/// ledger keeps anyway, so this at most doubles the memory of a position's recent fills.
/// (256 made B1 7% slower: its positions stay open for hundreds of fills.)
pub const PENDING_MAX: usize = 1024;

#[derive(Debug, Clone, Default)]
pub struct Position<N> {
    /// Signed quantity in lots of `10^-scale` (shares where `scale` is 0).
    pub amount: i64,
    /// The asset's lot scale: amounts count lots of `10^-scale`.
    pub scale: u32,
    /// The cost basis of a position of `basis_amount` lots: the basis before `pending`.
    basis: N,
    basis_amount: i64,
    /// Fills not yet folded into `basis`, oldest first: (lots, price, commission).
    pending: Vec<(i64, N, N)>,
    pub last_sale_price: N,
    /// Bar of the last price update; `None` until the first trade or mark.
    pub last_sale_bar: Option<usize>,
    /// Open lots, oldest first (signed lots, fill price), and the realised P&L: closed
    /// lots at their fill prices, less commissions, plus dividends and cash paid for
    /// fractional shares of splits. `None` unless [`Position::track_lots`] asked.
    lots: Option<(VecDeque<(i64, N)>, N)>,
}

/// zipline's average cost after one fill: `amount` lots at `price` join `held` lots whose
/// basis is `basis`, and the fill's `commission` is folded in
/// (`adjust_commission_cost_basis`).
#[inline]
fn next_basis<N: Money>(
    basis: N,
    held: i64,
    (amount, price, commission): (i64, N, N),
    scale: u32,
) -> N {
    let total = held + amount;
    if total == 0 {
        return N::zero();
    }
    let closing = held != 0 && (held > 0) != (amount > 0);
    let basis = if held == 0 && N::EXACT {
        // opened from flat: (amount × price) / amount is the price itself on an exact
        // ledger (fill prices carry at most DIV_SCALE places), no division needed; in
        // f64 the quotient can differ from the price in the last bit, and the float
        // twin keeps zipline's arithmetic
        price
    } else if closing {
        if amount.abs() > held.abs() {
            price // closed the position and reversed it
        } else {
            basis
        }
    } else {
        let total_cost = price.mul_qty(amount, scale) + basis.mul_qty(held, scale);
        total_cost.div_q(N::from_mantissa(total, scale))
    };
    if commission.is_zero() {
        return basis;
    }
    let prev = basis.mul_qty(total, scale);
    (prev + commission).div_q(N::from_mantissa(total, scale))
}

impl<N: Money> Position<N> {
    /// A flat position in an asset traded in lots of `10^-scale`.
    pub fn new(scale: u32) -> Self {
        Position {
            scale,
            ..Position::default()
        }
    }

    /// Keep the open lots and the realised P&L from now on (a flat position: its lots are
    /// then complete).
    pub fn track_lots(&mut self) {
        if self.lots.is_none() {
            self.lots = Some((VecDeque::new(), N::zero()));
        }
    }

    /// Average cost per lot including commissions (zipline's definition).
    pub fn cost_basis(&self) -> N {
        let mut held = self.basis_amount;
        self.pending.iter().fold(self.basis, |basis, &fill| {
            let next = next_basis(basis, held, fill, self.scale);
            held += fill.0;
            next
        })
    }

    /// Fold the pending fills into the basis, so that reading it costs nothing.
    pub fn settle(&mut self) {
        if !self.pending.is_empty() {
            self.basis = self.cost_basis();
            self.basis_amount = self.amount;
            self.pending.clear();
        }
    }

    /// Apply a fill of `amount` lots at `price` costing `commission` on `bar`.
    pub fn apply_fill(&mut self, amount: i64, price: N, commission: N, bar: usize) {
        let total = self.amount + amount;
        if self.lots.is_some() {
            self.apply_to_lots(amount, price);
            if let Some((_, realized)) = &mut self.lots {
                *realized -= commission;
            }
        }
        if total == 0 {
            self.basis = N::zero();
            self.basis_amount = 0;
            self.pending.clear();
        } else {
            if self.pending.len() >= PENDING_MAX {
                self.settle();
            }
            self.pending.push((amount, price, commission));
        }
        if self.last_sale_bar.is_none_or(|b| bar >= b) {
            self.last_sale_price = price;
            self.last_sale_bar = Some(bar);
        }
        self.amount = total;
    }

    /// FIFO: a fill against the direction of the oldest lots closes them (realising P&L at
    /// their own prices); whatever is left opens a new lot.
    fn apply_to_lots(&mut self, amount: i64, price: N) {
        let Some((lots, realized)) = &mut self.lots else {
            return;
        };
        let mut remaining = amount;
        while remaining != 0 {
            match lots.front_mut() {
                Some(lot) if lot.0.signum() != remaining.signum() => {
                    let sign = lot.0.signum();
                    let closed = remaining.abs().min(lot.0.abs());
                    *realized += (price - lot.1).mul_qty(closed * sign, self.scale);
                    lot.0 -= closed * sign;
                    remaining += closed * sign;
                    if lot.0 == 0 {
                        lots.pop_front();
                    }
                }
                _ => {
                    lots.push_back((remaining, price));
                    remaining = 0;
                }
            }
        }
    }

    /// Realised P&L, where the lots are kept.
    pub fn realized_pnl(&self) -> Option<N> {
        self.lots.as_ref().map(|(_, realized)| *realized)
    }

    /// Add `cash` (a dividend, a split's fractional share) to the realised P&L, where the
    /// lots are kept.
    pub fn realize(&mut self, cash: N) {
        if let Some((_, realized)) = &mut self.lots {
            *realized += cash;
        }
    }

    /// A split giving `split` new shares per old share (2 for a 2-for-1), as zipline's
    /// `Position.handle_split`: whole shares are kept (floor), the cost basis is divided by
    /// the split and rounded to cents, and the fractional share is paid out in cash at
    /// the new basis (rounded to cents). Returns that cash. Unlike zipline, the last sale
    /// price is divided too, so the position's value does not jump until the next mark.
    pub fn apply_split(&mut self, split: N) -> N {
        if self.amount == 0 {
            return N::zero();
        }
        // zipline's `Position.handle_split`, in its floats: the ratio is 1 / split, whole
        // shares truncate toward zero (a short keeps its whole shares too), the basis and
        // the fraction's cash are rounded to cents by Python's `round` (half to even on
        // the binary value: 209 × 31.095 pays 31.09, not the decimal tie's 31.10). The
        // results enter the ledger as every float input does (`Money::from_f64`).
        let ratio = 1.0 / split.to_f64();
        // in lots: a coin traded in 0.0001s keeps whole lots, and the fraction of a lot
        // is paid out (whole shares where the lot is one share, as zipline)
        let raw = self.amount as f64 / ratio;
        let full = raw.trunc();
        let fraction = (raw - full) / crate::num::lots_per_unit(self.scale) as f64;
        let basis = self.cost_basis();
        let basis_f = python_round(basis.to_f64() * ratio, 2);
        let new_basis = N::from_f64(basis_f).unwrap_or(basis);
        self.amount = full as i64;
        self.basis = new_basis;
        self.basis_amount = self.amount;
        self.pending.clear();
        self.last_sale_price = self.last_sale_price.div_q(split);
        // Lots carry over as one lot at the new basis: after a split, P&L decomposition is
        // exact only up to the quantization of prices divided by the split.
        let amount = self.amount;
        if let Some((lots, _)) = &mut self.lots {
            lots.clear();
            if amount != 0 {
                lots.push_back((amount, new_basis));
            }
        }
        let cash = N::from_f64(python_round(fraction * basis_f, 2)).unwrap_or_else(N::zero);
        self.realize(cash);
        cash
    }

    pub fn market_value(&self) -> N {
        self.last_sale_price.mul_qty(self.amount, self.scale)
    }

    /// Open lots valued at the last sale price against their fill prices, where the lots
    /// are kept.
    pub fn unrealized_pnl(&self) -> Option<N> {
        let (lots, _) = self.lots.as_ref()?;
        Some(lots.iter().fold(N::zero(), |acc, &(q, p)| {
            acc + (self.last_sale_price - p).mul_qty(q, self.scale)
        }))
    }
}

/// Python's `round(x, places)` for a float: the exact binary value rounded half to even at
/// `places` decimals, back to the nearest double (what zipline's float arithmetic does).
pub fn python_round(x: f64, places: u32) -> f64 {
    use rust_decimal::{Decimal, RoundingStrategy};
    match Decimal::from_f64_retain(x) {
        Some(d) => {
            let r = d.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven);
            <Decimal as Money>::to_f64(r)
        }
        None => x, // NaN, infinities, beyond a decimal's range: nothing to round
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn opening_from_flat_costs_the_fill_price_on_decimal_and_zipline_s_quotient_on_f64() {
        // a 5 bp slipped fill at 100.00: 13 · p / 13 is not p in f64
        let price: f64 = 1_000_000.0 / 10_000.0 * (1.0 + 0.0005);
        let quotient = (13.0 * price) / 13.0;
        assert_ne!(quotient.to_bits(), price.to_bits());
        let mut f = Position::<f64>::default();
        f.apply_fill(13, price, 0.0, 0);
        assert_eq!(f.cost_basis().to_bits(), quotient.to_bits());
        let mut d = Position::<Decimal>::default();
        let exact = Decimal::new(10005, 2);
        d.apply_fill(13, exact, Decimal::ZERO, 0);
        assert_eq!(d.cost_basis(), exact);
        assert_eq!(d.cost_basis().to_string(), "100.05");
    }

    #[test]
    fn cost_basis_averages_and_resets_on_reversal() {
        let mut p = Position::<Decimal>::default();
        p.track_lots();
        let zero = Decimal::ZERO;
        p.apply_fill(10, Decimal::from(10), zero, 0);
        p.apply_fill(10, Decimal::from(20), zero, 1);
        assert_eq!(p.cost_basis(), Decimal::from(15));
        p.apply_fill(-30, Decimal::from(30), zero, 2);
        assert_eq!(p.amount, -10);
        assert_eq!(p.cost_basis(), Decimal::from(30));
        // FIFO: 10 @ 10 and 10 @ 20 closed at 30 -> 200 + 100
        assert_eq!(p.realized_pnl(), Some(Decimal::from(300)));
        p.last_sale_price = Decimal::from(25);
        assert_eq!(p.unrealized_pnl(), Some(Decimal::from(50))); // short 10 from 30, now 25
    }
}
