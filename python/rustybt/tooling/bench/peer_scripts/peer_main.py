"""Entry point of a peer run, executed by the peers virtualenv's python::

    peers-venv/bin/python peer_main.py '{"engine": "zipline", "workload": "W1", ...}'

Imports the engine's runner module (beside this file), runs the workload and prints one
JSON object on the last stdout line. ``{"probe": true}`` instead reports which peer
packages import, with their versions.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODULES = {
    "zipline": ("zipline", "zipline-reloaded"),
    "backtrader": ("backtrader", "backtrader"),
    "vectorbt": ("vectorbt", "vectorbt"),
    "backtesting": ("backtesting", "backtesting"),
}


def probe(names) -> dict:
    import importlib.metadata as md

    out = {}
    for name in names:
        module, dist = MODULES[name]
        t = time.perf_counter()
        try:
            importlib.import_module(module)
            out[name] = {
                "ok": True,
                "version": md.version(dist),
                "import_s": time.perf_counter() - t,
            }
        except Exception as exc:  # report any failure, the caller skips that peer
            lines = str(exc).strip().splitlines() or [""]
            text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
            out[name] = {
                "ok": False,
                "error": f"import {module}: {type(exc).__name__}: {text[:300]}",
            }
    return out


def main() -> int:
    config = json.loads(sys.argv[1])
    if config.get("probe"):
        print(json.dumps(probe(config.get("peers", list(MODULES)))))
        return 0
    runner = importlib.import_module(f"peer_{config['engine']}")
    try:
        out = runner.run(config)
    except Exception:
        traceback.print_exc()
        return 1
    from _common import emit

    emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
