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
    assert got["W1-50 vs zipline-reloaded (its faster way)"]["ratio"] == pytest.approx(120.0)
    assert got["W1-50 vs zipline-reloaded (its faster way)"]["met"] is True
    assert got["G1 (2 workers, cold pool) vs zipline-reloaded (its faster way)"]["met"] is False
    assert got["G1 (1 worker) vs zipline-reloaded (its faster way)"]["ratio"] == pytest.approx(50.0)
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


# ---- the harness's logic: zipline's two ways, load/run columns, R1 ---------------------------


def _row(scenario, engine, wall, assets=50, ledger="decimal", **kw):
    return {
        "scenario": scenario,
        "workload": kw.pop("workload", scenario.split("-")[0]),
        "engine": engine,
        "median_wall_s": wall,
        "assets": assets,
        "ledger": ledger,
        **kw,
    }


def _w1_rows(run_algorithm_s: float, preloaded_s: float) -> list[dict]:
    return [
        _row("W1", "rust", 0.05, load_s=0.001),
        _row("W1-array", "rust", 0.04, load_s=0.001, workload="W1"),
        _row(
            "W1",
            "zipline-reloaded",
            run_algorithm_s,
            ledger="float",
            way="run_algorithm",
            load_s=None,
            load_inside=True,
        ),
        _row(
            "W1",
            "zipline-reloaded-preloaded",
            preloaded_s,
            ledger="float",
            way="preloaded",
            load_s=0.4,
            load_inside=False,
        ),
        _row("W1", "backtrader", 4.0, ledger="float", load_s=0.2, load_inside=False),
    ]


def test_target_ratio_uses_ziplines_faster_way():
    got = {c["what"]: c for c in peers.comparisons(_w1_rows(6.0, 4.0))}
    fast = got["W1-50 vs zipline-reloaded (its faster way)"]
    assert fast["peer_s"] == 4.0 and fast["ratio"] == pytest.approx(80.0)
    assert fast["target"] == 100 and fast["met"] is False
    assert "TradingAlgorithm.run" in fast["uses"] and "rustybt W1 run" in fast["uses"]
    slow = got["W1-50 vs zipline-reloaded (its slower way)"]
    assert slow["peer_s"] == 6.0 and slow["target"] is None and slow["met"] is None
    assert "run_algorithm" in slow["uses"]
    # whichever way is faster on the day is the one the target uses
    got = {c["what"]: c for c in peers.comparisons(_w1_rows(3.0, 4.0))}
    fast = got["W1-50 vs zipline-reloaded (its faster way)"]
    assert fast["peer_s"] == 3.0 and "run_algorithm" in fast["uses"]
    assert got["W1-array-50 vs zipline-reloaded (its faster way)"]["ratio"] == pytest.approx(75.0)


def test_zipline_fastest_picks_the_least_run_time():
    rows = _w1_rows(6.0, 4.0)
    assert peers.zipline_fastest(rows, "W1", 50)["engine"] == "zipline-reloaded-preloaded"
    assert peers.zipline_fastest(rows, "W1", 10) is None
    assert peers.zipline_fastest(rows, "M1") is None


def test_scenario_tables_have_load_run_total_and_what_the_ratio_uses():
    tables = peers.scenario_tables(_w1_rows(6.0, 4.0))
    assert list(tables) == ["W1"]
    by_engine = {e["engine"]: e for e in tables["W1"] if e["scenario"] == "W1"}
    ra = by_engine["zipline-reloaded"]
    assert ra["load_inside"] and ra["load_s"] is None and ra["total_s"] == 6.0
    assert ra["ratio"] == pytest.approx(120.0) and "load inside" in ra["uses"]
    pre = by_engine["zipline-reloaded-preloaded"]
    assert pre["load_s"] == 0.4 and pre["run_s"] == 4.0 and pre["total_s"] == pytest.approx(4.4)
    assert pre["ratio"] == pytest.approx(80.0) and "load apart" in pre["uses"]
    assert by_engine["rust"]["ratio"] is None and by_engine["rust"]["load_s"] == 0.001


