"""zipline-reloaded side of ``rustybt bench peers``: a custom csvdir bundle ingested (once)
into a ZIPLINE_ROOT of its own, then W1 / M1 / G1 / R1 through ``zipline.run_algorithm``.

The strategies are rustybt's (``rustybt.app.examples.sma_crossover``,
``rustybt.app.examples.minute_mean_reversion``, ``rustybt.tooling.bench.r1``) with zipline's imports:
``data.history(...).values`` then NumPy, ``order_target_percent`` per asset.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd
from _common import result, sharpe, timed

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

from zipline import run_algorithm  # noqa: E402
from zipline.api import (  # noqa: E402
    order_target_percent,
    record,
    set_commission,
    set_slippage,
    symbol,
)
from zipline.data import bundles  # noqa: E402
from zipline.data.bundles.csvdir import csvdir_equities  # noqa: E402
from zipline.finance import commission, slippage  # noqa: E402


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


def r1_cross(ticker: str, n1: int = 10, n2: int = 20):
    """R1: rustybt.tooling.bench.r1.R1SmaCross (all-in on an up-cross, all-out on a down-cross)."""

    def initialize(context):
        context.asset = symbol(ticker)
        context.bars_seen = 0
        set_commission(commission.PerDollar(cost=0.002))
        set_slippage(slippage.FixedSlippage(spread=0.0))

    def handle_data(context, data):
        context.bars_seen += 1
        if context.bars_seen <= n2:
            return
        closes = data.history(context.asset, "close", n2 + 1, "1d").values
        f_now, s_now = closes[-n1:].mean(), closes[-n2:].mean()
        f_prev, s_prev = closes[-n1 - 1 : -1].mean(), closes[-n2 - 1 : -1].mean()
        if f_prev < s_prev and f_now > s_now:
            order_target_percent(context.asset, 1.0)
        elif f_prev > s_prev and f_now < s_now:
            order_target_percent(context.asset, 0.0)

    return initialize, handle_data


# ---- runs --------------------------------------------------------------------------------


def _run(config: dict, fns, frequency: str = "daily") -> pd.DataFrame:
    initialize, handle_data = fns
    start, end = pd.Timestamp(config["start"]), pd.Timestamp(config["end"])
    return run_algorithm(
        start=start,
        end=end,
        initialize=initialize,
        handle_data=handle_data,
        capital_base=1_000_000,
        data_frequency=frequency,
        bundle=config["zipline_bundle"],
        environ=_environ(config),
        benchmark_returns=pd.Series(
            0.0, index=pd.date_range(start, end, freq="D", tz="UTC"), dtype=float
        ),
    )


def _fills(perf: pd.DataFrame) -> int:
    return int(perf["transactions"].map(len).sum())


def run(config: dict) -> dict:
    if config.get("mode") == "ingest":
        return ingest(config)
    _register(config)
    w, n = config["workload"], config["assets"]
    if w in ("W1", "M1"):
        fns = sma_cross(n) if w == "W1" else minute_mean_reversion(n)
        freq = "minute" if w == "M1" else "daily"
        walls, cpus, perf = timed(lambda: _run(config, fns, freq), config["repeats"])
        return result(
            walls,
            cpus,
            config["bars"],
            n,
            final_value=float(perf["portfolio_value"].iloc[-1]),
            fills=_fills(perf),
        )
    if w in ("G1", "R1"):
        combos = config["combos"]

        def grid():
            rows = []
            for a, b in combos:
                fns = sma_cross(n, a, b) if w == "G1" else r1_cross(config["symbols"][0], a, b)
                perf = _run(config, fns)
                rows.append((a, b, sharpe(perf["portfolio_value"]), perf))
            return rows

        walls, cpus, rows = timed(grid, config["repeats"])
        best = max(rows, key=lambda r: -np.inf if np.isnan(r[2]) else r[2])
        ref = next((r for r in rows if (r[0], r[1]) == tuple(config["reference_combo"])), rows[0])
        return result(
            walls,
            cpus,
            config["bars"],
            n,
            runs=len(rows),
            final_value=float(ref[3]["portfolio_value"].iloc[-1]),
            fills=_fills(ref[3]),
            best={"fast": best[0], "slow": best[1], "sharpe": best[2]},
            mode="serial, one process",
        )
    if w in ("P1", "P2", "MP"):
        from peer_pipeline import run_pipeline_workload

        return run_pipeline_workload(config, _environ(config))
    raise ValueError(f"zipline runs W1, M1, G1, R1, P1, P2, not {w}")
