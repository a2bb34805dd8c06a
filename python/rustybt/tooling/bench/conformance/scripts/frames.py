"""A perf frame as JSON, the same way for both engines. This file runs in zipline's
virtualenv too (``zl_run.py`` imports it from beside itself): it imports neither rustybt
nor zipline, only pandas and NumPy, and rustybt loads it by its path.

Every column of the frame is kept with its dtype; values are encoded by :func:`encode`:
timestamps as ISO text, assets as ``"asset:SYMBOL"``, enum members as ``"Class.NAME"``,
dicts and lists element by element, floats as floats (NaN included), ints as ints.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import math

import numpy as np
import pandas as pd


def encode(v):
    if v is None or isinstance(v, (bool, np.bool_)):
        return None if v is None else bool(v)
    if isinstance(v, enum.Enum):
        return f"{type(v).__name__}.{v.name}"
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, decimal.Decimal):
        return {"decimal": str(v)}
    if isinstance(v, (pd.Timestamp, _dt.datetime, np.datetime64)):
        ts = pd.Timestamp(v)
        return "NaT" if pd.isna(ts) else ts.isoformat()
    if isinstance(v, dict):
        return {str(k): encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if hasattr(v, "sid") and hasattr(v, "symbol"):
        return f"asset:{v.symbol}"
    return {"repr": f"{type(v).__name__}:{v!r}"}


def frame_to_json(perf: pd.DataFrame) -> dict:
    """``{"index": {"dtype", "values"}, "columns": {name: {"dtype", "values"}}}``."""
    cols = {}
    for name in perf.columns:
        s = perf[name]
        cols[str(name)] = {"dtype": str(s.dtype), "values": [encode(x) for x in s.tolist()]}
    return {
        "index": {"dtype": str(perf.index.dtype), "values": [encode(x) for x in perf.index]},
        "columns": cols,
    }


def error_to_json(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)[:2000]}


def finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x)
