"""The conformance suite's strategies: zipline-reloaded's shipped examples (read from
zipline's virtualenv, import lines rewritten, nothing else changed) and strategies of our
own in ``strategies/`` (written against zipline's API as zipline defines it; rustybt runs
them with the same import rewrite).

Both engines run each one with the same call: ``run_algorithm(start, end, initialize,
capital_base, handle_data=..., before_trading_start=..., bundle=...)``, daily, no
``benchmark_returns`` (both engines then use zero benchmark returns unless the strategy
calls ``set_benchmark``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
STRATEGY_DIR = HERE / "strategies"


@dataclass(frozen=True)
class Strategy:
    name: str
    start: str
    end: str
    what: str
    capital_base: float = 100_000.0
    #: zipline's example module (``zipline.examples.<example>``), or None: ``strategies/``
    example: str | None = None
    #: "csvdir" (both engines ingest the csvdir files), "csvdir-splits" (the same bars
    #: without dividends) or "paydates" (zipline's writers / rustybt's ingest_table, with
    #: pay dates)
    bundle: str = "csvdir"
    #: why it is not run, or None
    skip: str | None = None

    def spec(self, source: Path) -> dict:
        return {
            "name": self.name,
            "source": str(source),
            "start": self.start,
            "end": self.end,
            "capital_base": self.capital_base,
            "bundle": self.bundle,
        }


STRATEGIES = (
    Strategy(
        "buyapple",
        "2021-06-01",
        "2022-12-30",
        "zipline's example: 10 AAPL a day (VolumeShareSlippage, PerShare), over AAPL's 2-for-1 split",
        example="buyapple",
    ),
    Strategy(
        "buy_and_hold",
        "2021-06-01",
        "2022-12-30",
        "zipline's example: 100 AAPL and 100 MSFT once, held over AAPL's split",
        example="buy_and_hold",
    ),
    Strategy(
        "dual_moving_average",
        "2020-01-02",
        "2022-12-30",
        "zipline's example: 100/300-session means of AAPL's adjusted history, order_target",
        example="dual_moving_average",
    ),
    Strategy(
        "dual_ema_talib",
        "2020-01-02",
        "2022-12-30",
        "zipline's example with TA-Lib's EMA",
        example="dual_ema_talib",
        skip="needs TA-Lib (the talib package), which neither virtualenv has",
    ),
    Strategy(
        "olmar",
        "2022-01-03",
        "2022-12-30",
        "zipline's example: OLMAR weights of 7 assets over AMD's 3-for-2 and INTC's 2-for-1 splits",
        example="olmar",
    ),
    Strategy(
        "momentum_pipeline",
        "2022-02-01",
        "2022-12-30",
        "zipline's example: RSI top/bottom 3 of the 20 assets, 2x long-short, daily; "
        "the bars without dividends",
        example="momentum_pipeline",
        bundle="csvdir-splits",
    ),
    Strategy(
        "momentum_pipeline_dividends",
        "2022-02-01",
        "2022-12-30",
        "the same example over the bars with dividends (SPY's and KO's)",
        example="momentum_pipeline",
    ),
    Strategy(
        "benchmark_split_dividend",
        "2022-01-03",
        "2022-12-30",
        "set_benchmark(SPY) over SPY's 2-for-1 split and two dividends",
    ),
    Strategy(
        "splits_history",
        "2022-01-03",
        "2022-12-30",
        "OLMAR-style weights from adjusted history over 3-for-2 and 2-for-1 splits",
    ),
    Strategy(
        "rebalance_percent",
        "2022-01-03",
        "2022-12-30",
        "monthly order_target_percent to fixed weights, a short, over two splits",
    ),
    Strategy(
        "custom_models",
        "2022-01-03",
        "2022-12-30",
        "custom Python SlippageModel (volume-capped, partial fills) and CommissionModel",
        capital_base=10_000_000.0,
    ),
    Strategy(
        "restrictions",
        "2022-01-03",
        "2022-12-30",
        "StaticRestrictions and HistoricalRestrictions with on_error='log'; can_trade",
    ),
    Strategy(
        "restrictions_fail",
        "2022-01-03",
        "2022-03-31",
        "StaticRestrictions with on_error='fail': the run stops on an order",
    ),
    Strategy(
        "do_not_order_list",
        "2022-01-03",
        "2022-12-30",
        "set_do_not_order_list with on_error='log'; can_trade",
    ),
    Strategy(
        "batch_orders",
        "2022-01-03",
        "2022-12-30",
        "batch_market_order of a Series of share counts, weekly",
    ),
    Strategy(
        "min_leverage",
        "2022-01-03",
        "2022-12-30",
        "set_min_leverage(0.5, 30 days), met",
    ),
    Strategy(
        "min_leverage_violation",
        "2022-01-03",
        "2022-06-30",
        "set_min_leverage(0.5, 20 days), broken on 2022-03-01: the run stops",
    ),
    Strategy(
        "dividends_csvdir",
        "2022-01-03",
        "2022-12-30",
        "KO held through four cash dividends; csvdir bundle (no pay dates)",
    ),
    Strategy(
        "dividends_paydates",
        "2021-06-01",
        "2022-12-30",
        "KO through four dividends with pay dates, AAPL through its split; zipline's writers",
        bundle="paydates",
    ),
)
BY_NAME = {s.name: s for s in STRATEGIES}


def rewrite_imports(source: str) -> str:
    """``zipline`` → ``rustybt`` on the import lines; every other line unchanged.

    >>> rewrite_imports("from zipline.api import record  # zipline")
    'from rustybt.api import record  # rustybt\\n'
    """
    out = []
    for line in source.splitlines():
        if line.lstrip().startswith(("from zipline", "import zipline")):
            line = line.replace("zipline", "rustybt")
        out.append(line)
    return "\n".join(out) + "\n"


def venv_from_env(venv: str | os.PathLike | None = None) -> Path:
    """The zipline virtualenv: ``venv``, else ``$RUSTYBT_PEERS_VENV``, else the peers
    virtualenv of ``rustybt bench peers`` (``$RUSTYBT_ROOT/peers-venv``)."""
    from rustybt.tooling.bench.peers import default_venv

    if venv:
        return Path(venv)
    env = os.environ.get("RUSTYBT_PEERS_VENV")
    return Path(env) if env else default_venv()


def zipline_missing(venv: Path) -> str | None:
    """Why zipline-reloaded cannot run from ``venv``, or None."""
    from rustybt.tooling.bench.peers import venv_python

    py = venv_python(venv)
    if not py.exists():
        return (
            f"no zipline virtualenv at {venv} (set RUSTYBT_PEERS_VENV to one with zipline-reloaded)"
        )
    proc = subprocess.run(
        [str(py), "-c", "import zipline.examples"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return f"zipline-reloaded does not import in {venv}: {proc.stderr.strip()[-300:]}"
    return None


def example_paths(venv: Path) -> dict[str, Path]:
    """zipline's example files in ``venv``: ``{module name: path}`` (found without importing
    zipline; empty when there is no such venv or zipline)."""
    from rustybt.tooling.bench.peers import venv_python

    py = venv_python(venv)
    if not py.exists():
        return {}
    proc = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.util as u; s = u.find_spec('zipline'); "
            "print(s.submodule_search_locations[0] if s else '')",
        ],
        capture_output=True,
        text=True,
    )
    folder = Path(proc.stdout.strip()) / "examples" if proc.returncode == 0 else None
    if folder is None or not proc.stdout.strip() or not folder.is_dir():
        return {}
    return {p.stem: p for p in folder.glob("*.py") if not p.stem.startswith("_")}


def source_path(strategy: Strategy, examples: dict[str, Path] | None) -> Path | None:
    """The strategy's zipline-idiom source file (None: an example, no venv to read it)."""
    if strategy.example is None:
        return STRATEGY_DIR / f"{strategy.name}.py"
    if not examples:
        return None
    return examples.get(strategy.example)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
