//! zipline's Pipeline kernels as functions of numpy matrices: rolling factors and
//! statistics over adjusted windows, and operations across each row's assets (rank,
//! normalisations, quantiles, percentile filter, peer counts). The work is
//! `rustybt_pipeline`'s and runs with the GIL released; the names of kinds, methods and
//! normalisations are parsed there.

use std::borrow::Cow;
use std::collections::HashMap;

use numpy::{
    Element, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use rustybt_pipeline::cross::{
    normalize, peer_count, percentile_between, quantiles, rank, Normalize, RankMethod,
};
use rustybt_pipeline::stats::{rolling_stat, Stat};
use rustybt_pipeline::window::{rolling, Rolling};
use rustybt_pipeline::{Adjustment, Input, PipelineError, Shape};

use crate::errors::{guard_at, Result};

/// One input's adjustments as numpy columns: (assets, rows, ratios).
type AdjustmentColumns<'py> = (
    PyReadonlyArray1<'py, u32>,
    PyReadonlyArray1<'py, u32>,
    PyReadonlyArray1<'py, f64>,
);

fn shape_of<T: Element>(a: &PyReadonlyArray2<'_, T>) -> Shape {
    let s = a.shape();
    Shape {
        rows: s[0],
        assets: s[1],
    }
}

/// `a`'s values in row-major order, borrowed when already C-contiguous (`as_slice`
/// would also lend a Fortran-ordered array, in column-major order).
fn values_of<'a, T: Element + Copy>(a: &'a PyReadonlyArray2<'_, T>) -> Cow<'a, [T]> {
    match a.as_slice() {
        Ok(slice) if a.is_c_contiguous() => Cow::Borrowed(slice),
        _ => Cow::Owned(a.as_array().iter().copied().collect()),
    }
}

/// Refuse `a` unless it is `shape` (naming it `what`).
fn check_shape<T: Element>(what: &str, a: &PyReadonlyArray2<'_, T>, shape: Shape) -> Result<()> {
    let got = shape_of(a);
    if got == shape {
        Ok(())
    } else {
        Err(PipelineError::Shape(format!(
            "{what} is {} x {}, not {} x {} like the values",
            got.rows, got.assets, shape.rows, shape.assets
        ))
        .into())
    }
}

/// A cross-sectional operation's inputs: `values`' shape, its values and the mask's (and
/// the groups', when given), each checked against that shape.
type CrossInputs<'a, T> = (Shape, Cow<'a, [T]>, Cow<'a, [bool]>, Option<Cow<'a, [i64]>>);

fn cross_inputs<'a, T: Element + Copy>(
    values: &'a PyReadonlyArray2<'_, T>,
    mask: &'a PyReadonlyArray2<'_, bool>,
    groups: Option<&'a PyReadonlyArray2<'_, i64>>,
) -> Result<CrossInputs<'a, T>> {
    let shape = shape_of(values);
    check_shape("mask", mask, shape)?;
    if let Some(g) = groups {
        check_shape("groups", g, shape)?;
    }
    Ok((
        shape,
        values_of(values),
        values_of(mask),
        groups.map(values_of),
    ))
}

fn adjustments_of(
    which: usize,
    columns: Option<&AdjustmentColumns<'_>>,
) -> Result<Vec<Adjustment>> {
    let Some((assets, rows, ratios)) = columns else {
        return Ok(Vec::new());
    };
    let (assets, rows, ratios) = (assets.as_array(), rows.as_array(), ratios.as_array());
    if assets.len() != rows.len() || assets.len() != ratios.len() {
        return Err(PipelineError::Shape(format!(
            "adjustments of input {which}: assets, rows and ratios have {}, {} and {} values",
            assets.len(),
            rows.len(),
            ratios.len()
        ))
        .into());
    }
    Ok(assets
        .iter()
        .zip(rows.iter())
        .zip(ratios.iter())
        .map(|((&asset, &row), &ratio)| Adjustment { asset, row, ratio })
        .collect())
}

/// `[rows × assets]` values as a 2-D numpy array.
fn matrix<T: Element>(
    py: Python<'_>,
    values: Vec<T>,
    shape: Shape,
) -> Result<Bound<'_, PyArray2<T>>> {
    Ok(PyArray1::from_vec(py, values).reshape([shape.rows, shape.assets])?)
}

