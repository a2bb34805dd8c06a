"""rustybt: event-driven backtests of Python strategies on a Rust engine with an exact
decimal ledger.

Example:
    >>> import rustybt
    >>> class Hold(rustybt.TradingAlgorithm):
    ...     def initialize(self, context):
    ...         context.asset = self.symbol("S000")
    ...     def handle_data(self, context, data):
    ...         self.order_target_percent(context.asset, 1.0)
    >>> perf = rustybt.run_algorithm(algorithm=Hold, bundle="rustybt-demo",
    ...                              capital_base=100_000)  # doctest: +SKIP
"""

import inspect as _inspect

from rustybt import errors
from rustybt._core import __version__
from rustybt.algorithm import TradingAlgorithm
from rustybt.batch import BatchResults, run_batch
from rustybt.bundles import Bundle, ingest_csvdir, ingest_synthetic, ingest_table, load_bundle
from rustybt.results import Results, backtest
from rustybt.runner import exact_column, run_algorithm

# backtest takes run_algorithm's arguments: show them in help() and signatures
backtest.__signature__ = _inspect.signature(run_algorithm).replace(return_annotation=Results)

__all__ = [
    "BatchResults",
    "Bundle",
    "Results",
    "TradingAlgorithm",
    "__version__",
    "backtest",
    "errors",
    "exact_column",
    "ingest_csvdir",
    "ingest_synthetic",
    "ingest_table",
    "load_bundle",
    "run_algorithm",
    "run_batch",
]
