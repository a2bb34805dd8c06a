"""Before/after probe of three faults of issue #18, with only APIs that every commit since
the bundle pool has, so that it runs on an old commit too (``PYTHONPATH=OLD/python``):
an ingest racing ``bundle clean``, a flipped block in the pool cache, and RSS over 100
re-ingest + run cycles. Prints JSON; ``QUICK=1`` skips the RSS cycles. It made the
before/after figures in docs/reliability.md.

    python scripts/reliability_probe.py
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

os.environ["RUSTYBT_ROOT"] = tempfile.mkdtemp(prefix="probe-")

import rustybt  # after RUSTYBT_ROOT: the import reads it
from rustybt.bundles import cache_dir, clean_bundle

INGESTER = """
import rustybt
from rustybt.bundles import bundles_dir
bad = 0
for seed in range(1, 41):
    rustybt.ingest_synthetic("race", assets=2, start="2022-01-03", end="2022-01-31", seed=seed)
    live = (bundles_dir() / "race" / "CURRENT").read_text().strip()
    bad += not (bundles_dir() / "race" / live / "manifest.json").is_file()
print(bad)
"""

RUN = """
import rustybt
from rustybt.app.examples.sma_crossover import SmaCross
perf = rustybt.run_algorithm(algorithm=SmaCross, bundle="flip", start="2022-02-01",
                             end="2022-06-30", capital_base=100000)
print(float(perf["portfolio_value"].iloc[-1]))
"""


class Noop(rustybt.TradingAlgorithm):
    def handle_data(self, context, data):
        pass


def race() -> dict:
    """40 ingests in a child while this process cleans in a loop."""
    rustybt.ingest_synthetic("race", assets=2, start="2022-01-03", end="2022-01-31", seed=0)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(INGESTER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors = 0
    while child.poll() is None:
        try:
            clean_bundle("race")
        except Exception:  # the clean's own failures are counted, not fatal
            errors += 1
    out, err = child.communicate()
    return {
        "dangling CURRENT after an ingest (of 40)": int(out.strip() or -1),
        "clean errors": errors,
        "ingesting process's last error": err.strip().splitlines()[-1:],
    }


def flipped_cache() -> dict:
    """4 KB flipped a third into the pool cache (the close prices), between two runs."""
    bundle = rustybt.ingest_synthetic(
        "flip", assets=20, start="2022-01-03", end="2022-06-30", seed=3
    )

    def run():
        r = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(RUN)], capture_output=True, text=True
        )
        return r.stdout.strip() or r.stderr.strip().splitlines()[-1]

    before = run()
    (cols,) = Path(cache_dir()).glob(f"{bundle.content_hash}*.cols")
    data = bytearray(cols.read_bytes())
    at = len(data) // 3
    data[at : at + 4096] = bytes(b ^ 0xFF for b in data[at : at + 4096])
    cols.write_bytes(bytes(data))
    return {"final value before / after the flip": [before, run()]}


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cycles() -> dict:
    def cycle(seed):
        b = rustybt.ingest_synthetic(
            "cyc", assets=100, start="2022-01-03", end="2022-12-30", seed=seed
        )
        rustybt.run_algorithm(
            algorithm=Noop, bundle=b, start="2022-02-01", end="2022-03-01", capital_base=1e4
        )

    for seed in range(10):
        cycle(seed)
    gc.collect()
    after_10 = rss_mb()
    for seed in range(10, 100):
        cycle(seed)
    gc.collect()
    return {"RSS MB after 10 / after 100 re-ingest+run cycles": [round(after_10), round(rss_mb())]}


if __name__ == "__main__":
    report = {"race": race(), "flipped cache": flipped_cache()}
    if not os.environ.get("QUICK"):
        report["cycles"] = cycles()
    print(json.dumps(report, indent=1))
