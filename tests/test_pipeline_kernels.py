"""The Rust Pipeline kernels (``rustybt._core.pipeline_*``) against the reference kernels
(:mod:`rustybt.reference.pipeline_kernels`, zipline-reloaded's factors in plain Python).

* ``test_rust_*``: random matrices (2-8 assets, up to 40 rows, NaNs, ties, masks, groups
  with -1, splits and dividends) through both, compared value by value: NaN exactly where
  the reference has NaN, otherwise ``|a - b| <= 1e-12 * max(|a|, |b|) + 1e-14``.
* ``test_oracle_*``: the reference alone: hand-checked values (zipline's docstring
  examples among them, a split inside a window), its errors, and a few independent
  implementations (pandas) it must agree with.

Ties are drawn from a grid of quarters (dyadic values), so that a constant window sums
exactly and gives 0 / 0 = NaN on both sides rather than two different roundings of 0.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rustybt import _core
from rustybt.errors import InvalidRunParameters, RustyBTError
from rustybt.reference import pipeline_kernels as oracle

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=SLOW_OK)

#: Kinds the statistical kernel (``_core.pipeline_rolling_stat``) computes.
STAT_KINDS = ("rolling_pearson", "rolling_spearman", "rolling_linear_regression", "simple_beta")
#: Kinds whose inputs are returns (around 0) rather than prices.
RETURNS_KINDS = ("annualized_volatility", *STAT_KINDS)


# ---------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------


def assert_close(actual, expected, what: str, atol: float = 0.0) -> None:
    """NaN exactly where ``expected`` has NaN; otherwise equal, or within
    ``1e-12 * max(|a|, |b|) + 1e-14 (+ atol)``."""
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == np.float64, f"{what}: dtype {actual.dtype}"
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    wrong_nan = np.argwhere(nan_a != nan_e)
    assert wrong_nan.size == 0, (
        f"{what}: NaN mismatch at {wrong_nan[:5].tolist()}: "
        f"got {actual[tuple(wrong_nan[0])]!r}, expected {expected[tuple(wrong_nan[0])]!r}"
    )
    both = ~nan_e
    a, e = actual[both], expected[both]
    with np.errstate(invalid="ignore"):
        diff = np.where(a == e, 0.0, np.abs(a - e))
    limit = 1e-12 * np.maximum(np.abs(a), np.abs(e)) + 1e-14 + atol
    bad = ~(diff <= limit)
    if bad.any():
        where = np.argwhere(both)[bad]
        i = tuple(where[0])
        pytest.fail(
            f"{what}: {int(bad.sum())} value(s) differ, first at {list(i)}: "
            f"got {actual[i]!r}, expected {expected[i]!r}"
        )


def _rust_rolling(kind: str):
    return _core.pipeline_rolling_stat if kind in STAT_KINDS else _core.pipeline_rolling


class Rust:
    """The Rust kernels behind the reference's signatures (looked up at call time)."""

    @staticmethod
    def rolling(kind, params, inputs, adjustments, window):
        return _rust_rolling(kind)(kind, params, inputs, adjustments, window)

    @staticmethod
    def rank(values, mask, groups, method, ascending):
        return _core.pipeline_rank(values, mask, groups, method, ascending)

    @staticmethod
    def normalize(kind, values, mask, groups, params):
        return _core.pipeline_normalize(kind, values, mask, groups, params)

    @staticmethod
    def quantiles(values, mask, bins):
        return _core.pipeline_quantiles(values, mask, bins)

    @staticmethod
    def percentile_between(values, mask, min_percentile, max_percentile):
        return _core.pipeline_percentile_between(values, mask, min_percentile, max_percentile)

    @staticmethod
    def peer_count(groups, mask):
        return _core.pipeline_peer_count(groups, mask)


IMPLEMENTATIONS = {"oracle": oracle, "rust": Rust}


# ---------------------------------------------------------------------------------------
# Random inputs
# ---------------------------------------------------------------------------------------


def random_matrix(rng, rows, assets, *, returns, ties, nan_p, dead_column=None):
    """Prices (a positive random walk per asset) or returns; with ties: quarters."""
    shape = (rows, assets)
    if ties:
        x = rng.integers(-3, 4, shape) / 8.0 if returns else rng.integers(1, 41, shape) / 4.0
    elif returns:
        x = rng.normal(0.0, 0.02, shape)
    else:
        walk = np.exp(np.cumsum(rng.normal(0.0, 0.03, shape), axis=0))
        x = 50.0 * walk * rng.uniform(0.2, 5.0, assets)
    x[rng.random(shape) < nan_p] = np.nan
    if dead_column is not None:
        x[:, dead_column] = np.nan
    return np.ascontiguousarray(x, dtype=np.float64)


def random_adjustments(rng, rows, assets):
    """(assets u32, rows u32, ratios f64), ratios in (0.2, 1.5], in no particular order."""
    n = int(rng.integers(0, 7))
    return (
        rng.integers(0, assets, n).astype(np.uint32),
        rng.integers(0, rows, n).astype(np.uint32),
        1.5 - rng.uniform(0.0, 1.3, n),
    )


@dataclass
class RollingCase:
    kind: str
    params: dict
    inputs: list
    adjustments: list
    window: int


