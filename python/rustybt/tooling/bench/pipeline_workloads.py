"""The Pipeline workloads (docs/performance/workloads.md):

* **P1** — ``run_pipeline`` (no backtest) over 500 assets: 3 years of daily bars, the
  pipeline computed over the last 2: SMA(10), SMA(50), Returns(21),
  AverageDollarVolume(30), RSI(14 periods), AnnualizedVolatility(252), a CustomFactor
  (20-day mean of daily returns over their standard deviation, in NumPy), its z-score
  within the universe and the rank of Returns(21); screen: the top 50 by dollar volume.
* **P2** — a backtest over the last 2 years: P1's pipeline attached, read in
  ``before_trading_start``, long the top 25 / short the bottom 25 by the z-score,
  rebalanced weekly with ``order_target_percent``.
* **P3** — P1's pipeline over 5,000 assets × 10 years: peak RSS against the bundle's
  column data.
"""

from __future__ import annotations

import time

import numpy as np

import rustybt
from rustybt.pipeline import CustomFactor, Pipeline, run_pipeline
from rustybt.pipeline.data import EquityPricing
from rustybt.pipeline.factors import (
    RSI,
    AnnualizedVolatility,
    AverageDollarVolume,
    DailyReturns,
    Returns,
    SimpleMovingAverage,
)
from rustybt.schedule import date_rules
from rustybt.tooling.bench.harness import _multi_run_result

#: Sessions of history before the first pipeline date: a year of daily returns for the
#: 252-session volatility (253 closes); fewer with --quick.
LOOKBACK = 253
QUICK_LOOKBACK = 35


class ReturnsSharpe(CustomFactor):
    """Mean of daily returns over their standard deviation, in NumPy."""

    inputs = (DailyReturns(),)
    window_length = 20
    window_safe = True
    #: seconds spent in ``compute`` so far: the user's NumPy, the same work in every engine
    #: (one call per date), so no engine can run P1 faster than this
    spent = 0.0

    def compute(self, today, assets, out, returns):
        started = time.perf_counter()
        with np.errstate(all="ignore"):
            out[:] = np.nanmean(returns, axis=0) / np.nanstd(returns, axis=0)
        ReturnsSharpe.spent += time.perf_counter() - started


def make_pipeline(vol_window: int = 252, long_window: int = 50) -> Pipeline:
    close = EquityPricing.close
    dollar_volume = AverageDollarVolume(window_length=30)
    universe = dollar_volume.top(50)
    sharpe = ReturnsSharpe()
    returns = Returns(window_length=21)
    return Pipeline(
        {
            "sma10": SimpleMovingAverage(inputs=[close], window_length=10),
            "sma50": SimpleMovingAverage(inputs=[close], window_length=long_window),
            "returns21": returns,
            "dollar_volume": dollar_volume,
            "rsi": RSI(window_length=15),
            "volatility": AnnualizedVolatility(window_length=vol_window),
            "sharpe20": sharpe,
            "zscore": sharpe.zscore(mask=universe),
            "rank": returns.rank(),
        },
        screen=universe,
    )


def _windows(config: dict) -> tuple[int, dict]:
    if config.get("quick"):
        return QUICK_LOOKBACK, {"vol_window": 20, "long_window": 20}
    return LOOKBACK, {}


def _column_data_mb(bundle) -> float:
    """The bundle's columns as the pool maps them: its cache file in the current format
    (files an earlier format left beside it are not this run's data)."""
    from rustybt.bundles import cache_file

    path = cache_file(bundle.content_hash)
    return path.stat().st_size / 2**20 if path.exists() else float("nan")


def _timed(config: dict, run) -> tuple[list, list, object]:
    """Wall and CPU seconds of ``config["repeats"]`` calls of ``run``, and its last result."""
    walls, cpus, out = [], [], None
    for _ in range(config["repeats"]):
        w, c = time.perf_counter(), time.process_time()
        out = run()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return walls, cpus, out


def run_p1_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """P1 (and P3): ``run_pipeline`` over the span after the lookback, timed."""
    lookback, windows = _windows(config)
    pipe = make_pipeline(**windows)
    first = bundle.sessions[lookback]
    ReturnsSharpe.spent = 0.0
    walls, cpus, out = _timed(config, lambda: run_pipeline(pipe, first, end, bundle=bundle))
    custom_s = ReturnsSharpe.spent / config["repeats"]
    days = bundle.sessions.get_loc(end) - lookback + 1
    return _multi_run_result(
        open_s,
        walls,
        cpus,
        days,
        config["assets"],
        1,
        column_data_mb=_column_data_mb(bundle),
        custom_factor_s=custom_s,
        rows=len(out),
        checksum=float(
            np.nansum(np.abs(out["zscore"].to_numpy())) + np.nansum(out["sma10"].to_numpy())
        ),
    )


class LongShortPipeline(rustybt.TradingAlgorithm):
    """P2: long the top 25 / short the bottom 25 by the pipeline's z-score, weekly."""

    vol_window = 252
    long_window = 50

    def initialize(self, context):
        pipe = make_pipeline(self.vol_window, self.long_window)
        self.attach_pipeline(pipe, "p1")
        self.schedule_function(self.rebalance, date_rules.week_start())

    def before_trading_start(self, context, data):
        context.output = self.pipeline_output("p1")

    def rebalance(self, context, data):
        z = context.output["zscore"].dropna().sort_values()
        shorts, longs = set(z.index[:25]), set(z.index[-25:])
        for asset in longs:
            self.order_target_percent(asset, 1 / 50)
        for asset in shorts - longs:
            self.order_target_percent(asset, -1 / 50)
        for asset in list(context.portfolio.positions):
            if asset not in longs and asset not in shorts and data.can_trade(asset):
                self.order_target_percent(asset, 0.0)


def run_p2_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """P2: the backtest over the span after the lookback, timed."""
    lookback, windows = _windows(config)
    first = bundle.sessions[lookback]

    def backtest():
        return rustybt.run_algorithm(
            algorithm=LongShortPipeline,
            params=windows,
            bundle=bundle,
            start=first,
            end=end,
            capital_base=1_000_000,
            ledger=config["ledger"],
        )

    walls, cpus, perf = _timed(config, backtest)
    return _multi_run_result(
        open_s,
        walls,
        cpus,
        len(perf),
        config["assets"],
        1,
        final_value=float(perf["portfolio_value"].iloc[-1]),
        fills=int(perf["transactions"].map(len).sum()),
    )


__all__ = ["LongShortPipeline", "make_pipeline", "run_p1_child", "run_p2_child"]
