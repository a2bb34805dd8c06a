"""The terms that factor, filter and classifier methods build: arithmetic and
comparisons (elementwise NumPy, as zipline's numexpr expressions), missing-value tests,
cross-sectional operations (rank, z-score, quantiles, ...: Rust kernels), slices and
downsampling. Users meet them through methods (``f.rank()``, ``f > 0``, ``~flt``), not by
name."""

from __future__ import annotations

import numbers

import numpy as np

from rustybt.errors import PipelineError
from rustybt.pipeline.term import (
    BOOL,
    FLOAT64,
    INT64,
    Classifier,
    ComputableTerm,
    Factor,
    Filter,
    NotSpecified,
    Term,
)

_ARITH = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "**": np.power,
    "%": np.mod,
}
_COMPARE = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


class Constant(Factor):
    """A number as a term (the constant side of ``factor + 1``)."""

    window_length = 0
    inputs = ()
    params = ("value",)
    window_safe = True

    def _compute(self, inputs, ctx):
        return np.full(ctx.shape, self.params["value"], dtype=np.float64)

    def __repr__(self) -> str:
        return repr(self.params["value"])


def _operand(x, op):
    if isinstance(x, Factor):
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return Constant(value=float(x))
    raise TypeError(f"unsupported operand for {op}: {x!r} (a Factor or a number)")


def binop(op: str, left, right):
    """``left op right`` as a term: a factor for arithmetic, a filter for comparisons."""
    a, b = _operand(left, op), _operand(right, op)
    cls = ArithmeticFactor if op in _ARITH else ComparisonFilter
    return cls(a, b, op=op)


class _BinOpMixin:
    window_length = 0
    params = ("op",)

    def __new__(cls, left, right, op):
        return ComputableTerm.__new__(
            cls,
            inputs=(left, right),
            op=op,
            window_safe=left.window_safe and right.window_safe,
        )

    def __repr__(self) -> str:
        a, b = self.inputs
        return f"({a!r} {self.params['op']} {b!r})"


class ArithmeticFactor(_BinOpMixin, Factor):
    """``a op b`` for two factors (float arithmetic; x/0 is inf, 0/0 NaN)."""

    def _compute(self, inputs, ctx):
        with np.errstate(all="ignore"):
            return _ARITH[self.params["op"]](inputs[0], inputs[1])


class ComparisonFilter(_BinOpMixin, Filter):
    """``a op b`` for two factors; any comparison with NaN is False (``!=`` too, as in
    numexpr)."""

    def _compute(self, inputs, ctx):
        a, b = inputs
        with np.errstate(invalid="ignore"):
            out = _COMPARE[self.params["op"]](a, b)
        if self.params["op"] == "!=":
            out &= ~(np.isnan(a) | np.isnan(b))
        return out


_UNARY = {
    "neg": np.negative,
    "abs": np.abs,
    "log": np.log,
    "log1p": np.log1p,
    "log10": np.log10,
    "exp": np.exp,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsinh": np.arcsinh,
    "arccosh": np.arccosh,
    "arctanh": np.arctanh,
}


class UnaryMath(Factor):
    """An elementwise function of a factor."""

    window_length = 0
    params = ("op",)

    def __new__(cls, factor, op):
        return ComputableTerm.__new__(cls, inputs=(factor,), op=op, window_safe=factor.window_safe)

    def _compute(self, inputs, ctx):
        with np.errstate(all="ignore"):
            return _UNARY[self.params["op"]](inputs[0])

    def __repr__(self) -> str:
        return f"{self.params['op']}({self.inputs[0]!r})"


class BoolOp(Filter):
    """``a & b`` or ``a | b``."""

    window_length = 0
    params = ("op",)

    def __new__(cls, left, right, op):
        return ComputableTerm.__new__(
            cls, inputs=(left, right), op=op, window_safe=left.window_safe and right.window_safe
        )

    def _compute(self, inputs, ctx):
        a, b = inputs
        return (a & b) if self.params["op"] == "&" else (a | b)

    def __repr__(self) -> str:
        a, b = self.inputs
        return f"({a!r} {self.params['op']} {b!r})"


