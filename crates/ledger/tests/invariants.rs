//! Property tests: invariants that follow cash flows, not definitions.

use proptest::prelude::*;
use rustybt_ledger::{
    Commission, Decimal, Ledger, Money, OrderStatus, OrderStyle, Quote, Slippage,
};

#[derive(Debug, Clone)]
struct Step {
    orders: Vec<(u32, i64)>,
    quotes: Vec<(i64, i64)>, // (close in cents, volume) per asset
}

fn steps(n_assets: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = (
        prop::collection::vec((0..n_assets as u32, -500i64..500), 0..4),
        prop::collection::vec((1i64..2_000_000, 0i64..5_000), n_assets),
    )
        .prop_map(|(orders, quotes)| Step { orders, quotes });
    prop::collection::vec(step, 1..25)
}

fn slippages() -> impl Strategy<Value = Slippage<Decimal>> {
    prop_oneof![
        Just(Slippage::NoSlippage),
        Just(Slippage::zipline_default()),
        (0i64..100).prop_map(|c| Slippage::Fixed {
            spread: Decimal::new(c, 2)
        }),
        (1i64..100, 1i64..100).prop_map(|(v, i)| Slippage::VolumeShare {
            volume_limit: Decimal::new(v, 3),
            price_impact: Decimal::new(i, 2)
        }),
    ]
}

fn commissions() -> impl Strategy<Value = Commission<Decimal>> {
    prop_oneof![
        Just(Commission::NoCommission),
        Just(Commission::zipline_default()),
        (0i64..50, 0i64..500).prop_map(|(c, m)| Commission::PerShare {
            cost: Decimal::new(c, 3),
            min_trade_cost: Decimal::new(m, 2)
        }),
        (0i64..1000).prop_map(|c| Commission::PerTrade {
            cost: Decimal::new(c, 2)
        }),
        (0i64..50).prop_map(|c| Commission::PerDollar {
            cost: Decimal::new(c, 4)
        }),
    ]
}

