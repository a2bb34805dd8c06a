"""The reference Pipeline kernels: zipline-reloaded's built-in factors and cross-sectional
operations in plain Python, the oracle the Rust kernels (``rustybt._core.pipeline_*``) are
checked against value by value.

Layout (the contract is the kernels' spec): every matrix is ``[rows, assets]``, time-major.

* :func:`rolling` ``(kind, params, inputs, adjustments, window)``: a rolling factor of
  window ``w`` over inputs of ``R`` rows returns one ``[R - w + 1, assets]`` matrix per
  output; output row ``j`` is computed from input rows ``j ..= j + w - 1``. Each input may
  carry adjustments ``(assets, rows, ratios)`` (splits, dividends), applied as zipline's
  ``AdjustedArray`` applies ``Float64Multiply(first_row=0, last_row=row)``: in the window
  whose last row is ``end``, the value at row ``r`` is multiplied, one ratio after the
  other in ascending ``row`` order, by every ratio of the asset with ``r <= row <= end``.
  Every window of every asset then goes through a per-window function that mirrors the
  ``compute`` method of the zipline class, for one column:

  ======================================  ==================================================
  kind                                    zipline class
  ======================================  ==================================================
  latest                                  ``Latest``
  returns / percent_change                ``Returns`` / ``PercentChange``
  simple_moving_average                   ``SimpleMovingAverage``
  ewma / ewmstd                           ``ExponentialWeightedMovingAverage`` / ``...StdDev``
  linear_weighted_moving_average          ``LinearWeightedMovingAverage``
  vwap / average_dollar_volume            ``VWAP`` / ``AverageDollarVolume``
  rsi                                     ``RSI``
  annualized_volatility                   ``AnnualizedVolatility``
  max_drawdown                            ``MaxDrawdown``
  bollinger_bands                         ``BollingerBands`` (lower, middle, upper)
  true_range                              ``TrueRange``
  fast_stochastic_oscillator              ``FastStochasticOscillator``
  aroon                                   ``Aroon`` (down, up)
  macd_signal                             ``MovingAverageConvergenceDivergenceSignal``
  ichimoku_kinko_hyo                      ``IchimokuKinkoHyo`` (five outputs)
  rate_of_change_percentage               ``RateOfChangePercentage``
  rolling_pearson / rolling_spearman      ``RollingPearson`` / ``RollingSpearman``
  rolling_linear_regression               ``RollingLinearRegression`` (five outputs)
  simple_beta                             ``SimpleBeta`` (``vectorized_beta``)
  ======================================  ==================================================

  (zipline.pipeline.factors.basic, .technical, .statistical, .factor.)
* :func:`rank` (``Factor.rank``: ``Rank`` / grouped ``rankdata``), :func:`normalize`
  (``Factor.demean`` / ``zscore`` / ``winsorize``: ``GroupedRowTransform``), :func:`quantiles`
  (``Factor.quantiles``: ``Quantiles``, pandas 2's ``qcut``), :func:`percentile_between`
  (``PercentileFilter``), :func:`peer_count` (``Classifier.peer_count``: ``PeerCount``):
  row by row (and group by group), over the cells whose mask is True (whose group is not
  ``-1``); masked cells give NaN (``-1`` for quantiles, False for percentile_between).

Where zipline raises on data rather than parameters, this module defines a value instead
(NaN for ``Aroon`` on an all-NaN window and for ``RollingLinearRegression`` when the
independent window is constant; ``-1`` labels for an all-NaN quantiles row), and ranks
skip NaN and masked cells as zipline did before scipy's ``rankdata`` started to propagate
NaN to the whole row. Bad arguments raise :class:`rustybt.errors.InvalidRunParameters`.

Scalar statistics come from numpy and scipy (``scipy.stats.spearmanr``, ``linregress``,
``rankdata``); the loops over rows, assets and windows are written out, for reading.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

__all__ = [
    "KINDS",
    "NORMALIZE_KINDS",
    "RANK_METHODS",
    "adjusted_window",
    "normalize",
    "peer_count",
    "percentile_between",
    "quantiles",
    "rank",
    "rolling",
]

NAN = np.float64(np.nan)

RANK_METHODS = ("ordinal", "average", "min", "max", "dense")
NORMALIZE_KINDS = ("demean", "zscore", "winsorize")


def _invalid(message: str) -> Exception:
    # Imported here so that this module loads without rustybt's compiled core (the
    # cross-validation against zipline imports it from another environment).
    from rustybt.errors import InvalidRunParameters

    return InvalidRunParameters(message)


# -- scalar helpers: zipline's nan-functions on one column -------------------------------
# Sums run one value after the other, in row order (as numpy's axis-0 reductions over
# zipline's [rows, assets] windows, and bottleneck's nan-functions, do).


def _valid(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


def _sum(x) -> np.float64:
    """Sum in order (NaN propagates; 0 for no values)."""
    total = np.float64(0.0)
    for v in x:
        total = total + v
    return total


def _mean(x: np.ndarray) -> np.float64:
    """Sum / count (NaN for no values)."""
    return _sum(x) / np.float64(len(x))


def _std(x: np.ndarray) -> np.float64:
    """Population standard deviation (ddof 0): sqrt(mean((x - mean(x)) ** 2))."""
    return np.sqrt(_mean((x - _mean(x)) ** 2))


def _nanmean(x: np.ndarray) -> np.float64:
    v = _valid(x)
    return _mean(v) if v.size else NAN


def _nanstd(x: np.ndarray) -> np.float64:
    v = _valid(x)
    return _std(v) if v.size else NAN


def _nansum(x: np.ndarray) -> np.float64:
    """Sum of the non-NaN values (0 when there are none)."""
    return _sum(_valid(x))


def _nanmax(x: np.ndarray) -> np.float64:
    v = _valid(x)
    return np.float64(np.max(v)) if v.size else NAN


def _nanmin(x: np.ndarray) -> np.float64:
    v = _valid(x)
    return np.float64(np.min(v)) if v.size else NAN


def _first_argmax(x: np.ndarray) -> int | None:
    """Index of the first largest non-NaN value, None if all are NaN."""
    best = None
    for i, v in enumerate(x):
        if not np.isnan(v) and (best is None or v > x[best]):
            best = i
    return best


def _first_argmin(x: np.ndarray) -> int | None:
    """Index of the first smallest non-NaN value, None if all are NaN."""
    best = None
    for i, v in enumerate(x):
        if not np.isnan(v) and (best is None or v < x[best]):
            best = i
    return best


def _exponential_weights(length: int, decay_rate: float) -> np.ndarray:
    """zipline's ``exponential_weights``: ``[d ** (length + 1), ..., d ** 3, d ** 2]``.

    (Its docstring says ``d ** length, ..., d``; the code raises to ``length + 1 .. 2``.
    The common factor ``d`` cancels in every weighted average, up to rounding.)
    """
    return np.array([decay_rate**k for k in range(length + 1, 1, -1)], dtype=np.float64)


def _weighted_average(x: np.ndarray, weights: np.ndarray) -> np.float64:
    """``numpy.average(x, weights=weights)``: NaN propagates."""
    return _sum(x * weights) / _sum(weights)


# -- per-window functions: one column of each zipline ``compute`` --------------------------
# Each takes the asset's (adjusted) window of every input, in zipline's input order, and the
# kind's params, and returns a tuple with one value per output.


def _latest(x):
    return (x[-1],)


def _returns(close):
    return ((close[-1] - close[0]) / close[0],)


def _percent_change(x):
    return ((x[-1] - x[0]) / abs(x[0]),)


def _simple_moving_average(x):
    return (_nanmean(x),)


def _ewma(x, decay_rate):
    return (_weighted_average(x, _exponential_weights(len(x), decay_rate)),)


def _ewmstd(x, decay_rate):
    weights = _exponential_weights(len(x), decay_rate)
    mean = _weighted_average(x, weights)
    variance = _weighted_average((x - mean) ** 2, weights)
    squared_weight_sum = _sum(weights) ** 2
    bias_correction = squared_weight_sum / (squared_weight_sum - _sum(weights**2))
    return (np.sqrt(variance * bias_correction),)


def _linear_weighted_moving_average(x):
    n = len(x)
    weights = np.arange(1, n + 1, dtype=np.float64)
    normalizer = (n * (n + 1)) / 2
    # NaN rows count as 0 but keep their weight in the normalizer (as zipline).
    return (_nansum(x * weights) / normalizer,)


def _vwap(close, volume):
    # zipline's WeightedAverageValue: a row whose close is NaN still adds its volume below.
    return (_nansum(close * volume) / _nansum(volume),)


def _average_dollar_volume(close, volume):
    # Divided by the window length, NaN rows included (an all-NaN window gives 0).
    return (_nansum(close * volume) / np.float64(len(close)),)


def _rsi(close):
    diffs = np.diff(close)
    ups = _nanmean(np.clip(diffs, 0, np.inf))
    downs = abs(_nanmean(np.clip(diffs, -np.inf, 0)))
    return (100 - (100 / (1 + (ups / downs))),)


def _annualized_volatility(returns, annualization_factor):
    return (_nanstd(returns) * (annualization_factor**0.5),)


def _max_drawdown(x):
    # zipline: the drawdown (running peak - value, NaN counted as -inf) is largest at row
    # `end` (the first such row); the result is (peak before end - value at end) / value at
    # end, relative to the trough.
    running_peak = NAN
    end, largest = 0, -np.inf
    for i, v in enumerate(x):
        running_peak = np.fmax(running_peak, v)
        drawdown = running_peak - v
        if np.isnan(drawdown):
            drawdown = -np.inf
        if drawdown > largest:
            end, largest = i, drawdown
    peak = _nanmax(x[: end + 1])
    return ((peak - x[end]) / x[end],)


def _bollinger_bands(close, k):
    difference = k * _nanstd(close)
    middle = _nanmean(close)
    return (middle - difference, middle, middle + difference)


def _true_range(high, low, close):
    # Window 2: today's high and low against yesterday's close; NaN candidates are skipped.
    candidates = np.array(
        [high[1] - low[1], abs(high[1] - close[0]), abs(low[1] - close[0])], dtype=np.float64
    )
    return (_nanmax(candidates),)


def _fast_stochastic_oscillator(close, low, high):
    highest_high = _nanmax(high)
    lowest_low = _nanmin(low)
    return (((close[-1] - lowest_low) / (highest_high - lowest_low)) * 100,)


def _aroon(low, high):
    # Outputs (down, up): where in the window the lowest low / highest high is (first one).
    # zipline raises on an all-NaN window (nanargmax); NaN here. Window 1 gives 0 / 0.
    span = np.float64(len(low) - 1)
    low_index = _first_argmin(low)
    high_index = _first_argmax(high)
    down = NAN if low_index is None else (100 * low_index) / span
    up = NAN if high_index is None else (100 * high_index) / span
    return (down, up)


def _macd_signal(close, fast_period, slow_period, signal_period):
    # The window is slow_period + signal_period - 1 rows. For each of the last signal_period
    # rows: MACD = EWMA(fast) - EWMA(slow) of the closes ending there, each EWMA over
    # `period` rows with decay 1 - 2 / (1 + period); the signal is the EWMA of those MACDs.
    def ewma_of_last(values, period):
        decay_rate = 1.0 - (2.0 / (1.0 + period))
        return _weighted_average(values[-period:], _exponential_weights(period, decay_rate))

    n = len(close)
    macd = []
    for k in range(signal_period):
        upto = close[: n - signal_period + 1 + k]
        macd.append(ewma_of_last(upto, fast_period) - ewma_of_last(upto, slow_period))
    return (ewma_of_last(np.array(macd, dtype=np.float64), signal_period),)


def _ichimoku_kinko_hyo(high, low, close, tenkan_sen_length, kijun_sen_length, chikou_span_length):
    # NaN propagates (numpy max/min, as zipline). `values[-n:]` is the whole window when
    # n == 0, and the chikou span is the close `chikou_span_length` rows after the window's
    # first row: both as zipline computes them.
    def last(values, n):
        return values[-n:]

    def midpoint(n):
        return (np.max(last(high, n)) + np.min(last(low, n))) / 2

    tenkan_sen = midpoint(tenkan_sen_length)
    kijun_sen = midpoint(kijun_sen_length)
    senkou_span_a = (tenkan_sen + kijun_sen) / 2
    senkou_span_b = (np.max(high) + np.min(low)) / 2
    chikou_span = close[chikou_span_length]
    return (tenkan_sen, kijun_sen, senkou_span_a, senkou_span_b, chikou_span)


def _rate_of_change_percentage(close):
    return (((close[-1] - close[0]) / close[0]) * 100,)


def _rolling_pearson(x, y):
    # zipline's vectorized_pearson_r with allowed_missing=0: any NaN gives NaN.
    if np.isnan(x).any() or np.isnan(y).any():
        return (NAN,)
    x_residual = x - _mean(x)
    y_residual = y - _mean(y)
    x_variance = _mean(x_residual**2)
    y_variance = _mean(y_residual**2)
    covariance = _mean(x_residual * y_residual)
    return (covariance / np.sqrt(x_variance * y_variance),)


def _rolling_spearman(x, y):
    return (np.float64(scipy.stats.spearmanr(x, y)[0]),)


def _rolling_linear_regression(y, x):
    # Outputs (alpha, beta, r_value, p_value, stderr) of scipy.stats.linregress(x, y),
    # p_value two-sided. NaN in the window: all NaN (scipy propagates). A constant x makes
    # linregress (so zipline) raise; all NaN here.
    if np.isnan(x).any() or np.isnan(y).any() or np.max(x) == np.min(x):
        return (NAN,) * 5
    result = scipy.stats.linregress(x, y)
    return tuple(
        np.float64(v)
        for v in (result.intercept, result.slope, result.rvalue, result.pvalue, result.stderr)
    )


def _simple_beta(returns, target, allowed_missing_percentage):
    # zipline's vectorized_beta over the rows where both are present; NaN when more than
    # int(allowed_missing_percentage * window) rows are missing in either.
    allowed_missing = int(allowed_missing_percentage * len(returns))
    both = ~np.isnan(returns) & ~np.isnan(target)
    if len(returns) - int(np.sum(both)) > allowed_missing:
        return (NAN,)
    x, y = target[both], returns[both]
    x_residual = x - _nanmean(x)
    covariance = _nanmean(x_residual * y)
    x_variance = _nanmean(x_residual**2)
    return (covariance / x_variance,)


# -- the kinds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A rolling kernel: its inputs (zipline's order), params, outputs, the per-window
    function, and the windows zipline accepts."""

    inputs: tuple[str, ...]
    params: tuple[str, ...]
    outputs: tuple[str, ...]
    compute: Callable[..., tuple]
    min_window: int = 1
    exact_window: int | None = None


