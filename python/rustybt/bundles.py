"""Bundles: where they live, how to make them, how to open them.

A bundle is a directory under ``$RUSTYBT_ROOT/bundles/`` (default ``~/.rustybt``)
holding Parquet bars, assets, adjustments and a manifest with its sessions and content
hash. Writes are atomic; see ``docs/architecture.md``.

Example:
    >>> import rustybt
    >>> b = rustybt.ingest_synthetic("doc-example", assets=3, start="2022-01-03",
    ...                              end="2022-03-31", seed=1)
    >>> b.assets.symbol.tolist()
    ['S000', 'S001', 'S002']
    >>> rustybt.load_bundle("doc-example").content_hash == b.content_hash
    True
"""

from __future__ import annotations

import numbers
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from rustybt import _core
from rustybt.errors import (
    BundleError,
    BundleNotFound,
    InvalidRunParameters,
    SidsNotFound,
    SymbolNotFound,
)
from rustybt.stats import symbol_groups

_NS_PER_DAY = 86_400_000_000_000

#: Frequencies ``ingest`` accepts, by their zipline names and bar sizes.
FREQUENCY_ALIASES = {"daily": "1d", "minute": "1m", "hourly": "1h"}


def root() -> Path:
    """The rustybt home: ``$RUSTYBT_ROOT``, or ``~/.rustybt``."""
    return Path(os.environ.get("RUSTYBT_ROOT") or "~/.rustybt").expanduser()


def bundles_dir() -> Path:
    """Where named bundles live."""
    return root() / "bundles"


def cache_dir() -> Path:
    """The bundle pool's cache: columnar files keyed by content hash, memory-mapped by
    every process that opens a bundle after the first."""
    return root() / "cache"


def cache_file(content_hash: str) -> Path:
    """The pool's cache file of the bundle data with ``content_hash``, in the current cache
    format (a file an earlier format left beside it is not read, and ``clean`` removes it)."""
    return cache_dir() / f"{content_hash}.f{_core.CACHE_FORMAT}.cols"


def _days_to_index(days: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(days, dtype=np.int64) * _NS_PER_DAY, tz="UTC")


class BundleBars(NamedTuple):
    """:meth:`Bundle.bars`: ``fields[name]`` is a ``[len(times), len(assets)]`` array."""

    times: pd.DatetimeIndex
    assets: list
    fields: dict


