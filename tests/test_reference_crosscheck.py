"""Cross-check: the Rust engine against the pure-Python reference engine, to the last digit.

Hypothesis writes small csvdir bundles (1-3 assets, 3-15 XNYS sessions of early 2022,
prices from 0.01 to 99999.99, zero volumes, missing rows, dividends and splits; or minute
bars), draws a cost model (with parameters of a few digits, or of the 17 digits of ``x / 7``,
so that fill prices and commissions need rounding), a cancel policy, a fill model, trading
controls, a leverage limit and a stream of orders (every order function, market / limit /
stop / stop-limit, some invalid or beyond the exact range, cancels), runs the same
strategy through ``rustybt.run_algorithm`` and ``rustybt.reference.run_algorithm``, and
requires identical results: every exact value and transaction, the exact books after
every bar, the exception (type and message) of every refused order or failed run, and
the whole perf frame; on the float ledger, bit for bit.

Inputs the exact ledger cannot hold (tiny floats, huge values, share counts beyond i64)
must be refused by both engines with the same exception. The edges where the engines once
diverged are pinned at the end, each with its own example.

Exact values are compared as decimals: ``Decimal("1.50") == Decimal("1.5")``. How many
trailing zeros a value prints with is representation, not value.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import tempfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rustybt
import rustybt.reference as reference
from rustybt import _core, calendars
from rustybt.calendars import sessions
from rustybt.errors import ExactRangeExceeded, InvalidRunParameters
from rustybt.finance import commission, slippage
from rustybt.protocol import ORDER_STATUS
from rustybt.reference.ledger import DecimalNum, FloatNum

HEADER = "date,open,high,low,close,volume"
_DAYS = sessions("XNYS", "2022-01-03", "2022-01-31")[0][:15]
DATES = [pd.Timestamp(int(d), unit="D").strftime("%Y-%m-%d") for d in _DAYS]
_names = itertools.count()


def _order_tuple(o) -> tuple:
    """An engine's order record as a tuple, to compare the two engines' records."""
    return (
        *(o.sid, o.amount, o.filled, o.commission, o.limit, o.stop),
        *(o.status, o.reason, o.created_bar, o.updated_bar),
    )


# ---------------------------------------------------------------------------------------
# Strategies: bundles
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _remember_calendar_sessions():
    """Every ingest builds an exchange_calendars calendar (~0.15 s, most of an example's
    time); the bundles here span a handful of date ranges, so remember their sessions."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(calendars, "sessions", functools.lru_cache(calendars.sessions))
        yield


@st.composite
def weighted(draw, *choices):
    """Draw from ``(weight, strategy)`` pairs with those relative weights. (``st.one_of``
    does not weight: it treats repeated strategies as one.)"""
    slots = [i for i, (w, _) in enumerate(choices) for _ in range(w)]
    return draw(choices[draw(st.sampled_from(slots))][1])


#: Prices in cents: tiny (0.01 - 1.00), ordinary (1.00 - 1000.00), huge (up to 99999.99).
REGIMES = {
    "tiny": st.integers(1, 100),
    "ordinary": st.integers(100, 100_000),
    "huge": st.integers(9_000_000, 9_999_999),
}
volumes = weighted((1, st.just(0)), (1, st.integers(1, 60)), (2, st.integers(1_000, 5_000_000)))


