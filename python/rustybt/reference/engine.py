"""The reference engine: the bar clock, the books of each session, trading controls and the
perf columns, in plain Python on the reference ledger.

:class:`ReferenceSimulation` is ``rustybt._core.Simulation`` written for reading: the same
constructor, methods, results and exceptions (``crates/engine/src/simulation.rs`` and the
binding's ``crates/pybind/src/sim.rs``). ``rustybt.runner._run`` drives either one, so
:func:`run_algorithm` is :func:`rustybt.run_algorithm` on this engine.

The rules of the clock:

* A session starts: its accounting starts (cash, positions value); the day's splits and
  dividends apply; positions in assets whose data ended before it are closed out at
  their last price and their open orders cancelled.
* ``before_trading_start`` (``data`` shows the bar before the session's first), then per bar: fill open orders against the bar (orders placed
  while handling bar *t* meet bar *t + 1* first), mark held positions to its closes, call
  ``handle_data``, check the leverage limit.
* The session ends: the ``eod`` cancel policy cancels what is still open; its performance
  is appended.

Not mirrored: what a strategy reads of the market (``data`` is the real
:class:`rustybt.data.BarData`, moved through ``_set_bar``: market data is not what this
engine checks) and Rust panics (``InternalError``).
"""

from __future__ import annotations

import bisect
import copy
import functools
import inspect
import json
import logging
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rustybt.errors import (
    AccountControlViolation,
    BadOrderParameters,
    CannotOrderDelistedAsset,
    ExactRangeExceeded,
    InvalidRunParameters,
    OrderDuringInitialize,
    OrderInBeforeTradingStart,
    RustyBTError,
    StrategyError,
    SymbolNotFound,
    TradingControlViolation,
)
from rustybt.protocol import ORDER_STATUS
from rustybt.reference.ledger import (
    DECIMAL_MAX,
    MAX_NOTIONAL,
    MAX_SHARES,
    NUMS,
    CostHook,
    DecimalNum,
    FixedBasisPointsSlippage,
    FixedSlippage,
    FloatNum,
    Ledger,
    NoCommission,
    NoSlippage,
    OrderStatus,
    PerDollarCommission,
    PerShareCommission,
    PerTradeCommission,
    VolumeShareSlippage,
    exact,
    quantity_text,
    round_order_amount,
    saturate,
    shown_amount,
    times_lots,
)
from rustybt.reference.ledger import (
    order_id_text as _id_text,
)
from rustybt.runner import _run, _zipline_config
from rustybt.runner import run_algorithm as _rust_run_algorithm

PERIODS_PER_YEAR = 252.0
#: a calendar that never closes annualises with 365 days a year
ALWAYS_OPEN_CALENDARS = ("24/7", "ALWAYS_OPEN", "always_open")


@dataclass(frozen=True)
class OrderRecord:
    """An order as ``get_order`` reads it (``_core.OrderRecord``)."""

    sid: int
    amount: int
    filled: int
    commission: float
    limit: float | None
    stop: float | None
    status: int
    reason: str | None
    created_bar: int
    updated_bar: int


def _id_of(order_id) -> int:
    """The ledger's id of an id a strategy passed (the hex text, or its integer); one no
    order can have (beyond 64 bits, not hex digits) is an unknown order, as in Rust."""
    if isinstance(order_id, str):
        text = order_id
        hex_digits = bool(text) and all(c in "0123456789abcdefABCDEF" for c in text)
        if hex_digits and len(text) <= 32 and int(text, 16) < 2**64:
            return int(text, 16)
        raise BadOrderParameters(f'unknown order id "{text}"')
    if not 0 <= order_id < 2**64:
        raise BadOrderParameters(f"unknown order id {order_id}")
    return order_id


def format_timestamp(ns: int) -> str:
    """``2022-01-03T21:00:00Z``: how the engine names a bar in messages."""
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# The bundle, as the ledger sees it
# ---------------------------------------------------------------------------------------


class Market:
    """A bundle's calendar, assets, splits and dividends, and its bars as exact
    fixed-point mantissas at ``scale`` read from ``bars.parquet``: ``open``, ``close`` and
    ``volume`` are ``[bar, sid]`` matrices (a close of 0: no bar; bundle prices are
    positive), ``last_close`` the last close at or before each bar (zipline's ``price``)."""

    def __init__(self, core):
        path = Path(core.path)
        self.scale = int(core.price_scale)
        self.daily = core.frequency == "1d"
        self.timestamps = core.timestamps().tolist()
        self.first_bar = core.session_first_bar().tolist()  # one more: the bar count
        days, opens, closes = core.sessions()
        self.days, self.opens, self.closes = days.tolist(), opens.tolist(), closes.tolist()
        self.bar_day = np.repeat(days, np.diff(self.first_bar)).tolist()
        assets = core.assets()
        self.symbols = [a.symbol for a in assets]
        self.lot_scales = [a.lot_scale for a in assets]  # amounts count lots of 10^-scale
        self.calendar = json.loads((path / "manifest.json").read_text())["calendar"]
        self.end_days = [a.end_day for a in assets]
        self.start_days = [a.start_day for a in assets]
        self.adjustments = [  # (kind, sid, ex-day, decimal text, pay day of a dividend)
            (
                a["kind"],
                a["sid"],
                a["date"],
                a["ratio" if a["kind"] == "split" else "amount"],
                a.get("pay_date", a["date"]) if a["kind"] == "dividend" else None,
            )
            for a in json.loads((path / "adjustments.json").read_text())
        ]
        table = pq.read_table(
            path / "bars.parquet", columns=["sid", "ts", "open", "close", "volume"]
        )
        bar = np.searchsorted(self.timestamps, table["ts"].cast(pa.int64()).to_numpy())
        sid = table["sid"].to_numpy().astype(np.int64)
        shape = (len(self.timestamps), len(assets))
        self.open, self.close, self.volume = (np.zeros(shape, np.int64) for _ in range(3))
        for matrix, column in ((self.open, "open"), (self.close, "close")):
            # price × 10^scale is whole: the cast to int64 refuses any fraction
            scaled = pc.multiply(table[column], pa.scalar(10**self.scale, pa.int64()))
            matrix[bar, sid] = pc.cast(scaled, pa.int64()).to_numpy()
        self.volume[bar, sid] = table["volume"].to_numpy()
        latest = np.where(self.close != 0, np.arange(shape[0])[:, None], 0)
        np.maximum.accumulate(latest, axis=0, out=latest)
        self.last_close = np.take_along_axis(self.close, latest, axis=0)


