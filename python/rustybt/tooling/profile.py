"""``rustybt profile STRATEGY.py``: where one backtest spends its time and its memory.

The strategy is imported and the bundle opened before anything is measured, so interpreter
start-up, imports and bundle open are never part of a profile. Then the backtest runs once
per pass:

1. plain, twice: the second run's wall time is the report's (the first pays one-off
   costs such as lazy imports);
2. under cProfile: ``profile.pstats``, the top 20 functions by own time and a breakdown by
   module (the rules are in :data:`BUCKET_RULES`);
3. with ``--memory``: under tracemalloc (Python allocations, NumPy's buffers included), and
   with ``--memory memray`` also under memray with native traces (Rust allocations too);
4. under py-spy, attached to a fresh worker process once that process has opened the bundle
   and imported the strategy: with ``--native`` a flame graph (``flame.svg``) and collapsed
   stacks (``stacks.txt``) in which Rust frames show, which split the Rust time over crates
   (see :func:`native_view`), plus a Python-only pass (``stacks-python.txt``): bucket
   shares without cProfile's per-call overhead. The worker also reports peak RSS.

Everything lands in ``--out DIR``: ``report.md``, ``profile.pstats``, ``flame.svg``,
``stacks.txt``. A short summary is printed.

Example::

    rustybt profile examples/sma_crossover.py --bundle demo --param n_assets=20 \\
        --out prof/ --memory
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

#: The module breakdown's buckets, in report order.
BUCKETS = ("engine", "ledger", "data", "metrics", "user code", "pandas/numpy", "other")

BUCKET_RULES = """\
A function's own time (cProfile's tottime) goes to exactly one bucket, so the shares add up
to 100%:

- **user code**: functions defined in the strategy file.
- **engine**: `rustybt._core.Simulation.run` (the Rust event loop: clock, order fills,
  marking to market and each session's books, all in Rust, plus calling back into Python)
  and the other `Simulation` methods not listed below; `rustybt/runner.py`, `api.py`,
  `schedule.py` and the strategy API of `algorithm.py` (`record`, `symbols`, ...).
- **ledger**: the account API: `Simulation.order`, `cancel_order`, `open_orders`,
  `order_info`, `cash`, `portfolio_value`, `positions`, ... and the cost-model and control
  setters; `algorithm.py`'s `order*`, `_place`, `portfolio`, `get_order`,
  `get_open_orders`, `set_*` models and controls; `protocol.py`, `finance/`.
- **data**: `rustybt._core.BarData` and `Bundle` methods (history windows, current
  values), `rustybt/data.py` (`BarData.history`: the pandas frames around the windows),
  `bundles.py`, `calendars.py`.
- **metrics**: `Simulation.perf` (per-session columns and risk metrics, in Rust),
  `_core.cumulative_risk`, `runner._perf_frame` (the perf DataFrame), `stats.py`,
  `results.py`.
- **pandas/numpy**: Python functions of pandas, NumPy and pyarrow (pandas' string
  backend), and their C functions (`<method 'reduce' of 'numpy.ufunc' objects>`, ...).
- **other**: the standard library and everything else.

Generic built-ins (`len`, `isinstance`, `getattr`, methods of `dict`, `list`, `str`, ...)
are not a bucket of their own: their time is split over the functions that called them, in
proportion to the time each caller spent in them (cProfile records it per caller).
"""

NATIVE_RULES = """\
Each sample is charged to its innermost frame that says whose work it is: a Rust frame of
a rustybt crate (`crates/<name>/src/...`, named by its crate), of `rust_decimal`, of
`pyo3`/`numpy` (the binding glue) or of another crate; a Python frame (bucketed by file as
in the module breakdown); a frame of NumPy's, pandas' or pyarrow's C code; CPython's
garbage collector. Frames that do nobody's work on their own are charged to their caller:
Rust's standard library (inlined comparisons, iterators, allocation), libc (`malloc`,
`memcpy`) and the interpreter's C functions (`libpython`), so interpreter work done for a
Python function counts for that function.
"""

_LEDGER_API = frozenset(
    {
        "_place",
        "order",
        "order_value",
        "order_percent",
        "order_target",
        "order_target_value",
        "order_target_percent",
        "cancel_order",
        "get_order",
        "get_open_orders",
        "portfolio",
        "set_slippage",
        "set_commission",
        "set_cancel_policy",
        "set_fill_model",
        "_control",
        "set_max_order_size",
        "set_max_position_size",
        "set_max_order_count",
        "set_long_only",
        "set_max_leverage",
    }
)
# methods of _core.Simulation that are the account rather than the clock
_SIM_LEDGER = frozenset(
    {
        "order",
        "cancel_order",
        "open_orders",
        "order_info",
        "cash",
        "portfolio_value",
        "positions_value",
        "starting_cash",
        "exact_state",
        "positions",
        "set_slippage",
        "set_commission",
        "set_cancel_policy",
        "add_control",
        "set_max_leverage",
        "set_fill_model",
    }
)
_CORE_FUNCTIONS = {
    "cumulative_risk": "metrics",
    "cumulative_benchmark_risk": "metrics",
    "ingest_synthetic": "data",
}
_LIBRARIES = ("pandas", "numpy", "pyarrow")
_METHOD = re.compile(r"<method '(?P<name>[^']+)' of '(?P<type>[^']+)' objects>")
_BUILTIN = re.compile(r"<built-in method (?P<name>[\w.]+)>")
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_CRATE = re.compile(r"/crates/(?P<crate>[\w-]+)/src/")
_PASSTHROUGH_LIBS = ("libc.", "libm.", "ld-linux", "libgcc", "libstdc++", "libpthread", "[vdso]")


class Classifier:
    """The bucket of a function (cProfile) or a frame (py-spy, memray).

    Example:
        >>> c = Classifier("examples/sma_crossover.py")
        >>> c.builtin("<method 'order' of 'rustybt._core.Simulation' objects>")
        'ledger'
    """

    def __init__(self, strategy: str | os.PathLike):
        import rustybt

        self.strategy = os.path.realpath(strategy)
        self.package = os.path.realpath(Path(rustybt.__file__).parent)
        self.project = os.path.dirname(os.path.dirname(self.package))
        self._real: dict[str, str] = {}
        self._functions: dict[str, list[tuple[int, int, str]]] = {}

    def realpath(self, filename: str) -> str:
        real = self._real.get(filename)
        if real is None:
            real = self._real[filename] = os.path.realpath(filename)
        return real

    def enclosing(self, filename: str, line: int) -> str:
        """The name of the innermost function of ``filename`` around ``line`` ("" if none)."""
        import ast

        spans = self._functions.get(filename)
        if spans is None:
            try:
                tree = ast.parse(Path(filename).read_text())
            except (OSError, SyntaxError, ValueError):
                tree = None
            spans = self._functions[filename] = [
                (n.lineno, n.end_lineno or n.lineno, n.name)
                for n in (ast.walk(tree) if tree else ())
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            ]
        inner = max(((lo, name) for lo, hi, name in spans if lo <= line <= hi), default=None)
        return inner[1] if inner else ""

    def python(self, filename: str, function: str) -> str:
        """The bucket of a Python function, by the file defining it."""
        real = self.realpath(filename)
        if real == self.strategy:
            return "user code"
        parts = Path(real).parts
        for marker in ("site-packages", "dist-packages"):
            if marker in parts:
                i = parts.index(marker)
                lib = parts[i + 1] if i + 1 < len(parts) else ""
                return "pandas/numpy" if lib in _LIBRARIES else "other"
        if real.startswith(self.package + os.sep):
            rel = Path(os.path.relpath(real, self.package)).as_posix()
            return _rustybt_bucket(rel, function.rsplit(".", 1)[-1])
        return "other"

    @staticmethod
    def builtin(label: str) -> str | None:
        """The bucket of a C function as cProfile names it; None for generic built-ins
        (``len``, dict methods, ...), whose time belongs to their callers."""
        m = _METHOD.fullmatch(label)
        if m:
            name, owner = m["name"], m["type"]
            if owner.startswith("rustybt._core."):
                cls = owner.rsplit(".", 1)[-1]
                if cls == "Simulation":
                    if name in _SIM_LEDGER:
                        return "ledger"
                    return "metrics" if name == "perf" else "engine"
                return "data" if cls in ("BarData", "Bundle", "Asset", "CsvDir") else "engine"
            return "pandas/numpy" if owner.split(".")[0] in _LIBRARIES else None
        m = _BUILTIN.fullmatch(label)
        if m:
            qual = m["name"]
            if qual.startswith("rustybt._core."):
                return _CORE_FUNCTIONS.get(qual.rsplit(".", 1)[-1], "engine")
            return "pandas/numpy" if qual.split(".")[0] in _LIBRARIES else None
        return None

    def frame(self, name: str, filename: str) -> str | None:
        """The category of one native-profile frame (py-spy ``--native``, memray); None for
        frames charged to their caller (Rust std, libc, interpreter internals)."""
        if filename.endswith(".py"):
            bucket = self.python(filename, name)
            if bucket == "pandas/numpy":
                return "pandas/numpy"
            return "other Python" if bucket == "other" else f"Python: {bucket}"
        if filename.endswith(".rs"):
            m = _CRATE.search(filename)
            if m:
                return f"Rust: rustybt-{m['crate']}"
            if "/rust_decimal-" in filename:
                return "Rust: rust_decimal"
            if "/pyo3" in filename or "/numpy-" in filename:
                return "Rust: pyo3/numpy (binding glue)"
            if filename.startswith("/rustc/") or "/library/" in filename:
                return None
            return "Rust: other crates"
        base = os.path.basename(filename)
        if base.startswith("_core.") and "rustybt" in filename:
            return "Rust: rustybt (no symbols)"
        if "libpython" in base or base.startswith("python3"):
            return "CPython GC" if "collect" in name else None
        if any(f"/{lib}/" in filename for lib in _LIBRARIES) or "libarrow" in base:
            return "pandas/numpy"
        if base.startswith(_PASSTHROUGH_LIBS) or not filename:
            return None
        return "other native"

    def short(self, filename: str) -> str:
        """A file name as the report shows it: relative to the project, or to
        site-packages, or the last two parts."""
        for marker in ("site-packages/", "/rustc/", "/registry/src/"):
            if marker in filename:
                tail = filename.split(marker, 1)[1]
                return tail.split("/", 1)[1] if marker != "site-packages/" else tail
        real = self.realpath(filename)
        if real.startswith(self.project + os.sep):
            return os.path.relpath(real, self.project)
        parts = Path(filename).parts
        return "/".join(parts[-2:]) if len(parts) > 1 else filename


def _rustybt_bucket(rel: str, name: str) -> str:
    """The bucket of a function of the rustybt package, by its path inside it."""
    if rel.startswith(("app/", "tooling/", "optimize/")) or rel == "__main__.py":
        return "other"
    if rel in ("data.py", "bundles.py", "calendars.py"):
        return "data"
    if rel in ("stats.py", "results.py") or (
        rel == "runner.py" and name in ("_perf_frame", "exact_column")
    ):
        return "metrics"
    if rel == "protocol.py" or rel.startswith("finance/"):
        return "ledger"
    if rel == "algorithm.py" and name in _LEDGER_API:
        return "ledger"
    return "engine"


# -- cProfile ---------------------------------------------------------------------------


def cprofile_view(stats, clf: Classifier, top: int = 20) -> dict:
    """Buckets and the top functions of a ``pstats.Stats``.

    Returns ``{"total": s, "buckets": {bucket: s}, "top": [row, ...], "bucket_top":
    {bucket: [(name, s), ...]}}``; each row has ``name``, ``bucket``, ``calls``,
    ``tottime``, ``cumtime``.
    """
    entries = stats.stats
    total = sum(v[2] for v in entries.values())
    labels: dict = {}

    def label(func) -> str | None:
        if func not in labels:
            file, _, name = func
            labels[func] = clf.builtin(name) if file == "~" else clf.python(file, name)
        return labels[func]

    def charge(func, depth: int = 0) -> dict[str, float]:
        """Own time of ``func`` by bucket: itself, or its callers for generic built-ins."""
        tt, callers = entries[func][2], entries[func][4]
        own = label(func)
        if own is not None:
            return {own: tt}
        if not callers or depth > 4:
            return {"other": tt}
        out: dict[str, float] = defaultdict(float)
        spent = sum(c[2] for c in callers.values()) or 1.0
        for caller, info in callers.items():
            share = tt * info[2] / spent
            if caller not in entries:
                out["other"] += share
                continue
            caller_label = label(caller)
            if caller_label is not None:
                out[caller_label] += share
                continue
            # a built-in called by a built-in: follow the caller's own callers
            for b, s in charge(caller, depth + 1).items():
                caller_tt = entries[caller][2] or 1.0
                out[b] += share * s / caller_tt
        return dict(out)

    buckets: dict[str, float] = dict.fromkeys(BUCKETS, 0.0)
    per_bucket: dict[str, list] = defaultdict(list)
    rows = []
    for func, (cc, nc, tt, ct, _callers) in entries.items():
        charged = charge(func)
        for b, s in charged.items():
            buckets[b] = buckets.get(b, 0.0) + s
        main = max(charged, key=charged.get) if charged else "other"
        name = _func_name(func, clf)
        direct = label(func) is not None
        per_bucket[main].append((name, tt))
        rows.append(
            {
                "name": name,
                "own_bucket": main,
                "bucket": main if direct else f"{main} (via callers)",
                "calls": f"{nc}/{cc}" if nc != cc else str(nc),
                "tottime": tt,
                "cumtime": ct,
            }
        )
    ours = [r for r in rows if r["own_bucket"] not in ("pandas/numpy", "other")]
    ours.sort(key=lambda r: -r["cumtime"])
    rows.sort(key=lambda r: -r["tottime"])
    bucket_top = {b: sorted(v, key=lambda x: -x[1])[:3] for b, v in per_bucket.items()}
    # own time of the native module's functions, by the Python function calling them
    rust_calls: dict[str, float] = defaultdict(float)
    for (file, _, name), (*_, callers) in entries.items():
        if file == "~" and "rustybt._core" in name:
            for caller, info in callers.items():
                rust_calls[caller[2]] += info[2]
    return {
        "total": total,
        "buckets": buckets,
        "top": rows[:top],
        "cumulative": ours[:12],
        "bucket_top": bucket_top,
        "rust_calls": dict(rust_calls),
    }


def _func_name(func, clf: Classifier) -> str:
    file, line, name = func
    if file == "~":
        return name
    return f"{clf.short(file)}:{line}({name})"


# -- py-spy -----------------------------------------------------------------------------


def read_stacks(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """py-spy's raw (collapsed) stacks: ``[([(name, file), ...] root first, count), ...]``."""
    out = []
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for text in stack.split(";"):
            m = _FRAME.match(text)
            frames.append((m["name"], m["file"]) if m else (text, ""))
        out.append((frames, int(count)))
    return out


