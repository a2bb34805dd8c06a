"""The ``rustybt`` command line.

rustybt demo
rustybt ingest synthetic --bundle NAME --assets N --start DATE --end DATE [--frequency daily]
rustybt ingest csvdir PATH --bundle NAME [--frequency daily]
rustybt bundles
rustybt bundle info NAME
rustybt run STRATEGY.py --bundle NAME [--start DATE] [--end DATE] [--capital-base X]
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import inspect
import statistics
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rustybt.errors import InvalidRunParameters, RustyBTError, StrategyError

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, highlight=False)

DEMO_BUNDLE = "rustybt-demo"
DEMO_SPEC = {"assets": 20, "start": "2022-01-03", "end": "2023-12-29", "seed": 42}


def add_run_options(parser) -> None:
    """The options that say which backtest to run: ``rustybt run``'s, and ``rustybt
    profile``'s."""
    parser.add_argument(
        "strategy", help="a .py file with a TradingAlgorithm subclass or zipline functions"
    )
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--start")
    parser.add_argument("--end")
    parser.add_argument("--capital-base", type=float, default=1_000_000.0)
    parser.add_argument("--data-frequency")
    parser.add_argument("--ledger", choices=("decimal", "float"), default="decimal")
    parser.add_argument("--algorithm", help="class name, when the file defines several")
    parser.add_argument("--param", action="append", type=_param, help="NAME=VALUE (repeatable)")


def _param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param takes NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name.strip(), value


def load_strategy_file(path: str | Path, algorithm: str | None = None) -> dict:
    """Import a strategy file. Returns ``{"algorithm": cls}`` for a TradingAlgorithm
    subclass defined there, or the zipline-style functions it defines."""
    from rustybt.algorithm import TradingAlgorithm

    path = Path(path)
    if not path.is_file():
        raise InvalidRunParameters(f"strategy file {path} does not exist")
    module_name = f"rustybt_strategy_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise StrategyError(f"importing {path} raised {type(exc).__name__}: {exc}") from exc
    classes = {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, TradingAlgorithm)
        and obj.__module__ == module_name
    }
    if algorithm is not None:
        if algorithm not in classes:
            raise InvalidRunParameters(
                f"{path} defines no TradingAlgorithm named {algorithm!r} (found: {', '.join(classes) or 'none'})"
            )
        return {"algorithm": classes[algorithm]}
    if len(classes) == 1:
        return {"algorithm": next(iter(classes.values()))}
    if len(classes) > 1:
        raise InvalidRunParameters(
            f"{path} defines several strategies ({', '.join(classes)}): choose one with --algorithm"
        )
    funcs = {
        name: getattr(module, name)
        for name in ("initialize", "handle_data", "before_trading_start", "analyze")
        if callable(getattr(module, name, None))
    }
    if "initialize" not in funcs and "handle_data" not in funcs:
        raise InvalidRunParameters(
            f"{path} defines neither a TradingAlgorithm subclass nor initialize/handle_data functions"
        )
    return funcs


def summarize(perf, wall: float) -> dict:
    """The headline numbers of a run."""
    fills = int(perf["transactions"].map(len).sum())
    last = perf.iloc[-1]
    return {
        "sessions": len(perf),
        "final value": float(last["portfolio_value"]),
        "total return": float(last["algorithm_period_return"]),
        "sharpe": float(last["sharpe"]),
        "max drawdown": float(last["max_drawdown"]),
        "fills": fills,
        "wall time (s)": wall,
    }


def _print_summary(title: str, summary: dict) -> None:
    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        if key in ("total return", "max drawdown"):
            text = f"{value:+.2%}"
        elif key == "final value":
            text = f"{value:,.2f}"
        elif isinstance(value, float):
            text = f"{value:.3f}"
        else:
            text = str(value)
        table.add_row(key, text)
    console.print(table)


