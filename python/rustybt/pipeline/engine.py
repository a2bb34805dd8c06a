"""The pipeline engine: a pipeline's terms as one graph, each distinct term computed once
per chunk of dates, over whole ``[dates × assets]`` columns.

Timing and data, as in zipline: the row of date *t* holds what is known before *t*'s
open — the previous session's bars, adjusted for every split and dividend whose ex-date
is on or before *t*. A windowed term on *t* sees the ``window_length`` rows ending at *t*,
all adjusted as of *t*. Assets are those that started trading before *t* and whose data has
not ended (zipline's lifetimes).

Built-in factors and cross-sectional operations run in the Rust kernels of
``crates/pipeline`` (``rustybt._core.pipeline_*``), parallel across assets with the GIL
released; ``CustomFactor.compute`` runs once per date on read-only NumPy windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rustybt.errors import NoFurtherDataError, PipelineError
from rustybt.pipeline.data.dataset import BoundColumn
from rustybt.pipeline.data.equity_pricing import EquityPricing
from rustybt.pipeline.pipeline import Pipeline
from rustybt.pipeline.term import AssetExists, LoadableTerm, NotSpecified, Term

#: Dates computed together by default (bounds memory: every live term holds a
#: ``[chunk + lookback, assets]`` matrix).
DEFAULT_CHUNK = 252


class RustKernels:
    """The Rust kernels of ``crates/pipeline`` (``rustybt._core.pipeline_*``)."""

    def __init__(self):
        from rustybt import _core

        self._core = _core

    def rolling(self, kind, params, inputs, adjustments, window):
        return self._core.pipeline_rolling(kind, params, inputs, adjustments, window)

    def rolling_stat(self, kind, params, inputs, adjustments, window):
        return self._core.pipeline_rolling_stat(kind, params, inputs, adjustments, window)

    def rank(self, values, mask, groups, method, ascending):
        return self._core.pipeline_rank(values, mask, groups, method, ascending)

    def normalize(self, kind, values, mask, groups, params):
        return self._core.pipeline_normalize(kind, values, mask, groups, params)

    def quantiles(self, values, mask, bins):
        return self._core.pipeline_quantiles(values, mask, bins)

    def percentile_between(self, values, mask, lo, hi):
        return self._core.pipeline_percentile_between(values, mask, lo, hi)

    def peer_count(self, groups, mask):
        return self._core.pipeline_peer_count(groups, mask)


class OracleKernels(RustKernels):
    """The reference engine's pure-Python kernels (the oracle of the Rust ones)."""

    def __init__(self):
        from rustybt.reference import pipeline_kernels

        self._k = pipeline_kernels

    def rolling(self, kind, params, inputs, adjustments, window):
        return self._k.rolling(kind, params, inputs, adjustments, window)

    rolling_stat = rolling

    def rank(self, values, mask, groups, method, ascending):
        return self._k.rank(values, mask, groups, method, ascending)

    def normalize(self, kind, values, mask, groups, params):
        return self._k.normalize(kind, values, mask, groups, params)

    def quantiles(self, values, mask, bins):
        return self._k.quantiles(values, mask, bins)

    def percentile_between(self, values, mask, lo, hi):
        return self._k.percentile_between(values, mask, lo, hi)

    def peer_count(self, groups, mask):
        return self._k.peer_count(groups, mask)


