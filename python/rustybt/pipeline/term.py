"""Terms: the nodes of a pipeline's graph, with zipline's class names and semantics.

A term describes a ``[dates × assets]`` matrix: a :class:`LoadableTerm` (a
:class:`~rustybt.pipeline.data.BoundColumn` of a dataset) is read from the bundle, a
:class:`ComputableTerm` is computed from its ``inputs`` — over trailing windows of
``window_length`` rows, or row by row when ``window_length`` is 0 — and masked by its
``mask`` (by default every asset that exists on the date). :class:`Factor` (float64),
:class:`Filter` (bool) and :class:`Classifier` (int64) are the three kinds a user meets.

Terms are interned: making the same term twice returns the same object, so the engine
computes each distinct term once however many columns use it.

Example:
    >>> from rustybt.pipeline.factors import SimpleMovingAverage
    >>> from rustybt.pipeline.data import EquityPricing
    >>> fast = SimpleMovingAverage(inputs=[EquityPricing.close], window_length=10)
    >>> fast is SimpleMovingAverage(inputs=[EquityPricing.close], window_length=10)
    True
    >>> (fast > 100).dtype
    dtype('bool')
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Hashable

import numpy as np

from rustybt.errors import (
    NonWindowSafeInput,
    PipelineError,
    TermInputsNotSpecified,
    UnsupportedDataType,
    WindowLengthNotPositive,
    WindowLengthNotSpecified,
)


class _NotSpecified:
    """The default of an argument that was not given (distinct from ``None``)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NotSpecified"

    def __reduce__(self):
        return (_NotSpecified, ())


NotSpecified = _NotSpecified()

FLOAT64 = np.dtype("float64")
BOOL = np.dtype("bool")
INT64 = np.dtype("int64")
#: What a masked-out cell holds, by dtype (zipline's defaults).
DEFAULT_MISSING = {FLOAT64: np.nan, BOOL: False, INT64: -1}

_INTERNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _frozen(value):
    """A hashable stand-in for a parameter value (lists become tuples). Terms stand in by
    identity: their ``==`` builds a comparison term, and an interned term keeps its inputs
    alive, so an id is never reused while a key holding it exists."""
    if isinstance(value, Term):
        return ("term", id(value))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    return value


