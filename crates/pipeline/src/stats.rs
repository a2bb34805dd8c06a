//! Rolling statistics between two inputs (correlations, regressions, beta), per asset:
//! zipline's `RollingPearson`, `RollingSpearman`, `RollingLinearRegression` and
//! `SimpleBeta`.
//!
//! Each window of each asset is computed with the operations of zipline's (numpy's,
//! scipy's, bottleneck's) implementation, in the same order where that order is known,
//! so that ill-conditioned windows (constant series, near-zero variances) round the same
//! way:
//!
//! * `rolling_pearson` is zipline's `vectorized_pearson_r` with `allowed_missing = 0`:
//!   means are column means of the window matrix (numpy reduces axis 0 row after row,
//!   i.e. a left-to-right sum), the result is `cov / sqrt(var_y * var_x)`; NaN anywhere
//!   in the window gives NaN.
//! * `rolling_spearman` is `scipy.stats.spearmanr` of the two columns: NaN for fewer than
//!   two rows, a constant input or a NaN; otherwise numpy's `corrcoef` of the average
//!   ranks (whose sums are exact).
//! * `rolling_linear_regression` is `scipy.stats.linregress(x, y)` (first input `y`, the
//!   dependent variable, second input `x`): alpha (intercept), beta (slope), r_value,
//!   p_value (two-sided, Student's t with `n - 2` degrees of freedom) and stderr (of the
//!   slope). scipy refuses an `x` whose values are all equal; those windows give NaN in
//!   all five outputs.
//! * `simple_beta` is zipline's `vectorized_beta` (first input: each asset's returns,
//!   second: the target's returns): the slope over the rows where both are known, NaN
//!   when more than `int(allowed_missing_percentage * window)` of them are missing.

use std::collections::HashMap;
use std::hash::BuildHasher;

use rayon::prelude::*;

use crate::{Input, PipelineError, Series, Shape};

/// A rolling statistic between two inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// `rolling_pearson`: Pearson's r of the two inputs.
    Pearson,
    /// `rolling_spearman`: Spearman's rank correlation of the two inputs.
    Spearman,
    /// `rolling_linear_regression`: OLS of the first input (dependent) on the second.
    LinearRegression,
    /// `simple_beta`: slope of each asset's returns on the target's returns.
    SimpleBeta { allowed_missing_percentage: f64 },
}

/// The kinds [`Stat::parse`] knows, in the order of the spec's table.
pub const STAT_KINDS: [&str; 4] = [
    "rolling_pearson",
    "rolling_spearman",
    "rolling_linear_regression",
    "simple_beta",
];

/// zipline's default `allowed_missing_percentage` of `SimpleBeta`.
pub const DEFAULT_ALLOWED_MISSING_PERCENTAGE: f64 = 0.25;

impl Stat {
    /// The statistic named `kind` with its parameters (unknown names, missing or
    /// out-of-range values are refused, naming them).
    pub fn parse<S: BuildHasher>(
        kind: &str,
        params: &HashMap<String, f64, S>,
    ) -> Result<Self, PipelineError> {
        let stat = match kind {
            "rolling_pearson" => Stat::Pearson,
            "rolling_spearman" => Stat::Spearman,
            "rolling_linear_regression" => Stat::LinearRegression,
            "simple_beta" => {
                let p = params
                    .get("allowed_missing_percentage")
                    .copied()
                    .unwrap_or(DEFAULT_ALLOWED_MISSING_PERCENTAGE);
                if !(0.0..=1.0).contains(&p) {
                    return Err(PipelineError::Parameter(format!(
                        "simple_beta: allowed_missing_percentage must be in [0, 1], not {p}"
                    )));
                }
                Stat::SimpleBeta {
                    allowed_missing_percentage: p,
                }
            }
            _ => {
                return Err(PipelineError::Parameter(format!(
                    "unknown rolling statistic {kind:?} (one of {})",
                    STAT_KINDS.join(", ")
                )))
            }
        };
        let known: &[&str] = match stat {
            Stat::SimpleBeta { .. } => &["allowed_missing_percentage"],
            _ => &[],
        };
        crate::cross::check_param_names(kind, params, known)?;
        Ok(stat)
    }

    /// How many matrices the statistic returns.
    pub fn n_outputs(&self) -> usize {
        match self {
            Stat::LinearRegression => 5,
            _ => 1,
        }
    }

    /// The statistic of one window into `out` (`n_outputs()` values); `single` when the
    /// matrix has one asset (numpy then sums its column pairwise).
    fn compute(&self, a: &[f64], b: &[f64], single: bool, scratch: &mut Scratch, out: &mut [f64]) {
        match *self {
            Stat::Pearson => out[0] = pearson(a, b, single, scratch),
            Stat::Spearman => out[0] = spearman(a, b, scratch),
            Stat::LinearRegression => linregress(b, a, scratch, out),
            Stat::SimpleBeta {
                allowed_missing_percentage,
            } => {
                // zipline: int(allowed_missing_percentage * regression_length)
                let allowed = (allowed_missing_percentage * a.len() as f64) as usize;
                out[0] = simple_beta(a, b, allowed, scratch);
            }
        }
    }
}

