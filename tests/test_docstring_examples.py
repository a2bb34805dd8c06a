"""The examples in the public API's docstrings run (doctest), on this test run's own
RUSTYBT_ROOT; examples marked ``+SKIP`` need a bundle the reader has."""

from __future__ import annotations

import doctest

import pytest

import rustybt.batch
import rustybt.bundles
import rustybt.finance.asset_restrictions
import rustybt.math_utils

MODULES = [rustybt.bundles, rustybt.batch, rustybt.math_utils, rustybt.finance.asset_restrictions]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0
