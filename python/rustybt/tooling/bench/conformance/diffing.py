"""Comparing one strategy's two runs (JSON of ``scripts/frames.py``), per aspect:

- ``run``: both completed, or both raised the same exception type;
- ``index``: the sessions (and the index dtype);
- ``fills``: every fill as (date, symbol, amount, price, commission), sorted; a fill's
  commission is what its order's ``commission`` grew by that session (zipline's
  transaction records carry ``commission=None``: the order is where it keeps it);
- every column of zipline's perf frame, values and dtype. Order ids are compared by
  position: each engine's ids are replaced by their rank in the order the orders first
  appear (session, then created, asset, amount); lists of records (``orders``,
  ``transactions``, ``positions``) are compared in a canonical order within a session;
- columns only rustybt has: listed (``extra``), not counted as differences.

Numbers are equal within 1e-9 relative (``|a - b| <= 1e-9 * max(1, |a|, |b|)``): rustybt's
exact ledger quantizes to 12 places where zipline's floats carry their rounding. NaN equals
NaN; ``None`` equals ``None`` only. Integers and floats compare by value, but a field that
is an integer on one side and a float on the other is reported as a difference of kind
(zipline's counts are ints). pandas 3 reports a column of text as dtype ``str`` where pandas
2 (zipline's) says ``object``: the two are treated as the same dtype. rustybt's record
columns have dtype ``records`` (``rustybt.records``: built when first read), zipline's
``object``; their values are lists of dicts in both, and the two dtypes are treated as the
same.
"""

from __future__ import annotations

import math
from typing import Any

REL_TOL = 1e-9
RECORD_COLUMNS = ("orders", "transactions", "positions")


def _same_dtype(a: str, b: str) -> bool:
    text = {"str", "string", "object"}
    return a == b or (a in text and b in text) or (a, b) == ("records", "object")


def _kind(v) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    return type(v).__name__


def _num_diff(a, b) -> float | None:
    """abs(a - b) of two numbers (0.0 when both NaN, inf when one is), else None."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        fa, fb = float(a), float(b)
        if math.isnan(fa) and math.isnan(fb):
            return 0.0
        if math.isnan(fa) or math.isnan(fb):
            return math.inf
        if math.isinf(fa) or math.isinf(fb):
            return 0.0 if fa == fb else math.inf
        return abs(fa - fb)
    return None


def _close(a, b, diff: float) -> bool:
    scale = max(1.0, abs(float(a)), abs(float(b))) if math.isfinite(diff) else 1.0
    return diff <= REL_TOL * scale


class _Diff:
    """Accumulates one aspect's differences."""

    def __init__(self):
        self.max_abs = 0.0
        self.first: str | None = None
        self.fields: set[str] = set()
        self.examples: list[str] = []
        self.count = 0

    def value(self, date: str, field: str, a, b, kinds: bool = True) -> None:
        d = _num_diff(a, b)
        if d is not None:
            if not _close(a, b, d):
                self._differ(date, field, a, b)
                self.max_abs = max(self.max_abs, d)
            elif d > 0:
                self.max_abs = max(self.max_abs, d)
            if kinds and _kind(a) != _kind(b):
                self._differ(date, f"{field} (kind)", _kind(a), _kind(b))
            return
        if a != b:
            self._differ(date, field, a, b)

    def _differ(self, date, field, a, b) -> None:
        self.count += 1
        self.fields.add(field)
        if self.first is None:
            self.first = date
        if len(self.examples) < 3:
            self.examples.append(f"{date} {field}: rustybt {_short(a)} vs zipline {_short(b)}")

    def result(self, dtype=None) -> dict:
        out: dict[str, Any] = {"equal": self.count == 0, "max_abs_diff": self.max_abs}
        if dtype is not None:
            out["dtype"] = list(dtype)
            if not _same_dtype(*dtype):
                out["equal"] = False
                out["dtype_differs"] = True
        if self.count:
            out.update(
                first_date=self.first,
                differing=self.count,
                fields=sorted(self.fields),
                examples=self.examples,
            )
        return out


def _short(v) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


# ---- records: orders, transactions, positions ----------------------------------------------


def _order_key(rec: dict) -> tuple:
    return (
        str(rec.get("created")),
        str(rec.get("sid")),
        _sortable(rec.get("amount")),
        _sortable(rec.get("limit")),
        _sortable(rec.get("stop")),
    )


