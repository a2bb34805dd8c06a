"""``run_algorithm``: one backtest through the Rust engine, returning zipline's perf frame."""

from __future__ import annotations

import dataclasses
import inspect
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from rustybt import _core
from rustybt.algorithm import FunctionAlgorithm, TradingAlgorithm
from rustybt.api import running
from rustybt.bundles import Bundle, _normalize_frequency, load_bundle
from rustybt.data import BarData
from rustybt.errors import InvalidRunParameters, RustyBTError, StrategyError
from rustybt.records import RecordsArray, record_column
from rustybt.stats import stats_from_perf, stats_row

LEDGERS = ("decimal", "float")


@dataclass(frozen=True)
class RunConfig:
    """One backtest, described: what :func:`run_algorithm` and :func:`run_trial` run.

    Either ``algorithm`` (a :class:`~rustybt.TradingAlgorithm` subclass or instance, with
    ``params`` overriding its class attributes) or zipline's functions (``initialize``,
    ``handle_data``, ``before_trading_start``, ``analyze``).

    Example:
        >>> from rustybt.runner import RunConfig
        >>> RunConfig(bundle="rustybt-demo", capital_base=1e5).ledger
        'decimal'
    """

    bundle: object = None
    start: object = None
    end: object = None
    capital_base: float = 1_000_000.0
    algorithm: object = None
    params: Mapping[str, object] | None = None
    initialize: Callable | None = None
    handle_data: Callable | None = None
    before_trading_start: Callable | None = None
    analyze: Callable | None = None
    data_frequency: str | None = None
    ledger: str = "decimal"
    benchmark_returns: pd.Series | None = None
    metrics_set: str = "default"
    periods_per_year: float | None = None

    def replace(self, **changes) -> RunConfig:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)


def _call_user(fn, where: str, *args):
    """Call strategy code; wrap its exceptions in StrategyError (cause kept, traceback intact)."""
    try:
        return fn(*args)
    except RustyBTError:
        raise
    except Exception as exc:
        raise StrategyError(f"{where} raised {type(exc).__name__}: {exc}") from exc


def _make_algorithm(algorithm, params, initialize, handle_data, before_trading_start, analyze):
    functions = (initialize, handle_data, before_trading_start, analyze)
    if algorithm is not None:
        if any(f is not None for f in functions):
            raise InvalidRunParameters(
                "pass either algorithm= or zipline-style functions (initialize, handle_data, ...), not both"
            )
        if inspect.isclass(algorithm) and issubclass(algorithm, TradingAlgorithm):
            cls = algorithm
            algo = algorithm()
        elif isinstance(algorithm, TradingAlgorithm):
            cls, algo = type(algorithm), algorithm
        else:
            raise InvalidRunParameters(
                f"algorithm must be a TradingAlgorithm subclass or instance, got {algorithm!r}"
            )
        known = cls.parameters()
        for name, value in (params or {}).items():
            if name not in known:
                listed = ", ".join(sorted(known)) or "none"
                raise InvalidRunParameters(
                    f"unknown parameter {name!r} for {cls.__name__} (its parameters: {listed})"
                )
            setattr(algo, name, value)
        return algo
    if params:
        raise InvalidRunParameters("params= applies to algorithm= classes only")
    if initialize is None and handle_data is None:
        raise InvalidRunParameters("nothing to run: pass algorithm= or initialize/handle_data")
    for name, fn in zip(
        ("initialize", "handle_data", "before_trading_start", "analyze"), functions
    ):
        if fn is not None and not callable(fn):
            raise InvalidRunParameters(f"{name} must be callable, got {fn!r}")
    return FunctionAlgorithm(*functions)


def _callbacks(algo: TradingAlgorithm):
    """The callables the Rust loop calls: the raw functions for function style (one Python
    frame less per bar); None for hooks that are not overridden."""
    if isinstance(algo, FunctionAlgorithm):
        fn = algo._fn
        handle = fn["handle_data"] or (lambda context, data: None)
        return handle, fn["before_trading_start"]
    cls = type(algo)
    bts = algo.before_trading_start
    if cls.before_trading_start is TradingAlgorithm.before_trading_start:
        bts = None
    return algo.handle_data, bts


