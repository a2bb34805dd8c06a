"""Results out to Arrow and polars, and saved Results that keep the perf frame's
per-session records."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import rustybt
from rustybt.api import order_target_percent, symbol


def _initialize(context):
    context.assets = [symbol("S000"), symbol("S001")]


def _handle_data(context, data):
    for k, a in enumerate(context.assets):
        order_target_percent(a, 0.3 if (data.current_dt.day + k) % 2 else 0.1)


@pytest.fixture(scope="module")
def results(small_bundle):
    return rustybt.backtest(
        initialize=_initialize, handle_data=_handle_data, bundle=small_bundle, end="2022-02-28"
    )


def test_to_arrow_keeps_exact_values_as_decimals(results):
    tables = results.to_arrow()
    assert set(tables) == {
        "perf",
        "orders",
        "transactions",
        "positions",
        "fills",
        "round_trips",
        "stats",
    }
    perf = tables["perf"]
    assert perf.num_rows == len(results.perf)
    exact = rustybt.exact_column(results.perf, "portfolio_value")
    col = perf.column("exact_portfolio_value")
    assert pa.types.is_decimal(col.type)
    assert col.to_pylist() == list(exact)  # Decimal for Decimal, to the last digit
    np.testing.assert_array_equal(
        perf.column("portfolio_value").to_numpy(), results.perf["portfolio_value"].to_numpy()
    )
    assert perf.column("longs_count").type == pa.int64()
    fills = tables["fills"]
    assert fills.num_rows == len(results.transactions)
    assert fills.column("symbol").to_pylist() == results.transactions["symbol"].tolist()
    exact_fills = results.perf.attrs["rustybt"]["exact"]["transactions"]
    assert fills.column("exact_commission").to_pylist() == [Decimal(f[4]) for f in exact_fills]
    orders = tables["orders"]
    n_orders = sum(len(o) for o in results.perf["orders"])
    assert orders.num_rows == n_orders
    assert set(orders.column("symbol").to_pylist()) == {"S000", "S001"}


def test_to_polars_reads_the_same_tables(results):
    pl = pytest.importorskip("polars")
    frames = results.to_polars()
    assert isinstance(frames["perf"], pl.DataFrame)
    assert frames["perf"]["exact_ending_cash"].to_list() == list(
        rustybt.exact_column(results.perf, "ending_cash")
    )
    assert frames["fills"].height == len(results.transactions)


def test_saved_results_keep_the_per_session_records(results, tmp_path):
    saved = rustybt.Results.load(results.save(tmp_path / "r"))
    for column in ("orders", "transactions", "positions"):
        before, after = results.perf[column], saved.perf[column]
        assert len(before) == len(after)
        for b, a in zip(before, after):
            assert len(b) == len(a)
            for rb, ra in zip(b, a):
                assert ra["sid"] == rb["sid"] and ra["sid"].symbol == rb["sid"].symbol
                for key, value in rb.items():
                    if key == "commission" and column == "orders":
                        assert ra[key] == pytest.approx(value)
                    elif isinstance(value, pd.Timestamp):
                        assert pd.Timestamp(ra[key]) == value
                    else:
                        assert ra[key] == value, (column, key)
    # the tear sheet and stats read a loaded Results as before
    assert saved.stats["sharpe"].iloc[0] == pytest.approx(results.stats["sharpe"].iloc[0])


def test_bundle_bars_raw_adjusted_and_as_tables(tmp_path):

    dates = ["2022-01-03", "2022-01-04", "2022-01-05", "2022-01-06"]
    lines = [f"{d},{c},{c},{c},{c},100,0,{s}" for d, c, s in zip(dates, [20, 21, 11, 12], "1121")]
    daily = tmp_path / "daily"
    daily.mkdir()
    header = "date,open,high,low,close,volume,dividend,split\n"
    (daily / "A.csv").write_text(header + "\n".join(lines) + "\n")
    volume_7 = [ln.replace(",100,", ",7,") for ln in lines]
    (daily / "B.csv").write_text(header + "\n".join(volume_7) + "\n")
    root = tmp_path
    b = rustybt.ingest_csvdir(root, "bars-test")
    raw = b.bars(["close", "volume"])
    assert list(raw.times) == list(b.sessions) and [a.symbol for a in raw.assets] == ["A", "B"]
    np.testing.assert_array_equal(raw.fields["close"][:, 0], [20, 21, 11, 12])
    assert not raw.fields["close"].flags.writeable  # a view of the bundle, no copy
    adj = b.bars(["close", "volume"], assets=["B"], adjusted=True)
    # the 2-for-1 on 01-05: earlier closes halved, volumes doubled, as of the end
    np.testing.assert_array_equal(adj.fields["close"][:, 0], [10, 10.5, 11, 12])
    np.testing.assert_array_equal(adj.fields["volume"][:, 0], [14, 14, 7, 7])
    # as of an end before the split: nothing to adjust
    early = b.bars("close", end="2022-01-04", adjusted=True)
    np.testing.assert_array_equal(early.fields["close"][:, 0], [20, 21])
    table = b.bars(["close"], output="arrow")
    assert table.num_rows == 8 and table.column("symbol").to_pylist()[:2] == ["A", "B"]
    pl = pytest.importorskip("polars")
    frame = b.bars(["close"], start="2022-01-05", output="polars")
    assert isinstance(frame, pl.DataFrame) and frame["close"].to_list() == [11, 11, 12, 12]
