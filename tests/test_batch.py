"""The batch runner equals the event-driven engine on the same target weights."""

from __future__ import annotations

import numpy as np
import pytest

import rustybt
from rustybt.errors import InvalidRunParameters
from rustybt.finance import commission, slippage


def _event_driven(bundle, matrix, symbols, ledger, kind="weights", costs=None):
    class FromMatrix(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.assets = self.symbols(*symbols)
            if costs:
                self.set_slippage(costs[0])
                self.set_commission(costs[1])

        def handle_data(self, context, data):
            row = matrix[data.current_bar - data_first[0]]
            for asset, v in zip(context.assets, row):
                if np.isnan(v):
                    continue
                if kind == "weights":
                    self.order_target_percent(asset, float(v))
                else:
                    self.order(asset, float(v))

    data_first = [int(bundle._core.session_first_bar()[0])]
    return rustybt.run_algorithm(
        algorithm=FromMatrix, bundle=bundle, capital_base=1e6, ledger=ledger
    )


@pytest.mark.parametrize("ledger", ["decimal", "float"])
def test_batch_matches_event_driven_to_the_last_digit(small_bundle, ledger):
    rng = np.random.default_rng(11)
    n_bars = len(small_bundle.sessions)
    symbols = ["S000", "S002", "S004"]
    mats = []
    for _ in range(4):
        w = rng.uniform(0, 0.3, size=(n_bars, 3)).round(3)
        w[rng.random((n_bars, 3)) < 0.3] = np.nan  # no order on those bars
        mats.append(w)
    res = rustybt.run_batch(small_bundle, weights=mats, assets=symbols, ledger=ledger, perf=True)
    assert res.stats["error"].isna().all()
    for i, m in enumerate(mats):
        perf = _event_driven(small_bundle, m, symbols, ledger)
        exact = perf.attrs["rustybt"]["exact"]["portfolio_value"]
        assert res.stats["exact_final_value"][i] == exact[-1]
        np.testing.assert_array_equal(
            res.portfolio_value[i].to_numpy(), perf["portfolio_value"].to_numpy()
        )
        np.testing.assert_array_equal(res.returns[i].to_numpy(), perf["returns"].to_numpy())
        assert res.stats["fills"][i] == perf["transactions"].map(len).sum()
        assert res.stats["sharpe"][i] == perf["sharpe"].iloc[-1]


def test_order_quantities_and_costs(small_bundle):
    n_bars = len(small_bundle.sessions)
    q = np.zeros((n_bars, 2))
    q[::7, 0] = 10
    q[3::11, 1] = -4
    costs = (slippage.VolumeShareSlippage(0.05, 0.2), commission.PerTrade(1.5))
    res = rustybt.run_batch(
        small_bundle, orders=q, assets=["S001", "S003"], slippage=costs[0], commission=costs[1]
    )
    perf = _event_driven(small_bundle, q, ["S001", "S003"], "decimal", kind="orders", costs=costs)
    assert (
        res.stats["exact_final_value"][0] == perf.attrs["rustybt"]["exact"]["portfolio_value"][-1]
    )


def test_a_failing_run_does_not_stop_the_others(small_bundle):
    n_bars = len(small_bundle.sessions)
    good = np.full((n_bars, 1), 0.5)
    bad = np.full((n_bars, 1), 1e-30)  # not representable exactly: refused
    res = rustybt.run_batch(small_bundle, weights=[good, bad, good], assets=["S000"])
    assert res.stats["error"][1] is not None
    assert "matrix value" in res.stats["error"][1]
    assert res.stats["error"][[0, 2]].isna().all()
    assert res.stats["final_portfolio_value"][0] == res.stats["final_portfolio_value"][2]


def test_bad_batch_input(small_bundle):
    with pytest.raises(InvalidRunParameters, match="exactly one of"):
        rustybt.run_batch(small_bundle)
    with pytest.raises(InvalidRunParameters, match=r"weights\[0\] has shape \(3, 1\)"):
        rustybt.run_batch(small_bundle, weights=[np.zeros((3, 1))], assets=["S000"])


def test_fortran_ordered_matrices_read_as_their_values(small_bundle):
    """A Fortran-ordered matrix passed straight to ``_core.run_batch`` is read by value,
    not by its memory order."""
    import numpy as np

    from rustybt import _core

    bundle = small_bundle
    n_bars = len(bundle.bar_times)
    rng = np.random.default_rng(3)
    w = rng.uniform(0.0, 0.3, size=(n_bars, 2))
    c = _core.run_batch(
        bundle._core, [np.ascontiguousarray(w)], 0, len(bundle.sessions) - 1, [0, 1]
    )
    f = _core.run_batch(bundle._core, [np.asfortranarray(w)], 0, len(bundle.sessions) - 1, [0, 1])
    assert c["exact_final_value"] == f["exact_final_value"]
