"""Tear sheet: one self-contained HTML page of a backtest's :class:`~rustybt.results.Results`.

Equity curve (against the benchmark when the run has one), underwater drawdown, monthly
returns, rolling Sharpe, exposure, every statistic and the run's provenance. Charts are
matplotlib SVG written inline and the CSS is inline too, so the file opens offline and
loads nothing from the network.

Example:
    >>> res = rustybt.backtest(algorithm=SmaCross, bundle="demo")  # doctest: +SKIP
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

if TYPE_CHECKING:
    import pandas as pd

    from rustybt.results import Results

#: Sessions in the rolling Sharpe window (a quarter of trading days).
ROLLING_WINDOW = 63
PERIODS_PER_YEAR = 252

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


def write_tearsheet(results: Results, path) -> Path:
    """Write ``results`` as one self-contained HTML file at ``path`` (parent directories
    are created) and return the path.

    Example:
        >>> write_tearsheet(rustybt.backtest(algorithm=SmaCross, bundle="demo"), "r.html")  # doctest: +SKIP
    """
    path = Path(path)
    page = render_tearsheet(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def render_tearsheet(results: Results) -> str:
    """The tear sheet's HTML text."""
    import numpy as np
    import pandas as pd

    perf = results.perf
    if len(perf) == 0:
        raise ValueError("these Results have no sessions: there is nothing to report")
    sessions = _session_dates(perf.index)
    returns = pd.Series(
        pd.to_numeric(perf["returns"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
        index=sessions,
    )
    wealth = np.cumprod(1.0 + returns.to_numpy())
    if "algorithm_period_return" in perf:
        cumulative = pd.to_numeric(perf["algorithm_period_return"], errors="coerce").to_numpy(
            dtype=float
        )
    else:
        cumulative = wealth - 1.0
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    underwater = wealth / peak - 1.0
    benchmark = _benchmark(perf)
    stats = _stats_row(results.stats)
    meta = results.metadata or {}

    charts = _Charts()
    equity = charts.equity(sessions, cumulative, benchmark)
    drawdown = charts.underwater(sessions, underwater)
    sharpe = charts.rolling_sharpe(sessions, returns, stats.get("sharpe"))
    exposure = charts.exposure(sessions, perf)
    monthly = _monthly_table(returns)

    title = f"{meta.get('algorithm') or 'Backtest'} on {meta.get('bundle') or 'unknown bundle'}"
    span = f"{sessions[0].date()} {_DASH} {sessions[-1].date()}"
    series = "algorithm benchmark" if benchmark is not None else "algorithm"
    equity_note = (
        "Cumulative return of the algorithm and of its benchmark."
        if benchmark is not None
        else "Cumulative return of the algorithm (the run has no benchmark)."
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
<section class="panel">
  <h2>Equity curve</h2><p class="note">{_e(equity_note)}</p>
  <figure class="chart" id="chart-equity" data-series="{series}">{equity}</figure>
</section>
<section class="panel">
  <h2>Underwater</h2><p class="note">Drawdown from the running peak of the wealth curve.</p>
  <figure class="chart" id="chart-drawdown">{drawdown}</figure>
</section>
<section class="panel">
  <h2>Monthly returns</h2><p class="note">Compounded daily returns per calendar month; the last column is the year.</p>
  <figure class="chart" id="chart-monthly">{monthly}</figure>
</section>
<div class="two">
  <section class="panel">
    <h2>Rolling Sharpe</h2><p class="note">{ROLLING_WINDOW}-session window, annualised ({PERIODS_PER_YEAR} sessions a year); dashed: whole run.</p>
    <figure class="chart" id="chart-rolling-sharpe">{sharpe}</figure>
  </section>
  <section class="panel">
    <h2>Exposure</h2><p class="note">Long, short, gross and net exposure as fractions of portfolio value.</p>
    <figure class="chart" id="chart-exposure">{exposure}</figure>
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


def _session_dates(index) -> pd.DatetimeIndex:
    import pandas as pd

    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert(None)
    return idx.normalize()


def _benchmark(perf):
    """The benchmark's cumulative return, or None when the run has none (column absent,
    or all NaN / zero)."""
    import numpy as np
    import pandas as pd

    if "benchmark_period_return" not in perf:
        return None
    b = pd.to_numeric(perf["benchmark_period_return"], errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(b)
    if not finite.any() or not (b[finite] != 0.0).any():
        return None
    return b


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

    def __init__(self):
        import matplotlib

        self._mpl = matplotlib

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

    def equity(self, dates, cumulative, benchmark) -> str:
        fig, ax = self._figure(3.4)
        ax.axhline(0.0, color="#94a3b8", linewidth=0.8)
        if benchmark is not None:
            ax.plot(dates, benchmark, color=_GREY, linewidth=1.4, label="benchmark")
        ax.plot(dates, cumulative, color=_BLUE, linewidth=1.8, label="algorithm")
        ax.fill_between(dates, 0.0, cumulative, color=_BLUE, alpha=0.07, linewidth=0)
        self._dates(ax)
        self._percent(ax)
        self._legend(ax, 2)
        return self._svg(fig, "equity", "equity curve")

    def underwater(self, dates, underwater) -> str:
        fig, ax = self._figure(2.4)
        ax.fill_between(dates, underwater, 0.0, color=_RED, alpha=0.25, linewidth=0)
        ax.plot(dates, underwater, color=_RED, linewidth=1.0)
        low = float(min(underwater.min(), 0.0))
        ax.set_ylim(low * 1.1 if low < 0 else -0.01, 0.0)
        self._dates(ax)
        self._percent(ax)
        return self._svg(fig, "drawdown", "underwater drawdown")

    def rolling_sharpe(self, dates, returns, whole) -> str:
        import numpy as np

        fig, ax = self._figure(3.0, 6.0)
        rolling = returns.rolling(ROLLING_WINDOW)
        std = rolling.std(ddof=1)
        sharpe = rolling.mean() / std.where(std > 0) * math.sqrt(PERIODS_PER_YEAR)
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


# --- tables ----------------------------------------------------------------------------------


def _monthly_table(returns) -> str:
    """Calendar of monthly returns as an HTML table, coloured red (loss) to green (gain)."""
    import numpy as np

    grouped = (1.0 + returns).groupby([returns.index.year, returns.index.month]).prod() - 1.0
    years = sorted({y for y, _ in grouped.index})
    yearly = (1.0 + returns).groupby(returns.index.year).prod() - 1.0
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
    console.print(f"tear sheet written to {write_tearsheet(results, out)}")
    return 0


def register_cli(sub) -> None:
    """Add ``rustybt report RESULTS [--out FILE]`` to the top-level subparsers ``sub``."""
    p = sub.add_parser("report", help="an HTML tear sheet of saved Results")
    p.add_argument("results", help="a directory written by Results.save or `rustybt run --out DIR`")
    p.add_argument("--out", help="the HTML file to write (default: RESULTS/tearsheet.html)")
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
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
  monospace; background: #f1f5f9; padding: 1px 5px; border-radius: 4px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 8px; }
@media print { body { background: #fff; } .panel, .kpi { break-inside: avoid; } }
"""


# Results.tearsheet() (in the library) finds the page through this registration, or through
# the "rustybt.renderers" entry point when this module was never imported.
register_renderer("tearsheet", write_tearsheet)
