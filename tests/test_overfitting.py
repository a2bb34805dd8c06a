"""Deflated Sharpe ratio and PBO (CSCV): known answers, hand computations, and the
statistics of a real sweep kept with ``keep_returns=True``."""

from __future__ import annotations

import itertools
import math
import statistics
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import InvalidRunParameters
from rustybt.optimize import (
    GridSearch,
    SearchResult,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)

GAMMA = 0.5772156649015329


def test_the_papers_numerical_example():
    # Bailey & Lopez de Prado (2014): annualised SR 2.5 over 5 years of daily returns, 100
    # trials with annualised Sharpe variance 1/2, skew -3, kurtosis 10 -> E[max] 0.1132 a
    # day and DSR 0.9004.
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_deflated_sharpe_matches_a_hand_computation():
    rng = np.random.default_rng(3)
    r = rng.standard_t(5, size=300) * 0.01 + 0.001
    sharpes = [0.01, 0.05, -0.02, 0.08, 0.03, 0.0, 0.04]
    got = deflated_sharpe_ratio(r, trial_sharpes=sharpes)
    # by hand, with the standard library only
    x = [float(v) for v in r]
    n, mean = len(x), statistics.fmean(x)
    sr = mean / statistics.stdev(x)
    m2 = sum((v - mean) ** 2 for v in x) / n
    skew = sum((v - mean) ** 3 for v in x) / n / m2**1.5
    kurt = sum((v - mean) ** 4 for v in x) / n / m2**2
    z = NormalDist().inv_cdf
    n_trials = len(sharpes)
    e_max = math.sqrt(statistics.variance(sharpes)) * (
        (1 - GAMMA) * z(1 - 1 / n_trials) + GAMMA * z(1 - 1 / (n_trials * math.e))
    )
    dsr = NormalDist().cdf(
        (sr - e_max) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    psr = NormalDist().cdf(
        sr * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    assert got.sharpe == pytest.approx(sr, rel=1e-12)
    assert got.skew == pytest.approx(skew, rel=1e-9)
    assert got.kurtosis == pytest.approx(kurt, rel=1e-9)
    assert got.expected_max_sharpe == pytest.approx(e_max, rel=1e-9)
    assert got.dsr == pytest.approx(dsr, rel=1e-9)
    assert got.psr == pytest.approx(psr, rel=1e-9)
    assert got.n_trials == 7 and got.n_obs == 300
    assert got.sharpe_annualised == pytest.approx(sr * math.sqrt(252))


def test_more_trials_deflate_more():
    r = np.random.default_rng(5).normal(0.001, 0.01, size=500)
    one = deflated_sharpe_ratio(r, n_trials=1, sharpe_variance=0.001)
    assert one.dsr == pytest.approx(one.psr)  # nothing selected: DSR is PSR against 0
    dsrs = [
        deflated_sharpe_ratio(r, n_trials=n, sharpe_variance=0.001).dsr for n in (2, 10, 100, 1000)
    ]
    assert all(a > b for a, b in itertools.pairwise([one.dsr, *dsrs]))
    with pytest.raises(InvalidRunParameters, match="trial_sharpes"):
        deflated_sharpe_ratio(r)


def test_pbo_of_pure_noise_is_about_one_half():
    # With N skill-less strategies the IS-best lands on a uniform OOS rank, so the share of
    # ranks at or below the median is floor(N/2)/N; averaged over many noise panels.
    n = 20
    pbos = [
        probability_of_backtest_overfitting(
            np.random.default_rng(seed).normal(0, 0.01, size=(480, n)), blocks=6
        ).pbo
        for seed in range(40)
    ]
    assert np.mean(pbos) == pytest.approx((n // 2) / n, abs=0.08)


def test_pbo_of_a_real_edge_is_low():
    r = np.random.default_rng(11).normal(0, 0.01, size=(1000, 30))
    r[:, 7] += 0.003  # one strategy with a daily Sharpe of 0.3
    res = probability_of_backtest_overfitting(r, blocks=10)
    assert res.n_combinations == math.comb(10, 5) == len(res.logits)
    assert res.pbo < 0.05
    assert np.median(res.logits) > 2
    assert res.prob_oos_loss < 0.05


def _two_block_panel(direction: int) -> np.ndarray:
    """Five strategies over two blocks of 10 rows: in block 0 strategy j earns 0.1·j, in
    block 1 ``direction``·0.1·j, each plus the same ±0.5 alternation (same dispersion)."""
    wiggle = np.tile([0.5, -0.5], 5)[:, None]
    j = np.arange(5)[None, :] * 0.1
    return np.vstack([wiggle + j, wiggle + direction * j])


def test_pbo_is_one_when_the_in_sample_best_is_always_the_worst():
    res = probability_of_backtest_overfitting(_two_block_panel(-1), blocks=2)
    assert res.n_combinations == 2
    assert res.pbo == 1.0
    np.testing.assert_allclose(res.logits, [math.log(1 / 5)] * 2)  # rank 1 of 5: w = 1/6


def test_pbo_is_zero_when_the_in_sample_best_stays_best():
    res = probability_of_backtest_overfitting(_two_block_panel(+1), blocks=2)
    assert res.pbo == 0.0
    np.testing.assert_allclose(res.logits, [math.log(5)] * 2)  # rank 5 of 5: w = 5/6


def _cscv_by_hand(m: np.ndarray, s: int, score) -> list[float]:
    t, n = m.shape
    size = t // s
    m = m[t - size * s :]
    blocks = [m[i * size : (i + 1) * size] for i in range(s)]
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        ins = np.vstack([blocks[i] for i in combo])
        outs = np.vstack([blocks[i] for i in range(s) if i not in combo])
        is_scores = [score(ins[:, k]) for k in range(n)]
        best = max(range(n), key=lambda k: (is_scores[k], -k))
        oos = [score(outs[:, k]) for k in range(n)]
        rank = sum(v < oos[best] for v in oos) + (1 + sum(v == oos[best] for v in oos)) / 2
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    return logits


@pytest.mark.parametrize("metric", ["sharpe", "mean", "callable"])
def test_pbo_matches_a_loop_over_the_combinations(metric):
    m = np.random.default_rng(2).normal(0.0005, 0.01, size=(203, 7))  # 203 = 8·25 + 3 dropped
    if metric == "sharpe":
        score, arg = (lambda c: statistics.fmean(c) / statistics.stdev(c)), None
    elif metric == "mean":
        score, arg = statistics.fmean, "mean"
    else:
        score = lambda c: float(np.median(c))  # noqa: E731
        arg = lambda block: np.median(block, axis=0)  # noqa: E731
    res = probability_of_backtest_overfitting(m, blocks=8, metric=arg)
    expected = _cscv_by_hand(m, 8, score)
    np.testing.assert_allclose(res.logits, expected, rtol=1e-9)
    assert res.pbo == pytest.approx(np.mean(np.array(expected) <= 0))


def test_pbo_rejects_bad_input():
    m = np.zeros((100, 4))
    with pytest.raises(InvalidRunParameters, match="even"):
        probability_of_backtest_overfitting(m, blocks=5)
    with pytest.raises(InvalidRunParameters, match="blocks of at least 2"):
        probability_of_backtest_overfitting(m[:10], blocks=8)
    with pytest.raises(InvalidRunParameters, match="2 trials"):
        probability_of_backtest_overfitting(m[:, :1])
    m[3, 2] = np.nan
    with pytest.raises(InvalidRunParameters, match="NaN"):
        probability_of_backtest_overfitting(m)


def test_a_sweep_keeps_its_returns_and_judges_itself(small_bundle, tmp_path):
    space = {"fast": [3, 5, 8], "slow": [15, 25], "n_assets": [5]}
    res = GridSearch(SmaCross, space, bundle=small_bundle, keep_returns=True, progress=False).run()
    assert list(res.returns.columns) == list(res.table["trial"])
    assert res.returns.index.equals(small_bundle.sessions)
    assert "_returns" not in res.table
    # a column is that trial's perf["returns"]
    row = res.table.iloc[4]
    perf = rustybt.run_algorithm(
        algorithm=SmaCross,
        bundle=small_bundle,
        params={k: row[k] for k in space},
    )
    np.testing.assert_array_equal(res.returns[row["trial"]].to_numpy(), perf["returns"].to_numpy())
    # the sweep's DSR is the formula on the best trial, with every trial's Sharpe
    dsr = res.deflated_sharpe()
    sharpes = res.returns.mean() / res.returns.std(ddof=1)
    best = res.returns[res.best["trial"]]
    assert dsr.n_trials == 6
    assert dsr.sharpe_annualised == pytest.approx(res.best["sharpe"], rel=1e-9)
    assert dsr.dsr == pytest.approx(
        deflated_sharpe_ratio(best.to_numpy(), trial_sharpes=sharpes.to_numpy()).dsr
    )
    assert dsr.dsr < dsr.psr  # selection out of 6 costs something
    pbo = res.pbo(blocks=4)
    assert pbo.n_combinations == 6 and 0.0 <= pbo.pbo <= 1.0
    back = SearchResult.load(res.save(tmp_path / "saved"))
    pd.testing.assert_frame_equal(back.returns, res.returns, check_freq=False)
    assert back.pbo(blocks=4).pbo == pbo.pbo
    with pytest.raises(InvalidRunParameters, match="keep_returns"):
        GridSearch(
            SmaCross, space, bundle=small_bundle, progress=False, end="2022-02-28"
        ).run().pbo()
