"""WalkForward: window plans (sessions and calendar lengths, rolling and anchored), the
inner search per train window, out-of-sample runs, the stitched curve and its statistics,
efficiency, plots, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import InvalidRunParameters
from rustybt.optimize import (
    BayesianSearch,
    GridSearch,
    RandomSearch,
    WalkForward,
    WalkForwardResult,
    shutdown_pool,
)
from rustybt.stats import stats_from_returns

SPACE = {"fast": [3, 5, 8], "slow": [15, 25], "n_assets": [5]}
STATS = ["fast", "slow", "sharpe", "final_portfolio_value", "trades"]


@pytest.fixture(scope="module", autouse=True)
def _no_workers_left():
    yield
    shutdown_pool()


def _grid(bundle, **kw):
    return GridSearch(SmaCross, SPACE, bundle=bundle, progress=False, **kw)


def test_session_windows_rolling_and_anchored(small_bundle):
    s = small_bundle.sessions
    rolling = WalkForward(_grid(small_bundle), train=40, test=20).windows()
    assert len(rolling) == (len(s) - 40) // 20 == 4
    for i, w in rolling.iterrows():
        assert (w.train_start, w.train_end) == (s[20 * i], s[20 * i + 39])
        assert (w.test_start, w.test_end) == (s[20 * i + 40], s[20 * i + 59])
    anchored = WalkForward(_grid(small_bundle), train=40, test=20, anchored=True).windows()
    assert (anchored["train_start"] == s[0]).all()
    assert anchored[["train_end", "test_start", "test_end"]].equals(
        rolling[["train_end", "test_start", "test_end"]]
    )
    sparse = WalkForward(_grid(small_bundle), train=40, test=20, step=30).windows()
    assert list(sparse["test_start"]) == [s[40], s[70], s[100]]


def test_the_wf1_plan_in_calendar_months():
    """WF1 (docs/performance/workloads.md): 12-month train, 3-month test, step 3 months over
    2022-2023 gives four windows testing each quarter of 2023 (XNYS sessions)."""
    two_years = rustybt.ingest_synthetic(
        "wf-plan", assets=1, start="2022-01-03", end="2023-12-29", seed=1
    )
    wf = WalkForward(_grid(two_years), train="12M", test="3M", start="2022-01-01", end="2023-12-31")
    plan = wf.windows().map(lambda t: str(t.date()))
    assert plan.to_dict("list") == {
        "train_start": ["2022-01-03", "2022-04-01", "2022-07-01", "2022-10-03"],
        "train_end": ["2022-12-30", "2023-03-31", "2023-06-30", "2023-09-29"],
        "test_start": ["2023-01-03", "2023-04-03", "2023-07-03", "2023-10-02"],
        "test_end": ["2023-03-31", "2023-06-30", "2023-09-29", "2023-12-29"],
    }
    anchored = WalkForward(
        _grid(two_years), train="1Y", test="1Q", anchored=True, start="2022-01-01"
    ).windows()
    assert (anchored["train_start"] == two_years.sessions[0]).all()
    assert len(anchored) == 4


def test_walk_forward_runs_the_search_per_window_and_stitches_oos(small_bundle, tmp_path):
    search = _grid(small_bundle, n_jobs=2, backend="process")
    wf = WalkForward(search, train=40, test=20)
    res = wf.run()
    plan = wf.windows()
    assert len(res.windows) == len(res.searches) == len(res.oos_runs) == 4
    s = small_bundle.sessions
    tested = [s[s.get_loc(w.test_start) : s.get_loc(w.test_end) + 1] for _, w in plan.iterrows()]
    assert res.returns.index.equals(tested[0].append(tested[1:]))  # in order, no overlap

    # each window's search is the plain search on its train window, and its best is chosen
    w = plan.iloc[2]
    alone = _grid(small_bundle, start=w.train_start, end=w.train_end).run()
    pd.testing.assert_frame_equal(res.searches[2].table[STATS], alone.table[STATS])
    assert res.windows.loc[2, ["fast", "slow"]].tolist() == alone.best[["fast", "slow"]].tolist()
    assert res.windows.loc[2, "is_sharpe"] == alone.best["sharpe"]

    # out of sample: the chosen parameters from the train start (warm), test sessions only
    for i, w in plan.iterrows():
        params = {k: int(res.windows.loc[i, k]) for k in SPACE}
        perf = rustybt.run_algorithm(
            algorithm=SmaCross,
            bundle=small_bundle,
            start=w.train_start,
            end=w.test_end,
            params=params,
        )
        n = len(tested[i])
        oos = res.returns.loc[w.test_start : w.test_end].to_numpy()
        np.testing.assert_array_equal(oos, perf["returns"].to_numpy()[-n:])
        assert res.windows.loc[i, "oos_sharpe"] == pytest.approx(
            stats_from_returns(oos, 1.0, 0)["sharpe"], nan_ok=True
        )

    # the stitched curve and its statistics
    r = res.returns.to_numpy()
    assert res.equity.iloc[-1] == pytest.approx(1e6 * np.prod(1 + r))
    assert res.stats["total_return"] == pytest.approx(np.prod(1 + r) - 1)
    assert res.stats["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert res.stats["trades"] == res.windows["oos_trades"].sum()
    is_mean = res.windows["is_annual_return"].mean()
    expected = res.stats["annual_return"] / is_mean if is_mean > 0 else math.nan
    assert res.efficiency == pytest.approx(expected, nan_ok=True)
    per_window = res.windows["oos_annual_return"] / res.windows["is_annual_return"]
    per_window[res.windows["is_annual_return"] <= 0] = math.nan
    np.testing.assert_allclose(res.windows["efficiency"], per_window)

    for name, fig in (("eq", res.plot_equity()), ("params", res.plot_params())):
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    assert res.varying_params() == ["fast", "slow"]  # n_assets never varied

    back = WalkForwardResult.load(res.save(tmp_path / "wf"))
    pd.testing.assert_series_equal(back.returns, res.returns, check_names=False)
    assert back.efficiency == pytest.approx(res.efficiency, nan_ok=True)
    pd.testing.assert_frame_equal(back.searches[3].table[STATS], res.searches[3].table[STATS])


def test_cold_start_and_bayesian_inner_search(small_bundle):
    inner = BayesianSearch(
        SmaCross,
        {"fast": range(3, 9), "slow": range(10, 26), "n_assets": [5]},
        bundle=small_bundle,
        n_trials=4,
        seed=1,
        progress=False,
    )
    res = WalkForward(inner, train=50, test=30, warmup=0).run()
    assert len(res.windows) == 2
    for i, w in res.windows.iterrows():
        assert (res.searches[i].table["state"] == "complete").all()
        assert res.windows.loc[i, "fast"] == res.searches[i].best["fast"]
        perf = rustybt.run_algorithm(
            algorithm=SmaCross,
            bundle=small_bundle,
            start=w.test_start,
            end=w.test_end,
            params={k: int(w[k]) for k in ("fast", "slow", "n_assets")},
        )
        np.testing.assert_array_equal(
            res.returns.loc[w.test_start : w.test_end].to_numpy(), perf["returns"].to_numpy()
        )


def test_each_window_resumes_from_its_checkpoint(small_bundle, tmp_path):
    inner = RandomSearch(
        SmaCross,
        {"fast": range(3, 9), "slow": range(12, 30), "n_assets": [5]},
        bundle=small_bundle,
        n_trials=3,
        seed=4,
        progress=False,
        checkpoint=tmp_path / "ck.jsonl",
    )
    first = WalkForward(inner, train=60, test=30).run()
    files = sorted(p.name for p in tmp_path.glob("ck.window*.jsonl"))
    assert files == ["ck.window0.jsonl", "ck.window1.jsonl"]
    again = WalkForward(inner, train=60, test=30).run()
    for a, b in zip(first.searches, again.searches):
        # nothing ran again: even the timings are the checkpoint's
        pd.testing.assert_frame_equal(a.table[[*STATS, "seconds"]], b.table[[*STATS, "seconds"]])
    pd.testing.assert_series_equal(first.returns, again.returns)


def test_bad_walk_forward_input(small_bundle):
    g = _grid(small_bundle)
    with pytest.raises(InvalidRunParameters, match="overlap"):
        WalkForward(g, train=40, test=20, step=10)
    with pytest.raises(InvalidRunParameters, match="all be session counts"):
        WalkForward(g, train=40, test="1M")
    with pytest.raises(InvalidRunParameters, match="not a length"):
        WalkForward(g, train="12 parsecs", test="1M")
    with pytest.raises(InvalidRunParameters, match="no walk-forward window fits"):
        WalkForward(g, train=100, test=30).windows()
    with pytest.raises(InvalidRunParameters, match="GridSearch"):
        WalkForward("grid", train=40, test=20)
