"""Where the trials of a search run: in this process (``"serial"``), on the process's
warm worker pool (``"process"``, :mod:`rustybt.optimize.pool`) or on Ray actors
(``"ray"``).

Every executor has the same shape: each worker unpickles the strategy and opens the bundle
once per search (through the bundle pool; a pool worker keeps them for the next search
with the same strategy and setup), takes jobs with :meth:`submit` and hands back finished
result rows with :meth:`wait`, in completion order. A job is a dict
``{"trial": int, "params": dict, "start": date | None, "end": date | None}``; the span
travels with the job, so one pool serves every window of a walk-forward. A row is the
trial's parameters, every stat of :data:`rustybt.stats.STAT_NAMES`, ``error`` (``None`` or
``"ValueError: ..."``), ``seconds``, ``pid`` and ``rss_mb`` (the worker's resident memory
after the trial), plus ``_returns`` (the daily returns, a list) when the search keeps them.
A trial that raises is recorded with its error; one that kills its worker (process and
Ray backends) is recorded as ``"WorkerDied: ..."`` with how it died; the others go on. The
serial backend runs trials in this process, so a trial that kills it ends the sweep.

Ray: the bundle travels as a *path* (each actor opens it itself), so on a real cluster the
bundle directory must be on a filesystem every node mounts at the same path (NFS, EFS, a
shared volume); each node then builds its own memory-mapped cache under its
``RUSTYBT_ROOT``. The strategy class travels pickled with cloudpickle; when it is defined
in ``__main__`` or in a module that is not an installed package (a script, a notebook, a
test module) it is pickled by value, so the workers need not import it. Other local modules
it imports must reach the workers through Ray's ``runtime_env`` (``working_dir`` or
``py_modules``).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import signal
import sys
import sysconfig
import time
import warnings
from collections import deque

from rustybt.stats import STAT_NAMES

BACKENDS = ("serial", "process", "ray")


# -- the worker side --------------------------------------------------------------------
def _with_costs(algorithm, costs: dict | None):
    """``algorithm`` with the search's cost models set after its own ``initialize`` (so they
    win over the strategy's choice); ``algorithm`` itself when there are none."""
    if not costs:
        return algorithm

    class WithCosts(algorithm):
        def initialize(self, context):
            super().initialize(context)
            if costs.get("commission") is not None:
                self.set_commission(costs["commission"])
            if costs.get("slippage") is not None:
                self.set_slippage(costs["slippage"])

    WithCosts.__name__ = WithCosts.__qualname__ = algorithm.__name__
    return WithCosts


def worker_context(algorithm_blob: bytes, setup) -> dict:
    """What a worker holds for one search: the strategy (unpickled, with the search's
    costs) and the open bundle (through the bundle pool).

    ``setup`` (a dict, or that dict pickled): ``bundle`` (a path), ``capital_base``,
    ``ledger``, ``costs``, ``keep_returns``.
    """
    import cloudpickle

    import rustybt

    if isinstance(setup, bytes):
        setup = cloudpickle.loads(setup)
    algorithm = cloudpickle.loads(algorithm_blob)
    return {
        "algorithm": _with_costs(algorithm, setup.get("costs")),
        "keep_returns": bool(setup.get("keep_returns")),
        "options": {
            "bundle": rustybt.load_bundle(setup["bundle"]),
            "capital_base": setup["capital_base"],
            "ledger": setup["ledger"],
        },
    }


