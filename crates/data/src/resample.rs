//! OHLCV aggregation from a bundle's bars to a coarser bar size (minutes to hours or
//! days), with a cache of completed bars shared by every reader of the bundle.
//!
//! A coarser bar takes the first open, highest high, lowest low, last close and summed
//! volume of the source bars that close inside it. The bar in progress at the reader's
//! current source bar is aggregated from the bars seen so far only (no look-ahead) and
//! never cached; completed bars are computed once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::calendar::{bar_grid, BarSize};
use crate::store::{BarStore, Field};

/// Fields per aggregated cell, in this order.
const FIELDS: usize = 5; // open, high, low, close, volume

/// One target bar size over a bundle: its grid, the source bars of each target bar, and
/// the cache of completed target bars.
#[derive(Debug)]
pub struct Resampled {
    pub bar_size: BarSize,
    /// Close instants of the target bars, ns UTC.
    pub timestamps: Vec<i64>,
    /// First source bar of each target bar; one extra entry holds the source bar count.
    pub first_source: Vec<u32>,
    rows: Vec<OnceLock<Box<[f64]>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Cache statistics: completed target bars served from the cache, and computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

impl Resampled {
    pub(crate) fn new(store: &BarStore, bar_size: BarSize) -> Resampled {
        let (timestamps, _) = bar_grid(&store.sessions, bar_size);
        let mut first_source = Vec::with_capacity(timestamps.len() + 1);
        let mut src = 0usize;
        for &close in &timestamps {
            first_source.push(src as u32);
            while src < store.timestamps.len() && store.timestamps[src] <= close {
                src += 1;
            }
        }
        first_source.push(store.timestamps.len() as u32);
        let rows = (0..timestamps.len()).map(|_| OnceLock::new()).collect();
        Resampled {
            bar_size,
            timestamps,
            first_source,
            rows,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The target bar that contains source bar `bar`.
    pub fn target_of(&self, store: &BarStore, bar: usize) -> usize {
        let t = store.timestamps[bar];
        self.timestamps.partition_point(|&x| x < t)
    }

    fn completed_row(&self, store: &BarStore, target: usize) -> &[f64] {
        if let Some(row) = self.rows[target].get() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return row;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let range = self.first_source[target] as usize..self.first_source[target + 1] as usize;
        self.rows[target].get_or_init(|| aggregate(store, range))
    }

    /// Fill `out` (`[count, sids.len()]`) with `field` of the `count` target bars ending with
    /// the one containing source bar `end_bar`, which is cut at `end_bar` (the bar so far).
    pub fn history_into(
        &self,
        store: &BarStore,
        field: Field,
        sids: &[u32],
        end_bar: usize,
        count: usize,
        out: &mut [f64],
    ) {
        let n = sids.len();
        let na = store.n_assets();
        let current = self.target_of(store, end_bar);
        let complete = self.timestamps.get(current) == Some(&store.timestamps[end_bar]);
        let offset = field_offset(field);
        let partial: Option<Box<[f64]>> =
            (!complete).then(|| aggregate(store, self.first_source[current] as usize..end_bar + 1));
        for row in 0..count {
            let target = current as isize + 1 + row as isize - count as isize;
            let dst = &mut out[row * n..(row + 1) * n];
            if target < 0 {
                dst.fill(if field == Field::Volume {
                    0.0
                } else {
                    f64::NAN
                });
                continue;
            }
            let target = target as usize;
            let values: &[f64] = if target == current && !complete {
                partial.as_deref().expect("partial computed")
            } else {
                self.completed_row(store, target)
            };
            for (d, &sid) in dst.iter_mut().zip(sids) {
                *d = values[offset * na + sid as usize];
            }
        }
        // splits and dividends apply to aggregated bars by the source bars they start at
        let first_target = current as isize + 1 - count as isize;
        let row_bar = |row: usize| {
            usize::try_from(first_target + row as isize)
                .ok()
                .map(|t| self.first_source[t] as usize)
        };
        store.adjust_window(field, sids, end_bar, count, &row_bar, out);
        if field == Field::Price {
            // forward-fill closes from the last source bar before the window
            let before = (first_target > 0)
                .then(|| (self.first_source[first_target as usize] as usize).checked_sub(1))
                .flatten();
            store.forward_fill(sids, before, count, out);
        }
    }

    /// Every completed target bar of `field` for all assets, time-major `[bars, assets]`.
    pub fn all(&self, store: &BarStore, field: Field) -> Vec<f64> {
        let na = store.n_assets();
        let offset = field_offset(field);
        let mut out = Vec::with_capacity(self.timestamps.len() * na);
        for t in 0..self.timestamps.len() {
            out.extend_from_slice(&self.completed_row(store, t)[offset * na..(offset + 1) * na]);
        }
        out
    }
}

fn field_offset(field: Field) -> usize {
    match field {
        Field::Open => 0,
        Field::High => 1,
        Field::Low => 2,
        Field::Close | Field::Price => 3,
        Field::Volume => 4,
    }
}

/// Aggregate source bars `range` for every asset: `[FIELDS, n_assets]`.
fn aggregate(store: &BarStore, range: std::ops::Range<usize>) -> Box<[f64]> {
    let na = store.n_assets();
    let mut row = vec![f64::NAN; FIELDS * na];
    row[4 * na..].fill(0.0);
    let (open, high, low, close, volume) = (
        store.field_matrix(Field::Open),
        store.field_matrix(Field::High),
        store.field_matrix(Field::Low),
        store.field_matrix(Field::Close),
        store.field_matrix(Field::Volume),
    );
    for bar in range {
        let base = bar * na;
        for a in 0..na {
            let c = close[base + a];
            if c.is_nan() {
                continue;
            }
            if row[a].is_nan() {
                row[a] = open[base + a];
            }
            let h = &mut row[na + a];
            if h.is_nan() || high[base + a] > *h {
                *h = high[base + a];
            }
            let l = &mut row[2 * na + a];
            if l.is_nan() || low[base + a] < *l {
                *l = low[base + a];
            }
            row[3 * na + a] = c;
            row[4 * na + a] += volume[base + a];
        }
    }
    row.into_boxed_slice()
}
