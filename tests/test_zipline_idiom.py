"""A script in zipline's idiom runs on rustybt with only its import lines changed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import rustybt

HERE = Path(__file__).parent / "zipline_idiom"


def _code_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_the_two_scripts_differ_only_in_import_lines():
    z, r = _code_lines(HERE / "momentum_zipline.py"), _code_lines(HERE / "momentum_rustybt.py")
    assert len(z) == len(r)
    diffs = [(a, b) for a, b in zip(z, r) if a != b]
    assert diffs, "the rustybt twin must import rustybt"
    for a, b in diffs:
        assert a.startswith("from zipline"), a
        assert b == a.replace("from zipline", "from rustybt", 1), b


def test_the_zipline_idiom_script_runs(small_bundle):
    spec = importlib.util.spec_from_file_location("momentum_rustybt", HERE / "momentum_rustybt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    perf = rustybt.run_algorithm(
        "2022-02-01",
        "2022-06-30",
        module.initialize,
        100_000,
        handle_data=module.handle_data,
        bundle="small",
    )
    assert perf["transactions"].map(len).sum() > 0
    assert perf["s000"].notna().all()
    assert perf["winners"].dropna().between(0, 4).all()
