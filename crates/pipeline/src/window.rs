//! Rolling factors: one value per asset per window.
//!
//! Each [`Rolling`] kind is one of zipline's built-in `CustomFactor`s (basic.py,
//! technical.py), computed with zipline's numerics: its `nan*` reductions (bottleneck's,
//! which zipline uses: NaN skipped, an all-NaN window gives NaN, `nansum` of one gives 0)
//! where it calls them, NaN-propagating arithmetic where it calls plain numpy, `ddof = 0`
//! standard deviations, and the same formulas. Sums run left to right in window order,
//! as numpy's axis-0 reductions over several assets do; the one exception is a sum of
//! weights (EWMA normalisers), which numpy takes pairwise over a 1-D array.
//!
//! [`rolling`] computes a kind over every window of `[rows × assets]` inputs, each
//! window adjusted as of its last row through [`Series`], in parallel over assets: the
//! common kinds eight assets at a time, read from the time-major input as it is (one
//! SIMD lane per asset), the others asset by asset from a transposed copy.

// the lane kernels inline into their AVX2 caller, so that they compile for it
#![allow(clippy::inline_always)]

use std::collections::HashMap;
use std::hash::BuildHasher;

use rayon::prelude::*;

use crate::{Adjustment, Input, PipelineError, Series, Shape};

/// A rolling factor of zipline's, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rolling {
    /// `Latest`: the window's last value.
    Latest,
    /// `Returns`: `(x[-1] - x[0]) / x[0]`.
    Returns,
    /// `PercentChange`: `(x[-1] - x[0]) / |x[0]|`.
    PercentChange,
    /// `SimpleMovingAverage`: `nanmean`.
    SimpleMovingAverage,
    /// `ExponentialWeightedMovingAverage`: `average` with weights
    /// `decay_rate ** [w + 1, w, ..., 2]` (NaN propagates).
    Ewma { decay_rate: f64 },
    /// `ExponentialWeightedMovingStdDev`: the weighted standard deviation with zipline's
    /// bias correction `S² / (S² − Σw²)`.
    Ewmstd { decay_rate: f64 },
    /// `LinearWeightedMovingAverage`: `nansum(x · [1..=w]) / (w (w + 1) / 2)`.
    LinearWeightedMovingAverage,
    /// `VWAP`: `nansum(close · volume) / nansum(volume)`.
    Vwap,
    /// `AverageDollarVolume`: `nansum(close · volume) / w`.
    AverageDollarVolume,
    /// `RSI`: `100 − 100 / (1 + ups / downs)` of the `nanmean`s of the clipped diffs.
    Rsi,
    /// `AnnualizedVolatility`: `nanstd(returns) · annualization_factor ** 0.5`.
    AnnualizedVolatility { annualization_factor: f64 },
    /// `MaxDrawdown`: from the running (NaN-skipping) maximum.
    MaxDrawdown,
    /// `BollingerBands`: `nanmean ∓ k · nanstd` (outputs lower, middle, upper).
    BollingerBands { k: f64 },
    /// `TrueRange` (window 2): `nanmax(h − l, |h − c_prev|, |l − c_prev|)`.
    TrueRange,
    /// `FastStochasticOscillator`: `(close[-1] − nanmin(low)) / (nanmax(high) − nanmin(low)) · 100`.
    FastStochasticOscillator,
    /// `Aroon`: the positions of the lowest low and the highest high, as percents of
    /// `w − 1` (outputs down, up).
    Aroon,
    /// `MovingAverageConvergenceDivergenceSignal` (window `slow + signal − 1`).
    MacdSignal {
        fast_period: usize,
        slow_period: usize,
        signal_period: usize,
    },
    /// `IchimokuKinkoHyo` (outputs tenkan_sen, kijun_sen, senkou_span_a, senkou_span_b,
    /// chikou_span). A length of 0 means the whole window (numpy's `x[-0:]`).
    IchimokuKinkoHyo {
        tenkan_sen_length: usize,
        kijun_sen_length: usize,
        chikou_span_length: usize,
    },
    /// `RateOfChangePercentage`: `(x[-1] − x[0]) / x[0] · 100`.
    RateOfChangePercentage,
}

/// The kinds [`Rolling::parse`] knows, by name.
pub const KINDS: &[&str] = &[
    "latest",
    "returns",
    "percent_change",
    "simple_moving_average",
    "ewma",
    "ewmstd",
    "linear_weighted_moving_average",
    "vwap",
    "average_dollar_volume",
    "rsi",
    "annualized_volatility",
    "max_drawdown",
    "bollinger_bands",
    "true_range",
    "fast_stochastic_oscillator",
    "aroon",
    "macd_signal",
    "ichimoku_kinko_hyo",
    "rate_of_change_percentage",
];

/// A kind's parameters, read one by one and checked for leftovers.
struct Params<'a, S> {
    kind: &'a str,
    map: &'a HashMap<String, f64, S>,
}

impl<S: BuildHasher> Params<'_, S> {
    fn get(&self, name: &str) -> Result<f64, PipelineError> {
        self.map.get(name).copied().ok_or_else(|| {
            PipelineError::Parameter(format!("{} needs the parameter {name}", self.kind))
        })
    }

    fn bad(&self, name: &str, value: f64, why: &str) -> PipelineError {
        PipelineError::Parameter(format!("{} parameter {name} = {value} {why}", self.kind))
    }

    /// A finite real.
    fn real(&self, name: &str) -> Result<f64, PipelineError> {
        let v = self.get(name)?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.bad(name, v, "is not finite"))
        }
    }

    /// A whole number `>= min`.
    fn count(&self, name: &str, min: usize) -> Result<usize, PipelineError> {
        let v = self.get(name)?;
        if v.fract() != 0.0 || !(min as f64..=f64::from(u32::MAX)).contains(&v) {
            return Err(self.bad(name, v, &format!("is not a whole number >= {min}")));
        }
        Ok(v as usize)
    }

    /// An EWMA's decay rate, in zipline's domain `0 < decay_rate <= 1`.
    fn decay_rate(&self) -> Result<f64, PipelineError> {
        let v = self.get("decay_rate")?;
        if v > 0.0 && v <= 1.0 {
            Ok(v)
        } else {
            Err(self.bad("decay_rate", v, "is not in (0, 1]"))
        }
    }

    fn no_others(&self, known: &[&str]) -> Result<(), PipelineError> {
        let mut unknown: Vec<&str> = self
            .map
            .keys()
            .map(String::as_str)
            .filter(|k| !known.contains(k))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort_unstable();
        Err(PipelineError::Parameter(format!(
            "{} takes no parameter {} (its parameters: {})",
            self.kind,
            unknown.join(", "),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )))
    }
}

impl Rolling {
    /// The kind named `kind` (one of [`KINDS`]) with its parameters taken from `params`:
    /// each one it needs must be there and valid, and no other may be.
    pub fn parse<S: BuildHasher>(
        kind: &str,
        params: &HashMap<String, f64, S>,
    ) -> Result<Self, PipelineError> {
        use Rolling as R;
        let p = Params { kind, map: params };
        let rolling = match kind {
            "latest" => R::Latest,
            "returns" => R::Returns,
            "percent_change" => R::PercentChange,
            "simple_moving_average" => R::SimpleMovingAverage,
            "ewma" => R::Ewma {
                decay_rate: p.decay_rate()?,
            },
            "ewmstd" => R::Ewmstd {
                decay_rate: p.decay_rate()?,
            },
            "linear_weighted_moving_average" => R::LinearWeightedMovingAverage,
            "vwap" => R::Vwap,
            "average_dollar_volume" => R::AverageDollarVolume,
            "rsi" => R::Rsi,
            "annualized_volatility" => {
                let annualization_factor = p.real("annualization_factor")?;
                if annualization_factor < 0.0 {
                    return Err(p.bad("annualization_factor", annualization_factor, "< 0"));
                }
                R::AnnualizedVolatility {
                    annualization_factor,
                }
            }
            "max_drawdown" => R::MaxDrawdown,
            "bollinger_bands" => R::BollingerBands { k: p.real("k")? },
            "true_range" => R::TrueRange,
            "fast_stochastic_oscillator" => R::FastStochasticOscillator,
            "aroon" => R::Aroon,
            "macd_signal" => {
                // A period of 1 has decay rate 0 and all-zero weights: zipline's
                // `average` divides by zero. The slow period exceeds the fast one.
                let fast_period = p.count("fast_period", 2)?;
                let slow_period = p.count("slow_period", 1)?;
                let signal_period = p.count("signal_period", 2)?;
                if slow_period <= fast_period {
                    return Err(PipelineError::Parameter(format!(
                        "{kind}: slow_period ({slow_period}) must be greater than \
                         fast_period ({fast_period})"
                    )));
                }
                R::MacdSignal {
                    fast_period,
                    slow_period,
                    signal_period,
                }
            }
            "ichimoku_kinko_hyo" => R::IchimokuKinkoHyo {
                tenkan_sen_length: p.count("tenkan_sen_length", 0)?,
                kijun_sen_length: p.count("kijun_sen_length", 0)?,
                chikou_span_length: p.count("chikou_span_length", 0)?,
            },
            "rate_of_change_percentage" => R::RateOfChangePercentage,
            _ => {
                return Err(PipelineError::Parameter(format!(
                    "unknown rolling kind {kind:?} (known: {})",
                    KINDS.join(", ")
                )))
            }
        };
        p.no_others(rolling.param_names())?;
        Ok(rolling)
    }

