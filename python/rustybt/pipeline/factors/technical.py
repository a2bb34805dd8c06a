"""zipline's technical factors (``zipline.pipeline.factors.technical``), computed by the
Rust kernels of ``crates/pipeline``."""

from __future__ import annotations

from rustybt.errors import PipelineError
from rustybt.pipeline.data.equity_pricing import EquityPricing
from rustybt.pipeline.factors.basic import Builtin
from rustybt.pipeline.term import ComputableTerm


class RSI(Builtin):
    """Relative strength index over the window (0 to 100)."""

    window_length = 15
    inputs = (EquityPricing.close,)
    window_safe = True
    _kind = "rsi"
    _min_window = 2


class BollingerBands(Builtin):
    """``middle`` = mean, ``upper`` / ``lower`` = mean ± k standard deviations."""

    params = ("k",)
    inputs = (EquityPricing.close,)
    outputs = ("lower", "middle", "upper")
    _kind = "bollinger_bands"


class Aroon(Builtin):
    """Aroon ``down`` and ``up`` (0 to 100) of the window's lows and highs."""

    inputs = (EquityPricing.low, EquityPricing.high)
    outputs = ("down", "up")
    window_safe = True
    _kind = "aroon"


class FastStochasticOscillator(Builtin):
    """%K: where the close sits between the window's low and high (0 to 100)."""

    inputs = (EquityPricing.close, EquityPricing.low, EquityPricing.high)
    window_safe = True
    window_length = 14
    _kind = "fast_stochastic_oscillator"


class IchimokuKinkoHyo(Builtin):
    """The five Ichimoku lines of the window."""

    params = {"tenkan_sen_length": 9, "kijun_sen_length": 26, "chikou_span_length": 26}
    inputs = (EquityPricing.high, EquityPricing.low, EquityPricing.close)
    outputs = ("tenkan_sen", "kijun_sen", "senkou_span_a", "senkou_span_b", "chikou_span")
    window_length = 52
    _kind = "ichimoku_kinko_hyo"

    def _validate(self):
        super()._validate()
        for name, value in self.params.items():
            if not 1 <= value <= self.window_length:
                raise PipelineError(
                    f"IchimokuKinkoHyo: {name} ({value}) must be between 1 and the "
                    f"window_length ({self.window_length})"
                )


class RateOfChangePercentage(Builtin):
    """``(x[-1] − x[0]) / x[0] × 100`` over the window."""

    _kind = "rate_of_change_percentage"
    _min_window = 2


class TrueRange(Builtin):
    """max(high − low, |high − previous close|, |low − previous close|)."""

    inputs = (EquityPricing.high, EquityPricing.low, EquityPricing.close)
    window_length = 2
    _kind = "true_range"

    def _validate(self):
        super()._validate()
        if self.window_length != 2:
            raise PipelineError(f"TrueRange needs a window_length of 2, got {self.window_length}")


class MovingAverageConvergenceDivergenceSignal(Builtin):
    """MACD signal line: EWMA(signal_period) of EWMA(fast) − EWMA(slow) of the close."""

    inputs = (EquityPricing.close,)
    params = ("fast_period", "slow_period", "signal_period")
    _kind = "macd_signal"

    def __new__(cls, fast_period=12, slow_period=26, signal_period=9, *args, **kwargs):
        if slow_period <= fast_period:
            raise PipelineError(
                f"MACDSignal: slow_period ({slow_period}) must be greater than fast_period "
                f"({fast_period})"
            )
        return ComputableTerm.__new__(
            cls,
            *args,
            fast_period=fast_period,
            slow_period=slow_period,
            signal_period=signal_period,
            window_length=slow_period + signal_period - 1,
            **kwargs,
        )


MACDSignal = MovingAverageConvergenceDivergenceSignal

__all__ = [
    "RSI",
    "Aroon",
    "BollingerBands",
    "FastStochasticOscillator",
    "IchimokuKinkoHyo",
    "MACDSignal",
    "MovingAverageConvergenceDivergenceSignal",
    "RateOfChangePercentage",
    "TrueRange",
]
