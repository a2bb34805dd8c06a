"""A pipeline's terms as a graph (zipline's ``TermGraph`` / ``ExecutionPlan``): what
the engine computes, in which order, and how much history each term needs."""

from __future__ import annotations

from rustybt.pipeline.engine import PipelineEngine
from rustybt.pipeline.term import AssetExists


class TermGraph:
    """The terms of ``terms`` (a dict name → term) and everything they depend on, each
    once, dependencies first."""

    def __init__(self, terms: dict):
        self.outputs = dict(terms)
        self.ordered = PipelineEngine._graph([*self.outputs.values(), AssetExists()])

    def __len__(self) -> int:
        return len(self.ordered)

    def __iter__(self):
        return iter(self.ordered)


class ExecutionPlan(TermGraph):
    """A :class:`TermGraph` with the extra rows of history each term needs."""

    def __init__(self, terms: dict, *args, **kwargs):
        super().__init__(terms)
        extra = PipelineEngine._extra_rows(self.ordered, list(self.outputs.values()))
        self.extra_rows = {t: extra[id(t)] for t in self.ordered}


__all__ = ["ExecutionPlan", "TermGraph"]
