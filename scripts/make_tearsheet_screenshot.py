"""Write the demo tear sheet and a PNG screenshot of it (docs/user-guide/img/tearsheet.png).

The demo is the one ``rustybt demo`` runs: SmaCross (10/30) over the 20-asset synthetic
bundle ``rustybt-demo`` (built on first use in $RUSTYBT_ROOT, default ~/.rustybt). The page is
opened in Debian's headless Chromium through Playwright; no browser is downloaded.

    .venv/bin/python scripts/make_tearsheet_screenshot.py [--html FILE] [--png FILE]
        [--benchmark SYMBOL]

``--benchmark S019`` measures the run against that asset of the bundle (``set_benchmark``),
so the benchmark-relative views of the page have something to show.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import rustybt
from rustybt.app.cli import DEMO_BUNDLE, DEMO_SPEC
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.errors import BundleNotFound

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--html", help="where to keep the tear sheet (default: a temporary file)")
    p.add_argument("--png", default=str(ROOT / "docs/user-guide/img/tearsheet.png"))
    p.add_argument("--width", type=int, default=1200, help="viewport width in CSS pixels")
    p.add_argument("--benchmark", metavar="SYMBOL", help="an asset of the bundle as the benchmark")
    args = p.parse_args(argv)

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not on PATH: apt-get install chromium")
    try:
        bundle = rustybt.load_bundle(DEMO_BUNDLE)
    except BundleNotFound:
        bundle = rustybt.ingest_synthetic(DEMO_BUNDLE, **DEMO_SPEC)
    algorithm = SmaCross
    if args.benchmark:

        class SmaCrossBenchmarked(SmaCross):
            def initialize(self, context):
                super().initialize(context)
                self.set_benchmark(self.symbol(args.benchmark))

        SmaCrossBenchmarked.__name__ = f"SmaCross against {args.benchmark}"
        algorithm = SmaCrossBenchmarked
    res = rustybt.backtest(
        algorithm=algorithm, bundle=bundle, capital_base=1_000_000, params={"n_assets": 20}
    )
    with tempfile.TemporaryDirectory() as tmp:
        html = res.tearsheet(Path(args.html) if args.html else Path(tmp) / "tearsheet.html")
        png = Path(args.png)
        png.parent.mkdir(parents=True, exist_ok=True)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                ],
            )
            page = browser.new_page(viewport={"width": args.width, "height": 900})
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.screenshot(path=str(png), full_page=True)
            browser.close()
    print(f"tear sheet: {html if args.html else '(temporary)'}\nscreenshot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
