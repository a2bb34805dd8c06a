"""Order styles, as zipline's: pass ``style=LimitOrder(10.5)`` to any order function, or
``limit_price=`` / ``stop_price=``.

A price that is not a number (a str, a bool, a list, ...) is refused when the style is
made, with :class:`~rustybt.errors.BadOrderParameters` naming it; whether it is positive
and finite is checked when the order is placed."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from rustybt.errors import BadOrderParameters


def _price(style: str, name: str, value):
    if type(value) is float or type(value) is int:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value
    raise BadOrderParameters(f"{style}'s {name} must be a number, got {value!r}")


@dataclass(frozen=True)
class ExecutionStyle:
    limit_price: float | None = None
    stop_price: float | None = None


@dataclass(frozen=True)
class MarketOrder(ExecutionStyle):
    """Fill at the next bar's price."""


@dataclass(frozen=True, init=False)
class LimitOrder(ExecutionStyle):
    """Buy at or below / sell at or above ``limit_price``."""

    def __init__(self, limit_price: float):
        object.__setattr__(self, "limit_price", _price("LimitOrder", "limit_price", limit_price))
        object.__setattr__(self, "stop_price", None)


@dataclass(frozen=True, init=False)
class StopOrder(ExecutionStyle):
    """Becomes a market order once the price reaches ``stop_price``."""

    def __init__(self, stop_price: float):
        object.__setattr__(self, "limit_price", None)
        object.__setattr__(self, "stop_price", _price("StopOrder", "stop_price", stop_price))


@dataclass(frozen=True, init=False)
class StopLimitOrder(ExecutionStyle):
    """Becomes a limit order once the price reaches ``stop_price``."""

    def __init__(self, limit_price: float, stop_price: float):
        object.__setattr__(
            self, "limit_price", _price("StopLimitOrder", "limit_price", limit_price)
        )
        object.__setattr__(self, "stop_price", _price("StopLimitOrder", "stop_price", stop_price))


__all__ = ["ExecutionStyle", "LimitOrder", "MarketOrder", "StopLimitOrder", "StopOrder"]
