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


# -- history windows reaching before the bundle's first bar ---------------------------------------


def _history_algo(count: int, policy: str | None = None):
    seen = []

    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            if policy is not None:
                self.set_history_before_data(policy)

        def handle_data(self, context, data):
            seen.append(data.history(self.symbol("AAA"), "close", count, "1d"))

    return Algo, seen


@pytest.mark.parametrize("engine", ENGINES)
def test_a_window_before_the_bundle_s_first_bar_warns_once(hand_bundle, engine):
    algo, seen = _history_algo(4)
    with pytest.warns(RuntimeWarning, match=r"reaches before the bundle's first session") as w:
        engine(algorithm=algo, bundle=hand_bundle)
    assert len([x for x in w if "first session" in str(x.message)]) == 1  # once per run
    assert seen[0].isna().sum() == 3 and seen[3].isna().sum() == 0  # NaN where no bar


@pytest.mark.parametrize("engine", ENGINES)
def test_zipline_strict_raises_history_window_starts_before_data(hand_bundle, engine):
    from rustybt.errors import HistoryWindowStartsBeforeData

    algo, _ = _history_algo(4, "raise")
    with pytest.raises(HistoryWindowStartsBeforeData, match=r"only 1 bars exist"):
        engine(algorithm=algo, bundle=hand_bundle)


def test_a_window_inside_the_bundle_does_not_warn(hand_bundle, recwarn):
    algo, seen = _history_algo(1)
    rustybt.run_algorithm(algorithm=algo, bundle=hand_bundle)
    assert not [w for w in recwarn if "first session" in str(w.message)]
    assert len(seen) == 5


def test_a_bad_policy_is_refused(hand_bundle):
    algo, _ = _history_algo(1, "ignore")
    with pytest.raises(InvalidRunParameters, match="'warn' or 'raise', got 'ignore'"):
        rustybt.run_algorithm(algorithm=algo, bundle=hand_bundle)
