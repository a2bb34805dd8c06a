"""The sweep pool's start (docs/performance/workloads.md): how long a process-backend
``GridSearch`` takes from ``run()`` to its first trial starting in a worker — the first
sweep of a process (the shared pool starts: a forkserver with rustybt, NumPy and pandas
preloaded, then its workers) and the later ones (the pool is warm).

Each trial stamps the wall clock when its strategy's ``initialize`` starts, into a file
the driver reads after the sweep; the figure is the earliest stamp minus the time
``run()`` was called.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.tooling.bench.harness import _multi_run_result

#: trials per sweep (one parameter each)
_TRIALS = 4


class StampedSmaCross(SmaCross):
    """W1's strategy, writing the time its ``initialize`` starts to ``stamps``."""

    stamps = ""

    def initialize(self, context):
        with open(self.stamps, "a") as fh:
            fh.write(f"{time.time()}\n")
        super().initialize(context)


def _time_to_first_trial(bundle, end, stamps: Path) -> float:
    from rustybt.optimize import GridSearch

    stamps.unlink(missing_ok=True)
    algo = type("Stamped", (StampedSmaCross,), {"stamps": os.fspath(stamps)})
    search = GridSearch(
        algo,
        {"fast": list(range(5, 5 + _TRIALS)), "n_assets": [3]},
        bundle=bundle,
        end=end,
        n_jobs=2,
        backend="process",
        progress=False,
    )
    started = time.time()
    search.run()
    return min(float(x) for x in stamps.read_text().split()) - started


def run_pool_start_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """The first sweep of a fresh process's pool, then ``repeats`` warm ones."""
    from rustybt.optimize import shutdown_pool

    short_end = bundle.sessions[min(40, len(bundle.sessions) - 1)]
    shutdown_pool()  # a cold start, whatever ran before in this process
    with tempfile.TemporaryDirectory() as tmp:
        stamps = Path(tmp) / "stamps.txt"
        first = _time_to_first_trial(bundle, short_end, stamps)
        warm = [_time_to_first_trial(bundle, short_end, stamps) for _ in range(config["repeats"])]
    shutdown_pool()
    return _multi_run_result(
        open_s,
        warm,
        warm,
        40,
        3,
        _TRIALS,
        first_start_s=first,
        warm_start_s=warm,
    )


__all__ = ["StampedSmaCross", "run_pool_start_child"]
