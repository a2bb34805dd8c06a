"""What a strategy's own Python cost model costs: the same run with the engine's
FixedSlippage + PerShare and with Python subclasses computing the same figures
(zipline's process_order / calculate), on a synthetic bundle. Prints the wall time of
each, the number of model calls and the cost per call, and how far the two runs' values
part (the Python models compute in binary floats, the engine's in exact decimals).

    python scripts/cost_model_overhead.py [--assets 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import rustybt
from rustybt.finance.commission import CommissionModel, PerShare
from rustybt.finance.slippage import FixedSlippage, SlippageModel

CALLS = {"slippage": 0, "commission": 0}


class PySlippage(SlippageModel):
    """FixedSlippage(spread=0.02) in Python."""

    def process_order(self, data, order):
        CALLS["slippage"] += 1
        price = data.current(order.asset, "close")
        return price + 0.01 * order.direction, order.open_amount


class PyCommission(CommissionModel):
    """PerShare(0.001, min 0) in Python."""

    def calculate(self, order, transaction):
        CALLS["commission"] += 1
        return abs(transaction.amount) * 0.001


class Rebalance(rustybt.TradingAlgorithm):
    custom = False

    def initialize(self, context):
        if self.custom:
            self.set_slippage(PySlippage())
            self.set_commission(PyCommission())
        else:
            self.set_slippage(FixedSlippage(spread=0.02))
            self.set_commission(PerShare(cost=0.001, min_trade_cost=0.0))
        context.assets = list(self._bundle.asset_list)
        context.i = 0

    def handle_data(self, context, data):
        context.i += 1
        n = len(context.assets)
        for k, a in enumerate(context.assets):
            self.order_target_percent(a, (1.0 + ((k + context.i) % 3)) / (2.0 * n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    bundle = rustybt.ingest_synthetic(
        f"cost-models-{args.assets}", assets=args.assets, start="2022-01-03", end="2022-12-30"
    )
    timings, perfs = {}, {}
    for custom in (False, True):
        algo = type("R", (Rebalance,), {"custom": custom})
        runs = []
        for _ in range(args.repeats):
            CALLS.update(slippage=0, commission=0)
            t = time.perf_counter()
            perfs[custom] = rustybt.run_algorithm(algorithm=algo, bundle=bundle)
            runs.append(time.perf_counter() - t)
        timings[custom] = statistics.median(runs)
    apart = (perfs[True]["portfolio_value"] - perfs[False]["portfolio_value"]).abs().max()
    calls = CALLS["slippage"] + CALLS["commission"]
    extra = timings[True] - timings[False]
    print(f"{args.assets} assets, {len(perfs[True])} sessions, median of {args.repeats}")
    print(f"  engine models : {timings[False] * 1e3:8.1f} ms")
    print(f"  Python models : {timings[True] * 1e3:8.1f} ms")
    print(f"  model calls   : {CALLS['slippage']} process_order + {CALLS['commission']} calculate")
    print(f"  per call      : {extra / max(calls, 1) * 1e6:8.2f} µs")
    print(f"  max |Δ value| : {apart:.3g} (float arithmetic in the Python models)")


if __name__ == "__main__":
    main()
