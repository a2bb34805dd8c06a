//! A position's cost basis is folded from its fills when read; this holds it, bit for bit,
//! to zipline's eager arithmetic (a division on every fill and every commission, written
//! out plainly here) on random fills, with the basis read at random points (which folds
//! nothing into the position), settled at others, across splits and across the pending
//! list's limit, for the exact types and the f64 twin.

use proptest::prelude::*;
use rustybt_ledger::position::PENDING_MAX;
use rustybt_ledger::{Decimal, Fixed, Money, Position};

/// zipline's `Position.update` and `adjust_commission_cost_basis`, one fill at a time, as
/// the ledger computed them before the basis was deferred.
#[derive(Default)]
struct Eager<N> {
    amount: i64,
    basis: N,
}

impl<N: Money> Eager<N> {
    fn fill(&mut self, amount: i64, price: N, commission: N, scale: u32) {
        let total = self.amount + amount;
        if total == 0 {
            self.basis = N::zero();
        } else if self.amount == 0 && N::EXACT {
            self.basis = price;
        } else if self.amount != 0 && (self.amount > 0) != (amount > 0) {
            if amount.abs() > self.amount.abs() {
                self.basis = price;
            }
        } else {
            let cost = price.mul_qty(amount, scale) + self.basis.mul_qty(self.amount, scale);
            self.basis = cost.div_q(N::from_mantissa(total, scale));
        }
        self.amount = total;
        if !commission.is_zero() && self.amount != 0 {
            let prev = self.basis.mul_qty(self.amount, scale);
            self.basis = (prev + commission).div_q(N::from_mantissa(self.amount, scale));
        }
    }
}

#[derive(Debug, Clone)]
enum Event {
    /// lots, price mantissa at 4 places, commission mantissa at 4 places
    Fill(i64, i64, i64),
    /// read the basis (folds nothing) and compare
    Read,
    /// fold the pending fills into the position, then compare
    Settle,
    /// a 2-for-1 split: the ledger folds first and the reference takes its result
    Split,
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let event = prop_oneof![
        // no commission half the time (a basis nothing folds a commission into); no fill
        // is of zero lots
        8 => (
            prop_oneof![-400i64..0, 1i64..400],
            1i64..5_000_000,
            prop_oneof![Just(0i64), 1i64..20_000],
        )
            .prop_map(|(a, p, c)| Event::Fill(a, p, c)),
        2 => Just(Event::Read),
        1 => Just(Event::Settle),
        1 => Just(Event::Split),
    ];
    prop::collection::vec(event, 1..80)
}

fn same<N: Money>(a: N, b: N) -> bool {
    // f64: the same bits; exact types: the same value
    a.same(b) || (N::EXACT && a == b)
}

fn check<N: Money + std::fmt::Debug>(events: &[Event], scale: u32) -> Result<(), TestCaseError> {
    let mut pos = Position::<N>::new(scale);
    let mut eager = Eager::<N>::default();
    for (bar, event) in events.iter().enumerate() {
        match *event {
            Event::Fill(amount, price, commission) => {
                let (price, commission) =
                    (N::from_mantissa(price, 4), N::from_mantissa(commission, 4));
                pos.apply_fill(amount, price, commission, bar);
                eager.fill(amount, price, commission, scale);
                prop_assert_eq!(pos.amount, eager.amount);
            }
            Event::Read => {
                prop_assert!(
                    same(pos.cost_basis(), eager.basis),
                    "{:?} != {:?}",
                    pos.cost_basis(),
                    eager.basis
                );
            }
            Event::Settle => {
                pos.settle();
                prop_assert!(
                    same(pos.cost_basis(), eager.basis),
                    "{:?} != {:?}",
                    pos.cost_basis(),
                    eager.basis
                );
            }
            Event::Split => {
                prop_assert!(same(pos.cost_basis(), eager.basis));
                pos.apply_split(N::from_i64(2));
                eager.amount = pos.amount;
                eager.basis = pos.cost_basis();
            }
        }
    }
    prop_assert!(
        same(pos.cost_basis(), eager.basis),
        "{:?} != {:?}",
        pos.cost_basis(),
        eager.basis
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn deferred_basis_is_the_eager_one(events in events(), scale in prop_oneof![Just(0u32), Just(4u32)]) {
        check::<Fixed>(&events, scale)?;
        check::<Decimal>(&events, scale)?;
        check::<f64>(&events, scale)?;
    }
}

#[test]
fn a_long_run_of_fills_is_folded_at_the_limit_and_stays_exact() {
    // buys only: the position never goes flat, so only the limit folds the pending fills
    for scale in [0u32, 4] {
        let mut pos = Position::<Fixed>::new(scale);
        let mut eager = Eager::<Fixed>::default();
        let mut f = Position::<f64>::new(scale);
        let mut eager_f = Eager::<f64>::default();
        for i in 0..(3 * PENDING_MAX as i64 + 7) {
            let (amount, price, commission) = (1 + i % 7, 1_000_000 + 37 * i, i % 3);
            let (p, c) = (
                Fixed::from_mantissa(price, 4),
                Fixed::from_mantissa(commission, 4),
            );
            pos.apply_fill(amount, p, c, 0);
            eager.fill(amount, p, c, scale);
            let (p, c) = (
                f64::from_mantissa(price, 4),
                f64::from_mantissa(commission, 4),
            );
            f.apply_fill(amount, p, c, 0);
            eager_f.fill(amount, p, c, scale);
        }
        assert_eq!(pos.cost_basis(), eager.basis);
        assert_eq!(f.cost_basis().to_bits(), eager_f.basis.to_bits());
    }
}
