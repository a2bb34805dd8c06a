"""Every api function, one at a time: its effect on orders and the ledger in the Rust engine
and in the reference engine (``rustybt.reference``), and its wrong-phase and bad-argument
errors.

Each test runs one small strategy through both engines, requires identical results (the
exact values, every transaction, what every call returned or raised, the books after every
bar; on the decimal ledger and, where cheap, the float one) and then checks the concrete
effect the function must have: which order it placed, when and at what price it filled,
what the position and the cash became.

Where rustybt departs from zipline's documented behaviour the test states zipline's
behaviour and is a strict xfail whose reason says what differs.
"""

from __future__ import annotations

import datetime
import functools
import logging
import math
import tempfile
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import rustybt
import rustybt.reference as reference
from rustybt import _core, api, errors
from rustybt.calendars import sessions
from rustybt.errors import (
    AccountControlViolation,
    BadOrderParameters,
    InvalidRunParameters,
    OrderDuringInitialize,
    RegisterTradingControlPostInit,
    RustyBTError,
    StrategyError,
    SymbolNotFound,
)
from rustybt.finance import commission, slippage
from rustybt.finance.execution import LimitOrder, MarketOrder, StopLimitOrder, StopOrder
from rustybt.protocol import ORDER_STATUS, Order, Portfolio
from rustybt.schedule import date_rules, time_rules
from tests import test_reference_crosscheck as xcheck
from tests.test_reference_crosscheck import (
    DATES,
    HEADER,
    MINUTES,
    _both,
    _bundle,
    _no_costs,
    _outcomes,
    _run,
    _Steps,
    oid,
)

# the cross-check's fixtures: five_days (A closes 10.00 10.37 11.11 12.13 9.99), split_days
# (A splits 1-for-2 and B 7-for-1 on the third session), and its calendar cache
five_days = xcheck.five_days
split_days = xcheck.split_days
_remember_calendar_sessions = xcheck._remember_calendar_sessions

ENGINES = (rustybt.run_algorithm, reference.run_algorithm)
OPEN, FILLED, CANCELLED, REJECTED = (
    ORDER_STATUS.OPEN,
    ORDER_STATUS.FILLED,
    ORDER_STATUS.CANCELLED,
    ORDER_STATUS.REJECTED,
)
CAPITAL = 10_000.0

# ---------------------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------------------

#: Closes of the ``wave`` bundle (open = high = low = close, volume 1,000,000): A and A2
#: are twins, so an order placed with a style object on A and the same order placed with
#: ``limit_price`` / ``stop_price`` on A2 must end the same. L trades from the third
#: session to the sixth only.
WAVE = {
    "A": ["10.00", "9.50", "11.00", "12.00", "9.00", "10.50", "13.00", "10.00"],
    "B": ["40.00", "42.00", "38.00", "41.00", "44.00", "39.00", "40.00", "45.00"],
}
LATE = ["20.00", "21.00", "22.00", "23.00"]


def _rows(dates, closes, volume=1_000_000):
    return [f"{d},{c},{c},{c},{c},{volume}" for d, c in zip(dates, closes)]


@pytest.fixture(scope="module")
def wave() -> rustybt.Bundle:
    return _bundle(
        {
            "A": _rows(DATES, WAVE["A"]),
            "A2": _rows(DATES, WAVE["A"]),
            "B": _rows(DATES, WAVE["B"]),
            "L": _rows(DATES[2:6], LATE),
        }
    )


@pytest.fixture(scope="module")
def two_months() -> rustybt.Bundle:
    """One asset at 10.00 over every XNYS session of January and February 2022."""
    days = sessions("XNYS", "2022-01-03", "2022-02-28")[0]
    dates = [pd.Timestamp(int(d), unit="D").strftime("%Y-%m-%d") for d in days]
    return _bundle({"A": _rows(dates, ["10.00"] * len(dates), 1000)})


@pytest.fixture(scope="module")
def minutes() -> rustybt.Bundle:
    """M trades every minute of the first two sessions of 2022 (390 bars each, 14:31 to
    21:00 UTC); its close walks 10.00, 10.01, ... 10.49 and round again."""
    rows = []
    for i, ts in enumerate(MINUTES):
        c = f"10.{i % 50:02d}"
        rows.append(f"{ts},{c},{c},{c},{c},1000")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "minute").mkdir()
        (Path(tmp) / "minute" / "M.csv").write_text("\n".join([HEADER, *rows]) + "\n")
        return rustybt.ingest_csvdir(tmp, "api-minutes", frequency="minute")


# ---------------------------------------------------------------------------------------
# Running one strategy through both engines
# ---------------------------------------------------------------------------------------


def _comparable(result):
    return (type(result), str(result)) if isinstance(result, Exception) else result


def _same(bundle, setup, steps, capital_base=CAPITAL, float_ledger=True):
    """Run ``steps`` (``{bar: [callable(algo)]}``, see ``_Steps``) after ``setup(algo)``
    in ``initialize`` through both engines on the decimal ledger, and on the float ledger
    too: exact values, every step's outcome and the books after every bar must agree.
    Returns the decimal run: (exact values or (exception type, message), log)."""
    fast, ref = _both(bundle, setup, steps, capital_base)
    assert fast == ref
    if float_ledger:
        (f0, log0), (f1, log1) = (
            _run(functools.partial(e, ledger="float"), bundle, setup, steps, capital_base)
            for e in ENGINES
        )
        assert _comparable(f0) == _comparable(f1)
        assert log0 == log1
    return fast


def _books(log) -> list[tuple]:
    """The books after each bar: (cash, portfolio value, positions, open orders)."""
    return [x for x in log if isinstance(x, tuple)]


def _txns(exact) -> list[tuple]:
    """Transactions as (order id, sid, amount, price, commission, bar)."""
    return exact["transactions"]


def _setup(*calls):
    """An ``initialize`` that removes costs, then makes ``calls`` on the algorithm."""

    def setup(a):
        _no_costs(a)
        for call in calls:
            call(a)

    return setup


def _last(bundle) -> int:
    return len(bundle.bar_times) - 1


# ---------------------------------------------------------------------------------------
# order, order_value, order_percent, order_target, order_target_value, order_target_percent
# with market, limit, stop and stop-limit styles
# ---------------------------------------------------------------------------------------

#: The argument of each order function that buys 100 shares of A at 10.00 out of 10,000.
FUNCTIONS = {
    "order": 100,
    "order_value": 1000.0,
    "order_percent": 0.1,
    "order_target": 100,
    "order_target_value": 1000.0,
    "order_target_percent": 0.1,
}

#: Buy styles: (style object, the same as keywords, fill bar, fill price, the order's
#: (limit, stop) once filled). A: 10.00 9.50 11.00 12.00 9.00 10.50 13.00 10.00.
BUY_STYLES = {
    "market": (MarketOrder(), {}, 1, "9.50", (None, None)),
    "limit": (LimitOrder(9.25), {"limit_price": 9.25}, 4, "9.00", (9.25, None)),
    "stop": (StopOrder(11.5), {"stop_price": 11.5}, 3, "12.00", (None, 11.5)),
    # the stop is reached at 11.00, where the limit (11.50) fills at once; the order is a
    # limit order from then on (zipline drops the stop)
    "stop_limit": (
        StopLimitOrder(11.5, 10.75),
        {"limit_price": 11.5, "stop_price": 10.75},
        2,
        "11.00",
        (11.5, None),
    ),
}


