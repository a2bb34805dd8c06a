//! Risk metrics with empyrical's definitions (`periods` a year: 252 for an exchange
//! calendar's sessions, 365 for a 24/7 calendar's days; risk-free 0,
//! standard deviation with ddof = 1, Sortino on downside deviation, drawdown of the
//! wealth curve starting at 1), computed cumulatively: row `i` uses returns `0..=i`.

/// Sessions a year of an exchange calendar (empyrical's `DAILY` annualization).
pub const PERIODS_PER_YEAR: f64 = 252.0;

/// Days a year of a calendar that never closes (24/7).
pub const PERIODS_PER_YEAR_ALWAYS_OPEN: f64 = 365.0;

/// `periods` as an annualisation: refused unless a finite number of at least 1.
pub fn check_periods(periods: f64) -> Result<f64, crate::error::EngineError> {
    if periods.is_finite() && periods >= 1.0 {
        Ok(periods)
    } else {
        Err(crate::error::EngineError::BadParameter {
            name: "periods_per_year",
            value: periods.to_string(),
            reason: "must be a finite number of at least 1".into(),
        })
    }
}

/// The nominal periods a year of daily returns on `calendar`: 365 for a 24/7 calendar
/// (rustybt's `24/7`, zipline's `ALWAYS_OPEN`), 252 for an exchange's sessions.
#[must_use]
pub fn periods_per_year(calendar: &str) -> f64 {
    match calendar {
        "24/7" | "ALWAYS_OPEN" | "always_open" => PERIODS_PER_YEAR_ALWAYS_OPEN,
        _ => PERIODS_PER_YEAR,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RiskRow {
    pub algorithm_period_return: f64,
    pub algo_volatility: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown: f64,
}

/// A sum from 0, element by element, as bottleneck's `nanmean` / `nanstd` make it
/// (empyrical-reloaded requires bottleneck and uses it for both). The statistics below
/// divide such sums, and on a nearly constant series (a standard deviation that is all
/// rounding) any other summation order, or a one-pass update, gives a different answer
/// from empyrical's: a finite Sharpe of 7.5e16 came out as inf.
fn seq_sum(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |acc, &x| acc + x)
}

/// bottleneck's `nanmean` and `nanstd(ddof=1)` of `a` (two passes, sequential sums);
/// `scratch` is reused for the squared deviations.
#[allow(clippy::cast_precision_loss)] // window lengths are far below 2^52
fn mean_std(a: &[f64], scratch: &mut Vec<f64>) -> (f64, f64) {
    let n = a.len() as f64;
    let mean = seq_sum(a) / n;
    scratch.clear();
    scratch.extend(a.iter().map(|x| {
        let d = x - mean;
        d * d
    }));
    // n - 1 = 0 gives 0/0 = NaN, as numpy's divide does
    (mean, (seq_sum(scratch) / (n - 1.0)).sqrt())
}

/// What the statistics of a window need from its returns in order: the wealth curve's
/// value, peak and worst drawdown, and the lowest and highest return.
struct Running {
    wealth: f64,
    peak: f64,
    max_dd: f64,
    lo: f64,
    hi: f64,
}

impl Running {
    fn new() -> Self {
        Running {
            wealth: 1.0,
            peak: 1.0,
            max_dd: 0.0,
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
        }
    }

    fn push(&mut self, r: f64) {
        self.wealth *= 1.0 + r;
        self.peak = self.peak.max(self.wealth);
        self.max_dd = self.max_dd.min((self.wealth - self.peak) / self.peak);
        (self.lo, self.hi) = (self.lo.min(r), self.hi.max(r));
    }

    /// empyrical's statistics of `window`, the returns pushed so far.
    fn row(&self, window: &[f64], scratch: &mut Vec<f64>, periods: f64) -> RiskRow {
        let (mean, std) = mean_std(window, scratch);
        scratch.clear();
        scratch.extend(window.iter().map(|&x| downside_term(x)));
        self.finish(window.len(), mean, std, seq_sum(scratch), periods)
    }

    /// The row of the `n` returns pushed so far from their (bottleneck) mean and standard
    /// deviation and the sequential sum of their [`downside_term`]s.
    fn finish(&self, n: usize, mean: f64, std: f64, downside_sum: f64, periods: f64) -> RiskRow {
        let ann = periods.sqrt();
        #[allow(clippy::cast_precision_loss)] // window lengths are far below 2^52
        let n = n as f64;
        // empyrical-reloaded's Sharpe takes identical returns' deviation as exactly 0 (the
        // mean they are centred on can differ from them in the last bit); its volatility
        // keeps the residue
        let sharpe_std = if self.lo == self.hi && std.is_finite() {
            0.0
        } else {
            std
        };
        let downside = (downside_sum / n).sqrt() * ann;
        RiskRow {
            algorithm_period_return: self.wealth - 1.0,
            algo_volatility: std * ann,
            // 0/0 is NaN and x/0 is ±inf, as numpy's divide gives empyrical
            sharpe: mean / sharpe_std * ann,
            // empyrical: fewer than two observations give NaN
            sortino: if n < 2.0 {
                f64::NAN
            } else {
                mean * periods / downside
            },
            max_drawdown: self.max_dd,
        }
    }
}

/// A return's term of empyrical's downside deviation: `min(x, 0)²`.
#[inline]
fn downside_term(x: f64) -> f64 {
    let c = x.min(0.0);
    c * c
}

/// Prefixes computed together, one lane each ([`prefix_block`]).
const PREFIXES: usize = 8;

/// Every prefix's mean: `xs[..=i]`'s sequential sum from 0 (a running sum is, addition
/// for addition, each prefix's own) over `i + 1`, as bottleneck's `nanmean` makes it.
fn prefix_means(xs: &[f64]) -> Vec<f64> {
    let mut sum = 0.0;
    xs.iter()
        .enumerate()
        .map(|(i, &x)| {
            sum += x;
            #[allow(clippy::cast_precision_loss)] // window lengths are far below 2^52
            let n = (i + 1) as f64;
            sum / n
        })
        .collect()
}

/// Visit the rows of the [`PREFIXES`] prefixes `..=first`, `..=first + 1`, ... (lane `k`
/// the prefix `..=first + k`, lanes `width..` beyond the data and never read), each lane's
/// rows in order: `step(j, k)` for the rows `j <= first` every lane holds, all lanes a
/// row (independent sums, which overlap in the CPU), then lane `k`'s own rows
/// `first + 1 ..= first + k`. A sum a lane keeps is then the same operations in the same
/// order as its prefix's own pass.
#[inline]
fn prefix_block(first: usize, width: usize, mut step: impl FnMut(usize, usize)) {
    for j in 0..=first {
        for k in 0..PREFIXES {
            step(j, k);
        }
    }
    for k in 1..width {
        for j in first + 1..=first + k {
            step(j, k);
        }
    }
}

/// For every prefix `returns[..=i]`, the sequential sum of `(x - means[i])²` over it, as
/// [`mean_std`]'s second pass makes it, [`PREFIXES`] prefixes a pass ([`prefix_block`]).
fn squared_deviation_sums(returns: &[f64], means: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; returns.len()];
    for (block, dst) in out.chunks_mut(PREFIXES).enumerate() {
        let first = block * PREFIXES; // the block's shortest prefix ends here
        let mut m = [0.0; PREFIXES];
        m[..dst.len()].copy_from_slice(&means[first..first + dst.len()]);
        let mut acc = [0.0f64; PREFIXES];
        prefix_block(first, dst.len(), |j, k| {
            let d = returns[j] - m[k];
            acc[k] += d * d;
        });
        dst.copy_from_slice(&acc[..dst.len()]);
    }
    out
}