    /// The kind's name, as [`Rolling::parse`] takes it.
    pub fn name(&self) -> &'static str {
        use Rolling as R;
        match self {
            R::Latest => "latest",
            R::Returns => "returns",
            R::PercentChange => "percent_change",
            R::SimpleMovingAverage => "simple_moving_average",
            R::Ewma { .. } => "ewma",
            R::Ewmstd { .. } => "ewmstd",
            R::LinearWeightedMovingAverage => "linear_weighted_moving_average",
            R::Vwap => "vwap",
            R::AverageDollarVolume => "average_dollar_volume",
            R::Rsi => "rsi",
            R::AnnualizedVolatility { .. } => "annualized_volatility",
            R::MaxDrawdown => "max_drawdown",
            R::BollingerBands { .. } => "bollinger_bands",
            R::TrueRange => "true_range",
            R::FastStochasticOscillator => "fast_stochastic_oscillator",
            R::Aroon => "aroon",
            R::MacdSignal { .. } => "macd_signal",
            R::IchimokuKinkoHyo { .. } => "ichimoku_kinko_hyo",
            R::RateOfChangePercentage => "rate_of_change_percentage",
        }
    }

    /// The names of the kind's parameters.
    pub fn param_names(&self) -> &'static [&'static str] {
        use Rolling as R;
        match self {
            R::Ewma { .. } | R::Ewmstd { .. } => &["decay_rate"],
            R::AnnualizedVolatility { .. } => &["annualization_factor"],
            R::BollingerBands { .. } => &["k"],
            R::MacdSignal { .. } => &["fast_period", "slow_period", "signal_period"],
            R::IchimokuKinkoHyo { .. } => &[
                "tenkan_sen_length",
                "kijun_sen_length",
                "chikou_span_length",
            ],
            _ => &[],
        }
    }

    /// The names of the kind's inputs, in zipline's order.
    pub fn input_names(&self) -> &'static [&'static str] {
        use Rolling as R;
        match self {
            R::Returns | R::Rsi | R::BollingerBands { .. } | R::MacdSignal { .. } => &["close"],
            R::Vwap | R::AverageDollarVolume => &["close", "volume"],
            R::AnnualizedVolatility { .. } => &["returns"],
            R::TrueRange | R::IchimokuKinkoHyo { .. } => &["high", "low", "close"],
            R::FastStochasticOscillator => &["close", "low", "high"],
            R::Aroon => &["low", "high"],
            _ => &["x"],
        }
    }

    /// The names of the kind's outputs, in order.
    pub fn output_names(&self) -> &'static [&'static str] {
        use Rolling as R;
        match self {
            R::BollingerBands { .. } => &["lower", "middle", "upper"],
            R::Aroon => &["down", "up"],
            R::IchimokuKinkoHyo { .. } => &[
                "tenkan_sen",
                "kijun_sen",
                "senkou_span_a",
                "senkou_span_b",
                "chikou_span",
            ],
            _ => &["value"],
        }
    }

    pub fn n_inputs(&self) -> usize {
        self.input_names().len()
    }

    pub fn n_outputs(&self) -> usize {
        self.output_names().len()
    }

    /// The shortest window the kind takes.
    pub fn min_window(&self) -> usize {
        use Rolling as R;
        match *self {
            R::Returns | R::PercentChange | R::TrueRange => 2,
            R::MacdSignal {
                slow_period,
                signal_period,
                ..
            } => slow_period + signal_period - 1,
            R::IchimokuKinkoHyo {
                tenkan_sen_length,
                kijun_sen_length,
                chikou_span_length,
            } => tenkan_sen_length
                .max(kijun_sen_length)
                .max(chikou_span_length + 1),
            _ => 1,
        }
    }

    /// The longest window the kind takes, if it has one: zipline fixes TrueRange's at 2
    /// and MACD's at `slow_period + signal_period − 1`.
    pub fn max_window(&self) -> Option<usize> {
        match self {
            Rolling::TrueRange | Rolling::MacdSignal { .. } => Some(self.min_window()),
            _ => None,
        }
    }

    /// Whether the kind takes windows of length `window`.
    pub fn check_window(&self, window: usize) -> Result<(), PipelineError> {
        let min = self.min_window();
        let fits = window >= min.max(1) && self.max_window().is_none_or(|max| window <= max);
        if fits {
            return Ok(());
        }
        let wanted = match self.max_window() {
            Some(max) => format!("a window of {max}"),
            None => format!("a window of at least {min}"),
        };
        let why = match self {
            Rolling::IchimokuKinkoHyo { .. } => {
                " (every length <= window, chikou_span_length < window)"
            }
            Rolling::MacdSignal { .. } => " (slow_period + signal_period - 1)",
            _ => "",
        };
        Err(PipelineError::Window(format!(
            "{} takes {wanted}{why}, not {window}",
            self.name()
        )))
    }
}

/// Weights of a weighted average, with their (pairwise) sum.
#[derive(Debug, Clone, Default)]
struct Weights {
    w: Vec<f64>,
    sum: f64,
}

impl Weights {
    /// zipline's `exponential_weights(length, decay_rate)`:
    /// `decay_rate ** [length + 1, length, ..., 2]`.
    fn exponential(length: usize, decay_rate: f64) -> Weights {
        let w: Vec<f64> = (0..length)
            .map(|i| decay_rate.powf((length + 1 - i) as f64))
            .collect();
        let sum = pairwise_sum(&w);
        Weights { w, sum }
    }

    /// The EWMA weights of zipline's MACD for a period: decay rate `1 − 2 / (1 + period)`.
    fn span(period: usize) -> Weights {
        Weights::exponential(period, 1.0 - (2.0 / (1.0 + period as f64)))
    }

    /// numpy's `average(xs, weights)`: NaN propagates.
    fn average(&self, xs: &[f64]) -> f64 {
        debug_assert_eq!(xs.len(), self.w.len());
        xs.iter().zip(&self.w).fold(0.0, |s, (x, w)| s + x * w) / self.sum
    }

    /// numpy's `average` refuses weights summing to zero.
    fn check(&self, kind: &Rolling) -> Result<(), PipelineError> {
        if self.sum == 0.0 {
            Err(PipelineError::Parameter(format!(
                "{}: the exponential weights of a window of {} sum to zero",
                kind.name(),
                self.w.len()
            )))
        } else {
            Ok(())
        }
    }
}

/// What a kind computes once for all windows of a given length.
#[derive(Debug, Clone, Default)]
struct Prepared {
    /// EWMA / EWMSTD weights, or MACD's slow EWMA weights.
    a: Weights,
    /// MACD's fast EWMA weights.
    b: Weights,
    /// MACD's signal EWMA weights.
    c: Weights,
    /// EWMSTD's bias correction `S² / (S² − Σw²)`.
    bias: f64,
}

impl Prepared {
    fn new(kind: &Rolling, window: usize) -> Result<Prepared, PipelineError> {
        let mut p = Prepared::default();
        match *kind {
            Rolling::Ewma { decay_rate } => {
                p.a = Weights::exponential(window, decay_rate);
                p.a.check(kind)?;
            }
            Rolling::Ewmstd { decay_rate } => {
                p.a = Weights::exponential(window, decay_rate);
                p.a.check(kind)?;
                let squared: Vec<f64> = p.a.w.iter().map(|w| w * w).collect();
                let sws = p.a.sum * p.a.sum;
                p.bias = sws / (sws - pairwise_sum(&squared));
            }
            Rolling::MacdSignal {
                fast_period,
                slow_period,
                signal_period,
            } => {
                p.a = Weights::span(slow_period);
                p.b = Weights::span(fast_period);
                p.c = Weights::span(signal_period);
                for w in [&p.a, &p.b, &p.c] {
                    w.check(kind)?;
                }
            }
            _ => {}
        }
        Ok(p)
    }
}

/// numpy's pairwise summation of a contiguous 1-D array (`np.sum`): blocks of up to
/// 128 summed with eight interleaved accumulators, larger arrays halved recursively.
fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(-0.0, |s, x| s + x)
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (r, x) in r.iter_mut().zip(chunk) {
                *r += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `nansum`: the non-NaN values' sum (0 if none).
fn nansum(xs: impl Iterator<Item = f64>) -> f64 {
    xs.filter(|x| !x.is_nan()).fold(0.0, |s, x| s + x)
}

/// `nanmean`: the non-NaN values' mean (NaN if none).
fn nanmean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = xs
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// `nanstd(ddof=0)`: the mean of the non-NaN values, then their squared deviations'
/// mean (NaN if none).
fn nanstd(xs: &[f64]) -> f64 {
    let mean = nanmean(xs.iter().copied());
    if mean.is_nan() {
        // no values, or both infinities among them: every deviation would be NaN
        return f64::NAN;
    }
    let (sum, count) = xs
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, c), x| {
            let d = x - mean;
            (s + d * d, c + 1)
        });
    (sum / count as f64).sqrt()
}

/// `nanmax`: the largest non-NaN value (NaN if none).
fn nanmax(xs: impl Iterator<Item = f64>) -> f64 {
    xs.filter(|x| !x.is_nan())
        .reduce(f64::max)
        .unwrap_or(f64::NAN)
}

/// `nanmin`: the smallest non-NaN value (NaN if none).
fn nanmin(xs: impl Iterator<Item = f64>) -> f64 {
    xs.filter(|x| !x.is_nan())
        .reduce(f64::min)
        .unwrap_or(f64::NAN)
}