class Window:
    """One input of a windowed term: ``values`` (``[rows + window − 1, assets]``, the
    rows of the term's dates and the lookback before them) and, for a dataset column, its
    adjustments ``(assets, rows, ratios)`` in these rows."""

    __slots__ = ("adjustments", "values", "window")

    def __init__(self, values: np.ndarray, adjustments, window: int):
        self.values = values
        self.adjustments = adjustments
        self.window = window

    def rolling(self, kernels, kind, params, window):
        return kernels.rolling(kind, params, [self.values], [self.adjustments], window)

    def latest(self) -> np.ndarray:
        """The last row of each window, adjusted as of itself (window 1)."""
        out = self.values[self.window - 1 :].copy()
        if self.adjustments is not None and out.dtype == np.float64:
            assets, rows, ratios = self.adjustments
            for a, r, x in zip(assets, rows, ratios):
                if r >= self.window - 1:
                    out[r - (self.window - 1), a] *= x
        return out

    def per_date(self):
        """The ``[window, assets]`` window of each date, adjusted as of that date:
        read-only views of ``values`` where no adjustment falls inside the window, copies
        otherwise."""
        w, values = self.window, self.values
        views = np.lib.stride_tricks.sliding_window_view(values, w, axis=0)
        by_row = None
        if self.adjustments is not None and len(self.adjustments[0]):
            assets, rows, ratios = self.adjustments
            order = np.argsort(rows, kind="stable")
            by_row = (assets[order], rows[order], ratios[order])
        for j in range(values.shape[0] - w + 1):
            window = views[j].T  # [w, assets], a read-only view
            if by_row is not None:
                assets, rows, ratios = by_row
                lo = np.searchsorted(rows, j, side="left")
                hi = np.searchsorted(rows, j + w - 1, side="right")
                if hi > lo:
                    window = window.copy()
                    for a, r, x in zip(assets[lo:hi], rows[lo:hi], ratios[lo:hi]):
                        window[: r - j + 1, a] *= x
                    window.setflags(write=False)
            yield window


class Context:
    """What a term's ``_compute`` sees: its rows' dates, the assets, its mask, the
    kernels."""

    def __init__(self, engine, first_label: int, rows: int, mask: np.ndarray):
        self._engine = engine
        self.first_label = first_label
        self.shape = (rows, engine.n_assets)
        self.mask = mask
        self.assets = engine.sids
        self.kernels = engine.kernels

    @property
    def dates(self) -> pd.DatetimeIndex:
        return self._engine.sessions[self.first_label : self.first_label + self.shape[0]]

    def rolling(self, kind, params, windows, window):
        return self.kernels.rolling(
            kind, params, [w.values for w in windows], [w.adjustments for w in windows], window
        )

    def rolling_stat(self, kind, params, windows, window):
        return self.kernels.rolling_stat(
            kind, params, [w.values for w in windows], [w.adjustments for w in windows], window
        )

    def column_of(self, sid: int, what: str) -> int:
        if not 0 <= sid < self.shape[1]:
            raise PipelineError(f"{what}: sid {sid} is not in the bundle")
        return sid

    def period_starts(self, frequency: str) -> np.ndarray:
        """True on the dates that start a ``frequency`` period (compared with the
        session before)."""
        all_dates = self._engine.sessions
        lo = self.first_label
        dates = all_dates[max(lo - 1, 0) : lo + self.shape[0]]
        key = {
            "year_start": dates.year,
            "quarter_start": dates.year * 4 + dates.quarter,
            "month_start": dates.year * 12 + dates.month,
            "week_start": (dates - pd.to_timedelta(dates.dayofweek, unit="D")).asi8,
        }[frequency]
        key = np.asarray(key)
        starts = np.empty(len(key), dtype=bool)
        starts[0] = True
        starts[1:] = key[1:] != key[:-1]
        return starts[1:] if lo >= 1 else starts


