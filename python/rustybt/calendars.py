"""Trading calendars, from exchange_calendars. Used at ingest time only: a bundle stores
its sessions, so opening one never imports exchange_calendars (≈0.5 s).

Example:
    >>> from rustybt.calendars import sessions
    >>> dates, opens, closes = sessions("XNYS", "2023-07-03", "2023-07-07")
    >>> len(dates)  # July 4th is a holiday
    4
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from rustybt.errors import InvalidRunParameters

#: Names accepted for a calendar that trades every day, around the clock.
ALWAYS_OPEN = ("24/7", "always_open", "ALWAYS_OPEN")

_NS_PER_DAY = 86_400_000_000_000


def sessions(calendar: str, start, end) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sessions of ``calendar`` from ``start`` to ``end`` inclusive.

    Returns ``(dates, opens, closes)``: session labels as days since 1970-01-01 (int32),
    and open/close instants as ns since the epoch, UTC (int64).
    """
    import exchange_calendars as xcals

    name = "24/7" if calendar in ALWAYS_OPEN else calendar

    def day(value, what):
        try:
            return pd.Timestamp(value).normalize()
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidRunParameters(
                f"{what} {value!r} is not a date (YYYY-MM-DD): {exc}"
            ) from None

    start_ts, end_ts = day(start, "start"), day(end, "end")
    if start_ts.tz is not None:
        start_ts = start_ts.tz_localize(None)
    if end_ts.tz is not None:
        end_ts = end_ts.tz_localize(None)
    if start_ts > end_ts:
        raise InvalidRunParameters(f"start {start_ts.date()} is after end {end_ts.date()}")
    margin = pd.Timedelta(days=7)  # so range queries at the edges stay inside the calendar
    try:
        with warnings.catch_warnings():
            # exchange_calendars 4.13 reads Series.values on tz-aware data, which pandas 3.1
            # deprecates; harmless for us (we only read opens/closes through DatetimeIndex).
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            cal = xcals.get_calendar(name, start=start_ts - margin, end=end_ts + margin)
    except xcals.errors.InvalidCalendarName as exc:
        raise InvalidRunParameters(
            f"unknown calendar '{calendar}' (e.g. XNYS, XLON, 24/7)"
        ) from exc
    except (ValueError, xcals.errors.DateOutOfBounds) as exc:
        raise InvalidRunParameters(f"calendar {calendar}: {exc}") from exc
    labels = cal.sessions_in_range(start_ts, end_ts)
    if len(labels) == 0:
        return (np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64))
    opens = pd.DatetimeIndex(cal.opens.loc[labels]).tz_convert("UTC").as_unit("ns")
    closes = pd.DatetimeIndex(cal.closes.loc[labels]).tz_convert("UTC").as_unit("ns")
    days = (labels.as_unit("ns").asi8 // _NS_PER_DAY).astype(np.int32)
    return days, opens.asi8.copy(), closes.asi8.copy()
