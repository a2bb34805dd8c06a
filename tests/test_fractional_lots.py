"""Fractional quantities and 24/7 statistics (issue #17, item 4): a bundle's per-asset
``lot_size`` lets a coin trade in 0.0001s, exactly, in both engines; a 24/7 calendar
annualises its risk metrics with 365 periods a year, an exchange calendar with 252."""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import Decimal
from itertools import count

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt import reference
from rustybt.errors import IngestError, InvalidRunParameters, TradingControlViolation
from rustybt.results import Results

_names = count()


def _coin_frame(days: int = 90, seed: int = 7) -> pd.DataFrame:
    """A BTC-like daily table: prices around 40,000 with cents, every calendar day."""
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    rng = np.random.default_rng(seed)
    close = np.round(40_000 * np.exp(np.cumsum(rng.normal(0, 0.03, days))), 2)
    return pd.DataFrame(
        {
            "symbol": "BTC",
            "date": dates.strftime("%Y-%m-%d"),
            "open": close,
            "high": np.round(close * 1.01, 2),
            "low": np.round(close * 0.99, 2),
            "close": close,
            "volume": rng.integers(500, 5_000, days),
        }
    )


@pytest.fixture(scope="module")
def btc() -> rustybt.Bundle:
    return rustybt.ingest_table(
        _coin_frame(), f"btc{next(_names)}", calendar="24/7", price_scale=2, lot_size=0.0001
    )


class CoinTrader(rustybt.TradingAlgorithm):
    """Buys half a coin, sells an amount finer than the lot, then holds a third of the
    portfolio: every order is fractional."""

    def initialize(self, context):
        context.coin = self.symbol("BTC")
        context.bar = 0
        context.seen = []

    def handle_data(self, context, data):
        context.bar += 1
        coin = context.coin
        if context.bar == 2:
            self.order(coin, 0.5)
        elif context.bar == 8:
            self.order(coin, -0.12345)  # 0.1234: whole lots, rounded toward zero
        elif context.bar == 15:
            self.order_target_percent(coin, 0.3)
        elif context.bar == 30:
            self.order_value(coin, 5_000.0)
        elif context.bar == 50:
            self.order_target(coin, 0.25)
        context.seen.append(self.portfolio.positions[coin].amount)


def test_a_coin_trades_fractional_amounts_exactly_in_both_engines(btc):
    coin = btc.asset_list[0]
    assert (coin.lot_scale, coin.lot_size) == (4, 0.0001)
    runs = {}
    for name, run in (("rust", rustybt.run_algorithm), ("reference", reference.run_algorithm)):
        runs[name] = run(algorithm=CoinTrader, bundle=btc.name, capital_base=100_000.0)
    fast, ref = runs["rust"], runs["reference"]
    fills = [t for ts in fast["transactions"] for t in ts]
    amounts = [t["amount"] for t in fills]
    assert amounts[:2] == [0.5, -0.1234]
    # every fill is a whole number of 0.0001 lots, and some are not whole coins
    exact = [Decimal(str(a)) for a in amounts]
    assert all(a % Decimal("0.0001") == 0 for a in exact)
    assert any(a % 1 != 0 for a in exact)
    # the exact books agree to the last digit, and so does the whole perf frame
    assert reference.exact_values(fast) == reference.exact_values(ref)
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)
    # cash is the capital less exactly what the fills cost
    txns = fast.attrs["rustybt"]["exact"]["transactions"]
    spent = sum(Decimal(a) * Decimal(p) + Decimal(c) for _, _, a, p, c, _ in txns)
    ending_cash = Decimal(fast.attrs["rustybt"]["exact"]["ending_cash"][-1])
    assert ending_cash == Decimal(100_000) - spent
    # positions are fractional and the final one is the target
    final = fast["positions"].iloc[-1]
    assert [p["amount"] for p in final] == [0.25]


