"""schedule_function with zipline's date and time rules."""

from __future__ import annotations

import pandas as pd
import pytest

import rustybt
from rustybt.api import date_rules, order, schedule_function, symbol, time_rules
from rustybt.errors import RegisterTradingControlPostInit


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
    assert len(we) == len(ws)


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
