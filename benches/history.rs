//! History windows out of the bar store, `BarStore::history_into`: the window behind a
//! strategy's `data.history` before any pandas, on W1's shape (501 daily bars, 500 assets).
//! `cargo bench -p rustybt-data --bench history`.

mod fixtures;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rustybt_data::{BarSize, Field};

fn history(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = fixtures::store(dir.path(), 500, 501, BarSize::Daily);
    let end = store.n_bars() - 1;
    let mut g = c.benchmark_group("history");
    for n in [1usize, 10, 50, 500] {
        // the first n assets; all 500 take the contiguous-row path
        let sids: Vec<u32> = (0..n as u32).collect();
        for bars in [30usize, 200] {
            let mut out = vec![0.0; n * bars];
            g.throughput(Throughput::Elements((n * bars) as u64));
            g.bench_function(BenchmarkId::new("close", format!("{n}x{bars}")), |b| {
                b.iter(|| {
                    store.history_into(Field::Close, &sids, black_box(end), bars, &mut out);
                    black_box(out[0])
                });
            });
        }
    }
    // every other asset: the gather path at W1's 50-asset width
    let scattered: Vec<u32> = (0..100).step_by(2).collect();
    let mut out = vec![0.0; scattered.len() * 30];
    g.throughput(Throughput::Elements(out.len() as u64));
    g.bench_function("close/50-scattered-x30", |b| {
        b.iter(|| {
            store.history_into(Field::Close, &scattered, black_box(end), 30, &mut out);
            black_box(out[0])
        });
    });
    // `price` forward-fills missing bars, `volume` zero-fills them
    let sids: Vec<u32> = (0..50).collect();
    for (name, field) in [("price", Field::Price), ("volume", Field::Volume)] {
        g.bench_function(format!("{name}/50x30"), |b| {
            b.iter(|| {
                store.history_into(field, &sids, black_box(end), 30, &mut out);
                black_box(out[0])
            });
        });
    }
    // the zero-copy rows `data.history` returns when it asks for every asset
    g.throughput(Throughput::Elements(500 * 30));
    g.bench_function("raw_block/500x30", |b| {
        b.iter(|| {
            store
                .raw_block(Field::Close, black_box(end), 30)
                .map(<[f64]>::len)
        });
    });
    g.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