@pytest.mark.parametrize("style", BUY_STYLES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_order_functions_with_every_style(wave, function, style):
    obj, keywords, bar, price, (limit, stop) = BUY_STYLES[style]
    value = FUNCTIONS[function]
    a_sid, a2_sid = wave.symbol("A").sid, wave.symbol("A2").sid

    def place(a):
        fn = getattr(a, function)
        return [fn(a.symbol("A"), value, style=obj), fn(a.symbol("A2"), value, **keywords)]

    exact, log = _same(
        wave, _no_costs, {0: [place], _last(wave): [lambda a: [a.get_order(0), a.get_order(1)]]}
    )
    placed, orders = _outcomes(log)
    assert placed == [oid(0), oid(1)]
    times = wave.bar_times
    for i, (order, asset) in enumerate(zip(orders, ("A", "A2"))):
        assert order.status is FILLED
        assert order == Order(
            oid(i),
            wave.symbol(asset),
            100,
            100,
            0.0,
            limit,
            stop,
            FILLED,
            None,
            times[0],
            times[bar],
        )
    p = Decimal(price)
    assert _txns(exact) == [(0, a_sid, 100, p, 0, bar), (1, a2_sid, 100, p, 0, bar)]
    books = _books(log)
    # open until the fill
    assert all(b[3] == [(a_sid, oid(0)), (a2_sid, oid(1))] for b in books[:bar])
    assert books[bar][3] == []
    assert books[bar][0] == Decimal(CAPITAL) - 200 * p  # cash
    assert books[bar][2] == [(a_sid, 100, float(p), float(p)), (a2_sid, 100, float(p), float(p))]


#: (amount, limit, stop, fill bar or None, fill price) for orders placed at bar 0 on A.
TRIGGERS = {
    "market sell": (-100, None, None, 1, "9.50"),
    "sell limit at or above 11.50": (-100, 11.5, None, 3, "12.00"),
    "sell stop at or below 9.25": (-100, None, 9.25, 4, "9.00"),
    # stop (9.75) reached at 9.50, below the limit (9.60): it fills as a limit at 11.00
    "sell stop-limit, limit later": (-100, 9.6, 9.75, 2, "11.00"),
    # stop (10.75) reached at 11.00, above the limit (10.60): it fills at 9.00
    "buy stop-limit, limit later": (100, 10.6, 10.75, 4, "9.00"),
    "buy limit never reached": (100, 8.0, None, None, None),
    "buy stop never reached": (100, None, 13.5, None, None),
    "sell limit never reached": (-100, 14.0, None, None, None),
}


def _style(limit, stop):
    if limit is not None and stop is not None:
        return StopLimitOrder(limit, stop)
    if limit is not None:
        return LimitOrder(limit)
    return StopOrder(stop) if stop is not None else MarketOrder()


@pytest.mark.parametrize("case", TRIGGERS)
def test_limit_and_stop_triggers(wave, case):
    amount, limit, stop, bar, price = TRIGGERS[case]
    a_sid, a2_sid = wave.symbol("A").sid, wave.symbol("A2").sid
    exact, log = _same(
        wave,
        _no_costs,
        {
            0: [
                lambda a: a.order(a.symbol("A"), amount, style=_style(limit, stop)),
                lambda a: a.order(a.symbol("A2"), amount, limit_price=limit, stop_price=stop),
            ],
            _last(wave): [lambda a: [a.get_order(0), a.get_order(1)]],
        },
    )
    _, _, orders = _outcomes(log)
    end = _books(log)[-1]
    if bar is None:
        assert _txns(exact) == []
        assert [(o.status, o.filled, o.limit, o.stop) for o in orders] == [
            (OPEN, 0, limit, stop)
        ] * 2
        assert end[3] == [(a_sid, oid(0)), (a2_sid, oid(1))]
        assert end[0] == Decimal(CAPITAL)
        return
    p = Decimal(price)
    assert _txns(exact) == [(0, a_sid, amount, p, 0, bar), (1, a2_sid, amount, p, 0, bar)]
    assert [(o.status, o.filled) for o in orders] == [(FILLED, amount)] * 2
    assert exact["ending_cash"][-1] == Decimal(CAPITAL) - 2 * amount * p


#: (function, target, shares ordered at bar 2 while holding 100 A at 11.00, with 9,050 in
#: cash and 10,150 in value; the order fills at bar 3 at 12.00).
TARGETS = {
    "order_target 30": ("order_target", 30, -70),
    "order_target 0": ("order_target", 0, -100),
    "order_target -50": ("order_target", -50, -150),
    "order_target 100: nothing": ("order_target", 100, None),
    "order_target_value 330": ("order_target_value", 330.0, -70),
    "order_target_value -550": ("order_target_value", -550.0, -150),
    # 1105 / 11 = 100.45 shares: 0.45 more, rounded toward zero: nothing
    "order_target_value 1105: nothing": ("order_target_value", 1105.0, None),
    # 5075 / 11 = 461.36 shares: 361 more
    "order_target_percent 0.5": ("order_target_percent", 0.5, 361),
    "order_target_percent 0": ("order_target_percent", 0.0, -100),
    # -2537.5 / 11 = -230.68 shares: -330.68 more, rounded toward zero
    "order_target_percent -0.25": ("order_target_percent", -0.25, -330),
}


@pytest.mark.parametrize("case", TARGETS)
def test_order_target_functions_order_the_difference(wave, case):
    function, target, delta = TARGETS[case]
    a_sid = wave.symbol("A").sid
    exact, log = _same(
        wave,
        _no_costs,
        {
            0: [lambda a: a.order(a.symbol("A"), 100)],
            2: [lambda a: getattr(a, function)(a.symbol("A"), target)],
            4: [lambda a: [a.get_order(i) for i in range(2 if delta else 1)]],
        },
    )
    _, placed, orders = _outcomes(log)
    held = 100 + (delta or 0)
    assert _books(log)[3][2] == ([(a_sid, held, *_basis(held, delta), 12.0)] if held else [])
    if delta is None:
        assert placed is None  # zipline places no order for 0 shares
        assert len(_txns(exact)) == 1
        return
    assert placed == oid(1)
    assert (orders[1].amount, orders[1].filled, orders[1].status) == (delta, delta, FILLED)
    assert _txns(exact)[1] == (1, a_sid, delta, Decimal("12.00"), 0, 3)
    assert _books(log)[3][0] == Decimal(9050) - delta * 12  # cash after the fill
    if case == "order_target_percent 0.5":
        # half the portfolio value at the price it was ordered at, to within a share
        value_then = _books(log)[2][1]
        assert abs((100 + orders[1].amount) * 11 - value_then / 2) < 11


def _basis(held, delta):
    """The cost basis of ``held`` A after buying 100 at 9.50, then ``delta`` at 12.00."""
    if delta is None or delta < 0 <= held:  # sold down: the basis stays
        return (9.5,)
    if held < 0:  # the position flipped short at 12.00
        return (12.0,)
    exact = (Decimal(950) + delta * 12) / held
    return (float(exact.quantize(Decimal(10) ** -12)),)  # the ledger divides to 12 places


def test_order_target_ignores_open_orders(wave):
    """zipline's note: ``order_target`` twice before a fill orders twice (20 shares)."""
    a_sid = wave.symbol("A").sid
    _, log = _same(
        wave,
        _no_costs,
        {
            0: [
                lambda a: a.order_target(a.symbol("A"), 10),
                lambda a: a.order_target(a.symbol("A"), 10),
                lambda a: a.order_target_value(a.symbol("A"), 100.0),
                lambda a: a.order_target_percent(a.symbol("A"), 0.01),
            ]
        },
    )
    assert _outcomes(log) == [oid(0), oid(1), oid(2), oid(3)]
    assert _books(log)[1][2] == [(a_sid, 40, 9.5, 9.5)]


#: (function, value, shares ordered) at A's 10.00 out of 10,000: zipline's rounding
#: (within 0.0001 of an integer: that integer, else toward zero); 0 shares: no order.
ROUNDING = [
    ("order", 99.99995, 100),
    ("order", 2.5, 2),
    ("order", -2.5, -2),
    ("order", 0, None),
    ("order", 0.99, None),
    ("order_value", 1049.0, 104),
    ("order_value", -1049.0, -104),
    ("order_value", 5.0, None),
    ("order_percent", 0.10499, 104),
    ("order_percent", -0.5, -500),
    ("order_target", 7.9, 7),
    ("order_target_value", -15.0, -1),
    ("order_target_percent", 0.00099, None),
]


@pytest.mark.parametrize(("function", "value", "shares"), ROUNDING)
def test_share_amounts_are_rounded_as_zipline_does(wave, function, value, shares):
    _, log = _same(
        wave,
        _no_costs,
        {0: [lambda a: getattr(a, function)(a.symbol("A"), value)], 1: [lambda a: a.get_order(0)]},
    )
    placed, order = _outcomes(log)
    if shares is None:
        assert placed is None
        assert order is None  # no order has id 0 (zipline's get_order: None)
    else:
        assert placed == oid(0)
        assert (order.id, order.amount, order.filled) == (oid(0), shares, shares)


# ---------------------------------------------------------------------------------------
# Order functions: bad arguments
# ---------------------------------------------------------------------------------------


def _places(what: str, got: str) -> str:
    return (
        f"BadOrderParameters: {what} must be a finite number that a decimal with at most 28 "
        f"places can hold exactly, got {got}"
    )


GHOST = _core.Asset(4, "GHOST", "X", 0, 0)  # sid 4: not in the wave bundle

#: (call at bar 0, or at bar 6 when marked so; the outcome both engines report)
BAD_ORDERS = {
    "amount NaN": (lambda a: a.order(a.symbol("A"), math.nan), _places("amount", "NaN")),
    "amount inf": (lambda a: a.order(a.symbol("A"), math.inf), _places("amount", "inf")),
    "amount -inf": (lambda a: a.order(a.symbol("A"), -math.inf), _places("amount", "-inf")),
    "amount a str": (
        lambda a: a.order(a.symbol("A"), "10"),
        "BadOrderParameters: order shares must be a number, got '10'",
    ),
    "amount None": (
        lambda a: a.order(a.symbol("A"), None),
        "BadOrderParameters: order shares must be a number, got None",
    ),
    "amount a bool": (
        lambda a: a.order(a.symbol("A"), True),
        "BadOrderParameters: order shares must be a number, got True",
    ),
    "value NaN": (lambda a: a.order_value(a.symbol("A"), math.nan), _places("value", "NaN")),
    "value a str": (
        lambda a: a.order_value(a.symbol("A"), "1000"),
        "BadOrderParameters: order value must be a number, got '1000'",
    ),
    "percent inf": (lambda a: a.order_percent(a.symbol("A"), math.inf), _places("percent", "inf")),
    "target NaN": (lambda a: a.order_target(a.symbol("A"), math.nan), _places("target", "NaN")),
    "target value -inf": (
        lambda a: a.order_target_value(a.symbol("A"), -math.inf),
        _places("target", "-inf"),
    ),
    "target percent NaN": (
        lambda a: a.order_target_percent(a.symbol("A"), math.nan),
        _places("target", "NaN"),
    ),
    "target percent a list": (
        lambda a: a.order_target_percent(a.symbol("A"), [0.5]),
        "BadOrderParameters: order target_percent must be a number, got [0.5]",
    ),
    "limit 0": (
        lambda a: a.order(a.symbol("A"), 10, limit_price=0),
        "BadOrderParameters: limit price must be a positive finite number, got 0",
    ),
    "limit negative": (
        lambda a: a.order_value(a.symbol("A"), 100.0, limit_price=-9.5),
        "BadOrderParameters: limit price must be a positive finite number, got -9.5",
    ),
    "limit NaN": (
        lambda a: a.order_percent(a.symbol("A"), 0.1, limit_price=math.nan),
        "BadOrderParameters: limit price must be a positive finite number, got NaN",
    ),
    "stop 0": (
        lambda a: a.order_target(a.symbol("A"), 10, stop_price=0.0),
        "BadOrderParameters: stop price must be a positive finite number, got 0",
    ),
    "stop inf": (
        lambda a: a.order_target_value(a.symbol("A"), 100.0, stop_price=math.inf),
        "BadOrderParameters: stop price must be a positive finite number, got inf",
    ),
    "LimitOrder(0)": (
        lambda a: a.order(a.symbol("A"), 10, style=LimitOrder(0)),
        "BadOrderParameters: limit price must be a positive finite number, got 0",
    ),
    "StopOrder(-1)": (
        lambda a: a.order(a.symbol("A"), 10, style=StopOrder(-1)),
        "BadOrderParameters: stop price must be a positive finite number, got -1",
    ),
    "StopLimitOrder(10, NaN)": (
        lambda a: a.order_target_percent(a.symbol("A"), 0.1, style=StopLimitOrder(10, math.nan)),
        "BadOrderParameters: stop price must be a positive finite number, got NaN",
    ),
    "style and limit_price": (
        lambda a: a.order(a.symbol("A"), 10, limit_price=9.0, style=LimitOrder(9.0)),
        "BadOrderParameters: pass either style= or limit_price/stop_price, not both",
    ),
    "style and stop_price": (
        lambda a: a.order_value(a.symbol("A"), 100.0, stop_price=9.0, style=MarketOrder()),
        "BadOrderParameters: pass either style= or limit_price/stop_price, not both",
    ),
    "style a str": (
        lambda a: a.order(a.symbol("A"), 10, style="limit"),
        "BadOrderParameters: style must be an ExecutionStyle, got 'limit'",
    ),
    "asset a str": (
        lambda a: a.order("A", 10),
        "BadOrderParameters: expected an Asset (from symbol()), got 'A'",
    ),
    "asset None": (
        lambda a: a.order_target_percent(None, 0.5),
        "BadOrderParameters: expected an Asset (from symbol()), got None",
    ),
    "asset not in the bundle": (
        lambda a: a.order(GHOST, 10),
        "SymbolNotFound: Equity(4 [GHOST]) is not in bundle '{bundle}'",
    ),
    "asset not in the bundle, by value": (
        lambda a: a.order_value(GHOST, 100.0),
        "SymbolNotFound: Equity(4 [GHOST]) is not in bundle '{bundle}'",
    ),
    # zipline refuses orders sized by value or percent "before it started trading"
    "before it starts trading (order_value)": (
        lambda a: a.order_value(a.symbol("L"), 100.0),
        "CannotOrderDelistedAsset: cannot order L at 2022-01-03T21:00:00Z by value or percent: "
        "it starts trading on 2022-01-05",
    ),
    "before it starts trading (order_target_percent)": (
        lambda a: a.order_target_percent(a.symbol("L"), 0.1),
        "CannotOrderDelistedAsset: cannot order L at 2022-01-03T21:00:00Z by value or percent: "
        "it starts trading on 2022-01-05",
    ),
    "data ended (at bar 6)": (
        lambda a: a.order(a.symbol("L"), 1),
        "CannotOrderDelistedAsset: cannot order L at 2022-01-11T21:00:00Z: its data ended on "
        "2022-01-10",
    ),
}


@pytest.mark.parametrize("case", BAD_ORDERS)
def test_bad_order_arguments_are_refused_by_name(wave, case):
    call, expected = BAD_ORDERS[case]
    bar = 6 if "bar 6" in case else 0
    _, log = _same(wave, _no_costs, {bar: [call]})
    assert _outcomes(log) == [expected.format(bundle=wave.name)]
    assert all(b[3] == [] and b[2] == [] for b in _books(log))  # nothing placed, nothing held
    assert issubclass(getattr(errors, expected.split(":")[0]), RustyBTError)


def test_ordering_before_an_asset_trades_is_placed_and_fills_at_its_first_bar(wave):
    """``order`` (by shares) needs no price: it waits for the asset's first bar."""
    l_sid = wave.symbol("L").sid
    exact, _ = _same(wave, _no_costs, {0: [lambda a: a.order(a.symbol("L"), 5)]})
    assert _txns(exact)[0] == (0, l_sid, 5, Decimal("20.00"), 0, 2)
    # L's data ends at bar 5: the position is closed out at its last close, no order id
    assert _txns(exact)[1] == (None, l_sid, -5, Decimal("23.00"), 0, 6)


# ---------------------------------------------------------------------------------------
# cancel_order, get_open_orders, get_order
# ---------------------------------------------------------------------------------------


def test_cancel_order_by_id_and_by_order(wave):
    """A cancelled order fills no further: by id after a partial fill (zipline's default
    costs fill 10% of the bar's volume), by Order before any fill; cancelling a filled
    order does nothing."""
    sid = {s: wave.symbol(s).sid for s in ("A", "A2", "B")}
    exact, log = _same(
        wave,
        lambda a: None,  # zipline's default costs
        {
            0: [
                lambda a: a.order(a.symbol("A"), 250_000),
                lambda a: a.order(a.symbol("A2"), 100, limit_price=9.25),
                lambda a: a.order(a.symbol("B"), 10),
            ],
            1: [
                lambda a: a.cancel_order(oid(0)),  # the id order() returned
                lambda a: a.cancel_order(a.get_order(1)),
                lambda a: a.cancel_order(2),  # filled: nothing happens
                lambda a: a.get_open_orders(),
            ],
            _last(wave): [lambda a: [a.get_order(i) for i in range(3)]],
        },
        capital_base=1e7,
    )
    *_, still_open, orders = _outcomes(log)
    assert still_open == {}
    t1 = wave.bar_times[1]
    assert [(o.status, o.filled, o.dt) for o in orders] == [
        (CANCELLED, 100_000, t1),
        (CANCELLED, 0, t1),
        (FILLED, 10, t1),
    ]
    assert [o.open_amount for o in orders] == [150_000, 100, 0]
    # only bar 1's fills: 100,000 A at 9.50 + 5 bp, 10 B at 42.00 + 5 bp; 0.001 a share
    assert _txns(exact) == [
        (0, sid["A"], 100_000, Decimal("9.50475"), Decimal("100"), 1),
        (2, sid["B"], 10, Decimal("42.021"), Decimal("0.01"), 1),
    ]
    assert all(b[3] == [] for b in _books(log)[1:])
    assert exact["ending_cash"][-1] == Decimal(10**7) - Decimal("950575") - Decimal("420.22")


def test_get_order_of_an_unknown_id_is_none_and_its_cancel_is_refused(wave):
    """get_order returns None for an id no order has, as zipline's does; cancelling one is
    refused (zipline ignores it without a word: a strategy bug rustybt reports). Ids are
    text, as zipline's (an int is read as the id it encodes): the refusal shows an unknown
    id in its 32-hex-digit form, or quoted when the text is no hex number at all."""
    _, log = _same(
        wave,
        _no_costs,
        {
            0: [
                lambda a: a.cancel_order(7),
                lambda a: a.cancel_order(oid(7)),
                lambda a: a.cancel_order("abc"),
                lambda a: a.cancel_order("xyz"),
                lambda a: a.get_order(7),
                lambda a: a.get_order(oid(7)),
                lambda a: a.get_order(-1),
                lambda a: a.get_order("abc"),
                lambda a: a.get_order("xyz"),
            ]
        },
    )
    assert _outcomes(log) == [
        f"BadOrderParameters: unknown order id {oid(7)}",
        f"BadOrderParameters: unknown order id {oid(7)}",
        f"BadOrderParameters: unknown order id {oid(0xABC)}",
        'BadOrderParameters: unknown order id "xyz"',
        *[None] * 5,
    ]


def test_get_open_orders_per_asset_and_all(wave):
    A, A2, B = (wave.symbol(s) for s in ("A", "A2", "B"))

    def ids(x):
        if isinstance(x, dict):
            return {asset.symbol: [o.id for o in os] for asset, os in x.items()}
        return [o.id for o in x]

    _, log = _same(
        wave,
        _no_costs,
        {
            0: [
                lambda a: a.order(A, 10, limit_price=9.25),  # fills at bar 4
                lambda a: a.order(A, -5, limit_price=11.5),  # fills at bar 3
                lambda a: a.order(B, 1),  # fills at bar 1
                lambda a: a.get_open_orders(A),
                lambda a: a.get_open_orders(B),
                lambda a: a.get_open_orders(A2),
                lambda a: a.get_open_orders(),
            ],
            1: [lambda a: a.get_open_orders(), lambda a: a.get_open_orders(B)],
            3: [lambda a: a.get_open_orders(A)],
            4: [lambda a: a.get_open_orders(), lambda a: a.get_open_orders(A)],
        },
    )
    out = _outcomes(log)
    assert out[:3] == [oid(0), oid(1), oid(2)]
    assert [ids(x) for x in out[3:]] == [
        [oid(0), oid(1)],
        [oid(2)],
        [],
        {"A": [oid(0), oid(1)], "B": [oid(2)]},
        {"A": [oid(0), oid(1)]},
        [],
        [oid(0)],
        {},
        [],
    ]
    listed = out[3]
    assert all(isinstance(o, Order) and o.open and o.asset == A for o in listed)
    assert [(o.amount, o.open_amount, o.limit) for o in listed] == [(10, 10, 9.25), (-5, -5, 11.5)]


def test_get_order_follows_an_order_through_partial_fills(wave):
    """100 shares a bar (volume limit 0.0001 of 1,000,000): 250 fill over bars 1 to 3."""

    def setup(a):
        a.set_slippage(slippage.FixedBasisPointsSlippage(basis_points=0, volume_limit=0.0001))
        a.set_commission(commission.PerShare(cost=0.01, min_trade_cost=1.5))

    exact, log = _same(
        wave,
        setup,
        {
            0: [lambda a: a.order(a.symbol("A"), 250), lambda a: a.get_order(0)],
            1: [lambda a: a.get_order(0)],
            2: [lambda a: a.get_order(0)],
            3: [lambda a: a.get_order(0)],
        },
    )
    _, *seen = _outcomes(log)
    times = wave.bar_times
    assert [(o.filled, o.open_amount, o.status, o.dt, o.commission) for o in seen] == [
        (0, 250, OPEN, times[0], 0.0),
        (100, 150, OPEN, times[1], 1.5),  # the minimum on the first fill
        (200, 50, OPEN, times[2], 2.0),  # then per share once above it
        (250, 0, FILLED, times[3], 2.5),
    ]
    assert {o.created for o in seen} == {times[0]}
    assert [(t[2], t[3], t[4]) for t in _txns(exact)] == [
        (100, Decimal("9.50"), Decimal("1.5")),
        (100, Decimal("11.00"), Decimal("0.5")),
        (50, Decimal("12.00"), Decimal("0.5")),
    ]


def test_get_order_of_an_order_a_split_rejected(split_days):
    _, log = _same(
        split_days,
        _no_costs,
        {0: [lambda a: a.order(a.sid(1), 5, limit_price=0.01)], 3: [lambda a: a.get_order(0)]},
    )
    _, order = _outcomes(log)
    assert (order.status, order.status_name, order.amount, order.filled) == (
        REJECTED,
        "rejected",
        35,
        0,
    )
    # 5 B at a limit of 0.01 became 35 at 0.01 / 7 = 0.00 (to cents): nothing can fill
    assert order.reason == "the split left nothing to fill"


# ---------------------------------------------------------------------------------------
# symbol, symbols, sid
# ---------------------------------------------------------------------------------------


def test_symbol_symbols_and_sid(wave):
    A, A2, B = (wave.symbol(s) for s in ("A", "A2", "B"))
    exact, log = _same(
        wave,
        _no_costs,
        {
            0: [
                lambda a: [a.symbol("B"), a.symbols("A", "B", "A2"), a.symbols(), a.sid(B.sid)],
                lambda a: a.order(a.symbols("B")[0], 3),
                lambda a: a.order(a.sid(A.sid), 2),
            ]
        },
    )
    looked_up, *_ = _outcomes(log)
    assert looked_up == [B, [A, B, A2], [], B]
    assert (B.symbol, A.sid, B.sid) == ("B", 0, 2)
    assert [(t[1], t[2]) for t in _txns(exact)] == [(B.sid, 3), (A.sid, 2)]


BAD_LOOKUPS = {
    "unknown symbol": (
        lambda a: a.symbol("ZZZ"),
        "SymbolNotFound: symbol 'ZZZ' is not in bundle '{bundle}' (4 assets: A, A2, B, L)",
    ),
    "symbol not a str": (
        lambda a: a.symbol(5),
        "SymbolNotFound: symbol 5 is not in bundle '{bundle}' (4 assets: A, A2, B, L)",
    ),
    "one unknown among symbols": (
        lambda a: a.symbols("A", "NOPE"),
        "SymbolNotFound: symbol 'NOPE' is not in bundle '{bundle}' (4 assets: A, A2, B, L)",
    ),
    # zipline's SidsNotFound, a subclass of SymbolNotFound
    "sid beyond the bundle": (
        lambda a: a.sid(4),
        "SidsNotFound: sid 4 is not in bundle '{bundle}'",
    ),
    "negative sid": (lambda a: a.sid(-1), "SidsNotFound: sid -1 is not in bundle '{bundle}'"),
    "sid a str": (lambda a: a.sid("0"), "SidsNotFound: sid '0' is not in bundle '{bundle}'"),
    "sid a bool": (lambda a: a.sid(True), "SidsNotFound: sid True is not in bundle '{bundle}'"),
}


@pytest.mark.parametrize("case", BAD_LOOKUPS)
def test_unknown_symbols_and_sids_are_refused_by_name(wave, case):
    call, expected = BAD_LOOKUPS[case]
    _, log = _same(wave, _no_costs, {0: [call]}, float_ledger=False)
    assert _outcomes(log) == [expected.format(bundle=wave.name)]


def test_unknown_symbol_in_initialize_fails_the_run(wave):
    def setup(a):
        a.symbol("ZZZ")

    for engine in ENGINES:
        with pytest.raises(SymbolNotFound, match="'ZZZ' is not in bundle"):
            engine(algorithm=_Steps(setup, {}), bundle=wave)


# ---------------------------------------------------------------------------------------
# record
# ---------------------------------------------------------------------------------------


class Recorder(rustybt.TradingAlgorithm):
    """Records in every phase, in both of record's forms."""

    def initialize(self, context):
        _no_costs(self)
        self.record(phase="initialize", constant=7)
        context.bar = 0

    def before_trading_start(self, context, data):
        self.record("phase", "before_trading_start")

    def handle_data(self, context, data):
        self.record("bar", context.bar, "phase", "handle_data")
        self.record(cash=self.portfolio.cash, price=data.current(self.symbol("A"), "price"))
        if context.bar % 2 == 0:
            self.record(even=context.bar)  # kept for later sessions until set again
        if context.bar == 0:
            self.order(self.symbol("A"), 100)
        context.bar += 1


def test_record_adds_perf_columns_in_both_engines(wave):
    perfs = [engine(algorithm=Recorder, bundle=wave, capital_base=CAPITAL) for engine in ENGINES]
    columns = ["bar", "cash", "constant", "even", "phase", "price"]
    pd.testing.assert_frame_equal(perfs[0][columns], perfs[1][columns], check_exact=True)
    perf = perfs[0]
    assert perf["bar"].tolist() == list(range(8))
    assert perf["even"].tolist() == [0, 0, 2, 2, 4, 4, 6, 6]
    assert set(perf["phase"]) == {"handle_data"} and set(perf["constant"]) == {7}
    assert perf["price"].tolist() == [float(c) for c in WAVE["A"]]
    assert perf["cash"].tolist() == [CAPITAL] + [CAPITAL - 950.0] * 7


def test_record_refuses_an_odd_number_of_positional_arguments(wave):
    class Odd(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.record("a", 1, "b")

    for engine in ENGINES:
        with pytest.raises(StrategyError, match="record\\(\\) takes name, value pairs") as info:
            engine(algorithm=Odd, bundle=wave)
        assert isinstance(info.value.__cause__, TypeError)


# ---------------------------------------------------------------------------------------
# schedule_function with date_rules and time_rules
# ---------------------------------------------------------------------------------------


class Sched(rustybt.TradingAlgorithm):
    """Schedules ``buy`` (1 share of the first asset, each time it fires) with ``rules``."""

    def __init__(self, rules):
        self.rules, self.fired = rules, []

    def initialize(self, context):
        _no_costs(self)
        self.schedule_function(self.buy, *self.rules)

    def buy(self, context, data):
        self.fired.append(self.get_datetime())
        self.order(self.sid(0), 1)


def _scheduled(bundle, date_rule, time_rule, capital_base=1e6, **run):
    """Fire times (UTC) of :class:`Sched` and each engine's exact values; the two engines
    must agree."""
    results = []
    for engine in ENGINES:
        algo = Sched((date_rule, time_rule))
        perf = engine(algorithm=algo, bundle=bundle, capital_base=capital_base, **run)
        results.append((algo.fired, reference.exact_values(perf)))
    assert results[0] == results[1]
    return results[0]


def _days(times) -> list[str]:
    return [t.tz_convert("America/New_York").strftime("%m-%d") for t in times]


FEB_25 = {"end": "2022-02-25"}  # the last full week: Feb 28th starts a week the bundle ends in
WEEK_STARTS = ["01-03", "01-10", "01-18", "01-24", "01-31", "02-07", "02-14", "02-22", "02-28"]

#: date rule, run arguments, the sessions it fires on (MLK day Jan 17th, Presidents' Day
#: Feb 21st are holidays)
DATE_RULES = {
    "month_start": (date_rules.month_start(), {}, ["01-03", "02-01"]),
    "month_start(2)": (date_rules.month_start(days_offset=2), {}, ["01-05", "02-03"]),
    "month_end": (date_rules.month_end(), {}, ["01-31", "02-28"]),
    "month_end(2)": (date_rules.month_end(days_offset=2), {}, ["01-27", "02-24"]),
    "week_start": (date_rules.week_start(), {}, WEEK_STARTS),
    # Feb 28th's week has one session in the bundle: no second day
    "week_start(1)": (
        date_rules.week_start(days_offset=1),
        {},
        ["01-04", "01-11", "01-19", "01-25", "02-01", "02-08", "02-15", "02-23"],
    ),
    "week_end": (
        date_rules.week_end(),
        FEB_25,
        ["01-07", "01-14", "01-21", "01-28", "02-04", "02-11", "02-18", "02-25"],
    ),
    "week_end(1)": (
        date_rules.week_end(days_offset=1),
        FEB_25,
        ["01-06", "01-13", "01-20", "01-27", "02-03", "02-10", "02-17", "02-24"],
    ),
}


@pytest.mark.parametrize("rule", DATE_RULES)
def test_schedule_function_date_rules_on_daily_bars(two_months, rule):
    date_rule, run, expected = DATE_RULES[rule]
    fired, exact = _scheduled(two_months, date_rule, time_rules.market_open(), **run)
    assert _days(fired) == expected
    # each firing ordered 1 share, filled at the next session's bar
    bars = list(two_months.bar_times)
    fills = [t[5] for t in _txns(exact)]
    assert fills == [bars.index(t) + 1 for t in fired if bars.index(t) + 1 < len(exact["pnl"])]


def test_schedule_function_every_day_and_time_rules_on_daily_bars(two_months):
    """Daily runs have one bar a session, which every time rule picks."""
    everyday, _ = _scheduled(two_months, date_rules.every_day(), time_rules.market_close())
    assert everyday == list(two_months.bar_times)
    default, _ = _scheduled(two_months, None, None)  # every day, at the open
    assert default == everyday


#: time rule, the minute bars it fires on (New York time) in each session of the bundle
TIME_RULES = {
    "market_open": (time_rules.market_open(), ["09:31"]),
    "market_open(minutes=30)": (time_rules.market_open(minutes=30), ["10:00"]),
    "market_open(hours=1, minutes=5)": (time_rules.market_open(hours=1, minutes=5), ["10:35"]),
    "market_close": (time_rules.market_close(), ["15:59"]),
    "market_close(minutes=30)": (time_rules.market_close(minutes=30), ["15:30"]),
    "market_close(hours=2)": (time_rules.market_close(hours=2), ["14:00"]),
}


@pytest.mark.parametrize("rule", TIME_RULES)
def test_schedule_function_time_rules_on_minute_bars(minutes, rule):
    time_rule, expected = TIME_RULES[rule]
    fired, exact = _scheduled(minutes, date_rules.every_day(), time_rule)
    ny = [t.tz_convert("America/New_York").strftime("%m-%d %H:%M") for t in fired]
    assert ny == [f"01-0{d} {hm}" for d in (3, 4) for hm in expected]
    bars = list(minutes.bar_times)
    assert [t[5] for t in _txns(exact)] == [bars.index(t) + 1 for t in fired]
    assert all(
        t[3] == Decimal(f"10.{(bars.index(f) + 1) % 50:02d}") for t, f in zip(_txns(exact), fired)
    )


def test_schedule_function_every_minute_and_date_offsets_on_minute_bars(minutes):
    fired, exact = _scheduled(minutes, date_rules.every_day(), time_rules.every_minute())
    assert fired == list(minutes.bar_times)
    assert len(_txns(exact)) == 779  # the last bar's order has no bar left to fill at
    fired, _ = _scheduled(
        minutes, date_rules.month_start(days_offset=1), time_rules.market_open(minutes=30)
    )
    assert [t.tz_convert("America/New_York").strftime("%m-%d %H:%M") for t in fired] == [
        "01-04 10:00"
    ]
    fired, _ = _scheduled(minutes, date_rules.week_start(), time_rules.market_close(minutes=15))
    assert [t.tz_convert("America/New_York").strftime("%m-%d %H:%M") for t in fired] == [
        "01-03 15:45"
    ]
    # the week's last session is Friday Jan 7th, after the bundle ends: week_end does not
    # fire on Jan 4th (zipline's rules follow the calendar, not the run)
    fired, _ = _scheduled(minutes, date_rules.week_end(), time_rules.market_close(minutes=15))
    assert fired == []


def test_schedule_function_runs_after_handle_data_with_function_style(wave):
    """zipline's style: the api imported from rustybt.api inside the functions."""

    def run(engine):
        seen = []

        def initialize(context):
            from rustybt.api import date_rules, schedule_function, symbol, time_rules

            context.asset = symbol("A")
            schedule_function(scheduled, date_rules.week_start(), time_rules.market_open())

        def handle_data(context, data):
            from rustybt.api import get_datetime

            seen.append(("handle_data", get_datetime().day))

        def scheduled(context, data):
            from rustybt.api import get_datetime, order_target

            seen.append(("scheduled", get_datetime().day))
            order_target(context.asset, 10 * len(seen))

        perf = engine(
            initialize=initialize, handle_data=handle_data, bundle=wave, capital_base=CAPITAL
        )
        return seen, reference.exact_values(perf)

    (seen, exact), other = (run(engine) for engine in ENGINES)
    assert (seen, exact) == other
    assert seen[:3] == [("handle_data", 3), ("scheduled", 3), ("handle_data", 4)]
    assert [s for s in seen if s[0] == "scheduled"] == [("scheduled", 3), ("scheduled", 10)]
    a_sid = wave.symbol("A").sid
    # target 10 * 2 on Jan 3rd (filled Jan 4th), then 10 * 8 on Jan 10th (after six calls of
    # handle_data): 60 more, filled Jan 11th (bar 6)
    assert [(t[1], t[2], t[5]) for t in _txns(exact)] == [(a_sid, 20, 1), (a_sid, 60, 6)]


BAD_SCHEDULES = {
    "not callable": (
        lambda a: a.schedule_function("rebalance"),
        InvalidRunParameters,
        "schedule_function needs a callable, got 'rebalance'",
    ),
    "rules swapped": (
        lambda a: a.schedule_function(print, time_rules.market_open(), date_rules.every_day()),
        InvalidRunParameters,
        "schedule_function takes a date_rules.* and a time_rules.* rule",
    ),
    "a str for a rule": (
        lambda a: a.schedule_function(print, "month_start"),
        InvalidRunParameters,
        "schedule_function takes a date_rules.* and a time_rules.* rule",
    ),
    "negative days_offset": (
        lambda a: date_rules.month_start(days_offset=-1),
        InvalidRunParameters,
        "days_offset must be a non-negative integer, got -1",
    ),
    "fractional days_offset": (
        lambda a: date_rules.week_end(days_offset=1.5),
        InvalidRunParameters,
        "days_offset must be a non-negative integer, got 1.5",
    ),
    "negative minutes": (
        lambda a: time_rules.market_close(minutes=-5),
        InvalidRunParameters,
        "offset must not be negative, got -5 minutes",
    ),
}


@pytest.mark.parametrize("case", BAD_SCHEDULES)
def test_bad_schedule_arguments_fail_the_run_by_name(wave, case):
    call, exc, message = BAD_SCHEDULES[case]
    for engine in ENGINES:
        with pytest.raises(exc) as info:
            engine(algorithm=_Steps(call, {}), bundle=wave)
        assert str(info.value) == message


# ---------------------------------------------------------------------------------------
# get_datetime, get_environment
# ---------------------------------------------------------------------------------------


class Clock(rustybt.TradingAlgorithm):
    """Logs get_datetime in every phase."""

    def initialize(self, context):
        self.seen = [("initialize", self.get_datetime())]
        self.schedule_function(lambda c, d: self.seen.append(("scheduled", self.get_datetime())))

    def before_trading_start(self, context, data):
        self.seen.append(("before_trading_start", self.get_datetime()))

    def handle_data(self, context, data):
        self.seen.append(("handle_data", self.get_datetime()))
        ny, tokyo = self.get_datetime("America/New_York"), self.get_datetime(ZoneInfo("Asia/Tokyo"))
        self.seen.append(("zones", ny, tokyo))

    def analyze(self, context, perf):
        self.seen.append(("analyze", self.get_datetime()))


def _clock(bundle):
    seen = []
    for engine in ENGINES:
        algo = Clock()
        engine(algorithm=algo, bundle=bundle)
        seen.append(algo.seen)
    assert seen[0] == seen[1]
    return seen[0]


def _bts_time(day) -> pd.Timestamp:
    """zipline's before_trading_start time: 8:45 US/Eastern of the session, in UTC."""
    return pd.Timestamp(f"{day.date()} 08:45", tz="America/New_York").tz_convert("UTC")


def test_get_datetime_in_every_phase_on_daily_bars(wave):
    seen = _clock(wave)
    by = {}
    for phase, *values in seen:
        by.setdefault(phase, []).append(values[0] if len(values) == 1 else tuple(values))
    bars = list(wave.bar_times)
    assert by["handle_data"] == bars == by["scheduled"]  # each bar's close, UTC
    assert bars[0] == pd.Timestamp("2022-01-03 21:00", tz="UTC")
    # before a session: 8:45 New York time of the session, as zipline's clock has it
    assert by["before_trading_start"] == [_bts_time(day) for day in wave.sessions]
    assert by["before_trading_start"][0] == pd.Timestamp("2022-01-03 13:45", tz="UTC")
    assert by["analyze"] == [bars[-1]]
    assert by["initialize"][0] <= bars[0]
    for (ny, tokyo), utc in zip(by["zones"], bars):
        assert ny == tokyo == utc
        assert (str(ny.tz), ny.hour, str(tokyo.tz), tokyo.hour) == (
            "America/New_York",
            16,
            "Asia/Tokyo",
            6,
        )


def test_get_datetime_on_minute_bars(minutes):
    seen = _clock(minutes)
    handled = [s[1] for s in seen if s[0] == "handle_data"]
    assert handled == list(minutes.bar_times)
    bts = [s[1] for s in seen if s[0] == "before_trading_start"]
    assert bts == [_bts_time(day) for day in minutes.sessions]


def test_get_datetime_with_an_unknown_time_zone_fails_the_run(wave):
    class BadZone(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.get_datetime("Mars/Olympus_Mons")

    for engine in ENGINES:
        with pytest.raises(StrategyError, match="Mars/Olympus_Mons"):
            engine(algorithm=BadZone, bundle=wave)


def test_get_environment(wave):
    fields = ["platform", "arena", "start", "end", "capital_base", "ledger", "bundle"]

    def look(a):
        return [a.get_environment(), a.get_environment("*"), *map(a.get_environment, fields)]

    # the float run starts at the second session: its first bar is bar 1 of the bundle
    runs = (("decimal", 0, {}), ("float", 1, {"start": "2022-01-04", "end": "2022-01-11"}))
    for ledger, first, run in runs:
        envs = []
        for engine in ENGINES:
            algo = _Steps(lambda a: None, {first: [look]})
            engine(algorithm=algo, bundle=wave, capital_base=12_345.5, ledger=ledger, **run)
            envs.append(_outcomes(algo.log)[0])
        assert envs[0] == envs[1]
        default, everything, *values = envs[0]
        assert default == "rustybt"
        assert {"arena", "data_frequency", "start", "end", "capital_base", "platform"} <= set(
            everything
        )
        start, end = (
            pd.Timestamp(run.get(k, d), tz="UTC")
            for k, d in (("start", "2022-01-03"), ("end", "2022-01-12"))
        )
        assert values == ["rustybt", "backtest", start, end, 12_345.5, ledger, wave.name]
        assert [everything[f] for f in fields] == values


def test_get_environment_data_frequency_is_ziplines(wave, minutes):
    for bundle, expected in ((wave, "daily"), (minutes, "minute")):
        algo = _Steps(lambda a: None, {0: [lambda a: a.get_environment("data_frequency")]})
        rustybt.run_algorithm(algorithm=algo, bundle=bundle)
        assert _outcomes(algo.log) == [expected]


def test_get_environment_all_fields_use_ziplines_frequency_names(wave, minutes):
    for bundle, expected in ((wave, "daily"), (minutes, "minute")):
        algo = _Steps(lambda a: None, {0: [lambda a: a.get_environment("*")["data_frequency"]]})
        rustybt.run_algorithm(algorithm=algo, bundle=bundle)
        assert _outcomes(algo.log) == [expected]


def test_get_environment_unknown_field_is_a_value_error(wave):
    algo = _Steps(lambda a: None, {0: [lambda a: a.get_environment("nope")]})
    rustybt.run_algorithm(algorithm=algo, bundle=wave)
    [outcome] = _outcomes(algo.log)
    assert outcome.startswith(("ValueError", "InvalidRunParameters")) and "'nope'" in outcome


# ---------------------------------------------------------------------------------------
# set_commission, set_slippage
# ---------------------------------------------------------------------------------------

#: (set_commission calls, the commission on 100 shares of A filled at 9.50)
COMMISSIONS = {
    "zipline's default (PerShare 0.001)": ([], "0.1"),
    "PerShare above the minimum": ([commission.PerShare(cost=0.02, min_trade_cost=1.0)], "2"),
    "PerShare at the minimum": ([commission.PerShare(cost=0.001, min_trade_cost=1.0)], "1"),
    "PerTrade": ([commission.PerTrade(cost=5.0)], "5"),
    "PerDollar": ([commission.PerDollar(cost=0.0015)], "1.425"),
    "NoCommission": ([commission.NoCommission()], "0"),
    "the last call wins": ([commission.PerTrade(cost=5.0), commission.PerShare(cost=0.03)], "3"),
}


@pytest.mark.parametrize("case", COMMISSIONS)
def test_set_commission(wave, case):
    models, fee = COMMISSIONS[case]

    def setup(a):
        a.set_slippage(slippage.NoSlippage())
        for model in models:
            a.set_commission(us_equities=model)

    a_sid = wave.symbol("A").sid
    exact, log = _same(
        wave, setup, {0: [lambda a: a.order(a.symbol("A"), 100)], 1: [lambda a: a.get_order(0)]}
    )
    c = Decimal(fee)
    assert _txns(exact) == [(0, a_sid, 100, Decimal("9.50"), c, 1)]
    _, order = _outcomes(log)
    assert order.commission == float(c)
    cash, pv, positions, _ = _books(log)[1]
    assert cash == Decimal(CAPITAL) - 950 - c
    assert pv == cash + 950
    # zipline adds commissions to the cost basis
    assert positions == [(a_sid, 100, float(Decimal("9.50") + c / 100), 9.5)]


def test_per_trade_commission_is_charged_once_per_order(wave):
    def setup(a):
        a.set_slippage(slippage.FixedBasisPointsSlippage(basis_points=0, volume_limit=0.0001))
        a.set_commission(commission.PerTrade(cost=5.0))

    exact, _ = _same(wave, setup, {0: [lambda a: a.order(a.symbol("A"), 250)]})
    assert [(t[2], t[4]) for t in _txns(exact)] == [(100, 5), (100, 0), (50, 0)]


#: (set_slippage calls, fill prices of 100 A bought and 100 A2 sold short at bar 1's 9.50)
SLIPPAGES = {
    "zipline's default (5 bp, 10% of volume)": ([], "9.50475", "9.49525"),
    "NoSlippage": ([slippage.NoSlippage()], "9.50", "9.50"),
    "FixedSlippage": ([slippage.FixedSlippage(spread=0.10)], "9.55", "9.45"),
    "FixedBasisPointsSlippage": (
        [slippage.FixedBasisPointsSlippage(basis_points=10, volume_limit=0.1)],
        "9.5095",
        "9.4905",
    ),
    # 100 shares of 1,000,000: price × (1 ± 0.1 × 0.0001²)
    "VolumeShareSlippage": (
        [slippage.VolumeShareSlippage(volume_limit=0.0001, price_impact=0.1)],
        "9.5000000095",
        "9.4999999905",
    ),
    "the last call wins": (
        [slippage.FixedSlippage(spread=1.0), slippage.FixedSlippage(spread=0.02)],
        "9.51",
        "9.49",
    ),
}


@pytest.mark.parametrize("case", SLIPPAGES)
def test_set_slippage(wave, case):
    models, buy, sell = SLIPPAGES[case]

    def setup(a):
        a.set_commission(commission.NoCommission())
        for model in models:
            a.set_slippage(us_equities=model)

    a_sid, a2_sid = wave.symbol("A").sid, wave.symbol("A2").sid
    exact, log = _same(
        wave,
        setup,
        {0: [lambda a: a.order(a.symbol("A"), 100), lambda a: a.order(a.symbol("A2"), -100)]},
    )
    assert _txns(exact) == [
        (0, a_sid, 100, Decimal(buy), 0, 1),
        (1, a2_sid, -100, Decimal(sell), 0, 1),
    ]
    assert _books(log)[1][0] == Decimal(CAPITAL) - 100 * Decimal(buy) + 100 * Decimal(sell)


def test_slippage_volume_limit_spreads_an_order_over_bars(wave):
    def setup(a):
        a.set_commission(commission.NoCommission())
        a.set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.00005))

    a_sid = wave.symbol("A").sid
    exact, _ = _same(wave, setup, {0: [lambda a: a.order(a.symbol("A"), 120)]})
    # 50 shares a bar, at the bar's close + 5 bp
    assert _txns(exact) == [
        (0, a_sid, 50, Decimal("9.50475"), 0, 1),
        (0, a_sid, 50, Decimal("11.0055"), 0, 2),
        (0, a_sid, 20, Decimal("12.006"), 0, 3),
    ]


#: (initialize, exception, message): refused before the first bar
BAD_COSTS = {
    "commission a str": (
        lambda a: a.set_commission("per_share"),
        BadOrderParameters,
        "set_commission needs a CommissionModel, got 'per_share'",
    ),
    "commission a slippage model": (
        lambda a: a.set_commission(slippage.NoSlippage()),
        BadOrderParameters,
        "set_commission needs a CommissionModel, got NoSlippage()",
    ),
    "commission None": (
        lambda a: a.set_commission(),
        BadOrderParameters,
        "set_commission needs a CommissionModel, got None",
    ),
    "negative per-share cost": (
        lambda a: a.set_commission(commission.PerShare(cost=-0.01)),
        InvalidRunParameters,
        "cost must be a finite, non-negative number, got -0.01",
    ),
    "NaN minimum": (
        lambda a: a.set_commission(commission.PerShare(min_trade_cost=math.nan)),
        InvalidRunParameters,
        "min_trade_cost must be a finite, non-negative number, got NaN",
    ),
    "infinite per-dollar cost": (
        lambda a: a.set_commission(commission.PerDollar(cost=math.inf)),
        InvalidRunParameters,
        "cost must be a finite, non-negative number, got inf",
    ),
    "slippage a str": (
        lambda a: a.set_slippage("fixed"),
        BadOrderParameters,
        "set_slippage needs a SlippageModel, got 'fixed'",
    ),
    "slippage a commission model": (
        lambda a: a.set_slippage(commission.PerTrade()),
        BadOrderParameters,
        "set_slippage needs a SlippageModel, got PerTrade(cost=0.0)",
    ),
    "negative spread": (
        lambda a: a.set_slippage(slippage.FixedSlippage(spread=-1.0)),
        InvalidRunParameters,
        "spread must be a finite, non-negative number, got -1",
    ),
    "NaN volume limit": (
        lambda a: a.set_slippage(slippage.VolumeShareSlippage(volume_limit=math.nan)),
        InvalidRunParameters,
        "volume_limit must be a finite, non-negative number, got NaN",
    ),
    "negative basis points": (
        lambda a: a.set_slippage(slippage.FixedBasisPointsSlippage(basis_points=-5)),
        InvalidRunParameters,
        "basis_points must be a finite, non-negative number, got -5",
    ),
}


@pytest.mark.parametrize("case", BAD_COSTS)
def test_bad_cost_models_fail_the_run_by_name(wave, case):
    setup, exc, message = BAD_COSTS[case]
    result = _same(wave, setup, {}, float_ledger=False)[0]
    assert result == (exc, message)


# ---------------------------------------------------------------------------------------
# set_cancel_policy
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [None, "never", "eod", "end_of_day"])
def test_set_cancel_policy_on_minute_bars(minutes, policy):
    """eod cancels what is still open when a session ends: a limit order never reached,
    and the rest of an order the volume limit (100 shares a bar) could not fill."""
    m_sid = minutes.symbol("M").sid

    def setup(a):
        a.set_commission(commission.NoCommission())
        if policy is not None:
            a.set_cancel_policy(policy)

    exact, log = _same(
        minutes,
        setup,
        {
            0: [
                lambda a: a.order(a.symbol("M"), 100, limit_price=9.0),  # never reached
                lambda a: a.order(a.symbol("M"), 100_000),
            ],
            779: [lambda a: [a.get_order(0), a.get_order(1)]],
        },
        capital_base=1e6,
        float_ledger=False,
    )
    _, _, orders = _outcomes(log)
    day_end = minutes.bar_times[389]
    filled_day_one = 389 * 100  # bars 1 to 389 of Jan 3rd
    if policy in ("eod", "end_of_day"):
        assert [(o.status, o.filled, o.dt) for o in orders] == [
            (CANCELLED, 0, day_end),
            (CANCELLED, filled_day_one, day_end),
        ]
        assert _books(log)[390][3] == []
        assert sum(t[2] for t in _txns(exact)) == filled_day_one
    else:  # never: both stay open; the big one keeps filling on Jan 4th
        assert [(o.status, o.filled) for o in orders] == [
            (OPEN, 0),
            (OPEN, filled_day_one + 39_000),
        ]
        assert _books(log)[-1][3] == [(m_sid, oid(0)), (m_sid, oid(1))]


