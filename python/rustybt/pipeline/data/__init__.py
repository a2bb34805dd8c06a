"""zipline's ``zipline.pipeline.data``, by the same names."""

from rustybt.pipeline.data.dataset import (
    BoundColumn,
    Column,
    DataSet,
    DataSetFamily,
    DataSetFamilySlice,
)
from rustybt.pipeline.data.equity_pricing import EquityPricing, USEquityPricing

__all__ = [
    "BoundColumn",
    "Column",
    "DataSet",
    "DataSetFamily",
    "DataSetFamilySlice",
    "EquityPricing",
    "USEquityPricing",
]
