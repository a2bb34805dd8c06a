"""End-of-run statistics of a perf frame, with empyrical's definitions (252 periods a year,
365 on a 24/7 calendar; risk-free 0, standard deviations with ddof=1, drawdowns of the
wealth curve). The names are the ones used everywhere (objectives, tables, reports)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rustybt import _core

PERIODS_PER_YEAR = 252


def _drawdown_duration(returns: np.ndarray) -> int:
    """Longest run of sessions spent below a previous peak of the wealth curve."""
    wealth = np.cumprod(1.0 + returns)
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    longest = current = 0
    for under in wealth < peak:
        current = current + 1 if under else 0
        longest = max(longest, current)
    return longest


def _tail_stats(r: np.ndarray) -> dict[str, float]:
    """empyrical's omega, tail ratio, VaR and CVaR (5% cutoff)."""
    n = len(r)
    if n < 1:
        return {"omega": math.nan, "tail_ratio": math.nan, "var_95": math.nan, "cvar_95": math.nan}
    pos, neg = r[r > 0.0].sum(), -r[r < 0.0].sum()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # a tiny loss against large gains overflows to inf, as empyrical's omega does
        omega = float(pos / neg) if n >= 2 and neg > 0.0 else math.nan
        tail = float(np.abs(np.percentile(r, 95)) / np.abs(np.percentile(r, 5)))
    cut = int((n - 1) * 0.05)
    return {
        "omega": omega,
        "tail_ratio": tail,
        "var_95": float(np.percentile(r, 5)),
        "cvar_95": float(np.mean(np.partition(r, cut)[: cut + 1])),
    }


def trade_stats(pnl, sessions: int, sessions_invested: int) -> dict[str, float]:
    """Statistics of closed round trips, given their ``pnl`` (any sequence of floats)."""
    pnl = np.asarray(pnl, dtype=float)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    n = len(pnl)
    with np.errstate(divide="ignore", invalid="ignore"):
        sqn = (
            float(np.sqrt(n) * pnl.mean() / pnl.std(ddof=1))
            if n > 1 and pnl.std(ddof=1) > 0
            else math.nan
        )
    return {
        "trades": n,
        "win_rate": len(wins) / n if n else math.nan,
        "profit_factor": float(wins.sum() / -losses.sum())
        if len(losses)
        else (math.inf if len(wins) else math.nan),
        "avg_win": float(wins.mean()) if len(wins) else math.nan,
        "avg_loss": float(losses.mean()) if len(losses) else math.nan,
        "best_trade": float(pnl.max()) if n else math.nan,
        "worst_trade": float(pnl.min()) if n else math.nan,
        "expectancy": float(pnl.mean()) if n else math.nan,
        "sqn": sqn,
        "exposure_time": sessions_invested / sessions if sessions else math.nan,
    }


