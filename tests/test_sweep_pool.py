"""The process backend's worker pool lives across searches: a second sweep (another
strategy, another bundle, another kind of search) runs on the same warm workers; a private
pool (``reuse_pool=False``) ends with its search; the forkserver forks with no thread."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.optimize import BayesianSearch, GridSearch, RandomSearch, WalkForward, shutdown_pool
from rustybt.optimize.pool import shared_pool_pids

KW = dict(n_jobs=2, backend="process", progress=False, end="2022-02-28")


@pytest.fixture(autouse=True)
def fresh_pool():
    """Each test starts without a shared pool and leaves none behind."""
    shutdown_pool()
    yield
    pids = shared_pool_pids()
    shutdown_pool()
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


class Other(SmaCross):
    """A second strategy class: a warm worker must be able to serve it too."""

    shift = 0


def test_the_second_run_reuses_the_pool(small_bundle):
    assert shared_pool_pids() == []
    search = GridSearch(
        SmaCross, {"fast": [5, 6, 7, 8], "n_assets": [3]}, bundle=small_bundle, **KW
    )
    first = search.run()
    pids = shared_pool_pids()
    assert len(pids) == 2 and os.getpid() not in pids
    assert set(first.table["pid"]) <= set(pids)
    second = search.run()
    assert shared_pool_pids() == pids
    assert set(second.table["pid"]) <= set(pids)
    assert second.table["sharpe"].tolist() == first.table["sharpe"].tolist()
    # another strategy, another bundle, other kinds of search: the same workers
    tiny = rustybt.ingest_synthetic("pool-tiny", assets=3, start="2022-01-03", end="2022-03-31")
    other = GridSearch(Other, {"fast": [4, 5], "shift": [0, 1], "n_assets": [3]}, bundle=tiny, **KW)
    rand = RandomSearch(SmaCross, {"fast": range(3, 9), "n_assets": [3]}, bundle=small_bundle,
                        n_trials=3, **KW)  # fmt: skip
    bayes = BayesianSearch(SmaCross, {"fast": range(3, 9), "n_assets": [3]}, bundle=small_bundle,
                           n_trials=3, **KW)  # fmt: skip
    for res in (other.run(), rand.run(), bayes.run()):
        assert res.table["error"].isna().all()
        assert set(res.table["pid"]) <= set(pids)
    wf = WalkForward(GridSearch(SmaCross, {"fast": [3, 5], "slow": [15], "n_assets": [5]}, bundle=small_bundle,
                                **{**KW, "end": None}), train=40, test=20).run()  # fmt: skip
    assert {p for s in wf.searches for p in s.table["pid"]} <= set(pids)
    assert shared_pool_pids() == pids


def test_the_pool_follows_n_jobs(small_bundle):
    space = {"fast": [5, 6, 7], "n_assets": [3]}
    GridSearch(SmaCross, space, bundle=small_bundle, **KW).run()
    two = shared_pool_pids()
    one = GridSearch(SmaCross, space, bundle=small_bundle, **{**KW, "n_jobs": 1}).run()
    assert len(shared_pool_pids()) == 1 and set(shared_pool_pids()) < set(two)
    assert one.table["pid"].nunique() == 1
    GridSearch(SmaCross, space, bundle=small_bundle, **{**KW, "n_jobs": 3}).run()
    assert len(shared_pool_pids()) == 3 and set(shared_pool_pids()) > set(one.table["pid"])


def test_a_private_pool_ends_with_its_search(small_bundle):
    space = {"fast": [5, 6, 7, 8], "n_assets": [3]}
    GridSearch(SmaCross, space, bundle=small_bundle, **KW).run()
    shared = shared_pool_pids()
    res = GridSearch(SmaCross, space, bundle=small_bundle, reuse_pool=False, **KW).run()
    private = set(res.table["pid"])
    assert private and not private & set(shared)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in private):
        time.sleep(0.05)
    assert not any(_alive(p) for p in private)
    assert shared_pool_pids() == shared and all(_alive(p) for p in shared)


def test_the_forkserver_forks_with_no_other_thread(small_bundle):
    from multiprocessing import forkserver

    GridSearch(SmaCross, {"fast": [5], "n_assets": [3]}, bundle=small_bundle, **KW).run()
    server = forkserver._forkserver._forkserver_pid
    assert server is not None
    assert os.listdir(f"/proc/{server}/task") == [str(server)]
