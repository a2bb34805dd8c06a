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
    dup = [*ROWS[:3], (*ROWS[0][:2], 10, 11, 9, 10, 5)]  # AAA's first date again
    with pytest.raises(IngestError, match=r"t.csv:5: column 'date': duplicate timestamp"):
        rustybt.ingest_table(_csv(tmp_path / "t.csv", dup), "bad1")
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


# -- what vendors ship ------------------------------------------------------------------


def _vendor_frame(n_days: int = 30, symbols=("AAA", "BBB"), dates=None):
    """Float32-derived prices (100.12999725341797), as a vendor's Parquet has them."""
    dates = pd.bdate_range("2022-03-01", periods=n_days) if dates is None else dates
    rows = []
    for k, sym in enumerate(symbols):
        for i, d in enumerate(dates):
            c = float(np.float32(100.13 + k + 0.07 * i))
            rows.append((sym, d, c, c + 0.5, c - 0.5, c, 1000 + i))
    return pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close", "volume"])


def test_float32_prices_round_on_request(tmp_path):
    frame = _vendor_frame()
    assert repr(float(frame["close"].iloc[0])) == "100.12999725341797"
    frame.to_parquet(tmp_path / "v.parquet")
    with pytest.raises(IngestError, match=r"price scale of 4: round them with round_prices=True"):
        rustybt.ingest_table(tmp_path / "v.parquet", "vendor")
    b = rustybt.ingest_table(tmp_path / "v.parquet", "vendor", round_prices=True)
    # the open/high/low/close values with more than 4 places, counted independently
    prices = frame[["open", "high", "low", "close"]].to_numpy().ravel()
    longer = sum(-Decimal(repr(float(p))).normalize().as_tuple().exponent > 4 for p in prices)
    assert longer > 0.9 * len(prices)
    assert b.ingest_report == {"rounded_prices": longer, "dropped_rows": 0}
    closes = b.bars("close").fields["close"][:, 0]
    expected = [
        float(Decimal(repr(float(c))).quantize(Decimal("0.0001"))) for c in frame["close"][:30]
    ]
    np.testing.assert_array_equal(closes, expected)
    # at the maximum scale the advice is rounding, not a larger scale
    with pytest.raises(IngestError, match=r"round_prices=True \(--round-prices\)"):
        rustybt.ingest_table(tmp_path / "v.parquet", "vendor12", price_scale=12)


def test_a_shuffled_long_table_is_the_same_bundle(tmp_path):
    frame = _vendor_frame().round(2)
    frame.to_csv(tmp_path / "sorted.csv", index=False)
    frame.sample(frac=1.0, random_state=7).to_csv(tmp_path / "shuffled.csv", index=False)
    a = rustybt.ingest_table(tmp_path / "sorted.csv", "sorted")
    b = rustybt.ingest_table(tmp_path / "shuffled.csv", "shuffled")
    assert a.content_hash == b.content_hash


def test_holidays_are_all_named_at_once_or_dropped(tmp_path):
    # business days of 2022 include ten XNYS holidays (New Year's observed is not one)
    dates = pd.bdate_range("2022-01-03", "2022-12-30")
    frame = _vendor_frame(dates=dates, symbols=("AAA",)).round(2)
    frame.to_csv(tmp_path / "h.csv", index=False)
    with pytest.raises(IngestError) as info:
        rustybt.ingest_table(tmp_path / "h.csv", "holidays")
    msg = str(info.value)
    assert "2022-01-17 is not a XNYS trading session" in msg
    assert "9 rows in all are off the calendar" in msg or "10 rows in all" in msg
    n_off = int(msg.split(" rows in all")[0].rsplit("; ", 1)[-1])
    assert "drop_non_sessions=True (--drop-non-sessions)" in msg
    b = rustybt.ingest_table(tmp_path / "h.csv", "holidays", drop_non_sessions=True)
    assert b.ingest_report["dropped_rows"] == n_off
    assert len(b.sessions) == len(dates) - n_off


