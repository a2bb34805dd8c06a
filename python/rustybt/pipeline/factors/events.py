"""zipline's event factors. They read event datasets (earnings dates and the like), which
rustybt bundles do not carry yet: making one raises an error that says so."""

from __future__ import annotations

from rustybt.errors import PipelineError
from rustybt.pipeline.term import Factor


class _EventFactor(Factor):
    def __new__(cls, *args, **kwargs):
        raise PipelineError(
            f"{cls.__name__} needs an event dataset (e.g. earnings dates); rustybt bundles "
            "carry prices, volumes, splits and dividends only"
        )


class BusinessDaysSincePreviousEvent(_EventFactor):
    """Not available: needs an event dataset."""


class BusinessDaysUntilNextEvent(_EventFactor):
    """Not available: needs an event dataset."""


__all__ = ["BusinessDaysSincePreviousEvent", "BusinessDaysUntilNextEvent"]