def _innermost_python(frames: list[tuple[str, str]]) -> tuple[str, str] | None:
    for name, file in reversed(frames):
        if file.endswith(".py"):
            return name, file
    return None


def python_view(stacks, clf: Classifier) -> dict[str, float]:
    """Bucket shares of a Python-only py-spy pass: each sample goes to its innermost Python
    frame, so time in native code (Rust included) counts for the Python function that
    called it. No instrumentation: a check on cProfile's shares, which its overhead skews
    towards cheap, frequent Python calls."""
    total = sum(n for _, n in stacks) or 1
    shares: Counter = Counter()
    for frames, n in stacks:
        inner = _innermost_python(frames)
        shares[clf.python(inner[1], inner[0]) if inner else "other"] += n / total
    return dict(shares)


def _rust_caller(frames: list[tuple[str, str]], clf: Classifier) -> str | None:
    """The Python function whose call into Rust a sample is inside (its innermost Python
    frame, when a Rust frame lies below it), else None."""
    for i in range(len(frames) - 1, -1, -1):
        name, file = frames[i]
        if file.endswith(".py"):
            below = frames[i + 1 :]
            if any((clf.frame(n, f) or "").startswith("Rust") for n, f in below):
                return name.rsplit(".", 1)[-1]
            return None
    return None


def native_view(stacks, clf: Classifier, rust_calls: dict | None = None, top: int = 20) -> dict:
    """Categories and top frames of ``--native`` py-spy samples (see :data:`NATIVE_RULES`).

    py-spy 0.4 on Python 3.11 cannot merge native and Python frames for many samples
    (benfred/py-spy#634) and drops them. The drops are not random: a sample taken while
    Python code runs inside a callback of the Rust loop (``handle_data`` and below) is lost
    nearly always, one taken inside Rust code is kept, so the *as sampled* shares
    over-state Rust and under-state strategy code.

    The split of the time inside Rust calls avoids that bias. ``rust_calls`` maps each
    Python function that calls into ``rustybt._core`` to the own time of those calls
    (cProfile's exact accounting: Rust code, binding glue, and the interpreter work it
    triggers such as garbage collection; never the Python callbacks). Each such time is
    split over categories in the proportions of the native samples taken inside that
    function's Rust calls (that function is their innermost Python frame and a Rust frame
    lies below it). Calls with no such sample stay "Rust: not sampled".
    """
    total = sum(n for _, n in stacks) or 1
    sampled: Counter = Counter()
    frames_self: Counter = Counter()
    frame_category: dict[str, str] = {}
    rust_by_caller: dict[str, Counter] = defaultdict(Counter)
    for frames, n in stacks:
        category, where = "other native", None
        for name, file in reversed(frames):
            c = clf.frame(name, file)
            if c is not None:
                category, where = c, f"{name} ({clf.short(file) if file else '?'})"
                break
        sampled[category] += n
        if where is not None:
            frames_self[where] += n
            frame_category[where] = category
        caller = _rust_caller(frames, clf)
        if caller is not None:
            rust_by_caller[caller][category] += n
    split: Counter = Counter()
    for caller, seconds in (rust_calls or {}).items():
        found = rust_by_caller.get(caller)
        if not found:
            split["Rust: not sampled"] += seconds
            continue
        n = sum(found.values())
        for category, k in found.items():
            split[category] += seconds * k / n
    return {
        "samples": total,
        "sampled": {k: v / total for k, v in sampled.items()},
        "rust_split": dict(split),
        "top": [
            (name, frame_category[name], n / total) for name, n in frames_self.most_common(top)
        ],
    }