BAD_POLICIES = {
    "unknown name": ("weekly", "cancel policy must be 'never' or 'eod', got 'weekly'"),
    "upper case": ("EOD", "cancel policy must be 'never' or 'eod', got 'EOD'"),
}


@pytest.mark.parametrize("case", BAD_POLICIES)
def test_bad_cancel_policies_fail_the_run_by_name(wave, case):
    policy, message = BAD_POLICIES[case]
    result = _same(wave, lambda a: a.set_cancel_policy(policy), {}, float_ledger=False)[0]
    assert result == (InvalidRunParameters, message)


def test_cancel_policy_none_is_refused_alike(wave):
    fast, ref = _both(wave, lambda a: a.set_cancel_policy(None), {})
    assert fast == ref
    assert fast[0][0] is InvalidRunParameters and "None" in fast[0][1]


def test_eod_cancel_policy_does_nothing_on_daily_bars(wave):
    """zipline applies EODCancel to minute simulations only ('For now, Zipline will only
    apply this policy to minutely simulations'): on daily bars the order still fills."""
    exact, _ = _same(
        wave, _setup(lambda a: a.set_cancel_policy("eod")), {0: [lambda a: a.order(a.sid(0), 10)]}
    )
    assert _txns(exact) == [(0, 0, 10, Decimal("9.50"), 0, 1)]


