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

_F64 = np.dtype(np.float64)


def _block_frame_builder():
    """``build(values, index, columns)``: the DataFrame ``pd.DataFrame(values, index=index,
    columns=columns, copy=False)`` for a 2-D float64 ``values``, built straight around it
    as pandas' single block. ``pd.DataFrame(...)`` spends 7-25 µs per call inferring and
    checking what a history window never varies (W1 asks for 470 windows a run); this
    takes ~2.5 µs. It uses pandas internals, so it is adopted only if it builds exactly the
    frame the public constructor builds on this pandas; otherwise (None) the public
    constructor is used."""
    try:
        from pandas._libs.internals import BlockPlacement
        from pandas.core.internals.blocks import get_block_type
        from pandas.core.internals.managers import BlockManager

        placements: dict[int, BlockPlacement] = {}
        # what new_block_2d would pick (and it coerces nothing of float64) on every call
        block = get_block_type(_F64)
        from_mgr = pd.DataFrame._from_mgr

        def build(values: np.ndarray, index: pd.Index, columns: pd.Index) -> pd.DataFrame:
            n = values.shape[1]
            placement = placements.get(n)
            if placement is None:
                placement = placements[n] = BlockPlacement(slice(0, n))
            blocks = (block(values.T, ndim=2, placement=placement),)
            mgr = BlockManager(blocks, [columns, index], False)
            return from_mgr(mgr, axes=mgr.axes)

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
            and [type(b) for b in got._mgr.blocks] == [type(b) for b in want._mgr.blocks]
            and np.shares_memory(got.values, values)
        )
        got["c"] = 1.0  # the frame is a normal one: columns can be added
        return build if same and got.shape == (3, 3) else None
    except Exception:  # any pandas without these internals: the public way
        return None


def _block_series_builder():
    """``build(values, index, name)``: the Series ``pd.Series(values, index=index,
    name=name, copy=False)`` for a 1-D float64 ``values``, built as pandas builds the
    Series it derives from another (``Series._constructor_from_mgr``: one block, its
    manager, ``_from_mgr``, then the name). The public constructor spends 9-11 µs per call
    inferring, sanitizing and validating what a history window never varies (and pandas 3
    copies the array as well); this takes ~2 µs. Like :func:`_block_frame_builder`, it is
    adopted only if it builds exactly the Series the public constructor builds on this
    pandas, and one that behaves as one (it can be written to, copied, and derived from);
    otherwise (None) the public constructor is used."""
    try:
        from pandas._libs.internals import BlockPlacement
        from pandas.core.internals.blocks import get_block_type
        from pandas.core.internals.managers import SingleBlockManager

        placements: dict[int, BlockPlacement] = {}
        block = get_block_type(_F64)  # what new_block would pick for float64, on every call
        from_mgr = pd.Series._from_mgr
        set_name = object.__setattr__  # as _constructor_from_mgr: no NDFrame.__setattr__

        def build(values: np.ndarray, index: pd.Index, name) -> pd.Series:
            n = len(values)
            placement = placements.get(n)
            if placement is None:
                placement = placements[n] = BlockPlacement(slice(0, n))
            mgr = SingleBlockManager(block(values, ndim=1, placement=placement), index)
            series = from_mgr(mgr, axes=mgr.axes)
            set_name(series, "_name", name)
            return series

        values = np.arange(4.0)
        index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
        index = index.tz_localize("UTC")
        got = build(values, index, "x")
        want = pd.Series(values.copy(), index=index, name="x")
        same = (
            type(got) is pd.Series
            and got.equals(want)
            and got.index is index
            and got.name == "x"
            and got.dtype == want.dtype
            and type(got._mgr) is type(want._mgr)
            and [type(b) for b in got._mgr.blocks] == [type(b) for b in want._mgr.blocks]
            and got.flags.allows_duplicate_labels
            and got.attrs == {}
            and np.shares_memory(got.to_numpy(), values)
        )
        derived = (got * 2).rename("y")
        copied = got.copy()
        got.iloc[0] = -1.0  # it can be written to, and only it changes
        same = (
            same
            and got.iloc[0] == -1.0
            and copied.iloc[0] == 0.0
            and derived.iloc[0] == 0.0
            and derived.name == "y"
            and repr(copied) == repr(want)
        )
        return build if same else None
    except Exception:  # any pandas without these internals: the public way
        return None