/// numpy's `max`: NaN if any value is NaN.
fn max_propagating(xs: &[f64]) -> f64 {
    if xs.iter().any(|x| x.is_nan()) {
        f64::NAN
    } else {
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// numpy's `min`: NaN if any value is NaN.
fn min_propagating(xs: &[f64]) -> f64 {
    if xs.iter().any(|x| x.is_nan()) {
        f64::NAN
    } else {
        xs.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

/// bottleneck's `nanargmax`: the first position of the largest non-NaN value (`None`
/// where bottleneck raises, on an all-NaN window).
fn nanargmax(xs: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &x) in xs.iter().enumerate() {
        if !x.is_nan() && best.is_none_or(|b| x > xs[b]) {
            best = Some(i);
        }
    }
    best
}

/// bottleneck's `nanargmin`: the first position of the smallest non-NaN value.
fn nanargmin(xs: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &x) in xs.iter().enumerate() {
        if !x.is_nan() && best.is_none_or(|b| x < xs[b]) {
            best = Some(i);
        }
    }
    best
}

/// The last `len` values of `xs`, or all of them for `len == 0` (numpy's `xs[-0:]`).
fn tail(xs: &[f64], len: usize) -> &[f64] {
    if len == 0 {
        xs
    } else {
        &xs[xs.len() - len..]
    }
}

impl Rolling {
    /// The kind's outputs for one window of each input (all of one length), into `out`
    /// (one slot per output). `scratch` is reused between windows.
    // `(a + b) / 2` as numpy computes it (`f64::midpoint` avoids overflow; numpy does not).
    #[allow(clippy::manual_midpoint)]
    fn compute(&self, prep: &Prepared, x: &[&[f64]], scratch: &mut Vec<f64>, out: &mut [f64]) {
        use Rolling as R;
        let v = x[0];
        let w = v.len();
        let first = v[0];
        let last = v[w - 1];
        match *self {
            R::Latest => out[0] = last,
            R::Returns => out[0] = (last - first) / first,
            R::PercentChange => out[0] = (last - first) / first.abs(),
            R::SimpleMovingAverage => out[0] = nanmean(v.iter().copied()),
            R::Ewma { .. } => out[0] = prep.a.average(v),
            R::Ewmstd { .. } => {
                let mean = prep.a.average(v);
                scratch.clear();
                scratch.extend(v.iter().map(|x| (x - mean) * (x - mean)));
                let variance = prep.a.average(scratch);
                out[0] = (variance * prep.bias).sqrt();
            }
            R::LinearWeightedMovingAverage => {
                let normalizer = (w * (w + 1)) as f64 / 2.0;
                out[0] = nansum(v.iter().enumerate().map(|(i, x)| x * (i + 1) as f64)) / normalizer;
            }
            R::Vwap => {
                let volume = x[1];
                let dollars = nansum(v.iter().zip(volume).map(|(c, q)| c * q));
                out[0] = dollars / nansum(volume.iter().copied());
            }
            R::AverageDollarVolume => {
                let volume = x[1];
                out[0] = nansum(v.iter().zip(volume).map(|(c, q)| c * q)) / w as f64;
            }
            R::Rsi => {
                // np.clip keeps NaN, so NaN diffs drop out of both means
                let diffs = v.windows(2).map(|p| p[1] - p[0]);
                let ups = nanmean(diffs.clone().map(|d| if d < 0.0 { 0.0 } else { d }));
                let downs = nanmean(diffs.map(|d| if d > 0.0 { 0.0 } else { d })).abs();
                out[0] = 100.0 - (100.0 / (1.0 + (ups / downs)));
            }
            R::AnnualizedVolatility {
                annualization_factor,
            } => out[0] = nanstd(v) * annualization_factor.powf(0.5),
            R::MaxDrawdown => {
                // drawdown from the running NaN-skipping maximum (np.fmax.accumulate); NaN
                // drawdowns count as -inf; the first largest one ends the drawdown
                let mut peak = f64::NAN;
                scratch.clear();
                scratch.extend(v.iter().map(|&x| {
                    peak = peak.max(x);
                    let d = peak - x;
                    if d.is_nan() {
                        f64::NEG_INFINITY
                    } else {
                        d
                    }
                }));
                let end = nanargmax(scratch).unwrap_or(0);
                let top = nanmax(v[..=end].iter().copied());
                out[0] = (top - v[end]) / v[end];
            }
            R::BollingerBands { k } => {
                let difference = k * nanstd(v);
                let middle = nanmean(v.iter().copied());
                out[0] = middle - difference;
                out[1] = middle;
                out[2] = middle + difference;
            }
            R::TrueRange => {
                let (high, low, close) = (x[0], x[1], x[2]);
                let (h, l, c) = (high[w - 1], low[w - 1], close[w - 2]);
                out[0] = nanmax([h - l, (h - c).abs(), (l - c).abs()].into_iter());
            }
            R::FastStochasticOscillator => {
                let (low, high) = (x[1], x[2]);
                let ll = nanmin(low.iter().copied());
                let hh = nanmax(high.iter().copied());
                out[0] = ((last - ll) / (hh - ll)) * 100.0;
            }
            R::Aroon => {
                let (low, high) = (x[0], x[1]);
                let span = (w - 1) as f64;
                let percent = |i: Option<usize>| i.map_or(f64::NAN, |i| (100 * i) as f64 / span);
                out[0] = percent(nanargmin(low));
                out[1] = percent(nanargmax(high));
            }
            R::MacdSignal {
                fast_period,
                slow_period,
                signal_period,
            } => {
                // the EWMAs of the windows ending at the window's last `signal_period`
                // rows, all cut from the one window adjusted as of its last row
                scratch.clear();
                scratch.extend((0..signal_period).map(|t| {
                    let end = slow_period + t;
                    let slow = prep.a.average(&v[end - slow_period..end]);
                    let fast = prep.b.average(&v[end - fast_period..end]);
                    fast - slow
                }));
                out[0] = prep.c.average(scratch);
            }
            R::IchimokuKinkoHyo {
                tenkan_sen_length,
                kijun_sen_length,
                chikou_span_length,
            } => {
                let (high, low, close) = (x[0], x[1], x[2]);
                let mid = |len: usize| {
                    (max_propagating(tail(high, len)) + min_propagating(tail(low, len))) / 2.0
                };
                let tenkan = mid(tenkan_sen_length);
                let kijun = mid(kijun_sen_length);
                out[0] = tenkan;
                out[1] = kijun;
                out[2] = (tenkan + kijun) / 2.0;
                out[3] = mid(0);
                out[4] = close[chikou_span_length];
            }
            R::RateOfChangePercentage => out[0] = ((last - first) / first) * 100.0,
        }
    }
}

/// The most inputs of any kind.
const MAX_INPUTS: usize = 3;

/// Assets computed together by [`Rolling::compute_lanes`]: one block of a time-major
/// matrix's columns.
const LANES: usize = 8;

/// Row `start + i` of a block (`[rows × LANES]`, row-major): one value per lane.
#[inline(always)]
fn lane_row(v: &[f64], start: usize, i: usize) -> [f64; LANES] {
    let mut row = [0.0; LANES];
    row.copy_from_slice(&v[(start + i) * LANES..(start + i + 1) * LANES]);
    row
}

/// For each of [`LANES`] lanes, the sum and count of the non-NaN values of rows `0..n`
/// (`$values`: the row's `[f64; LANES]`, an expression of `$i`), summed in order of `$i`
/// from `0.0`: per lane exactly the left-to-right `nansum` of one window (adding `0.0` in
/// place of a skipped NaN changes no sum that starts at `+0.0`), the lanes' independent
/// sums interleaved so that they overlap. A macro, not a function taking a closure: the
/// loop must compile into its caller, whose target features (AVX2) it then uses.
macro_rules! lane_nansums {
    ($n:expr, $i:ident => $values:expr) => {{
        let mut sums = [0.0f64; LANES];
        let mut counts = [0.0f64; LANES];
        for $i in 0..$n {
            let xs: [f64; LANES] = $values;
            nansum_step(&mut sums, &mut counts, &xs);
        }
        (sums, counts)
    }};
}

/// One row of [`lane_nansums!`]: each lane's value added to its sum and counted, where
/// it is not NaN.
#[inline(always)]
fn nansum_step(sums: &mut [f64; LANES], counts: &mut [f64; LANES], xs: &[f64; LANES]) {
    for l in 0..LANES {
        let keep = !xs[l].is_nan();
        sums[l] += if keep { xs[l] } else { 0.0 };
        counts[l] += if keep { 1.0 } else { 0.0 };
    }
}

/// One row of [`lane_nanstds`]'s second pass: each lane's squared deviation from its
/// mean added, where the value is not NaN (the values' NaNs are skipped, not those of
/// the deviations: inf - inf).
#[inline(always)]
fn square_step(squares: &mut [f64; LANES], means: &[f64; LANES], xs: &[f64; LANES]) {
    for l in 0..LANES {
        let d = xs[l] - means[l];
        squares[l] += if xs[l].is_nan() { 0.0 } else { d * d };
    }
}

/// [`nanstd`] per lane from the sum of squared deviations, the count and the mean: NaN
/// where the mean is (an all-NaN window).
#[inline(always)]
fn lane_stds(squares: &[f64; LANES], counts: &[f64; LANES], means: &[f64; LANES]) -> [f64; LANES] {
    let mut out = [f64::NAN; LANES];
    for l in 0..LANES {
        if !means[l].is_nan() {
            out[l] = (squares[l] / counts[l]).sqrt();
        }
    }
    out
}

/// Row `i` of two series multiplied lane by lane (`close · volume`).
#[inline(always)]
fn lane_products(a: &[f64], b: &[f64], start: usize, i: usize) -> [f64; LANES] {
    let (x, y) = (lane_row(a, start, i), lane_row(b, start, i));
    let mut p = [0.0; LANES];
    for l in 0..LANES {
        p[l] = x[l] * y[l];
    }
    p
}

/// `sum / count` per lane, NaN where the count is 0 (`nanmean` of an all-NaN window).
fn lane_means(sums: [f64; LANES], counts: [f64; LANES]) -> [f64; LANES] {
    std::array::from_fn(|l| {
        if counts[l] == 0.0 {
            f64::NAN
        } else {
            sums[l] / counts[l]
        }
    })
}

/// [`nanstd`] of the windows of rows `start .. start + w` of a block, lane by lane.
#[inline(always)]
fn lane_nanstds(v: &[f64], start: usize, w: usize) -> [f64; LANES] {
    let (sums, counts) = lane_nansums!(w, i => lane_row(v, start, i));
    let means = lane_means(sums, counts);
    let mut squares = [0.0f64; LANES];
    for i in 0..w {
        square_step(&mut squares, &means, &lane_row(v, start, i));
    }
    lane_stds(&squares, &counts, &means)
}

/// Windows [`lane_nanstds_quad`] computes together.
const QUAD: usize = 4;

/// One `[f64; LANES]` for each of [`QUAD`] windows.
type Quad = [[f64; LANES]; QUAD];

/// Walk the rows of the [`QUAD`] windows of `$w` rows (`$w >= QUAD`) starting at row
/// offsets `0 .. QUAD` (window `q` holds offsets `q ..= q + $w - 1`): for every offset
/// `$i` in order, `$row` once (bound to `$x`), then `$body` for every window `$q` that
/// holds it. Each window sees its rows in order, so sums kept per window are the same
/// operations as the window's own loop; in the middle rows every window takes the row,
/// and the compiler unrolls that loop into four independent chains of additions. A
/// macro, as [`lane_nansums!`]: the loops must compile into the caller and its target
/// features.
macro_rules! quad_rows {
    ($w:expr, |$i:ident| $row:expr, |$x:ident, $q:ident| $body:block) => {{
        let w: usize = $w;
        debug_assert!(w >= QUAD);
        for $i in 0..QUAD - 1 {
            let $x = $row;
            for $q in ($i + 1).saturating_sub(w)..($i + 1).min(QUAD) $body
        }
        for $i in QUAD - 1..w {
            let $x = $row;
            for $q in 0..QUAD $body
        }
        for $i in w..w + QUAD - 1 {
            let $x = $row;
            for $q in ($i + 1).saturating_sub(w)..($i + 1).min(QUAD) $body
        }
    }};
}

/// [`lane_nanstds`] of the [`QUAD`] windows starting at rows `start .. start + QUAD`
/// (`w >= QUAD`), each the same operations in the same order ([`quad_rows!`]), with each
/// window's [`lane_nansums!`] sums and counts: `(stds, sums, counts)`, one
/// `[f64; LANES]` a window.
#[inline(always)]
fn lane_nanstds_quad(v: &[f64], start: usize, w: usize) -> (Quad, Quad, Quad) {
    let mut sums: Quad = [[0.0; LANES]; QUAD];
    let mut counts: Quad = [[0.0; LANES]; QUAD];
    quad_rows!(w, |i| lane_row(v, start, i), |xs, q| {
        nansum_step(&mut sums[q], &mut counts[q], &xs);
    });
    let means: Quad = std::array::from_fn(|q| lane_means(sums[q], counts[q]));
    let mut squares: Quad = [[0.0; LANES]; QUAD];
    quad_rows!(w, |i| lane_row(v, start, i), |xs, q| {
        square_step(&mut squares[q], &means[q], &xs);
    });
    let stds = std::array::from_fn(|q| lane_stds(&squares[q], &counts[q], &means[q]));
    (stds, sums, counts)
}

impl Rolling {
    /// Whether [`Rolling::compute_lanes`] computes this kind.
    fn has_lanes(&self) -> bool {
        use Rolling as R;
        matches!(
            self,
            R::Latest
                | R::Returns
                | R::PercentChange
                | R::RateOfChangePercentage
                | R::SimpleMovingAverage
                | R::LinearWeightedMovingAverage
                | R::Vwap
                | R::AverageDollarVolume
                | R::Rsi
                | R::AnnualizedVolatility { .. }
                | R::BollingerBands { .. }
        )
    }

    /// Whether [`Rolling::compute_lanes_quad`] computes this kind's windows four at a
    /// time (the kinds whose windows take two passes: most of a pipeline's kernel time).
    fn has_quads(&self) -> bool {
        matches!(
            self,
            Rolling::AnnualizedVolatility { .. } | Rolling::BollingerBands { .. }
        )
    }

    /// [`Rolling::compute_lanes`] of the [`QUAD`] windows starting at `start ..
    /// start + QUAD` (`w >= QUAD`), the same operations in the same order for each:
    /// `out[window][output][lane]`. Only for the kinds of [`Rolling::has_quads`].
    #[inline(always)]
    fn compute_lanes_quad(
        &self,
        x: &[&[f64]],
        start: usize,
        w: usize,
        out: &mut [[[f64; LANES]; 3]; QUAD],
    ) {
        let (stds, sums, counts) = lane_nanstds_quad(x[0], start, w);
        match *self {
            Rolling::AnnualizedVolatility {
                annualization_factor,
            } => {
                let factor = annualization_factor.powf(0.5);
                for q in 0..QUAD {
                    out[q][0] = stds[q].map(|s| s * factor);
                }
            }
            Rolling::BollingerBands { k } => {
                for q in 0..QUAD {
                    let middles = lane_means(sums[q], counts[q]);
                    for l in 0..LANES {
                        let difference = k * stds[q][l];
                        out[q][0][l] = middles[l] - difference;
                        out[q][1][l] = middles[l];
                        out[q][2][l] = middles[l] + difference;
                    }
                }
            }
            _ => unreachable!("compute_lanes_quad of a kind without quads"),
        }
    }

    /// The outputs of the windows of rows `start .. start + w` of each lane of the
    /// unadjusted blocks `x` (one per input, each `[rows × LANES]`), as
    /// [`Rolling::compute`] computes each lane's window, operation for operation:
    /// `out[output][lane]`. Only for the kinds of [`Rolling::has_lanes`].
    #[inline(always)]
    fn compute_lanes(&self, x: &[&[f64]], start: usize, w: usize, out: &mut [[f64; LANES]]) {
        use Rolling as R;
        let v = x[0];
        match *self {
            R::Latest => out[0] = lane_row(v, start, w - 1),
            R::Returns => {
                let (first, last) = (lane_row(v, start, 0), lane_row(v, start, w - 1));
                out[0] = std::array::from_fn(|l| (last[l] - first[l]) / first[l]);
            }
            R::PercentChange => {
                let (first, last) = (lane_row(v, start, 0), lane_row(v, start, w - 1));
                out[0] = std::array::from_fn(|l| (last[l] - first[l]) / first[l].abs());
            }
            R::RateOfChangePercentage => {
                let (first, last) = (lane_row(v, start, 0), lane_row(v, start, w - 1));
                out[0] = std::array::from_fn(|l| ((last[l] - first[l]) / first[l]) * 100.0);
            }
            R::SimpleMovingAverage => {
                let (sums, counts) = lane_nansums!(w, i => lane_row(v, start, i));
                out[0] = lane_means(sums, counts);
            }
            R::LinearWeightedMovingAverage => {
                let normalizer = (w * (w + 1)) as f64 / 2.0;
                let (sums, _) = lane_nansums!(w, i => {
                    let mut xs = lane_row(v, start, i);
                    for x in &mut xs {
                        *x *= (i + 1) as f64;
                    }
                    xs
                });
                out[0] = sums.map(|s| s / normalizer);
            }
            R::Vwap | R::AverageDollarVolume => {
                let volume = x[1];
                let (dollars, _) = lane_nansums!(w, i => lane_products(v, volume, start, i));
                out[0] = if matches!(self, R::Vwap) {
                    let (volumes, _) = lane_nansums!(w, i => lane_row(volume, start, i));
                    std::array::from_fn(|l| dollars[l] / volumes[l])
                } else {
                    dollars.map(|s| s / w as f64)
                };
            }
            R::Rsi => {
                // np.clip keeps NaN, so NaN diffs drop out of both means; both sums in
                // one pass, each in window order
                let (mut ups, mut downs, mut counts) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
                let mut a = lane_row(v, start, 0);
                for i in 1..w {
                    let b = lane_row(v, start, i);
                    for l in 0..LANES {
                        let d = b[l] - a[l];
                        let keep = !d.is_nan();
                        ups[l] += if keep && d >= 0.0 { d } else { 0.0 };
                        downs[l] += if keep && d <= 0.0 { d } else { 0.0 };
                        counts[l] += if keep { 1.0 } else { 0.0 };
                    }
                    a = b;
                }
                let (ups, downs) = (lane_means(ups, counts), lane_means(downs, counts));
                out[0] =
                    std::array::from_fn(|l| 100.0 - (100.0 / (1.0 + (ups[l] / downs[l].abs()))));
            }
            R::AnnualizedVolatility {
                annualization_factor,
            } => {
                let factor = annualization_factor.powf(0.5);
                out[0] = lane_nanstds(v, start, w).map(|s| s * factor);
            }
            R::BollingerBands { k } => {
                let stds = lane_nanstds(v, start, w);
                let (sums, counts) = lane_nansums!(w, i => lane_row(v, start, i));
                let middles = lane_means(sums, counts);
                for l in 0..LANES {
                    let difference = k * stds[l];
                    out[0][l] = middles[l] - difference;
                    out[1][l] = middles[l];
                    out[2][l] = middles[l] + difference;
                }
            }
            _ => unreachable!("compute_lanes of a kind without lanes"),
        }
    }
}

/// Whether each window (by its last row) holds an adjustment of `series`: those windows
/// are copied and adjusted, the others read the series in place.
fn adjusted_ends(series: &[Series], rows: usize, window: usize) -> Vec<bool> {
    let mut adjusted = vec![false; rows];
    for s in series {
        for &(row, _) in &s.adjustments {
            // the windows ending at row ..= row + window - 1 contain it
            let last = (row + window).min(rows);
            for flag in &mut adjusted[row..last] {
                *flag = true;
            }
        }
    }
    adjusted
}

/// One asset's outputs (`[output][window]`) over every window of length `window`, for
/// the kinds without lanes, window by window; compiled for AVX2 where the CPU has it.
fn asset_outputs(
    kind: &Rolling,
    prep: &Prepared,
    series: &[Series],
    rows: usize,
    window: usize,
) -> Vec<Vec<f64>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { asset_outputs_avx2(kind, prep, series, rows, window) };
    }
    asset_outputs_portable(kind, prep, series, rows, window)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn asset_outputs_avx2(
    kind: &Rolling,
    prep: &Prepared,
    series: &[Series],
    rows: usize,
    window: usize,
) -> Vec<Vec<f64>> {
    asset_outputs_portable(kind, prep, series, rows, window)
}

#[inline(always)]
fn asset_outputs_portable(
    kind: &Rolling,
    prep: &Prepared,
    series: &[Series],
    rows: usize,
    window: usize,
) -> Vec<Vec<f64>> {
    let adjusted = adjusted_ends(series, rows, window);
    let mut buffers = vec![vec![0.0; window]; series.len()];
    let mut scratch = Vec::with_capacity(window);
    let n = rows + 1 - window;
    let mut outs = vec![Vec::with_capacity(n); kind.n_outputs()];
    let mut values = vec![0.0; kind.n_outputs()];
    for (end, &adjusted) in adjusted.iter().enumerate().skip(window - 1) {
        if adjusted {
            compute_adjusted(
                kind,
                prep,
                series,
                end,
                &mut buffers,
                &mut scratch,
                &mut values,
            );
        } else {
            let start = end + 1 - window;
            let mut windows: [&[f64]; MAX_INPUTS] = [&[]; MAX_INPUTS];
            for (s, w) in series.iter().zip(&mut windows) {
                *w = &s.values[start..=end];
            }
            kind.compute(prep, &windows[..series.len()], &mut scratch, &mut values);
        }
        for (o, &v) in outs.iter_mut().zip(&values) {
            o.push(v);
        }
    }
    outs
}

/// `kind`'s outputs (into `values`) for the window of `series` ending at row `end`,
/// adjusted as of `end` (copied into `buffers`, one per series, each a window long).
fn compute_adjusted(
    kind: &Rolling,
    prep: &Prepared,
    series: &[Series],
    end: usize,
    buffers: &mut [Vec<f64>],
    scratch: &mut Vec<f64>,
    values: &mut [f64],
) {
    let mut windows: [&[f64]; MAX_INPUTS] = [&[]; MAX_INPUTS];
    for ((s, buf), w) in series.iter().zip(buffers.iter_mut()).zip(&mut windows) {
        s.window_into(end, buf);
        *w = buf;
    }
    kind.compute(prep, &windows[..series.len()], scratch, values);
}

/// The columns `a0 .. a0 + LANES` of a time-major `[rows × assets]` matrix as a block
/// (`[rows × LANES]`, row-major), NaN in the lanes past the last asset.
fn gather_block(values: &[f64], rows: usize, assets: usize, a0: usize) -> Vec<f64> {
    let width = (assets - a0).min(LANES);
    let mut block = vec![f64::NAN; rows * LANES];
    for (r, out) in block.chunks_exact_mut(LANES).enumerate() {
        out[..width].copy_from_slice(&values[r * assets + a0..r * assets + a0 + width]);
    }
    block
}

/// Every window's outputs of one block of assets (each input's block `[rows × LANES]`),
/// unadjusted, as `[window][output][lane]`; compiled for AVX2 where the CPU has it (four
/// lanes per instruction; the same operations in the same order, so the same bits: no
/// FMA contraction).
fn block_outputs(kind: &Rolling, blocks: &[&[f64]], rows: usize, window: usize) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { block_outputs_avx2(kind, blocks, rows, window) };
    }
    block_outputs_portable(kind, blocks, rows, window)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_outputs_avx2(
    kind: &Rolling,
    blocks: &[&[f64]],
    rows: usize,
    window: usize,
) -> Vec<f64> {
    block_outputs_portable(kind, blocks, rows, window)
}

