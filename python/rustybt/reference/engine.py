"""The reference engine: the bar clock, the books of each session and ``run_algorithm``,
in plain Python on the reference ledger.

It mirrors three layers of the Rust engine, one section each:

* :class:`Market`: the bundle's bars as exact fixed-point prices (integer mantissas at
  the bundle's price scale), read straight from ``bars.parquet``, and its splits and
  dividends from ``adjustments.json``.
* :class:`Books`: ``crates/engine/src/simulation.rs``, one backtest's state: sessions
  start, bars fill orders and mark positions, sessions end with their performance.
* :class:`ReferenceSimulation`: ``crates/pybind/src/sim.rs``, the object the Python
  package talks to (``rustybt._core.Simulation``'s methods, one for one), with the event
  loop that calls the strategy, and the perf columns.

:func:`run_algorithm` takes exactly the arguments of :func:`rustybt.run_algorithm` and
returns the same perf frame, ``perf.attrs["rustybt"]["exact"]`` included; compare two runs'
exact values with :func:`exact_values` (decimals compare by value: the Rust engine keeps
the scale its operations produce, ``"1.50"``, where the reference prints ``"1.5"`` or
``"1.500000000000"``).

Not mirrored: Rust panics (``InternalError``), and the market data a strategy reads
(``data.current`` / ``data.history``), which :class:`ReferenceBarData` takes from the
bundle itself: the data layer is not what this engine checks.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rustybt.api import running
from rustybt.bundles import _normalize_frequency, load_bundle
from rustybt.data import BarData
from rustybt.errors import (
    AccountControlViolation,
    BadOrderParameters,
    CannotOrderDelistedAsset,
    HistoryWindowError,
    InvalidRunParameters,
    OrderDuringInitialize,
    RustyBTError,
    StrategyError,
    SymbolNotFound,
    TradingControlViolation,
)
from rustybt.reference.ledger import (
    NUMS,
    BadPrice,
    CancelPolicy,
    FixedBasisPointsSlippage,
    FixedSlippage,
    FloatNum,
    Ledger,
    NoCommission,
    NoSlippage,
    PerDollarCommission,
    PerShareCommission,
    PerTradeCommission,
    Quote,
    UnknownAsset,
    UnknownOrder,
    VolumeShareSlippage,
    exact,
    round_order_amount,
)
from rustybt.runner import LEDGERS, _call_user, _callbacks, _make_algorithm, _perf_frame

PERIODS_PER_YEAR = 252.0
FIELDS = ("open", "high", "low", "close", "volume", "price")
PHASES = ("initialize", "before_trading_start", "handle_data", "analyze")


def format_timestamp(ns: int) -> str:
    """``2022-01-03T21:00:00Z``: how the engine names a bar in messages."""
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def format_date(days: int) -> str:
    """``2022-01-03`` for a day number (days since 1970-01-01)."""
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=int(days))).isoformat()


# ---------------------------------------------------------------------------------------
# Market data
# ---------------------------------------------------------------------------------------


class Market:
    """A bundle's bars on its bar grid, with exact prices.

    ``close[bar, sid]`` is the close's fixed-point mantissa at ``price_scale`` (0 where the
    asset has no bar: bundle prices are positive), ``volume[bar, sid]`` its volume, and
    ``last_close[bar, sid]`` the last close at or before ``bar`` (zipline's forward-filled
    ``price``; 0 where there is none yet).
    """

    def __init__(self, core):
        self.core = core
        self.price_scale = int(core.price_scale)
        self.n_assets = int(core.n_assets)
        self.timestamps = [int(t) for t in core.timestamps()]
        self.session_first_bar = [int(b) for b in core.session_first_bar()]
        days, opens, closes = core.sessions()
        self.session_days = [int(d) for d in days]
        self.session_opens = [int(t) for t in opens]
        self.session_closes = [int(t) for t in closes]
        assets = core.assets()
        self.symbols = [a.symbol for a in assets]
        self.asset_end_days = [int(a.end_day) for a in assets]
        n_bars = len(self.timestamps)
        self.bar_session = np.repeat(
            np.arange(len(self.session_days)), np.diff(self.session_first_bar)
        ).tolist()
        #: splits and dividends as the bundle lists them: (kind, sid, day, decimal text)
        with open(Path(core.path) / "adjustments.json") as f:
            self.adjustments = [
                (
                    a["kind"],
                    int(a["sid"]),
                    int(a["date"]),
                    a["ratio"] if a["kind"] == "split" else a["amount"],
                )
                for a in json.load(f)
            ]
        # bars.parquet: one row per (sid, bar), prices as DECIMAL(18, price_scale)
        table = pq.read_table(
            Path(core.path) / "bars.parquet", columns=["sid", "ts", "open", "close", "volume"]
        )
        bar = np.searchsorted(self.timestamps, table.column("ts").cast(pa.int64()).to_numpy())
        sid = table.column("sid").to_numpy().astype(np.int64)

        def mantissas(column: str) -> np.ndarray:
            # price × 10^scale is whole; the cast to int64 refuses any fraction
            scaled = pc.multiply(table.column(column), pa.scalar(10**self.price_scale, pa.int64()))
            return pc.cast(scaled, pa.int64()).to_numpy()

        self.open = np.zeros((n_bars, self.n_assets), dtype=np.int64)
        self.close = np.zeros((n_bars, self.n_assets), dtype=np.int64)
        self.volume = np.zeros((n_bars, self.n_assets), dtype=np.int64)
        self.open[bar, sid] = mantissas("open")
        self.close[bar, sid] = mantissas("close")
        self.volume[bar, sid] = table.column("volume").to_numpy()
        # forward fill: for each cell, the latest bar at or before it with a close
        latest = np.where(self.close != 0, np.arange(n_bars)[:, None], 0)
        np.maximum.accumulate(latest, axis=0, out=latest)
        self.last_close = np.take_along_axis(self.close, latest, axis=0)

    @property
    def n_bars(self) -> int:
        return len(self.timestamps)

    def session_bars(self, s: int) -> range:
        return range(self.session_first_bar[s], self.session_first_bar[s + 1])

    def close_at(self, bar: int, sid: int) -> int | None:
        """The close mantissa of ``sid`` at ``bar``; ``None`` where it has no bar."""
        m = int(self.close[bar, sid])
        return m if m != 0 else None

    def open_at(self, bar: int, sid: int) -> int | None:
        """The open mantissa of ``sid`` at ``bar``; ``None`` where it has no bar."""
        m = int(self.open[bar, sid])
        return m if m != 0 else None

    def last_close_at(self, bar: int, sid: int) -> int | None:
        """zipline's ``price``: the last close at or before ``bar`` (forward-filled)."""
        m = int(self.last_close[bar, sid])
        return m if m != 0 else None

    def current(self, field: str, bar: int, sid: int) -> float:
        """``data.current`` as f64: NaN where there is no bar; ``price`` forward-fills;
        ``volume`` is 0 where the asset did not trade."""
        if field == "price":
            m = self.last_close_at(bar, sid)
            return math.nan if m is None else m / 10.0**self.price_scale
        if field == "volume":
            return float(self.volume[bar, sid]) if self.close_at(bar, sid) is not None else 0.0
        return float(self.core.history(field, [sid], bar, 1)[0, 0])


