"""``rustybt bench peers``: the workloads W1, M1, G1, B1 and R1
(docs/performance/workloads.md) run side by side in rustybt and in other backtesters —
zipline-reloaded, backtrader, vectorbt and backtesting.py — on the same bars, in one
command invocation.

The peers cannot share rustybt's environment (zipline-reloaded 3.2.1 needs pandas < 3,
vectorbt plotly < 6), so they live in a virtualenv of their own (default
``$RUSTYBT_ROOT/peers-venv``), built on first use with ``python -m venv`` and pip, and
reused afterwards. Each peer run is a subprocess of that venv's python running a script
from ``rustybt/tooling/bench/peer_scripts/`` (which never imports rustybt).

Data: the bars of the rustybt bench bundle are exported once per bundle content hash under
``$RUSTYBT_ROOT/peers/data/`` as zipline's csvdir layout (``daily/SYM.csv``, and
``minute/SYM.csv`` with daily bars aggregated by rustybt for a minute bundle) and as
``bars.npz`` (NumPy arrays for backtrader's PandasData feeds and vectorbt's frames). zipline
gets a custom csvdir bundle ingested once into ``$RUSTYBT_ROOT/peers/zipline`` (its
ZIPLINE_ROOT). Nothing is downloaded but the pip packages.

Timing: data already ingested; interpreter start-up and imports never timed. Every engine
reports ``load s`` (opening its data: rustybt's bundle open, zipline's ``bundles.load`` +
``DataPortal``, backtrader's feeds, backtesting.py's ``Backtest``, vectorbt's frames) apart
from ``run s`` (the backtests) where the library lets the two be separated; zipline runs
both ways its users can run it — ``run_algorithm`` (which loads the bundle inside, so its
``run s`` includes that) and ``TradingAlgorithm(...).run()`` on a bundle loaded beforehand —
and the ratios against the targets use the faster of the two. Every result is appended to
the bench history (harness's JSON-lines format; ``engine`` names the peer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

WORKLOADS = ("W1", "M1", "G1", "B1", "R1", "P1", "P2")
#: run when no --scenario is given (P1 and P2 only on request: their bundle is 500 assets)
DEFAULT_WORKLOADS = ("W1", "M1", "G1", "B1", "R1")

#: name -> (pip requirements, import name, engine name in the history)
PEERS = {
    "zipline": (("zipline-reloaded==3.2.1",), "zipline", "zipline-reloaded"),
    "backtrader": (("backtrader==1.9.78.123",), "backtrader", "backtrader"),
    # vectorbt 1.0 imports plotly's scattermapbox, which plotly 6 removed
    "vectorbt": (("vectorbt==1.0.0", "plotly<6"), "vectorbt", "vectorbt"),
    "backtesting": (("backtesting==0.6.6",), "backtesting", "backtesting.py"),
}
#: which workloads each peer runs (R1 is backtesting.py's own sweep, next-open fills:
#: zipline fills at the next close and would need a custom slippage model to match)
PEER_WORKLOADS = {
    "zipline": ("W1", "M1", "G1", "P1", "P2"),
    "backtrader": ("W1", "M1", "G1", "R1"),
    "vectorbt": ("G1", "B1", "R1"),
    "backtesting": ("R1",),
}
#: rustybt's scenarios per workload: (scenario, ledger)
RUSTYBT_RUNS = {
    "W1": (("W1", "decimal"), ("W1-array", "decimal")),
    "M1": (("M1", "decimal"),),
    "G1": (("G1", "decimal"), ("G1-batch", "decimal"), ("G1-batch", "float")),
    "B1": (("B1", "decimal"), ("B1", "float")),
    "R1": (("R1", "decimal"), ("R1-array", "decimal")),
    "P1": (("P1", "decimal"),),
    "P2": (("P2", "decimal"),),
}
#: zipline's two ways: (way, engine name in the history and the tables)
ZIPLINE_WAYS = (
    ("run_algorithm", "zipline-reloaded"),
    ("preloaded", "zipline-reloaded-preloaded"),
)
ZIPLINE_ENGINES = tuple(e for _, e in ZIPLINE_WAYS)
QUICK_COMBOS = 4
PEER_TIMEOUT_S = 3600
SCRIPTS = Path(__file__).resolve().parent / "peer_scripts"


class PeersUnavailable(Exception):
    """The peers virtualenv is absent or unusable."""


# ---- the peers virtualenv ------------------------------------------------------------------


def default_venv() -> Path:
    """``$RUSTYBT_PEERS_VENV``, else ``$RUSTYBT_ROOT/peers-venv``."""
    from rustybt.bundles import root

    env = os.environ.get("RUSTYBT_PEERS_VENV")
    return Path(env) if env else root() / "peers-venv"


def peers_dir() -> Path:
    from rustybt.bundles import root

    return root() / "peers"


def venv_python(venv: Path) -> Path:
    return Path(venv) / "bin" / "python"


def probe(venv: Path, names) -> dict:
    """Which peer packages import in the venv: ``{name: {"ok", "version" | "error"}}``."""
    py = venv_python(venv)
    if not py.exists():
        raise PeersUnavailable(f"no python at {py}: {venv} is not a virtualenv")
    cfg = json.dumps({"probe": True, "peers": list(names)})
    try:
        proc = subprocess.run(
            [str(py), str(SCRIPTS / "peer_main.py"), cfg],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeersUnavailable(f"{py} does not run: {exc}") from None
    if proc.returncode != 0:
        raise PeersUnavailable(f"{py} does not run: {_tail(proc.stderr)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _tail(text: str, lines: int = 6, width: int = 600) -> str:
    """The last lines of a child's output, on one line, at most ``width`` characters."""
    out = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "no output"
    return out if len(out) <= width else "..." + out[-width:]


