//! Orders and zipline's trigger rules for limit, stop and stop-limit orders.

use crate::num::Money;

pub type OrderId = u64;

/// How an order executes once its conditions are met.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OrderStyle<N> {
    Market,
    Limit(N),
    Stop(N),
    StopLimit { limit: N, stop: N },
}

/// Lifecycle of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Open,
    Filled,
    Cancelled,
    Rejected,
}

impl OrderStatus {
    /// zipline's `ORDER_STATUS` integer codes.
    pub fn code(self) -> u8 {
        match self {
            OrderStatus::Open => 0,
            OrderStatus::Filled => 1,
            OrderStatus::Cancelled => 2,
            OrderStatus::Rejected => 3,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Order<N> {
    pub id: OrderId,
    pub sid: u32,
    /// Signed quantity in lots of `10^-scale` (shares where `scale` is 0): positive buys,
    /// negative sells.
    pub amount: i64,
    /// The asset's lot scale ([`crate::MAX_LOT_SCALE`] at most): amounts count lots of
    /// `10^-scale`.
    pub scale: u32,
    pub filled: i64,
    pub commission: N,
    pub limit: Option<N>,
    pub stop: Option<N>,
    pub stop_reached: bool,
    pub limit_reached: bool,
    pub status: OrderStatus,
    /// Bar index the order was placed at.
    pub created_bar: usize,
    /// Bar index of the last change (trigger, fill, cancel).
    pub updated_bar: usize,
    pub reason: Option<String>,
}

impl<N: Money> Order<N> {
    pub fn new(id: OrderId, sid: u32, amount: i64, style: OrderStyle<N>, bar: usize) -> Self {
        let (limit, stop) = match style {
            OrderStyle::Market => (None, None),
            OrderStyle::Limit(l) => (Some(l), None),
            OrderStyle::Stop(s) => (None, Some(s)),
            OrderStyle::StopLimit { limit, stop } => (Some(limit), Some(stop)),
        };
        Order {
            id,
            sid,
            amount,
            scale: 0,
            filled: 0,
            commission: N::zero(),
            limit,
            stop,
            stop_reached: false,
            limit_reached: false,
            status: OrderStatus::Open,
            created_bar: bar,
            updated_bar: bar,
            reason: None,
        }
    }

    pub fn open_amount(&self) -> i64 {
        self.amount - self.filled
    }

    pub fn direction(&self) -> i64 {
        if self.amount >= 0 {
            1
        } else {
            -1
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == OrderStatus::Open
    }

    /// zipline's `triggered`: every condition the order carries has been reached.
    #[inline]
    pub fn triggered(&self) -> bool {
        (self.limit_reached || self.limit.is_none()) && (self.stop_reached || self.stop.is_none())
    }

    /// zipline's `check_triggers` against the bar's price. A stop-limit whose stop is
    /// reached becomes a plain limit order.
    #[inline]
    pub fn check_triggers(&mut self, price: N, bar: usize) {
        // (a market order, or one already triggered, without a call)
        if !self.triggered() {
            self.check_open_triggers(price, bar);
        }
    }

    fn check_open_triggers(&mut self, price: N, bar: usize) {
        let buy = self.amount > 0;
        let (mut stop_reached, mut limit_reached, mut sl_stop_reached) = (false, false, false);
        match (self.stop, self.limit) {
            (Some(stop), Some(limit)) => {
                if (buy && price >= stop) || (!buy && price <= stop) {
                    sl_stop_reached = true;
                    if (buy && price <= limit) || (!buy && price >= limit) {
                        limit_reached = true;
                    }
                }
            }
            (Some(stop), None) => {
                stop_reached = (buy && price >= stop) || (!buy && price <= stop);
            }
            (None, Some(limit)) => {
                limit_reached = (buy && price <= limit) || (!buy && price >= limit);
            }
            (None, None) => {}
        }
        if (stop_reached, limit_reached) != (self.stop_reached, self.limit_reached) {
            self.updated_bar = bar;
        }
        self.stop_reached = stop_reached;
        self.limit_reached = limit_reached;
        if sl_stop_reached {
            self.stop = None;
        }
    }

    /// zipline's `fill_price_worse_than_limit_price`.
    pub fn fill_worse_than_limit(&self, fill_price: N) -> bool {
        match self.limit {
            Some(limit) => {
                (self.amount > 0 && fill_price > limit) || (self.amount < 0 && fill_price < limit)
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }

    #[test]
    fn buy_stop_triggers_at_or_above_stop() {
        let mut o = Order::new(0, 0, 10, OrderStyle::Stop(d(100)), 0);
        assert!(!o.triggered());
        o.check_triggers(d(99), 1);
        assert!(!o.triggered());
        o.check_triggers(d(100), 2);
        assert!(o.triggered());
    }

    #[test]
    fn sell_limit_triggers_at_or_above_limit() {
        let mut o = Order::new(0, 0, -10, OrderStyle::Limit(d(50)), 0);
        o.check_triggers(d(49), 1);
        assert!(!o.triggered());
        o.check_triggers(d(51), 2);
        assert!(o.triggered());
    }

    #[test]
    fn stop_limit_becomes_limit_once_stop_reached() {
        let mut o = Order::new(
            0,
            0,
            10,
            OrderStyle::StopLimit {
                limit: d(101),
                stop: d(100),
            },
            0,
        );
        o.check_triggers(d(105), 1); // stop reached, limit not (price above limit)
        assert!(o.stop.is_none());
        assert!(!o.triggered());
        o.check_triggers(d(101), 2);
        assert!(o.triggered());
    }
}
