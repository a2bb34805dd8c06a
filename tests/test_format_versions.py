"""Formats that change carry a version, and what another version or another run wrote is
refused with a message saying what to do, never misread (issue #18, item 9): sweep
checkpoints, saved Results, the pool cache (tests/test_bundle_maintenance.py) and the
bundle schema; plus the Python API refusing bad ingest arguments as RustyBTErrors."""

from __future__ import annotations

import json

import pytest

import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import InvalidRunParameters, SweepError
from rustybt.optimize import GridSearch
from rustybt.optimize.search import CHECKPOINT_FORMAT
from rustybt.results import RESULTS_FORMAT, Results

SPACE = {"fast": [5, 8], "slow": [20], "n_assets": [3]}


def _search(bundle, checkpoint, **kw):
    return GridSearch(SmaCross, SPACE, bundle=bundle, checkpoint=checkpoint, progress=False, **kw)


def test_checkpoint_rows_carry_their_format_and_run(small_bundle, tmp_path):
    ck = tmp_path / "grid.jsonl"
    first = _search(small_bundle, ck).run()
    rows = [json.loads(line) for line in ck.read_text().splitlines()]
    assert len(rows) == 2
    assert {r["_format"] for r in rows} == {CHECKPOINT_FORMAT}
    assert len({r["_run"] for r in rows}) == 1
    again = _search(small_bundle, ck).run()  # a resume of the same run: nothing reruns
    assert again.table["sharpe"].tolist() == first.table["sharpe"].tolist()
    assert len(ck.read_text().splitlines()) == 2
    # the checkpoint's own fields stay in the checkpoint, out of the results
    for result in (first, again):
        assert not [c for c in result.table.columns if c.startswith("_")]
        assert not [k for k in result.best.index if k.startswith("_")]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"capital_base": 5e5}, id="capital"),
        pytest.param({"ledger": "float"}, id="ledger"),
        pytest.param({"end": "2022-05-31"}, id="span"),
    ],
)
def test_a_checkpoint_of_another_run_is_refused(small_bundle, tmp_path, change):
    ck = tmp_path / "grid.jsonl"
    _search(small_bundle, ck).run()
    with pytest.raises(SweepError, match=r"holds trials of another run"):
        _search(small_bundle, ck, **change).run()


def test_a_checkpoint_of_another_bundle_version_is_refused(tmp_path):
    ck = tmp_path / "grid.jsonl"
    rustybt.ingest_synthetic("ckb", assets=3, start="2022-01-03", end="2022-06-30", seed=1)
    _search("ckb", ck).run()
    rustybt.ingest_synthetic("ckb", assets=3, start="2022-01-03", end="2022-06-30", seed=2)
    with pytest.raises(SweepError, match=r"another bundle\s+version"):
        _search("ckb", ck).run()


def test_an_unversioned_checkpoint_is_refused_saying_what_to_do(small_bundle, tmp_path):
    ck = tmp_path / "old.jsonl"
    _search(small_bundle, ck).run()
    old = []
    for line in ck.read_text().splitlines():
        row = json.loads(line)
        del row["_format"], row["_run"]
        old.append(json.dumps(row))
    ck.write_text("\n".join(old) + "\n")
    with pytest.raises(SweepError, match=r"older rustybt.*Delete the file"):
        _search(small_bundle, ck).run()


def test_saved_results_record_their_format_and_refuse_another(small_bundle, tmp_path):
    res = rustybt.backtest(
        algorithm=SmaCross, params={"n_assets": 3}, bundle=small_bundle, capital_base=1e5
    )
    saved = res.save(tmp_path / "r")
    meta = json.loads((saved / "metadata.json").read_text())
    assert meta["results_format"] == RESULTS_FORMAT
    back = Results.load(saved)
    assert back.stats.equals(res.stats)
    meta["results_format"] = RESULTS_FORMAT + 1
    (saved / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(InvalidRunParameters, match=r"format 3; this rustybt reads formats 1, 2"):
        Results.load(saved)
    # a format-1 save (no per-session records) still loads, without those lists
    meta["results_format"] = 1
    (saved / "metadata.json").write_text(json.dumps(meta))
    for column in ("orders", "transactions", "positions"):
        (saved / f"perf_{column}.parquet").unlink()
    old = Results.load(saved)
    assert "orders" not in old.perf and old.stats.equals(res.stats)
    with pytest.raises(InvalidRunParameters, match="not a saved Results"):
        Results.load(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"price_scale": -1}, "price_scale must be a whole number from 2 to 8"),
        ({"assets": 0}, "assets must be a whole number of at least 1"),
        ({"start": "2022-13-45"}, r"start '2022-13-45' is not a date"),
    ],
)
def test_the_python_ingest_api_refuses_bad_arguments_by_name(kw, message):
    """They raised OverflowError and pandas' DateParseError before."""
    args = {"assets": 2, "start": "2022-01-03", "end": "2022-01-31", **kw}
    with pytest.raises(InvalidRunParameters, match=message):
        rustybt.ingest_synthetic("badargs", **args)
