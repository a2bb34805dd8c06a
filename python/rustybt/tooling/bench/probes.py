"""Engine-overhead probes: strategies that isolate one part of the engine."""

from __future__ import annotations

import rustybt
from rustybt.finance import commission, slippage


class _Probe(rustybt.TradingAlgorithm):
    n_assets = 50

    def initialize(self, context):
        context.assets = self.symbols(*[f"S{i:03d}" for i in range(self.n_assets)])
        context.flip = False
        self.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
        self.set_slippage(slippage.FixedSlippage(spread=0.0))


class Noop(_Probe):
    """handle_data does nothing: the event loop's own cost."""

    def handle_data(self, context, data):
        pass


class HistoryOnly(_Probe):
    """One 30-bar close window of every asset per bar, as NumPy (W1's read, no orders)."""

    def handle_data(self, context, data):
        data.history(context.assets, "close", 30, "1d", return_type="array")


class OrdersOnly(_Probe):
    """Rebalance every asset every bar between two weights: the ledger and order path."""

    def handle_data(self, context, data):
        context.flip = not context.flip
        weight = (0.5 if context.flip else 0.9) / len(context.assets)
        for asset in context.assets:
            self.order_target_percent(asset, weight)