# ---------------------------------------------------------------------------------------
# Trading controls (zipline's, checked before an order is placed)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """max_order_size / max_position_size (``max_shares`` and/or ``max_notional``, for
    ``sid`` or all assets), max_order_count (per session) or long_only."""

    kind: str
    on_error: str  # "fail": refuse the order; "log": place it and warn
    sid: int | None = None
    max_shares: int | None = None
    max_notional: object = None
    max_count: int | None = None
    #: restricted: per sid, (component, effective ns, frozen), sorted
    rules: tuple = ()

    def violated(self, num, sid, amount, held, price, orders_today, now=0, scale=0) -> bool:
        """Whether an order of ``amount`` (lots of ``10^-scale``: shares at 0) breaks this
        control; ``max_shares`` counts whole units."""
        if self.kind == "restricted":
            return sid < len(self.rules) and _frozen_at(self.rules[sid], now)
        if self.kind == "max_order_count":
            return orders_today >= self.max_count
        if self.kind == "long_only":
            return held + amount < 0
        shares = amount if self.kind == "max_order_size" else held + amount
        return self.sid in (None, sid) and (
            (self.max_shares is not None and abs(shares) > self.max_shares * 10**scale)
            or (
                self.max_notional is not None
                and price is not None
                and abs(times_lots(num, price, shares, scale)) > self.max_notional
            )
        )

    def describe(self, num, symbols) -> str:
        if self.kind == "restricted":
            return "RestrictedListOrder({})"
        if self.kind == "max_order_count":
            return f"MaxOrderCount(max_count={self.max_count})"
        if self.kind == "long_only":
            return "LongOnly()"
        name = "MaxOrderSize" if self.kind == "max_order_size" else "MaxPositionSize"
        asset = "all" if self.sid is None else symbols[self.sid]
        notional = None if self.max_notional is None else num.to_str(self.max_notional)
        return f"{name}(asset={asset}, max_shares={self.max_shares}, max_notional={notional})"


def _frozen_at(rules, now: int) -> bool:
    """Whether one sid's restriction rules freeze it at ``now``: in any component, its last
    entry effective at or before ``now`` says frozen."""
    states: dict[int, bool] = {}
    for component, at, frozen in rules:
        if at <= now:
            states[component] = frozen
        else:
            states.setdefault(component, False)
    return any(states.values())


# ---------------------------------------------------------------------------------------
# The simulation
# ---------------------------------------------------------------------------------------


@dataclass
class SessionPerf:
    """What happened in one session, in exact numbers."""

    session: int
    starting_cash: object
    ending_cash: object
    starting_value: object
    ending_value: object
    portfolio_value: object
    pnl: object
    returns: object
    capital_used: object  # cash in (+) or out: fills, commissions, splits' cash, dividends
    transactions: range  # into the ledger's transactions
    orders: list  # placed or changed during the session, as they stood at its end
    positions: list  # (sid, amount, cost basis, last sale price) at its end
    exposure: object


def _param(num, name: str, v: float):
    """A model or run parameter: finite and non-negative."""
    x = num.from_f64(v)
    if x is None or x < num.zero:
        raise InvalidRunParameters(
            f"{name} must be a finite, non-negative number, got {FloatNum.to_str(v)}"
        )
    return x


#: The reference ledger's models by zipline's class names, with their parameter names.
SLIPPAGE_MODELS = {
    "NoSlippage": (NoSlippage, ()),
    "FixedSlippage": (FixedSlippage, ("spread",)),
    "FixedBasisPointsSlippage": (FixedBasisPointsSlippage, ("basis_points", "volume_limit")),
    "VolumeShareSlippage": (VolumeShareSlippage, ("volume_limit", "price_impact")),
}
COMMISSION_MODELS = {
    "NoCommission": (NoCommission, ()),
    "PerShare": (PerShareCommission, ("cost", "min_trade_cost")),
    "PerTrade": (PerTradeCommission, ("cost",)),
    "PerDollar": (PerDollarCommission, ("cost",)),
}


def _model(num, what: str, table: dict, model):
    """The reference ledger's model for a ``rustybt.finance`` model object."""
    name, params = model._spec()
    if name not in table:
        raise InvalidRunParameters(f"unknown {what} model '{name}' (known: {', '.join(table)})")
    cls, names = table[name]
    return cls(*(_param(num, p, v) for p, v in zip(names, params)))


def _money(num, name: str, v: float):
    """An order's value, or a limit or stop price."""
    x = num.from_f64(v)
    if x is None:
        raise BadOrderParameters(
            f"{name} must be a finite number that a decimal with at most 28 places can hold "
            f"exactly, got {FloatNum.to_str(v)}"
        )
    return x


