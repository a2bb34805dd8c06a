"""Tear sheet: one self-contained HTML page of a backtest's :class:`~rustybt.results.Results`.

Equity curve (against the benchmark when the run has one; linear or log scale), underwater
drawdown and the worst drawdowns, monthly and annual returns, the distribution of returns,
rolling Sharpe, volatility and beta, exposure, positions held, top holdings, turnover and
trading costs, the algorithm's statistics beside the benchmark's, every statistic and the
run's provenance. Charts are matplotlib SVG written inline and the CSS is inline too (the
linear / log switch is two radio buttons and CSS), so the file opens offline, runs no script
and loads nothing from the network.

The numbers behind the page come from public functions of this module that return plain
pandas objects (:func:`drawdown_table`, :func:`rolling_volatility`, :func:`rolling_beta`,
:func:`annual_returns`, :func:`return_histogram`, :func:`position_weights`,
:func:`top_holdings`, :func:`holdings_count`, :func:`turnover`, :func:`slippage_fills`,
:func:`trading_costs`, :func:`benchmark_comparison`, :func:`relative_statistics`), all
computed from the public :class:`~rustybt.results.Results` (so they work on saved Results).

Example:
    >>> res = rustybt.backtest(algorithm=SmaCross, bundle="rustybt-demo")  # doctest: +SKIP
    >>> res.tearsheet("report.html")  # doctest: +SKIP

or from the command line, for Results saved by ``rustybt run ... --out DIR``::

    rustybt report DIR --out report.html

Importing this module registers :func:`write_tearsheet` as the renderer behind
``Results.tearsheet()`` (:func:`rustybt.results.register_renderer`; without the import the
library finds it through the ``rustybt.renderers`` entry point). Only the standard library
and :mod:`rustybt.results` (loaded with ``rustybt`` anyway) are imported at module level:
the CLI imports this module to register its command, and matplotlib loads only when a page
is written.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rustybt.results import register_renderer
from rustybt.stats import PERIODS_PER_YEAR, periods_per_year

if TYPE_CHECKING:
    import pandas as pd

    from rustybt.results import Results

#: Sessions in the rolling Sharpe window (a quarter of trading days).
ROLLING_WINDOW = 63
#: Sessions in the rolling volatility and rolling beta windows (half a year of trading days).
VOLATILITY_WINDOW = 126
#: Rows of the worst-drawdowns table and of the top-holdings table.
TOP_DRAWDOWNS, TOP_HOLDINGS = 5, 10

#: The files :meth:`Results.save` writes; a directory without them is not a saved Results.
SAVED_FILES = (
    "metadata.json",
    "perf.parquet",
    "stats.parquet",
    "transactions.parquet",
    "positions.parquet",
    "round_trips.parquet",
)

_BLUE, _GREY, _RED, _GREEN, _INK, _VIOLET = (
    "#2563eb", "#94a3b8", "#dc2626", "#16a34a", "#0f172a", "#7c3aed",
)  # fmt: skip

# How each statistic is shown. Names not listed here land in "Other" with a generic format.
_STAT_GROUPS = (
    ("Returns", ("total_return", "annual_return", "cagr", "final_portfolio_value")),
    ("Risk", ("annual_volatility", "max_drawdown", "max_drawdown_duration", "var_95",
              "cvar_95", "tail_ratio")),
    ("Risk-adjusted", ("sharpe", "sortino", "calmar", "omega", "alpha", "beta")),
    ("Trades", ("trades", "win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss",
                "best_trade", "worst_trade", "sqn", "exposure_time")),
)  # fmt: skip
_PERCENT = {"total_return", "annual_return", "cagr", "annual_volatility", "max_drawdown",
            "var_95", "cvar_95", "win_rate", "exposure_time"}  # fmt: skip
_MONEY = {"final_portfolio_value", "expectancy", "avg_win", "avg_loss", "best_trade",
          "worst_trade"}  # fmt: skip
_LABELS = {
    "total_return": "Total return", "annual_return": "Annual return", "cagr": "CAGR",
    "final_portfolio_value": "Final portfolio value", "annual_volatility": "Annual volatility",
    "max_drawdown": "Max drawdown", "max_drawdown_duration": "Max drawdown duration",
    "var_95": "Daily VaR (95%)", "cvar_95": "Daily CVaR (95%)", "tail_ratio": "Tail ratio",
    "sharpe": "Sharpe ratio", "sortino": "Sortino ratio", "calmar": "Calmar ratio",
    "omega": "Omega ratio", "alpha": "Alpha", "beta": "Beta", "trades": "Round trips",
    "win_rate": "Win rate", "profit_factor": "Profit factor", "expectancy": "Expectancy",
    "avg_win": "Average win", "avg_loss": "Average loss", "best_trade": "Best trade",
    "worst_trade": "Worst trade", "sqn": "SQN", "exposure_time": "Time invested",
}  # fmt: skip
_KPIS = ("total_return", "cagr", "sharpe", "max_drawdown", "trades", "final_portfolio_value")
_MINUS, _DASH = "\u2212", "\u2013"  # typographic minus sign and en dash
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def write_tearsheet(results: Results, path, *, log_scale: bool = False) -> Path:
    """Write ``results`` as one self-contained HTML file.

    Parameters
    ----------
    results : Results
        A backtest's results.
    path : str or os.PathLike
        The HTML file to write; parent directories are created.
    log_scale : bool, default False
        Show the equity curve on a log scale when the page opens (the page has a
        linear / log toggle either way).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> write_tearsheet(rustybt.backtest(algorithm=SmaCross, bundle="rustybt-demo"), "r.html")  # doctest: +SKIP
    """
    path = Path(path)
    page = render_tearsheet(results, log_scale=log_scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def render_tearsheet(results: Results, *, log_scale: bool = False) -> str:
    """The tear sheet's HTML text.

    Parameters
    ----------
    results : Results
        A backtest's results.
    log_scale : bool, default False
        Open with the equity curve on a log scale.

    Returns
    -------
    str
        A complete HTML document.
    """
    import numpy as np

    perf = results.perf
    if len(perf) == 0:
        raise ValueError("these Results have no sessions: there is nothing to report")
    returns = daily_returns(results)
    sessions = returns.index
    wealth = np.cumprod(1.0 + returns.to_numpy())
    cumulative = _column(perf, "algorithm_period_return")
    if cumulative is None:
        cumulative = wealth - 1.0
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    underwater = wealth / peak - 1.0
    benchmark = _benchmark(perf)
    bench_returns = benchmark_returns(results)
    ppy = periods_per_year(perf)  # 252 sessions; 365 days on a 24/7 calendar
    stats = _stats_row(results.stats)
    meta = results.metadata or {}
    drawdowns = drawdown_table(returns)
    weights = position_weights(results)
    holdings = top_holdings(weights)
    costs = trading_costs(results)
    daily_turnover = turnover(results)

    charts = _Charts(ppy)
    equity = charts.equity(sessions, cumulative, benchmark)
    equity_log = charts.equity(sessions, cumulative, benchmark, log=True)
    drawdown = charts.underwater(sessions, underwater, drawdowns)
    sharpe = charts.rolling_sharpe(sessions, returns, stats.get("sharpe"))
    volatility = charts.rolling_volatility(returns, bench_returns)
    beta = charts.rolling_beta(returns, bench_returns, stats.get("beta"))
    yearly = charts.annual(annual_returns(returns, bench_returns))
    distribution = charts.distribution(returns)
    exposure = charts.exposure(sessions, perf)
    counts = charts.holdings_count(holdings_count(results))
    top = charts.top_holdings(weights, holdings)
    turnover_chart = charts.turnover(daily_turnover)
    monthly = _monthly_table(returns)

    title = f"{meta.get('algorithm') or 'Backtest'} on {meta.get('bundle') or 'unknown bundle'}"
    span = f"{sessions[0].date()} {_DASH} {sessions[-1].date()}"
    has_bench = bench_returns is not None
    series = "algorithm benchmark" if has_bench else "algorithm"
    versus = "and of its benchmark" if has_bench else "(no benchmark: the run had none)"
    log_checked, linear_checked = (" checked", "") if log_scale else ("", " checked")
    w = VOLATILITY_WINDOW
    holdings_note = (
        "Position weights (value over portfolio value; short is negative) of the "
        f"{min(5, len(holdings))} assets with the largest average absolute weight over the run, "
        f"and the top {TOP_HOLDINGS} in the table."
        if len(holdings)
        else "The run held no positions."
    )
    body = f"""
<header class="top">
  <div>
    <p class="eyebrow">rustybt tear sheet</p>
    <h1>{_e(title)}</h1>
    <p class="sub">{_e(span)} · {len(perf)} sessions</p>
  </div>
