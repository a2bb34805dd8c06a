"""The conformance suite's bars: 20 synthetic daily assets over 2020-2022 (XNYS sessions),
prices in cents, with splits (2-for-1, 3-for-2) and cash dividends, generated
deterministically (Python's ``random.Random`` seeded by the symbol: the same stream on every
Python and NumPy version) and written

- as zipline's csvdir layout (``daily/SYM.csv``: ``date,open,high,low,close,volume,dividend,
  split``), which both engines ingest (rustybt's ``ingest_csvdir``, zipline's ``csvdir``
  bundle); and the same without the dividends (``csvdir-splits``: zipline's csvdir never
  pays a dividend, so a strategy that trades the payers over their ex-dates parts from
  rustybt for that reason alone);
- as a long table with a ``pay_date`` column for the dividend-pay-date bundle (rustybt's
  ``ingest_table``; the zipline side writes the same rows through its own bar and
  adjustment writers, with the pay dates: ``scripts/zl_run.py``).

``bars_hash`` names the content: stored expectations carry it, and a run over other bars
is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

FIRST, LAST = "2020-01-02", "2022-12-30"

#: zipline's example strategies' symbols, the benchmark (SPY), a dividend payer (KO) and
#: fillers: the momentum pipeline ranks all 20.
SYMBOLS = [
    "AAPL",
    "AMD",
    "CERN",
    "COST",
    "CSCO",
    "DELL",
    "F",
    "GE",
    "GPS",
    "IBM",
    "INTC",
    "JNJ",
    "KO",
    "MMM",
    "MSFT",
    "PG",
    "SPY",
    "T",
    "WMT",
    "XOM",
]

#: symbol -> {session: new shares per old share}
SPLITS = {
    "AAPL": {"2021-08-02": 2.0},
    "AMD": {"2022-03-01": 1.5},
    "INTC": {"2022-09-01": 2.0},
    "SPY": {"2022-06-01": 2.0},
}
#: symbol -> {ex-date: cash per share}
DIVIDENDS = {
    "SPY": {"2022-03-18": 1.37, "2022-09-16": 1.60},
    "KO": {"2022-03-14": 0.44, "2022-06-14": 0.44, "2022-09-14": 0.44, "2022-11-30": 0.44},
}
#: the dividend-pay-date bundle: these symbols only, each dividend paid this many sessions
#: after its ex-date (record date one session after, declared ten sessions before)
PAYDATE_SYMBOLS = ("AAPL", "KO", "MSFT")
#: the files' layout: a new layout gets a new folder (``run.data_dir``)
LAYOUT = 2
PAY_AFTER, RECORD_AFTER, DECLARED_BEFORE = 12, 1, 10


def _session_dates() -> list[str]:
    import pandas as pd

    from rustybt.calendars import sessions as cal_sessions

    days = cal_sessions("XNYS", FIRST, LAST)[0]
    return [pd.Timestamp(int(d), unit="D").strftime("%Y-%m-%d") for d in days]


def _cents(x: float) -> float:
    return max(0.01, round(x, 2))


@dataclass
class Bars:
    dates: list[str]
    #: symbol -> rows (date, open, high, low, close, volume, dividend, split)
    rows: dict[str, list[tuple]] = field(default_factory=dict)

    def csv_text(self, symbol: str, dividends: bool = True) -> str:
        lines = ["date,open,high,low,close,volume,dividend,split"]
        for d, o, h, lo, c, v, div, spl in self.rows[symbol]:
            div = div if dividends else 0.0
            lines.append(f"{d},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v},{div:g},{spl:g}")
        return "\n".join(lines) + "\n"

    def pay_dates(self) -> dict[tuple[str, str], dict[str, str]]:
        """(symbol, ex-date) -> {pay_date, record_date, declared_date} of the pay-date
        bundle's dividends."""
        out = {}
        index = {d: i for i, d in enumerate(self.dates)}
        for sym in PAYDATE_SYMBOLS:
            for ex in DIVIDENDS.get(sym, {}):
                i = index[ex]
                out[(sym, ex)] = {
                    "pay_date": self.dates[i + PAY_AFTER],
                    "record_date": self.dates[i + RECORD_AFTER],
                    "declared_date": self.dates[i - DECLARED_BEFORE],
                }
        return out

    def long_table_text(self) -> str:
        """The pay-date bundle's long table (``ingest_table``): ``pay_date`` is a date on a
        dividend's row, empty on the others."""
        pays = self.pay_dates()
        lines = ["symbol,date,open,high,low,close,volume,dividend,split,pay_date"]
        for sym in PAYDATE_SYMBOLS:
            for d, o, h, lo, c, v, div, spl in self.rows[sym]:
                pay = pays[(sym, d)]["pay_date"] if div else ""
                lines.append(
                    f"{sym},{d},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v},{div:g},{spl:g},{pay}"
                )
        return "\n".join(lines) + "\n"

    @property
    def bars_hash(self) -> str:
        h = hashlib.sha256()
        for sym in sorted(self.rows):
            h.update(sym.encode() + b"\0" + self.csv_text(sym).encode())
        h.update(json.dumps(sorted((k[0], k[1], v) for k, v in self._pay_items())).encode())
        return h.hexdigest()

    def _pay_items(self):
        return [(k, v["pay_date"]) for k, v in self.pay_dates().items()]

    def write(self, dest: Path) -> Path:
        """Write ``dest/csvdir/daily/SYM.csv``, the same bars without their dividends in
        ``dest/csvdir-splits/daily/SYM.csv``, ``dest/paydates.csv`` (the long table) and
        ``dest/paydates.json`` (every dividend's dates, for zipline's adjustment writer);
        skipped when ``dest`` already holds these bars."""
        dest = Path(dest)
        marker = dest / "bars.json"
        if marker.exists() and json.loads(marker.read_text()).get("bars_hash") == self.bars_hash:
            return dest
        for folder, dividends in (("csvdir", True), ("csvdir-splits", False)):
            daily = dest / folder / "daily"
            daily.mkdir(parents=True, exist_ok=True)
            for sym in self.rows:
                (daily / f"{sym}.csv").write_text(self.csv_text(sym, dividends))
        (dest / "paydates.csv").write_text(self.long_table_text())
        pays = [
            {"symbol": s, "ex_date": ex, "amount": DIVIDENDS[s][ex], **dates}
            for (s, ex), dates in sorted(self.pay_dates().items())
        ]
        (dest / "paydates.json").write_text(
            json.dumps({"symbols": list(PAYDATE_SYMBOLS), "dividends": pays}, indent=1)
        )
        marker.write_text(
            json.dumps({"bars_hash": self.bars_hash, "first": FIRST, "last": LAST}, indent=1)
        )
        return dest