def _sortable(v):
    return (0, float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, str(v))


def _position(rank: int, oid) -> str:
    """``#rank``; an id that is not text (zipline's are uuid hex strings) says its kind."""
    return f"#{rank}" if isinstance(oid, str) else f"#{rank} ({_kind(oid)} id)"


def order_positions(columns: dict, index: list[str]) -> dict:
    """Each order id's position: its rank in the order of first appearance (session, then
    created, asset, amount, limit, stop)."""
    seen: dict = {}
    orders = columns.get("orders", {}).get("values") or [[] for _ in index]
    for day in orders:
        for rec in sorted(day or [], key=_order_key):
            oid = rec.get("id")
            if oid not in seen:
                seen[oid] = _position(len(seen), oid)
    # orders only a transaction names (an engine that lists no orders)
    for day in columns.get("transactions", {}).get("values") or []:
        for rec in day or []:
            oid = rec.get("order_id")
            if oid not in seen:
                seen[oid] = _position(len(seen), oid)
    return seen


def _records(day, column: str, ids: dict) -> list[dict]:
    out = []
    for rec in day or []:
        rec = dict(rec)
        if column == "orders" and "id" in rec:
            rec["id"] = ids.get(rec["id"], rec["id"])
        if column == "transactions" and "order_id" in rec:
            rec["order_id"] = ids.get(rec["order_id"], rec["order_id"])
        out.append(rec)
    if column == "orders":
        out.sort(key=lambda r: (*_order_key(r), str(r.get("id"))))
    elif column == "transactions":
        out.sort(
            key=lambda r: (
                str(r.get("dt")),
                str(r.get("sid")),
                _sortable(r.get("amount")),
                _sortable(r.get("price")),
                str(r.get("order_id")),
            )
        )
    else:
        out.sort(key=lambda r: str(r.get("sid")))
    return out


def _compare_records(diff: _Diff, date: str, column: str, a: list, b: list) -> None:
    if len(a) != len(b):
        diff._differ(date, "count", len(a), len(b))
    for ra, rb in zip(a, b):
        for field in sorted(set(ra) | set(rb)):
            if field not in ra or field not in rb:
                diff._differ(date, f"{field} (present)", field in ra, field in rb)
                continue
            diff.value(date, field, ra[field], rb[field])


# ---- fills ----------------------------------------------------------------------------------


def fills(perf: dict) -> list[tuple]:
    """(date, symbol, amount, price, commission) of every transaction, the commission
    being what the transaction's order's commission grew by that session."""
    cols, index = perf["columns"], perf["index"]["values"]
    orders = cols.get("orders", {}).get("values") or [[] for _ in index]
    txns = cols.get("transactions", {}).get("values") or [[] for _ in index]
    last_commission: dict = {}
    out = []
    for day_orders, day_txns in zip(orders, txns):
        grew = {}
        for rec in day_orders or []:
            c = rec.get("commission") or 0.0
            c = float(c["decimal"]) if isinstance(c, dict) else float(c)
            grew[rec.get("id")] = c - last_commission.get(rec.get("id"), 0.0)
            last_commission[rec.get("id")] = c
        per_order: dict = {}
        for t in day_txns or []:
            per_order.setdefault(t.get("order_id"), []).append(t)
        for oid, ts in per_order.items():
            for k, t in enumerate(ts):
                # the order's growth goes with its session's first fill (one fill per
                # order per bar in daily runs)
                commission = grew.get(oid, math.nan) if k == 0 else 0.0
                out.append(
                    (
                        str(t.get("dt"))[:10],
                        str(t.get("sid")).removeprefix("asset:"),
                        t.get("amount"),
                        t.get("price"),
                        commission,
                    )
                )
    out.sort(key=lambda f: (f[0], f[1], _sortable(f[2]), _sortable(f[3]), _sortable(f[4])))
    return out


