"""backtesting.py side of ``rustybt bench peers``: R1 as backtesting.py's users run it.

Its quick start's ``SmaCross`` (on a cross up of SMA(n1) over SMA(n2): close the position
and ``buy()``; on a cross down: close and ``sell()``) on the GOOG frame the package ships
(``backtesting.test.GOOG``), ``Backtest(GOOG, SmaCross, commission=.002)`` with every other
argument at its default (cash 10,000, ``trade_on_close=False``: market orders fill at the
next bar's open; ``exclusive_orders=False``, ``hedging=False``, ``margin=1``,
``finalize_trades=False``), and ``Backtest.optimize`` over the grid, maximizing
``'Equity Final [$]'`` as the quick start does. ``optimize`` runs its default way: a
``multiprocessing`` pool of ``os.cpu_count()`` forked workers (``backtesting.Pool``), the
data shared through a ``SharedMemoryManager``, the grid cut into one batch per core; then
one more ``run`` of the best cell in this process.

``load_s`` is building the ``Backtest``; ``first_call_s`` the process's first ``optimize``
call (what a script that runs one sweep gets), ``wall_s`` the ``repeats`` calls after it.
``mode: "trades"`` instead reports the fills of runs (for the trade-by-trade check against
rustybt).
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
from _common import load_bars, result, timed_split
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

warnings.filterwarnings("ignore")

#: the quick start's commission (0.2%, charged at entry and at exit)
COMMISSION = 0.002


class SmaCross(Strategy):
    n1 = 10
    n2 = 20

    def init(self):
        close = self.data.Close
        self.sma1 = self.I(SMA, close, self.n1)
        self.sma2 = self.I(SMA, close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def backtest() -> Backtest:
    return Backtest(GOOG, SmaCross, commission=COMMISSION)


def same_bars(config: dict) -> bool:
    """Are rustybt's exported bars GOOG's, to the last digit?"""
    bars = load_bars(config["export"])
    nb = config["bars"]
    return len(GOOG) == nb and all(
        np.array_equal(bars[f][:nb, 0], GOOG[f.capitalize()].to_numpy(dtype=float))
        for f in ("open", "high", "low", "close")
    )


def fills(stats) -> list[list]:
    """A run's fills as ``[[session, net shares, price], ...]`` by session: the entry and
    exit of every trade (a reversal closes one trade and opens the next at the same
    price; the trade still open at the end, which ``finalize_trades=False`` leaves out of
    ``_trades``, comes from its entry in the broker's ``_trades`` position)."""
    events: dict[str, list] = {}
    for _, t in stats._trades.iterrows():
        for when, size, price in (
            (t.EntryTime, t.Size, t.EntryPrice),
            (t.ExitTime, -t.Size, t.ExitPrice),
        ):
            day = str(when.date())
            if day in events:
                events[day][1] += float(size)
            else:
                events[day] = [day, float(size), float(price)]
    strategy = stats._strategy
    for trade in getattr(strategy, "trades", ()):  # the open trade(s)
        day = str(trade.entry_time.date())
        if day in events:
            events[day][1] += float(trade.size)
        else:
            events[day] = [day, float(trade.size), float(trade.entry_price)]
    return sorted(events.values())


def trades(config: dict) -> dict:
    """The fills of one run per cell of ``config["cells"]`` (default: the reference cell)."""
    out = []
    for n1, n2 in config.get("cells") or [config["reference_combo"]]:
        stats = backtest().run(n1=n1, n2=n2)
        out.append(
            {
                "combo": [n1, n2],
                "fills": fills(stats),
                "final_value": float(stats["Equity Final [$]"]),
                "trades": int(stats["# Trades"]),
            }
        )
    return {"cells": out, "same_bars": same_bars(config)}


def run(config: dict) -> dict:
    if config["workload"] != "R1":
        raise ValueError(f"backtesting.py runs R1 only, not {config['workload']}")
    if config.get("mode") == "trades":
        return trades(config)
    combos = [tuple(c) for c in config["combos"]]
    n1s = sorted({a for a, _ in combos})
    n2s = sorted({b for _, b in combos})
    full = len(combos) == len(n1s) * len(n2s)  # the whole product: no constraint
    allowed = set(combos)

    def grid(bt):
        return bt.optimize(
            n1=n1s,
            n2=n2s,
            maximize="Equity Final [$]",
            constraint=None if full else (lambda p: (p.n1, p.n2) in allowed),
            return_heatmap=True,
        )

    # a user's script runs optimize once, as the first call of its process: timed apart
    # (first_call_s); then the later calls of the same process (wall_s)
    first_load, first, _, _ = timed_split(backtest, grid, 1)
    loads, walls, cpus, (stats, heat) = timed_split(backtest, grid, config["repeats"])
    t = time.perf_counter()
    single = backtest().run(n1=config["reference_combo"][0], n2=config["reference_combo"][1])
    single_s = time.perf_counter() - t
    return {
        "results": {
            "backtesting.py": result(
                walls,
                cpus,
                config["bars"],
                1,
                runs=len(combos),
                load_s=statistics.median(loads),
                load_wall_s=loads,
                first_call_s=first[0],
                first_load_s=first_load[0],
                scored=int(np.isfinite(heat.to_numpy()).sum()),
                single_run_s=single_s,
                final_value=float(single["Equity Final [$]"]),
                fills=len(fills(single)),
                best={
                    "fast": int(stats._strategy.n1),
                    "slow": int(stats._strategy.n2),
                    "final_value": float(stats["Equity Final [$]"]),
                },
                same_bars=same_bars(config),
                mode="Backtest.optimize, its process pool",
            )
        }
    }
