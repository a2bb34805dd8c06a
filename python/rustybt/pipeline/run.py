"""``run_pipeline``: a pipeline over a span of a bundle, outside any backtest."""

from __future__ import annotations

import pandas as pd

from rustybt.errors import PipelineError
from rustybt.pipeline.engine import DEFAULT_CHUNK, PipelineEngine, frame


def run_pipeline(
    pipeline,
    start,
    end,
    bundle,
    *,
    output: str = "pandas",
    chunksize: int | None = DEFAULT_CHUNK,
    engine: PipelineEngine | None = None,
):
    """Compute ``pipeline`` for every session from ``start`` to ``end`` of ``bundle``.

    Returns zipline's frame: a ``(date, asset)`` MultiIndex with one column per pipeline
    column, the rows of the assets that exist and pass the screen on each date; with
    ``output="polars"``, the same as a polars frame (``date``, ``asset`` symbol, ``sid``
    and the columns). ``chunksize`` sessions are computed at a time (memory stays bounded
    by it); ``None`` computes the span at once.

    Example:
        >>> from rustybt.pipeline import Pipeline, run_pipeline
        >>> from rustybt.pipeline.factors import Returns
        >>> out = run_pipeline(Pipeline({"r": Returns(window_length=21)}),
        ...                    "2023-01-03", "2023-06-30", bundle="rustybt-demo")  # doctest: +SKIP
    """
    if output not in ("pandas", "polars"):
        raise PipelineError(f"output must be 'pandas' or 'polars', got {output!r}")
    engine = engine or PipelineEngine(bundle)
    first, last = engine.bundle.session_range(start, end)
    step = (last - first + 1) if not chunksize else int(chunksize)
    if step < 1:
        raise PipelineError(f"chunksize must be a positive integer, got {chunksize!r}")
    parts = []
    for lo in range(first, last + 1, step):
        hi = min(lo + step - 1, last)
        columns, keep = engine.compute(pipeline, lo, hi)
        if output == "polars":
            parts.append(_polars_part(engine, columns, keep, lo))
        else:
            parts.append(frame(engine, columns, keep, lo))
    if output == "polars":
        import polars as pl

        return pl.concat(parts) if len(parts) > 1 else parts[0]
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def _polars_part(engine, columns: dict, keep, first: int):
    """The kept rows of one chunk as a polars frame, straight from the kernels' arrays
    (no pandas frame in between): ``date``, ``asset`` (symbol), ``sid``, the columns."""
    import numpy as np
    import polars as pl

    rows, cols = np.nonzero(keep)
    sessions = engine.sessions
    days = np.asarray(sessions.tz_localize(None) if sessions.tz else sessions)[first + rows]
    symbols = np.array([a.symbol for a in engine.bundle.asset_list], dtype=object)
    data = {
        "date": pl.Series("date", days),
        "asset": pl.Series("asset", symbols[cols].tolist(), dtype=pl.Utf8),
        "sid": pl.Series("sid", cols.astype(np.int64)),
    }
    for name, values in columns.items():
        data[name] = pl.Series(name, values[rows, cols])
    return pl.DataFrame(data)


__all__ = ["run_pipeline"]