class PipelineEngine:
    """Computes pipelines over a bundle (zipline's ``SimplePipelineEngine``).

    Example:
        >>> from rustybt.pipeline import Pipeline
        >>> from rustybt.pipeline.engine import PipelineEngine
        >>> engine = PipelineEngine(rustybt.load_bundle("rustybt-demo"))  # doctest: +SKIP
    """

    def __init__(self, bundle, kernels=None):
        from rustybt.bundles import load_bundle

        self.bundle = load_bundle(bundle)
        self.kernels = kernels or RustKernels()
        self.sessions = self.bundle.sessions
        self.n_assets = len(self.bundle.asset_list)
        self.sids = np.arange(self.n_assets, dtype=np.int64)
        days = np.asarray(self.bundle._session_arrays[0], dtype=np.int64)
        self._days = days
        starts = np.array([a.start_day for a in self.bundle.asset_list], dtype=np.int64)
        ends = np.array([a.end_day for a in self.bundle.asset_list], dtype=np.int64)
        # lifetimes: started before the date (a bar is known), data not ended
        self._alive = (starts[None, :] < days[:, None]) & (days[:, None] <= ends[None, :])
        self._raw: dict[str, np.ndarray] = {}
        sids, sessions, price, volume = self.bundle._core.adjustment_ratios()
        self._adjustments = (
            np.asarray(sids, dtype=np.uint32),
            np.asarray(sessions, dtype=np.uint32),
            np.asarray(price, dtype=np.float64),
            np.asarray(volume, dtype=np.float64),
        )

    # -- data ------------------------------------------------------------------------------
    def _column(self, column: BoundColumn) -> np.ndarray:
        """``[sessions, assets]`` raw daily values of a dataset column (volume 0 where
        there is no bar, as zipline's readers give it)."""
        if column.dataset is not EquityPricing and not issubclass(column.dataset, EquityPricing):
            raise PipelineError(
                f"no data for {column.qualname}: rustybt bundles provide EquityPricing "
                "(open, high, low, close, volume) only"
            )
        name = column.name
        raw = self._raw.get(name)
        if raw is None:
            if self.bundle.frequency == "1d":
                raw = self.bundle._core.field_matrix(name)
            else:
                _, raw = self.bundle._core.resample(name, "1d")
            if name == "volume":
                raw = np.where(np.isnan(raw), 0.0, raw)
            self._raw[name] = raw
        return raw

    def _load(self, column: BoundColumn, first_label: int, last_label: int) -> Window:
        """Rows labelled ``first_label..=last_label`` (the previous sessions' values) and
        their adjustments."""
        raw = self._column(column)
        values = np.ascontiguousarray(raw[first_label - 1 : last_label])
        sids, sessions, price, volume = self._adjustments
        ratios = volume if column.name == "volume" else price
        keep = (sessions >= first_label) & (sessions <= last_label) & (ratios != 1.0)
        adjustments = (
            sids[keep],
            (sessions[keep] - first_label).astype(np.uint32),
            ratios[keep],
        )
        return Window(values, adjustments, 1)

    # -- the graph -------------------------------------------------------------------------
    @staticmethod
    def _graph(terms: list[Term]) -> list[Term]:
        """Every term the given ones depend on, dependencies first."""
        order: list[Term] = []
        state: dict[int, int] = {}

        def visit(t: Term):
            s = state.get(id(t))
            if s == 2:
                return
            if s == 1:
                raise PipelineError(f"the pipeline's graph has a cycle through {t!r}")
            state[id(t)] = 1
            for d in t.dependencies:
                visit(d)
            state[id(t)] = 2
            order.append(t)

        for t in terms:
            visit(t)
        return order

    @staticmethod
    def _extra_rows(order: list[Term], outputs: list[Term], drivers: dict | None = None):
        """How many dates before the first output date each term is needed for; with
        ``drivers``, also which dependent term asks for that many (for messages)."""
        extra = {id(t): 0 for t in order}
        for t in reversed(order):
            e = extra[id(t)]
            w = t.window_length if isinstance(t.window_length, int) else 0
            deps = list(t.inputs) if t.inputs is not NotSpecified else []
            for i, need in [(i, e + max(w - 1, 0)) for i in deps] + (
                [(t.mask, e)] if isinstance(t.mask, Term) else []
            ):
                if need > extra[id(i)]:
                    extra[id(i)] = need
                    if drivers is not None:
                        drivers[id(i)] = t
        return extra

    def compute(self, pipeline: Pipeline, first: int, last: int):
        """The pipeline's columns over session indices ``first..=last``: ``(values by
        column name, keep)``, each ``[dates, assets]``; ``keep`` is the root mask and the
        screen."""
        if not isinstance(pipeline, Pipeline):
            raise PipelineError(f"expected a Pipeline, got {pipeline!r}")
        root = AssetExists()
        outputs = [*pipeline.columns.values(), root]
        if pipeline.screen is not None:
            outputs.append(pipeline.screen)
        order = self._graph(outputs)
        drivers: dict[int, Term] = {}
        extra = self._extra_rows(order, outputs, drivers)
        self._check_history(order, extra, first, drivers)
        uses: dict[int, int] = {}
        for t in order:
            for d in t.dependencies:
                uses[id(d)] = uses.get(id(d), 0) + 1
        keep_ids = {id(t) for t in outputs}
        values: dict[int, object] = {}
        rows_total = last - first + 1
        for t in order:
            e = extra[id(t)]
            lo = first - e
            rows = rows_total + e
            if isinstance(t, AssetExists):
                values[id(t)] = self._alive[lo : last + 1]
                continue
            if isinstance(t, LoadableTerm):
                values[id(t)] = ("loadable", lo)  # loaded per dependent, with its window
                continue
            mask_term = t.mask
            mask = _rows(values[id(mask_term)], extra[id(mask_term)] - e, rows)
            inputs = self._inputs(t, values, extra, lo, last, rows)
            ctx = Context(self, lo, rows, mask)
            out = t._compute(inputs, ctx)
            values[id(t)] = _masked(t, out, mask)
            for d in t.dependencies:
                uses[id(d)] -= 1
                if uses[id(d)] == 0 and id(d) not in keep_ids:
                    values.pop(id(d), None)
        keep = values[id(root)][extra[id(root)] :].copy()
        if pipeline.screen is not None:
            keep &= _rows(values[id(pipeline.screen)], extra[id(pipeline.screen)], rows_total)
        columns = {
            name: _rows(values[id(term)], extra[id(term)], rows_total)
            for name, term in pipeline.columns.items()
        }
        return columns, keep

    def _inputs(self, t: Term, values, extra, lo: int, last: int, rows: int):
        w = t.window_length
        out = []
        for i in t.inputs:
            if isinstance(i, LoadableTerm):
                if w < 1:
                    raise PipelineError(f"{t!r} reads {i!r} without a window")
                window = self._load(i, lo - (w - 1), last)
                window.window = w
                out.append(window)
                continue
            v = values[id(i)]
            if w >= 1:
                skip = extra[id(i)] - (extra[id(t)] + w - 1)
                out.append(Window(_rows(v, skip, rows + w - 1), None, w))
            else:
                out.append(_rows(v, extra[id(i)] - extra[id(t)], rows))
        return out

    def _check_history(self, order, extra, first: int, drivers: dict) -> None:
        worst = None
        for t in order:
            w = t.window_length if isinstance(t.window_length, int) else 0
            if w < 1 or not any(isinstance(i, LoadableTerm) for i in t.inputs):
                continue
            need = extra[id(t)] + w  # sessions of data before the first date
            if worst is None or need > worst[0]:
                worst = (need, t)
        if worst is not None and first - worst[0] < 0:
            need, t = worst
            chain, up = [], drivers.get(id(t))
            while up is not None and len(chain) < 4:
                chain.append(repr(up))
                up = drivers.get(id(up))
            via = f" (for {' in '.join(chain)})" if chain else ""
            raise NoFurtherDataError(
                f"{t!r}{via} needs {need} session(s) of data before "
                f"{self.sessions[first].date()}, the pipeline's first date, but bundle "
                f"'{self.bundle.name}' has {first} (it starts {self.sessions[0].date()}): "
                "start the pipeline later or shorten the window"
            )


