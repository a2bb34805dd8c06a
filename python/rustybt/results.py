"""``rustybt.backtest``: a run's perf frame with its statistics, trades and provenance, in
one object that saves to (and loads from) a directory of Parquet and JSON."""

from __future__ import annotations

import html
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rustybt.errors import RustyBTError
from rustybt.stats import STATS, fill_commissions, round_trips_of, stats_from_perf, symbol_groups

#: The entry-point group of renderers of a :class:`Results`: the entry point ``tearsheet``
#: names the function behind :meth:`Results.tearsheet` (``write_tearsheet(results, path)``
#: of :mod:`rustybt.app.tearsheet`, declared in rustybt's pyproject.toml). The library
#: never imports the application: it finds the renderer here, or through
#: :func:`register_renderer`.
RENDERERS_GROUP = "rustybt.renderers"

_renderers: dict = {}


def register_renderer(name: str, render) -> None:
    """Make ``render(results, path)`` the renderer ``name`` (``"tearsheet"``: the one
    :meth:`Results.tearsheet` calls). Importing :mod:`rustybt.app.tearsheet` registers
    its ``write_tearsheet``; without that, the :data:`RENDERERS_GROUP` entry point of the
    name is loaded on first use."""
    _renderers[name] = render


def renderer(name: str):
    """The renderer registered as ``name``, else the :data:`RENDERERS_GROUP` entry point of
    that name (loaded, then kept); :class:`~rustybt.errors.RustyBTError` if neither exists."""
    render = _renderers.get(name)
    if render is not None:
        return render
    from importlib.metadata import entry_points

    for ep in entry_points(group=RENDERERS_GROUP):
        if ep.name == name:
            render = _renderers[name] = ep.load()
            return render
    raise RustyBTError(
        f"no {name!r} renderer is installed: none was registered with "
        f"rustybt.results.register_renderer and no package declares a {name!r} entry point in "
        f"the {RENDERERS_GROUP!r} group (rustybt declares rustybt.app.tearsheet:write_tearsheet "
        "there: reinstall rustybt to refresh its entry points, or import rustybt.app.tearsheet)"
    )


def transactions_frame(perf: pd.DataFrame) -> pd.DataFrame:
    """Every fill, one row each, with its commission (which zipline's perf records keep on
    the order: the fill's own is read from the run's exact values)."""
    fills = [t for ts in perf["transactions"] for t in ts]
    rows = [
        {"dt": t["dt"], "symbol": t["sid"].symbol, "sid": t["sid"].sid, "amount": t["amount"],
         "price": t["price"], "commission": c, "order_id": t["order_id"]}
        for t, c in zip(fills, fill_commissions(perf, fills))
    ]  # fmt: skip
    return pd.DataFrame(
        rows, columns=["dt", "symbol", "sid", "amount", "price", "commission", "order_id"]
    )


def positions_frame(perf: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {"session": dt, "symbol": p["sid"].symbol, "amount": p["amount"],
         "cost_basis": p["cost_basis"], "last_sale_price": p["last_sale_price"]}
        for dt, ps in zip(perf.index, perf["positions"]) for p in ps
    ]  # fmt: skip
    return pd.DataFrame(
        rows, columns=["session", "symbol", "amount", "cost_basis", "last_sale_price"]
    )


TRIP_COLUMNS = ["symbol", "open_dt", "close_dt", "shares", "entry", "exit", "pnl"]


def round_trips(transactions: pd.DataFrame, lot_scales: dict | None = None) -> pd.DataFrame:
    """Closed round trips, first in first out per asset: each closing fill matched against
    the oldest open lots. ``pnl`` is at fill prices, less the commissions of both sides
    (pro rata per share). Symbols in sorted order, each one's trips in time order.
    ``lot_scales`` maps the symbols of assets traded in lots finer than a share to their
    ``lot_scale`` (their fills are matched in whole lots)."""
    t = transactions
    symbol_col = t["symbol"].to_numpy(dtype=object)
    symbols, group = symbol_groups(symbol_col)
    scales = [(lot_scales or {}).get(s, 0) for s in symbol_col]
    amounts = t["amount"].to_numpy(dtype=float if any(scales) else np.int64).tolist()
    trips = round_trips_of(
        group.tolist(),
        scales,
        amounts,
        t["price"].to_numpy(dtype=float).tolist(),
        t["commission"].to_numpy(dtype=float).tolist(),
    )
    dts = t["dt"].array  # keeps the column's dtype (tz-aware datetimes)
    opened, closed = trips["open"], trips["close"]
    return pd.DataFrame(
        {
            "symbol": symbols[group[opened]] if len(opened) else np.array([], dtype=object),
            "open_dt": dts[opened],
            "close_dt": dts[closed],
            "shares": trips["shares"],
            "entry": trips["entry"],
            "exit": trips["exit"],
            "pnl": trips["pnl"],
        },
        columns=TRIP_COLUMNS,
    )


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


