//! Cross-sectional operations: each row's values across assets, as zipline's `rank`,
//! `demean` / `zscore` / `winsorize`, `quantiles`, `percentile_between` and
//! `peer_count`.
//!
//! Every function takes `[rows × assets]` time-major matrices with a boolean mask (cells
//! where it is false take no part and come out as NaN / −1 / false) and, where zipline
//! has a `groupby`, optional `int64` group labels (−1: no group, treated as masked).
//! Rows are independent and computed in parallel.
//!
//! Numerics follow zipline 3.2.1 in its environment (bottleneck installed, so its
//! `nanmean` / `nanstd` are bottleneck's left-to-right sums; numpy's linear
//! interpolation for percentiles; pandas' `qcut` for quantiles), with one deliberate
//! difference: ranks skip NaN and masked cells for every method (with scipy ≥ 1.10,
//! zipline's non-ordinal ranks of a row holding any NaN are all NaN).

use std::collections::HashMap;
use std::hash::BuildHasher;

use rayon::prelude::*;

use crate::{PipelineError, Shape};

/// How tied values share ranks (scipy's `rankdata` methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankMethod {
    /// Distinct ranks, ties in column order.
    Ordinal,
    /// The mean of the tied positions.
    Average,
    /// The lowest of the tied positions.
    Min,
    /// The highest of the tied positions.
    Max,
    /// Consecutive ranks for distinct values.
    Dense,
}

/// The methods [`RankMethod::parse`] knows.
pub const RANK_METHODS: [&str; 5] = ["ordinal", "average", "min", "max", "dense"];

impl RankMethod {
    pub fn parse(name: &str) -> Result<Self, PipelineError> {
        Ok(match name {
            "ordinal" => RankMethod::Ordinal,
            "average" => RankMethod::Average,
            "min" => RankMethod::Min,
            "max" => RankMethod::Max,
            "dense" => RankMethod::Dense,
            _ => {
                return Err(PipelineError::Parameter(format!(
                    "unknown rank method {name:?} (one of {})",
                    RANK_METHODS.join(", ")
                )))
            }
        })
    }
}

/// A row-wise normalisation (zipline's `GroupedRowTransform`s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalize {
    /// `x − nanmean(group)`.
    Demean,
    /// `(x − nanmean(group)) / nanstd(group)` (ddof 0).
    Zscore,
    /// Values below the `min_percentile` / above the `max_percentile` position of the
    /// group's sorted non-NaN values clipped to the values there.
    Winsorize {
        min_percentile: f64,
        max_percentile: f64,
    },
}

/// The kinds [`Normalize::parse`] knows.
pub const NORMALIZE_KINDS: [&str; 3] = ["demean", "zscore", "winsorize"];

impl Normalize {
    /// The normalisation named `kind` with its parameters (winsorize: `min_percentile`,
    /// `max_percentile`, `0 ≤ min < max ≤ 1`).
    pub fn parse<S: BuildHasher>(
        kind: &str,
        params: &HashMap<String, f64, S>,
    ) -> Result<Self, PipelineError> {
        match kind {
            "demean" | "zscore" => {
                check_param_names(kind, params, &[])?;
                Ok(if kind == "demean" {
                    Normalize::Demean
                } else {
                    Normalize::Zscore
                })
            }
            "winsorize" => {
                check_param_names(kind, params, &["min_percentile", "max_percentile"])?;
                let min_percentile = required_param(kind, params, "min_percentile")?;
                let max_percentile = required_param(kind, params, "max_percentile")?;
                if !(0.0 <= min_percentile
                    && min_percentile < max_percentile
                    && max_percentile <= 1.0)
                {
                    return Err(PipelineError::Parameter(format!(
                        "winsorize: need 0 <= min_percentile < max_percentile <= 1, got \
                         {min_percentile} and {max_percentile}"
                    )));
                }
                Ok(Normalize::Winsorize {
                    min_percentile,
                    max_percentile,
                })
            }
            _ => Err(PipelineError::Parameter(format!(
                "unknown normalisation {kind:?} (one of {})",
                NORMALIZE_KINDS.join(", ")
            ))),
        }
    }
}

