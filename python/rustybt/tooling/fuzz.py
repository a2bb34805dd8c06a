"""A mutation fuzzer over rustybt's ingest paths (issue #18).

It starts from a corpus of small valid and interesting input files (``tests/fuzz_corpus/``
in a checkout: ``daily/*.csv`` and ``minute/*.csv`` are csvdir symbol files, ``table/*.csv``
long tables, minute ones having ``minute`` in their name), mutates them (byte flips,
inserted and deleted bytes, duplicated/dropped/swapped lines, lines spliced from other
corpus files, numbers replaced by extremes, random unicode, truncation, odd line endings,
odd symbol file names) and feeds each result to one of

- ``rustybt.ingest_csvdir(path, name, frequency="daily")`` (``PATH/daily/SYM.csv``),
- ``rustybt.ingest_csvdir(path, name, frequency="minute")`` (``PATH/minute/SYM.csv``),
- ``rustybt.ingest_table(path, name)`` on a CSV long table,
- ``rustybt.ingest_table(path, name)`` on a Parquet long table (cell-level mutations of a
  table seed, then sometimes byte-level ones).

Every outcome is classified:

``ok``
    The ingest returned a bundle; it must then open with :func:`rustybt.load_bundle` with
    the same content hash, and a second identical ingest must give that hash again.
``refused``
    A :class:`~rustybt.errors.RustyBTError` other than
    :class:`~rustybt.errors.InternalError`, whose message is non-empty and names the input
    (its path), and which left nothing behind: no new bundle version, ``CURRENT`` unchanged.
``failure``
    Anything else: an ``InternalError`` (a Rust panic), an exception that is not a
    ``RustyBTError``, a refusal naming no input or leaving state behind, a bundle that does
    not reopen or whose hash is not reproducible. The input is saved under the crash
    directory with a ``repro.py`` that replays it.

Failures whose class is in :data:`KNOWN_FAILURES` (reported bugs, each with a strict-xfail
reproducer in ``tests/test_fuzz_ingest.py``) are counted as ``known_failures``, not
``failures``. Bundles are written only under :func:`rustybt.bundles.bundles_dir`, under
unique names, and removed again. Runs are reproducible: iteration ``i`` of seed ``s`` uses
``random.Random(f"{s}:{i}")``.

Command line: ``python -m rustybt.tooling.fuzz --minutes 10 [--seed N]`` (bundles go under
a fresh temporary ``RUSTYBT_ROOT`` unless ``--root`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import rustybt
from rustybt.bundles import bundles_dir, clean_bundle, load_bundle
from rustybt.errors import InternalError, RustyBTError

__all__ = [
    "KINDS",
    "KNOWN_FAILURES",
    "Case",
    "Outcome",
    "Seed",
    "default_corpus_dir",
    "execute",
    "load_corpus",
    "main",
    "make_case",
    "register_cli",
    "replay_corpus",
    "run",
    "special_cases",
]

#: The ingest paths fuzzed: csvdir daily, csvdir minute, long table as CSV, as Parquet.
KINDS = ("daily", "minute", "table_csv", "table_parquet")

#: Failure classes that are known, reported bugs (class -> what is wrong). They are counted
#: as ``known_failures``; each has a strict-xfail reproducer in tests/test_fuzz_ingest.py,
#: so the entry goes once the bug is fixed.
KNOWN_FAILURES: dict[str, str] = {}
"""Failure classes of reported, not yet fixed bugs (class name -> what goes wrong); each
has a strict-xfail reproducer in ``tests/test_fuzz_ingest.py``. Empty: the seven inputs
the first runs found (dates at the edge of nanosecond timestamps, a Parquet string that is
not UTF-8) are refused now, and kept as regression tests there."""

HEADER = b"date,open,high,low,close,volume"
TABLE_HEADER = b"symbol,timestamp,open,high,low,close,volume"

#: Seeds used when no corpus directory is found (an installed wheel has no tests/).
BUILTIN_SEEDS: dict[str, bytes] = {
    "daily/builtin.csv": HEADER
    + b"\n2022-01-03,10,11,9,10.5,100\n2022-01-04,10.5,12,10,11.25,200\n",
    "minute/builtin.csv": HEADER
    + b"\n2022-01-03 14:31:00,10,11,9,10.5,100\n2022-01-03 14:32:00,10.5,12,10,11,200\n",
    "table/builtin.csv": TABLE_HEADER
    + b"\nBBB,2022-01-03,20,21,19,20.5,100\nAAA,2022-01-03,10,11,9,10.25,50\n"
    b"AAA,2022-01-04,10.25,12,10,11.5,70\n",
}

#: Replacement values for a field: extremes, non-numbers, boundary dates.
EXTREMES: tuple[str, ...] = (
    "0",
    "-1",
    "1",
    "1e20",
    "1E-5",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "9" * 19,
    "1" * 40,
    "7" * 400,
    "0." + "0" * 30 + "1",
    "99999999999999.9999",
    "0.0001",
    "0.00001",
    "",
    " ",
    " 1",
    "1 ",
    '"1"',
    '"',
    "+1",
    ".5",
    "5.",
    "1_000",
    "0x10",
    "1,5",
    "١٢",
    "²",
    "true",
    "null",
    "\x00",
    "2022-01-03",
    "2022-01-0é",
    "2022-01-03€",
    "2022-01-€3",
    "2022-01-03 14:31:00",
    "2022-01-03T14:31:00Z",
    "2022-01-03 14:31",
    "2022-01-03 09:31:00",
    "2022-02-29",
    "2024-02-29",
    "2022-01-32",
    "1950-01-03",
    "1900-01-02",
    "1677-09-21",
    "1677-09-22",
    "1677-09-25",
    "1678-01-04",
    "2262-04-08",
    "2262-04-11",
    "2262-04-11 23:47:16",
    "2262-04-11 23:59:59",
    "2263-01-03",
    "9999-12-31",
    "0000-01-01",
    "-2022-01-03",
    "20220103",
)

#: Dates and timestamps for the date column: valid ones, and the edges of what the
#: calendars and pandas' nanosecond timestamps can hold.
DATES: tuple[str, ...] = (
    "2022-01-03",
    "2022-01-04",
    "2022-01-07",
    "2022-01-03 14:31:00",
    "2022-01-03 21:00:00",
    "2022-01-03 14:31",
    "2022-01-03T14:31:00",
    "1950-01-03",
    "1900-01-02",
    "1800-01-02",
    "1678-01-04",
    "1677-10-01",
    "1677-09-25",
    "1677-09-22",
    "1677-09-21",
    "1677-09-21 00:12:44",
    "2100-01-04",
    "2262-04-01",
    "2262-04-08",
    "2262-04-11",
    "2262-04-11 23:47:16",
    "2262-04-11 23:47:17",
    "2262-04-12",
    "2263-01-03",
    "2300-01-03 14:31",
    "9999-12-31",
    "0001-01-01",
    "2022-01-03 14:31:59",
    "2022-01-03 14:31:60",
    "2022-01-03 24:00",
)

#: Numbers for the price and volume columns: plausible values at the edges.
NUMBERS: tuple[str, ...] = (
    "0.0001",
    "0.00005",
    "1",
    "10",
    "10.5",
    "11",
    "9",
    "99999999999999.9999",
    "100000000000000",
    "999999999999999999",
    "1000000000000000000",
    "0",
    "-0",
    "00010.5000",
    "1.0e1",
    "10.",
)

#: Bytes worth inserting: separators, quotes, line ends, NUL, multibyte UTF-8, invalid UTF-8.
INSERTS: tuple[bytes, ...] = (
    b",",
    b"\n",
    b"\r",
    b"\r\n",
    b'"',
    b"\x00",
    b"-",
    b".",
    b"e",
    b"0",
    b"9",
    b" ",
    b"\t",
    b":",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xf0\x9f\x92\xa5",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xef\xbb\xbf",
)

#: Symbol file names (csvdir): mostly ordinary, sometimes odd; bytes, as the file system has them.
SYMBOLS: tuple[bytes, ...] = (b"AAA", b"BBB", b"CCC", b"XYZ", b"BRK.B", b"SPY")
ODD_SYMBOLS: tuple[bytes, ...] = (
    b"",
    b"\xff\xfe",
    b"A\xc3",
    "ÄÖÜ".encode(),
    "€".encode(),
    b"a b",
    b"-",
    b".hidden",
    b"x" * 200,
    b"A,B",
    b'A"B',
    b"aaa",
    b"\t",
)

_ENDINGS = (b"\n", b"\r\n", b"\r")


@dataclass(frozen=True)
class Seed:
    """A corpus file: ``kind`` is ``daily``, ``minute`` or ``table``; ``frequency`` the
    frequency to ingest it at."""

    kind: str
    name: str
    content: bytes
    frequency: str


@dataclass
class Case:
    """One fuzz input: ``files`` maps a path relative to the case directory (bytes, so
    non-UTF-8 names survive) to its content; ``target`` is what the ingest is given."""

    kind: str
    frequency: str
    files: dict[bytes, bytes]
    target: bytes
    mutations: list[str] = field(default_factory=list)
    dirs: list[bytes] = field(default_factory=list)
    options: dict = field(default_factory=dict)

    def write(self, root: Path) -> Path:
        """Write the case under ``root``; return the ingest's path argument."""
        base = os.fsencode(root)
        for d in self.dirs:
            os.makedirs(os.path.join(base, d), exist_ok=True)
        for rel, content in self.files.items():
            full = os.path.join(base, rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as fh:
                fh.write(content)
        return Path(os.fsdecode(os.path.join(base, self.target)))


@dataclass
class Outcome:
    """What one ingest did: ``status`` is ``ok``, ``refused``, ``failure`` or ``known``
    (a failure in :data:`KNOWN_FAILURES`)."""

    status: str
    error_class: str = ""
    message: str = ""
    detail: str = ""


# ---------------------------------------------------------------------------------------
# corpus


def default_corpus_dir() -> Path | None:
    """``tests/fuzz_corpus`` of the checkout this module is in, or None (installed)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "tests" / "fuzz_corpus"
        if candidate.is_dir():
            return candidate
    return None


def _seed_for(rel: str, content: bytes) -> Seed | None:
    kind = rel.split("/", 1)[0]
    if kind not in ("daily", "minute", "table") or not rel.endswith(".csv"):
        return None
    frequency = "minute" if kind == "minute" or "minute" in rel.rsplit("/", 1)[-1] else "daily"
    return Seed(kind, rel, content, frequency)


def load_corpus(corpus: str | os.PathLike | None = None) -> list[Seed]:
    """The seeds of ``corpus`` (default :func:`default_corpus_dir`, else the built-in
    seeds), sorted by name so that a seed gives the same run everywhere."""
    path = Path(corpus) if corpus is not None else default_corpus_dir()
    items: dict[str, bytes] = {}
    if path is not None and path.is_dir():
        for f in sorted(path.rglob("*.csv")):
            items[f.relative_to(path).as_posix()] = f.read_bytes()
    if not items:
        items = dict(BUILTIN_SEEDS)
    seeds = [s for rel in sorted(items) if (s := _seed_for(rel, items[rel])) is not None]
    if not seeds:
        raise ValueError(f"no corpus files under {path} (daily/*.csv, minute/*.csv, table/*.csv)")
    return seeds


# ---------------------------------------------------------------------------------------
# mutations


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _random_unicode(rng: random.Random) -> bytes:
    while True:
        cp = rng.choice((rng.randrange(0x80, 0x800), rng.randrange(0x800, 0x10000)))
        cp = cp if rng.random() < 0.8 else rng.randrange(0x10000, 0x110000)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp).encode()


def _replace_field(data: bytes, rng: random.Random, value: bytes) -> bytes:
    lines = _lines(data)
    if not lines:
        return value
    i = rng.randrange(len(lines))
    body = lines[i].rstrip(b"\r\n")
    end = lines[i][len(body) :]
    fields = body.split(b",")
    fields[rng.randrange(len(fields))] = value
    lines[i] = b",".join(fields) + end
    return b"".join(lines)


def _mutate_bytes(data: bytes, rng: random.Random, others: list[Seed]) -> tuple[bytes, str]:
    """One random mutation of ``data``; returns the result and its description."""
    op = rng.randrange(21)
    n = len(data)
    lines = _lines(data)
    if op == 0 and n:
        i = rng.randrange(n)
        bit = 1 << rng.randrange(8)
        return data[:i] + bytes([data[i] ^ bit]) + data[i + 1 :], f"flip bit {bit} at {i}"
    if op == 1 and n:
        i = rng.randrange(n)
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :], f"set byte {i}"
    if op == 2:
        i = rng.randrange(n + 1)
        ins = rng.choice(INSERTS)
        return data[:i] + ins + data[i:], f"insert {ins!r} at {i}"
    if op == 3 and n:
        i = rng.randrange(n)
        k = rng.choice((1, 1, 2, 3, 8))
        return data[:i] + data[i + k :], f"delete {k} at {i}"
    if op == 4 and lines:
        i = rng.randrange(len(lines))
        return b"".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]), f"duplicate line {i}"
    if op == 5 and len(lines) > 1:
        i = rng.randrange(len(lines))
        return b"".join(lines[:i] + lines[i + 1 :]), f"drop line {i}"
    if op == 6 and len(lines) > 1:
        i, j = rng.sample(range(len(lines)), 2)
        lines[i], lines[j] = lines[j], lines[i]
        return b"".join(lines), f"swap lines {i},{j}"
    if op == 7 and others:
        donor = rng.choice(others)
        donor_lines = _lines(donor.content) or [b""]
        line = rng.choice(donor_lines)
        i = rng.randrange(len(lines) + 1)
        if not line.endswith((b"\n", b"\r")):
            line += b"\n"
        return b"".join([*lines[:i], line, *lines[i:]]), f"splice a line of {donor.name}"
    if op in (8, 9, 10):
        value = rng.choice(EXTREMES).encode()
        return _replace_field(data, rng, value), f"field := {value[:40]!r}"
    if op == 11:
        i = rng.randrange(n + 1)
        u = _random_unicode(rng)
        return data[:i] + u + data[i:], f"insert unicode {u!r} at {i}"
    if op == 12 and n:
        i = rng.randrange(n)
        return data[:i], f"truncate at {i}"
    if op == 13:
        end = rng.choice(_ENDINGS)
        return b"".join(ln.rstrip(b"\r\n") + end for ln in lines), f"line endings {end!r}"
    if op == 14 and lines:
        header = lines[0].rstrip(b"\r\n").split(b",")
        how = rng.randrange(5)
        if how == 0 and len(header) > 1:
            header.pop(rng.randrange(len(header)))
        elif how == 1:
            header.append(rng.choice(header))
        elif how == 2:
            rng.shuffle(header)
        elif how == 3:
            header = [h.upper() for h in header]
        else:
            header.append(rng.choice((b"dividend", b"split", b"extra", b"date", b"")))
        lines[0] = b",".join(header) + b"\n"
        return b"".join(lines), f"header variant {how}"
    if op == 15 and lines:
        lines = lines[:1] + lines[1:][::-1]
        return b"".join(lines), "reverse rows"
    if op == 16:
        return b"\xef\xbb\xbf" + data, "BOM"
    if op in (17, 18) and len(lines) > 1:  # a date column value
        return _replace_column(lines, rng, (b"date", b"timestamp"), rng.choice(DATES).encode())
    if op in (19, 20) and len(lines) > 1:  # a number where a number goes
        value = rng.choice(NUMBERS).encode()
        cols = (b"open", b"high", b"low", b"close", b"volume", b"dividend", b"split")
        return _replace_column(lines, rng, cols, value)
    return data, "none"


def _replace_column(
    lines: list[bytes], rng: random.Random, names: tuple[bytes, ...], value: bytes
) -> tuple[bytes, str]:
    """Set one of the columns ``names`` (by the header) of a random data line to ``value``."""
    header = lines[0].rstrip(b"\r\n").split(b",")
    cols = [i for i, h in enumerate(header) if h.strip().lower() in names] or [0]
    col = rng.choice(cols)
    i = rng.randrange(1, len(lines))
    body = lines[i].rstrip(b"\r\n")
    fields = body.split(b",")
    if col < len(fields):
        fields[col] = value
    lines[i] = b",".join(fields) + lines[i][len(body) :]
    return b"".join(lines), f"line {i} column {col} := {value!r}"


def _mutate(seed: Seed, rng: random.Random, others: list[Seed]) -> tuple[bytes, list[str]]:
    data, done = seed.content, []
    if rng.random() < 0.12:
        return data, ["unmutated"]
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5))):
        data, what = _mutate_bytes(data, rng, others)
        done.append(what)
    return data, done


def _symbol(rng: random.Random, taken: set[bytes]) -> bytes:
    pool = ODD_SYMBOLS if rng.random() < 0.06 else SYMBOLS
    choices = [s for s in pool if s not in taken] or [b"S%d" % len(taken)]
    return rng.choice(choices)


def _parquet_bytes(seed: Seed, rng: random.Random, mutations: list[str]) -> bytes:
    """A Parquet long table made from a table seed with cell-level mutations."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.read_csv(io.BytesIO(seed.content), dtype=str, keep_default_na=False)
    time_col = "timestamp" if "timestamp" in frame.columns else "date"
    numeric = [c for c in ("open", "high", "low", "close", "volume") if c in frame.columns]
    if rng.random() < 0.7:  # typed columns, as a dataframe library would write them
        for col in numeric:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        how = rng.choice(("utc", "naive", "ny", "text"))
        if how != "text":
            ts = pd.to_datetime(frame[time_col], errors="coerce", utc=True)
            frame[time_col] = (
                ts.dt.tz_localize(None)
                if how == "naive"
                else ts.dt.tz_convert("America/New_York")
                if how == "ny"
                else ts
            )
        mutations.append(f"typed columns, timestamps {how}")
    else:
        mutations.append("string columns")
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        op = rng.randrange(9)
        if op <= 2 and len(frame):
            col = rng.choice(list(frame.columns))
            row = rng.randrange(len(frame))
            value: object = rng.choice(EXTREMES)
            if frame[col].dtype.kind == "f":
                value = rng.choice(
                    (np.nan, np.inf, -np.inf, 0.0, -1.0, 1e20, 1e-300, 1.23456789, 2.0**63)
                )
            elif frame[col].dtype.kind in "iu":
                value = rng.choice((0, -1, 2**63 - 1, -(2**63)))
            elif frame[col].dtype.kind == "M":
                value = pd.NaT
            else:
                frame[col] = frame[col].astype(object)
            frame.loc[frame.index[row], col] = value
            mutations.append(f"cell {col}[{row}] := {str(value)[:40]!r}")
        elif op == 3 and len(frame.columns) > 1:
            col = rng.choice(list(frame.columns))
            frame = frame.drop(columns=[col])
            mutations.append(f"drop column {col}")
        elif op == 4:
            col = rng.choice(list(frame.columns))
            new = rng.choice(("extra", "Close", "dividend", "split", "date", "symbol "))
            if new not in frame.columns:
                frame[new] = frame[col]
                mutations.append(f"copy column {col} as {new!r}")
        elif op == 5 and len(frame):
            frame = frame.sample(frac=1.0, random_state=rng.randrange(2**31))
            mutations.append("shuffle rows")
        elif op == 6 and len(frame):
            frame = pd.concat([frame, frame.iloc[[rng.randrange(len(frame))]]])
            mutations.append("duplicate a row")
        elif op == 7:
            frame = frame.iloc[0:0]
            mutations.append("no rows")
        else:
            col = rng.choice(list(frame.columns))
            frame[col] = frame[col].astype("category")
            mutations.append(f"categorical {col}")
    sink = io.BytesIO()
    try:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=rng.random() < 0.1), sink)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame.astype(str), preserve_index=False), sink)
        mutations.append("written as strings")
    data = sink.getvalue()
    if rng.random() < 0.12:  # and sometimes a damaged file
        data, what = _mutate_bytes(data, rng, [])
        mutations.append(f"parquet bytes: {what}")
    return data