def cents(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


#: Corporate actions: a cash dividend per share, a split ratio (new shares per old one).
dividends = weighted(
    (12, st.just("0")), (1, st.sampled_from(["0.25", "1.5", "0.01", "0.000001", "3"]))
)
splits = weighted(
    (10, st.just("1")),
    (1, st.sampled_from(["2", "3", "0.5", "1.5", "0.25", "0.333", "7", "0.1", "200"])),
)


@st.composite
def csv_rows(draw, dates: list[str], actions: bool, span: bool) -> list[str]:
    """One asset's rows: some sessions missing (at least one present; the first and last when
    ``span``), low <= open, close <= high; dividend and split columns when ``actions``."""
    price = REGIMES[draw(st.sampled_from(sorted(REGIMES)))]
    present = draw(
        st.lists(
            st.sampled_from([True, True, True, False]), min_size=len(dates), max_size=len(dates)
        )
    )
    if not any(present):
        present[draw(st.integers(0, len(dates) - 1))] = True
    if span:
        present[0] = present[-1] = True
    rows = []
    previous_close = None
    for date, here in zip(dates, present):
        if not here:
            continue
        close, open_ = draw(price), draw(price)
        low = max(1, min(open_, close) - draw(st.integers(0, 3)))
        high = max(open_, close) + draw(st.integers(0, 3))
        row = f"{date},{cents(open_)},{cents(high)},{cents(low)},{cents(close)},{draw(volumes)}"
        if actions:
            dividend = draw(dividends)
            # ingest refuses a dividend not below the previous close (negative history)
            if previous_close is not None and Decimal(dividend) * 100 >= previous_close:
                dividend = "0"
            row += f",{dividend},{draw(splits)}"
        rows.append(row)
        previous_close = close
    return rows


@st.composite
def bundles(draw, lots: bool = False) -> tuple[rustybt.Bundle, int]:
    """A fresh csvdir bundle; returns it and its number of bars. With ``lots``, assets
    trade in lots of 10^-k (k from 0 to 8, each asset its own)."""
    n_assets = draw(st.integers(1, 3))
    # A few spans only, each held by the first asset: every new span costs a new
    # exchange_calendars calendar at ingest (~0.4 s). Other assets start late, stop early.
    dates = DATES[: draw(st.sampled_from([3, 5, 8, 15]))]
    actions = draw(st.booleans())
    files = {f"A{k}": draw(csv_rows(dates, actions, span=k == 0)) for k in range(n_assets)}
    header = HEADER + (",dividend,split" if actions else "")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "daily"
        d.mkdir()
        for symbol, lines in files.items():
            (d / f"{symbol}.csv").write_text("\n".join([header, *lines]) + "\n")
        lot_size = {sym: 10.0 ** -draw(st.integers(0, 8)) for sym in files} if lots else None
        bundle = rustybt.ingest_csvdir(tmp, f"xcheck{next(_names)}", lot_size=lot_size)
    return bundle, len(bundle.bar_times)


#: A minute bundle spans the first two sessions: 390 one-minute bars each (XNYS, January:
#: 14:31 to 21:00 UTC, bars stamped with their close).
MINUTES = [
    f"{day} {(14 * 60 + 31 + m) // 60:02d}:{(31 + m) % 60:02d}"
    for day in DATES[:2]
    for m in range(390)
]


@st.composite
def minute_bundles(draw) -> tuple[rustybt.Bundle, int]:
    """A fresh minute csvdir bundle over two sessions, each asset trading in a few minutes."""
    n_assets = draw(st.integers(1, 2))
    files = {}
    for k in range(n_assets):
        price = REGIMES[draw(st.sampled_from(sorted(REGIMES)))]
        bars = set(draw(st.lists(st.integers(0, len(MINUTES) - 1), min_size=1, max_size=40)))
        if k == 0:
            bars |= {0, len(MINUTES) - 1}
        rows = []
        for b in sorted(bars):
            close, open_ = draw(price), draw(price)
            low, high = min(open_, close), max(open_, close)
            rows.append(
                f"{MINUTES[b]},{cents(open_)},{cents(high)},{cents(low)},{cents(close)},{draw(volumes)}"
            )
        files[f"M{k}"] = rows
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "minute"
        d.mkdir()
        for symbol, lines in files.items():
            (d / f"{symbol}.csv").write_text("\n".join([HEADER, *lines]) + "\n")
        bundle = rustybt.ingest_csvdir(tmp, f"xcheck{next(_names)}", frequency="minute")
    return bundle, len(bundle.bar_times)


# ---------------------------------------------------------------------------------------
# Strategies: costs and orders
# ---------------------------------------------------------------------------------------


def hundredths(lo: int, hi: int):
    return st.integers(lo, hi).map(lambda v: v / 100)


def digits(short, lo: int, hi: int, scale: int):
    """Mostly ``short`` (a few digits), else ``v / (7 × scale)`` for ``lo <= v <= hi``:
    17 significant digits, which make fill prices and commissions need rounding."""
    return weighted((2, short), (1, st.integers(lo, hi).map(lambda v: v / (7 * scale))))


slippage_models = st.one_of(
    st.none(),  # zipline's default
    st.just(slippage.NoSlippage()),
    st.builds(
        slippage.FixedSlippage,
        # zero spread (fills at the close, an engine shortcut) as often as any other
        spread=st.one_of(st.just(0.0), digits(hundredths(0, 500), 0, 3500, 100)),
    ),
    st.builds(
        slippage.FixedBasisPointsSlippage,
        basis_points=digits(st.integers(0, 1000).map(lambda v: v / 10), 0, 7000, 10),
        volume_limit=digits(hundredths(0, 150), 0, 1050, 100),
    ),
    st.builds(
        slippage.VolumeShareSlippage,
        volume_limit=digits(st.integers(0, 1000).map(lambda v: v / 1000), 0, 7000, 1000),
        price_impact=digits(hundredths(0, 100), 0, 700, 100),
    ),
)
commission_models = st.one_of(
    st.none(),  # zipline's default
    st.just(commission.NoCommission()),
    st.builds(
        commission.PerShare,
        cost=digits(st.integers(0, 500).map(lambda v: v / 10_000), 0, 3500, 10_000),
        min_trade_cost=digits(hundredths(0, 1000), 0, 7000, 100),
    ),
    st.builds(commission.PerTrade, cost=digits(hundredths(0, 2000), 0, 14_000, 100)),
    st.builds(
        commission.PerDollar,
        cost=digits(st.integers(0, 100).map(lambda v: v / 10_000), 0, 700, 10_000),
    ),
)

#: Refused by every order function: not finite, or (decimal ledger) beyond 28 places.
invalid_numbers = st.sampled_from([math.nan, math.inf, -math.inf, 1e-30, -1e-30])


def mostly(valid, invalid, too_large):
    """``valid`` eighteen times in twenty, else ``invalid`` or ``too_large``: values the
    size check refuses (more than 10^15 shares, or more than 10^15 in value at any price
    a bundle has), or beyond a decimal's range altogether."""
    return weighted((18, valid), (1, invalid), (1, st.sampled_from(too_large)))


counts = st.one_of(
    st.integers(-3000, 3000),
    st.integers(-50, 50),
    hundredths(-300_000, 300_000),
    # fractions of a share: whole lots where an asset trades in 10^-k, rounded away else
    st.integers(-3_000_000, 3_000_000).map(lambda v: v / 100_000),
    st.integers(-9_999, 9_999).map(lambda v: v / 10**8),
    # zipline's rounding: within 0.0001 of an integer is that integer
    st.tuples(
        st.integers(-500, 500),
        st.sampled_from([-0.0002, -0.0001, -0.00005, 0.00005, 0.0001, 0.0002]),
    ).map(lambda t: t[0] + t[1]),
)
share_counts = mostly(
    counts,
    invalid_numbers,
    # 1e19 and 1e22 saturate to i64's bounds
    [1e15 + 1, -2e15, 9e18, 1e19, -1e22],
)
targets = mostly(counts, invalid_numbers, [1e15 + 1, -2e15, 9e18, -9e18, 1e19, -1e22])
money_values = mostly(
    st.one_of(hundredths(-200_000_000, 200_000_000), hundredths(-100_000, 100_000)),
    invalid_numbers,
    [1e17, -1e17, 1e20, 7e28],
)
fractions_of_portfolio = mostly(
    st.integers(-15_000, 15_000).map(lambda v: v / 10_000),
    invalid_numbers,
    [1e9, -1e9, 1e25, -1e27],
)
VALUES = {
    "shares": share_counts,
    "target": targets,
    "value": money_values,
    "target_value": money_values,
    "percent": fractions_of_portfolio,
    "target_percent": fractions_of_portfolio,
}
#: A limit or stop price: mostly relative to the asset's current price (the strategy
#: rounds it to cents, so it lands among the prices it meets), else absolute, or refused.
trigger_prices = weighted(
    (6, st.integers(80, 120).map(lambda pct: ("rel", pct / 100))),
    *((1, r.map(lambda c: ("abs", c / 100))) for r in REGIMES.values()),
    (1, st.integers(1, 700_000).map(lambda v: ("abs", v / 700))),  # not in cents
    (1, st.sampled_from([0.0, -1.0, math.nan, math.inf, 1e-30]).map(lambda v: ("abs", v))),
)
#: (limit, stop): market orders half the time, then limit, stop and stop-limit orders.
order_styles = weighted(
    (6, st.just((None, None))),
    (2, st.tuples(trigger_prices, st.none())),
    (2, st.tuples(st.none(), trigger_prices)),
    (2, st.tuples(trigger_prices, trigger_prices)),
)


@st.composite
def actions(draw, n_assets: int):
    what = draw(
        st.sampled_from(["order"] * 16 + ["cancel", "cancel", "cancel_unknown", "bad_kind"])
    )
    if what == "cancel":
        return ("cancel", draw(st.integers(0, 50)))
    if what == "cancel_unknown":
        return ("cancel_unknown", draw(st.integers(10_000, 20_000)))
    kind = "bogus" if what == "bad_kind" else draw(st.sampled_from(sorted(VALUES)))
    values = VALUES.get(kind, VALUES["shares"])
    sid = draw(st.sampled_from([*range(n_assets)] * 10 + [n_assets]))  # n_assets: not in bundle
    return ("order", kind, sid, draw(values), *draw(order_styles))


on_error = st.sampled_from(["fail", "fail", "log"])


@st.composite
def controls(draw, n_assets: int):
    """One of zipline's trading controls: (TradingAlgorithm method, keyword arguments)."""
    kind = draw(
        st.sampled_from(["max_order_size", "max_position_size", "max_order_count", "long_only"])
    )
    if kind == "max_order_count":
        return (
            "set_max_order_count",
            {"max_count": draw(st.integers(0, 4)), "on_error": draw(on_error)},
        )
    if kind == "long_only":
        return ("set_long_only", {"on_error": draw(on_error)})
    shares, notional = draw(
        st.one_of(
            st.tuples(st.integers(0, 500), st.none()),
            st.tuples(st.none(), hundredths(0, 5_000_000)),
            st.tuples(st.integers(0, 500), hundredths(0, 5_000_000)),
        )
    )
    asset = draw(st.one_of(st.none(), st.integers(0, n_assets - 1)))
    return (
        f"set_{kind}",
        {
            "asset": asset,
            "max_shares": shares,
            "max_notional": notional,
            "on_error": draw(on_error),
        },
    )


@st.composite
def scenarios(draw, minute: bool = False, lots: bool = False):
    bundle, n_bars = draw(minute_bundles() if minute else bundles(lots))
    n_assets = len(bundle.asset_list)
    if minute:  # orders at a few of the 780 bars
        plan = draw(
            st.dictionaries(
                st.integers(0, n_bars - 1),
                st.lists(actions(n_assets), min_size=1, max_size=3),
                min_size=4,
                max_size=16,
            )
        )
    else:  # orders at any bar
        plan = dict(
            enumerate(
                draw(
                    st.lists(
                        st.lists(actions(n_assets), max_size=4), min_size=n_bars, max_size=n_bars
                    )
                )
            )
        )
    return {
        "bundle": bundle,
        "capital_base": draw(
            weighted(
                (10, st.sampled_from([1_000.0, 100_000.0, 1e6, 1e7])),
                (10, hundredths(100_000, 1_000_000_000)),
                (3, st.integers(7_000, 70_000_000).map(lambda v: v / 7)),
                (1, st.sampled_from([2e15, 1e300])),  # above 10^15: refused
            )
        ),
        "slippage": draw(slippage_models),
        "commission": draw(commission_models),
        "cancel_policy": draw(st.sampled_from([None, None, "never", "never", "eod"])),
        "fill_model": draw(st.sampled_from([None, None, "next_close", "next_open"])),
        "order_in_bts": draw(st.booleans()),
        "controls": draw(
            weighted((3, st.just([])), (1, st.lists(controls(n_assets), min_size=1, max_size=2)))
        ),
        "max_leverage": draw(st.sampled_from([None] * 6 + [0.5, 1.0, 2.0, 5.0])),
        "plan": plan,
    }


# ---------------------------------------------------------------------------------------
# The strategy both engines run
# ---------------------------------------------------------------------------------------


class Scripted(rustybt.TradingAlgorithm):
    """Plays a drawn order stream and logs everything the engine answers."""

    def __init__(self, scenario):
        self.scenario = scenario

    def initialize(self, context):
        s = self.scenario
        if s["slippage"] is not None:
            self.set_slippage(s["slippage"])
        if s["commission"] is not None:
            self.set_commission(s["commission"])
        if s["cancel_policy"] is not None:
            self.set_cancel_policy(s["cancel_policy"])
        if s["fill_model"] is not None:
            self.set_fill_model(s["fill_model"])
        for method, kwargs in s["controls"]:
            if kwargs.get("asset") is not None:
                kwargs = {**kwargs, "asset": self._bundle.asset_list[kwargs["asset"]]}
            getattr(self, method)(**kwargs)
        if s["max_leverage"] is not None:
            self.set_max_leverage(s["max_leverage"])
        n = len(self._bundle.asset_list)
        # sid n is not in the bundle: ordering it must raise SymbolNotFound
        context.assets = [*self._bundle.asset_list, _core.Asset(n, "GHOST", "X", 0, 0)]
        context.bar = 0
        context.ids = []
        context.log = []

    def before_trading_start(self, context, data):
        # what the strategy sees before the session: the bar before it (none at the first)
        prices = data.current(self._bundle.asset_list, "price")
        context.log.append(("bts", self.get_datetime(), [repr(v) for v in prices]))
        if self.scenario["order_in_bts"]:
            context.log.append(("bts", self._attempt(lambda: self.order(context.assets[0], 1))))

    def handle_data(self, context, data):
        sim = self._sim
        if self._bundle.frequency != "1d" and context.bar in self.scenario["plan"]:
            # minute bars aggregated to hours and days, the bar in progress included
            assets = self._bundle.asset_list
            for freq in ("1h", "1d"):
                window = data.history(assets, "price", 3, freq, return_type="array")
                context.log.append((context.bar, freq, [repr(v) for v in window.ravel()]))
        for action in self.scenario["plan"].get(context.bar, []):
            if action[0] == "cancel":
                target = context.ids[action[1] % len(context.ids)] if context.ids else 0
                outcome = self._attempt(lambda t=target: self.cancel_order(t))
            elif action[0] == "cancel_unknown":
                outcome = self._attempt(lambda a=action: self.cancel_order(a[1]))
            else:
                _, kind, sid, value, limit, stop = action
                limit, stop = self._trigger(data, sid, limit), self._trigger(data, sid, stop)
                outcome = self._attempt(
                    lambda k=kind, a=context.assets[sid], v=value, lp=limit, sp=stop: self._place(
                        k, a, v, lp, sp, None
                    )
                )
                if _is_oid(outcome):  # placed (else None, or the refusal's message)
                    context.ids.append(outcome)
            context.log.append((context.bar, action, outcome))
        cash, pv = sim.exact_state()
        context.log.append(
            (
                context.bar,
                Decimal(cash),
                Decimal(pv),
                sim.open_orders(),
                sim.positions(),
                [_order_tuple(sim.order_info(i)) for i in context.ids],
            )
        )
        self.record(bar=context.bar, cash=context.portfolio.cash)
        context.bar += 1

    def _trigger(self, data, sid: int, spec):
        if spec is None:
            return None
        how, x = spec
        if how == "abs" or sid >= len(self._bundle.asset_list):
            return x
        price = data.current(self._bundle.asset_list[sid], "price")
        return round(price * x, 2) if price == price and round(price * x, 2) > 0 else x

    @staticmethod
    def _attempt(fn):
        try:
            return fn()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"


def run_both(scenario, ledger: str = "decimal"):
    """(the perf frame, or the exception the run raised; the strategy's log) of each engine."""
    out = []
    for engine in (rustybt.run_algorithm, reference.run_algorithm):
        algo = Scripted(scenario)
        try:
            perf = engine(
                algorithm=algo,
                bundle=scenario["bundle"],
                capital_base=scenario["capital_base"],
                ledger=ledger,
            )
        except rustybt.errors.RustyBTError as exc:  # e.g. AccountControlViolation
            perf = exc
        out.append((perf, getattr(algo, "log", None)))  # None: refused before initialize
    return out


#: Outcomes worth counting (``pytest --hypothesis-show-statistics``): how often the
#: generated scenarios reach the rules they are meant to exercise.
EVENTS = {
    "limited to 1000000000000000": "order refused: beyond the exact range",
    "at most 28 places": "order refused: not finite, or beyond 28 places",
    "violates trading constraint": "order refused: trading control",
    "the split left nothing to fill": "order rejected by a split",
}


def assert_same_run(scenario, ledger: str = "decimal"):
    (fast, fast_log), (ref, ref_log) = run_both(scenario, ledger)
    text = repr(fast_log)
    for needle, name in EVENTS.items():
        if needle in text:
            event(name)
    if isinstance(fast, Exception):
        event(f"run refused: {type(fast).__name__}")
    assert fast_log == ref_log
    if isinstance(fast, Exception) or isinstance(ref, Exception):
        assert type(fast) is type(ref)
        assert str(fast) == str(ref)
        return
    assert fast.attrs["rustybt"]["exact"].keys() == ref.attrs["rustybt"]["exact"].keys()
    fast_exact, ref_exact = reference.exact_values(fast), reference.exact_values(ref)
    if any(isinstance(t[2], str) for t in fast.attrs["rustybt"]["exact"]["transactions"]):
        event("fills of fractional quantities")
    assert fast_exact["transactions"] == ref_exact["transactions"]
    for key in fast_exact:
        assert fast_exact[key] == ref_exact[key], key
    assert fast.attrs["rustybt"].keys() == ref.attrs["rustybt"].keys()
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


@settings(max_examples=200, deadline=None, suppress_health_check=SLOW_OK)
@given(scenarios())
def test_rust_engine_matches_reference_exactly(scenario):
    assert_same_run(scenario, "decimal")


@settings(max_examples=20, deadline=None, suppress_health_check=SLOW_OK)
@given(scenarios(minute=True))
def test_rust_engine_matches_reference_on_minute_bars(scenario):
    assert_same_run(scenario, "decimal")


@settings(max_examples=40, deadline=None, suppress_health_check=SLOW_OK)
@given(scenarios())
def test_float_ledgers_agree_bit_for_bit(scenario):
    assert_same_run(scenario, "float")


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(scenarios(lots=True))
def test_fractional_lots_match_the_reference_exactly(scenario):
    """Assets traded in lots of 10^-k (a bundle's ``lot_size``): orders round to whole lots,
    fills, costs, splits and dividends on fractional quantities, to the last digit."""
    assert_same_run(scenario, "decimal")


@settings(max_examples=20, deadline=None, suppress_health_check=SLOW_OK)
@given(scenarios(lots=True))
def test_fractional_lots_float_ledgers_agree_bit_for_bit(scenario):
    assert_same_run(scenario, "float")


# ---------------------------------------------------------------------------------------
# The reference's own arithmetic, against first principles
# ---------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=16, min_value=-(10**9), max_value=10**9
    ),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**6), max_value=10**6
    ).filter(lambda d: d != 0),
)
def test_div_q_is_the_exact_quotient_rounded_half_even(a, b):
    q = reference.div_q(a, b)
    assert q.as_tuple().exponent == -12
    err = Fraction(q) - Fraction(a) / Fraction(b)
    ulp = Fraction(1, 10**12)
    assert abs(err) <= ulp / 2
    if abs(err) == ulp / 2:  # a tie: the last digit is even
        assert int(q.scaleb(12)) % 2 == 0


