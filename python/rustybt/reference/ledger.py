"""The reference ledger: orders, zipline's trigger rules, slippage and commission models,
positions and cash, written for reading rather than speed.

This module is the specification the Rust ledger (``crates/ledger``) is checked against,
to the last decimal digit. The rules, each from zipline-reloaded:

* Numbers. In decimal mode every quantity is a :class:`decimal.Decimal`. Sums, differences
  and products are exact: they run in :data:`EXACT`, a context so wide that no result is
  ever rounded, with :class:`decimal.Inexact` trapped so that a rounded result would raise
  instead of passing silently. Rounding happens in two documented places only, both half
  to even to :data:`DIV_SCALE` (12) decimal places and computed on exact fractions:
  :func:`div_q`, every quotient; :func:`quantize`, every commission and the volume-share
  fill price. Bundle prices enter as exact fixed-point values; float parameters (a weight,
  a cost) enter through their shortest round-trip digits, ``Decimal(repr(x))``.
* Share counts. zipline's ``round_if_near_integer`` then ``int``: an amount within 0.0001
  of an integer is that integer, anything else is truncated toward zero.
* Fills. Orders placed while handling bar *t* meet bar *t + 1* first. Per asset with open
  orders (in the order their first open order was placed), per open order (in placement
  order): check the triggers against the bar's price (its close, zipline's rule; or its
  open, backtrader's), ask the slippage model for a price and an amount, charge
  commission, update the position and cash.

Float mode runs the same code on Python floats (the Rust ``f64`` twin); only decimal mode
is the oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Clamped,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Underflow,
    localcontext,
)
from enum import Enum
from fractions import Fraction
from functools import wraps

#: Decimal places every quotient is rounded to (half to even): ``DIV_SCALE`` in ``num.rs``.
DIV_SCALE = 12

#: Where decimal arithmetic runs. 200 significant digits hold every sum and product the
#: ledger makes (the deepest, a per-dollar commission on a volume-share price, needs fewer
#: than 100); were one ever longer, the ``Inexact`` / ``Rounded`` traps would raise rather
#: than round it. Division and rounding never run here: :func:`div_q` and :func:`quantize`
#: work on exact fractions.
EXACT = Context(
    prec=200,
    rounding=ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[Inexact, Rounded, InvalidOperation, DivisionByZero, Overflow, Underflow, Clamped],
)

#: rust_decimal holds a 96-bit mantissa: a float parameter beyond it is out of range.
DECIMAL_MAX = Decimal(2**96 - 1)


def exact(method):
    """Run ``method`` with :data:`EXACT` as the decimal context."""

    @wraps(method)
    def wrapper(*args, **kwargs):
        with localcontext(EXACT):
            return method(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------


def _round_half_even(x: Fraction, dp: int) -> Decimal:
    """The exact rational ``x`` rounded half to even to ``dp`` decimal places.

    ``round`` of a :class:`fractions.Fraction` rounds half to even, and nothing is
    approximated before it: there is no double rounding.
    """
    return Decimal(round(x * 10**dp)).scaleb(-dp, EXACT)


def div_q(a: Decimal, b: Decimal) -> Decimal:
    """``a / b`` rounded half to even to :data:`DIV_SCALE` places, from the exact quotient."""
    if b == 0:
        raise ZeroDivisionError("div_q by zero")
    return _round_half_even(Fraction(a) / Fraction(b), DIV_SCALE)


def quantize(x: Decimal) -> Decimal:
    """``x`` rounded half to even to :data:`DIV_SCALE` places. Fill prices of the
    volume-share model and every commission pass through it, so that the sums of money
    made of them stay short."""
    return _round_half_even(Fraction(x), DIV_SCALE)


def round_dp(x: Decimal, dp: int) -> Decimal:
    """``x`` rounded half to even to ``dp`` decimal places (split-adjusted prices: cents)."""
    return _round_half_even(Fraction(x), dp)


class DecimalNum:
    """Exact decimal arithmetic (``impl Money for Decimal``)."""

    name = "decimal"
    zero = Decimal(0)
    one = Decimal(1)

    @staticmethod
    def from_int(v: int) -> Decimal:
        return Decimal(v)

    @staticmethod
    def from_mantissa(mantissa: int, scale: int) -> Decimal:
        """``mantissa × 10^-scale``, exactly (a bundle price)."""
        return Decimal(mantissa).scaleb(-scale, EXACT)

    @staticmethod
    def from_f64(v: float) -> Decimal | None:
        """A float through its shortest round-trip digits (``repr``); ``None`` for NaN,
        infinities and values beyond a 96-bit mantissa."""
        if not math.isfinite(v):
            return None
        d = Decimal(repr(float(v))).normalize(EXACT)  # "2.0" is 2, as rust_decimal prints it
        if abs(d) > DECIMAL_MAX:
            return None
        return d if d != 0 else Decimal(0)  # no negative zero

    div_q = staticmethod(div_q)
    quantize = staticmethod(quantize)
    round_dp = staticmethod(round_dp)

    @staticmethod
    def from_decimal_str(text: str) -> Decimal:
        """A decimal string from the bundle (a split ratio, a dividend), exactly."""
        return Decimal(text.strip())

    @staticmethod
    def floor(x: Decimal) -> Decimal:
        return x.to_integral_value(rounding=ROUND_FLOOR)

    @staticmethod
    def round_int(x: Decimal) -> Decimal:
        """Nearest whole number, half to even."""
        return x.to_integral_value(rounding=ROUND_HALF_EVEN)

    @staticmethod
    def trunc(x: Decimal) -> Decimal:
        """Drop the fraction (toward zero)."""
        return x.to_integral_value(rounding=ROUND_DOWN)

    @staticmethod
    def to_int(x: Decimal) -> int:
        return int(x)

    @staticmethod
    def to_f64(x: Decimal) -> float:
        """The correctly rounded nearest double."""
        return float(x)

    @staticmethod
    def to_str(x: Decimal) -> str:
        """Plain notation, never an exponent (``1E+2`` prints as ``100``)."""
        return format(x, "f")


class FloatNum:
    """The ``f64`` twin (``impl Money for f64``): the same formulas on binary floats."""

    name = "float"
    zero = 0.0
    one = 1.0

    @staticmethod
    def from_int(v: int) -> float:
        return float(v)

    @staticmethod
    def from_mantissa(mantissa: int, scale: int) -> float:
        return mantissa / 10.0**scale

    @staticmethod
    def from_f64(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    @staticmethod
    def div_q(a: float, b: float) -> float:
        return a / b

    @staticmethod
    def quantize(x: float) -> float:
        return x

    @staticmethod
    def round_dp(x: float, dp: int) -> float:
        m = 10.0**dp
        return float(round(x * m)) / m

    @staticmethod
    def from_decimal_str(text: str) -> float:
        return float(text.strip())

    @staticmethod
    def floor(x: float) -> float:
        return float(math.floor(x))

    @staticmethod
    def round_int(x: float) -> float:
        return float(round(x))  # Python rounds floats half to even

    @staticmethod
    def trunc(x: float) -> float:
        return float(math.trunc(x))

    @staticmethod
    def to_int(x: float) -> int:
        return int(x)

    @staticmethod
    def to_f64(x: float) -> float:
        return x

    @staticmethod
    def to_str(x: float) -> str:
        """Rust's ``Display`` for f64: shortest round-trip digits, never an exponent."""
        if not math.isfinite(x):
            return "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")
        return format(Decimal(repr(x)).normalize(), "f")