def test_cancel_policy_objects_are_ziplines_shape():
    from rustybt.finance.cancel_policy import SESSION_END, CancelPolicy

    assert api.EODCancel().warn_on_cancel is True
    assert api.EODCancel(warn_on_cancel=False).warn_on_cancel is False
    assert api.NeverCancel().warn_on_cancel is False
    assert api.EODCancel().should_cancel(SESSION_END) and not api.NeverCancel().should_cancel(
        SESSION_END
    )
    assert repr(api.EODCancel()) == "EODCancel(warn_on_cancel=True)"
    assert issubclass(api.EODCancel, CancelPolicy) and {"EODCancel", "NeverCancel"} <= set(
        api.__all__
    )


def test_a_cancel_policy_the_engine_cannot_apply_is_refused(wave):
    from rustybt.finance.cancel_policy import CancelPolicy

    class Custom(CancelPolicy):
        def should_cancel(self, event):
            return True

    result = _same(wave, lambda a: a.set_cancel_policy(Custom()), {}, float_ledger=False)[0]
    assert result == (
        InvalidRunParameters,
        "cancel policy must be 'never', 'eod', NeverCancel() or EODCancel(), got Custom()",
    )


def test_zipline_cancel_policy_objects(minutes):
    from rustybt.api import EODCancel, NeverCancel  # type: ignore[attr-defined]

    for policy, status in ((EODCancel(), CANCELLED), (NeverCancel(), OPEN)):
        _, log = _same(
            minutes,
            _setup(lambda a, p=policy: a.set_cancel_policy(p)),
            {0: [lambda a: a.order(a.sid(0), 1, limit_price=9.0)], 779: [lambda a: a.get_order(0)]},
            float_ledger=False,
        )
        assert _outcomes(log)[1].status is status


