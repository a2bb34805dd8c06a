"""Workload R1 (docs/performance/workloads.md): real data, GOOG daily 2004-08-19 ..
2013-03-01 (2,148 bars) as shipped inside the ``backtesting`` package, an SMA(n1/n2)
crossover all-in / all-out, and the grid n1 in 5..25 step 5 × n2 in 10..65 step 5 with
n1 < n2 (50 combos).

The CSV is read from the installed package (never copied into the repository) and
ingested into a rustybt bundle through the csvdir ingest. The ``backtesting`` package may
live in rustybt's own environment or in the peers virtualenv that ``rustybt bench peers``
builds (``$RUSTYBT_ROOT/peers-venv``); without either, R1 does not run.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from pathlib import Path

import rustybt
from rustybt.finance import commission, slippage

SPAN = ("2004-08-19", "2013-03-01")
SYMBOL = "GOOG"
#: n1 in 5..25 step 5 × n2 in 10..65 step 5, n1 < n2: 50 combinations
R1_GRID = [(n1, n2) for n1 in range(5, 30, 5) for n2 in range(10, 70, 5) if n1 < n2]
REFERENCE_COMBO = (10, 20)
#: backtesting.py's own example costs: 0.2% of traded value
COMMISSION = 0.002


def goog_csv(venv: str | os.PathLike | None = None) -> Path:
    """``backtesting/test/GOOG.csv`` of an installed ``backtesting`` package: rustybt's own
    environment first, then the peers virtualenv (``venv`` or the default one)."""
    from rustybt.bundles import root
    from rustybt.errors import InvalidRunParameters

    spec = importlib.util.find_spec("backtesting")
    candidates = []
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "test" / "GOOG.csv")
    for v in (venv, os.environ.get("RUSTYBT_PEERS_VENV"), root() / "peers-venv"):
        if v:
            candidates += sorted(
                Path(v).glob("lib/python*/site-packages/backtesting/test/GOOG.csv")
            )
    for c in candidates:
        if c.is_file():
            return c
    raise InvalidRunParameters(
        "R1 needs the `backtesting` package (its bundled GOOG.csv): install it "
        "(pip install backtesting) or build the peers virtualenv with `rustybt bench peers`"
    )


def ensure_bundle(name: str, venv: str | os.PathLike | None = None) -> rustybt.Bundle:
    """The R1 bundle: GOOG.csv from the installed package through the csvdir ingest (first
    use only; later calls open it)."""
    import tempfile

    import pandas as pd

    from rustybt.errors import BundleNotFound

    try:
        return rustybt.load_bundle(name)
    except BundleNotFound:
        pass
    frame = pd.read_csv(goog_csv(venv), index_col=0, parse_dates=True)
    frame.index.name = "date"
    frame.columns = [c.lower() for c in frame.columns]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "daily").mkdir()
        frame[["open", "high", "low", "close", "volume"]].to_csv(
            Path(tmp) / "daily" / f"{SYMBOL}.csv", date_format="%Y-%m-%d"
        )
        return rustybt.ingest_csvdir(tmp, name)


class R1SmaCross(rustybt.TradingAlgorithm):
    """All-in when SMA(n1) crosses above SMA(n2), all-out when it crosses below."""

    n1 = 10
    n2 = 20

    def initialize(self, context):
        context.asset = self.symbol(SYMBOL)
        context.bars_seen = 0
        self.set_commission(commission.PerDollar(cost=COMMISSION))
        self.set_slippage(slippage.FixedSlippage(spread=0.0))

    def handle_data(self, context, data):
        context.bars_seen += 1
        if context.bars_seen <= self.n2:
            return
        closes = data.history(context.asset, "close", self.n2 + 1, "1d").values
        n1, n2 = self.n1, self.n2
        f_now, s_now = closes[-n1:].mean(), closes[-n2:].mean()
        f_prev, s_prev = closes[-n1 - 1 : -1].mean(), closes[-n2 - 1 : -1].mean()
        if f_prev < s_prev and f_now > s_now:
            self.order_target_percent(context.asset, 1.0)
        elif f_prev > s_prev and f_now < s_now:
            self.order_target_percent(context.asset, 0.0)


def sharpe(values) -> float:
    """The Sharpe ratio of a value curve's returns, as every rustybt statistic is
    computed (``_core.final_risk``)."""
    import numpy as np

    from rustybt import _core

    v = np.asarray(values, dtype=float)
    r = v[1:] / v[:-1] - 1.0
    return _core.final_risk(r.tolist())[2] if len(r) > 1 else float("nan")


def run_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """Inside the harness's child process: the grid, serially in this one process,
    ``repeats`` times (each timed whole)."""
    from rustybt.tooling.bench.harness import _multi_run_result

    combos = R1_GRID[:4] if config.get("quick") else R1_GRID
    walls, cpus, rows = [], [], []
    for _ in range(config["repeats"]):
        w, c = time.perf_counter(), time.process_time()
        rows = []
        for n1, n2 in combos:
            perf = rustybt.run_algorithm(
                algorithm=R1SmaCross,
                bundle=bundle,
                start=start,
                end=end,
                capital_base=1_000_000,
                ledger=config["ledger"],
                params={"n1": n1, "n2": n2},
            )
            rows.append((n1, n2, sharpe(perf["portfolio_value"]), perf))
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    best = max(rows, key=lambda r: float("-inf") if r[2] != r[2] else r[2])
    ref = next((r for r in rows if (r[0], r[1]) == REFERENCE_COMBO), rows[0])
    bars = int(bundle._core.session_first_bar()[bundle.sessions.get_loc(end) + 1])
    return _multi_run_result(
        open_s,
        walls,
        cpus,
        bars,
        1,
        len(rows),
        final_value=float(ref[3]["portfolio_value"].iloc[-1]),
        fills=int(ref[3]["transactions"].map(len).sum()),
        best={"fast": best[0], "slow": best[1], "sharpe": best[2]},
        trial_mean_s=statistics.median(walls) / len(rows),
        mode="serial, one process",
    )