def _rows(v, skip: int, rows: int):
    """Rows ``skip .. skip + rows`` of a computed value (a matrix or a dict of them)."""
    if isinstance(v, dict):
        return {k: m[skip : skip + rows] for k, m in v.items()}
    return v[skip : skip + rows]


def _masked(t: Term, out, mask: np.ndarray):
    if isinstance(out, dict):
        return {k: _masked_one(t, np.asarray(m), mask) for k, m in out.items()}
    return _masked_one(t, np.asarray(out), mask)


def _masked_one(t: Term, out: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if out.dtype != t.dtype:
        out = out.astype(t.dtype)
    if not mask.all():
        if not out.flags.writeable:
            out = out.copy()
        out[~mask] = t.missing_value
    return out


def frame(engine: PipelineEngine, columns: dict, keep: np.ndarray, first: int) -> pd.DataFrame:
    """zipline's output: a ``(date, asset)`` MultiIndex frame of the kept rows."""
    rows, cols = np.nonzero(keep)
    dates = engine.sessions[first + rows]
    assets = np.asarray(engine.bundle.asset_list, dtype=object)[cols]
    index = pd.MultiIndex.from_arrays([dates, assets])
    data = {name: values[rows, cols] for name, values in columns.items()}
    return pd.DataFrame(data, index=index, columns=list(columns))


__all__ = ["DEFAULT_CHUNK", "OracleKernels", "PipelineEngine", "RustKernels", "frame"]