/// Cumulative risk metrics after each period: row `i` is empyrical's statistics of
/// `returns[..=i]`, operation by operation (bottleneck's two-pass mean and standard
/// deviation, sequential sums), so a nearly constant series gives empyrical's answer too.
/// The sums that do not depend on the prefix's mean (the returns', the downside terms')
/// are each prefix's sum by construction when kept running from the first return; the
/// squared deviations from each prefix's own mean take a pass over it, O(n^2) over
/// sessions, several prefixes a pass ([`squared_deviation_sums`]). For the whole run
/// alone, use [`final_risk`].
pub fn cumulative_risk(returns: &[f64], periods: f64) -> Vec<RiskRow> {
    let means = prefix_means(returns);
    let mut downside = 0.0;
    let downside_sums: Vec<f64> = returns
        .iter()
        .map(|&x| {
            downside += downside_term(x);
            downside
        })
        .collect();
    let squares = squared_deviation_sums(returns, &means);
    let mut running = Running::new();
    returns
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            running.push(r);
            #[allow(clippy::cast_precision_loss)] // window lengths are far below 2^52
            let n = (i + 1) as f64;
            // n - 1 = 0 gives 0/0 = NaN, as numpy's divide does
            let std = (squares[i] / (n - 1.0)).sqrt();
            running.finish(i + 1, means[i], std, downside_sums[i], periods)
        })
        .collect()
}