/// `kind` of every window of `window` rows of `x` and `y` (both `shape`), per asset.
/// `x` is the first input of the spec's table (the dependent `y` of
/// `rolling_linear_regression`, the returns of `simple_beta`), `y` the second.
/// Returns `n_outputs()` time-major matrices of `[rows − window + 1 × assets]`.
pub fn rolling_stat(
    kind: &Stat,
    x: Input<'_>,
    y: Input<'_>,
    shape: Shape,
    window: usize,
) -> Result<Vec<Vec<f64>>, PipelineError> {
    for (what, input) in [("first input", &x), ("second input", &y)] {
        shape.check(what, input.values.len())?;
        check_adjustments(what, input, shape)?;
    }
    if window == 0 || window > shape.rows {
        return Err(PipelineError::Window(format!(
            "window {window} must be between 1 and the {} rows given",
            shape.rows
        )));
    }
    let out_rows = shape.rows - window + 1;
    let n_out = kind.n_outputs();
    let columns: Vec<Vec<f64>> = (0..shape.assets)
        .into_par_iter()
        .map(|asset| {
            let sx = Series::of(&x, shape, asset);
            let sy = Series::of(&y, shape, asset);
            let mut wx = vec![0.0; window];
            let mut wy = vec![0.0; window];
            let mut scratch = Scratch::default();
            let mut col = vec![f64::NAN; out_rows * n_out];
            for (j, out) in col.chunks_exact_mut(n_out).enumerate() {
                let end = j + window - 1;
                sx.window_into(end, &mut wx);
                sy.window_into(end, &mut wy);
                kind.compute(&wx, &wy, shape.assets == 1, &mut scratch, out);
            }
            col
        })
        .collect();
    let mut outputs = vec![vec![f64::NAN; out_rows * shape.assets]; n_out];
    for (asset, col) in columns.iter().enumerate() {
        for (j, values) in col.chunks_exact(n_out).enumerate() {
            for (k, &v) in values.iter().enumerate() {
                outputs[k][j * shape.assets + asset] = v;
            }
        }
    }
    Ok(outputs)
}

fn check_adjustments(what: &str, input: &Input<'_>, shape: Shape) -> Result<(), PipelineError> {
    match input
        .adjustments
        .iter()
        .find(|a| a.asset as usize >= shape.assets || a.row as usize >= shape.rows)
    {
        Some(a) => Err(PipelineError::Shape(format!(
            "{what} has an adjustment at asset {} row {} outside {} rows x {} assets",
            a.asset, a.row, shape.rows, shape.assets
        ))),
        None => Ok(()),
    }
}

/// Buffers reused from window to window of one asset.
#[derive(Debug, Default)]
struct Scratch {
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    order: Vec<usize>,
}

/// numpy's sum of a contiguous 1-D float64 array (`np.sum`, `np.mean`): pairwise, in
/// blocks of at most 128 summed with 8 accumulators.
fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut s = 0.0;
        for &v in a {
            s += v;
        }
        s
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (k, acc) in r.iter_mut().enumerate() {
                *acc += a[i + k];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[full..] {
            s += v;
        }
        s
    } else {
        let mut half = n / 2;
        half -= half % 8;
        numpy_sum(&a[..half]) + numpy_sum(&a[half..])
    }
}

/// A left-to-right sum (numpy's reduction over axis 0 of a matrix, bottleneck's sums).
fn seq_sum(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |s, v| s + v)
}

/// bottleneck's `nanmean` of 1-D data: the left-to-right sum of the non-NaN values over
/// their count (NaN if there are none).
fn bn_nanmean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for v in values.filter(|v| !v.is_nan()) {
        sum += v;
        count += 1;
    }
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// zipline's `vectorized_pearson_r(x, y, allowed_missing=0)` of one column: `y` is the
/// "independent" (target) side. numpy's column means of a `[window × assets]` matrix
/// add row after row, except for a single column, which it sums pairwise.
fn pearson(x: &[f64], y: &[f64], single: bool, s: &mut Scratch) -> f64 {
    if y.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let n = x.len() as f64;
    let sum = |values: &mut Vec<f64>, it: &mut dyn Iterator<Item = f64>| -> f64 {
        if single {
            values.clear();
            values.extend(it);
            numpy_sum(values)
        } else {
            seq_sum(it)
        }
    };
    let mut buf = std::mem::take(&mut s.c);
    let mean_x = sum(&mut buf, &mut x.iter().copied()) / n;
    let mean_y = sum(&mut buf, &mut y.iter().copied()) / n;
    s.a.clear();
    s.a.extend(x.iter().map(|v| v - mean_x));
    s.b.clear();
    s.b.extend(y.iter().map(|v| v - mean_y));
    let var_y = sum(&mut buf, &mut s.b.iter().map(|r| r * r)) / n;
    let var_x = sum(&mut buf, &mut s.a.iter().map(|r| r * r)) / n;
    let cov = sum(&mut buf, &mut s.b.iter().zip(&s.a).map(|(ry, rx)| ry * rx)) / n;
    s.c = buf;
    cov / (var_y * var_x).sqrt()
}

