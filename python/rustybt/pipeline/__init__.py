"""Pipeline: zipline's cross-sectional factor framework, computed in Rust over whole
columns.

The names are zipline's (``zipline.pipeline`` → ``rustybt.pipeline``), so a strategy's
import lines are all that change::

    from rustybt.pipeline import Pipeline, CustomFactor
    from rustybt.pipeline.data import EquityPricing
    from rustybt.pipeline.factors import RSI, AverageDollarVolume

Outside a backtest, :func:`run_pipeline` computes a pipeline over a span of a bundle; in
one, ``attach_pipeline`` in ``initialize`` and ``pipeline_output`` afterwards.
"""

from rustybt.pipeline.classifiers import Classifier, CustomClassifier
from rustybt.pipeline.engine import PipelineEngine
from rustybt.pipeline.factors import CustomFactor, Factor
from rustybt.pipeline.filters import CustomFilter, Filter
from rustybt.pipeline.graph import ExecutionPlan, TermGraph
from rustybt.pipeline.pipeline import Pipeline
from rustybt.pipeline.run import run_pipeline
from rustybt.pipeline.term import ComputableTerm, LoadableTerm, Term


class Domain:
    """zipline's domains (which calendar and country a pipeline runs on). A rustybt
    pipeline runs on its bundle's sessions and assets: there is one domain."""

    def __init__(self, name: str = "bundle"):
        self.name = name

    def __repr__(self) -> str:
        return f"Domain({self.name!r})"


#: zipline's engine class, by its name.
SimplePipelineEngine = PipelineEngine

__all__ = [
    "Classifier",
    "ComputableTerm",
    "CustomClassifier",
    "CustomFactor",
    "CustomFilter",
    "Domain",
    "ExecutionPlan",
    "Factor",
    "Filter",
    "LoadableTerm",
    "Pipeline",
    "PipelineEngine",
    "SimplePipelineEngine",
    "Term",
    "TermGraph",
    "run_pipeline",
]