@pytest.mark.parametrize(
    ("raw", "shares"),
    [
        ("9.99995", 10),
        ("9.9998", 9),
        ("-9.9998", -9),
        ("-3.00009", -3),
        ("0.5", 0),
        ("-0.00009", 0),
        ("2.5", 2),
    ],
)
def test_round_order_amount_is_zipline_rounding(raw, shares):
    assert reference.round_order_amount(DecimalNum, Decimal(raw)) == shares
    assert reference.round_order_amount(FloatNum, float(raw)) == shares


def test_div_q_ties_go_to_even():
    assert str(reference.div_q(Decimal("0.0000000000005"), Decimal(1))) == "0E-12"
    assert str(reference.div_q(Decimal("0.0000000000015"), Decimal(1))) == "2E-12"
    assert str(reference.div_q(Decimal(-1), Decimal(3))) == "-0.333333333333"
    assert str(reference.div_q(Decimal(2), Decimal(3))) == "0.666666666667"


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        (0.1, "0.1"),
        (2.0, "2"),
        (-0.0, "0"),
        (1 / 3, "0.3333333333333333"),
        (1.2345678901234567e-12, "0.0000000000012345678901234567"),  # 28 places: held
        (1e-28, "0.0000000000000000000000000001"),
        (7.922816251426433e28, "79228162514264330000000000000"),
        (1.2345678901234567e-13, None),  # 29 places
        (6e-29, None),
        (1e-30, None),
        (8e28, None),  # beyond a 96-bit mantissa
        (math.nan, None),
        (math.inf, None),
    ],
)
def test_floats_enter_through_their_repr_digits_or_not_at_all(value, digits):
    d = DecimalNum.from_f64(value)
    assert (d if d is None else DecimalNum.to_str(d)) == digits
    assert FloatNum.from_f64(value) == (value if math.isfinite(value) else None)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=5e-324, allow_nan=False, allow_infinity=False),
        st.integers(1, 2**52).map(lambda k: k / 64),  # often ties between 17-digit strings
    )
)
def test_float_ledger_prints_floats_as_rust_does(five_days, x):
    """The float ledger's exact values are Rust's ``Display`` of f64: shortest round-trip
    digits, a tie going away from zero (``repr`` breaks it to even)."""
    with pytest.raises(InvalidRunParameters) as refused:  # the message shows Display of -x
        _core.Simulation(five_days._core, 0, 0, -x, "float")
    assert str(refused.value).rsplit("got ", 1)[1] == "-" + FloatNum.to_str(x)