def write_perf_table(perf, path: Path) -> Path:
    """Write the perf frame's scalar columns (plus order/fill counts) as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = perf.drop(columns=["orders", "transactions", "positions"])
    table.insert(0, "fills", perf["transactions"].map(len))
    table.insert(0, "orders_touched", perf["orders"].map(len))
    tmp = path.with_suffix(path.suffix + ".tmp")
    table.to_csv(tmp, index_label="period_close")
    tmp.replace(path)
    return path


def cmd_demo(args) -> int:
    import rustybt
    from rustybt.bundles import root
    from rustybt.errors import BundleNotFound
    from rustybt.examples.sma_crossover import SmaCross

    try:
        bundle = rustybt.load_bundle(DEMO_BUNDLE)
    except BundleNotFound:
        console.print(
            f"Building the demo bundle '{DEMO_BUNDLE}' (first use): {DEMO_SPEC['assets']} synthetic "
            f"assets, daily, {DEMO_SPEC['start']}..{DEMO_SPEC['end']}, seed {DEMO_SPEC['seed']} ..."
        )
        t = time.perf_counter()
        bundle = rustybt.ingest_synthetic(DEMO_BUNDLE, **DEMO_SPEC)
        console.print(f"  done in {time.perf_counter() - t:.2f} s -> {bundle.path}")
    console.print(f"Running SmaCross (examples/sma_crossover.py) on {bundle!r}")
    t = time.perf_counter()
    perf = rustybt.run_algorithm(
        algorithm=SmaCross, bundle=bundle, capital_base=1_000_000, params={"n_assets": 20}
    )
    wall = time.perf_counter() - t
    _print_summary("rustybt demo: SMA(10/30), 20 assets, 2y daily", summarize(perf, wall))
    out = write_perf_table(perf, Path(args.out) if args.out else root() / "demo" / "perf.csv")
    console.print(f"perf table written to {out}")
    return 0


def cmd_ingest(args) -> int:
    import rustybt

    t = time.perf_counter()
    if args.source == "synthetic":
        bundle = rustybt.ingest_synthetic(
            args.bundle,
            assets=args.assets,
            start=args.start,
            end=args.end,
            frequency=args.frequency,
            seed=args.seed,
            calendar=args.calendar,
            price_scale=args.price_scale,
        )
    elif args.source == "table":
        bundle = rustybt.bundles.ingest_table(
            args.path,
            args.bundle,
            frequency=args.frequency,
            calendar=args.calendar,
            price_scale=args.price_scale,
        )
    else:
        bundle = rustybt.ingest_csvdir(
            args.path,
            args.bundle,
            frequency=args.frequency,
            calendar=args.calendar,
            price_scale=args.price_scale,
        )
    console.print(f"ingested {bundle!r} in {time.perf_counter() - t:.2f} s at {bundle.path}")
    return 0


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cmd_bundles(args) -> int:
    import rustybt
    from rustybt.bundles import bundles_dir

    table = Table(title=f"bundles in {bundles_dir()}")
    for col in ("name", "frequency", "assets", "span", "size", "hash"):
        table.add_column(col)
    for path in sorted(bundles_dir().glob("*")):
        if not (path / "CURRENT").exists():
            continue
        try:
            b = rustybt.load_bundle(path)
        except RustyBTError as exc:
            table.add_row(path.name, "?", "?", f"unreadable: {exc}", "", "")
            continue
        table.add_row(
            b.name,
            b.frequency,
            str(len(b.asset_list)),
            f"{b.start.date()}..{b.end.date()}",
            f"{_dir_size(b.path) / 1e6:.1f} MB",
            b.content_hash[:12],
        )
    console.print(table)
    return 0


def cmd_bundle_info(args) -> int:
    import rustybt

    b = rustybt.load_bundle(args.name)
    table = Table(title=f"bundle {b.name}", show_header=False)
    for key, value in (
        ("path", str(b.path)),
        ("frequency", b.frequency),
        ("calendar", b.calendar),
        ("assets", str(len(b.asset_list))),
        ("sessions", str(len(b.sessions))),
        ("span", f"{b.start.date()}..{b.end.date()}"),
        ("price scale", str(b.price_scale)),
        ("content hash", b.content_hash),
        ("created", b.created_at),
        ("source", b._core.source),
    ):
        table.add_row(key, value)
    console.print(table)
    return 0


def cmd_bundle_clean(args) -> int:
    from rustybt.bundles import clean_bundle

    removed = clean_bundle(args.name, remove=args.all)
    for kind, names in removed.items():
        for n in names:
            console.print(f"removed {kind[:-1]} {n}")
    total = sum(len(v) for v in removed.values())
    console.print(f"{args.name}: {'bundle removed' if args.all else 'cleaned'} ({total} items)")
    return 0


def cmd_run(args) -> int:
    import rustybt

    target = load_strategy_file(args.strategy, args.algorithm)
    params = dict(args.param or [])
    t = time.perf_counter()
    perf = rustybt.run_algorithm(
        start=args.start,
        end=args.end,
        capital_base=args.capital_base,
        bundle=args.bundle,
        data_frequency=args.data_frequency,
        ledger=args.ledger,
        params=params or None,
        **target,
    )
    wall = time.perf_counter() - t
    _print_summary(f"{Path(args.strategy).name} on {args.bundle}", summarize(perf, wall))
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".csv":
            console.print(f"perf table written to {write_perf_table(perf, out)}")
        else:
            from rustybt.results import Results, _git_commit

            meta = {"algorithm": Path(args.strategy).stem, "params": params, "bundle": args.bundle,
                    "content_hash": perf.attrs["rustybt"]["content_hash"], "ledger": args.ledger,
                    "start": str(perf.index[0].date()), "end": str(perf.index[-1].date()),
                    "rustybt_version": rustybt.__version__, "git_commit": _git_commit(),
                    "wall_time_s": wall}  # fmt: skip
            console.print(f"results saved to {Results.from_perf(perf, meta).save(out)}")
    return 0


def _csv(kind):
    def parse(text: str):
        try:
            return [kind(x) for x in text.split(",") if x]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list, got {text!r}"
            ) from None

    return parse


def cmd_bench_run(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rustybt.bench.harness import history_path, run_suite

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
    from rustybt.bench import data_layer

    console.print("history latency (inside handle_data, W1 span, daily bars)...")
    rows = data_layer.history_latency(quick=args.quick)
    t = Table(title="data.history(assets, 'close', bars, '1d') latency, µs")
    for col in ("assets", "bars", "mode", "calls", "p50 µs", "p99 µs"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            str(r["assets"]),
            str(r["bars"]),
            r["mode"],
            str(r["calls"]),
            f"{r['p50_us']:.1f}",
            f"{r['p99_us']:.1f}",
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
    from rustybt.bench.compare import compare
    from rustybt.bench.harness import history_path

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
    from rustybt.bench.harness import history_path
    from rustybt.bench.report import write_report

    history = Path(args.history) if args.history else history_path()
    try:
        written = write_report(history, Path(args.out))
    except (ValueError, OSError) as exc:
        raise InvalidRunParameters(str(exc)) from None
    for name, path in written.items():
        console.print(f"{name}: {path}")
    return 0


# Modules that add their own commands: each defines ``register_cli(sub, bench_sub)``, where
# ``sub`` holds the top-level commands and ``bench_sub`` the ``rustybt bench`` ones. Their
# imports must stay cheap (import heavy libraries inside the command handlers).
_CLI_EXTENSIONS = ("rustybt.tearsheet", "rustybt.bench.profile", "rustybt.bench.peers")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rustybt", description="Backtests on a Rust engine.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build the demo bundle on first use and run an SMA crossover")
    d.add_argument("--out", help="where to write the perf table (CSV)")
    d.set_defaults(func=cmd_demo)

    ing = sub.add_parser("ingest", help="write a bundle")
    isub = ing.add_subparsers(dest="source", required=True)
    syn = isub.add_parser("synthetic", help="deterministic synthetic OHLCV (GBM)")
    syn.add_argument("--bundle", required=True)
    syn.add_argument("--assets", type=int, required=True)
    syn.add_argument("--start", required=True)
    syn.add_argument("--end", required=True)
    syn.add_argument("--frequency", default="daily", help="daily|minute|1m|5m|15m|1h|1d")
    syn.add_argument("--seed", type=int, default=42)
    syn.add_argument("--calendar", default="XNYS")
    syn.add_argument("--price-scale", type=int, default=4)
    csv = isub.add_parser("csvdir", help="zipline's csvdir layout (daily/SYM.csv, minute/SYM.csv)")
    csv.add_argument("path")
    csv.add_argument("--bundle", required=True)
    csv.add_argument("--frequency", default="daily", help="daily|minute")
    csv.add_argument("--calendar", default="XNYS")
    csv.add_argument("--price-scale", type=int, default=4)
    tab = isub.add_parser("table", help="a long table (CSV or Parquet) with a symbol column")
    tab.add_argument("path")
    tab.add_argument("--bundle", required=True)
    tab.add_argument("--frequency", default="daily", help="daily|minute|1h|...")
    tab.add_argument("--calendar", default="XNYS")
    tab.add_argument("--price-scale", type=int, default=4)
    ing.set_defaults(func=cmd_ingest)

    sub.add_parser("bundles", help="list bundles").set_defaults(func=cmd_bundles)
    bun = sub.add_parser("bundle", help="inspect a bundle")
    bsub = bun.add_subparsers(dest="action", required=True)
    info = bsub.add_parser("info", help="manifest of a bundle")
    info.add_argument("name")
    info.set_defaults(func=cmd_bundle_info)
    clean = bsub.add_parser("clean", help="remove old versions, ingest leftovers and unused caches")
    clean.add_argument("name")
    clean.add_argument("--all", action="store_true", help="remove the bundle itself too")
    clean.set_defaults(func=cmd_bundle_clean)

    bench = sub.add_parser("bench", help="benchmark suite")
    bsub2 = bench.add_subparsers(dest="bench_command", required=True)
    br = bsub2.add_parser("run", help="run benchmark scenarios (each in its own process)")
    br.add_argument(
        "--scenario",
        type=_csv(str),
        default=["W1"],
        help="W1,W1-array,W2,H1,M1,noop,history-only,orders-only,probes,all",
    )
    br.add_argument(
        "--assets", type=_csv(int), help="asset counts, e.g. 10,50 (default: the scenario's)"
    )
    br.add_argument("--ledger", type=_csv(str), default=["decimal"], help="decimal,float")
    br.add_argument("--engine", type=_csv(str), default=["rust"], help="rust,reference")
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

    bd = bsub2.add_parser("data", help="data layer: history latency, aggregation, bundle open")
    bd.add_argument("--quick", action="store_true", help="small sizes: checks it runs, not speed")
    bd.set_defaults(func=cmd_bench_data)

    r = sub.add_parser("run", help="run a strategy file")
    add_run_options(r)
    r.add_argument(
        "--out", help="save the Results here (a directory), or the perf table if it ends in .csv"
    )
    r.set_defaults(func=cmd_run)
    for module_name in _CLI_EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register_cli(sub, bsub2)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StrategyError as exc:
        cause = exc.__cause__
        if cause is not None:
            traceback.print_exception(type(cause), cause, cause.__traceback__, file=sys.stderr)
        err_console.print(f"[red]error:[/red] {exc}")
        return 1
    except RustyBTError as exc:
        err_console.print(f"[red]error ({type(exc).__name__}):[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
