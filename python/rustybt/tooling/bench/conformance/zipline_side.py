"""zipline-reloaded's half, driven from rustybt: ``scripts/zl_run.py`` run by the zipline
virtualenv's python (a subprocess; it never imports rustybt), its bundles ingested once
per content of the bars into a ZIPLINE_ROOT of the suite's own."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from rustybt.errors import InvalidRunParameters

SCRIPTS = Path(__file__).resolve().parent / "scripts"
TIMEOUT_S = 3600


def _call(venv: Path, config: dict) -> dict:
    from rustybt.tooling.bench.peers import _tail, venv_python

    with tempfile.TemporaryDirectory() as tmp:
        cfg, out = Path(tmp) / "config.json", Path(tmp) / "out.json"
        cfg.write_text(json.dumps(config))
        try:
            proc = subprocess.run(
                [str(venv_python(venv)), str(SCRIPTS / "zl_run.py"), str(cfg), str(out)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        except subprocess.TimeoutExpired:
            raise InvalidRunParameters(f"zipline's half timed out after {TIMEOUT_S} s") from None
        if proc.returncode != 0 or not out.exists():
            raise InvalidRunParameters(
                f"zipline's half failed ({config['mode']}): {_tail(proc.stderr, 10, 1500)}"
            )
        return json.loads(out.read_text())


def base_config(bars, data_dir: Path) -> dict:
    return {
        "data_dir": str(data_dir),
        "zipline_root": str(data_dir / "zipline-root"),
        "first_session": bars.dates[0],
        "last_session": bars.dates[-1],
    }


def ensure_ingested(venv: Path, bars, data_dir: Path) -> None:
    """zipline's two bundles from the files in ``data_dir`` (once per content)."""
    marker = data_dir / "zipline-ingested.json"
    if marker.exists() and json.loads(marker.read_text()).get("bars_hash") == bars.bars_hash:
        return
    _call(venv, {**base_config(bars, data_dir), "mode": "ingest"})
    marker.write_text(json.dumps({"bars_hash": bars.bars_hash}))


def run(venv: Path, bars, data_dir: Path, specs: list[dict]) -> dict:
    """Each strategy on zipline-reloaded: ``{"zipline_version", "pandas_version", "runs":
    {name: {"perf" | "error", ...}}}``."""
    ensure_ingested(venv, bars, data_dir)
    return _call(venv, {**base_config(bars, data_dir), "mode": "run", "strategies": specs})
