"""Scheduled monthly rebalance: on the first session of each month, one hour after the open,
hold every asset with equal weight (inverse-volatility weights with ``inverse_vol = True``).

    rustybt run examples/monthly_rebalance.py --bundle demo
"""

from __future__ import annotations

import numpy as np

import rustybt
from rustybt.schedule import date_rules, time_rules


class MonthlyRebalance(rustybt.TradingAlgorithm):
    n_assets = 20
    lookback = 60
    inverse_vol = False

    def initialize(self, context):
        context.assets = self.symbols(*[f"S{i:03d}" for i in range(self.n_assets)])
        self.schedule_function(
            self.rebalance, date_rules.month_start(), time_rules.market_open(hours=1)
        )

    def rebalance(self, context, data):
        closes = data.history(context.assets, "close", self.lookback, "1d", return_type="array")
        n = len(context.assets)
        weights = np.full(n, 1.0 / n)
        if self.inverse_vol and np.isfinite(closes).all():
            vol = np.std(np.diff(np.log(closes), axis=0), axis=0)
            weights = (1.0 / vol) / np.sum(1.0 / vol)
        for asset, w in zip(context.assets, weights):
            self.order_target_percent(asset, float(w))
        self.record(rebalanced=1)