_MARKETS: dict[str, Market] = {}


def market_of(core) -> Market:
    """The :class:`Market` of an opened bundle (cached per version directory)."""
    key = os.fspath(core.path)
    market = _MARKETS.get(key)
    if market is None:
        market = _MARKETS[key] = Market(core)
    return market


# ---------------------------------------------------------------------------------------
# The books: crates/engine/src/simulation.rs
# ---------------------------------------------------------------------------------------


class NoPrice(Exception):
    """An order by value needs a price the asset does not have yet."""


class Delisted(Exception):
    """The asset's data ended before the current session."""


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
    capital_used: object
    transactions: range
    orders: list
    positions: list
    exposure: object


# -- trading controls (zipline's, checked before an order is placed) ------------------------


def _too_big(num, shares: int, price, max_shares, max_notional) -> bool:
    """``shares`` (at ``price``, when known) above ``max_shares`` or ``max_notional``."""
    if max_shares is not None and abs(shares) > max_shares:
        return True
    return (
        max_notional is not None
        and price is not None
        and abs(num.from_int(shares) * price) > max_notional
    )


@dataclass(frozen=True)
class MaxOrderSize:
    """At most ``max_shares`` shares / ``max_notional`` value per order (one asset or all)."""

    sid: int | None
    max_shares: int | None
    max_notional: object | None
    on_error: str

    def violated(self, num, sid, amount, current, price, orders_today) -> bool:
        return self.sid in (None, sid) and _too_big(
            num, amount, price, self.max_shares, self.max_notional
        )

    def describe(self, num, symbols) -> str:
        return f"MaxOrderSize({_size_args(num, symbols, self)})"


@dataclass(frozen=True)
class MaxPositionSize:
    """The position after the order holds at most ``max_shares`` / ``max_notional``."""

    sid: int | None
    max_shares: int | None
    max_notional: object | None
    on_error: str

    def violated(self, num, sid, amount, current, price, orders_today) -> bool:
        return self.sid in (None, sid) and _too_big(
            num, current + amount, price, self.max_shares, self.max_notional
        )

    def describe(self, num, symbols) -> str:
        return f"MaxPositionSize({_size_args(num, symbols, self)})"


def _size_args(num, symbols, c) -> str:
    asset = "all" if c.sid is None else symbols[c.sid]
    shares = "None" if c.max_shares is None else str(c.max_shares)
    notional = "None" if c.max_notional is None else num.to_str(c.max_notional)
    return f"asset={asset}, max_shares={shares}, max_notional={notional}"


@dataclass(frozen=True)
class MaxOrderCount:
    """At most ``max_count`` orders per session."""

    max_count: int
    on_error: str

    def violated(self, num, sid, amount, current, price, orders_today) -> bool:
        return orders_today >= self.max_count

    def describe(self, num, symbols) -> str:
        return f"MaxOrderCount(max_count={self.max_count})"


@dataclass(frozen=True)
class LongOnly:
    """No order may leave a short position."""

    on_error: str

    def violated(self, num, sid, amount, current, price, orders_today) -> bool:
        return current + amount < 0

    def describe(self, num, symbols) -> str:
        return "LongOnly()"


