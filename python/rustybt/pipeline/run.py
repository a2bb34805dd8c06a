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
        parts.append(frame(engine, columns, keep, lo))
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    if output == "polars":
        return _to_polars(out)
    return out


def _to_polars(out: pd.DataFrame):
    import numpy as np
    import polars as pl

    dates, assets = out.index.get_level_values(0), out.index.get_level_values(1)
    data = {
        "date": pl.Series("date", np.asarray(dates.tz_localize(None) if dates.tz else dates)),
        "asset": pl.Series("asset", [a.symbol for a in assets], dtype=pl.Utf8),
        "sid": pl.Series("sid", np.fromiter((a.sid for a in assets), np.int64, len(assets))),
    }
    for name in out.columns:
        data[name] = pl.Series(name, out[name].to_numpy())
    return pl.DataFrame(data)


__all__ = ["run_pipeline"]