NUMS = {"decimal": DecimalNum, "float": FloatNum}


def round_order_amount(num, raw) -> int:
    """zipline's share rounding (``round_if_near_integer`` then ``int``): within 0.0001 of
    an integer means that integer, otherwise truncate toward zero."""
    nearest = num.round_int(raw)
    if abs(raw - nearest) <= num.from_mantissa(1, 4):
        return num.to_int(nearest)
    return num.to_int(num.trunc(raw))


# ---------------------------------------------------------------------------------------
# Errors (the binding maps these onto rustybt.errors)
# ---------------------------------------------------------------------------------------


class LedgerError(Exception):
    """Something the ledger refuses: a bad order price, an unknown order or asset."""


class BadPrice(LedgerError):
    pass


class UnknownOrder(LedgerError):
    pass


class UnknownAsset(LedgerError):
    pass


# ---------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------


class OrderStatus(Enum):
    """zipline's ``ORDER_STATUS`` codes."""

    OPEN = 0
    FILLED = 1
    CANCELLED = 2
    REJECTED = 3


@dataclass
class Order:
    """An order for ``amount`` shares (signed: positive buys, negative sells)."""

    id: int
    sid: int
    amount: int
    limit: object | None = None
    stop: object | None = None
    created_bar: int = 0
    updated_bar: int = 0
    filled: int = 0
    commission: object = 0
    stop_reached: bool = False
    limit_reached: bool = False
    status: OrderStatus = OrderStatus.OPEN
    reason: str | None = None

    @property
    def open_amount(self) -> int:
        return self.amount - self.filled

    @property
    def direction(self) -> int:
        return 1 if self.amount >= 0 else -1

    @property
    def is_open(self) -> bool:
        return self.status is OrderStatus.OPEN

    @property
    def triggered(self) -> bool:
        """zipline's ``Order.triggered``: every condition the order carries has been reached."""
        return (self.limit_reached or self.limit is None) and (
            self.stop_reached or self.stop is None
        )

    def check_triggers(self, price, bar: int) -> None:
        """zipline's ``Order.check_triggers`` / ``check_order_triggers`` against the bar's
        price (its close; its open under the ``next_open`` fill model).

        * limit: a buy triggers at or below the limit, a sell at or above it;
        * stop: a buy triggers at or above the stop, a sell at or below it;
        * stop-limit: once the stop is reached the order *becomes a limit order* (its stop
          is dropped); the limit may trigger on the same bar.

        A triggered order stays triggered.
        """
        if self.triggered:
            return
        buy = self.amount > 0
        stop_reached = limit_reached = sl_stop_reached = False
        if self.stop is not None and self.limit is not None:
            if (buy and price >= self.stop) or (not buy and price <= self.stop):
                sl_stop_reached = True
                if (buy and price <= self.limit) or (not buy and price >= self.limit):
                    limit_reached = True
        elif self.stop is not None:
            stop_reached = (buy and price >= self.stop) or (not buy and price <= self.stop)
        elif self.limit is not None:
            limit_reached = (buy and price <= self.limit) or (not buy and price >= self.limit)
        if (stop_reached, limit_reached) != (self.stop_reached, self.limit_reached):
            self.updated_bar = bar
        self.stop_reached = stop_reached
        self.limit_reached = limit_reached
        if sl_stop_reached:
            self.stop = None

    def fill_worse_than_limit(self, fill_price) -> bool:
        """zipline's ``fill_price_worse_than_limit_price``."""
        if self.limit is None:
            return False
        if self.amount > 0:
            return fill_price > self.limit
        if self.amount < 0:
            return fill_price < self.limit
        return False