/// The last row of [`cumulative_risk`] (the whole run's statistics), in O(n); the
/// default row for no returns.
#[must_use]
pub fn final_risk(returns: &[f64], periods: f64) -> RiskRow {
    if returns.is_empty() {
        return RiskRow::default();
    }
    let mut running = Running::new();
    for &r in returns {
        running.push(r);
    }
    running.row(returns, &mut Vec::with_capacity(returns.len()), periods)
}

/// Benchmark-relative metrics after each period.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BenchmarkRow {
    pub benchmark_period_return: f64,
    pub benchmark_volatility: f64,
    /// empyrical's `alpha_aligned`: `(mean(r - beta * b) + 1)^periods - 1`.
    pub alpha: f64,
    /// empyrical's `beta_aligned`: `mean((b - mean(b)) * r) / mean((b - mean(b))^2)`, NaN
    /// below two observations or where the benchmark's variance is below 1e-30.
    pub beta: f64,
}

/// Cumulative benchmark metrics (row `i` uses periods `0..=i`) of `returns` against
/// `benchmark` (same length).
///
/// Alpha and beta follow empyrical's `alpha_beta_aligned` operation by operation (two
/// passes over each prefix, sequential sums as its `nanmean` makes them): alpha raises a
/// mean daily excess to the 252nd power, which turns any difference in the last bits into
/// a visible one, so a single-pass update would not match it. O(n^2) over sessions: 10
/// years of sessions take milliseconds.
///
/// # Panics
/// If the two series differ in length.
pub fn cumulative_benchmark_risk(
    returns: &[f64],
    benchmark: &[f64],
    periods: f64,
) -> Vec<BenchmarkRow> {
    assert_eq!(
        returns.len(),
        benchmark.len(),
        "returns and benchmark differ in length"
    );
    let mut out = Vec::with_capacity(returns.len());
    let (mut n, mut mean_b, mut m2_b) = (0f64, 0f64, 0f64);
    let mut wealth = 1f64;
    let ann = periods.sqrt();
    let alphas_betas = cumulative_alpha_beta(returns, benchmark, periods);
    for (i, &b) in benchmark.iter().enumerate() {
        n += 1.0;
        let delta_b = b - mean_b;
        mean_b += delta_b / n;
        m2_b += delta_b * (b - mean_b);
        wealth *= 1.0 + b;
        let (alpha, beta) = alphas_betas[i];
        out.push(BenchmarkRow {
            benchmark_period_return: wealth - 1.0,
            benchmark_volatility: if n > 1.0 {
                (m2_b / (n - 1.0)).sqrt() * ann
            } else {
                f64::NAN
            },
            alpha,
            beta,
        });
    }
    out
}