def _options(rng: random.Random) -> dict:
    """Sometimes ``allow_gaps=True`` (where the ingest functions have it)."""
    import inspect

    gaps = "allow_gaps" in inspect.signature(rustybt.ingest_csvdir).parameters
    return {"allow_gaps": True} if gaps and rng.random() < 0.2 else {}


def make_case(rng: random.Random, corpus: list[Seed]) -> Case:
    """A random fuzz input made from ``corpus`` with ``rng``."""
    case = _make_case(rng, corpus)
    case.options = _options(rng)
    if case.options:
        case.mutations.append(f"options {case.options}")
    return case


def _make_case(rng: random.Random, corpus: list[Seed]) -> Case:
    kind = rng.choice(KINDS)
    if kind in ("daily", "minute"):
        pool = [s for s in corpus if s.kind == kind] or corpus
        seed = rng.choice(pool)
        data, mutations = _mutate(seed, rng, corpus)
        sub = kind.encode()
        if rng.random() < 0.03:  # a file in the other frequency's layout
            kind = "minute" if kind == "daily" else "daily"
            mutations.append(f"ingested as {kind}")
        taken: set[bytes] = set()
        sym = _symbol(rng, taken)
        taken.add(sym)
        files = {sub + b"/" + sym + b".csv": data}
        dirs = [sub]
        mutations.insert(0, f"{seed.name} as {sym!r}")
        if rng.random() < 0.3:  # a second asset
            other = rng.choice(pool)
            sym2 = _symbol(rng, taken)
            content = other.content
            if rng.random() < 0.3:
                content, extra = _mutate(other, rng, corpus)
                mutations.append(f"second file mutated: {extra}")
            files[sub + b"/" + sym2 + b".csv"] = content
            mutations.append(f"second file {other.name} as {sym2!r}")
        odd = rng.random()
        if odd < 0.02:
            dirs.append(sub + b"/DIR.csv")
            mutations.append("a directory named DIR.csv")
        elif odd < 0.04:
            files[sub + b"/EMPTY.csv"] = b""
            mutations.append("an empty EMPTY.csv")
        elif odd < 0.06:
            files[sub + b"/notes.txt"] = b"not a csv\n"
            mutations.append("a notes.txt beside")
        return Case(kind, kind, files, b".", mutations, dirs)
    pool = [s for s in corpus if s.kind == "table"] or corpus
    seed = rng.choice(pool)
    if kind == "table_csv" or seed.kind != "table":
        data, mutations = _mutate(seed, rng, corpus)
        suffix = rng.choice((b".csv",) * 8 + (b".CSV", b".txt", b""))
        name = b"table" + suffix
        mutations.insert(0, f"{seed.name} as {name!r}")
        return Case("table_csv", seed.frequency, {name: data}, name, mutations)
    mutations = [f"{seed.name} as Parquet"]
    data = _parquet_bytes(seed, rng, mutations)
    return Case(
        "table_parquet", seed.frequency, {b"table.parquet": data}, b"table.parquet", mutations
    )


