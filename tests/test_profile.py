"""``rustybt profile``: the report's tables, the pstats file, the flame graph, and the rules
that bucket functions and frames."""

from __future__ import annotations

import cProfile
import importlib.util
import os
import pstats
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import rustybt
from rustybt.app.cli import main
from rustybt.tooling import profile

# Most of handle_data's time is in Rust calls made from the strategy's own frame, so the
# native flame graph keeps strategy frames (py-spy drops samples of Python code running
# inside the Rust loop's callbacks: see profile.native_view).
STRATEGY = """
import rustybt


class Busy(rustybt.TradingAlgorithm):
    def initialize(self, context):
        context.assets = self.symbols("S000", "S001", "S002")

    def handle_data(self, context, data):
        for _ in range(500):
            closes = data.history(context.assets, "close", 5, "1d", return_type="array")
        for asset, c in zip(context.assets, closes[-1]):
            self.order_target_percent(asset, 0.3 if c > closes[0].mean() else 0.0)
"""

PKG = Path(rustybt.__file__).parent


@pytest.fixture(scope="module")
def tiny_bundle() -> rustybt.Bundle:
    return rustybt.ingest_synthetic(
        "profile-tiny", assets=3, start="2022-01-03", end="2022-02-28", seed=5
    )


def _py_spy_works() -> bool:
    """Whether py-spy can attach to a process here (ptrace allowed)."""
    spy = profile._py_spy()
    if spy is None:
        return False
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)
        done = subprocess.run([spy, "dump", "--pid", str(sleeper.pid)], capture_output=True)
        return done.returncode == 0
    finally:
        sleeper.kill()
        sleeper.wait()


def _table(report: str, heading: str) -> list[list[str]]:
    """The body rows of the first Markdown table after ``heading``."""
    section = report.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split(" | ")])
        elif rows:
            break
    return rows[2:]  # header and alignment rows


def _pct(cell: str) -> float:
    return float(cell.strip("*%"))


def test_profile_writes_report_pstats_and_flame_graph(tiny_bundle, tmp_path):
    strategy = tmp_path / "busy.py"
    strategy.write_text(STRATEGY)
    out = tmp_path / "prof"
    argv = ["profile", str(strategy), "--bundle", "profile-tiny", "--out", str(out)]
    assert main([*argv, "--memory", "--sample-seconds", "0.5", "--rate", "200"]) == 0
    report = (out / "report.md").read_text()

    # the module breakdown: every bucket once, shares adding up to 100%
    rows = _table(report, "### By module")
    assert [r[0] for r in rows] == list(profile.BUCKETS)
    assert sum(_pct(r[2]) for r in rows) == pytest.approx(100.0, abs=0.5)
    shares = {r[0]: _pct(r[2]) for r in rows}
    assert shares["user code"] > 0 and shares["data"] > 0 and shares["engine"] > 0

    top = _table(report, "### Top 20 functions by own time")
    assert [r[0] for r in top] == [str(i) for i in range(1, 21)]
    tottimes = [float(r[4]) for r in top]
    assert tottimes == sorted(tottimes, reverse=True)

    # the pstats file loads and saw handle_data once per bar
    stats = pstats.Stats(str(out / "profile.pstats"))
    handle = [
        v for (file, _, name), v in stats.stats.items()
        if name == "handle_data" and os.path.realpath(file) == os.path.realpath(strategy)
    ]  # fmt: skip
    assert len(handle) == 1 and handle[0][1] == len(tiny_bundle.sessions)

    peak = re.search(r"peak RSS of a fresh process running the backtest: \*\*(\d+) MB", report)
    assert peak and int(peak[1]) > 0
    assert "tracemalloc" in report

    if _py_spy_works():
        assert "py-spy failed" not in report
        svg = ET.parse(out / "flame.svg").getroot()
        assert svg.tag.endswith("svg")
        assert "busy.py" in (out / "flame.svg").read_text()
        assert "busy.py" in (out / "stacks.txt").read_text()
        split = _table(report, "### Time inside calls into Rust, by crate")
        assert any(r[0].startswith("Rust: ") for r in split)
        assert sum(_pct(r[3]) for r in split) == pytest.approx(100.0, abs=0.5)
    else:
        assert "**py-spy failed**" in report
        assert not (out / "flame.svg").exists()


