"""The reference ledger: numbers, orders, zipline's trigger rules, slippage and commission
models, positions and cash, written for reading rather than speed.

This module is the specification the Rust ledger (``crates/ledger``) is checked against,
to the last decimal digit. The rules, each from zipline-reloaded unless said otherwise:

* Numbers. In decimal mode every quantity is a :class:`decimal.Decimal`. Sums, differences
  and products are exact: they run in :data:`EXACT`, a context so wide that no result is
  ever rounded, with :class:`decimal.Inexact` trapped so that a rounded result would raise
  instead of passing silently. Rounding happens in documented places only, half to even,
  computed on exact fractions: :func:`div_q` (every quotient) and :func:`quantize` (every
  fill price and commission) to :data:`DIV_SCALE` places; split-adjusted prices to cents.
* Inputs. Bundle prices enter as exact fixed-point values. A float parameter (an amount,
  a price, a cost) enters through its shortest round-trip digits, ``Decimal(repr(x))``,
  and is refused when those digits do not fit a decimal with at most 28 places (NaN,
  infinities, ``1e-30``, ``1e29``).
* Share counts. zipline's ``round_if_near_integer`` then ``int``: an amount within 0.0001
  of an integer is that integer, anything else is truncated toward zero. Counts are
  64-bit: beyond, they saturate (and :data:`MAX_SHARES` refuses them).
* Fills. Per asset with open orders (in the order its first open order was placed), per
  open order (in placement order): check the triggers against the bar's price, ask the
  slippage model for a price and an amount, charge commission, update position and cash.

Float mode runs the same code on Python floats (the Rust ``f64`` twin, bit for bit); only
decimal mode is the oracle.
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

from rustybt.errors import BadOrderParameters

#: Decimal places every quotient, fill price and commission is rounded to (half to even).
DIV_SCALE = 12
#: Largest order or position, in shares, and largest capital base, order value or
#: position value (at the current price): beyond, the Rust ledger could not stay exact.
MAX_SHARES = 10**15
MAX_NOTIONAL = 10**15
#: A float parameter must fit a decimal of at most 28 places and a 96-bit mantissa.
MAX_PLACES = 28
DECIMAL_MAX = Decimal(2**96 - 1)
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

#: Where decimal arithmetic runs: 200 significant digits hold every sum and product the
#: ledger makes; were one ever longer, the traps would raise rather than round it.
EXACT = Context(
    prec=200,
    rounding=ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[Inexact, Rounded, InvalidOperation, DivisionByZero, Overflow, Underflow, Clamped],
)


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
    """The exact rational ``x`` rounded half to even to ``dp`` places (``round`` of a
    Fraction rounds half to even; nothing is approximated before it)."""
    return Decimal(round(x * 10**dp)).scaleb(-dp, EXACT)


def div_q(a: Decimal, b: Decimal) -> Decimal:
    """``a / b`` rounded half to even to :data:`DIV_SCALE` places, from the exact quotient."""
    if b == 0:
        raise ZeroDivisionError("div_q by zero")
    return _round_half_even(Fraction(a) / Fraction(b), DIV_SCALE)


def quantize(x: Decimal) -> Decimal:
    """``x`` rounded half to even to :data:`DIV_SCALE` places."""
    return _round_half_even(Fraction(x), DIV_SCALE)


def saturate(n: int) -> int:
    """A share count as a 64-bit integer (Rust's saturating conversion)."""
    return max(I64_MIN, min(I64_MAX, n))


def decimal_from_f64(v: float) -> Decimal | None:
    """A float's shortest round-trip digits (``repr``), normalized (``2.0`` is 2); ``None``
    unless they fit 28 places and a 96-bit mantissa (NaN, infinities, ``1e-30``, ``8e28``)."""
    if not math.isfinite(v):
        return None
    d = Decimal(repr(float(v)))
    if d == 0:
        return Decimal(0)  # no negative zero
    d = d.normalize(EXACT)
    return None if d.as_tuple().exponent < -MAX_PLACES or abs(d) > DECIMAL_MAX else d


def f64_to_i64(x: float) -> int:
    """Rust's ``x as i64``: truncating, saturating, NaN is 0."""
    if math.isnan(x):
        return 0
    return saturate(int(x)) if math.isfinite(x) else (I64_MAX if x > 0 else I64_MIN)


def f64_to_str(x: float) -> str:
    """Rust's ``Display`` for f64: the shortest digits that round-trip, never an exponent.
    Where two are equally near the double (a tie), Rust takes the one away from zero;
    ``repr`` takes the even one (``108695552336.953125`` prints ``...95313`` in Rust)."""
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    d = Decimal(repr(x)).normalize(EXACT)
    away = EXACT.add(d, Decimal(1).scaleb(d.as_tuple().exponent, EXACT).copy_sign(d))
    if x != 0 and Fraction(d) + Fraction(away) == 2 * Fraction(x) and float(away) == x:
        d = away.normalize(EXACT)
    return format(d, "f")


class DecimalNum:
    """Exact decimal arithmetic (``impl Money for Decimal``)."""

    name, zero, one = "decimal", Decimal(0), Decimal(1)
    from_int = staticmethod(Decimal)
    from_mantissa = staticmethod(lambda m, scale: Decimal(m).scaleb(-scale, EXACT))
    from_f64 = staticmethod(decimal_from_f64)
    from_decimal_str = staticmethod(lambda text: Decimal(text.strip()))
    div_q = staticmethod(div_q)
    quantize = staticmethod(quantize)
    #: a fill price of an asset traded in lots of 10^-scale: at most DIV_SCALE - scale
    #: places, so that price × lots never has more than DIV_SCALE
    quantize_fill = staticmethod(
        lambda x, scale: quantize(x) if scale == 0 else _round_half_even(Fraction(x), 12 - scale)
    )
    round_dp = staticmethod(lambda x, dp: _round_half_even(Fraction(x), dp))
    round_int = staticmethod(lambda x: x.to_integral_value(rounding=ROUND_HALF_EVEN))
    trunc = staticmethod(lambda x: x.to_integral_value(rounding=ROUND_DOWN))
    floor = staticmethod(lambda x: x.to_integral_value(rounding=ROUND_FLOOR))
    to_int = staticmethod(lambda x: saturate(int(x)))
    to_f64 = staticmethod(float)  # the correctly rounded nearest double
    to_str = staticmethod(lambda x: format(x, "f"))  # never an exponent: 1E+2 is "100"


class FloatNum:
    """The ``f64`` twin (``impl Money for f64``): the same formulas on binary floats."""

    name, zero, one = "float", 0.0, 1.0
    from_int = from_decimal_str = staticmethod(float)
    from_mantissa = staticmethod(lambda m, scale: m / 10.0**scale)
    from_f64 = staticmethod(lambda v: float(v) if math.isfinite(v) else None)
    div_q = staticmethod(lambda a, b: a / b)
    quantize = staticmethod(lambda x: x)
    quantize_fill = staticmethod(lambda x, scale: x)
    round_dp = staticmethod(lambda x, dp: round(x * 10.0**dp) / 10.0**dp)  # ties to even
    round_int = staticmethod(lambda x: float(round(x)) if math.isfinite(x) else x)
    trunc = staticmethod(lambda x: float(math.trunc(x)) if math.isfinite(x) else x)
    floor = staticmethod(lambda x: float(math.floor(x)))
    to_int = staticmethod(f64_to_i64)
    to_f64 = staticmethod(lambda x: x)
    to_str = staticmethod(f64_to_str)


NUMS = {"decimal": DecimalNum, "float": FloatNum}


def times_lots(num, price, lots: int, scale: int):
    """``price`` times ``lots`` lots of ``10^-scale`` (shares where ``scale`` is 0): the
    plain product for shares; for finer lots the quantity ``lots × 10^-scale`` times the
    price, quantized to 12 places (an exact no-op where the price has at most 12 - scale)."""
    if scale == 0:
        return num.from_int(lots) * price
    return num.quantize(num.from_mantissa(lots, scale) * price)


def shown_amount(lots: int, scale: int):
    """A quantity as strategies see it: an int of shares, or the float quantity."""
    return lots if scale == 0 else lots / 10**scale


def quantity_text(lots: int, scale: int) -> str:
    """A quantity for a message: ``"150 shares"``, or the decimal quantity (``"0.5"``)."""
    if scale == 0:
        return f"{lots} shares"
    return format(Decimal(lots).scaleb(-scale).normalize(), "f")


def round_order_amount(num, raw) -> int:
    """zipline's share rounding: within 0.0001 of an integer means that integer, otherwise
    truncate toward zero."""
    nearest = num.round_int(raw)
    if abs(raw - nearest) <= num.from_mantissa(1, 4):
        return num.to_int(nearest)
    return num.to_int(num.trunc(raw))


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
    """An order for ``amount`` shares (signed: positive buys, negative sells), or lots of
    ``10^-scale`` for an asset traded in finer lots."""

    id: int
    sid: int
    amount: int
    limit: object
    stop: object
    created_bar: int
    updated_bar: int
    commission: object
    filled: int = 0
    stop_reached: bool = False
    limit_reached: bool = False
    status: OrderStatus = OrderStatus.OPEN
    reason: str | None = None
    scale: int = 0

    @property
    def open_amount(self) -> int:
        return self.amount - self.filled

    @property
    def direction(self) -> int:
        return 1 if self.amount >= 0 else -1

    @property
    def triggered(self) -> bool:
        """Every condition the order carries has been reached."""
        return (self.limit_reached or self.limit is None) and (
            self.stop_reached or self.stop is None
        )

    def check_triggers(self, price, bar: int) -> None:
        """zipline's ``check_order_triggers`` against the bar's price:

        * limit: a buy triggers at or below the limit, a sell at or above it;
        * stop: a buy triggers at or above the stop, a sell at or below it;
        * stop-limit: once the stop is reached the order *becomes a limit order* (its stop
          is dropped); the limit may trigger on the same bar.

        A triggered order stays triggered.
        """
        if self.triggered:
            return
        buy = self.amount > 0

        def stop_hit(stop):
            return price >= stop if buy else price <= stop

        def limit_hit(limit):
            return price <= limit if buy else price >= limit

        stop_reached = limit_reached = False
        if self.stop is not None and self.limit is not None:
            if stop_hit(self.stop):
                self.stop = None  # a limit order from now on
                limit_reached = limit_hit(self.limit)
        elif self.stop is not None:
            stop_reached = stop_hit(self.stop)
        elif self.limit is not None:
            limit_reached = limit_hit(self.limit)
        if (stop_reached, limit_reached) != (self.stop_reached, self.limit_reached):
            self.updated_bar = bar
        self.stop_reached, self.limit_reached = stop_reached, limit_reached

    def worse_than_limit(self, price) -> bool:
        """zipline's ``fill_price_worse_than_limit_price``."""
        if self.limit is None:
            return False
        return price > self.limit if self.amount > 0 else price < self.limit


# ---------------------------------------------------------------------------------------
# Slippage models: process(num, order, price, volume, volume_for_bar) is a Fill, SKIP (this
# order waits, later ones may fill) or LIQUIDITY_EXCEEDED (nothing more fills on this bar
# for the asset). ``volume_for_bar`` is what the asset already filled on this bar.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """Fill ``amount`` (signed) shares at ``price``."""

    price: object
    amount: int


SKIP, LIQUIDITY_EXCEEDED = "skip", "liquidity_exceeded"


def order_id_text(order_id: int) -> str:
    """An order id as strategies see it: 32 hex digits (zipline's ids are uuid4 hex)."""
    return f"{order_id:032x}"


class CostHook:
    """A strategy's own cost models, called with the engine's order fields (``(id, sid,
    amount, filled, commission, limit, stop, created bar)``) as the Rust hook calls
    them: ``slippage(fields, volume_for_bar)`` and ``commission(fields, price, amount)``.
    ``move(bar)`` shows the strategy's ``data`` the bar being filled."""

    def __init__(self, slippage, commission, move):
        self.slippage, self.commission, self.move = slippage, commission, move

    @staticmethod
    def _fields(num, order) -> tuple:
        f = num.to_f64
        return (
            order_id_text(order.id),
            order.sid,
            shown_amount(order.amount, order.scale),
            shown_amount(order.filled, order.scale),
            f(order.commission),
            None if order.limit is None else f(order.limit),
            None if order.stop is None else f(order.stop),
            order.created_bar,
        )

    def fill(self, num, order, bar: int, volume_for_bar: int):
        from rustybt.errors import InvalidRunParameters

        where = "a slippage model's process_order"
        self.move(bar)
        volume = shown_amount(volume_for_bar, order.scale)
        out = self.slippage(self._fields(num, order), volume)
        if out is None:
            return SKIP
        if isinstance(out, str) and out == "liquidity":
            return LIQUIDITY_EXCEEDED
        try:
            price, amount = out
            if price is None:  # zipline: no price, no transaction
                return SKIP
            amount, price = float(amount), float(price)
        except (TypeError, ValueError):
            raise InvalidRunParameters(
                f"{where}: must return (price, amount) or None, got {out}"
            ) from None
        lots = amount * 10**order.scale  # whole shares, or lots of 10^-scale
        shares = math.trunc(lots) if math.isfinite(lots) else lots
        if not math.isfinite(lots) or abs(shares) < 1 or abs(shares) > 9.0e15:
            unit = "share" if order.scale == 0 else "lot"
            raise InvalidRunParameters(
                f"{where}: a fill must be at least 1 {unit} (and finite), got amount "
                f"{f64_to_str(amount)}"
            )
        p = num.from_f64(price)
        if p is None or not p > num.zero:
            raise InvalidRunParameters(
                f"{where}: the price must be a positive number, got {f64_to_str(price)}"
            )
        if order.scale:
            p = num.quantize_fill(p, order.scale)
        return Fill(p, int(shares))

    def charge(self, num, order, price, amount: int):
        from rustybt.errors import InvalidRunParameters

        where = "a commission model's calculate"
        shown = shown_amount(amount, order.scale)
        out = self.commission(self._fields(num, order), num.to_f64(price), shown)
        try:
            value = float(out)
        except (TypeError, ValueError):
            raise InvalidRunParameters(f"{where}: must return a number, got {out}") from None
        c = num.from_f64(value)
        if c is None:
            raise InvalidRunParameters(
                f"{where}: the commission must be a finite number, got {f64_to_str(value)}"
            )
        return c


@dataclass(frozen=True)
class NoSlippage:
    """The whole open amount at the bar's price."""

    def process(self, num, order, price, volume, volume_for_bar):
        return Fill(price, order.open_amount)


@dataclass(frozen=True)
class FixedSlippage:
    """zipline's ``FixedSlippage``: the whole open amount at price ± spread / 2."""

    spread: object

    def process(self, num, order, price, volume, volume_for_bar):
        half = num.div_q(self.spread, num.from_int(2))
        fill_price = num.quantize_fill(price + half * num.from_int(order.direction), order.scale)
        return Fill(fill_price, order.open_amount)


@dataclass(frozen=True)
class FixedBasisPointsSlippage:
    """zipline's default, ``FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1)``:
    price × (1 ± basis_points / 10 000); at most ``int(volume_limit × volume)`` shares of
    the asset per bar, the rest waits."""

    basis_points: object
    volume_limit: object

    def process(self, num, order, price, volume, volume_for_bar):
        max_volume = num.to_int(num.trunc(self.volume_limit * num.from_int(volume)))
        shares = min(abs(order.open_amount), max_volume - volume_for_bar)
        if shares <= 0:
            return LIQUIDITY_EXCEEDED
        pct = num.div_q(self.basis_points, num.from_int(10_000))
        fill_price = num.quantize_fill(
            price + price * (pct * num.from_int(order.direction)), order.scale
        )
        return Fill(fill_price, shares * order.direction)


@dataclass(frozen=True)
class VolumeShareSlippage:
    """zipline's ``VolumeShareSlippage``: at most ``volume_limit × volume`` shares per bar,
    at price + share² × price_impact × direction × price, where ``share`` is the asset's
    volume filled this bar (this fill included) over the bar's volume, capped at
    ``volume_limit``. A fill priced through the order's limit is skipped."""

    volume_limit: object
    price_impact: object

    def process(self, num, order, price, volume, volume_for_bar):
        vol = num.from_int(volume)
        remaining = self.volume_limit * vol - num.from_int(volume_for_bar)
        if remaining < num.one:
            return LIQUIDITY_EXCEEDED
        cur = num.to_int(num.trunc(min(remaining, num.from_int(abs(order.open_amount)))))
        if cur < 1:
            return SKIP
        share = min(num.div_q(num.from_int(volume_for_bar + cur), vol), self.volume_limit)
        impact = share * share * self.price_impact * num.from_int(order.direction) * price
        fill_price = num.quantize_fill(price + impact, order.scale)
        if order.worse_than_limit(fill_price):
            return SKIP
        return Fill(fill_price, cur * order.direction)


# ---------------------------------------------------------------------------------------
# Commission models: calculate(num, order, price, amount) for a fill of ``amount`` shares
# at ``price``; ``order.filled`` and ``order.commission`` do not include this fill yet.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoCommission:
    def calculate(self, num, order, price, amount):
        return num.zero


@dataclass(frozen=True)
class PerShareCommission:
    """zipline's ``PerShare``: ``cost`` per share, at least ``min_trade_cost`` per order.
    The minimum is charged on the first fill; later fills pay what the per-share total
    adds beyond what the order has already paid."""

    cost: object
    min_trade_cost: object

    def calculate(self, num, order, price, amount):
        additional = abs(times_lots(num, self.cost, amount, order.scale))
        if order.commission == num.zero:
            return max(self.min_trade_cost, additional)
        total = abs(times_lots(num, self.cost, order.filled, order.scale)) + additional
        return num.zero if total < self.min_trade_cost else total - order.commission


@dataclass(frozen=True)
class PerTradeCommission:
    """zipline's ``PerTrade``: a flat ``cost``, charged on the order's first fill."""

    cost: object

    def calculate(self, num, order, price, amount):
        return self.cost if order.commission == num.zero else num.zero


@dataclass(frozen=True)
class PerDollarCommission:
    """zipline's ``PerDollar``: ``cost`` × traded value."""

    cost: object

    def calculate(self, num, order, price, amount):
        return abs(num.from_mantissa(amount, order.scale)) * (price * self.cost)


# ---------------------------------------------------------------------------------------
# Positions
# ---------------------------------------------------------------------------------------


@dataclass
class Position:
    """zipline's ``Position``: average cost basis (commissions included), last sale price."""

    amount: int
    cost_basis: object
    last_sale_price: object
    #: amounts count lots of 10^-scale (whole shares at 0)
    scale: int = 0

    def apply_fill(self, num, amount: int, price) -> None:
        """Adding to a position averages the cost basis; reducing it keeps the basis;
        closing it resets the basis to zero; reversing it starts at the fill price."""
        total = self.amount + amount
        if total == 0:
            self.cost_basis = num.zero
        elif self.amount != 0 and (self.amount > 0) != (amount > 0):  # reducing
            if abs(amount) > abs(self.amount):
                self.cost_basis = price  # closed and reversed
        else:
            cost = times_lots(num, price, amount, self.scale) + times_lots(
                num, self.cost_basis, self.amount, self.scale
            )
            self.cost_basis = num.div_q(cost, num.from_mantissa(total, self.scale))
        self.last_sale_price = price
        self.amount = total

    def add_commission(self, num, commission) -> None:
        """zipline's ``adjust_commission_cost_basis``: fold the commission into the basis."""
        if commission != num.zero and self.amount != 0:
            cost = times_lots(num, self.cost_basis, self.amount, self.scale) + commission
            self.cost_basis = num.div_q(cost, num.from_mantissa(self.amount, self.scale))

    def apply_split(self, num, split):
        """zipline's ``handle_split`` for ``split`` new shares per old one, in its floats:
        the ratio is 1 / split; whole shares truncate toward zero; the basis × ratio and the
        fraction's cash are rounded to cents by Python's ``round`` (half to even on the
        binary value), and enter the ledger as every float input does (``num.from_f64``).
        Unlike zipline the last sale price is divided too, so the position's value does not
        jump before the next mark."""
        if self.amount == 0:
            return num.zero
        ratio = 1.0 / num.to_f64(split)
        raw = self.amount / ratio
        whole = math.trunc(raw)
        basis = round(num.to_f64(self.cost_basis) * ratio, 2)
        new_basis = num.from_f64(basis)
        self.cost_basis = self.cost_basis if new_basis is None else new_basis
        self.amount = saturate(whole)
        self.last_sale_price = num.div_q(self.last_sale_price, split)
        # lots: whole lots are kept and the fraction of a lot is paid out
        cash = num.from_f64(round((raw - whole) / 10**self.scale * basis, 2))
        return num.zero if cash is None else cash

    def market_value(self, num):
        return times_lots(num, self.last_sale_price, self.amount, self.scale)


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


@dataclass
class Ledger:
    """Cash, positions, the order book and its fills: one account."""

    num: type
    n_assets: int
    cash: object
    slippage: object = None
    commission: object = None
    cancel_at_eod: bool = False  # the "eod" cancel policy; zipline's default is "never"
    positions: list[Position] = field(default_factory=list)
    #: sids with a non-zero position, in the order they were (last) opened
    held: list[int] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    #: open order ids per asset, in placement order (the order zipline fills them in)
    open_by_asset: list[list[int]] = field(default_factory=list)
    #: sids with open orders, in the order their first (current) open order was placed
    assets_with_orders: list[int] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    #: orders the ledger rejected on its own (a split, a fill beyond the bounds) since the
    #: driver last took them: it reports them in the session's orders
    rejections: list[int] = field(default_factory=list)

    #: per sid, amounts count lots of 10^-scale (whole shares at 0)
    lot_scales: list[int] | None = None

    def __post_init__(self):
        num = self.num
        self.starting_cash = self.cash
        scales = self.lot_scales or [0] * self.n_assets
        self.positions = [Position(0, num.zero, num.zero, k) for k in scales]
        self.open_by_asset = [[] for _ in range(self.n_assets)]
        # zipline's equity defaults: FixedBasisPointsSlippage(5, 0.1), PerShare(0.001, 0)
        self.slippage = FixedBasisPointsSlippage(num.from_int(5), num.from_mantissa(1, 1))
        self.commission = PerShareCommission(num.from_mantissa(1, 3), num.zero)
        self.cost_hook: CostHook | None = None

    # -- reading ------------------------------------------------------------------------
    def order(self, order_id: int) -> Order:
        if not 0 <= order_id < len(self.orders):
            raise BadOrderParameters(f"unknown order id {order_id_text(order_id)}")
        return self.orders[order_id]

    def positions_value(self):
        total = self.num.zero
        for sid in self.held:
            total += self.positions[sid].market_value(self.num)
        return total

    def portfolio_value(self):
        return self.cash + self.positions_value()

    def exposure(self) -> Exposure:
        e = Exposure(self.num.zero, self.num.zero)
        for sid in self.held:
            p = self.positions[sid]
            if p.amount > 0:
                e.long_value += p.market_value(self.num)
                e.long_count += 1
            else:
                e.short_value += p.market_value(self.num)
                e.short_count += 1
        return e

    # -- orders ---------------------------------------------------------------------------
    def place_order(self, sid: int, amount: int, limit, stop, bar: int) -> int | None:
        """Place an order for a signed, already rounded share amount. Returns its id, or
        ``None`` for zero shares (zipline places no order then)."""
        if amount == 0:
            return None
        order_id = len(self.orders)
        order = Order(order_id, sid, amount, limit, stop, bar, bar, self.num.zero)
        order.scale = self.positions[sid].scale
        self.orders.append(order)
        if not self.open_by_asset[sid]:
            self.assets_with_orders.append(sid)
        self.open_by_asset[sid].append(order_id)
        return order_id

    def target_amount(self, sid: int, target_value, price) -> int:
        """zipline's ``order_target_value`` arithmetic: ``value / price − held``, rounded."""
        if price == self.num.zero:
            return 0
        pos = self.positions[sid]
        held = self.num.from_int(pos.amount)
        if pos.scale:  # in lots: value × 10^scale / price lots
            target_value = target_value * self.num.from_int(10**pos.scale)
        return round_order_amount(self.num, self.num.div_q(target_value, price) - held)

    def close_order(self, order_id: int, status: OrderStatus, bar: int, reason=None) -> None:
        """Cancel or reject an open order; closing a closed one does nothing."""
        order = self.order(order_id)
        if order.status is OrderStatus.OPEN:
            order.status, order.updated_bar, order.reason = status, bar, reason
            if status is OrderStatus.REJECTED:
                self.rejections.append(order_id)
            queue = self.open_by_asset[order.sid]
            queue.remove(order_id)
            if not queue:
                self.assets_with_orders.remove(order.sid)

    def take_rejections(self) -> list[int]:
        """The ids of the orders the ledger rejected since the last call."""
        taken, self.rejections = self.rejections, []
        return taken

    def cancel_all_open(self, bar: int) -> list[int]:
        """The end-of-day cancel policy. Returns the ids cancelled."""
        ids = [i for sid in self.assets_with_orders for i in self.open_by_asset[sid]]
        for order_id in ids:
            self.close_order(order_id, OrderStatus.CANCELLED, bar)
        return ids

    # -- fills ------------------------------------------------------------------------------
    def fill_open_orders(self, bar: int, quote) -> list[Transaction]:
        """Fill open orders against bar ``bar``; ``quote(sid)`` is its (price, volume), or
        ``None`` where the asset has no bar (its orders are not even checked). A bar with
        zero volume fills nothing, whatever the model (zipline's ``simulate``)."""
        num, new = self.num, []
        hook = self.cost_hook  # a strategy's own models (see the engine's set_cost_models)
        custom_slippage = hook is not None and hook.slippage is not None
        for sid in list(self.assets_with_orders):
            q = quote(sid)
            if q is None or q[1] == 0:
                continue
            price, volume = q
            volume_for_bar = 0
            for order_id in list(self.open_by_asset[sid]):
                order = self.orders[order_id]
                order.check_triggers(price, bar)
                if not order.triggered:
                    continue
                if custom_slippage:
                    fill = hook.fill(num, order, bar, volume_for_bar)
                else:
                    fill = self.slippage.process(num, order, price, volume, volume_for_bar)
                if fill is SKIP:
                    continue
                if fill is LIQUIDITY_EXCEEDED:
                    break
                # the bounds an order is checked against when placed hold at its fill too
                # (the price may have moved): beyond them the Rust ledger could not stay exact
                after = self.positions[sid].amount + fill.amount
                k = order.scale
                if any(
                    abs(times_lots(num, fill.price, n, k)) > MAX_NOTIONAL
                    for n in (fill.amount, after)
                ):
                    reason = (
                        f"filling {quantity_text(fill.amount, k)} would take the order or the "
                        f"position beyond {MAX_NOTIONAL} in value, where the ledger could not "
                        "stay exact"
                    )
                    self.close_order(order_id, OrderStatus.REJECTED, bar, reason)
                    continue
                volume_for_bar += abs(fill.amount)
                if hook is not None and hook.commission is not None:
                    commission = hook.charge(num, order, fill.price, fill.amount)
                else:
                    commission = num.quantize(
                        self.commission.calculate(num, order, fill.price, fill.amount)
                    )
                order.filled += fill.amount
                order.commission += commission
                order.updated_bar = bar
                txn = Transaction(order_id, sid, fill.amount, fill.price, commission, bar)
                self._book(txn)
                new.append(txn)
                if order.open_amount == 0:
                    self.close_order(order_id, OrderStatus.FILLED, bar)
        return new

    def _book(self, t: Transaction) -> None:
        """Record a transaction and apply it to the position and cash."""
        num, pos = self.num, self.positions[t.sid]
        self.transactions.append(t)
        was_held = pos.amount != 0
        pos.apply_fill(num, t.amount, t.price)
        pos.add_commission(num, t.commission)
        self.cash -= times_lots(num, t.price, t.amount, pos.scale)
        self.cash -= t.commission
        if pos.amount != 0 and not was_held:
            self.held.append(t.sid)
        elif was_held and pos.amount == 0:
            self.held.remove(t.sid)

    def mark_to_market(self, close) -> None:
        """Mark held positions to the bar's closes (``close(sid)`` is ``None``: no bar)."""
        for sid in self.held:
            price = close(sid)
            if price is not None:
                self.positions[sid].last_sale_price = price

    # -- delistings and corporate actions ---------------------------------------------------
    def close_out(self, sid: int, price, bar: int) -> None:
        """zipline's auto-close of an asset whose data ended: cancel its open orders, then
        close the position at ``price`` without costs (a transaction with no order id)."""
        for order_id in list(self.open_by_asset[sid]):
            self.close_order(order_id, OrderStatus.CANCELLED, bar)
        amount = self.positions[sid].amount
        if amount != 0:
            self._book(Transaction(None, sid, -amount, price, self.num.zero, bar))

    def apply_split(self, sid: int, split, bar: int):
        """A split of ``split`` new shares per old one: the position as
        :meth:`Position.apply_split` (its fractional share paid in cash, returned); open
        orders scale their amounts and filled amounts (truncated) and divide their limit
        and stop prices (rounded to cents). An order the split leaves with nothing to
        fill, or with a limit or stop of 0.00, is rejected."""
        num = self.num
        cash = self.positions[sid].apply_split(num, split)
        self.cash += cash

        # zipline's ``Order.handle_split`` in its floats (ratio 1 / split)
        ratio = 1.0 / num.to_f64(split)

        def scale(n: int) -> int:
            return f64_to_i64(n / ratio)

        def divide(p):
            if p is None:
                return None
            q = num.from_f64(round(num.to_f64(p) * ratio, 2))
            return p if q is None else q

        emptied = []
        for order_id in self.open_by_asset[sid]:
            o = self.orders[order_id]
            o.amount, o.filled = scale(o.amount), scale(o.filled)
            o.limit, o.stop = divide(o.limit), divide(o.stop)
            if o.open_amount == 0 or any(p is not None and p <= 0 for p in (o.limit, o.stop)):
                emptied.append(order_id)
        for order_id in emptied:
            self.close_order(order_id, OrderStatus.REJECTED, bar, "the split left nothing to fill")
        if self.positions[sid].amount == 0 and sid in self.held:
            self.held.remove(sid)
        return cash

    def earn_dividend(self, sid: int, per_share):
        """A cash dividend of ``per_share`` on the position, earned on its ex-date (a short
        owes it). Returns the amount; the cash moves when it is paid (``pay_dividend``)."""
        pos = self.positions[sid]
        return times_lots(self.num, per_share, pos.amount, pos.scale)

    def pay_dividend(self, cash) -> None:
        """Pay out a dividend earned earlier."""
        self.cash += cash
