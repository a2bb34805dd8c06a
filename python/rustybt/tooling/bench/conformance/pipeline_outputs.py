"""The pipeline part of ``rustybt bench conformance``: zipline-reloaded's own
``momentum_pipeline.py`` example, read from the peers virtualenv and rewritten
mechanically (``zipline`` → ``rustybt`` in its import lines, nothing else), run on rustybt
and on zipline-reloaded over the same bars (the W1 bench bundle's 20 assets, through
``rustybt bench peers``' export and zipline runner); the two engines' daily pipeline
outputs and fills compared."""

from __future__ import annotations

import json
import subprocess
import types
from pathlib import Path

import pandas as pd

from rustybt.errors import InvalidRunParameters
from rustybt.tooling.bench.conformance.suite import rewrite_imports

#: the example's span (it needs 14 sessions of history for its RSI)
START, END = "2022-02-01", "2022-12-30"
ASSETS = 20


def example_source(venv: Path) -> tuple[str, str]:
    """The path and text of zipline's ``momentum_pipeline.py`` in ``venv``."""
    from rustybt.tooling.bench.peers import venv_python

    proc = subprocess.run(
        [
            str(venv_python(venv)),
            "-c",
            "import importlib.util as u; print(u.find_spec('zipline.examples.momentum_pipeline').origin)",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise InvalidRunParameters(
            f"zipline-reloaded's examples are not importable in {venv}: {proc.stderr.strip()[-300:]}"
        )
    path = proc.stdout.strip()
    return path, Path(path).read_text()


def run_rustybt(source: str, bundle, start: str, end: str) -> dict:
    import rustybt

    module = types.ModuleType("momentum_pipeline_rustybt")
    exec(compile(rewrite_imports(source), "momentum_pipeline.py", "exec"), module.__dict__)
    outputs = []

    def before_trading_start(context, data):
        module.before_trading_start(context, data)
        out = context.pipeline_data
        outputs.append(
            {
                "longs": sorted(a.symbol for a in out.index[out["longs"]]),
                "shorts": sorted(a.symbol for a in out.index[out["shorts"]]),
                "universe": len(out),
            }
        )

    perf = rustybt.run_algorithm(
        start=start,
        end=end,
        initialize=module.initialize,
        before_trading_start=before_trading_start,
        capital_base=100_000,
        bundle=bundle,
    )
    fills = [
        [str(pd.Timestamp(t["dt"]).date()), t["sid"].symbol, int(t["amount"]), float(t["price"])]
        for ts in perf["transactions"]
        for t in ts
    ]
    return {
        "outputs": outputs,
        "fills": fills,
        "portfolio_value": [float(v) for v in perf["portfolio_value"]],
    }


def compare(ours: dict, theirs: dict) -> dict:
    """Sessions whose pipeline outputs differ, fills that differ (date, symbol, shares,
    and the price to 1e-9 relative: rustybt quantizes prices to 12 places), and the
    largest difference of the daily portfolio values."""
    out_diff = [i for i, (a, b) in enumerate(zip(ours["outputs"], theirs["outputs"])) if a != b]
    # fills of different assets on one bar are independent: compared in (date, symbol)
    # order, not in each engine's order of processing
    fills_a, fills_b = sorted(map(list, ours["fills"])), sorted(map(list, theirs["fills"]))
    fill_diff = [
        i
        for i, (a, b) in enumerate(zip(fills_a, fills_b))
        if a[:3] != b[:3] or abs(a[3] - b[3]) > 1e-9 * max(1.0, abs(b[3]))
    ]
    pv = max(
        (abs(a - b) for a, b in zip(ours["portfolio_value"], theirs["portfolio_value"])),
        default=0.0,
    )
    return {
        "sessions": (len(ours["outputs"]), len(theirs["outputs"])),
        "outputs_differ": out_diff,
        "fills": (len(fills_a), len(fills_b)),
        "fills_differ": fill_diff,
        "max_portfolio_value_difference": pv,
        "same": not out_diff
        and not fill_diff
        and len(fills_a) == len(fills_b)
        and len(ours["outputs"]) == len(theirs["outputs"]),
    }


def run_conformance(venv: Path, out: Path | None = None, say=print) -> dict:
    """The whole command: the bundle (synthetic, 20 assets), zipline's run, rustybt's run,
    the comparison (also written to ``out`` as JSON)."""
    from rustybt.tooling.bench import harness
    from rustybt.tooling.bench.peers import _run_peer, _zipline_ingest, export_bundle, peers_dir
    from rustybt.tooling.bench.scenarios import SCENARIOS

    bundle = harness.ensure_bundle(SCENARIOS["W1"], ASSETS)
    path, source = example_source(venv)
    say(f"zipline's example: {path}")
    dest = export_bundle(bundle)
    base = {
        "engine": "zipline",
        "workload": "MP",
        "export": str(dest),
        "csvdir": str(dest / "csvdir"),
        "assets": ASSETS,
        "start": START,
        "end": END,
        "first_session": str(bundle.sessions[0].date()),
        "last_session": str(bundle.sessions[-1].date()),
        "frequency": "daily",
        "zipline_root": str(peers_dir() / "zipline"),
        "zipline_bundle": f"rb-{bundle.name}-{bundle.content_hash[:12]}",
        "repeats": 1,
    }
    why = _zipline_ingest(venv, dest, base)
    if why:
        raise InvalidRunParameters(f"zipline-reloaded could not ingest the bundle: {why}")
    say("zipline-reloaded ...")
    theirs = _run_peer(venv, base)
    if "error" in theirs:
        raise InvalidRunParameters(f"zipline-reloaded failed: {theirs['error']}")
    say("rustybt ...")
    ours = run_rustybt(source, bundle, START, END)
    result = compare(ours, theirs)
    if out is not None:
        out.write_text(json.dumps({"comparison": result, "rustybt": ours, "zipline": theirs}))
    return result


__all__ = ["compare", "example_source", "run_conformance", "run_rustybt"]
