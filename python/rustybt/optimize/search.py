"""Grid and random search over strategy parameters, with serial and process executors."""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np
import pandas as pd

from rustybt.errors import InvalidRunParameters
from rustybt.stats import STAT_NAMES

BACKENDS = ("serial", "process")

# -- the worker side --------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(algorithm_blob: bytes, options: dict, ignore_sigint: bool) -> None:
    """Runs once per worker: unpickle the strategy, open the bundle (through the pool)."""
    import cloudpickle

    import rustybt

    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _WORKER["algorithm"] = cloudpickle.loads(algorithm_blob)
    _WORKER["options"] = dict(options, bundle=rustybt.load_bundle(options["bundle"]))


def _run_trial(trial: int, params: dict) -> dict:
    """One backtest; never raises: a failing trial is recorded with its error."""
    import rustybt
    from rustybt.stats import stats_from_perf

    started = time.perf_counter()
    row = {"trial": trial, **params}
    try:
        perf = rustybt.run_algorithm(
            algorithm=_WORKER["algorithm"], params=params, **_WORKER["options"]
        )
        row.update(stats_from_perf(perf))
        row["error"] = None
    except Exception as exc:  # recorded, the sweep goes on
        cause = exc.__cause__ or exc
        row.update(dict.fromkeys(STAT_NAMES, math.nan))
        row["error"] = f"{type(cause).__name__}: {cause}"
    row["seconds"] = time.perf_counter() - started
    row["pid"] = os.getpid()
    return row


# -- the search --------------------------------------------------------------------------
def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


class _Search:
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
        objective: str | Callable[[dict], float] = "sharpe",
        direction: str = "maximize",
        constraint: Callable[[dict], bool] | None = None,
        n_jobs: int = 1,
        backend: str = "serial",
        checkpoint: str | os.PathLike | None = None,
        progress: bool = True,
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
        self.objective, self.direction, self.constraint = objective, direction, constraint
        self.n_jobs, self.backend = n_jobs, backend
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.progress = progress

    def trials(self) -> list[dict]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _candidates(self) -> list[dict]:
        out = []
        for params in self.trials():
            if self.constraint is None or self.constraint(params):
                out.append(params)
        return out

    def _load_checkpoint(self) -> dict[str, dict]:
        done: dict[str, dict] = {}
        if self.checkpoint is None or not self.checkpoint.exists():
            return done
        for line in self.checkpoint.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: that trial runs again
            done[row["_key"]] = row
        return done

    def run(self) -> SearchResult:
        """Run every trial not already in the checkpoint; returns all of them."""
        candidates = self._candidates()
        done = self._load_checkpoint()
        todo = [(i, p) for i, p in enumerate(candidates) if _key(p) not in done]
        rows = [dict(r, trial=i) for i, p in enumerate(candidates) if (r := done.get(_key(p)))]
        fh = None
        if self.checkpoint is not None:
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            fh = self.checkpoint.open("a")
        options = {**self.options, "bundle": str(self.bundle.path.parent)}
        try:
            for row in self._execute(todo, options):
                row["_key"] = _key({k: row[k] for k in self.space})
                rows.append(row)
                if fh is not None:
                    fh.write(json.dumps(row, default=str) + "\n")
                    fh.flush()
        finally:
            if fh is not None:
                fh.close()
        table = pd.DataFrame(rows).drop(columns=["_key"], errors="ignore")
        if len(table):
            table = table.sort_values("trial").reset_index(drop=True)
        return SearchResult(table, list(self.space), self.objective, self.direction)

    def _execute(self, todo, options):
        import cloudpickle
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
        blob = cloudpickle.dumps(self.algorithm)
        with bar:
            task = bar.add_task(
                f"{type(self).__name__} ({self.backend}, {self.n_jobs} job(s))", total=len(todo)
            )
            if self.backend == "serial" or not todo:
                _init_worker(blob, options, ignore_sigint=False)
                for trial, params in todo:
                    yield _run_trial(trial, params)
                    bar.advance(task)
                return
            ctx = multiprocessing.get_context("spawn")  # never fork after threads exist
            pool = ProcessPoolExecutor(
                max_workers=self.n_jobs,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(blob, options, True),
            )
            try:
                pending = {pool.submit(_run_trial, t, p) for t, p in todo}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in finished:
                        yield f.result()
                        bar.advance(task)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)


class GridSearch(_Search):
    """Every combination of the parameter lists/ranges in ``space``."""

    def trials(self) -> list[dict]:
        names = list(self.space)
        values = [list(v) for v in self.space.values()]
        for name, v in zip(names, values):
            if not v:
                raise InvalidRunParameters(f"parameter {name!r} has no values")
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]


class RandomSearch(_Search):
    """``n_trials`` draws from ``space``: lists/ranges are sampled uniformly, scipy
    distributions (anything with ``rvs``) through ``rvs``. The same ``seed`` gives the same
    trials."""

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
                    params[name] = dist.rvs(random_state=rng).item()
                else:
                    choices = list(dist)
                    params[name] = choices[int(rng.integers(len(choices)))]
            if _key(params) not in seen:
                seen.add(_key(params))
                out.append(params)
        return out


class SearchResult:
    """``table``: one row per trial (its parameters, every stat, error, seconds);
    ``best``: the best row by the objective."""

    def __init__(self, table: pd.DataFrame, params: list[str], objective, direction: str):
        self.table, self.params, self.objective, self.direction = (
            table,
            params,
            objective,
            direction,
        )

    def scores(self) -> pd.Series:
        if callable(self.objective):
            return self.table.apply(lambda row: self.objective(row.to_dict()), axis=1)
        return self.table[self.objective]

    @property
    def best(self) -> pd.Series:
        scores = self.scores().astype(float)
        ok = scores.notna() & self.table["error"].isna()
        if not ok.any():
            raise InvalidRunParameters("no trial finished with a score")
        idx = scores[ok].idxmax() if self.direction == "maximize" else scores[ok].idxmin()
        return self.table.loc[idx]

    def heatmap(self, x: str, y: str, value: str | None = None):
        """A matplotlib figure of ``value`` (default the objective) over two parameters."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        value = value or (self.objective if isinstance(self.objective, str) else "sharpe")
        grid = self.table.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
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
        """A directory with ``table.parquet`` and ``meta.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.table.to_parquet(path / "table.parquet")
        meta = {
            "params": self.params,
            "direction": self.direction,
            "objective": self.objective if isinstance(self.objective, str) else None,
        }
        (path / "meta.json").write_text(json.dumps(meta))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SearchResult:
        path = Path(path)
        meta = json.loads((path / "meta.json").read_text())
        return cls(
            pd.read_parquet(path / "table.parquet"),
            meta["params"],
            meta["objective"] or "sharpe",
            meta["direction"],
        )
