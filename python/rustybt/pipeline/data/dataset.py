"""Datasets and their columns (zipline's ``zipline.pipeline.data.dataset``)."""

from __future__ import annotations

import numpy as np

from rustybt.errors import PipelineError
from rustybt.pipeline.term import DEFAULT_MISSING, LoadableTerm, NotSpecified, Term


class Column:
    """A column declared on a :class:`DataSet` (an unbound description)."""

    def __init__(
        self, dtype, missing_value=NotSpecified, doc=None, metadata=None, currency_aware=False
    ):
        self.dtype = np.dtype(dtype)
        if self.dtype not in DEFAULT_MISSING:
            raise PipelineError(
                f"Column dtype {self.dtype} is not supported (float64, bool or int64)"
            )
        self.missing_value = (
            DEFAULT_MISSING[self.dtype] if missing_value is NotSpecified else missing_value
        )
        self.doc = doc
        self.metadata = dict(metadata or {})
        self.currency_aware = currency_aware

    def bind(self, dataset, name):
        return BoundColumn(
            dtype=self.dtype, missing_value=self.missing_value, dataset=dataset, name=name
        )


class BoundColumn(LoadableTerm):
    """A dataset's column: a term whose values are loaded from the bundle (raw on each
    date, adjusted for splits and dividends as of each computation date)."""

    params = ("dataset", "name")

    def __new__(cls, dtype, missing_value, dataset, name):
        return Term.__new__(
            cls, dtype=dtype, missing_value=missing_value, dataset=dataset, name=name
        )

    @property
    def dataset(self):
        return self.params["dataset"]

    @property
    def name(self) -> str:
        return self.params["name"]

    @property
    def qualname(self) -> str:
        return f"{self.dataset.__name__}.{self.name}"

    @property
    def latest(self):
        """The column's most recent value on each date (a factor, filter or classifier by
        the column's dtype)."""
        from rustybt.pipeline.factors.factor import Latest

        return Latest(inputs=(self,))

    def __repr__(self) -> str:
        return f"{self.qualname}::{self.dtype}"

    def graph_repr(self) -> str:
        return self.qualname


class _DataSetMeta(type):
    """Binds a dataset's :class:`Column` declarations to it when the class is made."""

    def __new__(mcls, name, bases, namespace):
        cls = super().__new__(mcls, name, bases, namespace)
        own = []
        for attr, value in namespace.items():
            if isinstance(value, Column):
                setattr(cls, attr, value.bind(cls, attr))
                own.append(getattr(cls, attr))
        inherited = [c for base in bases for c in getattr(base, "_column_list", ())]
        cls._column_list = tuple(own) + tuple(c for c in inherited if c.name not in namespace)
        return cls

    @property
    def columns(cls) -> frozenset:
        """The dataset's bound columns."""
        return frozenset(cls._column_list)


class DataSet(metaclass=_DataSetMeta):
    """A collection of columns (subclass it and declare :class:`Column`\\ s)."""

    domain = None

    @classmethod
    def get_column(cls, name: str) -> BoundColumn:
        column = getattr(cls, name, None)
        if not isinstance(column, BoundColumn):
            known = ", ".join(c.name for c in cls.columns) or "none"
            raise AttributeError(f"{cls.__name__} has no column {name!r} (its columns: {known})")
        return column

    @classmethod
    def specialize(cls, domain):
        """zipline's per-domain datasets: rustybt has one domain, the bundle's."""
        return cls


class DataSetFamily:
    """zipline's multi-dimensional datasets. rustybt bundles have none: making a slice
    raises an error that says so."""

    @classmethod
    def slice(cls, *args, **kwargs):
        raise PipelineError(
            f"{cls.__name__}: dataset families (multi-dimensional datasets) are not supported"
        )


class DataSetFamilySlice(DataSet):
    """A slice of a :class:`DataSetFamily` (not supported: see its ``slice``)."""


__all__ = ["BoundColumn", "Column", "DataSet", "DataSetFamily", "DataSetFamilySlice"]
