"""The Python path of the engine's golden run (``scripts/engine_golden.py``): the same
strategy that ``crates/engine/tests/clock.rs`` runs in Rust through the engine's clock,
run here through ``rustybt._core``, must still produce the committed values."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "engine_golden.py"


def _golden_module():
    spec = importlib.util.spec_from_file_location("engine_golden", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_python_path_reproduces_the_golden_run(tmp_path):
    golden = _golden_module()
    got = golden.run(golden.build_bundle(tmp_path))
    want = json.loads(golden.GOLDEN.read_text())
    assert got == want
    # the file is not trivial: trades happened, and the leveraged run was stopped
    assert len(want["fills"]) > 10
    assert want["max_leverage_violation"].startswith(
        "account violates account constraint MaxLeverage(max_leverage=0.5)"
    )
