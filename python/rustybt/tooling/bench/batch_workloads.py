"""Batch-runner workloads: the SMA crossover (W1's rule) as precomputed target-weight
matrices, built in NumPy, simulated by ``rustybt.run_batch``."""

from __future__ import annotations

import numpy as np


def sma_crossover_weights(closes: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """W1's rule as a matrix: from the ``slow``-th bar on, weight 1/N where the ``fast``-bar
    mean close is above the ``slow``-bar mean, else 0; NaN (no order) before."""
    n_bars, n = closes.shape
    csum = np.vstack([np.zeros((1, n)), np.cumsum(closes, axis=0)])
    w = np.full((n_bars, n), np.nan)
    rows = np.arange(slow - 1, n_bars)
    fast_mean = (csum[rows + 1] - csum[rows + 1 - fast]) / fast
    slow_mean = (csum[rows + 1] - csum[rows + 1 - slow]) / slow
    w[rows] = np.where(fast_mean > slow_mean, 1.0 / n, 0.0)
    return w


def grid(fasts, slows) -> list[tuple[int, int]]:
    return [(f, s) for f in fasts for s in slows]


#: G1's 100 combinations and B1's 1,000 (docs/performance/workloads.md)
G1_GRID = grid(range(5, 15), range(20, 70, 5))
# B1: fast 2..41 (40) x slow 20, 25, ..., 140 (25) = 1,000 matrices
B1_GRID = grid(range(2, 42), range(20, 145, 5))