def special_cases() -> Iterator[tuple[str, Case]]:
    """Deterministic inputs that are awkward to commit: non-UTF-8 and empty symbol file names."""
    good = HEADER + b"\n2022-01-03,10,11,9,10.5,100\n"
    for label, sym in (
        ("non-UTF-8 file name", b"\xff\xfeA"),
        ("truncated UTF-8 in file name", b"A\xc3"),
        ("empty file name", b""),
    ):
        yield label, Case("daily", "daily", {b"daily/" + sym + b".csv": good}, b".", [label])


# ---------------------------------------------------------------------------------------
# running one case


def _state(name: str) -> tuple[tuple[str, ...], str | None]:
    """What a bundle directory holds (lock and lease bookkeeping aside) and its CURRENT."""
    path = bundles_dir() / name
    if not path.is_dir():
        return (), None
    entries = tuple(sorted(p.name for p in path.iterdir() if p.name not in (".lock", ".leases")))
    current = path / "CURRENT"
    try:
        text = current.read_text() if current.exists() else None
    except OSError:
        text = "<unreadable>"
    return entries, text


def _ingest(case: Case, target: Path, name: str) -> str:
    """Ingest and return the content hash (no reference to the bundle survives the call)."""
    if case.kind in ("daily", "minute"):
        bundle = rustybt.ingest_csvdir(target, name, frequency=case.frequency, **case.options)
    else:
        bundle = rustybt.ingest_table(target, name, frequency=case.frequency, **case.options)
    return bundle.content_hash


