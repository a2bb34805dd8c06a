"""Minute mean reversion (benchmark workload M1): z-score of the close against its last 60
minutes; below -1 hold 1/N, above 0 go flat, otherwise keep the position.

    rustybt ingest synthetic --bundle m1 --assets 10 --start 2023-03-01 --end 2023-03-31 --frequency minute
    rustybt run examples/minute_mean_reversion.py --bundle m1
"""

from __future__ import annotations

import rustybt
from rustybt.finance import commission, slippage


class MinuteMeanReversion(rustybt.TradingAlgorithm):
    window = 60
    n_assets = 10

    def initialize(self, context):
        context.assets = self.symbols(*[f"S{i:03d}" for i in range(self.n_assets)])
        context.bars_seen = 0
        self.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
        self.set_slippage(slippage.FixedSlippage(spread=0.0))

    def handle_data(self, context, data):
        context.bars_seen += 1
        if context.bars_seen < self.window:
            return
        closes = data.history(context.assets, "close", self.window, "1m", return_type="array")
        z = (closes[-1] - closes.mean(axis=0)) / closes.std(axis=0, ddof=0)
        weight = 1.0 / len(context.assets)
        for asset, score in zip(context.assets, z):
            if score < -1.0:
                self.order_target_percent(asset, weight)
            elif score > 0.0:
                self.order_target_percent(asset, 0.0)
