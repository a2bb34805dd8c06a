"""Parameter search over many backtests and the tools to judge it.

* :class:`GridSearch`, :class:`RandomSearch` and :class:`BayesianSearch` (optuna TPE, with
  optional Hyperband pruning over growing prefixes of the span), each on the ``"serial"``,
  ``"process"`` (a warm worker pool shared by every search of the process, see
  :mod:`rustybt.optimize.pool` and :func:`shutdown_pool`) or ``"ray"`` backend, with a
  checkpoint a killed sweep resumes from;
* :class:`WalkForward`: rolling or anchored train/test windows around any of them, with a
  stitched out-of-sample curve and walk-forward efficiency;
* :mod:`rustybt.optimize.overfitting`: the deflated Sharpe ratio and the probability of
  backtest overfitting (CSCV), also as ``SearchResult.deflated_sharpe()`` / ``.pbo()``.

Example::

    from rustybt.optimize import GridSearch, WalkForward
    from rustybt.app.examples.sma_crossover import SmaCross

    search = GridSearch(SmaCross, {"fast": range(5, 15), "slow": range(20, 70, 5)},
                        bundle="rustybt-demo", objective="sharpe", n_jobs=2, backend="process",
                        keep_returns=True)
    result = search.run()
    result.best, result.heatmap("fast", "slow"), result.pbo().pbo
    wf = WalkForward(search, train="12M", test="3M").run()
"""

from rustybt.optimize.bayes import BayesianSearch
from rustybt.optimize.overfitting import (
    PBO,
    DeflatedSharpe,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from rustybt.optimize.pool import shutdown_pool
from rustybt.optimize.search import GridSearch, RandomSearch, SearchResult
from rustybt.optimize.walkforward import WalkForward, WalkForwardResult

__all__ = [
    "PBO",
    "BayesianSearch",
    "DeflatedSharpe",
    "GridSearch",
    "RandomSearch",
    "SearchResult",
    "WalkForward",
    "WalkForwardResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "shutdown_pool",
]
