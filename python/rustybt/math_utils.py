"""zipline's ``math_utils`` (``from zipline.api import math_utils``): float helpers that
strategies use, with zipline's meanings.

>>> from rustybt.math_utils import round_if_near_integer, tolerant_equals
>>> tolerant_equals(1.0, 1.0 + 1e-9), round_if_near_integer(2.99995), number_of_decimal_places("3.14")
(True, 3, 2)
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

nanmean = np.nanmean
nanstd = np.nanstd
nansum = np.nansum
nanmax = np.nanmax
nanmin = np.nanmin
nanargmax = np.nanargmax
nanargmin = np.nanargmin
nanmedian = np.nanmedian


def tolerant_equals(a, b, atol=10e-7, rtol=10e-7, equal_nan=False) -> bool:
    """Whether ``a`` and ``b`` are equal within ``atol + rtol * |b|`` (NaNs equal only
    with ``equal_nan``)."""
    if equal_nan and math.isnan(a) and math.isnan(b):
        return True
    return math.fabs(a - b) <= (atol + rtol * math.fabs(b))


def round_if_near_integer(a, epsilon=1e-4):
    """``a`` rounded to the nearest integer when within ``epsilon`` of it, else ``a``."""
    if abs(a - round(a)) <= epsilon:
        return round(a)
    return a


def number_of_decimal_places(n) -> int:
    """Decimal places of ``n`` as written (``3.14`` and ``"3.14"`` have 2)."""
    exponent = Decimal(str(n)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


__all__ = [
    "nanargmax",
    "nanargmin",
    "nanmax",
    "nanmean",
    "nanmedian",
    "nanmin",
    "nanstd",
    "nansum",
    "number_of_decimal_places",
    "round_if_near_integer",
    "tolerant_equals",
]
