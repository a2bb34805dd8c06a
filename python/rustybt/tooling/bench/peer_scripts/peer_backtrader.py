"""backtrader side of ``rustybt bench peers``: the exported bars as ``PandasData`` feeds,
W1 / M1 / R1 through ``Cerebro.run`` and the G1 / R1 grids through ``optstrategy``
(``maxcpus=2``, backtrader's own process pool).

The strategies are rustybt's with backtrader's imports: the window is ``close.get(size=N)``
per feed, the arithmetic the same NumPy, ``order_target_percent`` per asset. Costs as in
rustybt's workloads (per-share 0.001 for W1/M1/G1, 0.2% of value for R1); backtrader's
default fill (next bar's open) is kept; ``stdstats=False`` (no observers: the workloads
record nothing per bar); orders are not refused for cash (``checksubmit=False``, as
zipline and rustybt).
"""

from __future__ import annotations

import backtrader as bt
import numpy as np
from _common import frames, load_bars, result, sharpe, timed


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
    """R1 (rustybt.tooling.bench.r1.R1SmaCross)."""

    params = (("combo", (10, 20)),)

    def __init__(self):
        self.bars_seen = 0

    def next(self):
        self.bars_seen += 1
        n1, n2 = self.p.combo
        if self.bars_seen <= n2:
            return
        closes = np.array(self.data.close.get(size=n2 + 1))
        f_now, s_now = closes[-n1:].mean(), closes[-n2:].mean()
        f_prev, s_prev = closes[-n1 - 1 : -1].mean(), closes[-n2 - 1 : -1].mean()
        if f_prev < s_prev and f_now > s_now:
            # backtrader refuses (Margin) a fill costing more than the cash, even with
            # checksubmit=False; all-in at the next open would often be refused, so 97%
            self.order_target_percent(target=0.97)
        elif f_prev > s_prev and f_now < s_now:
            self.order_target_percent(target=0.0)


def _cerebro(config: dict, minute: bool) -> bt.Cerebro:
    """Opening the data: the exported bars into feeds (counted in the run time)."""
    bars = load_bars(config["export"])
    cerebro = bt.Cerebro(stdstats=False)
    tf = bt.TimeFrame.Minutes if minute else bt.TimeFrame.Days
    for name, df in frames(bars, config["assets"], config["bars"]).items():
        cerebro.adddata(bt.feeds.PandasData(dataname=df, timeframe=tf), name=name)
    cerebro.broker.setcash(1_000_000.0)
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
    w, n = config["workload"], config["assets"]
    if w in ("W1", "M1"):
        cls = SmaCross if w == "W1" else MinuteMeanReversion

        def once():
            cerebro = _cerebro(config, minute=w == "M1")
            cerebro.addstrategy(cls)
            return cerebro.run()[0]

        walls, cpus, strat = timed(once, config["repeats"])
        return result(walls, cpus, config["bars"], n, final_value=float(strat.broker.getvalue()))
    if w in ("G1", "R1"):
        combos = config["combos"]
        cls = SmaCross if w == "G1" else R1SmaCross

        def grid():
            cerebro = _cerebro(config, minute=False)
            cerebro.optstrategy(cls, combo=[tuple(c) for c in combos])
            return [r[0] for r in cerebro.run(maxcpus=config["processes"], optreturn=True)]

        walls, cpus, rows = timed(grid, config["repeats"])
        scored = [(*r.p.combo, _sharpe(r)) for r in rows]
        best = max(scored, key=lambda r: -np.inf if np.isnan(r[2]) else r[2])
        return result(
            walls,
            cpus,
            config["bars"],
            n,
            runs=len(rows),
            best={"fast": best[0], "slow": best[1], "sharpe": best[2]},
            mode=f"optstrategy, {config['processes']} processes",
        )
    raise ValueError(f"backtrader runs W1, M1, G1, R1, not {w}")
