"""docs/user-guide/data.md runs as written: its setup script, each command with the output
the page shows (times and paths aside), and its Python blocks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "user-guide" / "data.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.S)


def _normalise(text: str) -> str:
    """One line (the console wraps long ones), the ingest's time and version path out."""
    return re.sub(r" in \d+\.\d+ s at \S+", " in T s", " ".join(text.split())).strip()


def test_the_data_guide_runs_as_written(tmp_path):
    env = {**os.environ, "RUSTYBT_ROOT": str(tmp_path / "root"), "COLUMNS": "150"}
    setup, polars_block, lots_block = _blocks("python")
    subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, env=env, check=True)
    for block in _blocks("console"):
        for part in block.split("$ ")[1:]:
            command, _, shown = part.partition("\n")
            args = command.split()
            assert args[0] == "rustybt"
            proc = subprocess.run(
                [sys.executable, "-m", "rustybt", *args[1:]],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
            )
            printed = proc.stdout + proc.stderr
            assert _normalise(printed) == _normalise(shown), command
            assert (proc.returncode == 0) == (not shown.startswith("error")), command
    out = subprocess.run(
        [sys.executable, "-c", lots_block], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == re.search(r"\n# (.*)\n", lots_block).group(1)
    pytest.importorskip("polars")
    out = subprocess.run(
        [sys.executable, "-c", polars_block], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    expected = re.search(r"# (\{.*\})", polars_block).group(1)
    assert out.stdout.strip() == expected
