"""``schedule_function`` rules, as zipline's ``date_rules`` and ``time_rules``.

A rule pair picks bars: the date rule picks sessions, the time rule picks a bar within each
(in daily runs the session's one bar). Rules are resolved once per run into a map from bar
to functions, so the per-bar cost is one dict lookup, and none when nothing is scheduled.

Example::

    from rustybt.api import date_rules, schedule_function, time_rules

    def initialize(context):
        schedule_function(rebalance, date_rules.month_start(), time_rules.market_open(hours=1))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rustybt.errors import InvalidRunParameters

_NS_MIN = 60_000_000_000


@dataclass(frozen=True)
class DateRule:
    kind: str
    days_offset: int = 0

    def sessions(self, labels: pd.DatetimeIndex) -> np.ndarray:
        """Boolean mask over ``labels`` (session dates) of the sessions this rule fires on."""
        n = len(labels)
        if self.kind == "every_day":
            return np.ones(n, dtype=bool)
        if self.kind in ("week_start", "week_end"):
            iso = labels.isocalendar()
            period = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy()).astype(np.int64)
        else:
            period = (labels.year * 100 + labels.month).to_numpy()
        mask = np.zeros(n, dtype=bool)
        starts = np.flatnonzero(np.r_[True, period[1:] != period[:-1]])
        ends = np.r_[starts[1:], n]
        for a, b in zip(starts, ends):
            i = a + self.days_offset if self.kind.endswith("start") else b - 1 - self.days_offset
            if a <= i < b:
                mask[i] = True
        return mask


@dataclass(frozen=True)
class TimeRule:
    kind: str
    offset_minutes: int = 0

    def bar(self, closes_ns: np.ndarray, open_ns: int, close_ns: int) -> list[int]:
        """Indices (within the session's bars, given by their close instants) that fire."""
        if self.kind == "every_minute":
            return list(range(len(closes_ns)))
        if self.kind == "market_open":
            # zipline: market_open(minutes=1) is the first minute bar (09:31)
            target = open_ns + max(self.offset_minutes, 1) * _NS_MIN
            i = int(np.searchsorted(closes_ns, target, side="left"))
        else:
            # market_close(minutes=1) is the bar closing one minute before the close
            target = close_ns - self.offset_minutes * _NS_MIN
            i = int(np.searchsorted(closes_ns, target, side="right")) - 1
        return [min(max(i, 0), len(closes_ns) - 1)]


def _offset(days_offset: int) -> int:
    if not isinstance(days_offset, int) or days_offset < 0:
        raise InvalidRunParameters(
            f"days_offset must be a non-negative integer, got {days_offset!r}"
        )
    return days_offset


def _minutes(minutes: int | None, hours: int | None) -> int:
    """zipline's offset: the arguments given, or one minute when none is."""
    if minutes is None and hours is None:
        return 1
    total = (minutes or 0) + 60 * (hours or 0)
    if total < 0:
        raise InvalidRunParameters(f"offset must not be negative, got {total} minutes")
    return total


class date_rules:
    """Which sessions: ``every_day()``, ``week_start(days_offset=0)``, ``week_end(...)``,
    ``month_start(...)``, ``month_end(...)``."""

    @staticmethod
    def every_day() -> DateRule:
        return DateRule("every_day")

    @staticmethod
    def week_start(days_offset: int = 0) -> DateRule:
        return DateRule("week_start", _offset(days_offset))

    @staticmethod
    def week_end(days_offset: int = 0) -> DateRule:
        return DateRule("week_end", _offset(days_offset))

    @staticmethod
    def month_start(days_offset: int = 0) -> DateRule:
        return DateRule("month_start", _offset(days_offset))

    @staticmethod
    def month_end(days_offset: int = 0) -> DateRule:
        return DateRule("month_end", _offset(days_offset))


class time_rules:
    """Which bar of a session: ``market_open(minutes=..., hours=...)`` (default one minute
    after the open: the first minute bar), ``market_close(...)`` (default one minute before
    the close), ``every_minute()``. Daily runs have one bar a
    session, which every time rule picks."""

    @staticmethod
    def market_open(minutes: int | None = None, hours: int | None = None) -> TimeRule:
        return TimeRule("market_open", _minutes(minutes, hours))

    @staticmethod
    def market_close(minutes: int | None = None, hours: int | None = None) -> TimeRule:
        return TimeRule("market_close", _minutes(minutes, hours))

    @staticmethod
    def every_minute() -> TimeRule:
        return TimeRule("every_minute")


def resolve(scheduled, bundle, first_session: int, last_session: int) -> dict[int, list]:
    """Map bar index → functions to call there, for sessions ``first..=last``."""
    _dates, opens, closes = bundle._session_arrays
    bounds = bundle._core.session_first_bar()
    bar_closes = np.asarray(bundle._core.timestamps())
    labels = bundle.sessions[first_session : last_session + 1]
    length = (closes - opens)[first_session : last_session + 1]
    normal = np.max(length) if len(length) else 0
    out: dict[int, list] = {}
    for func, date_rule, time_rule, half_days in scheduled:
        mask = date_rule.sessions(labels)
        for k in np.flatnonzero(mask):
            s = first_session + int(k)
            if not half_days and length[k] < normal:
                continue
            a, b = int(bounds[s]), int(bounds[s + 1])
            for i in time_rule.bar(bar_closes[a:b], int(opens[s]), int(closes[s])):
                out.setdefault(a + i, []).append(func)
    return out
