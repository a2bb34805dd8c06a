"""Ingest refuses what it used to accept silently, naming file, line and reason (issue #18,
items 6 and 8): case-folded duplicate symbols, symbols that are not UTF-8 or hold control
characters, a dividend not below the previous close, split ratios that are not positive,
a stray row more than a year from its neighbours, dates no timestamp can hold."""

from __future__ import annotations

import os
import sys

import pytest

import rustybt
from rustybt.bundles import bundles_dir
from rustybt.errors import IngestError
from tests.conftest import HEADER, hand_lines, write_csvdir

GOOD = hand_lines(["10", "11", "12", "13", "14"])


def _nothing_written(name: str) -> bool:
    return not (bundles_dir() / name).exists()


def test_symbols_equal_when_case_folded_are_refused(tmp_path):
    if sys.platform == "darwin":  # case-insensitive file system: one file
        pytest.skip("needs a case-sensitive file system")
    write_csvdir(tmp_path, {"AAA": GOOD, "aaa": GOOD})
    with pytest.raises(IngestError, match=r"differs only in case") as e:
        rustybt.ingest_csvdir(tmp_path, "cased")
    assert "AAA.csv" in str(e.value) and "aaa.csv" in str(e.value)
    assert _nothing_written("cased")


def test_case_folded_symbols_in_a_long_table_are_refused_at_their_line(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text(
        "symbol,date,open,high,low,close,volume\n"
        "AAA,2022-01-03,10,11,9,10,100\n"
        "Aaa,2022-01-03,10,11,9,10,100\n"
    )
    with pytest.raises(IngestError, match=r"t\.csv:3: column 'symbol'.*differs only in case"):
        rustybt.bundles.ingest_table(table, "cased-long")


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8_is_refused(tmp_path):
    write_csvdir(tmp_path, {"AAA": GOOD})
    bad = os.path.join(os.fsencode(tmp_path / "daily"), b"B\xff.csv")
    with open(bad, "w") as f:
        f.write("\n".join([HEADER, *GOOD]) + "\n")
    with pytest.raises(IngestError, match="not UTF-8"):
        rustybt.ingest_csvdir(tmp_path, "bytes")
    assert _nothing_written("bytes")


@pytest.mark.skipif(os.name != "posix", reason="newlines in file names")
def test_a_symbol_with_a_control_character_is_refused(tmp_path):
    write_csvdir(tmp_path, {"AAA": GOOD, "B\nB": GOOD})
    with pytest.raises(IngestError, match=r"control character '\\n'"):
        rustybt.ingest_csvdir(tmp_path, "ctrl")
    table = tmp_path / "t.csv"
    table.write_text("symbol,date,open,high,low,close,volume\nA\tB,2022-01-03,10,11,9,10,100\n")
    with pytest.raises(IngestError, match=r"t\.csv:2: column 'symbol'.*control character"):
        rustybt.bundles.ingest_table(table, "ctrl-long")


@pytest.mark.parametrize("dividend", ["13", "13.5"])
def test_a_dividend_not_below_the_previous_close_is_refused(tmp_path, dividend):
    lines = [line + ",0,1" for line in GOOD]
    lines[2] = lines[2].replace(",0,1", f",{dividend},1")  # previous close 11
    write_csvdir(tmp_path, {"AAA": lines})
    (tmp_path / "daily" / "AAA.csv").write_text(
        "\n".join([HEADER + ",dividend,split", *lines]) + "\n"
    )
    with pytest.raises(
        IngestError,
        match=rf"AAA\.csv:4: column 'dividend': dividend {dividend} is not below the "
        r"previous close 11\.0000 \(line 3\)",
    ):
        rustybt.ingest_csvdir(tmp_path, "bigdiv")
    assert _nothing_written("bigdiv")


@pytest.mark.parametrize("ratio", ["0", "-2"])
def test_a_split_ratio_that_is_not_positive_is_refused(tmp_path, ratio):
    lines = [line + ",0,1" for line in GOOD]
    lines[2] = lines[2].replace(",0,1", f",0,{ratio}")
    (tmp_path / "daily").mkdir()
    (tmp_path / "daily" / "AAA.csv").write_text(
        "\n".join([HEADER + ",dividend,split", *lines]) + "\n"
    )
    with pytest.raises(IngestError, match=r"AAA\.csv:4: column 'split': split must be positive"):
        rustybt.ingest_csvdir(tmp_path, "badsplit")


def test_a_stray_row_a_decade_away_is_refused_unless_gaps_are_allowed(tmp_path):
    """One 1950 row in a 2022 file used to give an 18,314-session bundle without a word."""
    write_csvdir(tmp_path, {"AAA": ["1950-01-03,10,11,9,10,100", *GOOD]})
    with pytest.raises(
        IngestError,
        match=r"AAA\.csv:3: column 'date': 2022-01-03 is \d+ days after the previous row "
        r"\(1950-01-03.*line 2\).*allow_gaps=True",
    ):
        rustybt.ingest_csvdir(tmp_path, "stray")
    assert _nothing_written("stray")
    bundle = rustybt.ingest_csvdir(tmp_path, "stray", allow_gaps=True)
    assert bundle.start.year == 1950 and len(bundle.sessions) > 18_000


@pytest.mark.parametrize("year", ["1600", "2300"])
def test_years_no_timestamp_holds_are_named_as_such(tmp_path, year):
    """They used to be reported as 'has a time of day' (the nanoseconds wrapped)."""
    write_csvdir(tmp_path, {"AAA": [f"{year}-01-03,10,11,9,10,100"]})
    with pytest.raises(IngestError, match=rf"'{year}-01-03' is outside the dates a bundle can"):
        rustybt.ingest_csvdir(tmp_path, "years")


def test_zero_volume_stays_accepted(tmp_path):
    lines = [line.rsplit(",", 1)[0] + ",0" for line in GOOD]
    write_csvdir(tmp_path, {"AAA": lines})
    assert len(rustybt.ingest_csvdir(tmp_path, "zerovol").sessions) == 5


def test_the_cli_flag_allows_gaps(tmp_path):
    from rustybt.app.cli import main

    write_csvdir(tmp_path, {"AAA": ["1950-01-03,10,11,9,10,100", *GOOD]})
    assert main(["ingest", "csvdir", str(tmp_path), "--bundle", "gapcli"]) == 2
    assert main(["ingest", "csvdir", str(tmp_path), "--bundle", "gapcli", "--allow-gaps"]) == 0


def test_cr_only_line_endings_are_lines(tmp_path):
    """A classic-Mac file (lines ending in CR alone) used to be one line, naming a column
    'volume2022-01-03'."""
    (tmp_path / "daily").mkdir()
    (tmp_path / "daily" / "AAA.csv").write_bytes(("\r".join([HEADER, *GOOD]) + "\r").encode())
    assert len(rustybt.ingest_csvdir(tmp_path, "cr-only").sessions) == 5


def test_parquet_messages_count_rows_and_name_the_column_names(tmp_path):
    """Parquet problems are told in rows counted from 1 (no 'line', no 'row 0')."""
    import pandas as pd

    bad_header = tmp_path / "h.parquet"
    pd.DataFrame({"symbol": ["A"], "date": ["2022-01-03"], "bogus": [1]}).to_parquet(bad_header)
    with pytest.raises(IngestError) as e:
        rustybt.bundles.ingest_table(bad_header, "pq-header")
    assert "h.parquet (its column names):" in str(e.value)
    rows = pd.DataFrame(
        {
            "symbol": ["A", "A"],
            "date": ["2022-01-03", "2022-01-03"],
            "open": [10, 10],
            "high": [11, 11],
            "low": [9, 9],
            "close": [10, 10],
            "volume": [100, 100],
        }
    )
    rows.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(IngestError) as e:
        rustybt.bundles.ingest_table(tmp_path / "d.parquet", "pq-dup")
    message = str(e.value)
    assert "d.parquet row 2: column 'date': duplicate timestamp" in message
    assert "(also on row 1)" in message and "line" not in message
