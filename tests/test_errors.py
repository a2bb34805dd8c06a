"""Bad input ends in a clear exception from rustybt.errors that names the problem."""

from __future__ import annotations

import traceback

import pytest

import rustybt
from rustybt import _core
from rustybt.errors import (
    BadOrderParameters,
    BundleNotFound,
    IngestError,
    InternalError,
    InvalidRunParameters,
    OrderDuringInitialize,
    RegisterTradingControlPostInit,
    RustyBTError,
    StrategyError,
    SymbolNotFound,
)
from rustybt.finance import commission
from tests.conftest import write_csvdir


class Noop(rustybt.TradingAlgorithm):
    pass


def test_every_error_derives_from_the_base_class():
    for exc in (
        BundleNotFound,
        IngestError,
        SymbolNotFound,
        InvalidRunParameters,
        StrategyError,
        OrderDuringInitialize,
        InternalError,
        BadOrderParameters,
    ):
        assert issubclass(exc, RustyBTError)
    assert issubclass(BundleNotFound, LookupError)
    assert issubclass(IngestError, ValueError)


def test_unknown_bundle():
    with pytest.raises(BundleNotFound, match="no bundle 'nope-never-made'"):
        rustybt.run_algorithm(algorithm=Noop, bundle="nope-never-made")
    with pytest.raises(BundleNotFound, match="/no/such/dir"):
        rustybt.load_bundle("/no/such/dir")