# ---------------------------------------------------------------------------------------
# Slippage models
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """What a model sees of the bar: its price (``close``; the open under the ``next_open``
    fill model, as in Rust) and its volume."""

    close: object
    volume: int


@dataclass(frozen=True)
class Fill:
    """Fill ``amount`` (signed) shares at ``price``."""

    price: object
    amount: int


#: Nothing fills for this order on this bar; later orders for the asset may.
SKIP = "skip"
#: The bar's volume is used up: no further order for this asset fills on this bar.
LIQUIDITY_EXCEEDED = "liquidity_exceeded"


@dataclass(frozen=True)
class NoSlippage:
    """Fill the whole open amount at the close."""

    uses_volume = False

    def process(self, num, order: Order, quote: Quote, volume_for_bar: int):
        return Fill(quote.close, order.open_amount)


@dataclass(frozen=True)
class FixedSlippage:
    """zipline's ``FixedSlippage``: the whole open amount at close ± spread / 2."""

    spread: object
    uses_volume = False

    def process(self, num, order: Order, quote: Quote, volume_for_bar: int):
        half = num.div_q(self.spread, num.from_int(2))
        return Fill(quote.close + half * num.from_int(order.direction), order.open_amount)


@dataclass(frozen=True)
class FixedBasisPointsSlippage:
    """zipline's default ``FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1)``:
    price ``close × (1 ± basis_points / 10 000)``; at most ``int(volume_limit × volume)``
    shares of the asset fill per bar, the rest waits for later bars."""

    basis_points: object
    volume_limit: object
    uses_volume = True

    def process(self, num, order: Order, quote: Quote, volume_for_bar: int):
        max_volume = num.to_int(num.trunc(self.volume_limit * num.from_int(quote.volume)))
        shares = min(abs(order.open_amount), max_volume - volume_for_bar)
        if shares <= 0:
            return LIQUIDITY_EXCEEDED
        percentage = num.div_q(self.basis_points, num.from_int(10_000))
        price = quote.close + quote.close * (percentage * num.from_int(order.direction))
        return Fill(price, shares * order.direction)


