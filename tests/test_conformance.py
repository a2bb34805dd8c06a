"""The conformance suite (``rustybt.tooling.bench.conformance``; docs/conformance.md).

CI half (no zipline needed): each strategy's rustybt run, compared

- with zipline-reloaded's run of it, stored under ``tests/conformance/expected/`` by
  ``rustybt bench conformance --store`` (run from the repository root, with zipline's
  virtualenv): every perf column, its dtype, the fills; differences must be the ones
  ``KNOWN_DIFFERENCES`` lists, and a listed one that now matches fails too (remove it);
- with rustybt's reference engine (``rustybt.reference``), to the last digit, as
  tests/test_reference_crosscheck.py compares them.

zipline's own examples are read from zipline's virtualenv (their code is not copied into
this repository): without one, their CI half is skipped, saying so.

Both halves (``-m conformance``): the whole suite run on zipline-reloaded and rustybt,
``$RUSTYBT_PEERS_VENV`` (or ``$RUSTYBT_ROOT/peers-venv``) being zipline's virtualenv;
skipped when there is none.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import rustybt.reference as reference
from rustybt.tooling.bench.conformance import diffing, rustybt_side
from rustybt.tooling.bench.conformance import run as suite_run
from rustybt.tooling.bench.conformance.bars import make_bars
from rustybt.tooling.bench.conformance.known import KNOWN_DIFFERENCES, REFERENCE_UNSUPPORTED
from rustybt.tooling.bench.conformance.suite import (
    STRATEGIES,
    example_paths,
    sha256,
    source_path,
    venv_from_env,
    zipline_missing,
)

EXPECTED = Path(__file__).parent / "conformance" / "expected"
STORE = "rustybt bench conformance --store (from the repository root, with zipline's venv)"


@pytest.fixture(scope="module")
def bars():
    return make_bars()


@pytest.fixture(scope="module")
def bundles(bars, tmp_path_factory):
    where = bars.write(tmp_path_factory.mktemp("conformance-bars"))
    return rustybt_side.ingest(bars, where)


@pytest.fixture(scope="module")
def examples():
    return example_paths(venv_from_env())


def _source(strategy, examples) -> Path:
    if strategy.skip:
        pytest.skip(strategy.skip)
    path = source_path(strategy, examples)
    if path is None:
        pytest.skip(
            f"zipline's example {strategy.example}.py is read from zipline's virtualenv "
            "(set RUSTYBT_PEERS_VENV): none here"
        )
    return path


def _rustybt_run(strategy, path: Path, bundles, engine="rust") -> dict:
    return rustybt_side.run_strategy(
        strategy.spec(path), path.read_text(), bundles[strategy.bundle], engine
    )


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_rustybt_against_zipline_stored(strategy, bars, bundles, examples):
    path = _source(strategy, examples)
    expected = suite_run.read_expected(EXPECTED, strategy.name)
    assert expected is not None, f"no stored zipline run of {strategy.name}: {STORE}"
    assert expected["format"] == suite_run.EXPECTED_FORMAT, f"an older format: {STORE}"
    assert expected["bars_hash"] == bars.bars_hash, f"stored over other bars: {STORE}"
    assert expected["source_sha256"] == sha256(path.read_text()), (
        f"{path} changed since its zipline run was stored: {STORE}"
    )
    spec = strategy.spec(path)
    assert expected["spec"] == {k: v for k, v in spec.items() if k != "source"}
    ours = _rustybt_run(strategy, path, bundles)
    aspects = diffing.compare_runs(ours, expected["run"])
    assert not suite_run.problems(strategy.name, aspects)


def _frames_equal(fast: pd.DataFrame, ref: pd.DataFrame) -> None:
    fast_exact, ref_exact = reference.exact_values(fast), reference.exact_values(ref)
    assert fast_exact.keys() == ref_exact.keys()
    for key in fast_exact:
        assert fast_exact[key] == ref_exact[key], key
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)


def _same_on_both_engines(fast: dict, ref: dict) -> None:
    if "error" in fast or "error" in ref:
        # the same refusal, word for word
        assert fast.get("error") == ref.get("error")
        return
    _frames_equal(fast["frame"], ref["frame"])


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_rustybt_against_reference_engine(strategy, bundles, examples):
    path = _source(strategy, examples)
    fast = _rustybt_run(strategy, path, bundles)
    ref = _rustybt_run(strategy, path, bundles, engine="reference")
    why = REFERENCE_UNSUPPORTED.get(strategy.name)
    if why is None:
        _same_on_both_engines(fast, ref)
        return
    try:
        _same_on_both_engines(fast, ref)
    except AssertionError:
        pytest.skip(f"the reference engine: {why}")
    pytest.fail(
        f"{strategy.name} now runs identically on the reference engine: remove it from "
        "REFERENCE_UNSUPPORTED"
    )


def test_known_differences_name_strategies_of_the_suite():
    names = {s.name for s in STRATEGIES}
    assert {s for s, _ in KNOWN_DIFFERENCES} <= names
    assert set(REFERENCE_UNSUPPORTED) <= names


def test_verdicts_report_stale_and_unexpected_entries():
    known = {("s", "pnl"): "a reason", ("s", "returns"): "another"}
    aspects = {
        "pnl": {"equal": False},
        "returns": {"equal": True},
        "sharpe": {
            "equal": False,
            "max_abs_diff": 1.0,
            "differing": 1,
            "first_date": "d",
            "fields": ["sharpe"],
        },
        "sortino": {"equal": True},
    }
    v = suite_run.verdicts("s", aspects, known)
    assert v == {
        "pnl": (suite_run.KNOWN, "a reason"),
        "returns": (suite_run.NOW_MATCHES, "another"),
        "sharpe": (suite_run.UNEXPECTED, None),
        "sortino": (suite_run.MATCH, None),
    }
    lines = suite_run.problems("s", aspects, known)
    assert len(lines) == 2
    assert "returns: now matches, remove it" in lines[0] + lines[1]


def _perf(**columns) -> dict:
    index = ["2022-01-03T21:00:00+00:00", "2022-01-04T21:00:00+00:00"]
    return {
        "perf": {
            "index": {"dtype": "datetime64[ns, UTC]", "values": index},
            "columns": {k: {"dtype": d, "values": v} for k, (d, v) in columns.items()},
        }
    }


def test_order_ids_compare_by_position_and_dtypes_count():
    def orders(ids, status):
        return [
            [{"id": ids[0], "sid": "asset:A", "created": "c0", "amount": 5, "status": status}],
            [
                {"id": ids[1], "sid": "asset:B", "created": "c1", "amount": -3, "status": status},
                {"id": ids[0], "sid": "asset:A", "created": "c0", "amount": 5, "status": status},
            ],
        ]

    txns = [[], [{"order_id": "x7", "sid": "asset:A", "amount": 5, "price": 1.0, "dt": "t"}]]
    ours = _perf(
        orders=("object", orders(["x7", "x8"], 1)),
        transactions=("object", txns),
        longs_count=("float64", [0.0, 1.0]),
        pnl=("float64", [0.0, 1.0 + 1e-12]),
    )
    theirs = _perf(
        orders=("object", orders(["ab", "cd"], 1)),
        transactions=("object", [[], [{**txns[1][0], "order_id": "ab"}]]),
        longs_count=("int64", [0, 1]),
        pnl=("float64", [0.0, 1.0]),
    )
    got = diffing.compare_runs(ours, theirs)
    assert got["run"]["equal"] and got["orders"]["equal"] and got["transactions"]["equal"]
    assert got["pnl"]["equal"] and got["pnl"]["max_abs_diff"] > 0
    assert not got["longs_count"]["equal"] and got["longs_count"]["dtype_differs"]
    assert got["fills"]["equal"] and got["fills"]["count"] == [1, 1]
    # the other way round, order ids no longer line up with the transaction's
    theirs["perf"]["columns"]["transactions"]["values"][1][0]["order_id"] = "cd"
    got = diffing.compare_runs(ours, theirs)
    assert not got["transactions"]["equal"]
    assert got["transactions"]["fields"] == ["order_id"]
    assert got["transactions"]["first_date"] == "2022-01-04"
    # ids that are not text (zipline's are uuid hex strings) differ by kind
    ours["perf"]["columns"]["orders"]["values"] = orders([7, 8], 1)
    got = diffing.compare_runs(ours, theirs)
    assert got["orders"]["fields"] == ["id"]
    assert "int id" in got["orders"]["examples"][0]


def test_a_failed_run_is_a_result():
    ours = {"error": {"type": "ImportError", "message": "no name"}}
    got = diffing.compare_runs(ours, _perf(pnl=("float64", [0.0, 1.0])))
    assert got == {
        "run": {"equal": False, "rustybt": ours["error"], "zipline": None},
    }
    assert diffing.describe(got["run"]).startswith("rustybt raises ImportError")


# ---- both engines: the whole suite ---------------------------------------------------------


@pytest.fixture(scope="module")
def suite_report():
    venv = venv_from_env()
    why = zipline_missing(venv)
    if why:
        pytest.skip(why)
    return suite_run.run_suite(venv, say=lambda _msg: None)


@pytest.mark.conformance
@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_conformance_against_zipline(strategy, suite_report):
    entry = suite_report["strategies"][strategy.name]
    if "skip" in entry:
        pytest.skip(entry["skip"])
    assert not suite_run.problems(strategy.name, entry["aspects"])