def rss_mb() -> float:
    """This process's resident set size now (MiB), from ``/proc/self/statm``; NaN where
    there is no ``/proc``."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return math.nan


def _run_trial(job: dict, context: dict) -> dict:
    """One backtest on a :func:`worker_context`; never raises: a failing trial is recorded
    with its error."""
    from rustybt.runner import run_trial

    started = time.perf_counter()
    params = job["params"]
    row = {"trial": job["trial"], **params}
    try:
        stats, returns = run_trial(
            algorithm=context["algorithm"],
            params=params,
            start=job.get("start"),
            end=job.get("end"),
            **context["options"],
        )
        row.update(stats)
        row["error"] = None
        if context["keep_returns"]:
            row["_returns"] = returns.tolist()
    except Exception as exc:  # recorded, the sweep goes on
        cause = exc.__cause__ or exc
        row.update(dict.fromkeys(STAT_NAMES, math.nan))
        row["error"] = f"{type(cause).__name__}: {cause}"
    row["seconds"] = time.perf_counter() - started
    row["pid"] = os.getpid()
    row["rss_mb"] = rss_mb()
    return row


# -- shipping the strategy -----------------------------------------------------------------
def _installed(module) -> bool:
    """Whether a module can be imported by a worker on another machine with the same
    environment: rustybt itself, the standard library, or an installed distribution."""
    name = module.__name__.partition(".")[0]
    if name in ("rustybt", "builtins") or name in sys.stdlib_module_names:
        return True
    path = getattr(module, "__file__", None)
    if path is None:
        return False
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
    path = os.path.realpath(path)
    return any(path.startswith(os.path.realpath(r) + os.sep) for r in roots)


def dumps_algorithm(algorithm, *, by_value: bool = False) -> bytes:
    """The strategy class pickled with cloudpickle. With ``by_value``, a class from a module
    that is not installed (a test module, a script's sibling) is pickled with its code, so a
    worker that cannot import that module (a Ray worker) can still load it."""
    import cloudpickle

    module = sys.modules.get(algorithm.__module__)
    register = by_value and module is not None and module.__name__ != "__main__"
    register = register and not _installed(module)
    if register:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(algorithm)
    finally:
        if register:
            cloudpickle.unregister_pickle_by_value(module)


# -- the executors ---------------------------------------------------------------------------
class Executor:
    """Runs jobs on ``n_jobs`` workers. Use as a context manager:

    Example::

        with make_executor("process", 2, algorithm, setup) as ex:
            ex.submit({"trial": 0, "params": {"fast": 5}, "start": None, "end": None})
            rows = ex.wait()  # at least one finished row
    """

    backend = ""

    def __init__(self, n_jobs: int, algorithm, setup: dict, reuse_pool: bool = True):
        self.n_jobs, self.algorithm, self.setup = n_jobs, algorithm, setup
        self.reuse_pool = reuse_pool

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        pass

    @property
    def pending(self) -> int:  # pragma: no cover - subclasses
        raise NotImplementedError

    def submit(self, job: dict) -> None:  # pragma: no cover - subclasses
        raise NotImplementedError

    def wait(self) -> list[dict]:  # pragma: no cover - subclasses
        """Block until at least one submitted job has finished; return the finished rows."""
        raise NotImplementedError


class SerialExecutor(Executor):
    """Runs each job in this process, one at a time, when :meth:`wait` is called. A trial
    that kills its process (a segfault, ``os._exit``) kills the sweep with it: use the
    process backend for strategies that might."""

    backend = "serial"

    def __enter__(self):
        self._context = worker_context(dumps_algorithm(self.algorithm), self.setup)
        self._queue: deque = deque()
        return self

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, job):
        self._queue.append(job)

    def wait(self):
        return [_run_trial(self._queue.popleft(), self._context)] if self._queue else []


class ProcessExecutor(Executor):
    """Runs jobs on the worker pool of :mod:`rustybt.optimize.pool`: the process's shared,
    warm pool (resized to ``n_jobs``), or with ``reuse_pool=False`` a private one that
    ends with the search. A trial whose worker dies is a failed row; the sweep goes on."""

    backend = "process"

    def __enter__(self):
        import cloudpickle

        from rustybt.optimize import pool

        blob = dumps_algorithm(self.algorithm)
        setup = cloudpickle.dumps(self.setup)
        self._key = hashlib.sha256(blob + setup).hexdigest()
        self._payload = (blob, setup)
        self._pool = pool.acquire(self.n_jobs, reuse=self.reuse_pool)
        return self

    def __exit__(self, exc_type, *exc):
        from rustybt.optimize import pool

        pool.release(self._pool, failed=exc_type is not None)

    @property
    def pending(self) -> int:
        return self._pool.pending

    def submit(self, job):
        self._pool.submit(self._key, self._payload, job)

    def wait(self):
        return self._pool.wait()


class _RayWorker:
    """One Ray actor: a worker process holding the strategy and the open bundle."""

    def __init__(self, algorithm_blob: bytes, setup: dict):
        # the driver handles Ctrl-C; ValueError: not the main thread (some Ray setups)
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.context = worker_context(algorithm_blob, setup)

    def ready(self) -> int:
        return os.getpid()

    def run(self, job: dict) -> dict:
        return _run_trial(job, self.context)


class RayExecutor(Executor):
    """``n_jobs`` Ray actors (one CPU each), each fed one job at a time from a queue here, so
    results stream back in completion order. Uses the Ray instance this process is connected
    to (``ray.init(address=...)`` first for a cluster); starts a local one if there is none.
    A job whose actor dies is recorded as failed (``WorkerDied: ...``) and the actor is
    replaced."""

    backend = "ray"

    def __enter__(self):
        import ray

        if not ray.is_initialized():
            ray.init(include_dashboard=False)
        cpus = ray.cluster_resources().get("CPU", 0)
        if self.n_jobs > cpus:
            warnings.warn(
                f"n_jobs={self.n_jobs} Ray actors but the cluster has {cpus:g} CPUs: "
                "the extra actors wait for a free CPU",
                stacklevel=3,
            )
        self._ray = ray
        self._actor_class = ray.remote(num_cpus=1)(_RayWorker)
        self._blob = dumps_algorithm(self.algorithm, by_value=True)
        self._blob_ref = ray.put(self._blob)
        self._actors = [self._new_actor() for _ in range(self.n_jobs)]
        try:  # a strategy or bundle the workers cannot load fails here, not per trial
            ray.get([a.ready.remote() for a in self._actors])
        except BaseException:
            self.__exit__()
            raise
        self._idle = list(self._actors)
        self._queue: deque = deque()
        self._running: dict = {}  # ObjectRef -> (actor, job)
        return self

    def _new_actor(self):
        return self._actor_class.remote(self._blob_ref, self.setup)

    def __exit__(self, *exc):
        for actor in self._actors:
            self._ray.kill(actor)

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._running)

    def submit(self, job):
        self._queue.append(job)
        self._dispatch()

    def _dispatch(self):
        while self._idle and self._queue:
            actor, job = self._idle.pop(), self._queue.popleft()
            self._running[actor.run.remote(job)] = (actor, job)

    def wait(self):
        from rustybt.optimize.pool import died_row

        if not self._running:
            return []
        ready, _ = self._ray.wait(list(self._running), num_returns=1)
        rows = []
        for ref in ready:
            actor, job = self._running.pop(ref)
            try:
                rows.append(self._ray.get(ref))
            except self._ray.exceptions.RayActorError as exc:
                rows.append(died_row(job, _actor_died(exc, job)))
                self._actors.remove(actor)
                actor = self._new_actor()
                self._actors.append(actor)
            except self._ray.exceptions.RayError as exc:
                rows.append(died_row(job, f"{type(exc).__name__}: {_first_line(exc)}"))
            self._idle.append(actor)
        self._dispatch()
        return rows


def _actor_died(exc: BaseException, job: dict) -> str:
    """The error text of a trial whose Ray actor died: Ray tells the actor's pid and its
    exit type and detail, not the exit code or signal."""
    text = str(exc)
    pid = re.search(r"\bpid: (\d+)", text)
    exit_type = re.search(r"Worker exit type: (\S+)", text)
    detail = re.search(r"Worker exit detail: ([^.]*)", text)
    how = [f"{type(exc).__name__}: {_first_line(exc)}"]
    if exit_type:
        how.append(f"exit type {exit_type[1]}")
    if detail:
        how.append(detail[1].strip())
    return (
        f"WorkerDied: the Ray actor{f' (pid {pid[1]})' if pid else ''} running trial "
        f"{job['trial']} with parameters {job['params']} died ({'; '.join(how)})"
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


_EXECUTORS = {"serial": SerialExecutor, "process": ProcessExecutor, "ray": RayExecutor}


def make_executor(
    backend: str, n_jobs: int, algorithm, setup: dict, reuse_pool: bool = True
) -> Executor:
    """An executor of ``backend`` (one of :data:`BACKENDS`); ``reuse_pool``: the process
    backend runs on the process's shared worker pool (else a private one)."""
    return _EXECUTORS[backend](n_jobs, algorithm, setup, reuse_pool)