KINDS: dict[str, Kind] = {
    "latest": Kind(("x",), (), ("latest",), _latest),
    "returns": Kind(("close",), (), ("returns",), _returns, min_window=2),
    "percent_change": Kind(("x",), (), ("percent_change",), _percent_change, min_window=2),
    "simple_moving_average": Kind(("x",), (), ("sma",), _simple_moving_average),
    "ewma": Kind(("x",), ("decay_rate",), ("ewma",), _ewma),
    "ewmstd": Kind(("x",), ("decay_rate",), ("ewmstd",), _ewmstd),
    "linear_weighted_moving_average": Kind(("x",), (), ("lwma",), _linear_weighted_moving_average),
    "vwap": Kind(("close", "volume"), (), ("vwap",), _vwap),
    "average_dollar_volume": Kind(
        ("close", "volume"), (), ("average_dollar_volume",), _average_dollar_volume
    ),
    "rsi": Kind(("close",), (), ("rsi",), _rsi),
    "annualized_volatility": Kind(
        ("returns",), ("annualization_factor",), ("volatility",), _annualized_volatility
    ),
    "max_drawdown": Kind(("x",), (), ("max_drawdown",), _max_drawdown),
    "bollinger_bands": Kind(("close",), ("k",), ("lower", "middle", "upper"), _bollinger_bands),
    "true_range": Kind(
        ("high", "low", "close"), (), ("true_range",), _true_range, min_window=2, exact_window=2
    ),
    "fast_stochastic_oscillator": Kind(
        ("close", "low", "high"), (), ("percent_k",), _fast_stochastic_oscillator
    ),
    "aroon": Kind(("low", "high"), (), ("down", "up"), _aroon),
    "macd_signal": Kind(
        ("close",), ("fast_period", "slow_period", "signal_period"), ("signal",), _macd_signal
    ),
    "ichimoku_kinko_hyo": Kind(
        ("high", "low", "close"),
        ("tenkan_sen_length", "kijun_sen_length", "chikou_span_length"),
        ("tenkan_sen", "kijun_sen", "senkou_span_a", "senkou_span_b", "chikou_span"),
        _ichimoku_kinko_hyo,
    ),
    "rate_of_change_percentage": Kind(("x",), (), ("roc",), _rate_of_change_percentage),
    "rolling_pearson": Kind(("x", "y"), (), ("pearson",), _rolling_pearson, min_window=2),
    "rolling_spearman": Kind(("x", "y"), (), ("spearman",), _rolling_spearman, min_window=2),
    "rolling_linear_regression": Kind(
        ("y", "x"),
        (),
        ("alpha", "beta", "r_value", "p_value", "stderr"),
        _rolling_linear_regression,
        min_window=2,
    ),
    "simple_beta": Kind(
        ("returns", "target"),
        ("allowed_missing_percentage",),
        ("beta",),
        _simple_beta,
        min_window=3,
    ),
}


