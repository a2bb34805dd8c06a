"""Where the time between zipline's two ways goes (docs/performance/peers.md), run with the
peers virtualenv's python on the zipline bundle ``rustybt bench peers`` ingested::

    <venv>/bin/python zipline_ways.py --root $RUSTYBT_ROOT/peers/zipline \\
        --bundle rb-bench-daily-50-... --first 2022-01-03 --last 2023-12-29 \\
        --end 2022-03-01 --assets 50 --calls 2 --processes 3 --profile

For each way — ``run_algorithm``, and ``TradingAlgorithm.run`` on a bundle loaded
beforehand — it starts ``--processes`` fresh interpreters, each running W1 ``--calls``
times over ``--first`` .. ``--end``, and prints every call's wall and CPU seconds (the
preloaded way's load apart). With ``--profile``, each way's last call of a process
(``--profile-call first``: its first, with the process's one-time costs) is profiled with
cProfile in one more process, and the functions whose cumulative time differs most between
the two ways are listed (the preloaded way's first call includes its load).
``--first-vs-last WAY`` diffs that way's first call of a process against its last: the
process's one-time costs.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _config(args) -> dict:
    return {
        "zipline_bundle": args.bundle,
        "zipline_root": args.root,
        "csvdir": "",
        "first_session": args.first,
        "last_session": args.last,
        "frequency": "daily",
        "start": args.first,
        "end": args.end,
    }


def child(args) -> None:
    """One process: ``--calls`` backtests one way; JSON lines of timings on stdout."""
    sys.path.insert(0, str(HERE))
    import peer_zipline as pz

    config = _config(args)
    pz._register(config)
    loaded = None
    for i in range(args.calls):
        at = 0 if args.profile_call == "first" else args.calls - 1
        profile = cProfile.Profile() if args.profile_out and i == at else None
        w, c = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        load = 0.0
        if args.way == "run_algorithm":
            pz._run(config, pz.sma_cross(args.assets))
        else:
            if loaded is None:
                loaded = pz.preload(config)
                load = time.perf_counter() - w
            pz._run_preloaded(config, loaded, pz.sma_cross(args.assets))
        if profile:
            profile.disable()
            profile.dump_stats(args.profile_out)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        print(json.dumps({"call": i + 1, "wall": wall, "cpu": cpu, "load": load}), flush=True)


def _spawn(args, way: str, profile_out: str | None = None) -> list[dict]:
    cmd = [sys.executable, __file__, "--child", "--way", way]
    for name in ("root", "bundle", "first", "last", "end", "assets", "calls", "profile_call"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if profile_out:
        cmd += ["--profile-out", profile_out]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _cumulative(path: str) -> dict:
    stats = pstats.Stats(path).stats
    return {k: (v[3], v[1]) for k, v in stats.items()}  # cumtime, calls


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True, help="zipline's ZIPLINE_ROOT")
    p.add_argument("--bundle", required=True)
    p.add_argument("--first", required=True, help="the bundle's first session")
    p.add_argument("--last", required=True, help="the bundle's last session")
    p.add_argument("--end", required=True, help="the backtests' last session")
    p.add_argument("--assets", type=int, default=50)
    p.add_argument("--calls", type=int, default=2)
    p.add_argument("--processes", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    p.add_argument(
        "--profile-call",
        choices=("first", "last"),
        default="last",
        help="which call of a process to profile (first: with the process's one-time costs)",
    )
    p.add_argument(
        "--first-vs-last",
        choices=("run_algorithm", "preloaded"),
        help="also diff the profiles of that way's first and last call of a process",
    )
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--way", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return 0
    print(f"W1, {args.assets} assets, {args.first} .. {args.end}, {args.calls} call(s) a process")
    for _ in range(args.processes):
        for way in ("run_algorithm", "preloaded"):
            calls = _spawn(args, way)
            text = "  ".join(
                f"call {c['call']}: {c['wall']:.3f} s (cpu {c['cpu']:.3f}"
                + (f", load {c['load']:.3f}" if c["load"] else "")
                + ")"
                for c in calls
            )
            print(f"  {way:14s} {text}")
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for way in ("run_algorithm", "preloaded"):
                paths[way] = str(Path(tmp) / f"{way}.prof")
                _spawn(args, way, paths[way])
            _print_diff(
                f"cProfile of each way's {args.profile_call} call: cumulative s, "
                "run_algorithm minus preloaded (calls in each)",
                paths["run_algorithm"],
                paths["preloaded"],
                args.top,
            )
    if args.first_vs_last:
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for which in ("first", "last"):
                paths[which] = str(Path(tmp) / f"{which}.prof")
                args.profile_call = which
                _spawn(args, args.first_vs_last, paths[which])
            _print_diff(
                f"cProfile of {args.first_vs_last}: cumulative s, the first call of a process "
                f"minus call {args.calls} (calls in each)",
                paths["first"],
                paths["last"],
                args.top,
            )
    return 0


def _print_diff(title: str, path_a: str, path_b: str, top: int) -> None:
    a, b = _cumulative(path_a), _cumulative(path_b)
    print(title)
    diffs = sorted(((a[k][0] - b.get(k, (0.0, 0))[0], k) for k in a), reverse=True)
    for d, k in diffs[:top]:
        name = f"{k[0].split('site-packages/')[-1]}:{k[1]}({k[2]})"
        other = b.get(k, (0.0, 0))
        print(f"  {d:7.3f}  {a[k][0]:7.3f} ({a[k][1]})  {other[0]:7.3f} ({other[1]})  {name}")


if __name__ == "__main__":
    sys.exit(main())