@st.composite
def rolling_cases(draw, kind: str) -> RollingCase:
    spec = oracle.KINDS[kind]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    assets = draw(st.integers(2, 8))
    params: dict[str, float] = {}
    if kind == "macd_signal":
        fast = draw(st.integers(2, 8))
        slow = draw(st.integers(fast + 1, 14))
        signal = draw(st.integers(2, 9))
        params = {"fast_period": fast, "slow_period": slow, "signal_period": signal}
        window = slow + signal - 1
        rows = draw(st.integers(window, window + 12))
    else:
        rows = draw(st.integers(max(spec.min_window, 2), 40))
        if kind == "latest":
            window = 1
        elif kind == "true_range":
            window = 2
        else:
            window = draw(st.integers(spec.min_window, rows))
    if kind in ("ewma", "ewmstd"):
        params["decay_rate"] = draw(
            st.one_of(st.sampled_from([1.0, 0.5, 0.94]), st.floats(0.05, 1.0))
        )
    elif kind == "annualized_volatility":
        params["annualization_factor"] = draw(
            st.one_of(st.sampled_from([252.0, 12.0, 1.0]), st.floats(0.0, 400.0))
        )
    elif kind == "bollinger_bands":
        params["k"] = draw(st.one_of(st.just(2.0), st.floats(0.0, 4.0)))
    elif kind == "ichimoku_kinko_hyo":
        params = {
            "tenkan_sen_length": draw(st.integers(0, window)),
            "kijun_sen_length": draw(st.integers(0, window)),
            "chikou_span_length": draw(st.integers(0, window - 1)),
        }
    elif kind == "simple_beta":
        params["allowed_missing_percentage"] = draw(
            st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0.0, 1.0))
        )

    # Near-perfect fits make linregress's p-value (t -> infinity) hypersensitive to the
    # last bit of r: no ties there.
    ties = draw(st.booleans()) and kind != "rolling_linear_regression"
    nan_p = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2]))
    dead = draw(st.one_of(st.none(), st.integers(0, assets - 1)))
    returns = kind in RETURNS_KINDS
    inputs = [
        random_matrix(rng, rows, assets, returns=returns, ties=ties, nan_p=nan_p, dead_column=dead)
        for _ in spec.inputs
    ]
    if kind in ("vwap", "average_dollar_volume"):
        volume = rng.integers(0, 5000, (rows, assets)).astype(np.float64)
        volume[rng.random((rows, assets)) < nan_p] = np.nan
        inputs[1] = volume
    if kind == "simple_beta":
        target = draw(st.integers(0, assets - 1))
        inputs[1] = np.ascontiguousarray(np.repeat(inputs[0][:, [target]], assets, axis=1))
    if kind in ("rolling_pearson", "rolling_spearman", "rolling_linear_regression") and draw(
        st.booleans()
    ):
        noise = random_matrix(rng, rows, assets, returns=True, ties=ties, nan_p=0.0)
        inputs[1] = np.ascontiguousarray(inputs[0] * 1.75 + noise)
    adjustments = [
        random_adjustments(rng, rows, assets) if draw(st.booleans()) else None for _ in inputs
    ]
    return RollingCase(kind, params, inputs, adjustments, window)


