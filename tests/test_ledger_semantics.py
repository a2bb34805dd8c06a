"""Splits, dividends, auto-close of ended assets, and zipline's trading controls."""

from __future__ import annotations

import logging
import math
from decimal import Decimal

import pytest

import rustybt
from rustybt import exact_column
from rustybt.errors import (
    AccountControlViolation,
    CannotOrderDelistedAsset,
    RegisterTradingControlPostInit,
    TradingControlViolation,
)
from rustybt.finance import commission, slippage

HEADER = "date,open,high,low,close,volume,dividend,split"


@pytest.fixture(scope="module")
def events_bundle(tmp_path_factory):
    """AAA splits 2-for-1 and CCC 3-for-2 on Jan 5th, BBB pays 0.5 that day, DDD's data
    ends on Jan 5th."""
    root = tmp_path_factory.mktemp("events")
    d = root / "daily"
    d.mkdir()
    files = {
        "AAA": [
            "2022-01-03,100,101,99,100,1000,0,1",
            "2022-01-04,100,101,99,100,1000,0,1",
            "2022-01-05,50,51,49,50,1000,0,2",
            "2022-01-06,51,52,50,51,1000,0,1",
            "2022-01-07,52,53,51,52,1000,0,1",
        ],
        "BBB": [
            "2022-01-03,20,21,19,20,1000,0,1",
            "2022-01-04,20,21,19,20,1000,0,1",
            "2022-01-05,20,21,19,20,1000,0.5,1",
            "2022-01-06,20,21,19,20,1000,0,1",
            "2022-01-07,20,21,19,20,1000,0,1",
        ],
        "CCC": [
            "2022-01-03,30,31,29,30,1000,0,1",
            "2022-01-04,30,31,29,30,1000,0,1",
            "2022-01-05,20,21,19,20,1000,0,1.5",
            "2022-01-06,20,21,19,20,1000,0,1",
            "2022-01-07,20,21,19,20,1000,0,1",
        ],
        "DDD": [
            "2022-01-03,10,11,9,10,1000,0,1",
            "2022-01-04,10,11,9,10,1000,0,1",
            "2022-01-05,12,13,11,12,1000,0,1",
        ],
    }
    for sym, rows in files.items():
        (d / f"{sym}.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    return rustybt.ingest_csvdir(root, "events")


class BuyOnFirstBar(rustybt.TradingAlgorithm):
    def initialize(self, context):
        self.set_slippage(slippage.NoSlippage())
        self.set_commission(commission.NoCommission())
        context.i = 0

    def handle_data(self, context, data):
        if context.i == 0:
            for sym, n in (("AAA", 3), ("BBB", 10), ("CCC", 3), ("DDD", 5)):
                self.order(self.symbol(sym), n)
        context.i += 1


def test_splits_dividends_and_auto_close(events_bundle):
    perf = rustybt.run_algorithm(algorithm=BuyOnFirstBar, bundle=events_bundle, capital_base=10_000)
    cash = exact_column(perf, "ending_cash")
    # Jan 4th: fills at the close, no costs: 300 + 200 + 90 + 50
    assert cash.iloc[1] == Decimal(10_000 - 640)
    # Jan 5th: BBB pays 10 * 0.5; CCC 3 shares * 1.5 = 4.5 -> 4 shares and half a share
    # paid at the new basis round(30 / 1.5, 2) = 20.00 -> 10.00 cash
    assert cash.iloc[2] == Decimal(10_000 - 640) + Decimal("5.0") + Decimal("10.00")
    assert exact_column(perf, "capital_used").iloc[2] == Decimal("15.00")
    held = {p["sid"].symbol: (p["amount"], p["cost_basis"]) for p in perf["positions"].iloc[2]}
    assert held["AAA"] == (6, 50.0)
    assert held["CCC"] == (4, 20.0)
    assert held["BBB"] == (10, 20.0)
    # Jan 6th: DDD's data ended on the 5th: closed at its last close (12), no order id
    closes = [t for t in perf["transactions"].iloc[3] if t["sid"].symbol == "DDD"]
    assert [(t["amount"], t["price"], t["order_id"]) for t in closes] == [(-5, 12.0, None)]
    assert "DDD" not in {p["sid"].symbol for p in perf["positions"].iloc[3]}
    assert cash.iloc[3] == cash.iloc[2] + 60
    pv = exact_column(perf, "portfolio_value")
    assert pv.iloc[3] == cash.iloc[3] + 6 * 51 + 10 * 20 + 4 * 20


def test_ordering_an_ended_asset_is_refused(events_bundle):
    class Late(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            if self.get_datetime().day == 6:
                self.order(self.symbol("DDD"), 1)

    with pytest.raises(CannotOrderDelistedAsset, match=r"DDD .*its data ended on 2022-01-05"):
        rustybt.run_algorithm(algorithm=Late, bundle=events_bundle)


def _run_with(setup, orders, bundle):
    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.a = self.symbol("BBB")
            setup(self, context)
            context.i = 0

        def handle_data(self, context, data):
            for amount in orders.get(context.i, []):
                self.order(context.a, amount)
            context.i += 1

    return rustybt.run_algorithm(algorithm=Algo, bundle=bundle, capital_base=100_000)


def test_long_only_fails_or_logs(events_bundle, caplog):
    with pytest.raises(TradingControlViolation, match=r"order for -1 shares of BBB .*LongOnly\(\)"):
        _run_with(lambda a, c: a.set_long_only(), {0: [-1]}, events_bundle)
    with caplog.at_level(logging.WARNING, logger="rustybt"):
        perf = _run_with(lambda a, c: a.set_long_only(on_error="log"), {0: [-1]}, events_bundle)
    assert "violates trading constraint LongOnly()" in caplog.text
    assert perf["transactions"].iloc[1][0]["amount"] == -1  # logged, still placed


def test_max_order_size_and_position_size(events_bundle):
    with pytest.raises(TradingControlViolation, match="MaxOrderSize"):
        _run_with(lambda a, c: a.set_max_order_size(max_shares=5), {0: [5, 6]}, events_bundle)
    with pytest.raises(TradingControlViolation, match="MaxOrderSize"):
        _run_with(lambda a, c: a.set_max_order_size(c.a, max_notional=100), {1: [6]}, events_bundle)
    # the position counts once filled: 6 fills on bar 1, then 6 more would hold 12 > 10
    perf = _run_with(
        lambda a, c: a.set_max_position_size(c.a, max_shares=10), {0: [6]}, events_bundle
    )
    assert perf["positions"].iloc[-1][0]["amount"] == 6
    with pytest.raises(TradingControlViolation, match="MaxPositionSize"):
        _run_with(
            lambda a, c: a.set_max_position_size(c.a, max_shares=10),
            {0: [6], 1: [6]},
            events_bundle,
        )


def test_max_order_count_is_per_session(events_bundle):
    perf = _run_with(lambda a, c: a.set_max_order_count(2), {0: [1, 1], 1: [1, 1]}, events_bundle)
    assert sum(len(t) for t in perf["transactions"]) == 4
    with pytest.raises(TradingControlViolation, match="MaxOrderCount"):
        _run_with(lambda a, c: a.set_max_order_count(2), {0: [1, 1, 1]}, events_bundle)


def test_max_leverage_is_checked_after_every_bar(events_bundle):
    def setup(limit):
        def go(algo, context):
            algo.set_slippage(slippage.NoSlippage())  # no volume cap: 4000 shares fill at once
            algo.set_max_leverage(limit)

        return go

    with pytest.raises(AccountControlViolation, match="MaxLeverage"):
        _run_with(setup(0.5), {0: [4000]}, events_bundle)
    perf = _run_with(setup(1.5), {0: [4000]}, events_bundle)
    assert perf["gross_leverage"].max() == pytest.approx(0.8, abs=0.01)
    assert perf["gross_leverage"].max() <= 1.5


def test_controls_only_in_initialize(events_bundle):
    class Late(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.set_long_only()

    with pytest.raises(RegisterTradingControlPostInit, match="set_long_only"):
        rustybt.run_algorithm(algorithm=Late, bundle=events_bundle)


def test_history_is_adjusted_as_of_the_simulation_date(events_bundle):
    seen = {}

    class Look(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            day = self.get_datetime().day
            a, b = self.symbols("AAA", "BBB")
            seen[day] = (
                data.history(a, "close", 3, "1d").tolist(),
                data.history(a, "volume", 3, "1d").tolist(),
                data.history(b, "close", 3, "1d", return_type="array").tolist(),
                data.current(a, "close"),
            )

    rustybt.run_algorithm(algorithm=Look, bundle=events_bundle)
    # Jan 4th: the split and dividend of the 5th are in the future: nothing adjusted
    assert seen[4][0][1:] == [100.0, 100.0]
    assert seen[4][2][1:] == [20.0, 20.0]
    # Jan 5th: AAA's 2-for-1 halves earlier prices and doubles earlier volumes;
    # BBB's 0.5 dividend scales earlier prices by 1 - 0.5 / 20 = 0.975
    assert seen[5][0] == [50.0, 50.0, 50.0]
    assert seen[5][1] == [2000.0, 2000.0, 1000.0]
    assert seen[5][2] == [19.5, 19.5, 20.0]
    assert seen[5][3] == 50.0  # current values are never adjusted
    assert seen[6][0] == [50.0, 50.0, 51.0]
    assert math.isnan(seen[3][0][0])  # before the bundle's first bar: NaN