class Term:
    """Base class of every pipeline term."""

    inputs = NotSpecified
    outputs = NotSpecified
    window_length = NotSpecified
    mask = NotSpecified
    params: tuple | dict = ()
    dtype = NotSpecified
    missing_value = NotSpecified
    window_safe = False
    ndim = 2

    def __new__(
        cls,
        inputs=NotSpecified,
        outputs=NotSpecified,
        window_length=NotSpecified,
        mask=NotSpecified,
        dtype=NotSpecified,
        missing_value=NotSpecified,
        window_safe=NotSpecified,
        **kwargs,
    ):
        inputs = cls.inputs if inputs is NotSpecified else inputs
        outputs = cls.outputs if outputs is NotSpecified else outputs
        window_length = cls.window_length if window_length is NotSpecified else window_length
        mask = cls.mask if mask is NotSpecified else mask
        dtype = cls.dtype if dtype is NotSpecified else dtype
        window_safe = cls.window_safe if window_safe is NotSpecified else window_safe
        if inputs is not NotSpecified:
            inputs = tuple(inputs)
        if outputs is not NotSpecified:
            outputs = tuple(outputs)
        if dtype is not NotSpecified:
            dtype = np.dtype(dtype)
            if dtype not in DEFAULT_MISSING:
                raise UnsupportedDataType(
                    f"{cls.__name__}: dtype {dtype} is not supported (float64, bool or int64)"
                )
        if missing_value is NotSpecified:
            missing_value = (
                cls.missing_value
                if cls.missing_value is not NotSpecified
                else DEFAULT_MISSING.get(dtype, NotSpecified)
            )
        params = cls._resolve_params(kwargs)
        key = (
            cls,
            _frozen(inputs) if inputs is not NotSpecified else inputs,
            outputs,
            window_length,
            _frozen(mask),
            dtype,
            _missing_key(missing_value),
            window_safe,
            tuple((k, _frozen(v)) for k, v in params),
        )
        try:
            cached = _INTERNED.get(key)
        except TypeError:  # an unhashable parameter: the term is not shared
            cached, key = None, None
        if cached is not None:
            return cached
        self = super().__new__(cls)
        self.inputs = inputs
        self.outputs = outputs
        self.window_length = window_length
        self.mask = mask
        self.dtype = dtype
        self.missing_value = missing_value
        self.window_safe = window_safe
        self.params = dict(params)
        self._validate()
        if key is not None:
            _INTERNED[key] = self
        return self

    def __init__(self, *args, **kwargs):
        """All the work is in ``__new__`` (terms are interned)."""

    @classmethod
    def _resolve_params(cls, kwargs) -> tuple:
        declared = cls.params
        if isinstance(declared, dict):
            names, defaults = tuple(declared), declared
        else:
            names, defaults = tuple(declared), {}
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            known = ", ".join(names) or "none"
            raise TypeError(
                f"{cls.__name__} got unexpected keyword argument(s) {', '.join(unknown)} "
                f"(its params: {known})"
            )
        out = []
        for name in names:
            if name in kwargs:
                value = kwargs[name]
            elif name in defaults and defaults[name] is not NotSpecified:
                value = defaults[name]
            else:
                raise TypeError(f"{cls.__name__} expected a keyword parameter {name!r}")
            if not isinstance(_frozen(value), Hashable):
                raise TypeError(f"{cls.__name__}: parameter {name}={value!r} must be hashable")
            out.append((name, value))
        return tuple(out)

    def _validate(self) -> None:
        """Check the term's definition (subclasses add their rules)."""

    # -- graph ----------------------------------------------------------------------------
    @property
    def dependencies(self) -> list[Term]:
        """The terms this one is computed from (its inputs, then its mask)."""
        deps = [] if self.inputs is NotSpecified else list(self.inputs)
        if isinstance(self.mask, Term):
            deps.append(self.mask)
        return deps

    def graph_repr(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        parts = []
        if isinstance(self.window_length, int) and self.window_length:
            parts.append(f"window_length={self.window_length}")
        parts.extend(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({', '.join(parts)})"

    def __getitem__(self, key):
        if self.outputs is not NotSpecified and isinstance(key, str):
            return RecarrayField(self, key)
        return _slice(self, key)

    def __getattr__(self, name):
        # ``bb.lower`` for the outputs of a multiple-output term
        outputs = self.__dict__.get("outputs", NotSpecified)
        if outputs is not NotSpecified and name in outputs:
            return RecarrayField(self, name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other):  # Factor/Classifier override with comparisons
        return self is other

    def __bool__(self) -> bool:
        raise TypeError(
            f"a pipeline term ({self!r}) has no truth value: combine filters with &, | and ~"
        )


def _missing_key(value):
    # NaN != NaN: key NaN as a string so equal terms intern together
    if isinstance(value, float) and value != value:
        return "nan"
    return value


class LoadableTerm(Term):
    """A term read from the bundle (a dataset's column)."""

    window_safe = True
    window_length = 0
    inputs = ()


class ComputableTerm(Term):
    """A term computed from other terms.

    ``window_length`` rows of each input are passed per date when it is positive; with 0,
    the input's own rows, date by date. ``mask`` limits the assets computed on each date.
    """

    def __new__(cls, *args, **kwargs):
        mask = kwargs.get("mask", NotSpecified)
        if mask is NotSpecified and cls.mask is NotSpecified:
            kwargs["mask"] = AssetExists()
        return super().__new__(cls, *args, **kwargs)

    def _validate(self) -> None:
        name = type(self).__name__
        if self.inputs is NotSpecified:
            raise TermInputsNotSpecified(f"{name} needs inputs (no default inputs were given)")
        if self.window_length is NotSpecified:
            raise WindowLengthNotSpecified(f"{name} needs a window_length")
        if not isinstance(self.window_length, numbers.Integral) or self.window_length < 0:
            raise WindowLengthNotPositive(
                f"{name}: window_length must be a non-negative integer, got {self.window_length!r}"
            )
        for i in self.inputs:
            if not isinstance(i, Term):
                raise PipelineError(f"{name}: inputs must be pipeline terms, got {i!r}")
        if self.window_length > 1:
            for child in self.inputs:
                if not child.window_safe:
                    raise NonWindowSafeInput(
                        f"{name} (window_length={self.window_length}) cannot take {child!r} as "
                        "an input: its values are not comparable across a window (use a "
                        "window_safe term such as a rank, a z-score or a price column)"
                    )

    def _compute(self, inputs, ctx):
        """The term's values over ``ctx``'s dates (subclasses implement)."""
        raise NotImplementedError(type(self).__name__)


# -- the three kinds of computed terms ------------------------------------------------------


class _Kind:
    """Operations shared by factors, filters and classifiers."""

    def isnull(self):
        """A filter: True where the value is missing."""
        from rustybt.pipeline.ops import Missing

        return Missing(self, want_missing=True)

    def notnull(self):
        """A filter: True where the value is present."""
        from rustybt.pipeline.ops import Missing

        return Missing(self, want_missing=False)

    def downsample(self, frequency: str):
        """The term computed only on the first session of each ``frequency`` period
        (``'year_start'``, ``'quarter_start'``, ``'month_start'``, ``'week_start'``) and
        held until the next one."""
        from rustybt.pipeline.ops import Downsample

        return Downsample(self, frequency=frequency)

    def fillna(self, fill_value):
        """The term with missing values replaced by ``fill_value`` (a constant or a term
        of the same kind)."""
        from rustybt.pipeline.ops import FillNA

        return FillNA(self, fill_value)


class Factor(_Kind, ComputableTerm):
    """A term of float64 values (zipline's ``Factor``)."""

    dtype = FLOAT64
    missing_value = np.nan

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls, *args, **kwargs)

    # arithmetic and comparisons build expression terms
    def _binop(self, op: str, other, reflected: bool = False):
        from rustybt.pipeline.ops import binop

        return binop(op, other, self) if reflected else binop(op, self, other)

    def __add__(self, o):
        return self._binop("+", o)

    def __radd__(self, o):
        return self._binop("+", o, True)

    def __sub__(self, o):
        return self._binop("-", o)

    def __rsub__(self, o):
        return self._binop("-", o, True)

    def __mul__(self, o):
        return self._binop("*", o)

    def __rmul__(self, o):
        return self._binop("*", o, True)

    def __truediv__(self, o):
        return self._binop("/", o)

    def __rtruediv__(self, o):
        return self._binop("/", o, True)

    def __pow__(self, o):
        return self._binop("**", o)

    def __rpow__(self, o):
        return self._binop("**", o, True)

    def __mod__(self, o):
        return self._binop("%", o)

    def __rmod__(self, o):
        return self._binop("%", o, True)

    def __lt__(self, o):
        return self._binop("<", o)

    def __le__(self, o):
        return self._binop("<=", o)

    def __gt__(self, o):
        return self._binop(">", o)

    def __ge__(self, o):
        return self._binop(">=", o)

    def __eq__(self, o):
        return self._binop("==", o)

    def __ne__(self, o):
        return self._binop("!=", o)

    def __neg__(self):
        from rustybt.pipeline.ops import UnaryMath

        return UnaryMath(self, op="neg")

    def __abs__(self):
        from rustybt.pipeline.ops import UnaryMath

        return UnaryMath(self, op="abs")

    __hash__ = Term.__hash__

    # elementwise math (zipline's numexpr functions)
    def _unary(self, op):
        from rustybt.pipeline.ops import UnaryMath

        return UnaryMath(self, op=op)

    def log(self):
        return self._unary("log")

    def log1p(self):
        return self._unary("log1p")

    def exp(self):
        return self._unary("exp")

    def expm1(self):
        return self._unary("expm1")

    def sqrt(self):
        return self._unary("sqrt")

    def abs(self):
        return self._unary("abs")

    def sin(self):
        return self._unary("sin")

    def cos(self):
        return self._unary("cos")

    def tan(self):
        return self._unary("tan")

    def arcsin(self):
        return self._unary("arcsin")

    def arccos(self):
        return self._unary("arccos")

    def arctan(self):
        return self._unary("arctan")

    def sinh(self):
        return self._unary("sinh")

    def cosh(self):
        return self._unary("cosh")

    def tanh(self):
        return self._unary("tanh")

    def arcsinh(self):
        return self._unary("arcsinh")

    def arccosh(self):
        return self._unary("arccosh")

    def arctanh(self):
        return self._unary("arctanh")

    def log10(self):
        return self._unary("log10")

    def isnan(self):
        """A filter: True where the value is NaN."""
        return self.isnull()

    def isfinite(self):
        """A filter: True where the value is finite."""
        from rustybt.pipeline.ops import IsFinite

        return IsFinite(self)

    def clip(self, min_bound, max_bound, mask=NotSpecified):
        """Values clipped to ``[min_bound, max_bound]`` (NaN stays NaN)."""
        from rustybt.pipeline.ops import Clip

        if min_bound > max_bound:
            raise PipelineError(
                f"clip: min_bound ({min_bound}) must not exceed max_bound ({max_bound})"
            )
        return Clip(self, min_bound=float(min_bound), max_bound=float(max_bound), mask=mask)

    # -- cross-sectional ----------------------------------------------------------------
    def rank(self, method="ordinal", ascending=True, mask=NotSpecified, groupby=NotSpecified):
        """Each asset's rank among the assets of its row (and of its group): 1 is the
        lowest value with ``ascending=True``. Ties by ``method`` (scipy's names)."""
        from rustybt.pipeline.ops import Rank

        return Rank(self, method=method, ascending=ascending, mask=mask, groupby=groupby)

    def demean(self, mask=NotSpecified, groupby=NotSpecified):
        """Values minus the mean of their row (or group)."""
        from rustybt.pipeline.ops import Normalize

        return Normalize(self, kind="demean", mask=mask, groupby=groupby)

    def zscore(self, mask=NotSpecified, groupby=NotSpecified):
        """(value − row mean) / row standard deviation, per row (or group)."""
        from rustybt.pipeline.ops import Normalize

        return Normalize(self, kind="zscore", mask=mask, groupby=groupby)

    def winsorize(self, min_percentile, max_percentile, mask=NotSpecified, groupby=NotSpecified):
        """Values clipped to their row's (or group's) ``min_percentile`` and
        ``max_percentile`` (fractions in [0, 1])."""
        from rustybt.pipeline.ops import Normalize

        if not 0.0 <= min_percentile < max_percentile <= 1.0:
            raise PipelineError(
                "winsorize: need 0 <= min_percentile < max_percentile <= 1, got "
                f"{min_percentile} and {max_percentile}"
            )
        return Normalize(
            self,
            kind="winsorize",
            mask=mask,
            groupby=groupby,
            min_percentile=float(min_percentile),
            max_percentile=float(max_percentile),
        )

    def top(self, N, mask=NotSpecified, groupby=NotSpecified):
        """A filter: the ``N`` highest values of each row (or group)."""
        return self.rank(ascending=False, mask=mask, groupby=groupby) <= N

    def bottom(self, N, mask=NotSpecified, groupby=NotSpecified):
        """A filter: the ``N`` lowest values of each row (or group)."""
        return self.rank(ascending=True, mask=mask, groupby=groupby) <= N

    def percentile_between(self, min_percentile, max_percentile, mask=NotSpecified):
        """A filter: values between the row's ``min_percentile`` and ``max_percentile``
        (0 to 100), inclusive."""
        from rustybt.pipeline.ops import PercentileFilter

        if not 0.0 <= min_percentile <= max_percentile <= 100.0:
            raise PipelineError(
                "percentile_between: need 0 <= min_percentile <= max_percentile <= 100, got "
                f"{min_percentile} and {max_percentile}"
            )
        return PercentileFilter(
            self,
            min_percentile=float(min_percentile),
            max_percentile=float(max_percentile),
            mask=mask,
        )

    def quantiles(self, bins, mask=NotSpecified):
        """A classifier: each asset's quantile (0 to ``bins`` − 1) within its row."""
        from rustybt.pipeline.ops import Quantiles

        if not isinstance(bins, numbers.Integral) or bins < 1:
            raise PipelineError(f"quantiles: bins must be a positive integer, got {bins!r}")
        return Quantiles(self, bins=int(bins), mask=mask)

    def quartiles(self, mask=NotSpecified):
        return self.quantiles(4, mask=mask)

    def quintiles(self, mask=NotSpecified):
        return self.quantiles(5, mask=mask)

    def deciles(self, mask=NotSpecified):
        return self.quantiles(10, mask=mask)

    # -- statistics against a target ----------------------------------------------------
    def pearsonr(self, target, correlation_length, mask=NotSpecified):
        """Rolling Pearson correlation of this factor with ``target`` (a factor or a
        slice ``factor[asset]``) over ``correlation_length`` rows."""
        from rustybt.pipeline.factors.statistical import RollingPearson

        return RollingPearson(self, target, correlation_length, mask=mask)

    def spearmanr(self, target, correlation_length, mask=NotSpecified):
        """Rolling Spearman rank correlation with ``target``."""
        from rustybt.pipeline.factors.statistical import RollingSpearman

        return RollingSpearman(self, target, correlation_length, mask=mask)

    def linear_regression(self, target, regression_length, mask=NotSpecified):
        """Rolling linear regression of this factor on ``target``: ``alpha``, ``beta``,
        ``r_value``, ``p_value``, ``stderr``."""
        from rustybt.pipeline.factors.statistical import RollingLinearRegression

        return RollingLinearRegression(self, target, regression_length, mask=mask)


class Filter(_Kind, ComputableTerm):
    """A term of bool values (zipline's ``Filter``): a screen or a mask."""

    dtype = BOOL
    missing_value = False

    def __and__(self, other):
        from rustybt.pipeline.ops import BoolOp

        return BoolOp(self, _as_filter(other, "&"), op="&")

    def __rand__(self, other):
        from rustybt.pipeline.ops import BoolOp

        return BoolOp(_as_filter(other, "&"), self, op="&")

    def __or__(self, other):
        from rustybt.pipeline.ops import BoolOp

        return BoolOp(self, _as_filter(other, "|"), op="|")

    def __ror__(self, other):
        from rustybt.pipeline.ops import BoolOp

        return BoolOp(_as_filter(other, "|"), self, op="|")

    def __invert__(self):
        from rustybt.pipeline.ops import Invert

        return Invert(self)

    __hash__ = Term.__hash__

    def if_else(self, if_true, if_false):
        """``if_true`` where this filter is True, else ``if_false`` (terms of one kind)."""
        from rustybt.pipeline.ops import IfElse

        return IfElse(self, if_true, if_false)


class AssetExists(Filter):
    """The root mask: True where the asset has started trading before the date and its
    data has not ended (zipline's lifetimes with ``include_start_date=False``)."""

    dtype = BOOL
    window_length = 0
    inputs = ()
    window_safe = True
    mask = None  # the root of every mask

    def __new__(cls):
        return Term.__new__(cls)

    def _compute(self, inputs, ctx):
        raise AssertionError("the engine computes the root mask itself")

    def __repr__(self) -> str:
        return "AssetExists()"


def _as_filter(other, op):
    if isinstance(other, Filter):
        return other
    raise TypeError(f"cannot combine a Filter with {other!r} using {op}: expected a Filter")


class Classifier(_Kind, ComputableTerm):
    """A term of integer labels (zipline's ``Classifier``); -1 is missing."""

    dtype = INT64
    missing_value = -1

    def eq(self, other):
        """A filter: True where the label equals ``other``."""
        from rustybt.pipeline.ops import LabelTest

        return LabelTest(self, labels=(int(other),), negate=False)

    def __ne__(self, other):
        from rustybt.pipeline.ops import LabelTest

        return LabelTest(self, labels=(int(other),), negate=True)

    def __eq__(self, other):
        return self.eq(other)

    __hash__ = Term.__hash__

    def isin(self, choices):
        """A filter: True where the label is one of ``choices``."""
        from rustybt.pipeline.ops import LabelTest

        return LabelTest(self, labels=tuple(int(c) for c in choices), negate=False)

    def element_of(self, choices):
        """zipline's name for :meth:`isin`."""
        return self.isin(choices)

    def relabel(self, relabeler):
        """Labels mapped through ``relabeler`` (a function of one label)."""
        from rustybt.pipeline.ops import Relabel

        return Relabel(self, relabeler=relabeler)

    def peer_count(self, mask=NotSpecified):
        """A factor: how many assets of each row share each asset's label."""
        from rustybt.pipeline.factors.basic import PeerCount

        return PeerCount(inputs=[self], mask=mask)


class RecarrayField(ComputableTerm):
    """One output of a multiple-output term (``bb.lower``, ``out.alpha``)."""

    window_length = 0
    params = ("attribute",)

    def __new__(cls, parent, attribute):
        if attribute not in parent.outputs:
            raise PipelineError(
                f"{parent!r} has no output {attribute!r} (its outputs: {', '.join(parent.outputs)})"
            )
        kind = {FLOAT64: _FactorField, BOOL: _FilterField, INT64: _ClassifierField}[parent.dtype]
        return ComputableTerm.__new__(
            kind,
            inputs=(parent,),
            attribute=attribute,
            mask=parent.mask,
            window_safe=parent.window_safe,
        )

    def _compute(self, inputs, ctx):
        return inputs[0][self.params["attribute"]]

    def __repr__(self) -> str:
        return f"{self.inputs[0]!r}.{self.params['attribute']}"


class _FactorField(RecarrayField, Factor):
    pass


class _FilterField(RecarrayField, Filter):
    pass


class _ClassifierField(RecarrayField, Classifier):
    pass


def _slice(term, asset):
    from rustybt.pipeline.ops import Slice

    sid = getattr(asset, "sid", asset)
    if not isinstance(sid, numbers.Integral):
        raise PipelineError(f"{term!r}[...] needs an Asset, got {asset!r}")
    return Slice(term, sid=int(sid))