</header>
<section class="kpis" aria-label="headline statistics">{_kpis(stats)}</section>
<section class="panel" id="equity">
  <input class="scale" type="radio" name="equity-scale" id="scale-linear"{linear_checked}>
  <input class="scale" type="radio" name="equity-scale" id="scale-log"{log_checked}>
  <div class="head">
    <h2>Equity curve</h2>
    <div class="toggle" aria-label="scale"><label for="scale-linear">Linear</label><label for="scale-log">Log</label></div>
  </div>
  <p class="note">Cumulative return of the algorithm {_e(versus)}. The log scale shows growth of 1 (equal ratios, equal heights), labelled as returns.</p>
  <figure class="chart" id="chart-equity" data-series="{series}">{equity}</figure>
  <figure class="chart" id="chart-equity-log" data-series="{series}">{equity_log}</figure>
</section>
<section class="panel">
  <h2>Underwater</h2><p class="note">Drawdown from the running peak of the wealth curve; the shaded spans are the worst drawdowns below, numbered by depth.</p>
  <figure class="chart" id="chart-drawdown">{drawdown}</figure>
  <h3>Worst drawdowns</h3>
  {_drawdown_html(drawdowns)}
</section>
<section class="panel">
  <h2>Monthly returns</h2><p class="note">Compounded daily returns per calendar month; the last column is the year.</p>
  <figure class="chart" id="chart-monthly">{monthly}</figure>