def _index_slicer():
    """``cut(labels, start, end)``: ``labels[start:end]`` (``0 <= start <= end``) for a
    ``DatetimeIndex`` without a ``freq``, built straight from a view of its values
    (``DatetimeIndex._simple_new``, as pandas builds the slice). ``__getitem__`` spends
    ~5 µs deciding what a history window's labels never vary (a slice, a freq to carry);
    this takes ~1.2 µs. Adopted only if it builds exactly the index a slice builds on this
    pandas (otherwise None: the slice is used)."""
    try:
        from pandas.core.arrays import DatetimeArray

        simple_index = pd.DatetimeIndex._simple_new
        simple_array = DatetimeArray._simple_new

        def cut(labels: pd.DatetimeIndex, start: int, end: int) -> pd.DatetimeIndex:
            data = labels._data
            return simple_index(simple_array(data._ndarray[start:end], dtype=data.dtype))

        labels = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-05", "2024-01-08"])
        labels = labels.tz_localize("UTC")
        got, want = cut(labels, 1, 3), labels[1:3]
        same = (
            type(got) is type(want)
            and got.equals(want)
            and got.dtype == want.dtype
            and got.freq is None
            and want.freq is None
            and got.name is None
            and repr(got) == repr(want)
            and np.shares_memory(got.asi8, labels.asi8)
            and got.get_loc(want[1]) == 1
            and cut(labels, 2, 2).equals(labels[2:2])
        )
        return cut if same else None
    except Exception:  # any pandas without these internals: the slice
        return None


_frame_from_block = _block_frame_builder()
_series_from_block = _block_series_builder()
_cut_index = _index_slicer()

#: Window indexes kept per bundle (and so shared by every run of a sweep in one process)
#: before the cache starts over.
_WINDOW_CACHE_SIZE = 100_000

_FIELDS = ("open", "high", "low", "close", "volume", "price")


def _is_single(x) -> bool:
    return isinstance(x, (str, _core.Asset)) or not isinstance(x, Iterable)


def _series(values: np.ndarray, index: pd.Index, name) -> pd.Series:
    """The history Series of a window column ``values``: around it (a fresh array, which
    only this Series holds), or around a copy of it if it is a read-only view of the
    bundle's rows (so the Series can be written to without touching the bundle)."""
    if not values.flags.writeable:
        values = values.copy()
    if _series_from_block is not None and values.dtype is _F64:
        return _series_from_block(values, index, name)
    return pd.Series(values, index=index, name=name, copy=False)