def test_polars_and_pyarrow_tables_ingest_in_one_call(tmp_path):
    frame = _vendor_frame().round(2)
    frame.to_csv(tmp_path / "f.csv", index=False)
    reference = rustybt.ingest_table(tmp_path / "f.csv", "from-csv")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    assert rustybt.ingest_table(table, "from-arrow").content_hash == reference.content_hash
    assert rustybt.ingest_table(frame, "from-pandas").content_hash == reference.content_hash
    pl = pytest.importorskip("polars")
    polars_frame = pl.from_pandas(frame)
    assert rustybt.ingest_table(polars_frame, "from-polars").content_hash == reference.content_hash
    bad = frame.copy()
    bad.loc[3, "close"] = 1000.0  # above its high
    with pytest.raises(IngestError, match=r"the pandas table row 4: column 'close'"):
        rustybt.ingest_table(bad, "bad-pandas")


def test_in_memory_tables_are_read_in_place_from_their_arrow_buffers():
    from rustybt.bundles import _table_columns

    table = pa.table(
        {
            "symbol": pa.array(["AAA", "AAA"]).dictionary_encode(),
            "date": pa.array([19_360, 19_361], pa.date32()),
            "open": pa.array([10.0, 10.5]),
            "high": pa.array([11.0, 11.0]),
            "low": pa.array([9.5, 10.0]),
            "close": pa.array([10.5, 10.75]),
            "volume": pa.array([1000, 1200], pa.int64()),
        }
    )
    names, columns = _table_columns(table, "the test table")
    assert names == table.column_names
    kinds = [kind for kind, _, _ in columns]
    assert kinds == ["dict", "date", "f64", "f64", "f64", "f64", "i64"]
    for (kind, array, _), column in zip(columns, table.columns):
        if kind in ("f64", "i64"):  # no copy: the NumPy array is the Arrow buffer
            data = column.chunk(0).buffers()[1]
            assert array.__array_interface__["data"][0] == data.address
    b = rustybt.ingest_table(table, "in-place")
    assert b.bars("close").fields["close"][:, 0].tolist() == [10.5, 10.75]


def test_in_memory_tables_of_every_column_type_match_the_same_csv(tmp_path):
    """float32 read by its own digits (64.3, not 64.30000305175781), int32, tz-aware
    millisecond timestamps, a timestamp pay_date with nulls, decimals: the same bundle as
    the CSV."""
    csv = tmp_path / "t.csv"
    csv.write_text(
        "symbol,timestamp,open,high,low,close,volume,dividend,pay_date\n"
        "AAA,2022-01-03,64.3,65.5,64.1,65.25,100,0,\n"
        "AAA,2022-01-04,65.25,66,65,65.5,120,0.5,2022-01-10\n"
        "AAA,2022-01-05,65.5,66,64.5,65,130,0,\n"
    )
    want = rustybt.ingest_table(csv, "typed-csv")
    table = pa.table(
        {
            "symbol": pa.array(["AAA"] * 3, pa.large_string()),
            "timestamp": pa.array(
                pd.to_datetime(["2022-01-03", "2022-01-04", "2022-01-05"]).tz_localize("UTC")
            ).cast(pa.timestamp("ms", "UTC")),
            "open": pa.array([64.3, 65.25, 65.5], pa.float32()),
            "high": pa.array([Decimal("65.5"), Decimal("66"), Decimal("66")]),
            "low": pa.array([64.1, 65, 64.5]),
            "close": pa.array([65.25, 65.5, 65]),
            "volume": pa.array([100, 120, 130], pa.int32()),
            "dividend": pa.array([0, 0.5, 0]),
            "pay_date": pa.array([None, pd.Timestamp("2022-01-10"), None], pa.timestamp("s")),
        }
    )
    got = rustybt.ingest_table(table, "typed-arrow")
    assert got.ingest_report == {"rounded_prices": 0, "dropped_rows": 0}
    assert got.content_hash == want.content_hash
    # a null in a required column is refused by row, as an empty CSV field is
    broken = table.set_column(5, "close", pa.array([65.25, None, 65]))
    with pytest.raises(IngestError, match=r"the pyarrow table row 2: column 'close'"):
        rustybt.ingest_table(broken, "typed-bad")


def test_an_in_memory_tables_off_calendar_rows_are_named_by_row():
    frame = pd.DataFrame(
        {"symbol": ["A", "A"], "date": ["2022-01-03", "2022-01-17"], "open": [10.0, 10],
         "high": [11.0, 11], "low": [9.0, 9], "close": [10.0, 10], "volume": [1, 1]}
    )  # fmt: skip
    with pytest.raises(IngestError, match=r"^the pandas table row 2: column 'date': 2022-01-17"):
        rustybt.ingest_table(frame, "off-calendar-rows")
