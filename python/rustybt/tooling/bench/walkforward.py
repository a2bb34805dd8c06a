"""WF1 (docs/performance/workloads.md): walk-forward of W1 on 10 assets, four windows of
12 months train / 3 months test stepping 3 months over 2022-2023, G1's 100-combination
grid in each train window (process pool, 2 workers, one pool for all windows).

``--quick`` runs two 30/5-session windows over the quick span with the first four combos."""

from __future__ import annotations

import statistics
import time


def run_walkforward_child(config: dict, bundle, start, end, open_s: float) -> dict:
    """Inside the benchmark child: one timed walk-forward; figures in the harness's
    multi-run record (``runs`` = backtests in the train windows)."""
    from rustybt.app.examples.sma_crossover import SmaCross
    from rustybt.optimize import GridSearch, WalkForward
    from rustybt.tooling.bench import batch_workloads
    from rustybt.tooling.bench.harness import _multi_run_result

    combos = batch_workloads.G1_GRID
    quick = bool(config.get("quick"))
    if quick:
        combos = combos[:4]
    search = GridSearch(
        SmaCross,
        {
            "fast": sorted({f for f, _ in combos}),
            "slow": sorted({s for _, s in combos}),
            "n_assets": [config["assets"]],
        },
        bundle=bundle,
        ledger=config["ledger"],
        n_jobs=2,
        backend="process",
        progress=False,
    )
    if quick:
        wf = WalkForward(search, train=30, test=5, start=start, end=end)
    else:
        # calendar-aligned: 2022-01-01 + 12 months, ... the last test quarter is Q4 2023
        wf = WalkForward(search, train="12M", test="3M", start=start.replace(day=1), end=end)
    wall, cpu = time.perf_counter(), time.process_time()
    res = wf.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    windows = res.windows
    train_bars = [
        bundle.sessions.get_loc(w.train_end) - bundle.sessions.get_loc(w.train_start) + 1
        for _, w in windows.iterrows()
    ]
    trials = int(windows["trials"].sum())
    trial_s = [float(s) for r in res.searches for s in r.table["seconds"]]
    return _multi_run_result(
        open_s,
        [wall],
        [cpu],
        int(statistics.mean(train_bars)),
        config["assets"],
        trials,
        windows=len(windows),
        trial_mean_s=statistics.mean(trial_s),
        efficiency=res.efficiency,
        oos_sharpe=float(res.stats["sharpe"]),
        oos_total_return=float(res.stats["total_return"]),
        chosen=[{k: int(w[k]) for k in ("fast", "slow")} for _, w in windows.iterrows()],
        final_value=float(res.equity.iloc[-1]),
        fills=res.fills,
    )
