"""Class style and zipline function style run the same engine; context is the algorithm."""

from __future__ import annotations

import pandas as pd
import pytest

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross


def test_params_override_class_attributes_for_one_run(small_bundle):
    base = dict(algorithm=SmaCross, bundle=small_bundle, capital_base=1e6)
    a = rustybt.run_algorithm(params={"n_assets": 5}, **base)
    b = rustybt.run_algorithm(params={"n_assets": 5, "fast": 12}, **base)
    c = rustybt.run_algorithm(params={"n_assets": 5}, **base)
    assert SmaCross.fast == 10  # the class is untouched
    pd.testing.assert_series_equal(a["portfolio_value"], c["portfolio_value"])
    assert not a["portfolio_value"].equals(b["portfolio_value"])


def test_context_is_the_algorithm(hand_bundle):
    seen = []

    class Ctx(rustybt.TradingAlgorithm):
        def initialize(self, context):
            seen.append(context is self)
            context.counter = 0

        def handle_data(self, context, data):
            context.counter += 1

        def analyze(self, context, perf):
            seen.append(context.counter)

    algo = Ctx()
    rustybt.run_algorithm(algorithm=algo, bundle=hand_bundle)
    assert seen == [True, 5]
    assert algo.counter == 5


def test_zipline_function_style_with_positional_signature(hand_bundle):
    from rustybt.api import order_target_percent, record, symbol

    def initialize(context):
        context.asset = symbol("AAA")

    def handle_data(context, data):
        order_target_percent(context.asset, 0.5)
        record(price=data.current(context.asset, "price"))

    perf = rustybt.run_algorithm(
        "2022-01-03", "2022-01-07", initialize, 10_000, handle_data=handle_data, bundle="hand3"
    )
    assert perf["price"].tolist() == [10, 11, 12, 13, 14]
    # 0.5 * 10000 / 10 = 500 shares ordered at bar 0, filled at bar 1 (volume cap 100/bar)
    first_fill = perf["transactions"].iloc[1][0]
    assert first_fill["amount"] == 100  # 10% of the bar's 1000 shares
    assert perf["positions"].iloc[-1][0]["amount"] > 0


def test_class_and_function_style_give_identical_results(small_bundle):
    from rustybt.api import order_target_percent, symbols

    def initialize(context):
        context.assets = symbols("S000", "S001")
        context.i = 0

    def handle_data(context, data):
        context.i += 1
        w = 0.5 if context.i % 7 < 3 else 0.0
        for a in context.assets:
            order_target_percent(a, w)

    class Same(rustybt.TradingAlgorithm):
        def initialize(self, context):
            initialize(context)

        def handle_data(self, context, data):
            handle_data(context, data)

    f = rustybt.run_algorithm(initialize=initialize, handle_data=handle_data, bundle=small_bundle)
    c = rustybt.run_algorithm(algorithm=Same, bundle=small_bundle)
    assert (
        f.attrs["rustybt"]["exact"]["portfolio_value"]
        == c.attrs["rustybt"]["exact"]["portfolio_value"]
    )


def test_perf_frame_has_zipline_columns(small_bundle):
    perf = rustybt.run_algorithm(algorithm=SmaCross, bundle=small_bundle, params={"n_assets": 5})
    for col in (
        "portfolio_value",
        "returns",
        "pnl",
        "capital_used",
        "ending_cash",
        "starting_cash",
        "orders",
        "transactions",
        "positions",
        "gross_leverage",
        "algorithm_period_return",
        "sharpe",
        "sortino",
        "max_drawdown",
        "algo_volatility",
        "period_open",
        "period_close",
        "invested",
    ):
        assert col in perf.columns, col
    assert isinstance(perf.index, pd.DatetimeIndex) and str(perf.index.tz) == "UTC"
    assert len(perf) == len(small_bundle.sessions)
    # every session's transactions list holds dicts with zipline's keys
    txn = next(t for ts in perf["transactions"] for t in ts)
    assert {"amount", "dt", "price", "order_id", "sid", "commission"} <= set(txn)


def test_portfolio_capital_used_is_zipline_s_cumulative_cash_flow(small_bundle):
    """``context.portfolio.capital_used`` is cash minus the capital base, the sign of the
    perf frame's per-session column (it had the opposite sign)."""
    seen = []

    class Watch(SmaCross):
        def analyze(self, context, perf):
            seen.append(context.portfolio.capital_used)

    perf = rustybt.run_algorithm(algorithm=Watch, bundle=small_bundle, params={"n_assets": 5})
    assert perf["capital_used"].sum() < 0  # it bought
    assert seen[0] == pytest.approx(perf["capital_used"].sum(), rel=1e-9)
