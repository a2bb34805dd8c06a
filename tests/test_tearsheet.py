"""The HTML tear sheet, rendered in headless Chromium (Debian's package, driven by
Playwright): no console or page errors, nothing fetched but the file itself, every chart
laid out with a size, the statistics shown equal to ``Results.stats``, and every table of the
page (worst drawdowns, top holdings, trading costs, the benchmark comparison) equal to the
data function behind it. Those functions are checked against computations written here:
loops over the equity curve, the raw perf frame's transactions and positions, and runs whose
slippage and commission models make the true costs known in advance.

Chromium missing fails these tests (scripts/test.sh installs it) unless
``RUSTYBT_SKIP_BROWSER=1``, which skips only the rendering checks.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt.app import tearsheet as ts
from rustybt.app.cli import main
from rustybt.app.tearsheet import load_saved, write_tearsheet
from rustybt.errors import InvalidRunParameters
from rustybt.finance.commission import PerShare
from rustybt.finance.slippage import FixedSlippage
from rustybt.results import Results

CHARTS = (
    "chart-equity",
    "chart-drawdown",
    "chart-monthly",
    "chart-annual",
    "chart-distribution",
    "chart-rolling-sharpe",
    "chart-rolling-volatility",
    "chart-rolling-beta",
    "chart-exposure",
    "chart-holdings-count",
    "chart-turnover",
    "chart-top-holdings",
)
SVG_CHARTS = tuple(c for c in CHARTS if c != "chart-monthly")  # the heatmap is a table
TABLES = ("drawdowns", "top-holdings", "costs", "benchmark-stats", "relative")
ANN = math.sqrt(252)


class LongShort(rustybt.TradingAlgorithm):
    """Long S000 and short S001 on different cycles: gross and net exposure differ."""

    def initialize(self, context):
        context.long, context.short = self.symbol("S000"), self.symbol("S001")
        context.i = 0

    def handle_data(self, context, data):
        context.i += 1
        self.order_target_percent(context.long, 0.6 if context.i % 20 < 12 else 0.0)
        self.order_target_percent(context.short, -0.3 if context.i % 30 < 18 else 0.0)


class BuyOnce(rustybt.TradingAlgorithm):
    def initialize(self, context):
        context.done = False

    def handle_data(self, context, data):
        if not context.done:
            self.order(self.symbol("AAA"), 10)
            context.done = True


class Rotation(rustybt.TradingAlgorithm):
    """Six assets, long and short, with target weights that rotate every 21 sessions: several
    holdings of different sizes, positions opened, resized and closed."""

    TARGETS = (0.30, 0.20, 0.0, -0.10, 0.15, -0.20)

    def initialize(self, context):
        context.assets = [self.symbol(f"S{k:03d}") for k in range(6)]
        context.i = 0

    def handle_data(self, context, data):
        turn = context.i // 21
        context.i += 1
        for k, asset in enumerate(context.assets):
            self.order_target_percent(asset, self.TARGETS[(k + turn) % 6] * (1 + (k == 0)))


class Costed(Rotation):
    """Rotation with a known cost per share: fills at close +- 0.05, commission 0.01/share."""

    def initialize(self, context):
        super().initialize(context)
        self.set_slippage(FixedSlippage(spread=0.10))
        self.set_commission(PerShare(cost=0.01, min_trade_cost=0.0))


@pytest.fixture(scope="module")
def long_bundle() -> rustybt.Bundle:
    """6 synthetic assets over two and a half years (627 sessions): several drawdowns, three
    calendar years, full rolling windows."""
    return rustybt.ingest_synthetic(
        "tearsheet-long", assets=6, start="2021-01-04", end="2023-06-30", seed=11
    )


@pytest.fixture(scope="module")
def bench_series(long_bundle) -> pd.Series:
    rng = np.random.default_rng(3)
    return pd.Series(
        rng.normal(0.0004, 0.01, len(long_bundle.sessions)), index=long_bundle.sessions
    )


@pytest.fixture(scope="module")
def results(long_bundle) -> Results:
    """No benchmark."""
    return rustybt.backtest(algorithm=Rotation, bundle=long_bundle, capital_base=100_000)


@pytest.fixture(scope="module")
def bench_results(long_bundle, bench_series) -> Results:
    """The same run against a benchmark of known daily returns."""
    return rustybt.backtest(
        algorithm=Rotation, bundle=long_bundle, capital_base=100_000, benchmark_returns=bench_series
    )


@pytest.fixture(scope="module")
def costed(long_bundle) -> Results:
    return rustybt.backtest(algorithm=Costed, bundle=long_bundle, capital_base=100_000)


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("RUSTYBT_SKIP_BROWSER") == "1":
            pytest.skip("chromium not installed and RUSTYBT_SKIP_BROWSER=1")
        pytest.fail(
            "chromium is not on PATH: install Debian's package (scripts/test.sh does: "
            "apt-get install chromium) or set RUSTYBT_SKIP_BROWSER=1 to skip the rendering tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def render(browser, path) -> dict:
    """Open ``path`` in a fresh page and collect what the checks need."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)  # fmt: skip
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("request", lambda r: requests.append(r.url))
    url = path.resolve().as_uri()
    page.goto(url, wait_until="load")
    shown_charts = [c for c in CHARTS if page.locator(f"#{c}").is_visible()]
    log_first = page.locator("#chart-equity-log").is_visible()
    # the scale toggle: clicking a label shows one equity chart and hides the other
    scales = {}
    for which in ("log", "linear"):
        page.click(f'label[for="scale-{which}"]')
        scales[which] = {
            "linear": page.locator("#chart-equity").bounding_box(),
            "log": page.locator("#chart-equity-log").bounding_box(),
        }
    boxes = {c: page.locator(f"#{c}").bounding_box() for c in CHARTS}
    boxes.update({f"{c} svg": page.locator(f"#{c} > svg").bounding_box() for c in SVG_CHARTS})
    shown = page.eval_on_selector_all(
        "[data-stat]", "els => els.map(e => [e.dataset.stat, e.dataset.value, e.textContent])"
    )
    tables = {
        t: page.eval_on_selector_all(
            f"#{t} tbody tr",
            """rows => rows.map(r => ({
                key: r.dataset.rank || r.dataset.symbol || r.querySelector('th').textContent,
                cells: Object.fromEntries([...r.querySelectorAll('td')].map(td => [
                    td.dataset.field || td.dataset.cost || td.dataset.relative ||
                        (td.dataset.compare + ':' + td.dataset.column),
                    [td.dataset.value, td.textContent]]))}))""",
        )
        for t in TABLES
    }
    texts = {
        c: page.locator(f"#{c}").text_content()
        for c in ("chart-rolling-beta", "chart-rolling-volatility", "chart-annual")
    }
    notes = page.locator("#benchmark-stats").locator("xpath=..").text_content()
    series = page.get_attribute("#chart-equity", "data-series")
    page.close()
    return {"url": url, "errors": errors, "requests": requests, "boxes": boxes,
            "stats": shown, "series": series, "tables": tables, "texts": texts,
            "comparison_panel": notes, "scales": scales, "log_first": log_first,
            "shown_charts": shown_charts}  # fmt: skip


