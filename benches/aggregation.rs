//! Minute bars aggregated to coarser ones (`BarStore::resampled`, `Resampled`), on M1's
//! shape (23 sessions of 390 minute bars, 10 assets): building a whole aggregation cold,
//! and a history window of coarser bars in a minute run once the completed bars are
//! cached. `cargo bench -p rustybt-data --bench aggregation`.

mod fixtures;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rustybt_data::{BarSize, Field};

const HOUR: BarSize = BarSize::Minutes(60);

fn aggregation(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = fixtures::store(dir.path(), 10, 23, BarSize::Minutes(1));
    let minute_bars = (store.n_bars() * store.n_assets()) as u64;
    let mut g = c.benchmark_group("aggregation");
    g.throughput(Throughput::Elements(minute_bars));
    for (name, size) in [("1d", BarSize::Daily), ("1h", HOUR)] {
        // each iteration gets a freshly opened store, so its cache starts empty
        g.bench_function(format!("cold_all/{name}"), |b| {
            b.iter_batched(
                || fixtures::reopen(dir.path()),
                |store| {
                    let all = store.resampled(size).all(&store, Field::Close);
                    (store, all)
                },
                BatchSize::PerIteration,
            );
        });
    }
    // a minute run at 12:50 of its last session asks for bars of the coarser size: the
    // completed ones come from the cache, the one in progress is aggregated from the
    // minutes so far
    let sids: Vec<u32> = (0..10).collect();
    let first_minute = store.session_first_bar[store.sessions.len() - 1] as usize;
    let end = first_minute + 200;
    for (name, size, count) in [("1d", BarSize::Daily, 20usize), ("1h", HOUR, 24)] {
        let resampled = store.resampled(size);
        let mut out = vec![0.0; sids.len() * count];
        resampled.history_into(&store, Field::Close, &sids, end, count, &mut out);
        g.throughput(Throughput::Elements(out.len() as u64));
        g.bench_function(format!("window/{name}/10x{count}"), |b| {
            b.iter(|| {
                resampled.history_into(
                    &store,
                    Field::Close,
                    &sids,
                    black_box(end),
                    count,
                    &mut out,
                );
                black_box(out[0])
            });
        });
    }
    g.finish();
}

criterion_group!(benches, aggregation);
criterion_main!(benches);
