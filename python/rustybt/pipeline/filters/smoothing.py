"""zipline's smoothing filters: ``All``, ``Any`` and ``AtLeastN`` over a window."""

from __future__ import annotations

from rustybt.pipeline.filters.filter import CustomFilter


class All(CustomFilter):
    """True where the input filter was True on every date of the window."""

    window_safe = True

    def compute(self, today, assets, out, arg):
        out[:] = arg.sum(axis=0) == arg.shape[0]


class Any(CustomFilter):
    """True where the input filter was True on any date of the window."""

    window_safe = True

    def compute(self, today, assets, out, arg):
        out[:] = arg.sum(axis=0) > 0


class AtLeastN(CustomFilter):
    """True where the input filter was True on at least ``N`` dates of the window."""

    window_safe = True
    params = ("N",)

    def compute(self, today, assets, out, arg, N):
        out[:] = arg.sum(axis=0) >= N


__all__ = ["All", "Any", "AtLeastN"]