@dataclass(frozen=True)
class VolumeShareSlippage:
    """zipline's ``VolumeShareSlippage``: at most ``volume_limit × volume`` shares per bar;
    price ``close + share² × price_impact × direction × close``, rounded to 12 places
    (:func:`quantize`), where ``share`` is the asset's filled volume this bar (this fill
    included) over the bar's volume, capped at ``volume_limit``. A fill priced through
    the order's limit is skipped."""

    volume_limit: object
    price_impact: object
    uses_volume = True

    def process(self, num, order: Order, quote: Quote, volume_for_bar: int):
        volume = num.from_int(quote.volume)
        remaining = self.volume_limit * volume - num.from_int(volume_for_bar)
        if remaining < num.one:
            return LIQUIDITY_EXCEEDED
        cur = num.to_int(num.trunc(min(remaining, num.from_int(abs(order.open_amount)))))
        if cur < 1:
            return SKIP
        total = num.from_int(volume_for_bar + cur)
        share = min(num.div_q(total, volume), self.volume_limit)
        impact = share * share * self.price_impact * num.from_int(order.direction) * quote.close
        price = num.quantize(quote.close + impact)
        if order.fill_worse_than_limit(price):
            return SKIP
        return Fill(price, cur * order.direction)


def default_slippage(num):
    """zipline's equity default: ``FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1)``."""
    return FixedBasisPointsSlippage(num.from_int(5), num.from_mantissa(1, 1))


# ---------------------------------------------------------------------------------------
# Commission models
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoCommission:
    def calculate(self, num, order: Order, price, amount: int):
        return num.zero


@dataclass(frozen=True)
class PerShareCommission:
    """zipline's ``PerShare``: ``cost`` per share, at least ``min_trade_cost`` per order.
    The minimum is charged on the first fill; later fills pay only what the per-share total
    adds beyond what the order has already paid."""

    cost: object
    min_trade_cost: object

    def calculate(self, num, order: Order, price, amount: int):
        additional = abs(num.from_int(amount) * self.cost)
        if order.commission == num.zero:
            return max(self.min_trade_cost, additional)
        per_share_total = abs(num.from_int(order.filled) * self.cost) + additional
        if per_share_total < self.min_trade_cost:
            return num.zero
        return per_share_total - order.commission


@dataclass(frozen=True)
class PerTradeCommission:
    """zipline's ``PerTrade``: a flat ``cost``, charged on the order's first fill."""

    cost: object

    def calculate(self, num, order: Order, price, amount: int):
        return self.cost if order.commission == num.zero else num.zero


@dataclass(frozen=True)
class PerDollarCommission:
    """zipline's ``PerDollar``: ``cost`` × traded value."""

    cost: object

    def calculate(self, num, order: Order, price, amount: int):
        return abs(num.from_int(amount)) * (price * self.cost)


def default_commission(num):
    """zipline's equity default: ``PerShare(cost=0.001, min_trade_cost=0)``."""
    return PerShareCommission(num.from_mantissa(1, 3), num.zero)


# ---------------------------------------------------------------------------------------
# Positions
# ---------------------------------------------------------------------------------------


