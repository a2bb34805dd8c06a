"""The exceptions rustybt raises. One base class, :class:`RustyBTError`; zipline's names
where zipline has one (``SymbolNotFound``, ``OrderDuringInitialize``, ...).

Errors raised by the Rust engine are mapped onto these classes by the binding, so
``except rustybt.errors.RustyBTError`` catches everything the library itself raises.

Example:
    >>> import rustybt
    >>> try:
    ...     rustybt.load_bundle("/no/such/bundle")
    ... except rustybt.errors.BundleNotFound as exc:
    ...     print(type(exc).__name__)
    BundleNotFound
"""

from __future__ import annotations


class RustyBTError(Exception):
    """Base class of every error rustybt raises."""


class BundleError(RustyBTError):
    """A bundle could not be opened or written."""


class BundleNotFound(BundleError, LookupError):
    """No bundle of that name (or at that path) exists."""


class IngestError(BundleError, ValueError):
    """Input data was rejected; the message names file, line, column and reason.

    Nothing is written when ingest fails: an earlier bundle of the same name stays as it was.
    """


class SymbolNotFound(RustyBTError, LookupError):
    """A symbol (or sid) is not in the bundle."""


class SidsNotFound(SymbolNotFound):
    """``sid()`` was given a sid that is not in the bundle (zipline's name)."""


class InvalidRunParameters(RustyBTError, ValueError):
    """A run was asked for with parameters that cannot work (dates, capital, params, ...)."""


class BadOrderParameters(RustyBTError, ValueError):
    """An order was placed with an invalid amount, price or asset."""


class CannotOrderDelistedAsset(BadOrderParameters):
    """The asset cannot be ordered now: its data has ended, or (for an order sized by value
    or percent) it has not started trading yet or has no price yet. As in zipline, an order
    for a number of shares placed before the asset's first bar is accepted and waits for
    it."""


class ExactRangeExceeded(RustyBTError):
    """A position grew past what the exact ledger holds without rounding (worth more than
    10^15 after its price rose): the run stops there rather than round silently."""


class ScheduleFunctionInvalidCalendar(InvalidRunParameters):
    """``schedule_function`` got a calendar other than ``calendars.US_EQUITIES`` (or
    ``None``, the run's calendar)."""


class OrderDuringInitialize(RustyBTError):
    """Orders may not be placed in ``initialize`` (nor in ``before_trading_start`` or
    ``analyze``)."""


class OrderInBeforeTradingStart(OrderDuringInitialize):
    """An order was placed in ``before_trading_start`` (zipline's name). A subclass of
    :class:`OrderDuringInitialize`, so code catching that still catches it."""


class RegisterTradingControlPostInit(RustyBTError):
    """Trading controls and cost models can only be set in ``initialize``. The setters
    zipline has a more specific error for raise that subclass: :class:`SetCommissionPostInit`,
    :class:`SetSlippagePostInit`, :class:`SetCancelPolicyPostInit`,
    :class:`RegisterAccountControlPostInit`."""


class SetCommissionPostInit(RegisterTradingControlPostInit):
    """``set_commission`` was called after ``initialize`` (zipline's name)."""


class SetSlippagePostInit(RegisterTradingControlPostInit):
    """``set_slippage`` was called after ``initialize`` (zipline's name)."""


class SetCancelPolicyPostInit(RegisterTradingControlPostInit):
    """``set_cancel_policy`` was called after ``initialize`` (zipline's name)."""


class RegisterAccountControlPostInit(RegisterTradingControlPostInit):
    """An account control (``set_max_leverage``) was set after ``initialize`` (zipline's
    name)."""


class SetBenchmarkOutsideInitialize(RustyBTError):
    """``set_benchmark`` was called outside ``initialize`` (zipline's error of that name)."""


class BenchmarkAssetNotAvailableTooEarly(InvalidRunParameters):
    """``set_benchmark`` named an asset whose data starts after the run's first session."""


