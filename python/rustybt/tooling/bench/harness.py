"""Run benchmark scenarios, each in its own process (so peak RSS belongs to one scenario),
and append the figures to a JSON-lines results history."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rustybt.tooling.bench.scenarios import Scenario, resolve

QUICK_SESSIONS = 40
QUICK_MINUTE_SESSIONS = 2


def history_path() -> Path:
    from rustybt.bundles import root

    return root() / "bench" / "history.jsonl"


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rustc = subprocess.run(
            ["rustc", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        rustc = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "rustc": rustc or "unknown",
        "platform": platform.platform(),
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def ensure_bundle(scenario: Scenario, n_assets: int):
    """The scenario's synthetic bundle, ingested on first use."""
    import rustybt
    from rustybt.errors import BundleNotFound

    name = scenario.bundle_name(n_assets)
    if scenario.name == "R1":  # real data (docs/performance/workloads.md), not synthetic
        from rustybt.tooling.bench.r1 import ensure_bundle as ensure_r1

        return ensure_r1(name)
    try:
        return rustybt.load_bundle(name)
    except BundleNotFound:
        return rustybt.ingest_synthetic(
            name,
            assets=n_assets,
            start=scenario.span[0],
            end=scenario.span[1],
            frequency=scenario.frequency,
            seed=42,
        )


