"""backtrader side of ``rustybt bench peers``: the exported bars as ``PandasData`` feeds,
W1 / M1 through ``Cerebro.run`` and the G1 / R1 grids through ``optstrategy``
(``maxcpus=2``, backtrader's own process pool).

The strategies are rustybt's with backtrader's imports: the window is ``close.get(size=N)``
per feed, the arithmetic the same NumPy, ``order_target_percent`` per asset. Costs as in
rustybt's workloads (per-share 0.001 for W1/M1/G1, 0.2% of value for R1, whose cash is
backtesting.py's default 10,000); backtrader's default fill (next bar's open) is kept; ``stdstats=False`` (no observers: the workloads
record nothing per bar); orders are not refused for cash (``checksubmit=False``, as
zipline and rustybt).
"""

from __future__ import annotations

import statistics

import backtrader as bt
import numpy as np
from _common import frames, load_bars, result, sharpe, timed_split

#: R1's target: 97% of the value (see R1SmaCross)
R1_FRACTION = 0.97
#: R1's cash: backtesting.py's default
R1_CASH = 10_000.0


class SmaCross(bt.Strategy):
    """W1 / G1 (rustybt.app.examples.sma_crossover.SmaCross)."""

    params = (("combo", (10, 30)),)

    def __init__(self):
        self.bars_seen = 0
        self.fast, self.slow = self.p.combo

    def next(self):
        self.bars_seen += 1
        if self.bars_seen < self.slow:
            return
        closes = np.array([d.close.get(size=self.slow) for d in self.datas]).T
        fast = closes[-self.fast :].mean(axis=0)
        slow = closes.mean(axis=0)
        weight = 1.0 / len(self.datas)
        for d, f, s in zip(self.datas, fast, slow):
            self.order_target_percent(d, target=weight if f > s else 0.0)


class MinuteMeanReversion(bt.Strategy):
    """M1 (rustybt.app.examples.minute_mean_reversion.MinuteMeanReversion)."""

    params = (("window", 60),)

    def __init__(self):
        self.bars_seen = 0

    def next(self):
        self.bars_seen += 1
        if self.bars_seen < self.p.window:
            return
        closes = np.array([d.close.get(size=self.p.window) for d in self.datas]).T
        z = (closes[-1] - closes.mean(axis=0)) / closes.std(axis=0, ddof=0)
        weight = 1.0 / len(self.datas)
        for d, score in zip(self.datas, z):
            if score < -1.0:
                self.order_target_percent(d, target=weight)
            elif score > 0.0:
                self.order_target_percent(d, target=0.0)


class R1SmaCross(bt.Strategy):
    """R1 (rustybt.tooling.bench.r1.R1SmaCross): long on a cross up, short on a cross down."""

    params = (("combo", (10, 20)),)

    def __init__(self):
        self.bars_seen = 0
        n1, n2 = self.p.combo
        self.window = max(n1, n2) + 1

    def next(self):
        self.bars_seen += 1
        if self.bars_seen < self.window:
            return
        n1, n2 = self.p.combo
        closes = np.array(self.data.close.get(size=self.window))
        f_now, s_now = closes[-n1:].mean(), closes[-n2:].mean()
        f_prev, s_prev = closes[-n1 - 1 : -1].mean(), closes[-n2 - 1 : -1].mean()
        # backtrader refuses (Margin) a fill costing more than the cash, even with
        # checksubmit=False; all in at the next open would often be refused, so 97%
        if f_prev < s_prev and f_now > s_now:
            self.order_target_percent(target=R1_FRACTION)
        elif f_prev > s_prev and f_now < s_now:
            self.order_target_percent(target=-R1_FRACTION)


def _cerebro(config: dict, minute: bool) -> bt.Cerebro:
    """Opening the data: the exported bars into feeds (counted in the run time)."""
    bars = load_bars(config["export"])
    cerebro = bt.Cerebro(stdstats=False)
    tf = bt.TimeFrame.Minutes if minute else bt.TimeFrame.Days
    for name, df in frames(bars, config["assets"], config["bars"]).items():
        cerebro.adddata(bt.feeds.PandasData(dataname=df, timeframe=tf), name=name)
    cerebro.broker.setcash(R1_CASH if config["workload"] == "R1" else 1_000_000.0)
    cerebro.broker.set_checksubmit(False)
    if config["workload"] == "R1":
        cerebro.broker.setcommission(commission=0.002)
    else:
        cerebro.broker.setcommission(
            commission=0.001, commtype=bt.CommInfoBase.COMM_FIXED, stocklike=True
        )
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="ret")
    return cerebro


def _sharpe(strat) -> float:
    r = np.array(list(strat.analyzers.ret.get_analysis().values()), dtype=float)
    return sharpe(np.cumprod(np.concatenate([[1.0], 1.0 + r])))


def run(config: dict) -> dict:
    """``load_s``: the exported bars into ``PandasData`` feeds on a ``Cerebro``; ``wall_s``:
    ``Cerebro.run`` (which preloads the feeds into its line buffers, then runs)."""
    w, n = config["workload"], config["assets"]
    if w in ("W1", "M1"):
        cls = SmaCross if w == "W1" else MinuteMeanReversion

        def load():
            cerebro = _cerebro(config, minute=w == "M1")
            cerebro.addstrategy(cls)
            return cerebro

        loads, walls, cpus, strat = timed_split(
            load, lambda cerebro: cerebro.run()[0], config["repeats"]
        )
        return result(
            walls,
            cpus,
            config["bars"],
            n,
            final_value=float(strat.broker.getvalue()),
            load_s=statistics.median(loads),
            load_wall_s=loads,
            mode="Cerebro.run",
        )
    if w in ("G1", "R1"):
        combos = config["combos"]
        cls = SmaCross if w == "G1" else R1SmaCross

        def load():
            cerebro = _cerebro(config, minute=False)
            cerebro.optstrategy(cls, combo=[tuple(c) for c in combos])
            return cerebro

        def grid(cerebro):
            return [r[0] for r in cerebro.run(maxcpus=config["processes"], optreturn=True)]

        loads, walls, cpus, rows = timed_split(load, grid, config["repeats"])
        scored = [(*r.p.combo, _sharpe(r)) for r in rows]
        best = max(scored, key=lambda r: -np.inf if np.isnan(r[2]) else r[2])
        return result(
            walls,
            cpus,
            config["bars"],
            n,
            runs=len(rows),
            best={"fast": best[0], "slow": best[1], "sharpe": best[2]},
            load_s=statistics.median(loads),
            load_wall_s=loads,
            mode=f"optstrategy, {config['processes']} processes",
        )
    raise ValueError(f"backtrader runs W1, M1, G1, R1, not {w}")