/// The shape, values and adjustments of a rolling computation's inputs.
type RollingInputs<'a> = (Shape, Vec<Cow<'a, [f64]>>, Vec<Vec<Adjustment>>);

/// The inputs of a rolling computation (all of one shape) and their adjustments (one
/// entry per input: None or `(assets, rows, ratios)`).
fn rolling_inputs<'a>(
    inputs: &'a [PyReadonlyArray2<'_, f64>],
    adjustments: &[Option<AdjustmentColumns<'_>>],
) -> Result<RollingInputs<'a>> {
    let Some(first) = inputs.first() else {
        return Err(PipelineError::Shape("a rolling computation needs inputs".into()).into());
    };
    if adjustments.len() != inputs.len() {
        return Err(PipelineError::Shape(format!(
            "{} inputs but {} adjustment entries (one per input, None for none)",
            inputs.len(),
            adjustments.len()
        ))
        .into());
    }
    let shape = shape_of(first);
    for (i, a) in inputs.iter().enumerate().skip(1) {
        check_shape(&format!("input {i}"), a, shape)?;
    }
    let values = inputs.iter().map(values_of).collect();
    let adjustments = adjustments
        .iter()
        .enumerate()
        .map(|(i, a)| adjustments_of(i, a.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    Ok((shape, values, adjustments))
}

fn as_inputs<'a>(
    values: &'a [Cow<'_, [f64]>],
    adjustments: &'a [Vec<Adjustment>],
) -> Vec<Input<'a>> {
    values
        .iter()
        .zip(adjustments)
        .map(|(values, adjustments)| Input {
            values,
            adjustments,
        })
        .collect()
}

fn output_matrices(
    py: Python<'_>,
    outputs: Vec<Vec<f64>>,
    shape: Shape,
    window: usize,
) -> Result<Vec<Bound<'_, PyArray2<f64>>>> {
    let out_shape = Shape {
        rows: (shape.rows + 1).saturating_sub(window),
        assets: shape.assets,
    };
    outputs
        .into_iter()
        .map(|o| matrix(py, o, out_shape))
        .collect()
}

/// A rolling factor over `[rows, assets]` float64 inputs (in the kind's input order,
/// all of one shape), each with its adjustments `(assets: uint32, rows: uint32, ratios:
/// float64)` or None, applied as of each window's last row. Returns one
/// `[rows - window + 1, assets]` matrix per output of the kind. Unknown kinds, bad
/// parameters, shapes or windows raise `InvalidRunParameters`.
#[pyfunction]
pub fn pipeline_rolling<'py>(
    py: Python<'py>,
    kind: &str,
    params: HashMap<String, f64>,
    inputs: Vec<PyReadonlyArray2<'py, f64>>,
    adjustments: Vec<Option<AdjustmentColumns<'py>>>,
    window: usize,
) -> Result<Vec<Bound<'py, PyArray2<f64>>>> {
    guard_at("pipeline_rolling", || {
        let kind = Rolling::parse(kind, &params)?;
        let (shape, values, adjustments) = rolling_inputs(&inputs, &adjustments)?;
        let outputs =
            py.detach(|| rolling(&kind, &as_inputs(&values, &adjustments), shape, window))?;
        output_matrices(py, outputs, shape, window)
    })
}

/// A rolling statistic between two inputs (`kind`: `rolling_pearson`, `rolling_spearman`,
/// `rolling_linear_regression`, `simple_beta`), with the arguments of
/// [`pipeline_rolling`]: one `[rows - window + 1, assets]` array per output.
#[pyfunction]
pub fn pipeline_rolling_stat<'py>(
    py: Python<'py>,
    kind: &str,
    params: HashMap<String, f64>,
    inputs: Vec<PyReadonlyArray2<'py, f64>>,
    adjustments: Vec<Option<AdjustmentColumns<'py>>>,
    window: usize,
) -> Result<Vec<Bound<'py, PyArray2<f64>>>> {
    guard_at("pipeline_rolling_stat", || {
        let stat = Stat::parse(kind, &params)?;
        let (shape, values, adjustments) = rolling_inputs(&inputs, &adjustments)?;
        let [x, y] = as_inputs(&values, &adjustments)[..] else {
            return Err(PipelineError::Shape(format!(
                "{kind} takes 2 inputs, got {}",
                inputs.len()
            ))
            .into());
        };
        let outputs = py.detach(|| rolling_stat(&stat, x, y, shape, window))?;
        output_matrices(py, outputs, shape, window)
    })
}

