"""zipline-reloaded side of ``rustybt bench peers``: a custom csvdir bundle ingested (once)
into a ZIPLINE_ROOT of its own, then W1 / M1 / G1 run one of two ways (``config["way"]``):

* ``"run_algorithm"``: ``zipline.run_algorithm(...)`` as its users call it; each call
  loads the bundle (``bundles.load``: asset database, bar readers, the exchange calendar
  on the first call of a process), builds its ``DataPortal`` and resolves the benchmark
  inside, so that work is inside the run's clock;
* ``"preloaded"``: the bundle loaded and the ``DataPortal`` built once beforehand (timed
  apart as ``load_s``), then ``TradingAlgorithm(...).run()`` per backtest on that portal:
  the fastest way a zipline user can run a backtest or a grid.

The strategies are rustybt's (``rustybt.app.examples.sma_crossover``,
``rustybt.app.examples.minute_mean_reversion``) with zipline's imports:
``data.history(...).values`` then NumPy, ``order_target_percent`` per asset.
"""

from __future__ import annotations

import logging
import os
import time
import warnings

import numpy as np
import pandas as pd
from _common import result, sharpe, timed

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

from zipline import run_algorithm  # noqa: E402
from zipline.algorithm import TradingAlgorithm  # noqa: E402
from zipline.api import (  # noqa: E402
    order_target_percent,
    record,
    set_commission,
    set_slippage,
    symbol,
)
from zipline.data import bundles  # noqa: E402
from zipline.data.bundles.csvdir import csvdir_equities  # noqa: E402
from zipline.data.data_portal import DataPortal  # noqa: E402
from zipline.finance import commission, slippage  # noqa: E402
from zipline.finance.trading import SimulationParameters  # noqa: E402
from zipline.utils.calendar_utils import get_calendar  # noqa: E402


def _minute_and_daily(csvdir: str):
    """zipline's csvdir ingest of ``daily/`` (assets, daily bars, adjustments), then the
    minute bars of ``minute/`` written with the same sids. (zipline's own csvdir ingest of
    both frames writes the asset table twice and fails on a UNIQUE constraint; of the
    minute frame alone, it dates each asset's start at its first minute, and zipline then
    refuses orders on the first session.)"""
    daily_only = csvdir_equities(["daily"], csvdir)

    def ingest(environ, asset_db_writer, minute_bar_writer, *rest):
        daily_only(environ, asset_db_writer, minute_bar_writer, *rest)
        mdir = os.path.join(csvdir, "minute")
        symbols = sorted(f[: -len(".csv")] for f in os.listdir(mdir) if f.endswith(".csv"))

        def frames():
            for sid, sym in enumerate(symbols):  # the daily pass's sids (sorted symbols)
                yield (
                    sid,
                    pd.read_csv(
                        os.path.join(mdir, f"{sym}.csv"), parse_dates=[0], index_col=0
                    ).sort_index(),
                )

        minute_bar_writer.write(frames(), show_progress=False)

    return ingest


def _with_country(ingest_fn):
    """zipline's csvdir ingest writes the exchange "CSVDIR" without a country, and its
    pipeline (the US_EQUITIES domain) then finds no assets: write the exchange as US."""

    def ingest(environ, asset_db_writer, *rest):
        write = asset_db_writer.write

        def write_with_exchange(*args, **kwargs):
            if kwargs.get("equities") is not None and kwargs.get("exchanges") is None:
                kwargs["exchanges"] = pd.DataFrame(
                    {"exchange": ["CSVDIR"], "canonical_name": ["CSVDIR"], "country_code": ["US"]}
                )
            return write(*args, **kwargs)

        asset_db_writer.write = write_with_exchange
        return ingest_fn(environ, asset_db_writer, *rest)

    return ingest


def _register(config: dict) -> None:
    if config["zipline_bundle"] not in bundles.bundles:
        ingest_fn = (
            _minute_and_daily(config["csvdir"])
            if config["frequency"] == "minute"
            else _with_country(csvdir_equities(["daily"], config["csvdir"]))
        )
        bundles.register(
            config["zipline_bundle"],
            ingest_fn,
            calendar_name="XNYS",
            start_session=pd.Timestamp(config["first_session"]),
            end_session=pd.Timestamp(config["last_session"]),
            minutes_per_day=390,
        )


def _environ(config: dict) -> dict:
    return {**os.environ, "ZIPLINE_ROOT": config["zipline_root"]}


def ingest(config: dict) -> dict:
    _register(config)
    os.makedirs(config["zipline_root"], exist_ok=True)
    bundles.ingest(config["zipline_bundle"], environ=_environ(config), show_progress=False)
    return {"ingested": config["zipline_bundle"]}


# ---- strategies (rustybt's, with zipline's imports) ----------------------------------


def _initialize(n_assets: int):
    """W1's and M1's initialize: the first ``n_assets`` assets, per-share commission, no
    slippage."""

    def initialize(context):
        context.assets = [symbol(f"S{i:03d}") for i in range(n_assets)]
        context.bars_seen = 0
        set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
        set_slippage(slippage.FixedSlippage(spread=0.0))

    return initialize


def sma_cross(n_assets: int, fast: int = 10, slow: int = 30):
    """W1 / G1: rustybt.app.examples.sma_crossover.SmaCross."""

    initialize = _initialize(n_assets)

    def handle_data(context, data):
        context.bars_seen += 1
        if context.bars_seen < slow:
            return
        closes = data.history(context.assets, "close", slow, "1d").values
        fast_mean = closes[-fast:].mean(axis=0)
        slow_mean = closes.mean(axis=0)
        weight = 1.0 / len(context.assets)
        for asset, f, s in zip(context.assets, fast_mean, slow_mean):
            order_target_percent(asset, weight if f > s else 0.0)
        record(invested=int((fast_mean > slow_mean).sum()))

    return initialize, handle_data


