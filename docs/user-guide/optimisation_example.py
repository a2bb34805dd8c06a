"""The worked example of docs/user-guide/optimisation.md: a grid search, its overfitting
statistics, a walk-forward and a Bayesian search of the SMA crossover, on the synthetic
10-asset bundle the benchmarks use (W1's data: XNYS 2022-01-03 .. 2023-12-29, seed 42).

Run it from the repository root (it writes the guide's figures)::

    .venv/bin/python docs/user-guide/optimisation_example.py --out docs/user-guide/img

It prints the numbers the guide quotes. Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import BundleNotFound
from rustybt.optimize import BayesianSearch, GridSearch, WalkForward

BUNDLE = "guide-sma10"
GRID = {"fast": range(5, 15), "slow": range(20, 70, 5), "n_assets": [10]}  # G1's 100 combos


def bundle():
    try:
        return rustybt.load_bundle(BUNDLE)
    except BundleNotFound:
        return rustybt.ingest_synthetic(
            BUNDLE, assets=10, start="2022-01-03", end="2023-12-29", seed=42
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/user-guide/img"))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    b = bundle()
    print(b)

    # 1. grid search over the whole span, keeping every trial's daily returns
    t = time.perf_counter()
    grid = GridSearch(SmaCross, GRID, bundle=b, objective="sharpe", n_jobs=args.jobs,
                      backend="process", keep_returns=True, progress=False)  # fmt: skip
    result = grid.run()
    print(f"\n## grid: {len(result.table)} trials in {time.perf_counter() - t:.1f} s")
    print(result.table.nlargest(5, "sharpe")[["fast", "slow", "sharpe", "annual_return",
                                              "max_drawdown", "trades"]].to_string())  # fmt: skip
    result.heatmap("fast", "slow").savefig(args.out / "optimisation-heatmap.png", dpi=110)

    # 2. how much of the best Sharpe is selection luck
    dsr = result.deflated_sharpe()
    print(f"\n## deflated Sharpe of the best trial: {dsr}")
    pbo = result.pbo(blocks=16)
    print(
        f"## PBO (CSCV, S=16, {pbo.n_combinations} splits): {pbo.pbo:.3f}, "
        f"P(OOS loss) {pbo.prob_oos_loss:.3f}, degradation slope {pbo.degradation_slope:.3f}"
    )
    pbo.plot().savefig(args.out / "optimisation-pbo.png", dpi=110)

    # 3. walk-forward: WF1's windows, the same grid in each train window
    t = time.perf_counter()
    wf = WalkForward(grid, train="12M", test="3M", start="2022-01-01", end="2023-12-31").run()
    print(f"\n## walk-forward in {time.perf_counter() - t:.1f} s: {wf}")
    cols = ["test_start", "test_end", "fast", "slow", "is_sharpe", "is_annual_return",
            "oos_sharpe", "oos_annual_return", "efficiency"]  # fmt: skip
    print(wf.windows[cols].to_string())
    print(wf.stats[["total_return", "annual_return", "sharpe", "max_drawdown"]].to_string())
    print(f"walk-forward efficiency: {wf.efficiency:.3f} "
          f"(OOS CAGR {wf.stats['annual_return']:.4f} / mean IS CAGR {wf.is_annual_return:.4f})")  # fmt: skip
    wf.plot_equity().savefig(args.out / "optimisation-wf-equity.png", dpi=110)
    wf.plot_params().savefig(args.out / "optimisation-wf-params.png", dpi=110)

    # 4. Bayesian search of a wider space, with Hyperband pruning on span prefixes
    t = time.perf_counter()
    bayes = BayesianSearch(
        SmaCross,
        {"fast": range(2, 40), "slow": range(20, 150, 5), "n_assets": [10]},
        bundle=b,
        n_trials=60,
        seed=7,
        pruner="hyperband",
        constraint=lambda p: p["fast"] < p["slow"],
        n_jobs=args.jobs,
        backend="process",
        progress=False,
    ).run()
    states = bayes.table["state"].value_counts().to_dict()
    print(f"\n## Bayesian: 60 trials in {time.perf_counter() - t:.1f} s, states {states}")
    print(bayes.best[["trial", "fast", "slow", "sharpe", "annual_return"]].to_string())


if __name__ == "__main__":
    main()