def _trigger(num, name: str, v: float | None):
    if v is None:
        return None
    if not (math.isfinite(v) and v > 0.0):
        raise BadOrderParameters(
            f"{name} price must be a positive finite number, got {FloatNum.to_str(v)}"
        )
    return _money(num, name, v)


class ReferenceSimulation:
    """``rustybt._core.Simulation`` in Python: one backtest over sessions
    ``first_session..=last_session`` of ``bundle``, on a decimal or float ledger."""

    #: pipelines attached in a reference backtest run on the reference kernels
    is_reference = True

    def __init__(self, bundle, first_session, last_session, capital_base, ledger="decimal"):
        if ledger not in NUMS:
            raise InvalidRunParameters(f"ledger must be 'decimal' or 'float', got '{ledger}'")
        num = self._num = NUMS[ledger]
        capital = _param(num, "capital_base", capital_base)
        m = self._market = Market(getattr(bundle, "_core", bundle))
        if not first_session <= last_session < len(m.days):
            raise InvalidRunParameters(
                f"invalid run: session range {first_session}..={last_session} is not inside "
                f"the bundle's {len(m.days)} sessions"
            )
        for bad, reason in (
            (capital > MAX_NOTIONAL, f"above {MAX_NOTIONAL} the ledger could not stay exact"),
            (capital <= num.zero, "must be positive"),
        ):
            if bad:
                raise InvalidRunParameters(
                    f"invalid parameter capital_base = {num.to_str(capital)}: {reason}"
                )
        # by session: (kind, sid, value, pay session of a dividend: the first session on or
        # after its pay date, None past the bundle's last)
        self._adjustments: dict[int, list] = {}
        self._unpaid: list[tuple[int, object]] = []  # dividends earned: (pay session, cash)
        for kind, sid, day, text, pay_day in m.adjustments:
            try:
                value = num.from_decimal_str(text)
            except (InvalidOperation, ValueError):
                raise InvalidRunParameters(
                    f"invalid run: bundle adjustment for sid {sid} has an unreadable value '{text}'"
                ) from None
            if day in m.days:
                pay = None if pay_day is None else bisect.bisect_left(m.days, pay_day)
                pay = None if pay is not None and pay >= len(m.days) else pay
                self._adjustments.setdefault(m.days.index(day), []).append((kind, sid, value, pay))
        self._ledger = Ledger(num, len(m.symbols), capital, lot_scales=m.lot_scales)
        self._periods_per_year = 365.0 if m.calendar in ALWAYS_OPEN_CALENDARS else 252.0
        self._sessions = range(first_session, last_session + 1)
        self._bar = m.first_bar[first_session]
        self._session = first_session
        self._phase = "initialize"
        self._fill_at = m.close  # or m.open: the "next_open" fill model
        self._controls: list[Control] = []
        self._max_leverage = None
        self._min_leverage = None
        self._warnings: list[str] = []
        self._touched: list[int] = []  # orders placed or changed this session
        self._perf: list[SessionPerf] = []

    # -- the clock ------------------------------------------------------------------------
    def run(self, context, data, handle_data, before_trading_start, recorded) -> list[dict]:
        """The event loop (see the module's docstring). ``data`` is a
        :class:`rustybt.data.BarData`. Returns ``recorded`` after each session."""
        first_bar, snapshots = self._market.first_bar, []
        for s in self._sessions:
            self._session = s
            self._start_session(s)
            # before a session's first bar, data shows the bar before it; before the
            # bundle's very first bar there is none, and data shows nothing (NaN)
            data._set_bar(max(first_bar[s] - 1, 0), before_first=first_bar[s] == 0)
            self._phase = "before_trading_start"
            if before_trading_start is not None:
                self._call(before_trading_start, "before_trading_start", context, data)
            self._phase = "handle_data"
            for bar in range(first_bar[s], first_bar[s + 1]):
                self._process_bar(bar)
                self._check_exact_range()
                data._set_bar(bar)
                self._call(handle_data, "handle_data", context, data)
                self._check_leverage()
            self._end_session()
            snapshots.append(dict(recorded))
        self._phase = "analyze"
        return snapshots

    def _call(self, fn, callback: str, *args) -> None:
        """Call strategy code; wrap its exceptions (not rustybt's own) in StrategyError,
        the original as ``__cause__``."""
        try:
            fn(*args)
        except RustyBTError:
            raise
        except Exception as exc:
            raise StrategyError(
                f"{callback} raised {type(exc).__name__} at {self._when()} (bar {self._bar}): {exc}"
            ) from exc

    @exact
    def _start_session(self, s: int) -> None:
        m, ledger = self._market, self._ledger
        self._session, self._bar = s, m.first_bar[s]
        self._starting = (ledger.cash, ledger.positions_value(), ledger.portfolio_value())
        self._txn_mark = len(ledger.transactions)
        self._orders_today = 0
        self._adjustment_cash = self._num.zero
        for kind, sid, value, pay in self._adjustments.get(s, []):
            if kind == "split":
                self._adjustment_cash += ledger.apply_split(sid, value, self._bar)
            else:  # earned on the ex-date, paid from the pay session on (zipline's rule)
                owed = ledger.earn_dividend(sid, value)
                if pay is not None and owed != 0:
                    self._unpaid.append((pay, owed))
        due = [cash for pay, cash in self._unpaid if pay <= s]
        self._unpaid = [(pay, cash) for pay, cash in self._unpaid if pay > s]
        for cash in due:
            ledger.pay_dividend(cash)
            self._adjustment_cash += cash
        self._touched += ledger.take_rejections()  # orders a split left nothing to fill
        for sid in [*ledger.held, *ledger.assets_with_orders]:
            if m.end_days[sid] < m.days[s]:
                price = self._price(sid)
                self._touched += ledger.open_by_asset[sid]
                ledger.close_out(
                    sid,
                    ledger.positions[sid].last_sale_price if price is None else price,
                    self._bar,
                )

    @exact
    def _process_bar(self, bar: int) -> None:
        m, self._bar = self._market, bar

        def quote(sid):  # what orders fill against: (price, volume); None: no bar
            price = self._at(self._fill_at, bar, sid)
            if price is None:
                return None
            # the bar's volume in the asset's lots (saturating as an i64 does)
            return price, min(int(m.volume[bar, sid]) * 10 ** m.lot_scales[sid], 2**63 - 1)

        if self._ledger.assets_with_orders:
            self._touched += [t.order_id for t in self._ledger.fill_open_orders(bar, quote)]
            self._touched += self._ledger.take_rejections()
        self._ledger.mark_to_market(lambda sid: self._at(m.close, bar, sid))

    @exact
    def _end_session(self) -> None:
        num, ledger = self._num, self._ledger
        # zipline cancels at the end of the day in minute simulations only: on daily bars
        # every order would be cancelled before the bar it fills on
        if ledger.cancel_at_eod and not self._market.daily:
            self._touched += ledger.cancel_all_open(self._bar)
        txns = range(self._txn_mark, len(ledger.transactions))
        capital_used = self._adjustment_cash
        for t in ledger.transactions[txns.start :]:
            scale = self._market.lot_scales[t.sid]
            capital_used = capital_used - times_lots(num, t.price, t.amount, scale) - t.commission
        starting_cash, starting_value, starting_pv = self._starting
        pv = ledger.portfolio_value()
        pnl = pv - starting_pv
        self._perf.append(
            SessionPerf(
                session=self._session,
                starting_cash=starting_cash,
                ending_cash=ledger.cash,
                starting_value=starting_value,
                ending_value=ledger.positions_value(),
                portfolio_value=pv,
                pnl=pnl,
                returns=num.zero if starting_pv == num.zero else num.div_q(pnl, starting_pv),
                capital_used=capital_used,
                transactions=txns,
                orders=[copy.copy(ledger.orders[i]) for i in sorted(set(self._touched))],
                positions=self._positions(lambda x: x),
                exposure=ledger.exposure(),
            )
        )
        self._touched = []

    @exact
    def _check_exact_range(self) -> None:
        """After a bar's marks: a position worth more than :data:`MAX_NOTIONAL` stops the
        run (its price rose after the order; the Rust decimal ledger would round past it)."""
        num = self._num
        for sid in self._ledger.held:
            pos = self._ledger.positions[sid]
            if abs(times_lots(num, pos.last_sale_price, pos.amount, pos.scale)) > MAX_NOTIONAL:
                raise ExactRangeExceeded(
                    f"the position of {quantity_text(pos.amount, pos.scale)} of "
                    f"{self._market.symbols[sid]} is "
                    f"worth more than {MAX_NOTIONAL} at {self._when()}, beyond what the exact "
                    "ledger holds without rounding: the run stops here"
                )

    @exact
    def _check_leverage(self) -> None:
        """zipline's ``MinLeverage``: after its deadline, gross leverage below the minimum
        fails the run; ``MaxLeverage``: gross exposure above ``max_leverage`` × portfolio
        value (a positive one) after a bar fails the run."""
        if self._min_leverage is not None:
            low, deadline = self._min_leverage
            pv = self._ledger.portfolio_value()
            gross = self._ledger.exposure().gross
            zero = self._num.zero
            below = gross < low * pv if pv > zero else low > zero
            if self._market.timestamps[self._bar] > deadline and below:
                f = self._num.to_f64
                leverage = f(gross) / f(pv) if pv > zero else 0.0
                raise AccountControlViolation(
                    f"account violates account constraint MinLeverage(min_leverage="
                    f"{self._num.to_str(low)}, deadline={format_timestamp(deadline)}) at "
                    f"{self._when()}: gross leverage {leverage:.6f}"
                )
        if self._max_leverage is None:
            return
        pv = self._ledger.portfolio_value()
        gross = self._ledger.exposure().gross
        if pv > self._num.zero and gross > self._max_leverage * pv:
            f = self._num.to_f64
            raise AccountControlViolation(
                f"account violates account constraint MaxLeverage(max_leverage="
                f"{self._num.to_str(self._max_leverage)}) at {self._when()}: gross leverage "
                f"{f(gross) / f(pv):.6f}"
            )

    def _at(self, matrix, bar: int, sid: int):
        """A price from one of the market's matrices (``None``: none)."""
        mantissa = int(matrix[bar, sid])
        return None if mantissa == 0 else self._num.from_mantissa(mantissa, self._market.scale)

    def _price(self, sid: int):
        """The forward-filled close of ``sid`` at the current bar (``None``: none yet)."""
        return self._at(self._market.last_close, self._bar, sid)

    def _when(self) -> str:
        return format_timestamp(self._market.timestamps[self._bar])

    # -- orders -------------------------------------------------------------------------
    def order(self, kind, sid, value, limit=None, stop=None):
        """zipline's order functions: ``kind`` is shares, value, percent, target,
        target_value or target_percent. Returns the order id, or ``None`` when the amount
        rounds to zero. Warnings of controls set to "log" go to the "rustybt" logger."""
        if self._phase != "handle_data":
            wrong_phase = (
                OrderInBeforeTradingStart
                if self._phase == "before_trading_start"
                else OrderDuringInitialize
            )
            raise wrong_phase(
                f"orders cannot be placed in {self._phase}; place them in handle_data or a scheduled function"
            )
        try:
            return self._order(kind, sid, value, limit, stop)
        finally:
            for w in self._warnings:
                logging.getLogger("rustybt").warning(w)
            self._warnings = []

    def order_many(self, kind, sids, values) -> list:
        """:meth:`order` for each ``(sid, value)`` in turn (``_core``'s one-call batch)."""
        if len(sids) != len(values):
            raise ValueError(f"{len(sids)} assets but {len(values)} values")
        return [self.order(kind, sid, value) for sid, value in zip(sids, values)]

    @exact
    def _order(self, kind, sid, value, limit, stop):
        num, ledger = self._num, self._ledger
        limit, stop = _trigger(num, "limit", limit), _trigger(num, "stop", stop)
        k = self._market.lot_scales[sid] if 0 <= sid < len(self._market.lot_scales) else 0
        per_unit = num.from_int(10**k)  # amounts count lots of 10^-k
        big = (
            isinstance(value, (int, float))
            and math.isfinite(value)
            and abs(value) > MAX_SHARES / 10**k
        )
        if kind in ("shares", "target") and big:
            # named as asked, before rounding (as f64 text, like the Rust engine's)
            asked = FloatNum.to_str(float(value))
            what = "target of" if kind == "target" else "order for"
            unit = " shares" if k == 0 else ""
            raise BadOrderParameters(
                f"{what} {asked}{unit}: orders and positions are limited to "
                f"{quantity_text(MAX_SHARES, k)}"
            )

        def lots(x):
            return round_order_amount(num, x if k == 0 else x * per_unit)

        if kind == "shares":
            amount = lots(_money(num, "amount", value))
        elif kind == "target":
            target = lots(_money(num, "target", value))
            self._check_sid(sid)
            amount = saturate(target - ledger.positions[sid].amount)
        elif kind in ("value", "percent"):
            value = _money(num, kind, value)
            if kind == "percent":
                value = self._percent_of_portfolio(value)
            if k:
                value = value * per_unit
            amount = round_order_amount(num, num.div_q(value, self._require_price(sid)))
        elif kind in ("target_value", "target_percent"):
            value = _money(num, "target", value)
            price = self._require_price(sid)
            if kind == "target_percent":
                value = self._percent_of_portfolio(value)
            amount = ledger.target_amount(sid, value, price)
        else:
            raise BadOrderParameters(f"unknown order kind '{kind}'")
        self._check_sid(sid)
        m = self._market
        if m.bar_day[self._bar] > m.end_days[sid]:
            raise CannotOrderDelistedAsset(
                f"cannot order {m.symbols[sid]} at {self._when()}: its data ended on "
                f"{pd.Timestamp(m.end_days[sid], unit='D'):%Y-%m-%d}"
            )
        if amount != 0:
            self._check_size(sid, amount)
        # as zipline: every order call is validated by the controls and counted toward
        # max_order_count, one for zero shares too (it places nothing)
        self._check_controls(sid, amount)
        order_id = ledger.place_order(sid, amount, limit, stop, self._bar)
        self._orders_today += 1
        if order_id is None:
            return None
        self._touched.append(order_id)
        return _id_text(order_id)

    def _percent_of_portfolio(self, percent):
        """``percent`` of the portfolio value; in decimal mode refused beyond a decimal's
        range (2^96), as the Rust ledger must (no order could be placed for it anyway)."""
        value = self._ledger.portfolio_value() * percent
        if self._num is DecimalNum and abs(value) > DECIMAL_MAX:
            raise BadOrderParameters(
                f"an order for {self._num.to_str(percent)} of the portfolio value: the value "
                "is beyond what the ledger can hold exactly"
            )
        return value

    def _check_sid(self, sid: int) -> None:
        n = len(self._market.symbols)
        if sid >= n:
            raise SymbolNotFound(f"asset sid {sid} is outside this ledger's {n} assets")

    def _require_price(self, sid: int):
        """The price a value or percent order is sized at; refused before the asset's
        first session, as zipline refuses it "before it started trading"."""
        self._check_sid(sid)
        m = self._market
        if m.bar_day[self._bar] < m.start_days[sid]:
            raise CannotOrderDelistedAsset(
                f"cannot order {m.symbols[sid]} at {self._when()} by value or percent: it "
                f"starts trading on {pd.Timestamp(m.start_days[sid], unit='D'):%Y-%m-%d}"
            )
        price = self._price(sid)
        if price is None:
            raise CannotOrderDelistedAsset(
                f"cannot order {self._market.symbols[sid]} at {self._when()}: it has no price "
                "yet (no bar at or before this time)"
            )
        return price

    def _check_size(self, sid: int, amount: int) -> None:
        """Orders and the positions they leave are limited to :data:`MAX_SHARES` shares
        and, at the current price (when there is one), to :data:`MAX_NOTIONAL` in value."""
        k = self._market.lot_scales[sid]
        after = self._ledger.positions[sid].amount + amount
        if max(abs(amount), abs(after)) > MAX_SHARES:
            what = f"orders and positions are limited to {quantity_text(MAX_SHARES, k)}"
        else:
            price, num = self._price(sid), self._num
            if price is None or all(
                abs(times_lots(num, price, n, k)) <= MAX_NOTIONAL for n in (amount, after)
            ):
                return
            what = f"order and position values are limited to {MAX_NOTIONAL}"
        raise BadOrderParameters(f"order for {quantity_text(amount, k)}: {what}")

    def _check_controls(self, sid: int, amount: int) -> None:
        """In the order they were set: the first control set to "fail" that the order
        breaks refuses it; those set to "log" only warn."""
        held, price = self._ledger.positions[sid].amount, self._price(sid)
        k = self._market.lot_scales[sid]
        for c in self._controls:
            now = self._market.timestamps[self._bar]
            if c.violated(self._num, sid, amount, held, price, self._orders_today, now, k):
                msg = (
                    f"order for {quantity_text(amount, k)} of {self._market.symbols[sid]} at "
                    f"{self._when()} "
                    f"violates trading constraint {c.describe(self._num, self._market.symbols)}"
                )
                if c.on_error == "fail":
                    raise TradingControlViolation(msg)
                self._warnings.append(msg)

    def cancel_order(self, order_id) -> None:
        order_id = _id_of(order_id)
        self._ledger.close_order(order_id, OrderStatus.CANCELLED, self._bar)
        self._touched.append(order_id)

    def open_orders(self, sid=None) -> list[tuple[int, str]]:
        """(sid, order id) of the open orders of one asset, or of all."""
        ledger = self._ledger
        if sid is None:
            return [
                (s, _id_text(i)) for s in ledger.assets_with_orders for i in ledger.open_by_asset[s]
            ]
        if sid >= ledger.n_assets:
            return []
        return [(sid, _id_text(i)) for i in ledger.open_by_asset[sid]]

    def order_info(self, order_id) -> OrderRecord:
        """The order with this id, as ``_core.OrderRecord`` shows it."""
        o, f = self._ledger.order(_id_of(order_id)), self._num.to_f64
        limit, stop = (None if p is None else f(p) for p in (o.limit, o.stop))
        return OrderRecord(
            o.sid,
            shown_amount(o.amount, o.scale),
            shown_amount(o.filled, o.scale),
            f(o.commission),
            limit,
            stop,
            o.status.value,
            o.reason,
            o.created_bar,
            o.updated_bar,
        )

    # -- state ----------------------------------------------------------------------------
    @property
    def ledger(self) -> str:
        return self._num.name

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def current_bar(self) -> int:
        return self._bar

    @property
    def current_session(self) -> int:
        return self._session

    def cash(self) -> float:
        return self._num.to_f64(self._ledger.cash)

    @exact
    def portfolio_value(self) -> float:
        return self._num.to_f64(self._ledger.portfolio_value())

    @exact
    def positions_value(self) -> float:
        return self._num.to_f64(self._ledger.positions_value())

    def starting_cash(self) -> float:
        return self._num.to_f64(self._ledger.starting_cash)

    @exact
    def exact_state(self) -> tuple[str, str]:
        """Exact (decimal string) cash and portfolio value."""
        return self._num.to_str(self._ledger.cash), self._num.to_str(self._ledger.portfolio_value())

    def positions(self) -> list[tuple[int, int | float, float, float]]:
        """Open positions: (sid, amount, cost basis, last sale price); the amount is an int
        of shares, or the float quantity of an asset traded in finer lots."""
        f = self._num.to_f64
        return [(sid, shown_amount(n, k), f(c), f(last)) for sid, n, c, last, k in self._held()]

    def _positions(self, f) -> list[tuple]:
        return [(sid, n, f(c), f(last)) for sid, n, c, last, _ in self._held()]

    def _held(self) -> list[tuple]:
        return [
            (sid, p.amount, p.cost_basis, p.last_sale_price, p.scale)
            for sid in self._ledger.held
            for p in [self._ledger.positions[sid]]
        ]

    @property
    def periods_per_year(self) -> float:
        """What the risk metrics annualise with: 252 (exchange) or 365 (24/7) unless set."""
        return self._periods_per_year

    def set_periods_per_year(self, periods) -> None:
        periods = float(periods)
        if not (math.isfinite(periods) and periods >= 1.0):
            raise InvalidRunParameters(
                f"invalid parameter periods_per_year = {FloatNum.to_str(periods)}: must be a "
                "finite number of at least 1"
            )
        self._periods_per_year = periods

    # -- configuration (in initialize) -----------------------------------------------------
    def set_slippage(self, model) -> None:
        """A ``rustybt.finance.slippage`` model, by its ``_spec()`` (name, parameters)."""
        self._ledger.slippage = _model(self._num, "slippage", SLIPPAGE_MODELS, model)

    def set_commission(self, model) -> None:
        """A ``rustybt.finance.commission`` model, by its ``_spec()`` (name, parameters)."""
        self._ledger.commission = _model(self._num, "commission", COMMISSION_MODELS, model)

    def set_cancel_policy(self, policy) -> None:
        """``never`` (zipline's default) or ``eod`` (at each session's end, on intraday
        bars only, as zipline)."""
        if policy not in ("never", "eod", "end_of_day"):
            raise InvalidRunParameters(f"cancel policy must be 'never' or 'eod', got '{policy}'")
        self._ledger.cancel_at_eod = policy != "never"

    def set_fill_model(self, model) -> None:
        """``next_close`` (zipline's, the default) or ``next_open`` (backtrader's): the price
        of the next bar that orders trigger and fill at; positions are marked at closes."""
        if model not in ("next_close", "next_open"):
            raise InvalidRunParameters(
                f"fill model must be 'next_close' or 'next_open', got '{model}'"
            )
        self._fill_at = self._market.open if model == "next_open" else self._market.close

    def set_max_leverage(self, max_leverage) -> None:
        self._max_leverage = _param(self._num, "max_leverage", max_leverage)

    def add_control(
        self, kind, sid=None, max_shares=None, max_notional=None, max_count=None, on_error="fail"
    ) -> None:
        """A trading control (see :class:`Control`)."""
        if on_error not in ("fail", "log"):
            raise InvalidRunParameters(f"on_error must be 'fail' or 'log', got '{on_error}'")
        if max_shares is not None:
            if not (math.isfinite(max_shares) and max_shares >= 0.0):
                raise InvalidRunParameters(
                    f"max_shares must be a non-negative number, got {FloatNum.to_str(max_shares)}"
                )
            max_shares = FloatNum.to_int(max_shares)
        if max_notional is not None:
            max_notional = _param(self._num, "max_notional", max_notional)
        if kind in ("max_order_size", "max_position_size"):
            if max_shares is None and max_notional is None:
                raise InvalidRunParameters(f"{kind} needs max_shares or max_notional")
        elif kind == "max_order_count":
            if max_count is None:
                raise InvalidRunParameters("max_order_count needs max_count")
        elif kind != "long_only":
            raise InvalidRunParameters(f"unknown trading control '{kind}'")
        self._controls.append(Control(kind, on_error, sid, max_shares, max_notional, max_count))

    def add_restrictions(self, rules, on_error="fail") -> None:
        """zipline's ``set_asset_restrictions``: ``rules`` are (sid, component, effective
        ns, frozen)."""
        if on_error not in ("fail", "log"):
            raise InvalidRunParameters(f"on_error must be 'fail' or 'log', got '{on_error}'")
        per_sid: list[list] = [[] for _ in self._market.symbols]
        for sid, component, at, frozen in rules:
            per_sid[sid].append((component, at, frozen))
        rules_by_sid = tuple(tuple(sorted(r, key=lambda e: (e[0], e[1]))) for r in per_sid)
        self._controls.append(Control("restricted", on_error, rules=rules_by_sid))

    def set_cost_models(self, data, slippage=None, commission=None) -> None:
        """A strategy's own cost models (as the Rust engine's ``set_cost_models``); their
        exceptions stop the run as the strategy's own do."""

        def guarded(fn):
            if fn is None:
                return None

            def call(*args):
                try:
                    return fn(*args)
                except RustyBTError:
                    raise
                except Exception as exc:
                    raise StrategyError(
                        f"a cost model raised {type(exc).__name__} at {self._when()} "
                        f"(bar {self._bar}): {exc}"
                    ) from exc

            return call

        def move(bar: int) -> None:
            data._set_bar(bar)

        if slippage is None and commission is None:  # the ledger's own models again
            self._ledger.cost_hook = None
            return
        self._ledger.cost_hook = CostHook(guarded(slippage), guarded(commission), move)

    def set_min_leverage(self, min_leverage, deadline_ns: int) -> None:
        self._min_leverage = (_param(self._num, "min_leverage", min_leverage), deadline_ns)

    # -- results ------------------------------------------------------------------------
    def perf(self, assets, bar_times, risk: bool = True) -> dict:
        """The perf columns (numpy arrays; per-session lists of dicts) and exact values;
        ``risk=False`` leaves out the cumulative risk metrics (``metrics_set="none"``)."""
        perf, num, f, m = self._perf, self._num, self._num.to_f64, self._market
        dt = functools.cache(bar_times.__getitem__)

        def column(get, dtype=np.float64):
            return np.array([get(p) for p in perf], dtype)

        def ratio(a, b) -> float:
            return math.nan if b == num.zero else f(a) / f(b)

        out = {name: column(lambda p, g=attrgetter(a): f(g(p))) for name, a in COLUMNS.items()}
        out["longs_count"] = column(lambda p: p.exposure.long_count)
        out["shorts_count"] = column(lambda p: p.exposure.short_count)
        out["gross_leverage"] = column(lambda p: ratio(p.exposure.gross, p.portfolio_value))
        out["net_leverage"] = column(lambda p: ratio(p.exposure.net, p.portfolio_value))
        risk = cumulative_risk(out["returns"].tolist(), self._periods_per_year) if risk else []
        scales = m.lot_scales
        for name in risk[0] if risk else ():
            out[name] = np.array([r[name] for r in risk], np.float64)
        out["period_close"] = column(lambda p: m.closes[p.session], np.int64)
        out["period_open"] = column(lambda p: m.opens[p.session], np.int64)
        txns = self._ledger.transactions
        out["transactions"] = [
            [
                {
                    "amount": shown_amount(t.amount, scales[t.sid]),
                    "dt": dt(t.bar),
                    "price": f(t.price),
                    "order_id": None if t.order_id is None else _id_text(t.order_id),
                    "sid": assets[t.sid],
                    "commission": None,  # zipline records commissions on orders
                }
                for t in txns[p.transactions.start : p.transactions.stop]
            ]
            for p in perf
        ]
        out["orders"] = [
            [
                {
                    "id": _id_text(o.id),
                    "dt": dt(o.updated_bar),
                    "created": dt(o.created_bar),
                    "reason": o.reason,
                    "amount": shown_amount(o.amount, o.scale),
                    "filled": shown_amount(o.filled, o.scale),
                    # zipline's int 0 until a fill
                    "commission": 0 if o.filled == 0 and o.commission == 0 else f(o.commission),
                    "limit": None if o.limit is None else f(o.limit),
                    "stop": None if o.stop is None else f(o.stop),
                    "limit_reached": o.limit_reached,
                    "stop_reached": o.stop_reached,
                    "sid": assets[o.sid],
                    "status": ORDER_STATUS(o.status.value),
                }
                for o in p.orders
            ]
            for p in perf
        ]
        out["positions"] = [
            [
                {
                    "sid": assets[sid],
                    "amount": shown_amount(n, scales[sid]),
                    "cost_basis": f(c),
                    "last_sale_price": f(last),
                }
                for sid, n, c, last in p.positions
            ]
            for p in perf
        ]
        out["exact"] = {name: [num.to_str(getattr(p, name)) for p in perf] for name in EXACT}
        out["exact"]["transactions"] = [
            (
                t.order_id,
                t.sid,
                t.amount if scales[t.sid] == 0 else quantity_text(t.amount, scales[t.sid]),
                num.to_str(t.price),
                num.to_str(t.commission),
                t.bar,
            )
            for t in txns
        ]
        return out