def minute_mean_reversion(n_assets: int, window: int = 60):
    """M1: rustybt.app.examples.minute_mean_reversion.MinuteMeanReversion."""

    initialize = _initialize(n_assets)

    def handle_data(context, data):
        context.bars_seen += 1
        if context.bars_seen < window:
            return
        closes = data.history(context.assets, "close", window, "1m").values
        z = (closes[-1] - closes.mean(axis=0)) / closes.std(axis=0, ddof=0)
        weight = 1.0 / len(context.assets)
        for asset, score in zip(context.assets, z):
            if score < -1.0:
                order_target_percent(asset, weight)
            elif score > 0.0:
                order_target_percent(asset, 0.0)

    return initialize, handle_data


# ---- runs --------------------------------------------------------------------------------


WAYS = ("run_algorithm", "preloaded")
MODES = {
    "run_algorithm": "run_algorithm",
    "preloaded": "TradingAlgorithm.run, preloaded",
}


def _span(config: dict):
    return pd.Timestamp(config["start"]), pd.Timestamp(config["end"])


def _benchmark(config: dict) -> pd.Series:
    """A zero benchmark (no benchmark asset in these bundles), as both ways pass it."""
    start, end = _span(config)
    return pd.Series(0.0, index=pd.date_range(start, end, freq="D", tz="UTC"), dtype=float)


def _run(config: dict, fns, frequency: str = "daily") -> pd.DataFrame:
    """One backtest through ``run_algorithm`` (the bundle loaded inside)."""
    initialize, handle_data = fns
    start, end = _span(config)
    return run_algorithm(
        start=start,
        end=end,
        initialize=initialize,
        handle_data=handle_data,
        capital_base=1_000_000,
        data_frequency=frequency,
        bundle=config["zipline_bundle"],
        environ=_environ(config),
        benchmark_returns=_benchmark(config),
    )


def preload(config: dict):
    """What ``run_algorithm`` does before it builds its ``TradingAlgorithm``, done once:
    ``bundles.load``, the XNYS calendar, the ``DataPortal``."""
    bundle_data = bundles.load(config["zipline_bundle"], _environ(config))
    calendar = get_calendar("XNYS")
    portal = DataPortal(
        bundle_data.asset_finder,
        trading_calendar=calendar,
        first_trading_day=bundle_data.equity_minute_bar_reader.first_trading_day,
        equity_minute_reader=bundle_data.equity_minute_bar_reader,
        equity_daily_reader=bundle_data.equity_daily_bar_reader,
        adjustment_reader=bundle_data.adjustment_reader,
    )
    return portal, calendar


def _run_preloaded(config: dict, loaded, fns, frequency: str = "daily") -> pd.DataFrame:
    """One backtest: ``TradingAlgorithm(...).run()`` on a preloaded portal."""
    portal, calendar = loaded
    initialize, handle_data = fns
    start, end = _span(config)
    return TradingAlgorithm(
        data_portal=portal,
        trading_calendar=calendar,
        sim_params=SimulationParameters(
            start_session=start,
            end_session=end,
            trading_calendar=calendar,
            capital_base=1_000_000,
            data_frequency=frequency,
        ),
        benchmark_returns=_benchmark(config),
        initialize=initialize,
        handle_data=handle_data,
    ).run()


def _fills(perf: pd.DataFrame) -> int:
    return int(perf["transactions"].map(len).sum())


def run(config: dict) -> dict:
    if config.get("mode") == "ingest":
        return ingest(config)
    _register(config)
    w, n = config["workload"], config["assets"]
    if w in ("P1", "P2", "MP"):
        from peer_pipeline import run_pipeline_workload

        return run_pipeline_workload(config, _environ(config))
    if w not in ("W1", "M1", "G1"):
        raise ValueError(f"zipline runs W1, M1, G1, P1, P2, not {w}")
    way = config.get("way", "run_algorithm")
    if way not in WAYS:
        raise ValueError(f"way must be one of {WAYS}, got {way!r}")
    freq = "minute" if w == "M1" else "daily"
    load_s = None
    if way == "preloaded":
        t = time.perf_counter()
        loaded = preload(config)
        load_s = time.perf_counter() - t

        def backtest(fns):
            return _run_preloaded(config, loaded, fns, freq)

    else:

        def backtest(fns):
            return _run(config, fns, freq)

    extra = {"way": way, "mode": MODES[way], "load_s": load_s, "load_inside": load_s is None}
    if w in ("W1", "M1"):
        fns = sma_cross(n) if w == "W1" else minute_mean_reversion(n)
        walls, cpus, perf = timed(lambda: backtest(fns), config["repeats"])
        return result(
            walls,
            cpus,
            config["bars"],
            n,
            final_value=float(perf["portfolio_value"].iloc[-1]),
            fills=_fills(perf),
            **extra,
        )
    combos = config["combos"]

    def grid():
        rows = []
        for a, b in combos:
            perf = backtest(sma_cross(n, a, b))
            rows.append((a, b, sharpe(perf["portfolio_value"]), perf))
        return rows

    walls, cpus, rows = timed(grid, config["repeats"])
    best = max(rows, key=lambda r: -np.inf if np.isnan(r[2]) else r[2])
    ref = next((r for r in rows if (r[0], r[1]) == tuple(config["reference_combo"])), rows[0])
    extra["mode"] += ", serial"
    return result(
        walls,
        cpus,
        config["bars"],
        n,
        runs=len(rows),
        final_value=float(ref[3]["portfolio_value"].iloc[-1]),
        fills=_fills(ref[3]),
        best={"fast": best[0], "slow": best[1], "sharpe": best[2]},
        **extra,
    )