class Books:
    """One backtest's state: the clock position, the ledger and the per-session performance.

    Orders placed while handling bar *t* meet bar *t + 1* first: no fill sees the bar it
    was placed on.
    """

    def __init__(self, market: Market, first_session: int, last_session: int, capital_base, num):
        if first_session > last_session or last_session >= len(market.session_days):
            raise InvalidRunParameters(
                f"invalid run: session range {first_session}..={last_session} is not inside "
                f"the bundle's {len(market.session_days)} sessions"
            )
        if not capital_base > num.zero:
            raise InvalidRunParameters(
                f"invalid parameter capital_base = {num.to_str(capital_base)}: must be positive"
            )
        self.market = market
        self.num = num
        self.ledger = Ledger(num, market.n_assets, capital_base)
        self.first_session = first_session
        self.last_session = last_session
        self.bar = market.session_first_bar[first_session]
        self.session = first_session
        self.starting_cash = capital_base
        self.starting_value = num.zero
        self.starting_pv = capital_base
        self.txn_mark = 0
        self.touched: list[int] = []  # orders placed or changed this session
        self.perf: list[SessionPerf] = []
        self.controls: list = []
        self.max_leverage = None
        self.orders_today = 0
        self.warnings: list[str] = []
        self.adjustment_cash = num.zero  # cash moved by splits and dividends this session
        self.fill_model = "next_close"
        #: splits and dividends by session: those whose day is a session of the bundle
        self.adjustments: dict[int, list[tuple[str, int, object]]] = {}
        for kind, sid, day, text in market.adjustments:
            try:
                value = num.from_decimal_str(text)
            except (InvalidOperation, ValueError):
                raise InvalidRunParameters(
                    f"invalid run: bundle adjustment for sid {sid} has an unreadable value '{text}'"
                ) from None
            if day in market.session_days:
                s = market.session_days.index(day)
                self.adjustments.setdefault(s, []).append((kind, sid, value))

    def sessions(self) -> range:
        return range(self.first_session, self.last_session + 1)

    def price_of(self, mantissa: int):
        return self.num.from_mantissa(mantissa, self.market.price_scale)

    def quote(self, bar: int, sid: int) -> Quote | None:
        """What orders fill against: the bar's close (zipline), or its open under the
        ``next_open`` fill model (backtrader), and its volume. ``None``: no bar."""
        if self.fill_model == "next_open":
            m = self.market.open_at(bar, sid)
        else:
            m = self.market.close_at(bar, sid)
        return None if m is None else Quote(self.price_of(m), int(self.market.volume[bar, sid]))

    def price(self, sid: int):
        """The forward-filled close of ``sid`` at the current bar (``None``: none yet)."""
        m = self.market.last_close_at(self.bar, sid)
        return None if m is None else self.price_of(m)

    def when(self) -> str:
        return format_timestamp(self.market.timestamps[self.bar])

    # -- the clock ------------------------------------------------------------------------
    @exact
    def start_session(self, s: int) -> None:
        """Begin session ``s``: remember where its accounting starts, then apply the day's
        splits and dividends and close out assets whose data has ended."""
        self.session = s
        self.bar = self.market.session_first_bar[s]
        self.starting_cash = self.ledger.cash
        self.starting_value = self.ledger.positions_value()
        self.starting_pv = self.ledger.portfolio_value()
        self.txn_mark = len(self.ledger.transactions)
        self.orders_today = 0
        self.adjustment_cash = self.num.zero
        for kind, sid, value in self.adjustments.get(s, []):
            if kind == "split":
                self.adjustment_cash += self.ledger.apply_split(sid, value)
            else:
                self.adjustment_cash += self.ledger.apply_dividend(sid, value)
        self.close_out_ended_assets()

    def close_out_ended_assets(self) -> None:
        """zipline's auto-close: positions in assets whose data ended before this session
        are closed at their last price, and their open orders cancelled."""
        today = self.market.session_days[self.session]
        ledger = self.ledger
        ended = [
            sid
            for sid in [*ledger.held, *ledger.assets_with_orders]
            if self.market.asset_end_days[sid] < today
        ]
        for sid in ended:
            price = self.price(sid)
            if price is None:
                price = ledger.positions[sid].last_sale_price
            self.touched.extend(ledger.open_by_asset[sid])
            ledger.close_out(sid, price, self.bar)

    @exact
    def process_bar(self, bar: int) -> None:
        """Fill open orders against ``bar``, then mark held positions to its closes."""
        self.bar = bar
        if self.ledger.assets_with_orders:
            new = self.ledger.fill_open_orders(bar, lambda sid: self.quote(bar, sid))
            self.touched.extend(t.order_id for t in new)

        def close(sid):
            m = self.market.close_at(bar, sid)
            return None if m is None else self.price_of(m)

        self.ledger.mark_to_market(bar, close)

    @exact
    def end_session(self) -> None:
        """Close the session's books (end-of-day cancels first) and append its perf."""
        num, ledger = self.num, self.ledger
        if ledger.cancel_policy is CancelPolicy.END_OF_DAY:
            for sid in ledger.assets_with_orders:
                self.touched.extend(ledger.open_by_asset[sid])
            ledger.cancel_all_open(self.bar)
        txns = range(self.txn_mark, len(ledger.transactions))
        # cash in (positive) or out: splits' cash, dividends, fills and their commissions
        capital_used = self.adjustment_cash
        for t in ledger.transactions[txns.start : txns.stop]:
            capital_used = capital_used - num.from_int(t.amount) * t.price - t.commission
        pv = ledger.portfolio_value()
        pnl = pv - self.starting_pv
        returns = num.zero if self.starting_pv == num.zero else num.div_q(pnl, self.starting_pv)
        # the orders placed or changed this session, as they stand at its end
        orders = [copy.copy(ledger.orders[i]) for i in sorted(set(self.touched))]
        self.touched = []
        positions = [
            (sid, p.amount, p.cost_basis, p.last_sale_price)
            for sid in ledger.held
            for p in [ledger.positions[sid]]
        ]
        self.perf.append(
            SessionPerf(
                session=self.session,
                starting_cash=self.starting_cash,
                ending_cash=ledger.cash,
                starting_value=self.starting_value,
                ending_value=ledger.positions_value(),
                portfolio_value=pv,
                pnl=pnl,
                returns=returns,
                capital_used=capital_used,
                transactions=txns,
                orders=orders,
                positions=positions,
                exposure=ledger.exposure(),
            )
        )

    # -- controls ---------------------------------------------------------------------------
    @exact
    def check_controls(self, sid: int, amount: int) -> None:
        """Trading controls, in the order they were set: the first one set to ``fail``
        that the order breaks refuses it; those set to ``log`` only warn."""
        current = self.ledger.positions[sid].amount
        price = self.price(sid)
        for c in self.controls:
            if c.violated(self.num, sid, amount, current, price, self.orders_today):
                msg = (
                    f"order for {amount} shares of {self.market.symbols[sid]} at {self.when()} "
                    f"violates trading constraint {c.describe(self.num, self.market.symbols)}"
                )
                if c.on_error == "fail":
                    raise TradingControlViolation(msg)
                self.warnings.append(msg)

    @exact
    def check_account_controls(self) -> None:
        """zipline's ``MaxLeverage``: gross exposure above ``max_leverage`` × portfolio
        value (a positive one) after a bar fails the run."""
        if self.max_leverage is None:
            return
        pv = self.ledger.portfolio_value()
        if pv <= self.num.zero:
            return
        gross = self.ledger.exposure().gross
        if gross > self.max_leverage * pv:
            f = self.num.to_f64
            raise AccountControlViolation(
                f"account violates account constraint MaxLeverage(max_leverage="
                f"{self.num.to_str(self.max_leverage)}) at {self.when()}: gross leverage "
                f"{f(gross) / f(pv):.6f}"
            )

    # -- orders (zipline's order functions) -----------------------------------------------
    def check_sid(self, sid: int) -> None:
        self.ledger.check_sid(sid)

    def check_not_ended(self, sid: int) -> None:
        today = self.market.session_days[self.market.bar_session[self.bar]]
        if today > self.market.asset_end_days[sid]:
            raise Delisted(sid)

    def require_price(self, sid: int):
        self.check_sid(sid)
        price = self.price(sid)
        if price is None:
            raise NoPrice(sid)
        return price

    def order(self, sid: int, amount: int, limit, stop) -> int | None:
        """Order ``amount`` shares (already rounded): refused for an asset whose data has
        ended, and checked against the trading controls."""
        self.check_sid(sid)
        self.check_not_ended(sid)
        if amount != 0 and self.controls:
            self.check_controls(sid, amount)
        order_id = self.ledger.place_order(sid, amount, limit, stop, self.bar)
        if order_id is not None:
            self.orders_today += 1
            self.touched.append(order_id)
        return order_id

    @exact
    def order_value(self, sid: int, value, limit, stop) -> int | None:
        """zipline's ``order_value``: ``value / price`` shares, rounded."""
        price = self.require_price(sid)
        amount = round_order_amount(self.num, self.num.div_q(value, price))
        return self.order(sid, amount, limit, stop)

    @exact
    def order_percent(self, sid: int, percent, limit, stop) -> int | None:
        """zipline's ``order_percent``: ``percent`` of portfolio value."""
        return self.order_value(sid, self.ledger.portfolio_value() * percent, limit, stop)

    def order_target(self, sid: int, target: int, limit, stop) -> int | None:
        """zipline's ``order_target``: the shares to hold ``target`` shares."""
        self.check_sid(sid)
        return self.order(sid, target - self.ledger.positions[sid].amount, limit, stop)

    def order_target_value(self, sid: int, target, limit, stop) -> int | None:
        price = self.require_price(sid)
        return self.order(sid, self.ledger.target_value_amount(sid, target, price), limit, stop)

    def order_target_percent(self, sid: int, percent, limit, stop) -> int | None:
        price = self.require_price(sid)
        return self.order(sid, self.ledger.target_percent_amount(sid, percent, price), limit, stop)

    def cancel_order(self, order_id: int) -> None:
        self.ledger.cancel_order(order_id, self.bar)
        self.touched.append(order_id)


