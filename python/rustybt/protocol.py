"""Read-only views of the account a strategy sees: ``context.portfolio``, its positions,
orders. Built from the Rust ledger on access."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import pandas as pd


class ORDER_STATUS(IntEnum):
    """zipline's order states, with its codes: orders' ``status`` is one of these (an
    ``int`` too, so ``status == 1`` still holds). ``HELD`` and ``TRIGGERED`` exist for
    zipline's code that names them; no rustybt order reaches them."""

    OPEN = 0
    FILLED = 1
    CANCELLED = 2
    REJECTED = 3
    HELD = 4
    TRIGGERED = 5


@dataclass(frozen=True)
class Position:
    """A position: ``amount`` shares, average ``cost_basis`` (commissions included) and the
    ``last_sale_price`` it is marked at."""

    asset: object
    amount: int
    cost_basis: float
    last_sale_price: float

    @property
    def sid(self):
        return self.asset


class Positions(dict):
    """``context.portfolio.positions``: a dict of asset → :class:`Position` of the assets
    held. As zipline's, looking up an asset not held gives an empty position (amount 0,
    cost basis and last sale price 0.0) and does not add it, so
    ``positions[asset].amount == 0`` works while ``asset in positions``, ``len`` and
    truthiness count held assets only. A key that is not an asset raises ``KeyError``."""

    __slots__ = ()

    def __missing__(self, key):
        if hasattr(key, "sid"):
            return Position(key, 0, 0.0, 0.0)
        raise KeyError(key)


@dataclass(frozen=True)
class Portfolio:
    """``context.portfolio``: cash, positions and value at the current bar."""

    cash: float
    portfolio_value: float
    positions_value: float
    starting_cash: float
    positions: dict = field(default_factory=Positions)

    @property
    def capital_used(self) -> float:
        """zipline's cumulative cash flow: cash now minus the capital base (negative after
        buying, as the perf frame's per-session ``capital_used``)."""
        return self.cash - self.starting_cash

    @property
    def pnl(self) -> float:
        return self.portfolio_value - self.starting_cash

    @property
    def returns(self) -> float:
        return self.portfolio_value / self.starting_cash - 1.0

    @property
    def positions_exposure(self) -> float:
        return self.positions_value

    @property
    def current_portfolio_weights(self) -> pd.Series:
        """Each position's value as a fraction of portfolio value."""
        if not self.positions:
            return pd.Series(dtype=float)
        return pd.Series(
            {
                a: p.amount * p.last_sale_price / self.portfolio_value
                for a, p in self.positions.items()
            }
        )


@dataclass(frozen=True)
class Account:
    """zipline's ``context.account`` for a cash account: no margin, no interest, so
    buying power and margin fields are infinite or zero as zipline reports them."""

    settled_cash: float
    accrued_interest: float
    buying_power: float
    equity_with_loan: float
    total_positions_value: float
    total_positions_exposure: float
    regt_equity: float
    regt_margin: float
    initial_margin_requirement: float
    maintenance_margin_requirement: float
    available_funds: float
    excess_liquidity: float
    cushion: float
    day_trades_remaining: float
    leverage: float
    net_leverage: float
    net_liquidation: float

    @classmethod
    def from_portfolio(cls, p: Portfolio, gross_exposure: float, net_exposure: float) -> Account:
        pv = p.portfolio_value
        inf, nan = float("inf"), float("nan")
        return cls(
            settled_cash=p.cash,
            accrued_interest=0.0,
            buying_power=inf,
            equity_with_loan=pv,
            total_positions_value=p.positions_value,
            total_positions_exposure=net_exposure,
            regt_equity=p.cash,
            regt_margin=inf,
            initial_margin_requirement=0.0,
            maintenance_margin_requirement=0.0,
            available_funds=p.cash,
            excess_liquidity=p.cash,
            cushion=p.cash / pv if pv else nan,
            day_trades_remaining=inf,
            leverage=gross_exposure / pv if pv else nan,
            net_leverage=net_exposure / pv if pv else nan,
            net_liquidation=pv,
        )


@dataclass(frozen=True)
class Order:
    """An order as the strategy sees it."""

    id: str
    asset: object
    amount: int
    filled: int
    commission: float
    limit: float | None
    stop: float | None
    status: ORDER_STATUS
    reason: str | None
    created: pd.Timestamp
    dt: pd.Timestamp

    @property
    def sid(self):
        return self.asset

    @property
    def open_amount(self) -> int:
        return self.amount - self.filled

    @property
    def open(self) -> bool:
        return self.status == 0

    @property
    def status_name(self) -> str:
        return ORDER_STATUS(self.status).name.lower()

    @property
    def direction(self) -> int:
        """zipline's ``Order.direction``: 1 for a buy, -1 for a sell."""
        return 1 if self.amount >= 0 else -1

    @property
    def triggered(self) -> bool:
        """Whether a stop (if any) has been reached: a model only sees triggered orders."""
        return True


@dataclass(frozen=True)
class Transaction:
    """A fill as zipline's ``CommissionModel.calculate`` sees it."""

    asset: object
    amount: int
    price: float
    dt: pd.Timestamp
    order_id: str

    @property
    def sid(self):
        return self.asset