/// Average ranks (1-based, ties sharing the mean of their positions) of `values` (no
/// NaN) into `out`, as `scipy.stats.rankdata(method="average")`.
fn average_ranks(values: &[f64], order: &mut Vec<usize>, out: &mut Vec<f64>) {
    order.clear();
    order.extend(0..values.len());
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]).then(i.cmp(&j)));
    out.clear();
    out.resize(values.len(), 0.0);
    let mut start = 0;
    while start < order.len() {
        let v = values[order[start]];
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == v {
            end += 1;
        }
        // positions start+1 ..= end share their mean
        let rank = 0.5 * (start + 1 + end) as f64;
        for &i in &order[start..end] {
            out[i] = rank;
        }
        start = end;
    }
}

/// `scipy.stats.spearmanr(x, y).statistic`.
fn spearman(x: &[f64], y: &[f64], s: &mut Scratch) -> f64 {
    let n = x.len();
    if n <= 1
        || x.iter().all(|&v| v == x[0])
        || y.iter().all(|&v| v == y[0])
        || x.iter().chain(y).any(|v| v.is_nan())
    {
        return f64::NAN;
    }
    average_ranks(x, &mut s.order, &mut s.a);
    average_ranks(y, &mut s.order, &mut s.b);
    // Ranks are multiples of 1/2 and their sum is n(n+1)/2: every sum below is exact,
    // so the order of summation does not matter.
    let mean = numpy_sum(&s.a) / n as f64;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (a, b) in s.a.iter().zip(&s.b) {
        let (dx, dy) = (a - mean, b - mean);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    // numpy.corrcoef: c = X Xᵀ · (1 / (n − 1)); c[1, 0] / sd[1] / sd[0], clipped
    let f = 1.0 / (n - 1) as f64;
    let (sd_x, sd_y) = ((sxx * f).sqrt(), (syy * f).sqrt());
    (sxy * f / sd_y / sd_x).clamp(-1.0, 1.0)
}

/// `scipy.stats.linregress(x, y)` into `out`: intercept, slope, r, p (two-sided),
/// stderr of the slope.
fn linregress(x: &[f64], y: &[f64], s: &mut Scratch, out: &mut [f64]) {
    const TINY: f64 = 1.0e-20;
    let n = x.len();
    // scipy's nan_policy="propagate" and too_small=1 give NaN before the function runs;
    // the function itself raises "Cannot calculate a linear regression if all x values
    // are identical"
    if n <= 1 || x.iter().chain(y).any(|v| v.is_nan()) || x.iter().all(|&v| v == x[0]) {
        out.fill(f64::NAN);
        return;
    }
    let nf = n as f64;
    let mean_x = numpy_sum(x) / nf;
    let mean_y = numpy_sum(y) / nf;
    s.a.clear();
    s.a.extend(x.iter().map(|v| v - mean_x));
    s.b.clear();
    s.b.extend(y.iter().map(|v| v - mean_y));
    // numpy.cov(x, y, bias=1): X·Xᵀ (OpenBLAS's dgemm: for windows up to a few
    // hundred rows, fused multiply-adds accumulated in row order), times 1 / n
    let f = 1.0 / nf;
    let ssxm = dot_fma(&s.a, &s.a) * f;
    let ssxym = dot_fma(&s.a, &s.b) * f;
    let ssym = dot_fma(&s.b, &s.b) * f;
    let r = if ssxm == 0.0 || ssym == 0.0 {
        if ssxym == 0.0 {
            f64::NAN
        } else {
            0.0
        }
    } else {
        (ssxym / (ssxm * ssym).sqrt()).clamp(-1.0, 1.0)
    };
    let slope = ssxym / ssxm;
    let intercept = mean_y - slope * mean_x;
    let (p, stderr) = if n == 2 {
        (if y[0] == y[1] { 1.0 } else { 0.0 }, 0.0)
    } else {
        let df = nf - 2.0;
        let t = r * (df / ((1.0 - r + TINY) * (1.0 + r + TINY))).sqrt();
        let p = special::student_t_two_sided(t, df);
        let stderr = ((1.0 - r * r) * ssym / ssxm / df).sqrt();
        (p, stderr)
    };
    out.copy_from_slice(&[intercept, slope, r, p, stderr]);
}

/// `Σ a·b` as fused multiply-adds in order.
fn dot_fma(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |acc, (x, y)| x.mul_add(*y, acc))
}