# ---------------------------------------------------------------------------------------
# Risk metrics: crates/engine/src/metrics.rs (empyrical's definitions, cumulative)
# ---------------------------------------------------------------------------------------


def cumulative_risk(returns: list[float]) -> list[dict[str, float]]:
    """Risk metrics after each period with empyrical's definitions: 252 periods a year,
    risk-free 0, ddof 1, Sortino on downside deviation, drawdown of the wealth curve that
    starts at 1. Same float operations in the same order as the Rust single pass (Welford's
    mean and variance), so the floats agree bit for bit; division is IEEE (x/0 is ±inf,
    0/0 NaN), as numpy's."""
    f = np.float64
    out = []
    n = mean = m2 = total = downside_sq = f(0.0)
    wealth = peak = f(1.0)
    max_dd = f(0.0)
    ann = np.sqrt(f(PERIODS_PER_YEAR))
    with np.errstate(divide="ignore", invalid="ignore"):
        for r in returns:
            r = f(r)
            n += 1.0
            total += r
            delta = r - mean
            mean += delta / n
            m2 += delta * (r - mean)
            clipped = min(r, f(0.0))
            downside_sq += clipped * clipped
            wealth *= 1.0 + r
            peak = max(peak, wealth)
            max_dd = min(max_dd, (wealth - peak) / peak)
            std = np.sqrt(m2 / (n - 1.0)) if n > 1.0 else f(math.nan)
            downside = np.sqrt(downside_sq / n) * ann
            out.append(
                {
                    "algorithm_period_return": float(wealth - 1.0),
                    "algo_volatility": float(std * ann),
                    "sharpe": float((total / n) / std * ann),
                    "sortino": float((total / n) * PERIODS_PER_YEAR / downside),
                    "max_drawdown": float(max_dd),
                }
            )
    return out


# ---------------------------------------------------------------------------------------
# The simulation the package talks to: crates/pybind/src/sim.rs
# ---------------------------------------------------------------------------------------