def test_printed_tables_name_the_columns_and_the_figures(tmp_path):
    from rich.console import Console

    console = Console(file=(tmp_path / "out.txt").open("w"), width=400)
    peers._print_tables(_w1_rows(6.0, 4.0), {}, [], console)
    console.file.close()
    out = (tmp_path / "out.txt").read_text()
    for header in ("load s", "run s", "total s", "ratio", "ratio uses"):
        assert header in out
    assert "inside" in out  # run_algorithm's load
    assert "against zipline-reloaded the target uses its faster way" in out
    assert "zipline TradingAlgorithm.run run (load apart) ÷ rustybt W1 run" in out


def test_rustybt_r1_record_splits_into_cold_and_warm():
    r = _row(
        "R1",
        "rust",
        4.0,
        assets=1,
        open_s=0.002,
        median_warm_s=2.0,
        warm_wall_s=[2.0],
        warm_cpu_s=[0.01],
        asset_bars=2148 * 60,
        reference_fills=[["2004-11-17", -57.0, 169.02]],
    )
    cold, warm = peers.rustybt_records(r, "R1")
    assert (cold["scenario"], cold["median_wall_s"], cold["load_s"]) == ("R1", 4.0, 0.002)
    assert (warm["scenario"], warm["median_wall_s"], warm["way"]) == ("R1-warm", 2.0, "warm")
    assert "reference_fills" in cold and "reference_fills" not in warm
    (w1,) = peers.rustybt_records(_row("W1", "rust", 0.1, open_s=0.003), "W1")
    assert w1["load_s"] == 0.003 and w1["load_inside"] is False


def test_r1_targets():
    """Cold sweeps against backtesting.py's first optimize of a process, warm ones against
    its later calls."""
    bpy = _row(
        "R1", "backtesting.py", 3.0, assets=1, ledger="float", single_run_s=0.1, first_call_s=4.0
    )
    rows = [
        _row("R1", "rust", 3.5, assets=1, single_run_s=0.15),
        _row("R1-warm", "rust", 1.2, assets=1, workload="R1"),
        _row("R1-array", "rust", 1.6, assets=1, workload="R1"),
        _row("R1-array-warm", "rust", 1.0, assets=1, workload="R1"),
        bpy,
    ]
    got = {c["what"]: c for c in peers.comparisons(rows)}
    cold = got["R1 (cold pool, pandas history) vs backtesting.py optimize (first call)"]
    assert cold["peer_s"] == 4.0 and cold["met"] is True and cold["target"] == "rustybt < peer"
    assert "first optimize of the process" in cold["uses"]
    later = got["R1 (cold pool, pandas history) vs backtesting.py optimize (later calls)"]
    assert later["peer_s"] == 3.0 and later["met"] is None
    warm = got["R1 (warm pool, pandas history) vs backtesting.py optimize (later calls)"]
    assert warm["ratio"] == pytest.approx(2.5) and warm["met"] is True
    array_cold = got["R1 (cold pool, array history) vs backtesting.py optimize (first call)"]
    assert array_cold["ratio"] == pytest.approx(2.5) and array_cold["met"] is True
    array_warm = got["R1 (warm pool, array history) vs backtesting.py optimize (later calls)"]
    assert array_warm["ratio"] == 3.0
    one = got["R1, one backtest of the reference cell vs backtesting.py's"]
    assert one["ratio"] == pytest.approx(0.1 / 0.15) and one["met"] is None
    assert not any("ceiling" in what for what in got)  # no floor measured: no ceiling row


