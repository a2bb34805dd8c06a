"""SMA crossover (benchmark workload W1): hold each asset with weight 1/N while its 10-bar
average close is above its 30-bar average, otherwise hold none of it.

Run it::

    rustybt ingest synthetic --bundle demo --assets 20 --start 2022-01-03 --end 2023-12-29
    rustybt run examples/sma_crossover.py --bundle demo --capital-base 1000000
"""

from __future__ import annotations

import rustybt
from rustybt.finance import commission, slippage


class SmaCross(rustybt.TradingAlgorithm):
    """Long-only SMA(fast) vs SMA(slow) crossover over the first ``n_assets`` assets."""

    fast = 10
    slow = 30
    n_assets = 20
    #: "pandas" reads history as a DataFrame and takes ``.values`` (zipline's idiom);
    #: "array" asks for NumPy directly (rustybt's fast path).
    history_return_type = "pandas"

    def initialize(self, context):
        context.assets = self.symbols(*[f"S{i:03d}" for i in range(self.n_assets)])
        context.bars_seen = 0
        self.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
        self.set_slippage(slippage.FixedSlippage(spread=0.0))

    def handle_data(self, context, data):
        context.bars_seen += 1
        if context.bars_seen < self.slow:
            return
        if self.history_return_type == "array":
            closes = data.history(context.assets, "close", self.slow, "1d", return_type="array")
        else:
            closes = data.history(context.assets, "close", self.slow, "1d").values
        fast = closes[-self.fast :].mean(axis=0)
        slow = closes.mean(axis=0)
        weight = 1.0 / len(context.assets)
        for asset, f, s in zip(context.assets, fast, slow):
            self.order_target_percent(asset, weight if f > s else 0.0)
        self.record(invested=int((fast > slow).sum()))
