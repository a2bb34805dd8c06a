"""Slippage models (zipline's formulas; computed in Rust). Set one in ``initialize``::

from rustybt.finance import slippage
context.set_slippage(slippage.VolumeShareSlippage(volume_limit=0.025, price_impact=0.1))
"""

from __future__ import annotations

from dataclasses import dataclass


class SlippageModel:
    """Base class: each model names its Rust kind and two parameters."""

    kind: str = ""

    def _params(self) -> tuple[float, float]:
        return (0.0, 0.0)


@dataclass(frozen=True)
class NoSlippage(SlippageModel):
    """Fill the whole order at the bar's close, with no volume limit."""

    kind = "none"


@dataclass(frozen=True)
class FixedSlippage(SlippageModel):
    """Fill the whole order at close ± ``spread`` / 2 (buys pay up, sells receive less)."""

    spread: float = 0.0
    kind = "fixed"

    def _params(self):
        return (float(self.spread), 0.0)


@dataclass(frozen=True)
class FixedBasisPointsSlippage(SlippageModel):
    """zipline's default: close × (1 ± basis_points / 10 000), at most ``volume_limit`` of
    the bar's volume per bar; the rest carries over to later bars."""

    basis_points: float = 5.0
    volume_limit: float = 0.1
    kind = "fixed_basis_points"

    def _params(self):
        return (float(self.basis_points), float(self.volume_limit))


@dataclass(frozen=True)
class VolumeShareSlippage(SlippageModel):
    """Quadratic impact: close × (1 ± price_impact × share²) with share = filled volume /
    bar volume, capped at ``volume_limit``."""

    volume_limit: float = 0.025
    price_impact: float = 0.1
    kind = "volume_share"

    def _params(self):
        return (float(self.volume_limit), float(self.price_impact))


__all__ = [
    "FixedBasisPointsSlippage",
    "FixedSlippage",
    "NoSlippage",
    "SlippageModel",
    "VolumeShareSlippage",
]