class BenchmarkAssetNotAvailableTooLate(InvalidRunParameters):
    """``set_benchmark`` named an asset whose data ends before the run's last session."""


class TradingControlViolation(RustyBTError):
    """An order broke a trading control set with ``on_error="fail"`` (zipline's name)."""


class AccountControlViolation(RustyBTError):
    """The account broke an account control such as ``set_max_leverage`` (zipline's name)."""


class HistoryWindowError(RustyBTError, ValueError):
    """A ``data.history`` / ``data.current`` request is invalid (field, frequency, count)."""


class HistoryWindowStartsBeforeData(HistoryWindowError):
    """A ``data.history`` window reaches before the bundle's first bar (zipline's error;
    raised only under ``set_history_before_data("raise")``, which zipline's behaviour is;
    by default the missing bars are NaN and the run warns once)."""


class StrategyError(RustyBTError):
    """The strategy's own code raised; the original exception is ``__cause__``, with its
    traceback intact."""


class InternalError(RustyBTError):
    """A bug in rustybt (a Rust panic was caught at the boundary). Please report it."""


class PipelineError(RustyBTError, ValueError):
    """A pipeline or one of its terms is invalid, or cannot be computed on this data."""


class NonWindowSafeInput(PipelineError):
    """A windowed term takes as input a term whose values change meaning across a window
    (zipline's name), e.g. a raw ``Latest`` of a custom factor."""


class WindowLengthNotSpecified(PipelineError):
    """A term that needs a ``window_length`` was made without one (zipline's name)."""


class WindowLengthNotPositive(PipelineError):
    """A ``window_length`` below 1 where a window is needed (zipline's name)."""


class TermInputsNotSpecified(PipelineError):
    """A term that needs ``inputs`` was made without them (zipline's name)."""


class NoFurtherDataError(PipelineError):
    """A window reaches before the bundle's first session (zipline's name)."""


class UnsupportedDataType(PipelineError):
    """A term's dtype is not float64, bool or int64 (zipline's name)."""


class NoSuchPipeline(PipelineError, KeyError):
    """``pipeline_output`` for a name never attached (zipline's name)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicatePipelineName(PipelineError):
    """``attach_pipeline`` twice with the same name (zipline's name)."""


class PipelineOutputDuringInitialize(PipelineError):
    """``pipeline_output`` in ``initialize``, before any data (zipline's name)."""


class AttachPipelineAfterInitialize(PipelineError):
    """``attach_pipeline`` outside ``initialize`` (zipline's name)."""


__all__ = [
    "AccountControlViolation",
    "AttachPipelineAfterInitialize",
    "BadOrderParameters",
    "BundleError",
    "BundleNotFound",
    "CannotOrderDelistedAsset",
    "DuplicatePipelineName",
    "ExactRangeExceeded",
    "HistoryWindowError",
    "HistoryWindowStartsBeforeData",
    "IngestError",
    "InternalError",
    "InvalidRunParameters",
    "NoFurtherDataError",
    "NoSuchPipeline",
    "NonWindowSafeInput",
    "OrderDuringInitialize",
    "OrderInBeforeTradingStart",
    "PipelineError",
    "PipelineOutputDuringInitialize",
    "RegisterAccountControlPostInit",
    "RegisterTradingControlPostInit",
    "RustyBTError",
    "ScheduleFunctionInvalidCalendar",
    "SetBenchmarkOutsideInitialize",
    "SetCancelPolicyPostInit",
    "SetCommissionPostInit",
    "SetSlippagePostInit",
    "SidsNotFound",
    "StrategyError",
    "SweepError",
    "SymbolNotFound",
    "TermInputsNotSpecified",
    "TradingControlViolation",
    "UnsupportedDataType",
    "WindowLengthNotPositive",
    "WindowLengthNotSpecified",
]


class SweepError(RustyBTError):
    """A parameter sweep's workers could not run it: the strategy or bundle could not be
    loaded in a worker, or a script starts a process-backend sweep at module level
    (without ``if __name__ == "__main__":``), which its workers re-import."""
