//! What the size of a number costs the batch runner: the same runs with the exact ledger
//! (`Fixed`, 16 bytes), its float twin (`f64`, 8 bytes) and the float twin widened to 16
//! bytes (`Wide`: an `f64` and a second word that every operation writes, as an exact
//! number's high word is written). `Wide` does `f64`'s arithmetic, so its runs fill and
//! value exactly as the float twin's (checked before timing); what it adds is the size:
//! every value moved, stored and kept at 16 bytes. An exact value at 12 places within the
//! ledger's bounds (`MAX_NOTIONAL` is 10^15, so 10^27 units) needs more than 64 bits.
//! `cargo bench -p rustybt-engine --bench money_size` (docs/performance/decimal-overhead.md).

mod fixtures;

use std::cmp::Ordering;
use std::fmt;
use std::hint::black_box;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use rustybt_data::{BarSize, BarStore, Field};
use rustybt_engine::{run_batch, BatchKind, BatchSpec, FillModel};
use rustybt_ledger::{CancelPolicy, Commission, Fixed, Money, Slippage};

/// The float twin at 16 bytes: `v` does the arithmetic, `hi` (its sign extended, as an
/// `i128`'s high word) is written by every operation.
#[derive(Clone, Copy, Debug, Default)]
struct Wide {
    v: f64,
    hi: i64,
}

#[inline]
fn w(v: f64) -> Wide {
    #[allow(clippy::cast_possible_wrap)] // the sign bit, extended
    Wide {
        v,
        hi: (v.to_bits() as i64) >> 63,
    }
}

impl PartialEq for Wide {
    fn eq(&self, other: &Self) -> bool {
        self.v == other.v
    }
}

impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.v.partial_cmp(&other.v)
    }
}

impl fmt::Display for Wide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.v.fmt(f)
    }
}

macro_rules! binary {
    ($trait:ident, $method:ident, $op:tt) => {
        impl $trait for Wide {
            type Output = Self;
            #[inline]
            fn $method(self, rhs: Self) -> Self {
                w(self.v $op rhs.v)
            }
        }
    };
}
binary!(Add, add, +);
binary!(Sub, sub, -);
binary!(Mul, mul, *);

impl Neg for Wide {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        w(-self.v)
    }
}