def _with_schedule(handle, algo, bundle, first: int, last: int):
    """handle_data followed by the functions scheduled at this bar (zipline's order)."""
    from rustybt.schedule import resolve

    at = resolve(algo._scheduled, bundle, first, last)
    data = algo._data

    def handle_and_scheduled(context, d):
        handle(context, d)
        for func in at.get(data.current_bar, ()):
            func(context, d)

    return handle_and_scheduled


def run_algorithm(
    start=None,
    end=None,
    initialize=None,
    capital_base=1_000_000.0,
    handle_data=None,
    before_trading_start=None,
    analyze=None,
    data_frequency=None,
    bundle=None,
    bundle_timestamp=None,
    trading_calendar=None,
    metrics_set: str = "default",
    benchmark_returns=None,
    default_extension: bool = True,
    extensions=(),
    strict_extensions: bool = True,
    environ=None,
    custom_loader=None,
    blotter="default",
    *,
    algorithm=None,
    params=None,
    ledger: str = "decimal",
    periods_per_year: float | None = None,
) -> pd.DataFrame:
    """Run a backtest and return the per-session perf DataFrame (zipline's columns plus
    ``record()``-ed names).

    Two styles, as in zipline:

    * class style: ``run_algorithm(algorithm=MyStrategy, start=..., end=..., bundle=...,
      capital_base=..., params={"fast": 12})``
    * function style, zipline's positional signature:
      ``run_algorithm(start, end, initialize, capital_base, handle_data=..., bundle=...)``

    ``start`` / ``end`` default to the bundle's span; ``data_frequency`` defaults to the
    bundle's bar size and must match it. ``ledger="decimal"`` (default) keeps exact books;
    ``"float"`` runs the same ledger on f64. Exact values are in ``perf.attrs["rustybt"]``.

    The benchmark (``alpha``, ``beta``, ``benchmark_period_return``,
    ``benchmark_volatility``) is an asset of the bundle chosen with ``set_benchmark`` in
    ``initialize`` (its session-to-session close returns), else ``benchmark_returns`` (a
    Series of daily returns covering every session, as zipline's ``run_algorithm`` takes),
    else none: zero returns, where alpha and beta are NaN. ``metrics_set="none"`` leaves
    out the per-session risk and benchmark columns (faster in sweeps); end-of-run
    statistics are unaffected.

    zipline's other keywords, in its order: ``bundle_timestamp`` runs on the version of the
    bundle that was live at that time (the newest ingested at or before it);
    ``trading_calendar`` (a name or an ``exchange_calendars`` calendar) must be the
    bundle's own; ``environ`` is read for ``RUSTYBT_ROOT``, where named bundles live.
    ``default_extension``, ``strict_extensions``, ``custom_loader=None`` and
    ``blotter="default"`` are accepted as zipline's defaults; ``extensions``, a
    ``custom_loader`` and another ``blotter`` are refused with
    :class:`~rustybt.errors.InvalidRunParameters` saying why.

    Parameters
    ----------
    start, end : date-like, optional
        First and last session (default: the bundle's span).
    initialize, handle_data, before_trading_start, analyze : callable, optional
        zipline's function-style strategy (``initialize(context)``,
        ``handle_data(context, data)``, ...).
    capital_base : float
        Starting cash (default 1,000,000).
    data_frequency : str, optional
        ``"daily"`` / ``"minute"``: must be the bundle's bar size.
    bundle : str, path or Bundle
        Required (zipline's default bundle does not exist here): a registered name, a
        path, or an opened :class:`~rustybt.Bundle`.
    bundle_timestamp, trading_calendar, metrics_set, benchmark_returns, environ
        As described above.
    algorithm : TradingAlgorithm subclass, optional
        The class-style strategy (keyword only); ``params`` sets its class attributes.
    ledger : {"decimal", "float"}
        Exact books (default) or the same ledger on f64.
    periods_per_year : float, optional
        What the risk metrics (volatility, Sharpe, Sortino, alpha) annualise with: by
        default the calendar's nominal count, 252 sessions for an exchange calendar and
        365 days for a 24/7 one.

    Returns
    -------
    pandas.DataFrame
        One row per session: zipline's perf columns, with ``record()``-ed names.

    Raises
    ------
    InvalidRunParameters
        A bad argument (the message names it).
    BundleNotFound
        No such bundle.
    StrategyError
        The strategy's code raised (the original exception is its ``__cause__``).
    TradingControlViolation, AccountControlViolation
        A trading or account control the strategy set was broken.

    Example:
        >>> import rustybt
        >>> from rustybt.app.examples.sma_crossover import SmaCross
        >>> perf = rustybt.run_algorithm(algorithm=SmaCross, bundle="rustybt-demo",
        ...                              capital_base=1e6)  # doctest: +SKIP
    """
    return _run(_zipline_config(locals()))


