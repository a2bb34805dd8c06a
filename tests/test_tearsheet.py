"""The HTML tear sheet, rendered in headless Chromium (Debian's package, driven by
Playwright): no console or page errors, nothing fetched but the file itself, every chart
laid out with a size, and the statistics shown equal to ``Results.stats``.

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
import pytest

import rustybt
from rustybt.app.cli import main
from rustybt.app.tearsheet import load_saved, write_tearsheet
from rustybt.errors import InvalidRunParameters
from rustybt.results import Results

CHARTS = (
    "chart-equity",
    "chart-drawdown",
    "chart-monthly",
    "chart-rolling-sharpe",
    "chart-exposure",
)
SVG_CHARTS = tuple(c for c in CHARTS if c != "chart-monthly")  # the heatmap is a table


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


@pytest.fixture(scope="module")
def results(small_bundle) -> Results:
    return rustybt.backtest(algorithm=LongShort, bundle=small_bundle, capital_base=100_000)


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
    boxes = {c: page.locator(f"#{c}").bounding_box() for c in CHARTS}
    boxes.update({f"{c} svg": page.locator(f"#{c} > svg").bounding_box() for c in SVG_CHARTS})
    shown = page.eval_on_selector_all(
        "[data-stat]", "els => els.map(e => [e.dataset.stat, e.dataset.value, e.textContent])"
    )
    series = page.get_attribute("#chart-equity", "data-series")
    page.close()
    return {"url": url, "errors": errors, "requests": requests, "boxes": boxes,
            "stats": shown, "series": series}  # fmt: skip


def check_page(page: dict, stats) -> None:
    assert page["errors"] == []
    assert page["requests"] == [page["url"]], "the tear sheet fetched something besides itself"
    for name, box in page["boxes"].items():
        assert box is not None and box["width"] > 0 and box["height"] > 0, (name, box)
    expected = stats.iloc[0]
    assert sorted(name for name, _, _ in page["stats"]) == sorted(expected.index)
    for name, value, text in page["stats"]:
        want, got = float(expected[name]), float(value)
        assert got == want or (math.isnan(got) and math.isnan(want)), (name, got, want)
        assert text.strip(), name


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
    check_page(page, res.stats)
    assert page["series"] == ("algorithm benchmark" if benchmark == "series" else "algorithm")


def test_short_run_renders(hand_bundle, browser, tmp_path):
    """Five sessions: no rolling Sharpe, no closed trades (NaN statistics)."""
    res = rustybt.backtest(algorithm=BuyOnce, bundle=hand_bundle, capital_base=1_000)
    assert res.stats.isna().any(axis=None)
    page = render(browser, write_tearsheet(res, tmp_path / "short.html"))
    check_page(page, res.stats)


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
    check_page(render(browser, out), Results.load(saved).stats)
    assert main(["report", str(saved)]) == 0
    assert (saved / "tearsheet.html").is_file()


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
