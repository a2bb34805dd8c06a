"""Bayesian search: optuna's TPE sampler chooses each trial from the results so far, with
optional multi-fidelity pruning (Hyperband over growing prefixes of the span).

The study lives in this (the driver) process and is driven through optuna's ask/tell
interface; the backtests run on the same executors as grid and random search (serial,
the warm process pool, Ray actors), which never touch the study. The checkpoint is optuna's
file journal (``JournalStorage(JournalFileBackend(path))``): every told trial is appended
and fsync'ed, so a killed sweep resumes with its finished trials intact; the trials that
were running when it died are marked failed (``interrupted``) and their parameters are run
again first.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from rustybt.errors import InvalidRunParameters
from rustybt.optimize.search import SearchResult, _key, _Search

#: the seed of the i-th trial's sampler: the same seed and history give the same choice,
#: also after a resume
_SEED_SALT = 0x5EED
#: consecutive draws of parameter sets already run after which the search stops asking
_MAX_REPEATS = 200


def _optuna():
    import optuna

    return optuna


@dataclass(frozen=True)
class _Param:
    """One search dimension: optuna's distribution, and how its value maps to the
    strategy parameter (identity, or a scipy distribution's ``ppf`` of a uniform)."""

    name: str
    distribution: Any
    ppf: Any = None
    integer: bool = False

    def value(self, raw):
        if self.ppf is None:
            return raw
        v = float(self.ppf(raw))
        return round(v) if self.integer else v

    def describe(self) -> str:
        from optuna.distributions import distribution_to_json

        text = distribution_to_json(self.distribution)
        return f"{text}|ppf" if self.ppf is not None else text


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def to_param(name: str, spec) -> _Param:
    """Map a ``space`` entry to an optuna distribution.

    * an optuna distribution (``IntDistribution``, ``FloatDistribution``, ...): as is;
    * a ``range``: ``IntDistribution`` (ordered, with its step);
    * a list or tuple: ``CategoricalDistribution`` (unordered choices);
    * scipy ``uniform``: ``FloatDistribution``; ``loguniform`` / ``reciprocal``: a log
      ``FloatDistribution``; ``randint``: ``IntDistribution`` (same supports);
    * any other frozen scipy distribution: TPE searches its quantile u in (0, 1) and the
      parameter is ``dist.ppf(u)`` (rounded for discrete ones), so the prior is the
      distribution itself.
    """
    od = _optuna().distributions
    if isinstance(spec, od.BaseDistribution):
        return _Param(name, spec)
    if isinstance(spec, range):
        values = sorted(spec)
        if not values:
            raise InvalidRunParameters(f"parameter {name!r} has no values")
        step = abs(spec.step)
        return _Param(name, od.IntDistribution(values[0], values[-1], step=step))
    if isinstance(spec, (list, tuple, np.ndarray)):
        choices = tuple(_plain(v) for v in spec)
        if not choices:
            raise InvalidRunParameters(f"parameter {name!r} has no values")
        return _Param(name, od.CategoricalDistribution(choices))
    dist = getattr(spec, "dist", None)
    if dist is not None and hasattr(spec, "ppf") and hasattr(spec, "support"):
        from scipy import stats

        lo, hi = (float(x) for x in spec.support())
        kind = getattr(dist, "name", "")
        discrete = isinstance(dist, stats.rv_discrete)
        if kind == "uniform":
            return _Param(name, od.FloatDistribution(lo, hi))
        if kind in ("loguniform", "reciprocal"):
            return _Param(name, od.FloatDistribution(lo, hi, log=True))
        if kind == "randint":
            return _Param(name, od.IntDistribution(int(lo), int(hi)))
        # the quantile stays inside (0, 1) so an unbounded distribution gives finite values
        return _Param(name, od.FloatDistribution(1e-6, 1 - 1e-6), spec.ppf, discrete)
    raise InvalidRunParameters(
        f"parameter {name!r}: cannot search {spec!r} (give a list, a range, a scipy "
        "distribution or an optuna distribution)"
    )


def _check_fidelity(fidelity) -> tuple[float, ...]:
    f = tuple(float(x) for x in fidelity)
    if not f or any(b <= a for a, b in itertools.pairwise(f)) or f[0] <= 0 or f[-1] != 1.0:
        raise InvalidRunParameters(
            f"fidelity must be increasing fractions of the span ending at 1.0, got {fidelity!r}"
        )
    return f


class BayesianSearch(_Search):
    """``n_trials`` trials chosen one after another by optuna's TPE sampler (seeded), each
    from the results so far. :meth:`run` runs them and returns a
    :class:`~rustybt.optimize.SearchResult`.

    Parameters
    ----------
    algorithm : TradingAlgorithm subclass
        The strategy; ``space`` names its parameters.
    space : dict
        Per parameter a list (categorical), a range (ordered integers), a scipy
        distribution or an optuna distribution (see :func:`to_param`).
    n_trials : int
        Trials to finish in total (complete, pruned or failed; default 50); a resumed
        study runs only the missing ones, so raising ``n_trials`` extends a finished study.
    seed : int
        With one job (or the serial backend), the same seed gives the same trials and the
        same table on every run, also across a resume. With several jobs the trials are
        asked while others are still running (constant liar), so the order in which
        results arrive, and with it the choices, can differ between runs.
    pruner : None, "hyperband" or optuna pruner
        ``None`` (the default: every trial runs the whole span), ``"hyperband"`` (optuna's
        ``HyperbandPruner`` over the ``fidelity`` rungs) or any optuna pruner.
    fidelity : sequence of float
        With a pruner, the growing prefixes of the span a trial is run on, as fractions
        (default ¼, ½, whole). After each prefix the objective is reported as an
        intermediate value at step round(f / f[0]); the pruner stops trials that are not
        promising. Each prefix is a fresh backtest, so a trial that survives costs 1.75
        runs with the default rungs and one pruned at the first rung ¼. The shortest
        prefix must leave the strategy time to trade: a NaN objective (e.g. no returns
        yet) is pruned.
    sampler_options : dict, optional
        Extra ``optuna.samplers.TPESampler`` arguments (``n_startup_trials``, ...).
    study_name : str, optional
        Default: from the strategy, the space, the span and the objective.
    checkpoint : str or path, optional
        The study's journal file (``JournalFileBackend``); a rerun resumes it.
    **kwargs
        ``bundle`` and the other arguments of :class:`~rustybt.optimize.GridSearch`.

    Raises
    ------
    InvalidRunParameters
        As :class:`~rustybt.optimize.GridSearch`; also ``n_trials`` not a positive
        integer, a ``space`` entry that cannot be searched, a ``fidelity`` that is not
        increasing fractions ending at 1.0, or a ``pruner`` that is none of those above.
    BundleNotFound
        No such bundle.

    Notes
    -----
    A parameter draw the ``constraint`` rejects is told to optuna as pruned (so TPE
    learns to avoid the region) without running; it does not count towards ``n_trials``
    and is not in the table.

    No parameter set runs twice: a draw of a set already run (TPE returns to good regions,
    and a ``ppf``-mapped or rounded parameter maps many draws to one value) is told to
    optuna what that set's run was told, with the user attribute ``repeat_of``, without a
    backtest; like a rejected draw it does not count towards ``n_trials`` and is not in
    the table, so the table, ``result.returns`` and the deflated Sharpe's number of
    trials count distinct parameter sets. When the space holds fewer sets than
    ``n_trials`` (or 200 draws in a row are repeats) the search stops early, with a
    warning. ``retry_failed=True`` runs the failed trials of a resumed study again.

    The table adds ``state`` (complete / pruned / fail) and ``fidelity`` (the share of
    the span behind the row's stats); ``best`` considers complete trials only. The optuna
    study is ``result.study``.

    Examples
    --------
    >>> import rustybt
    >>> from rustybt.optimize import BayesianSearch
    >>> from rustybt.app.examples.sma_crossover import SmaCross
    >>> bundle = rustybt.ingest_synthetic("doc-sweep", assets=20, start="2022-01-03",
    ...                                   end="2022-06-30")
    >>> def search():
    ...     return BayesianSearch(SmaCross, {"fast": range(3, 12), "slow": [20, 30]},
    ...                           bundle=bundle, n_trials=4, seed=1, pruner="hyperband",
    ...                           progress=False)
    >>> result = search().run()
    >>> table = result.table[["trial", "fast", "slow", "sharpe", "state", "fidelity"]]
    >>> len(table), set(table["state"]) <= {"complete", "pruned"}
    (4, True)
    >>> table.equals(search().run().table[table.columns])  # the same seed, the same table
    True
    """

    def __init__(
        self,
        algorithm,
        space,
        *,
        n_trials: int = 50,
        seed: int = 0,
        pruner=None,
        fidelity=(0.25, 0.5, 1.0),
        sampler_options: dict | None = None,
        study_name: str | None = None,
        **kwargs,
    ):
        super().__init__(algorithm, space, **kwargs)
        if not isinstance(n_trials, int) or n_trials < 1:
            raise InvalidRunParameters(f"n_trials must be a positive integer, got {n_trials!r}")
        self.n_trials, self.seed = n_trials, int(seed)
        self.params = [to_param(name, spec) for name, spec in self.space.items()]
        self.fidelity = _check_fidelity(fidelity)
        self.steps = [max(1, round(f / self.fidelity[0])) for f in self.fidelity]
        optuna = _optuna()
        if pruner == "hyperband":
            factor = max(2, self.steps[1] // self.steps[0]) if len(self.steps) > 1 else 3
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=self.steps[-1], reduction_factor=factor
            )
        if pruner is not None and not isinstance(pruner, optuna.pruners.BasePruner):
            raise InvalidRunParameters(
                f"pruner must be None, 'hyperband' or an optuna pruner, got {pruner!r}"
            )
        if pruner is None:
            self.fidelity, self.steps = (1.0,), [1]
        self.pruner = pruner
        self.sampler_options = dict(sampler_options or {})
        self.study_name = study_name
        self._retried: set[int] = set()

    # -- the study ------------------------------------------------------------------------------
    def _study_name(self) -> str:
        if self.study_name:
            return self.study_name
        start, end = self.session_index()[[0, -1]]
        objective = self.objective if isinstance(self.objective, str) else "callable"
        # the bundle's content, capital, ledger, costs and strategy too (the search's
        # fingerprint): a journal of another run is a study of another name, never mixed in
        text = json.dumps(
            [[p.name, p.describe()] for p in self.params]
            + [str(start.date()), str(end.date()), objective, self.direction, self.fidelity]
            + [self._fingerprint()],
            sort_keys=True,
        )
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return f"{self.algorithm.__name__}-{digest}"

    def _sampler(self, index: int):
        seed = int(np.random.SeedSequence([_SEED_SALT, self.seed, index]).generate_state(1)[0])
        return _optuna().samplers.TPESampler(seed=seed, **self.sampler_options)

    def study(self):
        """The optuna study: in memory, or in the checkpoint's file journal."""
        optuna = _optuna()
        storage = None
        if self.checkpoint is not None:
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            path = os.fspath(self.checkpoint)
            # the lock is held for one append (milliseconds); one left by a killed sweep is
            # broken after 5 s instead of optuna's default 30
            lock = JournalFileSymlinkLock(path, grace_period=5)
            storage = JournalStorage(JournalFileBackend(path, lock_obj=lock))
        study = optuna.create_study(
            storage=storage,
            study_name=self._study_name(),
            direction=self.direction,
            sampler=self._sampler(0),
            pruner=self.pruner or optuna.pruners.NopPruner(),
            load_if_exists=True,
        )
        if study.direction.name.lower() != self.direction:
            raise InvalidRunParameters(
                f"study {study.study_name!r} in {self.checkpoint} was created to "
                f"{study.direction.name.lower()}, not to {self.direction}"
            )
        return study

    def _recover(self, study) -> None:
        """Trials left running by a killed sweep: mark them failed (``interrupted``) and
        queue their parameters, so they run again first (a trial killed before all its
        parameters were drawn never ran: it is only marked)."""
        from optuna.trial import TrialState

        storage = study._storage
        names = {p.name for p in self.params}
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            if set(t.params) == names:
                study.enqueue_trial(t.params)
        # failed trials set aside by ``retry_failed`` (a finished trial cannot be changed:
        # their numbers are the study's user attribute ``retried``); they run again
        self._retried = set(study.user_attrs.get("retried", []))
        if self.retry_failed:
            for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
                if self._counted(t) and set(t.params) == names:
                    self._retried.add(t.number)
                    study.enqueue_trial(t.params)
            study.set_user_attr("retried", sorted(self._retried))

    def _counted(self, t) -> bool:
        """Whether a trial counts towards ``n_trials`` (and is in the table): not one left
        running by a killed sweep, a draw the constraint rejected, a repeat of a parameter
        set already run, or a failure set aside by ``retry_failed``."""
        attrs = t.user_attrs
        if attrs.get("interrupted") or attrs.get("infeasible"):
            return False
        return attrs.get("repeat_of") is None and t.number not in self._retried

    def _seeded(self, t) -> bool:
        """Whether a trial moves the sampler's seed index on (a repeat and a retried
        failure do, so the next draw differs)."""
        return (
            self._counted(t)
            or t.user_attrs.get("repeat_of") is not None
            or (t.number in self._retried)
        )

    def _key(self, raw: dict) -> str:
        """The parameter set of optuna's raw values, as a key."""
        return _key({p.name: p.value(raw[p.name]) for p in self.params})

    def _space_size(self) -> float:
        """How many distinct parameter sets the space holds (inf if any is continuous)."""
        od = _optuna().distributions
        size = 1.0
        for p in self.params:
            d = p.distribution
            if p.ppf is None and isinstance(d, od.IntDistribution):
                size *= (d.high - d.low) // d.step + 1
            elif p.ppf is None and isinstance(d, od.CategoricalDistribution):
                size *= len(d.choices)
            else:
                return math.inf
        return size

    # -- running ----------------------------------------------------------------------------------
    def _spans(self) -> list[tuple]:
        """(start, end) of each fidelity rung: growing prefixes of the search's span."""
        sessions = self.session_index()
        n = len(sessions)
        return [(sessions[0], sessions[max(1, math.ceil(f * n)) - 1]) for f in self.fidelity]

    def _score(self, row: dict) -> float:
        if row.get("error") is not None:
            return math.nan
        value = self.objective(row) if callable(self.objective) else row[self.objective]
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    def run_on(self, ex) -> SearchResult:
        from optuna.trial import TrialState

        optuna = _optuna()
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = self.study()
            self._recover(study)
            finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
            counted = [t for t in study.get_trials(deepcopy=False) if self._counted(t)]
            done = sum(t.state in finished for t in counted)
            to_ask = self.n_trials - done
            spans = self._spans()
            slots = 1 if self.backend == "serial" else self.n_jobs
            running: dict[int, tuple] = {}  # trial number -> (optuna trial, rung, params)
            # every parameter set run so far -> (trial number, state, value), and those
            # running now -> their trial number and the repeats waiting for their outcome
            seen = {
                self._key(t.params): (t.number, t.state, t.value)
                for t in counted
                if t.state in finished and len(t.params) == len(self.params)
            }
            running_keys: dict[str, int] = {}
            waiting: dict[str, list] = {}
            size = self._space_size()
            rejected = repeats = 0
            with self._progress(max(0, to_ask)) as advance:
                while to_ask > 0 or running:
                    while to_ask > 0 and len(running) < slots:
                        if len(seen) + len(running_keys) >= size:
                            to_ask = self._stop(f"all {int(size)} parameter sets have run")
                            break
                        index = sum(self._seeded(t) for t in study.get_trials(deepcopy=False))
                        study.sampler = self._sampler(index)
                        trial = study.ask({p.name: p.distribution for p in self.params})
                        params = {p.name: p.value(trial.params[p.name]) for p in self.params}
                        if self.constraint is not None and not self.constraint(params):
                            trial.set_user_attr("infeasible", True)
                            study.tell(trial, state=TrialState.PRUNED)
                            rejected += 1
                            if rejected > 100 * self.n_trials:
                                raise InvalidRunParameters(
                                    "the constraint rejected every parameter draw"
                                )
                            continue
                        key = _key(params)
                        if key in seen or key in running_keys:
                            # never the same backtest twice: answer from the first run
                            first = seen[key][0] if key in seen else running_keys[key]
                            trial.set_user_attr("repeat_of", first)
                            if key in seen:
                                self._tell_like(study, trial, seen[key])
                            else:
                                waiting.setdefault(key, []).append(trial)
                            repeats += 1
                            if repeats >= _MAX_REPEATS:
                                to_ask = self._stop(
                                    f"the last {_MAX_REPEATS} draws were all parameter sets "
                                    "already run"
                                )
                            continue
                        repeats = 0
                        to_ask -= 1
                        running_keys[key] = trial.number
                        running[trial.number] = (trial, 0, params)
                        ex.submit(self._job(trial.number, params, *spans[0]))
                    for row in ex.wait():
                        trial, rung, params = running.pop(row["trial"])
                        nxt, outcome = self._advance(study, trial, rung, row)
                        if nxt is None:
                            key = _key(params)
                            del running_keys[key]
                            seen[key] = (trial.number, *outcome)
                            for repeat in waiting.pop(key, []):
                                self._tell_like(study, repeat, seen[key])
                            advance()
                        else:
                            running[trial.number] = (trial, nxt, params)
                            ex.submit(self._job(trial.number, params, *spans[nxt]))
        finally:
            optuna.logging.set_verbosity(verbosity)
        result = self._table(study)
        result.study = study
        return result

    def _stop(self, why: str) -> int:
        """End the asking early (the space looks used up); returns the new ``to_ask``."""
        warnings.warn(
            f"{type(self).__name__} stopped asking for trials before n_trials={self.n_trials}: "
            f"{why} (a draw repeating one is answered from it, not run again)",
            RuntimeWarning,
            stacklevel=4,
        )
        return 0

    @staticmethod
    def _tell_like(study, trial, outcome: tuple) -> None:
        """Tell ``trial`` (a repeat) what its parameter set's first run was told."""
        from optuna.trial import TrialState

        _, state, value = outcome
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)

    def _advance(self, study, trial, rung: int, row: dict) -> tuple[int | None, tuple]:
        """Record a rung's result; return the next rung to run (None when the trial is
        finished: told complete, pruned or failed) and what optuna was told
        ``(state, value)``."""
        from optuna.trial import TrialState

        last = rung == len(self.fidelity) - 1
        returns = row.pop("_returns", None)
        value = self._score(row)
        row.update(fidelity=self.fidelity[rung])
        if row.get("error") is not None:
            state = TrialState.FAIL
        else:
            if self.pruner is not None:
                trial.report(value, self.steps[rung])
            if not last:
                if not trial.should_prune():
                    return rung + 1, ()
                state = TrialState.PRUNED
            else:
                state = TrialState.COMPLETE if math.isfinite(value) else TrialState.FAIL
        row["state"] = state.name.lower()
        if returns is not None and state == TrialState.COMPLETE:
            trial.set_user_attr("returns", returns)
        trial.set_user_attr("row", row)
        told = value if state == TrialState.COMPLETE else None
        study.tell(trial, told, state=state)
        return None, (state, told)

    def _table(self, study) -> SearchResult:
        rows = []
        for t in study.get_trials(deepcopy=False):
            row = t.user_attrs.get("row")
            if row is None or not self._counted(t):
                continue
            row = dict(row, trial=t.number)
            if "returns" in t.user_attrs:
                row["_returns"] = t.user_attrs["returns"]
            rows.append(row)
        return self._result(rows)