fn run(
    steps: &[Step],
    n_assets: usize,
    slippage: Slippage<Decimal>,
    commission: Commission<Decimal>,
) -> Ledger<Decimal> {
    let mut ledger = Ledger::<Decimal>::new(n_assets, Decimal::from(1_000_000));
    ledger.track_pnl();
    ledger.slippage = slippage;
    ledger.commission = commission;
    for (bar, step) in steps.iter().enumerate() {
        let quotes = step.quotes.clone();
        ledger.fill_open_orders(bar, |sid| {
            let (c, v) = quotes[sid as usize];
            Some(Quote {
                close: Decimal::new(c, 2),
                volume: v,
            })
        });
        // filled never exceeds the order, and a volume-capped model never fills more
        // than its limit of the bar's volume per asset
        let mut per_asset = vec![0i64; n_assets];
        for t in ledger.transactions().iter().filter(|t| t.bar == bar) {
            per_asset[t.sid as usize] += t.amount.abs();
        }
        for o in ledger.orders() {
            assert!(o.filled.abs() <= o.amount.abs());
            assert!(o.filled.signum() * o.amount.signum() >= 0);
            if o.filled == o.amount {
                assert_eq!(o.status, OrderStatus::Filled);
            }
        }
        let limit = match ledger.slippage {
            Slippage::FixedBasisPoints { volume_limit, .. }
            | Slippage::VolumeShare { volume_limit, .. } => Some(volume_limit),
            _ => None,
        };
        if let Some(limit) = limit {
            for (sid, &filled) in per_asset.iter().enumerate() {
                let cap = (limit * Decimal::from(quotes[sid].1)).trunc();
                assert!(
                    Decimal::from(filled) <= cap,
                    "asset {sid}: filled {filled} > cap {cap}"
                );
            }
        }
        ledger.mark_to_market(bar, |sid| Some(Decimal::new(quotes[sid as usize].0, 2)));
        for &(sid, amount) in &step.orders {
            ledger
                .place_order(sid, amount, OrderStyle::Market, bar)
                .unwrap();
        }
    }
    ledger
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn cash_follows_fills_and_positions_are_sums_of_fills(
        s in steps(3), slippage in slippages(), commission in commissions()
    ) {
        let ledger = run(&s, 3, slippage, commission);
        let txns = ledger.transactions();
        let notional = txns.iter().fold(Decimal::ZERO, |a, t| a + Decimal::from(t.amount) * t.price);
        let fees = txns.iter().fold(Decimal::ZERO, |a, t| a + t.commission);
        prop_assert_eq!(ledger.cash(), ledger.starting_cash() - notional - fees);
        for sid in 0..3u32 {
            let sum: i64 = txns.iter().filter(|t| t.sid == sid).map(|t| t.amount).sum();
            prop_assert_eq!(ledger.position(sid).amount, sum);
        }
        // portfolio value is cash plus marked positions, exactly
        let marked = (0..3u32).fold(Decimal::ZERO, |a, sid| {
            let p = ledger.position(sid);
            a + Decimal::from(p.amount) * p.last_sale_price
        });
        prop_assert_eq!(ledger.portfolio_value(), ledger.cash() + marked);
        // realised + unrealised P&L is exactly the change in portfolio value
        let (realized, unrealized) = ledger.pnl().unwrap();
        prop_assert_eq!(realized + unrealized, ledger.portfolio_value() - ledger.starting_cash());
    }

    /// A ledger that keeps no history forgets its closed orders and keeps no
    /// transactions, and nothing else changes: the same order ids, cash, positions and
    /// their bases, values, open orders and number of fills, bar after bar, with orders
    /// cancelled and left open across bars on the way.
    #[test]
    fn a_ledger_without_history_keeps_the_same_books(
        s in steps(3), slippage in slippages(), commission in commissions(),
        cancel_every in 0usize..4
    ) {
        let new = || {
            let mut l = Ledger::<Decimal>::new(3, Decimal::from(1_000_000));
            l.slippage = slippage;
            l.commission = commission;
            l
        };
        let (mut full, mut lean) = (new(), new());
        lean.keep_history(false);
        for (bar, step) in s.iter().enumerate() {
            let quote = |sid: u32| {
                let (c, v) = step.quotes[sid as usize];
                Some(Quote { close: Decimal::new(c, 2), volume: v })
            };
            let made = (full.fill_open_orders(bar, quote), lean.fill_open_orders(bar, quote));
            prop_assert_eq!(made.0, made.1);
            for l in [&mut full, &mut lean] {
                l.mark_to_market(bar, |sid| quote(sid).map(|q| q.close));
            }
            if cancel_every > 0 && bar % cancel_every == 0 {
                let sid = (bar % 3) as u32;
                let first = full.open_orders(sid).next().map(|o| o.id);
                prop_assert_eq!(first, lean.open_orders(sid).next().map(|o| o.id));
                if let Some(id) = first {
                    full.cancel_order(id, bar).unwrap();
                    lean.cancel_order(id, bar).unwrap();
                }
            }
            for &(sid, amount) in &step.orders {
                let ids = (
                    full.place_order(sid, amount, OrderStyle::Market, bar).unwrap(),
                    lean.place_order(sid, amount, OrderStyle::Market, bar).unwrap(),
                );
                prop_assert_eq!(ids.0, ids.1);
            }
            prop_assert_eq!(full.cash(), lean.cash());
            prop_assert_eq!(full.portfolio_value(), lean.portfolio_value());
            prop_assert_eq!(full.held(), lean.held());
            prop_assert_eq!(full.assets_with_open_orders(), lean.assets_with_open_orders());
            for sid in 0..3u32 {
                let (a, b) = (full.position(sid), lean.position(sid));
                prop_assert_eq!((a.amount, a.cost_basis()), (b.amount, b.cost_basis()));
                let open = |l: &Ledger<Decimal>| -> Vec<_> {
                    l.open_orders(sid).map(|o| (o.id, o.amount, o.filled, o.commission)).collect()
                };
                prop_assert_eq!(open(&full), open(&lean));
            }
        }
        prop_assert_eq!(full.transactions().len(), lean.transaction_count());
        prop_assert!(lean.transactions().is_empty());
        prop_assert_eq!(full.next_order_id(), lean.next_order_id());
        // an order the lean ledger still knows is the full one's; one it forgot was closed
        for o in full.orders() {
            match lean.order(o.id) {
                Ok(kept) => prop_assert_eq!(
                    (kept.status, kept.filled, kept.commission),
                    (o.status, o.filled, o.commission)
                ),
                Err(_) => prop_assert!(!o.is_open()),
            }
        }
    }

    #[test]
    fn zero_cost_round_trip_at_one_price_returns_the_starting_cash(
        amount in 1i64..10_000, cents in 1i64..10_000_000
    ) {
        let mut l = Ledger::<Decimal>::new(1, Decimal::from(1_000_000));
        l.slippage = Slippage::NoSlippage;
        l.commission = Commission::NoCommission;
        let q = Quote { close: Decimal::new(cents, 2), volume: 0 };
        l.place_order(0, amount, OrderStyle::Market, 0).unwrap();
        l.fill_open_orders(1, |_| Some(q));
        l.place_order(0, -amount, OrderStyle::Market, 1).unwrap();
        l.fill_open_orders(2, |_| Some(q));
        prop_assert_eq!(l.cash(), Decimal::from(1_000_000));
        prop_assert_eq!(l.position(0).amount, 0);
    }

    #[test]
    fn decimal_division_is_half_even_at_the_documented_scale(a in -10_000_000_000i64..10_000_000_000, b in 1i64..1_000_000_000, sa in 0u32..8, sb in 0u32..8) {
        let x = Decimal::new(a, sa);
        let y = Decimal::new(b, sb);
        let q = x.div_q(y);
        prop_assert!(q.scale() <= rustybt_ledger::DIV_SCALE);
        // |q - x/y| <= half an ulp at DIV_SCALE, checked exactly: |q*y - x| <= y * ulp / 2
        let half_ulp_times_y = y * Decimal::new(5, rustybt_ledger::DIV_SCALE + 1);
        prop_assert!((q * y - x).abs() <= half_ulp_times_y);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decimal_to_f64_matches_correctly_rounded_parse(m in any::<i64>(), scale in 0u32..=28) {
        let d = Decimal::new(m, scale);
        let expected: f64 = d.to_string().parse().unwrap();
        prop_assert_eq!(d.to_f64().to_bits(), expected.to_bits());
    }
}