def check_page(page: dict, res: Results) -> None:
    """The page's checks, and every table on it against the data function behind it."""
    assert page["errors"] == []
    assert page["requests"] == [page["url"]], "the tear sheet fetched something besides itself"
    for name, box in page["boxes"].items():
        assert box is not None and box["width"] > 0 and box["height"] > 0, (name, box)
    # linear / log toggle: exactly one equity chart is laid out at a time
    assert page["scales"]["log"]["linear"] is None and page["scales"]["log"]["log"]["height"] > 0
    assert page["scales"]["linear"]["log"] is None
    expected = res.stats.iloc[0]
    assert sorted(name for name, _, _ in page["stats"]) == sorted(expected.index)
    for name, value, text in page["stats"]:
        want, got = float(expected[name]), float(value)
        assert got == want or (math.isnan(got) and math.isnan(want)), (name, got, want)
        assert text.strip(), name
    check_tables(page, res)


def _same(got: str, want) -> bool:
    if isinstance(want, pd.Timestamp) or want is pd.NaT:
        return got == ("" if pd.isna(want) else want.date().isoformat())
    g, w = float(got), float(want)
    return g == w or (math.isnan(g) and math.isnan(w))


def check_tables(page: dict, res: Results) -> None:
    tables = page["tables"]
    returns, bench = ts.daily_returns(res), ts.benchmark_returns(res)

    drawdowns = ts.drawdown_table(returns)
    rows = tables["drawdowns"]
    assert [r["key"] for r in rows] == [str(i + 1) for i in range(len(drawdowns))]
    for row, want in zip(rows, drawdowns.itertuples()):
        for field in ("peak", "valley", "recovery", "drawdown", "sessions"):
            assert _same(row["cells"][field][0], getattr(want, field)), (field, row, want)
        assert row["cells"]["recovery"][1] == (
            "not recovered" if pd.isna(want.recovery) else str(want.recovery.date())
        )

    holdings = ts.top_holdings(ts.position_weights(res))
    rows = tables["top-holdings"]
    assert [r["key"] for r in rows] == list(holdings.index)
    for row, (symbol, want) in zip(rows, holdings.iterrows()):
        for field, value in want.items():
            assert _same(row["cells"][field][0], value), (symbol, field)

    costs = ts.trading_costs(res)
    (row,) = [{k: v for r in tables["costs"] for k, v in r["cells"].items()}]
    assert sorted(row) == sorted(costs.index)
    for name, value in costs.items():
        assert _same(row[name][0], value), name

    comparison = ts.benchmark_comparison(returns, bench)
    rows = tables["benchmark-stats"]
    assert len(rows) == len(comparison) == len(ts.COMPARED)
    columns = ("algorithm", "benchmark") if bench is not None else ("algorithm",)
    for row, (name, want) in zip(rows, comparison.iterrows()):
        assert sorted(row["cells"]) == sorted(f"{name}:{c}" for c in columns)
        for c in columns:
            assert _same(row["cells"][f"{name}:{c}"][0], want[c]), (name, c)
    if bench is None:
        assert tables["relative"] == []
        assert "No benchmark" in page["comparison_panel"]
        assert "no benchmark" in page["texts"]["chart-rolling-beta"]
        assert "no benchmark" in page["texts"]["chart-annual"]
        assert page["series"] == "algorithm"
    else:
        relative = ts.relative_statistics(returns, bench)
        (row,) = [{k: v for r in tables["relative"] for k, v in r["cells"].items()}]
        assert sorted(row) == sorted([*relative.index, "alpha"])
        for name, value in relative.items():
            assert _same(row[name][0], value), name
        assert _same(row["alpha"][0], res.stats["alpha"].iloc[0])
        assert "no benchmark" not in page["texts"]["chart-rolling-beta"]
        assert "No benchmark" not in page["comparison_panel"]
        assert page["series"] == "algorithm benchmark"


