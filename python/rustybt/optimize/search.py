"""Grid and random search over strategy parameters, on the serial, process or Ray executor
(:mod:`rustybt.optimize.executors`), with a JSON-lines checkpoint that survives an
interruption, and the :class:`SearchResult` every search returns."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from rustybt.errors import InvalidRunParameters, SweepError
from rustybt.optimize.executors import BACKENDS, make_executor
from rustybt.stats import STAT_NAMES


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _plain(value):
    """A numpy scalar as the Python value (scipy's ``rvs`` gives either)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_costs(costs) -> dict | None:
    from rustybt.finance.commission import CommissionModel
    from rustybt.finance.slippage import SlippageModel

    if costs is None:
        return None
    if not isinstance(costs, dict) or set(costs) - {"commission", "slippage"}:
        raise InvalidRunParameters(
            f"costs must be a dict with 'commission' and/or 'slippage', got {costs!r}"
        )
    for name, kind in (("commission", CommissionModel), ("slippage", SlippageModel)):
        if costs.get(name) is not None and not isinstance(costs[name], kind):
            raise InvalidRunParameters(f"costs[{name!r}] must be a {kind.__name__}")
    return dict(costs)


class _Search:
    """What every search shares: validation, the run options, the executor, the progress
    bar and the result table. Subclasses say which trials to run."""

    def __init__(
        self,
        algorithm,
        space: dict[str, Iterable],
        *,
        bundle,
        start=None,
        end=None,
        capital_base: float = 1_000_000.0,
        ledger: str = "decimal",
        costs: dict | None = None,
        objective: str | Callable[[dict], float] = "sharpe",
        direction: str = "maximize",
        constraint: Callable[[dict], bool] | None = None,
        n_jobs: int = 1,
        backend: str = "serial",
        checkpoint: str | os.PathLike | None = None,
        keep_returns: bool = False,
        progress: bool = True,
        retry_failed: bool = False,
        reuse_pool: bool = True,
    ):
        from rustybt.algorithm import TradingAlgorithm
        from rustybt.bundles import load_bundle

        if not (isinstance(algorithm, type) and issubclass(algorithm, TradingAlgorithm)):
            raise InvalidRunParameters(
                f"algorithm must be a TradingAlgorithm subclass, got {algorithm!r}"
            )
        known = algorithm.parameters()
        unknown = [k for k in space if k not in known]
        if unknown:
            raise InvalidRunParameters(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for {algorithm.__name__} "
                f"(its parameters: {', '.join(sorted(known)) or 'none'})"
            )
        if direction not in ("maximize", "minimize"):
            raise InvalidRunParameters(
                f"direction must be 'maximize' or 'minimize', got {direction!r}"
            )
        if backend not in BACKENDS:
            raise InvalidRunParameters(f"backend must be one of {BACKENDS}, got {backend!r}")
        if isinstance(objective, str) and objective not in STAT_NAMES:
            raise InvalidRunParameters(
                f"objective {objective!r} is not a stat (one of {', '.join(STAT_NAMES)})"
            )
        if not isinstance(n_jobs, int) or n_jobs < 1:
            raise InvalidRunParameters(f"n_jobs must be a positive integer, got {n_jobs!r}")
        self.algorithm = algorithm
        self.space = dict(space)
        self.bundle = load_bundle(bundle)
        self.options = {"start": start, "end": end, "capital_base": capital_base, "ledger": ledger}
        self.costs = _check_costs(costs)
        self.objective, self.direction, self.constraint = objective, direction, constraint
        self.n_jobs, self.backend = n_jobs, backend
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.keep_returns, self.progress = keep_returns, progress
        self.retry_failed, self.reuse_pool = bool(retry_failed), bool(reuse_pool)
        self.label = type(self).__name__

    # -- what subclasses provide ------------------------------------------------------------
    def trials(self) -> list[dict]:  # pragma: no cover - subclasses
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------------------------
    def _candidates(self) -> list[dict]:
        """The trials the constraint accepts, each parameter set once."""
        out, seen = [], set()
        for params in self.trials():
            if _key(params) in seen:
                continue
            seen.add(_key(params))
            if self.constraint is None or self.constraint(params):
                out.append(params)
        return out

    def _setup(self) -> dict:
        """What every worker needs once: the bundle (its version directory, so a re-ingest
        during the sweep cannot mix data), capital, ledger, costs."""
        return {
            "bundle": str(self.bundle.path),
            "capital_base": self.options["capital_base"],
            "ledger": self.options["ledger"],
            "costs": self.costs,
            "keep_returns": self.keep_returns,
        }

    def _fingerprint(self) -> str:
        """What a checkpoint's rows were computed from: the bundle's content, the span,
        capital, ledger, costs and strategy. A resume on anything else is refused, never
        mixed in."""
        index = self.session_index()
        text = json.dumps(
            [
                self.bundle.content_hash,
                str(index[0].date()) if len(index) else "",
                str(index[-1].date()) if len(index) else "",
                self.options["capital_base"],
                self.options["ledger"],
                repr(self.costs),
                getattr(self.algorithm, "__qualname__", repr(self.algorithm)),
            ],
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def executor(self):
        """The executor this search runs on (a context manager); :meth:`run` opens one, a
        walk-forward opens one for all its windows."""
        return make_executor(
            self.backend, self.n_jobs, self.algorithm, self._setup(), self.reuse_pool
        )

    def _job(self, trial: int, params: dict, start=None, end=None) -> dict:
        return {
            "trial": trial,
            "params": params,
            "start": self.options["start"] if start is None else start,
            "end": self.options["end"] if end is None else end,
        }

    def for_span(self, start, end, checkpoint=None) -> _Search:
        """A copy of this search over ``start``..``end`` (a walk-forward's train window)."""
        other = copy.copy(self)
        other.options = {**self.options, "start": start, "end": end}
        other.checkpoint = Path(checkpoint) if checkpoint is not None else None
        return other

    def session_index(self, start=None, end=None) -> pd.DatetimeIndex:
        """The sessions a run from ``start`` to ``end`` (default: the search's) covers."""
        start = self.options["start"] if start is None else start
        end = self.options["end"] if end is None else end
        b = self.bundle
        first, last = b.session_range(
            b.start if start is None else start, b.end if end is None else end
        )
        return b.sessions[first : last + 1]

    @contextlib.contextmanager
    def _progress(self, total: int):
        """A rich progress bar; yields ``advance()``."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not self.progress,
            transient=True,
        )
        with bar:
            task = bar.add_task(f"{self.label} ({self.backend}, {self.n_jobs} job(s))", total=total)
            yield lambda: bar.advance(task)

    def _result(self, rows: list[dict]) -> SearchResult:
        """The table (sorted by trial) and, when kept, the returns matrix of the finished
        trials (columns = trial numbers, index = sessions)."""
        returns = {}
        for row in rows:
            r = row.pop("_returns", None)
            if r is not None and row.get("state", "complete") == "complete":
                returns[row["trial"]] = r
        # the checkpoint's own fields (_key, _format, _run) are not results
        table = pd.DataFrame(rows).drop(columns=list(_CHECKPOINT_FIELDS), errors="ignore")
        if len(table):
            table = table.sort_values("trial").reset_index(drop=True)
        matrix = None
        if self.keep_returns:
            index = self.session_index()
            matrix = pd.DataFrame(
                {t: np.asarray(returns[t], dtype=float) for t in sorted(returns)
                 if len(returns[t]) == len(index)},
                index=index,
            )  # fmt: skip
            matrix.columns.name = "trial"
        return SearchResult(table, list(self.space), self.objective, self.direction, matrix)

    # -- running --------------------------------------------------------------------------------
    def _load_checkpoint(self) -> dict[str, dict]:
        """The rows in the checkpoint by parameter key (a later row of the same parameters
        wins). A last line without its newline (the sweep died while writing it) is cut
        off the file, with a warning: that trial runs again, and the next row appended
        starts on a line of its own."""
        done: dict[str, dict] = {}
        if self.checkpoint is None or not self.checkpoint.exists():
            return done
        data = self.checkpoint.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            os.truncate(self.checkpoint, keep)
            warnings.warn(
                f"checkpoint {self.checkpoint}: its last line was cut off mid-write (the sweep "
                "died while writing it); dropped it, that trial runs again",
                RuntimeWarning,
                stacklevel=3,
            )
            data = data[:keep]
        fingerprint = self._fingerprint()
        for n, line in enumerate(data.decode(errors="replace").splitlines(), 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line left by an older version: that trial runs again
            _check_row(self.checkpoint, n, row, fingerprint)
            done[row["_key"]] = row
        if self.retry_failed:
            done = {k: r for k, r in done.items() if r.get("error") is None}
        return done

    def run(self) -> SearchResult:
        """Run the search (the ``run`` of :class:`GridSearch`, :class:`RandomSearch` and
        :class:`~rustybt.optimize.BayesianSearch`): every trial not already in the
        checkpoint, on the search's backend; the rows the checkpoint holds are taken from
        it (a Bayesian search resumes its optuna study from its journal). A trial that
        raises, or kills its worker, is a row with its ``error``; the others go on.

        Returns
        -------
        SearchResult
            Every trial the search holds (run now or read from the checkpoint), sorted by
            ``trial``: ``table``, ``best``, ``best_params`` and, with
            ``keep_returns=True``, ``returns``.

        Raises
        ------
        InvalidRunParameters
            A parameter of the space has no values; for a Bayesian search, the
            constraint rejects every draw, or the checkpoint's study has the other
            direction.
        SweepError
            The checkpoint holds rows of another run (another bundle version, span,
            capital, ledger, costs or strategy) or of another checkpoint format; the
            workers could not load the strategy or the bundle; or a script starts a
            process-backend search at module level (without
            ``if __name__ == "__main__":``), which its workers re-import.

        Examples
        --------
        A checkpointed grid, then a larger grid on the same checkpoint: only the new
        trials run.

        >>> import pathlib, tempfile, rustybt
        >>> from rustybt.optimize import GridSearch
        >>> from rustybt.app.examples.sma_crossover import SmaCross
        >>> bundle = rustybt.ingest_synthetic("doc-sweep", assets=20, start="2022-01-03",
        ...                                   end="2022-06-30")
        >>> checkpoint = pathlib.Path(tempfile.mkdtemp()) / "sweep.jsonl"
        >>> first = GridSearch(SmaCross, {"fast": [5, 10], "slow": [20, 30]}, bundle=bundle,
        ...                    checkpoint=checkpoint, progress=False).run()
        >>> len(first.table), len(checkpoint.read_text().splitlines())
        (4, 4)
        >>> more = GridSearch(SmaCross, {"fast": [5, 10, 15], "slow": [20, 30]}, bundle=bundle,
        ...                   checkpoint=checkpoint, progress=False).run()
        >>> len(more.table), len(checkpoint.read_text().splitlines())
        (6, 6)
        """
        with self.executor() as ex:
            return self.run_on(ex)

    def run_on(self, ex) -> SearchResult:
        """:meth:`run` on an executor that is already open."""
        candidates = self._candidates()
        done = self._load_checkpoint()
        fingerprint = self._fingerprint()
        todo = [(i, p) for i, p in enumerate(candidates) if _key(p) not in done]
        rows = [dict(r, trial=i) for i, p in enumerate(candidates) if (r := done.get(_key(p)))]
        fd = None
        if self.checkpoint is not None:
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.checkpoint, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with self._progress(len(todo)) as advance:
                for trial, params in todo:
                    ex.submit(self._job(trial, params))
                while ex.pending:
                    for row in ex.wait():
                        row["_key"] = _key({k: row[k] for k in self.space})
                        row["_format"], row["_run"] = CHECKPOINT_FORMAT, fingerprint
                        rows.append(row)
                        if fd is not None:
                            _append_line(fd, json.dumps(row, default=str))
                        advance()
        finally:
            if fd is not None:
                os.close(fd)
        return self._result(rows)


#: Fields a checkpoint row carries for the checkpoint alone.
_CHECKPOINT_FIELDS = ("_key", "_format", "_run")

#: The layout of a checkpoint row; rows carry it (``_format``) with the run's fingerprint
#: (``_run``). 1: the first versioned layout (rows before it carry neither).
CHECKPOINT_FORMAT = 1


def _check_row(path, line: int, row: dict, fingerprint: str) -> None:
    """Refuse a checkpoint row this search cannot take as its own result."""
    fmt = row.get("_format")
    if fmt is None:
        raise SweepError(
            f"checkpoint {path} (line {line}) was written by an older rustybt: its rows carry "
            "no format version or run fingerprint, so they cannot be checked against this "
            "search. Delete the file (its trials run again) or pass another checkpoint path"
        )
    if fmt != CHECKPOINT_FORMAT:
        raise SweepError(
            f"checkpoint {path} (line {line}) has row format {fmt}; this rustybt reads "
            f"format {CHECKPOINT_FORMAT}. Use the rustybt that wrote it, or delete the file"
        )
    if row.get("_run") != fingerprint:
        raise SweepError(
            f"checkpoint {path} (line {line}) holds trials of another run (another bundle "
            "version, span, capital, ledger, costs or strategy): resuming would mix their "
            "results in. Pass another checkpoint path, or delete the file"
        )


def _append_line(fd: int, line: str) -> None:
    """``line`` and its newline in one write, on disk before the next trial is recorded."""
    data = (line + "\n").encode()
    written = os.write(fd, data)
    while written < len(data):  # a short write (a full disk, a signal): finish the line
        written += os.write(fd, data[written:])
    os.fsync(fd)


class GridSearch(_Search):
    """Every combination of the parameter lists/ranges in ``space`` (those ``constraint``
    accepts), each a backtest of ``algorithm`` with those parameters. :meth:`run` runs
    them and returns a :class:`SearchResult`.

    Parameters
    ----------
    algorithm : TradingAlgorithm subclass
        The strategy (the class); ``space`` names its parameters (class attributes).
    space : dict of str to iterable
        Per parameter the values to try (a list, a range, ...); every combination is a
        trial. Parameters not named keep the class's value.
    bundle : str, path or Bundle
        The bundle every trial runs on (keyword only, as the rest).
    start, end, capital_base, ledger
        As for :func:`rustybt.run_algorithm`.
    costs : dict, optional
        ``{"commission": model, "slippage": model}`` set after the strategy's own
        ``initialize`` (so they override its choice); default: the strategy's.
    objective : str or callable
        A stat name (:data:`rustybt.stats.STAT_NAMES`, default ``"sharpe"``) or a
        callable of the result row (a dict of every stat).
    direction : {"maximize", "minimize"}
        Whether the objective's best is its largest or smallest value.
    constraint : callable, optional
        ``constraint(params) -> bool``: only the parameter sets it accepts run.
    n_jobs : int
        Workers (default 1).
    backend : {"serial", "process", "ray"}
        ``"serial"`` (the default: in this process; a trial that kills its process ends
        the sweep), ``"process"`` (a worker pool) or ``"ray"``.
    checkpoint : str or path, optional
        A JSON-lines file; a rerun skips the trials already in it, failed ones too
        (their error is kept) unless ``retry_failed=True``.
    keep_returns : bool
        Keep every trial's daily returns (``result.returns``), which the overfitting
        statistics need.
    progress : bool
        Show a progress bar (default True).
    retry_failed : bool
        On resume, run again the trials the checkpoint holds as failed (those that
        raised or killed their worker).
    reuse_pool : bool
        The process backend runs on the process's shared, warm worker pool
        (:mod:`rustybt.optimize.pool`, the default); ``False``: a private pool for this
        search.

    Raises
    ------
    InvalidRunParameters
        ``algorithm`` is not a ``TradingAlgorithm`` subclass, ``space`` names a parameter
        it does not have, or ``objective``, ``direction``, ``backend``, ``n_jobs`` or
        ``costs`` is not one of those accepted.
    BundleNotFound
        No such bundle.

    Examples
    --------
    >>> import rustybt
    >>> from rustybt.optimize import GridSearch
    >>> from rustybt.app.examples.sma_crossover import SmaCross
    >>> bundle = rustybt.ingest_synthetic("doc-sweep", assets=20, start="2022-01-03",
    ...                                   end="2022-06-30")
    >>> search = GridSearch(SmaCross, {"fast": [5, 10, 20], "slow": [20, 30]}, bundle=bundle,
    ...                     objective="sharpe", constraint=lambda p: p["fast"] < p["slow"],
    ...                     progress=False)  # n_jobs=4, backend="process": in parallel
    >>> result = search.run()
    >>> result.table[["trial", "fast", "slow", "sharpe", "error"]].round(3)
       trial  fast  slow  sharpe error
    0      0     5    20   1.508  None
    1      1     5    30   0.990  None
    2      2    10    20   1.213  None
    3      3    10    30   1.389  None
    4      4    20    30   1.903  None
    >>> result.best_params
    {'fast': 20, 'slow': 30}
    """

    def trials(self) -> list[dict]:
        names = list(self.space)
        values = [list(v) for v in self.space.values()]
        for name, v in zip(names, values):
            if not v:
                raise InvalidRunParameters(f"parameter {name!r} has no values")
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]


class RandomSearch(_Search):
    """``n_trials`` distinct draws from ``space``: lists/ranges are sampled uniformly, scipy
    distributions (anything with ``rvs``) through ``rvs``. The same ``seed`` gives the same
    trials on every backend. :meth:`run` runs them and returns a :class:`SearchResult`.

    Parameters
    ----------
    algorithm : TradingAlgorithm subclass
        The strategy; ``space`` names its parameters.
    space : dict
        Per parameter a list or range (sampled uniformly) or a scipy distribution
        (anything with ``rvs``, e.g. ``scipy.stats.randint(20, 120)``).
    n_trials : int
        Distinct parameter sets to draw (default 50); fewer when the space holds fewer
        (the draws stop after ``20 × n_trials`` attempts). The ``constraint`` is applied
        after drawing, so it can leave fewer trials.
    seed : int
        The draws' seed (default 0).
    **kwargs
        ``bundle`` and the other arguments of :class:`GridSearch`.

    Raises
    ------
    InvalidRunParameters, BundleNotFound
        As :class:`GridSearch`.

    Examples
    --------
    >>> import rustybt
    >>> from scipy import stats
    >>> from rustybt.optimize import RandomSearch
    >>> from rustybt.app.examples.sma_crossover import SmaCross
    >>> bundle = rustybt.ingest_synthetic("doc-sweep", assets=20, start="2022-01-03",
    ...                                   end="2022-06-30")
    >>> search = RandomSearch(SmaCross, {"fast": range(3, 12), "slow": stats.randint(20, 40)},
    ...                       bundle=bundle, n_trials=3, seed=1, progress=False)
    >>> search.trials()  # the draws: the same seed, the same trials
    [{'fast': 7, 'slow': 30}, {'fast': 9, 'slow': 39}, {'fast': 3, 'slow': 22}]
    >>> search.run().table[["trial", "fast", "slow", "sharpe"]].round(3)
       trial  fast  slow  sharpe
    0      0     7    30   0.834
    1      1     9    39   0.683
    2      2     3    22   0.322
    """

    def __init__(self, algorithm, space, *, n_trials: int = 50, seed: int = 0, **kwargs):
        super().__init__(algorithm, space, **kwargs)
        self.n_trials, self.seed = n_trials, seed

    def trials(self) -> list[dict]:
        rng = np.random.default_rng(self.seed)
        out, seen = [], set()
        attempts = 0
        while len(out) < self.n_trials and attempts < self.n_trials * 20:
            attempts += 1
            params = {}
            for name, dist in self.space.items():
                if hasattr(dist, "rvs"):
                    params[name] = _plain(dist.rvs(random_state=rng))
                else:
                    choices = list(dist)
                    params[name] = choices[int(rng.integers(len(choices)))]
            if _key(params) not in seen:
                seen.add(_key(params))
                out.append(params)
        return out


class SearchResult:
    """What a search returns.

    Attributes:
        table: one row per trial: ``trial``, its parameters, every stat, ``error`` (None or
            the exception), ``seconds``, ``pid``, ``rss_mb``; a Bayesian search adds
            ``state`` (complete / pruned / fail) and ``fidelity`` (the share of the span the
            row's stats cover).
        returns: with ``keep_returns=True``, the daily returns of every finished trial
            (index = sessions, one column per trial number); else None.
        best: the best finished row by the objective.

    Example:
        >>> result = GridSearch(SmaCross, space, bundle="rustybt-demo", keep_returns=True).run()  # doctest: +SKIP
        >>> result.best, result.deflated_sharpe().dsr, result.pbo().pbo  # doctest: +SKIP
        >>> result.heatmap("fast", "slow").savefig("heat.png")  # doctest: +SKIP
    """

    def __init__(
        self,
        table: pd.DataFrame,
        params: list[str],
        objective,
        direction: str,
        returns: pd.DataFrame | None = None,
    ):
        self.table, self.params, self.objective, self.direction = (
            table,
            params,
            objective,
            direction,
        )
        self.returns = returns

    def scores(self) -> pd.Series:
        """The objective of every row."""
        if callable(self.objective):
            return self.table.apply(lambda row: self.objective(row.to_dict()), axis=1)
        return self.table[self.objective]

    def _finished(self) -> pd.Series:
        ok = self.table["error"].isna()
        if "state" in self.table:
            ok &= self.table["state"] == "complete"
        return ok

    @property
    def best(self) -> pd.Series:
        scores = self.scores().astype(float)
        ok = scores.notna() & self._finished()
        if not ok.any():
            raise InvalidRunParameters("no trial finished with a score")
        idx = scores[ok].idxmax() if self.direction == "maximize" else scores[ok].idxmin()
        return self.table.loc[idx]

    @property
    def best_params(self) -> dict:
        """The best row's parameters, as plain Python values."""
        row = self.best
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in row[self.params].items()}

    def _require_returns(self) -> pd.DataFrame:
        if self.returns is None or self.returns.shape[1] == 0:
            raise InvalidRunParameters(
                "this result has no per-trial returns: run the search with keep_returns=True"
            )
        return self.returns

    def deflated_sharpe(self, n_trials: int | None = None):
        """The deflated Sharpe ratio of the best trial given every trial of this search
        (:func:`rustybt.optimize.overfitting.deflated_sharpe_ratio`); needs
        ``keep_returns=True``. ``n_trials`` overrides the number of independent trials
        (default: the trials with returns)."""
        from rustybt.optimize.overfitting import deflated_sharpe_ratio

        returns = self._require_returns()
        best = int(self.best["trial"])
        if best not in returns.columns:
            raise InvalidRunParameters(f"trial {best} has no returns")
        sharpes = returns.mean() / returns.std(ddof=1)
        return deflated_sharpe_ratio(
            returns[best].to_numpy(),
            trial_sharpes=sharpes.to_numpy(),
            n_trials=n_trials,
        )

    def pbo(self, blocks: int = 16, metric=None):
        """The probability of backtest overfitting of this search by CSCV
        (:func:`rustybt.optimize.overfitting.probability_of_backtest_overfitting`); needs
        ``keep_returns=True``."""
        from rustybt.optimize.overfitting import probability_of_backtest_overfitting

        return probability_of_backtest_overfitting(
            self._require_returns(), blocks=blocks, metric=metric
        )

    def heatmap(self, x: str, y: str, value: str | None = None):
        """A matplotlib figure of ``value`` (default the objective) over two parameters
        (the mean where other parameters vary), over the finished trials."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        value = value or (self.objective if isinstance(self.objective, str) else "sharpe")
        table = self.table[self._finished()]  # not pruned trials' partial-span stats
        grid = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
        fig, ax = plt.subplots(figsize=(1 + 0.6 * len(grid.columns), 1 + 0.45 * len(grid.index)))
        im = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(grid.columns)), [str(c) for c in grid.columns])
        ax.set_yticks(range(len(grid.index)), [str(i) for i in grid.index])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{value} by {x} and {y}")
        fig.colorbar(im, ax=ax, label=value)
        fig.tight_layout()
        return fig

    def save(self, path: str | os.PathLike) -> Path:
        """A directory with ``table.parquet``, ``meta.json`` and, when kept,
        ``returns.parquet``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.table.to_parquet(path / "table.parquet")
        if self.returns is not None:
            self.returns.rename(columns=str).to_parquet(path / "returns.parquet")
        meta = {
            "params": self.params,
            "direction": self.direction,
            "objective": self.objective if isinstance(self.objective, str) else None,
        }
        (path / "meta.json").write_text(json.dumps(meta))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SearchResult:
        """A saved result (a callable objective comes back as ``"sharpe"``)."""
        path = Path(path)
        meta = json.loads((path / "meta.json").read_text())
        returns = None
        if (path / "returns.parquet").exists():
            returns = pd.read_parquet(path / "returns.parquet")
            returns.columns = pd.Index([int(c) for c in returns.columns], name="trial")
        return cls(
            pd.read_parquet(path / "table.parquet"),
            meta["params"],
            meta["objective"] or "sharpe",
            meta["direction"],
            returns,
        )
