"""Hourly momentum (benchmark workload H1): rank assets by their 24-bar return, hold the
top quartile equal-weight, rebalance every bar.

    rustybt ingest synthetic --bundle h1 --assets 20 --start 2023-07-03 --end 2023-12-29 --frequency 1h
    rustybt run examples/hourly_momentum.py --bundle h1
"""

from __future__ import annotations

import numpy as np

import rustybt
from rustybt.finance import commission, slippage


class HourlyMomentum(rustybt.TradingAlgorithm):
    lookback = 24
    n_assets = 20

    def initialize(self, context):
        context.assets = self.symbols(*[f"S{i:03d}" for i in range(self.n_assets)])
        context.bars_seen = 0
        self.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
        self.set_slippage(slippage.FixedSlippage(spread=0.0))

    def handle_data(self, context, data):
        context.bars_seen += 1
        if context.bars_seen <= self.lookback:
            return
        closes = data.history(context.assets, "close", self.lookback + 1, "1h", return_type="array")
        momentum = closes[-1] / closes[0] - 1.0
        top = max(1, len(context.assets) // 4)
        winners = set(np.argsort(-momentum)[:top].tolist())
        for i, asset in enumerate(context.assets):
            self.order_target_percent(asset, 1.0 / top if i in winners else 0.0)
