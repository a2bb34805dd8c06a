"""Walk-forward analysis: optimise on a train window, trade the chosen parameters on the
test window that follows, move both forward, and judge the strategy by the stitched
out-of-sample record only.

Definitions used here:

* **Windows.** ``train``, ``test`` and ``step`` are either session counts (ints) or
  calendar lengths (``"12M"``, ``"3M"``, ``"2W"``, ``"30D"``, ``"1Y"``, ``"1Q"``, or
  ``pd.DateOffset`` / ``pd.Timedelta``). Rolling: window *i* trains on
  ``[start + i·step, start + i·step + train)`` and tests on the ``test`` that follows;
  anchored: every train window begins at ``start``. A window is used only when its whole
  test period lies in the span (calendar lengths: no weekday after ``end`` falls in its
  nominal test period, so a quarter ending on a Sunday fits a span ending on the Friday).
  ``step`` defaults to ``test`` and may not be shorter (test windows must not overlap).
  Calendar windows count from ``start`` as given: with ``start="2022-01-03"``, twelve
  months later is 2023-01-03; pass ``start="2022-01-01"`` for calendar-aligned windows.
* **Out-of-sample runs.** Each window's best parameters (by the inner search's objective)
  run in a fresh backtest that starts ``warmup`` sessions before the test window (default:
  at the train window's start, so indicators are warm and positions are what the strategy
  would hold on the first test session) and ends with it; only the test sessions' returns
  count. The stitched out-of-sample curve compounds those returns from ``capital_base``.
* **Walk-forward efficiency** (Pardo): the annualised return (CAGR, 252 sessions a year)
  of the stitched out-of-sample curve divided by the mean, over windows, of the selected
  parameters' in-sample annualised return. Per window, the column ``efficiency`` is that
  window's out-of-sample over in-sample annualised return. It is NaN when the in-sample
  figure is not positive (the ratio has no meaning there). Around 1: out-of-sample kept
  pace with in-sample; well below 0.5: most of the in-sample return was fitted noise.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from rustybt.errors import InvalidRunParameters
from rustybt.optimize.search import SearchResult, _Search
from rustybt.stats import periods_per_year, stats_from_returns

_LENGTH = re.compile(r"^\s*(\d+)\s*([DWMQY])\s*$", re.IGNORECASE)
_UNITS = {"D": "days", "W": "weeks", "M": "months", "Q": "months", "Y": "years"}


def _length(value, what: str):
    """An int (sessions) or a calendar offset."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 1:
            raise InvalidRunParameters(f"{what} must be at least 1 session, got {value}")
        return int(value)
    if isinstance(value, str):
        m = _LENGTH.match(value)
        if not m:
            raise InvalidRunParameters(
                f"{what} {value!r} is not a length: use sessions (an int) or e.g. '12M', "
                "'3M', '2W', '30D', '1Y', '1Q'"
            )
        n, unit = int(m.group(1)), m.group(2).upper()
        return pd.DateOffset(**{_UNITS[unit]: n * (3 if unit == "Q" else 1)})
    if isinstance(value, (pd.DateOffset, pd.Timedelta)):
        return value
    raise InvalidRunParameters(f"{what} must be an int, a length string or a pd.DateOffset")


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


