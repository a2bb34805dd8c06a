//! A price read deep into a minute bundle (`BarStore::last_close_mantissa`,
//! `BarStore::current(Field::Price, ..)`): 10 assets over 130 sessions of 390 minute bars
//! (50,700 bars), where one asset stops trading after the first session and another
//! trades only in the first and the last session, so their price at the end is a
//! forward fill from far back. `cargo bench -p rustybt-data --bench price_read`.

mod fixtures;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rustybt_data::{BarRows, BarSize, BarStore, Field};

const ASSETS: usize = 10;
const SESSIONS: usize = 130;
const MINUTES: u32 = 390;
/// Trades every bar.
const LIQUID: u32 = 0;
/// Trades in the first session only.
const STOPPED: u32 = 9;
/// Trades in the first and the last session only.
const GAPPED: u32 = 8;

fn bundle(dir: &std::path::Path) -> BarStore {
    let mut content = fixtures::content(ASSETS, SESSIONS, BarSize::Minutes(1));
    let last_session = (SESSIONS as u32 - 1) * MINUTES;
    let r = &content.rows;
    let mut rows = BarRows::default();
    for i in 0..r.len() {
        let (sid, bar) = (r.sid[i], r.bar[i]);
        let keep = match sid {
            STOPPED => bar < MINUTES,
            GAPPED => bar < MINUTES || bar >= last_session,
            _ => true,
        };
        if keep {
            rows.push(
                sid,
                bar,
                [r.open[i], r.high[i], r.low[i], r.close[i], r.volume[i]],
            );
        }
    }
    content.rows = rows;
    fixtures::write(dir, &content)
}

fn price_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = bundle(dir.path());
    let last = store.n_bars() - 1;
    // the bar before the gapped asset's last session: its gap is one session short of
    // the whole bundle
    let before_last_session = store.session_first_bar[SESSIONS - 1] as usize - 1;
    let mut g = c.benchmark_group("price_read");
    for (name, bar, sid) in [
        ("liquid", last, LIQUID),
        ("stopped", last, STOPPED),
        ("gapped", before_last_session, GAPPED),
    ] {
        g.bench_function(format!("last_close/{name}"), |b| {
            b.iter(|| store.last_close_mantissa(black_box(bar), black_box(sid)));
        });
        g.bench_function(format!("current_price/{name}"), |b| {
            b.iter(|| store.current(Field::Price, black_box(bar), black_box(sid)));
        });
    }
    // a 30-bar `price` window of every asset at the end: the forward fill of each asset
    // starts from its last close before the window
    let sids: Vec<u32> = (0..ASSETS as u32).collect();
    let mut out = vec![0.0; ASSETS * 30];
    g.bench_function("history_price/10x30", |b| {
        b.iter(|| {
            store.history_into(Field::Price, &sids, black_box(last), 30, &mut out);
            black_box(out[0])
        });
    });
    g.finish();
    // opening the bundle without the pool: Parquet to dense columns, every derived column
    // built in memory
    let mut g = c.benchmark_group("price_read_open");
    g.sample_size(10);
    g.bench_function("unpooled", |b| {
        b.iter(|| BarStore::open(&dir.path().join("bench")).unwrap());
    });
    g.finish();
}

criterion_group!(benches, price_read);
criterion_main!(benches);
