"""Arguments zipline takes that rustybt cannot honour are refused by name, never ignored
(issue #15, item 8): schedule_function's calendar, the us_futures cost models."""

from __future__ import annotations

import pytest

import rustybt
import rustybt.reference as reference
from rustybt.api import calendars
from rustybt.errors import InvalidRunParameters, ScheduleFunctionInvalidCalendar
from rustybt.finance import commission, slippage

ENGINES = (rustybt.run_algorithm, reference.run_algorithm)


def _scheduled(calendar):
    calls = []

    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.schedule_function(lambda context, data: calls.append(1), calendar=calendar)

    return Algo, calls


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("calendar", "match"),
    [
        ("BOGUS", r"schedule_function\(calendar='BOGUS'\): allowed: None"),
        (calendars.US_FUTURES, r"calendar='US_FUTURES'\): futures are not supported yet"),
    ],
)
def test_an_unknown_or_futures_calendar_is_refused(hand_bundle, engine, calendar, match):
    algo, _ = _scheduled(calendar)
    with pytest.raises(ScheduleFunctionInvalidCalendar, match=match):
        engine(algorithm=algo, bundle=hand_bundle)
    assert issubclass(ScheduleFunctionInvalidCalendar, InvalidRunParameters)


@pytest.mark.parametrize("engine", ENGINES)
def test_us_equities_schedules_on_the_run_s_calendar(hand_bundle, engine):
    default, on_default = _scheduled(None)
    equities, on_equities = _scheduled(calendars.US_EQUITIES)
    engine(algorithm=default, bundle=hand_bundle)
    engine(algorithm=equities, bundle=hand_bundle)
    assert len(on_equities) == len(on_default) == 5


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda a: a.set_slippage(us_futures=slippage.FixedSlippage()), id="slippage"),
        pytest.param(
            lambda a: a.set_commission(commission.PerShare(), us_futures=commission.PerTrade()),
            id="commission",
        ),
    ],
)
def test_a_us_futures_cost_model_is_refused(hand_bundle, engine, call):
    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            call(self)

    with pytest.raises(InvalidRunParameters, match=r"us_futures=.*futures are not supported"):
        engine(algorithm=Algo, bundle=hand_bundle)