</section>
<div class="two">
  <section class="panel">
    <h2>Annual returns</h2><p class="note">Compounded per calendar year {_e(versus)}; under each year, the sessions the run covers.</p>
    <figure class="chart" id="chart-annual">{yearly}</figure>
  </section>
  <section class="panel">
    <h2>Return distribution</h2><p class="note">Histograms of daily and of monthly returns; dashed: the mean.</p>
    <figure class="chart" id="chart-distribution">{distribution}</figure>
  </section>
  <section class="panel">
    <h2>Rolling Sharpe</h2><p class="note">{ROLLING_WINDOW}-session window, annualised ({ppy:g} periods a year); dashed: whole run.</p>
    <figure class="chart" id="chart-rolling-sharpe">{sharpe}</figure>
  </section>
  <section class="panel">
    <h2>Rolling volatility</h2><p class="note">{w}-session window, annualised, of the algorithm {_e(versus)}.</p>
    <figure class="chart" id="chart-rolling-volatility">{volatility}</figure>
  </section>
  <section class="panel">
    <h2>Rolling beta</h2><p class="note">{w}-session beta to the benchmark{"; dashed: whole run (Results.stats)" if has_bench else " (no benchmark: the run had none)"}.</p>
    <figure class="chart" id="chart-rolling-beta">{beta}</figure>
  </section>
  <section class="panel">
    <h2>Exposure</h2><p class="note">Long, short, gross and net exposure as fractions of portfolio value.</p>
    <figure class="chart" id="chart-exposure">{exposure}</figure>
  </section>
  <section class="panel">
    <h2>Positions held</h2><p class="note">Number of long and short positions at each session's end.</p>
    <figure class="chart" id="chart-holdings-count">{counts}</figure>
  </section>
  <section class="panel">
    <h2>Turnover</h2><p class="note">Value traded per session over portfolio value; line: {ROLLING_WINDOW // 3}-session mean.</p>
    <figure class="chart" id="chart-turnover">{turnover_chart}</figure>
  </section>
</div>
<section class="panel">
  <h2>Top holdings</h2><p class="note">{_e(holdings_note)}</p>
  <figure class="chart" id="chart-top-holdings">{top}</figure>
  {_holdings_html(holdings)}
</section>
<div class="two">
  <section class="panel">
    <h2>Trading costs</h2><p class="note">Slippage is measured against the close of the fill's bar, on the fills whose close the results record (see the user guide).</p>
    {_costs_html(costs)}
  </section>
  <section class="panel">
    <h2>Against the benchmark</h2><p class="note">{_e("The same statistics of the algorithm's and of the benchmark's daily returns." if has_bench else "No benchmark: the run had none, so only the algorithm's column is shown.")}</p>
    {_comparison_html(benchmark_comparison(returns, bench_returns, ppy), relative_statistics(returns, bench_returns, ppy), stats)}
  </section>
</div>
<section class="panel">
  <h2>Statistics</h2>
  <div class="stats" id="stats">{_stats_tables(stats)}</div>
</section>
<section class="panel">
  <h2>Run</h2>
  {_metadata_table(meta, sessions, len(perf))}
</section>
<footer>Written by rustybt {_e(_version())}. Self-contained: no scripts, fonts or images are fetched.</footer>
"""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)} · rustybt tear sheet</title>\n<style>{_CSS}</style>\n</head>\n"
        f'<body>\n<main class="sheet">{body}</main>\n</body>\n</html>\n'
    )


# --- data ------------------------------------------------------------------------------------
#
# The public functions below compute what the page shows, as plain pandas / numpy objects, so
# a script (or a test) can check the numbers without parsing the HTML.


def _session_dates(index) -> pd.DatetimeIndex:
    import pandas as pd

    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert(None)
    return idx.normalize()


def _utc_ns(values):
    """Instants as int64 UTC nanoseconds (tz-naive values are taken as UTC)."""
    import pandas as pd

    idx = pd.DatetimeIndex(values)
    idx = idx.tz_convert("UTC") if idx.tz is not None else idx.tz_localize("UTC")
    return idx.as_unit("ns").asi8


def _column(perf, name):
    import pandas as pd

    if name not in perf:
        return None
    return pd.to_numeric(perf[name], errors="coerce").to_numpy(dtype=float)


def _benchmark(perf):
    """The benchmark's cumulative return, or None when the run has none (column absent,
    or all NaN / zero)."""
    import numpy as np

    b = _column(perf, "benchmark_period_return")
    if b is None:
        return None
    finite = np.isfinite(b)
    if not finite.any() or not (b[finite] != 0.0).any():
        return None
    return b


def daily_returns(results: Results) -> pd.Series:
    """The algorithm's daily returns, one per session of the run.

    Parameters
    ----------
    results : Results
        A backtest's results.

    Returns
    -------
    pandas.Series
        ``perf["returns"]`` as floats (NaN read as 0), indexed by session date (tz-naive
        midnight).
    """
    import pandas as pd

    perf = results.perf
    r = pd.to_numeric(perf["returns"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    return pd.Series(r, index=_session_dates(perf.index), name="algorithm")


def benchmark_returns(results: Results) -> pd.Series | None:
    """The benchmark's daily returns, or None when the run had no benchmark.

    The perf frame keeps the benchmark's cumulative return (``benchmark_period_return``);
    session ``t``'s return is ``(1 + B[t]) / (1 + B[t-1]) - 1`` with ``B[-1] = 0``. A run
    has no benchmark when that column is absent, all NaN or all zero.

    Parameters
    ----------
    results : Results
        A backtest's results.

    Returns
    -------
    pandas.Series or None
        Daily benchmark returns indexed like :func:`daily_returns` (NaN read as 0).
    """
    import numpy as np
    import pandas as pd

    b = _benchmark(results.perf)
    if b is None:
        return None
    wealth = 1.0 + np.where(np.isfinite(b), b, np.nan)
    wealth = pd.Series(wealth).ffill().fillna(1.0).to_numpy()
    prev = np.concatenate([[1.0], wealth[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev != 0.0, wealth / prev - 1.0, 0.0)
    return pd.Series(r, index=_session_dates(results.perf.index), name="benchmark")


def drawdown_table(returns: pd.Series, top: int = TOP_DRAWDOWNS) -> pd.DataFrame:
    """The ``top`` deepest drawdowns of the wealth curve ``cumprod(1 + returns)``.

    A drawdown is a maximal run of sessions whose wealth is below the running peak (the
    peak starts at 1, the capital base before the first session), so drawdowns never
    overlap.

    Parameters
    ----------
    returns : pandas.Series
        Daily returns indexed by session date.
    top : int, default 5
        How many drawdowns to keep.

    Returns
    -------
    pandas.DataFrame
        One row per drawdown, deepest first (ties: earliest first), columns:

        ``peak``
            The last session at the peak; NaT when the peak is the capital base (the run
            lost money on its first session).
        ``valley``
            The session of the lowest wealth in the drawdown.
        ``recovery``
            The first session back at (or above) the peak; NaT when not recovered by the
            end of the run.
        ``drawdown``
            Valley wealth over peak wealth, minus 1 (negative).
        ``sessions``
            Sessions spent below the peak (from the one after the peak to the one before
            the recovery, or to the end of the run).
    """
    import numpy as np
    import pandas as pd

    r = np.asarray(returns, dtype=float)
    dates = pd.DatetimeIndex(returns.index)
    wealth = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    under = (wealth < peak).astype(np.int8)
    edges = np.diff(np.concatenate([[0], under, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    rows = []
    for s, e in zip(starts, ends):
        valley = s + int(np.argmin(wealth[s:e]))
        rows.append(
            {
                "peak": dates[s - 1] if s > 0 else pd.NaT,
                "valley": dates[valley],
                "recovery": dates[e] if e < len(r) else pd.NaT,
                "drawdown": float(wealth[valley] / peak[s] - 1.0),
                "sessions": int(e - s),
            }
        )
    columns = ["peak", "valley", "recovery", "drawdown", "sessions"]
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values("drawdown", kind="stable").head(top).reset_index(drop=True)
    for name in ("peak", "valley", "recovery"):
        table[name] = pd.to_datetime(table[name])
    return table.astype({"drawdown": float, "sessions": np.int64})


def rolling_volatility(
    returns: pd.Series, window: int = VOLATILITY_WINDOW, periods_per_year: float = PERIODS_PER_YEAR
) -> pd.Series:
    """Annualised rolling volatility: the standard deviation (ddof=1) of the last
    ``window`` daily returns times sqrt(``periods_per_year``: 252, or 365 on a 24/7
    calendar).

    Parameters
    ----------
    returns : pandas.Series
        Daily returns.
    window : int, default 126
        Sessions in the window (about half a year).

    Returns
    -------
    pandas.Series
        Same index as ``returns``; NaN for the first ``window - 1`` sessions.
    """
    return returns.rolling(window).std(ddof=1) * math.sqrt(periods_per_year)


def rolling_beta(
    returns: pd.Series, benchmark: pd.Series, window: int = VOLATILITY_WINDOW
) -> pd.Series:
    """Rolling beta of ``returns`` to ``benchmark``: covariance over the benchmark's
    variance, both over the last ``window`` sessions.

    Parameters
    ----------
    returns, benchmark : pandas.Series
        Daily returns of the algorithm and of the benchmark, on the same index.
    window : int, default 126
        Sessions in the window.

    Returns
    -------
    pandas.Series
        Same index as ``returns``; NaN for the first ``window - 1`` sessions and where the
        benchmark's returns did not vary over the window.
    """
    var = benchmark.rolling(window).var(ddof=1)
    cov = returns.rolling(window).cov(benchmark, ddof=1)
    return (cov / var.where(var > 0)).rename("beta")


def monthly_returns(returns: pd.Series) -> pd.Series:
    """Daily returns compounded per calendar month.

    Parameters
    ----------
    returns : pandas.Series
        Daily returns indexed by session date.

    Returns
    -------
    pandas.Series
        Indexed by ``(year, month)``, only months with at least one session.
    """
    grouped = (1.0 + returns).groupby([returns.index.year, returns.index.month]).prod() - 1.0
    grouped.index.names = ["year", "month"]
    return grouped


def annual_returns(returns: pd.Series, benchmark: pd.Series | None = None) -> pd.DataFrame:
    """Daily returns compounded per calendar year, for the algorithm and its benchmark.

    Parameters
    ----------
    returns : pandas.Series
        The algorithm's daily returns indexed by session date.
    benchmark : pandas.Series or None
        The benchmark's, on the same index; None when the run had none.

    Returns
    -------
    pandas.DataFrame
        Indexed by year: ``algorithm``, ``benchmark`` (NaN without a benchmark) and
        ``sessions`` (how many sessions of the year the run covers: the first and last
        years of a run are often partial).
    """
    import numpy as np
    import pandas as pd

    years = returns.index.year
    out = pd.DataFrame({"algorithm": (1.0 + returns).groupby(years).prod() - 1.0})
    out["benchmark"] = (
        (1.0 + benchmark).groupby(benchmark.index.year).prod() - 1.0
        if benchmark is not None
        else np.nan
    )
    out["sessions"] = returns.groupby(years).size().astype(np.int64)
    out.index.name = "year"
    return out


def return_histogram(values, bins: int = 40) -> pd.DataFrame:
    """A histogram of ``values`` (NaN dropped) in ``bins`` equal-width bins.

    Parameters
    ----------
    values : array-like
        Returns (daily, monthly, ...).
    bins : int, default 40
        Number of bins between the smallest and the largest value.

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``left``, ``right`` (each bin holds ``left <= v < right``, the last
        one also ``v == right``) and ``count``. Empty when there is no value.
    """
    import numpy as np
    import pandas as pd

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return pd.DataFrame({"left": [], "right": [], "count": np.array([], dtype=np.int64)})
    counts, edges = np.histogram(v, bins=bins)
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "count": counts.astype(np.int64)})


def _session_of(results: Results, instants):
    """The perf row of each instant: the first session whose close is at or after it."""
    import numpy as np

    closes = _utc_ns(results.perf.index)
    at = _utc_ns(instants)
    i = np.searchsorted(closes, at, side="left")
    return np.minimum(i, len(closes) - 1), i < len(closes)


def position_weights(results: Results) -> pd.DataFrame:
    """Each asset's position as a signed fraction of portfolio value, at every session's
    end.

    Parameters
    ----------
    results : Results
        A backtest's results (``positions`` and ``perf["portfolio_value"]``).

    Returns
    -------
    pandas.DataFrame
        Sessions (dates) by symbols: ``amount * last_sale_price / portfolio_value``, 0 where
        the asset was not held, NaN where the portfolio value was not positive. Short
        positions are negative. No columns when the run never held anything.
    """
    import numpy as np
    import pandas as pd

    perf, pos = results.perf, results.positions
    sessions = _session_dates(perf.index)
    value = _column(perf, "portfolio_value")
    if len(pos) == 0:
        return pd.DataFrame(index=sessions, columns=pd.Index([], name="symbol"), dtype=float)
    row, _ = _session_of(results, pos["session"])
    with np.errstate(divide="ignore", invalid="ignore"):
        pv = np.where(value[row] > 0, value[row], np.nan)
        w = pos["amount"].to_numpy(dtype=float) * pos["last_sale_price"].to_numpy(dtype=float) / pv
    table = pd.DataFrame({"row": row, "symbol": pos["symbol"].astype(str).to_numpy(), "w": w})
    wide = table.pivot_table(index="row", columns="symbol", values="w", aggfunc="sum")
    wide = wide.reindex(range(len(perf))).fillna(0.0)
    bad = ~(value > 0)
    wide.loc[bad] = np.nan
    wide.index = sessions
    wide.columns.name = "symbol"
    return wide


def top_holdings(weights: pd.DataFrame, n: int = TOP_HOLDINGS) -> pd.DataFrame:
    """The ``n`` assets with the largest average absolute weight over the run.

    Parameters
    ----------
    weights : pandas.DataFrame
        :func:`position_weights`.
    n : int, default 10
        How many assets to keep.

    Returns
    -------
    pandas.DataFrame
        Indexed by symbol, largest first (ties: symbol order): ``mean_abs_weight`` (over
        every session of the run, 0 when not held), ``max_abs_weight``, ``sessions_held``,
        ``sessions_long``, ``sessions_short`` and ``last_weight`` (at the last session).
    """
    import numpy as np
    import pandas as pd

    w = weights.fillna(0.0)
    out = pd.DataFrame(
        {
            "mean_abs_weight": w.abs().mean(),
            "max_abs_weight": w.abs().max(),
            "sessions_held": (w != 0).sum().astype(np.int64),
            "sessions_long": (w > 0).sum().astype(np.int64),
            "sessions_short": (w < 0).sum().astype(np.int64),
            "last_weight": w.iloc[-1] if len(w) else pd.Series(dtype=float),
        },
        index=w.columns,
    )
    out.index.name = "symbol"
    out = out[out["sessions_held"] > 0].sort_index()
    return out.sort_values("mean_abs_weight", ascending=False, kind="stable").head(n)


def holdings_count(results: Results) -> pd.DataFrame:
    """How many long and short positions the portfolio held at each session's end.

    Parameters
    ----------
    results : Results
        A backtest's results.

    Returns
    -------
    pandas.DataFrame
        Indexed by session date: ``long`` and ``short`` (int).
    """
    import numpy as np
    import pandas as pd

    n = len(results.perf)
    pos = results.positions
    longs, shorts = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    if len(pos):
        row, _ = _session_of(results, pos["session"])
        amount = pos["amount"].to_numpy(dtype=float)
        np.add.at(longs, row[amount > 0], 1)
        np.add.at(shorts, row[amount < 0], 1)
    return pd.DataFrame({"long": longs, "short": shorts}, index=_session_dates(results.perf.index))


def turnover(results: Results) -> pd.Series:
    """Daily turnover: the value traded in each session (sum over its fills of
    ``|shares * price|``) over the portfolio value at the session's end.

    Parameters
    ----------
    results : Results
        A backtest's results.

    Returns
    -------
    pandas.Series
        Indexed by session date, 0 on sessions without fills, NaN where the portfolio value
        was not positive.
    """
    import numpy as np
    import pandas as pd

    n = len(results.perf)
    traded = np.zeros(n)
    t = results.transactions
    if len(t):
        row, _ = _session_of(results, t["dt"])
        notional = np.abs(t["amount"].to_numpy(dtype=float) * t["price"].to_numpy(dtype=float))
        np.add.at(traded, row, notional)
    value = _column(results.perf, "portfolio_value")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(value > 0, traded / value, np.nan)
    return pd.Series(out, index=_session_dates(results.perf.index), name="turnover")


def slippage_fills(results: Results) -> pd.DataFrame:
    """Each fill's price against the close of the bar it filled on, where the results
    record that close.

    ``Results`` keeps no prices of its own: the close is the position's
    ``last_sale_price`` at the end of the fill's session, which is the close of the fill's
    bar when the fill happened on the session's last bar (every fill of a daily run) and
    the asset was still held at the session's end. Other fills (an exit that closed the
    position; an intraday fill of a minute run) are left unmeasured (NaN).

    Parameters
    ----------
    results : Results
        A backtest's results.

    Returns
    -------
    pandas.DataFrame
        One row per fill, in the order of ``results.transactions``: ``dt``, ``symbol``,
        ``amount``, ``price``, ``close`` (NaN when unmeasured) and ``slippage``:
        ``(price - close) * amount``, the cash the fill cost against trading at the close
        (positive: a buy above the close or a sell below it).
    """
    import numpy as np
    import pandas as pd

    t, pos = results.transactions, results.positions
    out = pd.DataFrame(
        {
            "dt": t["dt"].to_numpy(),
            "symbol": t["symbol"].astype(str).to_numpy(),
            "amount": t["amount"].to_numpy(dtype=np.int64),
            "price": t["price"].to_numpy(dtype=float),
        }
    )
    close = np.full(len(t), np.nan)
    if len(t) and len(pos):
        row, inside = _session_of(results, t["dt"])
        at_close = inside & (_utc_ns(results.perf.index)[row] == _utc_ns(t["dt"]))
        prow, _ = _session_of(results, pos["session"])
        last = pd.Series(
            pos["last_sale_price"].to_numpy(dtype=float),
            index=pd.MultiIndex.from_arrays([prow, pos["symbol"].astype(str).to_numpy()]),
        )
        last = last[~last.index.duplicated(keep="last")]
        keys = pd.MultiIndex.from_arrays([row, out["symbol"].to_numpy()])
        found = last.reindex(keys).to_numpy(dtype=float)
        close = np.where(at_close, found, np.nan)
    out["close"] = close
    out["slippage"] = (out["price"] - out["close"]) * out["amount"]
    return out


def trading_costs(results: Results) -> pd.Series:
    """What trading cost over the whole run.

    Parameters
    ----------
    results : Results
        A backtest's results.

    Returns
    -------
    pandas.Series
        ``fills``; ``traded_value`` (sum of ``|shares * price|``); ``annual_turnover``
        (mean of :func:`turnover` times the run's periods a year, 252 or 365 on a 24/7
        calendar); ``commission`` (sum of the fills'
        commissions) and ``commission_bps`` (of the traded value); ``slippage`` (sum of
        :func:`slippage_fills`'s measured ``slippage``), ``slippage_fills`` (how many fills
        were measured) and ``slippage_bps`` (of the measured fills' traded value). Ratios
        are NaN when their denominator is 0.
    """
    import numpy as np
    import pandas as pd

    t = results.transactions
    notional = np.abs(t["amount"].to_numpy(dtype=float) * t["price"].to_numpy(dtype=float))
    traded = float(notional.sum())
    commission = float(t["commission"].to_numpy(dtype=float).sum())
    slip = slippage_fills(results)
    measured = slip["close"].notna().to_numpy()
    measured_value = float(notional[measured].sum())
    daily = turnover(results)
    return pd.Series(
        {
            "fills": len(t),
            "traded_value": traded,
            "annual_turnover": (
                float(daily.mean() * periods_per_year(results.perf)) if len(daily) else np.nan
            ),
            "commission": commission,
            "commission_bps": commission / traded * 1e4 if traded > 0 else np.nan,
            "slippage": float(slip["slippage"].to_numpy()[measured].sum()),
            "slippage_fills": int(measured.sum()),
            "slippage_bps": (
                float(slip["slippage"].to_numpy()[measured].sum()) / measured_value * 1e4
                if measured_value > 0
                else np.nan
            ),
        },
        dtype=float,
    )


#: The rows of :func:`benchmark_comparison`, in order.
COMPARED = ("total_return", "annual_return", "annual_volatility", "sharpe", "sortino",
            "calmar", "max_drawdown", "max_drawdown_duration", "omega", "tail_ratio",
            "var_95", "cvar_95", "best_day", "worst_day")  # fmt: skip


def benchmark_comparison(
    returns: pd.Series,
    benchmark: pd.Series | None,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> pd.DataFrame:
    """The same statistics for the algorithm and its benchmark, side by side.

    Both columns come from :func:`rustybt.stats.stats_from_returns` (the definitions of
    ``Results.stats``), plus ``best_day`` and ``worst_day`` (the largest and smallest daily
    return).

    Parameters
    ----------
    returns : pandas.Series
        The algorithm's daily returns.
    benchmark : pandas.Series or None
        The benchmark's daily returns; None when the run had none.
    periods_per_year : float, default 252
        What the statistics annualise with (365 on a 24/7 calendar).

    Returns
    -------
    pandas.DataFrame
        Indexed by :data:`COMPARED`; columns ``algorithm`` and ``benchmark`` (all NaN without
        a benchmark).
    """
    import numpy as np
    import pandas as pd

    from rustybt.stats import stats_from_returns

    def column(r):
        r = np.asarray(r, dtype=float)
        row = stats_from_returns(
            r, final_value=math.nan, fills=0, periods_per_year=periods_per_year
        )
        row["best_day"] = float(r.max()) if len(r) else math.nan
        row["worst_day"] = float(r.min()) if len(r) else math.nan
        return [float(row[name]) for name in COMPARED]

    return pd.DataFrame(
        {
            "algorithm": column(returns),
            "benchmark": column(benchmark) if benchmark is not None else math.nan,
        },
        index=pd.Index(COMPARED, name="statistic"),
    )


def relative_statistics(
    returns: pd.Series,
    benchmark: pd.Series | None,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> pd.Series:
    """How the algorithm's daily returns relate to the benchmark's.

    Parameters
    ----------
    returns, benchmark : pandas.Series
        Daily returns of the algorithm and of the benchmark (None: no benchmark).

    Returns
    -------
    pandas.Series
        ``correlation`` (Pearson); ``beta`` (covariance over the benchmark's variance);
        ``tracking_error`` (standard deviation, ddof=1, of the daily excess return, times
        sqrt(periods_per_year)); ``information_ratio`` (mean daily excess return over its
        standard deviation, times sqrt(periods_per_year): 252, or 365 on a 24/7 calendar). All NaN without a benchmark or with fewer than two
        sessions; a ratio is NaN when its denominator is 0.
    """
    import numpy as np
    import pandas as pd

    names = ("correlation", "beta", "tracking_error", "information_ratio")
    if benchmark is None or len(returns) < 2:
        return pd.Series(math.nan, index=list(names), dtype=float)
    r, b = np.asarray(returns, dtype=float), np.asarray(benchmark, dtype=float)
    cov = np.cov(r, b, ddof=1)
    excess = r - b
    te = float(np.std(excess, ddof=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]) if cov[0, 0] * cov[1, 1] > 0 else np.nan
        beta = cov[0, 1] / cov[1, 1] if cov[1, 1] > 0 else np.nan
        ann = math.sqrt(periods_per_year)
        ir = float(np.mean(excess)) / te * ann if te > 0 else np.nan
    return pd.Series(
        [float(corr), float(beta), te * ann, float(ir)],
        index=list(names),
        dtype=float,
    )


def _stats_row(stats) -> dict:
    if stats is None or len(stats) == 0:
        return {}
    return dict(stats.iloc[0].items())


def _as_float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --- charts ----------------------------------------------------------------------------------


class _Charts:
    """matplotlib figures (no pyplot, so no global backend state) as inline SVG."""

    def __init__(self, periods_per_year: float = PERIODS_PER_YEAR):
        import matplotlib

        self._mpl = matplotlib
        self._ppy = periods_per_year

    def _figure(self, height: float = 3.0, width: float = 10.0):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
        ax.spines[["top", "right"]].set_visible(False)
        ax.spines[["left", "bottom"]].set_color("#cbd5e1")
        ax.tick_params(colors="#475569", length=3)
        ax.grid(True, color="#e2e8f0", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.margins(x=0)
        return fig, ax

    def _dates(self, ax):
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))

    def _percent(self, ax, decimals=None):
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=decimals))

    def _svg(self, fig, name: str, label: str) -> str:
        rc = {
            "svg.fonttype": "none",  # text stays text, in the page's fonts: no glyph defs
            "svg.hashsalt": f"rustybt-{name}",  # deterministic ids, distinct per chart
        }
        buf = io.StringIO()
        with self._mpl.rc_context(rc):
            fig.savefig(buf, format="svg", metadata={"Date": None}, transparent=True)
        svg = buf.getvalue()
        svg = svg[svg.index("<svg") :]
        svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
        # drop the fixed pt size: CSS scales the chart to the page, the viewBox keeps its shape
        head_end = svg.index(">")
        head = re.sub(r'\s(width|height)="[^"]*"', "", svg[:head_end])
        head += f' role="img" aria-label="{_e(label)}"'
        return head + svg[head_end:]

    def _legend(self, ax, ncol):
        # above the axes, so it never covers the data
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=ncol, frameon=False,
                  fontsize=9, handlelength=1.6, borderaxespad=0.2)  # fmt: skip

    def _note(self, ax, text):
        ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
                color="#64748b", fontsize=10)  # fmt: skip

    def equity(self, dates, cumulative, benchmark, log: bool = False) -> str:
        import numpy as np

        fig, ax = self._figure(3.4)
        # the log view plots growth of 1 (1 + cumulative return), labelled as returns
        shift = 1.0 if log else 0.0
        base = shift
        if log:
            growth = [cumulative + 1.0] + ([benchmark + 1.0] if benchmark is not None else [])
            finite = np.concatenate([g[np.isfinite(g)] for g in growth])
            if not len(finite) or not (finite > 0).all():
                self._note(ax, "the portfolio value reached zero: no log scale")
                self._dates(ax)
                return self._svg(fig, "equity-log", "equity curve, log scale")
            ax.set_yscale("log")
        ax.axhline(base, color="#94a3b8", linewidth=0.8)
        if benchmark is not None:
            ax.plot(dates, benchmark + shift, color=_GREY, linewidth=1.4, label="benchmark")
        ax.plot(dates, cumulative + shift, color=_BLUE, linewidth=1.8, label="algorithm")
        ax.fill_between(dates, base, cumulative + shift, color=_BLUE, alpha=0.07, linewidth=0)
        self._dates(ax)
        if log:
            self._log_returns_axis(ax, finite)
        else:
            self._percent(ax)
        self._legend(ax, 2)
        name = "equity-log" if log else "equity"
        return self._svg(fig, name, "equity curve, log scale" if log else "equity curve")

    def _log_returns_axis(self, ax, growth):
        """Ticks of a log axis of growth-of-1 values, labelled as returns (1.5 -> +50%)."""
        import numpy as np
        from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

        lo, hi = float(np.min(growth)), float(np.max(growth))
        lo, hi = min(lo, 1.0), max(hi, 1.0)
        if hi / lo >= 20:  # decades: 1, 2, 5 times powers of ten
            ticks = [m * 10.0**e for e in range(math.floor(math.log10(lo)),
                                                math.ceil(math.log10(hi)) + 1)
                     for m in (1, 2, 5)]  # fmt: skip
        else:
            # round returns (-10%, 0%, +10%, ...), placed at their growth values
            ticks = [1.0 + t for t in MaxNLocator(nbins=6).tick_values(lo - 1.0, hi - 1.0)]
        ticks = [t for t in ticks if t > 0 and lo / 1.05 <= t <= hi * 1.05]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _: f"{(v - 1.0) * 100:+.0f}%".replace("-", _MINUS))
        )

    def underwater(self, dates, underwater, drawdowns) -> str:
        fig, ax = self._figure(2.4)
        ax.fill_between(dates, underwater, 0.0, color=_RED, alpha=0.25, linewidth=0)
        ax.plot(dates, underwater, color=_RED, linewidth=1.0)
        low = float(min(underwater.min(), 0.0))
        ax.set_ylim(low * 1.1 if low < 0 else -0.01, 0.0)
        for rank, row in enumerate(drawdowns.itertuples(), start=1):
            start = row.peak if row.peak == row.peak else dates[0]  # NaT: from the start
            end = row.recovery if row.recovery == row.recovery else dates[-1]
            ax.axvspan(start, end, color=_GREY, alpha=0.16, linewidth=0)
            ax.text(row.valley, row.drawdown, f" {rank}", color=_INK, fontsize=8,
                    ha="left", va="bottom")  # fmt: skip
        self._dates(ax)
        self._percent(ax)
        return self._svg(fig, "drawdown", "underwater drawdown")

    def rolling_sharpe(self, dates, returns, whole) -> str:
        import numpy as np

        fig, ax = self._figure(3.0, 6.0)
        rolling = returns.rolling(ROLLING_WINDOW)
        std = rolling.std(ddof=1)
        sharpe = rolling.mean() / std.where(std > 0) * math.sqrt(self._ppy)
        ax.axhline(0.0, color="#94a3b8", linewidth=0.8)
        if len(dates) > 1:
            ax.set_xlim(dates[0], dates[-1])  # the same span as the other charts
        if sharpe.notna().any():
            ax.plot(dates, sharpe.to_numpy(), color=_VIOLET, linewidth=1.4)
            whole = _as_float(whole)
            if whole is not None and np.isfinite(whole):
                ax.axhline(whole, color=_INK, linewidth=1.0, linestyle=(0, (4, 3)))
        else:
            self._note(ax, f"fewer than {ROLLING_WINDOW} sessions with returns that vary")
        self._dates(ax)
        return self._svg(fig, "rolling-sharpe", f"rolling {ROLLING_WINDOW}-session Sharpe ratio")

    def exposure(self, dates, perf) -> str:
        import numpy as np
        import pandas as pd

        fig, ax = self._figure(3.0, 6.0)
        col = lambda name: (  # noqa: E731
            pd.to_numeric(perf[name], errors="coerce").to_numpy(dtype=float)
            if name in perf
            else None
        )
        value = col("portfolio_value")
        shown = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            for name, color, label in (
                ("long_exposure", _GREEN, "long"),
                ("short_exposure", _RED, "short"),
            ):
                x = col(name)
                if x is not None and value is not None:
                    ax.fill_between(dates, 0.0, x / value, color=color, alpha=0.18, linewidth=0,
                                    label=label)  # fmt: skip
                    shown += 1
        for name, color, label, style in (
            ("gross_leverage", _VIOLET, "gross", "-"),
            ("net_leverage", _INK, "net", (0, (4, 2))),
        ):
            x = col(name)
            if x is not None:
                ax.plot(dates, x, color=color, linewidth=1.3, linestyle=style, label=label)
                shown += 1
        ax.axhline(0.0, color="#94a3b8", linewidth=0.8)
        if shown:
            self._legend(ax, 4)
        else:
            self._note(ax, "the perf frame has no exposure columns")
        self._dates(ax)
        self._percent(ax, decimals=0)
        return self._svg(fig, "exposure", "gross and net exposure")

    def _span(self, ax, dates):
        if len(dates) > 1:
            ax.set_xlim(dates[0], dates[-1])  # the same span as the other charts

    def rolling_volatility(self, returns, benchmark) -> str:
        fig, ax = self._figure(3.0, 6.0)
        self._span(ax, returns.index)
        algo = rolling_volatility(returns, periods_per_year=self._ppy)
        if algo.notna().any():
            if benchmark is not None:
                bench = rolling_volatility(benchmark, periods_per_year=self._ppy)
                ax.plot(returns.index, bench.to_numpy(), color=_GREY,
                        linewidth=1.3, label="benchmark")  # fmt: skip
            ax.plot(returns.index, algo.to_numpy(), color=_BLUE, linewidth=1.4, label="algorithm")
            self._legend(ax, 2)
            if benchmark is None:
                ax.text(0.99, 0.97, "no benchmark", transform=ax.transAxes, ha="right",
                        va="top", color="#64748b", fontsize=9)  # fmt: skip
            ax.set_ylim(bottom=0.0)
        else:
            self._note(ax, f"fewer than {VOLATILITY_WINDOW} sessions")
        self._dates(ax)
        self._percent(ax)
        return self._svg(
            fig, "rolling-volatility", f"rolling {VOLATILITY_WINDOW}-session volatility"
        )

    def rolling_beta(self, returns, benchmark, whole) -> str:
        import numpy as np

        fig, ax = self._figure(3.0, 6.0)
        self._span(ax, returns.index)
        if benchmark is None:
            self._note(ax, "no benchmark: the run had none")
        else:
            beta = rolling_beta(returns, benchmark)
            if beta.notna().any():
                ax.axhline(0.0, color="#94a3b8", linewidth=0.8)
                ax.plot(returns.index, beta.to_numpy(), color=_VIOLET, linewidth=1.4)
                whole = _as_float(whole)
                if whole is not None and np.isfinite(whole):
                    ax.axhline(whole, color=_INK, linewidth=1.0, linestyle=(0, (4, 3)))
            else:
                self._note(ax, f"fewer than {VOLATILITY_WINDOW} sessions with a varying benchmark")
        self._dates(ax)
        return self._svg(fig, "rolling-beta", f"rolling {VOLATILITY_WINDOW}-session beta")

    def annual(self, table) -> str:
        import numpy as np

        fig, ax = self._figure(3.0, 6.0)
        ax.grid(True, axis="y")
        ax.grid(False, axis="x")
        x = np.arange(len(table))
        bench = table["benchmark"].notna().any()
        width = 0.38 if bench else 0.6
        algo = table["algorithm"].to_numpy()
        ax.bar(x - (width / 2 if bench else 0.0), algo, width,
               color=[_GREEN if v >= 0 else _RED for v in algo], label="algorithm")  # fmt: skip
        if bench:
            ax.bar(x + width / 2, table["benchmark"].to_numpy(), width, color=_GREY,
                   label="benchmark")  # fmt: skip
            self._legend(ax, 2)
        else:
            ax.text(0.99, 0.97, "no benchmark", transform=ax.transAxes, ha="right", va="top",
                    color="#64748b", fontsize=9)  # fmt: skip
        ax.axhline(0.0, color="#94a3b8", linewidth=0.8)
        ax.set_xticks(x, [f"{y}\n{n} sess." for y, n in zip(table.index, table["sessions"])])
        ax.set_xlim(-0.6, len(table) - 0.4)
        self._percent(ax)
        return self._svg(fig, "annual", "annual returns")

    def distribution(self, returns) -> str:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 3.0), layout="constrained")
        monthly = monthly_returns(returns)
        for i, (values, label, color, bins) in enumerate(
            ((returns, "daily", _BLUE, 40), (monthly, "monthly", _VIOLET, 20))
        ):
            ax = fig.add_subplot(1, 2, i + 1)
            ax.spines[["top", "right"]].set_visible(False)
            ax.spines[["left", "bottom"]].set_color("#cbd5e1")
            ax.tick_params(colors="#475569", length=3, labelsize=8)
            ax.grid(True, axis="y", color="#e2e8f0", linewidth=0.8)
            ax.set_axisbelow(True)
            hist = return_histogram(values, bins)
            if len(hist):
                ax.bar(hist["left"], hist["count"], hist["right"] - hist["left"], align="edge",
                       color=color, alpha=0.75, linewidth=0)  # fmt: skip
                ax.axvline(float(values.mean()), color=_INK, linewidth=1.0,
                           linestyle=(0, (4, 3)))  # fmt: skip
            ax.set_title(f"{label} ({len(values)})", fontsize=9, color="#334155")
            self._xpercent(ax)
        return self._svg(fig, "distribution", "distribution of daily and monthly returns")

    def _xpercent(self, ax):
        from matplotlib.ticker import MaxNLocator, PercentFormatter

        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))

    def holdings_count(self, counts) -> str:
        fig, ax = self._figure(3.0, 6.0)
        dates = counts.index
        self._span(ax, dates)
        ax.step(dates, counts["long"].to_numpy(), where="post", color=_GREEN, linewidth=1.3,
                label="long")  # fmt: skip
        ax.step(dates, counts["short"].to_numpy(), where="post", color=_RED, linewidth=1.3,
                label="short")  # fmt: skip
        ax.set_ylim(bottom=0)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        self._legend(ax, 2)
        self._dates(ax)
        return self._svg(fig, "holdings-count", "number of long and short positions")

    def top_holdings(self, weights, holdings) -> str:
        fig, ax = self._figure(3.0)
        self._span(ax, weights.index)
        colors = (_BLUE, _RED, _GREEN, _VIOLET, "#ea580c")
        shown = list(holdings.index[:5])
        for symbol, color in zip(shown, colors):
            ax.plot(weights.index, weights[symbol].to_numpy(), color=color, linewidth=1.2,
                    label=str(symbol))  # fmt: skip
        ax.axhline(0.0, color="#94a3b8", linewidth=0.8)
        if shown:
            self._legend(ax, len(shown))
        else:
            self._note(ax, "the run held no positions")
        self._dates(ax)
        self._percent(ax)
        return self._svg(fig, "top-holdings", "weights of the top holdings")

    def turnover(self, daily) -> str:
        import numpy as np

        fig, ax = self._figure(3.0, 6.0)
        dates = daily.index
        self._span(ax, dates)
        if (daily.fillna(0.0) > 0).any():
            ax.fill_between(dates, 0.0, daily.to_numpy(), step="mid", color=_BLUE, alpha=0.3,
                            linewidth=0, label="daily")  # fmt: skip
            mean = daily.rolling(ROLLING_WINDOW // 3, min_periods=1).mean()
            ax.plot(dates, mean.to_numpy(), color=_INK, linewidth=1.2,
                    label=f"{ROLLING_WINDOW // 3}-session mean")  # fmt: skip
            self._legend(ax, 2)
            # one session (usually the first, building the portfolio) can dwarf the rest:
            # the scale ends at the 99th percentile and the chart says what is above it
            values = daily.dropna().to_numpy()
            top = max(float(np.percentile(values, 99)), float(np.nanmax(mean.to_numpy()))) * 1.15
            above = values > top
            if above.any() and top > 0:
                ax.set_ylim(0.0, top)
                ax.text(0.99, 0.97, f"{int(above.sum())} session(s) above the scale, up to "
                        f"{values.max() * 100:.0f}%", transform=ax.transAxes, ha="right",
                        va="top", color="#64748b", fontsize=9)  # fmt: skip
            else:
                ax.set_ylim(bottom=0.0)
        else:
            self._note(ax, "no fills")
        self._dates(ax)
        self._percent(ax)
        return self._svg(fig, "turnover", "daily turnover")


# --- tables ----------------------------------------------------------------------------------


def _monthly_table(returns) -> str:
    """Calendar of monthly returns as an HTML table, coloured red (loss) to green (gain)."""
    import numpy as np

    grouped = monthly_returns(returns)
    years = sorted({y for y, _ in grouped.index})
    yearly = annual_returns(returns)["algorithm"]
    scale = float(np.nanmax(np.abs(grouped.to_numpy()))) if len(grouped) else 0.0
    yscale = float(np.nanmax(np.abs(yearly.to_numpy()))) if len(yearly) else 0.0
    head = "".join(f"<th>{m}</th>" for m in _MONTHS)
    rows = []
    for y in years:
        cells = []
        for m in range(1, 13):
            v = grouped.get((y, m))
            if v is None:
                cells.append('<td class="empty"></td>')
            else:
                cells.append(_heat_cell(float(v), scale, f"{y}-{m:02d}"))
        cells.append(_heat_cell(float(yearly[y]), yscale, str(y), "year"))
        rows.append(f'<tr><th scope="row">{y}</th>{"".join(cells)}</tr>')
    return (
        '<table class="heatmap"><thead><tr><th></th>'
        f'{head}<th class="year">Year</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _cell(field: str, value, text: str, cls: str = "") -> str:
    """A table cell carrying its exact value: ``data-field`` and ``data-value``."""
    if hasattr(value, "isoformat"):  # a date: ISO, or "" for NaT
        raw = "" if value != value else value.date().isoformat()
    else:
        raw = _data_value(value)
    c = f' class="{cls}"' if cls else ""
    return f'<td{c} data-field="{_e(field)}" data-value="{_e(raw)}">{_e(text)}</td>'


def _date_text(value, missing: str) -> str:
    return missing if value != value else str(value.date())


def _drawdown_html(table) -> str:
    if len(table) == 0:
        return '<p class="note" id="drawdowns">The wealth curve never fell below a peak.</p>'
    rows = []
    for rank, r in enumerate(table.itertuples(), start=1):
        unrecovered = "" if r.recovery == r.recovery else "open"  # NaT != NaT
        rows.append(
            f'<tr data-rank="{rank}"><th scope="row">{rank}</th>'
            + _cell("peak", r.peak, _date_text(r.peak, "start"))
            + _cell("valley", r.valley, _date_text(r.valley, "—"))
            + _cell("recovery", r.recovery, _date_text(r.recovery, "not recovered"), unrecovered)
            + _cell("drawdown", r.drawdown, _fmt_percent(r.drawdown, 2))
            + _cell("sessions", r.sessions, f"{r.sessions:,}")
            + "</tr>"
        )
    head = ("<th>#</th><th>Peak</th><th>Valley</th><th>Recovery</th><th>Net drawdown</th>"
            "<th>Sessions underwater</th>")  # fmt: skip
    return (
        f'<table class="grid" id="drawdowns"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _holdings_html(table) -> str:
    if len(table) == 0:
        return '<p class="note" id="top-holdings">The run held no positions.</p>'
    rows = "".join(
        f'<tr data-symbol="{_e(str(sym))}"><th scope="row">{_e(str(sym))}</th>'
        + _cell("mean_abs_weight", r.mean_abs_weight, f"{r.mean_abs_weight * 100:.2f}%")
        + _cell("max_abs_weight", r.max_abs_weight, f"{r.max_abs_weight * 100:.2f}%")
        + _cell("sessions_held", r.sessions_held, f"{r.sessions_held:,}")
        + _cell("sessions_long", r.sessions_long, f"{r.sessions_long:,}")
        + _cell("sessions_short", r.sessions_short, f"{r.sessions_short:,}")
        + _cell("last_weight", r.last_weight, _fmt_percent(r.last_weight, 2))
        + "</tr>"
        for sym, r in zip(table.index, table.itertuples())
    )
    head = ("<th>Asset</th><th>Mean |weight|</th><th>Max |weight|</th><th>Sessions held</th>"
            "<th>Long</th><th>Short</th><th>Last weight</th>")  # fmt: skip
    return (
        f'<table class="grid" id="top-holdings"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _costs_html(costs) -> str:
    def money(v):
        return f"{v:,.2f}".replace("-", _MINUS) if math.isfinite(v) else "—"

    def bps(v):
        return f"{v:.2f} bp".replace("-", _MINUS) if math.isfinite(v) else "—"

    fills, measured = int(costs["fills"]), int(costs["slippage_fills"])
    turn = costs["annual_turnover"]
    rows = (
        ("fills", "Fills", f"{fills:,}"),
        ("traded_value", "Value traded", money(costs["traded_value"])),
        ("annual_turnover", "Turnover (annualised)",
         f"{turn * 100:,.0f}% a year" if math.isfinite(turn) else "—"),
        ("commission", "Commission", money(costs["commission"])),
        ("commission_bps", "Commission, of value traded", bps(costs["commission_bps"])),
        ("slippage", "Slippage against the close", money(costs["slippage"])),
        ("slippage_fills", "Fills measured for slippage", f"{measured:,} of {fills:,}"),
        ("slippage_bps", "Slippage, of value traded (measured fills)",
         bps(costs["slippage_bps"])),
    )  # fmt: skip
    body = "".join(
        f'<tr><th scope="row">{_e(label)}</th><td data-cost="{name}" '
        f'data-value="{_e(_data_value(costs[name]))}">{_e(text)}</td></tr>'
        for name, label, text in rows
    )
    return f'<table class="kv" id="costs"><tbody>{body}</tbody></table>'


_COMPARED_LABELS = {"best_day": "Best day", "worst_day": "Worst day"}
_RELATIVE_LABELS = {"correlation": "Correlation", "beta": "Beta", "alpha": "Alpha",
                    "tracking_error": "Tracking error", "information_ratio": "Information ratio"}  # fmt: skip


def _comparison_html(table, relative, stats) -> str:
    has_bench = table["benchmark"].notna().any()
    columns = ("algorithm", "benchmark") if has_bench else ("algorithm",)
    head = "".join(f"<th>{c.capitalize()}</th>" for c in columns)
    rows = []
    for name in table.index:
        label = _COMPARED_LABELS.get(name) or _label(name)
        kind = "annual_return" if name in ("best_day", "worst_day") else name
        cells = "".join(
            f'<td data-compare="{name}" data-column="{c}" '
            f'data-value="{_e(_data_value(table.at[name, c]))}">'
            f"{_e(_fmt_stat(kind, table.at[name, c]))}</td>"
            for c in columns
        )
        rows.append(f'<tr><th scope="row">{_e(label)}</th>{cells}</tr>')
    out = (
        f'<table class="grid" id="benchmark-stats"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    if not has_bench:
        return out + '<p class="note" id="relative">No benchmark: nothing to compare against.</p>'
    rel = dict(relative.items())
    alpha = _as_float(stats.get("alpha"))
    rel["alpha"] = alpha if alpha is not None else math.nan
    order = ("correlation", "beta", "alpha", "tracking_error", "information_ratio")
    body = "".join(
        f'<tr><th scope="row">{_RELATIVE_LABELS[n]}</th><td data-relative="{n}" '
        f'data-value="{_e(_data_value(rel[n]))}">'
        f"{_e(_fmt_stat('annual_volatility' if n == 'tracking_error' else n, rel[n]))}</td></tr>"
        for n in order
    )
    return out + f'<table class="kv" id="relative"><tbody>{body}</tbody></table>'


def _heat_cell(value: float, scale: float, month: str, cls: str = "") -> str:
    strength = min(abs(value) / scale, 1.0) if scale > 0 and math.isfinite(value) else 0.0
    rgb = (22, 163, 74) if value >= 0 else (220, 38, 38)
    alpha = 0.08 + 0.72 * strength
    ink = "#ffffff" if alpha > 0.55 else "#0f172a"
    return (
        f'<td class="{cls}" data-month="{month}" data-value="{_data_value(value)}" '
        f'style="background: rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.3f}); color: {ink}">'
        f"{_fmt_percent(value, 1)}</td>"
    )


def _kpis(stats: dict) -> str:
    cards = []
    for name in _KPIS:
        if name not in stats:
            continue
        v = _as_float(stats[name])
        tone = ""
        label = "Final value" if name == "final_portfolio_value" else _label(name)
        if v is not None and math.isfinite(v) and name in ("total_return", "cagr", "sharpe"):
            tone = " up" if v > 0 else " down" if v < 0 else ""
        cards.append(
            f'<div class="kpi{tone}"><div class="kpi-label">{_e(label)}</div>'
            f'<div class="kpi-value">{_e(_fmt_stat(name, stats[name], kpi=True))}</div></div>'
        )
    return "".join(cards)


def _stats_tables(stats: dict) -> str:
    known = {n for _, names in _STAT_GROUPS for n in names}
    groups = [(title, [n for n in names if n in stats]) for title, names in _STAT_GROUPS]
    groups.append(("Other", [n for n in stats if n not in known]))
    out = []
    for title, names in groups:
        if not names:
            continue
        rows = "".join(
            f'<tr><th scope="row" title="{_e(str(n))}">{_e(_label(n))}</th>'
            f'<td data-stat="{_e(str(n))}" data-value="{_e(_data_value(stats[n]))}">'
            f"{_e(_fmt_stat(n, stats[n]))}</td></tr>"
            for n in names
        )
        out.append(f'<table class="kv"><caption>{_e(title)}</caption><tbody>{rows}</tbody></table>')
    return "".join(out) or '<p class="note">These Results carry no statistics.</p>'


def _metadata_table(meta: dict, sessions, n_sessions: int) -> str:
    rows = []

    def add(label, value, code=False, title=None):
        text = _e(str(value))
        if code:
            text = f"<code>{text}</code>"
        t = f' title="{_e(str(title))}"' if title else ""
        rows.append(f'<tr><th scope="row">{_e(label)}</th><td{t}>{text}</td></tr>')

    shown = {"algorithm", "bundle", "content_hash", "start", "end", "params", "ledger",
             "rustybt_version", "git_commit", "wall_time_s"}  # fmt: skip
    add("Algorithm", meta.get("algorithm") or "—")
    bundle = meta.get("bundle") or "—"
    content_hash = meta.get("content_hash")
    add("Bundle", f"{bundle} ({str(content_hash)[:12]})" if content_hash else bundle,
        title=content_hash)  # fmt: skip
    start = meta.get("start") or sessions[0].date()
    end = meta.get("end") or sessions[-1].date()
    add("Span", f"{start} {_DASH} {end} ({n_sessions} sessions)")
    params = meta.get("params")
    add("Parameters", json.dumps(params, sort_keys=True, default=str) if params else "none",
        code=bool(params))  # fmt: skip
    if meta.get("ledger"):
        add("Ledger", meta["ledger"])
    add("rustybt version", meta.get("rustybt_version") or "not recorded")
    commit = meta.get("git_commit")
    add(
        "Git commit",
        str(commit)[:12] if commit else "not recorded",
        code=bool(commit),
        title=commit,
    )
    wall = _as_float(meta.get("wall_time_s"))
    add("Wall time", f"{wall:.3f} s" if wall is not None and math.isfinite(wall) else "—")
    for key, value in meta.items():
        if key not in shown:
            add(str(key), json.dumps(value, default=str) if not isinstance(value, str) else value)
    return f'<table class="kv meta" id="metadata"><tbody>{"".join(rows)}</tbody></table>'


# --- formatting ------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _version() -> str:
    try:
        from rustybt import __version__
    except ImportError:  # pragma: no cover - the package always has one
        return "unknown"
    return __version__


def _label(name) -> str:
    return _LABELS.get(name) or str(name).replace("_", " ").capitalize()


def _data_value(value) -> str:
    """Machine-readable value: ``repr`` of the float (round-trips exactly), or ``nan``."""
    v = _as_float(value) if value is not None else math.nan
    if v is None:
        return str(value)
    return "nan" if math.isnan(v) else repr(v)


def _is_int(value) -> bool:
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return kind in ("i", "u") or (isinstance(value, int) and not isinstance(value, bool))


def _fmt_percent(v: float, decimals: int = 2) -> str:
    return f"{v * 100:+.{decimals}f}%".replace("-", _MINUS)


def _fmt_stat(name, value, kpi: bool = False) -> str:
    v = _as_float(value) if value is not None else math.nan
    if v is None:
        return str(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else f"{_MINUS}∞"
    if name in _PERCENT:
        text = f"{v * 100:.2f}%"
    elif name in _MONEY:
        text = f"{v:,.0f}" if kpi else f"{v:,.2f}"
    elif name == "max_drawdown_duration":
        text = f"{v:,.0f} sessions"
    elif name == "trades" or _is_int(value):
        text = f"{v:,.0f}"
    else:
        text = f"{v:.3f}" if abs(v) < 1e6 else f"{v:.4g}"
    return text.replace("-", _MINUS)


# --- command line ----------------------------------------------------------------------------


def load_saved(path) -> Results:
    """:meth:`Results.load`, with errors that name the path when it is not a saved Results."""
    from rustybt.errors import InvalidRunParameters
    from rustybt.results import Results

    path = Path(path)
    hint = "write one with Results.save(DIR) or `rustybt run STRATEGY.py --out DIR`"
    if not path.exists():
        raise InvalidRunParameters(f"{path} does not exist ({hint})")
    if not path.is_dir():
        raise InvalidRunParameters(f"{path} is a file, not a saved Results directory ({hint})")
    missing = [name for name in SAVED_FILES if not (path / name).is_file()]
    if missing:
        raise InvalidRunParameters(
            f"{path} is not a saved Results: missing {', '.join(missing)} ({hint})"
        )
    try:
        return Results.load(path)
    except (OSError, ValueError) as exc:
        raise InvalidRunParameters(
            f"{path} is not a readable saved Results: {type(exc).__name__}: {exc}"
        ) from None


def cmd_report(args) -> int:
    from rustybt.app.common import console

    results = load_saved(args.results)
    out = Path(args.out) if args.out else Path(args.results) / "tearsheet.html"
    written = write_tearsheet(results, out, log_scale=args.log_scale)
    console.print(f"tear sheet written to {written}")
    return 0


def register_cli(sub) -> None:
    """Add ``rustybt report RESULTS [--out FILE]`` to the top-level subparsers ``sub``."""
    p = sub.add_parser("report", help="an HTML tear sheet of saved Results")
    p.add_argument("results", help="a directory written by Results.save or `rustybt run --out DIR`")
    p.add_argument("--out", help="the HTML file to write (default: RESULTS/tearsheet.html)")
    p.add_argument("--log-scale", action="store_true",
                   help="open with the equity curve on a log scale (the page can switch)")  # fmt: skip
    p.set_defaults(func=cmd_report)


_CSS = """
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0;
  --bg: #f8fafc; --card: #ffffff; --up: #15803d; --down: #b91c1c; --accent: #2563eb; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "DejaVu Sans", sans-serif; }
.sheet { max-width: 1120px; margin: 0 auto; padding: 28px 24px 40px; }
.top { display: flex; justify-content: space-between; align-items: flex-end;
  border-bottom: 1px solid var(--line); padding-bottom: 14px; margin-bottom: 18px; }
.eyebrow { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 11px;
  color: var(--accent); font-weight: 600; }
h1 { margin: 2px 0 2px; font-size: 26px; font-weight: 650; letter-spacing: -.01em; }
.sub { margin: 0; color: var(--muted); }
h2 { margin: 0; font-size: 15px; font-weight: 620; }
.note { margin: 2px 0 10px; color: var(--muted); font-size: 12.5px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 12px; margin-bottom: 16px; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 14px; }
.kpi-label { color: var(--muted); font-size: 12px; }
.kpi-value { font-size: 21px; font-weight: 640; font-variant-numeric: tabular-nums;
  margin-top: 2px; overflow-wrap: anywhere; }
.kpi.up .kpi-value { color: var(--up); }
.kpi.down .kpi-value { color: var(--down); }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 16px 18px 14px; margin-bottom: 16px; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.two .panel { margin-bottom: 16px; min-width: 0; }
@media (max-width: 820px) { .two { grid-template-columns: 1fr; } }
figure.chart { margin: 0; }
figure.chart svg { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.heatmap { width: 100%; table-layout: fixed; font-size: 12.5px; }
.heatmap th { color: var(--muted); font-weight: 560; padding: 4px 2px; }
.heatmap tbody th { text-align: left; padding-right: 8px; width: 3.5em; }
.heatmap td { text-align: center; padding: 7px 2px; border: 2px solid var(--card);
  border-radius: 6px; }
.heatmap td.empty { background: #f1f5f9; }
.heatmap td.year, .heatmap th.year { font-weight: 650; }
.heatmap th.year { width: 5.5em; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr));
  gap: 10px 26px; align-items: start; }
.kv { width: 100%; }
.kv caption { text-align: left; font-size: 12px; text-transform: uppercase;
  letter-spacing: .06em; color: var(--accent); font-weight: 600; padding: 4px 0 6px; }
.kv th { text-align: left; font-weight: 450; color: #334155; padding: 5px 10px 5px 0;
  border-bottom: 1px solid var(--line); }
.kv td { text-align: right; padding: 5px 0; border-bottom: 1px solid var(--line);
  font-weight: 560; white-space: nowrap; }
.kv.meta td { text-align: left; font-weight: 450; white-space: normal;
  overflow-wrap: anywhere; }
.kv.meta th { width: 11em; }
h3 { margin: 14px 0 6px; font-size: 13px; font-weight: 620; color: #334155; }
.grid { width: 100%; font-size: 13px; }
.grid th, .grid td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; }
.grid thead th { color: var(--muted); font-weight: 560; font-size: 12px; }
.grid tbody th { text-align: left; font-weight: 560; }
.grid thead th:first-child { text-align: left; }
.grid td.open { color: var(--down); }
.kv + .kv, .grid + .kv { margin-top: 12px; }
.head { display: flex; justify-content: space-between; align-items: center; gap: 12px; }
input.scale { position: absolute; opacity: 0; pointer-events: none; }
.toggle { display: inline-flex; border: 1px solid var(--line); border-radius: 8px;
  overflow: hidden; font-size: 12px; }
.toggle label { padding: 3px 12px; cursor: pointer; color: var(--muted); user-select: none; }
#scale-linear:checked ~ .head label[for="scale-linear"],
#scale-log:checked ~ .head label[for="scale-log"] { background: var(--accent); color: #fff; }
#scale-linear:focus-visible ~ .head label[for="scale-linear"],
#scale-log:focus-visible ~ .head label[for="scale-log"] { outline: 2px solid var(--accent); }
#scale-linear:checked ~ #chart-equity-log, #scale-log:checked ~ #chart-equity { display: none; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
  monospace; background: #f1f5f9; padding: 1px 5px; border-radius: 4px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 8px; }
@media print { body { background: #fff; } .panel, .kpi { break-inside: avoid; }
  .toggle { display: none; } }
"""


# Results.tearsheet() (in the library) finds the page through this registration, or through
# the "rustybt.renderers" entry point when this module was never imported.
register_renderer("tearsheet", write_tearsheet)