def test_fills_are_priced_so_that_price_times_lots_is_exact(btc):
    perf = rustybt.run_algorithm(algorithm=CoinTrader, bundle=btc.name, capital_base=100_000.0)
    for _, _, amount, price, _, _ in perf.attrs["rustybt"]["exact"]["transactions"]:
        # 12 - 4 places at most: a price times a quantity of 0.0001s keeps 12 places
        assert -Decimal(price).as_tuple().exponent <= 8
        cost = Decimal(amount) * Decimal(price)
        assert -cost.as_tuple().exponent <= 12


def test_a_24_7_run_annualises_with_365_periods(btc):
    perf = rustybt.run_algorithm(algorithm=CoinTrader, bundle=btc.name, capital_base=100_000.0)
    assert perf.attrs["rustybt"]["periods_per_year"] == 365.0
    r = perf["returns"].to_numpy()
    mean, std = r.mean(), r.std(ddof=1)
    assert perf["sharpe"].iloc[-1] == pytest.approx(mean / std * math.sqrt(365), rel=1e-12)
    assert perf["algo_volatility"].iloc[-1] == pytest.approx(std * math.sqrt(365), rel=1e-12)
    stats = Results.from_perf(perf, {}).stats.iloc[0]
    assert stats["sharpe"] == pytest.approx(perf["sharpe"].iloc[-1], rel=1e-15)
    assert stats["annual_volatility"] == pytest.approx(std * math.sqrt(365), rel=1e-12)
    # the same run annualised as an exchange would understate Sharpe by sqrt(365/252)
    on_252 = rustybt.run_algorithm(
        algorithm=CoinTrader, bundle=btc.name, capital_base=100_000.0, periods_per_year=252
    )
    assert on_252.attrs["rustybt"]["periods_per_year"] == 252.0
    ratio = perf["sharpe"].iloc[-1] / on_252["sharpe"].iloc[-1]
    assert ratio == pytest.approx(math.sqrt(365 / 252), rel=1e-12)
    ref = reference.run_algorithm(
        algorithm=CoinTrader, bundle=btc.name, capital_base=100_000.0, periods_per_year=252
    )
    pd.testing.assert_frame_equal(on_252, ref, check_exact=True)


def test_an_exchange_calendar_keeps_252_periods():
    frame = _coin_frame(30)  # symbol BTC, but on an exchange calendar: whole shares
    bundle = rustybt.ingest_table(frame, f"xnys{next(_names)}", drop_non_sessions=True)
    perf = rustybt.run_algorithm(algorithm=CoinTrader, bundle=bundle.name, capital_base=1e6)
    assert perf.attrs["rustybt"]["periods_per_year"] == 252.0
    # whole shares: the orders of fractions round to zero shares, as zipline's
    assert all(len(ts) == 0 for ts in perf["transactions"].iloc[:10])


def test_periods_per_year_must_be_a_number_of_at_least_one(btc):
    for bad in (0, -5, float("nan"), "many"):
        with pytest.raises(InvalidRunParameters, match="periods_per_year"):
            rustybt.run_algorithm(
                algorithm=CoinTrader, bundle=btc.name, capital_base=1e5, periods_per_year=bad
            )


def test_round_trips_match_whole_lots(btc):
    res = rustybt.backtest(algorithm=CoinTrader, bundle=btc.name, capital_base=100_000.0)
    trips = res.round_trips
    assert len(trips) >= 1
    first = trips.iloc[0]
    assert first["shares"] == pytest.approx(0.1234)  # the sell closed 0.1234 of the 0.5
    fills = res.transactions
    buy, sell = fills.iloc[0], fills.iloc[1]
    fee_per_coin = buy["commission"] / buy["amount"] + sell["commission"] / -sell["amount"]
    want = (sell["price"] - buy["price"]) * 0.1234 - fee_per_coin * 0.1234
    assert first["pnl"] == pytest.approx(want, rel=1e-9)