def _check_ok(case: Case, target: Path, name: str, digest: str, rehash: bool) -> str | None:
    """Problems with a bundle that was ingested, or None."""
    bundle = load_bundle(name)
    if bundle.content_hash != digest:
        return f"load_bundle gives hash {bundle.content_hash}, ingest gave {digest}"
    if len(bundle.asset_list) == 0:
        return "an ingested bundle has no assets"
    bars = bundle._core.n_bars
    _ = bundle.sessions, bundle.assets
    del bundle
    if rehash and bars:
        again = _ingest(case, target, name)
        if again != digest:
            return f"a second identical ingest gives hash {again}, the first {digest}"
    return None


def _drop(name: str) -> None:
    """Remove a fuzz bundle; a version still leased (garbage not yet collected) is retried."""
    if not (bundles_dir() / name).exists():
        return
    for attempt in range(3):
        try:
            clean_bundle(name, remove=True)
            return
        except RustyBTError:
            if attempt == 2:
                raise
            gc.collect()


def _names_input(message: str, case_root: Path) -> bool:
    return case_root.name in message


def _classify(exc: BaseException, message: str, case_root: Path, before, after) -> Outcome:
    cls = type(exc).__name__
    if isinstance(exc, InternalError):
        return Outcome("failure", cls, message, "a Rust panic (InternalError)")
    if not isinstance(exc, RustyBTError):
        return Outcome("failure", cls, message, "not a RustyBTError")
    if not message.strip():
        return Outcome("failure", f"{cls} (empty message)", message, "refusal without a message")
    if not _names_input(message, case_root):
        return Outcome("failure", f"{cls} (names no input)", message, "refusal names no input")
    if after != before:
        return Outcome(
            "failure",
            f"{cls} (left state behind)",
            message,
            f"bundle directory before {before}, after {after}",
        )
    return Outcome("refused", cls, message)