class Invert(Filter):
    """``~filter``."""

    window_length = 0

    def __new__(cls, term):
        return ComputableTerm.__new__(cls, inputs=(term,), window_safe=term.window_safe)

    def _compute(self, inputs, ctx):
        return ~inputs[0]

    def __repr__(self) -> str:
        return f"~{self.inputs[0]!r}"


def _is_missing(values: np.ndarray, missing) -> np.ndarray:
    if values.dtype == FLOAT64:
        return np.isnan(values)
    return values == missing


class Missing(Filter):
    """``isnull()`` / ``notnull()``."""

    window_length = 0
    params = ("want_missing",)

    def __new__(cls, term, want_missing):
        return ComputableTerm.__new__(
            cls, inputs=(term,), want_missing=want_missing, window_safe=term.window_safe
        )

    def _compute(self, inputs, ctx):
        missing = _is_missing(inputs[0], self.inputs[0].missing_value)
        return missing if self.params["want_missing"] else ~missing


class IsFinite(Filter):
    """``isfinite()``."""

    window_length = 0

    def __new__(cls, term):
        return ComputableTerm.__new__(cls, inputs=(term,), window_safe=term.window_safe)

    def _compute(self, inputs, ctx):
        return np.isfinite(inputs[0])


def _same_kind(term):
    """The base class (Factor, Filter or Classifier) of ``term``."""
    for base in (Factor, Filter, Classifier):
        if isinstance(term, base):
            return base
    raise PipelineError(f"{term!r} is not a Factor, Filter or Classifier")


class FillNA(ComputableTerm):
    """Missing values replaced by a constant or another term's values."""

    window_length = 0
    params = ("fill",)

    def __new__(cls, term, fill_value):
        kind = _same_kind(term)
        sub = {Factor: _FillNAFactor, Filter: _FillNAFilter, Classifier: _FillNAClassifier}[kind]
        if isinstance(fill_value, Term):
            return ComputableTerm.__new__(
                sub, inputs=(term, fill_value), fill=None, window_safe=term.window_safe
            )
        return ComputableTerm.__new__(
            sub, inputs=(term,), fill=fill_value, window_safe=term.window_safe
        )

    def _compute(self, inputs, ctx):
        values = inputs[0]
        missing = _is_missing(values, self.inputs[0].missing_value)
        fill = inputs[1] if len(inputs) > 1 else self.params["fill"]
        return np.where(missing, fill, values).astype(self.dtype)


class _FillNAFactor(FillNA, Factor):
    pass


class _FillNAFilter(FillNA, Filter):
    pass


class _FillNAClassifier(FillNA, Classifier):
    pass


class Clip(Factor):
    """Values clipped to ``[min_bound, max_bound]``."""

    window_length = 0
    params = ("min_bound", "max_bound")

    def __new__(cls, term, min_bound, max_bound, mask=NotSpecified):
        return ComputableTerm.__new__(
            cls,
            inputs=(term,),
            min_bound=min_bound,
            max_bound=max_bound,
            mask=mask,
            window_safe=term.window_safe,
        )

    def _compute(self, inputs, ctx):
        return np.clip(inputs[0], self.params["min_bound"], self.params["max_bound"])


class IfElse(ComputableTerm):
    """``condition.if_else(if_true, if_false)``."""

    window_length = 0

    def __new__(cls, condition, if_true, if_false):
        kind = _same_kind(if_true)
        if _same_kind(if_false) is not kind:
            raise PipelineError(
                f"if_else needs two terms of one kind, got {if_true!r} and {if_false!r}"
            )
        sub = {Factor: _IfElseFactor, Filter: _IfElseFilter, Classifier: _IfElseClassifier}[kind]
        return ComputableTerm.__new__(
            sub,
            inputs=(condition, if_true, if_false),
            window_safe=condition.window_safe and if_true.window_safe and if_false.window_safe,
        )

    def _compute(self, inputs, ctx):
        return np.where(inputs[0], inputs[1], inputs[2])


