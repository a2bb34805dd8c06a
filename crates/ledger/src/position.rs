//! A position in one asset, updated the way zipline's `Position` is.

use crate::num::Money;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Position<N> {
    pub amount: i64,
    /// Average cost per share including commissions (zipline's definition).
    pub cost_basis: N,
    pub last_sale_price: N,
    /// Bar of the last price update; `None` until the first trade or mark.
    pub last_sale_bar: Option<usize>,
    /// Realised P&L: (exit price - cost basis) × shares closed, commissions included via the basis.
    pub realized_pnl: N,
}

impl<N: Money> Position<N> {
    /// Apply a fill of `amount` shares at `price` on `bar`.
    pub fn apply_fill(&mut self, amount: i64, price: N, bar: usize) {
        let total = self.amount + amount;
        let closing = self.amount != 0 && (self.amount > 0) != (amount > 0);
        if closing {
            let closed = amount.abs().min(self.amount.abs());
            let sign = if self.amount > 0 { N::one() } else { -N::one() };
            self.realized_pnl += (price - self.cost_basis) * N::from_i64(closed) * sign;
        }
        if total == 0 {
            self.cost_basis = N::zero();
        } else if closing {
            if amount.abs() > self.amount.abs() {
                // closed the position and reversed it
                self.cost_basis = price;
            }
        } else {
            let total_cost =
                N::from_i64(amount) * price + N::from_i64(self.amount) * self.cost_basis;
            self.cost_basis = total_cost.div_q(N::from_i64(total));
        }
        if self.last_sale_bar.is_none_or(|b| bar >= b) {
            self.last_sale_price = price;
            self.last_sale_bar = Some(bar);
        }
        self.amount = total;
    }

    /// Fold a commission into the cost basis (zipline's `adjust_commission_cost_basis`).
    pub fn adjust_commission_cost_basis(&mut self, commission: N) {
        if commission.is_zero() || self.amount == 0 {
            return;
        }
        let prev = self.cost_basis * N::from_i64(self.amount);
        self.cost_basis = (prev + commission).div_q(N::from_i64(self.amount));
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
        let raw = N::from_i64(self.amount) * split;
        let full = raw.floor();
        let fraction = raw - full;
        let new_basis = self.cost_basis.div_q(split).round_dp(2);
        self.cost_basis = new_basis;
        self.amount = full.to_i64();
        self.last_sale_price = self.last_sale_price.div_q(split);
        (fraction * new_basis).round_dp(2)
    }

    pub fn market_value(&self) -> N {
        N::from_i64(self.amount) * self.last_sale_price
    }

    pub fn unrealized_pnl(&self) -> N {
        N::from_i64(self.amount) * (self.last_sale_price - self.cost_basis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn cost_basis_averages_and_resets_on_reversal() {
        let mut p = Position::<Decimal>::default();
        p.apply_fill(10, Decimal::from(10), 0);
        p.apply_fill(10, Decimal::from(20), 1);
        assert_eq!(p.cost_basis, Decimal::from(15));
        p.apply_fill(-30, Decimal::from(30), 2);
        assert_eq!(p.amount, -10);
        assert_eq!(p.cost_basis, Decimal::from(30));
        assert_eq!(p.realized_pnl, Decimal::from(300));
    }
}