def check_self_contained(text: str) -> None:
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\((?!#)|\ssrc=", text, re.I)
    for url in re.findall(r"https?://[^\s\"'<>]+", text):
        assert url in ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"), url


@pytest.mark.parametrize("benchmark", ["absent", "nan", "zeros", "series"])
def test_tearsheet_renders(results, browser, tmp_path, benchmark):
    res = results
    if benchmark != "absent":
        n = len(results.perf)
        column = {
            "nan": np.full(n, np.nan),
            "zeros": np.zeros(n),
            "series": np.linspace(0.0, 0.05, n),
        }[benchmark]
        res = Results(results.perf.assign(benchmark_period_return=column), results.stats,
                      results.transactions, results.positions, results.round_trips,
                      results.metadata)  # fmt: skip
    out = res.tearsheet(tmp_path / "sub" / "report.html")
    assert out == tmp_path / "sub" / "report.html"
    check_self_contained(out.read_text())
    page = render(browser, out)
    check_page(page, res)
    assert page["series"] == ("algorithm benchmark" if benchmark == "series" else "algorithm")
    assert not page["log_first"]


def test_tearsheet_with_a_benchmark_renders(bench_results, browser, tmp_path):
    """A run with a real benchmark, opened on the log scale."""
    out = write_tearsheet(bench_results, tmp_path / "bench.html", log_scale=True)
    check_self_contained(out.read_text())
    page = render(browser, out)
    assert page["log_first"]
    assert "chart-equity" not in page["shown_charts"]
    check_page(page, bench_results)
    assert len(page["tables"]["drawdowns"]) == ts.TOP_DRAWDOWNS
    assert len(page["tables"]["top-holdings"]) == 6


def test_short_run_renders(hand_bundle, browser, tmp_path):
    """Five sessions: no rolling Sharpe, no closed trades (NaN statistics)."""
    res = rustybt.backtest(algorithm=BuyOnce, bundle=hand_bundle, capital_base=1_000)
    assert res.stats.isna().any(axis=None)
    page = render(browser, write_tearsheet(res, tmp_path / "short.html"))
    check_page(page, res)
    assert page["tables"]["top-holdings"][0]["key"] == "AAA"
    assert "fewer than" in page["texts"]["chart-rolling-volatility"]


class Idle(rustybt.TradingAlgorithm):
    def initialize(self, context):
        pass


def test_idle_run_renders(hand_bundle, browser, tmp_path):
    """No fills, no positions: empty holdings and costs, never below a peak."""
    res = rustybt.backtest(algorithm=Idle, bundle=hand_bundle, capital_base=1_000)
    assert len(res.transactions) == 0 and len(res.positions) == 0
    out = write_tearsheet(res, tmp_path / "idle.html")
    page = render(browser, out)
    check_page(page, res)
    assert page["tables"]["drawdowns"] == [] and page["tables"]["top-holdings"] == []
    costs = ts.trading_costs(res)
    assert costs["fills"] == 0 and costs["traded_value"] == 0 and costs["commission"] == 0
    assert math.isnan(costs["commission_bps"]) and math.isnan(costs["slippage_bps"])
    assert ts.position_weights(res).shape == (5, 0)
    text = out.read_text()
    assert "never fell below a peak" in text and "held no positions" in text


def test_report_command(small_bundle, browser, tmp_path, capsys):
    strat = tmp_path / "ls.py"
    strat.write_text(
        "from tests.test_tearsheet import LongShort as _L\n\n\nclass LS(_L):\n    pass\n"
    )
    saved = tmp_path / "run"
    assert main(["run", str(strat), "--bundle", "small", "--out", str(saved)]) == 0
    out = tmp_path / "report.html"
    assert main(["report", str(saved), "--out", str(out)]) == 0
    assert str(out) in "".join(capsys.readouterr().out.split())
    page = render(browser, out)
    check_page(page, Results.load(saved))
    assert not page["log_first"]
    assert main(["report", str(saved), "--log-scale"]) == 0
    page = render(browser, saved / "tearsheet.html")
    assert page["log_first"]
    check_page(page, Results.load(saved))


def test_report_bad_path(results, tmp_path, capsys):
    not_there = tmp_path / "nope"
    a_file = tmp_path / "perf.csv"
    a_file.write_text("x\n1\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = results.save(tmp_path / "corrupt")
    (corrupt / "metadata.json").write_text("{not json")
    for path, why in (
        (not_there, "does not exist"),
        (a_file, "is a file"),
        (empty, "missing metadata.json"),
        (corrupt, "not a readable saved Results"),
    ):
        with pytest.raises(InvalidRunParameters, match=re.escape(f"{path} ") + ".*" + why):
            load_saved(path)
        assert main(["report", str(path), "--out", str(tmp_path / "x.html")]) == 2
        err = "".join(capsys.readouterr().err.split())
        assert "".join(str(path).split()) in err
    assert not (tmp_path / "x.html").exists()


def test_import_is_cheap():
    """The CLI imports rustybt.app.tearsheet to register `report`: it must not load matplotlib."""
    code = (
        "import sys, rustybt.app.tearsheet\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'playwright')]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- the data behind each section, against computations written here -------------------------


def drawdowns_by_loop(returns: pd.Series) -> list[dict]:
    """Walk the wealth curve one session at a time, opening a drawdown when wealth drops
    below the peak and closing it when wealth gets back to the peak."""
    dates = list(returns.index)
    wealth, peak, peak_at = 1.0, 1.0, None
    done, cur = [], None
    for i, r in enumerate(returns.to_numpy()):
        wealth *= 1.0 + r
        if wealth >= peak:
            if cur is not None:
                cur["recovery"] = dates[i]
                done.append(cur)
                cur = None
            peak, peak_at = wealth, dates[i]
        elif cur is None:
            cur = {"peak": peak_at, "valley": dates[i], "low": wealth, "top": peak,
                   "recovery": None, "sessions": 1}  # fmt: skip
        else:
            cur["sessions"] += 1
            if wealth < cur["low"]:
                cur["valley"], cur["low"] = dates[i], wealth
    if cur is not None:
        done.append(cur)
    for d in done:
        d["drawdown"] = d["low"] / d["top"] - 1.0
    return sorted(done, key=lambda d: d["drawdown"])  # sorted() is stable: ties keep time order


def test_drawdown_table_against_a_loop(results, bench_results):
    for res in (results, bench_results):
        returns = ts.daily_returns(res)
        table = ts.drawdown_table(returns)
        want = drawdowns_by_loop(returns)
        assert len(want) > ts.TOP_DRAWDOWNS  # the run has more drawdowns than the table shows
        assert len(table) == ts.TOP_DRAWDOWNS
        for row, w in zip(table.itertuples(), want):
            assert row.peak == w["peak"] and row.valley == w["valley"]
            assert (pd.isna(row.recovery) and w["recovery"] is None) or row.recovery == w[
                "recovery"
            ]
            assert row.drawdown == pytest.approx(w["drawdown"], rel=1e-12, abs=1e-15)
            assert row.sessions == w["sessions"]
        # the deepest is the engine's max drawdown; no drawdown lasts longer than its longest
        assert table["drawdown"].iloc[0] == pytest.approx(
            res.stats["max_drawdown"].iloc[0], abs=1e-12
        )
        longest = max(d["sessions"] for d in want)
        assert longest == res.stats["max_drawdown_duration"].iloc[0]
        assert table["drawdown"].is_monotonic_increasing
        assert len(ts.drawdown_table(returns, top=len(want) + 3)) == len(want)


def test_drawdown_table_edges():
    dates = pd.bdate_range("2022-01-03", periods=5)
    # a loss on the first session: the peak is the capital base (NaT); the run ends underwater
    table = ts.drawdown_table(pd.Series([-0.1, 0.0, 0.2, -0.05, 0.0], index=dates))
    assert list(table["peak"].isna()) == [True, False]  # deepest (-10%) first
    first, second = table.iloc[0], table.iloc[1]
    assert (first["valley"], first["recovery"], first["sessions"]) == (dates[0], dates[2], 2)
    assert first["drawdown"] == pytest.approx(-0.1)
    assert (second["peak"], second["valley"], second["sessions"]) == (dates[2], dates[3], 2)
    assert pd.isna(second["recovery"]) and second["drawdown"] == pytest.approx(-0.05)
    # never below a peak: no rows, the columns still there
    flat = ts.drawdown_table(pd.Series([0.01, 0.0, 0.02, 0.0, 0.0], index=dates))
    assert len(flat) == 0
    assert list(flat.columns) == ["peak", "valley", "recovery", "drawdown", "sessions"]


def test_benchmark_returns(results, bench_results, bench_series):
    n = len(bench_results.perf)
    got = ts.benchmark_returns(bench_results)
    assert len(got) == n
    assert np.allclose(got.to_numpy(), bench_series.to_numpy()[:n], rtol=0, atol=1e-12)
    assert ts.benchmark_returns(results) is None
    for column in (np.full(n, np.nan), np.zeros(n)):
        fake = Results(results.perf.assign(benchmark_period_return=column), results.stats,
                       results.transactions, results.positions, results.round_trips, {})  # fmt: skip
        assert ts.benchmark_returns(fake) is None
    returns = ts.daily_returns(results)
    assert len(returns) == n
    assert np.array_equal(returns.to_numpy(), results.perf["returns"].to_numpy(dtype=float))


def test_rolling_volatility_and_beta(bench_results):
    r, b = ts.daily_returns(bench_results), ts.benchmark_returns(bench_results)
    w = ts.VOLATILITY_WINDOW
    vol, bench_vol, beta = ts.rolling_volatility(r), ts.rolling_volatility(b), ts.rolling_beta(r, b)
    for series in (vol, bench_vol, beta):
        assert len(series) == len(r) and (series.index == r.index).all()
        assert series.iloc[: w - 1].isna().all() and series.iloc[w - 1 :].notna().all()
    x, y = r.to_numpy(), b.to_numpy()
    for i in (w - 1, w + 100, len(r) - 1):
        window_r, window_b = x[i - w + 1 : i + 1], y[i - w + 1 : i + 1]
        assert vol.iloc[i] == pytest.approx(np.std(window_r, ddof=1) * ANN, rel=1e-9)
        assert bench_vol.iloc[i] == pytest.approx(np.std(window_b, ddof=1) * ANN, rel=1e-9)
        want = np.cov(window_r, window_b, ddof=1)[0, 1] / np.var(window_b, ddof=1)
        assert beta.iloc[i] == pytest.approx(want, rel=1e-7, abs=1e-12)
    # over the whole run, the rolling beta is the engine's beta
    whole = ts.rolling_beta(r, b, window=len(r)).iloc[-1]
    assert whole == pytest.approx(bench_results.stats["beta"].iloc[0], rel=1e-9, abs=1e-12)


def test_annual_monthly_and_histograms(results, bench_results):
    r, b = ts.daily_returns(bench_results), ts.benchmark_returns(bench_results)
    annual = ts.annual_returns(r, b)
    assert list(annual.index) == [2021, 2022, 2023]
    assert annual["sessions"].sum() == len(r)
    for year, row in annual.iterrows():
        in_year = r.index.year == year
        assert row["sessions"] == in_year.sum()
        assert row["algorithm"] == pytest.approx(np.prod(1 + r.to_numpy()[in_year]) - 1, rel=1e-12)
        assert row["benchmark"] == pytest.approx(np.prod(1 + b.to_numpy()[in_year]) - 1, rel=1e-12)
    assert ts.annual_returns(ts.daily_returns(results))["benchmark"].isna().all()

    monthly = ts.monthly_returns(r)
    assert len(monthly) == 30  # January 2021 to June 2023
    for (year, month), value in monthly.items():
        mask = (r.index.year == year) & (r.index.month == month)
        assert value == pytest.approx(np.prod(1 + r.to_numpy()[mask]) - 1, rel=1e-12)

    for values, bins in ((r, 40), (monthly, 20)):
        hist = ts.return_histogram(values, bins)
        assert len(hist) == bins and hist["count"].sum() == len(values)
        v = np.asarray(values)
        for i, row in enumerate(hist.itertuples()):
            last = i == bins - 1
            inside = (v >= row.left) & ((v <= row.right) if last else (v < row.right))
            assert row.count == inside.sum()
        assert hist["left"].iloc[0] == v.min() and hist["right"].iloc[-1] == v.max()
    assert len(ts.return_histogram([])) == 0


def test_position_weights_holdings_and_counts(results):
    perf = results.perf
    weights = ts.position_weights(results)
    assert weights.shape == (len(perf), 6)
    value = perf["portfolio_value"].to_numpy()
    # the raw perf frame: each session's list of position dicts
    for i, positions in enumerate(perf["positions"]):
        want = {p["sid"].symbol: p["amount"] * p["last_sale_price"] / value[i] for p in positions}
        row = weights.iloc[i]
        for symbol in weights.columns:
            assert row[symbol] == pytest.approx(want.get(symbol, 0.0), rel=1e-12, abs=0)
    # the weights add up to the engine's leverage
    assert np.allclose(weights.abs().sum(axis=1), perf["gross_leverage"], rtol=1e-9, atol=1e-12)
    assert np.allclose(weights.sum(axis=1), perf["net_leverage"], rtol=1e-9, atol=1e-12)

    holdings = ts.top_holdings(weights)
    assert len(holdings) == 6
    assert ts.top_holdings(weights, n=3).index.tolist() == holdings.index[:3].tolist()
    assert holdings["mean_abs_weight"].is_monotonic_decreasing
    assert holdings.index[0] == "S000"  # Rotation doubles S000's weights
    for symbol, row in holdings.iterrows():
        w = [
            next((p["amount"] * p["last_sale_price"] / value[i] for p in ps if p["sid"].symbol == symbol), 0.0)
            for i, ps in enumerate(perf["positions"])
        ]  # fmt: skip
        assert row["mean_abs_weight"] == pytest.approx(np.mean(np.abs(w)), rel=1e-12)
        assert row["max_abs_weight"] == pytest.approx(np.max(np.abs(w)), rel=1e-12)
        assert row["sessions_held"] == sum(x != 0 for x in w)
        assert row["sessions_long"] == sum(x > 0 for x in w)
        assert row["sessions_short"] == sum(x < 0 for x in w)
        assert row["last_weight"] == pytest.approx(w[-1], rel=1e-12)

    counts = ts.holdings_count(results)
    assert len(counts) == len(perf)
    assert np.array_equal(counts["long"], perf["longs_count"].to_numpy(dtype=np.int64))
    assert np.array_equal(counts["short"], perf["shorts_count"].to_numpy(dtype=np.int64))
    assert (counts["short"] > 0).any() and (counts["long"] > 1).any()


def test_turnover_and_costs_against_the_transactions(costed):
    perf = costed.perf
    fills = [t for ts_ in perf["transactions"] for t in ts_]
    assert len(fills) > 100
    traded = [sum(abs(t["amount"] * t["price"]) for t in ts_) for ts_ in perf["transactions"]]
    daily = ts.turnover(costed)
    assert len(daily) == len(perf)
    assert np.allclose(daily, np.array(traded) / perf["portfolio_value"], rtol=1e-12, atol=0)

    costs = ts.trading_costs(costed)
    assert costs["fills"] == len(fills)
    assert costs["traded_value"] == pytest.approx(sum(traded), rel=1e-12)
    assert costs["annual_turnover"] == pytest.approx(np.mean(daily) * 252, rel=1e-12)
    # zipline's perf frame keeps commissions on the orders: each order's last record holds
    # its total
    per_order = {o["id"]: o["commission"] for day in perf["orders"] for o in day}
    assert costs["commission"] == pytest.approx(sum(per_order.values()), rel=1e-9)
    # PerShare(0.01): the commission is a cent a share
    shares = sum(abs(t["amount"]) for t in fills)
    assert costs["commission"] == pytest.approx(0.01 * shares, rel=1e-9)
    assert costs["commission_bps"] == pytest.approx(costs["commission"] / sum(traded) * 1e4)

    # FixedSlippage(0.10): every fill is 5 cents a share worse than the close. The close is
    # known (so the fill measured) when the asset is still held at the end of the session.
    slip = ts.slippage_fills(costed)
    assert len(slip) == len(fills)
    held = [{p["sid"].symbol: p["last_sale_price"] for p in ps} for ps in perf["positions"]]
    measured = shares_measured = k = 0
    for i, day in enumerate(perf["transactions"]):
        for t in day:
            row = slip.iloc[k]
            k += 1
            assert (row["symbol"], row["amount"], row["price"]) == (
                t["sid"].symbol, t["amount"], t["price"],
            )  # fmt: skip
            close = held[i].get(t["sid"].symbol)
            if close is None:
                assert math.isnan(row["close"]) and math.isnan(row["slippage"])
                continue
            measured += 1
            shares_measured += abs(t["amount"])
            assert row["close"] == close
            assert row["price"] - close == pytest.approx(0.05 * np.sign(t["amount"]), abs=1e-9)
            assert row["slippage"] == pytest.approx(0.05 * abs(t["amount"]), rel=1e-6)
    assert 0 < measured < len(fills)  # exits that close a position are not measured
    assert costs["slippage_fills"] == measured
    assert costs["slippage"] == pytest.approx(0.05 * shares_measured, rel=1e-9)
    measured_value = sum(
        abs(t["amount"] * t["price"])
        for i, day in enumerate(perf["transactions"])
        for t in day
        if t["sid"].symbol in held[i]
    )
    assert costs["slippage_bps"] == pytest.approx(0.05 * shares_measured / measured_value * 1e4)


class MinuteTrader(rustybt.TradingAlgorithm):
    """Trades S000 every 97 minutes: fills at intraday minutes, now and then at the close."""

    def initialize(self, context):
        context.i = 0

    def handle_data(self, context, data):
        context.i += 1
        if context.i % 97 == 0:
            self.order_target_percent(self.symbol("S000"), 0.5 if (context.i // 97) % 2 else 0.2)


def test_minute_run_costs():
    """Intraday fills count toward their session's turnover; only a fill on the session's
    last bar has its bar's close in the results, so only those are measured for slippage."""
    bundle = rustybt.ingest_synthetic(
        "tearsheet-minute", assets=2, start="2022-01-03", end="2022-01-14", frequency="1m", seed=1
    )
    res = rustybt.backtest(algorithm=MinuteTrader, bundle=bundle, capital_base=100_000)
    perf = res.perf
    traded = [sum(abs(t["amount"] * t["price"]) for t in day) for day in perf["transactions"]]
    assert np.allclose(ts.turnover(res), np.array(traded) / perf["portfolio_value"], rtol=1e-12)
    slip = ts.slippage_fills(res)
    measurable = [
        t["dt"] == close and any(p["sid"] == t["sid"] for p in held)
        for close, day, held in zip(perf.index, perf["transactions"], perf["positions"])
        for t in day
    ]
    assert len(slip) == len(measurable) > sum(measurable) > 0
    assert list(slip["close"].notna()) == measurable
    assert ts.trading_costs(res)["slippage_fills"] == sum(measurable)


def test_benchmark_comparison_and_relative_statistics(results, bench_results):
    r, b = ts.daily_returns(bench_results), ts.benchmark_returns(bench_results)
    table = ts.benchmark_comparison(r, b)
    assert list(table.index) == list(ts.COMPARED) and list(table.columns) == [
        "algorithm",
        "benchmark",
    ]
    stats = bench_results.stats.iloc[0]
    for name in ts.COMPARED:
        if name in stats:  # the algorithm's column is Results.stats
            assert table.at[name, "algorithm"] == pytest.approx(stats[name], rel=1e-12, nan_ok=True)
    x = b.to_numpy()
    col = table["benchmark"]
    assert col["total_return"] == pytest.approx(np.prod(1 + x) - 1, rel=1e-9)
    assert col["annual_return"] == pytest.approx(np.prod(1 + x) ** (252 / len(x)) - 1, rel=1e-9)
    assert col["annual_volatility"] == pytest.approx(np.std(x, ddof=1) * ANN, rel=1e-9)
    assert col["sharpe"] == pytest.approx(np.mean(x) / np.std(x, ddof=1) * ANN, rel=1e-9)
    deepest = drawdowns_by_loop(b)
    assert col["max_drawdown"] == pytest.approx(deepest[0]["drawdown"], rel=1e-9)
    assert col["max_drawdown_duration"] == max(d["sessions"] for d in deepest)
    assert (col["best_day"], col["worst_day"]) == (x.max(), x.min())
    assert (table.loc["best_day", "algorithm"], table.loc["worst_day", "algorithm"]) == (
        r.max(),
        r.min(),
    )

    rel = ts.relative_statistics(r, b)
    y = r.to_numpy()
    assert rel["correlation"] == pytest.approx(np.corrcoef(y, x)[0, 1], rel=1e-9)
    assert rel["beta"] == pytest.approx(stats["beta"], rel=1e-9)
    assert rel["tracking_error"] == pytest.approx(np.std(y - x, ddof=1) * ANN, rel=1e-9)
    assert rel["information_ratio"] == pytest.approx(
        np.mean(y - x) / np.std(y - x, ddof=1) * ANN, rel=1e-9
    )

    alone = ts.benchmark_comparison(ts.daily_returns(results), None)
    assert alone["benchmark"].isna().all() and alone["algorithm"].notna().all()
    assert ts.relative_statistics(ts.daily_returns(results), None).isna().all()


def test_saved_results_give_the_same_data(bench_results, tmp_path):
    """The page of `rustybt report DIR` reads saved Results: the same numbers as in memory."""
    loaded = Results.load(bench_results.save(tmp_path / "run"))
    for fn in (ts.position_weights, ts.holdings_count, ts.turnover, ts.slippage_fills):
        pd.testing.assert_frame_equal(pd.DataFrame(fn(loaded)), pd.DataFrame(fn(bench_results)))
    pd.testing.assert_series_equal(ts.trading_costs(loaded), ts.trading_costs(bench_results))
    pd.testing.assert_series_equal(
        ts.benchmark_returns(loaded), ts.benchmark_returns(bench_results)
    )
    pd.testing.assert_frame_equal(
        ts.drawdown_table(ts.daily_returns(loaded)),
        ts.drawdown_table(ts.daily_returns(bench_results)),
    )
