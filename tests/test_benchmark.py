"""Benchmarks (set_benchmark, benchmark_returns, none), alpha/beta against empyrical,
metrics_set="none" and context.account."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rustybt
from rustybt import _core, reference
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import InvalidRunParameters, SetBenchmarkOutsideInitialize

RISK = ("algorithm_period_return", "algo_volatility", "sharpe", "sortino", "max_drawdown")
BENCH = ("alpha", "beta", "benchmark_period_return", "benchmark_volatility")


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True)


bounded = st.floats(-0.499, 0.499, allow_nan=False)
pairs = st.one_of(
    st.integers(0, 300).flatmap(
        lambda n: st.tuples(
            st.lists(bounded, min_size=n, max_size=n), st.lists(bounded, min_size=n, max_size=n)
        )
    ),
    # constant benchmark (zero variance: beta and alpha NaN), all-negative strategy
    st.integers(0, 40).map(lambda n: ([-0.01 - i * 1e-4 for i in range(n)], [0.002] * n)),
    # the strategy is the benchmark, levered: beta is the leverage
    st.lists(bounded, min_size=0, max_size=100).map(lambda b: ([1.5 * x for x in b], b)),
)


@settings(max_examples=400, deadline=None)
@given(pairs)
def test_benchmark_metrics_match_empyrical(pair):
    r, b = (np.asarray(x, dtype=float) for x in pair)
    got = _core.cumulative_benchmark_risk(r.tolist(), b.tolist())
    n = len(r)
    assert all(len(v) == n for v in got.values())
    for i in ([n - 1] if n else []) + ([n // 2] if n > 2 else []):
        rw, bw = r[: i + 1], b[: i + 1]
        with np.errstate(all="ignore"):
            alpha, beta = empyrical.alpha_beta_aligned(rw, bw)
            close(got["beta"][i], beta)
            close(got["alpha"][i], alpha)
            close(got["benchmark_volatility"][i], empyrical.annual_volatility(bw))
            close(got["benchmark_period_return"][i], empyrical.cum_returns_final(bw))


def test_benchmark_lengths_must_agree():
    with pytest.raises(ValueError, match="returns has 2 periods but benchmark has 1"):
        _core.cumulative_benchmark_risk([0.1, 0.2], [0.1])


class _Small(SmaCross):
    n_assets = 5


class _Benchmarked(_Small):
    benchmark_symbol = "S001"

    def initialize(self, context):
        super().initialize(context)
        self.set_benchmark(self.symbol(self.benchmark_symbol))


def _daily_closes(bundle, symbol: str) -> pd.Series:
    daily = pd.Series(bundle._core._session_closes(bundle.symbol(symbol).sid), bundle.sessions)
    return daily


def test_set_benchmark_measures_against_the_asset(small_bundle):
    perf = rustybt.run_algorithm(
        algorithm=_Benchmarked, bundle=small_bundle, params={"n_assets": 5}
    )
    closes = _daily_closes(small_bundle, "S001")
    expected_b = closes.pct_change().to_numpy().copy()
    # the asset starts on the run's first session: zipline takes its open-to-close return
    sid = small_bundle.symbol("S001").sid
    first_open = small_bundle._core.history("open", [sid], 0, 1)[0, 0]
    expected_b[0] = closes.iloc[0] / first_open - 1.0
    expected_b = expected_b[-len(perf) :]
    np.testing.assert_allclose(
        perf["benchmark_period_return"].to_numpy(), np.cumprod(1 + expected_b) - 1, rtol=1e-12
    )
    r = perf["returns"].to_numpy()
    alpha, beta = empyrical.alpha_beta_aligned(r, expected_b)
    close(perf["beta"].iloc[-1], beta)
    close(perf["alpha"].iloc[-1], alpha)
    close(perf["benchmark_volatility"].iloc[-1], empyrical.annual_volatility(expected_b))
    assert 0.0 < abs(beta) < 5.0  # an SMA book of the same synthetic market co-moves
    # Results.stats carry the run's alpha and beta
    res = rustybt.backtest(algorithm=_Benchmarked, bundle=small_bundle, params={"n_assets": 5})
    close(res.stats["alpha"].iloc[0], alpha)
    close(res.stats["beta"].iloc[0], beta)
    # the reference engine produces the same frame
    ref = reference.run_algorithm(
        algorithm=_Benchmarked, bundle=small_bundle, params={"n_assets": 5}
    )
    for col in (*BENCH, *RISK):
        np.testing.assert_array_equal(ref[col].to_numpy(), perf[col].to_numpy())


def test_benchmark_returns_series(small_bundle):
    sessions = small_bundle.sessions
    rng = np.random.default_rng(7)
    series = pd.Series(rng.normal(0, 0.01, len(sessions)), index=sessions)
    perf = rustybt.run_algorithm(
        algorithm=_Small,
        bundle=small_bundle,
        params={"n_assets": 5},
        benchmark_returns=series,
    )
    assert len(perf) == len(sessions)
    b = series.to_numpy()
    alpha, beta = empyrical.alpha_beta_aligned(perf["returns"].to_numpy(), b)
    close(perf["beta"].iloc[-1], beta)
    close(perf["alpha"].iloc[-1], alpha)
    # naive (exchange-date) indexes are accepted too
    tz = series.copy()
    tz.index = tz.index.tz_localize(None)
    perf_tz = rustybt.run_algorithm(
        algorithm=_Small, bundle=small_bundle, params={"n_assets": 5}, benchmark_returns=tz
    )
    np.testing.assert_array_equal(perf_tz["beta"].to_numpy(), perf["beta"].to_numpy())


def test_benchmark_returns_must_cover_the_run(small_bundle):
    sessions = small_bundle.sessions
    short = pd.Series(0.001, index=sessions[:-3])
    with pytest.raises(InvalidRunParameters, match=f"first {sessions[-3].date()}"):
        rustybt.run_algorithm(
            algorithm=_Small, bundle=small_bundle, params={"n_assets": 5}, benchmark_returns=short
        )
    with pytest.raises(InvalidRunParameters, match="must be a pandas Series"):
        rustybt.run_algorithm(algorithm=_Small, bundle=small_bundle, benchmark_returns=[0.01, 0.02])


def test_no_benchmark_is_zero_returns(small_bundle):
    perf = rustybt.run_algorithm(algorithm=_Small, bundle=small_bundle, params={"n_assets": 5})
    assert (perf["benchmark_period_return"] == 0.0).all()
    assert perf["alpha"].isna().all() and perf["beta"].isna().all()
    assert perf["benchmark_volatility"].iloc[1:].eq(0.0).all()


def test_set_benchmark_errors(small_bundle):
    class Late(_Small):
        def handle_data(self, context, data):
            self.set_benchmark(self.symbol("S000"))

    # rustybt's own errors pass through unwrapped, as zipline raises them
    with pytest.raises(SetBenchmarkOutsideInitialize, match="only be called in initialize"):
        rustybt.run_algorithm(algorithm=Late, bundle=small_bundle)

    class Bad(_Small):
        def initialize(self, context):
            self.set_benchmark("S000")

    with pytest.raises(InvalidRunParameters, match="set_benchmark expects an Asset"):
        rustybt.run_algorithm(algorithm=Bad, bundle=small_bundle)


def test_function_style_set_benchmark(small_bundle):
    from rustybt.api import order_target_percent, set_benchmark, symbol

    def initialize(context):
        set_benchmark(symbol("S002"))
        context.asset = symbol("S000")

    def handle_data(context, data):
        order_target_percent(context.asset, 0.5)

    perf = rustybt.run_algorithm(
        initialize=initialize, handle_data=handle_data, bundle=small_bundle
    )
    closes = _daily_closes(small_bundle, "S002")
    # from the first session's open (the asset starts there) to the last close
    first_open = small_bundle._core.history("open", [small_bundle.symbol("S002").sid], 0, 1)[0, 0]
    expected = closes.iloc[-1] / first_open - 1.0
    assert perf["benchmark_period_return"].iloc[-1] == pytest.approx(expected, rel=1e-12)
    assert perf["beta"].iloc[-1] == perf["beta"].iloc[-1]  # a number, not NaN


def test_metrics_set_none_skips_risk_columns(small_bundle):
    full = rustybt.run_algorithm(algorithm=_Benchmarked, bundle=small_bundle)
    lean = rustybt.run_algorithm(algorithm=_Benchmarked, bundle=small_bundle, metrics_set="none")
    for col in (*RISK, *BENCH):
        assert col in full
        assert col not in lean
    pd.testing.assert_series_equal(lean["portfolio_value"], full["portfolio_value"])
    ref = reference.run_algorithm(algorithm=_Benchmarked, bundle=small_bundle, metrics_set="none")
    assert sorted(ref.columns) == sorted(lean.columns)
    res = rustybt.backtest(algorithm=_Benchmarked, bundle=small_bundle, metrics_set="none")
    assert res.stats["sharpe"].iloc[0] == pytest.approx(full["sharpe"].iloc[-1], rel=1e-12)
    assert math.isnan(res.stats["beta"].iloc[0])
    with pytest.raises(InvalidRunParameters, match="metrics_set must be one of 'default', 'none'"):
        rustybt.run_algorithm(algorithm=_Small, bundle=small_bundle, metrics_set="fast")


def test_context_account_follows_the_portfolio(small_bundle):
    seen = []

    class Watch(_Small):
        def handle_data(self, context, data):
            super().handle_data(context, data)
            seen.append((context.portfolio, context.account))

    rustybt.run_algorithm(algorithm=Watch, bundle=small_bundle, params={"n_assets": 5})
    held = [(p, a) for p, a in seen if p.positions]
    assert held, "the strategy should hold something at some point"
    for p, a in seen:
        assert a.settled_cash == p.cash == a.available_funds
        assert a.net_liquidation == p.portfolio_value == a.equity_with_loan
        assert a.total_positions_value == p.positions_value
        assert a.buying_power == math.inf and a.accrued_interest == 0.0
        gross = sum(abs(q.amount * q.last_sale_price) for q in p.positions.values())
        assert a.leverage == pytest.approx(gross / p.portfolio_value)
        assert a.cushion == pytest.approx(p.cash / p.portfolio_value)
    p, a = held[-1]
    assert a.leverage > 0