def execute(case: Case, root: Path, name: str, rehash: bool = True) -> Outcome:
    """Write ``case`` under ``root``, ingest it as bundle ``name`` and classify the outcome.
    The bundle is removed again if ``name`` did not exist before."""
    root.mkdir(parents=True, exist_ok=True)
    target = case.write(root)
    before = _state(name)
    existed = before[1] is not None
    try:
        digest = _ingest(case, target, name)
    except Exception as exc:
        outcome = _classify(exc, str(exc), root, before, _state(name))
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        outcome.detail = f"{outcome.detail}\n{trace}".strip()
        return outcome
    try:
        problem = _check_ok(case, target, name, digest, rehash)
    except Exception as exc:
        problem = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        cls = type(exc).__name__
        del exc
        return Outcome("failure", f"{cls} (after ok ingest)", problem.splitlines()[-1], problem)
    finally:
        if not existed:
            with contextlib.suppress(RustyBTError):
                _drop(name)
    if problem:
        return Outcome("failure", "inconsistent bundle", problem, problem)
    return Outcome("ok")


def _count(outcome: Outcome, known: dict[str, str]) -> Outcome:
    if outcome.status == "failure" and outcome.error_class in known:
        outcome.status = "known"
    return outcome


def save_crash(case: Case, outcome: Outcome, crash_dir: Path, label: str) -> Path:
    """Save a failing input under ``crash_dir/label``: its files, ``outcome.txt`` and a
    ``repro.py`` that replays it in a fresh ``RUSTYBT_ROOT``."""
    dest = crash_dir / label
    dest.mkdir(parents=True, exist_ok=True)
    case.write(dest / "input")
    ingest = "ingest_csvdir" if case.kind in ("daily", "minute") else "ingest_table"
    repro = [
        f'"""Replays a rustybt fuzz failure: {outcome.error_class}."""',
        "import os",
        "import tempfile",
        "",
        "os.environ['RUSTYBT_ROOT'] = tempfile.mkdtemp()",
        "import rustybt  # noqa: E402",
        "",
        "FILES = {",
        *(f"    {rel!r}: {content!r}," for rel, content in case.files.items()),
        "}",
        f"DIRS = {case.dirs!r}",
        "base = os.fsencode(tempfile.mkdtemp())",
        "for d in DIRS:",
        "    os.makedirs(os.path.join(base, d), exist_ok=True)",
        "for rel, content in FILES.items():",
        "    os.makedirs(os.path.dirname(os.path.join(base, rel)), exist_ok=True)",
        "    with open(os.path.join(base, rel), 'wb') as fh:",
        "        fh.write(content)",
        f"target = os.fsdecode(os.path.join(base, {case.target!r}))",
        f"rustybt.{ingest}(target, 'repro', frequency={case.frequency!r}, **{case.options!r})",
        "",
    ]
    (dest / "repro.py").write_text("\n".join(repro))
    (dest / "outcome.txt").write_text(
        f"{outcome.status}: {outcome.error_class}\nkind: {case.kind} ({case.frequency})\n"
        f"mutations: {case.mutations}\nmessage: {outcome.message}\n\n{outcome.detail}\n"
    )
    return dest


