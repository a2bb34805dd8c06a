"""BayesianSearch: seeded and repeatable, multi-fidelity pruning on span prefixes, the file
journal checkpoint surviving a kill, constraints, parameter spaces."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
from scipy import stats

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import InvalidRunParameters
from rustybt.optimize import BayesianSearch, shutdown_pool
from rustybt.optimize.bayes import to_param
from rustybt.stats import stats_from_perf

SPACE = {"fast": range(3, 12), "slow": range(12, 40), "n_assets": [5]}
COLS = ["trial", "fast", "slow", "sharpe", "final_portfolio_value", "trades", "state"]
# three random start-up draws, then TPE proper
TPE = {"sampler_options": {"n_startup_trials": 3}}


@pytest.fixture(scope="module", autouse=True)
def _no_workers_left():
    yield
    shutdown_pool()


def test_same_seed_same_table_serial_and_process(small_bundle):
    kw = dict(bundle=small_bundle, n_trials=7, seed=11, progress=False, end="2022-04-29", **TPE)
    a = BayesianSearch(SmaCross, SPACE, **kw).run()
    b = BayesianSearch(SmaCross, SPACE, **kw).run()
    c = BayesianSearch(SmaCross, SPACE, backend="process", n_jobs=1, **kw).run()
    assert len(a.table) == 7 and set(a.table["state"]) == {"complete"}
    pd.testing.assert_frame_equal(a.table[COLS], b.table[COLS])
    pd.testing.assert_frame_equal(a.table[COLS], c.table[COLS])
    assert c.table["pid"].iloc[0] != os.getpid()
    other = BayesianSearch(SmaCross, SPACE, **{**kw, "seed": 12}).run()
    assert not other.table[["fast", "slow"]].equals(a.table[["fast", "slow"]])
    # the study is there, and best is its best trial
    assert a.study.best_trial.number == a.best["trial"]
    assert a.study.best_value == pytest.approx(a.best["sharpe"])


def test_hyperband_prunes_on_span_prefixes(small_bundle):
    res = BayesianSearch(
        SmaCross,
        {"fast": range(3, 9), "slow": range(10, 20), "n_assets": [5]},
        bundle=small_bundle,
        n_trials=14,
        seed=2,
        pruner="hyperband",
        progress=False,
        **TPE,
    ).run()
    t = res.table
    assert len(t) == 14
    pruned, complete = t[t["state"] == "pruned"], t[t["state"] == "complete"]
    assert len(pruned) >= 1 and len(complete) >= 1
    assert set(pruned["fidelity"]) <= {0.25, 0.5} and set(complete["fidelity"]) == {1.0}
    # a pruned row's stats are those of a backtest over its prefix of the span
    row = pruned.iloc[0]
    sessions = small_bundle.sessions
    end = sessions[math.ceil(row["fidelity"] * len(sessions)) - 1]
    perf = rustybt.run_algorithm(
        algorithm=SmaCross,
        bundle=small_bundle,
        end=end,
        params={"fast": int(row["fast"]), "slow": int(row["slow"]), "n_assets": 5},
    )
    assert row["sharpe"] == pytest.approx(stats_from_perf(perf)["sharpe"])
    # intermediate values were reported at the rung steps 1, 2, 4 (quarter, half, whole)
    steps = {s for tr in res.study.trials for s in tr.intermediate_values}
    assert steps <= {1, 2, 4} and 1 in steps
    assert res.best["state"] == "complete"


def test_constraint_rejects_draws_without_running_them(small_bundle):
    res = BayesianSearch(
        SmaCross,
        {"fast": range(5, 30), "slow": range(10, 35), "n_assets": [5]},
        bundle=small_bundle,
        n_trials=6,
        seed=0,
        constraint=lambda p: p["fast"] < p["slow"],
        progress=False,
        end="2022-03-31",
    ).run()
    assert len(res.table) == 6
    assert (res.table["fast"] < res.table["slow"]).all()
    infeasible = [t for t in res.study.trials if t.user_attrs.get("infeasible")]
    assert infeasible, "with this seed some draws break the constraint"
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in infeasible)


def test_keep_returns_and_failures(small_bundle):
    class Picky(SmaCross):
        def initialize(self, context):
            if self.fast == 4:
                raise RuntimeError("no fours")
            super().initialize(context)

    res = BayesianSearch(
        Picky,
        {"fast": [3, 4], "slow": [15, 20], "n_assets": [5]},
        bundle=small_bundle,
        n_trials=4,  # every set of the space
        seed=1,
        keep_returns=True,
        progress=False,
        end="2022-03-31",
    ).run()
    failed = res.table[res.table["fast"] == 4]
    assert len(failed) and (failed["state"] == "fail").all()
    assert (failed["error"] == "RuntimeError: no fours").all()
    complete = res.table[res.table["state"] == "complete"]
    assert list(res.returns.columns) == list(complete["trial"])
    assert len(res.returns) == len(res.returns.dropna())


def test_space_conversion(small_bundle):
    od = optuna.distributions
    assert to_param("a", range(5, 30, 5)).distribution == od.IntDistribution(5, 25, step=5)
    assert to_param("a", [1, "x"]).distribution == od.CategoricalDistribution((1, "x"))
    assert to_param("a", stats.uniform(2, 3)).distribution == od.FloatDistribution(2, 5)
    assert to_param("a", stats.loguniform(1e-3, 1)).distribution == od.FloatDistribution(
        1e-3, 1, log=True
    )
    assert to_param("a", stats.randint(3, 9)).distribution == od.IntDistribution(3, 8)
    given = od.FloatDistribution(0.1, 0.9)
    assert to_param("a", given).distribution is given
    normal = to_param("a", stats.norm(10, 2))  # searched through its quantile
    assert normal.value(0.5) == pytest.approx(10.0)
    assert normal.value(stats.norm.cdf(1)) == pytest.approx(12.0)
    poisson = to_param("a", stats.poisson(4))
    assert isinstance(poisson.value(0.5), int)
    with pytest.raises(InvalidRunParameters, match="cannot search"):
        to_param("a", 3)
    with pytest.raises(InvalidRunParameters, match="fidelity"):
        BayesianSearch(SmaCross, SPACE, bundle="small", pruner="hyperband", fidelity=(0.5, 0.9))


KILLED = """
import os, sys, time
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.optimize import BayesianSearch, shutdown_pool