def test_reference_run_algorithm_takes_rustybt_run_algorithm_arguments():
    assert inspect.signature(reference.run_algorithm) == inspect.signature(rustybt.run_algorithm)


# ---------------------------------------------------------------------------------------
# Inputs the exact ledger cannot hold: both engines refuse them, with the same exception
# ---------------------------------------------------------------------------------------


def _bundle(files: dict[str, list[str]], actions: bool = False) -> rustybt.Bundle:
    header = HEADER + (",dividend,split" if actions else "")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "daily").mkdir()
        for symbol, rows in files.items():
            (Path(tmp) / "daily" / f"{symbol}.csv").write_text("\n".join([header, *rows]) + "\n")
        return rustybt.ingest_csvdir(tmp, f"xcheck{next(_names)}")


@pytest.fixture(scope="module")
def five_days() -> rustybt.Bundle:
    closes = ["10.00", "10.37", "11.11", "12.13", "9.99"]
    return _bundle({"A": [f"{d},{c},{c},{c},{c},1000000" for d, c in zip(DATES, closes)]})


class _Steps(rustybt.TradingAlgorithm):
    """Runs ``steps[bar]`` (callables of the algorithm) and logs outcomes and the books."""

    def __init__(self, initialize, steps):
        self._setup, self._steps, self.log = initialize, steps, []

    def initialize(self, context):
        self._setup(self)

    def handle_data(self, context, data):
        sim = self._sim
        for step in self._steps.get(sim.current_bar, []):
            self.log.append(Scripted._attempt(lambda s=step: s(self)))
        cash, pv = sim.exact_state()
        self.log.append((Decimal(cash), Decimal(pv), sim.positions(), sim.open_orders()))


