"""rustybt.backtest -> Results: statistics, round trips, save/load."""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rustybt
from rustybt.app.cli import main
from rustybt.finance import commission, slippage
from rustybt.results import STATS, TRIP_COLUMNS, Results, round_trips
from rustybt.runner import run_trial
from rustybt.stats import stats_from_perf


class SwingAndExit(rustybt.TradingAlgorithm):
    """Trades S000 on and off, and is flat by the end: round trips hold all the P&L."""

    def initialize(self, context):
        self.set_slippage(slippage.NoSlippage())
        self.set_commission(commission.PerShare(cost=0.01, min_trade_cost=0))
        context.a = self.symbol("S000")
        context.i = 0

    def handle_data(self, context, data):
        context.i += 1
        last = context.i >= 120  # the run has 124 sessions: the final exit fills before the end
        self.order_target(context.a, 0 if last or context.i % 10 >= 5 else 100 + context.i)


def test_stats_round_trips_and_metadata(small_bundle):
    res = rustybt.backtest(algorithm=SwingAndExit, bundle=small_bundle, capital_base=100_000)
    assert list(res.stats.columns) == list(STATS)
    s = res.stats.iloc[0]
    r = res.perf["returns"].to_numpy()
    np.testing.assert_allclose(s["omega"], empyrical.omega_ratio(r), rtol=1e-10)
    np.testing.assert_allclose(s["tail_ratio"], empyrical.tail_ratio(r), rtol=1e-10)
    np.testing.assert_allclose(s["var_95"], empyrical.value_at_risk(r), rtol=1e-10)
    np.testing.assert_allclose(s["cvar_95"], empyrical.conditional_value_at_risk(r), rtol=1e-10)
    np.testing.assert_allclose(s["max_drawdown"], empyrical.max_drawdown(r), rtol=1e-10)
    assert res.perf["positions"].iloc[-1] == []
    # flat at the end: the round trips (commissions included) are the whole P&L
    total = res.round_trips["pnl"].sum()
    assert total == pytest.approx(res.perf["portfolio_value"].iloc[-1] - 100_000, abs=1e-6)
    assert s["trades"] == len(res.round_trips) > 5
    assert 0 < s["win_rate"] < 1
    assert 0 < s["exposure_time"] < 1
    assert res.metadata["bundle"] == "small"
    assert res.metadata["content_hash"] == small_bundle.content_hash
    assert "sharpe" in res._repr_html_()


def test_save_load_and_cli_out(small_bundle, tmp_path):
    res = rustybt.backtest(algorithm=SwingAndExit, bundle=small_bundle)
    back = Results.load(res.save(tmp_path / "r"))
    assert back.stats.equals(res.stats)
    assert back.metadata == res.metadata
    assert len(back.round_trips) == len(res.round_trips)
    np.testing.assert_array_equal(back.perf["portfolio_value"], res.perf["portfolio_value"])
    strat = tmp_path / "s.py"
    strat.write_text(
        "from tests.test_results import SwingAndExit as _S\n\nclass Swing(_S):\n    pass\n"
    )
    assert main(["run", str(strat), "--bundle", "small", "--out", str(tmp_path / "cli-res")]) == 0
    assert Results.load(tmp_path / "cli-res").stats.iloc[0]["trades"] > 0


# -- round trips and the sweep's trial path ----------------------------------------------


