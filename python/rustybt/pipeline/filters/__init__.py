"""zipline's ``zipline.pipeline.filters``, by the same names."""

from rustybt.pipeline.filters.filter import (
    AllPresent,
    ArrayPredicate,
    CustomFilter,
    Filter,
    Latest,
    MaximumFilter,
    NotNullFilter,
    NullFilter,
    NumExprFilter,
    PercentileFilter,
    SingleAsset,
    StaticAssets,
    StaticSids,
)
from rustybt.pipeline.filters.smoothing import All, Any, AtLeastN

__all__ = [
    "All",
    "AllPresent",
    "Any",
    "ArrayPredicate",
    "AtLeastN",
    "CustomFilter",
    "Filter",
    "Latest",
    "MaximumFilter",
    "NotNullFilter",
    "NullFilter",
    "NumExprFilter",
    "PercentileFilter",
    "SingleAsset",
    "StaticAssets",
    "StaticSids",
]