class WalkForward:
    """Walk-forward analysis of a search (:class:`GridSearch`, :class:`RandomSearch` or
    :class:`BayesianSearch`): the search runs on each train window (its own ``start`` /
    ``end`` are replaced), its best parameters trade the following test window.
    :meth:`windows` is the plan; :meth:`run` runs it.

    Parameters
    ----------
    search : GridSearch, RandomSearch or BayesianSearch
        The inner search, configured as for a plain run (strategy, space, objective,
        bundle, costs, backend, ``n_jobs``, ...). Its executor (process pool or Ray
        actors) is started once and serves every window. With a ``checkpoint``, window
        *i* keeps its own next to it (``name.window{i}.ext``), so a killed walk-forward
        resumes where it stopped.
    train, test : int, str, pandas.DateOffset or pandas.Timedelta
        The windows' lengths: session counts (ints) or calendar lengths (``"12M"``,
        ``"3M"``, ``"2W"``, ``"30D"``, ``"1Y"``, ``"1Q"``); see the module docstring.
    step : optional
        How far each window moves on (the same kind of length); default ``test``, and
        not shorter (test windows may not overlap).
    anchored : bool
        Every train window starts at ``start`` (growing windows); default False
        (rolling).
    start, end : date-like, optional
        The span to walk (default: the search's, else the bundle's).
    warmup : int, optional
        Sessions of history before each test window for the out-of-sample run (default
        None: from the train window's start; 0: a cold start).

    Raises
    ------
    InvalidRunParameters
        ``search`` is not a search; a length that is not one; ``train``, ``test`` and
        ``step`` of different kinds (sessions and calendar lengths); ``step`` shorter
        than ``test``; ``warmup`` not None or a session count.

    Examples
    --------
    >>> import rustybt
    >>> from rustybt.optimize import GridSearch, WalkForward
    >>> from rustybt.app.examples.sma_crossover import SmaCross
    >>> bundle = rustybt.ingest_synthetic("doc-sweep", assets=20, start="2022-01-03",
    ...                                   end="2022-06-30")
    >>> grid = GridSearch(SmaCross, {"fast": [5, 10], "slow": [20, 30]}, bundle=bundle,
    ...                   progress=False)  # n_jobs=4, backend="process": in parallel
    >>> def dates(plan):  # the plan's timestamps as dates, to print narrowly
    ...     return plan.apply(lambda column: column.dt.strftime("%Y-%m-%d"))
    >>> dates(WalkForward(grid, train="2M", test="1M").windows())  # rolling, calendar
           train_start   train_end  test_start    test_end
    window
    0       2022-01-03  2022-03-02  2022-03-03  2022-04-01
    1       2022-02-03  2022-04-01  2022-04-04  2022-05-02
    2       2022-03-03  2022-05-02  2022-05-03  2022-06-02
    >>> dates(WalkForward(grid, train=60, test=20, anchored=True).windows())  # sessions
           train_start   train_end  test_start    test_end
    window
    0       2022-01-03  2022-03-29  2022-03-30  2022-04-27
    1       2022-01-03  2022-04-27  2022-04-28  2022-05-25
    2       2022-01-03  2022-05-25  2022-05-26  2022-06-24
    """

    def __init__(
        self,
        search: _Search,
        *,
        train,
        test,
        step=None,
        anchored: bool = False,
        start=None,
        end=None,
        warmup: int | None = None,
    ):
        if not isinstance(search, _Search):
            raise InvalidRunParameters(
                f"search must be a GridSearch, RandomSearch or BayesianSearch, got {search!r}"
            )
        self.search = search
        self.train = _length(train, "train")
        self.test = _length(test, "test")
        self.step = self.test if step is None else _length(step, "step")
        kinds = {isinstance(x, int) for x in (self.train, self.test, self.step)}
        if len(kinds) > 1:
            raise InvalidRunParameters(
                "train, test and step must all be session counts or all calendar lengths"
            )
        if isinstance(self.step, int) and self.step < self.test:
            raise InvalidRunParameters(
                f"step ({self.step}) must be at least test ({self.test}): "
                "out-of-sample windows may not overlap"
            )
        if warmup is not None and (not isinstance(warmup, int) or warmup < 0):
            raise InvalidRunParameters(f"warmup must be None or sessions >= 0, got {warmup!r}")
        self.anchored, self.warmup = anchored, warmup
        opts = search.options
        self.start = start if start is not None else opts["start"]
        self.end = end if end is not None else opts["end"]

    # -- the plan -------------------------------------------------------------------------------
    def windows(self) -> pd.DataFrame:
        """The windows: one row each, first and last session of train and test."""
        bundle = self.search.bundle
        sessions = bundle.sessions
        lo = pd.Timestamp(self.start) if self.start is not None else sessions[0]
        hi = pd.Timestamp(self.end) if self.end is not None else sessions[-1]
        lo, hi = lo.tz_localize(None).normalize(), hi.tz_localize(None).normalize()
        naive = sessions.tz_localize(None) if sessions.tz is not None else sessions
        span = np.flatnonzero((naive >= lo) & (naive <= hi))
        if len(span) == 0:
            raise InvalidRunParameters(f"no session of bundle '{bundle.name}' in {lo}..{hi}")
        rows = []
        if isinstance(self.train, int):
            first, n = int(span[0]), len(span)
            i = 0
            while True:
                train_lo = 0 if self.anchored else i * self.step
                train_hi = i * self.step + self.train  # exclusive
                if train_hi + self.test > n:
                    break
                rows.append((first + train_lo, first + train_hi - 1, first + train_hi,
                             first + train_hi + self.test - 1))  # fmt: skip
                i += 1
        else:
            i = 0
            while True:
                train_lo = lo if self.anchored else lo + self.step * i
                train_hi = lo + self.step * i + self.train
                test_hi = train_hi + self.test
                # past the span's end: a weekday after ``end`` inside the test period
                if len(pd.bdate_range(hi + pd.Timedelta(days=1), test_hi - pd.Timedelta(days=1))):
                    break
                tr = np.flatnonzero((naive >= train_lo) & (naive < train_hi))
                te = np.flatnonzero((naive >= train_hi) & (naive < test_hi))
                if len(tr) == 0 or len(te) == 0:
                    raise InvalidRunParameters(
                        f"window {i} ({train_lo.date()}..{test_hi.date()}) has no sessions"
                    )
                rows.append((tr[0], tr[-1], te[0], te[-1]))
                i += 1
        if not rows:
            raise InvalidRunParameters(
                f"no walk-forward window fits {sessions[span[0]].date()}..{sessions[span[-1]].date()} "
                f"({len(span)} sessions) with train={self.train!r}, test={self.test!r}"
            )
        cols = ["train_start", "train_end", "test_start", "test_end"]
        return pd.DataFrame([[sessions[j] for j in r] for r in rows], columns=cols).rename_axis(
            "window"
        )

    # -- running --------------------------------------------------------------------------------
    def _checkpoint(self, i: int) -> Path | None:
        ck = self.search.checkpoint
        return None if ck is None else ck.with_name(f"{ck.stem}.window{i}{ck.suffix}")

    def _oos_run(self, params: dict, window) -> tuple:
        """The out-of-sample backtest of one window: (Results, its test sessions' returns,
        fills in the test sessions)."""
        import rustybt
        from rustybt.optimize.executors import _with_costs

        search = self.search
        sessions = search.bundle.sessions
        t0, t1 = sessions.get_loc(window.test_start), sessions.get_loc(window.test_end)
        if self.warmup is None:
            begin = sessions.get_loc(window.train_start)
        else:
            begin = max(0, t0 - self.warmup)
        res = rustybt.backtest(
            algorithm=_with_costs(search.algorithm, search.costs),
            bundle=search.bundle,
            start=sessions[begin],
            end=sessions[t1],
            capital_base=search.options["capital_base"],
            ledger=search.options["ledger"],
            params=params,
        )
        n = t1 - t0 + 1
        tail = res.perf.iloc[-n:]
        returns = pd.Series(tail["returns"].to_numpy(float), index=sessions[t0 : t1 + 1])
        return res, returns, int(tail["transactions"].map(len).sum())

    def run(self) -> WalkForwardResult:
        """Run the walk-forward: the inner search on every train window of
        :meth:`windows`, then the best parameters of each (by the search's objective) in
        an out-of-sample backtest of the test window that follows (see ``warmup``).

        Returns
        -------
        WalkForwardResult
            ``windows`` (one row per window: its sessions, the chosen parameters, their
            in-sample and out-of-sample figures, ``efficiency``), ``returns`` and
            ``equity`` (the stitched out-of-sample record), ``stats`` of it,
            ``efficiency`` (walk-forward efficiency), each window's ``searches`` and
            ``oos_runs``; ``plot_equity()`` and ``plot_params()`` draw them.

        Raises
        ------
        InvalidRunParameters
            No window fits the span, a calendar window holds no session, or no trial of
            a window's search finished with a score (a train window too short to trade).
        SweepError
            As the inner search's :meth:`~rustybt.optimize.GridSearch.run` (a window's
            checkpoint of another run, workers that cannot load the strategy).

        Examples
        --------
        >>> import rustybt
        >>> from rustybt.optimize import GridSearch, WalkForward
        >>> from rustybt.app.examples.sma_crossover import SmaCross
        >>> bundle = rustybt.ingest_synthetic("doc-sweep", assets=20, start="2022-01-03",
        ...                                   end="2022-06-30")
        >>> grid = GridSearch(SmaCross, {"fast": [5, 10], "slow": [20, 30]}, bundle=bundle,
        ...                   progress=False)
        >>> wf = WalkForward(grid, train=60, test=20).run()
        >>> wf
        WalkForwardResult(3 windows, 60 OOS sessions, OOS sharpe=0.911, efficiency=0.603)
        >>> wf.windows[["fast", "slow", "is_sharpe", "oos_sharpe", "efficiency"]].round(3)
                fast  slow  is_sharpe  oos_sharpe  efficiency
        window
        0          5    20      0.860      -3.030      -3.234
        1         10    30      2.294       3.614       3.131
        2         10    30      3.219       1.291       0.574
        >>> len(wf.returns), wf.returns.index[0] == wf.windows["test_start"].iloc[0]
        (60, True)
        """
        plan = self.windows()
        search = self.search
        searches, oos_runs, pieces, rows = [], [], [], []
        fills = 0
        with search.executor() as ex:
            for i, w in plan.iterrows():
                inner = search.for_span(w.train_start, w.train_end, self._checkpoint(i))
                inner.label = f"window {i + 1}/{len(plan)} {type(search).__name__}"
                res = inner.run_on(ex)
                try:
                    best = res.best
                except InvalidRunParameters:
                    raise InvalidRunParameters(
                        f"window {i} ({w.train_start.date()}..{w.train_end.date()}): no trial "
                        "finished with a score (is the train window long enough to trade?)"
                    ) from None
                params = res.best_params
                run, r, n_fills = self._oos_run(params, w)
                fills += n_fills
                ppy = periods_per_year(run.perf)  # 252 sessions, 365 days on 24/7
                oos = stats_from_returns(
                    r.to_numpy(), float(np.prod(1 + r.to_numpy())), n_fills, ppy
                )
                is_ann = float(best["annual_return"])
                rows.append(
                    {
                        **w.to_dict(),
                        **params,
                        "is_score": float(res.scores().loc[best.name]),
                        "is_annual_return": is_ann,
                        "is_sharpe": float(best["sharpe"]),
                        "oos_total_return": oos["total_return"],
                        "oos_annual_return": oos["annual_return"],
                        "oos_sharpe": oos["sharpe"],
                        "oos_max_drawdown": oos["max_drawdown"],
                        "oos_trades": n_fills,
                        "efficiency": oos["annual_return"] / is_ann if is_ann > 0 else math.nan,
                        "trials": len(res.table),
                    }
                )
                searches.append(res)
                oos_runs.append(run)
                pieces.append(r)
        returns = pd.concat(pieces)
        returns.index.name = "session"
        windows = pd.DataFrame(rows).rename_axis("window")
        return WalkForwardResult(
            windows,
            returns,
            search.options["capital_base"],
            list(search.space),
            fills,
            searches,
            oos_runs,
            periods_per_year=periods_per_year(oos_runs[0].perf) if oos_runs else 252.0,
        )


