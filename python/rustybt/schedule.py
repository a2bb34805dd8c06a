"""``schedule_function`` rules, as zipline's ``date_rules`` and ``time_rules``.

A rule pair picks bars: the date rule picks sessions, the time rule picks a bar within each
(in daily runs the session's one bar). Rules are resolved once per run into a map from bar
to functions, so the per-bar cost is one dict lookup, and none when nothing is scheduled.

Date rules follow the trading calendar, as zipline's: ``month_start`` fires on the first
session of each calendar month, ``week_start`` on the first session of each ISO week
(Monday to Sunday), ``*_end`` on the last, each shifted by ``days_offset`` sessions. A run
that starts or ends inside a week or month counts the sessions of that period outside the
run: a run starting on Wednesday 5 January 2022 does not fire ``month_start`` (3 January
was the month's first session) nor ``week_start`` that day, and one ending on a Wednesday
does not fire ``week_end`` there. Sessions beyond the bundle's own come from its exchange
calendar (``rustybt.calendars``).

zipline's argument rules, which rustybt keeps (errors are
:class:`~rustybt.errors.InvalidRunParameters`, a ``ValueError``):

* ``days_offset``: an integer (an integral float is taken), 0 to 4 for week rules and 0
  to 22 for month rules (the most sessions a week or month can have, less one).
* time rule offsets: ``offset=datetime.timedelta(...)`` or ``hours=`` / ``minutes=``
  (not both), from 1 minute to 12 hours inclusive; one minute when none is given. rustybt
  also refuses offsets that are not a whole number of minutes (zipline's rule would never
  fire on them).

Example::

    from rustybt.api import date_rules, schedule_function, time_rules

    def initialize(context):
        schedule_function(rebalance, date_rules.month_start(), time_rules.market_open(hours=1))
"""

from __future__ import annotations

import datetime
import logging
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rustybt.errors import InvalidRunParameters

_NS_MIN = 60_000_000_000

#: zipline's bounds: ``days_offset`` must be below these (MAX_WEEK_RANGE, MAX_MONTH_RANGE)
_MAX_WEEK_RANGE, _MAX_MONTH_RANGE = 5, 23
#: time rule offsets, in minutes: zipline's 1 minute to 12 hours, inclusive
_MIN_OFFSET, _MAX_OFFSET = 1, 12 * 60


@dataclass(frozen=True)
class DateRule:
    """Which sessions: made by :class:`date_rules`."""

    kind: str
    days_offset: int = 0

    @property
    def periodic(self) -> bool:
        """A week or month rule (it needs the whole of a run's first and last period)."""
        return self.kind != "every_day"

    def sessions(self, labels: pd.DatetimeIndex) -> np.ndarray:
        """Boolean mask over ``labels`` (consecutive session dates of a calendar) of the
        sessions this rule fires on. A period (week or month) is judged on the sessions of
        it that ``labels`` has: pass every session of the first and last period (as
        :func:`resolve` does) for the calendar's answer."""
        n = len(labels)
        if self.kind == "every_day":
            return np.ones(n, dtype=bool)
        if self.kind in ("week_start", "week_end"):
            period = _monday_weeks(labels)
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


def _monday_weeks(labels: pd.DatetimeIndex) -> np.ndarray:
    """The week (Monday to Sunday, as ISO weeks) of each of ``labels``' dates, as a count
    of weeks since the epoch's: integer arithmetic on the days (``isocalendar`` gives the
    same grouping but took ~60 ms on its first call in a process, importing pyarrow)."""
    wall = labels.tz_localize(None) if labels.tz is not None else labels
    days = wall.to_numpy().astype("datetime64[D]").astype(np.int64)  # any unit; floored
    return (days + 3) // 7  # 1970-01-01 was a Thursday: Mondays start a week


@dataclass(frozen=True)
class TimeRule:
    """Which bar of a session: made by :class:`time_rules`."""

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