def _load(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM): ``ru_maxrss`` starts at the parent's
    high-water mark in a child started by vfork and exec."""
    from rustybt.tooling.profile import _peak_rss_mb as peak

    return peak()


def run_child(config: dict) -> dict:
    """Inside the child process: open the bundle, run the scenario ``repeats`` times."""
    import rustybt

    t = time.perf_counter()
    bundle = rustybt.load_bundle(config["bundle"])
    open_s = time.perf_counter() - t
    if config["engine"] == "reference":
        from rustybt.reference import run_algorithm
    else:
        run_algorithm = rustybt.run_algorithm
    start, end = bundle.sessions[0], bundle.sessions[config["sessions"] - 1]
    if config["strategy"].startswith("batch:"):
        return _run_batch_child(config, bundle, start, end, open_s)
    if config["strategy"].startswith("search:"):
        return _run_search_child(config, bundle, start, end, open_s)
    if config["strategy"].startswith("child:"):  # a scenario with its own child function
        return _load(config["strategy"][6:])(config, bundle, start, end, open_s)
    strategy = _load(config["strategy"])
    params = {"n_assets": config["assets"], **config["params"]}
    walls, cpus = [], []
    perf = None
    for _ in range(config["repeats"]):
        # each repeat measures a first run: no history window indexes left by the last one
        # (a sweep's later trials do reuse them; G1 measures that)
        bundle._windows.clear()
        w, c = time.perf_counter(), time.process_time()
        perf = run_algorithm(
            algorithm=strategy,
            bundle=bundle,
            start=start,
            end=end,
            capital_base=1_000_000,
            ledger=config["ledger"],
            params=params,
        )
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    # the perf frame's orders, transactions and positions are built when first read
    # (zipline builds them during its run): the time to read them is reported beside
    records = time.perf_counter()
    for name in ("orders", "transactions", "positions"):
        perf[name].iloc[0]
    records_s = time.perf_counter() - records
    sessions = bundle.sessions
    first_bar = int(bundle._core.session_first_bar()[0])
    last_bar = int(bundle._core.session_first_bar()[sessions.get_loc(end) + 1])
    bars = last_bar - first_bar
    wall = statistics.median(walls)
    return {
        "open_s": open_s,
        "wall_s": walls,
        "cpu_s": cpus,
        "median_wall_s": wall,
        "median_cpu_s": statistics.median(cpus),
        "records_s": records_s,
        "peak_rss_mb": _peak_rss_mb(),
        "bars": bars,
        "asset_bars": bars * config["assets"],
        "asset_bars_per_s": bars * config["assets"] / wall,
        "final_value": float(perf["portfolio_value"].iloc[-1]),
        "fills": int(perf["transactions"].map(len).sum()),
    }


def _multi_run_result(
    open_s: float, walls: list, cpus: list, bars: int, assets: int, runs: int, **extra
) -> dict:
    """The result record of a scenario that runs many backtests at once."""
    wall = statistics.median(walls)
    return {
        "open_s": open_s,
        "wall_s": walls,
        "cpu_s": cpus,
        "median_wall_s": wall,
        "median_cpu_s": statistics.median(cpus),
        "peak_rss_mb": _peak_rss_mb(),
        "bars": bars,
        "runs": runs,
        "asset_bars": bars * assets * runs,
        "asset_bars_per_s": bars * assets * runs / wall,
        **extra,
    }


def _run_batch_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """Batch scenarios: weight matrices built in NumPy (not timed), then ``run_batch`` timed."""
    import rustybt
    from rustybt.finance import commission, slippage
    from rustybt.tooling.bench import batch_workloads

    combos = getattr(batch_workloads, config["strategy"].split(":", 1)[1])
    if config.get("quick"):
        combos = combos[:4]
    n = config["assets"]
    last = bundle.sessions.get_loc(end)
    bounds = bundle._core.session_first_bar()
    closes = bundle._core.history(
        "close", list(range(n)), int(bounds[last + 1]) - 1, int(bounds[last + 1])
    )
    mats = [batch_workloads.sma_crossover_weights(closes, f, s) for f, s in combos]
    walls, cpus = [], []
    for _ in range(config["repeats"]):
        w, c = time.perf_counter(), time.process_time()
        res = rustybt.run_batch(
            bundle,
            weights=mats,
            assets=bundle.asset_list[:n],
            start=start,
            end=end,
            ledger=config["ledger"],
            slippage=slippage.FixedSlippage(0.0),
            commission=commission.PerShare(0.001, 0.0),
        )
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return _multi_run_result(
        open_s,
        walls,
        cpus,
        closes.shape[0],
        n,
        len(mats),
        final_value=float(res.stats["final_portfolio_value"].iloc[0]),
        fills=int(res.stats["fills"].sum()),
    )


def _run_search_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """G1: the grid through GridSearch at 1 and 2 workers (process pool), plus where the
    time of a trial goes."""
    import pickle

    import cloudpickle

    from rustybt.app.examples.sma_crossover import SmaCross
    from rustybt.optimize import GridSearch
    from rustybt.tooling.bench import batch_workloads

    combos = getattr(batch_workloads, config["strategy"].split(":", 1)[1])
    if config.get("quick"):
        combos = combos[:4]
    space = {
        "fast": sorted({f for f, _ in combos}),
        "slow": sorted({s for _, s in combos}),
        "n_assets": [config["assets"]],
    }
    timings = {}
    tables = {}
    # 2 workers first: the first search of this process, its pool started inside it (the
    # figure the targets use); then 1 worker, then 2 workers again on the pool the earlier
    # searches left (a later search of a session: "2w" then means the warm figure)
    for key, jobs in ((2, 2), (1, 1), ("2w", 2)):
        w = time.perf_counter()
        res = GridSearch(
            SmaCross,
            space,
            bundle=bundle,
            start=start,
            end=end,
            ledger=config["ledger"],
            n_jobs=jobs,
            backend="process",
            progress=False,
        ).run()
        timings[key] = time.perf_counter() - w
        tables[key] = res.table
    trial_s = tables[2]["seconds"]
    # a worker's fixed cost: start an interpreter, import rustybt, open the bundle (pool-mapped)
    w = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"import rustybt; rustybt.load_bundle({str(bundle.path.parent)!r})"],
        check=True,
    )
    worker_start = time.perf_counter() - w
    payload = len(cloudpickle.dumps(SmaCross)) + len(pickle.dumps(tables[2].iloc[0].to_dict()))
    n = len(tables[2])
    bars = int(bundle._core.session_first_bar()[bundle.sessions.get_loc(end) + 1])
    return _multi_run_result(
        open_s,
        [timings[2]],
        [time.process_time()],
        bars,
        config["assets"],
        n,
        wall_1_worker_s=timings[1],
        wall_2_workers_s=timings[2],
        wall_2_workers_warm_s=timings["2w"],
        parallel_efficiency=timings[1] / (2 * timings[2]),
        trial_mean_s=float(trial_s.mean()),
        worker_start_s=worker_start,
        dispatch_overhead_per_trial_s=max(
            0.0, (2 * timings[2] - float(trial_s.sum()) - 2 * worker_start) / n
        ),
        payload_bytes=payload,
        tables_equal=bool(tables[1]["sharpe"].equals(tables[2]["sharpe"])),
        final_value=float(tables[2]["final_portfolio_value"].iloc[0]),
        fills=int(tables[2]["trades"].sum()),
    )


def run_one(
    scenario: Scenario, n_assets: int, ledger: str, engine: str, repeats: int, quick: bool
) -> dict:
    bundle = ensure_bundle(scenario, n_assets)
    sessions = len(bundle.sessions)
    if quick:
        sessions = min(
            sessions, QUICK_MINUTE_SESSIONS if scenario.frequency == "minute" else QUICK_SESSIONS
        )
    config = {
        "bundle": str(bundle.path.parent),
        "strategy": scenario.strategy,
        "params": scenario.params,
        "assets": n_assets,
        "ledger": ledger,
        "engine": engine,
        "repeats": repeats,
        "sessions": sessions,
        "quick": quick,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "rustybt.tooling.bench.harness", json.dumps(config)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"scenario {scenario.name} ({n_assets} assets, {ledger}, {engine}) failed:\n{proc.stderr}"
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "scenario": scenario.name,
        "assets": n_assets,
        "ledger": ledger,
        "engine": engine,
        "repeats": repeats,
        "quick": quick,
        "sessions": sessions,
        **result,
    }


def run_suite(
    scenarios: list[str],
    assets: list[int] | None = None,
    ledgers: tuple[str, ...] = ("decimal",),
    engines: tuple[str, ...] = ("rust",),
    repeats: int = 3,
    quick: bool = False,
    history: Path | None = None,
    label: str | None = None,
    progress=None,
) -> list[dict]:
    """Run every combination; append each result to the history. Returns the results."""
    history = history or history_path()
    history.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "label": label,
        "machine": machine(),
    }
    from rustybt import __version__

    meta["rustybt"] = __version__
    plan = []
    for sc in resolve(scenarios):
        sizes = [a for a in (assets or sc.assets) if a in sc.assets] or list(sc.assets[:1])
        if quick:
            sizes = sizes[:1]
        plan += [(sc, n, led, eng) for n in sizes for led in ledgers for eng in engines]
    results = []
    for i, (sc, n, led, eng) in enumerate(plan):
        if progress:
            progress(i, len(plan), f"{sc.name} {n} assets {led} {eng}")
        r = {**meta, **run_one(sc, n, led, eng, repeats, quick)}
        with history.open("a") as fh:
            fh.write(json.dumps(r) + "\n")
        results.append(r)
    if progress:
        progress(len(plan), len(plan), "done")
    return results


if __name__ == "__main__":
    print(json.dumps(run_child(json.loads(sys.argv[1]))))