@st.composite
def cross_cases(draw, *, ties_allowed: bool = True):
    """(values, mask, groups): values with NaNs (and ties), a mask, groups in -1..3."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = draw(st.integers(1, 40))
    assets = draw(st.integers(2, 8))
    shape = (rows, assets)
    if ties_allowed and draw(st.booleans()):
        values = rng.integers(-6, 7, shape) / 4.0
    else:
        values = rng.normal(0.0, 1.0, shape) * 10.0 ** draw(st.integers(-3, 3))
    values[rng.random(shape) < draw(st.sampled_from([0.0, 0.1, 0.3]))] = np.nan
    mask = rng.random(shape) >= draw(st.sampled_from([0.0, 0.2, 0.5]))
    if draw(st.booleans()):
        mask[rng.integers(rows)] = False  # a row with nothing to rank
    groups = rng.integers(-1, draw(st.integers(1, 4)), shape).astype(np.int64)
    return np.ascontiguousarray(values), mask, groups


# ---------------------------------------------------------------------------------------
# Rust vs reference: rolling kernels
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(oracle.KINDS))
@PROPERTY
@given(data=st.data())
def test_rust_rolling_matches_reference(kind, data):
    case = data.draw(rolling_cases(kind))
    expected = oracle.rolling(case.kind, case.params, case.inputs, case.adjustments, case.window)
    actual = Rust.rolling(case.kind, case.params, case.inputs, case.adjustments, case.window)
    assert len(actual) == len(expected) == len(oracle.KINDS[kind].outputs)
    # MACD subtracts two EWMAs of similar size: a rounding difference in either is an
    # absolute error on the scale of the closes, not of the (small) difference.
    atol = 0.0
    if kind == "macd_signal":
        atol = 1e-12 * float(np.nanmax(np.abs(case.inputs[0]), initial=0.0))
    for name, a, e in zip(oracle.KINDS[kind].outputs, actual, expected):
        assert_close(a, e, f"{kind}.{name} (window {case.window})", atol=atol)


# ---------------------------------------------------------------------------------------
# Rust vs reference: cross-sectional kernels
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("grouped", [False, True], ids=["rows", "groups"])
@pytest.mark.parametrize("method", oracle.RANK_METHODS)
@PROPERTY
@given(case=cross_cases(), ascending=st.booleans())
def test_rust_rank_matches_reference(method, grouped, case, ascending):
    values, mask, groups = case
    groups = groups if grouped else None
    expected = oracle.rank(values, mask, groups, method, ascending)
    actual = Rust.rank(values, mask, groups, method, ascending)
    assert_close(actual, expected, f"rank {method} ascending={ascending}")


@st.composite
def winsorize_params(draw):
    bounds = st.one_of(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0]), st.floats(0.0, 1.0))
    low, high = sorted((draw(bounds), draw(bounds)))
    if low == high:
        low, high = 0.0, 1.0
    return {"min_percentile": low, "max_percentile": high}


@pytest.mark.parametrize("grouped", [False, True], ids=["rows", "groups"])
@pytest.mark.parametrize("kind", oracle.NORMALIZE_KINDS)
@PROPERTY
@given(case=cross_cases(), percentiles=winsorize_params())
def test_rust_normalize_matches_reference(kind, grouped, case, percentiles):
    values, mask, groups = case
    groups = groups if grouped else None
    params = percentiles if kind == "winsorize" else {}
    expected = oracle.normalize(kind, values, mask, groups, params)
    actual = Rust.normalize(kind, values, mask, groups, params)
    assert_close(actual, expected, f"{kind} {params}")


@PROPERTY
@given(case=cross_cases(ties_allowed=False), bins=st.integers(1, 10))
def test_rust_quantiles_matches_reference(case, bins):
    values, mask, _ = case
    # A row with a single value has equal bin edges (an error, as in pandas): mask it out.
    mask = mask.copy()
    single = (mask & ~np.isnan(values)).sum(axis=1) == 1
    mask[single] = False
    expected = oracle.quantiles(values, mask, bins)
    actual = np.asarray(Rust.quantiles(values, mask, bins))
    assert actual.dtype == np.int64
    np.testing.assert_array_equal(actual, expected, err_msg=f"quantiles bins={bins}")


@st.composite
def percentile_bounds(draw):
    bounds = st.one_of(st.sampled_from([0.0, 10.0, 25.0, 50.0, 75.0, 100.0]), st.floats(0, 100))
    low, high = sorted((draw(bounds), draw(bounds)))
    if low == high:
        low, high = 0.0, 100.0
    return low, high


@PROPERTY
@given(case=cross_cases(), bounds=percentile_bounds())
def test_rust_percentile_between_matches_reference(case, bounds):
    values, mask, _ = case
    expected = oracle.percentile_between(values, mask, *bounds)
    actual = np.asarray(Rust.percentile_between(values, mask, *bounds))
    assert actual.dtype == np.bool_
    np.testing.assert_array_equal(actual, expected, err_msg=f"percentile_between {bounds}")


@PROPERTY
@given(case=cross_cases())
def test_rust_peer_count_matches_reference(case):
    _, mask, groups = case
    assert_close(Rust.peer_count(groups, mask), oracle.peer_count(groups, mask), "peer_count")


# ---------------------------------------------------------------------------------------
# Hand-checked values (both implementations)
# ---------------------------------------------------------------------------------------


def col(*values):
    """One asset's column."""
    return np.array(values, dtype=np.float64).reshape(-1, 1)


NAN = float("nan")
#: 10 until a 2-for-1 split, known from row 2 on: (asset 0, row 2, ratio 0.5).
SPLIT_PRICES = col(10, 10, 10, 5, 5, 5)
SPLIT = (np.array([0], np.uint32), np.array([2], np.uint32), np.array([0.5]))
#: The split, and a dividend (ratio 0.9) known from row 4 on, listed out of order.
SPLIT_AND_DIVIDEND = (
    np.array([0, 0], np.uint32),
    np.array([4, 2], np.uint32),
    np.array([0.9, 0.5]),
)

