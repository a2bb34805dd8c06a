"""Bundles: deterministic synthetic data, csvdir round trips, atomic writes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import rustybt
from rustybt.errors import IngestError
from tests.conftest import write_csvdir


def test_synthetic_is_deterministic_across_roots(tmp_path, monkeypatch):
    spec = dict(assets=3, start="2022-01-03", end="2022-03-31", seed=11)
    a = rustybt.ingest_synthetic("det", **spec)
    monkeypatch.setenv("RUSTYBT_ROOT", str(tmp_path))
    b = rustybt.ingest_synthetic("det", **spec)
    c = rustybt.ingest_synthetic("det-other-seed", **{**spec, "seed": 12})
    assert a.path != b.path
    assert a.content_hash == b.content_hash
    assert c.content_hash != a.content_hash
    ta = pq.read_table(a.path / "bars.parquet")
    tb = pq.read_table(b.path / "bars.parquet")
    assert ta.equals(tb)
    assert list(a.assets.symbol) == ["S000", "S001", "S002"]


def test_bundle_attributes(small_bundle):
    b = rustybt.load_bundle("small")
    assert b.name == "small" and b.frequency == "1d" and b.calendar == "XNYS"
    assert len(b.content_hash) == 64
    assert b.start == pd.Timestamp("2022-01-03", tz="UTC")
    assert b.end == pd.Timestamp("2022-06-30", tz="UTC")
    assert len(b.sessions) == 124  # XNYS sessions in H1 2022
    assert list(b.assets.columns) == ["symbol", "exchange", "start_date", "end_date"]
    assert b.assets.index.name == "sid"
    # opened bundles are cached per version directory
    assert rustybt.load_bundle("small") is b
    assert rustybt.load_bundle(b.path) is not None


def test_parquet_prices_are_decimal128_at_the_bundle_scale(small_bundle):
    table = pq.read_table(small_bundle.path / "bars.parquet")
    import pyarrow as pa

    assert pa.types.is_decimal(table.schema.field("close").type)
    assert table.schema.field("close").type.scale == 4
    assert pa.types.is_timestamp(table.schema.field("ts").type)
    closes = table.column("close").to_pylist()
    assert all(c == c.quantize(Decimal("0.01")) for c in closes[:200])  # two decimals


def test_minute_and_hourly_bars_are_stamped_with_their_close(tmp_path):
    m = rustybt.ingest_synthetic(
        "m1", assets=2, start="2023-03-01", end="2023-03-03", frequency="minute"
    )
    assert m.frequency == "1m"
    assert len(m.bar_times) == 3 * 390
    ny = m.bar_times.tz_convert("America/New_York")
    assert ny[0].strftime("%H:%M") == "09:31" and ny[389].strftime("%H:%M") == "16:00"
    h = rustybt.ingest_synthetic(
        "h1", assets=2, start="2023-07-03", end="2023-07-06", frequency="1h"
    )
    # July 3rd 2023 is an early close (13:00): 10:30, 11:30, 12:30, 13:00
    ny = h.bar_times.tz_convert("America/New_York")
    first_day = [t.strftime("%H:%M") for t in ny if t.day == 3]
    assert first_day == ["10:30", "11:30", "12:30", "13:00"]
    later_day = [t.strftime("%H:%M") for t in ny if t.day == 5]
    assert later_day == ["10:30", "11:30", "12:30", "13:30", "14:30", "15:30", "16:00"]


def test_csvdir_round_trip_is_exact(tmp_path):
    rows = {
        "XYZ": [
            "2022-01-03,100.1234,101.5,99.25,100.5,1200",
            "2022-01-04,100.5,102,100.0001,101.9999,1300",
            "2022-01-05,101,101,98.7,99.1,0",
        ],
        "ABC": ["2022-01-04,5.01,5.02,5,5.02,10", "2022-01-05,5,5.5,4.99,5.25,20"],
    }
    write_csvdir(tmp_path, rows)
    b = rustybt.ingest_csvdir(tmp_path, "roundtrip")
    assert list(b.assets.symbol) == ["ABC", "XYZ"]  # sids in symbol order
    closes = b._core.history("close", [0, 1], 2, 3)
    np.testing.assert_array_equal(closes[:, 1], [100.5, 101.9999, 99.1])
    assert np.isnan(closes[0, 0]) and closes[1:, 0].tolist() == [5.02, 5.25]
    table = pq.read_table(b.path / "bars.parquet").to_pandas()
    xyz = table[table.sid == 1]
    assert xyz["low"].tolist() == [Decimal("99.2500"), Decimal("100.0001"), Decimal("98.7000")]
    assert xyz["volume"].tolist() == [1200, 1300, 0]
    assert b.assets.loc[0, "start_date"] == pd.Timestamp("2022-01-04", tz="UTC")


def test_more_decimals_than_the_price_scale_needs_a_larger_scale(tmp_path):
    write_csvdir(tmp_path, {"P": ["2022-01-03,1.123456,1.2,1.1,1.15,5"]})
    with pytest.raises(
        IngestError, match=r"P.csv:2: column 'open': '1.123456' has 6 decimal places.*--price-scale"
    ):
        rustybt.ingest_csvdir(tmp_path, "scale4")
    b = rustybt.ingest_csvdir(tmp_path, "scale6", price_scale=6)
    assert b.price_scale == 6


def test_reingest_replaces_and_a_crash_mid_write_leaves_the_old_bundle(tmp_path):
    write_csvdir(tmp_path / "v1", {"AAA": ["2022-01-03,10,11,9,10,100"]})
    write_csvdir(tmp_path / "v2", {"AAA": ["2022-01-03,20,21,19,20,100"]})
    first = rustybt.ingest_csvdir(tmp_path / "v1", "atomic")
    script = "import rustybt, sys; rustybt.ingest_csvdir(sys.argv[1], 'atomic')"
    for failpoint in ("ingest-after-bars", "ingest-before-pointer"):
        env = {**os.environ, "RUSTYBT_FAILPOINT": failpoint}
        proc = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "v2")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode != 0, proc.stderr
        assert f"failpoint '{failpoint}' hit" in proc.stderr
        # a fresh process still sees the first bundle, whole
        check = subprocess.run(
            [
                sys.executable,
                "-c",
                "import rustybt; b = rustybt.load_bundle('atomic'); print(b.content_hash)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert check.stdout.strip() == first.content_hash
    second = rustybt.ingest_csvdir(tmp_path / "v2", "atomic")
    assert second.content_hash != first.content_hash
    assert rustybt.load_bundle("atomic").content_hash == second.content_hash
    leftovers = [p.name for p in (second.path.parent).iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_ingest_reports_progress(tmp_path):
    from rustybt import _core
    from rustybt.bundles import bundles_dir
    from rustybt.calendars import sessions

    calls = []
    dates, opens, closes = sessions("XNYS", "2022-01-03", "2022-01-31")
    _core.ingest_synthetic(
        bundles_dir(),
        "progress",
        250,
        1,
        "1d",
        "XNYS",
        4,
        dates.tolist(),
        opens.tolist(),
        closes.tolist(),
        lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (250, 250)
    assert 50 <= len(calls) <= 101  # throttled to about a hundred updates
    assert all(a[0] < b[0] for a, b in itertools.pairwise(calls))
    files = {f"S{i}": ["2022-01-03,10,11,9,10,100"] for i in range(7)}
    write_csvdir(tmp_path, files)
    seen = []
    _core.CsvDir.parse(tmp_path, "1d", 4, lambda d, t: seen.append((d, t)))
    assert seen == [(i, 7) for i in range(1, 8)]


def test_always_open_calendar_and_warm_up_before_start(small_bundle):
    crypto = rustybt.ingest_synthetic(
        "crypto", assets=2, start="2023-07-01", end="2023-07-09", calendar="24/7"
    )
    assert len(crypto.sessions) == 9  # weekends included
    assert crypto.sessions[0].day_name() == "Saturday"
    seen = []

    class WarmUp(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            seen.append(data.history(self.symbol("S000"), "close", 30, "1d", return_type="array"))

    # the run starts in March; the window reaches back into the bundle's earlier bars
    rustybt.run_algorithm(
        algorithm=WarmUp, bundle=small_bundle, start="2022-03-01", end="2022-03-04"
    )
    assert not np.isnan(seen[0]).any()
    full = small_bundle._core.history(
        "close", [0], int(small_bundle.sessions.get_loc("2022-03-01")), 30
    )[:, 0]
    np.testing.assert_array_equal(seen[0], full)


def test_adjustments_naming_an_unknown_asset_are_refused_on_open(tmp_path, small_bundle):
    """An ``adjustments.json`` naming an unknown sid (or a split of 0) is refused when the
    bundle opens, naming the file: the ledger would otherwise index past its positions."""
    import json
    import shutil

    import rustybt
    from rustybt.errors import BundleError

    version = Path(small_bundle.path)
    for name, adjustments in (
        ("unknown", [{"kind": "split", "sid": 99, "date": 19000, "ratio": "2"}]),
        ("zero", [{"kind": "split", "sid": 0, "date": 19000, "ratio": "0"}]),
    ):
        copy = tmp_path / name
        shutil.copytree(version, copy)
        (copy / "adjustments.json").write_text(json.dumps(adjustments))
        with pytest.raises(BundleError, match=r"adjustments\.json is corrupt: adjustment 0: "):
            rustybt.load_bundle(copy)