def _as_index(value, name: str) -> int:
    """An unsigned integer argument, as PyO3 extracts one (TypeError / OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"'{type(value).__name__}' object cannot be interpreted as an integer ({name})"
        )
    if value < 0:
        raise OverflowError(f"can't convert negative int to unsigned ({name})")
    return int(value)


def _as_float(value, name: str) -> float:
    if isinstance(value, str) or value is None:
        raise TypeError(f"argument '{name}': must be real number, not {type(value).__name__}")
    return float(value)


class ReferenceSimulation:
    """``rustybt._core.Simulation`` in Python: same constructor, methods and results."""

    def __init__(self, bundle, first_session, last_session, capital_base, ledger="decimal"):
        core = getattr(bundle, "_core", bundle)
        first = _as_index(first_session, "first_session")
        last = _as_index(last_session, "last_session")
        capital = _as_float(capital_base, "capital_base")
        if ledger not in NUMS:
            raise InvalidRunParameters(f"ledger must be 'decimal' or 'float', got '{ledger}'")
        num = NUMS[ledger]
        self._market = market_of(core)
        self._books = Books(
            self._market, first, last, self._param(num, "capital_base", capital), num
        )
        self._num = num
        self._phase = "initialize"

    # -- conversions (sim.rs: money, param, style) -----------------------------------------
    @staticmethod
    def _money(num, name: str, v: float):
        x = num.from_f64(v)
        if x is None:
            raise BadOrderParameters(f"{name} must be a finite number, got {FloatNum.to_str(v)}")
        return x

    @staticmethod
    def _param(num, name: str, v: float):
        x = num.from_f64(v)
        if x is None or x < num.zero:
            raise InvalidRunParameters(
                f"{name} must be a finite, non-negative number, got {FloatNum.to_str(v)}"
            )
        return x

    def _price(self, name: str, v: float):
        if not (math.isfinite(v) and v > 0.0):
            raise BadOrderParameters(
                f"{name} price must be a positive finite number, got {FloatNum.to_str(v)}"
            )
        return self._money(self._num, name, v)

    # -- state ------------------------------------------------------------------------------
    @property
    def ledger(self) -> str:
        return self._num.name

    @property
    def phase(self) -> str:
        return self._phase

    def set_phase(self, phase: str) -> None:
        if phase not in PHASES:
            raise InvalidRunParameters(f"unknown phase '{phase}'")
        self._phase = phase

    @property
    def current_bar(self) -> int:
        return self._books.bar

    # -- orders -----------------------------------------------------------------------------
    def order(self, kind, sid, value, limit=None, stop=None):
        """Place an order. ``kind`` is shares, value, percent, target, target_value or
        target_percent. Returns the order id, or ``None`` when the amount rounds to zero.

        Checks run in the binding's order: the phase, the limit then stop price, the kind,
        the value, then the asset (and its price, for orders by value)."""
        sid = _as_index(sid, "sid")
        value = _as_float(value, "value")
        limit = None if limit is None else _as_float(limit, "limit")
        stop = None if stop is None else _as_float(stop, "stop")
        if self._phase != "handle_data":
            raise OrderDuringInitialize(
                f"orders cannot be placed in {self._phase}; place them in handle_data or a scheduled function"
            )
        num, books = self._num, self._books
        limit = None if limit is None else self._price("limit", limit)
        stop = None if stop is None else self._price("stop", stop)
        try:
            if kind == "shares":
                amount = round_order_amount(num, self._money(num, "amount", value))
                return books.order(sid, amount, limit, stop)
            if kind == "value":
                return books.order_value(sid, self._money(num, "value", value), limit, stop)
            if kind == "percent":
                return books.order_percent(sid, self._money(num, "percent", value), limit, stop)
            if kind == "target":
                target = round_order_amount(num, self._money(num, "target", value))
                return books.order_target(sid, target, limit, stop)
            if kind == "target_value":
                return books.order_target_value(sid, self._money(num, "target", value), limit, stop)
            if kind == "target_percent":
                return books.order_target_percent(
                    sid, self._money(num, "target", value), limit, stop
                )
        except UnknownAsset as exc:
            raise SymbolNotFound(str(exc)) from None
        except BadPrice as exc:
            raise BadOrderParameters(str(exc)) from None
        except NoPrice:
            raise CannotOrderDelistedAsset(
                f"cannot order {self._market.symbols[sid]} at {books.when()}: it has no price "
                "yet (no bar at or before this time)"
            ) from None
        except Delisted:
            raise CannotOrderDelistedAsset(
                f"cannot order {self._market.symbols[sid]} at {books.when()}: its data ended on "
                f"{format_date(self._market.asset_end_days[sid])}"
            ) from None
        finally:
            # controls set to "log" warn through the "rustybt" logger
            warnings, books.warnings = books.warnings, []
            for w in warnings:
                logging.getLogger("rustybt").warning(w)
        raise BadOrderParameters(f"unknown order kind '{kind}'")

    def cancel_order(self, order_id) -> None:
        order_id = _as_index(order_id, "order_id")
        try:
            self._books.cancel_order(order_id)
        except UnknownOrder as exc:
            raise BadOrderParameters(str(exc)) from None

    def open_orders(self, sid=None) -> list[tuple[int, int]]:
        """Ids of open orders, as (sid, order id), of one asset or all."""
        ledger = self._books.ledger
        if sid is None:
            sids = list(ledger.assets_with_orders)
        else:
            sid = _as_index(sid, "sid")
            sids = [sid] if sid < ledger.n_assets else []
        return [(s, order_id) for s in sids for order_id in ledger.open_by_asset[s]]

    def order_info(self, order_id):
        """(sid, amount, filled, commission, limit, stop, status code, reason, created bar,
        updated bar)."""
        f = self._num.to_f64
        try:
            o = self._books.ledger.order(_as_index(order_id, "order_id"))
        except UnknownOrder as exc:
            raise BadOrderParameters(str(exc)) from None
        return (
            o.sid,
            o.amount,
            o.filled,
            f(o.commission),
            None if o.limit is None else f(o.limit),
            None if o.stop is None else f(o.stop),
            o.status.value,
            o.reason,
            o.created_bar,
            o.updated_bar,
        )

    def cash(self) -> float:
        return self._num.to_f64(self._books.ledger.cash)

    def portfolio_value(self) -> float:
        return self._num.to_f64(self._books.ledger.portfolio_value())

    def positions_value(self) -> float:
        return self._num.to_f64(self._books.ledger.positions_value())

    def starting_cash(self) -> float:
        return self._num.to_f64(self._books.ledger.starting_cash)

    def exact_state(self) -> tuple[str, str]:
        """Exact (decimal string) cash and portfolio value."""
        ledger, s = self._books.ledger, self._num.to_str
        return s(ledger.cash), s(ledger.portfolio_value())

    def positions(self) -> list[tuple[int, int, float, float]]:
        """Open positions: (sid, amount, cost basis, last sale price)."""
        ledger, f = self._books.ledger, self._num.to_f64
        return [
            (sid, p.amount, f(p.cost_basis), f(p.last_sale_price))
            for sid in ledger.held
            for p in [ledger.positions[sid]]
        ]

    # -- costs and policies -------------------------------------------------------------------
    def set_slippage(self, kind, a=0.0, b=0.0) -> None:
        """none | fixed(spread) | fixed_basis_points(basis_points, volume_limit) |
        volume_share(volume_limit, price_impact)."""
        num, p = self._num, self._param
        a, b = _as_float(a, "a"), _as_float(b, "b")
        if kind == "none":
            model = NoSlippage()
        elif kind == "fixed":
            model = FixedSlippage(p(num, "spread", a))
        elif kind == "fixed_basis_points":
            model = FixedBasisPointsSlippage(p(num, "basis_points", a), p(num, "volume_limit", b))
        elif kind == "volume_share":
            model = VolumeShareSlippage(p(num, "volume_limit", a), p(num, "price_impact", b))
        else:
            raise InvalidRunParameters(f"unknown slippage model '{kind}'")
        self._books.ledger.slippage = model

    def set_commission(self, kind, a=0.0, b=0.0) -> None:
        """none | per_share(cost, min_trade_cost) | per_trade(cost) | per_dollar(cost)."""
        num, p = self._num, self._param
        a, b = _as_float(a, "a"), _as_float(b, "b")
        if kind == "none":
            model = NoCommission()
        elif kind == "per_share":
            model = PerShareCommission(p(num, "cost", a), p(num, "min_trade_cost", b))
        elif kind == "per_trade":
            model = PerTradeCommission(p(num, "cost", a))
        elif kind == "per_dollar":
            model = PerDollarCommission(p(num, "cost", a))
        else:
            raise InvalidRunParameters(f"unknown commission model '{kind}'")
        self._books.ledger.commission = model

    def add_control(
        self, kind, sid=None, max_shares=None, max_notional=None, max_count=None, on_error="fail"
    ) -> None:
        """Add a trading control: max_order_size | max_position_size (``max_shares`` and/or
        ``max_notional``, for ``sid`` or all) | max_order_count (``max_count`` per session)
        | long_only. ``on_error`` is "fail" (refuse the order) or "log" (warn)."""
        sid = None if sid is None else _as_index(sid, "sid")
        max_count = None if max_count is None else _as_index(max_count, "max_count")
        if on_error not in ("fail", "log"):
            raise InvalidRunParameters(f"on_error must be 'fail' or 'log', got '{on_error}'")
        shares = None
        if max_shares is not None:
            v = _as_float(max_shares, "max_shares")
            if not (math.isfinite(v) and v >= 0.0):
                raise InvalidRunParameters(
                    f"max_shares must be a non-negative number, got {FloatNum.to_str(v)}"
                )
            shares = int(v)
        notional = None
        if max_notional is not None:
            notional = self._param(
                self._num, "max_notional", _as_float(max_notional, "max_notional")
            )
        if kind in ("max_order_size", "max_position_size"):
            if shares is None and notional is None:
                raise InvalidRunParameters(f"{kind} needs max_shares or max_notional")
            cls = MaxOrderSize if kind == "max_order_size" else MaxPositionSize
            control = cls(sid, shares, notional, on_error)
        elif kind == "max_order_count":
            if max_count is None:
                raise InvalidRunParameters("max_order_count needs max_count")
            control = MaxOrderCount(max_count, on_error)
        elif kind == "long_only":
            control = LongOnly(on_error)
        else:
            raise InvalidRunParameters(f"unknown trading control '{kind}'")
        self._books.controls.append(control)

    def set_max_leverage(self, max_leverage) -> None:
        """zipline's ``set_max_leverage``: gross leverage is checked after every bar."""
        self._books.max_leverage = self._param(
            self._num, "max_leverage", _as_float(max_leverage, "max_leverage")
        )

    def set_fill_model(self, model) -> None:
        """``next_close`` (zipline's, the default) or ``next_open`` (backtrader's): the price
        of the next bar orders trigger and fill at; positions are still marked at closes."""
        if model not in ("next_close", "next_open"):
            raise InvalidRunParameters(
                f"fill model must be 'next_close' or 'next_open', got '{model}'"
            )
        self._books.fill_model = model

    def set_cancel_policy(self, policy) -> None:
        """``never`` (zipline's default) or ``eod``."""
        if policy == "never":
            self._books.ledger.cancel_policy = CancelPolicy.NEVER
        elif policy in ("eod", "end_of_day"):
            self._books.ledger.cancel_policy = CancelPolicy.END_OF_DAY
        else:
            raise InvalidRunParameters(f"cancel policy must be 'never' or 'eod', got '{policy}'")

    # -- the event loop -------------------------------------------------------------------------
    def run(self, context, data, handle_data, before_trading_start, recorded) -> list[dict]:
        """For each session: start it (splits, dividends, close-outs), then
        ``before_trading_start(context, data)`` (if given), then per bar: fill orders
        against the bar, mark to market, ``handle_data(context, data)``, check account
        controls; at the session's end close its books and snapshot ``recorded``. Returns
        the snapshots, one dict per session."""
        if not isinstance(data, ReferenceBarData):
            raise TypeError("ReferenceSimulation.run needs a ReferenceBarData")
        books = self._books
        snapshots = []
        for session in books.sessions():
            books.start_session(session)
            bars = self._market.session_bars(session)
            self._phase = "before_trading_start"
            data._bar = bars.start
            if before_trading_start is not None:
                self._call(before_trading_start, "before_trading_start", bars.start, context, data)
            self._phase = "handle_data"
            for bar in bars:
                books.process_bar(bar)
                data._bar = bar
                self._call(handle_data, "handle_data", bar, context, data)
                books.check_account_controls()
            books.end_session()
            snapshots.append(dict(recorded))
        self._phase = "analyze"
        return snapshots

    def _call(self, fn, callback: str, bar: int, *args) -> None:
        """Call strategy code; wrap its exceptions (not rustybt's own, not
        KeyboardInterrupt) in StrategyError, the original as ``__cause__``."""
        try:
            fn(*args)
        except RustyBTError:
            raise
        except Exception as exc:
            when = format_timestamp(self._market.timestamps[bar])
            raise StrategyError(
                f"{callback} raised {type(exc).__name__} at {when} (bar {bar}): {exc}"
            ) from exc

    # -- results ---------------------------------------------------------------------------------
    @exact
    def perf(self, assets, bar_times) -> dict:
        """The perf columns (numpy arrays; per-session lists of dicts) and exact values."""
        books, num, market = self._books, self._num, self._market
        perf, f = books.perf, num.to_f64
        txns = books.ledger.transactions
        bar_times = _Memo(bar_times)

        def ratio(a, b) -> float:
            return math.nan if b == num.zero else f(a) / f(b)

        def col(get) -> np.ndarray:
            return np.array([get(p) for p in perf], dtype=np.float64)

        returns = [f(p.returns) for p in perf]
        risk = cumulative_risk(returns)
        out = {
            "portfolio_value": col(lambda p: f(p.portfolio_value)),
            "returns": np.array(returns, dtype=np.float64),
            "pnl": col(lambda p: f(p.pnl)),
            "capital_used": col(lambda p: f(p.capital_used)),
            "starting_cash": col(lambda p: f(p.starting_cash)),
            "ending_cash": col(lambda p: f(p.ending_cash)),
            "starting_value": col(lambda p: f(p.starting_value)),
            "ending_value": col(lambda p: f(p.ending_value)),
            "starting_exposure": col(lambda p: f(p.starting_value)),
            "ending_exposure": col(lambda p: f(p.ending_value)),
            "long_value": col(lambda p: f(p.exposure.long_value)),
            "short_value": col(lambda p: f(p.exposure.short_value)),
            "long_exposure": col(lambda p: f(p.exposure.long_value)),
            "short_exposure": col(lambda p: f(p.exposure.short_value)),
            "longs_count": col(lambda p: float(p.exposure.long_count)),
            "shorts_count": col(lambda p: float(p.exposure.short_count)),
            "gross_leverage": col(lambda p: ratio(p.exposure.gross, p.portfolio_value)),
            "net_leverage": col(lambda p: ratio(p.exposure.net, p.portfolio_value)),
        }
        for name in (
            "algorithm_period_return",
            "algo_volatility",
            "sharpe",
            "sortino",
            "max_drawdown",
        ):
            out[name] = np.array([r[name] for r in risk], dtype=np.float64)
        out["period_close"] = np.array(
            [market.session_closes[p.session] for p in perf], dtype=np.int64
        )
        out["period_open"] = np.array(
            [market.session_opens[p.session] for p in perf], dtype=np.int64
        )
        t_col, o_col, p_col = [], [], []
        for p in perf:
            t_col.append(
                [
                    {
                        "amount": t.amount,
                        "dt": bar_times[t.bar],
                        "price": f(t.price),
                        "order_id": t.order_id,
                        "sid": assets[t.sid],
                        "commission": f(t.commission),
                    }
                    for t in txns[p.transactions.start : p.transactions.stop]
                ]
            )
            o_col.append([_order_dict(o, f, assets, bar_times) for o in p.orders])
            p_col.append(
                [
                    {
                        "sid": assets[sid],
                        "amount": amount,
                        "cost_basis": f(cost_basis),
                        "last_sale_price": f(last),
                    }
                    for sid, amount, cost_basis, last in p.positions
                ]
            )
        out["transactions"] = t_col
        out["orders"] = o_col
        out["positions"] = p_col
        s = num.to_str
        out["exact"] = {
            "portfolio_value": [s(p.portfolio_value) for p in perf],
            "ending_cash": [s(p.ending_cash) for p in perf],
            "ending_value": [s(p.ending_value) for p in perf],
            "pnl": [s(p.pnl) for p in perf],
            "returns": [s(p.returns) for p in perf],
            "capital_used": [s(p.capital_used) for p in perf],
            "starting_cash": [s(p.starting_cash) for p in perf],
            "transactions": [
                (t.order_id, t.sid, t.amount, s(t.price), s(t.commission), t.bar) for t in txns
            ],
        }
        return out