# (id, kind, params, inputs, adjustments, window, expected outputs: one column each)
ROLLING_HAND = [
    # window ending at row 1 does not know the split yet; from row 2 on every window does.
    ("sma-split", "simple_moving_average", {}, [SPLIT_PRICES], [SPLIT], 2, [[10, 5, 5, 5, 5]]),
    ("returns-unadjusted", "returns", {}, [SPLIT_PRICES], [None], 3, [[0, -0.5, -0.5, 0]]),
    ("returns-split", "returns", {}, [SPLIT_PRICES], [SPLIT], 3, [[0, 0, 0, 0]]),
    # end 4: rows 2..4 all x0.9, row 2 also x0.5 -> 4.5 each; end 5: 4.5, 4.5, 5.
    (
        "sma-split-dividend",
        "simple_moving_average",
        {},
        [SPLIT_PRICES],
        [SPLIT_AND_DIVIDEND],
        3,
        [[5, 5, 4.5, 14 / 3]],
    ),
    # only asset 1 splits (at row 1)
    (
        "sma-per-asset",
        "simple_moving_average",
        {},
        [np.array([[10.0, 20.0], [10.0, 20.0], [10.0, 10.0]])],
        [(np.array([1], np.uint32), np.array([1], np.uint32), np.array([0.5]))],
        2,
        [[[10, 10], [10, 10]]],
    ),
    ("latest", "latest", {}, [np.array([[1.0, 2.0], [3.0, NAN]])], [None], 1, [[[1, 2], [3, NAN]]]),
    ("percent-change", "percent_change", {}, [col(-10, -5)], [None], 2, [[0.5]]),
    # weights 0.5**4, 0.5**3, 0.5**2
    ("ewma", "ewma", {"decay_rate": 0.5}, [col(1, 2, 3)], [None], 3, [[17 / 7]]),
    # decay 1: the sample standard deviation
    ("ewmstd", "ewmstd", {"decay_rate": 1.0}, [col(1, 2, 3)], [None], 3, [[1.0]]),
    # a NaN counts as 0 and keeps its weight: (1 * 1 + 3 * 3) / 6
    ("lwma", "linear_weighted_moving_average", {}, [col(1, NAN, 3)], [None], 3, [[5 / 3]]),
    ("vwap", "vwap", {}, [col(10, 20), col(1, 3)], [None, None], 2, [[17.5]]),
    # a NaN close still adds its volume to the denominator (zipline)
    ("vwap-nan-close", "vwap", {}, [col(NAN, 20), col(1, 3)], [None, None], 2, [[15.0]]),
    # divided by the window length, NaN rows included
    ("adv", "average_dollar_volume", {}, [col(10, NAN), col(100, 5)], [None, None], 2, [[500]]),
    # ups mean(1, 0, 1) = 2/3, downs 1/3: 100 - 100 / 3
    ("rsi", "rsi", {}, [col(1, 2, 1, 2)], [None], 4, [[200 / 3]]),
    (
        "annualized-volatility",
        "annualized_volatility",
        {"annualization_factor": 4.0},
        [col(0.01, -0.01, 0.01, -0.01)],
        [None],
        4,
        [[0.02]],
    ),
    # the largest drawdown ends at 6 after the peak 12: (12 - 6) / 6, relative to the trough
    ("max-drawdown", "max_drawdown", {}, [col(10, 12, 6, 8)], [None], 4, [[1.0]]),
    (
        "bollinger",
        "bollinger_bands",
        {"k": 2.0},
        [col(1, 2, 3, 4)],
        [None],
        4,
        [[2.5 - 2 * math.sqrt(1.25)], [2.5], [2.5 + 2 * math.sqrt(1.25)]],
    ),
    # max(15 - 14, |15 - 10|, |14 - 10|)
    (
        "true-range",
        "true_range",
        {},
        [col(11, 15), col(9, 14), col(10, 14.5)],
        [None] * 3,
        2,
        [[5.0]],
    ),
    (
        "fast-stochastic",
        "fast_stochastic_oscillator",
        {},
        [col(11, 11, 12), col(9, 10, 11), col(13, 12, 12)],
        [None] * 3,
        3,
        [[75.0]],
    ),
    ("aroon", "aroon", {}, [col(3, 1, 2), col(1, 3, 2)], [None] * 2, 3, [[50.0], [50.0]]),
    (
        "aroon-ends",
        "aroon",
        {},
        [col(5, 4, 3, 2, 1), col(5, 4, 3, 2, 1)],
        [None] * 2,
        5,
        [[100.0], [0.0]],
    ),
    # EWMA(2) weights 1/4, 3/4; EWMA(3) weights 1/7, 2/7, 4/7: both MACDs are 9/28
    (
        "macd",
        "macd_signal",
        {"fast_period": 2, "slow_period": 3, "signal_period": 2},
        [col(1, 2, 3, 4)],
        [None],
        4,
        [[9 / 28]],
    ),
    # tenkan (13 + 8) / 2, kijun (14 + 8) / 2, senkou a their mean, senkou b (14 + 5) / 2,
    # chikou: the close one row after the window's first
    (
        "ichimoku",
        "ichimoku_kinko_hyo",
        {"tenkan_sen_length": 2, "kijun_sen_length": 3, "chikou_span_length": 1},
        [col(10, 14, 11, 13), col(5, 9, 8, 10), col(9, 10, 11, 12)],
        [None] * 3,
        4,
        [[10.5], [11.0], [10.75], [9.5], [10.0]],
    ),
    ("roc", "rate_of_change_percentage", {}, [col(10, 11, 12)], [None], 3, [[20.0]]),
    # cov 1, variances 2/3 and 14/9
    (
        "pearson",
        "rolling_pearson",
        {},
        [col(1, 2, 3), col(1, 2, 4)],
        [None] * 2,
        3,
        [[math.sqrt(27 / 28)]],
    ),
    ("spearman", "rolling_spearman", {}, [col(1, 2, 3), col(1, 2, 4)], [None] * 2, 3, [[1.0]]),
    # y on x: slope 1/2, intercept 1/2, r 1/2; one degree of freedom (Cauchy):
    # p = 1 - 2 / pi * atan(1 / sqrt(3)) = 2 / 3; stderr sqrt(3/4)
    (
        "linregress",
        "rolling_linear_regression",
        {},
        [col(0, 2, 1), col(0, 1, 2)],
        [None] * 2,
        3,
        [[0.5], [0.5], [0.5], [2 / 3], [math.sqrt(0.75)]],
    ),
    # a constant x: zipline (scipy) raises; NaN here
    (
        "linregress-constant-x",
        "rolling_linear_regression",
        {},
        [col(0, 2, 1), col(1, 1, 1)],
        [None] * 2,
        3,
        [[NAN]] * 5,
    ),
    (
        "simple-beta",
        "simple_beta",
        {"allowed_missing_percentage": 0.0},
        [col(2, 4, 6), col(1, 2, 3)],
        [None] * 2,
        3,
        [[2.0]],
    ),
    # one missing row of three: allowed when int(0.4 * 3) = 1, over (2, 4), (4, 6)
    (
        "simple-beta-missing",
        "simple_beta",
        {"allowed_missing_percentage": 0.4},
        [col(NAN, 4, 6), col(1, 2, 4)],
        [None] * 2,
        3,
        [[1.0]],
    ),
    (
        "simple-beta-too-many-missing",
        "simple_beta",
        {"allowed_missing_percentage": 0.25},
        [col(NAN, 4, 6), col(1, 2, 4)],
        [None] * 2,
        3,
        [[NAN]],
    ),
]