def _run(engine, bundle, initialize, steps: dict, capital_base: float = 1e6):
    """(the exact values, or the exception the run raised; the log) of one engine."""
    algo = _Steps(initialize, steps)
    try:
        perf = engine(algorithm=algo, bundle=bundle, capital_base=capital_base)
    except rustybt.errors.RustyBTError as exc:
        return exc, algo.log
    return reference.exact_values(perf), algo.log


def _both(bundle, initialize, steps: dict, capital_base: float = 1e6):
    """:func:`_run` on each engine, exceptions as (type, message) so that they compare."""
    out = []
    for engine in (rustybt.run_algorithm, reference.run_algorithm):
        result, log = _run(engine, bundle, initialize, steps, capital_base)
        if isinstance(result, Exception):
            result = (type(result), str(result))
        out.append((result, log))
    return out


def _no_costs(algo):
    algo.set_slippage(slippage.NoSlippage())
    algo.set_commission(commission.NoCommission())


def _places(what: str) -> str:
    return f"{what} must be a finite number that a decimal with at most 28 places can hold exactly"


def _outcomes(log) -> list:
    """What the steps returned or raised (the log without the books)."""
    return [x for x in log if not isinstance(x, tuple)]


def oid(n: int) -> str:
    """The id of the ``n``-th order placed (from 0) as strategies see it: 32 lowercase hex
    digits, the shape of zipline's ``uuid4().hex`` ids (``order()`` returns it, perf
    records carry it)."""
    return f"{n:032x}"