# ---------------------------------------------------------------------------------------
# Trading controls: set_long_only, set_max_order_size, set_max_position_size,
# set_max_order_count; the account control set_max_leverage
# ---------------------------------------------------------------------------------------


def _violation(amount, symbol, bar, control):
    return (
        f"TradingControlViolation: order for {amount} shares of {symbol} at {DATES[bar]}T21:00:00Z "
        f"violates trading constraint {control}"
    )


def test_set_long_only(wave):
    a_sid = wave.symbol("A").sid
    exact, log = _same(
        wave,
        _setup(lambda a: a.set_long_only()),
        {
            0: [
                lambda a: a.order(a.symbol("A"), -1),
                lambda a: a.order_target_percent(a.symbol("A2"), -0.1),
                lambda a: a.order(a.symbol("A"), 10),
            ],
            2: [
                lambda a: a.order(a.symbol("A"), -11),
                lambda a: a.order_target(a.symbol("A"), -5),
                lambda a: a.order_target(a.symbol("A"), 0),  # selling down to flat is long only
            ],
        },
    )
    assert _outcomes(log) == [
        _violation(-1, "A", 0, "LongOnly()"),
        _violation(-100, "A2", 0, "LongOnly()"),
        oid(0),
        _violation(-11, "A", 2, "LongOnly()"),
        _violation(-15, "A", 2, "LongOnly()"),
        oid(1),
    ]
    assert [(t[0], t[1], t[2]) for t in _txns(exact)] == [(0, a_sid, 10), (1, a_sid, -10)]


