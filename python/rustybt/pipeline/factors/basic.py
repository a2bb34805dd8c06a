"""zipline's basic factors (``zipline.pipeline.factors.basic``), computed by the Rust
kernels of ``crates/pipeline`` over whole columns."""

from __future__ import annotations

import math
import numbers

from rustybt.errors import PipelineError
from rustybt.pipeline.data.equity_pricing import EquityPricing
from rustybt.pipeline.factors.factor import CustomFactor
from rustybt.pipeline.term import NotSpecified


class Builtin(CustomFactor):
    """A built-in factor: ``_kind`` names its kernel, ``_kernel_params`` its parameters.
    Its values are computed for every asset at once (no per-date Python)."""

    _kind = ""
    #: the smallest window the computation is defined for
    _min_window = 1

    def _kernel_params(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.params.items()}

    def _validate(self):
        super()._validate()
        if self.window_length < self._min_window:
            raise PipelineError(
                f"{type(self).__name__} needs a window_length of at least {self._min_window}, "
                f"got {self.window_length}"
            )

    def _compute(self, inputs, ctx):
        outs = ctx.rolling(self._kind, self._kernel_params(), inputs, self.window_length)
        if self.outputs is NotSpecified:
            return outs[0]
        return dict(zip(self.outputs, outs))


class Returns(Builtin):
    """Change of the close over the window: ``(close[-1] − close[0]) / close[0]``."""

    inputs = (EquityPricing.close,)
    window_safe = True
    _kind = "returns"
    _min_window = 2


class PercentChange(Builtin):
    """``(x[-1] − x[0]) / |x[0]|`` over the window."""

    window_safe = True
    _kind = "percent_change"
    _min_window = 2


class DailyReturns(Returns):
    """One-day returns of the close."""

    window_length = 2


class SimpleMovingAverage(Builtin):
    """Mean of the window (NaN-skipping)."""

    _kind = "simple_moving_average"


class WeightedAverageValue(Builtin):
    """Sum of value × weight over the sum of weights (inputs: value, weight)."""

    _kind = "vwap"


class VWAP(WeightedAverageValue):
    """Volume-weighted average price over the window."""

    inputs = (EquityPricing.close, EquityPricing.volume)


class AverageDollarVolume(Builtin):
    """Mean of close × volume over the window."""

    inputs = (EquityPricing.close, EquityPricing.volume)
    _kind = "average_dollar_volume"


class MaxDrawdown(Builtin):
    """Largest fall from a running peak within the window, as a fraction."""

    _kind = "max_drawdown"


class _ExponentialWeightedFactor(Builtin):
    params = ("decay_rate",)

    def _validate(self):
        super()._validate()
        d = self.params["decay_rate"]
        if not isinstance(d, numbers.Real) or not 0.0 < d <= 1.0:
            raise PipelineError(f"{type(self).__name__}: decay_rate must be in (0, 1], got {d!r}")

    @classmethod
    def from_span(cls, inputs, window_length, span, **kwargs):
        """``decay_rate = 1 − 2 / (1 + span)`` (pandas' ``span``)."""
        if span <= 1:
            raise PipelineError(f"span must be a number above 1, got {span!r}")
        return cls(
            inputs=inputs,
            window_length=window_length,
            decay_rate=1.0 - 2.0 / (1.0 + span),
            **kwargs,
        )

    @classmethod
    def from_halflife(cls, inputs, window_length, halflife, **kwargs):
        """``decay_rate = exp(log(0.5) / halflife)``."""
        if halflife <= 0:
            raise PipelineError(f"halflife must be a positive number, got {halflife!r}")
        return cls(
            inputs=inputs,
            window_length=window_length,
            decay_rate=math.exp(math.log(0.5) / halflife),
            **kwargs,
        )

    @classmethod
    def from_center_of_mass(cls, inputs, window_length, center_of_mass, **kwargs):
        """``decay_rate = 1 − 1 / (1 + center_of_mass)``."""
        return cls(
            inputs=inputs,
            window_length=window_length,
            decay_rate=1.0 - 1.0 / (1.0 + center_of_mass),
            **kwargs,
        )


class ExponentialWeightedMovingAverage(_ExponentialWeightedFactor):
    """Exponentially weighted mean of the window (weights ``decay_rate ** age``)."""

    _kind = "ewma"


class ExponentialWeightedMovingStdDev(_ExponentialWeightedFactor):
    """Exponentially weighted standard deviation of the window."""

    _kind = "ewmstd"


EWMA = ExponentialWeightedMovingAverage
EWMSTD = ExponentialWeightedMovingStdDev


class LinearWeightedMovingAverage(Builtin):
    """Mean with weights 1, 2, ..., window_length (the newest weighs most)."""

    _kind = "linear_weighted_moving_average"


class AnnualizedVolatility(Builtin):
    """Standard deviation of daily returns over the window × sqrt(annualization_factor)."""

    inputs = (NotSpecified,)  # set below: Returns(window_length=2)
    params = {"annualization_factor": 252.0}
    window_length = 252
    window_safe = True
    _kind = "annualized_volatility"


AnnualizedVolatility.inputs = (Returns(window_length=2),)


class PeerCount(CustomFactor):
    """How many assets of each row share each asset's label (of a classifier)."""

    window_length = 1

    def _validate(self):
        super()._validate()
        if self.window_length != 1:
            raise PipelineError(f"PeerCount expects a window_length of 1, got {self.window_length}")

    def _compute(self, inputs, ctx):
        import numpy as np

        groups = np.ascontiguousarray(inputs[0].latest(), dtype=np.int64)
        return ctx.kernels.peer_count(groups, np.ascontiguousarray(ctx.mask))


__all__ = [
    "EWMA",
    "EWMSTD",
    "VWAP",
    "AnnualizedVolatility",
    "AverageDollarVolume",
    "DailyReturns",
    "ExponentialWeightedMovingAverage",
    "ExponentialWeightedMovingStdDev",
    "LinearWeightedMovingAverage",
    "MaxDrawdown",
    "PeerCount",
    "PercentChange",
    "Returns",
    "SimpleMovingAverage",
    "WeightedAverageValue",
]
