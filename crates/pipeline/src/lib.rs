//! zipline's Pipeline factors computed over whole columns.
//!
//! Inputs are time-major `[rows × assets]` matrices of `f64` ([`Input`]); a rolling
//! factor of window `w` produces `rows − w + 1` output rows, output row `j` computed from
//! input rows `j ..= j + w − 1`. Price and volume inputs carry their splits and
//! dividends as [`Adjustment`]s, applied *as of* each window's last row, as zipline's
//! `AdjustedArray` applies them: in the window ending at row `end`, the value of asset `a`
//! at row `r` is `values[r][a]` times the ratio of every adjustment of `a` with
//! `r <= adjustment.row <= end`.
//!
//! Cross-sectional operations (rank, z-score, quantiles, ...) work row by row on
//! `[rows × assets]` matrices with a boolean mask and optional integer groups.
//!
//! Work is parallel across assets (rolling) or rows (cross-sectional) with rayon; nothing
//! here touches Python.

pub mod cross;
pub mod error;
pub mod stats;
pub mod window;

pub use error::PipelineError;

/// A split or dividend of one asset, as zipline's `Float64Multiply`: multiply the
/// asset's values at rows `<= row` by `ratio`, in windows whose last row is `>= row`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adjustment {
    pub asset: u32,
    pub row: u32,
    pub ratio: f64,
}

/// One input of a rolling computation.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// `[rows × n_assets]`, time-major.
    pub values: &'a [f64],
    /// The input's adjustments, in any order (empty for computed inputs).
    pub adjustments: &'a [Adjustment],
}

/// A `[rows × assets]` matrix shape, checked against the data it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub rows: usize,
    pub assets: usize,
}

impl Shape {
    /// `rows × assets`, or an error naming `what` if `len` is not that.
    pub fn check(self, what: &str, len: usize) -> Result<Self, PipelineError> {
        if self.rows.checked_mul(self.assets) == Some(len) {
            Ok(self)
        } else {
            Err(PipelineError::Shape(format!(
                "{what} has {len} values, not {} rows x {} assets",
                self.rows, self.assets
            )))
        }
    }
}