#[inline(always)]
fn block_outputs_portable(
    kind: &Rolling,
    blocks: &[&[f64]],
    rows: usize,
    window: usize,
) -> Vec<f64> {
    let k = kind.n_outputs();
    let n = rows + 1 - window;
    let mut out = vec![0.0; n * k * LANES];
    // the two-pass kinds four windows at a time, the rest (and the last few) one by one
    let quads = if kind.has_quads() && window >= QUAD {
        n / QUAD
    } else {
        0
    };
    let mut quad = [[[0.0; LANES]; 3]; QUAD];
    for (first, dst) in out
        .chunks_exact_mut(QUAD * k * LANES)
        .take(quads)
        .enumerate()
    {
        kind.compute_lanes_quad(blocks, first * QUAD, window, &mut quad);
        for (dst, outputs) in dst.chunks_exact_mut(k * LANES).zip(&quad) {
            for (d, lane) in dst.chunks_exact_mut(LANES).zip(outputs) {
                d.copy_from_slice(lane);
            }
        }
    }
    let mut lanes = vec![[0.0; LANES]; k];
    for (start, dst) in out
        .chunks_exact_mut(k * LANES)
        .enumerate()
        .skip(quads * QUAD)
    {
        kind.compute_lanes(blocks, start, window, &mut lanes);
        for (d, lane) in dst.chunks_exact_mut(LANES).zip(&lanes) {
            d.copy_from_slice(lane);
        }
    }
    out
}

