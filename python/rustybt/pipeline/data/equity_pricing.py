"""The bundle's daily prices and volumes as a dataset (zipline's ``EquityPricing``)."""

from __future__ import annotations

from rustybt.pipeline.data.dataset import Column, DataSet


class EquityPricing(DataSet):
    """Daily ``open``, ``high``, ``low``, ``close`` and ``volume`` of every asset of the
    bundle. On each pipeline date the values are the previous session's, adjusted for
    splits and dividends known that day."""

    open = Column(float)
    high = Column(float)
    low = Column(float)
    close = Column(float)
    volume = Column(float)


#: zipline's older name for :class:`EquityPricing`.
USEquityPricing = EquityPricing

__all__ = ["EquityPricing", "USEquityPricing"]