/// [`alpha_beta`] of every prefix `..=i` of `returns` and `benchmark`, each the same
/// operations in the same order as that prefix's own call. The benchmark's running sum
/// is each prefix's sequential sum by construction; the passes that depend on a prefix's
/// own mean (covariance and variance) and beta (the excess returns) run
/// [`PREFIXES`] prefixes at a time, one lane each ([`prefix_block`]).
/// While every benchmark return so far is zero (a run without a benchmark: all of them)
/// the variance is exactly zero and the answer (NaN, NaN), without the passes.
fn cumulative_alpha_beta(returns: &[f64], benchmark: &[f64], periods: f64) -> Vec<(f64, f64)> {
    let len = returns.len();
    let mut out = vec![(f64::NAN, f64::NAN); len];
    // the first prefix holding a non-zero benchmark return: before it, (NaN, NaN)
    let Some(first_moving) = benchmark.iter().position(|&b| b != 0.0) else {
        return out;
    };
    let means = prefix_means(benchmark);
    let start = first_moving.max(1) / PREFIXES * PREFIXES; // (blocks stay aligned)
    for (block, dst) in out[start..].chunks_mut(PREFIXES).enumerate() {
        let first = start + block * PREFIXES;
        let width = dst.len();
        let mut m = [0.0; PREFIXES];
        m[..width].copy_from_slice(&means[first..first + width]);
        // covariance and variance: each lane's prefix, in order
        let (mut cov, mut var) = ([0.0f64; PREFIXES], [0.0f64; PREFIXES]);
        prefix_block(first, width, |j, k| {
            let d = benchmark[j] - m[k];
            cov[k] += d * returns[j];
            var[k] += d * d;
        });
        let mut beta = [f64::NAN; PREFIXES];
        let mut live = [false; PREFIXES];
        for k in 0..width {
            #[allow(clippy::cast_precision_loss)] // window lengths are far below 2^52
            let n = (first + k + 1) as f64;
            let v = var[k] / n;
            // fewer than two returns, or a variance below empyrical's 1e-30: (NaN, NaN)
            if first + k >= 1 && v >= 1.0e-30 {
                beta[k] = (cov[k] / n) / v;
                live[k] = true;
            }
        }
        if !live.contains(&true) {
            continue;
        }
        // the excess returns r − beta·b of each lane's prefix, in order
        let mut excess = [0.0f64; PREFIXES];
        prefix_block(first, width, |j, k| {
            excess[k] += returns[j] - beta[k] * benchmark[j];
        });
        for k in 0..width {
            if live[k] {
                #[allow(clippy::cast_precision_loss)] // window lengths are far below 2^52
                let n = (first + k + 1) as f64;
                dst[k] = ((excess[k] / n + 1.0).powf(periods) - 1.0, beta[k]);
            }
        }
    }
    out
}

/// empyrical's `alpha_beta_aligned` (risk-free 0, `periods` a year) of one window: the
/// last row of [`cumulative_benchmark_risk`] without the rows before it.
#[must_use]
pub fn alpha_beta(returns: &[f64], benchmark: &[f64], periods: f64) -> (f64, f64) {
    if returns.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    #[allow(clippy::cast_precision_loss)] // window lengths are far below 2^52
    let n = returns.len() as f64;
    // each mean is a sequential sum from 0 over the window, in order, then one division:
    // the same operations as empyrical's nanmean over the same values (no buffer needed)
    let mean_b = seq_sum(benchmark) / n;
    let mut cov = 0.0;
    for (b, r) in benchmark.iter().zip(returns) {
        cov += (b - mean_b) * r;
    }
    let cov = cov / n;
    let mut var = 0.0;
    for b in benchmark {
        let d = b - mean_b;
        var += d * d;
    }
    let var = var / n;
    if var < 1.0e-30 {
        // beta is NaN, and so is every excess return r − beta·b, their mean and alpha
        return (f64::NAN, f64::NAN);
    }
    let beta = cov / var;
    let mut excess = 0.0;
    for (r, b) in returns.iter().zip(benchmark) {
        excess += r - beta * b;
    }
    let excess = excess / n;
    ((excess + 1.0).powf(periods) - 1.0, beta)
}

/// A closed round trip: fill `close` (an index into the fills) closing `shares` of the lot
/// that fill `open` opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundTrip {
    pub open: usize,
    pub close: usize,
    /// Signed: positive for a long lot, negative for a short one.
    pub shares: i64,
    pub entry: f64,
    pub exit: f64,
    /// At fill prices, less both sides' commissions pro rata per share.
    pub pnl: f64,
}

