"""Long-table ingest (CSV and Parquet), with errors naming file, line/row and column."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rustybt
from rustybt.app.cli import main
from rustybt.errors import IngestError

ROWS = [
    ("BBB", "2022-01-03", 20, 21, 19, 20.5, 100),
    ("AAA", "2022-01-03", 10, 11, 9, 10.25, 50),
    ("BBB", "2022-01-04", 20.5, 22, 20, 21.75, 120),
    ("AAA", "2022-01-05", 10.25, 12, 10, 11.5, 70),
]


def _csv(path, rows, header="symbol,timestamp,open,high,low,close,volume"):
    path.write_text("\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


def test_csv_long_table_round_trip(tmp_path):
    b = rustybt.ingest_table(_csv(tmp_path / "t.csv", ROWS), "long-csv")
    assert list(b.assets.symbol) == ["AAA", "BBB"]
    closes = b._core.history("close", [0, 1], b._core.n_bars - 1, 3)
    np.testing.assert_array_equal(closes[:, 0], [10.25, np.nan, 11.5])
    np.testing.assert_array_equal(closes[:, 1], [20.5, 21.75, np.nan])
    table = pq.read_table(b.path / "bars.parquet").to_pandas()
    assert Decimal("21.7500") in set(table["close"])


def test_parquet_long_table_and_cli(tmp_path):
    df = pd.DataFrame(
        ROWS, columns=["symbol", "timestamp", "open", "high", "low", "close", "volume"]
    )
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "t.parquet")
    b = rustybt.ingest_table(tmp_path / "t.parquet", "long-pq")
    assert list(b.assets.symbol) == ["AAA", "BBB"]
    assert main(["ingest", "table", str(tmp_path / "t.parquet"), "--bundle", "long-cli"]) == 0
    assert rustybt.load_bundle("long-cli").content_hash == b.content_hash


def test_long_table_errors_name_the_place(tmp_path):
    bad = [*ROWS[:3], ("AAA", "2022-01-02", 10, 11, 9, 10, 5)]  # AAA goes back in time
    with pytest.raises(IngestError, match=r"t.csv:5: column 'date': timestamps not sorted"):
        rustybt.ingest_table(_csv(tmp_path / "t.csv", bad), "bad1")
    with pytest.raises(IngestError, match="column 'symbol': missing required column"):
        rustybt.ingest_table(
            _csv(
                tmp_path / "u.csv",
                [r[1:] for r in ROWS],
                header="timestamp,open,high,low,close,volume",
            ),
            "bad2",
        )
    df = pd.DataFrame(
        [(*ROWS[0][:5], 18, 100)],
        columns=["symbol", "timestamp", "open", "high", "low", "close", "volume"],
    )
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "b.parquet")
    with pytest.raises(IngestError, match=r"b.parquet row 1: column 'close': close 18 is outside"):
        rustybt.ingest_table(tmp_path / "b.parquet", "bad3")
    with pytest.raises(rustybt.errors.BundleNotFound):
        rustybt.load_bundle("bad3")