def test_trading_controls_on_error_log_place_the_order_and_warn(wave, caplog):
    setup = _setup(
        lambda a: a.set_long_only(on_error="log"),
        lambda a: a.set_max_order_size(max_shares=5, on_error="log"),
        lambda a: a.set_max_position_size(max_shares=5, on_error="log"),
        lambda a: a.set_max_order_count(1, on_error="log"),
    )
    steps = {0: [lambda a: a.order(a.symbol("A"), -10), lambda a: a.order(a.symbol("B"), 1)]}
    exact, log = _same(wave, setup, steps)
    assert _outcomes(log) == [oid(0), oid(1)]
    assert [t[2] for t in _txns(exact)] == [-10, 1]
    warned = []
    for engine in ENGINES:  # each engine warns, in the same words
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rustybt"):
            _run(engine, wave, setup, steps, CAPITAL)
        warned.append([r.getMessage() for r in caplog.records if r.name == "rustybt"])
    assert warned[0] == warned[1]
    assert len(warned[0]) == 4
    for control in (
        "LongOnly()",
        "MaxOrderSize(asset=all, max_shares=5, max_notional=None)",
        "MaxPositionSize(asset=all, max_shares=5, max_notional=None)",
        "MaxOrderCount(max_count=1)",
    ):
        assert any(m.endswith(f"violates trading constraint {control}") for m in warned[0])


def test_set_max_order_size(wave):
    B = wave.symbol("B")
    exact, log = _same(
        wave,
        _setup(
            lambda a: a.set_max_order_size(max_shares=10),
            lambda a: a.set_max_order_size(B, max_notional=100.0),
        ),
        {
            0: [
                lambda a: a.order(a.symbol("A"), 11),
                lambda a: a.order(a.symbol("A"), -11),  # sizes are absolute
                lambda a: a.order_value(a.symbol("A"), 110.0),
                lambda a: a.order(a.symbol("A"), 10),
                lambda a: a.order(B, 3),  # 120.00 at 40.00
                lambda a: a.order_value(B, 80.0),
            ]
        },
    )
    size = "MaxOrderSize(asset=all, max_shares=10, max_notional=None)"
    assert _outcomes(log) == [
        _violation(11, "A", 0, size),
        _violation(-11, "A", 0, size),
        _violation(11, "A", 0, size),
        oid(0),
        _violation(3, "B", 0, "MaxOrderSize(asset=B, max_shares=None, max_notional=100)"),
        oid(1),
    ]
    assert [t[2] for t in _txns(exact)] == [10, 2]


def test_set_max_position_size(wave):
    A = wave.symbol("A")
    _, log = _same(
        wave,
        _setup(
            lambda a: a.set_max_position_size(A, max_shares=15),
            lambda a: a.set_max_position_size(max_notional=500.0),
        ),
        {
            0: [lambda a: a.order(A, 10), lambda a: a.order(a.symbol("B"), 13)],  # 520 at 40
            2: [
                lambda a: a.order(A, 6),  # 16 held
                lambda a: a.order(A, -30),  # -20 held
                lambda a: a.order(A, 5),
                lambda a: a.order(a.symbol("B"), 13),  # 494 at 38
            ],
        },
    )
    shares = "MaxPositionSize(asset=A, max_shares=15, max_notional=None)"
    notional = "MaxPositionSize(asset=all, max_shares=None, max_notional=500)"
    assert _outcomes(log) == [
        oid(0),
        _violation(13, "B", 0, notional),
        _violation(6, "A", 2, shares),
        _violation(-30, "A", 2, shares),
        oid(1),
        oid(2),
    ]
    # 10 at 9.50 and 5 at 12.00 (the basis divides to 12 places); 13 B at 41.00
    assert _books(log)[3][2] == [
        (A.sid, 15, 10.333333333333, 12.0),
        (wave.symbol("B").sid, 13, 41.0, 41.0),
    ]


def test_set_max_order_count_is_per_session(wave):
    exact, log = _same(
        wave,
        _setup(lambda a: a.set_max_order_count(2)),
        {
            0: [
                lambda a: a.order(a.symbol("A"), 1),
                lambda a: a.order(a.symbol("A"), 0),  # no order, but counted (as zipline)
                lambda a: a.order(a.symbol("B"), 1),
                lambda a: a.order(a.symbol("A2"), 1),
            ],
            1: [lambda a: a.order(a.symbol("A2"), 1), lambda a: a.order(a.symbol("A2"), 1)],
        },
    )
    # zipline's MaxOrderCount counts every validated order call, zero shares included
    assert _outcomes(log) == [
        oid(0),
        None,
        _violation(1, "B", 0, "MaxOrderCount(max_count=2)"),
        _violation(1, "A2", 0, "MaxOrderCount(max_count=2)"),
        oid(1),
        oid(2),
    ]
    assert len(_txns(exact)) == 3


@pytest.mark.parametrize(
    ("limit", "amount", "failed_at"),
    [(1.0, 1500, 1), (1.0, -1500, 1), (1.5, 1500, None), (0.0, 1, 1)],
)
def test_set_max_leverage(wave, limit, amount, failed_at):
    """1500 A filled at 9.50 out of 10,000: gross leverage 14,250 / 10,000 = 1.425, long or
    short; a failing run ends with AccountControlViolation at the bar that broke it."""
    result, log = _same(
        wave,
        _setup(lambda a: a.set_max_leverage(limit)),
        {0: [lambda a: a.order(a.symbol("A"), amount)]},
    )
    if failed_at is None:
        assert isinstance(result, dict)
        assert max(abs(p[2][0][1]) * p[2][0][3] / float(p[1]) for p in _books(log)[1:]) <= limit
        return
    leverage = abs(amount) * 9.5 / CAPITAL  # the portfolio is still worth 10,000
    assert result == (
        AccountControlViolation,
        f"account violates account constraint MaxLeverage(max_leverage={limit:g}) at "
        f"{DATES[failed_at]}T21:00:00Z: gross leverage {leverage:.6f}",
    )
    assert len(_books(log)) == failed_at + 1  # the run stopped there


#: (initialize, message) of bad control arguments: InvalidRunParameters
BAD_CONTROLS = {
    "max order size without a limit": (
        lambda a: a.set_max_order_size(),
        "max_order_size needs max_shares or max_notional",
    ),
    "max position size without a limit": (
        lambda a: a.set_max_position_size(a.sid(0)),
        "max_position_size needs max_shares or max_notional",
    ),
    "negative max_shares": (
        lambda a: a.set_max_position_size(max_shares=-1),
        "max_shares must be a non-negative number, got -1",
    ),
    "NaN max_shares": (
        lambda a: a.set_max_order_size(max_shares=math.nan),
        "max_shares must be a non-negative number, got NaN",
    ),
    "negative max_notional": (
        lambda a: a.set_max_order_size(max_notional=-5),
        "max_notional must be a finite, non-negative number, got -5",
    ),
    "max order count None": (
        lambda a: a.set_max_order_count(None),
        "max_order_count needs max_count",
    ),
    "unknown on_error": (
        lambda a: a.set_long_only(on_error="explode"),
        "on_error must be 'fail' or 'log', got 'explode'",
    ),
    "negative max_leverage": (
        lambda a: a.set_max_leverage(-1),
        "max_leverage must be a finite, non-negative number, got -1",
    ),
    "NaN max_leverage": (
        lambda a: a.set_max_leverage(math.nan),
        "max_leverage must be a finite, non-negative number, got NaN",
    ),
}


@pytest.mark.parametrize("case", BAD_CONTROLS)
def test_bad_control_arguments_fail_the_run_by_name(wave, case):
    setup, message = BAD_CONTROLS[case]
    result = _same(wave, setup, {}, float_ledger=False)[0]
    assert result == (InvalidRunParameters, message)


def test_negative_max_order_count_is_refused_alike(wave):
    fast, ref = _both(wave, lambda a: a.set_max_order_count(-1), {})
    assert fast == ref
    assert fast[0][0] is InvalidRunParameters and "-1" in fast[0][1]


# ---------------------------------------------------------------------------------------
# context.portfolio
# ---------------------------------------------------------------------------------------