/// zipline's `vectorized_beta` of one column: `dep` the asset's returns, `ind` the
/// target's, NaN when more than `allowed_missing` rows miss either.
fn simple_beta(dep: &[f64], ind: &[f64], allowed_missing: usize, s: &mut Scratch) -> f64 {
    // the independent variable, NaN where the dependent one is
    s.b.clear();
    s.b.extend(
        dep.iter()
            .zip(ind)
            .map(|(&d, &i)| if d.is_nan() { f64::NAN } else { i }),
    );
    let missing = s.b.iter().filter(|v| v.is_nan()).count();
    if missing > allowed_missing {
        return f64::NAN;
    }
    let mean = bn_nanmean(s.b.iter().copied());
    s.a.clear();
    s.a.extend(s.b.iter().map(|v| v - mean));
    let cov = bn_nanmean(s.a.iter().zip(dep).map(|(r, d)| r * d));
    let var = bn_nanmean(s.a.iter().map(|r| r * r));
    cov / var
}

/// The regularized incomplete beta function and Student's t tail.
mod special {
    use std::f64::consts::PI;

    /// ln √(2π)
    const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

    /// The remainder of Stirling's series for ln Γ(x), x ≥ 10:
    /// ln Γ(x) − ((x − ½) ln x − x + ln √(2π)) (next term below 4e-17).
    fn stirling_correction(x: f64) -> f64 {
        const C: [f64; 7] = [
            1.0 / 12.0,
            -1.0 / 360.0,
            1.0 / 1260.0,
            -1.0 / 1680.0,
            1.0 / 1188.0,
            -691.0 / 360_360.0,
            1.0 / 156.0,
        ];
        let z = 1.0 / (x * x);
        C.iter().rev().fold(0.0, |acc, &c| acc * z + c) / x
    }

    /// Γ(x) for 0 < x ≤ 30, shifted up to ≥ 10 and evaluated by Stirling's series
    /// (a few ulps).
    fn gamma_small(x: f64) -> f64 {
        let mut y = x;
        let mut shift = 1.0;
        while y < 10.0 {
            shift *= y;
            y += 1.0;
        }
        (2.0 * PI).sqrt() * y.powf(y - 0.5) * (-y).exp() * stirling_correction(y).exp() / shift
    }

    /// ln Γ(x), x > 0.
    pub(super) fn ln_gamma(x: f64) -> f64 {
        if x < 10.0 {
            gamma_small(x).ln()
        } else {
            (x - 0.5) * x.ln() - x + LN_SQRT_2PI + stirling_correction(x)
        }
    }

    /// ln B(a, b), a, b > 0, without cancellation between large ln Γ values.
    pub(super) fn ln_beta(a: f64, b: f64) -> f64 {
        let (p, q) = if a < b { (a, b) } else { (b, a) };
        if p >= 10.0 {
            let corr = stirling_correction(p) + stirling_correction(q) - stirling_correction(p + q);
            -0.5 * q.ln()
                + LN_SQRT_2PI
                + corr
                + (p - 0.5) * (p / (p + q)).ln()
                + q * (-p / (p + q)).ln_1p()
        } else if q >= 10.0 {
            let corr = stirling_correction(q) - stirling_correction(p + q);
            ln_gamma(p) + corr + p - p * (p + q).ln() + (q - 0.5) * (-p / (p + q)).ln_1p()
        } else {
            (gamma_small(p) * (gamma_small(q) / gamma_small(p + q))).ln()
        }
    }

