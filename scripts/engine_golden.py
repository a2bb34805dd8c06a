"""The engine's golden run: one strategy, written twice (here in Python, in
``crates/engine/tests/clock.rs`` in Rust), through the one clock of ``crates/engine``.

``python scripts/engine_golden.py`` runs the Python strategy through ``rustybt._core``
and writes what it produced to ``crates/engine/tests/golden/clock.json``; ``cargo test``
runs the Rust strategy through ``engine::run`` and requires the same values, and
``tests/test_engine_golden.py`` requires the Python path to still produce them.

The bundle: 3 synthetic assets (seed 7, 4 price places) over 30 weekdays from
2022-01-03, 14:30-21:00 UTC, built the same way on both sides.

The strategy, at every bar: for each asset, hold 30% of the portfolio if its close rose
since the previous bar, else nothing (``order_target_percent``; zipline's default costs).
The second run adds ``set_max_leverage(0.5)``, which the strategy breaks: the run stops
with the engine's ``AccountControlViolation`` message.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "crates" / "engine" / "tests" / "golden" / "clock.json"

N_ASSETS, SEED, PRICE_SCALE, N_SESSIONS = 3, 7, 4, 30
FIRST_DAY = 18_995  # 2022-01-03, days since 1970-01-01
NS_PER_MINUTE = 60_000_000_000
WEIGHT, MAX_LEVERAGE = 0.3, 0.5


def sessions() -> tuple[list[int], list[int], list[int]]:
    """Days, opens and closes (ns UTC) of the weekdays of the golden bundle."""
    days = [d for d in range(FIRST_DAY, FIRST_DAY + 60) if (d + 3) % 7 < 5][:N_SESSIONS]
    opens = [d * 1440 * NS_PER_MINUTE + 870 * NS_PER_MINUTE for d in days]
    closes = [o + 390 * NS_PER_MINUTE for o in opens]
    return days, opens, closes


def build_bundle(root: Path):
    """The golden bundle, written under ``root`` and opened."""
    import rustybt
    from rustybt import _core

    days, opens, closes = sessions()
    version = _core.ingest_synthetic(
        root, "golden", N_ASSETS, SEED, "1d", "XNYS", PRICE_SCALE, days, opens, closes
    )
    return rustybt.load_bundle(Path(version).parent)


def strategy(max_leverage: float | None):
    import rustybt

    class Golden(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.assets = [self.sid(i) for i in range(N_ASSETS)]
            if max_leverage is not None:
                self.set_max_leverage(max_leverage)

        def handle_data(self, context, data):
            closes = data.history(context.assets, "close", 2, "1d", return_type="array")
            for asset, prev, now in zip(context.assets, closes[0], closes[1]):
                # the first bar's previous close is before the bundle: NaN, not a rise
                self.order_target_percent(asset, WEIGHT if now > prev else 0.0)

    return Golden


def run(bundle) -> dict:
    """What the golden file holds, from the Python path."""
    import rustybt
    from rustybt.errors import AccountControlViolation

    perf = rustybt.run_algorithm(algorithm=strategy(None), bundle=bundle, capital_base=1e6)
    exact = perf.attrs["rustybt"]["exact"]
    try:
        rustybt.run_algorithm(algorithm=strategy(MAX_LEVERAGE), bundle=bundle, capital_base=1e6)
        violation = None
    except AccountControlViolation as exc:
        violation = str(exc)
    return {
        "sessions": len(perf),
        "portfolio_value": list(exact["portfolio_value"]),
        "ending_cash": list(exact["ending_cash"]),
        "returns": list(exact["returns"]),
        "fills": [
            {"bar": bar, "sid": sid, "amount": amount, "price": price, "commission": fee}
            for _, sid, amount, price, fee, bar in exact["transactions"]
        ],
        "max_leverage_violation": violation,
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        got = run(build_bundle(Path(tmp)))
    GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    print(
        f"wrote {GOLDEN.relative_to(ROOT)}: {got['sessions']} sessions, {len(got['fills'])} fills"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