class Books(rustybt.TradingAlgorithm):
    """Buys 100 A and shorts 10 B at bar 0 (a 1.00 commission each); logs the portfolio
    before each session and after each bar."""

    def initialize(self, context):
        self.set_slippage(slippage.NoSlippage())
        self.set_commission(commission.PerTrade(cost=1.0))
        self.log, self.bar = [], 0

    def _snapshot(self, where):
        p = self.portfolio
        weights = p.current_portfolio_weights
        self.log.append((where, self.bar, p, {a.symbol: w for a, w in weights.items()}))

    def before_trading_start(self, context, data):
        self._snapshot("before_trading_start")

    def handle_data(self, context, data):
        if self.bar == 0:
            self.order(self.symbol("A"), 100)
            self.order(self.symbol("B"), -10)
        self._snapshot("handle_data")
        self.bar += 1


@pytest.mark.parametrize("ledger", ["decimal", "float"])
def test_context_portfolio(wave, ledger):
    logs = []
    for engine in ENGINES:
        algo = Books()
        engine(algorithm=algo, bundle=wave, capital_base=CAPITAL, ledger=ledger)
        logs.append(algo.log)
    assert logs[0] == logs[1]
    seen = {(where, bar): (p, w) for where, bar, p, w in logs[0]}
    A, B = wave.symbol("A"), wave.symbol("B")

    p, weights = seen["handle_data", 0]  # ordered, nothing filled yet
    assert p == Portfolio(CAPITAL, CAPITAL, 0.0, CAPITAL, {})
    assert weights == {}

    # bar 1: 100 A bought at 9.50 and 10 B sold at 42.00, 1.00 each
    cash = CAPITAL - 950 - 1 + 420 - 1
    p, weights = seen["handle_data", 1]
    assert (p.cash, p.positions_value, p.portfolio_value, p.starting_cash) == (
        cash,
        950 - 420,
        cash + 530,
        CAPITAL,
    )
    assert {
        a.symbol: (x.amount, x.cost_basis, x.last_sale_price) for a, x in p.positions.items()
    } == {
        "A": (100, 9.51, 9.5),
        "B": (-10, 41.9, 42.0),  # a short's commission lowers its basis
    }
    assert p.positions[A].asset == A and p.positions[B].sid == B
    assert weights == pytest.approx({"A": 950 / (cash + 530), "B": -420 / (cash + 530)})
    assert p.pnl == pytest.approx(-2.0) and p.returns == pytest.approx(-2.0 / CAPITAL)

    # before session 2: still marked at bar 1's closes; after bar 2: at 11.00 and 38.00
    assert seen["before_trading_start", 2][0] == p
    p, weights = seen["handle_data", 2]
    assert (p.cash, p.portfolio_value) == (cash, cash + 1100 - 380)
    assert p.positions[A].last_sale_price == 11.0 and p.positions[B].last_sale_price == 38.0
    assert weights == pytest.approx({"A": 1100 / (cash + 720), "B": -380 / (cash + 720)})


def test_context_portfolio_after_a_split(split_days):
    """A splits 1-for-2: 3 shares bought at 10.00 become 1 at 20.00 and half a share paid
    in cash (10.00)."""
    a_sid = split_days.symbol("A").sid
    _, log = _same(
        split_days,
        _no_costs,
        {0: [lambda a: a.order(a.symbol("A"), 3)], 2: [lambda a: a.portfolio]},
        capital_base=1000.0,
    )
    [_, p] = _outcomes(log)
    [position] = p.positions.values()
    assert (position.asset.sid, position.amount, position.cost_basis, position.last_sale_price) == (
        a_sid,
        1,
        20.0,
        20.0,
    )
    assert (p.cash, p.portfolio_value) == (1000 - 30 + 10, 1000.0)


def test_positions_of_an_asset_not_held_is_empty(wave):
    algo = _Steps(lambda a: None, {0: [lambda a: a.portfolio.positions[a.symbol("A")].amount]})
    rustybt.run_algorithm(algorithm=algo, bundle=wave)
    assert _outcomes(algo.log) == [0]


def test_positions_lookups_do_not_add_assets(wave):
    """zipline's Positions: an asset not held reads as an empty position, but is not
    added; membership, len and truthiness count held assets only."""

    def look(a):
        positions = a.portfolio.positions
        A, B = a.symbol("A"), a.symbol("B")
        empty = positions[B]
        return [  # a list: the log takes tuples for the books
            (empty.asset, empty.amount, empty.cost_basis, empty.last_sale_price),
            positions[A].amount,
            B in positions,
            len(positions),
            bool(positions),
            positions.get(B),
            list(positions) == [A],
        ]

    _, log = _same(wave, _no_costs, {0: [lambda a: a.order(a.symbol("A"), 10)], 1: [look]})
    B = wave.symbol("B")
    assert _outcomes(log)[1] == [(B, 0, 0.0, 0.0), 10, False, 1, True, None, True]
    empty = rustybt.protocol.Positions()
    assert not empty and empty[B].amount == 0 and len(empty) == 0
    with pytest.raises(KeyError):
        empty["B"]  # not an asset


# ---------------------------------------------------------------------------------------
# Wrong phase: every api function in every phase, class style and function style
# ---------------------------------------------------------------------------------------

PHASES = ("initialize", "before_trading_start", "handle_data", "scheduled", "analyze")


def _in_phase(engine, bundle, phase, call, style):
    """Run a strategy that makes ``call(ns)`` in ``phase`` only (``ns``: the algorithm in
    class style, the ``rustybt.api`` module in function style). Returns the exception the
    run ended with as (type, message), or None."""

    def at(where, ns):
        if where == phase:
            call(ns)

    if style == "class":

        class Algo(rustybt.TradingAlgorithm):
            def initialize(self, context):
                at("initialize", self)
                self.schedule_function(lambda c, d: at("scheduled", self))

            def before_trading_start(self, context, data):
                at("before_trading_start", self)

            def handle_data(self, context, data):
                at("handle_data", self)

            def analyze(self, context, perf):
                at("analyze", self)

        kwargs = {"algorithm": Algo}
    else:

        def initialize(context):
            at("initialize", api)
            api.schedule_function(lambda c, d: at("scheduled", api))

        kwargs = {
            "initialize": initialize,
            "handle_data": lambda c, d: at("handle_data", api),
            "before_trading_start": lambda c, d: at("before_trading_start", api),
            "analyze": lambda c, p: at("analyze", api),
        }
    try:
        engine(bundle=bundle, **kwargs)
    except RustyBTError as exc:
        return type(exc), str(exc)
    return None


def _phases(bundle, call, style) -> dict[str, tuple | None]:
    """What each phase makes of ``call``; both engines must agree."""
    out = {}
    for phase in PHASES:
        fast, ref = (_in_phase(engine, bundle, phase, call, style) for engine in ENGINES)
        assert fast == ref, phase
        out[phase] = fast
    return out


ORDER_CALLS = {name: (lambda ns, n=name: getattr(ns, n)(ns.sid(0), 1)) for name in FUNCTIONS}


@pytest.mark.parametrize("style", ["class", "function"])
@pytest.mark.parametrize("name", ORDER_CALLS)
def test_orders_only_in_handle_data_and_scheduled_functions(five_days, name, style):
    outcomes = _phases(five_days, ORDER_CALLS[name], style)
    for phase in ("initialize", "before_trading_start", "analyze"):
        # zipline's OrderInBeforeTradingStart is a subclass of OrderDuringInitialize
        error = OrderDuringInitialize
        if phase == "before_trading_start":
            error = errors.OrderInBeforeTradingStart
        assert outcomes[phase] == (
            error,
            f"orders cannot be placed in {phase}; place them in handle_data or a scheduled function",
        )
    assert outcomes["handle_data"] is None and outcomes["scheduled"] is None


SETTERS = {
    "set_commission": lambda ns: ns.set_commission(commission.PerTrade(cost=1.0)),
    "set_slippage": lambda ns: ns.set_slippage(slippage.NoSlippage()),
    "set_cancel_policy": lambda ns: ns.set_cancel_policy("eod"),
    "set_fill_model": lambda ns: ns.set_fill_model("next_open"),
    "set_long_only": lambda ns: ns.set_long_only(),
    "set_max_leverage": lambda ns: ns.set_max_leverage(2.0),
    "set_max_order_size": lambda ns: ns.set_max_order_size(max_shares=1),
    "set_max_position_size": lambda ns: ns.set_max_position_size(ns.sid(0), max_notional=5.0),
    "set_max_order_count": lambda ns: ns.set_max_order_count(1),
    "schedule_function": lambda ns: ns.schedule_function(print),
}


POST_INIT_ERRORS = {
    "set_commission": errors.SetCommissionPostInit,
    "set_slippage": errors.SetSlippagePostInit,
    "set_cancel_policy": errors.SetCancelPolicyPostInit,
    "set_max_leverage": errors.RegisterAccountControlPostInit,
}


@pytest.mark.parametrize("style", ["class", "function"])
@pytest.mark.parametrize("name", SETTERS)
def test_settings_only_in_initialize(five_days, name, style):
    outcomes = _phases(five_days, SETTERS[name], style)
    assert outcomes["initialize"] is None
    # zipline's more specific names, all subclasses of RegisterTradingControlPostInit
    error = POST_INIT_ERRORS.get(name, RegisterTradingControlPostInit)
    assert issubclass(error, RegisterTradingControlPostInit)
    for phase in ("before_trading_start", "handle_data", "scheduled", "analyze"):
        assert outcomes[phase] == (error, f"{name} can only be called in initialize")


def _reads(ns):
    asset = ns.symbol("A")
    assert ns.symbols("A") == [asset] and ns.sid(asset.sid) == asset
    assert isinstance(ns.get_datetime(), pd.Timestamp)
    assert ns.get_environment() == "rustybt"
    assert ns.get_open_orders() == {} and ns.get_open_orders(asset) == []
    ns.record(x=1)
    algo = ns if isinstance(ns, rustybt.TradingAlgorithm) else api.get_algo_instance()
    assert algo.portfolio.cash == 1e6


@pytest.mark.parametrize("style", ["class", "function"])
def test_lookups_and_record_work_in_every_phase(five_days, style):
    assert _phases(five_days, _reads, style) == dict.fromkeys(PHASES)


def _zipline_name(name, phase, call, raised):
    """zipline's error ``name`` for ``call`` in ``phase`` ("sid": an unknown sid in
    handle_data); ``raised`` says what rustybt raised before it had the name (the class it
    now subclasses)."""
    return pytest.param(name, phase if phase != "sid" else "handle_data", call, id=name)


ZIPLINE_ERRORS = [
    _zipline_name(
        "SetCommissionPostInit",
        "handle_data",
        SETTERS["set_commission"],
        "set_commission raises RegisterTradingControlPostInit",
    ),
    _zipline_name(
        "SetSlippagePostInit",
        "handle_data",
        SETTERS["set_slippage"],
        "set_slippage raises RegisterTradingControlPostInit",
    ),
    _zipline_name(
        "SetCancelPolicyPostInit",
        "handle_data",
        SETTERS["set_cancel_policy"],
        "set_cancel_policy raises RegisterTradingControlPostInit",
    ),
    _zipline_name(
        "RegisterAccountControlPostInit",
        "handle_data",
        SETTERS["set_max_leverage"],
        "set_max_leverage (an account control) raises RegisterTradingControlPostInit",
    ),
    _zipline_name(
        "OrderInBeforeTradingStart",
        "before_trading_start",
        ORDER_CALLS["order"],
        "an order in before_trading_start raises OrderDuringInitialize",
    ),
    _zipline_name(
        "SidsNotFound",
        "sid",
        lambda ns: ns.sid(99),
        "sid(99) raises SymbolNotFound",
    ),
]


@pytest.mark.parametrize(("name", "phase", "call"), ZIPLINE_ERRORS)
def test_zipline_error_names(five_days, name, phase, call):
    expected = getattr(errors, name)
    raised = _in_phase(rustybt.run_algorithm, five_days, phase, call, "function")
    assert raised is not None and issubclass(raised[0], expected)