def stats_from_returns(
    returns: np.ndarray,
    final_value: float,
    fills: int,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> dict[str, float]:
    """Headline statistics of a daily return series. Total return, volatility, Sharpe,
    Sortino and max drawdown are the engine's (``_core.final_risk``: empyrical's
    definitions, operation by operation), the same figures as the last row of the perf
    frame's cumulative columns and the batch runner's. ``periods_per_year`` annualises
    (252 sessions; 365 days on a 24/7 calendar)."""
    r = np.asarray(returns, dtype=float)
    n = len(r)
    if n:
        total, volatility, sharpe, sortino, mdd = _core.final_risk(r.tolist(), periods_per_year)
    else:
        total, volatility, sharpe, sortino, mdd = 0.0, math.nan, math.nan, math.nan, math.nan
    years = n / periods_per_year
    cagr = (1.0 + total) ** (1.0 / years) - 1.0 if n and total > -1 else math.nan
    calmar = cagr / abs(mdd) if n and mdd < 0 else math.nan
    return {
        "total_return": total,
        "annual_return": cagr,
        "cagr": cagr,
        "annual_volatility": volatility,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "max_drawdown": mdd,
        "max_drawdown_duration": _drawdown_duration(r) if n else 0,
        **_tail_stats(r),
        "trades": fills,
        "final_portfolio_value": float(final_value),
    }


#: The statistics every report and objective uses (``Results.stats``), in this order.
STATS = (
    "total_return", "annual_return", "cagr", "annual_volatility", "sharpe", "sortino",
    "calmar", "omega", "max_drawdown", "max_drawdown_duration", "tail_ratio", "var_95",
    "cvar_95", "alpha", "beta", "trades", "win_rate", "profit_factor", "avg_win", "avg_loss",
    "best_trade", "worst_trade", "expectancy", "sqn", "exposure_time", "final_portfolio_value",
)  # fmt: skip


def symbol_groups(symbols) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``symbols``, sorted, and each one's index among them: the groups of the
    engine's round-trip matching (``_core.fifo_round_trips``), which come out in this
    order (symbol order, as the trips of ``Results.round_trips`` are listed)."""
    unique, group = np.unique(np.asarray(symbols, dtype=object), return_inverse=True)
    return unique, group.astype(np.uint32)


def figure(value) -> float:
    """A perf-frame risk figure as a float: zipline's None (undefined) is NaN."""
    return math.nan if value is None else float(value)


def fill_commissions(perf: pd.DataFrame, fills: list[dict]) -> list[float]:
    """The commission of each of ``fills`` (the perf frame's transaction dicts, in order).
    zipline's records keep commissions on the orders (a fill's ``commission`` is None), so
    they come from the run's exact fills; a frame without them gives what the dicts hold,
    NaN where that is None (never a silent zero)."""
    exact = perf.attrs.get("rustybt", {}).get("exact", {}).get("transactions")
    if exact is not None and len(exact) == len(fills):
        return [float(f[4]) for f in exact]
    return [math.nan if t["commission"] is None else float(t["commission"]) for t in fills]


def stats_from_perf(perf: pd.DataFrame, trips: pd.DataFrame | None = None) -> dict[str, float]:
    """The :data:`STATS` row of a ``run_algorithm`` perf frame (plus ``fills``, the number
    of transactions): :func:`stats_from_returns` of its returns, alpha and beta of the whole
    run against its benchmark (the last row of the engine's cumulative columns; NaN with
    no benchmark or with ``metrics_set="none"``), and the trade statistics of its round
    trips (``trades`` counts round trips)."""
    fills = [t for ts in perf["transactions"] for t in ts]
    if trips is None:  # only the pnl is needed: straight from the fills, no frames
        _, group = symbol_groups([t["sid"].symbol for t in fills])
        pnl = round_trips_of(
            group,
            [t["sid"].lot_scale for t in fills],
            [t["amount"] for t in fills],
            [t["price"] for t in fills],
            fill_commissions(perf, fills),
        )["pnl"]
    else:
        pnl = trips["pnl"].to_numpy(dtype=float)
    last = perf.iloc[-1]
    return stats_row(
        perf["returns"].to_numpy(),
        final_value=float(perf["portfolio_value"].iloc[-1]),
        fills=len(fills),
        pnl=pnl,
        invested=int((perf["positions"].map(len) > 0).sum()),
        alpha=figure(last["alpha"]) if "alpha" in perf else math.nan,
        beta=figure(last["beta"]) if "beta" in perf else math.nan,
        periods_per_year=periods_per_year(perf),
    )


def periods_per_year(perf: pd.DataFrame) -> float:
    """What a run's risk metrics annualised with (``perf.attrs["rustybt"]``; 252 for a
    frame without it)."""
    return float(perf.attrs.get("rustybt", {}).get("periods_per_year", PERIODS_PER_YEAR))


def round_trips_of(group, scales, amounts, prices, commissions) -> dict:
    """``_core.fifo_round_trips`` of fills given column-wise, in their assets' lots: a fill
    of an asset traded in lots of ``10^-k`` (``scales[i]``, the asset's ``lot_scale``) is
    matched in whole lots at its price per lot, so fractional quantities match exactly;
    ``shares``, ``entry`` and ``exit`` come back in the asset's units."""
    if not any(scales):
        return _core.fifo_round_trips(list(group), list(amounts), list(prices), list(commissions))
    per = [10**k for k in scales]
    lots = [round(a * m) if m > 1 else a for a, m in zip(amounts, per)]
    trips = _core.fifo_round_trips(
        list(group), lots, [p / m for p, m in zip(prices, per)], list(commissions)
    )
    closing = np.asarray(trips["close"], dtype=np.int64)
    unit = np.asarray(per, dtype=float)[closing] if len(closing) else np.ones(0)
    trips["shares"] = np.asarray(trips["shares"], dtype=float) / unit
    trips["entry"] = np.asarray(trips["entry"], dtype=float) * unit
    trips["exit"] = np.asarray(trips["exit"], dtype=float) * unit
    return trips


def stats_row(
    returns,
    *,
    final_value: float,
    fills: int,
    pnl,
    invested: int,
    alpha: float,
    beta: float,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> dict[str, float]:
    """The :data:`STATS` row (plus ``fills``) of a run given what it is made of: daily
    ``returns``, the final portfolio value, the number of fills, the round trips' ``pnl``,
    the number of sessions that ended ``invested``, and alpha / beta of the whole run."""
    base = stats_from_returns(returns, final_value, fills, periods_per_year)
    row = {
        **base,
        "alpha": alpha,
        "beta": beta,
        **trade_stats(pnl, len(returns), invested),
    }
    return {**{k: row[k] for k in STATS}, "fills": fills}


#: Names an objective may use: every :data:`STATS` entry, and ``fills``.
STAT_NAMES = (*STATS, "fills")