def _offset(days_offset: int, limit: int, period: str) -> int:
    """zipline's ``days_offset``: an integer (or an integral float) in ``0..limit-1``."""
    n = days_offset
    if type(n) is float and n.is_integer():
        n = int(n)
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise InvalidRunParameters(
            f"days_offset must be a non-negative integer, got {days_offset!r}"
        )
    if n >= limit:
        raise InvalidRunParameters(
            f"days_offset must be in between 0 and {limit - 1} inclusive for {period} rules "
            f"(as zipline), got {days_offset!r}"
        )
    return int(n)


def _minutes(offset, hours, minutes) -> int:
    """zipline's time rule offset, in minutes: ``offset`` (a timedelta) or ``hours`` and
    ``minutes``, one minute when none is given; 1 minute to 12 hours inclusive."""
    if offset is None:
        if hours is None and minutes is None:
            return 1
        for name, v in (("hours", hours), ("minutes", minutes)):
            if v is not None and (not isinstance(v, numbers.Real) or isinstance(v, bool)):
                raise InvalidRunParameters(f"{name} must be a number, got {v!r}")
        total = (minutes or 0) + 60 * (hours or 0)
    elif hours is not None or minutes is not None:
        raise InvalidRunParameters("pass either offset= or hours= / minutes=, not both")
    elif isinstance(offset, datetime.timedelta):  # pd.Timedelta too
        total = offset.total_seconds() / 60
    else:
        raise InvalidRunParameters(
            f"offset must be a datetime.timedelta (or pass hours= and/or minutes=), got {offset!r}"
        )
    if total < 0:
        raise InvalidRunParameters(f"offset must not be negative, got {total:g} minutes")
    if not _MIN_OFFSET <= total <= _MAX_OFFSET:
        raise InvalidRunParameters(
            f"offset must be in between 1 minute and 12 hours inclusive (as zipline), got "
            f"{total:g} minutes"
        )
    if total != int(total):
        raise InvalidRunParameters(
            f"offset must be a whole number of minutes, got {total:g} minutes"
        )
    return int(total)


class date_rules:
    """Which sessions, following the trading calendar (see the module's notes):

    * ``every_day()``
    * ``week_start(days_offset=0)``: the first session of each week, or the one
      ``days_offset`` sessions after it (0 to 4); weeks are ISO weeks (Monday to Sunday)
    * ``week_end(days_offset=0)``: the last session of each week, or ``days_offset``
      sessions before it (0 to 4)
    * ``month_start(days_offset=0)`` / ``month_end(days_offset=0)``: likewise for calendar
      months (0 to 22)

    A period with too few sessions for the offset is skipped. Bad offsets raise
    :class:`~rustybt.errors.InvalidRunParameters` (a ``ValueError``, as zipline's).
    """

    @staticmethod
    def every_day() -> DateRule:
        return DateRule("every_day")

    @staticmethod
    def week_start(days_offset: int = 0) -> DateRule:
        return DateRule("week_start", _offset(days_offset, _MAX_WEEK_RANGE, "week"))

    @staticmethod
    def week_end(days_offset: int = 0) -> DateRule:
        return DateRule("week_end", _offset(days_offset, _MAX_WEEK_RANGE, "week"))

    @staticmethod
    def month_start(days_offset: int = 0) -> DateRule:
        return DateRule("month_start", _offset(days_offset, _MAX_MONTH_RANGE, "month"))

    @staticmethod
    def month_end(days_offset: int = 0) -> DateRule:
        return DateRule("month_end", _offset(days_offset, _MAX_MONTH_RANGE, "month"))


class calendars:
    """zipline's ``calendars`` sentinels for ``schedule_function(..., calendar=...)``:
    ``US_EQUITIES`` schedules on the run's own calendar; ``US_FUTURES`` is refused
    (futures are not supported yet)."""

    US_EQUITIES = "US_EQUITIES"
    US_FUTURES = "US_FUTURES"


