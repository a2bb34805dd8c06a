"""Read-only views of the account a strategy sees: ``context.portfolio``, its positions,
orders. Built from the Rust ledger on access."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

ORDER_STATUS = {0: "open", 1: "filled", 2: "cancelled", 3: "rejected"}


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


@dataclass(frozen=True)
class Portfolio:
    """``context.portfolio``: cash, positions and value at the current bar."""

    cash: float
    portfolio_value: float
    positions_value: float
    starting_cash: float
    positions: dict = field(default_factory=dict)

    @property
    def capital_used(self) -> float:
        return self.starting_cash - self.cash

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
class Order:
    """An order as the strategy sees it."""

    id: int
    asset: object
    amount: int
    filled: int
    commission: float
    limit: float | None
    stop: float | None
    status: int
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
        return ORDER_STATUS[self.status]
