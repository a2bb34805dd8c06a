"""Workload R1 (docs/performance/workloads.md): backtesting.py's quick-start sweep as its
users run it, and the same sweep written in the zipline idiom on rustybt.

Data: GOOG daily 2004-08-19 .. 2013-03-01 (2,148 bars), the CSV shipped inside the
``backtesting`` package, read from an installed copy (never copied into the repository)
and ingested into a rustybt bundle through the csvdir ingest. The ``backtesting`` package
may live in rustybt's own environment or in the peers virtualenv (``--venv``,
``$RUSTYBT_PEERS_VENV`` or ``$RUSTYBT_ROOT/peers-venv``); without it, R1 does not run.

Strategy (backtesting.py's ``SmaCross``): when SMA(n1) crosses above SMA(n2) at a close,
go all in long; when it crosses below, go all in short; orders fill at the next bar's
open; commission 0.2% of traded value; cash 10,000 (``Backtest``'s default). The grid:
n1 in 5, 10, ..., 25 × n2 in 10, 15, ..., 65, all 60 cells (backtesting.py's quick start
sweeps these ranges; it also passes ``constraint=n1 < n2``, which leaves 50 — the workload
keeps all 60, so the 10 cells with n1 >= n2 run too: equal lengths never cross, longer
fast ones trade the inverse rule).

rustybt's side: ``GridSearch`` over the 60 cells on the process backend with 2 workers,
the objective the final portfolio value (the quick start's ``maximize='Equity Final
[$]'``), timed from a cold start (the first ``run()`` of a fresh process: the worker
pool starts inside it) and with the warm pool;
``R1-array`` is the same with ``return_type="array"`` history.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import statistics
import time
from pathlib import Path

import rustybt
from rustybt.finance import commission, slippage
from rustybt.tooling.bench.scenarios import SCENARIOS

SPAN = ("2004-08-19", "2013-03-01")
SYMBOL = "GOOG"
N1S = list(range(5, 30, 5))
N2S = list(range(10, 70, 5))
#: n1 in 5..25 step 5 × n2 in 10..65 step 5: all 60 cells, no n1 < n2 constraint
R1_GRID = [(n1, n2) for n1 in N1S for n2 in N2S]
#: backtesting.py's SmaCross defaults (its quick start's single run)
REFERENCE_COMBO = (10, 20)
#: backtesting.py's quick-start commission: 0.2% of traded value, at entry and at exit
COMMISSION = 0.002
#: backtesting.py's ``Backtest(cash=10_000)`` default
CAPITAL = 10_000.0
#: the objective (backtesting.py's quick start maximizes 'Equity Final [$]')
OBJECTIVE = "final_portfolio_value"
WORKERS = 2


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
    """backtesting.py's SmaCross in the zipline idiom: at each bar one
    ``data.history`` window of closes, the two SMAs now and one bar earlier; a cross
    up targets +100% of the portfolio, a cross down -100%, filled at the next open."""

    n1 = 10
    n2 = 20
    #: "pandas": ``data.history(...).values`` (zipline's idiom); "array": ``return_type="array"``
    history = "pandas"

    def initialize(self, context):
        context.asset = self.symbol(SYMBOL)
        context.bars_seen = 0
        context.window = max(self.n1, self.n2) + 1
        self.set_commission(commission.PerDollar(cost=COMMISSION))
        self.set_slippage(slippage.FixedSlippage(spread=0.0))
        self.set_fill_model("next_open")

    def handle_data(self, context, data):
        context.bars_seen += 1
        if context.bars_seen < context.window:
            return  # both SMAs need a value at the previous bar
        if self.history == "array":
            closes = data.history(context.asset, "close", context.window, "1d", "array")
        else:
            closes = data.history(context.asset, "close", context.window, "1d").values
        n1, n2 = self.n1, self.n2
        f_now, s_now = closes[-n1:].mean(), closes[-n2:].mean()
        f_prev, s_prev = closes[-n1 - 1 : -1].mean(), closes[-n2 - 1 : -1].mean()
        if f_prev < s_prev and f_now > s_now:
            self.order_target_percent(context.asset, 1.0)
        elif f_prev > s_prev and f_now < s_now:
            self.order_target_percent(context.asset, -1.0)


class R1SmaCrossArray(R1SmaCross):
    """R1SmaCross reading its window with ``return_type="array"``."""

    history = "array"


def run_reference(bundle, combo=REFERENCE_COMBO, history: str = "pandas", ledger="decimal"):
    """One backtest of ``combo`` (serial, this process): ``(perf, seconds)``."""
    algo = R1SmaCrossArray if history == "array" else R1SmaCross
    t = time.perf_counter()
    perf = rustybt.run_algorithm(
        algorithm=algo,
        bundle=bundle,
        start=bundle.sessions[0],
        end=bundle.sessions[-1],
        capital_base=CAPITAL,
        ledger=ledger,
        params={"n1": combo[0], "n2": combo[1]},
    )
    return perf, time.perf_counter() - t


def fills_of(perf) -> list[list]:
    """``[[session "YYYY-MM-DD", shares, price], ...]`` of a perf frame, in fill order."""
    out = []
    for when, txns in perf["transactions"].items():
        for t in txns:
            out.append([str(when.date()), float(t["amount"]), float(t["price"])])
    return out


def _search(algo, bundle, start, end, ledger: str, combos):
    from rustybt.optimize import GridSearch

    return GridSearch(
        algo,
        {"n1": sorted({a for a, _ in combos}), "n2": sorted({b for _, b in combos})},
        bundle=bundle,
        start=start,
        end=end,
        capital_base=CAPITAL,
        ledger=ledger,
        objective=OBJECTIVE,
        n_jobs=WORKERS,
        backend="process",
        progress=False,
    )


def strategy_floor(bundle, combos=R1_GRID, start=None, end=None) -> tuple[float, int]:
    """``(seconds, crossings)``: the seconds the strategy's own NumPy takes over
    ``combos`` with no engine at all -- for each cell, at every bar where
    :class:`R1SmaCross` computes, the same window of closes (a NumPy slice here) and the
    same four means and comparisons -- and the crossings it found (where the strategy
    orders). No engine can run a cell in less; over ``WORKERS`` workers a sweep takes at
    least the seconds ÷ ``WORKERS`` (``docs/performance/strategy-floors.md``)."""
    import numpy as np

    core = bundle._core
    bounds = core.session_first_bar()
    first = 0 if start is None else int(bounds[bundle.sessions.get_loc(start)])
    last = core.n_bars if end is None else int(bounds[bundle.sessions.get_loc(end) + 1])
    # the closes of the run's bars (the strategy's first window starts at its first bar)
    closes_all = np.array(core.history("close", [0], last - 1, last - first)[:, 0], dtype=float)
    n_bars = len(closes_all)
    total, ups, downs = 0.0, 0, 0
    for n1, n2 in combos:
        window = max(n1, n2) + 1
        started = time.perf_counter()
        for i in range(window, n_bars + 1):
            closes = closes_all[i - window : i]
            f_now, s_now = closes[-n1:].mean(), closes[-n2:].mean()
            f_prev, s_prev = closes[-n1 - 1 : -1].mean(), closes[-n2 - 1 : -1].mean()
            if f_prev < s_prev and f_now > s_now:
                ups += 1  # (where the strategy goes long)
            elif f_prev > s_prev and f_now < s_now:
                downs += 1  # (and short)
        total += time.perf_counter() - started
    return total, ups + downs


#: R1 with ``return_type="array"`` history (``rustybt bench peers`` runs it beside R1)
ARRAY_SCENARIO = dataclasses.replace(
    SCENARIOS["R1"],
    name="R1-array",
    params={"history": "array"},
    description="R1 with return_type='array' history",
)


def run_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """Inside the harness's child process (a fresh interpreter that has started no worker
    pool):

    * cold: the process's first sweep, which starts the shared pool (its forkserver
      imports NumPy, pandas and rustybt, then forks the workers). Only the first sweep of a
      process is cold: ``shutdown_pool()`` stops the workers but keeps the forkserver, so
      more cold samples need more processes (:func:`merge_runs` combines them);
    * warm: ``repeats`` sweeps on the pool the cold one left running;
    * the reference cell once, serially in this process (its fills and time).

    ``median_wall_s`` is the cold figure; ``median_warm_s`` the warm one."""
    from rustybt.optimize import shutdown_pool
    from rustybt.tooling.bench.harness import _multi_run_result

    algo = R1SmaCrossArray if config["params"].get("history") == "array" else R1SmaCross
    combos = R1_GRID[:4] if config.get("quick") else R1_GRID

    def sweep():
        w, c = time.perf_counter(), time.process_time()
        res = _search(algo, bundle, start, end, config["ledger"], combos).run()
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        errors = res.table["error"].dropna()
        if len(errors):  # a failed trial is fast: its sweep's time would flatter us
            raise RuntimeError(f"{len(errors)} R1 trials failed, the first: {errors.iloc[0]}")
        return wall, cpu, res

    cold, cold_cpu, res = sweep()
    warm, warm_cpu = [], []
    for _ in range(max(1, config["repeats"])):
        w, c, res = sweep()
        warm.append(w)
        warm_cpu.append(c)
    shutdown_pool()
    table = res.table
    best = res.best
    perf, single_s = run_reference(bundle, history=algo.history, ledger=config["ledger"])
    # the sweep's floor: its cells' own NumPy, no engine (best of three, after the sweeps)
    floor_s = min(strategy_floor(bundle, combos, start, end)[0] for _ in range(3))
    bars = int(bundle._core.session_first_bar()[bundle.sessions.get_loc(end) + 1])
    return _multi_run_result(
        open_s,
        [cold],
        [cold_cpu],
        bars,
        1,
        len(table),
        cold_wall_s=[cold],
        warm_wall_s=warm,
        warm_cpu_s=warm_cpu,
        median_warm_s=statistics.median(warm),
        trial_mean_s=float(table["seconds"].mean()),
        single_run_s=single_s,
        strategy_floor_s=floor_s,
        workers=WORKERS,
        final_value=float(perf["portfolio_value"].iloc[-1]),
        fills=len(fills_of(perf)),
        reference_fills=fills_of(perf),
        reference_combo=list(REFERENCE_COMBO),
        best={
            "fast": int(best["n1"]),
            "slow": int(best["n2"]),
            "final_value": float(best[OBJECTIVE]),
        },
        mode=f"GridSearch, process pool, {WORKERS} workers",
    )


def merge_runs(runs: list[dict]) -> dict:
    """One record of several :func:`run_child` results (each a fresh process): the cold
    samples are the processes' first sweeps, the warm ones every later sweep; medians of
    each; the rest from the last run."""
    out = dict(runs[-1])
    cold = [w for r in runs for w in r["cold_wall_s"]]
    warm = [w for r in runs for w in r["warm_wall_s"]]
    out.update(
        cold_wall_s=cold,
        wall_s=cold,
        cpu_s=[c for r in runs for c in r["cpu_s"]],
        median_wall_s=statistics.median(cold),
        median_cpu_s=statistics.median(c for r in runs for c in r["cpu_s"]),
        warm_wall_s=warm,
        warm_cpu_s=[c for r in runs for c in r["warm_cpu_s"]],
        median_warm_s=statistics.median(warm),
        single_run_s=statistics.median(r["single_run_s"] for r in runs),
        strategy_floor_s=min(r["strategy_floor_s"] for r in runs),
        open_s=statistics.median(r["open_s"] for r in runs),
        peak_rss_mb=max(r["peak_rss_mb"] for r in runs),
        processes=len(runs),
    )
    out["asset_bars_per_s"] = out["asset_bars"] / out["median_wall_s"]
    return out