def test_r1_ceiling_uses_the_cells_own_numpy_shared_by_the_workers():
    bpy = _row("R1", "backtesting.py", 0.75, assets=1, ledger="float", first_call_s=0.8)
    rows = [
        _row("R1", "rust", 1.5, assets=1, strategy_floor_s=1.1, workers=2),
        _row("R1-array", "rust", 1.1, assets=1, workload="R1", strategy_floor_s=0.96, workers=2),
        bpy,
    ]
    got = {c["what"]: c for c in peers.comparisons(rows)}
    (what,) = [w for w in got if w.startswith("R1 ceiling")]
    ceiling = got[what]
    # the smaller floor of the two runs, over 2 workers, against the later optimize calls
    assert ceiling["rustybt_s"] == pytest.approx(0.48) and ceiling["peer_s"] == 0.75
    assert ceiling["ratio"] == pytest.approx(0.75 / 0.48) and ceiling["met"] is False
    assert "2 workers" in what and "own NumPy" in ceiling["uses"]


def test_p1_ceilings_from_both_sides():
    rows = [
        _row("P1", "rust", 0.08, assets=500, custom_factor_s=0.027),
        _row("P1", "zipline-reloaded", 0.39, assets=500, ledger="float", custom_factor_s=0.048),
    ]
    got = {c["what"]: c for c in peers.comparisons(rows)}
    ours = got["P1 ceiling: zipline-reloaded vs the CustomFactor's own NumPy"]
    theirs = got["P1 ceiling: zipline-reloaded vs its own CustomFactor NumPy"]
    assert ours["ratio"] == pytest.approx(0.39 / 0.027) and ours["met"] is False
    assert theirs["ratio"] == pytest.approx(0.39 / 0.048) and theirs["met"] is False
    assert "zipline-reloaded CustomFactor NumPy run" in theirs["uses"]


def test_r1_cold_samples_come_one_per_process():
    from rustybt.tooling.bench import r1

    def child(cold, warm):
        return {
            "cold_wall_s": [cold],
            "cpu_s": [0.01],
            "warm_wall_s": warm,
            "warm_cpu_s": [0.01] * len(warm),
            "single_run_s": 0.1,
            "open_s": 0.001,
            "peak_rss_mb": 100.0,
            "asset_bars": 2148 * 60,
            "strategy_floor_s": 1.0 + cold / 10,
        }

    merged = r1.merge_runs([child(3.0, [2.0, 2.2]), child(3.4, [2.1, 1.9]), child(2.9, [2.4])])
    assert merged["cold_wall_s"] == [3.0, 3.4, 2.9] and merged["median_wall_s"] == 3.0
    assert merged["strategy_floor_s"] == pytest.approx(1.29)  # the fastest process's floor
    assert merged["median_warm_s"] == 2.1 and merged["processes"] == 3


def test_small_ratios_do_not_print_as_zero():
    assert peers.format_ratio(30.49) == "30.5x"
    assert peers.format_ratio(0.0066) == "0.007x"


def test_compare_fills():
    ours = [["2004-11-17", -57.0, 169.02], ["2004-12-06", 108.0, 179.13]]
    same = [["2004-11-17", -59.0, 169.02], ["2004-12-06", 111.0, 179.13]]
    v = peers.compare_fills(ours, same)
    assert v["same_sessions_and_prices"] and v["shares_differ"] == 2
    assert "the same 2 fill sessions" in peers.describe_fills(v)
    v = peers.compare_fills(ours, [["2004-11-17", 59.0, 169.02], ["2004-12-07", 1.0, 180.0]])
    assert not v["same_sessions_and_prices"]
    assert v["only_ours"] == ["2004-12-06"] and v["only_theirs"] == ["2004-12-07"]
    assert v["side_differs"] == [["2004-11-17", -57.0, 59.0]]
    assert "DIFFER" in peers.describe_fills(v)


