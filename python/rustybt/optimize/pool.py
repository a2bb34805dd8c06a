"""The worker processes of the ``"process"`` backend: a pool that outlives one search.

Workers are forked from a multiprocessing *forkserver* that has already imported numpy,
pandas and rustybt, so a worker is ready in milliseconds rather than the second a fresh
interpreter needs. By default one pool per process serves every search (grid, random,
Bayesian, each window of a walk-forward, a repeated ``run()``): a job carries the hash of
what it needs (the pickled strategy and the run setup) and a worker that has not seen that
hash gets it once with the job, so a warm worker can serve another strategy or bundle.
The pool is shut down at interpreter exit, or by :func:`shutdown_pool`; a search with
``reuse_pool=False`` gets a private pool that ends with it.

Each worker runs one job at a time over its own pipe, so the driver always knows which
trial a worker was running when it died: a trial that kills its worker (a segfault,
``os._exit``, the kernel's OOM killer) becomes a failed row saying how the worker died, a
fresh worker takes its place and the sweep goes on.

Workers die with their driver: on Linux each sets a parent-death signal (SIGKILL), and
the forkserver exits when the driver does, so a SIGKILLed driver leaves no worker, no
forkserver and no resource tracker behind. Workers ignore SIGINT (Ctrl-C reaches only the
driver, which kills the workers running trials of the cancelled search). Each worker uses
one BLAS/OpenMP thread (the workers already fill the cores) unless the driver's
environment says otherwise, and the forkserver forks with no other thread alive.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import math
import multiprocessing
import os
import signal
import sys
import threading
from collections import OrderedDict, deque
from multiprocessing import connection

from rustybt.errors import SweepError

#: a worker exits with this code when it finds itself importing a script that starts a
#: sweep at module level (no ``if __name__ == "__main__":``)
EXIT_UNGUARDED_MAIN = 87
#: setups (strategy + run options) a worker keeps; the driver mirrors the same LRU
CACHED_SETUPS = 8
#: what the forkserver imports once, before it forks any worker (with :data:`_ONE_THREAD`
#: none starts a thread; rustybt's rayon pool starts on first use)
PRELOAD = ["rustybt.runner", "rustybt.optimize.executors", "rustybt.optimize.pool"]
#: the forkserver's environment (inherited by the workers) where the driver's sets none:
#: one BLAS/OpenMP thread, and no jemalloc background thread (pyarrow's, started when
#: pandas is imported), so the forkserver forks with no other thread alive
_ONE_THREAD = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}
_PR_SET_PDEATHSIG = 1

_UNGUARDED = (
    "the process backend's workers re-import the script that started the sweep, and this "
    "script starts a sweep at module level: put that code under "
    '`if __name__ == "__main__":` (or use backend="serial")'
)


# -- the worker side --------------------------------------------------------------------------
def die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies (elsewhere a
    no-op). A parent that died before the call leaves this process orphaned: exit."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() == 1:
        os._exit(0)


def _release_forkserver() -> None:
    """A forked worker inherits the write end of the forkserver's "alive" pipe (so it
    could start processes through it), and the forkserver exits only when every holder
    has closed it: close this copy, so that a dead driver takes the forkserver down, and
    the forkserver's death (the parent-death signal) the workers."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None


