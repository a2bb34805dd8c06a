"""The worked example of docs/user-guide/pipeline.md: factor research with
``run_pipeline`` (a momentum factor's quintile returns, alphalens-style) and a long-short
backtest on ``pipeline_output``, on a synthetic 100-asset bundle (XNYS 2021-01-04 ..
2023-12-29, seed 42).

Run it from the repository root (it writes the guide's figures)::

    .venv/bin/python docs/user-guide/pipeline_example.py --out docs/user-guide/img

It prints the numbers the guide quotes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import rustybt
from rustybt.errors import BundleNotFound
from rustybt.pipeline import Pipeline, run_pipeline
from rustybt.pipeline.data import EquityPricing
from rustybt.pipeline.factors import AverageDollarVolume, Returns
from rustybt.schedule import date_rules
from rustybt.stats import stats_from_perf

BUNDLE = "guide-pipeline100"


def bundle():
    try:
        return rustybt.load_bundle(BUNDLE)
    except BundleNotFound:
        return rustybt.ingest_synthetic(
            BUNDLE, assets=100, start="2021-01-04", end="2023-12-29", seed=42
        )


def research_pipeline() -> Pipeline:
    """12-1 momentum (the return over the last 12 months but one) in the 50 most traded
    assets, with its quintiles, and the next 21 sessions' return to score it."""
    universe = AverageDollarVolume(window_length=20).top(50)
    momentum = Returns(window_length=252) - Returns(window_length=21)
    return Pipeline(
        {
            "momentum": momentum,
            "quintile": momentum.quintiles(mask=universe),
            "close": EquityPricing.close.latest,
        },
        screen=universe,
    )


class MomentumLongShort(rustybt.TradingAlgorithm):
    """Long the top 10 / short the bottom 10 of the universe by momentum, monthly."""

    def initialize(self, context):
        self.attach_pipeline(research_pipeline(), "momentum")
        self.schedule_function(self.rebalance, date_rules.month_start())

    def before_trading_start(self, context, data):
        context.output = self.pipeline_output("momentum")

    def rebalance(self, context, data):
        ranked = context.output["momentum"].dropna().sort_values()
        longs, shorts = set(ranked.index[-10:]), set(ranked.index[:10])
        for asset in longs:
            self.order_target_percent(asset, 0.05)
        for asset in shorts:
            self.order_target_percent(asset, -0.05)
        for asset in list(context.portfolio.positions):
            if asset not in longs | shorts and data.can_trade(asset):
                self.order_target_percent(asset, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/user-guide/img"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    b = bundle()
    start, end = "2022-01-03", "2023-11-30"

    t = time.perf_counter()
    factors = run_pipeline(research_pipeline(), start, end, bundle=b)
    print(f"run_pipeline: {len(factors):,} rows in {time.perf_counter() - t:.2f} s")

    # forward 21-session returns from the raw closes (a research-only look ahead)
    sessions = b.sessions
    close_matrix = pd.DataFrame(
        np.asarray(b._core.field_matrix("close")), index=sessions, columns=b.asset_list
    )
    forward = close_matrix.shift(-21) / close_matrix - 1.0
    dates = factors.index.get_level_values(0)
    assets = factors.index.get_level_values(1)
    factors["forward_21d"] = [forward.at[d, a] for d, a in zip(dates, assets)]
    by_quintile = factors.groupby("quintile")["forward_21d"].mean() * 1e4
    print("mean forward 21-session return by momentum quintile (bp):")
    print(by_quintile.round(1).to_string())

    fig, ax = plt.subplots(figsize=(6, 3.2))
    by_quintile.plot.bar(ax=ax, color="#4c72b0")
    ax.set_xlabel("momentum quintile (0 = lowest)")
    ax.set_ylabel("mean forward 21-session return (bp)")
    ax.set_title("Momentum quintiles, 50 most traded of 100 synthetic assets")
    fig.tight_layout()
    fig.savefig(args.out / "pipeline-quintiles.png", dpi=110)

    t = time.perf_counter()
    perf = rustybt.run_algorithm(
        algorithm=MomentumLongShort, bundle=b, start=start, end=end, capital_base=1_000_000
    )
    print(f"backtest: {len(perf)} sessions in {time.perf_counter() - t:.2f} s")
    stats = stats_from_perf(perf)
    print(
        f"total return {stats['total_return']:.2%}, sharpe {stats['sharpe']:.2f}, "
        f"max drawdown {stats['max_drawdown']:.2%}, fills {stats['fills']}"
    )
    fig, ax = plt.subplots(figsize=(6, 3.2))
    perf["portfolio_value"].plot(ax=ax, color="#dd8452")
    ax.set_ylabel("portfolio value")
    ax.set_title("Momentum long-short on pipeline_output (monthly)")
    fig.tight_layout()
    fig.savefig(args.out / "pipeline-equity.png", dpi=110)


if __name__ == "__main__":
    main()
