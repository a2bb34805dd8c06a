"""zipline's asset restrictions: which assets may not be ordered, and when.

Pass them to ``set_asset_restrictions`` in ``initialize`` (``set_do_not_order_list`` is
the same with :class:`StaticRestrictions`). An order for an asset that is restricted at
the order's time breaks the ``RestrictedListOrder`` trading control, which fails the order
(``on_error="fail"``, the default) or logs a warning and places it (``"log"``); and
``data.can_trade`` is False for it, as in zipline. The check runs in the engine (the
restrictions are compiled to per-asset schedules once, at ``set_asset_restrictions``).

>>> import pandas as pd
>>> from rustybt.finance.asset_restrictions import (
...     RESTRICTION_STATES, HistoricalRestrictions, Restriction, StaticRestrictions)
>>> frozen = HistoricalRestrictions([
...     Restriction("A", pd.Timestamp("2022-01-10", tz="UTC"), RESTRICTION_STATES.FROZEN),
...     Restriction("A", pd.Timestamp("2022-02-01", tz="UTC"), RESTRICTION_STATES.ALLOWED),
... ])
>>> frozen.is_restricted("A", pd.Timestamp("2022-01-20", tz="UTC"))
True
>>> (frozen | StaticRestrictions(["B"])).is_restricted("B", pd.Timestamp("2022-03-01", tz="UTC"))
True
"""

from __future__ import annotations

from collections import namedtuple
from enum import IntEnum

import pandas as pd

from rustybt.errors import InvalidRunParameters


class RESTRICTION_STATES(IntEnum):
    """zipline's restriction states: an asset is ``ALLOWED`` or ``FROZEN``."""

    ALLOWED = 0
    FROZEN = 1


#: One change of an asset's state, effective from ``effective_date`` on.
Restriction = namedtuple("Restriction", ["asset", "effective_date", "state"])


def _ns(dt) -> int:
    """A timestamp as ns UTC (a naive one is taken as UTC, as zipline compares them)."""
    ts = pd.Timestamp(dt)
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    return int(ts.value)


class Restrictions:
    """Which assets are restricted at a time. Combine two with ``|`` (restricted when
    either says so). Subclasses of your own are not supported: the engine checks the
    restrictions it knows (:class:`NoRestrictions`, :class:`StaticRestrictions`,
    :class:`HistoricalRestrictions` and their unions) without calling back into Python."""

    def is_restricted(self, assets, dt):
        """Whether ``assets`` (one, or a list: a Series of bools) are restricted at ``dt``."""
        if isinstance(assets, (list, tuple, pd.Index)):
            return pd.Series([self._restricted(a, _ns(dt)) for a in assets], index=list(assets))
        return self._restricted(assets, _ns(dt))

    def _restricted(self, asset, now: int) -> bool:
        return _frozen([r for r in self._rules() if r[0] == asset], now)

    def _rules(self) -> list[tuple]:
        """``(asset, effective ns, frozen)`` of one component, in effective order."""
        raise NotImplementedError

    def _components(self) -> list[Restrictions]:
        return [self]

    def __or__(self, other: Restrictions) -> Restrictions:
        if not isinstance(other, Restrictions):
            return NotImplemented
        return _UnionRestrictions([*self._components(), *other._components()])


def _frozen(rules: list[tuple], now: int) -> bool:
    """Whether the last of ``rules`` (one asset's, in effective order) effective at or
    before ``now`` freezes it."""
    state = False
    for _, at, frozen in rules:
        if at > now:
            break
        state = frozen
    return state


class NoRestrictions(Restrictions):
    """Nothing is restricted."""

    def _rules(self) -> list[tuple]:
        return []


class StaticRestrictions(Restrictions):
    """The assets of ``restricted_list`` are restricted at every time."""

    def __init__(self, restricted_list):
        self._assets = frozenset(restricted_list)

    def _rules(self) -> list[tuple]:
        return [(a, -(2**63), True) for a in self._assets]

    def _restricted(self, asset, now: int) -> bool:
        return asset in self._assets


class HistoricalRestrictions(Restrictions):
    """Restrictions that change over time: ``restrictions`` is a list of
    :class:`Restriction`; an asset's state at ``dt`` is that of its last restriction
    effective at or before ``dt`` (``ALLOWED`` before its first)."""

    def __init__(self, restrictions):
        self._restrictions = sorted(restrictions, key=lambda r: _ns(r.effective_date))
        for r in self._restrictions:
            if r.state not in (RESTRICTION_STATES.ALLOWED, RESTRICTION_STATES.FROZEN):
                raise InvalidRunParameters(
                    f"a Restriction's state must be RESTRICTION_STATES.ALLOWED or FROZEN, "
                    f"got {r.state!r} in {r!r}"
                )

    def _rules(self) -> list[tuple]:
        return [
            (r.asset, _ns(r.effective_date), r.state == RESTRICTION_STATES.FROZEN)
            for r in self._restrictions
        ]


class _UnionRestrictions(Restrictions):
    """Restricted when any of its components is."""

    def __init__(self, components):
        self._parts = [c for c in components if not isinstance(c, NoRestrictions)]

    def _components(self) -> list[Restrictions]:
        return list(self._parts)

    def _restricted(self, asset, now: int) -> bool:
        return any(c._restricted(asset, now) for c in self._parts)


def compile_restrictions(restrictions) -> list[tuple]:
    """``(asset, component, effective ns, frozen)`` for the engine's control; a subclass
    of :class:`Restrictions` the engine does not know is refused, naming it."""
    if not isinstance(restrictions, Restrictions):
        raise InvalidRunParameters(
            "set_asset_restrictions needs a Restrictions (StaticRestrictions, "
            f"HistoricalRestrictions, ...), got {restrictions!r}"
        )
    out = []
    for k, part in enumerate(restrictions._components()):
        if type(part) not in (NoRestrictions, StaticRestrictions, HistoricalRestrictions):
            raise InvalidRunParameters(
                f"{type(part).__name__} is a Restrictions subclass of your own: rustybt checks "
                "restrictions in its engine and supports StaticRestrictions, "
                "HistoricalRestrictions and NoRestrictions (and their unions with |)"
            )
        out += [(asset, k, at, frozen) for asset, at, frozen in part._rules()]
    return out


__all__ = [
    "RESTRICTION_STATES",
    "HistoricalRestrictions",
    "NoRestrictions",
    "Restriction",
    "Restrictions",
    "StaticRestrictions",
]