class Killer(SmaCross):
    def initialize(self, context):
        with open(sys.argv[2], "a") as fh:
            fh.write(f"{self.fast} {self.slow}\\n")
        with open(sys.argv[2]) as fh:
            runs = len(fh.readlines())
        if runs == 4 and os.environ.get("KILL"):
            os._exit(9)  # the driver dies in the middle of the 4th trial
        time.sleep(float(os.environ.get("SLOW", 0)))
        super().initialize(context)

if __name__ == "__main__":
    space = {"fast": range(3, 12), "slow": range(12, 40), "n_assets": [3]}
    res = BayesianSearch(Killer, space, bundle="small", end="2022-03-31", n_trials=6, seed=5,
                         sampler_options={"n_startup_trials": 2}, checkpoint=sys.argv[1],
                         backend=sys.argv[3], n_jobs=int(sys.argv[4]), progress=False).run()
    res.table.to_json(sys.argv[1] + ".table.json")
"""


def _sweep(tmp_path, name: str, backend="serial", jobs=1, kill=False, wait=True, slow=0.0):
    script = tmp_path / "sweep.py"
    script.write_text(KILLED)
    env = {k: v for k, v in os.environ.items() if k not in ("KILL", "SLOW")}
    env["SLOW"] = str(slow)
    if kill:
        env["KILL"] = "1"
    args = [sys.executable, str(script), str(tmp_path / name), str(tmp_path / f"{name}.log")]
    args += [backend, str(jobs)]
    if not wait:
        return subprocess.Popen(args, env=env, start_new_session=True)
    return subprocess.run(args, env=env, capture_output=True, text=True)


def _runs(tmp_path, name):
    return (tmp_path / f"{name}.log").read_text().splitlines()


def test_resume_after_a_killed_bayesian_sweep(small_bundle, tmp_path):
    killed = _sweep(tmp_path, "ck", kill=True)
    assert killed.returncode == 9, killed.stderr
    journal = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "ck"))
    )
    (study,) = optuna.study.get_all_study_summaries(journal)
    assert study.n_trials == 4  # three finished, the fourth left running
    first = _runs(tmp_path, "ck")
    done = _sweep(tmp_path, "ck")
    assert done.returncode == 0, done.stderr
    second = _runs(tmp_path, "ck")[len(first) :]
    assert second[0] == first[3]  # the interrupted trial runs again first
    assert len(second) == 3  # and only the missing ones: 6 = 3 kept + 3 run now
    resumed = pd.read_json(tmp_path / "ck.table.json")
    assert len(resumed) == 6 and set(resumed["state"]) == {"complete"}
    # identical to a sweep that was never interrupted (same seed, one job)
    clean = _sweep(tmp_path, "clean")
    assert clean.returncode == 0, clean.stderr
    straight = pd.read_json(tmp_path / "clean.table.json")
    cols = ["fast", "slow", "sharpe", "final_portfolio_value", "trades"]
    pd.testing.assert_frame_equal(resumed[cols], straight[cols])
    assert _runs(tmp_path, "clean") == first[:3] + second


def test_resume_after_killing_a_two_process_sweep(small_bundle, tmp_path):
    """SIGKILL the driver (and its workers) of a 2-process sweep once some trials are in
    the journal: the resumed study keeps every finished trial, as it was, and finishes."""
    proc = _sweep(tmp_path, "ck2", backend="process", jobs=2, wait=False, slow=0.3)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "ck2"))
    )
    finished = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        studies = (
            optuna.study.get_all_study_summaries(storage) if (tmp_path / "ck2").exists() else []
        )
        if studies:
            study = optuna.load_study(study_name=studies[0].study_name, storage=storage)
            finished = [t for t in study.trials if t.state.is_finished()]
            if len(finished) >= 2:
                break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(finished) < 6
    before = {t.number: (t.params, t.value) for t in finished}
    done = _sweep(tmp_path, "ck2", backend="process", jobs=2)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name=studies[0].study_name, storage=storage)
    after = {t.number: (t.params, t.value) for t in study.trials if t.state.is_finished()}
    for number, kept in before.items():
        assert after[number] == kept  # nothing finished was lost or changed
    table = pd.read_json(tmp_path / "ck2.table.json")
    assert len(table) == 6 and set(table["state"]) == {"complete"}
    assert set(before) <= set(table["trial"])
    runs = _runs(tmp_path, "ck2")
    interrupted = [t for t in study.trials if t.user_attrs.get("interrupted")]
    # every backtest started is a kept trial or an interrupted one run again, never a repeat
    # of a finished one
    assert 6 <= len(runs) <= 6 + len(interrupted)
    # (a trial killed before its parameters were all drawn never ran and is not re-run)
    rerun = [t for t in interrupted if {"fast", "slow"} <= set(t.params)]
    assert {(t.params["fast"], t.params["slow"]) for t in rerun} <= {
        (r["fast"], r["slow"]) for _, r in table.iterrows()
    }


class Logged(SmaCross):
    """Appends ``fast slow`` to ``log`` on every backtest."""

    log = ""

    def initialize(self, context):
        with open(self.log, "a") as fh:
            fh.write(f"{self.fast} {self.slow}\n")
        super().initialize(context)


@pytest.mark.parametrize(("backend", "jobs"), [("serial", 1), ("process", 2)])
def test_a_parameter_set_never_runs_twice(small_bundle, tmp_path, backend, jobs):
    """Six parameter sets: TPE draws some of them again, and each repeat is answered from
    the first run (same value told to optuna) without a backtest."""
    log = tmp_path / "runs.txt"
    space = {"fast": range(3, 6), "slow": [15, 20], "n_assets": [5], "log": [str(log)]}
    search = BayesianSearch(Logged, space, bundle=small_bundle, n_trials=6, seed=3,
                            keep_returns=True, backend=backend, n_jobs=jobs, progress=False,
                            end="2022-03-31", sampler_options={"n_startup_trials": 2})  # fmt: skip
    res = search.run()
    runs = log.read_text().splitlines()
    assert len(runs) == len(set(runs)) == 6  # every set once, none twice
    t = res.table
    assert len(t) == 6 and len(t[["fast", "slow"]].drop_duplicates()) == 6
    repeats = [tr for tr in res.study.trials if tr.user_attrs.get("repeat_of") is not None]
    assert repeats, "with six sets and this seed TPE draws some again"
    by_number = {tr.number: tr for tr in res.study.trials}
    for tr in repeats:
        first = by_number[tr.user_attrs["repeat_of"]]
        assert tr.params == first.params and tr.user_attrs.get("row") is None
        assert (tr.state, tr.value) == (first.state, first.value)
    # the deflated Sharpe counts distinct parameter sets, not optuna's trials
    assert list(res.returns.columns) == sorted(t["trial"])
    assert res.deflated_sharpe().n_trials == 6 < len(res.study.trials)


def test_a_used_up_space_stops_the_search_early(small_bundle, tmp_path):
    log = tmp_path / "runs.txt"
    space = {"fast": [3, 4], "slow": [15, 20], "n_assets": [5], "log": [str(log)]}
    with pytest.warns(RuntimeWarning, match="all 4 parameter sets have run"):
        res = BayesianSearch(Logged, space, bundle=small_bundle, n_trials=10, seed=0,
                             progress=False, end="2022-03-31").run()  # fmt: skip
    assert len(res.table) == 4 and len(log.read_text().splitlines()) == 4


class Flaky(SmaCross):
    """Raises for ``fast == 4`` while the file ``flag`` exists."""

    flag = ""

    def initialize(self, context):
        if self.fast == 4 and os.path.exists(self.flag):
            raise RuntimeError("flaky")
        super().initialize(context)


def test_a_resume_retries_failed_trials_only_when_asked(small_bundle, tmp_path):
    flag = tmp_path / "flag"
    flag.touch()
    space = {"fast": [3, 4, 5], "slow": [15, 20], "n_assets": [5], "flag": [str(flag)]}
    kw = dict(bundle=small_bundle, n_trials=6, seed=2, progress=False, end="2022-03-31",
              checkpoint=tmp_path / "study.journal")  # fmt: skip
    first = BayesianSearch(Flaky, space, **kw).run()
    failed = first.table[first.table["fast"] == 4]
    assert len(failed) == 2 and (failed["state"] == "fail").all()
    flag.unlink()
    kept = BayesianSearch(Flaky, space, **kw).run()  # resumed: the failures stand
    pd.testing.assert_frame_equal(kept.table[COLS[:-1]], first.table[COLS[:-1]])
    retried = BayesianSearch(Flaky, space, retry_failed=True, **kw).run()
    t = retried.table
    assert len(t) == 6 and set(t["state"]) == {"complete"}
    assert sorted(zip(t["fast"], t["slow"])) == sorted(
        zip(first.table["fast"], first.table["slow"])
    )
    old = set(retried.study.user_attrs["retried"])
    assert old == set(failed["trial"]) and not old & set(t["trial"])
