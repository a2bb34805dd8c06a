"""Commission models (zipline's formulas; computed in Rust). Set one in ``initialize``::

from rustybt.finance import commission
context.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))

The defaults are zipline-reloaded's, as the engine defines them (``_core.COMMISSION_MODELS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rustybt.finance._models import COMMISSION, EngineModel


class CommissionModel(EngineModel):
    """Base class of the commission models.

    Subclass it and define zipline's ``calculate(self, order, transaction)`` for a model
    of your own: the commission (a number) of each fill; ``order.commission`` is what the
    order has paid so far. Both engines call it once per fill."""

    _table = COMMISSION


@dataclass(frozen=True)
class NoCommission(CommissionModel):
    """No commission."""


@dataclass(frozen=True)
class PerShare(CommissionModel):
    """``cost`` per share, at least ``min_trade_cost`` per order (zipline's default 0.001, 0)."""

    cost: float = COMMISSION["PerShare"]["cost"]
    min_trade_cost: float = COMMISSION["PerShare"]["min_trade_cost"]


@dataclass(frozen=True)
class PerTrade(CommissionModel):
    """A flat ``cost`` per order, charged on its first fill."""

    cost: float = COMMISSION["PerTrade"]["cost"]


@dataclass(frozen=True)
class PerDollar(CommissionModel):
    """``cost`` × traded value."""

    cost: float = COMMISSION["PerDollar"]["cost"]


__all__ = ["CommissionModel", "NoCommission", "PerDollar", "PerShare", "PerTrade"]