class BarData(_core.BarData):
    """The market at the current bar. Created by the engine; passed as ``data``."""

    def __init__(self, bundle):
        self._bundle = bundle
        self._frequency = bundle.frequency
        self._daily = bundle.frequency == "1d"
        times = bundle.sessions if self._daily else bundle.bar_times
        self._index = times
        self._windows: dict[tuple, pd.Index] = bundle._windows  # shared by the bundle's runs
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

    def _assets_index(self, assets) -> tuple[list, pd.Index]:
        """What ``_history`` is given for a sequence of ``assets`` (the assets themselves
        when all are rustybt Assets, which Rust reads faster than ints; else their sids),
        and the columns of their frames.

        Strategies ask for the same assets every bar: a list or tuple is compared with the
        last request (which short-cuts on identical elements) before anything is built or
        looked up. The columns are shared by every frame of the same assets; their name is
        the one thing a strategy can change (``df.columns.name = ...``): a named one is
        left to that strategy and replaced here, so no later frame inherits it."""
        kind = type(assets)
        if kind is list or kind is tuple:
            last = self._last_assets
            if (
                last is not None
                and type(last[0]) is kind
                and last[0] == assets
                and last[2].name is None
            ):
                return last[1], last[2]
            key = assets[:]  # a copy of a list: the strategy may change its own later
        else:
            key = tuple(assets)
        sids, cols = self._assets_index_slow(key)
        self._last_assets = (key, sids, cols)
        return sids, cols

    def _assets_index_slow(self, assets) -> tuple[list, pd.Index]:
        sids = [self._sid(a) for a in assets]
        cols = self._columns.get(tuple(sids))
        if cols is None or cols.name is not None:
            cols = pd.Index(list(assets), dtype=object)
            self._columns[tuple(sids)] = cols
        if all(type(a) is _core.Asset for a in assets):
            return list(assets), cols
        return sids, cols

    # -- zipline API -----------------------------------------------------------------
    def current(self, assets, fields):
        """The value(s) of ``fields`` for ``assets`` at the current bar, as zipline's
        ``data.current``: a scalar for one asset and one field, a Series for a list of
        one of them (indexed by the assets or by the fields), a DataFrame (assets ×
        fields) for lists of both.

        ``open``, ``high``, ``low`` and ``close`` are NaN and ``volume`` is 0 where the
        asset has no bar now (before its first bar, after its last, or a gap); ``price``
        is the last close, forward-filled (NaN only before the asset's first bar). Values
        are the stored ones: neither adjusted nor rounded (unlike :meth:`history`). In
        ``before_trading_start`` the current bar is the previous session's last.

        Parameters
        ----------
        assets : Asset or list of Asset
            Assets of the run's bundle (from ``symbol()``; not tickers).
        fields : str or list of str
            Of ``"open"``, ``"high"``, ``"low"``, ``"close"``, ``"volume"``, ``"price"``.

        Returns
        -------
        float, pandas.Series or pandas.DataFrame
            As above.

        Raises
        ------
        HistoryWindowError
            An unknown field, or an asset that is not an Asset (e.g. a ticker string).
        SymbolNotFound
            An Asset that is not in the run's bundle.

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-data", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Now(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.assets = self.symbols("S000", "S001")
        ...     def handle_data(self, context, data):  # the last bar's values are kept
        ...         context.price = data.current(context.assets[0], "price")
        ...         context.closes = data.current(context.assets, "close")
        ...         context.bars = data.current(context.assets, ["close", "volume"])
        >>> algo = Now()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-10",
        ...                           end="2022-01-12")
        >>> algo.price
        134.95
        >>> algo.closes
        Equity(0 [S000])    134.95
        Equity(1 [S001])    150.99
        Name: close, dtype: float64
        >>> algo.bars
                           close     volume
        Equity(0 [S000])  134.95  3551976.0
        Equity(1 [S001])  150.99  3447183.0
        """
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
        """The last ``bar_count`` bars up to and including the current one, as zipline's
        ``data.history``; never a later bar.

        Shapes follow zipline: one asset and one field → Series (time); many assets and one
        field → DataFrame (time × assets); one asset and many fields → DataFrame
        (time × fields); many of both → DataFrame indexed by (time, asset) with a column per
        field. ``return_type="array"`` gives the same data as NumPy (``[bars]``,
        ``[bars, assets]``, ``[bars, fields]`` or ``[fields, bars, assets]``). Daily bars
        are labelled by their session (midnight UTC), intraday bars by their close (UTC).

        ``frequency`` is the run's bar size, or a coarser one: in a minute run ``"1d"`` gives
        daily bars aggregated from minutes (today's bar so far, no look-ahead); completed
        days are computed once and cached for the whole bundle.

        As in zipline, prices are adjusted for the splits and dividends up to the current
        bar (volumes for the splits) and rounded to 3 decimals (``set_history_rounding``
        sets the places, or ``None`` for none). A bar an asset does not have is NaN
        (``volume`` 0; ``price`` is forward-filled). A window reaching before the bundle's
        first bar is NaN there (index ``NaT``) with one ``RuntimeWarning`` per run, or
        raises under ``set_history_before_data("raise")``. In ``before_trading_start`` it
        ends with the previous session's last bar.

        The arrays, and the DataFrame of every asset of the bundle in sid order, may be
        read-only views of the bundle's rows (no copy is made): ``.copy()`` them before
        writing into them. A Series is always the strategy's own.

        Parameters
        ----------
        assets : Asset or list of Asset
            Assets of the run's bundle (from ``symbol()``; not tickers).
        fields : str or list of str
            Of ``"open"``, ``"high"``, ``"low"``, ``"close"``, ``"volume"``, ``"price"``.
        bar_count : int
            How many bars (at least 1).
        frequency : str
            The bar size: ``"1d"`` (or ``"daily"``), ``"1m"`` (``"minute"``), ``"1h"``,
            ``"5m"``, ...; the run's own or, in an intraday run, a coarser one.
        return_type : {"pandas", "array"}
            pandas objects (the default) or NumPy arrays (faster: no index is built).

        Returns
        -------
        pandas.Series, pandas.DataFrame or numpy.ndarray
            As above: ``bar_count`` rows, float64.

        Raises
        ------
        HistoryWindowError
            ``bar_count`` is not a positive integer; an unknown field; a frequency that
            is no bar size or finer than the run's; a ``return_type`` other than
            ``"pandas"`` / ``"array"``; an asset that is not an Asset.
        HistoryWindowStartsBeforeData
            The window reaches before the bundle's first bar, under
            ``set_history_before_data("raise")``.
        SymbolNotFound
            An Asset that is not in the run's bundle.

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-data", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Windows(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.assets = self.symbols("S000", "S001")
        ...     def handle_data(self, context, data):  # the last bar's windows are kept
        ...         s000 = context.assets[0]
        ...         context.one = data.history(s000, "close", 3, "1d")
        ...         context.many = data.history(context.assets, "close", 3, "1d")
        ...         context.fields = data.history(s000, ["close", "volume"], 2, "1d")
        ...         context.array = data.history(context.assets, "close", 3, "1d",
        ...                                      return_type="array")
        >>> algo = Windows()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-10",
        ...                           end="2022-01-12")
        >>> algo.one
        2022-01-10 00:00:00+00:00    134.64
        2022-01-11 00:00:00+00:00    135.42
        2022-01-12 00:00:00+00:00    134.95
        Name: Equity(0 [S000]), dtype: float64
        >>> algo.many
                                   Equity(0 [S000])  Equity(1 [S001])
        2022-01-10 00:00:00+00:00            134.64            156.54
        2022-01-11 00:00:00+00:00            135.42            155.36
        2022-01-12 00:00:00+00:00            134.95            150.99
        >>> algo.fields
                                    close     volume
        2022-01-11 00:00:00+00:00  135.42  4455607.0
        2022-01-12 00:00:00+00:00  134.95  3551976.0
        >>> algo.array
        array([[134.64, 156.54],
               [135.42, 155.36],
               [134.95, 150.99]])

        In a minute run, ``"1d"`` windows end with today's bar so far:

        >>> minutes = rustybt.ingest_synthetic("doc-minutes", assets=1, start="2022-01-03",
        ...                                    end="2022-01-04", frequency="minute")
        >>> class Daily(rustybt.TradingAlgorithm):
        ...     def handle_data(self, context, data):
        ...         if data.current_dt.strftime("%H:%M") == "15:00":  # UTC
        ...             s000 = self.symbol("S000")
        ...             context.now = data.current(s000, "close")
        ...             context.days = data.history(s000, "close", 2, "1d")
        >>> algo = Daily()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=minutes, start="2022-01-04",
        ...                           end="2022-01-04")
        >>> algo.now
        145.77
        >>> algo.days
        2022-01-03 00:00:00+00:00    145.00
        2022-01-04 00:00:00+00:00    145.77
        Name: Equity(0 [S000]), dtype: float64
        """
        # the common shapes first, with exact type checks (ABC isinstance is slow per bar)
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
            have = self.current_bar + 1
        else:
            closes = self._targets[target][0]
            have = int(np.searchsorted(closes, self._times_ns[self.current_bar], side="left")) + 1
        if bar_count > have:
            self._before_data(bar_count, frequency, have)
        kind = type(assets)
        single_field = type(fields) is str
        if single_field and kind is _core.Asset:  # one asset, one field: the commonest call
            values = self._history([assets], fields, bar_count, target)[:, 0]
            if return_type == "array":
                return values
            return _series(values, self._window_index(bar_count, target, have), assets)
        single_asset = False if kind is list or kind is tuple else _is_single(assets)
        if single_field:
            if return_type == "array":
                if single_asset:
                    return self._history([assets], fields, bar_count, target)[:, 0]
                return self._history(assets, fields, bar_count, target)
            if single_asset:
                values = self._history([self._sid(assets)], fields, bar_count, target)[:, 0]
                return _series(values, self._window_index(bar_count, target, have), assets)
            sids, cols = self._assets_index(assets)
            values = self._history(sids, fields, bar_count, target)
            index = self._window_index(bar_count, target, have)
            if _frame_from_block is not None and values.dtype is _F64 and values.ndim == 2:
                return _frame_from_block(values, index, cols)
            return pd.DataFrame(values, index=index, columns=cols, copy=False)
        sids, cols = self._assets_index([assets] if single_asset else assets)
        field_list = list(fields)
        arrays = [self._history(sids, f, bar_count, target) for f in field_list]
        if return_type == "array":
            stacked = np.stack(arrays)
            return stacked[:, :, 0].T if single_asset else stacked
        index = self._window_index(bar_count, target, have)
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

    def _window_index(
        self, bar_count: int, target: str | None = None, end: int | None = None
    ) -> pd.Index:
        """The labels of the window of ``bar_count`` bars (of ``target``, or the run's own)
        whose last is the current one; ``end``: how many bars exist up to it, if known."""
        if end is None:
            if target is None:
                end = self.current_bar + 1
            else:
                closes = self._targets[target][0]
                end = int(np.searchsorted(closes, self._times_ns[self.current_bar], side="left"))
                end += 1
        start = end - bar_count
        # slicing a DatetimeIndex costs tens of microseconds; the same windows come back in
        # every run of a sweep, and an Index is immutable, so one object serves them all.
        # Its name is the one thing a strategy can change (``s.index.name = ...``): a named
        # one is left to that strategy and replaced here, so no later window inherits it.
        cache = self._windows
        key = (target, start, end)
        index = cache.get(key)
        if index is not None and index.name is None:
            return index
        labels = self._index if target is None else self._targets[target][1]
        if start >= 0:
            if _cut_index is not None and type(labels) is pd.DatetimeIndex and labels.freq is None:
                index = _cut_index(labels, start, end)
            else:
                index = labels[start:end]
        else:  # the window reaches before the bundle's first bar
            pad = pd.DatetimeIndex([pd.NaT] * (-start), tz="UTC")
            index = pad.append(labels[:end])
        if len(cache) >= _WINDOW_CACHE_SIZE:
            cache.clear()
        cache[key] = index
        return index

    def can_trade(self, assets):
        """Whether each asset can be ordered now, as zipline's ``data.can_trade``: it has
        a price (a bar now or earlier), its data has not ended and no restriction of
        ``set_asset_restrictions`` / ``set_do_not_order_list`` freezes it now. An order
        for an asset whose data has ended raises
        :class:`~rustybt.errors.CannotOrderDelistedAsset`.

        Parameters
        ----------
        assets : Asset or list of Asset
            Assets of the run's bundle (from ``symbol()``; not tickers).

        Returns
        -------
        bool or pandas.Series
            A bool for one asset; a Series of bools indexed by the assets for a list.

        Raises
        ------
        HistoryWindowError
            An asset that is not an Asset (e.g. a ticker string).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-data", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Check(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.assets = self.symbols("S000", "S001")
        ...         self.set_do_not_order_list([context.assets[1]])
        ...     def handle_data(self, context, data):
        ...         context.one = data.can_trade(context.assets[0])
        ...         context.many = data.can_trade(context.assets)
        >>> algo = Check()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-10",
        ...                           end="2022-01-12")
        >>> algo.one
        True
        >>> algo.many
        Equity(0 [S000])     True
        Equity(1 [S001])    False
        dtype: bool
        """
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
