//! Python values into the core's types, in one place: names into enums through the core
//! crates' `FromStr` (which own the names and their error messages), model objects into
//! the ledger's models through its model tables, asset sequences into sids.

use std::str::FromStr;

use numpy::{PyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyList;
use pyo3::IntoPyObjectExt;
use rustybt_ledger::{Commission, Money, Slippage};

use crate::bundle::Asset;
use crate::errors::{bad_window, Error, Result};

/// A name the core knows (a ledger kind, an order kind, a policy, a control, ...).
pub fn named<T>(name: &str) -> Result<T>
where
    T: FromStr,
    Error: From<T::Err>,
{
    Ok(name.parse::<T>()?)
}

/// A name the core knows, or the core's default for that setting when none is given.
pub fn named_or_default<T>(name: Option<&str>) -> Result<T>
where
    T: FromStr + Default,
    Error: From<T::Err>,
{
    name.map_or_else(|| Ok(T::default()), named)
}

/// A model object's `(name, parameters)`: `rustybt.finance` models answer `_spec()`
/// with their engine name and their parameters in the model table's order.
fn spec(model: &Bound<'_, PyAny>) -> Result<(String, Vec<f64>)> {
    Ok(model
        .call_method0("_spec")?
        .extract::<(String, Vec<f64>)>()?)
}

/// A `rustybt.finance.slippage` model as the ledger's.
pub fn slippage<N: Money>(model: &Bound<'_, PyAny>) -> Result<Slippage<N>> {
    let (name, params) = spec(model)?;
    Ok(Slippage::from_spec(&name, &params)?)
}

/// A `rustybt.finance.commission` model as the ledger's.
pub fn commission<N: Money>(model: &Bound<'_, PyAny>) -> Result<Commission<N>> {
    let (name, params) = spec(model)?;
    Ok(Commission::from_spec(&name, &params)?)
}

/// A quantity as strategies see it: an int of shares where the asset's lot is one share
/// (zipline's amounts), else the float nearest `units × 10^-scale` (whose `repr` is that
/// decimal quantity: `units` is far below 2^53).
pub fn amount_py(py: Python<'_>, units: i64, scale: u32) -> PyResult<Py<PyAny>> {
    if scale == 0 {
        units.into_py_any(py)
    } else {
        #[allow(clippy::cast_precision_loss)] // see above
        let q = units as f64 / rustybt_ledger::lots_per_unit(scale) as f64;
        q.into_py_any(py)
    }
}

/// Sids of a sequence of `Asset`s or integers, read without a Python-level loop.
/// An order id as strategies see it: 32 hex digits, the shape of zipline's `uuid4().hex`
/// ids (sequence numbers here, so that runs repeat exactly).
pub fn order_id_text(id: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [b'0'; 32];
    let mut rest = id;
    for slot in digits.iter_mut().rev().take(16) {
        *slot = HEX[(rest & 0xf) as usize];
        rest >>= 4;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// The engine's id of an order id a strategy passed: the 32-hex-digit text (or the
/// integer it encodes). Anything that is no id of any order is an unknown order.
pub fn order_id_of(id: &Bound<'_, PyAny>) -> Result<u64> {
    if let Ok(text) = id.extract::<&str>() {
        return u64::from_str_radix(text, 16)
            .ok()
            .filter(|_| !text.is_empty() && text.len() <= 32 && !text.starts_with('+'))
            .ok_or_else(|| crate::errors::unknown_order(format!("\"{text}\"")));
    }
    id.extract::<u64>()
        .map_err(|_| crate::errors::unknown_order(id.to_string()))
}

pub fn sids_of(assets: &Bound<'_, PyAny>) -> Result<Vec<u32>> {
    let one = |item: Bound<'_, PyAny>| -> Result<u32> {
        if let Ok(a) = item.cast::<Asset>() {
            return Ok(a.get().sid);
        }
        item.extract::<u32>().map_err(|_| {
            bad_window(format!(
                "expected an Asset, got {}",
                item.repr()
                    .map_or_else(|_| "?".to_string(), |r| r.to_string())
            ))
        })
    };
    if let Ok(list) = assets.cast::<PyList>() {
        return list.iter().map(one).collect();
    }
    assets.try_iter()?.map(|item| one(item?)).collect()
}

/// A read-only `[rows, cols]` NumPy view of `values`, which `base` keeps alive (the
/// array's base object): no copy.
pub fn read_only_view<'py>(
    values: &[f64],
    rows: usize,
    cols: usize,
    base: Bound<'py, PyAny>,
) -> Result<Bound<'py, PyArray2<f64>>> {
    let view = numpy::ndarray::ArrayView2::from_shape((rows, cols), values).map_err(|e| {
        crate::errors::bad_value(format!(
            "{} values are not {rows} x {cols}: {e}",
            values.len()
        ))
    })?;
    // SAFETY: `values` is immutable and lives as long as `base`, the array's base
    let arr = unsafe { PyArray2::borrow_from_array(&view, base) };
    // SAFETY: clearing the writeable flag of an array we just created
    unsafe {
        (*arr.as_array_ptr()).fields.flags &= !numpy::npyffi::flags::NPY_ARRAY_WRITEABLE;
    }
    Ok(arr)
}

#[cfg(test)]
mod tests {
    use super::order_id_text;

    #[test]
    fn order_ids_are_32_hex_digits() {
        for id in [0, 1, 15, 16, 255, 0xdead_beef, u64::MAX - 1, u64::MAX] {
            assert_eq!(order_id_text(id), format!("{id:032x}"));
        }
    }
}