def _integral(kind: str, name: str, value: float) -> int:
    if value != int(value):
        raise _invalid(f"{kind}: param {name} must be an integer, got {value!r}")
    return int(value)


def _checked_params(kind: str, spec: Kind, params: Mapping[str, float] | None, window: int):
    """The params as zipline's compute receives them, or InvalidRunParameters."""
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise _invalid(f"{kind}: params must be a dict, got {type(params).__name__}")
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise _invalid(f"{kind}: unknown param(s) {unknown}; it takes {list(spec.params)}")
    missing = [name for name in spec.params if name not in params]
    if missing:
        raise _invalid(f"{kind}: missing param(s) {missing}")
    values: dict[str, float] = {}
    for name in spec.params:
        raw = params[name]
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise _invalid(f"{kind}: param {name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise _invalid(f"{kind}: param {name} must be finite, got {raw!r}")
        values[name] = value

    if kind in ("ewma", "ewmstd") and not 0.0 < values["decay_rate"] <= 1.0:
        raise _invalid(f"{kind}: decay_rate must be in (0, 1], got {values['decay_rate']}")
    if kind == "annualized_volatility" and values["annualization_factor"] < 0:
        raise _invalid(
            f"{kind}: annualization_factor must be >= 0, got {values['annualization_factor']}"
        )
    if kind == "simple_beta" and not 0.0 <= values["allowed_missing_percentage"] <= 1.0:
        raise _invalid(
            f"{kind}: allowed_missing_percentage must be in [0, 1], "
            f"got {values['allowed_missing_percentage']}"
        )
    if kind == "macd_signal":
        fast, slow, signal = (_integral(kind, name, values[name]) for name in spec.params)
        # zipline accepts periods >= 1, but a period of 1 has decay 0, all-zero weights and
        # numpy.average raises ZeroDivisionError: so 2 is the least that computes.
        for name, period in zip(spec.params, (fast, slow, signal)):
            if period < 2:
                raise _invalid(f"{kind}: {name} must be >= 2, got {period}")
        if slow <= fast:
            raise _invalid(
                f"{kind}: slow_period must be greater than fast_period, got "
                f"slow_period={slow}, fast_period={fast}"
            )
        if window != slow + signal - 1:
            raise _invalid(
                f"{kind}: window must be slow_period + signal_period - 1 = "
                f"{slow + signal - 1}, got {window}"
            )
        return {"fast_period": fast, "slow_period": slow, "signal_period": signal}
    if kind == "ichimoku_kinko_hyo":
        lengths = {name: _integral(kind, name, values[name]) for name in spec.params}
        for name, length in lengths.items():
            if not 0 <= length <= window:
                raise _invalid(f"{kind}: {name} must be in [0, window={window}], got {length}")
        if lengths["chikou_span_length"] >= window:
            raise _invalid(
                f"{kind}: chikou_span_length must be < window={window} (it indexes the "
                f"window from its first row), got {lengths['chikou_span_length']}"
            )
        return lengths
    return values


def _checked_matrix(what: str, value) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _invalid(f"{what} must be a float matrix, got {type(value).__name__}") from None
    if array.ndim != 2:
        raise _invalid(f"{what} must be 2-D [rows, assets], got shape {array.shape}")
    return array


def _checked_adjustments(kind, adjustments, n_inputs, rows, assets):
    """Per input, per asset: the asset's (row, ratio) pairs, sorted by row (stable)."""
    if adjustments is None:
        adjustments = [None] * n_inputs
    if not isinstance(adjustments, Sequence) or isinstance(adjustments, str | bytes):
        raise _invalid(f"{kind}: adjustments must be a list (one entry per input)")
    if len(adjustments) != n_inputs:
        raise _invalid(
            f"{kind}: adjustments has {len(adjustments)} entries for {n_inputs} input(s)"
        )
    per_input = []
    for i, entry in enumerate(adjustments):
        per_asset: list[list[tuple[int, float]]] = [[] for _ in range(assets)]
        if entry is not None:
            try:
                asset_ids, adj_rows, ratios = entry
            except (TypeError, ValueError):
                raise _invalid(
                    f"{kind}: adjustments[{i}] must be None or (assets, rows, ratios)"
                ) from None
            asset_ids, adj_rows = np.asarray(asset_ids), np.asarray(adj_rows)
            ratios = np.asarray(ratios, dtype=np.float64)
            if not (asset_ids.ndim == adj_rows.ndim == ratios.ndim == 1) or not (
                len(asset_ids) == len(adj_rows) == len(ratios)
            ):
                raise _invalid(
                    f"{kind}: adjustments[{i}]: assets, rows and ratios must be 1-D arrays of "
                    f"one length, got shapes {asset_ids.shape}, {adj_rows.shape}, {ratios.shape}"
                )
            for a, r, ratio in zip(asset_ids.tolist(), adj_rows.tolist(), ratios.tolist()):
                if a != int(a) or not 0 <= a < assets:
                    raise _invalid(
                        f"{kind}: adjustments[{i}]: asset {a} out of range (0..{assets})"
                    )
                if r != int(r) or not 0 <= r < rows:
                    raise _invalid(f"{kind}: adjustments[{i}]: row {r} out of range (0..{rows})")
                per_asset[int(a)].append((int(r), float(ratio)))
        per_input.append([sorted(pairs, key=lambda pair: pair[0]) for pairs in per_asset])
    return per_input


def adjusted_window(
    column: np.ndarray, adjustments: Sequence[tuple[int, float]], start: int, end: int
) -> np.ndarray:
    """Rows ``start ..= end`` of one asset's column, adjusted as of ``end``.

    ``adjustments`` are the asset's ``(row, ratio)`` pairs in ascending row order: the value
    at row ``r`` is multiplied by the ratio of every pair with ``r <= row <= end``, one
    multiplication after the other.
    """
    window = []
    for r in range(start, end + 1):
        value = np.float64(column[r])
        for row, ratio in adjustments:
            if r <= row <= end:
                value = value * ratio
        window.append(value)
    return np.array(window, dtype=np.float64)


def rolling(
    kind: str,
    params: Mapping[str, float] | None,
    inputs: Sequence,
    adjustments: Sequence | None,
    window: int,
) -> list[np.ndarray]:
    """zipline's rolling factor ``kind`` over ``inputs`` (``[rows, assets]`` each, in the
    kind's input order), one ``[rows - window + 1, assets]`` matrix per output."""
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise _invalid(f"unknown rolling kind {kind!r}; known: {sorted(KINDS)}")
    if isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence):
        raise _invalid(f"{kind}: inputs must be a list of matrices")
    if len(inputs) != len(spec.inputs):
        raise _invalid(
            f"{kind}: takes {len(spec.inputs)} input(s) {list(spec.inputs)}, got {len(inputs)}"
        )
    arrays = [_checked_matrix(f"{kind}: input {name}", x) for name, x in zip(spec.inputs, inputs)]
    shape = arrays[0].shape
    for name, array in zip(spec.inputs, arrays):
        if array.shape != shape:
            raise _invalid(
                f"{kind}: input {name} has shape {array.shape}, "
                f"{spec.inputs[0]} has {shape}; inputs must match"
            )
    rows, assets = shape
    if isinstance(window, bool) or not isinstance(window, int | np.integer):
        raise _invalid(f"{kind}: window must be an int, got {window!r}")
    window = int(window)
    if window < 1:
        raise _invalid(f"{kind}: window must be >= 1, got {window}")
    if window > rows:
        raise _invalid(f"{kind}: window {window} is longer than the inputs' {rows} rows")
    if spec.exact_window is not None and window != spec.exact_window:
        raise _invalid(f"{kind}: window must be {spec.exact_window}, got {window}")
    if window < spec.min_window:
        raise _invalid(f"{kind}: window must be >= {spec.min_window}, got {window}")
    kwargs = _checked_params(kind, spec, params, window)
    per_input = _checked_adjustments(kind, adjustments, len(arrays), rows, assets)

    n_out = rows - window + 1
    outputs = [np.full((n_out, assets), np.nan) for _ in spec.outputs]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for a in range(assets):
            for j in range(n_out):
                end = j + window - 1
                windows = [
                    adjusted_window(array[:, a], adjs[a], j, end)
                    for array, adjs in zip(arrays, per_input)
                ]
                values = spec.compute(*windows, **kwargs)
                for out, value in zip(outputs, values):
                    out[j, a] = value
    return outputs