def test_lot_sizes_per_symbol_and_refusals():
    two = pd.concat([_coin_frame(10), _coin_frame(10, seed=3).assign(symbol="ETH")])
    b = rustybt.ingest_table(
        two, f"two{next(_names)}", calendar="24/7", price_scale=2, lot_size={"ETH": "0.001"}
    )
    assert [(a.symbol, a.lot_scale) for a in b.asset_list] == [("BTC", 0), ("ETH", 3)]
    for bad in (0.0005, 3, "0", -0.01, 1e-9, "x"):
        with pytest.raises(IngestError, match="lot_size must be a power of ten"):
            rustybt.ingest_table(two, f"bad{next(_names)}", calendar="24/7", lot_size=bad)
    with pytest.raises(IngestError, match="DOGE"):
        rustybt.ingest_table(two, f"bad{next(_names)}", calendar="24/7", lot_size={"DOGE": 1})
    with pytest.raises(IngestError, match="ETH: lot_size"):
        rustybt.ingest_table(two, f"bad{next(_names)}", calendar="24/7", lot_size={"ETH": 0.3})
    # a price scale of 6 and lots of 1e-8 would make values of 14 places
    with pytest.raises(rustybt.errors.RustyBTError, match="BTC: a lot size of 1e-8"):
        rustybt.ingest_table(
            two, f"bad{next(_names)}", calendar="24/7", price_scale=6, lot_size=1e-8
        )


def test_whole_share_bundles_keep_their_content_hash():
    frame = _coin_frame(10)
    plain = rustybt.ingest_table(frame, f"h{next(_names)}", calendar="24/7", price_scale=2)
    ones = rustybt.ingest_table(
        frame, f"h{next(_names)}", calendar="24/7", price_scale=2, lot_size=1
    )
    coins = rustybt.ingest_table(
        frame, f"h{next(_names)}", calendar="24/7", price_scale=2, lot_size=0.01
    )
    assert plain.content_hash == ones.content_hash != coins.content_hash


def test_controls_count_whole_coins(btc):
    class Capped(CoinTrader):
        def initialize(self, context):
            super().initialize(context)
            self.set_max_order_size(context.coin, max_shares=1)

        def handle_data(self, context, data):
            context.bar += 1
            if context.bar == 2:
                self.order(context.coin, 0.9)  # within 1 coin
            if context.bar == 3:
                self.order(context.coin, 1.5)

    with pytest.raises(TradingControlViolation, match=r"order for 1\.5 of BTC"):
        rustybt.run_algorithm(algorithm=Capped, bundle=btc.name, capital_base=1e6)
    with pytest.raises(TradingControlViolation, match=r"order for 1\.5 of BTC"):
        reference.run_algorithm(algorithm=Capped, bundle=btc.name, capital_base=1e6)


def test_the_command_line_takes_lot_sizes(tmp_path, monkeypatch):
    csv = tmp_path / "coins.csv"
    _coin_frame(10).to_csv(csv, index=False)
    name = f"cli{next(_names)}"
    out = subprocess.run(
        [sys.executable, "-m", "rustybt", "ingest", "table", str(csv), "--bundle", name,
         "--calendar", "24/7", "--price-scale", "2", "--lot-size", "BTC=0.0001"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert rustybt.load_bundle(name).asset_list[0].lot_size == 0.0001


def test_prices_round_to_a_per_asset_tick_size():
    frame = pd.concat([_coin_frame(10), _coin_frame(10, seed=3).assign(symbol="ETH")])
    b = rustybt.ingest_table(
        frame, f"tick{next(_names)}", calendar="24/7", price_scale=2, round_prices={"BTC": 0.5}
    )
    closes = b.bars("close").fields["close"]
    btc, eth = closes[:, 0], closes[:, 1]
    assert np.all(btc * 2 == np.round(btc * 2))  # whole half-dollars
    raw = frame[frame.symbol == "BTC"]["close"].to_numpy()
    # half to even on the tick: the nearest multiple of 0.5
    assert np.all(np.abs(btc - raw) <= 0.25)
    assert np.array_equal(eth, frame[frame.symbol == "ETH"]["close"].to_numpy())
    assert b.ingest_report["rounded_prices"] > 0
    with pytest.raises(IngestError, match="BTC: a tick size must be a positive whole number"):
        rustybt.ingest_table(
            frame, f"tick{next(_names)}", calendar="24/7", price_scale=2, round_prices=0.001
        )
    with pytest.raises(IngestError, match="does not hold"):
        rustybt.ingest_table(frame, f"tick{next(_names)}", calendar="24/7", round_prices={"X": 1})