    /// The continued fraction of I_x(a, b) (modified Lentz), converging for
    /// x < (a + 1) / (a + b + 2).
    fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
        const TINY: f64 = 1e-300;
        const MAX_ITERATIONS: usize = 100_000;
        let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
        let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
        let mut c = 1.0;
        let mut d = 1.0 / fix(1.0 - qab * x / qap);
        let mut h = d;
        for m in 1..=MAX_ITERATIONS {
            let m = m as f64;
            let m2 = 2.0 * m;
            let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1.0 / fix(1.0 + aa * d);
            c = fix(1.0 + aa / c);
            h *= d * c;
            let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1.0 / fix(1.0 + aa * d);
            c = fix(1.0 + aa / c);
            let step = d * c;
            h *= step;
            if (step - 1.0).abs() <= f64::EPSILON {
                break;
            }
        }
        h
    }

    /// Where the power series is used: `(a + b)·x` at most this (and `x ≤ ½`).
    const SERIES_LIMIT: f64 = 8.0;

    /// x^a (1 − x)^b / B(a, b), from `x` and `y = 1 − x`.
    fn beta_front(a: f64, b: f64, x: f64, y: f64) -> f64 {
        let ln_x = if x > 0.5 { (-y).ln_1p() } else { x.ln() };
        let ln_y = if y > 0.5 { (-x).ln_1p() } else { y.ln() };
        (a * ln_x + b * ln_y - ln_beta(a, b)).exp()
    }

    /// I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · Σₙ (a + b)ₙ / (a + 1)ₙ · xⁿ, for small
    /// `(a + b)·x` (positive terms, geometric once n > (a + b)·x).
    fn beta_series(a: f64, b: f64, x: f64, y: f64) -> f64 {
        const MAX_TERMS: usize = 10_000;
        let mut term = 1.0;
        let mut sum = 1.0;
        for n in 0..MAX_TERMS {
            let n = n as f64;
            term *= (a + b + n) * x / (a + 1.0 + n);
            sum += term;
            if term <= sum * (f64::EPSILON / 4.0) {
                break;
            }
        }
        beta_front(a, b, x, y) * sum / a
    }

    /// (I_x(a, b), 1 − I_x(a, b)), the regularized incomplete beta function and its
    /// complement, given `x` and `y = 1 − x` (each computed directly by the caller, so
    /// neither loses digits near 0).
    pub(super) fn beta_inc(a: f64, b: f64, x: f64, y: f64) -> (f64, f64) {
        if x.is_nan() || y.is_nan() || a.is_nan() || b.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        if x <= 0.0 {
            return (0.0, 1.0);
        }
        if y <= 0.0 {
            return (1.0, 0.0);
        }
        // The series of the side whose argument is small (positive terms: no
        // cancellation), unless that side is near 1 and its complement, small, would lose
        // digits as 1 − it; the continued fraction otherwise (which loses ~1e-13 near
        // its convergence boundary when a or b is large, where the series takes over).
        if x <= 0.5 && (a + b) * x <= SERIES_LIMIT {
            let i = beta_series(a, b, x, y);
            if i <= 0.99 {
                return (i, 1.0 - i);
            }
            let ic = beta_front(a, b, x, y) * beta_continued_fraction(b, a, y) / b;
            return (i, ic);
        }
        if y <= 0.5 && (a + b) * y <= SERIES_LIMIT {
            let ic = beta_series(b, a, y, x);
            if ic <= 0.99 {
                return (1.0 - ic, ic);
            }
            let i = beta_front(a, b, x, y) * beta_continued_fraction(a, b, x) / a;
            return (i, ic);
        }
        let front = beta_front(a, b, x, y);
        if x < (a + 1.0) / (a + b + 2.0) {
            let i = front * beta_continued_fraction(a, b, x) / a;
            (i, 1.0 - i)
        } else {
            let ic = front * beta_continued_fraction(b, a, y) / b;
            (1.0 - ic, ic)
        }
    }

    /// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom:
    /// I_{df/(df+t²)}(df/2, ½).
    pub(super) fn student_t_two_sided(t: f64, df: f64) -> f64 {
        if t.is_nan() || df.is_nan() || df <= 0.0 {
            return f64::NAN;
        }
        if t.is_infinite() {
            return 0.0;
        }
        let t2 = t * t;
        if df == 1.0 {
            // I_x(½, ½) = asin(√x) / (π/2) (the arcsine distribution), with the argument
            // scipy's Boost uses: 1 − t²/(1 + t²) for small t, 1/(1 + t²) otherwise
            let x = if 1.0 > 2.0 * t2 {
                1.0 - t2 / (1.0 + t2)
            } else {
                1.0 / (1.0 + t2)
            };
            return x.sqrt().asin() / std::f64::consts::FRAC_PI_2;
        }
        let x = df / (df + t2);
        let y = t2 / (df + t2);
        beta_inc(0.5 * df, 0.5, x, y).0
    }
}