@pytest.mark.parametrize("name", api._API_NAMES)
def test_api_functions_outside_a_run_are_refused(name):
    assert callable(getattr(rustybt.TradingAlgorithm, name))
    with pytest.raises(RustyBTError, match="can only be called while an algorithm runs"):
        getattr(api, name)()


def test_the_api_has_every_zipline_function_listed():
    listed = {
        *FUNCTIONS,
        *("cancel_order", "get_open_orders", "get_order", "symbol", "symbols", "sid"),
        *("record", "schedule_function", "get_datetime", "get_environment"),
        *("set_commission", "set_slippage", "set_cancel_policy", "set_long_only"),
        *("set_max_leverage", "set_max_order_size", "set_max_position_size"),
        "set_max_order_count",
    }
    assert listed <= set(api._API_NAMES) <= set(api.__all__)


# ---------------------------------------------------------------------------------------
# Class style and function style: one strategy using most of the api, four runs
# ---------------------------------------------------------------------------------------


def _strategy(ns, log):
    """(initialize, handle_data, before_trading_start) calling the api through ``ns``."""

    def initialize(context):
        context.a, context.b = ns.symbols("A", "B")
        context.a2 = ns.sid(ns.symbol("A2").sid)
        ns.set_commission(commission.PerShare(cost=0.01, min_trade_cost=1.0))
        ns.set_slippage(slippage.FixedSlippage(spread=0.02))
        ns.set_cancel_policy("never")
        ns.set_max_order_size(max_shares=1000)
        ns.set_max_position_size(max_notional=50_000.0)
        ns.set_max_order_count(10)
        ns.set_max_leverage(3.0)
        ns.schedule_function(weekly, date_rules.week_start(), time_rules.market_close())
        ns.record(started=1)
        context.bar = 0

    def weekly(context, data):
        log.append(("weekly", ns.get_datetime(), ns.order_target(context.b, 5)))

    def before_trading_start(context, data):
        log.append(("bts", ns.get_datetime(), ns.get_open_orders()))

    def handle_data(context, data):
        bar, context.bar = context.bar, context.bar + 1
        if bar == 0:
            log.append(ns.order(context.a, 50, style=LimitOrder(9.75)))
            log.append(ns.order_value(context.b, 2000.0))
            log.append(ns.order_percent(context.a2, 0.05, stop_price=12.5))
        elif bar == 2:
            log.append(ns.order_target_percent(context.a, 0.2))
            for o in ns.get_open_orders(context.a2):
                ns.cancel_order(o)
        elif bar == 4:
            log.append(ns.order_target_value(context.b, 0.0))
            log.append(ns.order_target(context.a, 10, limit_price=8.0))
        p = context.portfolio
        log.append((bar, ns.get_order(2), p, dict(p.current_portfolio_weights)))
        ns.record(cash=p.cash, pv=p.portfolio_value, platform=ns.get_environment("platform"))

    return initialize, handle_data, before_trading_start


def _styled(style, log) -> dict:
    if style == "function":
        init, handle, bts = _strategy(api, log)
        return {"initialize": init, "handle_data": handle, "before_trading_start": bts}

    class Styled(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self._fns = _strategy(self, log)
            self._fns[0](context)

        def handle_data(self, context, data):
            self._fns[1](context, data)

        def before_trading_start(self, context, data):
            self._fns[2](context, data)

    return {"algorithm": Styled}


def test_class_and_function_style_agree_in_both_engines(wave):
    runs = []
    for style in ("class", "function"):
        for engine in ENGINES:
            log = []
            perf = engine(bundle=wave, capital_base=CAPITAL, **_styled(style, log))
            recorded = perf[["started", "cash", "pv", "platform"]]
            runs.append((reference.exact_values(perf), log, recorded))
    for exact, log, recorded in runs[1:]:
        assert exact == runs[0][0]
        assert log == runs[0][1]
        pd.testing.assert_frame_equal(recorded, runs[0][2], check_exact=True)
    exact, log, recorded = runs[0]
    sid = {s: wave.symbol(s).sid for s in ("A", "A2", "B")}
    assert log[1:4] == [oid(0), oid(1), oid(2)]  # bar 0's orders
    # A: 50 at 9.50 + 0.01 (limit 9.75); B: 50 (2000 / 40) at 42.01; A2's stop order is
    # cancelled at bar 2 before its stop (12.50) is reached
    assert _txns(exact)[:2] == [
        (0, sid["A"], 50, Decimal("9.51"), Decimal("1"), 1),
        (1, sid["B"], 50, Decimal("42.01"), Decimal("1"), 1),
    ]
    a2_order = next(entry[1] for entry in log if isinstance(entry, tuple) and entry[0] == 7)
    assert (a2_order.id, a2_order.status, a2_order.filled) == (oid(2), CANCELLED, 0)
    assert sid["A2"] not in {t[1] for t in _txns(exact)}
    weekly = [entry for entry in log if isinstance(entry, tuple) and entry[0] == "weekly"]
    assert [w[1].day for w in weekly] == [3, 10]
    assert recorded["platform"].tolist() == ["rustybt"] * 8
    assert recorded["cash"].iloc[-1] == float(exact["ending_cash"][-1])


# ---------------------------------------------------------------------------------------
# Departures from zipline and loose argument checks (once strict xfails, now fixed)
# ---------------------------------------------------------------------------------------


def _loose(case, call, reason):
    """A wrongly typed argument that must be refused by name, as amounts are; ``reason``
    says what rustybt did with it before (a loose check, fixed)."""
    return pytest.param(call, id=case)


# (a str is an id, as zipline's are: get_order and cancel_order of 'abc' are in
# test_get_order_of_an_unknown_id_is_none_and_its_cancel_is_refused)
WRONG_TYPES = [
    _loose(
        "cancel_order(1.9)",
        lambda a: a.cancel_order(1.9),
        "cancel_order coerces the id with int(): 1.9 silently cancels order 1",
    ),
    _loose(
        "limit_price '10'",
        lambda a: a.order(a.symbol("A"), 1, limit_price="10"),
        "limit_price goes through float(): the str '10' is accepted as a limit of 10.0 "
        "(an amount of '10' is refused)",
    ),
    _loose(
        "limit_price True",
        lambda a: a.order(a.symbol("A"), 1, limit_price=True),
        "limit_price goes through float(): True is accepted as a limit of 1.0 (an amount of "
        "True is refused)",
    ),
    _loose(
        "stop_price 'abc'",
        lambda a: a.order(a.symbol("A"), 1, stop_price="abc"),
        "stop_price goes through float(): 'abc' raises a bare ValueError, not "
        "BadOrderParameters naming 'abc'",
    ),
    _loose(
        "LimitOrder([1])",
        lambda a: a.order(a.symbol("A"), 1, style=LimitOrder([1])),
        "a style's prices go through float(): [1] raises a bare TypeError, not "
        "BadOrderParameters naming [1]",
    ),
]


WRONG_TYPES += [
    pytest.param(lambda a: a.cancel_order(-1), id="cancel_order(-1)"),
    pytest.param(lambda a: a.cancel_order(2**64), id="cancel_order(2**64)"),
    pytest.param(lambda a: a.get_order(True), id="get_order(True)"),
    pytest.param(lambda a: a.get_open_orders("A"), id="get_open_orders('A')"),
    pytest.param(lambda a: a.order(a.symbol("A"), 1, stop_price=[2]), id="stop_price [2]"),
    pytest.param(lambda a: a.order(a.symbol("A"), 1, style=StopOrder("12")), id="StopOrder('12')"),
]


@pytest.mark.parametrize("call", WRONG_TYPES)
def test_wrongly_typed_order_arguments_are_refused_by_name(wave, call):
    _, log = _same(
        wave,
        _no_costs,
        {0: [lambda a: a.order(a.symbol("A"), 5), lambda a: a.order(a.symbol("A"), 6), call]},
        float_ledger=False,
    )
    *_, outcome = _outcomes(log)
    assert isinstance(outcome, str) and outcome.startswith("BadOrderParameters")
    assert _books(log)[0][3] == [(0, oid(0)), (0, oid(1))]  # nothing else placed or cancelled


WRONG_TYPED_SETTINGS = [
    _loose(
        "set_max_position_size(asset='A')",
        lambda a: a.set_max_position_size("A", max_shares=1),
        "the controls read asset.sid: asset='A' (a str) raises a bare AttributeError "
        "(StrategyError), not InvalidRunParameters naming 'A'",
    ),
    _loose(
        "set_max_leverage('2x')",
        lambda a: a.set_max_leverage("2x"),
        "set_max_leverage goes through float(): '2x' raises a bare ValueError (StrategyError), "
        "not InvalidRunParameters naming '2x'",
    ),
]


WRONG_TYPED_SETTINGS += [
    pytest.param(lambda a: a.set_fill_model(None), id="set_fill_model(None)"),
    pytest.param(lambda a: a.set_long_only(on_error=None), id="on_error=None"),
    pytest.param(lambda a: a.set_max_order_size(max_notional="x"), id="max_notional='x'"),
    pytest.param(lambda a: a.set_max_order_size(max_shares=True), id="max_shares=True"),
    pytest.param(lambda a: a.set_max_order_count(2.5), id="max_count=2.5"),
    pytest.param(lambda a: a.set_max_order_count("3"), id="max_count='3'"),
    pytest.param(lambda a: a.set_max_leverage(True), id="max_leverage=True"),
    pytest.param(
        lambda a: a.set_max_position_size(_core.Asset(9, "G", "X", 0, 0), max_shares=1),
        id="asset not in the bundle",
    ),
]


@pytest.mark.parametrize("setup", WRONG_TYPED_SETTINGS)
def test_wrongly_typed_settings_are_refused_by_name(wave, setup):
    result = _same(wave, setup, {}, float_ledger=False)[0]
    assert result[0] is InvalidRunParameters


def test_date_rules_follow_the_calendar_not_the_run(two_months):
    fired, _ = _scheduled(two_months, date_rules.month_start(), None, start="2022-01-05")
    assert _days(fired) == ["02-01"]
    fired, _ = _scheduled(two_months, date_rules.week_start(), None, start="2022-01-05")
    assert _days(fired) == WEEK_STARTS[1:]
    fired, _ = _scheduled(two_months, date_rules.week_end(), None, end="2022-02-23")
    assert _days(fired)[-1] == "02-18"
    fired, _ = _scheduled(two_months, date_rules.month_end(), None, end="2022-02-25")
    assert _days(fired) == ["01-31"]


@pytest.mark.parametrize(
    "rule",
    [
        lambda: date_rules.week_start(days_offset=5),
        lambda: date_rules.week_end(days_offset=5),
        lambda: date_rules.month_start(days_offset=23),
        lambda: date_rules.month_end(days_offset=23),
    ],
    ids=["week_start(5)", "week_end(5)", "month_start(23)", "month_end(23)"],
)
def test_date_rule_offsets_beyond_the_period_are_refused(rule):
    with pytest.raises(ValueError, match="offset"):
        rule()


def test_time_rule_offset_as_a_timedelta(minutes):
    rule = time_rules.market_open(offset=datetime.timedelta(minutes=30))
    fired, _ = _scheduled(minutes, date_rules.every_day(), rule)
    assert [t.tz_convert("America/New_York").strftime("%H:%M") for t in fired] == ["10:00"] * 2


@pytest.mark.parametrize(
    "offset",
    [{"minutes": 0}, {"hours": 0, "minutes": 0}, {"hours": 13}],
    ids=["minutes=0", "hours=0, minutes=0", "hours=13"],
)
@pytest.mark.parametrize("rule", ["market_open", "market_close"])
def test_time_rule_offsets_out_of_zipline_range_are_refused(rule, offset):
    with pytest.raises(ValueError, match="offset"):
        getattr(time_rules, rule)(**offset)
