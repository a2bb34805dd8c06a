"""Commission models (zipline's formulas; computed in Rust). Set one in ``initialize``::

from rustybt.finance import commission
context.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
"""

from __future__ import annotations

from dataclasses import dataclass


class CommissionModel:
    """Base class: each model names its Rust kind and two parameters."""

    kind: str = ""

    def _params(self) -> tuple[float, float]:
        return (0.0, 0.0)


@dataclass(frozen=True)
class NoCommission(CommissionModel):
    """No commission."""

    kind = "none"


@dataclass(frozen=True)
class PerShare(CommissionModel):
    """``cost`` per share, at least ``min_trade_cost`` per order (zipline's default 0.001, 0)."""

    cost: float = 0.001
    min_trade_cost: float = 0.0
    kind = "per_share"

    def _params(self):
        return (float(self.cost), float(self.min_trade_cost))


@dataclass(frozen=True)
class PerTrade(CommissionModel):
    """A flat ``cost`` per order, charged on its first fill."""

    cost: float = 0.0
    kind = "per_trade"

    def _params(self):
        return (float(self.cost), 0.0)


@dataclass(frozen=True)
class PerDollar(CommissionModel):
    """``cost`` × traded value."""

    cost: float = 0.0015
    kind = "per_dollar"

    def _params(self):
        return (float(self.cost), 0.0)


__all__ = ["CommissionModel", "NoCommission", "PerDollar", "PerShare", "PerTrade"]
