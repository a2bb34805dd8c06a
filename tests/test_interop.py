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
