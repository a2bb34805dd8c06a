"""Fuzzing the ingest paths (issue #18): csvdir daily and minute, long tables as CSV and
Parquet. Every input must be ingested (and then reopen with the same, reproducible hash) or
refused with a RustyBTError naming the input and leaving no bundle behind; a Rust panic
(InternalError) or any other exception is a failure. The harness is
:mod:`rustybt.tooling.fuzz`; its seeds are in ``tests/fuzz_corpus/``.

Known failures each have a strict xfail reproducer below (and an entry in
``fuzz.KNOWN_FAILURES``, which the bounded fuzz run counts apart); when a fix makes one
pass, remove both.
"""

from __future__ import annotations

import argparse
import os
import random

import pytest

import rustybt
from rustybt.bundles import bundles_dir
from rustybt.errors import IngestError, InternalError
from rustybt.tooling import fuzz

#: The bounded run's seed; RUSTYBT_FUZZ_SEED overrides it (the seed is printed either way).
SEED = int(os.environ.get("RUSTYBT_FUZZ_SEED", "20240618"))

HEADER = b"date,open,high,low,close,volume\n"


def _daily(content: bytes, symbol: bytes = b"AAA") -> fuzz.Case:
    return fuzz.Case("daily", "daily", {b"daily/" + symbol + b".csv": content}, b".")


def _minute(content: bytes) -> fuzz.Case:
    return fuzz.Case("minute", "minute", {b"minute/AAA.csv": content}, b".")


def _table(content: bytes, name: bytes = b"t.csv") -> fuzz.Case:
    kind = "table_parquet" if name.endswith(b".parquet") else "table_csv"
    return fuzz.Case(kind, "daily", {name: content}, name)


def _fuzz_bundles() -> list[str]:
    return sorted(p.name for p in bundles_dir().glob("fuzz-*")) if bundles_dir().is_dir() else []


def test_bounded_fuzz_run_finds_no_failures(tmp_path):
    counts = fuzz.run(minutes=0.4, seed=SEED, max_iterations=600, crash_dir=tmp_path / "crashes")
    print({k: v for k, v in counts.items() if k != "failed"})
    unexpected = [f for f in counts["failed"] if not f["known"]]
    assert counts["failures"] == 0, unexpected
    # the harness reaches real paths: some inputs are ingested, some refused, on every kind
    assert counts["ok"] > 0 and counts["refused"] > 0, counts
    for kind in fuzz.KINDS:
        assert sum(counts["by_kind"][kind].values()) > 0, kind
    assert (
        counts["iterations"]
        == counts["ok"] + counts["refused"] + counts["failures"] + (counts["known_failures"])
    )
    assert _fuzz_bundles() == []  # every fuzz bundle was removed again


def test_corpus_replays_without_failures():
    results = fuzz.replay_corpus()
    failed = [
        (label, o.error_class, o.detail)
        for label, _, o in results
        if o.status not in ("ok", "refused")
    ]
    assert failed == []
    status = {label: o for label, _, o in results}
    for label, outcome in status.items():
        stem = label.rsplit("/", 1)[-1]
        if stem.startswith(("valid_", "long_")):
            assert outcome.status == "ok", (label, outcome.message)
    # the known crash class: a date whose 10th byte falls inside a multibyte character
    for label in (
        "daily/utf8_date_e_acute.csv",
        "daily/utf8_date_euro_inside.csv",
        "daily/utf8_date_euro_suffix.csv",
        "minute/utf8_time.csv",
        "table/utf8_timestamp.csv",
    ):
        assert status[label].status == "refused", label
        assert status[label].error_class == "IngestError"
        assert "column 'date'" in status[label].message
    assert status["daily/cr_only.csv"].status == "ok"  # CR alone ends lines (classic Mac)
    assert status["daily/1950_row_after_2022.csv"].status == "refused"
    assert _fuzz_bundles() == []


def test_a_refusal_leaves_an_existing_bundle_as_it_was(tmp_path):
    good = _daily(HEADER + b"2022-01-03,10,11,9,10.5,100\n")
    first = rustybt.ingest_csvdir(good.write(tmp_path / "good"), "fuzz-keep-test")
    before = fuzz._state("fuzz-keep-test")
    bad = _daily(HEADER + b"2022-01-0\xc3\xa9,10,11,9,10.5,100\n")
    outcome = fuzz.execute(bad, tmp_path / "case-bad", "fuzz-keep-test")
    assert outcome.status == "refused" and outcome.error_class == "IngestError"
    assert "case-bad" in outcome.message and "AAA.csv:2" in outcome.message
    assert fuzz._state("fuzz-keep-test") == before
    assert rustybt.load_bundle("fuzz-keep-test").content_hash == first.content_hash
    del first
    fuzz._drop("fuzz-keep-test")
    assert _fuzz_bundles() == []