#: The perf columns of exact values (as floats), by the :class:`SessionPerf` value shown.
COLUMNS = {
    **{name: name for name in ("starting_cash", "ending_cash", "starting_value", "ending_value")},
    **{name: name for name in ("portfolio_value", "pnl", "returns", "capital_used")},
    "starting_exposure": "starting_value",
    "ending_exposure": "ending_value",
    **{
        f"{side}_{what}": f"exposure.{side}_value"
        for side in ("long", "short")
        for what in ("value", "exposure")
    },
}
#: The values also kept exactly, as decimal strings (``perf.attrs["rustybt"]["exact"]``).
EXACT = (
    "portfolio_value",
    "ending_cash",
    "ending_value",
    "pnl",
    "returns",
    "capital_used",
    "starting_cash",
)


# ---------------------------------------------------------------------------------------
# Risk metrics: crates/engine/src/metrics.rs (empyrical's definitions, cumulative)
# ---------------------------------------------------------------------------------------


def cumulative_risk(
    returns: list[float], periods_per_year: float = PERIODS_PER_YEAR
) -> list[dict[str, float]]:
    """Risk metrics after each period with empyrical's definitions: ``periods_per_year``
    (252 sessions; 365 days on a 24/7 calendar),
    risk-free 0, ddof 1, Sortino on downside deviation, drawdown of the wealth curve that
    starts at 1, Sortino NaN below two observations. Each period's statistics are
    computed from scratch over the periods so far, as empyrical computes them with
    bottleneck: two passes with sequential sums (mean, then squared deviations), and a
    Sharpe whose deviation is exactly 0 when every return is equal. The same float
    operations in the same order as crates/engine/src/metrics.rs, so the floats agree bit
    for bit; division is IEEE (x/0 is ±inf, 0/0 NaN), as numpy's."""
    f = np.float64
    out = []
    wealth = peak = f(1.0)
    max_dd = f(0.0)
    ann = np.sqrt(f(periods_per_year))
    rs = [f(r) for r in returns]
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, r in enumerate(rs):
            window = rs[: i + 1]
            n = f(len(window))
            wealth *= 1.0 + r
            peak = max(peak, wealth)
            max_dd = min(max_dd, (wealth - peak) / peak)
            total = f(0.0)
            for x in window:
                total += x
            mean = total / n
            squares = f(0.0)
            for x in window:
                d = x - mean
                squares += d * d
            std = np.sqrt(squares / (n - 1.0))
            constant = min(window) == max(window) and np.isfinite(std)
            downside_sq = f(0.0)
            for x in window:
                c = min(x, f(0.0))
                downside_sq += c * c
            downside = np.sqrt(downside_sq / n) * ann
            sortino = mean * periods_per_year / downside if n > 1.0 else f(math.nan)
            out.append(
                {
                    "algorithm_period_return": float(wealth - 1.0),
                    "algo_volatility": float(std * ann),
                    "sharpe": float(mean / (f(0.0) if constant else std) * ann),
                    "sortino": float(sortino),  # empyrical: NaN below two observations
                    "max_drawdown": float(max_dd),
                }
            )
    return out