#[cfg(test)]
mod tests {
    use super::special::{beta_inc, ln_beta, ln_gamma, student_t_two_sided};
    use super::*;
    use crate::Adjustment;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-300
    }

    #[track_caller]
    fn assert_close(a: f64, b: f64, rel: f64) {
        assert!(
            close(a, b, rel),
            "{a:e} != {b:e} (rel {:e})",
            (a - b).abs() / b.abs()
        );
    }

    fn params(pairs: &[(&str, f64)]) -> HashMap<String, f64> {
        pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        // scipy.special.gammaln
        let cases = [
            (0.5, 0.572_364_942_924_7),
            (1.0, 0.0),
            (2.0, 0.0),
            (3.5, 1.200_973_602_347_074_3),
            (9.5, 11.689_333_420_797_269),
            (10.0, 12.801_827_480_081_469),
            (47.5, 134.874_989_312_161_94),
            (1000.0, 5_905.220_423_209_181),
        ];
        for (x, want) in cases {
            let got = ln_gamma(x);
            assert!(
                (got - want).abs() <= 1e-14 * want.abs().max(1.0),
                "lnΓ({x}) = {got} not {want}"
            );
        }
    }

    #[test]
    fn ln_beta_matches_known_values() {
        // scipy.special.betaln
        let cases = [
            (0.5, 0.5, std::f64::consts::PI.ln()),
            (1.0, 0.5, 2.0f64.ln()),
            (4.0, 0.5, -0.089_612_158_689_687_29),
            (15.5, 0.5, -0.789_991_949_800_578),
            (125.0, 0.5, -1.840_791_928_393_065_8),
            (30.0, 12.5, -25.908_683_991_310_074),
        ];
        for (a, b, want) in cases {
            assert_close(ln_beta(a, b), want, 1e-14);
        }
    }

    #[test]
    fn incomplete_beta_matches_scipy() {
        // scipy.special.betainc(a, b, x)
        let cases = [
            (
                0.5,
                0.5,
                0.3,
                0.369_010_119_565_545_36,
                0.630_989_880_434_454_6,
            ),
            (
                2.0,
                3.0,
                0.4,
                0.524_799_999_999_999_9,
                0.475_199_999_999_999_96,
            ),
            (
                5.0,
                0.5,
                0.999,
                0.922_281_992_100_966_7,
                0.077_718_007_899_033_24,
            ),
            (
                10.0,
                0.5,
                0.2,
                1.994_982_493_613_096e-8,
                0.999_999_980_050_175_1,
            ),
            (
                50.0,
                0.5,
                0.9,
                0.001_204_149_832_559_813,
                0.998_795_850_167_440_2,
            ),
            (
                0.5,
                50.0,
                0.01,
                0.682_695_602_125_802_4,
                0.317_304_397_874_197_56,
            ),
            (
                125.0,
                0.5,
                0.98,
                0.024_759_875_595_583_1,
                0.975_240_124_404_416_9,
            ),
        ];
        for (a, b, x, want, want_c) in cases {
            let (i, ic) = beta_inc(a, b, x, 1.0 - x);
            assert_close(i, want, 1e-13);
            assert_close(ic, want_c, 1e-13);
        }
    }

    #[test]
    fn student_t_tail_matches_scipy() {
        // 2 * scipy.stats.t.sf(|t|, df)
        let cases = [
            (0.0, 5.0, 1.0),
            (1.0, 1.0, 0.500_000_000_000_000_1),
            (2.0, 3.0, 0.139_325_968_558_843_05),
            (-2.5, 10.0, 0.031_446_844_236_608_82),
            (0.1, 8.0, 0.922_804_909_430_597),
            (12.0, 30.0, 5.580_185_415_199_261e-13),
            (40.0, 4.0, 2.334_016_322_601_267_8e-6),
            (3.0, 250.0, 0.002_972_662_091_177_654_4),
        ];
        for (t, df, want) in cases {
            assert_close(student_t_two_sided(t, df), want, 1e-13);
        }
        assert!(student_t_two_sided(f64::NAN, 3.0).is_nan());
        // one degree of freedom: the arcsine closed form, rounded as scipy's Boost rounds it
        assert_eq!(student_t_two_sided(9.4e-7, 1.0), 0.999_999_401_530_845_2);
        // long windows, near the continued fraction's boundary (exact values from a
        // 60-digit evaluation)
        assert_close(
            student_t_two_sided(1.782_949_76, 2971.0),
            0.074_696_551_849_168_33,
            2e-13,
        );
        assert_close(
            student_t_two_sided(3.0, 2000.0),
            0.002_733_143_762_032_8,
            2e-13,
        );
        assert_close(
            student_t_two_sided(4.576_923_086_987_367, 61.0),
            2.371_836_404_023_877_6e-5,
            2e-13,
        );
    }

    #[test]
    fn parse_names_kinds_and_parameters() {
        let none = HashMap::new();
        assert_eq!(Stat::parse("rolling_pearson", &none), Ok(Stat::Pearson));
        assert_eq!(
            Stat::parse("simple_beta", &none),
            Ok(Stat::SimpleBeta {
                allowed_missing_percentage: 0.25
            })
        );
        assert_eq!(
            Stat::parse(
                "simple_beta",
                &params(&[("allowed_missing_percentage", 0.5)])
            ),
            Ok(Stat::SimpleBeta {
                allowed_missing_percentage: 0.5
            })
        );
        for (kind, p) in [
            ("rolling_kendall", params(&[])),
            (
                "simple_beta",
                params(&[("allowed_missing_percentage", 1.5)]),
            ),
            (
                "simple_beta",
                params(&[("allowed_missing_percentage", f64::NAN)]),
            ),
            ("rolling_pearson", params(&[("decay_rate", 0.5)])),
        ] {
            let err = Stat::parse(kind, &p).unwrap_err();
            assert!(matches!(err, PipelineError::Parameter(_)), "{err:?}");
        }
        let msg = Stat::parse("rolling_kendall", &none)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("rolling_kendall"), "{msg}");
        assert_eq!(Stat::LinearRegression.n_outputs(), 5);
        assert_eq!(Stat::Spearman.n_outputs(), 1);
    }

    fn input(values: &[f64]) -> Input<'_> {
        Input {
            values,
            adjustments: &[],
        }
    }

    #[test]
    fn pearson_and_spearman_of_known_windows() {
        // one asset, 5 rows, window 5 (scipy.stats.pearsonr / spearmanr)
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 1.0, 4.0, 3.0, 7.0];
        let shape = Shape { rows: 5, assets: 1 };
        let r = rolling_stat(&Stat::Pearson, input(&x), input(&y), shape, 5).unwrap();
        assert_close(r[0][0], 0.824_163_383_692_133_9, 1e-14);
        let r = rolling_stat(&Stat::Spearman, input(&x), input(&y), shape, 5).unwrap();
        assert_eq!(r[0][0], 0.799_999_999_999_999_9); // scipy's rounding
                                                      // a NaN anywhere, or a constant input, gives NaN
        let y_nan = [2.0, f64::NAN, 4.0, 3.0, 7.0];
        for stat in [Stat::Pearson, Stat::Spearman] {
            let r = rolling_stat(&stat, input(&x), input(&y_nan), shape, 5).unwrap();
            assert!(r[0][0].is_nan());
            let r = rolling_stat(&stat, input(&y_nan), input(&x), shape, 5).unwrap();
            assert!(r[0][0].is_nan());
        }
        let r = rolling_stat(&Stat::Spearman, input(&[3.0; 5]), input(&y), shape, 5).unwrap();
        assert!(r[0][0].is_nan());
        // ties take average ranks: x ranks [1.5, 1.5, 3, 4, 5]
        let x_tied = [1.0, 1.0, 3.0, 4.0, 5.0];
        let r = rolling_stat(&Stat::Spearman, input(&x_tied), input(&y), shape, 5).unwrap();
        assert_close(r[0][0], 0.872_081_599_272_380_9, 1e-14);
    }

    #[test]
    fn pearson_of_one_column_sums_pairwise_as_numpy() {
        // zipline's vectorized_pearson_r of this window as a [9 x 1] matrix and as a
        // column of a [9 x 2] matrix differ in the last bits
        let x = [0.64, 0.27, 0.04, 0.02, 0.81, 0.91, 0.61, 0.73, 0.54];
        let y = [0.9, 0.8, 0.0, 0.9, 0.0, 0.7, 0.2, 0.9, 0.5];
        let one = rolling_stat(
            &Stat::Pearson,
            input(&x),
            input(&y),
            Shape { rows: 9, assets: 1 },
            9,
        )
        .unwrap();
        assert_eq!(one[0][0], 0.007_894_065_975_143_513);
        let x2: Vec<f64> = x.iter().flat_map(|&v| [v, v]).collect();
        let y2: Vec<f64> = y.iter().flat_map(|&v| [v, v]).collect();
        let two = rolling_stat(
            &Stat::Pearson,
            input(&x2),
            input(&y2),
            Shape { rows: 9, assets: 2 },
            9,
        )
        .unwrap();
        assert_eq!(two[0], [0.007_894_065_975_143_5; 2]);
    }

    #[test]
    fn rolling_windows_are_time_major_and_adjusted() {
        // two assets, 4 rows, window 3 -> 2 output rows
        let x = [1.0, 10.0, 2.0, 20.0, 4.0, 40.0, 3.0, 30.0];
        let y = [1.0, 1.0, 2.0, 3.0, 3.0, 2.0, 4.0, 4.0];
        let shape = Shape { rows: 4, assets: 2 };
        let r = rolling_stat(&Stat::Spearman, input(&x), input(&y), shape, 3).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].len(), 4);
        // row 0: asset 0 x=[1,2,4] y=[1,2,3] -> 1; asset 1 x=[10,20,40] y=[1,3,2] -> 0.5
        assert_close(r[0][0], 1.0, 1e-15);
        assert_close(r[0][1], 0.5, 1e-15);
        // row 1: asset 0 x=[2,4,3] y=[2,3,4] -> 0.5
        assert_close(r[0][2], 0.5, 1e-15);
        // a 2-for-1 split of asset 0 at row 2 halves rows <= 2 in windows ending >= 2:
        // x window [1, 2, 4] becomes [0.5, 1, 2] -- Pearson is scale-free, the
        // regression's slope is not
        let adj = [Adjustment {
            asset: 0,
            row: 2,
            ratio: 0.5,
        }];
        let xa = Input {
            values: &x,
            adjustments: &adj,
        };
        let plain = rolling_stat(&Stat::LinearRegression, input(&y), input(&x), shape, 3).unwrap();
        let split = rolling_stat(&Stat::LinearRegression, input(&y), xa, shape, 3).unwrap();
        assert_close(split[1][0], 2.0 * plain[1][0], 1e-14);
        assert_close(split[2][0], plain[2][0], 1e-14);
        assert_eq!(split[1][1], plain[1][1]);
        let bad = [Adjustment {
            asset: 2,
            row: 0,
            ratio: 0.5,
        }];
        let xb = Input {
            values: &x,
            adjustments: &bad,
        };
        assert!(matches!(
            rolling_stat(&Stat::Pearson, xb, input(&y), shape, 3),
            Err(PipelineError::Shape(_))
        ));
    }

    #[test]
    fn linear_regression_matches_scipy() {
        // scipy.stats.linregress(x=[1, 2, 3, 4, 5, 6], y=[2.1, 3.9, 6.2, 7.8, 10.1, 12.2])
        let y = [2.1, 3.9, 6.2, 7.8, 10.1, 12.2];
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let shape = Shape { rows: 6, assets: 1 };
        let r = rolling_stat(&Stat::LinearRegression, input(&y), input(&x), shape, 6).unwrap();
        let want = [
            -0.019_999_999_999_998_685,
            2.019_999_999_999_999_6,
            0.999_104_932_480_817_9,
            1.201_360_256_021_784_7e-6,
            0.042_761_798_705_990_06,
        ];
        assert_close(r[0][0], want[0], 1e-12);
        for k in 1..5 {
            assert_close(r[k][0], want[k], 1e-12);
        }
        // window 2: p is 1 when y is flat, 0 otherwise; stderr 0
        let r = rolling_stat(&Stat::LinearRegression, input(&y), input(&x), shape, 2).unwrap();
        assert_eq!((r[3][0], r[4][0]), (0.0, 0.0));
        // all-equal x: scipy refuses, we give NaN
        let r = rolling_stat(
            &Stat::LinearRegression,
            input(&y),
            input(&[2.0; 6]),
            shape,
            3,
        )
        .unwrap();
        assert!(r.iter().all(|m| m.iter().all(|v| v.is_nan())));
        // a NaN anywhere, or a single row: all five NaN (scipy's nan_policy)
        let mut y_nan = y;
        y_nan[4] = f64::NAN;
        let r = rolling_stat(&Stat::LinearRegression, input(&y_nan), input(&x), shape, 2).unwrap();
        assert!(r.iter().all(|m| m[3].is_nan() && !m[0].is_nan()));
        let r = rolling_stat(&Stat::LinearRegression, input(&y), input(&x), shape, 1).unwrap();
        assert!(r.iter().all(|m| m.iter().all(|v| v.is_nan())));
        // flat y: r is NaN (0/0), slope 0
        let r = rolling_stat(
            &Stat::LinearRegression,
            input(&[1.5; 6]),
            input(&x),
            shape,
            4,
        )
        .unwrap();
        assert!(r[2][0].is_nan());
        assert_eq!(r[1][0], 0.0);
    }

    #[test]
    fn simple_beta_drops_missing_rows_up_to_the_allowance() {
        // returns of 1 asset vs the target, one missing row out of 4
        let dep = [0.02, f64::NAN, 0.01, -0.03];
        let ind = [0.01, 0.02, 0.00, -0.02];
        let shape = Shape { rows: 4, assets: 1 };
        let beta = |pct: f64| {
            rolling_stat(
                &Stat::SimpleBeta {
                    allowed_missing_percentage: pct,
                },
                input(&dep),
                input(&ind),
                shape,
                4,
            )
            .unwrap()[0][0]
        };
        // rows 0, 2, 3: x = [0.01, 0, -0.02], y = [0.02, 0.01, -0.03]
        let mx = (0.01 + 0.0 + -0.02) / 3.0;
        let rx = [0.01 - mx, 0.0 - mx, -0.02 - mx];
        let cov = (rx[0] * 0.02 + rx[1] * 0.01 + rx[2] * -0.03) / 3.0;
        let var = (rx[0] * rx[0] + rx[1] * rx[1] + rx[2] * rx[2]) / 3.0;
        assert_eq!(beta(0.25), cov / var); // int(0.25 * 4) = 1 missing allowed
        assert!(beta(0.2).is_nan()); // int(0.8) = 0
    }

    #[test]
    fn windows_out_of_range_are_refused() {
        let x = [1.0; 6];
        let shape = Shape { rows: 3, assets: 2 };
        for w in [0, 4] {
            assert!(matches!(
                rolling_stat(&Stat::Pearson, input(&x), input(&x), shape, w),
                Err(PipelineError::Window(_))
            ));
        }
        assert!(matches!(
            rolling_stat(&Stat::Pearson, input(&x[..5]), input(&x), shape, 2),
            Err(PipelineError::Shape(_))
        ));
    }

    #[test]
    fn numpy_sum_is_pairwise() {
        let a: Vec<f64> = (0..300).map(|i| 0.1 * f64::from(i) + 1e-3).collect();
        let mut s = 0.0;
        for v in &a {
            s += v;
        }
        assert!((numpy_sum(&a) - s).abs() < 1e-9);
        assert_eq!(numpy_sum(&a[..5]), a[..5].iter().sum::<f64>());
    }
}