def test_r1_grid_is_the_quick_starts_ranges_all_60_cells():
    from rustybt.tooling.bench import r1

    assert r1.N1S == [5, 10, 15, 20, 25]
    assert r1.N2S == [10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65]
    assert len(r1.R1_GRID) == 60 == len(set(r1.R1_GRID))
    assert r1.REFERENCE_COMBO in r1.R1_GRID
    assert r1.ARRAY_SCENARIO.bundle_name(1) == r1.SCENARIOS["R1"].bundle_name(1)
    assert r1.R1SmaCrossArray.parameters()["history"] == "array"


def test_run_peer_parses_the_last_json_line(tmp_path):
    venv = tmp_path / "fake"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text('#!/bin/sh\necho "progress noise"\necho \'{"median_wall_s": 1.5}\'\n')
    python.chmod(0o755)
    assert peers._run_peer(venv, {"engine": "x"}) == {"median_wall_s": 1.5}
    python.write_text("#!/bin/sh\necho 'Traceback: boom' >&2\nexit 1\n")
    assert "boom" in peers._run_peer(venv, {"engine": "x"})["error"]
    python.write_text("#!/bin/sh\necho 'not json'\n")
    assert "no JSON result" in peers._run_peer(venv, {"engine": "x"})["error"]


def test_cli_options_reach_run_peers(tmp_path, monkeypatch):
    seen = {}

    def fake_run_peers(workloads, **kwargs):
        seen.update(kwargs, workloads=workloads)
        return {"rows": [], "skipped": {}, "failed": []}

    monkeypatch.setattr(peers, "run_peers", fake_run_peers)
    argv = ["bench", "peers", "--scenario", "W1,R1", "--peers", "zipline,backtesting"]
    argv += ["--repeats", "2", "--venv", str(tmp_path), "--no-install", "--assets", "10,50"]
    assert main(argv) == 0
    assert seen["workloads"] == ["W1", "R1"]
    assert seen["peers"] == ["zipline", "backtesting"]
    assert seen["repeats"] == 2 and seen["install"] is False
    assert seen["venv"] == tmp_path and seen["assets"] == [10, 50]


# ---- with the peers virtualenv (RUSTYBT_PEERS_VENV): R1's trades against backtesting.py ------


def _peers_venv():
    import os
    from pathlib import Path

    venv = os.environ.get("RUSTYBT_PEERS_VENV")
    if not venv or not (Path(venv) / "bin" / "python").exists():
        pytest.skip("needs a peers virtualenv with backtesting.py (set RUSTYBT_PEERS_VENV)")
    found = peers.probe(Path(venv), ["backtesting"])["backtesting"]
    if not found["ok"]:
        pytest.skip(f"backtesting.py is not importable in {venv}: {found['error']}")
    return Path(venv)


def _backtesting_fills(venv, bundle, cells, tmp_path) -> dict:
    dest = peers.export_bundle(bundle, tmp_path / "export")
    config = {
        "engine": "backtesting",
        "workload": "R1",
        "mode": "trades",
        "export": str(dest),
        "bars": len(bundle.sessions),
        "cells": [list(c) for c in cells],
    }
    out = peers._run_peer(venv, config)
    assert "error" not in out, out.get("error")
    assert out["same_bars"]  # the bundle holds backtesting.py's GOOG bars exactly
    return {tuple(c["combo"]): c for c in out["cells"]}


def test_r1_makes_backtesting_pys_trades(tmp_path):
    """rustybt's R1 (zipline idiom, next-open fills) fills on the same sessions, on the
    same side and at the same prices as backtesting.py's SmaCross, on the reference cell
    and on one whose fast SMA is the longer; only the share counts differ (rustybt sizes
    at the decision bar's close, backtesting.py at the fill's open net of commission)."""
    from rustybt.tooling.bench import r1

    venv = _peers_venv()
    bundle = r1.ensure_bundle(r1.SCENARIOS["R1"].bundle_name(1), venv)
    cells = [r1.REFERENCE_COMBO, (25, 15)]
    theirs = _backtesting_fills(venv, bundle, cells, tmp_path)
    for combo in cells:
        perf, _ = r1.run_reference(bundle, combo)
        ours = r1.fills_of(perf)
        verdict = peers.compare_fills(ours, theirs[combo]["fills"])
        assert verdict["same_sessions_and_prices"], (combo, peers.describe_fills(verdict))
        assert len(ours) > 20
    # the reference cell's final values, the same trades sized apart, within 2% (the
    # other cell loses ~92% of the cash: sizing differences weigh more there)
    final = float(r1.run_reference(bundle, r1.REFERENCE_COMBO)[0]["portfolio_value"].iloc[-1])
    assert final == pytest.approx(theirs[r1.REFERENCE_COMBO]["final_value"], rel=0.02)


