"""Risk metrics equal empyrical-reloaded's (rtol 1e-10, atol 1e-12), NaN and inf included."""

from __future__ import annotations

import empyrical
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rustybt import _core
from rustybt.stats import stats_from_returns

returns_lists = st.one_of(
    st.lists(st.floats(-0.499, 0.499, allow_nan=False), min_size=0, max_size=300),
    st.integers(0, 50).map(lambda n: [0.01] * n),  # constant
    st.lists(st.floats(-0.499, -1e-6), min_size=1, max_size=100),  # all negative
    st.lists(st.floats(1e-6, 0.499), min_size=1, max_size=100),  # all positive: no downside
)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True)


@settings(max_examples=400, deadline=None)
@given(returns_lists)
# nearly constant: the standard deviation is all rounding, and only numpy's own summation
# order gives empyrical's (finite) Sharpe; a one-pass update gave inf
@example([1e-06, 1.0000000000000002e-06])
@example([1e-06] * 9 + [1.0000000000000002e-06] * 7)
def test_cumulative_metrics_match_empyrical(returns):
    r = np.asarray(returns, dtype=float)
    got = _core.cumulative_risk(r.tolist())
    n = len(r)
    assert all(len(v) == n for v in got.values())
    for i in ([n - 1] if n else []) + ([n // 2] if n > 2 else []):
        window = r[: i + 1]
        with np.errstate(all="ignore"):
            close(got["sharpe"][i], empyrical.sharpe_ratio(window))
            close(got["sortino"][i], empyrical.sortino_ratio(window))
            close(got["algo_volatility"][i], empyrical.annual_volatility(window))
            close(got["max_drawdown"][i], empyrical.max_drawdown(window))
            close(got["algorithm_period_return"][i], empyrical.cum_returns_final(window))


@settings(max_examples=300, deadline=None)
@given(returns_lists)
@example([1e-06, 1.0000000000000002e-06])
@example([1e-06] * 9 + [1.0000000000000002e-06] * 7)
def test_end_of_run_stats_match_empyrical(returns):
    r = np.asarray(returns, dtype=float)
    s = stats_from_returns(r, 1.0, 0)
    with np.errstate(all="ignore"):
        close(s["sharpe"], empyrical.sharpe_ratio(r) if len(r) > 1 else np.nan)
        close(s["annual_volatility"], empyrical.annual_volatility(r) if len(r) > 1 else np.nan)
        if len(r):
            close(s["total_return"], empyrical.cum_returns_final(r))
            close(s["max_drawdown"], empyrical.max_drawdown(r))
            close(s["cagr"], empyrical.cagr(r))
            close(s["sortino"], empyrical.sortino_ratio(r))


def test_metrics_on_a_real_run(small_bundle):
    import rustybt
    from rustybt.app.examples.sma_crossover import SmaCross

    perf = rustybt.run_algorithm(algorithm=SmaCross, bundle=small_bundle, params={"n_assets": 5})
    r = perf["returns"].to_numpy()
    close(perf["sharpe"].iloc[-1], empyrical.sharpe_ratio(r))
    close(perf["sortino"].iloc[-1], empyrical.sortino_ratio(r))
    close(perf["max_drawdown"].iloc[-1], empyrical.max_drawdown(r))
    close(perf["algo_volatility"].iloc[-1], empyrical.annual_volatility(r))
    assert perf["sharpe"].notna().sum() > 80  # NaN while returns are all zero (warm-up)
    with pytest.raises(TypeError):
        _core.cumulative_risk("not a list")
