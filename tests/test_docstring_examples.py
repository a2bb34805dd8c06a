"""The examples in the public API's docstrings run (doctest), on this test run's own
RUSTYBT_ROOT; examples marked ``+SKIP`` need a bundle the reader has. The README's Python
blocks run as written and print what they compute."""

from __future__ import annotations

import doctest
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rustybt
import rustybt.algorithm
import rustybt.batch
import rustybt.bundles
import rustybt.data
import rustybt.finance.asset_restrictions
import rustybt.math_utils
import rustybt.optimize.bayes
import rustybt.optimize.search
import rustybt.optimize.walkforward
import rustybt.results
from rustybt.algorithm import TradingAlgorithm
from rustybt.data import BarData
from rustybt.optimize import BayesianSearch, GridSearch, RandomSearch, WalkForward

MODULES = [
    rustybt.bundles,
    rustybt.batch,
    rustybt.math_utils,
    rustybt.finance.asset_restrictions,
    rustybt.algorithm,
    rustybt.data,
    rustybt.results,
    rustybt.optimize.search,
    rustybt.optimize.bayes,
    rustybt.optimize.walkforward,
]

#: Public functions whose docstrings are numpy-style with Parameters / Returns / Raises
#: sections and an Examples section that runs (issue #17 item 6); the modules above run
#: their examples.
DOCUMENTED = [
    TradingAlgorithm.order,
    TradingAlgorithm.order_value,
    TradingAlgorithm.order_percent,
    TradingAlgorithm.order_target,
    TradingAlgorithm.order_target_value,
    TradingAlgorithm.order_target_percent,
    TradingAlgorithm.batch_market_order,
    TradingAlgorithm.cancel_order,
    TradingAlgorithm.get_open_orders,
    TradingAlgorithm.get_order,
    BarData.current,
    BarData.history,
    BarData.can_trade,
    GridSearch.run,
    WalkForward.run,
    rustybt.backtest,
]
#: Classes: their constructor's Parameters and Raises, and Examples (no Returns).
DOCUMENTED_CLASSES = [GridSearch, RandomSearch, BayesianSearch, WalkForward]

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0


def _sections(obj) -> set[str]:
    """The numpy-style section headings of ``obj``'s docstring (a title underlined by
    dashes of its length)."""
    lines = [line.strip() for line in (obj.__doc__ or "").splitlines()]
    return {
        title for title, rule in itertools.pairwise(lines) if title and rule == "-" * len(title)
    }


def _unskipped_examples(obj) -> list:
    tests = doctest.DocTestFinder(recurse=False).find(obj, obj.__qualname__)
    return [
        ex
        for t in tests
        for ex in t.examples
        if not ex.options.get(doctest.OPTIONFLAGS_BY_NAME["SKIP"])
    ]


@pytest.mark.parametrize("obj", DOCUMENTED + DOCUMENTED_CLASSES, ids=lambda o: o.__qualname__)
def test_public_docstrings_have_numpy_sections_and_running_examples(obj):
    wanted = {"Parameters", "Raises", "Examples"}
    if obj not in DOCUMENTED_CLASSES:
        wanted.add("Returns")
    if obj in (GridSearch.run, WalkForward.run):  # no parameters to describe
        wanted.discard("Parameters")
    assert wanted <= _sections(obj), f"{obj.__qualname__} lacks {wanted - _sections(obj)}"
    assert _unskipped_examples(obj), f"{obj.__qualname__} has no example that runs"


def _readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_blocks_run_and_print_what_they_compute(tmp_path):
    """Each block, in order (the later ones use the bundle the first ingests), in a fresh
    RUSTYBT_ROOT: it runs and prints."""
    blocks = _readme_blocks()
    assert blocks
    env = {**os.environ, "RUSTYBT_ROOT": str(tmp_path / "root")}
    for n, block in enumerate(blocks, 1):
        assert "print(" in block, f"README Python block {n} prints nothing"
        proc = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"README Python block {n} failed:\n{proc.stderr}"
        assert proc.stdout.strip(), f"README Python block {n} printed nothing"
