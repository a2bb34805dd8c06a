"""Parameter search over many backtests: ``GridSearch`` and ``RandomSearch``, run serially
or on a persistent process pool, with checkpoints that survive an interruption.

Example::

    from rustybt.optimize import GridSearch
    from rustybt.examples.sma_crossover import SmaCross

    search = GridSearch(SmaCross, {"fast": range(5, 15), "slow": range(20, 70, 5)},
                        bundle="demo", objective="sharpe", n_jobs=2, backend="process")
    result = search.run()
    result.best, result.table.head(), result.heatmap("fast", "slow")
"""

from rustybt.optimize.search import GridSearch, RandomSearch, SearchResult

__all__ = ["GridSearch", "RandomSearch", "SearchResult"]
