"""``rustybt bench``: the benchmark suite's commands (``run``, ``compare``, ``report``,
``data``, and ``peers`` from :mod:`rustybt.tooling.bench.peers`).

The command line finds them through the ``rustybt.commands`` entry point ``bench`` (see
pyproject.toml), which names :func:`register`. Imports stay cheap: heavy modules load inside
the command handlers.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from rich.table import Table

from rustybt.app.common import console, csv_list, err_console
from rustybt.errors import InvalidRunParameters


def cmd_bench_run(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rustybt.tooling.bench.harness import history_path, run_suite

    for ledger in args.ledger:
        if ledger not in ("decimal", "float"):
            raise InvalidRunParameters(f"--ledger takes decimal and/or float, got {ledger!r}")
    for engine in args.engine:
        if engine not in ("rust", "reference"):
            raise InvalidRunParameters(f"--engine takes rust and/or reference, got {engine!r}")
    history = Path(args.history) if args.history else history_path()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("benchmarks", total=None)

        def progress(done, total, what):
            bar.update(task, total=total, completed=done, description=f"[{done}/{total}] {what}")

        if args.rounds < 1:
            raise InvalidRunParameters(f"--rounds must be at least 1, got {args.rounds}")
        results, rounds = [], []
        for k in range(args.rounds):
            # alternate the ledgers' order, so neither always runs first after a drift
            ledgers = tuple(args.ledger) if k % 2 == 0 else tuple(reversed(args.ledger))
            try:
                got = run_suite(
                    args.scenario,
                    args.assets,
                    ledgers,
                    tuple(args.engine),
                    args.repeats,
                    args.quick,
                    history,
                    args.label,
                    progress,
                )
            except ValueError as exc:
                raise InvalidRunParameters(str(exc)) from None
            results += got
            rounds.append(got)
    table = Table(
        title=f"rustybt bench run ({'quick, ' if args.quick else ''}median of {args.repeats})"
    )
    for col in (
        "scenario",
        "assets",
        "ledger",
        "engine",
        "bars",
        "wall s",
        "cpu s",
        "peak RSS MB",
        "asset-bars/s",
        "open ms",
    ):
        table.add_column(
            col, justify="right" if col not in ("scenario", "ledger", "engine") else "left"
        )
    for r in results:
        table.add_row(
            r["scenario"],
            str(r["assets"]),
            r["ledger"],
            r["engine"],
            str(r["bars"]),
            f"{r['median_wall_s']:.4f}",
            f"{r['median_cpu_s']:.4f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['asset_bars_per_s']:,.0f}",
            f"{r['open_s'] * 1000:.1f}",
        )
    console.print(table)
    ratios: dict[tuple, list[float]] = {}
    for got in rounds:
        pairs: dict[tuple, dict[str, float]] = {}
        for r in got:
            key = (r["scenario"], r["assets"], r["engine"])
            pairs.setdefault(key, {})[r["ledger"]] = r["median_wall_s"]
        for key, by in pairs.items():
            if "decimal" in by and "float" in by:
                ratios.setdefault(key, []).append(by["decimal"] / by["float"])
    for (sc, n, eng), rs in ratios.items():
        ratio = statistics.median(rs)
        spread = (
            f"; {len(rs)} rounds, {min(rs) - 1:+.1%} to {max(rs) - 1:+.1%}" if len(rs) > 1 else ""
        )
        console.print(
            f"{sc} {n} assets ({eng}): decimal / float = {ratio:.3f} "
            f"(overhead {ratio - 1:+.1%}{spread})"
        )
    console.print(f"appended {len(results)} results to {history}")
    return 0


def cmd_bench_data(args) -> int:
    from rustybt.tooling.bench import data_layer

    console.print("history latency (inside handle_data, W1 span, daily bars)...")
    rows = data_layer.history_latency(quick=args.quick)
    t = Table(
        title="data.history(asset or assets, 'close', bars, '1d') latency, µs",
        caption="pd ctor / build: the floor of a pandas row, on the window it returned: "
        "pd.Series / pd.DataFrame (values, index=, name= / columns=, copy=False), and the "
        "internal pandas build history uses",
    )
    for col in (
        "shape",
        "assets",
        "bars",
        "mode",
        "calls",
        "p50 µs",
        "p99 µs",
        "pd ctor p50 µs",
        "build p50 µs",
    ):
        t.add_column(col, justify="right")

    def us(v):
        return "-" if v is None else f"{v:.1f}"

    for r in rows:
        t.add_row(
            r["shape"],
            str(r["assets"]),
            str(r["bars"]),
            r["mode"],
            str(r["calls"]),
            us(r["p50_us"]),
            us(r["p99_us"]),
            us(r["ctor_p50_us"]),
            us(r["build_p50_us"]),
        )
    console.print(t)
    t = Table(title="minute -> coarser aggregation (M1 bundle, 10 assets)")
    for col in ("target", "minute asset-bars", "cold s", "cold asset-bars/s", "cached s"):
        t.add_column(col, justify="right")
    for r in data_layer.aggregation_throughput(quick=args.quick):
        t.add_row(
            r["target"],
            f"{r['minute asset-bars']:,}",
            f"{r['cold_s']:.4f}",
            f"{r['cold asset-bars/s']:,.0f}",
            f"{r['cached_s']:.4f}",
        )
    console.print(t)
    t = Table(title="fresh-process load_bundle (bundle pool)")
    for col in (
        "bundle",
        "first open (builds cache) ms",
        "later opens (mapped) ms, median of 5",
        "mapped",
        "import rustybt ms",
    ):
        t.add_column(col, justify="right")
    for r in data_layer.open_times(quick=args.quick):
        t.add_row(
            r["bundle"],
            f"{r['build_ms']:.1f}",
            f"{r['mapped_ms_median']:.2f}",
            str(r["mapped"]),
            f"{r['import_ms_median']:.0f}",
        )
    console.print(t)
    return 0


def cmd_bench_compare(args) -> int:
    from rustybt.tooling.bench.compare import compare
    from rustybt.tooling.bench.harness import history_path

    history = Path(args.history) if args.history else history_path()
    try:
        rows = compare(history, args.base, args.new, args.min_runs)
    except (ValueError, OSError) as exc:
        raise InvalidRunParameters(str(exc)) from None
    t = Table(title=f"bench compare {args.base} -> {args.new} (Welch t-test, 95% CI of the change)")
    for col in (
        "scenario",
        "assets",
        "ledger",
        "runs",
        "base s",
        "new s",
        "change",
        "95% CI",
        "p",
        "verdict",
    ):
        t.add_column(col)
    for c in rows:
        t.add_row(
            c.scenario,
            str(c.assets),
            c.ledger,
            f"{c.base_n}/{c.new_n}",
            f"{c.base_median:.4f}",
            f"{c.new_median:.4f}",
            f"{c.change:+.1%}",
            f"[{c.ci_low:+.1%}, {c.ci_high:+.1%}]",
            f"{c.p_value:.3g}",
            c.verdict,
        )
    console.print(t)
    regressions = [c for c in rows if c.verdict == "REGRESSION"]
    if args.check and regressions:
        err_console.print(f"[red]{len(regressions)} regression(s) over 10%[/red]")
        return 1
    return 0


def cmd_bench_report(args) -> int:
    from rustybt.tooling.bench.harness import history_path
    from rustybt.tooling.bench.report import write_report

    history = Path(args.history) if args.history else history_path()
    try:
        written = write_report(history, Path(args.out))
    except (ValueError, OSError) as exc:
        raise InvalidRunParameters(str(exc)) from None
    for name, path in written.items():
        console.print(f"{name}: {path}")
    return 0


def _conformance(args) -> int:
    from rustybt.tooling.bench.conformance import cmd_bench_conformance

    return cmd_bench_conformance(args)


def register(sub) -> None:
    """Add ``rustybt bench`` and its subcommands to the top-level subparsers ``sub``."""
    from rustybt.tooling.bench import peers

    bench = sub.add_parser("bench", help="benchmark suite")
    bsub2 = bench.add_subparsers(dest="bench_command", required=True)
    br = bsub2.add_parser("run", help="run benchmark scenarios (each in its own process)")
    br.add_argument(
        "--scenario",
        type=csv_list(str),
        default=["W1"],
        help="W1,W1-array,W2,H1,M1,G1,G1-batch,B1,WF1,R1,P1,P2,P3,noop,history-only,orders-only,probes,pipeline,all",
    )
    br.add_argument(
        "--assets", type=csv_list(int), help="asset counts, e.g. 10,50 (default: the scenario's)"
    )
    br.add_argument("--ledger", type=csv_list(str), default=["decimal"], help="decimal,float")
    br.add_argument("--engine", type=csv_list(str), default=["rust"], help="rust,reference")
    br.add_argument("--repeats", type=int, default=3)
    br.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run everything this many times, alternating the ledgers' order; the "
        "decimal/float overhead is the median of the rounds' ratios",
    )
    br.add_argument(
        "--quick",
        action="store_true",
        help="tiny spans and sizes: checks the suite runs, not speed",
    )
    br.add_argument(
        "--history", help="results history (JSON lines); default $RUSTYBT_ROOT/bench/history.jsonl"
    )
    br.add_argument("--label", help="a label stored with these results (for bench compare)")
    br.set_defaults(func=cmd_bench_run)

    bc = bsub2.add_parser("compare", help="compare two commits or labels from the history")
    bc.add_argument("base")
    bc.add_argument("new")
    bc.add_argument("--history", help="results history (default $RUSTYBT_ROOT/bench/history.jsonl)")
    bc.add_argument("--min-runs", type=int, default=10)
    bc.add_argument("--check", action="store_true", help="exit 1 on a regression over 10%%")
    bc.set_defaults(func=cmd_bench_compare)

    brep = bsub2.add_parser(
        "report", help="tables, PNG plots and an HTML dashboard from the history"
    )
    brep.add_argument(
        "--history", help="results history (default $RUSTYBT_ROOT/bench/history.jsonl)"
    )
    brep.add_argument("--out", default="docs/performance", help="output directory")
    brep.set_defaults(func=cmd_bench_report)

    bconf = bsub2.add_parser(
        "conformance",
        help="rustybt against zipline-reloaded: zipline's examples and the suite's own "
        "strategies, fills and every perf column (docs/conformance.md)",
    )
    bconf.add_argument(
        "--venv",
        help="zipline's virtualenv (default $RUSTYBT_PEERS_VENV, else $RUSTYBT_ROOT/peers-venv)",
    )
    bconf.add_argument("--out", type=Path, help="write the whole report (JSON)")
    bconf.add_argument(
        "--strategies", type=csv_list(str), help="only these strategies (and no pipeline part)"
    )
    bconf.add_argument(
        "--store",
        nargs="?",
        const="tests/conformance/expected",
        help="store zipline's runs as the CI half's expectations (default "
        "tests/conformance/expected, from the repository root)",
    )
    bconf.add_argument(
        "--docs",
        nargs="?",
        const="docs/conformance.md",
        help="write the results table into this file (default docs/conformance.md)",
    )
    bconf.add_argument(
        "--no-pipeline",
        action="store_true",
        help="leave out the pipeline-outputs comparison (momentum_pipeline on the W1 bundle)",
    )
    bconf.add_argument(
        "--zipline-cache",
        type=Path,
        help="a JSON file: zipline's runs are read from it when they are of the same bars "
        "and strategies, else run and written to it (to iterate on rustybt quickly)",
    )
    bconf.set_defaults(func=_conformance)

    bd = bsub2.add_parser("data", help="data layer: history latency, aggregation, bundle open")
    bd.add_argument("--quick", action="store_true", help="small sizes: checks it runs, not speed")
    bd.set_defaults(func=cmd_bench_data)

    peers.register_cli(bsub2)