class Bundle:
    """An opened bundle.

    Attributes:
        name: the bundle's name.
        frequency: bar size (``1d``, ``1m``, ``1h``, ...).
        calendar: the exchange calendar its sessions come from (e.g. ``XNYS``).
        content_hash: sha256 of its logical content; changes whenever the data does.
        assets: a DataFrame indexed by sid (symbol, exchange, start_date, end_date).
        sessions: its trading sessions (UTC-midnight labels).
        start, end: first and last session.
    """

    def __init__(self, core: _core.Bundle):
        self._core = core
        self.asset_list: list[_core.Asset] = core.assets()
        self._by_symbol = {a.symbol: a for a in self.asset_list}
        #: history window indexes, shared by runs on this bundle (see rustybt.data)
        self._windows: dict[tuple, pd.Index] = {}

    name = property(lambda self: self._core.name)
    path = property(lambda self: Path(self._core.path))
    frequency = property(lambda self: self._core.frequency)
    calendar = property(lambda self: self._core.calendar)
    content_hash = property(lambda self: self._core.content_hash)
    created_at = property(lambda self: self._core.created_at)
    price_scale = property(lambda self: self._core.price_scale)

    @cached_property
    def assets(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "symbol": [a.symbol for a in self.asset_list],
                "exchange": [a.exchange for a in self.asset_list],
                "start_date": _days_to_index([a.start_day for a in self.asset_list]),
                "end_date": _days_to_index([a.end_day for a in self.asset_list]),
            },
            index=pd.Index([a.sid for a in self.asset_list], name="sid"),
        )

    @cached_property
    def _symbol_groups(self) -> list[int]:
        """Each sid's symbol as its rank among the sorted distinct symbols: the grouping
        (and order) of round trips."""
        return symbol_groups([a.symbol for a in self.asset_list])[1].tolist()

    @cached_property
    def _session_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._core.sessions()

    @cached_property
    def sessions(self) -> pd.DatetimeIndex:
        return _days_to_index(self._session_arrays[0])

    @cached_property
    def session_closes(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self._session_arrays[2], tz="UTC")

    @cached_property
    def session_opens(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self._session_arrays[1], tz="UTC")

    @cached_property
    def bar_times(self) -> pd.DatetimeIndex:
        """Close instant of every bar, UTC."""
        return pd.DatetimeIndex(self._core.timestamps(), tz="UTC")

    @property
    def start(self) -> pd.Timestamp:
        return self.sessions[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.sessions[-1]

    def symbol(self, symbol: str) -> _core.Asset:
        """The asset with this ticker, or :class:`~rustybt.errors.SymbolNotFound`."""
        try:
            return self._by_symbol[symbol]
        except (KeyError, TypeError):
            known = ", ".join(list(self._by_symbol)[:5])
            raise SymbolNotFound(
                f"symbol {symbol!r} is not in bundle '{self.name}' "
                f"({len(self._by_symbol)} assets: {known}{', ...' if len(self._by_symbol) > 5 else ''})"
            ) from None

    def sid(self, sid: int) -> _core.Asset:
        """The asset with this sid, or :class:`~rustybt.errors.SidsNotFound` (zipline's
        name; a :class:`~rustybt.errors.SymbolNotFound`)."""
        if (
            isinstance(sid, (int, np.integer))
            and type(sid) is not bool
            and 0 <= sid < len(self.asset_list)
        ):
            return self.asset_list[sid]
        raise SidsNotFound(f"sid {sid!r} is not in bundle '{self.name}'")

    def session_range(self, start, end) -> tuple[int, int]:
        """Indices of the first and last session of a run from ``start`` to ``end``."""
        s, e = _as_date(start, "start"), _as_date(end, "end")
        if s > e:
            raise InvalidRunParameters(f"start {s.date()} is after end {e.date()}")
        first, last = self.start, self.end
        if s > last or e < first:
            raise InvalidRunParameters(
                f"{s.date()}..{e.date()} is outside bundle '{self.name}', "
                f"which covers {first.date()}..{last.date()}"
            )
        if s < first:
            raise InvalidRunParameters(
                f"start {s.date()} is before bundle '{self.name}' begins ({first.date()})"
            )
        if e > last:
            raise InvalidRunParameters(
                f"end {e.date()} is after bundle '{self.name}' ends ({last.date()})"
            )
        i = int(self.sessions.searchsorted(s, side="left"))
        j = int(self.sessions.searchsorted(e, side="right")) - 1
        if i > j:
            raise InvalidRunParameters(f"no trading session between {s.date()} and {e.date()}")
        return i, j

    def bars(
        self,
        fields=("open", "high", "low", "close", "volume"),
        assets=None,
        start=None,
        end=None,
        adjusted: bool = False,
        output: str = "numpy",
    ):
        """The bundle's bars as matrices, for ``run_batch`` weights and research: for each
        of ``fields``, a ``[bars, assets]`` float64 array aligned to the bundle's bars from
        ``start`` to ``end`` (sessions for a daily bundle; default its whole span) and to
        ``assets`` (default all, in sid order). NaN where an asset has no bar (volume: 0).

        ``adjusted=False`` (default) gives the prices as stored; ``adjusted=True`` rescales
        the bars before each split or dividend up to ``end`` by zipline's ratios (as
        ``data.history`` on the last bar sees them, not rounded). ``output="numpy"``
        returns :class:`BundleBars` (``times``, ``assets``, ``fields``; raw matrices of the
        whole bundle are read-only views, no copy); ``"arrow"`` / ``"polars"`` a long
        table (``dt``, ``sid``, ``symbol``, one column per field).

        >>> b = rustybt.load_bundle("rustybt-demo")  # doctest: +SKIP
        >>> closes = b.bars(["close"], adjusted=True).fields["close"]  # doctest: +SKIP
        """
        if isinstance(fields, str):
            fields = [fields]
        if output not in ("numpy", "arrow", "polars"):
            raise InvalidRunParameters(
                f"output must be 'numpy', 'arrow' or 'polars', got {output!r}"
            )
        asset_list = self.asset_list if assets is None else [self._asset(a) for a in assets]
        sids = [a.sid for a in asset_list]
        first, last = self.session_range(
            self.start if start is None else start, self.end if end is None else end
        )
        bounds = self._core.session_first_bar()
        lo, hi = int(bounds[first]), int(bounds[last + 1])
        daily = self.frequency == "1d"
        times = self.sessions[first : last + 1] if daily else self.bar_times[lo:hi]
        data = {}
        for f in fields:
            if adjusted:
                data[f] = self._core.history(f, sids, hi - 1, hi - lo)
            else:
                whole = self._core.field_matrix(f)
                block = whole[lo:hi]
                data[f] = block if assets is None else block[:, sids]
        if output == "numpy":
            return BundleBars(times, asset_list, data)
        import pyarrow as pa

        n, k = len(times), len(asset_list)
        ns = pd.DatetimeIndex(times).tz_convert("UTC").asi8
        table = pa.table(
            {
                "dt": pa.array(np.repeat(ns, k), type=pa.timestamp("ns", tz="UTC")),
                "sid": pa.array(np.tile(np.asarray(sids, dtype=np.int64), n)),
                "symbol": pa.array(np.tile(np.array([a.symbol for a in asset_list]), n)),
                **{f: pa.array(np.ascontiguousarray(v).reshape(-1)) for f, v in data.items()},
            }
        )
        if output == "arrow":
            return table
        import polars as pl

        return pl.from_arrow(table)

    def _asset(self, a) -> _core.Asset:
        if isinstance(a, str):
            return self.symbol(a)
        if isinstance(a, _core.Asset):
            return self.sid(a.sid)
        return self.sid(a)

    def resample(self, frequency: str, field: str = "close") -> pd.DataFrame:
        """Every completed bar of ``field`` aggregated to a coarser ``frequency`` (``"1d"``,
        ``"1h"``, ``"15m"``, ...): first open, highest high, lowest low, last close, summed
        volume. Computed in Rust; index = bar closes (UTC), columns = symbols.

        Example:
            >>> daily = rustybt.load_bundle("m1").resample("1d", "high")  # doctest: +SKIP
        """
        from rustybt.errors import HistoryWindowError

        try:
            closes, values = self._core.resample(field, _normalize_frequency(frequency))
        except HistoryWindowError as exc:
            raise InvalidRunParameters(str(exc)) from None
        return pd.DataFrame(
            values,
            index=pd.DatetimeIndex(closes, tz="UTC"),
            columns=pd.Index([a.symbol for a in self.asset_list], name="symbol"),
        )

    def cache_stats(self, frequency: str = "1d") -> dict[str, int]:
        """Hits and misses of the cache of completed ``frequency`` bars (for minute bundles)."""
        hits, misses = self._core.cache_stats(_normalize_frequency(frequency))
        return {"hits": hits, "misses": misses}

    def __repr__(self) -> str:
        return (
            f"Bundle(name={self.name!r}, frequency={self.frequency!r}, assets={len(self.asset_list)}, "
            f"span={self.start.date()}..{self.end.date()}, hash={self.content_hash[:12]})"
        )


def _as_date(value, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidRunParameters(f"{what} {value!r} is not a date") from exc
    if ts is pd.NaT:
        raise InvalidRunParameters(f"{what} is missing")
    if ts.tz is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC").normalize()


#: Bundles opened in this process: per bundle (or version) directory, its version's path
#: and the open bundle. A new version of a bundle replaces the old one's entry, so the old
#: store is freed (and its lease released) once nothing else uses it; at most
#: ``OPEN_LIMIT`` bundles stay open, least recently used first out.
_OPEN: OrderedDict[str, tuple[str, Bundle]] = OrderedDict()
OPEN_LIMIT = 8


def is_bundle_path(name_or_path: str | os.PathLike) -> bool:
    """Whether ``load_bundle`` takes this as a path rather than a bundle's name: a
    ``Path`` object, or text with a path separator or starting with ``~`` or ``.``
    (``./mycsv``, ``/data/b``, ``~/b``). Anything else is a name, even where a folder of
    that name is in the working directory.

    >>> is_bundle_path("mycsv"), is_bundle_path("./mycsv"), is_bundle_path("a/b")
    (False, True, True)
    """
    if isinstance(name_or_path, os.PathLike):
        return True
    text = os.fspath(name_or_path)
    seps = [os.sep, *([os.altsep] if os.altsep else [])]
    return any(sep in text for sep in seps) or text.startswith(("~", "."))


def load_bundle(name_or_path: str | os.PathLike) -> Bundle:
    """Open a bundle by name (under :func:`bundles_dir`) or by path (a ``Path``, or
    text with a separator: see :func:`is_bundle_path`; a bare name is always a name).

    Opening goes through the bundle pool: the first open anywhere builds a columnar cache
    file keyed by the bundle's content hash (under :func:`cache_dir`); later opens, in any
    process, memory-map it. Within a process, the last opened version of each bundle is
    kept open (up to ``OPEN_LIMIT`` bundles); a new ingest of the same name creates a new
    version (and hash), so neither cache is ever stale. An open bundle holds a lease on its
    version: ``bundle clean`` keeps it until the bundle is released.
    """
    if isinstance(name_or_path, Bundle):
        return name_or_path
    text = os.fspath(name_or_path)
    looks_like_path = is_bundle_path(name_or_path)
    path = Path(text).expanduser() if looks_like_path else bundles_dir() / text
    if not path.exists():
        available = sorted(p.name for p in bundles_dir().glob("*") if (p / "CURRENT").exists())
        hint = f"; available: {', '.join(available)}" if available else ""
        if not looks_like_path and Path(text).is_dir():
            hint += (
                f"; '{text}' is also a folder here: a bundle's path is given as a path "
                f"('./{text}', or --bundle-path on the command line)"
            )
        where = str(path) if looks_like_path else f"'{text}' in {bundles_dir()}"
        raise BundleNotFound(f"no bundle {where}{hint}")
    pointer = path / "CURRENT"
    try:
        version = str((path / pointer.read_text().strip()).resolve()) if pointer.exists() else ""
    except OSError as exc:
        raise BundleError(f"cannot read {pointer}: {exc}") from None
    key = str(path.resolve())
    entry = _OPEN.get(key)
    if entry is not None and entry[0] == version:
        _OPEN.move_to_end(key)
        return entry[1]
    _OPEN.pop(key, None)  # an older version: released once nothing else holds it
    bundle = Bundle(_core.Bundle.open(path, cache_dir()))
    _OPEN[key] = (version, bundle)
    while len(_OPEN) > OPEN_LIMIT:
        _OPEN.popitem(last=False)
    return bundle


def clean_bundle(name: str, remove: bool = False) -> dict[str, list[str]]:
    """Remove what a bundle no longer needs: versions other than the live one, leftovers of
    interrupted ingests, pool cache files of content hashes no bundle version uses any more
    or of an older cache format, and the cache's temporaries of killed writes. With ``remove=True`` the bundle itself
    goes too.

    Safe against everything running beside it: the clean holds the bundle's maintenance
    lock, so an ingest publishing meanwhile waits and its version survives, and versions
    open in a running backtest, search or notebook (leased) are kept and listed under
    ``"leased"`` (``remove=True`` is then refused). Returns what was removed, by kind.

    Raises
    ------
    BundleNotFound
        No bundle of that name.
    BundleError
        ``remove=True`` while a version is in use, or the files could not be removed.
    """
    import json

    path = bundles_dir() / name
    if remove and _OPEN.pop(str(path.resolve()), None) is not None:
        import gc

        gc.collect()  # this process's own runs of it, if only garbage holds them
    removed = dict(_core.clean_bundle(path, bool(remove)))
    in_use = set()
    for manifest in bundles_dir().glob("*/v*/manifest.json"):
        try:
            in_use.add(json.loads(manifest.read_text())["content_hash"])
        except (OSError, ValueError, KeyError):
            continue  # removed meanwhile, or not ours: its cache stays
    removed["caches"] = []
    current = f"f{_core.CACHE_FORMAT}"
    for f in sorted(cache_dir().glob("*.cols")):
        digest, fmt = [*f.name.split("."), "", ""][:2]
        if digest not in in_use or fmt != current:
            try:
                f.unlink()
            except FileNotFoundError:
                continue  # another clean was first
            except OSError as exc:
                raise BundleError(f"cannot remove the pool cache file {f}: {exc}") from None
            removed["caches"].append(f.name)
    removed["caches"] += _core.clean_cache_leftovers(cache_dir())
    return removed


class _IngestProgress:
    """A transient rich progress bar fed by the Rust ingest (``(done, total)`` calls)."""

    def __init__(self, description: str, show: bool):
        self.description, self.show = description, show

    def __enter__(self):
        if not self.show:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task(self.description, total=None)
        return lambda done, total: self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc):
        if self.show:
            self.bar.__exit__(*exc)
        return False


#: Ingests at least this large (assets × sessions, or files) show a progress bar.
PROGRESS_THRESHOLD = 20_000


def _normalize_frequency(frequency: str) -> str:
    return FREQUENCY_ALIASES.get(frequency, frequency)


def ingest_synthetic(
    name: str,
    assets: int,
    start,
    end,
    frequency: str = "daily",
    seed: int = 42,
    calendar: str = "XNYS",
    price_scale: int = 4,
) -> Bundle:
    """Write a deterministic synthetic bundle (GBM per asset, realistic OHLCV, prices with
    two decimals; symbols ``S000``, ``S001``, ...). The same arguments give the same bars
    and content hash on every machine.

    Parameters
    ----------
    name : str
        The bundle's name (a new version replaces an older one atomically).
    assets : int
        How many assets (at least 1).
    start, end : date-like
        The first and last date; the bars are on the calendar's sessions between them.
    frequency : str
        ``"daily"`` (default), ``"minute"`` or a bar size such as ``"5m"``.
    seed : int
        The generator's seed (0 to 2**64 - 1).
    calendar : str
        An ``exchange_calendars`` name (default ``"XNYS"``).
    price_scale : int
        Decimal places stored (2 to 8).

    Returns
    -------
    Bundle
        The bundle, opened.

    Raises
    ------
    InvalidRunParameters
        A bad argument (the message names it).

    Examples
    --------
    >>> import rustybt
    >>> b = rustybt.ingest_synthetic("doc-synth", assets=3, start="2022-01-03", end="2022-01-31")
    >>> [a.symbol for a in b.asset_list], len(b.sessions)
    (['S000', 'S001', 'S002'], 20)
    """
    from rustybt.calendars import sessions

    if not isinstance(assets, numbers.Integral) or assets < 1:
        raise InvalidRunParameters(f"assets must be a whole number of at least 1, got {assets!r}")
    if not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise InvalidRunParameters(f"seed must be a whole number from 0 to 2**64 - 1, got {seed!r}")
    if not isinstance(price_scale, numbers.Integral) or not 2 <= price_scale <= 8:
        raise InvalidRunParameters(
            f"price_scale must be a whole number from 2 to 8 (synthetic prices have 2 "
            f"decimals), got {price_scale!r}"
        )
    dates, opens, closes = sessions(calendar, start, end)
    freq = _normalize_frequency(frequency)
    big = assets * len(dates) * (1 if freq == "1d" else 390) >= PROGRESS_THRESHOLD * 50
    with _IngestProgress(f"generating {assets} assets", big) as progress:
        _core.ingest_synthetic(
            bundles_dir(),
            name,
            int(assets),
            int(seed),
            freq,
            calendar,
            int(price_scale),
            dates.tolist(),
            opens.tolist(),
            closes.tolist(),
            progress,
        )
    return load_bundle(name)


def ingest_csvdir(
    path: str | os.PathLike,
    name: str,
    frequency: str = "daily",
    calendar: str = "XNYS",
    price_scale: int = 4,
    allow_gaps: bool = False,
    round_prices=False,
    drop_non_sessions: bool = False,
    lot_size=None,
) -> Bundle:
    """Ingest zipline's csvdir layout (``PATH/daily/SYM.csv`` or ``PATH/minute/SYM.csv``,
    columns ``date,open,high,low,close,volume[,dividend,split,pay_date]``). Every row is
    validated; a rejected ingest raises :class:`~rustybt.errors.IngestError` naming file,
    line, column and reason, and writes nothing. Refused besides bad values: symbols (file
    names) that are not UTF-8, hold control characters or equal another when case is
    ignored; a dividend not below the previous close; a split ratio that is not positive;
    rows of a symbol more than a year apart (a stray row of another decade), unless
    ``allow_gaps``; prices with more places than ``price_scale``, unless ``round_prices``
    (half to even, counted); rows on dates that are not the calendar's sessions (all of
    them named at once), unless ``drop_non_sessions`` (counted). The counts are in the
    returned bundle's ``ingest_report``.

    Parameters
    ----------
    path : str or path
        The folder holding ``daily/`` (or ``minute/``).
    name : str
        The bundle's name.
    frequency, calendar, price_scale : as for :func:`ingest_synthetic` (scale 0 to 12)
    allow_gaps, drop_non_sessions : bool
        The options above, off by default.
    round_prices : bool, number, str or mapping
        ``True``: prices with more places than ``price_scale`` are rounded half to even
        at the scale (counted). A tick size (``0.25``; or a mapping of symbol to tick, the
        others rounded to the scale only) rounds every open, high, low and close half to
        even to a whole number of ticks, after rounding to the scale; a tick must be a
        whole number of the scale's units. Off (refuse) by default.
    lot_size : number, str or mapping, optional
        The smallest quantity an asset trades in, a power of ten from 1 down to 1e-8
        (``0.0001`` for a coin traded in ten-thousandths): one size for every asset, or a
        mapping of symbol to size (the others trade whole shares, the default). Orders are
        rounded to whole lots; the price scale and the lot's places together may be at
        most 12.

    Returns
    -------
    Bundle
        The bundle, opened, with ``ingest_report``.

    Raises
    ------
    IngestError
        A row, file or name that cannot be read right (file, line, column, reason).
    KeyboardInterrupt
        Ctrl-C: nothing is published.

    Examples
    --------
    >>> import tempfile, pathlib, rustybt
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "daily").mkdir()
    >>> _ = (root / "daily" / "AAA.csv").write_text(
    ...     "date,open,high,low,close,volume\\n2022-01-03,10,11,9,10.5,100\\n"
    ...     "2022-01-04,10.5,11,10,10.75,120\\n")
    >>> rustybt.ingest_csvdir(root, "doc-csvdir").ingest_report
    {'rounded_prices': 0, 'dropped_rows': 0}
    """
    freq = _normalize_frequency(frequency)
    files = list((Path(path) / ("daily" if freq == "1d" else "minute")).glob("*.csv"))
    with _IngestProgress(f"reading {len(files)} files", len(files) >= 50) as progress:
        parsed = _core.CsvDir.parse(
            Path(path),
            freq,
            int(price_scale),
            progress,
            allow_gaps=bool(allow_gaps),
            round_prices=round_prices is not False and round_prices is not None,
        )
    return _write_parsed(
        parsed, name, calendar, drop_non_sessions, lot_size, round_prices, int(price_scale)
    )


def _round_to_ticks(parsed, round_prices, price_scale: int) -> None:
    """Round ``parsed``'s prices to the tick sizes ``round_prices`` names, if it names any
    (a tick for every symbol, or a mapping of symbol to tick)."""
    from decimal import Decimal, InvalidOperation

    from rustybt.errors import IngestError

    if isinstance(round_prices, bool) or round_prices is None:
        return
    symbols = parsed.symbols()
    if isinstance(round_prices, Mapping):
        sizes = _named_symbols("round_prices", round_prices, symbols)
    else:
        sizes = dict.fromkeys(symbols, round_prices)
    ticks = []
    for symbol in symbols:
        size = sizes.get(symbol)
        if size is None:
            ticks.append(0)
            continue
        try:
            d = Decimal(repr(size) if isinstance(size, float) else str(size))
            units = d.scaleb(price_scale)
            ok = d.is_finite() and d > 0 and units == units.to_integral_value()
        except (InvalidOperation, ValueError):
            ok = False
        if not ok:
            raise IngestError(
                f"{symbol}: a tick size must be a positive whole number of the price scale's "
                f"units (1e-{price_scale}), got {size!r}"
            )
        ticks.append(int(units))
    parsed.round_to_ticks(ticks)


def lot_scale(size) -> int:
    """The lot scale ``k`` of a lot size ``10^-k`` (``0.0001`` → 4), for ``k`` from 0 to
    8; anything else is refused with :class:`~rustybt.errors.IngestError` naming it.

    >>> lot_scale(0.0001), lot_scale("1"), lot_scale(1e-8)
    (4, 0, 8)
    """
    from decimal import Decimal, InvalidOperation

    from rustybt.errors import IngestError

    try:
        d = Decimal(repr(size) if isinstance(size, float) else str(size)).normalize()
    except (InvalidOperation, ValueError):
        d = None
    if d is not None and d.is_finite() and d > 0 and d.as_tuple().digits == (1,):
        k = -d.as_tuple().exponent
        if 0 <= k <= 8:
            return k
    raise IngestError(
        f"lot_size must be a power of ten from 1 down to 1e-8 (e.g. 0.0001), got {size!r}"
    )


def _lot_scales(lot_size, symbols: list[str]) -> list[int] | None:
    """One lot scale per symbol (sid order) from ``lot_size`` (one size, or a mapping of
    symbol to size), or None for whole shares everywhere."""
    if lot_size is None:
        return None
    if isinstance(lot_size, Mapping):
        named = _named_symbols("lot_size", lot_size, symbols)
        scales = {sym: _named_lot_scale(sym, size) for sym, size in named.items()}
        return [scales.get(sym, 0) for sym in symbols]
    return [lot_scale(lot_size)] * len(symbols)


def _named_symbols(option: str, values: Mapping, symbols: list[str]) -> dict:
    """A per-symbol option's mapping with str keys, refused (naming them) where it names
    symbols the data does not hold."""
    from rustybt.errors import IngestError

    unknown = sorted(set(map(str, values)) - set(symbols))
    if unknown:
        raise IngestError(f"{option} names symbols the data does not hold: {unknown}")
    return {str(k): v for k, v in values.items()}


def _named_lot_scale(symbol, size) -> int:
    from rustybt.errors import IngestError

    try:
        return lot_scale(size)
    except IngestError as exc:
        raise IngestError(f"{symbol}: {exc}") from None


def _write_parsed(
    parsed,
    name: str,
    calendar: str,
    drop_non_sessions: bool = False,
    lot_size=None,
    round_prices=False,
    price_scale: int = 4,
) -> Bundle:
    """Round ``parsed``'s prices (at ``price_scale``) to the ticks ``round_prices`` names
    (if any), place its rows on ``calendar``'s sessions and write the bundle ``name``."""
    from rustybt.calendars import sessions

    _round_to_ticks(parsed, round_prices, price_scale)
    lo, hi = parsed.date_range()
    day = pd.Timedelta(days=1)
    first = pd.Timestamp(lo * _NS_PER_DAY) - day
    last = pd.Timestamp(hi * _NS_PER_DAY) + day
    dates, opens, closes = sessions(calendar, first, last)
    rounded = parsed.rounded
    _, dropped = parsed.write(
        bundles_dir(),
        name,
        calendar,
        dates.tolist(),
        opens.tolist(),
        closes.tolist(),
        drop_non_sessions=bool(drop_non_sessions),
        lot_scales=_lot_scales(lot_size, parsed.symbols()),
    )
    bundle = load_bundle(name)
    bundle.ingest_report = {"rounded_prices": rounded, "dropped_rows": dropped}
    return bundle


def _parquet_message(msg: str, csv: str, path) -> str:
    """An ingest message about the CSV a Parquet table was written to, told in the
    table's terms: data rows counted from 1 (the CSV's line N is row N - 1, in the place
    and in references such as "(line 5)"), its column names instead of a header line."""

    def row(line: int) -> str:
        return "(its column names)" if line == 1 else f"row {line - 1}"

    msg = re.sub(re.escape(csv) + r":(\d+):", lambda m: f"{path} {row(int(m.group(1)))}:", msg)
    msg = re.sub(r"\bline (\d+)\b", lambda m: row(int(m.group(1))), msg)
    return msg.replace(csv, str(path))


def ingest_table(
    source,
    name: str,
    frequency: str = "daily",
    calendar: str = "XNYS",
    price_scale: int = 4,
    allow_gaps: bool = False,
    round_prices=False,
    drop_non_sessions: bool = False,
    lot_size=None,
) -> Bundle:
    """Ingest a long table: a CSV or Parquet file, or an in-memory pandas, polars or
    pyarrow table, with columns ``symbol``, ``timestamp`` (or ``date``), ``open, high,
    low, close, volume`` and optionally ``dividend, split`` and ``pay_date`` (a
    dividend's pay date, ``YYYY-MM-DD``; empty on other rows: the dividend is earned on its
    ex-date, the row's date, and paid on the first session on or after its pay date, as
    zipline pays; without one it is paid on the ex-date). Rows may come in any order
    (each symbol's are sorted by time). Validated like csvdir (``round_prices`` and
    ``drop_non_sessions`` as there); errors name the file, the line (CSV) or row
    (Parquet and in-memory tables, counted from 1), the column and the reason.

    Parameters
    ----------
    source : str, path, or a pandas / polars / pyarrow table
        The table.
    name, frequency, calendar, price_scale, allow_gaps, round_prices, drop_non_sessions
        As for :func:`ingest_csvdir`.
    lot_size : number, str or mapping, optional
        As for :func:`ingest_csvdir`: e.g. ``{"BTC": 0.0001}`` on a ``calendar="24/7"``
        bundle trades fractional coins.

    Returns
    -------
    Bundle
        The bundle, opened, with ``ingest_report``.

    Raises
    ------
    IngestError
        As for :func:`ingest_csvdir`; rows of a Parquet or in-memory table are counted
        from 1.

    Examples
    --------
    >>> import pandas as pd, rustybt
    >>> frame = pd.DataFrame({"symbol": ["A", "A"], "date": ["2022-01-04", "2022-01-03"],
    ...     "open": [10.0, 10.5], "high": [11.0, 11], "low": [9.5, 10], "close": [10.5, 10.8],
    ...     "volume": [1000, 1200]})
    >>> b = rustybt.ingest_table(frame, "doc-table")
    >>> b.ingest_report, b.bars("close").fields["close"][:, 0].tolist()
    ({'rounded_prices': 0, 'dropped_rows': 0}, [10.8, 10.5])
    """
    from rustybt.errors import IngestError

    freq = _normalize_frequency(frequency)
    to_scale = round_prices is not False and round_prices is not None
    options = {"allow_gaps": bool(allow_gaps), "round_prices": to_scale}
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix.lower() != ".parquet":
            parsed = _core.CsvDir.parse_long(path, freq, int(price_scale), **options)
            return _write_parsed(
                parsed, name, calendar, drop_non_sessions, lot_size, round_prices, int(price_scale)
            )
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise IngestError(f"{path}: not a readable Parquet file ({exc})") from None
        where = str(path)
    else:
        table = _arrow_table(source)
        where = f"the {type(source).__module__.split('.')[0]} table"
    names, columns = _table_columns(table, where)
    try:
        parsed = _core.CsvDir.parse_table(
            Path(where), names, columns, freq, int(price_scale), **options
        )
        # inside the try: rows placed off the calendar are named by row too
        return _write_parsed(
            parsed, name, calendar, drop_non_sessions, lot_size, round_prices, int(price_scale)
        )
    except IngestError as exc:
        raise IngestError(_parquet_message(str(exc), where, where)) from None


def _arrow_table(frame):
    """A pandas, polars or pyarrow table as a pyarrow Table (polars and pyarrow without a
    copy; pandas through Arrow's conversion)."""
    import pyarrow as pa

    from rustybt.errors import IngestError

    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    module = type(frame).__module__.split(".")[0]
    if module == "polars":
        return frame.to_arrow()
    if isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise IngestError(
        f"ingest_table takes a file path or a pandas, polars or pyarrow table, got "
        f"{type(frame).__name__}"
    )


def _table_columns(table, where: str) -> tuple[list[str], list[tuple]]:
    """An Arrow table's columns as ``_core.CsvDir.parse_table`` reads them, each a
    contiguous NumPy view of the Arrow buffer where its type allows (float64 / float32 /
    int64 without nulls, timestamps as int64 ns, dates as int32 days): strings and
    dictionaries by their codes, other types by Arrow's exact text (decimals). Nulls are
    empty values, as in a CSV."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from rustybt.errors import IngestError

    names, columns = [], []
    for field, chunked in zip(table.schema, table.columns):
        t, name = field.type, field.name
        col = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
        try:
            if pa.types.is_timestamp(t) and name.lower() != "pay_date":
                ns = pc.cast(col, pa.timestamp("ns", t.tz)).view(pa.int64())
                column = ("ts", _filled(ns, pa.scalar(-(2**63), pa.int64())), None)
            elif pa.types.is_timestamp(t) or pa.types.is_date(t):
                days = pc.cast(pc.cast(col, pa.date32()), pa.int32())
                column = ("date", _filled(days, pa.scalar(-(2**31), pa.int32())), None)
            elif pa.types.is_float64(t) or pa.types.is_float32(t):
                kind = "f64" if pa.types.is_float64(t) else "f32"
                column = (kind, _filled(col, pa.scalar(float("nan"), t)), None)
            elif pa.types.is_integer(t) and col.null_count == 0:
                column = ("i64", _filled(pc.cast(col, pa.int64()), None), None)
            elif pa.types.is_floating(t) or pa.types.is_integer(t):  # float16, nullable ints
                as_float = pc.cast(col, pa.float64())
                column = ("f64", _filled(as_float, pa.scalar(float("nan"))), None)
            else:  # strings by dictionary; anything else (decimals) by Arrow's exact text
                if not pa.types.is_dictionary(t):
                    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
                        col = pc.cast(col, pa.string())
                    col = col.dictionary_encode()
                codes = _filled(pc.cast(col.indices, pa.int32()), pa.scalar(-1, pa.int32()))
                values = pc.cast(col.dictionary, pa.string()).to_pylist()
                column = ("dict", codes, values)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
            raise IngestError(f"{where}: column {name!r} cannot be read ({exc})") from None
        names.append(name)
        columns.append(column)
    return names, columns


def _filled(array, null):
    """``array`` as a contiguous NumPy array: a view of its buffer where it has no nulls
    (``null`` in their place, a copy, where it has)."""
    if array.null_count:
        array = array.fill_null(null)
    return np.ascontiguousarray(array.to_numpy(zero_copy_only=False))