def _zipline_config(args: dict) -> RunConfig:
    """The run ``run_algorithm``'s arguments (its ``locals()``) ask for: zipline's keywords
    applied (:func:`_zipline_keywords`), the rest into a :class:`RunConfig` (the reference
    engine's ``run_algorithm`` takes the same arguments and calls this too)."""
    bundle = _zipline_keywords(
        args["bundle"],
        args["bundle_timestamp"],
        args["trading_calendar"],
        args["extensions"],
        args["environ"],
        args["custom_loader"],
        args["blotter"],
    )
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    return RunConfig(**{**{k: v for k, v in args.items() if k in fields}, "bundle": bundle})


def _zipline_keywords(
    bundle, bundle_timestamp, trading_calendar, extensions, environ, custom_loader, blotter
):
    """The bundle to run on after zipline's ``run_algorithm`` keywords: each is applied
    where it has a meaning here and refused, naming it, where it has none."""
    from rustybt.bundles import Bundle, bundles_dir, is_bundle_path

    if extensions:
        raise InvalidRunParameters(
            f"extensions={extensions!r}: rustybt loads no zipline extension files; register "
            "what an extension would (a bundle, a calendar) with rustybt's own APIs"
        )
    if custom_loader is not None:
        raise InvalidRunParameters(
            "custom_loader: Pipeline columns come from the bundle (rustybt.pipeline's "
            "EquityPricing); loaders for other datasets are not supported yet"
        )
    if blotter != "default":
        raise InvalidRunParameters(
            f"blotter={blotter!r}: rustybt's engine has one blotter (zipline's default "
            "SimulationBlotter rules); set costs with set_slippage / set_commission"
        )
    if bundle is None or isinstance(bundle, Bundle):
        named = None
    else:
        named = None if is_bundle_path(bundle) else os.fspath(bundle)
    if environ is not None and named is not None and environ.get("RUSTYBT_ROOT"):
        bundle = Path(environ["RUSTYBT_ROOT"]).expanduser() / "bundles" / named
    if bundle_timestamp is not None:
        bundle = _version_as_of(bundle, named, bundle_timestamp, bundles_dir)
    if trading_calendar is not None:
        from rustybt.bundles import load_bundle

        name = getattr(trading_calendar, "name", trading_calendar)
        own = load_bundle(bundle).calendar
        if not isinstance(name, str) or name.upper() != own.upper():
            raise InvalidRunParameters(
                f"trading_calendar={name!r}: the bundle's sessions follow {own!r}, its own "
                "calendar (a bundle is ingested for one calendar; ingest again with "
                "calendar=... to run on another)"
            )
    return bundle


