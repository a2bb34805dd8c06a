"""Ctrl-C stops an ingest before it publishes (issue #18, item 4): the interrupt is raised
from a progress-callback hook (not by timing) and the old bundle stays exactly as it was
(before, the callback's exception was dropped and the ingest ran on and replaced it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import rustybt
import rustybt.bundles as bundles
from rustybt import _core
from rustybt.bundles import bundles_dir
from rustybt.calendars import sessions
from tests.conftest import hand_lines, write_csvdir


@pytest.fixture(autouse=True)
def _ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt here, as in a terminal, whatever this process
    inherited: a shell starts background jobs with SIGINT ignored, and Python then installs
    no handler (the signal tests then saw nothing)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _state(name: str) -> tuple[str, list[str]]:
    d = bundles_dir() / name
    return (d / "CURRENT").read_text(), sorted(p.name for p in d.iterdir())


def _interrupt_at(fraction: float, how: str = "raise"):
    """A progress callback that interrupts once ``done / total`` reaches ``fraction``:
    raising KeyboardInterrupt itself, or sending this process SIGINT (Ctrl-C's signal)."""
    calls = []

    def progress(done, total):
        calls.append(done)
        if done >= fraction * total:
            if how == "raise":
                raise KeyboardInterrupt
            signal.raise_signal(signal.SIGINT)

    return progress, calls


@pytest.mark.parametrize("how", ["raise", "signal"])
@pytest.mark.parametrize("fraction", [0.5, 1.0])  # 1.0: generated, about to be published
def test_an_interrupted_synthetic_ingest_leaves_the_bundle_as_it_was(how, fraction):
    name = f"intr-{how}-{fraction}"
    rustybt.ingest_synthetic(name, assets=40, start="2022-01-03", end="2022-03-31", seed=1)
    before = _state(name)
    dates, opens, closes = sessions("XNYS", "2022-01-03", "2022-03-31")
    progress, calls = _interrupt_at(fraction, how)
    with pytest.raises(KeyboardInterrupt):
        _core.ingest_synthetic(
            bundles_dir(), name, 40, 2, "1d", "XNYS", 4,
            dates.tolist(), opens.tolist(), closes.tolist(), progress,
        )  # fmt: skip
    assert calls and (calls[-1] < 40 or fraction == 1.0)
    assert _state(name) == before  # same CURRENT, no new version, no leftover
    assert len(rustybt.load_bundle(name).assets) == 40


def test_the_python_api_passes_the_interrupt_through(monkeypatch):
    rustybt.ingest_synthetic("intr-api", assets=5, start="2022-01-03", end="2022-03-31", seed=1)
    before = _state("intr-api")
    progress, _ = _interrupt_at(0.4)

    class Progress:  # the rich bar's hook, replaced by one that interrupts
        def __init__(self, description, show):
            pass

        def __enter__(self):
            return progress

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(bundles, "_IngestProgress", Progress)
    with pytest.raises(KeyboardInterrupt):
        rustybt.ingest_synthetic("intr-api", assets=5, start="2022-01-03", end="2022-03-31", seed=2)
    assert _state("intr-api") == before


def test_an_interrupted_csvdir_parse_publishes_nothing(tmp_path):
    files = {f"S{i:02d}": hand_lines(["10", "11", "12", "13", "14"]) for i in range(10)}
    root = write_csvdir(tmp_path, files)
    progress, calls = _interrupt_at(0.3)
    with pytest.raises(KeyboardInterrupt):
        _core.CsvDir.parse(root, "1d", 4, progress)
    assert 1 <= len(calls) < 10
    assert not (bundles_dir() / "never").exists()


def test_the_cli_exits_130_and_keeps_the_old_bundle(tmp_path):
    rustybt.ingest_synthetic("intr-cli", assets=5, start="2022-01-03", end="2022-03-31", seed=1)
    before = _state("intr-cli")
    script = tmp_path / "ctrl_c.py"
    script.write_text(
        textwrap.dedent(
            """
            import signal, sys
            import rustybt.bundles as bundles
            from rustybt.app.cli import main

            # Ctrl-C raises, as in a terminal (a background job inherits SIGINT ignored)
            signal.signal(signal.SIGINT, signal.default_int_handler)

            class Progress:  # Ctrl-C at the first progress report
                def __init__(self, description, show): pass
                def __enter__(self):
                    return lambda done, total: signal.raise_signal(signal.SIGINT)
                def __exit__(self, *exc): return False

            bundles._IngestProgress = Progress
            sys.exit(main(["ingest", "synthetic", "--bundle", "intr-cli", "--assets", "5",
                           "--start", "2022-01-03", "--end", "2022-03-31", "--seed", "9"]))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=dict(os.environ)
    )
    assert out.returncode == 130, out.stderr[-1000:]
    assert "Traceback" not in out.stderr
    assert _state("intr-cli") == before