/// Each row's ranks (`method`: ordinal, average, min, max, dense) among its unmasked,
/// non-NaN values, within `groups` when given (-1: no group); NaN elsewhere.
#[pyfunction]
#[pyo3(signature = (values, mask, groups, method, ascending))]
pub fn pipeline_rank<'py>(
    py: Python<'py>,
    values: PyReadonlyArray2<'py, f64>,
    mask: PyReadonlyArray2<'py, bool>,
    groups: Option<PyReadonlyArray2<'py, i64>>,
    method: &str,
    ascending: bool,
) -> Result<Bound<'py, PyArray2<f64>>> {
    guard_at("pipeline_rank", || {
        let method = RankMethod::parse(method)?;
        let (shape, v, m, g) = cross_inputs(&values, &mask, groups.as_ref())?;
        let out = py.detach(|| rank(&v, &m, g.as_deref(), shape, method, ascending))?;
        matrix(py, out, shape)
    })
}

/// Each row's (or group's) `kind` (demean, zscore, winsorize with `min_percentile` and
/// `max_percentile` in `params`) of its unmasked values; NaN where masked, in group -1
/// or NaN.
#[pyfunction]
#[pyo3(signature = (kind, values, mask, groups, params))]
pub fn pipeline_normalize<'py>(
    py: Python<'py>,
    kind: &str,
    values: PyReadonlyArray2<'py, f64>,
    mask: PyReadonlyArray2<'py, bool>,
    groups: Option<PyReadonlyArray2<'py, i64>>,
    params: HashMap<String, f64>,
) -> Result<Bound<'py, PyArray2<f64>>> {
    guard_at("pipeline_normalize", || {
        let kind = Normalize::parse(kind, &params)?;
        let (shape, v, m, g) = cross_inputs(&values, &mask, groups.as_ref())?;
        let out = py.detach(|| normalize(kind, &v, &m, g.as_deref(), shape))?;
        matrix(py, out, shape)
    })
}

/// Each row's quantile labels 0..bins-1 of its unmasked values (pandas' `qcut`), -1
/// where masked or NaN.
#[pyfunction]
pub fn pipeline_quantiles<'py>(
    py: Python<'py>,
    values: PyReadonlyArray2<'py, f64>,
    mask: PyReadonlyArray2<'py, bool>,
    bins: usize,
) -> Result<Bound<'py, PyArray2<i64>>> {
    guard_at("pipeline_quantiles", || {
        let (shape, v, m, _) = cross_inputs(&values, &mask, None)?;
        let out = py.detach(|| quantiles(&v, &m, shape, bins))?;
        matrix(py, out, shape)
    })
}

/// True where an unmasked value lies between its row's `min_percentile` and
/// `max_percentile` (0..100, numpy's linear interpolation over the unmasked values).
#[pyfunction]
pub fn pipeline_percentile_between<'py>(
    py: Python<'py>,
    values: PyReadonlyArray2<'py, f64>,
    mask: PyReadonlyArray2<'py, bool>,
    min_percentile: f64,
    max_percentile: f64,
) -> Result<Bound<'py, PyArray2<bool>>> {
    guard_at("pipeline_percentile_between", || {
        let (shape, v, m, _) = cross_inputs(&values, &mask, None)?;
        let out =
            py.detach(|| percentile_between(&v, &m, shape, min_percentile, max_percentile))?;
        matrix(py, out, shape)
    })
}

/// For each unmasked cell with a group (not -1), how many unmasked cells of its row
/// share that group; NaN elsewhere.
#[pyfunction]
pub fn pipeline_peer_count<'py>(
    py: Python<'py>,
    groups: PyReadonlyArray2<'py, i64>,
    mask: PyReadonlyArray2<'py, bool>,
) -> Result<Bound<'py, PyArray2<f64>>> {
    guard_at("pipeline_peer_count", || {
        let (shape, g, m, _) = cross_inputs(&groups, &mask, None)?;
        let out = py.detach(|| peer_count(&g, &m, shape))?;
        matrix(py, out, shape)
    })
}
