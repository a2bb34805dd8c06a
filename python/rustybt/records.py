"""The perf frame's record columns: ``orders``, ``transactions`` and ``positions``.

Each value of these columns is one session's list of record dicts, in zipline's shapes
(``perf["orders"].iloc[i]`` is a list of order dicts, as zipline's is). A 50-asset daily
run has tens of thousands of them, and making them was a quarter of the run; most runs
never read them (a sweep reads returns, a tear sheet reads returns and positions). So the
engine keeps the records, and a column makes its dicts the first time anything reads it:
an element, an iteration, a copy that is written to, a ``repr``, a pickle. Every read
after that sees the same lists.

The columns' dtype is ``records`` (:class:`RecordsDtype`), a pandas extension dtype,
where zipline's is ``object``; everything else reads as an object column of lists does,
but for pandas' ``.str`` methods, which pandas allows on object columns alone
(``perf.positions.map(len)`` counts what ``perf.positions.str.len()`` does):

>>> import numpy as np, pandas as pd
>>> from rustybt.records import RecordsArray
>>> day = [{"sid": 1, "amount": 10}]
>>> s = pd.Series(RecordsArray._from_sequence([day, [], day]))
>>> s.dtype
records
>>> s.iloc[0] is s.iloc[2]
True
>>> s.map(len).tolist()
[1, 0, 1]
>>> s.explode().dropna().tolist()
[{'sid': 1, 'amount': 10}, {'sid': 1, 'amount': 10}]
>>> s.sum()
[{'sid': 1, 'amount': 10}, {'sid': 1, 'amount': 10}]
>>> np.asarray(s).dtype
dtype('O')
>>> s.astype(object).dtype
dtype('O')
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import (
    ExtensionArray,
    ExtensionDtype,
    register_extension_dtype,
    take,
)
from pandas.api.indexers import check_array_indexer
from pandas.api.types import is_integer, pandas_dtype

__all__ = ["RecordsArray", "RecordsDtype", "record_column"]


@register_extension_dtype
class RecordsDtype(ExtensionDtype):
    """The dtype of a perf record column: each value is a session's list of dicts."""

    name = "records"
    type = list
    kind = "O"
    #: what reindexing puts where a column has no value (an object column's NaN)
    na_value = np.nan

    @classmethod
    def construct_array_type(cls) -> type[RecordsArray]:
        return RecordsArray

    def __repr__(self) -> str:
        return self.name


class _Source:
    """One column's values, an object array made on first use and read-only after that
    (arrays that share it copy before they write)."""

    __slots__ = ("_build", "_values", "complete", "n")

    def __init__(
        self,
        n: int,
        build: Callable[[], np.ndarray] | None = None,
        values: np.ndarray | None = None,
        complete: bool = False,
    ) -> None:
        self.n = n
        self._build = build
        self._values = values
        if values is not None:
            values.flags.writeable = False
        #: no value is missing (the engine's columns: every session has a list)
        self.complete = complete

    def values(self) -> np.ndarray:
        if self._values is None:
            assert self._build is not None
            values = self._build()
            if len(values) != self.n:
                raise RuntimeError(
                    f"a record column built {len(values)} values for {self.n} sessions"
                )
            values.flags.writeable = False
            self._values, self._build = values, None
        return self._values


def _object_array(items: Sequence[Any]) -> np.ndarray:
    """A 1-d object array of `items` as they are (lists stay elements, whatever their
    lengths: ``np.array`` would make equal-length lists a second dimension)."""
    values = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        values[i] = item
    return values