class _Memo:
    """``index[i]``, each looked up once (an index lookup builds a new Timestamp)."""

    def __init__(self, index):
        self._index, self._seen = index, {}

    def __getitem__(self, i):
        if i not in self._seen:
            self._seen[i] = self._index[i]
        return self._seen[i]


def _order_dict(o, f, assets, bar_times) -> dict:
    return {
        "id": o.id,
        "dt": bar_times[o.updated_bar],
        "created": bar_times[o.created_bar],
        "reason": o.reason,
        "amount": o.amount,
        "filled": o.filled,
        "commission": f(o.commission),
        "limit": None if o.limit is None else f(o.limit),
        "stop": None if o.stop is None else f(o.stop),
        "limit_reached": o.limit_reached,
        "stop_reached": o.stop_reached,
        "sid": assets[o.sid],
        "status": o.status.value,
    }


# ---------------------------------------------------------------------------------------
# What the strategy sees: rustybt.data.BarData on the reference clock
# ---------------------------------------------------------------------------------------


#: How a coarser bar combines the values of its source bars, oldest first.
AGGREGATE = {
    "open": lambda v: v[0],
    "high": max,
    "low": min,
    "close": lambda v: v[-1],
    "volume": sum,
}


class ReferenceBarData(BarData):
    """:class:`rustybt.data.BarData` whose current bar is set by the reference loop.

    The Rust ``BarData`` keeps its bar in Rust, out of reach; this subclass keeps it in
    ``_bar`` and answers the four primitives (``_current``, ``_history``, ``_can_trade``,
    ``_is_stale``) from the :class:`Market` and the bundle's own history windows
    (aggregating them itself for a coarser ``frequency``).
    """

    def __new__(cls, bundle):
        return super().__new__(cls, bundle)

    def __init__(self, bundle):
        super().__init__(bundle)
        self._market = market_of(bundle._core)
        self._bar = 0

    @property
    def current_bar(self) -> int:
        return self._bar

    def _current(self, sid: int, field: str) -> float:
        if not isinstance(field, str):
            raise TypeError(f"argument 'field': '{type(field).__name__}' object is not a string")
        if field not in FIELDS:
            raise HistoryWindowError(
                f"unknown field '{field}': use open, high, low, close, volume or price"
            )
        if sid >= self._market.n_assets:
            raise SymbolNotFound(f"sid {sid} is not in the bundle")
        return self._market.current(field, self._bar, sid)

    def _history(self, assets, field: str, count: int, frequency=None):
        """``count`` bars of ``field`` ending at the current bar, ``[count, len(assets)]``;
        with ``frequency``, bars aggregated to that coarser size (see :meth:`_aggregated`).
        ``assets`` are Assets or sids."""
        sids = [getattr(a, "sid", a) for a in assets]
        if frequency is None:
            return self._bundle._core.history(field, sids, self._bar, count)
        return self._aggregated(sids, field, count, frequency)

    def _aggregated(self, sids: list[int], field: str, count: int, frequency: str) -> np.ndarray:
        """History of bars aggregated to ``frequency`` (``crates/data/src/resample.rs``):
        a coarser bar takes the first open, highest high, lowest low, last close and
        summed volume of the source bars (with a close) that close inside it; the bar in
        progress is aggregated from the source bars so far only. Bars before the bundle
        are NaN (volume 0); ``price`` forward-fills closes."""
        name = "close" if field == "price" else field
        if name not in AGGREGATE:
            raise HistoryWindowError(
                f"unknown field '{field}': use open, high, low, close, volume or price"
            )
        core, end = self._bundle._core, self._bar
        closes = np.asarray(core.resampled_timestamps(frequency))  # refuses a finer size
        times = np.asarray(self._market.timestamps)
        current = int(np.searchsorted(closes, times[end], side="left"))  # the bar in progress

        def first_source(t: int) -> int:  # first source bar of target bar t
            return 0 if t == 0 else int(np.searchsorted(times, closes[t - 1], side="right"))

        first_target = current + 1 - count
        lo = first_source(max(first_target, 0))
        n = end + 1 - lo  # source bars lo..=end, as float matrices [n, sids]
        src = {f: core.history(f, sids, end, n) for f in AGGREGATE}
        out = np.full((count, len(sids)), 0.0 if name == "volume" else np.nan)
        for row in range(count):
            t = first_target + row
            if t < 0:
                continue
            bars = range(first_source(t) - lo, min(first_source(t + 1), end + 1) - lo)
            for j in range(len(sids)):
                traded = [b for b in bars if not np.isnan(src["close"][b, j])]
                if not traded:
                    continue
                out[row, j] = AGGREGATE[name]([float(src[name][b, j]) for b in traded])
        if field == "price":  # forward fill, from the last close before the window
            scale = 10.0**self._market.price_scale
            for j, sid in enumerate(sids):
                before = first_source(first_target) - 1 if first_target > 0 else -1
                m = self._market.last_close_at(before, sid) if before >= 0 else None
                last = np.nan if m is None else m / scale
                for row in range(count):
                    if np.isnan(out[row, j]):
                        out[row, j] = last
                    else:
                        last = out[row, j]
        return out

    def _can_trade(self, sid: int) -> bool:
        m, bar = self._market, self._bar
        if not 0 <= sid < m.n_assets:
            return False
        day = m.session_days[m.bar_session[bar]]
        return day <= m.asset_end_days[sid] and m.last_close_at(bar, sid) is not None

    def _is_stale(self, sid: int) -> bool:
        m, bar = self._market, self._bar
        return (
            0 <= sid < m.n_assets
            and m.close_at(bar, sid) is None
            and m.last_close_at(bar, sid) is not None
        )


