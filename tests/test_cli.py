"""The command line: ingest, run, demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from rustybt.app.cli import main

STRATEGY = """
import rustybt

class Buy(rustybt.TradingAlgorithm):
    target = 0.5
    def initialize(self, context):
        context.asset = self.symbol("S001")
    def handle_data(self, context, data):
        self.order_target_percent(context.asset, self.target)
"""

ZIPLINE_STYLE = """
from rustybt.api import order, symbol

def initialize(context):
    context.asset = symbol("S000")

def handle_data(context, data):
    order(context.asset, 1)
"""


def test_ingest_then_run_a_strategy_file(tmp_path, capsys):
    assert (
        main(
            [
                "ingest",
                "synthetic",
                "--bundle",
                "cli",
                "--assets",
                "3",
                "--start",
                "2022-01-03",
                "--end",
                "2022-02-28",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert "ingested Bundle(name='cli'" in capsys.readouterr().out
    path = tmp_path / "buy.py"
    path.write_text(STRATEGY)
    out = tmp_path / "perf.csv"
    assert (
        main(
            [
                "run",
                str(path),
                "--bundle",
                "cli",
                "--start",
                "2022-01-10",
                "--capital-base",
                "50000",
                "--param",
                "target=0.25",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "final value" in text and "perf table written to" in text
    table = pd.read_csv(out)
    assert len(table) == 34 and table["fills"].sum() >= 1
    fn = tmp_path / "zl.py"
    fn.write_text(ZIPLINE_STYLE)
    assert main(["run", str(fn), "--bundle", "cli"]) == 0
    # --out DIR saves a Results with the same provenance as rustybt.backtest
    saved = tmp_path / "saved"
    assert main(["run", str(path), "--bundle", "cli", "--out", str(saved)]) == 0
    import rustybt
    from rustybt.results import Results

    meta = Results.load(saved).metadata
    assert meta["rustybt_version"] == rustybt.__version__
    assert "git_commit" in meta and meta["bundle"] == "cli"


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    path = tmp_path / "buy.py"
    path.write_text(STRATEGY)
    assert main(["run", str(path), "--bundle", "no-such-bundle"]) == 2
    err = capsys.readouterr().err
    assert "BundleNotFound" in err and "no-such-bundle" in err
    assert main(["run", str(tmp_path / "missing.py"), "--bundle", "cli"]) == 2


def test_demo_from_a_fresh_process(tmp_path):
    env = {**os.environ, "RUSTYBT_ROOT": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "rustybt", "demo"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = proc.stdout
    assert "Building the demo bundle" in out
    for key in ("final value", "total return", "sharpe", "max drawdown", "fills", "wall time"):
        assert key in out
    written = Path(out.split("perf table written to")[1].split()[0])
    assert written.exists() and len(pd.read_csv(written)) == 501
    again = subprocess.run(
        [sys.executable, "-m", "rustybt", "demo"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Building the demo bundle" not in again.stdout


def test_bundle_info_list_and_clean(tmp_path, capsys):
    for seed in (1, 2, 3):  # three ingests: the pointer keeps one live, pruning keeps one more
        assert (
            main(
                [
                    "ingest",
                    "synthetic",
                    "--bundle",
                    "tidy",
                    "--assets",
                    "2",
                    "--start",
                    "2022-01-03",
                    "--end",
                    "2022-01-31",
                    "--seed",
                    str(seed),
                ]
            )
            == 0
        )
    assert main(["bundles"]) == 0
    listing = capsys.readouterr().out
    assert "tidy" in listing
    assert main(["bundle", "info", "tidy"]) == 0
    assert "content hash" in capsys.readouterr().out
    from rustybt.bundles import bundles_dir

    versions = [p for p in (bundles_dir() / "tidy").iterdir() if p.name.startswith("v")]
    assert len(versions) == 2
    assert main(["bundle", "clean", "tidy"]) == 0
    assert "removed version" in capsys.readouterr().out
    versions = [p for p in (bundles_dir() / "tidy").iterdir() if p.name.startswith("v")]
    assert len(versions) == 1
    import rustybt

    assert rustybt.load_bundle("tidy").name == "tidy"
    assert main(["bundle", "clean", "tidy", "--all"]) == 0
    assert not (bundles_dir() / "tidy").exists()
    assert main(["bundle", "clean", "tidy"]) == 2


def test_every_example_runs(tmp_path):
    """Each example strategy runs with `rustybt run` on a small synthetic bundle."""
    import rustybt

    rustybt.ingest_synthetic("ex-daily", assets=20, start="2022-01-03", end="2022-06-30", seed=2)
    rustybt.ingest_synthetic(
        "ex-hourly", assets=20, start="2023-07-03", end="2023-07-31", frequency="1h", seed=2
    )
    rustybt.ingest_synthetic(
        "ex-minute", assets=10, start="2023-03-01", end="2023-03-03", frequency="minute", seed=2
    )
    from pathlib import Path

    examples = Path(rustybt.__file__).parent / "app" / "examples"
    runs = {
        "sma_crossover.py": "ex-daily",
        "multi_indicator.py": "ex-daily",
        "monthly_rebalance.py": "ex-daily",
        "hourly_momentum.py": "ex-hourly",
        "minute_mean_reversion.py": "ex-minute",
    }
    assert {p.name for p in examples.glob("*.py")} - {"__init__.py"} == set(runs)
    for name, bundle in runs.items():
        out = tmp_path / f"{name}.csv"
        assert main(["run", str(examples / name), "--bundle", bundle, "--out", str(out)]) == 0, name
        assert pd.read_csv(out)["fills"].sum() > 0, name


def test_a_bundle_name_that_is_also_a_folder_here_is_a_name(tmp_path, monkeypatch, capsys):
    import pytest

    import rustybt
    from rustybt.bundles import bundles_dir
    from rustybt.errors import BundleNotFound

    monkeypatch.chdir(tmp_path)
    daily = tmp_path / "mycsv" / "daily"
    daily.mkdir(parents=True)
    rows = [f"2022-01-{d:02d},10,11,9,10,1000" for d in (3, 4, 5, 6, 7)]
    (daily / "AAA.csv").write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    # the folder mycsv/ is in the working directory: --bundle mycsv is still the name
    assert main(["ingest", "csvdir", "mycsv", "--bundle", "mycsv"]) == 0
    strategy = tmp_path / "buy.py"
    strategy.write_text(STRATEGY.replace("S001", "AAA"))
    assert main(["run", str(strategy), "--bundle", "mycsv"]) == 0
    assert rustybt.load_bundle("mycsv").path.parent == bundles_dir() / "mycsv"
    # a path is explicit: with a separator, or --bundle-path
    assert main(["run", str(strategy), "--bundle-path", str(bundles_dir() / "mycsv")]) == 0
    with pytest.raises(BundleNotFound, match="no bundle mycsv-typo"):
        rustybt.load_bundle("./mycsv-typo")
    # an unknown name whose folder is here says how to mean the folder
    (tmp_path / "other").mkdir()
    with pytest.raises(BundleNotFound, match=r"'other' is also a folder here.*--bundle-path"):
        rustybt.load_bundle("other")
    capsys.readouterr()