class _IfElseFactor(IfElse, Factor):
    pass


class _IfElseFilter(IfElse, Filter):
    pass


class _IfElseClassifier(IfElse, Classifier):
    pass


# -- cross-sectional (Rust kernels) -----------------------------------------------------


def _groups(inputs):
    """The groupby classifier's labels, when the term has one (its second input)."""
    return inputs[1] if len(inputs) > 1 else None


class Rank(Factor):
    """``factor.rank(...)``."""

    window_length = 0
    window_safe = True
    params = ("method", "ascending")

    def __new__(cls, factor, method, ascending, mask=NotSpecified, groupby=NotSpecified):
        if method not in ("ordinal", "average", "min", "max", "dense"):
            raise PipelineError(
                f"rank: method must be ordinal, average, min, max or dense, got {method!r}"
            )
        inputs = (factor,) if groupby is NotSpecified else (factor, _classifier(groupby))
        return ComputableTerm.__new__(
            cls, inputs=inputs, method=method, ascending=bool(ascending), mask=mask
        )

    def _compute(self, inputs, ctx):
        values = np.ascontiguousarray(inputs[0], dtype=np.float64)
        return ctx.kernels.rank(
            values,
            np.ascontiguousarray(ctx.mask),
            _groups(inputs),
            self.params["method"],
            self.params["ascending"],
        )


def _classifier(term):
    if not isinstance(term, Classifier):
        raise PipelineError(f"groupby needs a Classifier, got {term!r}")
    return term


class Normalize(Factor):
    """``demean`` / ``zscore`` / ``winsorize``, per row or per group."""

    window_length = 0
    window_safe = True
    params = {"kind": NotSpecified, "min_percentile": 0.0, "max_percentile": 1.0}

    def __new__(cls, factor, kind, mask=NotSpecified, groupby=NotSpecified, **params):
        inputs = (factor,) if groupby is NotSpecified else (factor, _classifier(groupby))
        return ComputableTerm.__new__(cls, inputs=inputs, kind=kind, mask=mask, **params)

    def _compute(self, inputs, ctx):
        p = self.params
        extra = (
            {"min_percentile": p["min_percentile"], "max_percentile": p["max_percentile"]}
            if p["kind"] == "winsorize"
            else {}
        )
        return ctx.kernels.normalize(
            p["kind"],
            np.ascontiguousarray(inputs[0], dtype=np.float64),
            np.ascontiguousarray(ctx.mask),
            _groups(inputs),
            extra,
        )

    def __repr__(self) -> str:
        return f"{self.inputs[0]!r}.{self.params['kind']}()"


class PercentileFilter(Filter):
    """``factor.percentile_between(...)``."""

    window_length = 0
    params = ("min_percentile", "max_percentile")

    def __new__(cls, factor, min_percentile, max_percentile, mask=NotSpecified):
        return ComputableTerm.__new__(
            cls,
            inputs=(factor,),
            min_percentile=min_percentile,
            max_percentile=max_percentile,
            mask=mask,
        )

    def _compute(self, inputs, ctx):
        return ctx.kernels.percentile_between(
            np.ascontiguousarray(inputs[0], dtype=np.float64),
            np.ascontiguousarray(ctx.mask),
            self.params["min_percentile"],
            self.params["max_percentile"],
        )


