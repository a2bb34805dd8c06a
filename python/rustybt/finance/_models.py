"""What the engine knows of its cost models: their names, parameters and zipline's
defaults, read once from ``rustybt._core`` (the ledger crate defines them, once)."""

from __future__ import annotations

from typing import ClassVar

from rustybt import _core

#: slippage model name -> {parameter: default}, in the engine's parameter order
SLIPPAGE: dict[str, dict[str, float]] = {name: dict(p) for name, p in _core.SLIPPAGE_MODELS}
#: commission model name -> {parameter: default}
COMMISSION: dict[str, dict[str, float]] = {name: dict(p) for name, p in _core.COMMISSION_MODELS}


class EngineModel:
    """Base of the built-in cost models: the engine computes them. A model is sent to the
    engine as ``_spec()``: the name of the nearest class the engine knows and its
    parameters in the engine's order."""

    _table: ClassVar[dict[str, dict[str, float]]] = {}

    def _spec(self) -> tuple[str, tuple[float, ...]]:
        for klass in type(self).__mro__:
            params = self._table.get(klass.__name__)
            if params is not None:
                return klass.__name__, tuple(float(getattr(self, p)) for p in params)
        raise TypeError(f"{type(self).__name__} is not a model the engine knows")
