"""zipline's ``zipline.pipeline.classifiers``, by the same names."""

from rustybt.pipeline.classifiers.classifier import (
    Classifier,
    CustomClassifier,
    Everything,
    Latest,
    Quantiles,
)

__all__ = ["Classifier", "CustomClassifier", "Everything", "Latest", "Quantiles"]