@dataclass
class Position:
    """A position, updated as zipline's ``Position.update`` (average cost basis, commissions
    included). It also keeps its open lots, first in first out, at their fill prices:
    realised and unrealised P&L come from the lots, so they add up exactly."""

    amount: int = 0
    cost_basis: object = 0
    last_sale_price: object = 0
    last_sale_bar: int | None = None
    #: closed lots at their fill prices, less commissions, plus dividends and split cash
    realized_pnl: object = 0
    #: open lots, oldest first: [signed shares, fill price]
    lots: list = field(default_factory=list)

    def apply_fill(self, num, amount: int, price, bar: int) -> None:
        """Apply a fill of ``amount`` shares at ``price``.

        Adding to a position averages the cost basis; reducing it keeps the basis and
        realises P&L; closing it resets the basis to zero; reversing it starts the new
        side at the fill price.
        """
        total = self.amount + amount
        closing = self.amount != 0 and (self.amount > 0) != (amount > 0)
        self._apply_to_lots(num, amount, price)
        if total == 0:
            self.cost_basis = num.zero
        elif closing:
            if abs(amount) > abs(self.amount):
                self.cost_basis = price  # closed and reversed
        else:
            total_cost = num.from_int(amount) * price + num.from_int(self.amount) * self.cost_basis
            self.cost_basis = num.div_q(total_cost, num.from_int(total))
        if self.last_sale_bar is None or bar >= self.last_sale_bar:
            self.last_sale_price = price
            self.last_sale_bar = bar
        self.amount = total

    def _apply_to_lots(self, num, amount: int, price) -> None:
        """FIFO: a fill against the oldest lots closes them, realising P&L at their own
        prices; whatever is left opens a new lot."""
        remaining = amount
        while remaining != 0:
            if self.lots and (self.lots[0][0] > 0) != (remaining > 0):
                lot = self.lots[0]
                sign = 1 if lot[0] > 0 else -1
                closed = min(abs(remaining), abs(lot[0]))
                self.realized_pnl += (price - lot[1]) * num.from_int(closed * sign)
                lot[0] -= closed * sign
                remaining += closed * sign
                if lot[0] == 0:
                    self.lots.pop(0)
            else:
                self.lots.append([remaining, price])
                remaining = 0

    def unrealized_pnl(self, num):
        """Open lots valued at the last sale price against their fill prices."""
        total = num.zero
        for shares, price in self.lots:
            total += num.from_int(shares) * (self.last_sale_price - price)
        return total

    def adjust_commission_cost_basis(self, num, commission) -> None:
        """zipline's ``adjust_commission_cost_basis``: fold the commission into the basis."""
        if commission == num.zero or self.amount == 0:
            return
        prev = self.cost_basis * num.from_int(self.amount)
        self.cost_basis = num.div_q(prev + commission, num.from_int(self.amount))

    def apply_split(self, num, split):
        """zipline's ``Position.handle_split`` for ``split`` new shares per old share:
        whole shares are kept (floor), the cost basis is divided by the split and rounded
        to cents, and the fractional share is paid out in cash at the new basis, rounded
        to cents. Returns that cash. (Unlike zipline the last sale price is divided too,
        so the position's value does not jump before the next mark.)"""
        if self.amount == 0:
            return num.zero
        raw = num.from_int(self.amount) * split
        full = num.floor(raw)
        fraction = raw - full
        new_basis = num.round_dp(num.div_q(self.cost_basis, split), 2)
        self.cost_basis = new_basis
        self.amount = num.to_int(full)
        self.last_sale_price = num.div_q(self.last_sale_price, split)
        # the lots become one lot at the new basis
        self.lots = [[self.amount, new_basis]] if self.amount != 0 else []
        cash = num.round_dp(fraction * new_basis, 2)
        self.realized_pnl += cash
        return cash

    def market_value(self, num):
        return num.from_int(self.amount) * self.last_sale_price


# ---------------------------------------------------------------------------------------
# The ledger
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    order_id: int | None  # None: the close-out of an asset whose data ended
    sid: int
    amount: int
    price: object
    commission: object
    bar: int


@dataclass
class Exposure:
    long_value: object
    short_value: object
    long_count: int = 0
    short_count: int = 0

    @property
    def gross(self):
        return self.long_value - self.short_value

    @property
    def net(self):
        return self.long_value + self.short_value


class CancelPolicy(Enum):
    NEVER = "never"  # zipline's default: orders stay open until filled or cancelled
    END_OF_DAY = "eod"  # cancel whatever is still open at each session's end


