"""The differences between rustybt and zipline-reloaded the conformance suite knows about:
``{(strategy, aspect): reason}``. An aspect is ``run``, ``index``, ``fills`` or a column
of zipline's perf frame. Everything not listed must match; a listed item that matches is
reported as "now matches: remove it from KNOWN_DIFFERENCES" (and fails the suite, so the
table never keeps a stale entry). An entry for an aspect that was not compared (a run
that failed on one side) is neither.

Each reason says whose behaviour it is: ``rustybt:`` (to be fixed here) or ``zipline:``
(zipline is wrong, or does something rustybt chooses not to copy).
"""

from __future__ import annotations

from rustybt.tooling.bench.conformance.suite import STRATEGIES

ALL = tuple(s.name for s in STRATEGIES)


def _each(strategies, aspects, reason: str) -> dict[tuple[str, str], str]:
    return {(s, a): reason for s in strategies for a in aspects}


#: the perf columns that follow a session's cash or value
_VALUE_COLUMNS = (
    "algo_volatility",
    "algorithm_period_return",
    "capital_used",
    "ending_cash",
    "gross_leverage",
    "max_drawdown",
    "max_leverage",
    "net_leverage",
    "pnl",
    "portfolio_value",
    "returns",
    "sharpe",
    "sortino",
    "starting_cash",
)
#: ... and those that follow the positions too, once the runs hold different amounts
_POSITION_COLUMNS = (
    "ending_exposure",
    "ending_value",
    "long_exposure",
    "long_value",
    "positions",
    "short_exposure",
    "short_value",
    "starting_exposure",
    "starting_value",
    "fills",
    "transactions",
)

_CSVDIR_NO_PAY = (
    "zipline: its csvdir bundle stores no pay date (NaT), and zipline then never pays the "
    "dividend it accrues on the ex-date (nor charges a short for it); rustybt pays on the "
    "ex-date when a bundle has no pay date (its documented rule)"
)

KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    # ---- numbers ----
    **_each(
        ["buyapple"],
        ["sharpe", "sortino"],
        "rustybt: daily returns are exact decimals quantized to 12 places; buyapple's are "
        "about 1e-6, so the quantization moves the Sharpe and Sortino ratios just past "
        "1e-9 relative",
    ),
    ("olmar", "sortino"): (
        "rustybt: daily returns quantized to 12 places (see buyapple); a Sortino ratio of "
        "a few hundred moves just past 1e-9 relative"
    ),
    # ---- dividends ----
    **_each(["dividends_csvdir"], _VALUE_COLUMNS, _CSVDIR_NO_PAY),
    **_each(
        ["momentum_pipeline_dividends"],
        [*_VALUE_COLUMNS, *_POSITION_COLUMNS, "orders"],
        _CSVDIR_NO_PAY
        + "; here the strategy is short SPY over its ex-date (2022-03-18), the cash differs "
        "from then, and with it the order sizes",
    ),
    ("dividends_paydates", "starting_cash"): (
        "zipline: it pays a dividend before it records the pay date's starting_cash, so "
        "that session's starting cash plus starting value counts the dividend twice (as "
        "cash and as still owed) and its pnl leaves the dividend out; rustybt's "
        "starting_cash is the previous ending_cash and the payment is part of the session"
    ),
    ("dividends_paydates", "pnl"): (
        "zipline: on a pay date its pnl leaves out the dividend paid (the dividend owed is "
        "still in the starting value when the paid cash is already in the starting cash): "
        "its pnl then differs from the change in portfolio_value by the dividend; rustybt's "
        "pnl is the change in value (both count the dividend in the value from the ex-date)"
    ),
}

#: strategies the reference engine (``rustybt.reference``) cannot run the way the Rust
#: engine does, ``{strategy: reason}``: the CI half skips their reference cross-check, and
#: fails when a listed strategy now runs identically on both (remove it then).
REFERENCE_UNSUPPORTED: dict[str, str] = {}
