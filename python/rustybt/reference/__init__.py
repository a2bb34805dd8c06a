"""The reference engine: a small, readable, pure-Python re-implementation of rustybt's
engine, the oracle the Rust engine must match to the last decimal digit.

``rustybt.reference.run_algorithm`` takes the arguments of :func:`rustybt.run_algorithm`
and returns the same perf frame, ``perf.attrs["rustybt"]["exact"]`` included, so a test
can run one strategy through both engines and compare them exactly::

    import rustybt, rustybt.reference as reference
    fast = rustybt.run_algorithm(algorithm=MyStrategy, bundle="rustybt-demo")
    slow = reference.run_algorithm(algorithm=MyStrategy, bundle="rustybt-demo")
    assert reference.exact_values(fast) == reference.exact_values(slow)

The ledger rules (numbers, orders, costs, positions) are in :mod:`rustybt.reference.ledger`;
the clock, the books, the trading controls and the perf columns in
:mod:`rustybt.reference.engine`; Pipeline's built-in factors and cross-sectional
operations in :mod:`rustybt.reference.pipeline_kernels` (``run_pipeline`` here runs a
pipeline on them, and a pipeline attached in a reference backtest uses them too).
"""

from rustybt.reference.engine import (
    ReferenceSimulation,
    cumulative_risk,
    exact_values,
    run_algorithm,
)
from rustybt.reference.ledger import DIV_SCALE, div_q, round_order_amount


def run_pipeline(pipeline, start, end, bundle, **kwargs):
    """:func:`rustybt.pipeline.run_pipeline` on the reference kernels (the oracle)."""
    from rustybt.pipeline.engine import OracleKernels, PipelineEngine
    from rustybt.pipeline.run import run_pipeline as _run_pipeline

    engine = PipelineEngine(bundle, kernels=OracleKernels())
    return _run_pipeline(pipeline, start, end, bundle, engine=engine, **kwargs)


__all__ = [
    "DIV_SCALE",
    "ReferenceSimulation",
    "cumulative_risk",
    "div_q",
    "exact_values",
    "round_order_amount",
    "run_algorithm",
    "run_pipeline",
]