def test_profile_reports_a_py_spy_failure(tiny_bundle, tmp_path, monkeypatch):
    fake = tmp_path / "py-spy"
    fake.write_text("#!/bin/sh\necho 'Permission Denied: try running as root' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(profile, "_py_spy", lambda: str(fake))
    strategy = tmp_path / "busy.py"
    strategy.write_text(STRATEGY)
    out = tmp_path / "prof"
    argv = ["profile", str(strategy), "--bundle", "profile-tiny", "--out", str(out)]
    assert main([*argv, "--no-native", "--sample-seconds", "0"]) == 0
    report = (out / "report.md").read_text()
    assert "**py-spy failed**" in report
    assert "Permission Denied" in report
    assert not (out / "flame.svg").exists()
    # the rest of the report is still there
    assert len(_table(report, "### Top 20 functions by own time")) == 20
    assert "peak RSS of a fresh process" in report


def test_generic_builtins_are_charged_to_their_callers(tmp_path):
    code = tmp_path / "strat.py"
    code.write_text("def work(items):\n    return sum(len(x) for x in items)\n")
    spec = importlib.util.spec_from_file_location("strat_for_profile", code)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    prof = cProfile.Profile()
    prof.enable()
    module.work([[1, 2]] * 20_000)
    prof.disable()
    view = profile.cprofile_view(pstats.Stats(prof), profile.Classifier(code))
    assert sum(view["buckets"].values()) == pytest.approx(view["total"])
    rows = {r["name"]: r for r in profile.cprofile_view(
        pstats.Stats(prof), profile.Classifier(code), top=100
    )["top"]}  # fmt: skip
    assert rows["<built-in method builtins.len>"]["bucket"] == "user code (via callers)"
    assert rows["<built-in method builtins.len>"]["calls"] == "20000"


def test_builtin_labels():
    b = profile.Classifier.builtin
    assert b("<method 'order' of 'rustybt._core.Simulation' objects>") == "ledger"
    assert b("<method 'run' of 'rustybt._core.Simulation' objects>") == "engine"
    assert b("<method 'perf' of 'rustybt._core.Simulation' objects>") == "metrics"
    assert b("<method '_history' of 'rustybt._core.BarData' objects>") == "data"
    assert b("<built-in method rustybt._core.cumulative_risk>") == "metrics"
    assert b("<method 'reduce' of 'numpy.ufunc' objects>") == "pandas/numpy"
    assert b("<built-in method builtins.len>") is None
    assert b("<method 'get' of 'dict' objects>") is None


def test_native_frames_and_the_rust_split(tmp_path):
    strategy = tmp_path / "strategy.py"
    strategy.write_text("")
    runner, algorithm = PKG / "runner.py", PKG / "algorithm.py"
    stacks = tmp_path / "stacks.txt"
    stacks.write_text(
        f"_run ({runner}:226);run (/src/rustybt/crates/pybind/src/sim.rs:700);"
        "ge (/rustc/abc/library/core/src/cmp.rs:10) 3\n"
        f"_run ({runner}:226);Busy.handle_data ({strategy}:5) 1\n"
        f"_run ({runner}:226);Busy.handle_data ({strategy}:6);"
        f"TradingAlgorithm._place ({algorithm}:121);"
        "place_order<rust_decimal::decimal::Decimal> (/src/rustybt/crates/ledger/src/ledger.rs:214);"
        "malloc (/usr/lib/x86_64-linux-gnu/libc.so.6) 2\n"
    )
    clf = profile.Classifier(strategy)
    assert clf.frame("ge", "/rustc/abc/library/core/src/cmp.rs") is None
    assert clf.frame("malloc", "/usr/lib/x86_64-linux-gnu/libc.so.6") is None
    assert clf.frame("add", "/x/registry/src/i/rust_decimal-1.43.0/src/ops/add.rs") == (
        "Rust: rust_decimal"
    )
    view = profile.native_view(
        profile.read_stacks(stacks), clf, {"_run": 1.0, "_place": 0.5, "history": 0.2}
    )
    assert view["samples"] == 6
    assert view["sampled"] == pytest.approx(
        {"Rust: rustybt-pybind": 0.5, "Python: user code": 1 / 6, "Rust: rustybt-ledger": 1 / 3}
    )
    assert view["rust_split"] == pytest.approx(
        {"Rust: rustybt-pybind": 1.0, "Rust: rustybt-ledger": 0.5, "Rust: not sampled": 0.2}
    )