def _is_oid(x) -> bool:
    """Whether ``x`` is an order id as :func:`oid` writes them."""
    return isinstance(x, str) and len(x) == 32 and all(c in "0123456789abcdef" for c in x)


def test_tiny_floats_are_refused_by_both(five_days):
    """A nonzero float whose digits need more than 28 places (``1e-30``) is refused, not
    read as 0 (which made a positive limit price "not positive")."""
    fast, ref = _both(
        five_days,
        _no_costs,
        {
            0: [
                lambda a: a.order(a.sid(0), 10, limit_price=1e-30),
                lambda a: a.order(a.sid(0), 10, stop_price=1e-30),
                lambda a: a.order(a.sid(0), 1e-30),
                lambda a: a.order_value(a.sid(0), 1e-30),
                lambda a: a.order_target_percent(a.sid(0), -1e-30),
            ]
        },
    )
    assert fast == ref
    refused = _outcomes(fast[1])
    assert refused[0] == f"BadOrderParameters: {_places('limit')}, got 0.{'0' * 29}1"
    assert refused[1].startswith(f"BadOrderParameters: {_places('stop')}")
    assert refused[2].startswith(f"BadOrderParameters: {_places('amount')}")
    assert refused[3].startswith(f"BadOrderParameters: {_places('value')}")
    assert refused[4] == f"BadOrderParameters: {_places('target')}, got -0.{'0' * 29}1"
    # a model parameter: the run is refused
    fast, ref = _both(five_days, lambda a: a.set_commission(commission.PerDollar(1e-30)), {})
    assert fast == ref
    assert fast[0] == (
        InvalidRunParameters,
        f"cost must be a finite, non-negative number, got 0.{'0' * 29}1",
    )


def test_huge_values_are_refused_by_both(five_days):
    """Capital above 10^15, and orders or positions worth more than 10^15 at the current
    price, are refused rather than rounded (rust_decimal holds 28 digits: 12 decimal
    places leave 16 for the rest)."""
    for capital in (1e17, 1000000000000000.1, 1e300):
        fast, ref = _both(five_days, _no_costs, {}, capital_base=capital)
        assert fast == ref
        assert fast[0][0] is InvalidRunParameters
    assert fast[0][1].startswith("capital_base must be a finite, non-negative number")  # 1e300
    fast, ref = _both(five_days, _no_costs, {}, capital_base=1e17)
    assert fast[0][1] == (
        "invalid parameter capital_base = 100000000000000000: above 1000000000000000 the "
        "ledger could not stay exact"
    )
    fast, ref = _both(
        five_days,
        _no_costs,
        {
            0: [
                lambda a: a.order_value(a.sid(0), 1e15 + 10),
                lambda a: a.order_percent(a.sid(0), 1e3),
                lambda a: a.order_target_value(a.sid(0), -1e20),
                lambda a: a.order(a.sid(0), 10**14),  # worth exactly 10^15 at 10.00: placed
            ],
            # its fill at 10.37 would be worth more than 10^15: rejected, nothing held
            1: [lambda a: [_order_tuple(a._sim.order_info(0))], lambda a: a.order(a.sid(0), 1)],
        },
        capital_base=1e15,  # the largest accepted
    )
    assert fast == ref
    values = "order and position values are limited to 1000000000000000"
    shares = "orders and positions are limited to 1000000000000000 shares"
    outcomes = _outcomes(fast[1])
    assert outcomes[:4] == [
        f"BadOrderParameters: order for 100000000000001 shares: {values}",
        f"BadOrderParameters: order for 100000000000000000 shares: {shares}",
        f"BadOrderParameters: order for -9223372036854775808 shares: {shares}",  # saturated
        oid(0),
    ]
    [info] = outcomes[4]
    assert (info[2], info[6]) == (0, 3)  # nothing filled, status 3: rejected
    assert "would take the order or the position beyond 1000000000000000" in info[7]
    assert outcomes[5] == oid(1)


