"""zipline-reloaded side of the Pipeline workloads P1 and P2 (docs/performance/workloads.md):
the same pipeline as ``rustybt.tooling.bench.pipeline_workloads.make_pipeline``, with
zipline's imports, on the bundle exported from rustybt's and ingested with a US exchange.

P1 times ``SimplePipelineEngine.run_pipeline`` with the bundle loaded beforehand (load
reported separately); P2 times zipline's ``run_algorithm`` of the long-short strategy.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from _common import result, timed
from zipline import run_algorithm
from zipline.api import (
    attach_pipeline,
    date_rules,
    order_target_percent,
    pipeline_output,
    schedule_function,
)
from zipline.data import bundles
from zipline.pipeline import CustomFactor, Pipeline
from zipline.pipeline.data import EquityPricing
from zipline.pipeline.domain import US_EQUITIES
from zipline.pipeline.engine import SimplePipelineEngine
from zipline.pipeline.factors import (
    RSI,
    AnnualizedVolatility,
    AverageDollarVolume,
    DailyReturns,
    Returns,
    SimpleMovingAverage,
)
from zipline.pipeline.loaders import USEquityPricingLoader


class ReturnsSharpe(CustomFactor):
    inputs = (DailyReturns(),)
    window_length = 20
    window_safe = True
    #: seconds spent in ``compute`` so far (as rustybt's P1 times its own): the bound this
    #: user code puts on any engine's P1, measured on zipline's side
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


def _p1(config: dict, environ: dict) -> dict:
    t = time.perf_counter()
    data = bundles.load(config["zipline_bundle"], environ=environ)
    loader = USEquityPricingLoader.without_fx(data.equity_daily_bar_reader, data.adjustment_reader)
    engine = SimplePipelineEngine(
        get_loader=lambda column: loader,
        asset_finder=data.asset_finder,
        default_domain=US_EQUITIES,
    )
    load_s = time.perf_counter() - t
    pipe = make_pipeline(**config["windows"])
    start, end = pd.Timestamp(config["pipeline_start"]), pd.Timestamp(config["end"])
    ReturnsSharpe.spent = 0.0
    walls, cpus, out = timed(lambda: engine.run_pipeline(pipe, start, end), config["repeats"])
    days = int(config["pipeline_days"])
    return result(
        walls,
        cpus,
        days,
        config["assets"],
        load_s=load_s,
        custom_factor_s=ReturnsSharpe.spent / max(1, config["repeats"]),
        rows=len(out),
        checksum=float(
            np.nansum(np.abs(out["zscore"].to_numpy())) + np.nansum(out["sma10"].to_numpy())
        ),
    )


def _p2(config: dict, environ: dict) -> dict:
    windows = config["windows"]

    def initialize(context):
        attach_pipeline(make_pipeline(**windows), "p1")
        schedule_function(rebalance, date_rules.week_start())

    def before_trading_start(context, data):
        context.output = pipeline_output("p1")

    def rebalance(context, data):
        z = context.output["zscore"].dropna().sort_values()
        shorts, longs = set(z.index[:25]), set(z.index[-25:])
        for asset in longs:
            order_target_percent(asset, 1 / 50)
        for asset in shorts - longs:
            order_target_percent(asset, -1 / 50)
        for asset in list(context.portfolio.positions):
            if asset not in longs and asset not in shorts and data.can_trade(asset):
                order_target_percent(asset, 0.0)

    start, end = pd.Timestamp(config["pipeline_start"]), pd.Timestamp(config["end"])

    def backtest():
        return run_algorithm(
            start=start,
            end=end,
            initialize=initialize,
            before_trading_start=before_trading_start,
            capital_base=1_000_000,
            data_frequency="daily",
            bundle=config["zipline_bundle"],
            environ=environ,
            benchmark_returns=pd.Series(
                0.0, index=pd.date_range(start, end, freq="D", tz="UTC"), dtype=float
            ),
        )

    walls, cpus, perf = timed(backtest, config["repeats"])
    return result(
        walls,
        cpus,
        len(perf),
        config["assets"],
        final_value=float(perf["portfolio_value"].iloc[-1]),
        fills=int(perf["transactions"].map(len).sum()),
    )


def _momentum(config: dict, environ: dict) -> dict:
    """zipline's own ``zipline/examples/momentum_pipeline.py``, as shipped, on the
    exported bundle: each session's pipeline output (longs and shorts, by symbol) and
    every fill."""
    from zipline.examples import momentum_pipeline as example

    outputs = []

    def before_trading_start(context, data):
        example.before_trading_start(context, data)
        out = context.pipeline_data
        outputs.append(
            {
                "longs": sorted(a.symbol for a in out.index[out["longs"]]),
                "shorts": sorted(a.symbol for a in out.index[out["shorts"]]),
                "universe": len(out),
            }
        )

    start, end = pd.Timestamp(config["start"]), pd.Timestamp(config["end"])
    perf = run_algorithm(
        start=start,
        end=end,
        initialize=example.initialize,
        before_trading_start=before_trading_start,
        capital_base=100_000,
        data_frequency="daily",
        bundle=config["zipline_bundle"],
        environ=environ,
        benchmark_returns=pd.Series(
            0.0, index=pd.date_range(start, end, freq="D", tz="UTC"), dtype=float
        ),
    )
    fills = [
        [str(pd.Timestamp(t["dt"]).date()), t["sid"].symbol, int(t["amount"]), float(t["price"])]
        for ts in perf["transactions"]
        for t in ts
    ]
    return {
        "outputs": outputs,
        "fills": fills,
        "portfolio_value": [float(v) for v in perf["portfolio_value"]],
        "example": example.__file__,
    }


def run_pipeline_workload(config: dict, environ: dict) -> dict:
    if config["workload"] == "MP":
        return _momentum(config, environ)
    return _p1(config, environ) if config["workload"] == "P1" else _p2(config, environ)