def _version_as_of(bundle, named, when, bundles_dir):
    """The version directory of ``bundle`` that was live at ``when``: the newest ingested
    at or before it (versions are named ``vYYYYMMDDTHHMMSSZ-...`` by ingest time)."""
    from rustybt.bundles import Bundle

    if isinstance(bundle, Bundle):
        raise InvalidRunParameters(
            "bundle_timestamp needs the bundle's name or path, not an opened Bundle"
        )
    base = Path(bundle)
    if named is not None and not base.is_absolute():
        base = bundles_dir() / named
    try:
        ts = pd.Timestamp(when)
    except (TypeError, ValueError):
        raise InvalidRunParameters(f"bundle_timestamp must be a time, got {when!r}") from None
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    versions = []
    for d in base.glob("v*T*Z-*") if base.is_dir() else []:
        try:
            versions.append((pd.Timestamp(d.name[1:17]).tz_convert("UTC"), d))
        except ValueError:
            continue
    before = [v for v in sorted(versions) if v[0] <= ts]
    if not before:
        have = ", ".join(str(t) for t, _ in sorted(versions)) or "none"
        raise InvalidRunParameters(
            f"bundle_timestamp={ts}: no version of bundle {base.name!r} was ingested at or "
            f"before it (versions: {have})"
        )
    return before[-1][1]


def run_trial(
    *,
    algorithm,
    params=None,
    start=None,
    end=None,
    bundle=None,
    capital_base=1_000_000.0,
    ledger: str = "decimal",
    benchmark_returns=None,
    metrics_set: str = "default",
) -> tuple[dict[str, float], np.ndarray]:
    """One backtest as a parameter sweep's trial: ``(stats, returns)``, the
    :data:`~rustybt.stats.STATS` row (plus ``fills``) and the daily returns, equal to
    ``stats_from_perf(perf)`` and ``perf["returns"]`` of the same
    :func:`run_algorithm` call. Faster: the perf frame (tens of thousands of order,
    transaction and position dicts) is not built unless the strategy defines
    ``analyze``.

    Example:
        >>> stats, returns = run_trial(algorithm=SmaCross, params={"fast": 5},
        ...                            bundle="rustybt-demo")  # doctest: +SKIP
        >>> stats["sharpe"]  # doctest: +SKIP
    """
    # a trial is always class style, on the bundle's own bar size
    config = RunConfig(
        bundle=bundle,
        start=start,
        end=end,
        capital_base=capital_base,
        algorithm=algorithm,
        params=params,
        ledger=ledger,
        benchmark_returns=benchmark_returns,
        metrics_set=metrics_set,
    )
    return _run(config, output="trial")


