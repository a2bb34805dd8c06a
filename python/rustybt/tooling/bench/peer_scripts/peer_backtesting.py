"""backtesting.py side of ``rustybt bench peers``: R1 is backtesting.py's own quick-start
example (``SmaCross`` on its bundled GOOG data, ``Backtest.optimize`` over n1 × n2 with
n1 < n2), here all-in / all-out (long only) on the bars exported from rustybt's R1 bundle,
cash 1,000,000, commission 0.2%. ``optimize`` uses backtesting.py's default process pool
(all cores); fills are backtesting.py's default (next bar's open).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from _common import load_bars, result, timed
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

warnings.filterwarnings("ignore")


class SmaCross(Strategy):
    n1 = 10
    n2 = 20

    def init(self):
        close = self.data.Close
        self.sma1 = self.I(SMA, close, self.n1)
        self.sma2 = self.I(SMA, close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()


def _backtest(config: dict) -> Backtest:
    bars = load_bars(config["export"])
    nb = config["bars"]
    df = pd.DataFrame(
        {f.capitalize(): bars[f][:nb, 0] for f in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex(bars["sessions"][:nb].astype("datetime64[ns]")),
    )
    return Backtest(df, SmaCross, cash=1_000_000, commission=0.002)


def run(config: dict) -> dict:
    if config["workload"] != "R1":
        raise ValueError(f"backtesting.py runs R1 only, not {config['workload']}")
    combos = {tuple(c) for c in config["combos"]}
    n1s = sorted({a for a, _ in combos})
    n2s = sorted({b for _, b in combos})

    def grid():
        bt = _backtest(config)
        return bt.optimize(
            n1=n1s,
            n2=n2s,
            constraint=lambda p: (p.n1, p.n2) in combos,
            maximize="Sharpe Ratio",
            return_heatmap=True,
        )

    walls, cpus, (stats, heat) = timed(grid, config["repeats"])
    t = time.perf_counter()
    single = _backtest(config).run(n1=config["reference_combo"][0], n2=config["reference_combo"][1])
    single_s = time.perf_counter() - t
    return {
        "results": {
            "backtesting.py": result(
                walls,
                cpus,
                config["bars"],
                1,
                runs=len(combos),
                scored=int(np.isfinite(heat.to_numpy()).sum()),
                single_run_s=single_s,
                final_value=float(single["Equity Final [$]"]),
                fills=int(single["# Trades"]) * 2,
                best={
                    "fast": int(stats._strategy.n1),
                    "slow": int(stats._strategy.n2),
                    "sharpe": float(stats["Sharpe Ratio"]),
                },
                mode="Backtest.optimize, default process pool",
            )
        }
    }