# ---------------------------------------------------------------------------------------
# run_algorithm
# ---------------------------------------------------------------------------------------


def run_algorithm(*args, **kwargs) -> pd.DataFrame:
    """:func:`rustybt.run_algorithm` on the reference engine: same arguments, same perf
    frame (``perf.attrs["rustybt"]["exact"]`` included), same exceptions."""
    call = _RUN_ALGORITHM.bind(*args, **kwargs)
    call.apply_defaults()
    return _run(_zipline_config(call.arguments), simulation=ReferenceSimulation)


# the arguments are rustybt.run_algorithm's, by construction (help() shows them)
_RUN_ALGORITHM = inspect.signature(_rust_run_algorithm)
run_algorithm.__signature__ = _RUN_ALGORITHM


def exact_values(perf: pd.DataFrame) -> dict:
    """``perf.attrs["rustybt"]["exact"]`` with every decimal string as a
    :class:`decimal.Decimal`, so that two engines' results compare by value (the Rust
    engine prints the scale its operations produce, ``"1.50"``; the reference may print
    ``"1.5"``)::

        assert exact_values(rust_perf) == exact_values(reference_perf)
    """
    exact = perf.attrs["rustybt"]["exact"]
    out = {k: [Decimal(v) for v in vs] for k, vs in exact.items() if k != "transactions"}
    out["transactions"] = [
        (order_id, sid, Decimal(str(amount)), Decimal(price), Decimal(commission), bar)
        for order_id, sid, amount, price, commission, bar in exact["transactions"]
    ]
    return out