def _expected_matrix(values):
    array = np.array(values, dtype=np.float64)
    return array.reshape(-1, 1) if array.ndim == 1 else array


@pytest.mark.parametrize("implementation", ["oracle", "rust"])
@pytest.mark.parametrize(
    ("kind", "params", "inputs", "adjustments", "window", "expected"),
    [case[1:] for case in ROLLING_HAND],
    ids=[case[0] for case in ROLLING_HAND],
)
def test_rolling_hand_examples(implementation, kind, params, inputs, adjustments, window, expected):
    kernels = IMPLEMENTATIONS[implementation]
    outputs = kernels.rolling(kind, params, inputs, adjustments, window)
    assert len(outputs) == len(expected)
    for name, actual, values in zip(oracle.KINDS[kind].outputs, outputs, expected):
        assert_close(actual, _expected_matrix(values), f"{implementation} {kind}.{name}")


#: zipline's ``Factor.demean`` docstring: f, the classifier c, the mask m.
DOC_F = np.array(
    [[1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 1.0], [2.0, 3.0, 4.0, 1.5], [2.5, 3.5, 1.0, 2.0]]
)
DOC_C = np.array([[1, 1, 2, 2]] * 4, dtype=np.int64)
DOC_M = ~np.eye(4, dtype=bool)
ALL = np.ones((4, 4), dtype=bool)


def _cross_hand_cases():
    row = np.array([[3.0, 1.0, 2.0, 1.0]])
    full = np.ones((1, 4), dtype=bool)
    r = "rank"
    cases = [
        ("rank-ordinal", r, (row, full, None, "ordinal", True), [[4, 1, 3, 2]]),
        ("rank-ordinal-desc", r, (row, full, None, "ordinal", False), [[1, 3, 2, 4]]),
        ("rank-average", r, (row, full, None, "average", True), [[4, 1.5, 3, 1.5]]),
        ("rank-min", r, (row, full, None, "min", True), [[4, 1, 3, 1]]),
        ("rank-max", r, (row, full, None, "max", True), [[4, 2, 3, 2]]),
        ("rank-dense", r, (row, full, None, "dense", True), [[3, 1, 2, 1]]),
        ("rank-dense-desc", r, (row, full, None, "dense", False), [[1, 3, 2, 3]]),
        (
            "rank-nan-and-masked",
            r,
            (
                np.array([[3.0, NAN, 2.0, 1.0]]),
                np.array([[True, True, True, False]]),
                None,
                "min",
                True,
            ),
            [[2, NAN, 1, NAN]],
        ),
        (
            "rank-groups",
            r,
            (row, full, np.array([[0, 1, 0, 1]]), "ordinal", True),
            [[2, 1, 1, 2]],
        ),
        (
            "rank-group-minus-one",
            r,
            (row, full, np.array([[0, -1, 0, 0]]), "average", False),
            [[1, NAN, 2, 3]],
        ),
    ]
    n = "normalize"
    cases += [
        (
            "demean-doc",
            n,
            ("demean", DOC_F, ALL, None, {}),
            [
                [-1.5, -0.5, 0.5, 1.5],
                [-0.625, 0.375, 1.375, -1.125],
                [-0.625, 0.375, 1.375, -1.125],
                [0.25, 1.25, -1.25, -0.25],
            ],
        ),
        (
            "demean-doc-mask",
            n,
            ("demean", DOC_F, DOC_M, None, {}),
            [
                [NAN, -1.0, 0.0, 1.0],
                [-0.5, NAN, 1.5, -1.0],
                [-1 / 6, 5 / 6, NAN, -2 / 3],
                [1 / 6, 7 / 6, -4 / 3, NAN],
            ],
        ),
        (
            "demean-doc-groups",
            n,
            ("demean", DOC_F, ALL, DOC_C, {}),
            [
                [-0.5, 0.5, -0.5, 0.5],
                [-0.5, 0.5, 1.25, -1.25],
                [-0.5, 0.5, 1.25, -1.25],
                [-0.5, 0.5, -0.5, 0.5],
            ],
        ),
        (
            "demean-doc-mask-groups",
            n,
            ("demean", DOC_F, DOC_M, DOC_C, {}),
            [
                [NAN, 0.0, -0.5, 0.5],
                [0.0, NAN, 1.25, -1.25],
                [-0.5, 0.5, NAN, 0.0],
                [-0.5, 0.5, 0.0, NAN],
            ],
        ),
        (
            "zscore",
            n,
            ("zscore", np.array([[1.0, 2.0, 3.0, NAN]]), np.ones((1, 4), bool), None, {}),
            [[-math.sqrt(1.5), 0.0, math.sqrt(1.5), NAN]],
        ),
        (
            "zscore-single",
            n,
            ("zscore", np.array([[1.0, 2.0]]), np.ones((1, 2), bool), np.array([[0, 1]]), {}),
            [[NAN, NAN]],
        ),
    ]
    prices = np.arange(1.0, 7.0).reshape(1, 6)
    six = np.ones((1, 6), dtype=bool)
    for low, high, expected in (
        # zipline's winsorize docstring (its WINSOR_3 column is wrong: this is what it does)
        (0.25, 0.75, [2, 2, 3, 4, 5, 5]),
        (0.5, 1.0, [4, 4, 4, 4, 5, 6]),
        (0.0, 0.5, [1, 2, 3, 3, 3, 3]),
    ):
        params = {"min_percentile": low, "max_percentile": high}
        cases.append(
            (f"winsorize-{low}-{high}", n, ("winsorize", prices, six, None, params), [expected])
        )
    return cases