def _compare_fills(ours: dict, theirs: dict) -> dict:
    """Session by session: a session whose fills differ in number is one difference (its
    fills are not paired), so the first differing date is where the runs part."""
    a, b = fills(ours), fills(theirs)
    by_a: dict = {}
    by_b: dict = {}
    for f in a:
        by_a.setdefault(f[0], []).append(f)
    for f in b:
        by_b.setdefault(f[0], []).append(f)
    diff = _Diff()
    for date in sorted(set(by_a) | set(by_b)):
        da, db = by_a.get(date, []), by_b.get(date, [])
        if len(da) != len(db):
            diff._differ(date, "count", len(da), len(db))
            continue
        for fa, fb in zip(da, db):
            for k, field in enumerate(("symbol", "amount", "price", "commission"), start=1):
                diff.value(date, field, fa[k], fb[k])
    out = diff.result()
    out["count"] = [len(a), len(b)]
    return out


# ---- one strategy ---------------------------------------------------------------------------


def compare_runs(ours: dict, theirs: dict) -> dict:
    """``{"run": {...}, "index": {...}, "fills": {...}, column: {...}, ...,
    "extra": [rustybt's columns zipline lacks]}``; each aspect ``{"equal", ...}``."""
    result: dict[str, Any] = {}
    err_a, err_b = ours.get("error"), theirs.get("error")
    run = {
        "equal": (err_a is None) == (err_b is None)
        and (err_a is None or err_a["type"] == err_b["type"]),
        "rustybt": err_a,
        "zipline": err_b,
    }
    if err_a and err_b:
        run["last_seen"] = [ours.get("last_seen"), theirs.get("last_seen")]
        run["equal"] = run["equal"] and ours.get("last_seen") == theirs.get("last_seen")
    result["run"] = run
    if err_a or err_b:
        return result
    pa, pb = ours["perf"], theirs["perf"]
    ia, ib = pa["index"]["values"], pb["index"]["values"]
    idiff = _Diff()
    if len(ia) != len(ib):
        idiff._differ("-", "length", len(ia), len(ib))
    for x, y in zip(ia, ib):
        idiff.value(y, "session", x, y)
    result["index"] = idiff.result((pa["index"]["dtype"], pb["index"]["dtype"]))
    result["fills"] = _compare_fills(pa, pb)
    ids_a = order_positions(pa["columns"], ia)
    ids_b = order_positions(pb["columns"], ib)
    for name, col_b in pb["columns"].items():
        col_a = pa["columns"].get(name)
        if col_a is None:
            result[name] = {"equal": False, "missing": True, "dtype": [None, col_b["dtype"]]}
            continue
        diff = _Diff()
        va, vb = col_a["values"], col_b["values"]
        for date, x, y in zip(ib, va, vb):
            date = str(date)[:10]
            if name in RECORD_COLUMNS:
                _compare_records(
                    diff, date, name, _records(x, name, ids_a), _records(y, name, ids_b)
                )
            else:
                # the column's dtype stands for its values' kind
                diff.value(date, name, x, y, kinds=False)
        if len(va) != len(vb):
            diff._differ("-", "length", len(va), len(vb))
        result[name] = diff.result((col_a["dtype"], col_b["dtype"]))
    result["extra"] = sorted(set(pa["columns"]) - set(pb["columns"]))
    return result


def describe(aspect: dict) -> str:
    """One line: equal, or how it differs."""
    if aspect.get("missing"):
        return "missing in rustybt"
    if "rustybt" in aspect and "zipline" in aspect:  # the run
        a, b = aspect["rustybt"], aspect["zipline"]
        if aspect["equal"]:
            return "both complete" if a is None else f"both raise {a['type']}"

        def say(e):
            return "completes" if e is None else f"raises {e['type']}: {e['message'][:160]}"

        text = f"rustybt {say(a)}; zipline {say(b)}"
        seen = aspect.get("last_seen")
        if seen and seen[0] != seen[1]:
            text += f" (last session run: rustybt {seen[0]}, zipline {seen[1]})"
        return text
    if aspect["equal"]:
        m = aspect.get("max_abs_diff") or 0.0
        return "equal" if m == 0 else f"equal (within 1e-9 relative; max abs diff {m:.3g})"
    parts = []
    if aspect.get("dtype_differs"):
        parts.append(f"dtype {aspect['dtype'][0]} vs zipline {aspect['dtype'][1]}")
    if aspect.get("differing"):
        m = aspect["max_abs_diff"]
        parts.append(
            f"{aspect['differing']} values differ"
            + (f", max abs diff {m:.6g}" if m else "")
            + f", first {aspect['first_date']}"
            + f" ({', '.join(aspect['fields'][:6])})"
        )
    return "; ".join(parts)
