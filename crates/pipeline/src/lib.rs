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

use rayon::prelude::*;

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

/// One asset's column of an [`Input`], with its adjustments sorted by row: the source of
/// that asset's windows.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub values: Vec<f64>,
    /// (row, ratio), ascending by row (stable for equal rows).
    adjustments: Vec<(usize, f64)>,
}

/// `src` (`rows × cols`, row-major) transposed to `cols × rows`, row-major. Blocked, so
/// that each cache line is read and written once (a column gathered value by value from
/// a time-major matrix touches a new cache line per value), and parallel over blocks of
/// columns.
pub fn transpose(src: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    const BLOCK: usize = 32;
    let mut dst = vec![0.0; rows * cols];
    if rows == 0 || cols == 0 {
        return dst;
    }
    dst.par_chunks_mut(BLOCK * rows)
        .enumerate()
        .for_each(|(block, out)| {
            let c0 = block * BLOCK;
            let n = out.len() / rows;
            for r0 in (0..rows).step_by(BLOCK) {
                for (c, column) in out.chunks_exact_mut(rows).enumerate().take(n) {
                    for (r, slot) in column
                        .iter_mut()
                        .enumerate()
                        .take((r0 + BLOCK).min(rows))
                        .skip(r0)
                    {
                        *slot = src[r * cols + c0 + c];
                    }
                }
            }
        });
    dst
}

impl Series {
    /// One asset's column (contiguous) and that asset's adjustments, in any order.
    pub fn from_column<'a>(
        column: &[f64],
        adjustments: impl IntoIterator<Item = &'a Adjustment>,
    ) -> Series {
        let mut adjustments: Vec<(usize, f64)> = adjustments
            .into_iter()
            .map(|a| (a.row as usize, a.ratio))
            .collect();
        adjustments.sort_by_key(|&(row, _)| row);
        Series {
            values: column.to_vec(),
            adjustments,
        }
    }

    /// Column `asset` of `input` (of shape `shape`, already checked).
    pub fn of(input: &Input<'_>, shape: Shape, asset: usize) -> Series {
        let values = (0..shape.rows)
            .map(|r| input.values[r * shape.assets + asset])
            .collect();
        let mut adjustments: Vec<(usize, f64)> = input
            .adjustments
            .iter()
            .filter(|a| a.asset as usize == asset)
            .map(|a| (a.row as usize, a.ratio))
            .collect();
        adjustments.sort_by_key(|&(row, _)| row);
        Series {
            values,
            adjustments,
        }
    }

    /// The `out.len()` values ending at row `end` (inclusive), adjusted as of `end`: each
    /// adjustment at a row `e` in the window multiplies the values at rows `<= e`, in
    /// ascending order of `e` (adjustments at rows before the window touch none of it,
    /// those after `end` are not known yet).
    pub fn window_into(&self, end: usize, out: &mut [f64]) {
        let w = out.len();
        let start = end + 1 - w;
        out.copy_from_slice(&self.values[start..=end]);
        let first = self.adjustments.partition_point(|&(row, _)| row < start);
        for &(row, ratio) in &self.adjustments[first..] {
            if row > end {
                break;
            }
            for v in &mut out[..=row - start] {
                *v *= ratio;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_the_definition() {
        for (rows, cols) in [(0, 3), (3, 0), (1, 1), (5, 7), (33, 65), (70, 31)] {
            let src: Vec<f64> = (0..rows * cols).map(|i| i as f64).collect();
            let dst = transpose(&src, rows, cols);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} at {r},{c}"
                    );
                }
            }
        }
    }

    #[test]
    fn windows_apply_adjustments_known_by_their_last_row() {
        // one asset, a 2-for-1 split (ratio 0.5) at row 2, a dividend (0.9) at row 4
        let values = [10.0, 10.0, 10.0, 5.0, 5.0, 5.0];
        let adjustments = [
            Adjustment {
                asset: 0,
                row: 4,
                ratio: 0.9,
            },
            Adjustment {
                asset: 0,
                row: 2,
                ratio: 0.5,
            },
        ];
        let input = Input {
            values: &values,
            adjustments: &adjustments,
        };
        let shape = Shape { rows: 6, assets: 1 };
        let s = Series::of(&input, shape, 0);
        let mut w = [0.0; 3];
        s.window_into(1, &mut w[..2]);
        assert_eq!(w[..2], [10.0, 10.0]); // the split is not known yet
        s.window_into(2, &mut w);
        assert_eq!(w, [5.0, 5.0, 5.0]);
        s.window_into(4, &mut w);
        assert_eq!(w, [5.0 * 0.9, 5.0 * 0.9, 5.0 * 0.9]);
        s.window_into(5, &mut w);
        assert_eq!(w, [5.0 * 0.9, 5.0 * 0.9, 5.0]);
    }
}