def test_share_counts_beyond_i64_are_refused_by_both(five_days):
    """Share counts are i64 in Rust: beyond 10^15 shares an order is refused before it
    could overflow, naming the amount asked for (it used to name the i64 it saturated to,
    9223372036854775807)."""
    fast, ref = _both(
        five_days,
        _no_costs,
        {
            0: [lambda a: a.order(a.sid(0), 9e18), lambda a: a.order(a.sid(0), 9e18)],
            2: [
                lambda a: a.order(a.sid(0), 1e19),
                lambda a: a.order(a.sid(0), -1e22),
                lambda a: a.order_target(a.sid(0), 1e15 + 1),
                lambda a: a.order(a.sid(0), 10**15),  # at 11.11: worth too much
            ],
        },
    )
    assert fast == ref
    shares = "orders and positions are limited to 1000000000000000 shares"
    refused = _outcomes(fast[1])
    assert refused[:5] == [
        f"BadOrderParameters: {what} {n} shares: {shares}"
        for what, n in [
            ("order for", 9 * 10**18),
            ("order for", 9 * 10**18),
            ("order for", 10**19),
            ("order for", -(10**22)),
            ("target of", 10**15 + 1),
        ]
    ]
    assert refused[5].startswith("BadOrderParameters: order for 1000000000000000 shares: order")
    assert fast[1][-1][2] == []  # nothing was placed


@pytest.fixture(scope="module")
def split_days() -> rustybt.Bundle:
    """A splits 1-for-2 (0.5) and B 7-for-1 on the third session."""

    def rows(closes, splits):
        return [f"{d},{c},{c},{c},{c},1000000,0,{s}" for d, c, s in zip(DATES, closes, splits)]

    return _bundle(
        {
            "A": rows(["10.00", "10.00", "20.00", "20.00", "20.00"], [1, 1, 0.5, 1, 1]),
            "B": rows(["7.00", "7.00", "1.00", "1.00", "1.00"], [1, 1, 7, 1, 1]),
        },
        actions=True,
    )


SPLIT_ORDERS = {
    0: [
        lambda a: a.order(a.sid(0), 3),  # held: 3 old shares become 1, and 0.5 in cash
        lambda a: a.order(a.sid(0), 1, limit_price=1.0),  # 0.5 new shares: rejected
        lambda a: a.order(a.sid(0), -10, limit_price=90.0),  # -5 at 180.00: kept
        lambda a: a.order(a.sid(1), 5, limit_price=0.01),  # limit 0.00: rejected
        lambda a: a.order(a.sid(1), -3, stop_price=0.02),  # stop 0.00: rejected
        lambda a: a.order(a.sid(1), 2, stop_price=70.0),  # 14 at 10.00: kept
    ],
    3: [lambda a: [_order_tuple(a._sim.order_info(i)) for i in range(6)]],
}


def test_splits_scale_open_orders_and_reject_the_emptied_ones(split_days):
    fast, ref = _both(split_days, _no_costs, SPLIT_ORDERS)
    assert fast == ref
    infos = fast[1][-3]
    assert [(i[1], i[6]) for i in infos] == [(3, 1), (0, 3), (-5, 0), (35, 3), (-21, 3), (14, 0)]
    assert {i[7] for i in infos if i[6] == 3} == {"the split left nothing to fill"}


# ---------------------------------------------------------------------------------------
# Edges where the engines once diverged (each was a strict xfail until fixed)
# ---------------------------------------------------------------------------------------


def test_floats_beyond_28_places_are_refused_by_both(five_days):
    """Digits past 28 decimal places cannot be held exactly: both engines refuse them."""
    fast, ref = _both(
        five_days,
        _no_costs,
        {
            0: [
                lambda a: a.order(a.sid(0), 10, limit_price=6e-29),
                lambda a: a.order(a.sid(0), 10, limit_price=1.2345678901234567e-13),
            ],
            1: [lambda a: [_order_tuple(a._sim.order_info(i)) for i in range(2)]],
        },
    )
    assert fast == ref


def test_float_ties_take_the_even_repr_digits(five_days):
    x = 218682591476.328125  # exactly between 218682591476.32812 and ...32813
    assert repr(x) == "218682591476.32812"
    fast, ref = _both(
        five_days,
        _no_costs,
        {
            0: [lambda a: a.order(a.sid(0), 1, limit_price=x)],
            1: [lambda a: [_order_tuple(a._sim.order_info(0))]],
        },
        x,
    )
    assert fast == ref
    [info] = _outcomes(fast[1])[1]
    assert Decimal(str(info[4])) == Decimal("218682591476.32812")  # the limit, as repr reads


def test_percents_beyond_the_decimal_range_are_refused_by_both(five_days):
    fast, ref = _both(
        five_days,
        _no_costs,
        {
            0: [
                lambda a: a.order_percent(a.sid(0), 1e25),
                lambda a: a.order_target_percent(a.sid(0), 1e25),
            ]
        },
    )
    assert fast == ref
    refusal = (
        "BadOrderParameters: an order for 10000000000000000000000000 of the portfolio value: "
        "the value is beyond what the ledger can hold exactly"
    )
    assert _outcomes(fast[1]) == [refusal, refusal]


def test_order_target_beyond_i64_is_refused_by_both_naming_the_target(five_days):
    fast, ref = _both(
        five_days,
        _no_costs,
        {0: [lambda a: a.order(a.sid(0), -10)], 2: [lambda a: a.order_target(a.sid(0), 1e19)]},
    )
    assert fast == ref
    assert _outcomes(fast[1]) == [
        oid(0),
        "BadOrderParameters: target of 10000000000000000000 shares: orders and positions are "
        "limited to 1000000000000000 shares",
    ]


