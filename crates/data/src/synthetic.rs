//! Deterministic synthetic OHLCV: per-asset geometric Brownian motion from a seeded
//! ChaCha8 stream.
//!
//! Portability: ChaCha8's output is fixed by its specification, normals come from the sum
//! of twelve uniforms (Irwin–Hall), and prices evolve by an Euler step using only `+`, `*`
//! and `sqrt` — all correctly rounded IEEE operations. No `exp`/`ln`/`cos` (whose results
//! differ between libm builds) and no distribution crate whose algorithm could change, so a
//! seed gives the same bytes on every machine and crate version.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::bundle::{AssetInfo, BarRows, BundleContent};
use crate::calendar::{bar_grid, BarSize, Session};
use crate::error::DataError;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    pub n_assets: usize,
    pub seed: u64,
    pub frequency: BarSize,
    pub calendar: String,
    pub price_scale: u32,
    pub sessions: Vec<Session>,
}

struct Stream(ChaCha8Rng);

impl Stream {
    fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Approximately standard normal (Irwin–Hall, 12 terms), bounded to ±6.
    fn normal(&mut self) -> f64 {
        let mut s = 0.0;
        for _ in 0..12 {
            s += self.uniform();
        }
        s - 6.0
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
}

/// Symbol of a synthetic asset: `S000`, `S001`, ...
pub fn symbol(sid: usize) -> String {
    format!("S{sid:03}")
}

pub fn generate(spec: &SyntheticSpec) -> Result<BundleContent, DataError> {
    generate_with_progress(spec, &mut |_, _| true)
}

/// [`generate`], reporting `(assets done, assets)` after each asset.
pub fn generate_with_progress(
    spec: &SyntheticSpec,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<BundleContent, DataError> {
    if spec.n_assets == 0 {
        return Err(DataError::BadRequest("--assets must be at least 1".into()));
    }
    if spec.sessions.is_empty() {
        return Err(DataError::BadRequest(
            "the requested span holds no trading session".into(),
        ));
    }
    if spec.price_scale < 2 || spec.price_scale > 8 {
        return Err(DataError::BadRequest(format!(
            "price scale {} is outside 2 to 8 (synthetic prices have 2 decimals)",
            spec.price_scale
        )));
    }
    let (timestamps, bar_session) = bar_grid(&spec.sessions, spec.frequency);
    let n_bars = timestamps.len();
    let bars_per_year = match spec.frequency {
        BarSize::Daily => 252.0,
        BarSize::Minutes(m) => 252.0 * 390.0 / f64::from(m),
    };
    let dt = 1.0 / bars_per_year;
    let sqrt_dt = dt.sqrt();
    let to_cents_mantissa = 10i64.pow(spec.price_scale - 2);
    let mut rows = BarRows::default();
    let mut assets = Vec::with_capacity(spec.n_assets);
    for sid in 0..spec.n_assets {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        rng.set_stream(sid as u64);
        let mut r = Stream(rng);
        let mut close = r.between(20.0, 200.0);
        let drift = r.between(-0.05, 0.15);
        let vol = r.between(0.15, 0.45);
        let base_volume = r.between(2.0e5, 5.0e6) * dt * 252.0;
        for bar in 0..n_bars {
            let step = vol * sqrt_dt;
            let open = close * (1.0 + 0.2 * step * r.normal());
            close *= 1.0 + drift * dt + step * r.normal();
            close = close.max(0.05);
            let cents = |x: f64| (x.max(0.01) * 100.0).round() as i64;
            let (o, c) = (cents(open), cents(close));
            let h = cents(open.max(close) * (1.0 + 0.5 * step * r.normal().abs())).max(o.max(c));
            let l = cents(open.min(close) * (1.0 - 0.5 * step * r.normal().abs()))
                .min(o.min(c))
                .max(1);
            let v = (base_volume * r.between(0.5, 1.5)).round() as i64;
            let m = to_cents_mantissa;
            rows.push(sid as u32, bar as u32, [o * m, h * m, l * m, c * m, v]);
        }
        assets.push(AssetInfo {
            sid: sid as u32,
            symbol: symbol(sid),
            exchange: spec.calendar.clone(),
            start_date: spec.sessions[bar_session[0] as usize].date,
            end_date: spec.sessions[bar_session[n_bars - 1] as usize].date,
            lot_scale: 0,
        });
        if !progress(sid + 1, spec.n_assets) {
            return Err(DataError::Interrupted);
        }
    }
    Ok(BundleContent {
        frequency: spec.frequency,
        calendar: spec.calendar.clone(),
        price_scale: spec.price_scale,
        source: format!("synthetic(seed={}, assets={})", spec.seed, spec.n_assets),
        sessions: spec.sessions.clone(),
        timestamps,
        assets,
        rows,
        adjustments: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{NANOS_PER_DAY, NANOS_PER_MINUTE};

    fn sessions(n: i32) -> Vec<Session> {
        (0..n)
            .map(|i| {
                let open = i64::from(18_995 + i) * NANOS_PER_DAY + 870 * NANOS_PER_MINUTE;
                Session {
                    date: 18_995 + i,
                    open_ns: open,
                    close_ns: open + 390 * NANOS_PER_MINUTE,
                }
            })
            .collect()
    }

    fn spec(seed: u64) -> SyntheticSpec {
        SyntheticSpec {
            n_assets: 3,
            seed,
            frequency: BarSize::Daily,
            calendar: "XNYS".into(),
            price_scale: 4,
            sessions: sessions(50),
        }
    }

    #[test]
    fn same_seed_same_content_and_bars_are_consistent() {
        let a = generate(&spec(7)).unwrap();
        let b = generate(&spec(7)).unwrap();
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), generate(&spec(8)).unwrap().content_hash());
        let r = &a.rows;
        for i in 0..r.len() {
            assert!(r.low[i] > 0 && r.low[i] <= r.open[i].min(r.close[i]));
            assert!(r.high[i] >= r.open[i].max(r.close[i]));
            assert!(r.volume[i] >= 0);
            assert_eq!(r.close[i] % 100, 0, "two decimals at scale 4");
        }
        assert_eq!(a.assets[2].symbol, "S002");
    }

    #[test]
    fn known_first_close_pins_the_stream() {
        // Guards portability: a change here means old seeds no longer reproduce old bundles.
        let a = generate(&spec(42)).unwrap();
        let first: Vec<i64> = (0..3).map(|s| a.rows.close[s * 50]).collect();
        // recorded from the first run of this generator (2026-11-22)
        assert_eq!(first, vec![1_388_700, 1_508_700, 530_200]);
    }
}
