"""Arguments zipline takes that rustybt cannot honour are refused by name, never ignored
(issue #15, item 8): schedule_function's calendar, the us_futures cost models."""

from __future__ import annotations

import pytest

import rustybt
import rustybt.reference as reference
from rustybt.api import calendars, continuous_future, fetch_csv, future_symbol
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


# -- zipline.api names ----------------------------------------------------------------------------


def test_zipline_api_re_exports_are_rustybt_s_own():
    import rustybt.api as api
    from rustybt import finance
    from rustybt.finance import slippage as slippage_module

    assert api.slippage is finance.slippage and api.commission is finance.commission
    assert api.execution is finance.execution and api.cancel_policy is finance.cancel_policy
    assert api.FixedSlippage is slippage_module.FixedSlippage
    assert api.VolumeShareSlippage is slippage_module.VolumeShareSlippage
    assert api.FixedBasisPointsSlippage is slippage_module.FixedBasisPointsSlippage


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: future_symbol("CLF22"), "futures are not"),
        (lambda: continuous_future("CL"), "futures are not"),
        (lambda: fetch_csv("http://x/y.csv"), "ingest the data"),
    ],
)
def test_futures_and_fetcher_names_say_why_they_are_refused(hand_bundle, engine, call, match):
    def initialize(context):
        call()

    with pytest.raises(InvalidRunParameters, match=match):
        engine(initialize=initialize, bundle=hand_bundle)


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_market_order_places_what_a_loop_of_orders_places(hand_bundle, engine):
    """zipline's batch_market_order: one market order per nonzero count, ids in order; the
    same fills as calling order() for each."""
    import pandas as pd

    runs = {}
    for style in ("batch", "loop"):
        ids = []

        class Algo(rustybt.TradingAlgorithm):
            def initialize(self, context):
                context.done = False

            def handle_data(self, context, data, style=style, ids=ids):
                if context.done:
                    return
                context.done = True
                counts = pd.Series(
                    {self.symbol("AAA"): 10, self.symbol("BBB"): 0, self.symbol("CCC"): -5}
                )
                if style == "batch":
                    ids.extend(self.batch_market_order(counts))
                else:
                    ids.extend(self.order(a, n) for a, n in counts.items() if n)

        perf = engine(algorithm=Algo, bundle=hand_bundle, capital_base=10_000)
        fills = [(t["sid"], t["amount"], t["price"]) for day in perf["transactions"] for t in day]
        runs[style] = (ids, fills)
    assert runs["batch"] == runs["loop"]
    ids, fills = runs["batch"]
    assert len(ids) == 2 and len(fills) == 2  # BBB's zero placed nothing