def _worker_main(conn) -> None:
    """A worker's loop: ``(key, payload, job)`` in, ``("row", row)`` or
    ``("setup_error", text)`` out; ``None`` or a closed pipe ends it."""
    from rustybt.optimize.executors import _run_trial, worker_context

    die_with_parent()
    _release_forkserver()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    contexts: OrderedDict = OrderedDict()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        key, payload, job = message
        try:
            if payload is not None:
                contexts[key] = worker_context(*payload)
                while len(contexts) > CACHED_SETUPS:
                    contexts.popitem(last=False)
            contexts.move_to_end(key)
            context = contexts[key]
        except Exception as exc:  # the strategy or the bundle cannot be loaded here
            contexts.pop(key, None)
            conn.send(("setup_error", f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("row", _run_trial(job, context)))


# -- the driver side --------------------------------------------------------------------------
def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")  # pragma: no cover - not Linux/macOS


def _start_forkserver(ctx) -> None:
    """Start the forkserver (once per process) with rustybt imported, one BLAS thread."""
    if ctx.get_start_method() != "forkserver":  # pragma: no cover - spawn platforms
        return
    from multiprocessing import forkserver

    ctx.set_forkserver_preload(PRELOAD)
    saved = {name: os.environ.get(name) for name in _ONE_THREAD}
    try:
        for name, value in _ONE_THREAD.items():
            os.environ.setdefault(name, value)
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def describe_exit(exitcode: int | None) -> str:
    """How a worker process ended, in words: ``"was killed by signal SIGSEGV"``,
    ``"exited with code 3"``."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = str(-exitcode)
        return f"was killed by signal {name}"
    return f"exited with code {exitcode}"


def died_row(job: dict, error: str) -> dict:
    """The row of a trial that never returned because its worker died."""
    from rustybt.stats import STAT_NAMES

    row = {"trial": job["trial"], **job["params"], **dict.fromkeys(STAT_NAMES, math.nan)}
    row.update(error=error, seconds=math.nan, pid=None, rss_mb=math.nan)
    return row


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), name="rustybt-sweep")
        self.process.start()
        child.close()
        self.known: OrderedDict = OrderedDict()  # setup keys this worker holds
        self.job: dict | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, key: str, payload, job: dict) -> None:
        self.conn.send((key, None if key in self.known else payload, job))
        self.known[key] = True
        self.known.move_to_end(key)
        while len(self.known) > CACHED_SETUPS:
            self.known.popitem(last=False)
        self.job = job

    def stop(self, kill: bool = False) -> None:
        if kill:
            with contextlib.suppress(OSError):
                self.process.kill()
        else:
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
        self.conn.close()


class WorkerPool:
    """``n`` worker processes fed one job each at a time from a queue here; results come
    back in completion order. Used by one search at a time (see :func:`acquire`).

    Example::

        pool = WorkerPool(2)
        pool.submit(key, (algorithm_blob, setup), {"trial": 0, "params": {...}, ...})
        rows = pool.wait()  # at least one finished row
        pool.shutdown()
    """

    def __init__(self, n: int):
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            # we are a worker still importing the driver's script, and that script starts
            # a sweep at module level: say so through the exit code, quietly
            os._exit(EXIT_UNGUARDED_MAIN)
        self._ctx = _context()
        _start_forkserver(self._ctx)
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._queue: deque = deque()
        self.in_use = False
        self.resize(n)

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids."""
        return [w.pid for w in self._workers]

    @property
    def pending(self) -> int:
        return len(self._queue) + sum(w.job is not None for w in self._workers)

    def resize(self, n: int) -> None:
        """Start or stop (idle) workers until there are ``n``."""
        for w in [w for w in self._idle if not w.process.is_alive()]:
            self._drop(w)
        while len(self._workers) > n and self._idle:
            w = self._idle.pop()
            self._workers.remove(w)
            w.stop()
        while len(self._workers) < n:
            w = _Worker(self._ctx)
            self._workers.append(w)
            self._idle.append(w)

    def _drop(self, w: _Worker) -> None:
        self._workers.remove(w)
        if w in self._idle:
            self._idle.remove(w)
        w.stop(kill=True)
        w.process.join(timeout=5)

    def submit(self, key: str, payload, job: dict) -> None:
        """Queue ``job``; ``payload`` = (pickled strategy, pickled setup) whose hash is
        ``key``, sent to a worker only the first time it meets ``key``."""
        self._queue.append((key, payload, job))
        self._dispatch()

    def _dispatch(self) -> None:
        while self._idle and self._queue:
            w = self._idle.pop()
            key, payload, job = self._queue[0]
            try:
                w.send(key, payload, job)
            except (OSError, ValueError):  # died while idle: replace it and try again
                w.job = None
                self._replace(w)
                continue
            self._queue.popleft()

    def _replace(self, w: _Worker) -> None:
        n = len(self._workers)
        self._drop(w)
        self.resize(n)

    def wait(self) -> list[dict]:
        """Block until at least one running job has finished (or its worker died);
        return the finished rows."""
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            return []
        ready = set(connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        rows = []
        for w in busy:
            if w.conn not in ready and w.process.sentinel not in ready:
                continue
            job, w.job = w.job, None
            try:
                kind, value = w.conn.recv()
            except (EOFError, OSError):
                w.process.join(timeout=5)
                code = w.process.exitcode
                if code == EXIT_UNGUARDED_MAIN:
                    self._drop(w)
                    self.cancel()
                    raise SweepError(_UNGUARDED) from None
                self._replace(w)
                rows.append(died_row(job, worker_died(w.pid, code, job)))
                continue
            self._idle.append(w)
            if kind == "setup_error":
                w.known.clear()
                raise SweepError(f"a worker could not load the strategy or the bundle: {value}")
            rows.append(value)
        self._dispatch()
        return rows

    def cancel(self) -> None:
        """Drop the queued jobs and kill the workers running one (Ctrl-C, an error)."""
        self._queue.clear()
        for w in [w for w in self._workers if w.job is not None]:
            self._drop(w)

    def shutdown(self) -> None:
        """Stop every worker: idle ones finish, busy ones are killed."""
        self._queue.clear()
        workers, self._workers, self._idle = self._workers, [], []
        for w in workers:
            w.stop(kill=w.job is not None)
        for w in workers:
            w.process.join(timeout=2)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=2)


def worker_died(pid: int, exitcode: int | None, job: dict) -> str:
    """The error text of a trial whose worker died."""
    return (
        f"WorkerDied: the worker process (pid {pid}) {describe_exit(exitcode)} while running "
        f"trial {job['trial']} with parameters {job['params']}"
    )


# -- the shared pool ----------------------------------------------------------------------------
_SHARED: WorkerPool | None = None
_LOCK = threading.Lock()


def acquire(n: int, reuse: bool = True) -> WorkerPool:
    """A pool of ``n`` workers for one search: the process's shared pool (resized to
    ``n``) when ``reuse`` and it is free, else a private one (release it with
    :func:`release`)."""
    global _SHARED
    with _LOCK:
        if reuse and (_SHARED is None or not _SHARED.in_use):
            if _SHARED is None:
                _SHARED = WorkerPool(n)
                atexit.register(shutdown_pool)
            else:
                _SHARED.resize(n)
            pool = _SHARED
        else:
            pool = WorkerPool(n)
        pool.in_use = True
        return pool


def release(pool: WorkerPool, failed: bool = False) -> None:
    """Hand ``pool`` back after a search: the shared pool stays warm (after ``failed``,
    the workers still running a trial are killed); a private one is shut down."""
    if failed:
        pool.cancel()
    pool.in_use = False
    if pool is not _SHARED:
        pool.shutdown()


def shared_pool_pids() -> list[int]:
    """The process ids of the shared pool's workers (empty when there is none); a row's
    ``pid`` says which of them ran the trial.

    Example:
        >>> from rustybt.optimize.pool import shared_pool_pids
        >>> shared_pool_pids()  # before any process-backend search
        []
    """
    return [] if _SHARED is None else _SHARED.pids


def shutdown_pool() -> None:
    """Stop the shared worker pool (it is started again by the next process-backend
    search). Runs at interpreter exit.

    Example:
        >>> from rustybt.optimize import shutdown_pool
        >>> shutdown_pool()
    """
    global _SHARED
    with _LOCK:
        pool, _SHARED = _SHARED, None
    if pool is not None:
        pool.shutdown()