def test_the_harness_classifies_failures(tmp_path, monkeypatch):
    """The harness is not vacuous: a panic, a foreign exception, a refusal naming no input
    and one leaving a bundle behind are failures, and a failure's input is saved with a
    repro.py."""
    case = _daily(HEADER + b"2022-01-03,10,11,9,10.5,100\n")

    def raising(exc):
        def ingest(path, name, frequency="daily"):
            raise exc

        return ingest

    for exc, cls in (
        (InternalError("panicked at src/csv.rs"), "InternalError"),
        (KeyError("x"), "KeyError"),
        (IngestError("bad input"), "IngestError (names no input)"),
        (IngestError(""), "IngestError (empty message)"),
    ):
        monkeypatch.setattr(rustybt, "ingest_csvdir", raising(exc))
        outcome = fuzz.execute(case, tmp_path / f"case-{cls[:5]}", "fuzz-classify")
        assert (outcome.status, outcome.error_class) == ("failure", cls)

    def leaves_a_version(path, name, frequency="daily"):
        (bundles_dir() / name / "v-leftover").mkdir(parents=True)
        raise IngestError(f"{path}: refused")

    monkeypatch.setattr(rustybt, "ingest_csvdir", leaves_a_version)
    outcome = fuzz.execute(case, tmp_path / "case-left", "fuzz-classify")
    assert outcome.error_class == "IngestError (left state behind)"
    saved = fuzz.save_crash(case, outcome, tmp_path / "crashes", "example")
    compile((saved / "repro.py").read_text(), "repro.py", "exec")
    assert (saved / "input" / "daily" / "AAA.csv").read_bytes() == case.files[b"daily/AAA.csv"]
    (bundles_dir() / "fuzz-classify" / "v-leftover").rmdir()
    (bundles_dir() / "fuzz-classify").rmdir()


def test_cases_are_reproducible_from_the_seed():
    corpus = fuzz.load_corpus()
    for i in range(40):
        a = fuzz.make_case(random.Random(f"7:{i}"), corpus)
        b = fuzz.make_case(random.Random(f"7:{i}"), corpus)
        assert (a.kind, a.files, a.target, a.mutations) == (b.kind, b.files, b.target, b.mutations)


def test_command_line(tmp_path, monkeypatch, capsys):
    root = tmp_path / "root"
    monkeypatch.setenv("RUSTYBT_ROOT", str(root))  # restored after the test
    argv = ["--minutes", "1", "--max-iterations", "8", "--seed", "5", "--root", str(root)]
    assert fuzz.main([*argv, "--crash-dir", str(tmp_path / "crashes")]) == 0
    out = capsys.readouterr().out
    assert "seed=5" in out and '"iterations": 8' in out
    parser = argparse.ArgumentParser()
    fuzz.register_cli(parser.add_subparsers())
    args = parser.parse_args(["fuzz", "--minutes", "2"])
    assert args.minutes == 2 and args.func is fuzz._cmd


# ---------------------------------------------------------------------------------------
# Failures the fuzzer found (minimal reproducers, fixed since: each is now refused with an
# IngestError naming the file). A new known failure goes into fuzz.KNOWN_FAILURES with a
# strict-xfail reproducer here until it is fixed.

#: A 184-byte Parquet file, one string column ``symbol`` whose value is b"AA\xff" (invalid
#: UTF-8, which pyarrow does not validate on read).
PARQUET_INVALID_UTF8 = (
    b"PAR1\x15\x00\x15\x1a\x15\x1a,\x15\x02\x15\x00\x15\x06\x15\x06\x1c\x00\x00\x00\x02\x00"
    b"\x00\x00\x02\x01\x03\x00\x00\x00AA\xff\x15\x04\x19,5\x00\x18\x06schema\x15\x02\x00\x15"
    b"\x0c%\x02\x18\x06symbol%\x00L\x1c\x00\x00\x00\x16\x02\x19\x1c\x19\x1c&\x00\x1c\x15\x0c"
    b"\x19%\x06\x00\x19\x18\x06symbol\x15\x00\x16\x02\x16@\x16@&\x08I\x1c\x15\x00\x15\x00\x15"
    b"\x02\x00<\x16\x06\x19\x06\x19&\x00\x02\x00\x00\x00\x16@\x16\x02&\x08\x16@\x00( "
    b"parquet-cpp-arrow version 26.0.1\x19\x1c\x1c\x00\x00\x00\x8c\x00\x00\x00PAR1"
)


def _known(case: fuzz.Case, cls: str, ident: str):
    """A former failure: ``cls`` is the error class it used to raise."""
    return pytest.param(case, cls, id=ident)


KNOWN = [
    _known(
        _daily(HEADER + b"2262-04-11,10,11,9,10,100\n"),
        "OutOfBoundsDatetime",
        "daily-2262-04-11",
    ),
    _known(
        _daily(HEADER + b"1677-09-22,10,11,9,10,100\n"),
        "OutOfBoundsDatetime",
        "daily-1677-09-22",
    ),
    _known(
        _minute(HEADER + b"2262-04-11 14:31,10,11,9,10,100\n"),
        "OutOfBoundsDatetime",
        "minute-2262-04-11",
    ),
    _known(
        _table(b"symbol,date,open,high,low,close,volume\nA,2262-04-11,10,11,9,10,100\n"),
        "OutOfBoundsDatetime",
        "table-csv-2262-04-11",
    ),
    _known(
        _daily(HEADER + b"2262-04-08,10,11,9,10,100\n"),
        "InvalidRunParameters (names no input)",
        "daily-2262-04-08",
    ),
    _known(
        _daily(HEADER + b"1677-09-25,10,11,9,10,100\n"),
        "InvalidRunParameters (names no input)",
        "daily-1677-09-25",
    ),
    _known(
        _table(PARQUET_INVALID_UTF8, b"t.parquet"),
        "ArrowException",
        "parquet-invalid-utf8",
    ),
]


@pytest.mark.parametrize(("case", "former_class"), KNOWN)
def test_former_failures_are_refused_naming_the_input(case, former_class, tmp_path):
    outcome = fuzz.execute(case, tmp_path / "case-known", "fuzz-known")
    assert outcome.status == "refused", (former_class, outcome.detail)
    assert outcome.error_class == "IngestError", outcome.message
    assert _fuzz_bundles() == []
