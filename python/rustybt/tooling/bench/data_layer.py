"""Data-layer benchmarks: history latency, aggregation throughput, bundle open time.

``rustybt bench data`` runs them and prints one table each.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

import rustybt
from rustybt.tooling.bench.harness import ensure_bundle
from rustybt.tooling.bench.scenarios import SCENARIOS

OPEN_PROBE = """
import json, sys, time
t = time.perf_counter()
import rustybt
imported = time.perf_counter() - t
t = time.perf_counter()
b = rustybt.load_bundle(sys.argv[1])
print(json.dumps({"open_s": time.perf_counter() - t, "mapped": b._core.is_mapped, "import_s": imported}))
"""


def _percentiles(ns: list[int]) -> tuple[float, float]:
    arr = np.asarray(ns, dtype=float) / 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def history_latency(asset_counts=(1, 10, 50, 500), windows=(30, 200), calls_per_bar=3, quick=False):
    """p50/p99 latency (µs) of ``data.history(..., "close", window, "1d")`` inside
    handle_data, NumPy and pandas, on the W1 span with 500 assets, for zipline's two
    single-field shapes: one asset (``data.history(asset, ...)``: a Series, or a 1-D
    array; shape ``"Series"``, ``assets`` 1) and a list of ``n`` assets (a DataFrame
    ``[bars, n]``, or a 2-D array; shape ``"DataFrame"``).

    Each pandas call is followed (outside its own timing) by two timings of its floor, on
    the very window it returned: ``ctor_p50_us``, pandas' public constructor of the same
    object around the same values (``pd.Series(values, index=, name=, copy=False)`` /
    ``pd.DataFrame(values, index=, columns=, copy=False)``); and ``build_p50_us``, the
    build rustybt uses (pandas' own internal one, ``rustybt.data._series_from_block`` /
    ``_frame_from_block``; None where this pandas falls back to the public constructor).
    """
    import pandas as pd

    from rustybt import data as data_module

    n_max = max(asset_counts)
    bundle = ensure_bundle(SCENARIOS["W1"], 500 if n_max > 50 else 50)
    samples: dict[tuple[str, int, int, str], list[int]] = {}
    ctor: dict[tuple[str, int, int], list[int]] = {}
    build: dict[tuple[str, int, int], list[int]] = {}
    clock = time.perf_counter_ns
    series_build = getattr(data_module, "_series_from_block", None)
    frame_build = getattr(data_module, "_frame_from_block", None)

    def floors(key, out) -> None:
        values = out.to_numpy()
        if key[0] == "Series":
            index, name = out.index, out.name
            t = clock()
            pd.Series(values, index=index, name=name, copy=False)
            ctor.setdefault(key, []).append(clock() - t)
            if series_build is not None:
                values = values.copy()  # a writeable array, as history hands it the builder
                t = clock()
                series_build(values, index, name)
                build.setdefault(key, []).append(clock() - t)
        else:
            index, columns = out.index, out.columns
            t = clock()
            pd.DataFrame(values, index=index, columns=columns, copy=False)
            ctor.setdefault(key, []).append(clock() - t)
            if frame_build is not None:
                t = clock()
                frame_build(values, index, columns)
                build.setdefault(key, []).append(clock() - t)

    class Probe(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.one = self.symbol("S000")
            context.sets = {n: self.symbols(*[f"S{i:03d}" for i in range(n)]) for n in asset_counts}

        def handle_data(self, context, data):
            cases = [("Series", 1, context.one)]
            cases += [("DataFrame", n, assets) for n, assets in context.sets.items()]
            # the first call of a bar finds colder caches: each case takes that turn in turn
            k = data.current_bar % len(cases)
            for shape, n, assets in cases[k:] + cases[:k]:
                for w in windows:
                    for mode in ("array", "pandas"):
                        out = samples.setdefault((shape, n, w, mode), [])
                        for _ in range(calls_per_bar):
                            t = clock()
                            got = data.history(assets, "close", w, "1d", return_type=mode)
                            out.append(clock() - t)
                            if mode == "pandas":
                                floors((shape, n, w), got)

    end = bundle.sessions[60 if quick else -1]
    rustybt.run_algorithm(algorithm=Probe, bundle=bundle, end=end)
    rows = []
    order = {"Series": 0, "DataFrame": 1}
    for (shape, n, w, mode), ns in sorted(
        samples.items(), key=lambda kv: (order[kv[0][0]], *kv[0][1:])
    ):
        p50, p99 = _percentiles(ns)
        key = (shape, n, w)
        pandas_row = mode == "pandas"
        rows.append(
            {
                "shape": shape,
                "assets": n,
                "bars": w,
                "mode": mode,
                "calls": len(ns),
                "p50_us": p50,
                "p99_us": p99,
                "ctor_p50_us": _percentiles(ctor[key])[0] if pandas_row else None,
                "build_p50_us": _percentiles(build[key])[0]
                if pandas_row and key in build
                else None,
            }
        )
    return rows


def aggregation_throughput(quick=False):
    """Minute bars aggregated to days (and hours) per second, cold (cache empty), on the M1
    bundle; and the cost of a cached daily window in a minute run."""
    sc = SCENARIOS["M1"]
    bundle = ensure_bundle(sc, 10)
    rows = []
    source_bars = bundle._core.n_bars * bundle._core.n_assets
    for freq in ("1d", "1h"):
        fresh = rustybt.bundles._core.Bundle.open(bundle.path)  # own, empty aggregation cache
        t = time.perf_counter()
        fresh.resample("close", freq)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        fresh.resample("close", freq)
        warm = time.perf_counter() - t
        rows.append(
            {
                "target": freq,
                "minute asset-bars": source_bars,
                "cold_s": cold,
                "cold asset-bars/s": source_bars / cold,
                "cached_s": warm,
            }
        )
    return rows


def open_times(quick=False):
    """Fresh-process ``load_bundle``: first open (builds the pool's cache) and later opens
    (map it), for the W1 500-asset daily and M1 minute bundles."""
    from rustybt.bundles import cache_dir

    rows = []
    targets = [(SCENARIOS["W1"], 50 if quick else 500), (SCENARIOS["M1"], 10)]
    for sc, n in targets:
        bundle = ensure_bundle(sc, n)
        for f in cache_dir().glob(f"{bundle.content_hash}.*"):
            f.unlink()
        runs = []
        for _ in range(6):
            out = subprocess.run(
                [sys.executable, "-c", OPEN_PROBE, str(bundle.path.parent)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(out.stdout))
        first, later = runs[0], runs[1:]
        rows.append(
            {
                "bundle": f"{sc.name} {n} assets ({bundle.frequency}, {bundle._core.n_bars} bars)",
                "build_ms": first["open_s"] * 1000,
                "first_mapped": first["mapped"],
                "mapped_ms_median": statistics.median(r["open_s"] for r in later) * 1000,
                "mapped": all(r["mapped"] for r in later),
                "import_ms_median": statistics.median(r["import_s"] for r in later) * 1000,
            }
        )
    return rows


def parquet_size(bundle) -> int:
    return sum(p.stat().st_size for p in bundle.path.iterdir())


__all__ = ["aggregation_throughput", "history_latency", "open_times", "shutil"]