@dataclass
class Ledger:
    """Cash, positions, the order book and its fills: one account."""

    num: type
    n_assets: int
    starting_cash: object
    cash: object = None
    positions: list[Position] = field(default_factory=list)
    #: sids with a non-zero position, in the order they were (last) opened
    held: list[int] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    #: open order ids per asset, in placement order (the order zipline fills them in)
    open_by_asset: list[list[int]] = field(default_factory=list)
    #: sids with open orders, in the order their first (current) open order was placed
    assets_with_orders: list[int] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    slippage: object = None
    commission: object = None
    cancel_policy: CancelPolicy = CancelPolicy.NEVER

    def __post_init__(self):
        num = self.num
        self.cash = self.starting_cash
        self.positions = [
            Position(cost_basis=num.zero, last_sale_price=num.zero, realized_pnl=num.zero)
            for _ in range(self.n_assets)
        ]
        self.open_by_asset = [[] for _ in range(self.n_assets)]
        self.slippage = default_slippage(num)
        self.commission = default_commission(num)

    # -- reading ------------------------------------------------------------------------
    def order(self, order_id: int) -> Order:
        if not 0 <= order_id < len(self.orders):
            raise UnknownOrder(f"unknown order id {order_id}")
        return self.orders[order_id]

    def open_orders(self, sid: int) -> list[Order]:
        return [self.orders[i] for i in self.open_by_asset[sid]]

    @exact
    def positions_value(self):
        total = self.num.zero
        for sid in self.held:
            total += self.positions[sid].market_value(self.num)
        return total

    @exact
    def portfolio_value(self):
        return self.cash + self.positions_value()

    @exact
    def pnl(self):
        """(realised, unrealised) P&L over all assets: they sum to portfolio value minus
        starting cash exactly, splits aside."""
        realized = unrealized = self.num.zero
        for p in self.positions:
            realized += p.realized_pnl
            unrealized += p.unrealized_pnl(self.num)
        return realized, unrealized

    @exact
    def exposure(self) -> Exposure:
        e = Exposure(self.num.zero, self.num.zero)
        for sid in self.held:
            p = self.positions[sid]
            value = p.market_value(self.num)
            if p.amount > 0:
                e.long_value += value
                e.long_count += 1
            else:
                e.short_value += value
                e.short_count += 1
        return e

    def check_sid(self, sid: int) -> None:
        if not 0 <= sid < self.n_assets:
            raise UnknownAsset(f"asset sid {sid} is outside this ledger's {self.n_assets} assets")

    # -- orders ---------------------------------------------------------------------------
    def place_order(self, sid: int, amount: int, limit, stop, bar: int) -> int | None:
        """Place an order for a signed, already rounded share amount. Returns its id, or
        ``None`` for zero shares (zipline places no order then)."""
        self.check_sid(sid)
        for kind, price in (("limit", limit), ("stop", stop)):
            if price is not None and not price > self.num.zero:
                raise BadPrice(f"{kind} price must be a positive finite number, got {price}")
        if amount == 0:
            return None
        order_id = len(self.orders)
        self.orders.append(
            Order(order_id, sid, amount, limit, stop, bar, bar, commission=self.num.zero)
        )
        queue = self.open_by_asset[sid]
        if not queue:
            self.assets_with_orders.append(sid)
        queue.append(order_id)
        return order_id

    @exact
    def target_value_amount(self, sid: int, target_value, price) -> int:
        """zipline's ``order_target_value`` arithmetic: ``value / price − held``, rounded."""
        if price == self.num.zero:
            return 0
        raw = self.num.div_q(target_value, price) - self.num.from_int(self.positions[sid].amount)
        return round_order_amount(self.num, raw)

    @exact
    def target_percent_amount(self, sid: int, percent, price) -> int:
        return self.target_value_amount(sid, self.portfolio_value() * percent, price)

    def cancel_order(self, order_id: int, bar: int) -> None:
        """Cancel an open order; cancelling a closed one does nothing."""
        order = self.order(order_id)
        if not order.is_open:
            return
        order.status = OrderStatus.CANCELLED
        order.updated_bar = bar
        self._remove_from_queue(order.sid, order_id)

    def _remove_from_queue(self, sid: int, order_id: int) -> None:
        queue = self.open_by_asset[sid]
        queue.remove(order_id)
        if not queue:
            self.assets_with_orders.remove(sid)

    def cancel_all_open(self, bar: int) -> None:
        """The end-of-day cancel policy: cancel everything still open."""
        for sid in self.assets_with_orders:
            for order_id in self.open_by_asset[sid]:
                self.orders[order_id].status = OrderStatus.CANCELLED
                self.orders[order_id].updated_bar = bar
            self.open_by_asset[sid] = []
        self.assets_with_orders = []

    # -- fills ------------------------------------------------------------------------------
    @exact
    def fill_open_orders(self, bar: int, quote) -> list[Transaction]:
        """Fill open orders against bar ``bar``; ``quote(sid)`` is the bar's :class:`Quote`,
        or ``None`` where the asset has no bar. Returns the new transactions.

        zipline's blotter: assets without a bar are skipped (triggers are not even
        checked); volume-capped models skip a bar with zero volume; the slippage model's
        ``LiquidityExceeded`` ends the asset's loop for this bar.
        """
        num = self.num
        new: list[Transaction] = []
        for sid in list(self.assets_with_orders):
            q = quote(sid)
            if q is None:
                continue
            if self.slippage.uses_volume and q.volume == 0:
                continue
            volume_for_bar = 0
            for order_id in list(self.open_by_asset[sid]):
                order = self.orders[order_id]
                if order.open_amount == 0:
                    continue
                order.check_triggers(q.close, bar)
                if not order.triggered:
                    continue
                outcome = self.slippage.process(num, order, q, volume_for_bar)
                if outcome is SKIP:
                    continue
                if outcome is LIQUIDITY_EXCEEDED:
                    break
                price, amount = outcome.price, outcome.amount
                volume_for_bar += abs(amount)
                # every commission is rounded to 12 places (quantize)
                commission = num.quantize(self.commission.calculate(num, order, price, amount))
                order.filled += amount
                order.commission += commission
                order.updated_bar = bar
                done = order.open_amount == 0
                if done:
                    order.status = OrderStatus.FILLED
                txn = Transaction(order_id, sid, amount, price, commission, bar)
                self.transactions.append(txn)
                new.append(txn)
                self._apply_transaction(sid, amount, price, commission, bar)
                if done:
                    self._remove_from_queue(sid, order_id)
        return new

    def _apply_transaction(self, sid: int, amount: int, price, commission, bar: int) -> None:
        num = self.num
        pos = self.positions[sid]
        was_held = pos.amount != 0
        pos.apply_fill(num, amount, price, bar)
        pos.adjust_commission_cost_basis(num, commission)
        pos.realized_pnl -= commission
        self.cash -= num.from_int(amount) * price
        self.cash -= commission
        is_held = pos.amount != 0
        if is_held and not was_held:
            self.held.append(sid)
        elif was_held and not is_held:
            self.held.remove(sid)

    def mark_to_market(self, bar: int, price) -> None:
        """Mark held positions to the bar's closes (``price(sid)`` is ``None``: no bar, keep
        the last mark)."""
        for sid in self.held:
            p = price(sid)
            if p is not None:
                self.positions[sid].last_sale_price = p
                self.positions[sid].last_sale_bar = bar

    # -- corporate actions and delistings ---------------------------------------------------
    @exact
    def close_out(self, sid: int, price, bar: int) -> None:
        """zipline's auto-close of an asset whose data ended: cancel its open orders, then
        close the position at ``price`` without costs (a transaction with no order id)."""
        for order_id in list(self.open_by_asset[sid]):
            self.cancel_order(order_id, bar)
        amount = self.positions[sid].amount
        if amount == 0:
            return
        self.transactions.append(Transaction(None, sid, -amount, price, self.num.zero, bar))
        self._apply_transaction(sid, -amount, price, self.num.zero, bar)

    @exact
    def apply_split(self, sid: int, split):
        """A split of ``split`` new shares per old one: the position as
        :meth:`Position.apply_split` (its fractional share paid in cash); open orders scale
        their amounts and filled amounts (truncated) and divide their limit and stop prices
        (rounded to cents). Returns the cash paid out."""
        num = self.num
        cash = self.positions[sid].apply_split(num, split)
        self.cash += cash
        for order_id in self.open_by_asset[sid]:
            o = self.orders[order_id]
            o.amount = num.to_int(num.trunc(num.from_int(o.amount) * split))
            o.filled = num.to_int(num.trunc(num.from_int(o.filled) * split))
            o.limit = None if o.limit is None else num.round_dp(num.div_q(o.limit, split), 2)
            o.stop = None if o.stop is None else num.round_dp(num.div_q(o.stop, split), 2)
        if self.positions[sid].amount == 0 and sid in self.held:
            self.held.remove(sid)
        return cash

    @exact
    def apply_dividend(self, sid: int, per_share):
        """A cash dividend of ``per_share`` on the position (a short pays it). Returns the
        cash moved."""
        pos = self.positions[sid]
        cash = self.num.from_int(pos.amount) * per_share
        pos.realized_pnl += cash
        self.cash += cash
        return cash
