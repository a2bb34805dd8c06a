"""zipline's classifiers (``zipline.pipeline.classifiers``): integer labels per asset,
-1 where missing."""

from __future__ import annotations

import numpy as np

from rustybt.pipeline.factors.factor import CustomTermMixin, _LatestClassifier
from rustybt.pipeline.ops import Quantiles
from rustybt.pipeline.term import INT64, Classifier, ComputableTerm

Latest = _LatestClassifier


class CustomClassifier(CustomTermMixin, Classifier):
    """A classifier computed by your ``compute(today, assets, out, *inputs)`` (int64
    labels; zipline's ``CustomClassifier``)."""

    dtype = INT64


class Everything(Classifier):
    """The same label (0) for every asset."""

    inputs = ()
    window_length = 0
    window_safe = True

    def __new__(cls):
        return ComputableTerm.__new__(cls)

    def _compute(self, inputs, ctx):
        return np.zeros(ctx.shape, dtype=np.int64)


__all__ = ["Classifier", "CustomClassifier", "Everything", "Latest", "Quantiles"]