/// The kinds with lanes over a time-major `[rows × assets]` input, [`LANES`] assets at a
/// time: each block of assets is gathered once and all its windows computed together
/// (no transposition, no copy per asset), then the windows that hold an adjustment are
/// recomputed one by one from the adjusted window, as [`asset_outputs`] computes them.
fn rolling_blocks(
    kind: &Rolling,
    prep: &Prepared,
    values: &[&[f64]],
    by_asset: &[Vec<Adjustment>],
    shape: Shape,
    window: usize,
) -> Vec<Vec<f64>> {
    let (rows, assets) = (shape.rows, shape.assets);
    let (n, k) = (rows + 1 - window, kind.n_outputs());
    let per_block: Vec<Vec<f64>> = (0..assets.div_ceil(LANES))
        .into_par_iter()
        .map(|b| {
            let a0 = b * LANES;
            let blocks: Vec<Vec<f64>> = values
                .iter()
                .map(|v| gather_block(v, rows, assets, a0))
                .collect();
            let views: Vec<&[f64]> = blocks.iter().map(Vec::as_slice).collect();
            let mut out = block_outputs(kind, &views, rows, window);
            for lane in 0..(assets - a0).min(LANES) {
                fix_adjusted(
                    kind,
                    prep,
                    &views,
                    by_asset,
                    a0 + lane,
                    lane,
                    rows,
                    window,
                    &mut out,
                );
            }
            out
        })
        .collect();
    let mut outputs = vec![vec![0.0; n * assets]; k];
    for (o, output) in outputs.iter_mut().enumerate() {
        output
            .par_chunks_mut(assets.max(1))
            .enumerate()
            .for_each(|(t, row)| {
                for (b, block) in per_block.iter().enumerate() {
                    let a0 = b * LANES;
                    let width = (assets - a0).min(LANES);
                    let src = &block[(t * k + o) * LANES..];
                    row[a0..a0 + width].copy_from_slice(&src[..width]);
                }
            });
    }
    outputs
}

/// The adjustments of `asset` among `adjustments` (sorted by asset).
fn of_asset(adjustments: &[Adjustment], asset: usize) -> &[Adjustment] {
    let lo = adjustments.partition_point(|a| (a.asset as usize) < asset);
    let hi = adjustments.partition_point(|a| (a.asset as usize) <= asset);
    &adjustments[lo..hi]
}

/// Recomputes, in a block's outputs (`[window][output][lane]`), the windows of `lane`
/// (asset `asset`) that hold one of its adjustments, from the adjusted windows.
#[allow(clippy::too_many_arguments)]
fn fix_adjusted(
    kind: &Rolling,
    prep: &Prepared,
    blocks: &[&[f64]],
    by_asset: &[Vec<Adjustment>],
    asset: usize,
    lane: usize,
    rows: usize,
    window: usize,
    out: &mut [f64],
) {
    let own: Vec<&[Adjustment]> = by_asset
        .iter()
        .map(|adjustments| of_asset(adjustments, asset))
        .collect();
    if own.iter().all(|a| a.is_empty()) {
        return;
    }
    let series: Vec<Series> = blocks
        .iter()
        .zip(&own)
        .map(|(block, adjustments)| {
            let column: Vec<f64> = (0..rows).map(|r| block[r * LANES + lane]).collect();
            Series::from_column(&column, adjustments.iter())
        })
        .collect();
    let k = kind.n_outputs();
    let mut buffers = vec![vec![0.0; window]; series.len()];
    let mut scratch = Vec::with_capacity(window);
    let mut values = vec![0.0; k];
    let adjusted = adjusted_ends(&series, rows, window);
    for end in (window - 1..rows).filter(|&end| adjusted[end]) {
        compute_adjusted(
            kind,
            prep,
            &series,
            end,
            &mut buffers,
            &mut scratch,
            &mut values,
        );
        let start = end + 1 - window;
        for (o, &v) in values.iter().enumerate() {
            out[(start * k + o) * LANES + lane] = v;
        }
    }
}