CROSS_HAND = _cross_hand_cases()


@pytest.mark.parametrize("implementation", ["oracle", "rust"])
@pytest.mark.parametrize(
    ("operation", "args", "expected"),
    [case[1:] for case in CROSS_HAND],
    ids=[case[0] for case in CROSS_HAND],
)
def test_cross_sectional_hand_examples(implementation, operation, args, expected):
    kernels = IMPLEMENTATIONS[implementation]
    actual = getattr(kernels, operation)(*args)
    assert_close(actual, np.array(expected, dtype=np.float64), f"{implementation} {operation}")


@pytest.mark.parametrize("implementation", ["oracle", "rust"])
def test_quantiles_percentile_peer_count_hand_examples(implementation):
    kernels = IMPLEMENTATIONS[implementation]
    values = np.array([[1.0, 2.0, 3.0, 4.0, NAN], [1.0, NAN, 3.0, 4.0, 2.0], [NAN] * 5])
    mask = np.ones(values.shape, dtype=bool)
    mask[0, 3] = False
    # row 0 (4 masked): edges 1, 2, 3, so 1 and 2 in bin 0 (the first bin includes its
    # left edge), 3 in bin 1; row 1: edges 1, 2.5, 4; the all-NaN row: -1.
    np.testing.assert_array_equal(
        kernels.quantiles(values, mask, 2),
        [[0, 0, 1, -1, -1], [0, -1, 1, 1, 0], [-1] * 5],
    )
    # edges of (1, 2, 3, 4): 1, 1.75, 2.5, 3.25, 4
    np.testing.assert_array_equal(kernels.quantiles(values[1:2], mask[1:2], 4), [[0, -1, 2, 3, 1]])
    # pandas 2's qcut (zipline 3.2.1 requires pandas < 3): the edges are percentiles at
    # linspace(0, 1, bins + 1) * 100, here 1, 1.9999999999999998, 2.9999999999999996, 4,
    # so 2 and 3 land one bin up from the exact thirds (pandas 3 would give 0, 0, 1, 2).
    ones = np.ones((1, 7), dtype=bool)
    np.testing.assert_array_equal(
        kernels.quantiles(np.array([[1.0, 2.0, 3.0, 4.0]]), ones[:, :4], 3), [[0, 1, 2, 2]]
    )
    np.testing.assert_array_equal(
        kernels.quantiles(np.arange(1.0, 8.0).reshape(1, 7), ones, 3), [[0, 0, 1, 1, 2, 2, 2]]
    )
    # one bin: pandas does not check two edges for repeats, so a single value is bin 0
    np.testing.assert_array_equal(
        kernels.quantiles(np.array([[5.0, NAN, 5.0]]), ones[:, :3], 1), [[0, -1, 0]]
    )
    row = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, NAN]])
    # 20th percentile 1.8, 60th 3.4
    np.testing.assert_array_equal(
        kernels.percentile_between(row, np.ones(row.shape, dtype=bool), 20.0, 60.0),
        [[False, True, True, False, False, False]],
    )
    groups = np.array([[0, 0, 1, -1, 0], [2, 2, 2, 2, 2]], dtype=np.int64)
    peer_mask = np.array([[True, True, True, True, False], [True] * 5])
    assert_close(
        kernels.peer_count(groups, peer_mask),
        np.array([[2, 2, 1, NAN, NAN], [5, 5, 5, 5, 5]], dtype=np.float64),
        f"{implementation} peer_count",
    )


@pytest.mark.parametrize("implementation", ["oracle", "rust"])
def test_quantiles_duplicate_edges_raise(implementation):
    """pandas.qcut (so zipline's quantiles) refuses a row whose bin edges repeat: ties
    spanning a bin edge, or a single value."""
    kernels = IMPLEMENTATIONS[implementation]
    mask = np.ones((1, 4), dtype=bool)
    with pytest.raises(RustyBTError) as info:
        kernels.quantiles(np.array([[1.0, 1.0, 1.0, 2.0]]), mask, 3)
    assert isinstance(info.value, ValueError)
    with pytest.raises(RustyBTError):
        kernels.quantiles(np.array([[5.0, NAN, NAN, NAN]]), mask, 2)


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------

M = np.ones((5, 2))
MASK = np.ones((5, 2), dtype=bool)
NONE1 = [None]

BAD_INPUT = [
    (
        "unknown-kind",
        lambda k: k.rolling("nope", {}, [M], NONE1, 1),
        "unknown rolling kind 'nope'",
    ),
    (
        "missing-param",
        lambda k: k.rolling("ewma", {}, [M], NONE1, 2),
        r"ewma: missing param\(s\) \['decay_rate'\]",
    ),
    (
        "unknown-param",
        lambda k: k.rolling("simple_moving_average", {"k": 2.0}, [M], NONE1, 2),
        r"unknown param\(s\) \['k'\]",
    ),
    (
        "window-0",
        lambda k: k.rolling("simple_moving_average", {}, [M], NONE1, 0),
        "window must be >= 1, got 0",
    ),
    (
        "window-too-long",
        lambda k: k.rolling("simple_moving_average", {}, [M], NONE1, 6),
        "window 6 is longer than the inputs' 5 rows",
    ),
    (
        "shapes",
        lambda k: k.rolling("vwap", {}, [M, np.ones((4, 2))], [None, None], 2),
        r"input volume has shape \(4, 2\)",
    ),
    (
        "input-count",
        lambda k: k.rolling("vwap", {}, [M], NONE1, 2),
        r"takes 2 input\(s\) \['close', 'volume'\], got 1",
    ),
]