def _category_order(name: str) -> tuple:
    order = ("Rust", "Python: user", "Python", "pandas", "CPython", "other")
    return (next((i for i, p in enumerate(order) if name.startswith(p)), 99), name)


def _py_spy() -> str | None:
    import shutil

    beside = Path(sys.executable).with_name("py-spy")
    if beside.is_file():
        return str(beside)
    return shutil.which("py-spy")


class _Worker:
    """A fresh process that imports the strategy, opens the bundle, reports ready, and runs
    the backtest when told to (so py-spy can attach in between). ``log`` takes its stderr."""

    def __init__(self, config: dict, log):
        import json
        import subprocess

        self._json = json
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rustybt.tooling.profile", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        self.ready = self._message()

    def _message(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.seek(0)
            raise RuntimeError(
                f"the profiling worker exited ({self.proc.returncode}):\n{self.log.read()[-3000:]}"
            )
        return self._json.loads(line)

    def run(self) -> dict:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        result = {**self.ready, **self._message()}
        self.proc.wait()
        return result


def _worker_main(config_json: str) -> None:
    """Inside the worker process (``python -m rustybt.tooling.profile CONFIG``)."""
    import ast
    import json
    import time

    # the protocol owns stdout; anything the strategy prints goes to stderr
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import rustybt
    from rustybt.app.common import load_strategy_file

    config = json.loads(config_json)
    target = load_strategy_file(config["strategy"], config["algorithm"])
    bundle = rustybt.load_bundle(config["bundle"])
    kwargs = {**config["run"], "params": ast.literal_eval(config["params"]) or None}
    proto.write(json.dumps({"pid": os.getpid(), "rss_mb": _rss_mb()}) + "\n")
    proto.flush()
    sys.stdin.readline()
    walls = []
    began = time.perf_counter()
    while not walls or time.perf_counter() - began < config["seconds"]:
        t = time.perf_counter()
        rustybt.run_algorithm(bundle=bundle, **kwargs, **target)
        walls.append(time.perf_counter() - t)
    proto.write(json.dumps({"walls": walls, "peak_rss_mb": _peak_rss_mb()}) + "\n")
    proto.flush()
    # no interpreter teardown: py-spy samples until the process is gone
    os._exit(0)


def _status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _rss_mb() -> float | None:
    return _status_mb("VmRSS:")


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux's ``ru_maxrss`` is not used: it carries over the
    parent's high-water mark when the worker was started by vfork and exec."""
    peak = _status_mb("VmHWM:")
    if peak is not None:
        return peak
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _spy_pass(config: dict, spy: str | None, fmt: str, native: bool, out: Path, rate: int):
    """Run the backtest in a worker, with py-spy recording ``fmt`` into ``out``. Returns
    ``(worker result, py-spy status)``; the status has ``ok``, ``samples``, ``errors`` and
    ``message``."""
    import signal
    import subprocess
    import tempfile
    import time

    status = {"ok": False, "samples": None, "errors": None, "message": "py-spy not found"}
    with (
        tempfile.TemporaryFile(mode="w+") as worker_log,
        tempfile.TemporaryFile(mode="w+") as spy_log,
    ):
        worker = _Worker(config, worker_log)
        if spy is None:
            return worker.run(), status
        out.unlink(missing_ok=True)
        cmd = [spy, "record", "--pid", str(worker.ready["pid"]), "--rate", str(rate)]
        cmd += ["--format", fmt, "--full-filenames", "-o", str(out)]
        if native:
            cmd.append("--native")
        spy_proc = subprocess.Popen(cmd, stdout=spy_log, stderr=subprocess.STDOUT, text=True)
        # py-spy prints this once it is attached; output goes to a file (a full pipe would
        # block py-spy while it holds the worker stopped)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and spy_proc.poll() is None:
            spy_log.seek(0)
            if "Sampling process" in spy_log.read():
                break
            time.sleep(0.01)
        result = worker.run()
        try:
            spy_proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            spy_proc.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            spy_proc.wait()
        spy_log.seek(0)
        text = spy_log.read()
    m = re.search(r"Samples: (\d+) Errors: (\d+)", text)
    if m:
        status["samples"], status["errors"] = int(m[1]), int(m[2])
    if spy_proc.returncode == 0 and out.is_file() and out.stat().st_size > 0:
        status.update(ok=True, message="")
    else:
        tail = " ".join(text.split())[-600:] or "no output"
        status["message"] = f"py-spy exited with {spy_proc.returncode}: {tail}"
    return result, status


# -- memory -----------------------------------------------------------------------------


def tracemalloc_view(run, clf: Classifier, top: int = 10) -> dict:
    """Run under tracemalloc: peak traced memory and the sites holding the most at the end
    of the run (while its result is alive), by the innermost frame of the project."""
    import tracemalloc

    tracemalloc.start(25)
    try:
        result = run()
        current, peak = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    del result
    sites: dict[str, list] = {}
    for stat in snapshot.statistics("traceback"):
        frames = [(f.filename, f.lineno) for f in reversed(stat.traceback)]
        inner = f"{clf.short(frames[0][0])}:{frames[0][1]}" if frames else "?"
        site, bucket = inner, "pandas/numpy" if frames else "other"
        for file, line in frames:
            function = clf.enclosing(file, line)
            b = clf.python(file, function)
            if b not in ("pandas/numpy", "other"):
                site, bucket = f"{clf.short(file)}:{line} ({function or '?'})", b
                break
        entry = sites.setdefault(site, [bucket, 0, 0, Counter()])
        entry[1] += stat.size
        entry[2] += stat.count
        entry[3][inner] += stat.size
    ranked = sorted(sites.items(), key=lambda kv: -kv[1][1])[:top]
    return {
        "peak_mb": peak / 2**20,
        "current_mb": current / 2**20,
        "sites": [
            (site, bucket, size / 2**20, count, inner.most_common(1)[0][0])
            for site, (bucket, size, count, inner) in ranked
        ],
    }


def memray_view(run, clf: Classifier, out: Path, top: int = 10) -> dict:
    """Run under memray with native traces: peak heap and the sites holding the most at
    the high-water mark (Rust allocations included); writes ``memray-flamegraph.html``."""
    import subprocess
    import tempfile

    import memray

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memray.bin"
        with memray.Tracker(path, native_traces=True, trace_python_allocators=True):
            run()
        reader = memray.FileReader(path)
        meta = reader.metadata
        sites: dict[str, list] = {}
        for rec in reader.get_high_watermark_allocation_records(merge_threads=True):
            try:
                frames = list(rec.hybrid_stack_trace())
            except NotImplementedError:
                frames = list(rec.stack_trace())
            site, category = "?", "other native"
            for func, file, line in frames:
                c = clf.frame(func, file or "")
                if c is not None and (
                    c.startswith(("Rust: rustybt", "Python")) or c == "CPython GC"
                ):
                    site, category = f"{func} ({clf.short(file)}:{line})", c
                    break
            else:
                for func, file, line in frames:
                    c = clf.frame(func, file or "")
                    if c is not None:
                        site, category = f"{func} ({clf.short(file)}:{line})", c
                        break
            entry = sites.setdefault(site, [category, 0, 0])
            entry[1] += rec.size
            entry[2] += rec.n_allocations
        reader.close()
        html = out / "memray-flamegraph.html"
        proc = subprocess.run(
            [sys.executable, "-m", "memray", "flamegraph", "--force", "-o", str(html), str(path)],
            capture_output=True,
            text=True,
        )
    ranked = sorted(sites.items(), key=lambda kv: -kv[1][1])[:top]
    return {
        "peak_mb": meta.peak_memory / 2**20,
        "allocations": meta.total_allocations,
        "html": html.name if proc.returncode == 0 else None,
        "html_error": None if proc.returncode == 0 else proc.stderr[-500:],
        "sites": [(s, c, size / 2**20, n) for s, (c, size, n) in ranked],
    }


# -- the command ------------------------------------------------------------------------


def _command_line(args) -> str:
    import shlex

    parts = ["rustybt", "profile", args.strategy, "--bundle", args.bundle]
    for flag in ("start", "end", "data_frequency", "algorithm"):
        value = getattr(args, flag)
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    if args.capital_base != 1_000_000.0:
        parts += ["--capital-base", f"{args.capital_base:g}"]
    if args.ledger != "decimal":
        parts += ["--ledger", args.ledger]
    for name, value in args.param or []:
        parts += ["--param", f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}"]
    if args.out:
        parts += ["--out", args.out]
    if args.no_native:
        parts.append("--no-native")
    if args.memory:
        parts += ["--memory"] + ([args.memory] if args.memory != "tracemalloc" else [])
    if args.rate != 250:
        parts += ["--rate", str(args.rate)]
    if args.sample_seconds != 3.0:
        parts += ["--sample-seconds", f"{args.sample_seconds:g}"]
    return shlex.join(parts)


def cmd_profile(args) -> int:
    import cProfile
    import datetime as dt
    import pstats
    import time

    import rustybt
    from rustybt.app.common import console, load_strategy_file
    from rustybt.errors import InvalidRunParameters
    from rustybt.tooling.bench.harness import git_commit, machine

    if args.rate < 1:
        raise InvalidRunParameters(f"--rate must be a positive number of Hz, got {args.rate}")
    started = dt.datetime.now(dt.timezone.utc)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    stem = Path(args.strategy).stem
    out = (
        Path(args.out)
        if args.out
        else (rustybt.bundles.root() / "profile" / f"{stem}-{started:%Y%m%d-%H%M%S}")
    )
    out.mkdir(parents=True, exist_ok=True)
    target = load_strategy_file(args.strategy, args.algorithm)
    bundle = rustybt.load_bundle(args.bundle)
    params = dict(args.param or [])
    run_kwargs = {
        "start": args.start,
        "end": args.end,
        "capital_base": args.capital_base,
        "data_frequency": args.data_frequency,
        "ledger": args.ledger,
    }

    def run():
        return rustybt.run_algorithm(bundle=bundle, params=params or None, **run_kwargs, **target)

    clf = Classifier(args.strategy)
    console.print(f"profiling {args.strategy} on {bundle.name} -> {out}")
    # the first run pays one-off costs (lazy imports, first-use caches): it is timed and
    # reported, but the profiles and the headline time are of later runs
    t = time.perf_counter()
    perf = run()
    first_wall = time.perf_counter() - t
    del perf
    t = time.perf_counter()
    perf = run()
    wall = time.perf_counter() - t
    first, last = bundle.session_range(
        bundle.start if args.start is None else args.start,
        bundle.end if args.end is None else args.end,
    )
    bounds = bundle._core.session_first_bar()
    bars = int(bounds[last + 1]) - int(bounds[first])
    fills = int(perf["transactions"].map(len).sum())
    del perf

    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    run()
    profiler.disable()
    cprofile_wall = time.perf_counter() - t
    profiler.dump_stats(out / "profile.pstats")
    cview = cprofile_view(pstats.Stats(str(out / "profile.pstats")), clf)

    tview = mview = None
    if args.memory:
        console.print("memory: tracemalloc ...")
        tview = tracemalloc_view(run, clf)
        if args.memory == "memray":
            try:
                import memray  # noqa: F401
            except ImportError:
                mview = {"error": "memray is not installed (pip install 'rustybt[profile]')"}
            else:
                console.print("memory: memray (native traces) ...")
                mview = memray_view(run, clf, out)

    spy = _py_spy()
    config = {
        "strategy": str(Path(args.strategy).resolve()),
        "algorithm": args.algorithm,
        "bundle": str(bundle.path),
        "run": run_kwargs,
        "params": repr(params),
        "seconds": args.sample_seconds,
    }
    native = not args.no_native
    plan = [("python stacks", "raw", False, "stacks.txt" if not native else "stacks-python.txt")]
    plan.insert(0, ("flame graph", "flamegraph", native, "flame.svg"))
    if native:
        plan.insert(1, ("native stacks", "raw", True, "stacks.txt"))
    passes = {}
    for name, fmt, nat, file in plan:
        console.print(f"py-spy: {name} ({'native' if nat else 'Python frames'}) ...")
        passes[name] = (file, nat, *_spy_pass(config, spy, fmt, nat, out / file, args.rate))
        if not passes[name][3]["ok"]:
            break  # the other passes would fail alike; this worker still measured RSS
    pview = nview = None
    if passes.get("python stacks", (None, None, None, {"ok": False}))[3]["ok"]:
        pview = python_view(read_stacks(out / passes["python stacks"][0]), clf)
    if passes.get("native stacks", (None, None, None, {"ok": False}))[3]["ok"]:
        nview = native_view(read_stacks(out / "stacks.txt"), clf, cview["rust_calls"])
    worker = list(passes.values())[-1][2]
    info = {
        "command": _command_line(args),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "commit": git_commit(),
        "load": load,
        "strategy": args.strategy,
        "bundle": bundle,
        "span": (bundle.sessions[first].date(), bundle.sessions[last].date()),
        "sessions": last - first + 1,
        "bars": bars,
        "fills": fills,
        "ledger": args.ledger,
        "params": params,
        "wall": wall,
        "first_wall": first_wall,
        "cprofile_wall": cprofile_wall,
        "rate": args.rate,
        "native": native,
        "worker": worker,
    }
    views = {"cprofile": cview, "python": pview, "native": nview, "tracemalloc": tview}
    views["memray"] = mview
    report = write_report(out, info, passes, views)
    _print_summary(console, info, passes, views, report)
    return 0


# -- the report -------------------------------------------------------------------------


def _md_table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(out: Path, info: dict, passes: dict, views: dict) -> Path:
    """Write ``report.md`` into ``out``; returns its path."""
    cview = views["cprofile"]
    m = info["machine"]
    b = info["bundle"]
    load = info["load"]
    lines = [
        f"# Profile: {Path(info['strategy']).name} on {b.name}",
        "",
        "```",
        info["command"],
        "```",
        "",
        f"- date: {info['date']}" + (f", commit {info['commit']}" if info["commit"] else ""),
        f"- machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['rustc']}, "
        f"{m['platform']}",
    ]
    if load:
        lines.append(
            f"- load average when the profile started: {load[0]:.2f}, {load[1]:.2f}, "
            f"{load[2]:.2f} (1, 5, 15 min; near or above the core count means other processes "
            "were competing for the CPU: compare shares, not absolute times)"
        )
    params = ", ".join(f"{k}={v!r}" for k, v in info["params"].items()) or "none"
    lines += [
        f"- run: {b.frequency} bars of {len(b.asset_list)} assets, {info['span'][0]} .. "
        f"{info['span'][1]} ({info['sessions']} sessions, {info['bars']:,} bars), "
        f"ledger {info['ledger']}, parameters {params}; {info['fills']:,} fills",
        f"- wall time of the backtest: **{info['wall']:.3f} s** (a plain run after a first "
        f"one of {info['first_wall']:.3f} s; bundle already open), "
        f"{info['cprofile_wall']:.3f} s under cProfile",
        "",
        "## Where the time goes (cProfile)",
        "",
        f"Own time summed over all functions: {cview['total']:.3f} s. cProfile's overhead "
        "inflates cheap, frequent Python calls; read shares, not seconds.",
        "",
        "### By module",
        "",
    ]
    total = cview["total"] or 1.0
    pview = views["python"]
    rows = []
    for bucket in BUCKETS:
        sec = cview["buckets"].get(bucket, 0.0)
        biggest = "; ".join(
            f"`{n}` {t / total:.1%}" for n, t in cview["bucket_top"].get(bucket, [])
        )
        row = [bucket, f"{sec:.4f}", f"{sec / total:.1%}"]
        row += [f"{pview.get(bucket, 0.0):.1%}"] if pview else []
        rows.append([*row, biggest])
    headers = ["bucket", "own time s", "share"]
    headers += ["sampled share (py-spy)"] if pview else []
    lines += [
        _md_table([*headers, "largest functions in it"], rows, {1, 2, 3}),
        "",
    ]
    if pview:
        lines += [
            "*sampled share*: the Python-only py-spy pass, which adds no per-call overhead; "
            "each sample counts for its innermost Python function, so native code (Rust "
            "included) counts for the Python function calling it (`Simulation.run`'s loop "
            "for `runner._run`, i.e. engine). The two columns bound the truth from both "
            "sides for cheap, frequent calls.",
            "",
        ]
    lines += [BUCKET_RULES, "### Top 20 functions by own time", ""]
    rows = [
        [
            str(i),
            f"`{r['name']}`",
            r["bucket"],
            r["calls"],
            f"{r['tottime']:.4f}",
            f"{r['tottime'] / total:.1%}",
            f"{r['cumtime']:.4f}",
            f"{r['cumtime'] / total:.1%}",
        ]
        for i, r in enumerate(cview["top"], 1)
    ]
    lines += [
        _md_table(
            ["#", "function", "bucket", "calls", "tottime s", "% of total", "cumtime s", "cum %"],
            rows,
            {0, 3, 4, 5, 6, 7},
        ),
        "",
        "### rustybt and strategy functions by cumulative time",
        "",
        "Time inside each call, callees included (the same function appears under its "
        "callers too, so these do not add up):",
        "",
        _md_table(
            ["function", "bucket", "calls", "cumtime s", "cum %"],
            [
                [
                    f"`{r['name']}`",
                    r["bucket"],
                    r["calls"],
                    f"{r['cumtime']:.4f}",
                    f"{r['cumtime'] / total:.1%}",
                ]
                for r in cview["cumulative"]
            ],
            {2, 3, 4},
        ),
        "",
        "`profile.pstats` holds the whole profile: "
        "`python -m pstats profile.pstats`, then `sort tottime`, `stats 40`, `callers NAME`.",
        "",
        "## Native view (py-spy)",
        "",
    ]
    lines += _spy_section(info, passes, views)
    lines += ["", "## Memory", ""]
    lines += _memory_section(info, views["tracemalloc"], views["memray"])
    files = ["report.md", "profile.pstats"]
    files += [p[0] for p in passes.values() if p[3]["ok"]]
    if views["memray"] and views["memray"].get("html"):
        files.append(views["memray"]["html"])
    lines += ["", "## Files", "", *(f"- `{f}`" for f in files), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def _spy_section(info: dict, passes: dict, views: dict) -> list[str]:
    lines = []
    for name, (file, nat, result, status) in passes.items():
        walls = result["walls"]
        ran = f"{len(walls)} backtest(s), {sum(walls):.2f} s under sampling"
        if status["ok"]:
            errors = status["errors"] or 0
            few = " (few samples: raise `--sample-seconds`)" if status["samples"] < 300 else ""
            lines.append(
                f"- {name} ({'native' if nat else 'Python frames'}, {info['rate']} Hz): "
                f"`{file}`, {status['samples']:,} samples, {errors:,} errors{few}; {ran}"
            )
        else:
            lines.append(f"- {name}: **py-spy failed**: {status['message']} ({ran})")
    if not any(p[3]["ok"] for p in passes.values()):
        return [
            *lines,
            "",
            "**py-spy failed**: no flame graph, no sampled breakdown. py-spy has to ptrace "
            "the worker process: run as root, or allow it with "
            "`sysctl kernel.yama.ptrace_scope=0`, or start the container with "
            "`--cap-add SYS_PTRACE`.",
        ]
    nview = views["native"]
    if not info["native"]:
        return [
            *lines,
            "",
            "Python frames only (`--no-native`): Rust time shows under the Python function "
            "that called it (see *sampled share* above).",
        ]
    if nview is None:
        return [*lines, "", "The native stacks pass failed: no native breakdown."]
    status = passes["native stacks"][3]
    lost = (status["errors"] or 0) / max(1, (status["errors"] or 0) + status["samples"])
    cview = views["cprofile"]
    total = cview["total"] or 1.0
    split = nview["rust_split"]
    rust_total = sum(split.values())
    lines += [
        "",
        "### Time inside calls into Rust, by crate",
        "",
        f"Own time of calls into `rustybt._core` (cProfile): {rust_total:.4f} s, "
        f"**{rust_total / total:.1%} of the run**. It is split by the native samples taken "
        "inside those calls, by what ran there: a rustybt crate, `rust_decimal`, the pyo3 "
        "glue (with the interpreter work it does: building Python objects), CPython's "
        "garbage collector:",
        "",
    ]

    def row(c, sec):
        return [c, f"{sec:.4f}", f"{sec / total:.1%}", f"{sec / (rust_total or 1.0):.1%}"]

    shown = sorted(split.items(), key=lambda kv: -kv[1])
    rows = [row(c, sec) for c, sec in shown if sec / total >= 0.0005]
    small = [sec for _, sec in shown if sec / total < 0.0005]
    if small:  # one row for the rest, so that the last column adds up to the calls
        rows.append(row(f"{len(small)} more, each below 0.05% of the run", sum(small)))
    lines += [
        _md_table(["category", "s", "of the run", "of the Rust calls"], rows, {1, 2, 3}),
        "",
    ]
    callers = sorted(cview["rust_calls"].items(), key=lambda kv: -kv[1])[:6]
    lines += [
        "Own time of the Rust calls by the Python function making them: "
        + "; ".join(f"`{f}` {sec / total:.1%}" for f, sec in callers)
        + ".",
        "",
        "### Samples by category, as sampled",
        "",
        f"py-spy could not merge Python and native frames for {lost:.0%} of the native "
        "samples and dropped them (benfred/py-spy#634: Python 3.11 no longer keeps one C "
        "frame per Python frame). Nearly every sample taken while Python code ran inside a "
        "callback of the Rust loop (`handle_data` and below) is lost; samples inside Rust "
        "code are kept. So this table over-states Rust and under-states strategy code; the "
        "shares of the run are the cProfile tables above and the Rust split just above, "
        "which uses native samples only *within* Rust calls. `flame.svg` has the same bias.",
        "",
    ]
    cats = sorted(nview["sampled"], key=_category_order)
    rows = [[c, f"{nview['sampled'][c]:.1%}"] for c in cats]
    rust = sum(v for c, v in nview["sampled"].items() if c.startswith("Rust"))
    rows.append(["**all Rust**", f"**{rust:.1%}**"])
    lines += [_md_table(["category", "samples"], rows, {1}), "", NATIVE_RULES]
    lines += ["### Top frames by own samples (as sampled)", ""]
    rows = [[str(i), f"`{f}`", c, f"{s:.1%}"] for i, (f, c, s) in enumerate(nview["top"], 1)]
    lines += [
        _md_table(["#", "frame", "category", "samples"], rows, {0, 3}),
        "",
        "`flame.svg`: py-spy's flame graph of a native pass (open it in a browser; click to "
        "zoom). `stacks.txt`: the native pass's collapsed stacks (`frame;frame;... count`, "
        "root first); `stacks-python.txt`: the Python-only pass's.",
    ]
    return lines


def _memory_section(info: dict, tview, mview) -> list[str]:
    w = info["worker"]
    lines = []
    if w.get("peak_rss_mb") is not None:
        before = w.get("rss_mb")
        lines.append(
            f"- peak RSS of a fresh process running the backtest: **{w['peak_rss_mb']:.0f} MB**"
            + (
                f" ({before:.0f} MB after importing the strategy and opening the bundle, "
                "before the run)"
                if before
                else ""
            )
        )
    if tview is None:
        lines.append("- allocation sites: not collected (pass `--memory`, or `--memory memray`)")
        return lines
    lines += [
        f"- tracemalloc (Python allocations, NumPy buffers included; not Rust's): peak "
        f"{tview['peak_mb']:.1f} MB traced during the run, {tview['current_mb']:.1f} MB "
        "still held at its end (the perf frame and what it references)",
        "",
        "Sites holding the most at the end of the run (innermost frame in rustybt or the "
        "strategy, else the innermost frame):",
        "",
        _md_table(
            ["site", "bucket", "MB", "blocks", "allocated in"],
            [
                [f"`{s}`", b, f"{mb:.2f}", f"{n:,}", f"`{inner}`"]
                for s, b, mb, n, inner in tview["sites"]
            ],
            {2, 3},
        ),
    ]
    if mview is None:
        return lines
    lines.append("")
    if "error" in mview:
        return [*lines, f"- memray: {mview['error']}"]
    lines += [
        f"- memray (native traces: Rust allocations included): peak heap "
        f"{mview['peak_mb']:.1f} MB, {mview['allocations']:,} allocations during the run"
        + (f"; flame graph of the high-water mark in `{mview['html']}`" if mview["html"] else ""),
        "",
        "Sites holding the most at the high-water mark (innermost frame of rustybt's Rust "
        "crates or of Python code):",
        "",
        _md_table(
            ["site", "category", "MB", "allocations"],
            [[f"`{s}`", c, f"{mb:.2f}", f"{n:,}"] for s, c, mb, n in mview["sites"]],
            {2, 3},
        ),
    ]
    if mview.get("html_error"):
        lines.append(f"\nmemray flamegraph failed: {mview['html_error']}")
    return lines


def _print_summary(console, info: dict, passes: dict, views: dict, report: Path) -> None:
    from rich.table import Table

    cview = views["cprofile"]
    total = cview["total"] or 1.0
    pview = views["python"]
    t = Table(title=f"profile of {Path(info['strategy']).name} ({info['bars']:,} bars)")
    t.add_column("bucket")
    t.add_column("cProfile", justify="right")
    if pview:
        t.add_column("py-spy", justify="right")
    for bucket in BUCKETS:
        row = [bucket, f"{cview['buckets'].get(bucket, 0.0) / total:.1%}"]
        t.add_row(*row, *([f"{pview.get(bucket, 0.0):.1%}"] if pview else []))
    console.print(t)
    t = Table(title="top functions by own time (cProfile)")
    t.add_column("function")
    t.add_column("bucket")
    t.add_column("%", justify="right")
    for r in cview["top"][:8]:
        t.add_row(r["name"], r["bucket"], f"{r['tottime'] / total:.1%}")
    console.print(t)
    console.print(
        f"wall time {info['wall']:.3f} s (plain), {info['cprofile_wall']:.3f} s under cProfile"
    )
    nview = views["native"]
    if nview is not None:
        split = nview["rust_split"]
        top = ", ".join(
            f"{c.removeprefix('Rust: ')} {sec / total:.1%}"
            for c, sec in sorted(split.items(), key=lambda kv: -kv[1])[:4]
        )
        console.print(f"inside Rust calls: {sum(split.values()) / total:.1%} of the run ({top})")
    failed = [s["message"] for *_, s in passes.values() if not s["ok"]]
    if failed:
        console.print(f"[yellow]py-spy failed:[/yellow] {failed[0]}")
    w = info["worker"]
    if w.get("peak_rss_mb") is not None:
        console.print(f"peak RSS {w['peak_rss_mb']:.0f} MB")
    if views["tracemalloc"]:
        console.print(f"tracemalloc: peak {views['tracemalloc']['peak_mb']:.1f} MB traced")
    if views["memray"] and "peak_mb" in views["memray"]:
        console.print(f"memray: peak heap {views['memray']['peak_mb']:.1f} MB")
    console.print(f"report: {report}")


def register_cli(sub) -> None:
    """Add ``rustybt profile`` (the options of ``rustybt run``, plus the profiler's) to the
    top-level subparsers ``sub``. The command line finds it through the ``rustybt.commands``
    entry point ``profile`` (see pyproject.toml)."""
    from rustybt.app.common import add_run_options

    p = sub.add_parser(
        "profile",
        help="profile one backtest: cProfile hot spots, py-spy flame graph (Rust frames), memory",
    )
    add_run_options(p)
    p.add_argument("--out", help="output directory (default $RUSTYBT_ROOT/profile/STEM-TIME)")
    p.add_argument(
        "--no-native", action="store_true", help="py-spy without --native (Python frames only)"
    )
    p.add_argument(
        "--memory",
        nargs="?",
        const="tracemalloc",
        choices=("tracemalloc", "memray"),
        help="allocation sites: tracemalloc (default), or memray too (native traces)",
    )
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second (250)")
    p.add_argument(
        "--sample-seconds",
        type=float,
        default=3.0,
        help="each py-spy pass repeats the backtest for at least this long (3; 0: one run)",
    )
    p.set_defaults(func=cmd_profile)


if __name__ == "__main__":
    _worker_main(sys.argv[1])