/// `kind` over every window of length `window` of `inputs` (each `[rows × assets]` as
/// `shape` says, in the kind's input order), each window adjusted as of its last row.
/// Returns one time-major `[rows − window + 1 × assets]` matrix per output of the kind.
///
/// Errors: the wrong number of inputs or parameters that do not fit the window
/// ([`PipelineError::Parameter`]), inputs not of `shape` or adjustments outside it
/// ([`PipelineError::Shape`]), a window of 0, longer than the rows, or outside the
/// kind's range ([`PipelineError::Window`]).
pub fn rolling(
    kind: &Rolling,
    inputs: &[Input<'_>],
    shape: Shape,
    window: usize,
) -> Result<Vec<Vec<f64>>, PipelineError> {
    if inputs.len() != kind.n_inputs() {
        return Err(PipelineError::Parameter(format!(
            "{} takes {} inputs ({}), not {}",
            kind.name(),
            kind.n_inputs(),
            kind.input_names().join(", "),
            inputs.len()
        )));
    }
    for (input, name) in inputs.iter().zip(kind.input_names()) {
        shape.check(&format!("input {name}"), input.values.len())?;
        if let Some(a) = input
            .adjustments
            .iter()
            .find(|a| a.asset as usize >= shape.assets || a.row as usize >= shape.rows)
        {
            return Err(PipelineError::Shape(format!(
                "an adjustment of input {name} (asset {}, row {}) is outside {} rows x {} assets",
                a.asset, a.row, shape.rows, shape.assets
            )));
        }
    }
    if window == 0 || window > shape.rows {
        return Err(PipelineError::Window(format!(
            "a window of {window} over {} rows (it must be 1 ..= rows)",
            shape.rows
        )));
    }
    kind.check_window(window)?;
    let prep = Prepared::new(kind, window)?;

    // each input's adjustments grouped by asset, handed to its asset alone
    let by_asset: Vec<Vec<Adjustment>> = inputs
        .iter()
        .map(|input| {
            let mut adjustments = input.adjustments.to_vec();
            adjustments.sort_by_key(|a| a.asset);
            adjustments
        })
        .collect();
    if kind.has_lanes() {
        let values: Vec<&[f64]> = inputs.iter().map(|input| input.values).collect();
        return Ok(rolling_blocks(
            kind, &prep, &values, &by_asset, shape, window,
        ));
    }
    // each input asset-major, so that an asset's column is one contiguous slice
    let (rows, assets) = (shape.rows, shape.assets);
    let columns_of: Vec<Vec<f64>> = inputs
        .iter()
        .map(|input| crate::transpose(input.values, rows, assets))
        .collect();
    let n = rows + 1 - window;
    let per_asset: Vec<Vec<Vec<f64>>> = (0..assets)
        .into_par_iter()
        .map(|asset| {
            let series: Vec<Series> = columns_of
                .iter()
                .zip(&by_asset)
                .map(|(columns, adjustments)| {
                    Series::from_column(
                        &columns[asset * rows..(asset + 1) * rows],
                        of_asset(adjustments, asset),
                    )
                })
                .collect();
            asset_outputs(kind, &prep, &series, rows, window)
        })
        .collect();
    // back to time-major, one output at a time
    let outputs = (0..kind.n_outputs())
        .map(|o| {
            let mut asset_major = Vec::with_capacity(n * assets);
            for column in &per_asset {
                asset_major.extend_from_slice(&column[o]);
            }
            crate::transpose(&asset_major, assets, n)
        })
        .collect();
    Ok(outputs)
}

#[cfg(test)]
// expected values written as zipline's formulas
#[allow(clippy::manual_midpoint)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAN: f64 = f64::NAN;

    fn kind(name: &str, params: &[(&str, f64)]) -> Rolling {
        let map: HashMap<String, f64> = params.iter().map(|&(k, v)| (k.to_string(), v)).collect();
        Rolling::parse(name, &map).unwrap()
    }

    fn adj(asset: u32, row: u32, ratio: f64) -> Adjustment {
        Adjustment { asset, row, ratio }
    }

    /// `kind` over single-asset columns (no adjustments), output by output.
    fn run1(kind: &Rolling, columns: &[&[f64]], window: usize) -> Vec<Vec<f64>> {
        let inputs: Vec<Input<'_>> = columns
            .iter()
            .map(|values| Input {
                values,
                adjustments: &[],
            })
            .collect();
        let shape = Shape {
            rows: columns[0].len(),
            assets: 1,
        };
        rolling(kind, &inputs, shape, window).unwrap()
    }

    fn same(a: f64, b: f64) -> bool {
        a == b
            || (a.is_nan() && b.is_nan())
            || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) + 1e-14
    }

    #[track_caller]
    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(same(*g, *w), "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn parse_checks_kinds_and_parameters() {
        let parse = |name: &str, params: &[(&str, f64)]| {
            let map: HashMap<String, f64> =
                params.iter().map(|&(k, v)| (k.to_string(), v)).collect();
            Rolling::parse(name, &map)
        };
        for name in KINDS {
            let r = parse(name, &[]);
            match r {
                Ok(k) => {
                    assert_eq!(k.name(), *name);
                    assert!(k.param_names().is_empty());
                }
                Err(PipelineError::Parameter(msg)) => assert!(msg.contains("needs"), "{msg}"),
                Err(e) => panic!("{e:?}"),
            }
        }
        let err = |r: Result<Rolling, PipelineError>| match r {
            Err(PipelineError::Parameter(msg)) => msg,
            other => panic!("{other:?}"),
        };
        assert!(err(parse("nope", &[])).contains("unknown rolling kind"));
        assert!(err(parse("ewma", &[])).contains("decay_rate"));
        assert!(err(parse("ewma", &[("decay_rate", 0.0)])).contains("decay_rate"));
        assert!(err(parse("ewma", &[("decay_rate", 1.5)])).contains("decay_rate"));
        assert!(err(parse("ewmstd", &[("decay_rate", NAN)])).contains("decay_rate"));
        assert!(err(parse("returns", &[("k", 1.0)])).contains("no parameter k"));
        assert!(err(parse("bollinger_bands", &[("k", 2.0), ("n", 1.0)])).contains("n "));
        assert!(err(parse("bollinger_bands", &[("k", f64::INFINITY)])).contains('k'));
        assert!(err(parse(
            "annualized_volatility",
            &[("annualization_factor", -1.0)]
        ))
        .contains("annualization_factor"));
        let macd = |f: f64, s: f64, g: f64| {
            parse(
                "macd_signal",
                &[("fast_period", f), ("slow_period", s), ("signal_period", g)],
            )
        };
        assert_eq!(
            macd(12.0, 26.0, 9.0).unwrap(),
            Rolling::MacdSignal {
                fast_period: 12,
                slow_period: 26,
                signal_period: 9
            }
        );
        assert!(err(macd(12.0, 12.0, 9.0)).contains("slow_period"));
        assert!(err(macd(12.5, 26.0, 9.0)).contains("fast_period"));
        assert!(err(macd(1.0, 26.0, 9.0)).contains("fast_period"));
        assert!(err(macd(12.0, 26.0, 1.0)).contains("signal_period"));
        let ichimoku = parse(
            "ichimoku_kinko_hyo",
            &[
                ("tenkan_sen_length", 9.0),
                ("kijun_sen_length", 26.0),
                ("chikou_span_length", -1.0),
            ],
        );
        assert!(err(ichimoku).contains("chikou_span_length"));

        let bb = kind("bollinger_bands", &[("k", 2.0)]);
        assert_eq!((bb.n_inputs(), bb.n_outputs()), (1, 3));
        assert_eq!(kind("aroon", &[]).n_outputs(), 2);
        assert_eq!(kind("true_range", &[]).n_inputs(), 3);
        assert_eq!(kind("returns", &[]).min_window(), 2);
    }

    #[test]
    fn rolling_checks_inputs_shapes_and_windows() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let input = Input {
            values: &x,
            adjustments: &[],
        };
        let shape = Shape { rows: 2, assets: 2 };
        let sma = kind("simple_moving_average", &[]);
        let is = |r: Result<Vec<Vec<f64>>, PipelineError>, f: fn(&PipelineError) -> bool| {
            assert!(r.as_ref().is_err_and(f), "{r:?}");
        };
        is(rolling(&sma, &[input, input], shape, 1), |e| {
            matches!(e, PipelineError::Parameter(_))
        });
        is(
            rolling(&sma, &[input], Shape { rows: 3, assets: 1 }, 1),
            |e| matches!(e, PipelineError::Shape(_)),
        );
        for w in [0, 3] {
            is(rolling(&sma, &[input], shape, w), |e| {
                matches!(e, PipelineError::Window(_))
            });
        }
        let outside = [adj(2, 0, 0.5)];
        let bad = Input {
            values: &x,
            adjustments: &outside,
        };
        is(rolling(&sma, &[bad], shape, 1), |e| {
            matches!(e, PipelineError::Shape(_))
        });
        let late = [adj(0, 2, 0.5)];
        let bad = Input {
            values: &x,
            adjustments: &late,
        };
        is(rolling(&sma, &[bad], shape, 1), |e| {
            matches!(e, PipelineError::Shape(_))
        });
        is(rolling(&kind("returns", &[]), &[input], shape, 1), |e| {
            matches!(e, PipelineError::Window(_))
        });
        let three = Input {
            values: &[1.0; 3],
            adjustments: &[],
        };
        let one = Shape { rows: 3, assets: 1 };
        is(
            rolling(&kind("true_range", &[]), &[three; 3], one, 3),
            |e| matches!(e, PipelineError::Window(_)),
        );
        let ichimoku = kind(
            "ichimoku_kinko_hyo",
            &[
                ("tenkan_sen_length", 1.0),
                ("kijun_sen_length", 2.0),
                ("chikou_span_length", 3.0),
            ],
        );
        is(rolling(&ichimoku, &[three; 3], one, 3), |e| {
            matches!(e, PipelineError::Window(_))
        });
        // weights that underflow to a zero sum: numpy's `average` refuses them
        let tiny = kind("ewma", &[("decay_rate", 1e-200)]);
        is(rolling(&tiny, &[three], one, 1), |e| {
            matches!(e, PipelineError::Parameter(_))
        });
        // no assets: empty outputs
        let none = Input {
            values: &[],
            adjustments: &[],
        };
        let out = rolling(&sma, &[none], Shape { rows: 3, assets: 0 }, 2).unwrap();
        assert_eq!(out, vec![Vec::<f64>::new()]);
    }

    #[test]
    fn latest_returns_percent_change_and_rate_of_change() {
        let x = [10.0, 11.0, 0.0, 12.0, -8.0, NAN, 4.0];
        assert_close(&run1(&kind("latest", &[]), &[&x], 1)[0], &x);
        assert_close(&run1(&kind("latest", &[]), &[&x], 3)[0], &x[2..]);
        let ret = run1(&kind("returns", &[]), &[&x], 2);
        let want = [1.0 / 10.0, -1.0, f64::INFINITY, -20.0 / 12.0, NAN, NAN];
        assert_close(&ret[0], &want);
        let pc = run1(&kind("percent_change", &[]), &[&x], 2);
        let want = [1.0 / 10.0, -1.0, f64::INFINITY, -20.0 / 12.0, NAN, NAN];
        assert_close(&pc[0], &want);
        // a negative base: returns and percent change differ in sign
        let neg = [-10.0, -5.0];
        assert_close(&run1(&kind("returns", &[]), &[&neg], 2)[0], &[-0.5]);
        assert_close(&run1(&kind("percent_change", &[]), &[&neg], 2)[0], &[0.5]);
        let roc = run1(&kind("rate_of_change_percentage", &[]), &[&x], 3);
        let want = [
            (0.0 - 10.0) / 10.0 * 100.0,
            (12.0 - 11.0) / 11.0 * 100.0,
            f64::NEG_INFINITY,
            NAN,
            (4.0 - -8.0) / -8.0 * 100.0,
        ];
        assert_close(&roc[0], &want);
        // a window of one: no change (NaN on a zero)
        let roc1 = run1(&kind("rate_of_change_percentage", &[]), &[&x], 1);
        assert_close(&roc1[0], &[0.0, 0.0, NAN, 0.0, 0.0, NAN, 0.0]);
    }

    #[test]
    fn moving_averages() {
        let x = [1.0, 2.0, 3.0, NAN, NAN, NAN, 7.0];
        let sma = run1(&kind("simple_moving_average", &[]), &[&x], 3);
        assert_close(&sma[0], &[2.0, 2.5, 3.0, NAN, 7.0]);
        let lwma = run1(&kind("linear_weighted_moving_average", &[]), &[&x], 3);
        // nansum: an all-NaN window gives 0
        assert_close(
            &lwma[0],
            &[
                (1.0 + 4.0 + 9.0) / 6.0,
                (2.0 + 6.0) / 6.0,
                3.0 / 6.0,
                0.0,
                21.0 / 6.0,
            ],
        );
        // weights 0.5 ** [4, 3, 2]: 1/16, 1/8, 1/4 (sum 7/16)
        let y = [10.0, 11.0, 9.0, 12.0, 8.0, 13.0];
        let ewma = run1(&kind("ewma", &[("decay_rate", 0.5)]), &[&y], 3);
        let avg = |a: f64, b: f64, c: f64| (a + 2.0 * b + 4.0 * c) / 7.0;
        assert_close(
            &ewma[0],
            &[
                avg(10.0, 11.0, 9.0),
                avg(11.0, 9.0, 12.0),
                avg(9.0, 12.0, 8.0),
                avg(12.0, 8.0, 13.0),
            ],
        );
        // numpy's value (zipline's compute) for a longer window
        let ewma = run1(&kind("ewma", &[("decay_rate", 0.9)]), &[&y], 6);
        assert_close(&ewma[0], &[10.586_286_892_365_743]);
        // decay 1: the plain mean
        let flat = run1(&kind("ewma", &[("decay_rate", 1.0)]), &[&y], 6);
        assert_close(&flat[0], &[63.0 / 6.0]);
        // average propagates NaN
        let ewma = run1(&kind("ewma", &[("decay_rate", 0.5)]), &[&x], 2);
        assert_close(&ewma[0], &[5.0 / 3.0, 8.0 / 3.0, NAN, NAN, NAN, NAN]);
    }

    #[test]
    fn ewmstd_matches_zipline() {
        let y = [10.0, 11.0, 9.0, 12.0, 8.0, 13.0];
        let got = run1(&kind("ewmstd", &[("decay_rate", 0.5)]), &[&y], 3);
        // by hand for the first window: weights 1, 2, 4 (/7), mean 68/7,
        // variance sum w (x - mean)^2 / 7, bias S^2 / (S^2 - sum w^2) = 49 / (49 - 21)
        let mean: f64 = 68.0 / 7.0;
        let var = ((10.0 - mean) * (10.0 - mean)
            + 2.0 * (11.0 - mean) * (11.0 - mean)
            + 4.0 * (9.0 - mean) * (9.0 - mean))
            / 7.0;
        let first = (var * 49.0 / 28.0).sqrt();
        assert_close(&got[0][..1], &[first]);
        assert_close(
            &got[0],
            &[
                1.164_964_745_021_435,
                1.732_050_807_568_877_2,
                2.314_550_249_431_378_8,
                2.903_200_204_700_225,
            ],
        );
        let got = run1(&kind("ewmstd", &[("decay_rate", 0.9)]), &[&y], 6);
        assert_close(&got[0], &[2.006_191_980_542_2]);
        // a window of one: zero variance times an infinite bias correction
        let got = run1(&kind("ewmstd", &[("decay_rate", 0.5)]), &[&y[..2]], 1);
        assert_close(&got[0], &[NAN, NAN]);
        let got = run1(
            &kind("ewmstd", &[("decay_rate", 0.5)]),
            &[&[1.0, NAN, 2.0]],
            2,
        );
        assert_close(&got[0], &[NAN, NAN]);
    }

    #[test]
    fn dollar_volume_kinds() {
        let close = [10.0, 20.0, NAN, 30.0];
        let volume = [1.0, 3.0, 5.0, NAN];
        let vwap = run1(&kind("vwap", &[]), &[&close, &volume], 2);
        // a NaN close drops out of the numerator only; a NaN volume out of both
        assert_close(&vwap[0], &[70.0 / 4.0, 60.0 / 8.0, 0.0 / 5.0]);
        let vwap = run1(&kind("vwap", &[]), &[&[NAN, 1.0], &[NAN, NAN]], 2);
        assert_close(&vwap[0], &[NAN]);
        let adv = run1(&kind("average_dollar_volume", &[]), &[&close, &volume], 2);
        assert_close(&adv[0], &[70.0 / 2.0, 60.0 / 2.0, 0.0]);
    }

    #[test]
    fn rsi() {
        let x = [1.0, 2.0, 4.0, 3.0, NAN, 5.0];
        let got = run1(&kind("rsi", &[]), &[&x], 4);
        // diffs 1, 2, -1: ups 1, downs 1/3; then 2, -1, NaN; then -1, NaN, NaN
        assert_close(&got[0], &[75.0, 100.0 - 100.0 / 3.0, 0.0]);
        let up = [1.0, 2.0, 3.0];
        assert_close(&run1(&kind("rsi", &[]), &[&up], 3)[0], &[100.0]);
        let flat = [1.0, 1.0, 1.0];
        assert_close(&run1(&kind("rsi", &[]), &[&flat], 3)[0], &[NAN]);
        // a window of one has no diffs
        assert_close(&run1(&kind("rsi", &[]), &[&flat], 1)[0], &[NAN; 3]);
    }

    #[test]
    fn volatility_and_bollinger_bands() {
        let r = [0.01, -0.02, NAN, 0.03];
        let got = run1(
            &kind("annualized_volatility", &[("annualization_factor", 252.0)]),
            &[&r],
            4,
        );
        assert_close(&got[0], &[0.326_190_128_606_001_9]);
        let got = run1(
            &kind("annualized_volatility", &[("annualization_factor", 4.0)]),
            &[&[1.0, 3.0, NAN, NAN]],
            2,
        );
        assert_close(&got[0], &[2.0, 0.0, NAN]);

        let x = [1.0, 2.0, 3.0, NAN];
        let got = run1(&kind("bollinger_bands", &[("k", 2.0)]), &[&x], 3);
        let d = 2.0 * (2.0_f64 / 3.0).sqrt();
        assert_close(&got[0], &[2.0 - d, 2.5 - 1.0]);
        assert_close(&got[1], &[2.0, 2.5]);
        assert_close(&got[2], &[2.0 + d, 2.5 + 1.0]);
    }

    #[test]
    fn max_drawdown() {
        let md = kind("max_drawdown", &[]);
        let x = [10.0, 12.0, 9.0, 11.0, 6.0, 8.0];
        // running max 12 from row 1; deepest at row 4: (12 - 6) / 6
        assert_close(&run1(&md, &[&x], 6)[0], &[1.0]);
        let x = [NAN, 12.0, NAN, 11.0, 6.0, 8.0];
        assert_close(
            &run1(&md, &[&x], 3)[0],
            &[0.0, 1.0 / 11.0, 5.0 / 6.0, 5.0 / 6.0],
        );
        // rising: the first zero drawdown, at the start
        assert_close(&run1(&md, &[&[1.0, 2.0, 3.0, NAN]], 2)[0], &[0.0; 3]);
        // all NaN: every drawdown -inf, the "end" is row 0 and NaN
        assert_close(&run1(&md, &[&[NAN, NAN]], 2)[0], &[NAN]);
        assert_close(&run1(&md, &[&[0.0, 0.0]], 2)[0], &[NAN]);
    }

    #[test]
    fn true_range_and_fast_stochastic() {
        let h = [10.0, 12.0, 11.0, 13.0, 9.0];
        let l = [8.0, 9.0, 10.0, 7.0, 8.0];
        let c = [9.0, 11.0, 10.0, 12.0, 8.5];
        let tr = run1(&kind("true_range", &[]), &[&h, &l, &c], 2);
        // max(h - l, |h - prev c|, |l - prev c|)
        assert_close(&tr[0], &[3.0, 1.0, 6.0, 4.0]);
        let hn = [1.0, NAN, NAN];
        let ln = [1.0, NAN, 2.0];
        let cn = [4.0, 1.0, 1.0];
        let tr = run1(&kind("true_range", &[]), &[&hn, &ln, &cn], 2);
        assert_close(&tr[0], &[NAN, 1.0]);

        let fso = run1(&kind("fast_stochastic_oscillator", &[]), &[&c, &l, &h], 3);
        // (close - lowest low) / (highest high - lowest low) * 100
        assert_close(
            &fso[0],
            &[
                (10.0 - 8.0) / (12.0 - 8.0) * 100.0,
                (12.0 - 7.0) / (13.0 - 7.0) * 100.0,
                (8.5 - 7.0) / (13.0 - 7.0) * 100.0,
            ],
        );
        let fso = run1(
            &kind("fast_stochastic_oscillator", &[]),
            &[&[1.0, 5.0], &[NAN, 4.0], &[6.0, NAN]],
            2,
        );
        assert_close(&fso[0], &[50.0]);
    }

    #[test]
    fn aroon() {
        let a = kind("aroon", &[]);
        let low = [3.0, 1.0, 2.0, 1.0, NAN];
        let high = [1.0, 5.0, 5.0, 2.0, NAN];
        let got = run1(&a, &[&low, &high], 4);
        // the first lowest low and the first highest high, as percents of w - 1
        assert_close(&got[0], &[100.0 / 3.0, 0.0]);
        assert_close(&got[1], &[100.0 / 3.0, 0.0]);
        let got = run1(&a, &[&[NAN, 2.0, 1.0], &[NAN, NAN, f64::NEG_INFINITY]], 2);
        // NaN is never the extreme: (down, up) = (1/1, 1/1); all-NaN highs give NaN
        assert_close(&got[0], &[100.0, 100.0]);
        assert_close(&got[1], &[NAN, 100.0]);
        // a window of one: 0 / 0
        let got = run1(&a, &[&[1.0], &[2.0]], 1);
        assert_close(&got[0], &[NAN]);
        assert_close(&got[1], &[NAN]);
    }

    #[test]
    fn macd_signal() {
        let m = kind(
            "macd_signal",
            &[
                ("fast_period", 2.0),
                ("slow_period", 3.0),
                ("signal_period", 2.0),
            ],
        );
        let y = [10.0, 11.0, 9.0, 12.0, 8.0, 13.0];
        let got = run1(&m, &[&y], 4);
        // fast (period 2): decay 1/3, weights (1/3)^3, (1/3)^2 -> 1/4, 3/4
        // slow (period 3): decay 1/2 -> 1/7, 2/7, 4/7; signal (period 2): 1/4, 3/4
        let fast = |a: f64, b: f64| 0.25 * a + 0.75 * b;
        let slow = |a: f64, b: f64, c: f64| (a + 2.0 * b + 4.0 * c) / 7.0;
        let first = fast(
            fast(11.0, 9.0) - slow(10.0, 11.0, 9.0),
            fast(9.0, 12.0) - slow(11.0, 9.0, 12.0),
        );
        assert_close(&got[0][..1], &[first]);
        // zipline's values
        assert_close(
            &got[0],
            &[
                0.133_928_571_428_570_26,
                -0.151_785_714_285_715_27,
                0.169_642_857_142_855_4,
            ],
        );
        assert!(rolling(
            &m,
            &[Input {
                values: &y,
                adjustments: &[]
            }],
            Shape { rows: 6, assets: 1 },
            5
        )
        .is_err());
    }

    #[test]
    fn ichimoku() {
        let ik = |t: f64, k: f64, c: f64| {
            kind(
                "ichimoku_kinko_hyo",
                &[
                    ("tenkan_sen_length", t),
                    ("kijun_sen_length", k),
                    ("chikou_span_length", c),
                ],
            )
        };
        let h = [10.0, 14.0, 11.0, 13.0, 9.0, 12.0];
        let l = [8.0, 9.0, 6.0, 7.0, 8.0, 10.0];
        let c = [9.0, 11.0, 10.0, 12.0, 8.5, 11.0];
        let got = run1(&ik(2.0, 3.0, 1.0), &[&h, &l, &c], 5);
        assert_close(&got[0], &[(13.0 + 7.0) / 2.0, (12.0 + 8.0) / 2.0]);
        assert_close(&got[1], &[(13.0 + 6.0) / 2.0, (13.0 + 7.0) / 2.0]);
        assert_close(&got[2], &[(10.0 + 9.5) / 2.0, 10.0]);
        assert_close(&got[3], &[(14.0 + 6.0) / 2.0, (14.0 + 6.0) / 2.0]);
        assert_close(&got[4], &[11.0, 10.0]);
        // a length of 0 is the whole window; plain max/min propagate NaN
        let hn = [10.0, NAN, 11.0, 13.0];
        let got = run1(&ik(0.0, 2.0, 0.0), &[&hn, &l[..4], &c[..4]], 3);
        assert_close(&got[0], &[NAN, NAN]);
        assert_close(&got[1], &[NAN, (13.0 + 6.0) / 2.0]);
        assert_close(&got[3], &[NAN, NAN]);
        assert_close(&got[4], &[9.0, 11.0]);
    }

    #[test]
    fn splits_inside_windows() {
        // asset 0 splits 2-for-1 after row 1 (ratio 0.5, known from row 1); asset 1 pays
        // a dividend (0.9) after row 2
        let x = [10.0, 40.0, 10.0, 40.0, 5.0, 36.0, 5.5, 40.0];
        let adjustments = [adj(1, 2, 0.9), adj(0, 1, 0.5)];
        let input = Input {
            values: &x,
            adjustments: &adjustments,
        };
        let shape = Shape { rows: 4, assets: 2 };
        let ret = rolling(&kind("returns", &[]), &[input], shape, 3).unwrap();
        // time-major [2 rows × 2 assets]
        let (a, b) = (40.0 * 0.9, 36.0 * 0.9);
        assert_close(&ret[0], &[0.0, (b - a) / a, 0.1, (40.0 - a) / a]);
        let sma = rolling(&kind("simple_moving_average", &[]), &[input], shape, 2).unwrap();
        assert_close(
            &sma[0],
            &[5.0, 40.0, 5.0, (a + b) / 2.0, 5.25, (b + 40.0) / 2.0],
        );
        // the ratio at a window's last row already applies to that row
        let latest = rolling(&kind("latest", &[]), &[input], shape, 1).unwrap();
        assert_close(&latest[0], &[10.0, 40.0, 5.0, 40.0, 5.0, b, 5.5, 40.0]);

        // MACD cuts all its EWMAs from the one window adjusted as of its last row
        let m = kind(
            "macd_signal",
            &[
                ("fast_period", 2.0),
                ("slow_period", 3.0),
                ("signal_period", 2.0),
            ],
        );
        let y = [20.0, 22.0, 18.0, 12.0, 8.0];
        let split = [adj(0, 2, 0.5)];
        let adjusted = rolling(
            &m,
            &[Input {
                values: &y,
                adjustments: &split,
            }],
            Shape { rows: 5, assets: 1 },
            4,
        )
        .unwrap();
        let by_hand_0 = run1(&m, &[&[10.0, 11.0, 9.0, 12.0]], 4);
        let by_hand_1 = run1(&m, &[&[11.0, 9.0, 12.0, 8.0]], 4);
        assert_close(&adjusted[0], &[by_hand_0[0][0], by_hand_1[0][0]]);
    }

    /// Every kind with typical parameters.
    fn sample_kinds() -> Vec<Rolling> {
        vec![
            kind("latest", &[]),
            kind("returns", &[]),
            kind("percent_change", &[]),
            kind("simple_moving_average", &[]),
            kind("ewma", &[("decay_rate", 0.7)]),
            kind("ewmstd", &[("decay_rate", 0.9)]),
            kind("linear_weighted_moving_average", &[]),
            kind("vwap", &[]),
            kind("average_dollar_volume", &[]),
            kind("rsi", &[]),
            kind("annualized_volatility", &[("annualization_factor", 252.0)]),
            kind("max_drawdown", &[]),
            kind("bollinger_bands", &[("k", 2.0)]),
            kind("true_range", &[]),
            kind("fast_stochastic_oscillator", &[]),
            kind("aroon", &[]),
            kind(
                "macd_signal",
                &[
                    ("fast_period", 2.0),
                    ("slow_period", 3.0),
                    ("signal_period", 2.0),
                ],
            ),
            kind(
                "ichimoku_kinko_hyo",
                &[
                    ("tenkan_sen_length", 2.0),
                    ("kijun_sen_length", 0.0),
                    ("chikou_span_length", 1.0),
                ],
            ),
            kind("rate_of_change_percentage", &[]),
        ]
    }

    #[test]
    fn sample_kinds_cover_every_kind() {
        let names: Vec<&str> = sample_kinds().iter().map(Rolling::name).collect();
        assert_eq!(names, KINDS);
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            6 => -1e3..1e3f64,
            1 => Just(0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => (-3i32..4).prop_map(f64::from),
        ]
    }

    /// (kind, rows, assets, window, inputs, adjustments per input)
    type Case = (
        Rolling,
        usize,
        usize,
        usize,
        Vec<Vec<f64>>,
        Vec<Vec<Adjustment>>,
    );

    fn case() -> impl Strategy<Value = Case> {
        let kinds = sample_kinds();
        (0..kinds.len(), 1usize..10, 1usize..5, 1usize..6).prop_flat_map(
            move |(k, rows, assets, window)| {
                let kind = kinds[k];
                let n = kind.n_inputs();
                let adjustment = (0..assets as u32, 0..rows as u32, 0.1..3.0f64)
                    .prop_map(|(asset, row, ratio)| Adjustment { asset, row, ratio });
                (
                    Just(kind),
                    Just(rows),
                    Just(assets),
                    Just(window.min(rows)),
                    proptest::collection::vec(proptest::collection::vec(value(), rows * assets), n),
                    proptest::collection::vec(proptest::collection::vec(adjustment, 0..5), n),
                )
            },
        )
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn kinds_take_at_most_max_inputs() {
        for kind in sample_kinds() {
            assert!(kind.n_inputs() <= MAX_INPUTS, "{}", kind.name());
        }
    }

    proptest! {
        /// The CPU-specific build of a column (AVX2 here) gives the portable one's bits.
        #[test]
        fn dispatched_columns_equal_portable(
            k in 0usize..19,
            window in 1usize..30,
            values in proptest::collection::vec(
                proptest::collection::vec(value(), 60), MAX_INPUTS),
        ) {
            let kind = sample_kinds()[k];
            let Ok(prep) = Prepared::new(&kind, window) else { return Ok(()) };
            prop_assume!(kind.check_window(window).is_ok());
            let series: Vec<Series> = values[..kind.n_inputs()]
                .iter()
                .map(|v| Series::from_column(v, &[]))
                .collect();
            let fast = asset_outputs(&kind, &prep, &series, 60, window);
            let portable = asset_outputs_portable(&kind, &prep, &series, 60, window);
            for (f, p) in fast.iter().zip(&portable) {
                prop_assert!(same_bits(f, p), "{}", kind.name());
            }
        }
    }

    proptest! {
        /// Each lane of a block is bit for bit its window computed alone.
        #[test]
        fn lanes_equal_windows_alone(
            k in 0usize..11,
            window in 2usize..40,
            values in proptest::collection::vec(
                proptest::collection::vec(value(), (3 + 40) * LANES), MAX_INPUTS),
        ) {
            let laned: Vec<Rolling> = sample_kinds().into_iter().filter(Rolling::has_lanes).collect();
            prop_assert_eq!(laned.len(), 11);
            let kind = laned[k];
            let prep = Prepared::new(&kind, window).unwrap();
            let x: Vec<&[f64]> = values[..kind.n_inputs()].iter().map(Vec::as_slice).collect();
            let start = 3;
            let mut lanes = vec![[0.0; LANES]; kind.n_outputs()];
            kind.compute_lanes(&x, start, window, &mut lanes);
            let mut scratch = Vec::new();
            let mut one = vec![0.0; kind.n_outputs()];
            for l in 0..LANES {
                let columns: Vec<Vec<f64>> = x
                    .iter()
                    .map(|v| (start..start + window).map(|r| v[r * LANES + l]).collect())
                    .collect();
                let w: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
                kind.compute(&prep, &w, &mut scratch, &mut one);
                let lane: Vec<f64> = lanes.iter().map(|o| o[l]).collect();
                prop_assert!(same_bits(&lane, &one), "{} lane {l}: {lane:?} != {one:?}", kind.name());
            }
        }

        /// Four windows computed together are, bit for bit, each window's lanes alone.
        #[test]
        fn quads_equal_windows_alone(
            volatility in any::<bool>(),
            window in QUAD..40,
            start in 0usize..3,
            values in proptest::collection::vec(value(), (3 + 40 + QUAD) * LANES),
        ) {
            let kind = if volatility {
                Rolling::AnnualizedVolatility { annualization_factor: 252.0 }
            } else {
                Rolling::BollingerBands { k: 2.0 }
            };
            prop_assert!(kind.has_quads() && kind.has_lanes());
            let x: [&[f64]; 1] = [&values];
            let mut quad = [[[0.0; LANES]; 3]; QUAD];
            kind.compute_lanes_quad(&x, start, window, &mut quad);
            let mut lanes = vec![[0.0; LANES]; kind.n_outputs()];
            for (q, outputs) in quad.iter().enumerate() {
                kind.compute_lanes(&x, start + q, window, &mut lanes);
                for (o, lane) in lanes.iter().enumerate() {
                    prop_assert!(same_bits(lane, &outputs[o]), "{} window {q} output {o}", kind.name());
                }
            }
        }

        /// The CPU-specific build of a block (AVX2 here) gives the portable one's bits.
        #[test]
        fn dispatched_blocks_equal_portable(
            k in 0usize..11,
            window in 1usize..30,
            values in proptest::collection::vec(
                proptest::collection::vec(value(), 40 * LANES), MAX_INPUTS),
        ) {
            let kind = sample_kinds().into_iter().filter(Rolling::has_lanes).nth(k).unwrap();
            prop_assume!(kind.check_window(window).is_ok());
            let x: Vec<&[f64]> = values[..kind.n_inputs()].iter().map(Vec::as_slice).collect();
            let fast = block_outputs(&kind, &x, 40, window);
            let portable = block_outputs_portable(&kind, &x, 40, window);
            prop_assert!(same_bits(&fast, &portable), "{}", kind.name());
        }

        /// Blocks of assets, adjusted windows recomputed, equal every window computed
        /// alone (the tail block and adjustments included).
        #[test]
        fn blocks_equal_windows_alone(
            k in 0usize..11,
            rows in 1usize..30,
            assets in 1usize..20,
            window in 1usize..12,
            seed in proptest::collection::vec(value(), 64),
            adjustments in proptest::collection::vec((0u32..20, 0u32..30, 0.1..3.0f64), 0..8),
        ) {
            let kind = sample_kinds().into_iter().filter(Rolling::has_lanes).nth(k).unwrap();
            let window = window.min(rows);
            prop_assume!(kind.check_window(window).is_ok());
            let prep = Prepared::new(&kind, window).unwrap();
            let values: Vec<Vec<f64>> = (0..kind.n_inputs())
                .map(|i| (0..rows * assets).map(|j| seed[(j * 7 + i * 13) % 64]).collect())
                .collect();
            let adjustments: Vec<Adjustment> = adjustments
                .into_iter()
                .filter(|&(a, r, _)| (a as usize) < assets && (r as usize) < rows)
                .map(|(asset, row, ratio)| Adjustment { asset, row, ratio })
                .collect();
            let mut by_asset = adjustments.clone();
            by_asset.sort_by_key(|a| a.asset);
            let by_asset = vec![by_asset; kind.n_inputs()];
            let views: Vec<&[f64]> = values.iter().map(Vec::as_slice).collect();
            let shape = Shape { rows, assets };
            let all = rolling_blocks(&kind, &prep, &views, &by_asset, shape, window);
            let n = rows + 1 - window;
            for asset in 0..assets {
                let series: Vec<Series> = values
                    .iter()
                    .map(|v| {
                        let column: Vec<f64> = (0..rows).map(|r| v[r * assets + asset]).collect();
                        Series::from_column(
                            &column,
                            adjustments.iter().filter(|a| a.asset as usize == asset),
                        )
                    })
                    .collect();
                let alone = asset_outputs_portable(&kind, &prep, &series, rows, window);
                for (all, alone) in all.iter().zip(&alone) {
                    let column: Vec<f64> = (0..n).map(|t| all[t * assets + asset]).collect();
                    prop_assert!(same_bits(&column, alone), "{} asset {asset}: {column:?} != {alone:?}", kind.name());
                }
            }
        }
    }

    proptest! {
        #[test]
        fn many_assets_equal_each_asset_alone(
            (kind, rows, assets, window, values, adjustments) in case()
        ) {
            let shape = Shape { rows, assets };
            let inputs: Vec<Input<'_>> = values
                .iter()
                .zip(&adjustments)
                .map(|(v, a)| Input { values: v, adjustments: a })
                .collect();
            let all = rolling(&kind, &inputs, shape, window);
            let Ok(all) = all else {
                // only windows outside the kind's range are refused
                prop_assert!(kind.check_window(window).is_err());
                return Ok(());
            };
            prop_assert_eq!(all.len(), kind.n_outputs());
            let n = rows + 1 - window;
            for asset in 0..assets {
                let columns: Vec<Vec<f64>> = values
                    .iter()
                    .map(|v| (0..rows).map(|r| v[r * assets + asset]).collect())
                    .collect();
                let own: Vec<Vec<Adjustment>> = adjustments
                    .iter()
                    .map(|a| {
                        a.iter()
                            .filter(|a| a.asset as usize == asset)
                            .map(|a| Adjustment { asset: 0, ..*a })
                            .collect()
                    })
                    .collect();
                let alone: Vec<Input<'_>> = columns
                    .iter()
                    .zip(&own)
                    .map(|(v, a)| Input { values: v, adjustments: a })
                    .collect();
                let one = rolling(&kind, &alone, Shape { rows, assets: 1 }, window).unwrap();
                for (all, one) in all.iter().zip(&one) {
                    prop_assert_eq!(all.len(), n * assets);
                    let column: Vec<f64> = (0..n).map(|r| all[r * assets + asset]).collect();
                    prop_assert!(same_bits(&column, one), "{:?} vs {:?}", column, one);
                }
            }
        }

        #[test]
        fn any_parameters_and_windows_never_panic(
            k in 0usize..KINDS.len(),
            p in proptest::collection::vec(prop_oneof![
                Just(0.0), Just(1.0), Just(-1.0), Just(f64::NAN), 0.0..2.0f64, (0u8..12).prop_map(f64::from)
            ], 3),
            rows in 0usize..8,
            assets in 0usize..3,
            window in 0usize..9,
            v in proptest::collection::vec(value(), 24),
        ) {
            let own: HashMap<String, f64> = sample_kinds()[k]
                .param_names()
                .iter()
                .zip(&p)
                .map(|(n, v)| ((*n).to_string(), *v))
                .collect();
            let Ok(probe) = Rolling::parse(KINDS[k], &own) else {
                return Ok(());
            };
            let values = &v[..(rows * assets).min(24)];
            let inputs = vec![Input { values, adjustments: &[] }; probe.n_inputs()];
            let shape = Shape { rows, assets };
            if let Ok(out) = rolling(&probe, &inputs, shape, window) {
                prop_assert_eq!(out.len(), probe.n_outputs());
                for o in out {
                    prop_assert_eq!(o.len(), (rows + 1 - window) * assets);
                }
            }
        }
    }
}