/// The closed round trips of a fill log, first in first out per asset: each closing fill
/// is matched against the oldest open lots of its group. Fills are given column-wise in
/// time order; `group[i]` is fill `i`'s asset as a rank (the trips come out group by group
/// in rank order, each group's in time order: rank the symbols to get them in symbol
/// order). The arithmetic is f64, operation by operation what Python's floats would do.
///
/// # Panics
/// If the columns differ in length.
#[must_use]
#[allow(clippy::cast_precision_loss)] // share counts are far below 2^53
pub fn fifo_round_trips(
    group: &[u32],
    amount: &[i64],
    price: &[f64],
    commission: &[f64],
) -> Vec<RoundTrip> {
    let n = group.len();
    assert!(
        amount.len() == n && price.len() == n && commission.len() == n,
        "fill columns differ in length"
    );
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| group[i]); // stable: time order within a group
    let mut trips = Vec::new();
    // open lots of the current group: (shares signed, price, commission per share, fill)
    let mut lots: std::collections::VecDeque<(i64, f64, f64, usize)> =
        std::collections::VecDeque::new();
    for (k, &i) in order.iter().enumerate() {
        if k > 0 && group[order[k - 1]] != group[i] {
            lots.clear();
        }
        let mut remaining = amount[i];
        let fee = if remaining == 0 {
            0.0
        } else {
            commission[i] / remaining.unsigned_abs() as f64
        };
        while remaining != 0 {
            let Some(lot) = lots.front_mut() else { break };
            if (lot.0 > 0) == (remaining > 0) {
                break;
            }
            let closed = remaining.unsigned_abs().min(lot.0.unsigned_abs());
            let sign: i64 = if lot.0 > 0 { 1 } else { -1 };
            let closed_f = closed as f64;
            let pnl = (price[i] - lot.1) * closed_f * sign as f64 - (lot.2 + fee) * closed_f;
            #[allow(clippy::cast_possible_wrap)] // closed <= |an i64|
            let signed = closed as i64 * sign;
            trips.push(RoundTrip {
                open: lot.3,
                close: i,
                shares: signed,
                entry: lot.1,
                exit: price[i],
                pnl,
            });
            lot.0 -= signed;
            remaining += signed;
            if lot.0 == 0 {
                lots.pop_front();
            }
        }
        if remaining != 0 {
            lots.push_back((remaining, price[i], fee, i));
        }
    }
    trips
}

#[cfg(test)]
mod tests {
    use super::*;

    /// empyrical's `alpha_beta_aligned` as written: each mean a buffer of its terms, then
    /// a sequential sum and one division (the form `alpha_beta` had before it summed in
    /// place).
    fn alpha_beta_buffered(returns: &[f64], benchmark: &[f64], periods: f64) -> (f64, f64) {
        let n = returns.len() as f64;
        let mean = |v: Vec<f64>| seq_sum(&v) / n;
        let mean_b = mean(benchmark.to_vec());
        let cov = mean(
            benchmark
                .iter()
                .zip(returns)
                .map(|(b, r)| (b - mean_b) * r)
                .collect(),
        );
        let var = mean(
            benchmark
                .iter()
                .map(|b| (b - mean_b) * (b - mean_b))
                .collect(),
        );
        let beta = if var < 1.0e-30 { f64::NAN } else { cov / var };
        let excess = mean(
            returns
                .iter()
                .zip(benchmark)
                .map(|(r, b)| r - beta * b)
                .collect(),
        );
        ((excess + 1.0).powf(periods) - 1.0, beta)
    }