# ---------------------------------------------------------------------------------------
# run_algorithm
# ---------------------------------------------------------------------------------------


def run_algorithm(
    start=None,
    end=None,
    initialize=None,
    capital_base=1_000_000.0,
    handle_data=None,
    before_trading_start=None,
    analyze=None,
    data_frequency=None,
    bundle=None,
    *,
    algorithm=None,
    params=None,
    ledger: str = "decimal",
) -> pd.DataFrame:
    """:func:`rustybt.run_algorithm` on the reference engine: same arguments, same perf
    frame (``perf.attrs["rustybt"]["exact"]`` included), same exceptions."""
    started = time.perf_counter()
    if bundle is None:
        raise InvalidRunParameters("bundle= is required (a bundle name or path)")
    if ledger not in LEDGERS:
        raise InvalidRunParameters(f"ledger must be 'decimal' or 'float', got {ledger!r}")
    bundle = load_bundle(bundle)
    if data_frequency is not None and _normalize_frequency(data_frequency) != bundle.frequency:
        raise InvalidRunParameters(
            f"data_frequency {data_frequency!r} does not match bundle '{bundle.name}' "
            f"({bundle.frequency} bars)"
        )
    try:
        capital = float(capital_base)
    except (TypeError, ValueError):
        raise InvalidRunParameters(f"capital_base must be a number, got {capital_base!r}") from None
    if not np.isfinite(capital) or capital <= 0:
        raise InvalidRunParameters(f"capital_base must be a positive number, got {capital_base!r}")
    algo = _make_algorithm(
        algorithm, params, initialize, handle_data, before_trading_start, analyze
    )
    first, last = bundle.session_range(
        bundle.start if start is None else start, bundle.end if end is None else end
    )
    sim = ReferenceSimulation(bundle, first, last, capital, ledger)
    data = ReferenceBarData(bundle)
    algo._attach(bundle, sim, data)
    algo._environment = {
        "platform": "rustybt",
        "arena": "backtest",
        "data_frequency": bundle.frequency,
        "start": bundle.sessions[first],
        "end": bundle.sessions[last],
        "capital_base": capital,
        "ledger": ledger,
        "bundle": bundle.name,
    }
    handle, bts = _callbacks(algo)
    with running(algo):
        sim.set_phase("initialize")
        _call_user(algo.initialize, "initialize", algo)
        snapshots = sim.run(algo, data, handle, bts, algo._recorded)
        perf = _perf_frame(bundle, sim, snapshots)
        perf.attrs["rustybt"]["wall_time_s"] = time.perf_counter() - started
        _call_user(algo.analyze, "analyze", algo, perf)
    return perf


def exact_values(perf: pd.DataFrame) -> dict:
    """``perf.attrs["rustybt"]["exact"]`` with every decimal string as a
    :class:`decimal.Decimal`, so that two engines' results compare by value::

        assert exact_values(rust_perf) == exact_values(reference_perf)
    """
    exact = perf.attrs["rustybt"]["exact"]
    out = {k: [Decimal(v) for v in vs] for k, vs in exact.items() if k != "transactions"}
    out["transactions"] = [
        (order_id, sid, amount, Decimal(price), Decimal(commission), bar)
        for order_id, sid, amount, price, commission, bar in exact["transactions"]
    ]
    return out
