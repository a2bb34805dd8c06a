"""Compare two sets of benchmark runs from the results history with a Welch t-test.

An improvement is accepted only if it is at least 5% with p < 0.05; a regression over 5%
warns; with ``check=True`` a regression over 10% fails.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMPROVEMENT = 0.05
WARN = 0.05
FAIL = 0.10
ALPHA = 0.05


@dataclass
class Comparison:
    scenario: str
    assets: int
    ledger: str
    engine: str
    base_n: int
    new_n: int
    base_median: float
    new_median: float
    change: float  # (new - base) / base of the means: negative is faster
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str


def load_history(path: Path) -> list[dict]:
    rows = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def _select(rows: list[dict], ref: str) -> list[dict]:
    """Runs whose label equals ``ref`` or whose commit starts with it."""
    return [r for r in rows if r.get("label") == ref or (r.get("commit") or "").startswith(ref)]


def welch(base: np.ndarray, new: np.ndarray) -> tuple[float, float, float, float]:
    """Relative change of the mean, its 95% confidence interval, and the two-sided p-value."""
    from scipy import stats

    t = stats.ttest_ind(new, base, equal_var=False)
    diff = new.mean() - base.mean()
    va, vb = new.var(ddof=1) / len(new), base.var(ddof=1) / len(base)
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(new) - 1) + vb**2 / (len(base) - 1)) if se > 0 else 1.0
    half = stats.t.ppf(0.975, dof) * se if se > 0 else 0.0
    m = base.mean()
    return (
        diff / m,
        (diff - half) / m,
        (diff + half) / m,
        float(t.pvalue) if se > 0 else (0.0 if diff else 1.0),
    )


def compare(history: Path, base: str, new: str, min_runs: int = 10) -> list[Comparison]:
    rows = load_history(history)
    a, b = _select(rows, base), _select(rows, new)
    if not a or not b:
        missing = base if not a else new
        raise ValueError(f"no runs labelled or committed as {missing!r} in {history}")
    key = lambda r: (r["scenario"], r["assets"], r["ledger"], r["engine"])  # noqa: E731
    out = []
    for k in sorted({key(r) for r in a} & {key(r) for r in b}):
        xs = np.array([w for r in a if key(r) == k for w in r["wall_s"]])
        ys = np.array([w for r in b if key(r) == k for w in r["wall_s"]])
        change, lo, hi, p = welch(xs, ys)
        if len(xs) < min_runs or len(ys) < min_runs:
            verdict = f"too few runs (need {min_runs} each)"
        elif change <= -IMPROVEMENT and p < ALPHA:
            verdict = "faster"
        elif change > FAIL and p < ALPHA:
            verdict = "REGRESSION"
        elif change > WARN and p < ALPHA:
            verdict = "slower (warn)"
        else:
            verdict = "no significant change"
        out.append(
            Comparison(
                *k,
                len(xs),
                len(ys),
                float(np.median(xs)),
                float(np.median(ys)),
                change,
                lo,
                hi,
                p,
                verdict,
            )
        )
    return out
