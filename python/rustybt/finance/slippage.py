"""Slippage models (zipline's formulas; computed in Rust). Set one in ``initialize``::

from rustybt.finance import slippage
context.set_slippage(slippage.VolumeShareSlippage(volume_limit=0.025, price_impact=0.1))

The defaults are zipline-reloaded's, as the engine defines them (``_core.SLIPPAGE_MODELS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rustybt.finance._models import SLIPPAGE, EngineModel


class LiquidityExceeded(Exception):
    """Raised by a model's ``process_order`` when the bar's volume is used up: no later
    order of the same asset fills on this bar (zipline's rule)."""


class SlippageModel(EngineModel):
    """Base class of the slippage models.

    Subclass it and define zipline's ``process_order(self, data, order)`` for a model of
    your own: for each triggered open order on each bar it returns ``(price, amount)``
    (the amount is truncated to whole shares; at least one) or ``None`` to fill nothing,
    and may raise :class:`LiquidityExceeded`. ``self.volume_for_bar`` is the shares
    already filled for the order's asset on this bar. Both engines call it; each call
    costs a Python call per open order per bar (``docs/performance/cost-models.md``)."""

    _table = SLIPPAGE
    _volume_for_bar = 0

    @property
    def volume_for_bar(self) -> int:
        """Shares of this order's asset already filled on the current bar."""
        return self._volume_for_bar


@dataclass(frozen=True)
class NoSlippage(SlippageModel):
    """Fill the whole order at the bar's close, with no volume limit (a bar without volume
    fills nothing, as for every model: zipline's rule)."""


@dataclass(frozen=True)
class FixedSlippage(SlippageModel):
    """Fill the whole order at close ± ``spread`` / 2 (buys pay up, sells receive less), on
    the first bar with volume (as every model: zipline's rule)."""

    spread: float = SLIPPAGE["FixedSlippage"]["spread"]


@dataclass(frozen=True)
class FixedBasisPointsSlippage(SlippageModel):
    """zipline's default: close × (1 ± basis_points / 10 000), at most ``volume_limit`` of
    the bar's volume per bar; the rest carries over to later bars."""

    basis_points: float = SLIPPAGE["FixedBasisPointsSlippage"]["basis_points"]
    volume_limit: float = SLIPPAGE["FixedBasisPointsSlippage"]["volume_limit"]


@dataclass(frozen=True)
class VolumeShareSlippage(SlippageModel):
    """Quadratic impact: close × (1 ± price_impact × share²) with share = filled volume /
    bar volume, capped at ``volume_limit``."""

    volume_limit: float = SLIPPAGE["VolumeShareSlippage"]["volume_limit"]
    price_impact: float = SLIPPAGE["VolumeShareSlippage"]["price_impact"]


__all__ = [
    "FixedBasisPointsSlippage",
    "FixedSlippage",
    "LiquidityExceeded",
    "NoSlippage",
    "SlippageModel",
    "VolumeShareSlippage",
]