def _python_fifo(fills):
    """Plain-Python FIFO matching, the oracle of ``_core.fifo_round_trips``: ``fills`` are
    ``(symbol, amount, price, commission)``; trips as ``(symbol, open, close, shares,
    entry, exit, pnl)``, symbols sorted, each one's trips in time order."""
    by_symbol: dict[str, list] = {}
    for i, fill in enumerate(fills):
        by_symbol.setdefault(fill[0], []).append((i, *fill[1:]))
    out = []
    for symbol in sorted(by_symbol):
        lots: list = []  # [shares (signed), price, fee per share, fill index]
        for i, amount, price, fees in by_symbol[symbol]:
            remaining = amount
            fee = fees / abs(amount) if amount else 0.0
            while remaining and lots and (lots[0][0] > 0) != (remaining > 0):
                lot = lots[0]
                closed = min(abs(remaining), abs(lot[0]))
                sign = 1 if lot[0] > 0 else -1
                pnl = (price - lot[1]) * closed * sign - (lot[2] + fee) * closed
                out.append((symbol, lot[3], i, closed * sign, lot[1], price, pnl))
                lot[0] -= closed * sign
                remaining += closed * sign
                if lot[0] == 0:
                    lots.pop(0)
            if remaining:
                lots.append([remaining, price, fee, i])
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["B", "A", "C"]),
            st.integers(-500, 500),
            st.floats(0.01, 1e4, allow_nan=False),
            st.floats(0.0, 50.0, allow_nan=False),
        ),
        max_size=60,
    )
)
def test_round_trips_match_a_plain_python_fifo(fills):
    """``results.round_trips`` (the engine's matcher) agrees with the oracle bit for bit:
    same trips, same order, same float pnl."""
    frame = pd.DataFrame(
        {
            "dt": pd.date_range("2022-01-03", periods=len(fills), tz="UTC"),
            "symbol": [f[0] for f in fills],
            "amount": pd.array([f[1] for f in fills], dtype="int64"),
            "price": [f[2] for f in fills],
            "commission": [f[3] for f in fills],
        }
    )
    got = round_trips(frame)
    want = _python_fifo(fills)
    assert list(got.columns) == TRIP_COLUMNS
    assert len(got) == len(want)
    dts = frame["dt"]
    for row, (symbol, opened, closed, shares, entry, exit_, pnl) in zip(
        got.itertuples(index=False), want
    ):
        assert row.symbol == symbol
        assert (row.open_dt, row.close_dt) == (dts[opened], dts[closed])
        assert (row.shares, row.entry, row.exit) == (shares, entry, exit_)
        assert row.pnl == pnl  # exact: the same float operations in the same order


class RandomLongShort(rustybt.TradingAlgorithm):
    """Seeded random targets, long and short, across every asset; commissions on."""

    seed = 0

    def initialize(self, context):
        self.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
        context.rng = np.random.default_rng(self.seed)
        context.assets = self.symbols(*[f"S{i:03d}" for i in range(5)])
        if self.seed % 2:
            self.set_benchmark(context.assets[0])

    def handle_data(self, context, data):
        for asset in context.assets:
            if context.rng.random() < 0.3:
                self.order_target(asset, int(context.rng.integers(-300, 301)))


@pytest.mark.parametrize("ledger", ["decimal", "float"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("metrics_set", ["default", "none"])
def test_run_trial_equals_stats_of_the_perf_frame(small_bundle, ledger, seed, metrics_set):
    """A sweep's trial (no perf frame) reports exactly what ``stats_from_perf`` reads
    from the full run: every statistic, the fills, and the returns."""
    kwargs = dict(
        algorithm=RandomLongShort,
        params={"seed": seed},
        bundle=small_bundle,
        capital_base=100_000,
        ledger=ledger,
        metrics_set=metrics_set,
    )
    perf = rustybt.run_algorithm(**kwargs)
    want = stats_from_perf(perf)
    got, returns = run_trial(**kwargs)
    assert list(got) == [*STATS, "fills"]
    assert want["fills"] > 50 and want["trades"] > 20
    if seed % 2 and metrics_set == "default":
        assert np.isfinite(want["alpha"]) and np.isfinite(want["beta"])
    for name in want:
        assert got[name] == want[name] or (np.isnan(got[name]) and np.isnan(want[name])), name
    np.testing.assert_array_equal(returns, perf["returns"].to_numpy())


def test_run_trial_builds_the_perf_frame_for_analyze(small_bundle):
    """A strategy with ``analyze`` still gets its perf frame inside a trial."""
    seen = []

    class WithAnalyze(RandomLongShort):
        def analyze(self, context, perf):
            seen.append(len(perf))

    got, returns = run_trial(algorithm=WithAnalyze, bundle=small_bundle, params={"seed": 1})
    assert seen == [len(returns)] and got["fills"] > 0
