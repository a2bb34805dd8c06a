"""Shared fixtures. Every test run gets its own RUSTYBT_ROOT, so nothing touches ~/.rustybt."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["RUSTYBT_ROOT"] = tempfile.mkdtemp(prefix="rustybt-tests-")

import rustybt

HEADER = "date,open,high,low,close,volume"


def write_csvdir(root: Path, files: dict[str, list[str]], sub: str = "daily") -> Path:
    """Write a csvdir layout: ``files`` maps a symbol to its data lines (without header)."""
    d = root / sub
    d.mkdir(parents=True, exist_ok=True)
    for symbol, lines in files.items():
        (d / f"{symbol}.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return root


#: A hand-made 3-asset bundle over the first five XNYS sessions of 2022 (Jan 3-7).
#: open/high/low bracket the close; volume 1000 everywhere.
HAND_CLOSES = {
    "AAA": ["10", "11", "12", "13", "14"],
    "BBB": ["20", "19", "18", "17", "16"],
    "CCC": ["5", "5", "5.5", "5", "5"],
}
HAND_DATES = ["2022-01-03", "2022-01-04", "2022-01-05", "2022-01-06", "2022-01-07"]


def hand_lines(closes: list[str]) -> list[str]:
    lines = []
    for date, c in zip(HAND_DATES, closes):
        lines.append(f"{date},{c},{float(c) + 1:.2f},{float(c) - 1:.2f},{c},1000")
    return lines


@pytest.fixture(scope="session")
def hand_bundle(tmp_path_factory) -> rustybt.Bundle:
    root = tmp_path_factory.mktemp("hand")
    write_csvdir(root, {s: hand_lines(c) for s, c in HAND_CLOSES.items()})
    return rustybt.ingest_csvdir(root, "hand3")


@pytest.fixture(scope="session")
def small_bundle() -> rustybt.Bundle:
    """5 synthetic assets, daily, the first half of 2022."""
    return rustybt.ingest_synthetic("small", assets=5, start="2022-01-03", end="2022-06-30", seed=7)
