"""Grid and random search: same table on every executor, failures recorded, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from scipy import stats

from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import InvalidRunParameters
from rustybt.optimize import GridSearch, RandomSearch, SearchResult, shutdown_pool

SPACE = {"fast": [5, 8], "slow": [20, 30]}


@pytest.fixture(scope="module", autouse=True)
def _no_workers_left():
    yield
    shutdown_pool()


def _compare(a: pd.DataFrame, b: pd.DataFrame):
    cols = ["fast", "slow", "sharpe", "final_portfolio_value", "trades"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


def test_grid_search_same_table_serial_and_process(small_bundle):
    kw = dict(bundle=small_bundle, objective="sharpe", progress=False, end="2022-04-29")
    serial = GridSearch(SmaCross, {**SPACE, "n_assets": [5]}, **kw).run()
    process = GridSearch(
        SmaCross, {**SPACE, "n_assets": [5]}, n_jobs=2, backend="process", **kw
    ).run()
    assert len(serial.table) == 4
    _compare(serial.table, process.table)
    assert process.table["pid"].nunique() >= 1
    assert process.table["pid"].iloc[0] != os.getpid()
    best = serial.best
    assert best["sharpe"] == serial.table["sharpe"].max()


def test_random_search_is_seeded(small_bundle):
    space = {"fast": range(3, 12), "slow": range(20, 40), "n_assets": [5]}
    kw = dict(bundle=small_bundle, n_trials=4, seed=7, progress=False, end="2022-03-31")
    a = RandomSearch(SmaCross, space, **kw).run()
    b = RandomSearch(SmaCross, space, n_jobs=2, backend="process", **kw).run()
    _compare(a.table, b.table)
    c = RandomSearch(SmaCross, space, **{**kw, "seed": 8})
    assert c.trials() != RandomSearch(SmaCross, space, **kw).trials()


class Scaled(SmaCross):
    """A float parameter to draw from continuous distributions."""

    scale = 1.0
    rate = 0.01


def test_random_search_draws_from_scipy_distributions(small_bundle):
    space = {
        "fast": stats.randint(3, 9),
        "scale": stats.uniform(0.5, 1.5),
        "rate": stats.loguniform(1e-3, 1e-1),
        "n_assets": [5],
    }
    kw = dict(bundle=small_bundle, n_trials=12, seed=4, progress=False, end="2022-03-31")
    trials = RandomSearch(Scaled, space, **kw).trials()
    assert len(trials) == 12
    assert trials == RandomSearch(Scaled, space, **kw).trials()  # the seed decides
    assert trials != RandomSearch(Scaled, space, **{**kw, "seed": 5}).trials()
    for p in trials:
        assert type(p["fast"]) is int and 3 <= p["fast"] <= 8
        assert type(p["scale"]) is float and 0.5 <= p["scale"] <= 2.0
        assert type(p["rate"]) is float and 1e-3 <= p["rate"] <= 1e-1
    assert len({p["fast"] for p in trials}) > 1 and len({p["scale"] for p in trials}) == 12
    res = RandomSearch(Scaled, space, **{**kw, "n_trials": 3}).run()
    assert res.table["error"].isna().all() and res.table["trades"].gt(0).all()
    assert res.table[["fast", "scale", "rate", "n_assets"]].to_dict("records") == trials[:3]


def test_grid_search_runs_a_repeated_value_once(small_bundle):
    res = GridSearch(
        SmaCross, {"fast": [5, 5, 8], "n_assets": [5]}, bundle=small_bundle, progress=False,
        end="2022-02-28",
    )  # fmt: skip
    assert res._candidates() == [{"fast": 5, "n_assets": 5}, {"fast": 8, "n_assets": 5}]


class Fragile(SmaCross):
    """Raises for one parameter value, defined in a test module (pickled with cloudpickle)."""

    boom = 0

    def handle_data(self, context, data):
        if self.boom:
            raise ValueError("bad luck")
        super().handle_data(context, data)


def test_a_failing_trial_is_recorded_and_the_rest_go_on(small_bundle):
    res = GridSearch(
        Fragile,
        {"boom": [0, 1], "n_assets": [5]},
        bundle=small_bundle,
        n_jobs=2,
        backend="process",
        progress=False,
        end="2022-02-28",
    ).run()
    bad = res.table[res.table["boom"] == 1].iloc[0]
    assert bad["error"] == "ValueError: bad luck"
    good = res.table[res.table["boom"] == 0].iloc[0]
    assert good["error"] is None or pd.isna(good["error"])
    assert res.best["boom"] == 0


KILLER = """
import os, sys
import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.optimize import GridSearch

class Killer(SmaCross):
    def initialize(self, context):
        with open(sys.argv[2], "a") as fh:
            fh.write(f"{self.fast}\\n")
        if self.fast == 7 and os.environ.get("KILL"):
            os._exit(9)  # the whole sweep dies here, mid-run
        super().initialize(context)

GridSearch(Killer, {"fast": [5, 6, 7, 8], "n_assets": [3]}, bundle="small", end="2022-02-28",
           checkpoint=sys.argv[1], progress=False).run()
"""


def test_resume_after_a_killed_sweep(tmp_path):
    script, ck, log = tmp_path / "sweep.py", tmp_path / "ck.jsonl", tmp_path / "ran.txt"
    script.write_text(KILLER)
    env = {**os.environ, "KILL": "1"}
    killed = subprocess.run(
        [sys.executable, str(script), str(ck), str(log)], env=env, capture_output=True
    )
    assert killed.returncode == 9
    finished = [json.loads(line)["fast"] for line in ck.read_text().splitlines()]
    assert finished == [5, 6]
    env.pop("KILL")
    subprocess.run([sys.executable, str(script), str(ck), str(log)], env=env, check=True)
    ran = [int(x) for x in log.read_text().split()]
    assert ran == [5, 6, 7, 7, 8]  # 5 and 6 were not run again; 7 (killed) ran again
    rows = [json.loads(line) for line in ck.read_text().splitlines()]
    assert sorted(r["fast"] for r in rows) == [5, 6, 7, 8]


def test_heatmap_and_save_load(small_bundle, tmp_path):
    res = GridSearch(
        SmaCross, {**SPACE, "n_assets": [5]}, bundle=small_bundle, progress=False, end="2022-03-31"
    ).run()
    fig = res.heatmap("fast", "slow")
    fig.savefig(tmp_path / "heat.png")
    assert (tmp_path / "heat.png").stat().st_size > 1000
    back = SearchResult.load(res.save(tmp_path / "saved"))
    _compare(res.table, back.table)
    assert back.best["fast"] == res.best["fast"]


def test_bad_search_input(small_bundle):
    with pytest.raises(InvalidRunParameters, match="unknown parameter"):
        GridSearch(SmaCross, {"nope": [1]}, bundle=small_bundle)
    with pytest.raises(InvalidRunParameters, match="objective 'luck'"):
        GridSearch(SmaCross, SPACE, bundle=small_bundle, objective="luck")
    with pytest.raises(InvalidRunParameters, match="backend"):
        GridSearch(SmaCross, SPACE, bundle=small_bundle, backend="carrier-pigeon")
    constrained = GridSearch(
        SmaCross, SPACE, bundle=small_bundle, constraint=lambda p: p["fast"] * 4 <= p["slow"]
    )
    assert constrained._candidates() == [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 30}]
