//! Per-session and end-of-run metrics: closing a session's books (the `advance` that ends it,
//! the exact numbers every perf row comes from) and the cumulative risk metrics over all
//! sessions (`cumulative_risk`, `cumulative_benchmark_risk`).
//! `cargo bench -p rustybt-engine --bench metrics`.

mod fixtures;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rustybt_data::{BarSize, BarStore};
use rustybt_engine::{
    cumulative_benchmark_risk, cumulative_risk, Simulation, Step, PERIODS_PER_YEAR,
};
use rustybt_ledger::{Decimal, Money, OrderStyle};

/// Daily returns of about ±1%, deterministic.
fn returns(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02
        })
        .collect()
}

fn risk(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics");
    // 2 years, 10 years and 100 years of sessions
    for n in [501usize, 2_520, 25_200] {
        let r = returns(n, 1);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("cumulative_risk", n), &r, |b, r| {
            b.iter(|| cumulative_risk(black_box(r), PERIODS_PER_YEAR));
        });
    }
    // O(n^2): empyrical's alpha and beta recomputed over each prefix
    for n in [501usize, 2_520] {
        let (r, bench) = (returns(n, 1), returns(n, 2));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("cumulative_benchmark_risk", n),
            &(r, bench),
            |b, (r, bench)| {
                b.iter(|| {
                    cumulative_benchmark_risk(black_box(r), black_box(bench), PERIODS_PER_YEAR)
                });
            },
        );
    }
    g.finish();
}

/// A simulation at the (only) bar of its second session, holding every asset (bought on
/// the first session's bar, filled on the second's): its next `advance` closes the session.
fn holding<N: Money>(store: &Arc<BarStore>) -> Simulation<N> {
    let mut sim = Simulation::<N>::new(store.clone(), 0, 2, N::from_i64(100_000_000)).unwrap();
    let next = |sim: &mut Simulation<N>| sim.advance().unwrap().unwrap();
    assert!(matches!(next(&mut sim), Step::BeforeTradingStart { .. }));
    assert_eq!(next(&mut sim), Step::Bar { bar: 0 });
    for sid in 0..store.n_assets() as u32 {
        sim.order(sid, 100, OrderStyle::Market).unwrap();
    }
    assert!(matches!(next(&mut sim), Step::SessionEnd { session: 0 }));
    assert!(matches!(next(&mut sim), Step::BeforeTradingStart { .. }));
    assert_eq!(next(&mut sim), Step::Bar { bar: 1 });
    sim
}

fn session_close<N: Money>(c: &mut Criterion, stores: &[Arc<BarStore>]) {
    let mut g = c.benchmark_group(format!("metrics/end_session/{}", N::NAME));
    for store in stores {
        let n = store.n_assets();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || holding::<N>(store),
                |mut sim| {
                    sim.advance().unwrap();
                    sim
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

fn books(c: &mut Criterion) {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let stores: Vec<_> = [10usize, 50, 500]
        .iter()
        .zip(&dirs)
        .map(|(&n, d)| Arc::new(fixtures::store(d.path(), n, 3, BarSize::Daily)))
        .collect();
    session_close::<Decimal>(c, &stores);
    session_close::<f64>(c, &stores);
}

criterion_group!(benches, risk, books);
criterion_main!(benches);
