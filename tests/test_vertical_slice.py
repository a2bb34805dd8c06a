"""The first end-to-end path: bundle on disk -> Rust event loop -> Python strategy -> perf
frame, on a hand-made bundle whose fills, cash and values are computed by hand here."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt import exact_column
from tests.conftest import HAND_CLOSES


class OrderOnFirstBar(rustybt.TradingAlgorithm):
    """Buys 10 AAA and sells 5 BBB while handling the first bar; records what it sees."""

    def initialize(self, context):
        context.a, context.b, context.c = self.symbols("AAA", "BBB", "CCC")
        context.seen = []

    def handle_data(self, context, data):
        if not context.seen:
            self.order(context.a, 10)
            self.order(context.b, -5)
        window = data.history([context.a, context.b, context.c], "close", 2, "1d")
        context.seen.append(
            (
                self.get_datetime(),
                data.current(context.a, "close"),
                window.iloc[-1].tolist(),
                window.index[-1],
            )
        )
        self.record(a_close=data.current(context.a, "close"))


def test_next_bar_fills_and_hand_computed_books(hand_bundle):
    algo = OrderOnFirstBar()
    perf = rustybt.run_algorithm(algorithm=algo, bundle=hand_bundle, capital_base=100_000)

    assert len(perf) == 5
    # Nothing fills on the bar the orders were placed on.
    assert perf["transactions"].iloc[0] == []
    assert len(perf["orders"].iloc[0]) == 2
    # Both fill at the next bar's close with zipline's default costs:
    # FixedBasisPointsSlippage(5 bp): AAA 11 * 1.0005 = 11.0055, BBB 19 * 0.9995 = 18.9905;
    # PerShare(0.001): 10 * 0.001 = 0.01 and 5 * 0.001 = 0.005.
    fills = perf["transactions"].iloc[1]
    assert [(t["sid"].symbol, t["amount"]) for t in fills] == [("AAA", 10), ("BBB", -5)]
    assert [t["price"] for t in fills] == [11.0055, 18.9905]
    # zipline keeps commissions on the orders (its fill records say None)
    assert [t["commission"] for t in fills] == [None, None]
    orders = {o["id"]: o for o in perf["orders"].iloc[1]}
    assert [orders[t["order_id"]]["commission"] for t in fills] == [0.01, 0.005]
    assert rustybt.results.transactions_frame(perf)["commission"].tolist() == [0.01, 0.005]
    assert all(t["dt"] == perf.index[1] for t in fills)

    cash = (
        Decimal("100000")
        - Decimal("110.055")
        - Decimal("0.01")
        + Decimal("94.9525")
        - Decimal("0.005")
    )
    assert cash == Decimal("99984.8825")
    ending_cash = exact_column(perf, "ending_cash")
    assert ending_cash.iloc[0] == Decimal("100000")
    assert (ending_cash.iloc[1:] == cash).all()

    # Portfolio value: cash + 10 * AAA close - 5 * BBB close, marked every session.
    closes_a = [Decimal(c) for c in HAND_CLOSES["AAA"]]
    closes_b = [Decimal(c) for c in HAND_CLOSES["BBB"]]
    expected_pv = [Decimal("100000")] + [
        cash + 10 * closes_a[i] - 5 * closes_b[i] for i in range(1, 5)
    ]
    assert exact_column(perf, "portfolio_value").tolist() == expected_pv
    assert perf["portfolio_value"].tolist() == [float(v) for v in expected_pv]
    pnl = [expected_pv[0] - 100000] + [expected_pv[i] - expected_pv[i - 1] for i in range(1, 5)]
    assert exact_column(perf, "pnl").tolist() == pnl
    assert exact_column(perf, "capital_used").iloc[1] == cash - Decimal("100000")
    assert perf["returns"].iloc[1] == pytest.approx(float(pnl[1] / expected_pv[0]), abs=1e-15)
    assert perf["ending_value"].iloc[2] == 10 * 12 - 5 * 18
    assert perf["a_close"].tolist() == [10, 11, 12, 13, 14]
    positions = perf["positions"].iloc[-1]
    assert {(p["sid"].symbol, p["amount"]) for p in positions} == {("AAA", 10), ("BBB", -5)}


def test_no_look_ahead(hand_bundle):
    algo = OrderOnFirstBar()
    perf = rustybt.run_algorithm(algorithm=algo, bundle=hand_bundle, capital_base=100_000)
    closes = {s: [float(c) for c in v] for s, v in HAND_CLOSES.items()}
    for i, (dt, current_a, last_row, last_label) in enumerate(algo.seen):
        # the current bar is the i-th session; its data is visible, the next one's is not
        assert dt == perf.index[i]
        assert current_a == closes["AAA"][i]
        assert last_row == [closes["AAA"][i], closes["BBB"][i], closes["CCC"][i]]
        assert last_label == hand_bundle.sessions[i]
    # on the first bar the 2-bar window reaches before the bundle: NaN, never a later bar
    first = OrderOnFirstBar()
    rustybt.run_algorithm(
        algorithm=first, bundle=hand_bundle, capital_base=100_000, end="2022-01-03"
    )
    assert len(first.seen) == 1


def test_history_array_fast_path_matches_pandas(small_bundle):
    seen = {}

    class Probe(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.assets = self.symbols("S000", "S001", "S004")

        def handle_data(self, context, data):
            arr = data.history(context.assets, "close", 5, "1d", return_type="array")
            frame = data.history(context.assets, "close", 5, "1d")
            seen.setdefault("pairs", []).append((arr, frame))

    rustybt.run_algorithm(algorithm=Probe, bundle=small_bundle, capital_base=1e5, end="2022-01-31")
    for arr, frame in seen["pairs"]:
        assert isinstance(arr, np.ndarray) and arr.shape == (5, 3)
        assert isinstance(frame, pd.DataFrame)
        np.testing.assert_array_equal(arr, frame.to_numpy())
        assert [a.symbol for a in frame.columns] == ["S000", "S001", "S004"]


def test_orders_on_the_last_bar_stay_open(hand_bundle):
    class LastBar(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.a = self.symbol("AAA")

        def handle_data(self, context, data):
            if self.get_datetime() == hand_bundle.session_closes[-1]:
                context.oid = self.order(context.a, 1)

    algo = LastBar()
    perf = rustybt.run_algorithm(algorithm=algo, bundle=hand_bundle, capital_base=1000)
    assert perf["transactions"].map(len).sum() == 0
    assert algo.get_order(algo.oid).open


def test_decimal_and_float_ledgers_agree_closely(small_bundle):
    from rustybt.app.examples.sma_crossover import SmaCross

    kwargs = dict(algorithm=SmaCross, bundle=small_bundle, capital_base=1e6, params={"n_assets": 5})
    dec = rustybt.run_algorithm(ledger="decimal", **kwargs)
    flt = rustybt.run_algorithm(ledger="float", **kwargs)
    assert dec.attrs["rustybt"]["ledger"] == "decimal"
    assert flt.attrs["rustybt"]["ledger"] == "float"
    assert dec["transactions"].map(len).sum() > 50
    np.testing.assert_allclose(dec["portfolio_value"], flt["portfolio_value"], rtol=1e-9)


def test_next_open_fill_model(tmp_path):
    from rustybt.finance import commission, slippage
    from tests.conftest import write_csvdir

    # opens differ from closes: bar 2 opens at 10.5 and closes at 11
    write_csvdir(
        tmp_path,
        {
            "OPN": [
                "2022-01-03,9.5,10.5,9,10,1000",
                "2022-01-04,10.5,11.5,10,11,1000",
                "2022-01-05,11.2,12.5,11,12,1000",
            ]
        },
    )
    bundle = rustybt.ingest_csvdir(tmp_path, "opens")

    def run(model):
        class Once(rustybt.TradingAlgorithm):
            def initialize(self, context):
                if model:
                    self.set_fill_model(model)
                self.set_slippage(slippage.NoSlippage())
                self.set_commission(commission.NoCommission())
                context.done = False

            def handle_data(self, context, data):
                if not context.done:
                    self.order(self.symbol("OPN"), 10)
                    context.done = True

        perf = rustybt.run_algorithm(algorithm=Once, bundle=bundle, capital_base=1000)
        return perf["transactions"].iloc[1][0]["price"], perf

    assert run(None)[0] == 11.0  # zipline: next bar's close
    price, perf = run("next_open")
    assert price == 10.5  # backtrader: next bar's open
    assert perf["ending_value"].iloc[1] == 110.0  # still marked at the close
    with pytest.raises(rustybt.errors.InvalidRunParameters, match="next_close"):
        run("at_noon")


def test_before_trading_start_sees_only_earlier_bars(hand_bundle):
    seen = []

    class Early(rustybt.TradingAlgorithm):
        def before_trading_start(self, context, data):
            a = self.symbol("AAA")
            seen.append(
                (
                    self.get_datetime(),
                    data.current(a, "close"),
                    data.history(a, "close", 2, "1d").tolist(),
                    data.can_trade(a),
                )
            )

    rustybt.run_algorithm(algorithm=Early, bundle=hand_bundle)
    closes = [10.0, 11.0, 12.0, 13.0, 14.0]
    first_dt, first_close, first_hist, first_trade = seen[0]
    # zipline's before_trading_start time: 8:45 New York time of the session
    bts = [
        pd.Timestamp(f"{d.date()} 08:45", tz="America/New_York").tz_convert("UTC")
        for d in hand_bundle.sessions
    ]
    # the bundle's first session: nothing has happened yet
    assert first_dt == bts[0]
    assert np.isnan(first_close)
    assert all(np.isnan(first_hist))
    assert first_trade is False
    for i, (dt, close, hist, _) in enumerate(seen[1:], start=1):
        # before session i's first bar: the previous session's bar, never session i's
        assert dt == bts[i]
        assert close == closes[i - 1]
        assert hist[-1] == closes[i - 1]


def test_all_asset_windows_are_read_only_zero_copy_views(small_bundle):
    seen = []

    class Views(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.all = small_bundle.asset_list  # every asset, in sid order
            context.rev = context.all[::-1]

        def handle_data(self, context, data):
            view = data.history(context.all, "close", 3, "1d", return_type="array")
            copy = data.history(context.rev, "close", 3, "1d", return_type="array")
            seen.append((view, copy[:, ::-1].copy()))

    rustybt.run_algorithm(
        algorithm=Views, bundle=small_bundle, start="2022-02-01", end="2022-02-28"
    )
    for view, copy in seen:
        assert not view.flags.writeable
        assert not view.flags.owndata
        np.testing.assert_array_equal(view, copy)
    with pytest.raises(ValueError, match="read-only"):
        seen[0][0][0, 0] = 1.0
