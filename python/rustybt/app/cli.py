"""The ``rustybt`` command line.

rustybt demo
rustybt ingest synthetic --bundle NAME --assets N --start DATE --end DATE [--frequency daily]
rustybt ingest csvdir PATH --bundle NAME [--frequency daily]
rustybt bundles
rustybt bundle info NAME
rustybt run STRATEGY.py --bundle NAME [--start DATE] [--end DATE] [--capital-base X]
rustybt report RESULTS [--out FILE]

Other packages add commands through the ``rustybt.commands`` entry-point group: the
developer tooling's ``rustybt bench ...`` and ``rustybt profile ...`` come that way (this
module never imports :mod:`rustybt.tooling`).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from rich.table import Table

from rustybt.app import tearsheet
from rustybt.app.common import (
    add_run_options,
    console,
    err_console,
    load_strategy_file,
)
from rustybt.errors import RustyBTError, StrategyError

__all__ = [
    "COMMANDS_GROUP",
    "DEMO_BUNDLE",
    "DEMO_SPEC",
    "build_parser",
    "load_strategy_file",
    "main",
    "summarize",
    "write_perf_table",
]

DEMO_BUNDLE = "rustybt-demo"
DEMO_SPEC = {"assets": 20, "start": "2022-01-03", "end": "2023-12-29", "seed": 42}

#: The entry-point group of commands added by other packages. Each entry point names a
#: function ``register(sub)`` that adds its parser to the top-level subparsers ``sub``.
#: rustybt's own pyproject.toml declares the tooling's ``bench`` and ``profile`` here.
COMMANDS_GROUP = "rustybt.commands"

#: The commands rustybt's tooling provides through :data:`COMMANDS_GROUP`: named here only
#: to say why they are missing when the group has no entry for them.
TOOLING_COMMANDS = ("bench", "profile")


def _tool_commands() -> list:
    """The entry points of :data:`COMMANDS_GROUP`, by name (the first of a name wins)."""
    from importlib.metadata import entry_points

    found: dict = {}
    for ep in entry_points(group=COMMANDS_GROUP):
        found.setdefault(ep.name, ep)
    return [found[name] for name in sorted(found)]


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
    from rustybt.app.examples.sma_crossover import SmaCross
    from rustybt.bundles import root
    from rustybt.errors import BundleNotFound

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
    leased = removed.pop("leased", [])
    for kind, names in removed.items():
        for n in names:
            console.print(f"removed {kind[:-1]} {n}")
    for n in leased:
        console.print(f"kept version {n}: open in a running backtest, search or notebook")
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

    r = sub.add_parser("run", help="run a strategy file")
    add_run_options(r)
    r.add_argument(
        "--out", help="save the Results here (a directory), or the perf table if it ends in .csv"
    )
    r.set_defaults(func=cmd_run)
    tearsheet.register_cli(sub)
    for ep in _tool_commands():
        if ep.name not in sub.choices:
            ep.load()(sub)
    return p


def _missing_tool_command(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The tooling command ``argv`` asks for when no entry point provides it, else None."""
    if not argv or argv[0] not in TOOLING_COMMANDS:
        return None
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return None if argv[0] in sub.choices else argv[0]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    missing = _missing_tool_command(parser, argv)
    if missing is not None:
        err_console.print(
            f"[red]error:[/red] `rustybt {missing}` is not available: it is a developer-tooling "
            f"command, found through the '{COMMANDS_GROUP}' entry points, and no installed "
            "package declares it (reinstall rustybt, e.g. `pip install -e .` in a checkout, to "
            "refresh its entry points)"
        )
        return 2
    args = parser.parse_args(argv)
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