/// Refuse parameters of `kind` not named in `known`.
pub(crate) fn check_param_names<S: BuildHasher>(
    kind: &str,
    params: &HashMap<String, f64, S>,
    known: &[&str],
) -> Result<(), PipelineError> {
    let mut unknown: Vec<&str> = params
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    Err(PipelineError::Parameter(format!(
        "{kind}: unknown parameter(s) {} (known: {})",
        unknown.join(", "),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

pub(crate) fn required_param<S: BuildHasher>(
    kind: &str,
    params: &HashMap<String, f64, S>,
    name: &str,
) -> Result<f64, PipelineError> {
    params
        .get(name)
        .copied()
        .ok_or_else(|| PipelineError::Parameter(format!("{kind}: missing parameter {name}")))
}

/// Check the matrices of one call against `shape`.
fn check_shapes(
    shape: Shape,
    values: Option<&[f64]>,
    mask: &[bool],
    groups: Option<&[i64]>,
) -> Result<(), PipelineError> {
    if let Some(values) = values {
        shape.check("values", values.len())?;
    }
    shape.check("mask", mask.len())?;
    if let Some(groups) = groups {
        shape.check("groups", groups.len())?;
    }
    Ok(())
}

/// The cells of row `r` that take part: mask true, group not −1, and (if `skip_nan`) a
/// value that is not NaN; as (group, column), sorted by group then column.
fn members(
    r: usize,
    shape: Shape,
    values: Option<&[f64]>,
    mask: &[bool],
    groups: Option<&[i64]>,
    skip_nan: bool,
    out: &mut Vec<(i64, usize)>,
) {
    let base = r * shape.assets;
    out.clear();
    for c in 0..shape.assets {
        let i = base + c;
        let group = groups.map_or(0, |g| g[i]);
        if !mask[i] || group == -1 || (skip_nan && values.is_some_and(|v| v[i].is_nan())) {
            continue;
        }
        out.push((group, c));
    }
    if groups.is_some() {
        out.sort_by_key(|&(g, _)| g); // stable: columns stay in order within a group
    }
}

/// The runs of equal groups of `members` (sorted by group).
fn group_runs(members: &[(i64, usize)]) -> impl Iterator<Item = &[(i64, usize)]> {
    members.chunk_by(|a, b| a.0 == b.0)
}

/// A row's members and their (group, value key, column) cells, reused between rows.
type RankScratch = (Vec<(i64, usize)>, Vec<(i64, u64, usize)>);

/// A key whose integer order is the order of the (non-NaN) values, reversed unless
/// `ascending`; `-0.0` and `0.0` share one key, as they compare equal.
fn order_key(x: f64, ascending: bool) -> u64 {
    let bits = if x == 0.0 { 0 } else { x.to_bits() };
    let key = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    if ascending {
        key
    } else {
        !key
    }
}

/// The runs of equal values (keys) of one group's sorted cells, with each run's start.
fn tie_runs(group: &[(i64, u64, usize)]) -> impl Iterator<Item = (usize, &[(i64, u64, usize)])> {
    group.chunk_by(|a, b| a.1 == b.1).scan(0, |start, ties| {
        let at = *start;
        *start += ties.len();
        Some((at, ties))
    })
}

/// Ranks of each row's values among the row's (or its group's) other unmasked, non-NaN
/// values, from 1 (smallest if `ascending`, largest otherwise); NaN elsewhere.
pub fn rank(
    values: &[f64],
    mask: &[bool],
    groups: Option<&[i64]>,
    shape: Shape,
    method: RankMethod,
    ascending: bool,
) -> Result<Vec<f64>, PipelineError> {
    check_shapes(shape, Some(values), mask, groups)?;
    let mut out = vec![f64::NAN; values.len()];
    if shape.assets == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(shape.assets).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(cells, keyed): &mut RankScratch, (r, out_row)| {
            members(r, shape, Some(values), mask, groups, true, cells);
            let row = &values[r * shape.assets..(r + 1) * shape.assets];
            // group, then value, then column: ordinal ties go in column order
            keyed.clear();
            keyed.extend(
                cells
                    .iter()
                    .map(|&(g, c)| (g, order_key(row[c], ascending), c)),
            );
            keyed.sort_unstable();
            for group in keyed.chunk_by(|a, b| a.0 == b.0) {
                let mut dense = 0usize;
                for (start, ties) in tie_runs(group) {
                    let end = start + ties.len();
                    dense += 1;
                    for (k, &(_, _, c)) in ties.iter().enumerate() {
                        out_row[c] = match method {
                            RankMethod::Ordinal => (start + k + 1) as f64,
                            RankMethod::Average => 0.5 * (start + 1 + end) as f64,
                            RankMethod::Min => (start + 1) as f64,
                            RankMethod::Max => end as f64,
                            RankMethod::Dense => dense as f64,
                        };
                    }
                }
            }
        },
    );
    Ok(out)
}

/// `kind` applied to each row's (or each group's) unmasked values; NaN where masked,
/// in group −1, or NaN.
pub fn normalize(
    kind: Normalize,
    values: &[f64],
    mask: &[bool],
    groups: Option<&[i64]>,
    shape: Shape,
) -> Result<Vec<f64>, PipelineError> {
    check_shapes(shape, Some(values), mask, groups)?;
    let mut out = vec![f64::NAN; values.len()];
    if shape.assets == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(shape.assets).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(cells, sorted): &mut (Vec<(i64, usize)>, Vec<f64>), (r, out_row)| {
            // NaN values belong to their group (they are skipped by the statistics)
            members(r, shape, Some(values), mask, groups, false, cells);
            let row = &values[r * shape.assets..(r + 1) * shape.assets];
            for group in group_runs(cells) {
                let group_values = || group.iter().map(|&(_, c)| row[c]);
                match kind {
                    Normalize::Demean => {
                        let mean = nanmean(group_values());
                        for &(_, c) in group {
                            out_row[c] = row[c] - mean;
                        }
                    }
                    Normalize::Zscore => {
                        let mean = nanmean(group_values());
                        let std = nanstd(group_values(), mean);
                        for &(_, c) in group {
                            out_row[c] = (row[c] - mean) / std;
                        }
                    }
                    Normalize::Winsorize {
                        min_percentile,
                        max_percentile,
                    } => {
                        sorted.clear();
                        sorted.extend(group_values().filter(|v| !v.is_nan()));
                        sorted.sort_by(f64::total_cmp);
                        let (lo, hi) = winsor_bounds(sorted, min_percentile, max_percentile);
                        for &(_, c) in group {
                            let v = row[c];
                            out_row[c] = if v < lo {
                                lo
                            } else if v > hi {
                                hi
                            } else {
                                v
                            };
                        }
                    }
                }
            }
        },
    );
    Ok(out)
}

/// bottleneck's `nanmean`: the left-to-right sum of the non-NaN values over their count.
fn nanmean(values: impl Iterator<Item = f64>) -> f64 {
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

/// bottleneck's `nanstd` (ddof 0) given its mean: √(Σ(x − mean)² / count) over the
/// non-NaN values, summed left to right.
fn nanstd(values: impl Iterator<Item = f64>, mean: f64) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for v in values.filter(|v| !v.is_nan()) {
        let d = v - mean;
        sum += d * d;
        count += 1;
    }
    if count == 0 {
        f64::NAN
    } else {
        (sum / count as f64).sqrt()
    }
}

/// zipline's `winsorize` cut-offs of `sorted` (ascending, no NaN): the values that the
/// lowest `int(min · n)` and the highest `n − ceil(n · max)` entries are set to
/// (±∞ when that side is not clipped).
fn winsor_bounds(sorted: &[f64], min_percentile: f64, max_percentile: f64) -> (f64, f64) {
    let n = sorted.len();
    let mut lo = f64::NEG_INFINITY;
    let mut hi = f64::INFINITY;
    if n == 0 {
        return (lo, hi);
    }
    if min_percentile > 0.0 {
        let lower_cutoff = (min_percentile * n as f64) as usize;
        lo = sorted[lower_cutoff];
    }
    if max_percentile < 1.0 {
        let upper_cutoff = (n as f64 * max_percentile).ceil() as usize;
        if upper_cutoff < n {
            hi = sorted[upper_cutoff - 1];
        }
    }
    (lo, hi)
}

/// numpy's `quantile(sorted, q, method="linear")` of ascending, non-empty, NaN-free
/// values, with numpy's rounding: virtual index `(n − 1)·q`, then `a + (b − a)·γ`
/// below γ = ½ and `b − (b − a)·(1 − γ)` from there.
fn numpy_quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let last = (n - 1) as f64;
    let virtual_index = last * q;
    let (prev, next, gamma) = if virtual_index >= last {
        // numpy takes the last value at both ends, with γ = index − (−1)
        (n - 1, n - 1, virtual_index + 1.0)
    } else if virtual_index < 0.0 {
        (0, 0, virtual_index)
    } else {
        let floor = virtual_index.floor();
        (floor as usize, floor as usize + 1, virtual_index - floor)
    };
    let (a, b) = (sorted[prev], sorted[next]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// The quantile fractions of `pandas.qcut(x, bins)` as pandas 2 computes them (zipline
/// requires pandas < 3): `np.percentile` at `np.linspace(0, 1, bins + 1) * 100`, which
/// numpy divides by 100 again — `k · (1 / bins) · 100 / 100`, the last exactly 1.
fn qcut_fractions(bins: usize) -> Vec<f64> {
    let step = 1.0 / bins as f64;
    (0..=bins)
        .map(|k| {
            if k == bins {
                1.0
            } else {
                (k as f64 * step + 0.0) * 100.0 / 100.0
            }
        })
        .collect()
}

/// Each row's quantile labels `0 .. bins − 1` of its unmasked non-NaN values (pandas'
/// `qcut(row, bins, labels=False)`: bin edges at the row's linear-interpolated
/// quantiles, bins closed on the right, the first also on the left); −1 where masked or
/// NaN. A row whose bin edges repeat (ties, or fewer values than bins) is refused, as
/// `qcut` refuses it; a row with no values is all −1.
pub fn quantiles(
    values: &[f64],
    mask: &[bool],
    shape: Shape,
    bins: usize,
) -> Result<Vec<i64>, PipelineError> {
    check_shapes(shape, Some(values), mask, None)?;
    if bins == 0 {
        return Err(PipelineError::Parameter(
            "quantiles: bins must be at least 1".to_string(),
        ));
    }
    let mut out = vec![-1i64; values.len()];
    if shape.assets == 0 {
        return Ok(out);
    }
    let fractions = qcut_fractions(bins);
    out.par_chunks_mut(shape.assets)
        .enumerate()
        .try_for_each_init(
            || (Vec::new(), Vec::new()),
            |(sorted, edges): &mut (Vec<f64>, Vec<f64>), (r, out_row)| {
                let row = &values[r * shape.assets..(r + 1) * shape.assets];
                let row_mask = &mask[r * shape.assets..(r + 1) * shape.assets];
                let valid = |c: usize| row_mask[c] && !row[c].is_nan();
                sorted.clear();
                sorted.extend((0..shape.assets).filter(|&c| valid(c)).map(|c| row[c]));
                if sorted.is_empty() {
                    return Ok(());
                }
                sorted.sort_by(f64::total_cmp);
                edges.clear();
                edges.extend(fractions.iter().map(|&q| numpy_quantile(sorted, q)));
                if edges.len() != 2 && has_repeats(edges) {
                    return Err(PipelineError::Parameter(format!(
                        "quantiles: bin edges of row {r} are not unique ({} values for {bins} \
                         bins): {edges:?}",
                        sorted.len()
                    )));
                }
                for c in (0..shape.assets).filter(|&c| valid(c)) {
                    let v = row[c];
                    // searchsorted(edges, v, side="left"); the lowest edge counts as bin 0
                    let mut id = edges.partition_point(|&e| e < v);
                    if v == edges[0] {
                        id = 1;
                    }
                    if id != 0 && id != edges.len() {
                        out_row[c] = id as i64 - 1;
                    }
                }
                Ok(())
            },
        )?;
    Ok(out)
}

/// Whether any two of `edges` are equal (pandas' `unique` count; NaN equals NaN).
fn has_repeats(edges: &[f64]) -> bool {
    let mut sorted = edges.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .windows(2)
        .any(|w| w[0] == w[1] || (w[0].is_nan() && w[1].is_nan()))
}

/// True where an unmasked value lies between its row's `min_percentile` and
/// `max_percentile` (0..=100, numpy's `nanpercentile` with linear interpolation over
/// the unmasked values), bounds included.
pub fn percentile_between(
    values: &[f64],
    mask: &[bool],
    shape: Shape,
    min_percentile: f64,
    max_percentile: f64,
) -> Result<Vec<bool>, PipelineError> {
    check_shapes(shape, Some(values), mask, None)?;
    if !(0.0 <= min_percentile && min_percentile < max_percentile && max_percentile <= 100.0) {
        return Err(PipelineError::Parameter(format!(
            "percentile_between: need 0 <= min_percentile < max_percentile <= 100, got \
             {min_percentile} and {max_percentile}"
        )));
    }
    let mut out = vec![false; values.len()];
    if shape.assets == 0 {
        return Ok(out);
    }
    let (q_min, q_max) = (min_percentile / 100.0, max_percentile / 100.0);
    out.par_chunks_mut(shape.assets).enumerate().for_each_init(
        Vec::new,
        |sorted: &mut Vec<f64>, (r, out_row)| {
            let row = &values[r * shape.assets..(r + 1) * shape.assets];
            let row_mask = &mask[r * shape.assets..(r + 1) * shape.assets];
            sorted.clear();
            sorted.extend(
                row.iter()
                    .zip(row_mask)
                    .filter(|&(v, &m)| m && !v.is_nan())
                    .map(|(&v, _)| v),
            );
            if sorted.is_empty() {
                return;
            }
            sorted.sort_by(f64::total_cmp);
            let lower = numpy_quantile(sorted, q_min);
            let upper = numpy_quantile(sorted, q_max);
            for ((o, &v), &m) in out_row.iter_mut().zip(row).zip(row_mask) {
                *o = m && lower <= v && v <= upper;
            }
        },
    );
    Ok(out)
}

/// For each unmasked cell with a group (not −1), how many unmasked cells of its row
/// share that group; NaN elsewhere.
pub fn peer_count(groups: &[i64], mask: &[bool], shape: Shape) -> Result<Vec<f64>, PipelineError> {
    check_shapes(shape, None, mask, Some(groups))?;
    let mut out = vec![f64::NAN; groups.len()];
    if shape.assets == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(shape.assets).enumerate().for_each_init(
        Vec::new,
        |cells: &mut Vec<(i64, usize)>, (r, out_row)| {
            members(r, shape, None, mask, Some(groups), false, cells);
            for group in group_runs(cells) {
                for &(_, c) in group {
                    out_row[c] = group.len() as f64;
                }
            }
        },
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAN: f64 = f64::NAN;

    fn shape(rows: usize, assets: usize) -> Shape {
        Shape { rows, assets }
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            })
    }

    #[track_caller]
    fn assert_same(got: &[f64], want: &[f64]) {
        assert!(same(got, want), "got {got:?}\nwant {want:?}");
    }

    fn params(pairs: &[(&str, f64)]) -> HashMap<String, f64> {
        pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn parse_names() {
        for (i, name) in RANK_METHODS.iter().enumerate() {
            let m = RankMethod::parse(name).unwrap();
            assert_eq!(
                m,
                [
                    RankMethod::Ordinal,
                    RankMethod::Average,
                    RankMethod::Min,
                    RankMethod::Max,
                    RankMethod::Dense
                ][i]
            );
        }
        let e = RankMethod::parse("first").unwrap_err();
        assert!(matches!(&e, PipelineError::Parameter(m) if m.contains("first")));
        assert_eq!(
            Normalize::parse("zscore", &HashMap::new()),
            Ok(Normalize::Zscore)
        );
        assert_eq!(
            Normalize::parse(
                "winsorize",
                &params(&[("min_percentile", 0.1), ("max_percentile", 0.9)])
            ),
            Ok(Normalize::Winsorize {
                min_percentile: 0.1,
                max_percentile: 0.9
            })
        );
        for (kind, p) in [
            ("rescale", params(&[])),
            ("demean", params(&[("min_percentile", 0.1)])),
            ("winsorize", params(&[("min_percentile", 0.1)])),
            (
                "winsorize",
                params(&[("min_percentile", 0.5), ("max_percentile", 0.5)]),
            ),
            (
                "winsorize",
                params(&[("min_percentile", -0.1), ("max_percentile", 0.5)]),
            ),
            (
                "winsorize",
                params(&[("min_percentile", 0.1), ("max_percentile", NAN)]),
            ),
        ] {
            let e = Normalize::parse(kind, &p).unwrap_err();
            assert!(matches!(e, PipelineError::Parameter(_)), "{kind} {p:?}");
        }
    }

    #[test]
    fn rank_methods_on_a_row_with_ties_nan_and_mask() {
        // values 3, 1, NaN, 1, 2(masked), 5
        let v = [3.0, 1.0, NAN, 1.0, 2.0, 5.0];
        let m = [true, true, true, true, false, true];
        let s = shape(1, 6);
        let r = |method, asc| rank(&v, &m, None, s, method, asc).unwrap();
        assert_same(
            &r(RankMethod::Ordinal, true),
            &[3.0, 1.0, NAN, 2.0, NAN, 4.0],
        );
        assert_same(
            &r(RankMethod::Average, true),
            &[3.0, 1.5, NAN, 1.5, NAN, 4.0],
        );
        assert_same(&r(RankMethod::Min, true), &[3.0, 1.0, NAN, 1.0, NAN, 4.0]);
        assert_same(&r(RankMethod::Max, true), &[3.0, 2.0, NAN, 2.0, NAN, 4.0]);
        assert_same(&r(RankMethod::Dense, true), &[2.0, 1.0, NAN, 1.0, NAN, 3.0]);
        // descending: ordinal ties still in column order
        assert_same(
            &r(RankMethod::Ordinal, false),
            &[2.0, 3.0, NAN, 4.0, NAN, 1.0],
        );
        assert_same(
            &r(RankMethod::Average, false),
            &[2.0, 3.5, NAN, 3.5, NAN, 1.0],
        );
        assert_same(
            &r(RankMethod::Dense, false),
            &[2.0, 3.0, NAN, 3.0, NAN, 1.0],
        );
    }

    #[test]
    fn rank_within_groups() {
        // two rows; groups 7, 7, -1, 2, 2 / 0, 1, 0, 1, 0
        let v = [5.0, 4.0, 1.0, 9.0, 9.0, 1.0, 2.0, 3.0, 4.0, 0.0];
        let g = [7, 7, -1, 2, 2, 0, 1, 0, 1, 0];
        let m = [true; 10];
        let r = rank(&v, &m, Some(&g), shape(2, 5), RankMethod::Ordinal, true).unwrap();
        assert_same(&r, &[2.0, 1.0, NAN, 1.0, 2.0, 2.0, 1.0, 3.0, 2.0, 1.0]);
        let r = rank(&v, &m, Some(&g), shape(2, 5), RankMethod::Max, false).unwrap();
        assert_same(&r, &[1.0, 2.0, NAN, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 3.0]);
    }

    #[test]
    fn demean_and_zscore_by_group() {
        let v = [1.0, 2.0, 3.0, NAN, 10.0, 20.0];
        let g = [0, 0, 0, 0, 1, -1];
        let m = [true, true, true, true, true, true];
        let s = shape(1, 6);
        let d = normalize(Normalize::Demean, &v, &m, Some(&g), s).unwrap();
        assert_same(&d, &[-1.0, 0.0, 1.0, NAN, 0.0, NAN]);
        let z = normalize(Normalize::Zscore, &v, &m, Some(&g), s).unwrap();
        let sd = (2.0f64 / 3.0).sqrt();
        // a group of one value has std 0: 0 / 0
        assert_same(&z, &[-1.0 / sd, 0.0, 1.0 / sd, NAN, NAN, NAN]);
        // without groups, masked cells are left out of the statistics
        let m2 = [true, true, true, true, false, true];
        let d = normalize(Normalize::Demean, &v, &m2, None, s).unwrap();
        assert_same(&d, &[-5.5, -4.5, -3.5, NAN, NAN, 13.5]);
    }

    #[test]
    fn zscore_rounds_like_bottleneck() {
        // a constant row whose left-to-right mean is inexact: 0.1 * 3 / 3 != 0.1
        let v = [0.1, 0.1, 0.1];
        let z = normalize(Normalize::Zscore, &v, &[true; 3], None, shape(1, 3)).unwrap();
        let mean = (0.1 + 0.1 + 0.1) / 3.0;
        let d: f64 = 0.1 - mean;
        let sd = ((d * d + d * d + d * d) / 3.0).sqrt();
        assert_same(&z, &[d / sd, d / sd, d / sd]);
    }

    #[test]
    fn winsorize_clips_to_the_percentile_positions() {
        // zipline's docstring example: prices 1..6
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = [true; 6];
        let s = shape(1, 6);
        let w = |lo, hi| {
            normalize(
                Normalize::Winsorize {
                    min_percentile: lo,
                    max_percentile: hi,
                },
                &v,
                &m,
                None,
                s,
            )
            .unwrap()
        };
        assert_same(&w(0.25, 0.75), &[2.0, 2.0, 3.0, 4.0, 5.0, 5.0]);
        assert_same(&w(0.5, 1.0), &[4.0, 4.0, 4.0, 4.0, 5.0, 6.0]);
        assert_same(&w(0.0, 0.5), &[1.0, 2.0, 3.0, 3.0, 3.0, 3.0]);
        // NaN stays NaN and does not count
        let v = [5.0, NAN, 1.0, 3.0];
        let r = normalize(
            Normalize::Winsorize {
                min_percentile: 0.34,
                max_percentile: 0.66,
            },
            &v,
            &[true; 4],
            None,
            shape(1, 4),
        )
        .unwrap();
        // n = 3: lower int(1.02) = 1 -> 3; upper ceil(1.98) = 2 -> sorted[1] = 3
        assert_same(&r, &[3.0, NAN, 3.0, 3.0]);
    }

    #[test]
    fn quantiles_follow_qcut() {
        let s = shape(1, 5);
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantiles(&v, &[true; 5], s, 4).unwrap(), [0, 0, 1, 2, 3]);
        assert_eq!(quantiles(&v, &[true; 5], s, 2).unwrap(), [0, 0, 0, 1, 1]);
        assert_eq!(quantiles(&v, &[true; 5], s, 1).unwrap(), [0; 5]);
        let v = [5.0, NAN, 1.0, 2.0, 9.0];
        let m = [true, true, true, false, true];
        assert_eq!(quantiles(&v, &m, s, 3).unwrap(), [1, -1, 0, -1, 2]);
        // nothing to bin: all -1; tied edges: refused, as pandas does
        assert_eq!(quantiles(&v, &[false; 5], s, 3).unwrap(), [-1; 5]);
        let tied = [1.0, 1.0, 2.0, 3.0, NAN];
        assert!(matches!(
            quantiles(&tied, &[true; 5], s, 4),
            Err(PipelineError::Parameter(_))
        ));
        assert_eq!(
            quantiles(&tied, &[true; 5], s, 2).unwrap(),
            [0, 0, 1, 1, -1]
        );
        assert!(quantiles(&tied, &[true; 5], s, 0).is_err());
    }

    #[test]
    fn qcut_fractions_are_pandas_2() {
        // np.linspace(0, 1, q + 1) * 100 / 100, as np.percentile receives it
        for bins in 1..=12usize {
            let want: Vec<f64> = (0..=bins)
                .map(|k| {
                    if k == bins {
                        1.0
                    } else {
                        (k as f64 * (1.0 / bins as f64)) * 100.0 / 100.0
                    }
                })
                .collect();
            assert_eq!(qcut_fractions(bins), want);
        }
        // [1, 2, 3, 4] in 3 bins: the edges fall just below 2 and 3 (pandas 2)
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            quantiles(&v, &[true; 4], shape(1, 4), 3).unwrap(),
            [0, 1, 2, 2]
        );
    }

    #[test]
    fn numpy_quantile_interpolates_linearly() {
        let a = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(numpy_quantile(&a, 0.0), 1.0);
        assert_eq!(numpy_quantile(&a, 1.0), 8.0);
        assert_eq!(numpy_quantile(&a, 0.5), 3.0);
        assert_eq!(numpy_quantile(&a, 0.25), 1.75);
        assert_eq!(numpy_quantile(&[7.0], 0.3), 7.0);
    }

    #[test]
    fn percentile_between_keeps_the_middle() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, NAN, 100.0];
        let m = [true, true, true, true, true, true, false];
        let r = percentile_between(&v, &m, shape(1, 7), 25.0, 75.0).unwrap();
        assert_eq!(r, [false, true, true, true, false, false, false]);
        let r = percentile_between(&v, &m, shape(1, 7), 0.0, 100.0).unwrap();
        assert_eq!(r, [true, true, true, true, true, false, false]);
        assert!(percentile_between(&v, &m, shape(1, 7), 50.0, 50.0).is_err());
        assert!(percentile_between(&v, &m, shape(1, 7), 10.0, 101.0).is_err());
        let none = percentile_between(&v, &[false; 7], shape(1, 7), 10.0, 90.0).unwrap();
        assert_eq!(none, [false; 7]);
    }

    #[test]
    fn peer_count_counts_unmasked_members() {
        let g = [3, 3, -1, 4, 3, 1, 1, 1, 1, 1];
        let m = [true, true, true, true, false, true, true, true, true, true];
        let r = peer_count(&g, &m, shape(2, 5)).unwrap();
        assert_same(&r, &[2.0, 2.0, NAN, 1.0, NAN, 5.0, 5.0, 5.0, 5.0, 5.0]);
    }

    #[test]
    fn shapes_are_checked() {
        let s = shape(2, 2);
        assert!(matches!(
            rank(&[1.0; 4], &[true; 3], None, s, RankMethod::Min, true),
            Err(PipelineError::Shape(_))
        ));
        assert!(normalize(Normalize::Demean, &[1.0; 4], &[true; 4], Some(&[0; 5]), s).is_err());
        assert!(peer_count(&[0; 3], &[true; 4], s).is_err());
        // no assets: empty results
        assert!(rank(&[], &[], None, shape(3, 0), RankMethod::Min, true)
            .unwrap()
            .is_empty());
    }

    fn matrix() -> impl Strategy<Value = (Shape, Vec<f64>, Vec<bool>, Vec<i64>)> {
        (1usize..6, 0usize..9).prop_flat_map(|(rows, assets)| {
            let n = rows * assets;
            (
                Just(Shape { rows, assets }),
                proptest::collection::vec(
                    prop_oneof![
                        4 => -5i32..5,
                        1 => Just(i32::MIN),
                    ]
                    .prop_map(|v| {
                        if v == i32::MIN {
                            NAN
                        } else {
                            f64::from(v) * 0.5
                        }
                    }),
                    n,
                ),
                proptest::collection::vec(any::<bool>(), n),
                proptest::collection::vec(-1i64..3, n),
            )
        })
    }

    fn method() -> impl Strategy<Value = RankMethod> {
        prop_oneof![
            Just(RankMethod::Ordinal),
            Just(RankMethod::Average),
            Just(RankMethod::Min),
            Just(RankMethod::Max),
            Just(RankMethod::Dense),
        ]
    }

    proptest! {
        #[test]
        fn ranks_are_consistent_with_the_values(
            (s, v, m, g) in matrix(),
            method in method(),
            ascending in any::<bool>(),
            grouped in any::<bool>(),
        ) {
            let groups = grouped.then_some(g.as_slice());
            let r = rank(&v, &m, groups, s, method, ascending).unwrap();
            for row in 0..s.rows {
                let cells: Vec<usize> = (row * s.assets..(row + 1) * s.assets).collect();
                let group_of = |i: usize| groups.map_or(0, |g| g[i]);
                let member = |i: usize| m[i] && !v[i].is_nan() && group_of(i) != -1;
                for &i in &cells {
                    prop_assert_eq!(r[i].is_nan(), !member(i));
                    if !member(i) {
                        continue;
                    }
                    let peers: Vec<usize> = cells
                        .iter()
                        .copied()
                        .filter(|&j| member(j) && group_of(j) == group_of(i))
                        .collect();
                    let better = |j: usize| if ascending { v[j] < v[i] } else { v[j] > v[i] };
                    let less = peers.iter().filter(|&&j| better(j)).count();
                    let ties = peers.iter().filter(|&&j| v[j] == v[i]).count();
                    let ties_before = peers.iter().filter(|&&j| v[j] == v[i] && j < i).count();
                    let mut distinct_better: Vec<f64> = peers
                        .iter()
                        .filter(|&&j| better(j))
                        .map(|&j| v[j])
                        .collect();
                    distinct_better.sort_by(f64::total_cmp);
                    distinct_better.dedup();
                    let want = match method {
                        RankMethod::Ordinal => (less + ties_before + 1) as f64,
                        RankMethod::Average => less as f64 + (ties + 1) as f64 / 2.0,
                        RankMethod::Min => (less + 1) as f64,
                        RankMethod::Max => (less + ties) as f64,
                        RankMethod::Dense => (distinct_better.len() + 1) as f64,
                    };
                    prop_assert_eq!(r[i], want);
                }
                // ordinal ranks of a group are a permutation of 1..=n
                if method == RankMethod::Ordinal {
                    let mut by_group: HashMap<i64, Vec<f64>> = HashMap::new();
                    for &i in cells.iter().filter(|&&i| member(i)) {
                        by_group.entry(group_of(i)).or_default().push(r[i]);
                    }
                    for ranks in by_group.values_mut() {
                        ranks.sort_by(f64::total_cmp);
                        let want: Vec<f64> = (1..=ranks.len()).map(|k| k as f64).collect();
                        prop_assert_eq!(&*ranks, &want);
                    }
                }
            }
        }

        #[test]
        fn cross_sections_do_not_panic(
            (s, v, m, g) in matrix(),
            grouped in any::<bool>(),
            lo in 0.0f64..1.0,
            width in 0.001f64..1.0,
            bins in 1usize..6,
        ) {
            let groups = grouped.then_some(g.as_slice());
            let hi = (lo + width).min(1.0);
            prop_assume!(lo < hi);
            for kind in [
                Normalize::Demean,
                Normalize::Zscore,
                Normalize::Winsorize { min_percentile: lo, max_percentile: hi },
            ] {
                let out = normalize(kind, &v, &m, groups, s).unwrap();
                for (i, o) in out.iter().enumerate() {
                    let member = m[i] && groups.is_none_or(|g| g[i] != -1);
                    if !member || v[i].is_nan() {
                        prop_assert!(o.is_nan());
                    }
                    if member && !v[i].is_nan() && matches!(kind, Normalize::Winsorize { .. }) {
                        prop_assert!(!o.is_nan());
                    }
                }
            }
            if let Ok(q) = quantiles(&v, &m, s, bins) {
                for (i, &label) in q.iter().enumerate() {
                    prop_assert!((-1..bins as i64).contains(&label));
                    prop_assert_eq!(label == -1, !m[i] || v[i].is_nan());
                }
            }
            let p = percentile_between(&v, &m, s, lo * 100.0, hi * 100.0).unwrap();
            for (i, &keep) in p.iter().enumerate() {
                prop_assert!(!keep || (m[i] && !v[i].is_nan()));
            }
            let c = peer_count(&g, &m, s).unwrap();
            for (i, &n) in c.iter().enumerate() {
                prop_assert_eq!(n.is_nan(), !m[i] || g[i] == -1);
            }
        }
    }
}
