"""The perf frame's record columns (``orders``, ``transactions``, ``positions``): built
when first read (issue #16, item 3), and read as zipline's object columns of lists are."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt import _core
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.records import RecordsArray, RecordsDtype

RECORDS = ("orders", "transactions", "positions")


def run_small(b) -> pd.DataFrame:
    return rustybt.run_algorithm(
        algorithm=SmaCross,
        bundle=b,
        start=b.sessions[0],
        end=b.sessions[-1],
        capital_base=100_000,
        params={"n_assets": 5, "fast": 3, "slow": 8},
    )


@pytest.fixture(scope="module")
def perf(small_bundle) -> pd.DataFrame:
    return run_small(small_bundle)


def fresh(perf: pd.DataFrame) -> pd.DataFrame:
    """`perf` with its record columns as zipline's: object columns of the same lists."""
    out = perf.copy()
    for name in RECORDS:
        out[name] = pd.Series(np.asarray(perf[name]).copy(), index=perf.index, dtype=object)
    return out


def test_the_columns_are_built_when_first_read(small_bundle):
    perf = run_small(small_bundle)
    sources = {name: perf[name].array._source for name in RECORDS}
    # the run, the numbers and a derived frame read no record
    assert perf["returns"].notna().all()
    perf.loc[perf.index[2:5], ["returns", "orders"]]
    assert all(s._values is None for s in sources.values())
    assert [str(perf[name].dtype) for name in RECORDS] == ["records"] * 3
    # one read builds that column, once, and no other
    first = perf["orders"].iloc[-1]
    assert sources["orders"]._values is not None
    assert sources["positions"]._values is None
    assert perf["orders"].iloc[-1] is first
    assert sum(map(len, perf["transactions"])) > 0
    assert sources["transactions"]._values is not None


def test_every_session_has_a_list_of_zipline_shaped_dicts(perf):
    assert all(isinstance(day, list) for name in RECORDS for day in perf[name])
    order = next(o for day in perf["orders"] for o in day)
    assert list(order) == [
        "id",
        "dt",
        "created",
        "reason",
        "amount",
        "filled",
        "commission",
        "limit",
        "stop",
        "limit_reached",
        "stop_reached",
        "sid",
        "status",
    ]
    txn = next(t for day in perf["transactions"] for t in day)
    assert list(txn) == ["amount", "dt", "price", "order_id", "sid", "commission"]
    assert txn["order_id"] in {o["id"] for day in perf["orders"] for o in day}
    pos = next(p for day in perf["positions"] for p in day)
    assert list(pos) == ["sid", "amount", "cost_basis", "last_sale_price"]


