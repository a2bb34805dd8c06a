//! The fixed-point ledger against the `rust_decimal` one: the same random order flow
//! (market, limit and target-percent orders with float weights and limits of up to 17
//! digits, every slippage and commission model) gives the same books, value for value.

use std::str::FromStr;

use proptest::prelude::*;
use rustybt_ledger::{Commission, Decimal, Fixed, Ledger, Money, OrderStyle, Quote, Slippage};

#[derive(Debug, Clone)]
enum Action {
    Order(u32, i64),
    Limit(u32, i64, f64),
    TargetPercent(u32, f64),
}

#[derive(Debug, Clone)]
struct Step {
    actions: Vec<Action>,
    quotes: Vec<(i64, i64)>, // (close mantissa at 4 places, volume) per asset
}

const ASSETS: usize = 3;

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let action = prop_oneof![
        (0..ASSETS as u32, -500i64..500).prop_map(|(s, a)| Action::Order(s, a)),
        (0..ASSETS as u32, -500i64..500, 1.0f64..300.0)
            .prop_map(|(s, a, l)| Action::Limit(s, a, l)),
        // weights like 1/3 and 1/7: 16 and 17 places
        (0..ASSETS as u32, -3i32..=3, 1i32..=9)
            .prop_map(|(s, n, d)| Action::TargetPercent(s, f64::from(n) / f64::from(d))),
    ];
    let step = (
        prop::collection::vec(action, 0..4),
        prop::collection::vec((1i64..3_000_000, 0i64..5_000), ASSETS),
    )
        .prop_map(|(actions, quotes)| Step { actions, quotes });
    prop::collection::vec(step, 1..30)
}

/// Model parameters as (kind, mantissa, mantissa): built for each number type alike.
fn models() -> impl Strategy<Value = (u8, i64, i64, u8, i64, i64)> {
    (0u8..4, 0i64..100, 1i64..100, 0u8..4, 0i64..50, 0i64..500)
}

fn slippage<N: Money>(kind: u8, a: i64, b: i64) -> Slippage<N> {
    match kind {
        0 => Slippage::NoSlippage,
        1 => Slippage::zipline_default(),
        2 => Slippage::Fixed {
            spread: N::from_mantissa(a, 2),
        },
        _ => Slippage::VolumeShare {
            volume_limit: N::from_mantissa(b, 3),
            price_impact: N::from_f64(1.0 / (b as f64 + 2.0)).unwrap(),
        },
    }
}

fn commission<N: Money>(kind: u8, a: i64, b: i64) -> Commission<N> {
    match kind {
        0 => Commission::NoCommission,
        1 => Commission::PerShare {
            cost: N::from_mantissa(a, 3),
            min_trade_cost: N::from_mantissa(b, 2),
        },
        2 => Commission::PerTrade {
            cost: N::from_mantissa(b, 2),
        },
        _ => Commission::PerDollar {
            cost: N::from_f64(a as f64 / 30_000.0).unwrap(),
        },
    }
}

/// The books as exact decimal values: cash, per asset (amount, cost basis, last price),
/// per transaction (sid, amount, price, commission), per order (status, filled).
type Books = (
    Decimal,
    Vec<(i64, Decimal, Decimal)>,
    Vec<(u32, i64, Decimal, Decimal)>,
    Vec<String>,
);

fn value<N: Money>(x: N) -> Decimal {
    Decimal::from_str(&x.to_exact_string())
        .expect("an exact value")
        .normalize()
}

fn run<N: Money>(steps: &[Step], m: (u8, i64, i64, u8, i64, i64)) -> Books {
    let mut ledger = Ledger::<N>::new(ASSETS, N::from_i64(1_000_000));
    ledger.slippage = slippage(m.0, m.1, m.2);
    ledger.commission = commission(m.3, m.4, m.5);
    for (bar, step) in steps.iter().enumerate() {
        let quotes = step.quotes.clone();
        ledger.fill_open_orders(bar, |sid| {
            let (c, v) = quotes[sid as usize];
            Some(Quote {
                close: N::from_mantissa(c, 4),
                volume: v,
            })
        });
        ledger.mark_to_market(bar, |sid| Some(N::from_mantissa(quotes[sid as usize].0, 4)));
        for action in &step.actions {
            let placed = match *action {
                Action::Order(sid, amount) => {
                    ledger.place_order(sid, amount, OrderStyle::Market, bar)
                }
                Action::Limit(sid, amount, limit) => ledger.place_order(
                    sid,
                    amount,
                    OrderStyle::Limit(N::from_f64(limit).unwrap()),
                    bar,
                ),
                Action::TargetPercent(sid, pct) => {
                    let price = N::from_mantissa(quotes[sid as usize].0, 4);
                    let amount =
                        ledger.target_percent_amount(sid, N::from_f64(pct).unwrap(), price);
                    ledger.place_order(sid, amount, OrderStyle::Market, bar)
                }
            };
            placed.ok();
        }
    }
    let positions = (0..ASSETS as u32)
        .map(|sid| {
            let p = ledger.position(sid);
            (p.amount, value(p.cost_basis()), value(p.last_sale_price))
        })
        .collect();
    let txns = ledger
        .transactions()
        .iter()
        .map(|t| (t.sid, t.amount, value(t.price), value(t.commission)))
        .collect();
    let orders = ledger
        .orders()
        .iter()
        .map(|o| format!("{:?} {} {}", o.status, o.filled, value(o.commission)))
        .collect();
    (value(ledger.cash()), positions, txns, orders)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_fixed_point_ledger_keeps_the_decimal_ledgers_books(
        steps in steps(),
        m in models(),
    ) {
        let fixed = run::<Fixed>(&steps, m);
        let decimal = run::<Decimal>(&steps, m);
        prop_assert_eq!(fixed, decimal);
    }
}
