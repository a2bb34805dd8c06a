"""rustybt.backtest -> Results: statistics, round trips, save/load."""

from __future__ import annotations

import empyrical
import numpy as np
import pytest

import rustybt
from rustybt.cli import main
from rustybt.finance import commission, slippage
from rustybt.results import STATS, Results


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