def make_bars() -> Bars:
    """The suite's bars (the same on every run)."""
    dates = _session_dates()
    bars = Bars(dates)
    for sym in SYMBOLS:
        rng = random.Random(f"rustybt-conformance-{sym}")
        splits, divs = SPLITS.get(sym, {}), DIVIDENDS.get(sym, {})
        value = 20.0 + 280.0 * rng.random()  # the price before any split
        factor = 1.0  # shares per original share, so far
        drift, vol = 0.0004 * (rng.random() - 0.3), 0.012 + 0.02 * rng.random()
        prev_close = None
        rows = []
        for d in dates:
            ratio = splits.get(d, 1.0)
            factor *= ratio
            value *= math.exp(drift + vol * rng.gauss(0.0, 1.0))
            close = _cents(value / factor)
            ref = close if prev_close is None else prev_close / ratio
            open_ = _cents(ref * (1.0 + 0.006 * rng.gauss(0.0, 1.0)))
            high = _cents(max(open_, close) * (1.0 + 0.008 * rng.random()))
            low = _cents(min(open_, close) * (1.0 - 0.008 * rng.random()))
            volume = int(200_000 + 3_000_000 * rng.random())
            rows.append((d, open_, high, low, close, volume, divs.get(d, 0.0), ratio))
            prev_close = close
        bars.rows[sym] = rows
    return bars