class Quantiles(Classifier):
    """``factor.quantiles(bins)``: labels 0 .. bins − 1."""

    window_length = 0
    params = ("bins",)

    def __new__(cls, factor, bins, mask=NotSpecified):
        return ComputableTerm.__new__(cls, inputs=(factor,), bins=bins, mask=mask)

    def _compute(self, inputs, ctx):
        try:
            return ctx.kernels.quantiles(
                np.ascontiguousarray(inputs[0], dtype=np.float64),
                np.ascontiguousarray(ctx.mask),
                self.params["bins"],
            )
        except ValueError as exc:  # tied bin edges, as pandas.qcut (and zipline) refuse
            raise PipelineError(
                f"{self!r} on the dates from {ctx.dates[0].date()}: {exc} (zipline's "
                "quantiles refuse rows whose values tie across a bin edge; mask the row's "
                "assets or use fewer bins)"
            ) from None

    def __repr__(self) -> str:
        return f"{self.inputs[0]!r}.quantiles({self.params['bins']})"


class LabelTest(Filter):
    """``classifier.eq(x)`` / ``isin(...)`` / ``!= x``."""

    window_length = 0
    params = ("labels", "negate")

    def __new__(cls, classifier, labels, negate):
        return ComputableTerm.__new__(
            cls,
            inputs=(classifier,),
            labels=labels,
            negate=negate,
            window_safe=classifier.window_safe,
        )

    def _compute(self, inputs, ctx):
        values = inputs[0]
        out = np.isin(values, np.asarray(self.params["labels"], dtype=np.int64))
        if self.params["negate"]:
            out = ~out & (values != self.inputs[0].missing_value)
        return out


class Relabel(Classifier):
    """``classifier.relabel(f)``."""

    window_length = 0
    params = ("relabeler",)

    def __new__(cls, classifier, relabeler):
        return ComputableTerm.__new__(cls, inputs=(classifier,), relabeler=relabeler)

    def _compute(self, inputs, ctx):
        values = inputs[0]
        uniques, inverse = np.unique(values, return_inverse=True)
        f = self.params["relabeler"]
        mapped = np.array([-1 if u == -1 else int(f(int(u))) for u in uniques], dtype=np.int64)
        return mapped[inverse].reshape(values.shape)


class Slice(Factor):
    """``factor[asset]``: one asset's column of a factor, the same for every asset (the
    target of a correlation or regression)."""

    window_length = 0
    params = ("sid",)

    def __new__(cls, term, sid):
        if not isinstance(term, Factor):
            raise PipelineError(f"only factors can be sliced by asset, got {term!r}")
        return ComputableTerm.__new__(cls, inputs=(term,), sid=sid, window_safe=term.window_safe)

    def _compute(self, inputs, ctx):
        col = ctx.column_of(self.params["sid"], f"{self.inputs[0]!r}[sid {self.params['sid']}]")
        return np.repeat(inputs[0][:, col : col + 1], ctx.shape[1], axis=1)

    def __repr__(self) -> str:
        return f"{self.inputs[0]!r}[sid {self.params['sid']}]"


class Downsample(ComputableTerm):
    """``term.downsample(frequency)``: computed on the first session of each period (and
    on the first date computed), held until the next period starts."""

    window_length = 0
    params = ("frequency",)
    FREQUENCIES = ("year_start", "quarter_start", "month_start", "week_start")

    def __new__(cls, term, frequency):
        if frequency not in cls.FREQUENCIES:
            raise PipelineError(
                f"downsample: frequency must be one of {', '.join(cls.FREQUENCIES)}, "
                f"got {frequency!r}"
            )
        sub = {
            Factor: _DownsampleFactor,
            Filter: _DownsampleFilter,
            Classifier: _DownsampleClassifier,
        }[_same_kind(term)]
        return ComputableTerm.__new__(
            sub, inputs=(term,), frequency=frequency, window_safe=term.window_safe, mask=term.mask
        )

    def _compute(self, inputs, ctx):
        values = inputs[0]
        starts = ctx.period_starts(self.params["frequency"])
        starts[0] = True
        held = np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))
        return values[held]


class _DownsampleFactor(Downsample, Factor):
    pass


class _DownsampleFilter(Downsample, Filter):
    pass


class _DownsampleClassifier(Downsample, Classifier):
    pass


__all__ = ["BOOL", "FLOAT64", "INT64"]