def replay_corpus(
    corpus: str | os.PathLike | None = None, workdir: str | os.PathLike | None = None
) -> list[tuple[str, Case, Outcome]]:
    """Ingest every corpus file unmutated (table files also as Parquet) and the
    :func:`special_cases`; return ``(label, case, outcome)`` for each."""
    results = []
    cases: list[tuple[str, Case]] = []
    for seed in load_corpus(corpus):
        if seed.kind in ("daily", "minute"):
            rel = seed.kind.encode() + b"/AAA.csv"
            cases.append((seed.name, Case(seed.kind, seed.frequency, {rel: seed.content}, b".")))
        else:
            cases.append(
                (seed.name, Case("table_csv", seed.frequency, {b"t.csv": seed.content}, b"t.csv"))
            )
            parquet = _parquet_bytes(seed, _NoMutation(), [])
            cases.append(
                (
                    f"{seed.name} as Parquet",
                    Case("table_parquet", seed.frequency, {b"t.parquet": parquet}, b"t.parquet"),
                )
            )
    cases.extend(special_cases())
    with tempfile.TemporaryDirectory(prefix="rustybt-fuzz-replay-", dir=workdir) as tmp:
        for i, (label, case) in enumerate(cases):
            name = f"fuzz-replay-{os.getpid()}-{i}"
            outcome = execute(case, Path(tmp) / f"case-{i:06d}", name)
            results.append((label, case, outcome))
    return results