ORACLE_ONLY_BAD_INPUT = [
    (
        "one-dimensional",
        lambda k: k.rolling("latest", {}, [np.ones(5)], NONE1, 1),
        r"must be 2-D \[rows, assets\], got shape \(5,\)",
    ),
    (
        "adjustments-count",
        lambda k: k.rolling("latest", {}, [M], [None, None], 1),
        r"adjustments has 2 entries for 1 input\(s\)",
    ),
    (
        "adjustment-asset",
        lambda k: k.rolling("latest", {}, [M], [([5], [0], [0.5])], 1),
        r"asset 5 out of range \(0..2\)",
    ),
    (
        "adjustment-row",
        lambda k: k.rolling("latest", {}, [M], [([0], [5], [0.5])], 1),
        r"row 5 out of range \(0..5\)",
    ),
    (
        "adjustment-lengths",
        lambda k: k.rolling("latest", {}, [M], [([0, 1], [0], [0.5])], 1),
        "assets, rows and ratios must be 1-D arrays of one length",
    ),
    (
        "returns-window-1",
        lambda k: k.rolling("returns", {}, [M], NONE1, 1),
        "returns: window must be >= 2, got 1",
    ),
    (
        "true-range-window",
        lambda k: k.rolling("true_range", {}, [M, M, M], [None] * 3, 3),
        "true_range: window must be 2, got 3",
    ),
    (
        "param-not-a-number",
        lambda k: k.rolling("bollinger_bands", {"k": "two"}, [M], NONE1, 2),
        "param k must be a number, got 'two'",
    ),
    (
        "decay-rate",
        lambda k: k.rolling("ewma", {"decay_rate": 0.0}, [M], NONE1, 2),
        r"decay_rate must be in \(0, 1\], got 0.0",
    ),
    (
        "macd-window",
        lambda k: k.rolling(
            "macd_signal", {"fast_period": 2, "slow_period": 3, "signal_period": 2}, [M], NONE1, 5
        ),
        "window must be slow_period \\+ signal_period - 1 = 4, got 5",
    ),
    (
        "macd-slow-fast",
        lambda k: k.rolling(
            "macd_signal", {"fast_period": 3, "slow_period": 3, "signal_period": 2}, [M], NONE1, 4
        ),
        "slow_period must be greater than fast_period",
    ),
    (
        "macd-period-1",
        lambda k: k.rolling(
            "macd_signal", {"fast_period": 1, "slow_period": 3, "signal_period": 2}, [M], NONE1, 4
        ),
        "fast_period must be >= 2, got 1",
    ),
    (
        "ichimoku-chikou",
        lambda k: k.rolling(
            "ichimoku_kinko_hyo",
            {"tenkan_sen_length": 1, "kijun_sen_length": 2, "chikou_span_length": 3},
            [M, M, M],
            [None] * 3,
            3,
        ),
        "chikou_span_length must be < window=3",
    ),
    (
        "ichimoku-integer",
        lambda k: k.rolling(
            "ichimoku_kinko_hyo",
            {"tenkan_sen_length": 1.5, "kijun_sen_length": 2, "chikou_span_length": 1},
            [M, M, M],
            [None] * 3,
            3,
        ),
        "param tenkan_sen_length must be an integer, got 1.5",
    ),
    (
        "simple-beta-percentage",
        lambda k: k.rolling(
            "simple_beta", {"allowed_missing_percentage": 1.5}, [M, M], [None] * 2, 3
        ),
        r"allowed_missing_percentage must be in \[0, 1\], got 1.5",
    ),
    (
        "rank-method",
        lambda k: k.rank(M, MASK, None, "first", True),
        "rank: unknown method 'first'",
    ),
    (
        "rank-mask-shape",
        lambda k: k.rank(M, MASK[:4], None, "ordinal", True),
        r"rank: mask has shape \(4, 2\), values \(5, 2\)",
    ),
    (
        "rank-mask-dtype",
        lambda k: k.rank(M, M, None, "ordinal", True),
        "rank: mask must be a bool matrix, got dtype float64",
    ),
    (
        "rank-groups-dtype",
        lambda k: k.rank(M, MASK, M, "ordinal", True),
        "rank: groups must be an int matrix, got dtype float64",
    ),
    (
        "normalize-kind",
        lambda k: k.normalize("standardize", M, MASK, None, {}),
        "unknown normalize kind 'standardize'",
    ),
    (
        "winsorize-missing",
        lambda k: k.normalize("winsorize", M, MASK, None, {"min_percentile": 0.1}),
        r"winsorize: missing param\(s\) \['max_percentile'\]",
    ),
    (
        "winsorize-bounds",
        lambda k: k.normalize(
            "winsorize", M, MASK, None, {"min_percentile": 0.6, "max_percentile": 0.4}
        ),
        "need 0 <= min_percentile < max_percentile <= 1",
    ),
    (
        "zscore-params",
        lambda k: k.normalize("zscore", M, MASK, None, {"ddof": 1}),
        r"zscore: unknown param\(s\) \['ddof'\]",
    ),
    ("quantiles-bins", lambda k: k.quantiles(M, MASK, 0), "bins must be an int >= 1, got 0"),
    (
        "quantiles-ties",
        lambda k: k.quantiles(np.array([[1.0, 1.0, 1.0, 2.0]]), np.ones((1, 4), bool), 3),
        "quantiles: row 0: Bin edges must be unique",
    ),
    (
        "percentile-bounds",
        lambda k: k.percentile_between(M, MASK, 50.0, 10.0),
        "need 0 <= min_percentile < max_percentile <= 100",
    ),
    (
        "peer-count-groups",
        lambda k: k.peer_count(M, MASK),
        "peer_count: groups must be a 2-D int matrix",
    ),
    (
        "peer-count-mask",
        lambda k: k.peer_count(np.zeros((5, 2), np.int64), MASK[:, :1]),
        r"peer_count: mask has shape \(5, 1\)",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [case[1:] for case in BAD_INPUT + ORACLE_ONLY_BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT + ORACLE_ONLY_BAD_INPUT],
)
def test_oracle_rejects_bad_input(call, message):
    with pytest.raises(InvalidRunParameters, match=message):
        call(oracle)


@pytest.mark.parametrize(
    "call",
    [case[1] for case in BAD_INPUT]
    + [
        lambda k: k.rank(M, MASK, None, "first", True),
        lambda k: k.normalize("standardize", M, MASK, None, {}),
        lambda k: k.normalize(
            "winsorize", M, MASK, None, {"min_percentile": 0.6, "max_percentile": 0.4}
        ),
        lambda k: k.quantiles(M, MASK, 0),
        lambda k: k.percentile_between(M, MASK, 50.0, 10.0),
    ],
    ids=[case[0] for case in BAD_INPUT]
    + ["rank-method", "normalize-kind", "winsorize-bounds", "quantiles-bins", "percentile-bounds"],
)
def test_rust_rejects_bad_input(call):
    with pytest.raises(RustyBTError) as info:
        call(Rust)
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------
# The reference against independent implementations
# ---------------------------------------------------------------------------------------


@PROPERTY
@given(case=rolling_cases("simple_moving_average"))
def test_oracle_adjusted_windows_are_values_times_known_ratios(case):
    """Each window value is the raw value times the product of the ratios known by the
    window's last row, at rows at or after the value's row."""
    values = case.inputs[0]
    rows, assets = values.shape
    adjustments = case.adjustments[0]
    for a in range(assets):
        pairs = []
        if adjustments is not None:
            pairs = sorted((int(r), float(x)) for s, r, x in zip(*adjustments) if int(s) == a)
        for end in range(case.window - 1, rows):
            start = end - case.window + 1
            window = oracle.adjusted_window(values[:, a], pairs, start, end)
            for r in range(start, end + 1):
                factor = math.prod(x for row, x in pairs if r <= row <= end)
                expected = values[r, a] * factor
                assert window[r - start] == pytest.approx(expected, rel=1e-14, nan_ok=True)


@PROPERTY
@given(case=rolling_cases("simple_moving_average"))
def test_oracle_moving_average_agrees_with_pandas_rolling(case):
    values = case.inputs[0]
    expected = pd.DataFrame(values).rolling(case.window, min_periods=1).mean().to_numpy()
    actual = oracle.rolling("simple_moving_average", {}, [values], [None], case.window)[0]
    np.testing.assert_allclose(actual, expected[case.window - 1 :], rtol=1e-9, equal_nan=True)


PANDAS_RANK = {"ordinal": "first", "average": "average", "min": "min", "max": "max"}


@PROPERTY
@given(
    case=cross_cases(),
    method=st.sampled_from([*PANDAS_RANK, "dense"]),
    ascending=st.booleans(),
    grouped=st.booleans(),
)
def test_oracle_rank_agrees_with_pandas(case, method, ascending, grouped):
    values, mask, groups = case
    actual = oracle.rank(values, mask, groups if grouped else None, method, ascending)
    frame = pd.DataFrame(np.where(mask, values, np.nan))
    labels = pd.DataFrame(np.where(mask, groups, -1) if grouped else np.where(mask, 0, -1))
    expected = np.full(values.shape, np.nan)
    for i in range(values.shape[0]):
        row, row_labels = frame.iloc[i], labels.iloc[i]
        for label in set(row_labels) - {-1}:
            cells = row[row_labels == label]
            ranks = cells.rank(method=PANDAS_RANK.get(method, method), ascending=ascending)
            expected[i, cells.index] = ranks.to_numpy()
    np.testing.assert_array_equal(actual, expected)


@PROPERTY
@given(case=cross_cases(), kind=st.sampled_from(["demean", "zscore"]), grouped=st.booleans())
def test_oracle_demean_zscore_agree_with_pandas_groupby(case, kind, grouped):
    values, mask, groups = case
    actual = oracle.normalize(kind, values, mask, groups if grouped else None, {})
    expected = np.full(values.shape, np.nan)
    for i in range(values.shape[0]):
        labels = groups[i] if grouped else np.zeros(values.shape[1], dtype=np.int64)
        keep = mask[i] & (labels != -1)
        series = pd.Series(values[i, keep])
        by = labels[keep]
        centred = series - series.groupby(by).transform("mean")
        if kind == "zscore":
            centred = centred / series.groupby(by).transform(functools.partial(np.std, ddof=0))
        expected[i, keep] = centred.to_numpy()
    # Both are NaN, or agree; a group of equal values gives 0 / 0 = NaN in both.
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12, equal_nan=True)