#: pandas operations a user runs on zipline's record columns, each returning plain values
OPERATIONS = {
    "iloc": lambda f: f["orders"].iloc[-3:].tolist(),
    "loc slice": lambda f: f.loc[f.index[3] : f.index[9], "positions"].tolist(),
    "boolean mask": lambda f: f["orders"][f["returns"] > 0].tolist(),
    "iteration": lambda f: [len(day) for day in f["transactions"]],
    "items": lambda f: [(str(k), len(v)) for k, v in f["positions"].items()],
    "map len": lambda f: f["orders"].map(len).tolist(),
    "apply len": lambda f: f["positions"].apply(len).tolist(),
    "row apply": lambda f: f.apply(lambda r: len(r["orders"]), axis=1).tolist(),
    "iterrows": lambda f: [r["transactions"] for _, r in f.head(20).iterrows()],
    "itertuples": lambda f: [r.orders for r in f.head(20).itertuples()],
    "explode": lambda f: f["transactions"].explode().dropna().tolist(),
    "sum": lambda f: f["orders"].sum(),
    "frame sum": lambda f: f[["positions"]].sum().iloc[0],
    "groupby sum": lambda f: f["orders"].groupby(f["period_label"]).sum().tolist(),
    "groupby first": lambda f: f["positions"].groupby(f["period_label"]).last().tolist(),
    "resample last": lambda f: f["positions"].resample("ME").last().tolist(),
    "shift": lambda f: f["orders"].shift(2).tolist(),
    "shift fillna": lambda f: f["orders"].shift(1).fillna("none").tolist(),
    "reindex": lambda f: f["orders"].reindex(f.index[::-1].append(f.index[:0])).tolist(),
    "where": lambda f: f["positions"].where(f["returns"] > 0).isna().tolist(),
    "dropna": lambda f: f["orders"].shift(3).dropna().tolist(),
    "sort": lambda f: f.sort_values("returns")["orders"].tolist(),
    "concat": lambda f: pd.concat([f, f])["transactions"].tolist(),
    "join": lambda f: f[["orders"]].join(f[["returns"]])["orders"].tolist(),
    "melt": lambda f: f[["orders", "positions"]].melt()["value"].tolist(),
    "to_dict": lambda f: f[["orders"]].head(10).to_dict(),
    "values": lambda f: f[["orders", "returns"]].values.tolist(),
    "to_numpy": lambda f: f["positions"].to_numpy().tolist(),
    "transpose": lambda f: f[["orders"]].head(5).T.iloc[0].tolist(),
    "astype str": lambda f: f["positions"].astype(str).tolist(),
    "repr": lambda f: repr(f["positions"].tail(3)).splitlines()[:3],
    "equal to itself": lambda f: (f["orders"] == f["orders"]).tolist(),
    "isna": lambda f: f["orders"].isna().tolist(),
    "pickle": lambda f: pickle.loads(pickle.dumps(f))["orders"].tolist(),
    "csv": lambda f: f[["transactions"]].to_csv(),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_reads_as_an_object_column_of_lists_does(perf, name):
    op = OPERATIONS[name]
    assert op(perf) == op(fresh(perf))


def test_unhashable_as_an_object_column_of_lists_is(perf):
    for frame in (perf, fresh(perf)):
        with pytest.raises(TypeError, match="unhashable"):
            frame["orders"].unique()


def test_writing_to_a_copy_leaves_the_run_s_frame_as_it_was(perf):
    before = {name: perf[name].tolist() for name in RECORDS}
    copy = perf.copy()
    orders = copy["orders"]
    orders.iloc[1] = ["written"]
    txns = copy["transactions"]
    txns.iloc[0:2] = [["a"], ["b"]]
    positions = perf["positions"].copy()
    positions.iloc[:3] = [[], [], []]
    assert orders.iloc[1] == ["written"]
    assert txns.iloc[:2].tolist() == [["a"], ["b"]]
    assert positions.iloc[:3].tolist() == [[], [], []]
    assert {name: perf[name].tolist() for name in RECORDS} == before


def test_pickled_and_restored_it_is_the_same_column(perf):
    back = pickle.loads(pickle.dumps(perf))
    for name in RECORDS:
        assert isinstance(back[name].dtype, RecordsDtype)
        assert back[name].tolist() == perf[name].tolist()


def test_a_sequence_of_lists_makes_one_value_per_list():
    # equal-length lists stay elements (np.array would make them a second dimension)
    a = RecordsArray._from_sequence([[1, 2], [3, 4]])
    assert len(a) == 2 and a[0] == [1, 2]
    assert pd.Series(a).astype(object).tolist() == [[1, 2], [3, 4]]
    assert pd.api.types.pandas_dtype("records") == RecordsDtype()


def test_an_unknown_record_kind_is_refused_by_name(small_bundle):
    sim = _core.Simulation(small_bundle._core, 0, 3, 1000.0)
    records = sim.perf([], None)["records"]
    with pytest.raises(ValueError, match=r'"trades".*"orders", "transactions" and "positions"'):
        records.column("trades")


def test_exact_values_are_made_on_first_read_and_serialize_as_a_dict(small_bundle, tmp_path):
    perf = run_small(small_bundle)
    exact = perf.attrs["rustybt"]["exact"]
    assert exact._values is None  # the run and its frame made no decimal text
    perf["returns"].sum()
    assert exact._values is None
    # the first read makes all of it; a derived frame shares it
    assert len(exact["portfolio_value"]) == len(perf)
    assert exact._values is not None
    assert perf[["returns"]].attrs["rustybt"]["exact"] is exact
    assert float(Decimal(exact["portfolio_value"][-1])) == perf["portfolio_value"].iloc[-1]
    txns = [t for day in perf["transactions"] for t in day]
    assert len(exact["transactions"]) == len(txns)
    assert [f[2] for f in exact["transactions"]] == [t["amount"] for t in txns]
    # a pickle and a JSON writer (pandas' to_parquet writes attrs as JSON) see a dict
    back = pickle.loads(pickle.dumps(perf))
    assert type(back.attrs["rustybt"]["exact"]) is dict
    assert back.attrs["rustybt"]["exact"] == dict(exact)
    written = json.loads(json.dumps(perf.attrs))
    assert written["rustybt"]["exact"]["portfolio_value"] == list(exact["portfolio_value"])
    fresh_run = run_small(small_bundle)
    path = tmp_path / "perf.parquet"
    fresh_run[["returns"]].to_parquet(path)
    assert pd.read_parquet(path).attrs["rustybt"]["exact"]["pnl"] == list(
        fresh_run.attrs["rustybt"]["exact"]["pnl"]
    )