class _NoMutation(random.Random):
    """An ``rng`` under which :func:`_parquet_bytes` writes the seed as it is: typed columns
    with UTC timestamps, no cell mutations, no damage."""

    def random(self) -> float:
        return 0.5

    def choice(self, seq):
        return seq[0]


def _say(line: str) -> None:
    print(line, flush=True)


def run(
    minutes: float | None = 0.5,
    seed: int | None = None,
    max_iterations: int | None = None,
    corpus: str | os.PathLike | None = None,
    crash_dir: str | os.PathLike | None = None,
    known: dict[str, str] | None = None,
    rehash: bool = True,
    log: Callable[[str], None] | None = _say,
    progress_every: float = 60.0,
) -> dict:
    """Fuzz the ingest paths for ``minutes`` (or ``max_iterations``, whichever ends first).

    Parameters
    ----------
    minutes
        Wall-clock budget; None for no time limit (then ``max_iterations`` is required).
    seed
        Seed of the run (printed first); None picks one. Iteration ``i`` uses
        ``random.Random(f"{seed}:{i}")``, so a run replays exactly on the same corpus.
    max_iterations
        Stop after this many inputs (None: only the time budget counts).
    corpus
        Directory of seed files (``daily/``, ``minute/``, ``table/``); default
        ``tests/fuzz_corpus`` of the checkout, else a few built-in seeds.
    crash_dir
        Where failing inputs are saved (default ``$RUSTYBT_ROOT/fuzz-crashes``).
    known
        Failure classes counted as ``known_failures`` instead of ``failures``; default
        :data:`KNOWN_FAILURES`, ``{}`` to count every failure.
    rehash
        Check that a second identical ingest of an ``ok`` input gives the same content hash.
    log
        Called with each line of output (the seed, failures, progress, the summary); None
        for silence.
    progress_every
        Seconds between progress lines.

    Returns
    -------
    dict
        ``seed``, ``iterations``, ``ok``, ``refused``, ``failures``, ``known_failures``,
        ``by_kind`` (kind -> Counter of statuses), ``by_error_class`` (class -> count, over
        refusals and failures), ``examples`` (class -> its first message), ``failed`` (one dict per failure: iteration, kind, class,
        message, saved) and ``seconds``.

    Examples
    --------
    >>> from rustybt.tooling import fuzz
    >>> counts = fuzz.run(minutes=None, seed=1, max_iterations=20, log=None)
    >>> counts["iterations"], counts["failures"]
    (20, 0)
    """
    if minutes is None and max_iterations is None:
        raise ValueError("give minutes or max_iterations (or both)")
    seed = random.SystemRandom().randrange(2**32) if seed is None else int(seed)
    known = KNOWN_FAILURES if known is None else known
    seeds = load_corpus(corpus)
    crashes = Path(crash_dir) if crash_dir is not None else rustybt.bundles.root() / "fuzz-crashes"
    say = log or (lambda _line: None)
    say(f"fuzz: seed={seed} corpus={len(seeds)} files")
    counts: dict = {
        "seed": seed,
        "iterations": 0,
        "ok": 0,
        "refused": 0,
        "failures": 0,
        "known_failures": 0,
        "by_kind": {k: Counter() for k in KINDS},
        "by_error_class": Counter(),
        "examples": {},
        "failed": [],
    }
    key = {"ok": "ok", "refused": "refused", "failure": "failures", "known": "known_failures"}
    start = time.monotonic()
    deadline = None if minutes is None else start + minutes * 60
    next_progress = start + progress_every
    workdir = Path(tempfile.mkdtemp(prefix="rustybt-fuzz-"))
    say(f"fuzz: inputs under {workdir} (the last one stays there if the process dies)")
    tag = f"fuzz-{seed}-{os.getpid()}"
    # An existing bundle that some inputs are ingested over: a refusal must leave it as it was.
    keep = f"{tag}-keep"
    keep_case = Case("daily", "daily", {b"daily/AAA.csv": BUILTIN_SEEDS["daily/builtin.csv"]}, b".")
    try:
        _ = rustybt.ingest_csvdir(keep_case.write(workdir / "keep"), keep).content_hash
        i = 0
        while (max_iterations is None or i < max_iterations) and (
            deadline is None or time.monotonic() < deadline
        ):
            rng = random.Random(f"{seed}:{i}")
            case = make_case(rng, seeds)
            root = workdir / f"case-{i:06d}"
            over = rng.random() < 0.2
            name = keep if over else f"{tag}-{i}"
            outcome = _count(execute(case, root, name, rehash=rehash), known)
            if over and outcome.status == "ok":
                with contextlib.suppress(RustyBTError):
                    clean_bundle(keep)  # its older versions
            counts[key[outcome.status]] += 1
            counts["by_kind"][case.kind][outcome.status] += 1
            if outcome.error_class:
                counts["by_error_class"][outcome.error_class] += 1
                counts["examples"].setdefault(outcome.error_class, outcome.message[:300])
            if outcome.status in ("failure", "known"):
                saved = save_crash(case, outcome, crashes, f"{seed}-{i:06d}-{case.kind}")
                counts["failed"].append(
                    {
                        "iteration": i,
                        "kind": case.kind,
                        "class": outcome.error_class,
                        "known": outcome.status == "known",
                        "message": outcome.message,
                        "mutations": case.mutations,
                        "saved": str(saved),
                    }
                )
                if outcome.status == "failure":
                    say(
                        f"FAILURE at iteration {i} ({case.kind}): {outcome.error_class}: "
                        f"{outcome.message[:300]} -> {saved}"
                    )
            shutil.rmtree(root, ignore_errors=True)
            i += 1
            counts["iterations"] = i
            if time.monotonic() >= next_progress:
                next_progress += progress_every
                say(_summary(counts, time.monotonic() - start))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(RustyBTError):
            _drop(keep)
    counts["seconds"] = round(time.monotonic() - start, 1)
    counts["by_kind"] = {k: dict(v) for k, v in counts["by_kind"].items()}
    counts["by_error_class"] = dict(counts["by_error_class"].most_common())
    say(_summary(counts, counts["seconds"]))
    return counts