class WalkForwardResult:
    """A walk-forward's outcome.

    Attributes:
        windows: one row per window: its sessions, the chosen parameters, the in-sample
            objective (``is_score``), annualised return and Sharpe of the choice, its
            out-of-sample total/annualised return, Sharpe, drawdown and fills,
            ``efficiency`` and the number of trials.
        returns: the stitched out-of-sample daily returns (index = sessions).
        equity: ``capital_base`` compounded over ``returns``.
        stats: :func:`rustybt.stats.stats_from_returns` of the stitched curve.
        efficiency: walk-forward efficiency (see the module docstring).
        searches: each window's :class:`SearchResult`; ``oos_runs``: each window's
            out-of-sample :class:`rustybt.Results` (warm-up sessions included).
    """

    def __init__(
        self,
        windows: pd.DataFrame,
        returns: pd.Series,
        capital_base: float,
        params: list[str],
        fills: int,
        searches: list[SearchResult] | None = None,
        oos_runs: list | None = None,
        periods_per_year: float = 252.0,
    ):
        self.windows, self.returns, self.capital_base = windows, returns, float(capital_base)
        self.params, self.fills = params, int(fills)
        self.searches, self.oos_runs = searches or [], oos_runs or []
        r = returns.to_numpy(float)
        self.equity = pd.Series(self.capital_base * np.cumprod(1 + r), index=returns.index)
        final = float(self.equity.iloc[-1]) if len(r) else self.capital_base
        self.stats = pd.Series(stats_from_returns(r, final, self.fills, periods_per_year))
        is_ann = float(windows["is_annual_return"].mean())
        self.is_annual_return = is_ann
        self.efficiency = float(self.stats["annual_return"]) / is_ann if is_ann > 0 else math.nan

    def __repr__(self) -> str:
        return (
            f"WalkForwardResult({len(self.windows)} windows, {len(self.returns)} OOS sessions, "
            f"OOS sharpe={self.stats['sharpe']:.3f}, efficiency={self.efficiency:.3f})"
        )

    def varying_params(self) -> list[str]:
        """The parameters that took more than one value in some window's search."""
        out = []
        for p in self.params:
            seen = {v for res in self.searches for v in res.table[p].dropna().unique()}
            seen |= set(self.windows[p].dropna().unique())
            if len(seen) > 1:
                out.append(p)
        return out or list(self.params)

    def plot_equity(self):
        """The stitched out-of-sample equity and its drawdown, test windows shaded and
        labelled with the parameters they traded."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
        eq = self.equity
        top.plot(eq.index, eq.to_numpy(), color="tab:blue", lw=1.4, label="out-of-sample equity")
        for i, w in self.windows.iterrows():
            shade = "0.93" if i % 2 == 0 else "white"
            for ax in (top, bottom):
                ax.axvspan(w.test_start, w.test_end, color=shade, zorder=0)
            label = ", ".join(f"{p}={_plain(w[p])}" for p in self.varying_params())
            top.text(w.test_start, 1.0, label, transform=top.get_xaxis_transform(),
                     fontsize=7, va="bottom", rotation=0, clip_on=False)  # fmt: skip
        top.axhline(self.capital_base, color="k", lw=0.7, ls=":")
        top.set_ylabel("portfolio value")
        top.set_title(
            f"Walk-forward out of sample: {len(self.windows)} windows, "
            f"Sharpe {self.stats['sharpe']:.2f}, CAGR {self.stats['annual_return']:.1%}, "
            f"efficiency {self.efficiency:.2f}",
            pad=18,
        )
        peak = eq.cummax()
        bottom.fill_between(eq.index, (eq / peak - 1).to_numpy(), 0, color="tab:red", alpha=0.5)
        bottom.set_ylabel("drawdown")
        fig.autofmt_xdate()
        fig.tight_layout()
        return fig

    def plot_params(self):
        """Parameter stability: per parameter, every in-sample trial's mean objective by
        window and value (colour: its rank within the window, 1 = best) and the value
        chosen (red). A chosen value that jumps around, or sits on an isolated bright
        spot rather than a broad band, is a sign of fitting noise."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        params = self.varying_params()
        n = len(params)
        fig, axes = plt.subplots(n, 1, figsize=(9, 2.6 * n + 0.6), sharex=True, squeeze=False)
        x = np.arange(len(self.windows))
        labels = [f"{w.test_start:%Y-%m-%d}" for _, w in self.windows.iterrows()]
        for ax, p in zip(axes[:, 0], params):
            sc = None
            for i, res in enumerate(self.searches):
                table = res.table.assign(_score=res.scores().astype(float))
                table = table[res._finished() & table["_score"].notna()]
                if not len(table) or not pd.api.types.is_numeric_dtype(table[p]):
                    continue
                mean = table.groupby(p)["_score"].mean()
                if res.direction == "minimize":
                    mean = -mean
                rank = mean.rank(pct=True).to_numpy()
                sc = ax.scatter(np.full(len(mean), i), mean.index.to_numpy(float), c=rank,
                                cmap="viridis", vmin=0, vmax=1, marker="s", s=40)  # fmt: skip
            chosen = self.windows[p].to_numpy()
            ax.plot(x, chosen, color="tab:red", lw=1.2, marker="o", ms=11, mfc="none", mew=2,
                    label="chosen")  # fmt: skip
            ax.set_ylabel(p)
            ax.legend(loc="upper right", fontsize=8)
            if sc is not None:
                fig.colorbar(sc, ax=ax, label="in-sample rank (1 = best)", pad=0.01)
        axes[-1, 0].set_xticks(x, labels, rotation=30, ha="right")
        axes[-1, 0].set_xlabel("test window start")
        axes[0, 0].set_title("Parameter stability across walk-forward windows")
        fig.tight_layout()
        return fig

    def save(self, path: str | os.PathLike) -> Path:
        """A directory: ``windows.parquet``, ``returns.parquet``, ``meta.json`` and each
        window's search under ``search-{i}/``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.windows.to_parquet(path / "windows.parquet")
        self.returns.to_frame("returns").to_parquet(path / "returns.parquet")
        meta = {"capital_base": self.capital_base, "params": self.params, "fills": self.fills}
        (path / "meta.json").write_text(json.dumps(meta))
        for i, res in enumerate(self.searches):
            res.save(path / f"search-{i}")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> WalkForwardResult:
        """A saved result (without the out-of-sample ``Results`` objects)."""
        path = Path(path)
        meta = json.loads((path / "meta.json").read_text())
        windows = pd.read_parquet(path / "windows.parquet")
        searches = [
            SearchResult.load(path / f"search-{i}")
            for i in range(len(windows))
            if (path / f"search-{i}").exists()
        ]
        return cls(
            windows,
            pd.read_parquet(path / "returns.parquet")["returns"],
            meta["capital_base"],
            meta["params"],
            meta["fills"],
            searches,
        )