def _run(config: RunConfig, simulation=_core.Simulation, output: str = "perf") -> pd.DataFrame:
    """Run ``config``; ``simulation`` is the engine (the Rust ``_core.Simulation``, or the
    reference engine's drop-in twin).

    ``output="trial"`` (a sweep's trial) returns ``(stats, returns)`` instead of the perf
    frame: the :func:`~rustybt.stats.stats_row` of the run and its daily returns, taken
    from the engine without building the frame unless the strategy's ``analyze`` needs
    it. The figures are the ones ``stats_from_perf(perf)`` gives."""
    c = config
    started = time.perf_counter()
    if c.bundle is None:
        raise InvalidRunParameters("bundle= is required (a bundle name or path)")
    ledger = c.ledger
    if ledger not in LEDGERS:
        raise InvalidRunParameters(f"ledger must be 'decimal' or 'float', got {ledger!r}")
    if c.metrics_set not in METRICS_SETS:
        raise InvalidRunParameters(
            f"metrics_set must be one of {', '.join(map(repr, METRICS_SETS))}, got {c.metrics_set!r}"
        )
    bundle = load_bundle(c.bundle)
    if c.data_frequency is not None and _normalize_frequency(c.data_frequency) != bundle.frequency:
        raise InvalidRunParameters(
            f"data_frequency {c.data_frequency!r} does not match bundle '{bundle.name}' "
            f"({bundle.frequency} bars)"
        )
    try:
        capital = float(c.capital_base)
    except (TypeError, ValueError):
        raise InvalidRunParameters(
            f"capital_base must be a number, got {c.capital_base!r}"
        ) from None
    if not np.isfinite(capital) or capital <= 0:
        raise InvalidRunParameters(
            f"capital_base must be a positive number, got {c.capital_base!r}"
        )
    algo = _make_algorithm(
        c.algorithm, c.params, c.initialize, c.handle_data, c.before_trading_start, c.analyze
    )
    first, last = bundle.session_range(
        bundle.start if c.start is None else c.start, bundle.end if c.end is None else c.end
    )
    sim = simulation(bundle._core, first, last, capital, ledger)
    if c.periods_per_year is not None:
        try:
            sim.set_periods_per_year(float(c.periods_per_year))
        except (TypeError, ValueError) as exc:
            raise InvalidRunParameters(
                f"periods_per_year must be a number of at least 1, got {c.periods_per_year!r}"
            ) from exc
    data = BarData(bundle)
    algo._attach(bundle, sim, data, (first, last))
    algo._environment = {
        "platform": "rustybt",
        "arena": "backtest",
        "data_frequency": bundle.frequency,
        "start": bundle.sessions[first],
        "end": bundle.sessions[last],
        "capital_base": capital,
        "ledger": ledger,
        "bundle": bundle.name,
        "periods_per_year": sim.periods_per_year,
    }
    with running(algo):
        _call_user(algo.initialize, "initialize", algo)
        risk = c.metrics_set == "default"
        benchmark = (
            _benchmark_returns(bundle, algo._benchmark, c.benchmark_returns, first, last)
            if risk
            else None
        )
        handle, bts = _callbacks(algo)
        if algo._scheduled:
            handle = _with_schedule(handle, algo, bundle, first, last)
        snapshots = sim.run(algo, data, handle, bts, algo._recorded)
        if output == "trial" and not _has_analyze(algo):
            return _trial_stats(bundle, sim, benchmark)
        perf = _perf_frame(bundle, sim, snapshots, benchmark)
        perf.attrs["rustybt"]["wall_time_s"] = time.perf_counter() - started
        _call_user(algo.analyze, "analyze", algo, perf)
    if output == "trial":
        return stats_from_perf(perf), perf["returns"].to_numpy(dtype=float)
    return perf


def _has_analyze(algo: TradingAlgorithm) -> bool:
    if isinstance(algo, FunctionAlgorithm):
        return algo._fn["analyze"] is not None
    return type(algo).analyze is not TradingAlgorithm.analyze


def _trial_stats(bundle: Bundle, sim, benchmark: np.ndarray | None) -> tuple[dict, np.ndarray]:
    s = sim.trial_summary(bundle._symbol_groups, None if benchmark is None else benchmark.tolist())
    row = stats_row(
        s["returns"],
        final_value=s["final_value"],
        fills=s["fills"],
        pnl=s["pnl"],
        invested=s["invested"],
        alpha=s["alpha"],
        beta=s["beta"],
        periods_per_year=sim.periods_per_year,
    )
    return row, s["returns"]


METRICS_SETS = ("default", "none")


def _benchmark_returns(bundle: Bundle, asset, series, first: int, last: int) -> np.ndarray:
    """Daily benchmark returns over sessions ``first..=last``: of ``asset``, else of
    ``series``, else zeros.

    An asset's returns are zipline's: session-to-session changes of its closes adjusted for
    splits and dividends as of the last session (dividends reinvested), forward-filled and
    rounded to 3 places as zipline's history rounds them; on the asset's first session,
    when the run starts there, the open-to-close return. An asset whose data starts after
    the run's first session or ends before its last is refused, as zipline refuses it."""
    n = last - first + 1
    if asset is not None:
        return _asset_benchmark(bundle, asset, first, last)
    if series is None:
        return np.zeros(n)
    if not isinstance(series, pd.Series):
        raise InvalidRunParameters(
            f"benchmark_returns must be a pandas Series of daily returns, got {type(series).__name__}"
        )
    index = pd.DatetimeIndex(series.index)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    values = pd.Series(series.to_numpy(dtype=np.float64), index=index.normalize())
    values = values[~values.index.duplicated(keep="last")]
    sessions = bundle.sessions[first : last + 1].tz_localize(None)
    aligned = values.reindex(sessions)
    missing = aligned.index[aligned.isna()]
    if len(missing):
        raise InvalidRunParameters(
            f"benchmark_returns has no (or a NaN) value for {len(missing)} session(s) of the "
            f"run, the first {missing[0].date()}"
        )
    return aligned.to_numpy()