#: the cells of R1's grid whose fills differ from backtesting.py's, and why
#: (docs/performance/peers.md): (5, 25) has a session where SMA(5) and SMA(25) are equal
#: (2010-08-17) and NumPy's mean and pandas' rolling mean round them 1 ulp apart; the four
#: others lose ~95% of the cash, so positions are 1-6 shares and the two sizing rules
#: (whole shares, rounded down) decide whether a session trades at all
R1_CELLS_THAT_DIFFER = {(5, 25), (15, 10), (20, 10), (20, 15), (25, 10)}


def test_r1_grid_trades_against_backtesting_py(tmp_path):
    """All 60 cells: the same fill sessions, sides and prices in 55; the other five are
    the known ones above."""
    from rustybt.tooling.bench import r1

    venv = _peers_venv()
    bundle = r1.ensure_bundle(r1.SCENARIOS["R1"].bundle_name(1), venv)
    theirs = _backtesting_fills(venv, bundle, r1.R1_GRID, tmp_path)
    differ = set()
    for combo in r1.R1_GRID:
        perf, _ = r1.run_reference(bundle, combo)
        verdict = peers.compare_fills(r1.fills_of(perf), theirs[combo]["fills"])
        if not verdict["same_sessions_and_prices"]:
            differ.add(combo)
    assert differ == R1_CELLS_THAT_DIFFER


FIELDS = ("open", "high", "low", "close", "volume")


def test_r1_floor_makes_the_strategys_decisions(small_bundle, tmp_path):
    """The floor times the work R1's strategy does: it finds a crossing exactly where the
    strategy places an order, on the same closes."""
    from rustybt.tooling.bench import r1

    core = small_bundle._core
    sessions = small_bundle.sessions
    bars = {f: core.history(f, [0], core.n_bars - 1, core.n_bars)[:, 0] for f in FIELDS}
    lines = [
        f"{d.date()},{bars['open'][i]},{bars['high'][i]},{bars['low'][i]},{bars['close'][i]},"
        f"{int(bars['volume'][i])}"
        for i, d in enumerate(sessions)
    ]
    (tmp_path / "daily").mkdir()
    (tmp_path / "daily" / f"{r1.SYMBOL}.csv").write_text(
        "date,open,high,low,close,volume\n" + "\n".join(lines) + "\n"
    )
    bundle = rustybt.ingest_csvdir(tmp_path, "r1-floor-check")
    for combo in [(5, 10), (10, 20)]:
        seconds, crossings = r1.strategy_floor(bundle, [combo])
        perf, _ = r1.run_reference(bundle, combo, history="array")
        orders = {o["id"] for day in perf["orders"] for o in day}
        assert seconds > 0 and crossings > 0
        assert crossings == len(orders), combo
    # a run that starts later: the strategy's windows start at the run's first bar
    start = bundle.sessions[30]
    _, crossings = r1.strategy_floor(bundle, [(5, 10)], start=start, end=bundle.sessions[-1])
    perf = rustybt.run_algorithm(
        algorithm=r1.R1SmaCrossArray,
        bundle=bundle,
        start=start,
        end=bundle.sessions[-1],
        capital_base=r1.CAPITAL,
        params={"n1": 5, "n2": 10},
    )
    assert crossings == len({o["id"] for day in perf["orders"] for o in day}) > 0