def _summary(counts: dict, seconds: float) -> str:
    return (
        f"fuzz: seed={counts['seed']} {counts['iterations']} inputs in {seconds:.0f}s: "
        f"ok={counts['ok']} refused={counts['refused']} failures={counts['failures']} "
        f"known_failures={counts['known_failures']}"
    )


# ---------------------------------------------------------------------------------------
# command line


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=1.0, help="time budget (1)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: random, printed)")
    p.add_argument("--max-iterations", type=int, default=None, help="stop after this many inputs")
    p.add_argument("--corpus", default=None, help="seed directory (default tests/fuzz_corpus)")
    p.add_argument(
        "--crash-dir", default=None, help="where failing inputs go (default ./fuzz-crashes)"
    )
    p.add_argument(
        "--root",
        default=None,
        help="RUSTYBT_ROOT for the fuzz bundles (default: a fresh temporary directory)",
    )
    p.add_argument("--no-rehash", action="store_true", help="skip the second-ingest hash check")
    p.add_argument("--strict", action="store_true", help="known failures count as failures")


def _cmd(args: argparse.Namespace) -> int:
    import json

    root_tmp = None
    if args.root is None:
        root_tmp = tempfile.mkdtemp(prefix="rustybt-fuzz-root-")
    os.environ["RUSTYBT_ROOT"] = args.root or root_tmp
    try:
        counts = run(
            minutes=args.minutes,
            seed=args.seed,
            max_iterations=args.max_iterations,
            corpus=args.corpus,
            crash_dir=args.crash_dir or Path.cwd() / "fuzz-crashes",
            known={} if args.strict else None,
            rehash=not args.no_rehash,
            progress_every=30.0,
        )
    finally:
        if root_tmp is not None:
            shutil.rmtree(root_tmp, ignore_errors=True)
    print(json.dumps({k: v for k, v in counts.items() if k != "failed"}, indent=2))
    for f in counts["failed"]:
        print(
            f"{'known ' if f['known'] else ''}failure: iteration {f['iteration']} {f['kind']}: "
            f"{f['class']}: {f['message'][:200]} -> {f['saved']}"
        )
    return 1 if counts["failures"] else 0


def register_cli(sub) -> None:
    """Add ``rustybt fuzz`` to the top-level subparsers ``sub`` (found through a
    ``rustybt.commands`` entry point ``fuzz = "rustybt.tooling.fuzz:register_cli"``)."""
    p = sub.add_parser("fuzz", help="fuzz the ingest paths (csvdir daily/minute, long tables)")
    _add_arguments(p)
    p.set_defaults(func=_cmd)


def main(argv: list[str] | None = None) -> int:
    """``python -m rustybt.tooling.fuzz --minutes N``."""
    parser = argparse.ArgumentParser(
        prog="python -m rustybt.tooling.fuzz", description=__doc__.split("\n\n")[0]
    )
    _add_arguments(parser)
    return _cmd(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
