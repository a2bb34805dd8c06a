"""zipline's filters (``zipline.pipeline.filters``)."""

from __future__ import annotations

import numpy as np

from rustybt.errors import PipelineError
from rustybt.pipeline.factors.factor import CustomTermMixin, _LatestFilter
from rustybt.pipeline.ops import ComparisonFilter as NumExprFilter
from rustybt.pipeline.ops import Missing, PercentileFilter
from rustybt.pipeline.term import BOOL, ComputableTerm, Filter, NotSpecified

Latest = _LatestFilter


class CustomFilter(CustomTermMixin, Filter):
    """A filter computed by your ``compute(today, assets, out, *inputs)`` (zipline's
    ``CustomFilter``)."""

    dtype = BOOL


class NullFilter(Missing):
    """True where ``term`` is missing (``term.isnull()``)."""

    def __new__(cls, term):
        return Missing.__new__(Missing, term, want_missing=True)


class NotNullFilter(Missing):
    """True where ``term`` is present (``term.notnull()``)."""

    def __new__(cls, term):
        return Missing.__new__(Missing, term, want_missing=False)


class _ColumnFilter(Filter):
    """True in the columns of a fixed set of sids, on every date."""

    inputs = ()
    window_length = 0
    window_safe = True
    params = ("sids",)

    def _compute(self, inputs, ctx):
        wanted = np.isin(ctx.assets, np.asarray(self.params["sids"], dtype=np.int64))
        return np.broadcast_to(wanted, ctx.shape).copy()


class StaticSids(_ColumnFilter):
    """True for these sids."""

    def __new__(cls, sids):
        return ComputableTerm.__new__(cls, sids=tuple(sorted(int(s) for s in sids)))


class StaticAssets(_ColumnFilter):
    """True for these assets."""

    def __new__(cls, assets):
        return ComputableTerm.__new__(cls, sids=tuple(sorted(int(a.sid) for a in assets)))


class SingleAsset(_ColumnFilter):
    """True for one asset only."""

    def __new__(cls, asset):
        return ComputableTerm.__new__(cls, sids=(int(asset.sid),))

    def _compute(self, inputs, ctx):
        ctx.column_of(self.params["sids"][0], f"SingleAsset(sid {self.params['sids'][0]})")
        return super()._compute(inputs, ctx)


class AllPresent(CustomFilter):
    """True where the input has no missing value in the whole window."""

    window_safe = True

    def _validate(self):
        super()._validate()
        if len(self.inputs) != 1:
            raise PipelineError(f"AllPresent takes one input, got {len(self.inputs)}")

    def compute(self, today, assets, out, value):
        missing = self.inputs[0].missing_value
        if isinstance(missing, float) and missing != missing:
            out[:] = ~np.any(np.isnan(value), axis=0)
        else:
            out[:] = ~np.any(value == missing, axis=0)


class ArrayPredicate(Filter):
    """True where ``op(term, *opargs)`` is True."""

    window_length = 0
    params = ("op", "opargs")

    def __new__(cls, term, op, opargs=()):
        return ComputableTerm.__new__(
            cls, inputs=(term,), op=op, opargs=tuple(opargs), window_safe=term.window_safe
        )

    def _compute(self, inputs, ctx):
        return np.asarray(self.params["op"](inputs[0], *self.params["opargs"]), dtype=bool)


class MaximumFilter(Filter):
    """True for the asset with the largest value of ``factor`` in each row (or group)."""

    window_length = 0

    def __new__(cls, factor, groupby=NotSpecified, mask=NotSpecified):
        ranked = factor.rank(method="ordinal", ascending=False, mask=mask, groupby=groupby)
        return ComputableTerm.__new__(cls, inputs=(ranked,), mask=mask)

    def _compute(self, inputs, ctx):
        return inputs[0] == 1.0


__all__ = [
    "AllPresent",
    "ArrayPredicate",
    "CustomFilter",
    "Filter",
    "Latest",
    "MaximumFilter",
    "NotNullFilter",
    "NullFilter",
    "NumExprFilter",
    "PercentileFilter",
    "SingleAsset",
    "StaticAssets",
    "StaticSids",
]