class RecordsArray(ExtensionArray):
    """A record column's values: a view (``positions``) of a shared :class:`_Source`."""

    _dtype = RecordsDtype()

    def __init__(self, source: _Source, positions: np.ndarray | None = None) -> None:
        self._source = source
        #: indexes into the source's values; None for all of them, in order
        self._positions = positions

    # -- construction -------------------------------------------------------------------

    @classmethod
    def _of_values(cls, values: np.ndarray) -> RecordsArray:
        return cls(_Source(len(values), values=values))

    @classmethod
    def _from_sequence(cls, scalars, *, dtype=None, copy: bool = False) -> RecordsArray:
        if isinstance(scalars, cls):
            return scalars.copy() if copy else scalars
        if isinstance(scalars, np.ndarray) and scalars.dtype == object and scalars.ndim == 1:
            return cls._of_values(scalars.copy())
        return cls._of_values(_object_array(list(scalars)))

    @classmethod
    def _from_factorized(cls, values, original) -> RecordsArray:
        return cls._of_values(_object_array(list(values)))

    # -- the values ---------------------------------------------------------------------

    def _objects(self) -> np.ndarray:
        """This array's values as an object array (the shared one itself where this array
        is all of it: read-only)."""
        values = self._source.values()
        return values if self._positions is None else values[self._positions]

    def _all_positions(self) -> np.ndarray:
        if self._positions is None:
            return np.arange(self._source.n, dtype=np.intp)
        return self._positions

    @property
    def dtype(self) -> RecordsDtype:
        return self._dtype

    @property
    def nbytes(self) -> int:
        return 8 * len(self)

    def __len__(self) -> int:
        return self._source.n if self._positions is None else len(self._positions)

    def __getitem__(self, key):
        if is_integer(key):
            values = self._source.values()
            return values[key] if self._positions is None else values[self._positions[key]]
        if isinstance(key, tuple) and len(key) == 1:
            key = key[0]
        if not isinstance(key, slice):
            key = check_array_indexer(self, key)
        return type(self)(self._source, self._all_positions()[key])

    def __iter__(self):
        return iter(self._objects())

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self._objects()
        if dtype is not None and np.dtype(dtype) != object:
            return np.asarray(values, dtype=dtype)
        return values.copy() if copy else values

    def tolist(self) -> list:
        return list(self._objects())

    def isna(self) -> np.ndarray:
        if self._source.complete:
            return np.zeros(len(self), dtype=bool)
        return np.asarray(pd.isna(self._objects()), dtype=bool)

    def copy(self) -> RecordsArray:
        # the values are shared until one of the two is written to (__setitem__ copies):
        # an object array's copy shares its elements too
        return type(self)(self._source, self._positions)

    def take(self, indices, *, allow_fill: bool = False, fill_value=None) -> RecordsArray:
        indices = np.asarray(indices, dtype=np.intp)
        if allow_fill and (indices < 0).any():
            fill = self.dtype.na_value if fill_value is None else fill_value
            return self._of_values(take(self._objects(), indices, allow_fill=True, fill_value=fill))
        return type(self)(self._source, self._all_positions()[indices])

    @classmethod
    def _concat_same_type(cls, to_concat: Sequence[RecordsArray]) -> RecordsArray:
        first = to_concat[0]._source
        if all(a._source is first for a in to_concat):
            return cls(first, np.concatenate([a._all_positions() for a in to_concat]))
        return cls._of_values(np.concatenate([a._objects() for a in to_concat]))

    def __setitem__(self, key, value) -> None:
        values = np.array(self._objects(), dtype=object)  # this array's own, writable
        if isinstance(key, tuple) and len(key) == 1:
            key = key[0]
        if is_integer(key):
            values[key] = value
        else:
            key = check_array_indexer(self, key)
            targets = np.arange(len(values))[key]
            if isinstance(value, (ExtensionArray, np.ndarray, pd.Series, pd.Index)):
                items = list(np.asarray(value, dtype=object))
            elif (
                isinstance(value, list)
                and len(value) == len(targets)
                and all(isinstance(v, list) or pd.api.types.is_scalar(v) for v in value)
                and any(isinstance(v, list) for v in value)
            ):
                items = value  # one list per target
            else:
                items = [value] * len(targets)  # the same value in each
            if len(items) != len(targets):
                raise ValueError(
                    f"cannot set {len(items)} values into {len(targets)} places of a record column"
                )
            for i, item in zip(targets, items, strict=True):
                values[i] = item
        self._source, self._positions = _Source(len(values), values=values), None

    # -- what an object column of lists does --------------------------------------------

    def astype(self, dtype, copy: bool = True):
        dtype = pandas_dtype(dtype)
        if isinstance(dtype, RecordsDtype):
            return self.copy() if copy else self
        if dtype == np.dtype(object):
            return np.array(self._objects(), dtype=object)
        # as an object column converts (``astype(str)``: each list's text)
        converted = pd.Series(self._objects(), dtype=object, copy=False).astype(dtype)
        return converted.array if isinstance(dtype, ExtensionDtype) else converted.to_numpy()

    def __eq__(self, other) -> np.ndarray:  # type: ignore[override]
        if isinstance(other, (pd.Series, pd.Index, pd.DataFrame)):
            return NotImplemented
        left = self._objects()
        if isinstance(other, (RecordsArray, np.ndarray)):
            right = np.asarray(other, dtype=object)
            if len(right) != len(left):
                raise ValueError("lengths must match to compare")
            return np.array([a == b for a, b in zip(left, right, strict=True)], dtype=bool)
        return np.array([a == other for a in left], dtype=bool)

    def _reduce(self, name: str, *, skipna: bool = True, keepdims: bool = False, **kwargs):
        # as an object column does it (``sum`` concatenates the sessions' lists)
        series = pd.Series(self._objects(), dtype=object, copy=False)
        method = getattr(series, name, None)
        if method is None:
            raise TypeError(f"a record column does not support the reduction {name!r}")
        result = method(skipna=skipna, **kwargs)
        if keepdims:
            return self._of_values(_object_array([result]))
        return result

    def shift(self, periods: int = 1, fill_value=None) -> RecordsArray:
        # as an object column shifts (the places shifted in: None in pandas 3, NaN in 2)
        shifted = pd.Series(self._objects(), dtype=object, copy=False).shift(
            periods, fill_value=fill_value
        )
        return self._of_values(shifted.to_numpy(dtype=object))

    def map(self, mapper, na_action=None):
        from pandas.core.algorithms import map_array

        return map_array(self._objects(), mapper, na_action=na_action)

    def _explode(self) -> tuple[np.ndarray, np.ndarray]:
        from pandas._libs import reshape

        return reshape.explode(np.array(self._objects(), dtype=object))

    def __reduce__(self):
        return (_unpickle, (np.array(self._objects(), dtype=object),))

    def __repr__(self) -> str:
        return f"<RecordsArray>\n{pd.Series(self._objects(), dtype=object).to_string()}"


def _unpickle(values: np.ndarray) -> RecordsArray:
    return RecordsArray._of_values(values)


def record_column(records: Any, kind: str) -> RecordsArray:
    """The ``kind`` column (``orders``, ``transactions``, ``positions``) of an engine's
    records (``_core.PerfRecords``), built on first use."""

    def build() -> np.ndarray:
        # tens of thousands of dicts the engine takes off the GC's lists: a collection
        # would only rescan the young ones
        enabled = gc.isenabled()
        gc.disable()
        try:
            return records.column(kind)
        finally:
            if enabled:
                gc.enable()

    return RecordsArray(_Source(len(records), build=build, complete=True))
