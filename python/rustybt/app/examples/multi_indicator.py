"""Multi-indicator strategy (benchmark workload W2): SMA(10/30) trend, RSI(14) not
overbought, price inside the upper Bollinger band (20, 2), and an ATR(14) volatility
filter; equal weight 1/N while all agree, otherwise flat.

    rustybt run examples/multi_indicator.py --bundle demo
"""

from __future__ import annotations

import numpy as np

import rustybt
from rustybt.finance import commission, slippage


def rsi(closes: np.ndarray, n: int = 14) -> np.ndarray:
    """Wilder-free simple RSI over the last ``n`` changes, per column."""
    diff = np.diff(closes[-(n + 1) :], axis=0)
    gain = np.clip(diff, 0, None).mean(axis=0)
    loss = np.clip(-diff, 0, None).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rs = np.where(loss == 0, np.inf, gain / loss)
    return 100.0 - 100.0 / (1.0 + rs)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Average true range over the last ``n`` bars, per column."""
    prev = close[-(n + 1) : -1]
    h, lo = high[-n:], low[-n:]
    tr = np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
    return tr.mean(axis=0)


class MultiIndicator(rustybt.TradingAlgorithm):
    fast = 10
    slow = 30
    n_assets = 20
    max_atr_pct = 0.05

    def initialize(self, context):
        context.assets = self.symbols(*[f"S{i:03d}" for i in range(self.n_assets)])
        context.bars_seen = 0
        self.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
        self.set_slippage(slippage.FixedSlippage(spread=0.0))

    def handle_data(self, context, data):
        context.bars_seen += 1
        if context.bars_seen < self.slow:
            return
        bars = data.history(
            context.assets, ["close", "high", "low"], self.slow, "1d", return_type="array"
        )
        close, high, low = bars[0], bars[1], bars[2]
        trend = close[-self.fast :].mean(axis=0) > close.mean(axis=0)
        window = close[-20:]
        upper = window.mean(axis=0) + 2 * window.std(axis=0, ddof=0)
        calm = atr(high, low, close) / close[-1] < self.max_atr_pct
        signal = trend & (rsi(close) < 70) & (close[-1] < upper) & calm
        weight = 1.0 / len(context.assets)
        for asset, on in zip(context.assets, signal):
            self.order_target_percent(asset, weight if on else 0.0)
