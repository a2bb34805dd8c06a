"""``data``: what a strategy sees of the market at the current bar, with zipline's shapes.

``data.current`` and ``data.history`` see bars up to and including the current one, never
the next. ``return_type="array"`` returns NumPy arrays instead of pandas objects (the fast
path: no index building).

Example (inside ``handle_data``)::

    closes = data.history(context.assets, "close", 30, "1d")      # DataFrame [30, assets]
    last = data.current(context.assets[0], "price")               # float
    matrix = data.history(context.assets, "close", 30, "1d", return_type="array")
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from rustybt import _core
from rustybt.errors import HistoryWindowError, HistoryWindowStartsBeforeData


def _block_frame_builder():
    """``build(values, index, columns)``: the DataFrame ``pd.DataFrame(values, index=index,
    columns=columns, copy=False)`` for a 2-D float64 ``values``, built straight around it
    as pandas' single block. ``pd.DataFrame(...)`` spends ~25 µs per call inferring and
    checking what a history window never varies (W1 asks for 470 windows a run); this
    takes ~9 µs. It uses pandas internals, so it is adopted only if it builds exactly the
    frame the public constructor builds on this pandas; otherwise (None) the public
    constructor is used."""
    try:
        from pandas._libs.internals import BlockPlacement
        from pandas.core.internals.blocks import new_block_2d
        from pandas.core.internals.managers import BlockManager

        placements: dict[int, BlockPlacement] = {}

        def build(values: np.ndarray, index: pd.Index, columns: pd.Index) -> pd.DataFrame:
            n = values.shape[1]
            placement = placements.get(n)
            if placement is None:
                placement = placements[n] = BlockPlacement(slice(0, n))
            mgr = BlockManager((new_block_2d(values.T, placement),), [columns, index], False)
            return pd.DataFrame._from_mgr(mgr, axes=mgr.axes)

        values = np.arange(6.0).reshape(3, 2)
        index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], tz="UTC")
        columns = pd.Index(["a", "b"], dtype=object)
        got = build(values, index, columns)
        want = pd.DataFrame(values, index=index, columns=columns, copy=False)
        same = (
            type(got) is pd.DataFrame
            and got.equals(want)
            and got.index.equals(want.index)
            and got.columns.equals(want.columns)
            and list(got.dtypes) == list(want.dtypes)
            and np.shares_memory(got.values, values)
        )
        got["c"] = 1.0  # the frame is a normal one: columns can be added
        return build if same and got.shape == (3, 3) else None
    except Exception:  # any pandas without these internals: the public way
        return None


_frame_from_block = _block_frame_builder()

#: Window indexes kept per bundle (and so shared by every run of a sweep in one process)
#: before the cache starts over.
_WINDOW_CACHE_SIZE = 100_000

_FIELDS = ("open", "high", "low", "close", "volume", "price")


def _is_single(x) -> bool:
    return isinstance(x, (str, _core.Asset)) or not isinstance(x, Iterable)


class BarData(_core.BarData):
    """The market at the current bar. Created by the engine; passed as ``data``."""

    def __init__(self, bundle):
        self._bundle = bundle
        self._frequency = bundle.frequency
        self._daily = bundle.frequency == "1d"
        times = bundle.sessions if self._daily else bundle.bar_times
        self._index = times
        self._columns: dict[tuple[int, ...], pd.Index] = {}
        self._last_assets: tuple | None = None
        self._times_ns = np.asarray(bundle._core.timestamps())
        self._targets: dict[str, tuple[np.ndarray, pd.Index]] = {}
        self._target_of: dict[str, str | None] = {}
        #: a window reaching before the bundle's first bar: "warn" (once, NaN bars) or
        #: "raise" (zipline's HistoryWindowStartsBeforeData); see
        #: TradingAlgorithm.set_history_before_data
        self.before_data = os.environ.get("RUSTYBT_HISTORY_BEFORE_DATA", "warn")
        self._warned_before_data = False
        #: set_asset_restrictions: the Restrictions objects can_trade consults
        self._restrictions: list = []

    def __new__(cls, bundle):
        return super().__new__(cls, bundle._core)

    # -- helpers ---------------------------------------------------------------------
    def _sid(self, asset) -> int:
        try:
            return asset.sid
        except AttributeError:
            raise HistoryWindowError(f"expected an Asset, got {asset!r}") from None

    def _target(self, frequency: str) -> str | None:
        """None for the run's own bar size, else the coarser size to aggregate to."""
        try:
            return self._target_of[frequency]
        except (KeyError, TypeError):
            pass
        from rustybt.bundles import _normalize_frequency

        if not isinstance(frequency, str):
            raise HistoryWindowError(f"frequency must be a string such as '1d', got {frequency!r}")
        freq = _normalize_frequency(frequency)
        if freq == self._frequency:
            self._target_of[frequency] = None
            return None
        if self._daily:
            raise HistoryWindowError(
                f"history frequency {frequency!r} is finer than this run's daily bars"
            )
        if freq not in self._targets:
            closes = self._bundle._core.resampled_timestamps(freq)  # validates the size
            labels = self._bundle.sessions if freq == "1d" else pd.DatetimeIndex(closes, tz="UTC")
            self._targets[freq] = (np.asarray(closes), labels)
        self._target_of[frequency] = freq
        return freq

    def _assets_index(self, assets) -> tuple[list[int], pd.Index]:
        # strategies ask for the same assets every bar: compare with the last request
        # (a tuple comparison that short-cuts on identical elements) before looking anything up
        key = tuple(assets)
        last = self._last_assets
        if last is not None and last[0] == key:
            return last[1], last[2]
        sids, cols = self._assets_index_slow(key)
        self._last_assets = (key, sids, cols)
        return sids, cols

    def _assets_index_slow(self, assets) -> tuple[list[int], pd.Index]:
        sids = [self._sid(a) for a in assets]
        key = tuple(sids)
        cols = self._columns.get(key)
        if cols is None:
            cols = pd.Index(list(assets), dtype=object)
            self._columns[key] = cols
        return sids, cols

    # -- zipline API -----------------------------------------------------------------
    def current(self, assets, fields):
        """Current value(s): a scalar for one asset and one field, a Series for a list of
        one of them, a DataFrame (assets × fields) for lists of both."""
        single_asset, single_field = _is_single(assets), isinstance(fields, str)
        asset_list = [assets] if single_asset else list(assets)
        field_list = [fields] if single_field else list(fields)
        values = {f: [self._current(self._sid(a), f) for a in asset_list] for f in field_list}
        if single_asset and single_field:
            return values[fields][0]
        if single_asset:
            return pd.Series([values[f][0] for f in field_list], index=field_list, name=assets)
        if single_field:
            return pd.Series(values[fields], index=pd.Index(asset_list, dtype=object), name=fields)
        return pd.DataFrame(values, index=pd.Index(asset_list, dtype=object))

    def history(self, assets, fields, bar_count: int, frequency: str, return_type: str = "pandas"):
        """The last ``bar_count`` bars up to and including the current one.

        Shapes follow zipline: one asset and one field → Series (time); many assets and one
        field → DataFrame (time × assets); one asset and many fields → DataFrame
        (time × fields); many of both → DataFrame indexed by (time, asset) with a column per
        field. ``return_type="array"`` gives the same data as NumPy (``[bars]``,
        ``[bars, assets]``, ``[bars, fields]`` or ``[fields, bars, assets]``).

        ``frequency`` is the run's bar size, or a coarser one: in a minute run ``"1d"`` gives
        daily bars aggregated from minutes (today's bar so far, no look-ahead); completed
        days are computed once and cached for the whole bundle.
        """
        # the common shapes first, with exact type checks (ABC isinstance is slow per bar)
        kind = type(assets)
        if (type(bar_count) is not int or bar_count < 1) and (
            not isinstance(bar_count, (int, np.integer)) or bar_count < 1
        ):
            raise HistoryWindowError(f"bar_count must be a positive integer, got {bar_count!r}")
        if return_type != "array" and return_type != "pandas":
            raise HistoryWindowError(
                f"return_type must be 'pandas' or 'array', got {return_type!r}"
            )
        target = self._target(frequency)
        if target is None:
            if bar_count > self.current_bar + 1:
                self._before_data(bar_count, frequency, self.current_bar + 1)
        else:
            closes = self._targets[target][0]
            have = int(np.searchsorted(closes, self._times_ns[self.current_bar], side="left")) + 1
            if bar_count > have:
                self._before_data(bar_count, frequency, have)
        single_field = type(fields) is str
        if kind is list or kind is tuple:
            single_asset = False
        else:
            single_asset = kind is _core.Asset or _is_single(assets)
        if single_field and return_type == "array":
            if single_asset:
                return self._history([assets], fields, bar_count, target)[:, 0]
            return self._history(assets, fields, bar_count, target)
        asset_list = [assets] if single_asset else list(assets)
        sids, cols = self._assets_index(asset_list)
        if single_field:
            arr = self._history(sids, fields, bar_count, target)
            index = self._window_index(bar_count, target)
            if single_asset:
                return pd.Series(arr[:, 0], index=index, name=assets)
            if _frame_from_block is not None and arr.dtype == np.float64 and arr.ndim == 2:
                return _frame_from_block(arr, index, cols)
            return pd.DataFrame(arr, index=index, columns=cols, copy=False)
        field_list = list(fields)
        arrays = [self._history(sids, f, bar_count, target) for f in field_list]
        if return_type == "array":
            stacked = np.stack(arrays)
            return stacked[:, :, 0].T if single_asset else stacked
        index = self._window_index(bar_count, target)
        if single_asset:
            return pd.DataFrame({f: a[:, 0] for f, a in zip(field_list, arrays)}, index=index)
        multi = pd.MultiIndex.from_product([index, cols])
        return pd.DataFrame({f: a.reshape(-1) for f, a in zip(field_list, arrays)}, index=multi)

    def _before_data(self, bar_count: int, frequency: str, have: int) -> None:
        """A window of ``bar_count`` bars where only ``have`` exist before it."""
        first = self._bundle.sessions[0].date()
        msg = (
            f"data.history({bar_count} bars, {frequency!r}) at "
            f"{self._bundle.bar_times[self.current_bar]} reaches before the bundle's first "
            f"session ({first}): only {have} bars exist"
        )
        if self.before_data == "raise":
            raise HistoryWindowStartsBeforeData(msg)
        if not self._warned_before_data:
            self._warned_before_data = True
            warnings.warn(
                f"{msg}; the missing bars are NaN (warned once per run; zipline raises "
                "HistoryWindowStartsBeforeData: set_history_before_data('raise') in "
                "initialize does the same)",
                RuntimeWarning,
                stacklevel=3,
            )

    def _window_index(self, bar_count: int, target: str | None = None) -> pd.Index:
        if target is None:
            labels, end = self._index, self.current_bar + 1
        else:
            closes, labels = self._targets[target]
            end = int(np.searchsorted(closes, self._times_ns[self.current_bar], side="left")) + 1
        start = end - bar_count
        # slicing a DatetimeIndex costs tens of microseconds; the same windows come back in
        # every run of a sweep, and an Index is immutable, so one object serves them all
        cache = self._bundle._windows
        key = (target, start, end)
        index = cache.get(key)
        if index is not None:
            return index
        if start >= 0:
            index = labels[start:end]
        else:  # the window reaches before the bundle's first bar
            pad = pd.DatetimeIndex([pd.NaT] * (-start), tz="UTC")
            index = pad.append(labels[:end])
        if len(cache) >= _WINDOW_CACHE_SIZE:
            cache.clear()
        cache[key] = index
        return index

    def can_trade(self, assets):
        """Whether each asset has a price now, its data has not ended and no restriction
        of ``set_asset_restrictions`` freezes it now (zipline's rule)."""
        if _is_single(assets):
            return self._can_trade(self._sid(assets)) and not self._restricted(assets)
        return pd.Series(
            [self._can_trade(self._sid(a)) and not self._restricted(a) for a in assets],
            index=list(assets),
        )

    def _restricted(self, asset) -> bool:
        if not self._restrictions:
            return False
        now = pd.Timestamp(int(self._times_ns[self.current_bar]), tz="UTC")
        return any(r.is_restricted(asset, now) for r in self._restrictions)

    def is_stale(self, assets):
        """Whether each asset has traded before but has no bar now."""
        if _is_single(assets):
            return self._is_stale(self._sid(assets))
        return pd.Series([self._is_stale(self._sid(a)) for a in assets], index=list(assets))

    @property
    def current_dt(self) -> pd.Timestamp:
        return self._bundle.bar_times[self.current_bar]

    def _session_index(self) -> int:
        closes = self._bundle._session_arrays[2]
        return int(np.searchsorted(closes, self._times_ns[self.current_bar], side="left"))

    @property
    def current_session(self) -> pd.Timestamp:
        """zipline's ``data.current_session``: the label (midnight, no zone) of the session
        the current bar belongs to."""
        return self._bundle.sessions[self._session_index()].tz_localize(None)

    @property
    def current_session_minutes(self) -> pd.DatetimeIndex:
        """zipline's ``data.current_session_minutes``: the current session's trading
        minutes, each labelled by its end (the open plus one minute to the close), UTC."""
        s = self._session_index()
        opens, closes = self._bundle._session_arrays[1], self._bundle._session_arrays[2]
        return pd.date_range(
            pd.Timestamp(int(opens[s]) + 60_000_000_000, tz="UTC"),
            pd.Timestamp(int(closes[s]), tz="UTC"),
            freq="min",
        )
