"""``rustybt bench peers`` without the peers: the bar export round-trips, and the command
skips cleanly when the peers virtualenv is absent or unusable. No network, nothing
installed (``--no-install`` everywhere)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt.app.cli import main
from rustybt.tooling.bench import batch_workloads, peers

FIELDS = ("open", "high", "low", "close", "volume")


def _bars(bundle) -> dict[str, np.ndarray]:
    core = bundle._core
    sids = list(range(core.n_assets))
    return {f: core.history(f, sids, core.n_bars - 1, core.n_bars) for f in FIELDS}


@pytest.fixture(scope="module")
def daily_bundle():
    return rustybt.ingest_synthetic(
        "peers-daily", assets=3, start="2022-01-03", end="2022-03-31", seed=5
    )


@pytest.fixture(scope="module")
def minute_bundle():
    return rustybt.ingest_synthetic(
        "peers-minute", assets=2, start="2023-03-01", end="2023-03-03", frequency="minute", seed=5
    )


def test_daily_export_round_trips(daily_bundle, tmp_path):
    dest = peers.export_bundle(daily_bundle, tmp_path / "export")
    got = peers.read_export(dest)
    want = _bars(daily_bundle)
    for f in FIELDS:
        np.testing.assert_array_equal(got[f], want[f])
    assert list(got["symbols"]) == ["S000", "S001", "S002"]
    np.testing.assert_array_equal(got["times"], daily_bundle._core.timestamps())
    np.testing.assert_array_equal(got["sessions"], daily_bundle.sessions.as_unit("ns").asi8)
    assert got["meta"]["content_hash"] == daily_bundle.content_hash
    # the csvdir layout (zipline's bundle reads it) ingests back to the very same bars
    again = rustybt.ingest_csvdir(dest / "csvdir", "peers-daily-again")
    assert list(again.sessions) == list(daily_bundle.sessions)
    for f, arr in _bars(again).items():
        np.testing.assert_array_equal(arr, want[f])
    # a second export of the same content is a no-op
    stamp = (dest / "bars.npz").stat().st_mtime_ns
    assert peers.export_bundle(daily_bundle, dest) == dest
    assert (dest / "bars.npz").stat().st_mtime_ns == stamp


def test_minute_export_round_trips_with_daily_bars(minute_bundle, tmp_path):
    dest = peers.export_bundle(minute_bundle, tmp_path / "export")
    got = peers.read_export(dest)
    want = _bars(minute_bundle)
    for f in FIELDS:
        np.testing.assert_array_equal(got[f], want[f])
    assert got["times"].shape == (3 * 390,)
    again = rustybt.ingest_csvdir(dest / "csvdir", "peers-minute-again", frequency="minute")
    np.testing.assert_array_equal(again._core.timestamps(), minute_bundle._core.timestamps())
    for f, arr in _bars(again).items():
        np.testing.assert_array_equal(arr, want[f])
    # zipline's minute bundles also get daily bars: rustybt's own aggregation
    daily = pd.read_csv(dest / "csvdir" / "daily" / "S001.csv", index_col=0)
    assert len(daily) == 3
    for f in FIELDS:
        np.testing.assert_array_equal(
            daily[f].to_numpy(dtype=float), minute_bundle.resample("1d", f)["S001"].to_numpy()
        )


def test_peer_weights_are_the_batch_runners(daily_bundle):
    """vectorbt gets the very matrices rustybt's batch runner gets."""
    spec = importlib.util.spec_from_file_location("peer_common", peers.SCRIPTS / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    closes = _bars(daily_bundle)["close"]
    for fast, slow in [(5, 20), (10, 30)]:
        np.testing.assert_array_equal(
            common.sma_crossover_weights(closes, fast, slow),
            batch_workloads.sma_crossover_weights(closes, fast, slow),
        )


def test_absent_venv_skips_cleanly(tmp_path, capsys):
    empty = tmp_path / "no-venv"
    empty.mkdir()
    history = tmp_path / "history.jsonl"
    argv = ["bench", "peers", "--scenario", "W1", "--quick", "--no-install"]
    argv += ["--venv", str(empty), "--history", str(history)]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "skipping zipline" in out and "skipping backtrader" in out
    assert f"no peers virtualenv at {empty}" in out
    assert "--no-install forbids creating it" in out
    assert "nothing to compare" in out
    assert not history.exists()
    assert list(empty.iterdir()) == []  # nothing created


def test_unusable_venv_skips_cleanly(tmp_path, capsys):
    venv = tmp_path / "broken"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\necho 'this python is broken' >&2\nexit 3\n")
    python.chmod(0o755)
    argv = ["bench", "peers", "--scenario", "G1,B1", "--peers", "vectorbt", "--no-install"]
    argv += ["--venv", str(venv), "--history", str(tmp_path / "h.jsonl")]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "skipping vectorbt" in out
    assert "does not run" in out and "this python is broken" in out
    assert not (tmp_path / "h.jsonl").exists()


def test_missing_packages_skip_without_installing(tmp_path):
    """A venv whose python runs but lacks a peer: that peer is skipped, naming the import."""
    venv = tmp_path / "bare"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    probe = {"zipline": {"ok": False, "error": "import zipline: ModuleNotFoundError: x"}}
    python.write_text(f"#!/bin/sh\necho '{json.dumps(probe)}'\n")
    python.chmod(0o755)
    out = peers.run_peers(["W1"], peers=["zipline"], venv=venv, install=False, say=lambda m: None)
    assert out["rows"] == []
    assert "ModuleNotFoundError" in out["skipped"]["zipline"]


def test_bad_arguments_are_refused(tmp_path, capsys):
    assert main(["bench", "peers", "--scenario", "W9", "--venv", str(tmp_path)]) == 2
    assert "W1, M1, G1, B1, R1" in " ".join(capsys.readouterr().err.split())


def test_comparisons_against_targets():
    def row(scenario, engine, wall, assets=50, ledger="decimal", **kw):
        return {
            "scenario": scenario,
            "engine": engine,
            "median_wall_s": wall,
            "assets": assets,
            "ledger": ledger,
            **kw,
        }

    rows = [
        row("W1", "rust", 0.05),
        row("W1", "zipline-reloaded", 6.0, ledger="float"),
        row("G1", "rust", 2.0, assets=10, wall_1_worker_s=3.0),
        row("G1", "zipline-reloaded", 150.0, assets=10, ledger="float"),
        row("G1-batch", "rust", 0.2, assets=10),
        row("G1-batch", "vectorbt", 0.1, assets=10, ledger="float"),
    ]
    got = {c["what"]: c for c in peers.comparisons(rows)}
    assert got["W1-50 vs zipline-reloaded"]["ratio"] == pytest.approx(120.0)
    assert got["W1-50 vs zipline-reloaded"]["met"] is True
    assert got["G1 (2 workers) vs zipline-reloaded (serial)"]["met"] is False
    assert got["G1 (1 worker) vs zipline-reloaded (serial)"]["ratio"] == pytest.approx(50.0)
    assert got["G1-batch (decimal) vs vectorbt warm"]["met"] is False


def test_conformance_rewrites_import_lines_only_and_compares_fills_by_day():
    from rustybt.tooling.bench.conformance import compare, rewrite_imports

    source = (
        "from zipline.api import (\n    record,\n)\n"
        "import zipline.finance\nname = 'zipline'  # zipline\n"
    )
    assert rewrite_imports(source) == (
        "from rustybt.api import (\n    record,\n)\n"
        "import rustybt.finance\nname = 'zipline'  # zipline\n"
    )
    day = [{"longs": ["A"], "shorts": ["B"], "universe": 2}]
    ours = {
        "outputs": day,
        "fills": [["2022-02-01", "B", -3, 10.0], ["2022-02-01", "A", 5, 20.000000000001]],
        "portfolio_value": [100.0],
    }
    theirs = {
        "outputs": day,
        "fills": [["2022-02-01", "A", 5, 20.0], ["2022-02-01", "B", -3, 10.0]],
        "portfolio_value": [100.0 + 1e-9],
    }
    assert compare(ours, theirs)["same"]
    theirs["fills"][1][2] = -4
    assert compare(ours, theirs)["fills_differ"] == [1]
    theirs["outputs"] = [{"longs": ["B"], "shorts": ["A"], "universe": 2}]
    assert compare(ours, theirs)["outputs_differ"] == [0]