def test_fill_beyond_the_bound_after_a_price_jump_is_rejected_by_both():
    closes = ["10.00", "999.99", "999.99"]
    bundle = _bundle(
        {"A": [f"{d},{c},{c},{c},{c},3000000000000000" for d, c in zip(DATES, closes)]}
    )

    def costs(a):
        a.set_slippage(slippage.VolumeShareSlippage(volume_limit=1.0, price_impact=0.1))
        a.set_commission(commission.NoCommission())

    # worth 999,999,999,999,990 at 10.00 (allowed); filled at 1000.101109999998
    fast, ref = _both(
        bundle,
        costs,
        {
            0: [lambda a: a.order(a.sid(0), 99_999_999_999_999)],
            1: [lambda a: [_order_tuple(a._sim.order_info(0))]],
        },
        1e15,
    )
    assert fast == ref
    [info] = _outcomes(fast[1])[1]
    assert (info[2], info[6]) == (0, 3)  # rejected at the fill, nothing booked
    assert fast[1][-1][:2] == (Decimal(10**15), Decimal(10**15))  # cash and value untouched


def test_split_rejections_are_reported_in_perf_orders(split_days):
    algo = _Steps(_no_costs, SPLIT_ORDERS)
    perf = rustybt.run_algorithm(algorithm=algo, bundle=split_days)
    statuses = {o["id"]: o["status"] for o in perf["orders"].iloc[2]}
    rejected = {i for i, status in statuses.items() if status is ORDER_STATUS.REJECTED}
    assert rejected == {oid(1), oid(3), oid(4)}


def test_nothing_is_visible_before_the_first_bar_in_both(five_days):
    class Early(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.seen = []

        def before_trading_start(self, context, data):
            self.seen.append((self.get_datetime(), data.current(self.sid(0), "close")))

    seen = []
    for engine in (rustybt.run_algorithm, reference.run_algorithm):
        algo = Early()
        engine(algorithm=algo, bundle=five_days)
        seen.append([(dt, repr(close)) for dt, close in algo.seen])
    assert seen[0] == seen[1]
    assert seen[0][0][1] == "nan"  # before the first bar: nothing to see
    assert seen[0][1][1] == "10.0"  # then the previous session's close


@pytest.mark.parametrize("ledger", ["decimal", "float"])
def test_w1_strategy_matches_reference_exactly(small_bundle, ledger):
    """The W1 benchmark strategy itself: every asset re-weighted by the same percent each
    bar (the engine multiplies portfolio value × percent once per bar and reuses it), zero
    fixed spread (the fill is the close, no arithmetic) and per-share commissions."""
    from rustybt.app.examples.sma_crossover import SmaCross

    perfs = [
        engine(
            algorithm=SmaCross,
            bundle=small_bundle,
            capital_base=1_000_000,
            ledger=ledger,
            params={"n_assets": 5, "fast": 3, "slow": 8},
        )
        for engine in (rustybt.run_algorithm, reference.run_algorithm)
    ]
    fast, ref = perfs
    assert sum(map(len, fast["transactions"])) > 100  # it trades, every bar
    assert reference.exact_values(fast) == reference.exact_values(ref)
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)


def test_a_position_whose_price_rises_past_the_exact_range_stops_both_runs():
    """10^14 shares bought at 0.01 (worth 10^12, allowed) are worth 10^18 at 10,000.00: past
    what the decimal ledger holds with 12 places. Both engines stop the run with
    ExactRangeExceeded at that bar instead of rounding (a hypothesis run found the Rust
    ledger rounding a portfolio value of 7.9e16 to 11 places)."""
    closes = ["0.01", "0.01", "10000.00", "10000.00"]
    bundle = _bundle(
        {"A": [f"{d},{c},{c},{c},{c},10000000000000000" for d, c in zip(DATES, closes)]}
    )
    fast, ref = _both(bundle, _no_costs, {0: [lambda a: a.order(a.sid(0), 10**14)]}, 1e13)
    assert fast == ref
    kind, message = fast[0]
    assert kind is ExactRangeExceeded
    assert message.startswith("the position of 100000000000000 shares of A is worth more than")
    assert DATES[2] in message


def test_value_orders_before_an_asset_starts_are_refused_share_orders_wait(five_days):
    """zipline refuses an order sized by value or percent "before it started trading" and
    queues an order for a number of shares until the asset's first bar; both engines too."""
    late = ["10.00", "10.50", "11.00"]
    bundle = _bundle(
        {
            "A": [f"{d},10,10,10,10,1000000" for d in DATES[:5]],
            "B": [f"{d},{c},{c},{c},{c},1000000" for d, c in zip(DATES[2:5], late)],
        }
    )
    fast, ref = _both(
        bundle,
        _no_costs,
        {
            0: [
                lambda a: a.order_value(a.sid(1), 100.0),
                lambda a: a.order_target_percent(a.sid(1), 0.1),
                lambda a: a.order(a.sid(1), 10),
            ]
        },
    )
    assert fast == ref
    first, second, third = _outcomes(fast[1])
    for refused in (first, second):
        assert refused.startswith("CannotOrderDelistedAsset: cannot order B at ")
        assert refused.endswith(f"by value or percent: it starts trading on {DATES[2]}")
    assert third == oid(0)  # queued (the refused orders got no id)
    assert fast[1][-1][2] and fast[1][-1][2][0][:2] == (1, 10)  # filled: 10 shares of B