impl AddAssign for Wide {
    #[inline]
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Wide {
    #[inline]
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

/// Every method the float twin defines, by the float twin (the others are the trait's
/// defaults for both).
impl Money for Wide {
    const NAME: &'static str = "float16";
    const EXACT: bool = false;
    fn zero() -> Self {
        w(0.0)
    }
    fn one() -> Self {
        w(1.0)
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        w(<f64 as Money>::from_i64(v))
    }
    #[inline]
    fn from_mantissa(mantissa: i64, scale: u32) -> Self {
        w(<f64 as Money>::from_mantissa(mantissa, scale))
    }
    fn from_f64(v: f64) -> Option<Self> {
        <f64 as Money>::from_f64(v).map(w)
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self.v
    }
    #[inline]
    fn same(self, other: Self) -> bool {
        // both words, as an exact number's representation test (the same answer: `hi`
        // follows from `v`)
        self.v.to_bits() == other.v.to_bits() && self.hi == other.hi
    }
    #[inline]
    fn div_q(self, rhs: Self) -> Self {
        w(<f64 as Money>::div_q(self.v, rhs.v))
    }
    #[inline]
    fn checked_div_q(self, rhs: Self) -> Option<Self> {
        <f64 as Money>::checked_div_q(self.v, rhs.v).map(w)
    }
    #[inline]
    fn checked_mul(self, rhs: Self) -> Option<Self> {
        <f64 as Money>::checked_mul(self.v, rhs.v).map(w)
    }
    #[inline]
    fn quantize(self) -> Self {
        w(<f64 as Money>::quantize(self.v))
    }
    #[inline]
    fn quantize_fill(self, scale: u32) -> Self {
        w(<f64 as Money>::quantize_fill(self.v, scale))
    }
    #[inline]
    fn abs(self) -> Self {
        w(<f64 as Money>::abs(self.v))
    }
    #[inline]
    fn round_int(self) -> Self {
        w(<f64 as Money>::round_int(self.v))
    }
    #[inline]
    fn trunc(self) -> Self {
        w(<f64 as Money>::trunc(self.v))
    }
    #[inline]
    fn floor(self) -> Self {
        w(<f64 as Money>::floor(self.v))
    }
    #[inline]
    fn round_dp(self, dp: u32) -> Self {
        w(<f64 as Money>::round_dp(self.v, dp))
    }
    #[inline]
    fn round_shares(self) -> i64 {
        <f64 as Money>::round_shares(self.v)
    }
    fn from_decimal_str(text: &str) -> Option<Self> {
        <f64 as Money>::from_decimal_str(text).map(w)
    }
    #[inline]
    fn to_i64(self) -> i64 {
        <f64 as Money>::to_i64(self.v)
    }
}

/// W1's rule as B1's matrices: from the `slow`-th bar on, `1 / n` where the `fast`-bar
/// mean close is above the `slow`-bar mean, else 0; NaN (no order) before (as
/// `rustybt.tooling.bench.batch_workloads.sma_crossover_weights`).
fn sma_crossover(closes: &[f64], n: usize, fast: usize, slow: usize) -> Vec<f64> {
    let bars = closes.len() / n;
    let mut csum = vec![0.0; (bars + 1) * n];
    for b in 0..bars {
        for a in 0..n {
            csum[(b + 1) * n + a] = csum[b * n + a] + closes[b * n + a];
        }
    }
    let mut m = vec![f64::NAN; bars * n];
    #[allow(clippy::cast_precision_loss)] // small counts
    let (nf, ff, sf) = (n as f64, fast as f64, slow as f64);
    for b in slow - 1..bars {
        for a in 0..n {
            let fast_mean = (csum[(b + 1) * n + a] - csum[(b + 1 - fast) * n + a]) / ff;
            let slow_mean = (csum[(b + 1) * n + a] - csum[(b + 1 - slow) * n + a]) / sf;
            m[b * n + a] = if fast_mean > slow_mean { 1.0 / nf } else { 0.0 };
        }
    }
    m
}

/// The batch's settings in `N`: `run_batch`'s default capital and B1's costs
/// (FixedSlippage(0), PerShare(0.001, 0)).
fn spec<N: Money>(store: &BarStore, n: usize) -> BatchSpec<N> {
    BatchSpec {
        first_session: 0,
        last_session: store.sessions.len() - 1,
        capital_base: N::from_i64(1_000_000),
        slippage: Slippage::from_spec("FixedSlippage", &[0.0]).unwrap(),
        commission: Commission::from_spec("PerShare", &[0.001, 0.0]).unwrap(),
        cancel_policy: CancelPolicy::default(),
        fill_model: FillModel::NextClose,
        sids: (0..u32::try_from(n).unwrap()).collect(),
        kind: BatchKind::TargetWeights,
        keep_perf: false,
    }
}

fn money_size(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("money_size");
    g.sample_size(10);
    // one thread: the runs' own cost, without the second vCPU's noise
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    // B1's shape (50 assets, 501 sessions, its first 60 grid cells) and G1-batch's (10)
    for (n, label) in [(50usize, "B1"), (10, "G1")] {
        let store = Arc::new(fixtures::store(
            &dir.path().join(label),
            n,
            501,
            BarSize::Daily,
        ));
        let closes = store.field_matrix(Field::Close);
        let cells: Vec<(usize, usize)> = (2..8)
            .flat_map(|f| (20..70).step_by(5).map(move |s| (f, s)))
            .collect();
        let matrices: Vec<Vec<f64>> = cells
            .iter()
            .map(|&(f, s)| sma_crossover(closes, n, f, s))
            .collect();
        let views: Vec<&[f64]> = matrices.iter().map(Vec::as_slice).collect();
        let (sf, sw, sx) = (
            spec::<f64>(&store, n),
            spec::<Wide>(&store, n),
            spec::<Fixed>(&store, n),
        );
        // the same runs: Wide fills and values as the float twin, bit for bit
        let float = run_batch(&store, &sf, &views).unwrap();
        let wide = run_batch(&store, &sw, &views).unwrap();
        let exact = run_batch(&store, &sx, &views).unwrap();
        for ((a, b), x) in float.iter().zip(&wide).zip(&exact) {
            assert!(
                a.error.is_none() && x.error.is_none(),
                "{:?} {:?}",
                a.error,
                x.error
            );
            assert_eq!(a.final_value.to_bits(), b.final_value.to_bits());
            assert_eq!(a.fills, b.fills);
            assert_eq!(a.fills, x.fills);
        }
        g.bench_function(format!("{label}/f64"), |b| {
            b.iter(|| pool.install(|| run_batch(&store, &sf, black_box(&views))));
        });
        g.bench_function(format!("{label}/wide"), |b| {
            b.iter(|| pool.install(|| run_batch(&store, &sw, black_box(&views))));
        });
        g.bench_function(format!("{label}/fixed"), |b| {
            b.iter(|| pool.install(|| run_batch(&store, &sx, black_box(&views))));
        });
    }
    g.finish();
}

criterion_group!(benches, money_size);
criterion_main!(benches);