class time_rules:
    """Which bar of a session, with zipline's signatures:

    * ``market_open(offset=None, hours=None, minutes=None)``: the bar ending ``offset``
      after the open; the default, one minute, is the first minute bar (09:31 on XNYS)
    * ``market_close(offset=None, hours=None, minutes=None)``: the bar ending ``offset``
      before the close; the default, one minute, is the bar ending at 15:59 on XNYS
    * ``every_minute()``: every bar

    ``offset`` is a ``datetime.timedelta`` (or ``pd.Timedelta``); or give ``hours`` and/or
    ``minutes`` instead. Offsets run from 1 minute to 12 hours inclusive, in whole minutes;
    anything else raises :class:`~rustybt.errors.InvalidRunParameters` (a ``ValueError``).
    Daily runs have one bar a session, which every time rule picks.

    Example::

        time_rules.market_open(offset=datetime.timedelta(minutes=30))  # 10:00 on XNYS
        time_rules.market_close(hours=1)  # 15:00
    """

    @staticmethod
    def market_open(
        offset: datetime.timedelta | None = None,
        hours: float | None = None,
        minutes: float | None = None,
    ) -> TimeRule:
        return TimeRule("market_open", _minutes(offset, hours, minutes))

    @staticmethod
    def market_close(
        offset: datetime.timedelta | None = None,
        hours: float | None = None,
        minutes: float | None = None,
    ) -> TimeRule:
        return TimeRule("market_close", _minutes(offset, hours, minutes))

    @staticmethod
    def every_minute() -> TimeRule:
        return TimeRule("every_minute")


_DAY = pd.Timedelta(days=1)


#: per calendar: (first day, last day, its sessions in between); grown as needed
_CALENDAR_SPANS: dict[str, tuple[pd.Timestamp, pd.Timestamp, pd.DatetimeIndex]] = {}
_CALENDAR_FAILED: set[tuple[str, pd.Timestamp, pd.Timestamp]] = set()
_CALENDAR_WARNED: set[tuple[str, pd.Timestamp, pd.Timestamp]] = set()
#: sessions are fetched this far beyond what is asked, so that the week and the month
#: edges of a bundle (and of bundles next to it) need one calendar only
_CALENDAR_MARGIN = pd.Timedelta(days=62)


def _calendar_sessions(calendar: str, start: pd.Timestamp, end: pd.Timestamp):
    """Session labels (UTC midnight) of ``calendar`` from ``start`` to ``end``; ``None``
    when the calendar cannot say (unknown to exchange_calendars, out of its range).
    Cached per calendar: building one takes exchange_calendars about a second, whatever
    its span."""
    span = _CALENDAR_SPANS.get(calendar)
    if span is None or start < span[0] or end > span[1]:
        lo, hi = start - _CALENDAR_MARGIN, end + _CALENDAR_MARGIN
        if span is not None:
            lo, hi = min(lo, span[0]), max(hi, span[1])
        labels = _fetch_sessions(calendar, lo, hi)
        if labels is None:  # the margin may cross the calendar's bounds: ask exactly
            lo, hi = start, end
            labels = _fetch_sessions(calendar, lo, hi)
            if labels is None:
                if (calendar, start, end) in _CALENDAR_WARNED:
                    return None
                _CALENDAR_WARNED.add((calendar, start, end))
                logging.getLogger("rustybt").warning(
                    "date rules: calendar %r has no sessions for %s..%s; the bundle's own "
                    "sessions decide where its first and last week and month begin and end",
                    calendar,
                    start.date(),
                    end.date(),
                )
                return None
        span = _CALENDAR_SPANS[calendar] = (lo, hi, labels)
    labels = span[2]
    return labels[(labels >= start) & (labels <= end)]


def _fetch_sessions(calendar: str, start: pd.Timestamp, end: pd.Timestamp):
    from rustybt.calendars import sessions

    if (calendar, start, end) in _CALENDAR_FAILED:
        return None
    try:
        days = sessions(calendar, start.tz_localize(None), end.tz_localize(None))[0]
    except (InvalidRunParameters, ImportError) as exc:
        _CALENDAR_FAILED.add((calendar, start, end))
        logging.getLogger("rustybt").debug(
            "date rules: no sessions of calendar %r for %s..%s: %s",
            calendar,
            start.date(),
            end.date(),
            exc,
        )
        return None
    return pd.DatetimeIndex(np.asarray(days, dtype=np.int64) * _DAY.value, tz="UTC")


