//! zipline's Pipeline kernels over numpy matrices (the work is in `rustybt_pipeline`).

use std::collections::HashMap;

use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use rustybt_pipeline::window::{rolling, Rolling};
use rustybt_pipeline::{Adjustment, Input, PipelineError, Shape};

use crate::errors::{guard, Result};

/// One input's adjustments as numpy gives them: (assets, rows, ratios).
type PyAdjustments<'py> = (
    PyReadonlyArray1<'py, u32>,
    PyReadonlyArray1<'py, u32>,
    PyReadonlyArray1<'py, f64>,
);

fn shape_error(msg: String) -> crate::errors::Error {
    PipelineError::Shape(msg).into()
}

/// A 1-D array's values, copied (contiguous or not).
fn owned<T: numpy::Element + Copy>(a: &PyReadonlyArray1<'_, T>) -> Vec<T> {
    a.as_slice()
        .map_or_else(|_| a.as_array().iter().copied().collect(), <[T]>::to_vec)
}

/// One input's adjustments, checked for equal lengths.
fn adjustments_of(which: usize, adj: Option<&PyAdjustments<'_>>) -> Result<Vec<Adjustment>> {
    let Some((assets, rows, ratios)) = adj else {
        return Ok(Vec::new());
    };
    let (assets, rows, ratios) = (owned(assets), owned(rows), owned(ratios));
    if assets.len() != rows.len() || rows.len() != ratios.len() {
        return Err(shape_error(format!(
            "the adjustments of input {which} have {} assets, {} rows and {} ratios",
            assets.len(),
            rows.len(),
            ratios.len()
        )));
    }
    Ok(assets
        .into_iter()
        .zip(rows)
        .zip(ratios)
        .map(|((asset, row), ratio)| Adjustment { asset, row, ratio })
        .collect())
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
    adjustments: Vec<Option<PyAdjustments<'py>>>,
    window: usize,
) -> Result<Vec<Bound<'py, PyArray2<f64>>>> {
    guard(|| {
        let kind = Rolling::parse(kind, &params)?;
        if adjustments.len() != inputs.len() {
            return Err(shape_error(format!(
                "{} inputs but {} adjustment entries (one per input, None for none)",
                inputs.len(),
                adjustments.len()
            )));
        }
        let dims = inputs.first().map_or([0, 0], |a| {
            let s = a.as_array().dim();
            [s.0, s.1]
        });
        let mut values = Vec::with_capacity(inputs.len());
        for (i, a) in inputs.iter().enumerate() {
            let (rows, assets) = a.as_array().dim();
            if [rows, assets] != dims {
                return Err(shape_error(format!(
                    "input {i} is {rows} x {assets}, input 0 is {} x {}",
                    dims[0], dims[1]
                )));
            }
            // row-major values: `as_slice` also takes Fortran-ordered memory, as is
            values.push(match a.as_slice() {
                Ok(s) if a.is_c_contiguous() => s.to_vec(),
                _ => a.as_array().iter().copied().collect(),
            });
        }
        let adjustments = adjustments
            .iter()
            .enumerate()
            .map(|(i, a)| adjustments_of(i, a.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let shape = Shape {
            rows: dims[0],
            assets: dims[1],
        };
        let outputs = py.detach(|| {
            let inputs: Vec<Input<'_>> = values
                .iter()
                .zip(&adjustments)
                .map(|(values, adjustments)| Input {
                    values,
                    adjustments,
                })
                .collect();
            rolling(&kind, &inputs, shape, window)
        })?;
        let out_shape = [shape.rows + 1 - window, shape.assets];
        outputs
            .into_iter()
            .map(|o| Ok(PyArray1::from_vec(py, o).reshape(out_shape)?))
            .collect()
    })
}
