"""End-of-run statistics of a perf frame, with empyrical's definitions (252 periods a year,
risk-free 0, standard deviations with ddof=1, drawdowns of the wealth curve). The names
are the ones used everywhere (objectives, tables, reports)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 252


def _max_drawdown(returns: np.ndarray) -> float:
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + returns)])
    peak = np.maximum.accumulate(wealth)
    return float(np.min((wealth - peak) / peak)) if len(returns) else math.nan


def stats_from_returns(returns: np.ndarray, final_value: float, fills: int) -> dict[str, float]:
    """Headline statistics of a daily return series."""
    r = np.asarray(returns, dtype=float)
    n = len(r)
    total = float(np.prod(1.0 + r) - 1.0) if n else 0.0
    years = n / PERIODS_PER_YEAR
    cagr = (1.0 + total) ** (1.0 / years) - 1.0 if n and total > -1 else math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        # numpy scalars and empyrical's reductions (nanmean/nanstd): x/0 is inf, 0/0 NaN
        std = np.nanstd(r, ddof=1) if n > 1 else np.float64(math.nan)
        if n > 1 and np.all(r == r[0]):
            std = np.float64(0.0)  # empyrical-reloaded: zero dispersion is exactly 0
        mean = np.nanmean(r) if n else np.float64(math.nan)
        sharpe = float(mean / std * math.sqrt(PERIODS_PER_YEAR)) if n > 1 else math.nan
        downside = (
            np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(PERIODS_PER_YEAR)
            if n
            else np.float64(math.nan)
        )
        sortino = float(mean * PERIODS_PER_YEAR / downside) if n > 1 else math.nan
        mdd = _max_drawdown(r)
        calmar = cagr / abs(mdd) if n and mdd < 0 else math.nan
        std = float(std)
    return {
        "total_return": total,
        "annual_return": cagr,
        "cagr": cagr,
        "annual_volatility": std * math.sqrt(PERIODS_PER_YEAR),
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "max_drawdown": mdd,
        "trades": fills,
        "final_portfolio_value": float(final_value),
    }


def stats_from_perf(perf: pd.DataFrame) -> dict[str, float]:
    """:func:`stats_from_returns` of a ``run_algorithm`` perf frame."""
    return stats_from_returns(
        perf["returns"].to_numpy(),
        float(perf["portfolio_value"].iloc[-1]),
        int(perf["transactions"].map(len).sum()),
    )


STAT_NAMES = tuple(stats_from_returns(np.zeros(3), 1.0, 0))
