"""Shared by the peer runners. These files run in the *peers* virtualenv (zipline-reloaded,
backtrader, vectorbt, backtesting.py), never in rustybt's: they must not import rustybt.

Every runner reads the bars that ``rustybt bench peers`` exported from a rustybt bundle
(``bars.npz``: ``times`` = bar close instants, ns UTC; ``sessions`` = session labels, ns;
``symbols``; ``open, high, low, close, volume`` as ``[bars, assets]`` float64), times the
loading of its data (``load_s``: building the library's data objects) apart from the
backtests (``wall_s``) where the library lets the two be separated, never interpreter
start-up or imports, and prints one JSON object on its last stdout line.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

FIELDS = ("open", "high", "low", "close", "volume")


def load_bars(export_dir: str | Path) -> dict:
    with np.load(Path(export_dir) / "bars.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def frames(bars: dict, n_assets: int, n_bars: int) -> dict[str, pd.DataFrame]:
    """One OHLCV DataFrame per symbol, indexed by bar close (naive UTC)."""
    index = pd.DatetimeIndex(bars["times"][:n_bars].astype("datetime64[ns]"))
    out = {}
    for i, sym in enumerate(bars["symbols"][:n_assets]):
        out[str(sym)] = pd.DataFrame({f: bars[f][:n_bars, i] for f in FIELDS}, index=index)
    return out


def _batch_workloads():
    """``rustybt/tooling/bench/batch_workloads.py``, loaded by its path: it needs only NumPy, and
    the weights vectorbt gets must be the batch runner's own (this virtualenv has no
    rustybt to import)."""
    path = Path(__file__).resolve().parent.parent / "batch_workloads.py"
    spec = importlib.util.spec_from_file_location("rustybt_batch_workloads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: W1's rule as a target-weight matrix: ``rustybt.tooling.bench.batch_workloads.sma_crossover_weights``
sma_crossover_weights = _batch_workloads().sma_crossover_weights


def sharpe(values) -> float:
    """empyrical's Sharpe of a daily value curve (252 periods, ddof=1, risk-free 0)."""
    v = np.asarray(values, dtype=float)
    r = v[1:] / v[:-1] - 1.0
    sd = r.std(ddof=1) if len(r) > 1 else 0.0
    return float(r.mean() / sd * np.sqrt(252)) if sd > 0 else float("nan")


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def timed(fn, repeats: int):
    """Run ``fn`` ``repeats`` times; wall and CPU seconds of each, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(max(1, repeats)):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return walls, cpus, out


def timed_split(load, run, repeats: int):
    """``repeats`` times: ``x = load()`` then ``run(x)``, each timed apart. Load walls, run
    walls, run CPU seconds, and the last run's result."""
    loads, walls, cpus, out = [], [], [], None
    for _ in range(max(1, repeats)):
        w = time.perf_counter()
        loaded = load()
        loads.append(time.perf_counter() - w)
        w, c = time.perf_counter(), time.process_time()
        out = run(loaded)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return loads, walls, cpus, out


def result(walls, cpus, bars: int, assets: int, runs: int = 1, **extra) -> dict:
    wall = statistics.median(walls)
    return {
        "wall_s": walls,
        "cpu_s": cpus,
        "median_wall_s": wall,
        "median_cpu_s": statistics.median(cpus),
        "peak_rss_mb": peak_rss_mb(),
        "bars": bars,
        "runs": runs,
        "asset_bars": bars * assets * runs,
        "asset_bars_per_s": bars * assets * runs / wall if wall > 0 else None,
        **extra,
    }


def emit(obj: dict) -> None:
    print(json.dumps(obj, default=float), flush=True)
