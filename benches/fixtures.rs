//! Synthetic bundles for the benches: written to a temporary directory and opened through
//! the bundle pool (mapped), as `rustybt.load_bundle` opens them.

use std::path::Path;

use rustybt_data::calendar::{NANOS_PER_DAY, NANOS_PER_MINUTE};
use rustybt_data::{
    generate, write_bundle, BarSize, BarStore, BundleContent, Session, SyntheticSpec,
};

/// `n` consecutive days from 2022-01-03, each 09:30-16:00 New York (14:30-21:00 UTC).
fn sessions(n: usize) -> Vec<Session> {
    (0..n as i32)
        .map(|i| {
            let date = 18_995 + i;
            let open_ns = i64::from(date) * NANOS_PER_DAY + 870 * NANOS_PER_MINUTE;
            Session {
                date,
                open_ns,
                close_ns: open_ns + 390 * NANOS_PER_MINUTE,
            }
        })
        .collect()
}

/// The synthetic content (seed 42) of `n_assets` over `n_sessions`, every asset trading
/// every bar; a bench may drop rows before writing it with [`write`].
pub fn content(n_assets: usize, n_sessions: usize, frequency: BarSize) -> BundleContent {
    generate(&SyntheticSpec {
        n_assets,
        seed: 42,
        frequency,
        calendar: "XNYS".into(),
        price_scale: 4,
        sessions: sessions(n_sessions),
    })
    .unwrap()
}

/// A synthetic bundle (seed 42) of `n_assets` over `n_sessions`, written under `dir`.
#[allow(dead_code)] // price_read edits the content before writing it
pub fn store(dir: &Path, n_assets: usize, n_sessions: usize, frequency: BarSize) -> BarStore {
    write(dir, &content(n_assets, n_sessions, frequency))
}

/// Write `content` as the bench bundle under `dir` and open it through the pool.
pub fn write(dir: &Path, content: &BundleContent) -> BarStore {
    write_bundle(dir, "bench", content).unwrap();
    reopen(dir)
}

/// Open the bundle written by [`store`] or [`write`] again: a new `BarStore`, whose
/// aggregation caches start empty.
pub fn reopen(dir: &Path) -> BarStore {
    BarStore::open_pooled(&dir.join("bench"), Some(&dir.join("cache"))).unwrap()
}