def test_unknown_symbol(hand_bundle):
    class Bad(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.symbol("ZZZ")

    with pytest.raises(SymbolNotFound, match="'ZZZ' is not in bundle 'hand3'"):
        rustybt.run_algorithm(algorithm=Bad, bundle=hand_bundle)


def test_start_after_end_and_dates_outside_the_bundle(hand_bundle):
    with pytest.raises(InvalidRunParameters, match="start 2022-01-06 is after end 2022-01-04"):
        rustybt.run_algorithm(
            algorithm=Noop, bundle=hand_bundle, start="2022-01-06", end="2022-01-04"
        )
    with pytest.raises(InvalidRunParameters, match="before bundle 'hand3' begins"):
        rustybt.run_algorithm(
            algorithm=Noop, bundle=hand_bundle, start="2021-12-01", end="2022-01-04"
        )
    with pytest.raises(InvalidRunParameters, match="after bundle 'hand3' ends"):
        rustybt.run_algorithm(
            algorithm=Noop, bundle=hand_bundle, start="2022-01-04", end="2022-02-01"
        )
    with pytest.raises(InvalidRunParameters, match="is not a date"):
        rustybt.run_algorithm(algorithm=Noop, bundle=hand_bundle, start="yesterday-ish")


def test_bad_run_parameters(hand_bundle):
    with pytest.raises(InvalidRunParameters, match="capital_base must be a positive"):
        rustybt.run_algorithm(algorithm=Noop, bundle=hand_bundle, capital_base=-5)
    with pytest.raises(InvalidRunParameters, match="ledger must be"):
        rustybt.run_algorithm(algorithm=Noop, bundle=hand_bundle, ledger="binary")
    with pytest.raises(InvalidRunParameters, match="does not match bundle 'hand3'"):
        rustybt.run_algorithm(algorithm=Noop, bundle=hand_bundle, data_frequency="minute")


def test_unknown_param_is_an_error(hand_bundle):
    class WithParams(rustybt.TradingAlgorithm):
        fast = 10

    with pytest.raises(
        InvalidRunParameters, match=r"unknown parameter 'slow' for WithParams .*fast"
    ):
        rustybt.run_algorithm(algorithm=WithParams, bundle=hand_bundle, params={"slow": 3})


def test_malformed_csvdir_row_names_file_line_column(tmp_path):
    write_csvdir(
        tmp_path,
        {
            "GOOD": ["2022-01-03,10,11,9,10,100", "2022-01-04,10,11,9,10,100"],
            "BAD": ["2022-01-03,10,11,9,10,100", "2022-01-04,10,9.5,11,10,100"],
        },
    )
    with pytest.raises(IngestError) as info:
        rustybt.ingest_csvdir(tmp_path, "badcsv")
    msg = str(info.value)
    assert "BAD.csv:3" in msg and "column 'high'" in msg and "high 9.5 is below low 11" in msg
    # nothing was written
    with pytest.raises(BundleNotFound):
        rustybt.load_bundle("badcsv")


def test_off_calendar_date_is_refused(tmp_path):
    write_csvdir(tmp_path, {"AAA": ["2022-01-03,10,11,9,10,100", "2022-01-08,10,11,9,10,100"]})
    with pytest.raises(
        IngestError, match=r"AAA.csv:3: column 'date': 2022-01-08 is not a XNYS trading session"
    ):
        rustybt.ingest_csvdir(tmp_path, "weekend")


class Raises(rustybt.TradingAlgorithm):
    def initialize(self, context):
        context.asset = self.symbol("AAA")
        context.n = 0

    def handle_data(self, context, data):
        context.n += 1
        if context.n == 3:
            context.ratio = 1 / 0  # the user's own bug


def test_strategy_exception_is_wrapped_with_the_users_traceback(hand_bundle):
    with pytest.raises(StrategyError) as info:
        rustybt.run_algorithm(algorithm=Raises, bundle=hand_bundle)
    err = info.value
    assert "handle_data raised ZeroDivisionError at 2022-01-05" in str(err)
    cause = err.__cause__
    assert isinstance(cause, ZeroDivisionError)
    frames = traceback.extract_tb(cause.__traceback__)
    assert any(f.name == "handle_data" and "1 / 0" in (f.line or "") for f in frames)


def test_keyboard_interrupt_passes_through_untouched(hand_bundle):
    class Interrupt(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rustybt.run_algorithm(algorithm=Interrupt, bundle=hand_bundle)


def test_errors_in_initialize_and_analyze_are_wrapped(hand_bundle):
    class BadInit(rustybt.TradingAlgorithm):
        def initialize(self, context):
            raise ValueError("bad config")

    with pytest.raises(StrategyError, match="initialize raised ValueError: bad config"):
        rustybt.run_algorithm(algorithm=BadInit, bundle=hand_bundle)


def test_ordering_in_initialize_and_before_trading_start(hand_bundle):
    class OrderInInit(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.order(self.symbol("AAA"), 1)

    with pytest.raises(OrderDuringInitialize, match="initialize"):
        rustybt.run_algorithm(algorithm=OrderInInit, bundle=hand_bundle)

    class OrderInBTS(rustybt.TradingAlgorithm):
        def before_trading_start(self, context, data):
            self.order(self.symbol("AAA"), 1)

    with pytest.raises(OrderDuringInitialize, match="before_trading_start"):
        rustybt.run_algorithm(algorithm=OrderInBTS, bundle=hand_bundle)


def test_costs_can_only_be_set_in_initialize(hand_bundle):
    class Late(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.set_commission(commission.PerTrade(1.0))

    with pytest.raises(RegisterTradingControlPostInit, match="set_commission"):
        rustybt.run_algorithm(algorithm=Late, bundle=hand_bundle)


@pytest.mark.parametrize(
    ("amount", "match"),
    [(float("nan"), "finite"), (float("inf"), "finite"), ("10", "must be a number")],
)
def test_bad_order_amounts(hand_bundle, amount, match):
    class BadAmount(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.order(self.symbol("AAA"), amount)

    with pytest.raises(BadOrderParameters, match=match):
        rustybt.run_algorithm(algorithm=BadAmount, bundle=hand_bundle)


def test_bad_limit_price(hand_bundle):
    class BadLimit(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.order(self.symbol("AAA"), 1, limit_price=0)

    with pytest.raises(BadOrderParameters, match="limit price must be a positive"):
        rustybt.run_algorithm(algorithm=BadLimit, bundle=hand_bundle)


def test_a_rust_panic_becomes_internal_error_not_a_crash():
    with pytest.raises(InternalError, match="boom"):
        _core._panic_for_tests("boom")
    # the interpreter is still fine
    assert rustybt.__version__