# -- cross-sectional operations ------------------------------------------------------------


def _checked_cross(what: str, values, mask, groups):
    values = _checked_matrix(f"{what}: values", values)
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise _invalid(f"{what}: mask must be a bool matrix, got dtype {mask.dtype}")
    if mask.shape != values.shape:
        raise _invalid(f"{what}: mask has shape {mask.shape}, values {values.shape}")
    if groups is not None:
        groups = np.asarray(groups)
        if not np.issubdtype(groups.dtype, np.integer):
            raise _invalid(f"{what}: groups must be an int matrix, got dtype {groups.dtype}")
        if groups.shape != values.shape:
            raise _invalid(f"{what}: groups has shape {groups.shape}, values {values.shape}")
    return values, mask, groups


def _row_groups(values, mask, groups, i) -> list[list[int]]:
    """Row ``i``'s groups: for each group label, the columns whose mask is True, whose
    group is that label (not -1) and whose value is not NaN, in column order."""
    by_label: dict[int, list[int]] = {}
    for a in range(values.shape[1]):
        if not mask[i, a] or np.isnan(values[i, a]):
            continue
        label = 0 if groups is None else int(groups[i, a])
        if label == -1:
            continue
        by_label.setdefault(label, []).append(a)
    return list(by_label.values())