def _asset_benchmark(bundle: Bundle, asset, first: int, last: int) -> np.ndarray:
    from rustybt.errors import (
        BenchmarkAssetNotAvailableTooEarly,
        BenchmarkAssetNotAvailableTooLate,
    )

    days = bundle._session_arrays[0]

    def day(d: int):
        return (np.datetime64(0, "D") + int(d)).astype(object)

    if asset.start_day > days[first]:
        raise BenchmarkAssetNotAvailableTooEarly(
            f"set_benchmark({asset!r}): its data starts on {day(asset.start_day)}, after "
            f"the run's first session {day(days[first])}"
        )
    if asset.end_day < days[last]:
        raise BenchmarkAssetNotAvailableTooLate(
            f"set_benchmark({asset!r}): its data ends on {day(asset.end_day)}, before the "
            f"run's last session {day(days[last])}"
        )
    core = bundle._core
    times = core.timestamps()
    closes_ns = bundle._session_arrays[2]
    frequency = None if bundle.frequency == "1d" else "1d"

    def last_bar(session: int) -> int:
        return int(np.searchsorted(times, closes_ns[session], side="right")) - 1

    n = last - first + 1
    closes = core.history("price", [asset.sid], last_bar(last), n + 1, frequency, 3)[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = closes[1:] / closes[:-1] - 1.0
    if asset.start_day == days[first]:
        # zipline: the open-to-close return of the first session when the asset starts
        # there (its raw open and close of that day)
        end = last_bar(first)
        open_ = core.history("open", [asset.sid], end, 1, frequency)[0, 0]
        close = core.history("close", [asset.sid], end, 1, frequency)[0, 0]
        returns[0] = (close - open_) / open_
    return np.where(np.isfinite(returns), returns, 0.0)


_MINUTE_NS = 60_000_000_000
#: the cumulative risk columns zipline writes as None where they are not finite
_NONE_WHEN_UNDEFINED = ("alpha", "beta", "sharpe", "sortino", "algo_volatility", "max_drawdown")


def _perf_frame(
    bundle: Bundle, sim, snapshots: list[dict], benchmark: np.ndarray | None = None
) -> pd.DataFrame:
    cols = sim.perf(bundle.asset_list, bundle.bar_times, benchmark is not None)
    # orders, transactions and positions: the engine's dicts are made when a column is
    # first read; the reference engine's are lists of them already
    records = cols.pop("records", None)
    for name in ("orders", "transactions", "positions"):
        if records is not None:
            cols[name] = record_column(records, name)
        else:
            cols[name] = RecordsArray._from_sequence(cols[name])
    if benchmark is not None:
        cols.update(
            _core.cumulative_benchmark_risk(
                cols["returns"].tolist(), benchmark.tolist(), sim.periods_per_year
            )
        )
    exact = cols.pop("exact")
    index = pd.DatetimeIndex(cols.pop("period_close"), tz="UTC")
    n = len(index)
    # zipline's period_open is the session's first minute, which ends a minute after the open
    cols["period_open"] = pd.DatetimeIndex(cols.pop("period_open") + _MINUTE_NS, tz="UTC")
    for name in ("longs_count", "shorts_count"):  # counts, int64 as zipline's
        cols[name] = cols[name].astype(np.int64)
    # zipline's constant columns ("Please kill these!", its source says)
    cols["excess_return"] = np.zeros(n)
    cols["treasury_period_return"] = np.zeros(n)
    # zipline records a risk figure that is not finite as None: a column with no finite
    # value at all (alpha and beta without a benchmark) is then a column of None
    for name in _NONE_WHEN_UNDEFINED:
        if name in cols and not np.isfinite(cols[name]).any():
            cols[name] = np.full(n, None, dtype=object)
    cols["period_close"] = index
    cols["period_label"] = index.strftime("%Y-%m")
    cols["trading_days"] = np.arange(1, n + 1)
    # pandas' cummax: a NaN (no portfolio value) stays NaN and does not stop the maximum
    cols["max_leverage"] = pd.Series(cols["gross_leverage"]).cummax().to_numpy()
    if snapshots and any(snapshots):
        recorded = pd.DataFrame(snapshots, index=index)
        for name in recorded.columns:
            cols[name] = recorded[name]
    # one construction, columns in their final order: inserting them one by one cost more
    # than the rest of the frame
    frame = pd.DataFrame({name: cols[name] for name in sorted(cols)}, index=index)
    frame.attrs["rustybt"] = RunInfo(
        ledger=sim.ledger,
        bundle=bundle.name,
        content_hash=bundle.content_hash,
        periods_per_year=sim.periods_per_year,
        exact=ExactValues(exact) if isinstance(exact, _core.PerfExact) else _exact_dict(exact),
    )
    return frame


def _exact_dict(raw: dict) -> dict:
    """The exact values as ``perf.attrs`` keeps them: the columns' texts as tuples."""
    return {k: (v if k == "transactions" else tuple(v)) for k, v in raw.items()}


class ExactValues(Mapping):
    """``perf.attrs["rustybt"]["exact"]``: the run's exact values by name, each money
    column's decimal text per session (a tuple) and ``"transactions"``, every fill as
    ``(order id, sid, amount, price text, commission text, bar)``. The engine keeps them
    as its books hold them (``_core.PerfExact``) and the text is made on the first read of
    any of them. A pickle of it is a plain ``dict`` of the same values.
    """

    __slots__ = ("_source", "_values")

    def __init__(self, source: _core.PerfExact):
        self._source: _core.PerfExact | None = source
        self._values: dict | None = None

    def _built(self) -> dict:
        if self._values is None:
            self._values = _exact_dict(self._source.build())
            self._source = None
        return self._values

    def __getitem__(self, name: str):
        return self._built()[name]

    def __iter__(self):
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __repr__(self) -> str:
        return repr(self._built())

    def __reduce__(self):
        return (dict, (self._built(),))

    def __copy__(self) -> ExactValues:
        return self

    def __deepcopy__(self, memo) -> ExactValues:
        return self  # never written to, as RunInfo's other values


class RunInfo(dict):
    """``perf.attrs["rustybt"]``: the run's provenance and exact values. pandas deep-copies
    ``attrs`` whenever a frame is derived from another (every column access, in pandas 3):
    copying every session's exact values each time made ``perf["returns"]`` take 40 ms on
    a 500-session run. The values are never mutated after the run, so a copy is the same
    object."""

    def __deepcopy__(self, memo) -> RunInfo:
        return self

    def __reduce__(self):
        return (RunInfo, (dict(self.items()),))

    def items(self):
        """The entries, the exact values as a plain ``dict``: what a serializer sees (the
        ``json`` module asks a ``dict`` subclass for its items, and pandas writes
        ``attrs`` as JSON in ``to_parquet``)."""
        return {k: dict(v) if isinstance(v, ExactValues) else v for k, v in super().items()}.items()


def exact_column(perf: pd.DataFrame, name: str) -> pd.Series:
    """An exact (``decimal.Decimal``) perf column kept by the engine, e.g. ``portfolio_value``."""
    values = perf.attrs["rustybt"]["exact"][name]
    return pd.Series([Decimal(v) for v in values], index=perf.index, name=name, dtype=object)
