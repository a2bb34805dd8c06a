"""The benchmark suite runs (quick sizes; no timing assertions) and compare's statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rustybt.app.cli import main
from rustybt.tooling.bench.compare import compare, welch


def test_rounds_alternate_the_ledgers_and_report_the_median_ratio(tmp_path, capsys):
    history = tmp_path / "history.jsonl"
    argv = ["bench", "run", "--scenario", "noop", "--quick", "--repeats", "1",
            "--ledger", "decimal,float", "--rounds", "3", "--history", str(history)]  # fmt: skip
    assert main(argv) == 0
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    # round 1 decimal first, round 2 float first, round 3 decimal first
    assert [r["ledger"] for r in rows] == [
        "decimal",
        "float",
        "float",
        "decimal",
        "decimal",
        "float",
    ]
    out = capsys.readouterr().out
    assert "noop" in out and "3 rounds" in out
    ratios = [a["median_wall_s"] / b["median_wall_s"] for a, b in
              ((rows[0], rows[1]), (rows[3], rows[2]), (rows[4], rows[5]))]  # fmt: skip
    assert f"decimal / float = {sorted(ratios)[1]:.3f}" in out
    assert main([*argv[:-4], "--rounds", "0", "--history", str(history)]) == 2


def test_quick_suite_runs_every_scenario(tmp_path, capsys):
    history = tmp_path / "history.jsonl"
    assert (
        main(
            [
                "bench",
                "run",
                "--scenario",
                "all",
                "--quick",
                "--repeats",
                "1",
                "--ledger",
                "decimal,float",
                "--history",
                str(history),
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    assert {r["scenario"] for r in rows} >= {
        "W1",
        "W1-array",
        "W2",
        "H1",
        "M1",
        "G1",
        "G1-batch",
        "B1",
        "noop",
        "history-only",
        "orders-only",
        "pool-start",
    }
    for r in rows:
        assert r["median_wall_s"] > 0
        assert r["peak_rss_mb"] > 0
        assert r["machine"]["cores"] >= 1
    assert "decimal / float" in capsys.readouterr().out
    out = tmp_path / "report"
    assert main(["bench", "report", "--history", str(history), "--out", str(out)]) == 0
    latest, ratios = (out / "results.md").read_text().split("## Ratios")
    assert latest.count("| W1 |") == 2  # one row per ledger
    assert "| W1 | 10 | decimal / float |" in ratios
    assert (out / "dashboard.html").stat().st_size > 1000
    assert (out / "history-W1.png").stat().st_size > 1000


def _fake(path, label, scenario, walls):
    with path.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "label": label,
                    "commit": None,
                    "scenario": scenario,
                    "assets": 10,
                    "ledger": "decimal",
                    "engine": "rust",
                    "wall_s": walls,
                }
            )
            + "\n"
        )


def test_compare_verdicts_and_check(tmp_path, capsys):
    rng = np.random.default_rng(0)
    h = tmp_path / "h.jsonl"
    _fake(h, "base", "W1", list(1.0 + 0.01 * rng.standard_normal(12)))
    _fake(h, "new", "W1", list(0.8 + 0.01 * rng.standard_normal(12)))
    _fake(h, "base", "M1", list(1.0 + 0.01 * rng.standard_normal(12)))
    _fake(h, "new", "M1", list(1.3 + 0.01 * rng.standard_normal(12)))
    verdicts = {c.scenario: c.verdict for c in compare(h, "base", "new")}
    assert verdicts == {"W1": "faster", "M1": "REGRESSION"}
    assert main(["bench", "compare", "base", "new", "--history", str(h)]) == 0
    assert main(["bench", "compare", "base", "new", "--history", str(h), "--check"]) == 1
    change, lo, hi, p = welch(np.array([1.0, 1.1, 0.9, 1.0]), np.array([1.0, 1.1, 0.9, 1.0]))
    assert change == 0.0
    assert lo < 0 < hi
    assert p == pytest.approx(1.0)


def test_p3_column_data_is_the_current_cache_file_alone(small_bundle):
    """P3's memory figure is peak RSS against the bundle's column data: a cache file an
    earlier format left beside the current one must not count (it doubled the figure)."""
    from rustybt import _core
    from rustybt.bundles import cache_dir, cache_file
    from rustybt.tooling.bench.pipeline_workloads import _column_data_mb

    current = cache_file(small_bundle.content_hash)
    assert current.exists()
    stale = cache_dir() / f"{small_bundle.content_hash}.f{_core.CACHE_FORMAT - 1}.cols"
    stale.write_bytes(b"\0" * 2**20)
    try:
        assert _column_data_mb(small_bundle) == pytest.approx(current.stat().st_size / 2**20)
    finally:
        stale.unlink()
