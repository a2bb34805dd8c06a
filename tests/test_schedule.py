"""schedule_function with zipline's date and time rules."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

import rustybt
from rustybt.api import date_rules, order, schedule_function, symbol, time_rules
from rustybt.errors import InvalidRunParameters, RegisterTradingControlPostInit


def _fired(bundle, date_rule, time_rule, half_days=True, **run):
    hits = []

    class S(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.schedule_function(
                lambda c, d: hits.append(self.get_datetime()),
                date_rule,
                time_rule,
                half_days=half_days,
            )

    rustybt.run_algorithm(algorithm=S, bundle=bundle, **run)
    return pd.DatetimeIndex(hits)


def test_date_rules_on_daily_bars(small_bundle):
    sessions = small_bundle.sessions  # H1 2022
    every = _fired(small_bundle, date_rules.every_day(), time_rules.market_open())
    assert len(every) == len(sessions)
    ms = _fired(small_bundle, date_rules.month_start(), time_rules.market_close())
    assert [t.strftime("%m-%d") for t in ms.tz_convert("America/New_York")] == [
        "01-03",
        "02-01",
        "03-01",
        "04-01",
        "05-02",
        "06-01",
    ]
    me = _fired(small_bundle, date_rules.month_end(days_offset=1), time_rules.market_open())
    assert [t.strftime("%m-%d") for t in me.tz_convert("America/New_York")][:3] == [
        "01-28",
        "02-25",
        "03-30",
    ]
    ws = _fired(small_bundle, date_rules.week_start(), time_rules.market_open())
    # Jan 17th 2022 was a holiday (MLK day): that week starts on Tuesday the 18th
    assert "2022-01-18" in {t.strftime("%Y-%m-%d") for t in ws.tz_convert("America/New_York")}
    assert all(t.day_of_week <= 1 for t in ws.tz_convert("America/New_York"))
    we = _fired(small_bundle, date_rules.week_end(), time_rules.market_open())
    # the bundle ends on Thursday June 30th; its week ends on Friday July 1st (a session of
    # the calendar, not of the bundle), so week_end does not fire in the last week
    assert len(we) == len(ws) - 1
    assert we[-1].tz_convert("America/New_York").strftime("%m-%d") == "06-24"


def test_time_rules_on_minute_bars():
    bundle = rustybt.ingest_synthetic(
        "sched-min", assets=1, start="2023-11-22", end="2023-11-27", frequency="minute"
    )
    ny = lambda idx: [t.strftime("%m-%d %H:%M") for t in idx.tz_convert("America/New_York")]  # noqa: E731
    assert ny(_fired(bundle, date_rules.every_day(), time_rules.market_open())) == [
        "11-22 09:31",
        "11-24 09:31",
        "11-27 09:31",
    ]
    assert ny(_fired(bundle, date_rules.every_day(), time_rules.market_open(hours=1))) == [
        "11-22 10:30",
        "11-24 10:30",
        "11-27 10:30",
    ]
    # Nov 24th 2023 closes at 13:00
    assert ny(_fired(bundle, date_rules.every_day(), time_rules.market_close(minutes=15))) == [
        "11-22 15:45",
        "11-24 12:45",
        "11-27 15:45",
    ]
    assert ny(
        _fired(bundle, date_rules.every_day(), time_rules.market_close(), half_days=False)
    ) == ["11-22 15:59", "11-27 15:59"]
    assert len(_fired(bundle, date_rules.every_day(), time_rules.every_minute())) == 390 + 210 + 390


def test_scheduled_orders_fill_next_bar_and_function_style(hand_bundle):
    def initialize(context):
        context.asset = symbol("AAA")
        schedule_function(buy, date_rules.every_day(), time_rules.market_open())

    def buy(context, data):
        order(context.asset, 1)

    perf = rustybt.run_algorithm(initialize=initialize, bundle=hand_bundle)
    assert perf["transactions"].map(len).tolist() == [0, 1, 1, 1, 1]


def test_schedule_only_in_initialize(hand_bundle):
    class Late(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.schedule_function(lambda c, d: None)

    with pytest.raises(RegisterTradingControlPostInit, match="schedule_function"):
        rustybt.run_algorithm(algorithm=Late, bundle=hand_bundle)


def _days(times) -> list[str]:
    return [t.strftime("%m-%d") for t in times.tz_convert("America/New_York")]


@pytest.fixture(scope="module")
def mid_week_bundle() -> rustybt.Bundle:
    """From Tuesday Jan 4th to Thursday Feb 24th 2022: the bundle's first and last weeks
    and months have sessions (Jan 3rd; Feb 25th and 28th) that it does not."""
    return rustybt.ingest_synthetic(
        "sched-mid-week", assets=1, start="2022-01-04", end="2022-02-24"
    )


@pytest.fixture(scope="module")
def after_holiday_bundle() -> rustybt.Bundle:
    """From Tuesday Jan 18th 2022 (Monday was MLK day) to Friday July 1st."""
    return rustybt.ingest_synthetic(
        "sched-after-holiday", assets=1, start="2022-01-18", end="2022-07-01"
    )


@pytest.mark.parametrize(
    ("rule", "first", "last"),
    [
        # Jan 3rd (a session of the calendar, not of the bundle) starts the week and month
        (date_rules.week_start(), "01-10", "02-22"),
        (date_rules.month_start(), "02-01", "02-01"),
        # Feb 24th is not the last session of its week (25th) nor month (28th)
        (date_rules.week_end(), "01-07", "02-18"),
        (date_rules.month_end(), "01-31", "01-31"),
        (date_rules.week_end(days_offset=1), "01-06", "02-24"),
    ],
    ids=["week_start", "month_start", "week_end", "month_end", "week_end(1)"],
)
def test_date_rules_at_the_bundles_edges_follow_the_calendar(mid_week_bundle, rule, first, last):
    fired = _days(_fired(mid_week_bundle, rule, time_rules.market_open()))
    assert (fired[0], fired[-1]) == (first, last)


def test_date_rules_at_the_bundles_edges_after_a_holiday(after_holiday_bundle):
    fire = lambda rule: _days(_fired(after_holiday_bundle, rule, time_rules.market_open()))  # noqa: E731
    # Jan 18th is the first session of its week (MLK day), not of its month
    assert fire(date_rules.week_start())[0] == "01-18"
    assert fire(date_rules.month_start())[:2] == ["02-01", "03-01"]
    # July 1st ends its week but not its month: month_start fires there, month_end not
    assert fire(date_rules.week_end())[-1] == "07-01"
    assert fire(date_rules.month_start())[-1] == "07-01"
    assert fire(date_rules.month_end())[-1] == "06-30"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: time_rules.market_open(offset=datetime.timedelta(minutes=5), minutes=5),
            "pass either offset= or hours= / minutes=, not both",
        ),
        (
            lambda: time_rules.market_open(30),
            "offset must be a datetime.timedelta (or pass hours= and/or minutes=), got 30",
        ),
        (
            lambda: time_rules.market_close(offset=datetime.timedelta(seconds=90)),
            "offset must be a whole number of minutes, got 1.5 minutes",
        ),
        (
            lambda: time_rules.market_close(hours=12, minutes=1),
            "offset must be in between 1 minute and 12 hours inclusive (as zipline), got 721 "
            "minutes",
        ),
        (lambda: time_rules.market_open(minutes="5"), "minutes must be a number, got '5'"),
        (
            lambda: date_rules.week_start(days_offset=5),
            "days_offset must be in between 0 and 4 inclusive for week rules (as zipline), got 5",
        ),
        (
            lambda: date_rules.month_end(days_offset=23),
            "days_offset must be in between 0 and 22 inclusive for month rules (as zipline), "
            "got 23",
        ),
        (
            lambda: date_rules.week_end(days_offset=True),
            "days_offset must be a non-negative integer, got True",
        ),
    ],
    ids=[
        "offset and minutes",
        "offset an int",
        "90 seconds",
        "12h01",
        "minutes a str",
        "week_start(5)",
        "month_end(23)",
        "days_offset True",
    ],
)
def test_rule_arguments_zipline_refuses(call, message):
    with pytest.raises(InvalidRunParameters) as info:
        call()
    assert str(info.value) == message and isinstance(info.value, ValueError)


def test_rule_arguments_zipline_takes():
    minutes = datetime.timedelta(minutes=90)
    assert time_rules.market_open(offset=minutes) == time_rules.market_open(hours=1, minutes=30)
    assert time_rules.market_close(offset=pd.Timedelta(hours=12)).offset_minutes == 720
    assert time_rules.market_close(minutes=1) == time_rules.market_close()
    assert date_rules.month_start(days_offset=22).days_offset == 22
    assert date_rules.week_end(days_offset=4.0) == date_rules.week_end(days_offset=4)


@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
def test_weeks_group_dates_as_iso_weeks(tz):
    """The week rules' grouping (day arithmetic) is the ISO calendar's, across year ends
    (ISO week 1 may start in December, week 53 end in January) and before 1970."""
    from rustybt.schedule import _monday_weeks

    days = pd.date_range("1968-12-20", "2031-01-10", freq="D", tz=tz)
    weeks = _monday_weeks(days)
    iso = days.isocalendar()
    iso_week = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy()).astype("int64")
    new_week = weeks[1:] != weeks[:-1]
    assert (new_week == (iso_week[1:] != iso_week[:-1])).all()
    assert (new_week == (days[1:].dayofweek == 0)).all()  # every Monday, only Mondays
