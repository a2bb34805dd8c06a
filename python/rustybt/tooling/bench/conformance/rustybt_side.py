"""rustybt's half of the conformance suite: the bundles ingested from the suite's bars,
each strategy's source with its import lines rewritten, run by ``rustybt.run_algorithm``
(or the reference engine's) with the call zipline's half makes; the perf frame as JSON by
the same encoder (``scripts/frames.py``) or the error the run raised."""

from __future__ import annotations

import importlib.util
import time
import traceback
import types
from pathlib import Path

import pandas as pd

from rustybt.tooling.bench.conformance.suite import rewrite_imports

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def frames_module():
    """``scripts/frames.py``, loaded by its path (it is shared with zipline's virtualenv,
    which has no rustybt)."""
    spec = importlib.util.spec_from_file_location(
        "rustybt_conformance_frames", SCRIPTS / "frames.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ingest(bars, data_dir: Path) -> dict:
    """rustybt's two bundles from the files in ``data_dir`` (``bars.write``):
    ``{"csvdir" | "csvdir-splits" | "paydates": Bundle | error dict}``. The pay-date
    bundle goes through ``ingest_table``'s ``pay_date`` column; an ingest that fails is
    kept as its error (every strategy on that bundle then reports it)."""
    import rustybt

    frames = frames_module()
    tag = bars.bars_hash[:12]
    out = {}
    for kind, fn, path in (
        ("csvdir", rustybt.ingest_csvdir, data_dir / "csvdir"),
        ("csvdir-splits", rustybt.ingest_csvdir, data_dir / "csvdir-splits"),
        ("paydates", rustybt.ingest_table, data_dir / "paydates.csv"),
    ):
        try:
            out[kind] = fn(path, f"conformance-{kind}-{tag}")
        except Exception as exc:
            out[kind] = {"error": frames.error_to_json(exc), "where": f"ingest of {path.name}"}
    return out


def run_strategy(spec: dict, source: str, bundle, engine: str = "rust") -> dict:
    """One strategy on rustybt (``engine="reference"``: the reference engine):
    ``{"perf": ...}`` or ``{"error": ...}``, and ``last_seen`` when the strategy keeps
    ``SEEN``. ``source`` is zipline-idiom text: its import lines are rewritten here."""
    import rustybt
    import rustybt.reference as reference

    frames = frames_module()
    if isinstance(bundle, dict):  # the bundle's ingest failed
        return {"error": bundle["error"], "where": bundle["where"], "wall_s": 0.0}
    module = types.ModuleType(f"conformance_{spec['name']}_rustybt")
    module.__file__ = spec["source"]
    run = rustybt.run_algorithm if engine == "rust" else reference.run_algorithm
    t = time.perf_counter()
    out: dict = {}
    try:
        exec(compile(rewrite_imports(source), spec["source"], "exec"), module.__dict__)
        perf = run(
            start=pd.Timestamp(spec["start"]),
            end=pd.Timestamp(spec["end"]),
            initialize=module.initialize,
            capital_base=spec["capital_base"],
            handle_data=getattr(module, "handle_data", None),
            before_trading_start=getattr(module, "before_trading_start", None),
            data_frequency="daily",
            bundle=bundle,
        )
    except Exception as exc:
        out = {"error": frames.error_to_json(exc), "traceback": traceback.format_exc()[-3000:]}
    else:
        out = {"perf": frames.frame_to_json(perf), "frame": perf}
    seen = getattr(module, "SEEN", None)
    if seen:
        out["last_seen"] = str(pd.Timestamp(seen[-1]))
    out["wall_s"] = time.perf_counter() - t
    return out
