"""zipline's statistical factors (``zipline.pipeline.factors.statistical``): rolling
correlations, regressions and beta against a target, computed by the Rust kernels."""

from __future__ import annotations

from rustybt.errors import PipelineError
from rustybt.pipeline.factors.basic import Builtin, Returns
from rustybt.pipeline.filters.filter import SingleAsset
from rustybt.pipeline.term import AssetExists, ComputableTerm, Factor, NotSpecified


class _RollingStat(Builtin):
    window_safe = True

    def _compute(self, inputs, ctx):
        outs = ctx.rolling_stat(self._kind, self._kernel_params(), inputs, self.window_length)
        if self.outputs is NotSpecified:
            return outs[0]
        return dict(zip(self.outputs, outs))


def _target_term(target):
    if not isinstance(target, Factor):
        raise PipelineError(f"the target must be a Factor or a slice factor[asset], got {target!r}")
    return target


class _RollingCorrelation(_RollingStat):
    def __new__(cls, base_factor, target, correlation_length, mask=NotSpecified):
        if correlation_length < 2:
            raise PipelineError(
                f"{cls.__name__}: correlation_length must be at least 2, got {correlation_length}"
            )
        return ComputableTerm.__new__(
            cls,
            inputs=(base_factor, _target_term(target)),
            window_length=correlation_length,
            mask=mask,
        )


class RollingPearson(_RollingCorrelation):
    """Pearson correlation of each asset's ``base_factor`` with ``target`` over the window."""

    _kind = "rolling_pearson"


class RollingSpearman(_RollingCorrelation):
    """Spearman rank correlation of each asset's ``base_factor`` with ``target``."""

    _kind = "rolling_spearman"


class RollingLinearRegression(_RollingStat):
    """Regression of ``dependent`` on ``independent`` over the window: ``alpha``,
    ``beta``, ``r_value``, ``p_value``, ``stderr``."""

    outputs = ("alpha", "beta", "r_value", "p_value", "stderr")
    _kind = "rolling_linear_regression"

    def __new__(cls, dependent, independent, regression_length, mask=NotSpecified):
        if regression_length < 2:
            raise PipelineError(
                f"{cls.__name__}: regression_length must be at least 2, got {regression_length}"
            )
        return ComputableTerm.__new__(
            cls,
            inputs=(dependent, _target_term(independent)),
            window_length=regression_length,
            mask=mask,
        )


def _returns_of(target, returns_length):
    return Returns(window_length=returns_length, mask=AssetExists() | SingleAsset(asset=target))


class RollingPearsonOfReturns(RollingPearson):
    """Correlation of each asset's returns with ``target``'s."""

    def __new__(cls, target, returns_length, correlation_length, mask=NotSpecified):
        returns = _returns_of(target, returns_length)
        return super().__new__(cls, returns, returns[target], correlation_length, mask=mask)


class RollingSpearmanOfReturns(RollingSpearman):
    """Rank correlation of each asset's returns with ``target``'s."""

    def __new__(cls, target, returns_length, correlation_length, mask=NotSpecified):
        returns = _returns_of(target, returns_length)
        return super().__new__(cls, returns, returns[target], correlation_length, mask=mask)


class RollingLinearRegressionOfReturns(RollingLinearRegression):
    """Regression of each asset's returns on ``target``'s."""

    def __new__(cls, target, returns_length, regression_length, mask=NotSpecified):
        returns = _returns_of(target, returns_length)
        return super().__new__(cls, returns, returns[target], regression_length, mask=mask)


class SimpleBeta(_RollingStat):
    """Beta of each asset's daily returns to ``target``'s over ``regression_length``
    sessions; NaN where more than ``allowed_missing_percentage`` of them are missing."""

    params = ("allowed_missing_percentage",)
    _kind = "simple_beta"

    def __new__(cls, target, regression_length, allowed_missing_percentage=0.25):
        if regression_length < 3:
            raise PipelineError(
                f"SimpleBeta: regression_length must be at least 3, got {regression_length}"
            )
        if not 0.0 <= allowed_missing_percentage <= 1.0:
            raise PipelineError(
                "SimpleBeta: allowed_missing_percentage must be in [0, 1], got "
                f"{allowed_missing_percentage}"
            )
        daily = _returns_of(target, 2)
        term = ComputableTerm.__new__(
            cls,
            inputs=(daily, daily[target]),
            window_length=regression_length,
            allowed_missing_percentage=float(allowed_missing_percentage),
        )
        term.target = target
        return term


__all__ = [
    "RollingLinearRegression",
    "RollingLinearRegressionOfReturns",
    "RollingPearson",
    "RollingPearsonOfReturns",
    "RollingSpearman",
    "RollingSpearmanOfReturns",
    "SimpleBeta",
]