def rank(values, mask, groups, method: str, ascending: bool) -> np.ndarray:
    """``Factor.rank(method, ascending, mask, groupby)``: per row (and group), the
    ``scipy.stats.rankdata`` ranks (from 1) of the cells that are unmasked, in a group and
    not NaN; NaN elsewhere. ``ordinal`` breaks ties by column order (descending too)."""
    values, mask, groups = _checked_cross("rank", values, mask, groups)
    if method not in RANK_METHODS:
        raise _invalid(f"rank: unknown method {method!r}; known: {list(RANK_METHODS)}")
    if not isinstance(ascending, bool | np.bool_):
        raise _invalid(f"rank: ascending must be a bool, got {ascending!r}")
    out = np.full(values.shape, np.nan)
    for i in range(values.shape[0]):
        for cols in _row_groups(values, mask, groups, i):
            group_values = values[i, cols]
            # zipline ranks -values for descending order (stable, so ordinal ties stay in
            # column order).
            keys = group_values if ascending else -group_values
            out[i, cols] = scipy.stats.rankdata(keys, method=method).astype(np.float64)
    return out


def _demean(x: np.ndarray) -> np.ndarray:
    return x - _mean(x)


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - _mean(x)) / _std(x)


def _winsorize(x: np.ndarray, min_percentile: float, max_percentile: float) -> np.ndarray:
    """zipline's ``winsorize`` on non-NaN values: with ``s`` the values sorted and ``n`` of
    them, values below ``s[int(min_percentile * n)]`` take that value (if min_percentile >
    0), values above ``s[ceil(n * max_percentile) - 1]`` take that one (if max_percentile <
    1 and that index is not the last)."""
    n = len(x)
    ordered = np.sort(x)
    low, high = -np.inf, np.inf
    if min_percentile > 0:
        low = ordered[int(min_percentile * n)]
    if max_percentile < 1:
        upper_cutoff = math.ceil(n * max_percentile)
        if upper_cutoff < n:
            high = ordered[upper_cutoff - 1]
    return np.array([min(max(v, low), high) for v in x], dtype=np.float64)


