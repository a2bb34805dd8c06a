//! Ledger kernels in the three number types (the exact `Fixed`, `rust_decimal`, `f64`): apply a fill, mark N positions to market, compute
//! an order-target quantity. `cargo bench -p rustybt-ledger`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rustybt_ledger::{Commission, Decimal, Fixed, Ledger, Money, OrderStyle, Quote, Slippage};

fn book<N: Money>(n: usize) -> Ledger<N> {
    let mut l = Ledger::<N>::new(n, N::from_i64(10_000_000));
    l.slippage = Slippage::zipline_default();
    l.commission = Commission::zipline_default();
    for sid in 0..n as u32 {
        l.place_order(sid, 100, OrderStyle::Market, 0).unwrap();
    }
    l.fill_open_orders(1, |sid| {
        Some(Quote {
            close: N::from_mantissa(1_000_000 + i64::from(sid), 4),
            volume: 1_000_000,
        })
    });
    l
}

fn kernels<N: Money>(c: &mut Criterion, name: &str) {
    let mut g = c.benchmark_group(format!("ledger/{name}"));
    g.bench_function("apply_fill", |b| {
        b.iter_batched(
            || {
                let mut l = Ledger::<N>::new(1, N::from_i64(1_000_000));
                l.place_order(0, 250, OrderStyle::Market, 0).unwrap();
                l
            },
            |mut l| {
                l.fill_open_orders(1, |_| {
                    Some(Quote {
                        close: N::from_mantissa(1_234_567, 4),
                        volume: 100_000,
                    })
                });
                black_box(l)
            },
            criterion::BatchSize::SmallInput,
        );
    });
    for n in [10usize, 50, 500] {
        let mut l = book::<N>(n);
        g.bench_with_input(BenchmarkId::new("mark_to_market", n), &n, |b, _| {
            b.iter(|| {
                l.mark_to_market(2, |sid| {
                    Some(N::from_mantissa(1_010_000 + i64::from(sid), 4))
                });
                black_box(l.portfolio_value())
            });
        });
    }
    // B1's cycle: a small rebalancing order on a held position, filled on the next bar
    // with a per-share commission (cost basis and its commission folded in)
    let mut l = book::<N>(50);
    l.slippage = Slippage::Fixed { spread: N::zero() };
    l.commission = Commission::PerShare {
        cost: N::from_f64(0.001).unwrap(),
        min_trade_cost: N::zero(),
    };
    let mut bar = 2;
    g.bench_function("place_and_fill", |b| {
        b.iter(|| {
            bar += 1;
            let sid = (bar % 50) as u32;
            let amount = if bar % 2 == 0 { 3 } else { -2 };
            l.place_order(sid, amount, OrderStyle::Market, bar).unwrap();
            l.fill_open_orders(bar + 1, |s| {
                Some(Quote {
                    close: N::from_mantissa(1_000_000 + i64::from(s) + (bar % 7) as i64, 4),
                    volume: 1_000_000,
                })
            });
            black_box(l.cash())
        });
    });
    let l = book::<N>(50);
    let pct = N::from_f64(0.02).unwrap();
    g.bench_function("target_percent_amount", |b| {
        b.iter(|| {
            black_box(l.target_percent_amount(black_box(7), pct, N::from_mantissa(1_012_345, 4)))
        });
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    kernels::<Fixed>(c, "fixed");
    kernels::<Decimal>(c, "rust_decimal");
    kernels::<f64>(c, "float");
}

criterion_group!(benches, all);
criterion_main!(benches);
