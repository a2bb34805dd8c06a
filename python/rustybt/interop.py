"""Arrow and polars out of a backtest: :meth:`rustybt.Results.to_arrow` /
:meth:`~rustybt.Results.to_polars`, and the long tables of the perf frame's per-session
``orders`` / ``transactions`` / ``positions`` that :meth:`~rustybt.Results.save` keeps.

Tables are built from the columns' NumPy arrays (no pandas → Arrow conversion of the
frame): assets become ``symbol`` (string) and ``sid`` (int) columns, and the engine's exact
values (``perf.attrs["rustybt"]["exact"]``) become Arrow decimals, ``exact_<name>``
beside the float column, at the places they need. polars reads the Arrow tables without
copying (``polars.from_arrow``).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

#: the per-session list columns of the perf frame and the fields of their records
RECORD_COLUMNS = {
    "orders": (
        "id",
        "dt",
        "created",
        "reason",
        "amount",
        "filled",
        "commission",
        "limit",
        "stop",
        "limit_reached",
        "stop_reached",
        "status",
    ),
    "transactions": ("amount", "dt", "price", "order_id", "commission"),
    "positions": ("amount", "cost_basis", "last_sale_price"),
}
#: most places an exact value is stored with (12 for quotients; floats a strategy passed
#: keep their shortest digits, up to 28); Arrow's decimal128 holds 38 digits in all
_MAX_PLACES = 22


def _decimal_array(texts) -> pa.Array:
    """Exact decimal strings as an Arrow decimal128 with the places they need."""
    values = [Decimal(t) for t in texts]
    places = max((max(0, -v.as_tuple().exponent) for v in values if v.is_finite()), default=0)
    if places > _MAX_PLACES:
        raise ValueError(
            f"an exact value has {places} decimal places; Arrow's decimal128 holds "
            f"{_MAX_PLACES} beside 16 integer digits"
        )
    return pa.array(values, type=pa.decimal128(38, places))


def _timestamps(index) -> pa.Array:
    idx = pd.DatetimeIndex(index)
    ns = idx.asi8 if idx.tz is None else idx.tz_convert("UTC").asi8
    return pa.array(ns, type=pa.timestamp("ns", tz="UTC" if idx.tz is not None else None))


def perf_table(perf: pd.DataFrame) -> pa.Table:
    """The perf frame's per-session columns (the list columns left to
    :func:`records_table`), its index as ``period_close``, and its exact values."""
    cols: dict[str, pa.Array] = {"period_close": _timestamps(perf.index)}
    for name in perf.columns:
        if name in RECORD_COLUMNS or name == "period_close":
            continue
        series = perf[name]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            cols[name] = _timestamps(series)
        elif series.dtype == object and series.map(lambda v: v is None).all():
            cols[name] = pa.nulls(len(series), type=pa.float64())  # zipline's all-None
        elif pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
            series.dtype
        ):
            cols[name] = pa.array(series.to_numpy())
        else:
            cols[name] = pa.array(series.astype(str).to_numpy(dtype=object), type=pa.string())
    exact = perf.attrs.get("rustybt", {}).get("exact", {})
    for name, texts in exact.items():
        if name != "transactions" and len(texts) == len(perf):
            cols[f"exact_{name}"] = _decimal_array(texts)
    return pa.table(cols)


def records_frame(perf: pd.DataFrame, column: str) -> pd.DataFrame:
    """One of the perf frame's list columns (``orders``, ``transactions``,
    ``positions``) as a long frame: a row per record, with its session, its asset as
    ``sid``, ``symbol``, ``exchange``, ``start_day``, ``end_day`` (what rebuilds the
    asset) and the record's fields."""
    fields = RECORD_COLUMNS[column]
    rows = []
    for session, records in zip(perf.index, perf[column]):
        for r in records:
            a = r["sid"]
            row = {
                "session": session,
                "sid": int(a.sid),
                "symbol": a.symbol,
                "exchange": a.exchange,
                "start_day": a.start_day,
                "end_day": a.end_day,
            }
            for f in fields:
                v = r.get(f)
                row[f] = int(v) if column == "orders" and f == "status" else v
            rows.append(row)
    head = ["session", "sid", "symbol", "exchange", "start_day", "end_day"]
    frame = pd.DataFrame(rows, columns=[*head, *fields])
    if column == "orders":  # int 0 before a fill, float after: one dtype in a table
        frame["commission"] = frame["commission"].astype(float)
    return frame


def records_to_lists(frame: pd.DataFrame, index: pd.DatetimeIndex, column: str) -> list:
    """:func:`records_frame` back into the perf frame's per-session lists of dicts."""
    from rustybt import _core
    from rustybt.protocol import ORDER_STATUS

    fields = RECORD_COLUMNS[column]
    out: dict = {s: [] for s in index}
    assets: dict = {}
    for row in frame.itertuples(index=False):
        key = (row.sid, row.symbol, row.exchange, row.start_day, row.end_day)
        asset = assets.get(key)
        if asset is None:
            asset = assets[key] = _core.Asset(
                int(row.sid), row.symbol, row.exchange, int(row.start_day), int(row.end_day)
            )
        rec = {}
        for f in fields:
            v = getattr(row, f)
            if isinstance(v, float) and np.isnan(v):
                # a missing limit/stop, a fill's commission (zipline's None)
                v = None if (f != "commission" or column == "transactions") else v
            if f == "status":
                v = ORDER_STATUS(int(v))
            rec[f] = v
        rec["sid"] = asset
        out[row.session].append(rec)
    return [out[s] for s in index]


def to_arrow(results) -> dict[str, pa.Table]:
    """``{"perf", "orders", "transactions", "positions", "fills", "round_trips",
    "stats"}`` as Arrow tables (``fills`` is :attr:`Results.transactions`, a row per
    fill with its commission; ``orders`` / ``transactions`` / ``positions`` the perf
    frame's per-session records, long)."""
    perf = results.perf
    out = {"perf": perf_table(perf)}
    for column in RECORD_COLUMNS:
        if column in perf:
            out[column] = _frame_table(records_frame(perf, column))
    out["fills"] = _frame_table(results.transactions)
    exact = perf.attrs.get("rustybt", {}).get("exact", {}).get("transactions")
    if exact is not None and len(exact) == len(results.transactions):
        fills = out["fills"]
        out["fills"] = fills.append_column(
            "exact_price", _decimal_array([f[3] for f in exact])
        ).append_column("exact_commission", _decimal_array([f[4] for f in exact]))
    out["round_trips"] = _frame_table(results.round_trips)
    out["stats"] = _frame_table(results.stats)
    return out


def _frame_table(frame: pd.DataFrame) -> pa.Table:
    """A plain frame (scalar columns) as an Arrow table, column by column from NumPy."""
    cols = {}
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            cols[str(name)] = _timestamps(s)
        elif pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            cols[str(name)] = pa.array(s.to_numpy())
        else:
            cols[str(name)] = pa.array(s.to_numpy(dtype=object))
    return pa.table(cols) if cols else pa.table({})


def to_polars(results) -> dict:
    """:func:`to_arrow`'s tables as polars DataFrames (read from Arrow without a copy)."""
    try:
        import polars as pl
    except ImportError:
        from rustybt.errors import InvalidRunParameters

        raise InvalidRunParameters(
            "Results.to_polars needs polars: pip install 'rustybt[polars]'"
        ) from None
    return {name: pl.from_arrow(table) for name, table in to_arrow(results).items()}