def normalize(kind: str, values, mask, groups, params: Mapping[str, float] | None) -> np.ndarray:
    """``Factor.demean`` / ``zscore`` / ``winsorize(min_percentile, max_percentile)`` with
    ``mask`` and ``groupby``: per row (and group), over the unmasked non-NaN cells; NaN
    elsewhere. zscore divides by the population standard deviation (ddof 0)."""
    if kind not in NORMALIZE_KINDS:
        raise _invalid(f"unknown normalize kind {kind!r}; known: {list(NORMALIZE_KINDS)}")
    values, mask, groups = _checked_cross(kind, values, mask, groups)
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise _invalid(f"{kind}: params must be a dict, got {type(params).__name__}")
    expected = ("min_percentile", "max_percentile") if kind == "winsorize" else ()
    unknown = sorted(set(params) - set(expected))
    if unknown:
        raise _invalid(f"{kind}: unknown param(s) {unknown}; it takes {list(expected)}")
    missing = [name for name in expected if name not in params]
    if missing:
        raise _invalid(f"{kind}: missing param(s) {missing}")
    if kind == "winsorize":
        low, high = float(params["min_percentile"]), float(params["max_percentile"])
        if not 0.0 <= low < high <= 1.0:
            raise _invalid(
                f"winsorize: need 0 <= min_percentile < max_percentile <= 1, "
                f"got min_percentile={low}, max_percentile={high}"
            )

        def transform(x):
            return _winsorize(x, low, high)
    else:
        transform = _demean if kind == "demean" else _zscore

    out = np.full(values.shape, np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for i in range(values.shape[0]):
            for cols in _row_groups(values, mask, groups, i):
                out[i, cols] = transform(values[i, cols])
    return out


def _qcut_edges(valid: np.ndarray, bins: int) -> np.ndarray:
    """The bin edges of ``pandas.qcut(x, bins)`` in pandas 2.x (zipline 3.2.1 requires
    pandas < 3): ``np.percentile`` of the non-NaN values at ``np.linspace(0, 1, bins + 1)
    * 100``, linear interpolation. (pandas 3 rounds those quantiles up to the next float
    instead, which moves values lying exactly on an edge down one bin.)"""
    return np.percentile(valid, np.linspace(0, 1, bins + 1) * 100.0)


def quantiles(values, mask, bins: int) -> np.ndarray:
    """``Factor.quantiles(bins, mask)``: per row, ``pandas.qcut(row, bins, labels=False)``
    (pandas 2.x) of the row with masked cells set to NaN; -1 for masked and NaN cells.

    Bins are closed on the right, the first also on the left: a value's label is the
    number of edges below it, minus 1 (0 for the lowest value). A row with no value is all
    -1 (zipline's qcut raises on it); a row whose edges repeat (ties across an edge, a
    single value) is an error, as in pandas and zipline, unless ``bins`` is 1 (pandas does
    not check two edges).
    """
    values, mask, _ = _checked_cross("quantiles", values, mask, None)
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise _invalid(f"quantiles: bins must be an int >= 1, got {bins!r}")
    bins = int(bins)
    out = np.full(values.shape, -1, dtype=np.int64)
    for i in range(values.shape[0]):
        row = np.where(mask[i], values[i], np.nan)
        valid = row[~np.isnan(row)]
        if valid.size == 0:
            continue
        edges = _qcut_edges(valid, bins)
        if bins > 1 and len(np.unique(edges)) < len(edges):
            raise _invalid(
                f"quantiles: row {i}: Bin edges must be unique: {edges.tolist()} "
                f"(pandas.qcut with {bins} bins)"
            )
        for a, x in enumerate(row):
            if np.isnan(x):
                continue
            below = int(np.sum(edges < x))  # searchsorted(edges, x, side="left")
            if x == edges[0]:
                below = 1
            if 0 < below < len(edges):
                out[i, a] = below - 1
    return out


def percentile_between(values, mask, min_percentile: float, max_percentile: float) -> np.ndarray:
    """``Factor.percentile_between(min_percentile, max_percentile, mask)``: per row, True
    where ``nanpercentile(row, min) <= value <= nanpercentile(row, max)`` (percentiles in
    0..100, linear interpolation, over the unmasked cells); False for masked or NaN."""
    values, mask, _ = _checked_cross("percentile_between", values, mask, None)
    low, high = float(min_percentile), float(max_percentile)
    if not 0.0 <= low < high <= 100.0:
        raise _invalid(
            f"percentile_between: need 0 <= min_percentile < max_percentile <= 100, "
            f"got {min_percentile}, {max_percentile}"
        )
    out = np.zeros(values.shape, dtype=bool)
    for i in range(values.shape[0]):
        row = np.where(mask[i], values[i], np.nan)
        if np.isnan(row).all():
            continue
        lower_bound = np.nanpercentile(row, low)
        upper_bound = np.nanpercentile(row, high)
        for a, value in enumerate(row):
            out[i, a] = bool(lower_bound <= value <= upper_bound)
    return out


def peer_count(groups, mask) -> np.ndarray:
    """``Classifier.peer_count(mask)``: per cell, how many unmasked cells of its row share
    its group; NaN where masked or the group is -1."""
    groups = np.asarray(groups)
    if groups.ndim != 2 or not np.issubdtype(groups.dtype, np.integer):
        raise _invalid(
            f"peer_count: groups must be a 2-D int matrix, got dtype {groups.dtype}, "
            f"shape {groups.shape}"
        )
    _, mask, _ = _checked_cross("peer_count", np.zeros(groups.shape), mask, None)
    out = np.full(groups.shape, np.nan)
    for i in range(groups.shape[0]):
        counts: dict[int, int] = {}
        for a in range(groups.shape[1]):
            if mask[i, a] and groups[i, a] != -1:
                counts[int(groups[i, a])] = counts.get(int(groups[i, a]), 0) + 1
        for a in range(groups.shape[1]):
            if mask[i, a] and groups[i, a] != -1:
                out[i, a] = counts[int(groups[i, a])]
    return out