def ensure_venv(venv: Path, names, install: bool, say=print) -> dict:
    """Probe the peers venv; with ``install``, create it (``python -m venv``) and pip-install
    what is missing first. Returns the probe (a failed peer's entry says why)."""
    venv = Path(venv)
    if not venv_python(venv).exists():
        if not install:
            raise PeersUnavailable(
                f"no peers virtualenv at {venv} (--no-install forbids creating it; run "
                "without --no-install to build it, or pass --venv)"
            )
        if venv.exists() and any(venv.iterdir()):
            raise PeersUnavailable(f"{venv} exists but is not a virtualenv (no bin/python)")
        say(f"creating the peers virtualenv {venv} ...")
        base = getattr(sys, "_base_executable", None) or "python3"
        proc = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise PeersUnavailable(f"python -m venv {venv} failed: {_tail(proc.stderr)}")
    names = list(names)
    found = probe(venv, names)
    missing = [n for n in names if not found[n]["ok"]]
    if missing and install:
        reqs = [r for n in missing for r in PEERS[n][0]]
        say(f"pip install {' '.join(reqs)} into {venv} (first use; takes minutes) ...")
        proc = subprocess.run(
            [str(venv_python(venv)), "-m", "pip", "install", "-q", *reqs],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            say(f"pip install failed: {_tail(proc.stderr)}")
            # one by one, so that one unavailable peer does not block the others
            for n in missing:
                subprocess.run(
                    [str(venv_python(venv)), "-m", "pip", "install", "-q", *PEERS[n][0]],
                    capture_output=True,
                    text=True,
                )
        found = probe(venv, names)
        for n in missing:
            if not found[n]["ok"]:
                found[n]["error"] += f" (after pip install {' '.join(PEERS[n][0])})"
    return found


# ---- exporting a bundle's bars ------------------------------------------------------------


def export_dir(bundle) -> Path:
    return peers_dir() / "data" / f"{bundle.name}-{bundle.content_hash[:12]}"


def export_bundle(bundle, dest: Path | None = None) -> Path:
    """Write the bundle's bars where the peers read them (skipped if already there for this
    content hash): ``bars.npz``, the csvdir layout under ``csvdir/``, ``meta.json``."""
    import numpy as np
    import pandas as pd

    dest = Path(dest) if dest is not None else export_dir(bundle)
    meta_path = dest / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("content_hash") == (
        bundle.content_hash
    ):
        return dest
    core = bundle._core
    n_bars, sids = core.n_bars, list(range(core.n_assets))
    symbols = [a.symbol for a in bundle.asset_list]
    fields = ("open", "high", "low", "close", "volume")
    arrays = {f: np.ascontiguousarray(core.history(f, sids, n_bars - 1, n_bars)) for f in fields}
    times = core.timestamps()
    first_bar = core.session_first_bar()
    session_of_bar = np.repeat(np.arange(len(first_bar) - 1), np.diff(first_bar.astype(np.int64)))
    sessions_ns = bundle.sessions.as_unit("ns").asi8[session_of_bar]
    tmp = dest.with_name(dest.name + f".tmp-{os.getpid()}")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.savez(
        tmp / "bars.npz",
        times=times,
        sessions=sessions_ns,
        symbols=np.array(symbols),
        **arrays,
    )
    daily = bundle.frequency == "1d"
    layouts = {"daily" if daily else "minute": (times, arrays)}
    if bundle.frequency == "1m":  # zipline's minute bundles want daily bars too
        agg = {f: bundle.resample("1d", f).to_numpy() for f in fields}
        layouts["daily"] = (bundle.sessions.as_unit("ns").asi8, agg)
    for sub, (stamps, data) in layouts.items():
        (tmp / "csvdir" / sub).mkdir(parents=True)
        idx = pd.DatetimeIndex(stamps.astype("datetime64[ns]"), name="date")
        fmt = "%Y-%m-%d" if sub == "daily" else "%Y-%m-%d %H:%M:%S"
        for i, sym in enumerate(symbols):
            frame = pd.DataFrame({f: data[f][:, i] for f in fields}, index=idx)
            frame["volume"] = frame["volume"].round().astype("int64")
            frame["dividend"] = 0.0
            frame["split"] = 1.0
            frame.to_csv(tmp / "csvdir" / sub / f"{sym}.csv", date_format=fmt)
    meta = {
        "bundle": bundle.name,
        "content_hash": bundle.content_hash,
        "frequency": bundle.frequency,
        "calendar": bundle.calendar,
        "assets": len(symbols),
        "bars": int(n_bars),
        "first_session": str(bundle.sessions[0].date()),
        "last_session": str(bundle.sessions[-1].date()),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def read_export(dest: Path) -> dict:
    """The exported arrays (``bars.npz``) and metadata: what the peers read."""
    import numpy as np

    with np.load(Path(dest) / "bars.npz", allow_pickle=False) as npz:
        out = {k: npz[k] for k in npz.files}
    out["meta"] = json.loads((Path(dest) / "meta.json").read_text())
    return out


# ---- running ---------------------------------------------------------------------------------


def _run_peer(venv: Path, config: dict, timeout: float = PEER_TIMEOUT_S) -> dict:
    """One peer subprocess; its JSON result, or ``{"error": ...}``."""
    try:
        proc = subprocess.run(
            [str(venv_python(venv)), str(SCRIPTS / "peer_main.py"), json.dumps(config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": _tail(proc.stderr, 8)}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": f"no JSON result; stdout: {_tail(proc.stdout)}"}


def _zipline_ingest(venv: Path, dest: Path, base: dict) -> str | None:
    """Ingest the export as a zipline csvdir bundle (once). None, or why it failed."""
    marker = dest / "zipline-ingested.json"
    root = Path(base["zipline_root"])
    if marker.exists() and (root / "data" / base["zipline_bundle"]).is_dir():
        return None
    out = _run_peer(venv, {**base, "mode": "ingest"})
    if "error" in out:
        return f"zipline ingest failed: {out['error']}"
    marker.write_text(json.dumps({"bundle": base["zipline_bundle"], "root": str(root)}))
    return None


def _plan(workloads, assets, peers) -> list[tuple[str, int]]:
    plan = []
    for w in workloads:
        sizes = {"M1": [10], "G1": [10], "B1": [50], "R1": [1], "P1": [500], "P2": [500]}
        for n in assets if w == "W1" else sizes[w]:
            plan.append((w, n))
    return plan


def _scenario_for(workload: str) -> str:
    return workload


def run_peers(
    workloads,
    assets=(50,),
    peers=("zipline", "backtrader", "vectorbt", "backtesting"),
    repeats: int = 3,
    grid_repeats: int = 1,
    quick: bool = False,
    venv: Path | None = None,
    install: bool = True,
    history: Path | None = None,
    label: str | None = None,
    processes: int = 2,
    say=print,
) -> dict:
    """The whole command. Returns ``{"rows": [...], "skipped": {peer: why},
    "failed": [{"peer", "workload", "error"}]}``; appends every result to the history."""
    import datetime as dt

    from rustybt import __version__
    from rustybt.tooling.bench import batch_workloads, harness, r1
    from rustybt.tooling.bench.scenarios import SCENARIOS

    venv = Path(venv) if venv else default_venv()
    wanted = [p for p in peers if any(w in PEER_WORKLOADS[p] for w in workloads)]
    if "R1" in workloads and "backtesting" not in wanted:
        wanted.append("backtesting")  # R1's data ships inside it
    skipped: dict[str, str] = {}
    failed: list[dict] = []
    try:
        found = ensure_venv(venv, wanted, install, say)
    except PeersUnavailable as exc:
        found = {p: {"ok": False, "error": str(exc)} for p in wanted}
    for p in wanted:
        if not found[p]["ok"]:
            skipped[p] = found[p]["error"]
    usable = [p for p in peers if p in wanted and p not in skipped]
    for p, why in skipped.items():
        say(f"skipping {p}: {why}")
    if not usable:
        say("no peer is usable: nothing to compare, rustybt's side not run")
        return {"rows": [], "skipped": skipped, "failed": failed}
    versions = {p: found[p]["version"] for p in usable}

    history = Path(history) if history else harness.history_path()
    history.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": harness.git_commit(),
        "label": label,
        "machine": harness.machine(),
        "rustybt": __version__,
        "invocation": "bench peers",
    }
    rows: list[dict] = []

    def record(r: dict) -> None:
        r = {**meta, **r}
        with history.open("a") as fh:
            fh.write(json.dumps(r) + "\n")
        rows.append(r)

    for workload, n in _plan(workloads, assets, peers):
        runners = [p for p in usable if workload in PEER_WORKLOADS[p]]
        if workload == "R1" and "backtesting" in skipped:
            say(f"skipping R1: {skipped['backtesting']}")
            continue
        # rustybt first (its bundle is the one the peers get)
        sc = SCENARIOS[_scenario_for(workload)]
        if workload == "R1":
            bundle = r1.ensure_bundle(sc.bundle_name(1), venv)
        else:
            bundle = harness.ensure_bundle(sc, n)
        ours: dict[str, dict] = {}
        for name, ledger in RUSTYBT_RUNS[workload]:
            say(f"{workload}: rustybt {name} ({n} assets, {ledger}) ...")
            scenario = r1.ARRAY_SCENARIO if name == "R1-array" else SCENARIOS[name]
            try:
                if workload == "R1":  # one cold sweep per process: `repeats` processes
                    runs = [
                        harness.run_one(scenario, n, ledger, "rust", repeats, quick)
                        for _ in range(max(1, repeats))
                    ]
                    r = r1.merge_runs(runs)
                else:
                    r = harness.run_one(scenario, n, ledger, "rust", repeats, quick)
            except RuntimeError as exc:
                say(f"  failed: {_tail(str(exc))}")
                continue
            for rec in rustybt_records(r, workload):
                record(rec)
                ours[rec["scenario"]] = rec
        if not runners:
            continue
        dest = export_bundle(bundle)
        sessions = len(bundle.sessions)
        if quick:
            sessions = min(
                sessions,
                harness.QUICK_MINUTE_SESSIONS
                if bundle.frequency == "1m"
                else harness.QUICK_SESSIONS,
            )
        first_bar = bundle._core.session_first_bar()
        combos = {
            "G1": batch_workloads.G1_GRID,
            "B1": batch_workloads.B1_GRID,
            "R1": r1.R1_GRID,
        }.get(workload, [])
        if quick:
            combos = combos[:QUICK_COMBOS]
        base = {
            "workload": workload,
            "export": str(dest),
            "csvdir": str(dest / "csvdir"),
            "assets": n,
            "bars": int(first_bar[sessions]),
            "sessions": sessions,
            "start": str(bundle.sessions[0].date()),
            "end": str(bundle.sessions[sessions - 1].date()),
            "first_session": str(bundle.sessions[0].date()),
            "last_session": str(bundle.sessions[-1].date()),
            "frequency": "minute" if bundle.frequency == "1m" else "daily",
            "symbols": [a.symbol for a in bundle.asset_list[:n]],
            "combos": [list(c) for c in combos],
            "reference_combo": list(r1.REFERENCE_COMBO if workload == "R1" else (10, 30)),
            "zipline_root": str(peers_dir() / "zipline"),
            "zipline_bundle": f"rb-{bundle.name}-{bundle.content_hash[:12]}",
            "processes": processes,
            "quick": quick,
        }
        if workload in ("P1", "P2"):
            from rustybt.tooling.bench import pipeline_workloads as pw

            lookback, windows = pw._windows({"quick": quick})
            base["pipeline_start"] = str(bundle.sessions[lookback].date())
            base["pipeline_days"] = sessions - lookback
            base["windows"] = windows or {"vol_window": 252, "long_window": 50}
        for p in runners:
            event_grid = workload in ("G1", "R1") and p in ("zipline", "backtrader")
            reps = 1 if quick else (grid_repeats if event_grid else repeats)
            if p == "zipline":
                why = _zipline_ingest(venv, dest, {**base, "engine": "zipline"})
                if why:
                    say(f"{workload}: zipline-reloaded not run: {why}")
                    failed.append({"peer": p, "workload": workload, "error": why})
                    continue
            ways = (
                ZIPLINE_WAYS
                if p == "zipline" and workload in ("W1", "M1", "G1")
                else [(None, None)]
            )
            results: dict[str, dict] = {}
            for way, engine_name in ways:
                how = f", {way}" if way else ""
                say(f"{workload}: {PEERS[p][2]} ({n} assets, {reps} repeat(s){how}) ...")
                out = _run_peer(venv, {**base, "engine": p, "repeats": reps, "way": way})
                if "error" in out:
                    say(f"  {p}{how} failed on {workload}: {out['error']}")
                    failed.append({"peer": p, "workload": workload, "error": out["error"]})
                    continue
                results.update(out.get("results") or {engine_name or PEERS[p][2]: out})
            if p == "backtesting" and "R1" in ours:
                check = _run_peer(venv, {**base, "engine": p, "mode": "trades"})
                verdict = (
                    compare_fills(
                        ours["R1"].get("reference_fills") or [], check["cells"][0]["fills"]
                    )
                    if "error" not in check
                    else {"error": check["error"]}
                )
                for res in results.values():
                    res["trades_vs_rustybt"] = verdict
                say(f"  R1 {tuple(base['reference_combo'])} trades: {describe_fills(verdict)}")
            for engine, res in results.items():
                scenario = workload
                if p == "vectorbt" and workload == "G1":
                    scenario = "G1-batch"
                record(
                    {
                        "scenario": scenario,
                        "workload": workload,
                        "assets": n,
                        "ledger": "float",
                        "engine": engine,
                        "peer_version": versions[p],
                        "repeats": reps,
                        "quick": quick,
                        "sessions": sessions,
                        "open_s": None,
                        "load_s": None,
                        "load_inside": res.get("load_s") is None,
                        **res,
                    }
                )
    return {"rows": rows, "skipped": skipped, "failed": failed}


def rustybt_records(r: dict, workload: str) -> list[dict]:
    """The history records of one rustybt scenario run: ``load_s`` is its bundle open; an
    R1 run gives two, the cold sweeps (scenario ``R1`` / ``R1-array``) and the warm ones
    (``R1-warm`` / ``R1-array-warm``)."""
    rec = {**r, "workload": workload, "load_s": r.get("open_s"), "load_inside": False}
    if r["scenario"] not in ("R1", "R1-array"):
        return [rec]
    cold = {**rec, "way": "cold", "mode": "GridSearch, 2 workers, cold pool"}
    warm = {
        **rec,
        "scenario": f"{r['scenario']}-warm",
        "way": "warm",
        "median_wall_s": r["median_warm_s"],
        "wall_s": r["warm_wall_s"],
        "cpu_s": r["warm_cpu_s"],
        "median_cpu_s": None,
        "asset_bars_per_s": r["asset_bars"] / r["median_warm_s"],
        "mode": "GridSearch, 2 workers, warm pool",
    }
    warm.pop("reference_fills", None)
    return [cold, warm]


def compare_fills(ours: list, theirs: list, tol: float = 1e-6) -> dict:
    """Two runs' fills (``[[session, shares, price], ...]``, one per session) compared:
    the same sessions, the same prices; shares are compared apart (sizing rules differ)."""
    a = {d: (q, px) for d, q, px in ours}
    b = {d: (q, px) for d, q, px in theirs}
    only_ours, only_theirs = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    both = sorted(set(a) & set(b))
    price_diff = [[d, a[d][1], b[d][1]] for d in both if abs(a[d][1] - b[d][1]) > tol]
    side_diff = [[d, a[d][0], b[d][0]] for d in both if (a[d][0] > 0) != (b[d][0] > 0)]
    size_diff = [d for d in both if a[d][0] != b[d][0]]
    return {
        "ours": len(a),
        "theirs": len(b),
        "only_ours": only_ours,
        "only_theirs": only_theirs,
        "price_differs": price_diff,
        "side_differs": side_diff,
        "shares_differ": len(size_diff),
        "same_sessions_and_prices": not (only_ours or only_theirs or price_diff or side_diff),
    }


def describe_fills(verdict: dict) -> str:
    if "error" in verdict:
        return f"not compared: {verdict['error']}"
    if verdict["same_sessions_and_prices"]:
        return (
            f"the same {verdict['ours']} fill sessions, sides and prices as backtesting.py "
            f"(share counts differ on {verdict['shares_differ']}: rustybt sizes at the "
            "decision bar's close, backtesting.py at the fill's open net of commission)"
        )
    return (
        f"DIFFER: rustybt {verdict['ours']} fill sessions, backtesting.py {verdict['theirs']}; "
        f"only rustybt {verdict['only_ours'][:3]}, only backtesting.py "
        f"{verdict['only_theirs'][:3]}, prices {verdict['price_differs'][:3]}, "
        f"sides {verdict['side_differs'][:3]}"
    )


# ---- comparison --------------------------------------------------------------------------------

#: what a row's ``run s`` is (the figure its ratios use), by engine
_FIGURE = {
    "zipline-reloaded": "zipline run_algorithm run (load inside)",
    "zipline-reloaded-preloaded": "zipline TradingAlgorithm.run run (load apart)",
    "backtesting.py": "backtesting.py optimize run (median of the later calls)",
    "backtesting.py first call": "backtesting.py first optimize of the process",
}


def figure(row: dict) -> str:
    """The figure of ``row`` a ratio uses, in words."""
    if row["engine"] == "rust":
        return f"rustybt {row['scenario']} run"
    return _FIGURE.get(row["engine"], f"{row['engine']} run")


def _find(rows, scenario, engine, assets=None, ledger=None):
    for r in rows:
        if (
            r["scenario"] == scenario
            and r["engine"] == engine
            and (assets is None or r["assets"] == assets)
            and (ledger is None or r["ledger"] == ledger)
        ):
            return r
    return None


def zipline_fastest(rows, scenario, assets=None):
    """zipline's faster way on ``scenario``: the row of least ``run s`` among
    ``run_algorithm`` and ``TradingAlgorithm.run`` on the preloaded bundle."""
    found = [
        r
        for r in rows
        if r["scenario"] == scenario
        and r["engine"] in ZIPLINE_ENGINES
        and (assets is None or r["assets"] == assets)
    ]
    return min(found, key=lambda r: r["median_wall_s"]) if found else None


def comparisons(rows: list[dict]) -> list[dict]:
    """Ratios against the targets (docs/performance/workloads.md) from one invocation's rows:
    ``{"what", "rustybt_s", "peer_s", "ratio", "target", "met", "uses"}``, ratio = the
    peer's ``run s`` ÷ rustybt's (``uses`` names both figures). Against zipline the target
    ratio uses its faster way; the slower way is shown beside it without a target."""
    out = []

    def add(what, ours, theirs, target=None, kind="ratio"):
        if ours is None or theirs is None:
            return
        a, b = ours["median_wall_s"], theirs["median_wall_s"]
        ratio = b / a
        met = None
        if target is not None:
            met = {"ratio": ratio >= (target or 0), "faster": b > a, "abs": a <= b}[kind]
        out.append(
            {
                "what": what,
                "rustybt_s": a,
                "peer_s": b,
                "ratio": ratio,
                "target": {"ratio": target, "faster": "rustybt < peer", "abs": "rustybt ≤ peer"}[
                    kind
                ]
                if target is not None
                else None,
                "met": met,
                "uses": f"{figure(theirs)} ÷ {figure(ours)}",
            }
        )

    def vs_zipline(label, mine, scenario, assets, target):
        fast = zipline_fastest(rows, scenario, assets)
        if fast is None:
            return
        add(f"{label} vs zipline-reloaded (its faster way)", mine, fast, target)
        for eng in ZIPLINE_ENGINES:
            other = _find(rows, scenario, eng, assets)
            if other is not None and other is not fast:
                add(f"{label} vs zipline-reloaded (its slower way)", mine, other)

    for n in sorted({r["assets"] for r in rows if r["scenario"] == "W1"}):
        b = _find(rows, "W1", "backtrader", n)
        for ours in ("W1", "W1-array"):
            mine = _find(rows, ours, "rust", n, "decimal")
            vs_zipline(f"{ours}-{n}", mine, "W1", n, 100)
            add(f"{ours}-{n} vs backtrader", mine, b)
            if mine is not None and mine.get("records_s") is not None:
                # the perf frame's record columns are built when first read; zipline
                # builds them during its run. The same run with the three read at once:
                read = {
                    **mine,
                    "scenario": f"{ours} and its record columns read",
                    "median_wall_s": mine["median_wall_s"] + mine["records_s"],
                }
                vs_zipline(f"{ours}-{n}, its record columns read", read, "W1", n, None)
    mine = _find(rows, "M1", "rust", 10, "decimal")
    vs_zipline("M1", mine, "M1", None, 50)
    add("M1 vs backtrader", mine, _find(rows, "M1", "backtrader"))
    g1 = _find(rows, "G1", "rust", 10, "decimal")
    # the targets use the cold 2-worker figure (the process's first search, its pool
    # started inside it); the warm one (a later search of the session) is shown beside
    vs_zipline("G1 (2 workers, cold pool)", g1, "G1", None, 100)
    if g1 is not None and "wall_2_workers_warm_s" in g1:
        warm = {**g1, "median_wall_s": g1["wall_2_workers_warm_s"]}
        vs_zipline("G1 (2 workers, warm pool)", warm, "G1", None, None)
    if g1 is not None and "wall_1_worker_s" in g1:
        one = {**g1, "scenario": "G1 (1 worker)", "median_wall_s": g1["wall_1_worker_s"]}
        vs_zipline("G1 (1 worker)", one, "G1", None, 100)
    add(
        "G1 (2 workers, cold pool) vs backtrader (optstrategy, 2 procs)",
        g1,
        _find(rows, "G1", "backtrader"),
        15,
    )
    for led in ("decimal", "float"):
        mine = _find(rows, "G1-batch", "rust", 10, led)
        for eng in ("vectorbt", "vectorbt-signals"):
            add(
                f"G1-batch ({led}) vs {eng} warm",
                mine,
                _find(rows, "G1-batch", eng),
                0,
                kind="abs",
            )
        mine = _find(rows, "B1", "rust", 50, led)
        add(f"B1 ({led}) vs vectorbt warm", mine, _find(rows, "B1", "vectorbt"))
    bpy = _find(rows, "R1", "backtesting.py")
    bpy_cold = None
    if bpy is not None and bpy.get("first_call_s") is not None:
        bpy_cold = {
            **bpy,
            "engine": "backtesting.py first call",
            "median_wall_s": bpy["first_call_s"],
        }
    # cold against backtesting.py's first optimize of a process, warm against its later ones
    r1_targets = (
        ("R1", "cold pool, pandas history", bpy_cold, None, "faster"),
        ("R1-warm", "warm pool, pandas history", bpy, 2, "ratio"),
        ("R1-array", "cold pool, array history", bpy_cold, 2, "ratio"),
        ("R1-array-warm", "warm pool, array history", bpy, 2, "ratio"),
    )
    for scenario, how, theirs, target, kind in r1_targets:
        mine = _find(rows, scenario, "rust", 1, "decimal")
        when = "first call" if theirs is bpy_cold else "later calls"
        add(
            f"R1 ({how}) vs backtesting.py optimize ({when})",
            mine,
            theirs,
            target if kind == "ratio" else 1,
            kind,
        )
    add(
        "R1 (cold pool, pandas history) vs backtesting.py optimize (later calls)",
        _find(rows, "R1", "rust", 1, "decimal"),
        bpy,
    )
    for scenario in ("R1", "R1-array-warm"):
        mine = _find(rows, scenario, "rust", 1, "decimal")
        for eng in ("backtrader", "vectorbt"):
            add(f"{scenario} vs {eng}", mine, _find(rows, "R1", eng))
    mine = _find(rows, "R1", "rust", 1, "decimal")
    if (
        mine is not None
        and bpy is not None
        and mine.get("single_run_s")
        and bpy.get("single_run_s")
    ):
        add(
            "R1, one backtest of the reference cell vs backtesting.py's",
            {**mine, "scenario": "R1 one backtest", "median_wall_s": mine["single_run_s"]},
            {**bpy, "engine": "backtesting.py one backtest", "median_wall_s": bpy["single_run_s"]},
        )
    floors = [
        r
        for r in (_find(rows, s, "rust", 1, "decimal") for s in ("R1", "R1-array"))
        if r is not None and r.get("strategy_floor_s")
    ]
    if floors and bpy is not None:
        # the cells' own NumPy, no engine, shared by the workers: the most any engine
        # running the zipline idiom can gain over backtesting.py's later optimize calls
        floor = min(floors, key=lambda r: r["strategy_floor_s"])
        workers = floor.get("workers", 2)
        add(
            f"R1 ceiling: backtesting.py optimize (later calls) vs the cells' own NumPy "
            f"on {workers} workers",
            {
                **floor,
                "scenario": "R1 cells' own NumPy ÷ workers",
                "median_wall_s": floor["strategy_floor_s"] / workers,
            },
            bpy,
            2,
        )
    for workload, target in (("P1", 20), ("P2", 50)):
        mine = _find(rows, workload, "rust", 500, "decimal")
        theirs = _find(rows, workload, "zipline-reloaded")
        add(f"{workload} vs zipline-reloaded", mine, theirs, target)
        if workload == "P1" and mine is not None and mine.get("custom_factor_s"):
            # the CustomFactor's NumPy runs once per date in every engine: the most any
            # engine can gain is zipline's whole time over that work alone
            add(
                "P1 ceiling: zipline-reloaded vs the CustomFactor's own NumPy",
                {
                    **mine,
                    "scenario": "P1 CustomFactor NumPy",
                    "median_wall_s": mine["custom_factor_s"],
                },
                theirs,
                target,
            )
        if workload == "P1" and theirs is not None and theirs.get("custom_factor_s"):
            # the same bound from zipline's side: its own time in the same compute
            add(
                "P1 ceiling: zipline-reloaded vs its own CustomFactor NumPy",
                {
                    **theirs,
                    "engine": "zipline-reloaded CustomFactor NumPy",
                    "median_wall_s": theirs["custom_factor_s"],
                },
                theirs,
                target,
            )
    return out


#: the rustybt row a peer row of each scenario is compared with (decimal ledger)
_REFERENCE = {"W1": "W1", "M1": "M1", "G1": "G1", "G1-batch": "G1-batch", "B1": "B1", "R1": "R1"}


def scenario_tables(rows: list[dict]) -> dict[str, list[dict]]:
    """One table per workload: every row with ``load_s``, ``run_s``, ``total_s`` and, for a
    peer, ``ratio`` = its ``run s`` ÷ the ``run s`` of rustybt's row of the same scenario
    (decimal ledger) and ``uses`` naming those two figures."""
    tables: dict[str, list[dict]] = {}
    for r in rows:
        load = r.get("load_s")
        run = r["median_wall_s"]
        inside = bool(r.get("load_inside"))
        entry = {
            "scenario": r["scenario"],
            "engine": r["engine"] + (f" {r['peer_version']}" if r.get("peer_version") else ""),
            "mode": _mode(r),
            "runs": r.get("runs", 1),
            "load_s": load,
            "load_inside": inside,
            "run_s": run,
            "total_s": run + (load or 0.0),
            "first_call_s": r.get("first_call_s"),
            "final_value": r.get("final_value"),
            "ratio": None,
            "uses": "",
        }
        if r["engine"] != "rust":
            ref_scenario = _REFERENCE.get(r["scenario"], r["scenario"])
            ours = _find(rows, ref_scenario, "rust", r["assets"], "decimal")
            if ours is not None:
                entry["ratio"] = run / ours["median_wall_s"]
                entry["uses"] = f"{figure(r)} ÷ {figure(ours)}"
        tables.setdefault(r.get("workload", r["scenario"]), []).append(entry)
        if r["scenario"] in ("R1", "R1-array") and r.get("single_run_s"):
            # one backtest of the reference cell, in-process, beside the sweeps
            ours = _find(rows, "R1", "rust", 1, "decimal")
            one = {
                **entry,
                "scenario": f"{r['scenario']} one run",
                "mode": "one backtest (reference cell)",
                "runs": 1,
                "load_s": None,
                "load_inside": False,
                "run_s": r["single_run_s"],
                "total_s": r["single_run_s"],
                "first_call_s": None,
                "ratio": None,
                "uses": "",
            }
            if r["engine"] != "rust" and ours is not None and ours.get("single_run_s"):
                one["ratio"] = r["single_run_s"] / ours["single_run_s"]
                one["uses"] = f"{r['engine']} one run ÷ rustybt R1 one run"
            tables[r.get("workload", r["scenario"])].append(one)
    return tables


def format_ratio(ratio: float) -> str:
    """``30.5x``; below 0.1, three decimals (``0.003x``), so a loss never prints as 0."""
    return f"{ratio:.1f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


def _mode(r: dict) -> str:
    if r["engine"] != "rust":
        return r.get("mode") or ""
    mode = r["ledger"]
    if r.get("mode"):
        mode += f", {r['mode']}"
    if "wall_1_worker_s" in r:
        mode += f", 1 worker {r['wall_1_worker_s']:.2f} s"
    if "wall_2_workers_warm_s" in r:
        mode += f", 2 workers on a warm pool {r['wall_2_workers_warm_s']:.2f} s"
    return mode


def _print_tables(rows: list[dict], skipped: dict, failed: list, console) -> None:
    from rich.table import Table

    console.print(
        "load s: opening the data (rustybt: the bundle; zipline preloaded: bundles.load + "
        "DataPortal; backtrader: its feeds; backtesting.py: the Backtest; vectorbt: its "
        "frames), 'inside' where the library does it inside the run. run s: the median of "
        "the repeats. ratio: the row's run s ÷ rustybt's run s, as 'ratio uses' says "
        "(> 1: rustybt is faster).",
        markup=False,
    )
    for workload, entries in scenario_tables(rows).items():
        t = Table(title=f"{workload} (wall seconds; same bars)")
        for col in (
            "scenario",
            "engine",
            "mode",
            "runs",
            "load s",
            "run s",
            "total s",
            "ratio",
            "ratio uses",
            "first call s",
            "final value",
        ):
            left = col in ("engine", "mode", "ratio uses")
            t.add_column(col, justify="left" if left else "right")
        for e in entries:
            load = (
                "inside"
                if e["load_inside"]
                else (f"{e['load_s']:.4f}" if e["load_s"] is not None else "—")
            )
            t.add_row(
                e["scenario"],
                e["engine"],
                e["mode"],
                str(e["runs"]),
                load,
                f"{e['run_s']:.4f}",
                f"{e['total_s']:.4f}",
                format_ratio(e["ratio"]) if e["ratio"] is not None else "",
                e["uses"],
                f"{e['first_call_s']:.2f}" if e["first_call_s"] is not None else "",
                f"{e['final_value']:,.0f}" if e["final_value"] is not None else "",
            )
        console.print(t)
    comp = comparisons(rows)
    if comp:
        t = Table(
            title="ratios against the targets (docs/performance/workloads.md); against "
            "zipline-reloaded the target uses its faster way"
        )
        for col in ("comparison", "rustybt s", "peer s", "ratio", "target", "met", "ratio uses"):
            t.add_column(col, justify="left" if col in ("comparison", "ratio uses") else "right")
        for c in comp:
            target = c["target"]
            t.add_row(
                c["what"],
                f"{c['rustybt_s']:.4f}",
                f"{c['peer_s']:.4f}",
                format_ratio(c["ratio"]),
                f"≥{target}x" if isinstance(target, (int, float)) else (target or "—"),
                {True: "yes", False: "NO", None: "—"}[c["met"]],
                c["uses"],
            )
        console.print(t)
    for r in rows:
        if r.get("trades_vs_rustybt"):
            console.print(
                f"R1 reference cell, rustybt vs backtesting.py: "
                f"{describe_fills(r['trades_vs_rustybt'])}",
                markup=False,
            )
    for p, why in skipped.items():
        console.print(f"skipped {p}: {why}", markup=False)
    for f in failed:
        console.print(f"{f['peer']} failed on {f['workload']}: {f['error']}", markup=False)


# ---- command line -------------------------------------------------------------------------------


def cmd_bench_peers(args) -> int:
    from rustybt.app.common import console
    from rustybt.errors import InvalidRunParameters

    for w in args.scenario:
        if w not in WORKLOADS:
            raise InvalidRunParameters(f"--scenario takes {', '.join(WORKLOADS)}, got {w!r}")
    for p in args.peers:
        if p not in PEERS:
            raise InvalidRunParameters(f"--peers takes {', '.join(PEERS)}, got {p!r}")
    out = run_peers(
        args.scenario,
        assets=args.assets,
        peers=args.peers,
        repeats=1 if args.quick else args.repeats,
        grid_repeats=args.grid_repeats,
        quick=args.quick,
        venv=Path(args.venv) if args.venv else None,
        install=not args.no_install,
        history=Path(args.history) if args.history else None,
        label=args.label,
        processes=args.processes,
        say=lambda msg: console.print(msg, markup=False),
    )
    if out["rows"]:
        _print_tables(out["rows"], out["skipped"], out["failed"], console)
        console.print(f"appended {len(out['rows'])} results to the bench history")
    return 0


def register_cli(bench_sub) -> None:
    """Add ``rustybt bench peers`` to the ``rustybt bench`` subparsers ``bench_sub``."""
    from rustybt.app.common import csv_list

    p = bench_sub.add_parser(
        "peers",
        help="the benchmark workloads side by side with zipline-reloaded, backtrader, "
        "vectorbt, backtesting.py (in a virtualenv of their own)",
    )
    p.add_argument(
        "--scenario",
        type=csv_list(str),
        default=list(DEFAULT_WORKLOADS),
        help="W1,M1,G1,B1,R1,P1,P2 (default W1,M1,G1,B1,R1)",
    )
    p.add_argument(
        "--assets", type=csv_list(int), default=[50], help="W1's asset counts (default 50)"
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--grid-repeats",
        type=int,
        default=1,
        help="repeats of zipline's and backtrader's G1/R1 grids (default 1: minutes each)",
    )
    p.add_argument(
        "--quick", action="store_true", help="tiny spans and grids: checks it runs, not speed"
    )
    p.add_argument(
        "--peers",
        type=csv_list(str),
        default=list(PEERS),
        help="zipline,backtrader,vectorbt,backtesting (default all)",
    )
    p.add_argument(
        "--venv",
        help="the peers virtualenv (default $RUSTYBT_PEERS_VENV, else $RUSTYBT_ROOT/peers-venv)",
    )
    p.add_argument(
        "--no-install",
        action="store_true",
        help="never create the venv or pip-install into it; skip peers that are not there",
    )
    p.add_argument("--processes", type=int, default=2, help="backtrader optstrategy's maxcpus")
    p.add_argument("--history", help="results history (default $RUSTYBT_ROOT/bench/history.jsonl)")
    p.add_argument("--label", help="a label stored with these results")
    p.set_defaults(func=cmd_bench_peers)