#: The layout :meth:`Results.save` writes (``results_format`` in metadata.json). 1: perf
#: scalars, stats, transactions, positions, round trips and metadata, as Parquet + JSON.
#: 2: also the perf frame's per-session orders, transactions and positions (long tables
#: perf_orders / perf_transactions / perf_positions), rebuilt into its lists on load.
RESULTS_FORMAT = 2
#: the formats :meth:`Results.load` reads
READABLE_FORMATS = (1, 2)


class Results:
    """A backtest's outputs: ``perf`` (zipline's frame), ``stats`` (one row, the names in
    :data:`STATS`), ``transactions``, ``positions``, ``round_trips`` and ``metadata``."""

    def __init__(self, perf, stats, transactions, positions, trips, metadata):
        self.perf, self.stats, self.transactions = perf, stats, transactions
        self.positions, self.round_trips, self.metadata = positions, trips, metadata

    @classmethod
    def from_perf(cls, perf: pd.DataFrame, metadata: dict) -> Results:
        txns = transactions_frame(perf)
        lots = {
            t["sid"].symbol: t["sid"].lot_scale
            for ts in perf["transactions"]
            for t in ts
            if t["sid"].lot_scale
        }
        trips = round_trips(txns, lots)
        row = stats_from_perf(perf, trips)
        stats = pd.DataFrame([{k: row[k] for k in STATS}])
        return cls(perf, stats, txns, positions_frame(perf), trips, metadata)

    def to_arrow(self) -> dict:
        """The results as Arrow tables: ``perf`` (exact values as ``exact_<name>``
        decimal columns), ``orders`` / ``transactions`` / ``positions`` (the perf frame's
        per-session records, a row each), ``fills``, ``round_trips`` and ``stats``;
        assets as ``symbol`` and ``sid`` (see :mod:`rustybt.interop`).

        >>> tables = res.to_arrow()  # doctest: +SKIP
        >>> tables["perf"].schema.field("exact_portfolio_value").type  # doctest: +SKIP
        Decimal128Type(decimal128(38, 12))
        """
        from rustybt.interop import to_arrow

        return to_arrow(self)

    def to_polars(self) -> dict:
        """:meth:`to_arrow`'s tables as polars DataFrames (read from Arrow, no copy)."""
        from rustybt.interop import to_polars

        return to_polars(self)

    def save(self, path) -> Path:
        """A directory: perf.parquet (scalar columns), perf_orders/perf_transactions/
        perf_positions .parquet (the perf frame's per-session records, long),
        stats/transactions/positions/round_trips .parquet, metadata.json (which records
        the layout as ``results_format``)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        from rustybt.interop import RECORD_COLUMNS, records_frame

        scalar = self.perf.drop(columns=list(RECORD_COLUMNS), errors="ignore")
        scalar.to_parquet(path / "perf.parquet")
        for column in RECORD_COLUMNS:
            if column in self.perf:
                records_frame(self.perf, column).to_parquet(path / f"perf_{column}.parquet")
        for name in ("stats", "transactions", "positions", "round_trips"):
            getattr(self, name).to_parquet(path / f"{name}.parquet")
        meta = {**self.metadata, "results_format": RESULTS_FORMAT}
        (path / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path) -> Results:
        """A saved Results (the perf frame without its per-session order/transaction lists).

        Raises
        ------
        InvalidRunParameters
            ``path`` holds no saved Results, or Results of a layout this rustybt does not
            read (the message says which, and what to do).
        """
        from rustybt.errors import InvalidRunParameters

        path = Path(path)
        read = lambda n: pd.read_parquet(path / f"{n}.parquet")  # noqa: E731
        try:
            meta = json.loads((path / "metadata.json").read_text())
        except (OSError, ValueError) as exc:
            raise InvalidRunParameters(f"{path}: not a saved Results ({exc})") from None
        # saves before the format was recorded have format 1's layout
        fmt = meta.pop("results_format", 1)
        if fmt not in READABLE_FORMATS:
            raise InvalidRunParameters(
                f"{path}: saved Results of format {fmt}; this rustybt reads formats "
                f"{', '.join(map(str, READABLE_FORMATS))}. Load it with the rustybt that saved it "
                f"({meta.get('rustybt_version', 'unknown version')}), or run the backtest again"
            )
        perf = read("perf")
        if fmt >= 2:
            from rustybt.interop import RECORD_COLUMNS, records_to_lists

            for column in RECORD_COLUMNS:
                if (path / f"perf_{column}.parquet").exists():
                    frame = read(f"perf_{column}")
                    perf[column] = records_to_lists(frame, perf.index, column)
        return cls(
            perf,
            read("stats"),
            read("transactions"),
            read("positions"),
            read("round_trips"),
            meta,
        )

    def tearsheet(self, path) -> Path:
        """Write a self-contained HTML tear sheet (charts, statistics, provenance) to
        ``path`` and return it. ``rustybt report DIR`` does the same for saved Results.
        The page is drawn by the application's tear sheet (:mod:`rustybt.app.tearsheet`),
        found through :func:`renderer`.

        Example:
            >>> res.tearsheet("report.html")  # doctest: +SKIP
        """
        return renderer("tearsheet")(self, path)

    def _repr_html_(self) -> str:
        m = self.metadata
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{v:.6g}</td></tr>" if isinstance(v, float)
            else f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.stats.iloc[0].items()
        )  # fmt: skip
        head = html.escape(
            f"{m.get('algorithm')} on {m.get('bundle')} ({m.get('start')} .. {m.get('end')})"
        )
        return f"<div><b>rustybt Results</b>: {head}<table>{rows}</table></div>"

    def __repr__(self) -> str:
        s = self.stats.iloc[0]
        return (
            f"Results({self.metadata.get('algorithm')}, {len(self.perf)} sessions, "
            f"total_return={s['total_return']:+.2%}, sharpe={s['sharpe']:.3f}, trades={int(s['trades'])})"
        )


def backtest(*args, **kwargs) -> Results:
    """Run a backtest as :func:`rustybt.run_algorithm` does, with the same arguments,
    and return its :class:`Results`: the perf frame with the run's statistics, fills,
    positions, round trips and provenance, which :meth:`Results.save` writes to a
    directory (and :meth:`Results.load` reads back).

    Parameters
    ----------
    *args, **kwargs
        Those of :func:`rustybt.run_algorithm` (``algorithm=``, ``params=``,
        ``bundle=``, ``start=``, ``end=``, ``capital_base=``, ``ledger=``, ... or
        zipline's functions).

    Returns
    -------
    Results
        ``perf`` (the frame ``run_algorithm`` returns), ``stats`` (one row: every stat
        of :data:`rustybt.stats.STATS`), ``transactions``, ``positions``,
        ``round_trips`` and ``metadata`` (the algorithm's name, ``params``, the bundle,
        its content hash, the ledger, the span, the rustybt version, the git commit of
        the working directory, the wall time).

    Raises
    ------
    InvalidRunParameters
        A bad argument (the message names it), as :func:`rustybt.run_algorithm`.
    BundleNotFound
        No such bundle.
    StrategyError
        The strategy's code raised (the original exception is its ``__cause__``).
    RustyBTError
        A rule the strategy broke, with its own class: e.g.
        :class:`~rustybt.errors.OrderDuringInitialize`,
        :class:`~rustybt.errors.TradingControlViolation`,
        :class:`~rustybt.errors.AccountControlViolation`.

    Examples
    --------
    >>> import rustybt
    >>> from rustybt.app.examples.sma_crossover import SmaCross
    >>> bundle = rustybt.ingest_synthetic("doc-backtest", assets=20, start="2022-01-03",
    ...                                   end="2022-06-30")
    >>> res = rustybt.backtest(algorithm=SmaCross, bundle=bundle, params={"fast": 5, "slow": 20})
    >>> res
    Results(SmaCross, 124 sessions, total_return=+3.37%, sharpe=1.508, trades=948)
    >>> res.stats[["total_return", "sharpe", "max_drawdown", "trades"]].round(4)
       total_return  sharpe  max_drawdown  trades
    0        0.0337  1.5085        -0.028     948
    >>> res.metadata["algorithm"], res.metadata["params"], res.metadata["start"]
    ('SmaCross', {'fast': 5, 'slow': 20}, '2022-01-03')
    """
    import rustybt

    started = time.perf_counter()
    perf = rustybt.run_algorithm(*args, **kwargs)
    info = perf.attrs["rustybt"]
    algorithm = kwargs.get("algorithm")
    name = getattr(
        algorithm, "__name__", type(algorithm).__name__ if algorithm is not None else "functions"
    )
    metadata = {
        "algorithm": name,
        "params": kwargs.get("params") or {},
        "bundle": info["bundle"],
        "content_hash": info["content_hash"],
        "ledger": info["ledger"],
        "periods_per_year": info.get("periods_per_year", 252.0),
        "start": str(perf.index[0].date()),
        "end": str(perf.index[-1].date()),
        "rustybt_version": rustybt.__version__,
        "git_commit": _git_commit(),
        "wall_time_s": time.perf_counter() - started,
    }
    return Results.from_perf(perf, metadata)