def _may_trade(bundle, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether the calendar may have a session from ``start`` to ``end``: False when every
    day of it is a weekday on which the bundle (four weeks or more of sessions) never
    trades, such as a weekend on a Monday-to-Friday exchange. Saves asking the calendar
    (exchange_calendars takes about a second to build one)."""
    sessions = bundle.sessions
    if len(sessions) < 20:
        return True
    traded = set(np.unique(sessions.day_of_week).tolist())
    days = pd.date_range(start, end, freq="D")
    return any(d in traded for d in days.day_of_week)


def _period_sessions(
    bundle, first: int, last: int, weeks: bool, months: bool
) -> tuple[pd.DatetimeIndex, int]:
    """The sessions of the run (``first..=last`` of the bundle) with every other session
    of its first and last week (``weeks``) and month (``months``), from the bundle where it
    has them and from its calendar beyond its ends. Returns them and the position of the
    run's first session among them."""
    sessions = bundle.sessions
    s0, s1 = sessions[first], sessions[last]
    lo, hi = s0, s1
    if weeks:  # ISO weeks: Monday to Sunday
        lo = min(lo, s0 - pd.Timedelta(days=s0.day_of_week))
        hi = max(hi, s1 + pd.Timedelta(days=6 - s1.day_of_week))
    if months:
        lo = min(lo, s0.replace(day=1))
        hi = max(hi, s1 + pd.offsets.MonthEnd(0))
    a = int(sessions.searchsorted(lo, side="left"))
    b = int(sessions.searchsorted(hi, side="right"))
    labels = sessions[a:b]
    first_day, last_day = sessions[0], sessions[-1]
    before = a == 0 and lo < first_day and _may_trade(bundle, lo, first_day - _DAY)
    after = b == len(sessions) and hi > last_day and _may_trade(bundle, last_day + _DAY, hi)
    if before or after:
        # one calendar for both ends: building it costs the same for any span
        extra = _calendar_sessions(
            bundle.calendar,
            lo if before else last_day + _DAY,
            hi if after else first_day - _DAY,
        )
        if extra is not None:
            parts = [labels]
            if before:
                parts.insert(0, extra[(extra >= lo) & (extra < first_day)])
            if after:
                parts.append(extra[(extra > last_day) & (extra <= hi)])
            labels = parts[0].append(parts[1:])
    return labels, int(labels.searchsorted(s0))


def resolve(scheduled, bundle, first_session: int, last_session: int) -> dict[int, list]:
    """Map bar index → functions to call there, for sessions ``first..=last``."""
    _dates, opens, closes = bundle._session_arrays
    bounds = bundle._core.session_first_bar()
    bar_closes = np.asarray(bundle._core.timestamps())
    n = last_session - first_session + 1
    labels = bundle.sessions[first_session : last_session + 1]
    kinds = {date_rule.kind for _, date_rule, _, _ in scheduled}
    weeks, months = (
        bool(kinds & {"week_start", "week_end"}),
        bool(kinds & {"month_start", "month_end"}),
    )
    if weeks or months:
        around, k0 = _period_sessions(bundle, first_session, last_session, weeks, months)
    length = (closes - opens)[first_session : last_session + 1]
    normal = np.max(length) if len(length) else 0
    out: dict[int, list] = {}
    for func, date_rule, time_rule, half_days in scheduled:
        if date_rule.periodic:
            mask = date_rule.sessions(around)[k0 : k0 + n]
        else:
            mask = date_rule.sessions(labels)
        for k in np.flatnonzero(mask):
            s = first_session + int(k)
            if not half_days and length[k] < normal:
                continue
            a, b = int(bounds[s]), int(bounds[s + 1])
            for i in time_rule.bar(bar_closes[a:b], int(opens[s]), int(closes[s])):
                out.setdefault(a + i, []).append(func)
    return out