    /// Returns uniform in ±3% from a xorshift generator seeded with `state`.
    fn daily_returns(mut state: u64) -> impl FnMut() -> f64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 0.06 - 0.03
        }
    }

    #[test]
    fn alpha_and_beta_are_the_buffered_form_bit_for_bit() {
        let mut next = daily_returns(0x2545_f491_4f6c_dd1d);
        for len in [2usize, 3, 17, 250, 600] {
            let r: Vec<f64> = (0..len).map(|_| next()).collect();
            let b: Vec<f64> = (0..len).map(|_| next()).collect();
            for periods in [252.0, 365.0] {
                let (a1, b1) = alpha_beta(&r, &b, periods);
                let (a2, b2) = alpha_beta_buffered(&r, &b, periods);
                assert_eq!((a1.to_bits(), b1.to_bits()), (a2.to_bits(), b2.to_bits()));
            }
        }
    }

    #[test]
    fn every_cumulative_alpha_and_beta_is_the_buffered_form_bit_for_bit() {
        // benchmarks that start at zero (no data yet, or none at all), stay constant or
        // hold a lone -0.0: the rows the shortcuts answer without the passes
        let mut next = daily_returns(0x9e37_79b9_7f4a_7c15);
        let r: Vec<f64> = (0..120).map(|_| next()).collect();
        let noise: Vec<f64> = (0..120).map(|_| next()).collect();
        let benchmarks: Vec<Vec<f64>> = vec![
            vec![0.0; 120],
            (0..120)
                .map(|i| if i < 40 { 0.0 } else { noise[i] })
                .collect(),
            (0..120)
                .map(|i| {
                    if i == 7 {
                        -0.0
                    } else if i < 30 {
                        0.0
                    } else {
                        noise[i]
                    }
                })
                .collect(),
            vec![0.01; 120],
            (0..120)
                .map(|i| if i < 50 { 0.002 } else { noise[i] })
                .collect(),
            noise.clone(),
        ];
        // (lengths that end inside a block of prefixes too, and a NaN return)
        let mut r_nan = r.clone();
        r_nan[45] = f64::NAN;
        for b in &benchmarks {
            for r in [&r, &r_nan] {
                for len in [120, 117, 53, 9, 2, 1, 0] {
                    let (r, b) = (&r[..len], &b[..len]);
                    let rows = cumulative_benchmark_risk(r, b, 252.0);
                    assert_eq!(rows.len(), len);
                    for (i, row) in rows.iter().enumerate() {
                        let (a, beta) = if i == 0 {
                            (f64::NAN, f64::NAN)
                        } else {
                            alpha_beta_buffered(&r[..=i], &b[..=i], 252.0)
                        };
                        assert_eq!(
                            (row.alpha.to_bits(), row.beta.to_bits()),
                            (a.to_bits(), beta.to_bits()),
                            "row {i} of {len}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_24_7_calendar_annualises_with_365_days() {
        assert_eq!(periods_per_year("24/7"), 365.0);
        assert_eq!(periods_per_year("XNYS"), 252.0);
        let r = [0.01, -0.02, 0.005, 0.03];
        let (a, b) = (
            final_risk(&r, 252.0),
            final_risk(&r, periods_per_year("24/7")),
        );
        // volatility and Sharpe scale with the square root of the periods, Sortino too
        let k = (365.0f64 / 252.0).sqrt();
        assert!((b.algo_volatility / a.algo_volatility - k).abs() < 1e-12);
        assert!((b.sharpe / a.sharpe - k).abs() < 1e-12);
        assert!((b.sortino / a.sortino - k).abs() < 1e-12);
        assert_eq!(a.max_drawdown, b.max_drawdown);
        assert!(check_periods(0.5).is_err() && check_periods(f64::NAN).is_err());
    }

    /// Row `i` as the per-prefix form computes it: `Running::row` over `returns[..=i]`.
    fn cumulative_risk_by_prefix(returns: &[f64], periods: f64) -> Vec<RiskRow> {
        let mut scratch = Vec::new();
        let mut running = Running::new();
        returns
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                running.push(r);
                running.row(&returns[..=i], &mut scratch, periods)
            })
            .collect()
    }

    #[test]
    fn cumulative_rows_are_each_prefix_s_own_bit_for_bit() {
        let mut next = daily_returns(7);
        let random: Vec<f64> = (0..300).map(|_| next()).collect();
        let mut nearly_constant = vec![0.001; 40];
        nearly_constant[17] = 0.001 + 1e-18;
        nearly_constant[31] = 0.001 - 2e-19;
        let mut with_nan = random[..50].to_vec();
        with_nan[3] = f64::NAN;
        let series: Vec<Vec<f64>> = vec![
            vec![],
            vec![0.01],
            vec![-0.0, 0.0, -0.0],
            random.clone(),
            nearly_constant,
            vec![0.0; 23],
            vec![-0.003; 17],
            with_nan,
            vec![1e300, -1e300, 1e300, 5.0, -7.0, 1e-300, 3.0, 2.0, 1.0],
            random.iter().map(|x| x * 1e12).collect(),
        ];
        for returns in &series {
            for n in [returns.len()].into_iter().chain(0..returns.len().min(20)) {
                let got = cumulative_risk(&returns[..n], 252.0);
                let want = cumulative_risk_by_prefix(&returns[..n], 252.0);
                assert_eq!(got.len(), want.len());
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    // Debug: bit-for-bit (-0.0 apart from 0.0), NaN equal to NaN
                    let (g, w) = (format!("{g:?}"), format!("{w:?}"));
                    assert_eq!(g, w, "row {i} of {n}: {returns:?}");
                }
            }
        }
    }

    #[test]
    fn final_risk_is_the_last_cumulative_row() {
        let returns = [0.01, -0.02, 0.005, 0.0, 0.03, -0.01, 0.01, 0.01, -0.004];
        for n in 0..=returns.len() {
            let want = cumulative_risk(&returns[..n], PERIODS_PER_YEAR)
                .last()
                .copied()
                .unwrap_or_default();
            let got = final_risk(&returns[..n], PERIODS_PER_YEAR);
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{n} returns"); // NaN-equal
        }
    }

    #[test]
    fn round_trips_are_fifo_per_group_with_pro_rata_fees() {
        // group 1 (listed first in time) comes out after group 0
        let group = [1, 0, 0, 0, 1];
        let amount = [10, 5, 5, -8, -10];
        let price = [2.0, 10.0, 12.0, 11.0, 3.0];
        let commission = [1.0, 0.5, 0.5, 0.8, 1.0];
        let trips = fifo_round_trips(&group, &amount, &price, &commission);
        let got: Vec<(usize, usize, i64)> =
            trips.iter().map(|t| (t.open, t.close, t.shares)).collect();
        assert_eq!(got, vec![(1, 3, 5), (2, 3, 3), (0, 4, 10)]);
        // 5 shares bought at 10 (fee 0.1/share) sold at 11 (fee 0.1/share)
        assert!((trips[0].pnl - (5.0 * 1.0 - 0.2 * 5.0)).abs() < 1e-12);
        // 3 of the lot at 12 sold at 11
        assert!((trips[1].pnl - (-3.0 - 0.2 * 3.0)).abs() < 1e-12);
        assert!((trips[2].pnl - (10.0 * 1.0 - 0.2 * 10.0)).abs() < 1e-12);
        assert_eq!((trips[1].entry, trips[1].exit), (12.0, 11.0));
    }

    #[test]
    fn a_fill_through_zero_closes_then_opens_the_other_side() {
        let trips = fifo_round_trips(&[0, 0, 0], &[-4, 6, -2], &[5.0, 4.0, 6.0], &[0.0; 3]);
        // short 4 at 5, covered at 4 (+4); the 2 left over go long at 4, sold at 6 (+4)
        let got: Vec<(usize, usize, i64, f64)> = trips
            .iter()
            .map(|t| (t.open, t.close, t.shares, t.pnl))
            .collect();
        assert_eq!(got, vec![(0, 1, -4, 4.0), (1, 2, 2, 4.0)]);
    }

    #[test]
    fn benchmark_metrics_match_two_pass_definitions() {
        let r = [0.01, -0.02, 0.03, 0.005];
        let b = [0.002, -0.01, 0.015, 0.001];
        let last = cumulative_benchmark_risk(&r, &b, PERIODS_PER_YEAR)[3];
        let n = 4.0;
        let mb = b.iter().sum::<f64>() / n;
        let mr = r.iter().sum::<f64>() / n;
        let cov = b.iter().zip(&r).map(|(x, y)| (x - mb) * y).sum::<f64>() / n;
        let var = b.iter().map(|x| (x - mb).powi(2)).sum::<f64>() / n;
        let beta = cov / var;
        assert!((last.beta - beta).abs() < 1e-12, "{} vs {beta}", last.beta);
        let alpha = (mr - beta * mb + 1.0).powf(252.0) - 1.0;
        assert!((last.alpha - alpha).abs() < 1e-10);
        let std = (b.iter().map(|x| (x - mb).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!((last.benchmark_volatility - std * 252f64.sqrt()).abs() < 1e-12);
        let wealth: f64 = b.iter().map(|x| 1.0 + x).product();
        assert!((last.benchmark_period_return - (wealth - 1.0)).abs() < 1e-15);
        // no benchmark (zeros): beta and alpha undefined
        let flat = cumulative_benchmark_risk(&r, &[0.0; 4], PERIODS_PER_YEAR);
        assert!(flat[3].beta.is_nan() && flat[3].alpha.is_nan());
        assert!(flat[0].benchmark_volatility.is_nan());
        assert!(flat[3].benchmark_volatility.abs() < 1e-300);
    }

    #[test]
    fn matches_hand_computed_values() {
        let r = [0.01, -0.02, 0.03];
        let rows = cumulative_risk(&r, PERIODS_PER_YEAR);
        let last = rows[2];
        let mean: f64 = 0.02 / 3.0;
        let var =
            ((0.01 - mean).powi(2) + (-0.02f64 - mean).powi(2) + (0.03f64 - mean).powi(2)) / 2.0;
        assert!((last.sharpe - mean / var.sqrt() * 252f64.sqrt()).abs() < 1e-12);
        let downside = (0.0004f64 / 3.0).sqrt() * 252f64.sqrt();
        assert!((last.sortino - mean * 252.0 / downside).abs() < 1e-12);
        assert!((last.max_drawdown - (-0.02)).abs() < 1e-15);
        assert!((last.algorithm_period_return - (1.01 * 0.98 * 1.03 - 1.0)).abs() < 1e-15);
        assert!(rows[0].sharpe.is_nan());
    }
}
