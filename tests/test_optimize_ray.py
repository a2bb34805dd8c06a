"""The Ray backend against the serial and process ones: same tables, failures recorded (a
raising trial, a dying actor), strategies from a test module shipped by value, workers that
ignore SIGINT; and a (process) worker's memory over 1,000 trials.

Ray runs locally here (``ray.init(num_cpus=2)``), started and stopped by this module."""

from __future__ import annotations

import os
import signal

import pandas as pd
import pytest

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.optimize import BayesianSearch, GridSearch, RandomSearch, shutdown_pool

ray = pytest.importorskip("ray")

STATS = ["fast", "slow", "sharpe", "final_portfolio_value", "trades"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    shutdown_pool()


def test_grid_and_random_give_the_same_table_on_every_backend(small_bundle):
    grid = {"fast": [3, 5, 8], "slow": [15, 25], "n_assets": [5]}
    rand = {"fast": range(3, 12), "slow": range(12, 40), "n_assets": [5]}
    kw = dict(bundle=small_bundle, progress=False, end="2022-04-29")
    for make in (
        lambda **b: GridSearch(SmaCross, grid, **kw, **b),
        lambda **b: RandomSearch(SmaCross, rand, n_trials=5, seed=3, **kw, **b),
    ):
        serial = make().run().table
        process = make(backend="process", n_jobs=2).run().table
        on_ray = make(backend="ray", n_jobs=2).run().table
        pd.testing.assert_frame_equal(serial[STATS], process[STATS])
        pd.testing.assert_frame_equal(serial[STATS], on_ray[STATS])
        assert os.getpid() not in set(on_ray["pid"])
        assert on_ray["error"].isna().all()


class Probe(SmaCross):
    """Defined in a test module, which Ray workers cannot import: it must travel by value.
    ``mode``: "ok" (checks that the worker ignores SIGINT), "raise", "die" or "segv"."""

    mode = "ok"

    def initialize(self, context):
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            raise RuntimeError("the worker does not ignore SIGINT")
        if self.mode == "raise":
            raise ValueError("bad luck")
        if self.mode == "die":
            os._exit(3)  # the actor process dies with the trial
        if self.mode == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        super().initialize(context)


def test_failures_are_recorded_and_the_others_go_on(small_bundle):
    res = GridSearch(
        Probe,
        {"mode": ["ok", "raise", "die", "segv"], "fast": [5, 6], "n_assets": [5]},
        bundle=small_bundle,
        n_jobs=2,
        backend="ray",
        progress=False,
        end="2022-03-31",
    ).run()
    by_mode = res.table.groupby("mode")
    ok, raised = by_mode.get_group("ok"), by_mode.get_group("raise")
    assert len(ok) == 2 and ok["error"].isna().all() and ok["sharpe"].notna().all()
    assert (raised["error"] == "ValueError: bad luck").all()
    for mode in ("die", "segv"):
        for _, row in by_mode.get_group(mode).iterrows():
            error = row["error"]
            assert error.startswith("WorkerDied: the Ray actor (pid ")
            assert f"running trial {row['trial']} with parameters" in error
            assert f"'mode': '{mode}'" in error and f"'fast': {row['fast']}" in error
            assert "ActorDiedError" in error and "exit type SYSTEM_ERROR" in error
    assert res.best["mode"] == "ok"


def test_bayesian_search_on_ray(small_bundle):
    res = BayesianSearch(
        SmaCross,
        {"fast": range(3, 12), "slow": range(12, 40), "n_assets": [5]},
        bundle=small_bundle,
        n_trials=6,
        seed=0,
        n_jobs=2,
        backend="ray",
        progress=False,
        end="2022-04-29",
        sampler_options={"n_startup_trials": 2},
    ).run()
    assert len(res.table) == 6 and set(res.table["state"]) == {"complete"}
    assert res.table["pid"].nunique() == 2


class Cheap(rustybt.TradingAlgorithm):
    """One order a bar on a tiny bundle: a trial costs milliseconds."""

    x = 0

    def initialize(self, context):
        context.asset = self.symbol("S000")

    def handle_data(self, context, data):
        self.order_target_percent(context.asset, 0.5 + 0.5 * ((self.x + data.current_dt.day) % 2))


@pytest.fixture(scope="module")
def tiny():
    """2 assets, 19 sessions."""
    return rustybt.ingest_synthetic("tiny2", assets=2, start="2022-01-03", end="2022-01-31", seed=1)


def test_worker_memory_is_flat_over_1000_trials(tiny):
    """One process worker runs 1,000 trials (about 20 ms each); its resident memory after
    trial 1,000 is within 50 MB of that after trial 100 (the first hundred warm caches)."""
    res = GridSearch(
        Cheap, {"x": range(1000)}, bundle=tiny, n_jobs=1, backend="process", progress=False
    ).run()
    t = res.table.set_index("trial")
    assert t["pid"].nunique() == 1 and t["error"].isna().all()
    assert (t["trades"] > 0).all()
    growth = t.loc[999, "rss_mb"] - t.loc[99, "rss_mb"]
    assert growth < 50, f"worker RSS grew {growth:.1f} MB from trial 100 to 1,000"
