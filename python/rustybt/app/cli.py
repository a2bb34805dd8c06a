"""The ``rustybt`` command line.

rustybt demo
rustybt ingest synthetic --bundle NAME --assets N --start DATE --end DATE [--frequency daily]
rustybt ingest csvdir PATH --bundle NAME [--frequency daily]
rustybt bundles
rustybt bundle info NAME
rustybt run STRATEGY.py --bundle NAME [--start DATE] [--end DATE] [--capital-base X]
rustybt report RESULTS [--out FILE]

A bad option value is a usage error (exit code 2). An error in the strategy prints the
strategy's frames and the bar it happened at (exit code 1); any other error is one line
(exit code 2, or 3 for a bug in rustybt). ``--traceback`` anywhere on the line, or
RUSTYBT_TRACEBACK=1, prints the full traceback.

Other packages add commands through the ``rustybt.commands`` entry-point group: the
developer tooling's ``rustybt bench ...`` and ``rustybt profile ...`` come that way (this
module never imports :mod:`rustybt.tooling`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from rustybt.app import tearsheet
from rustybt.app.common import (
    add_run_options,
    check_span,
    console,
    date_text,
    err_console,
    integer,
    load_strategy_file,
)
from rustybt.errors import InternalError, RustyBTError, StrategyError
from rustybt.stats import figure

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
TOOLING_COMMANDS = ("bench", "profile", "fuzz")

ALLOW_GAPS_HELP = "accept rows of a symbol more than a year apart (refused by default)"
PRICE_SCALE_HELP = "decimal places kept (0..12); a price with more is refused unless --round-prices"

#: Set to 1 for the full traceback of every error (as ``--traceback`` does).
TRACEBACK_ENV = "RUSTYBT_TRACEBACK"

#: Exit codes: a usage error or a RustyBTError about the request (bad bundle, dates,
#: data) is 2, as argparse's; the strategy failing (its code raised, or it broke a rule
#: such as ordering in initialize) is 1; a bug in rustybt (InternalError, or any other
#: exception escaping a command) is 3; Ctrl-C is 130.
EXIT_STRATEGY, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130


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
        "sharpe": figure(last["sharpe"]),
        "max drawdown": figure(last["max_drawdown"]),
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
    else:
        ingest = rustybt.ingest_table if args.source == "table" else rustybt.ingest_csvdir
        bundle = ingest(
            args.path,
            args.bundle,
            frequency=args.frequency,
            calendar=args.calendar,
            price_scale=args.price_scale,
            allow_gaps=args.allow_gaps,
            round_prices=_round_option(args.round_prices, args.tick_size),
            drop_non_sessions=args.drop_non_sessions,
            lot_size=_per_symbol("lot-size", args.lot_size),
        )
    console.print(f"ingested {bundle!r} in {time.perf_counter() - t:.2f} s at {bundle.path}")
    report = getattr(bundle, "ingest_report", None)
    if report and any(report.values()):
        console.print(
            f"  {report['rounded_prices']} prices rounded to {args.price_scale} places"
            f"{' and their ticks' if args.tick_size else ''}, "
            f"{report['dropped_rows']} rows on non-session dates dropped"
        )
    return 0


def _per_symbol(option: str, values: list[str] | None):
    """``--OPTION SIZE`` (every asset) or ``--OPTION SYMBOL=SIZE`` (repeatable): the size,
    a mapping of symbol to size, or None."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    sizes = {}
    for v in values:
        symbol, sep, size = v.partition("=")
        if not sep or not symbol:
            raise SystemExit(f"--{option} takes SIZE or SYMBOL=SIZE, got {v!r}")
        sizes[symbol] = size
    return sizes


def _round_option(round_prices: bool, ticks: list[str] | None):
    """``--round-prices`` and ``--tick-size``: what ``round_prices=`` takes."""
    return _per_symbol("tick-size", ticks) or round_prices


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


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are two lines: a short usage and the error.
    Subcommand parsers (also those added through entry points) are of this class too."""

    def short_usage(self) -> str:
        positionals, required, optional = [], [], False
        # a required choice between options (--bundle NAME | --bundle-path DIR) shows as one
        grouped = {}
        for group in self._mutually_exclusive_groups:
            if group.required:
                names = [
                    f"{a.option_strings[-1]} {a.metavar or a.dest.upper()}"
                    for a in group._group_actions
                ]
                for a in group._group_actions:
                    grouped[id(a)] = "|".join(names)
        for action in self._actions:
            if id(action) in grouped:
                if grouped[id(action)] not in required:
                    required.append(grouped[id(action)])
                continue
            if isinstance(action, argparse._SubParsersAction):
                positionals.append("{" + ",".join(action.choices) + "} ...")
            elif not action.option_strings:
                positionals.append(str(action.metavar or action.dest).upper())
            elif action.required:
                required.append(f"{action.option_strings[-1]} {action.dest.upper()}")
            elif not isinstance(action, argparse._HelpAction):
                optional = True
        words = [self.prog, *positionals, *required] + (["[options]"] if optional else [])
        return f"usage: {' '.join(words)}  (`{self.prog} -h` for help)"

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.short_usage()}\n{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rustybt", description="Backtests on a Rust engine.")
    p.add_argument(
        "--traceback",
        action="store_true",
        help="on an error, print the full traceback (rustybt's frames too); accepted "
        f"anywhere on the line, or set {TRACEBACK_ENV}=1",
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build the demo bundle on first use and run an SMA crossover")
    d.add_argument("--out", help="where to write the perf table (CSV)")
    d.set_defaults(func=cmd_demo)

    ing = sub.add_parser("ingest", help="write a bundle")
    isub = ing.add_subparsers(dest="source", required=True)
    syn = isub.add_parser("synthetic", help="deterministic synthetic OHLCV (GBM)")
    syn.add_argument("--bundle", required=True)
    syn.add_argument("--assets", type=integer(1), required=True)
    syn.add_argument("--start", type=date_text, required=True, help="YYYY-MM-DD")
    syn.add_argument("--end", type=date_text, required=True, help="YYYY-MM-DD")
    syn.add_argument("--frequency", default="daily", help="daily|minute|1m|5m|15m|1h|1d")
    syn.add_argument(
        "--seed", type=integer(0, 2**64 - 1, "a whole number >= 0 (below 2**64)"), default=42
    )
    syn.add_argument("--calendar", default="XNYS")
    syn.add_argument(
        "--price-scale", type=integer(2, 8), default=4, help="decimal places kept (2..8)"
    )
    syn.set_defaults(_span_parser=syn)
    csv = isub.add_parser("csvdir", help="zipline's csvdir layout (daily/SYM.csv, minute/SYM.csv)")
    tab = isub.add_parser("table", help="a long table (CSV or Parquet) with a symbol column")
    for parser, frequencies in ((csv, "daily|minute"), (tab, "daily|minute|1h|...")):
        parser.add_argument("path")
        parser.add_argument("--bundle", required=True)
        parser.add_argument("--frequency", default="daily", help=frequencies)
        parser.add_argument("--calendar", default="XNYS")
        parser.add_argument("--price-scale", type=integer(0, 12), default=4, help=PRICE_SCALE_HELP)
        parser.add_argument("--allow-gaps", action="store_true", help=ALLOW_GAPS_HELP)
        parser.add_argument(
            "--round-prices",
            action="store_true",
            help="round prices with more places than --price-scale, half to even (counted)",
        )
        parser.add_argument(
            "--drop-non-sessions",
            action="store_true",
            help="leave out rows on dates that are not the calendar's sessions (counted)",
        )
        parser.add_argument(
            "--tick-size",
            action="append",
            metavar="[SYMBOL=]SIZE",
            help="round prices half to even to this tick (after --price-scale; counted): "
            "for every asset, or SYMBOL=SIZE (repeatable)",
        )
        parser.add_argument(
            "--lot-size",
            action="append",
            metavar="[SYMBOL=]SIZE",
            help="smallest tradable quantity, a power of ten (e.g. 0.0001): for every "
            "asset, or SYMBOL=SIZE (repeatable); default whole shares",
        )
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


def _wants_traceback(argv: list[str]) -> bool:
    """Whether the full traceback is asked for: ``--traceback`` anywhere before a ``--``
    (removed from ``argv``, so each command need not declare it), or $RUSTYBT_TRACEBACK."""
    stop = argv.index("--") if "--" in argv else len(argv)
    found = "--traceback" in argv[:stop]
    argv[:stop] = [a for a in argv[:stop] if a != "--traceback"]
    return found or os.environ.get(TRACEBACK_ENV, "").strip().lower() in ("1", "true", "yes")


def _is_internal(path: str, strategy: Path | None) -> bool:
    """A frame of rustybt itself, or of the import machinery, not of the user's code."""
    if path.startswith("<"):
        return True
    file = Path(path).resolve()
    if strategy is not None and file == strategy:
        return False
    return file.is_relative_to(_PACKAGE_DIR)


_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _user_frames(tb, strategy: Path | None) -> traceback.StackSummary | None:
    """The frames of ``tb`` from the first in the user's code to the last in it (rustybt's
    around them trimmed), or None when no frame is the user's."""
    stack = traceback.extract_tb(tb)
    user = [i for i, f in enumerate(stack) if not _is_internal(f.filename, strategy)]
    if not user:
        return None
    return traceback.StackSummary.from_list(stack[user[0] : user[-1] + 1])


def _where_in_run(tb) -> str | None:
    """For an exception raised while ``rustybt.runner`` ran a backtest: the callback and
    bar it was in (``"handle_data at 2022-01-05T21:00:00Z (bar 2)"``), from the run's
    algorithm; None when not in a run."""
    from rustybt import runner

    algo = None
    while tb is not None:
        if tb.tb_frame.f_code is runner._run.__code__:
            algo = tb.tb_frame.f_locals.get("algo")
        tb = tb.tb_next
    try:
        sim, bundle = algo._sim, algo._bundle
        phase = sim.phase
        if phase in ("initialize", "analyze"):
            return phase
        when = bundle.bar_times[sim.current_bar].strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{phase} at {when} (bar {sim.current_bar})"
    except Exception:  # not in a run, or before the clock started
        return None


def _print_user_traceback(exc: BaseException, frames: traceback.StackSummary) -> None:
    te = traceback.TracebackException(type(exc), exc, None, compact=True)
    te.stack = frames
    sys.stderr.write("".join(te.format(chain=False)))
    sys.stderr.flush()


def _report(exc: Exception, args, full: bool) -> int:
    """Print ``exc`` for the user and return the exit code.

    The strategy's own errors show the strategy's frames (rustybt's trimmed) and where in
    the run they happened; every other error is one line, ``error (Class): message``. With
    ``full``, Python's whole traceback comes first."""
    strategy = getattr(args, "strategy", None)
    strategy = Path(strategy).resolve() if strategy else None
    name = type(exc).__name__
    if full:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, StrategyError):
        # the strategy's code raised: the message says which callback and when
        cause = exc.__cause__
        frames = _user_frames(cause.__traceback__, strategy) if cause is not None else None
        if frames is not None and not full:
            _print_user_traceback(cause, frames)
        elif isinstance(cause, SyntaxError) and not full:  # the file, line and a caret
            sys.stderr.write("".join(traceback.format_exception_only(cause)))
        err_console.print(f"[red]error ({name}):[/red] {escape(str(exc))}")
        return EXIT_STRATEGY
    frames = _user_frames(exc.__traceback__, strategy)
    if isinstance(exc, RustyBTError) and not isinstance(exc, InternalError):
        if frames is None:  # about the request: the bundle, dates, files, ...
            err_console.print(f"[red]error ({name}):[/red] {escape(str(exc))}")
            return EXIT_USAGE
        # the strategy broke one of rustybt's rules (an order in initialize, a bad amount)
        if not full:
            _print_user_traceback(exc, frames)
        where = _where_in_run(exc.__traceback__)
        place = f" in {where}" if where else ""
        err_console.print(f"[red]error ({name}){escape(place)}:[/red] {escape(str(exc))}")
        return EXIT_STRATEGY
    if isinstance(exc, OSError):  # a file we cannot read or write: not a bug
        err_console.print(f"[red]error ({name}):[/red] {escape(str(exc))}")
        return EXIT_STRATEGY
    err_console.print(
        f"[red]internal error ({name}):[/red] {escape(str(exc))}\n"
        + (
            "This is a bug in rustybt: please report it with the traceback above."
            if full
            else f"This is a bug in rustybt: rerun with --traceback (or {TRACEBACK_ENV}=1) "
            "and report it with the traceback."
        )
    )
    return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    full = _wants_traceback(argv)
    missing = _missing_tool_command(parser, argv)
    if missing is not None:
        err_console.print(
            f"[red]error:[/red] `rustybt {missing}` is not available: it is a developer-tooling "
            f"command, found through the '{COMMANDS_GROUP}' entry points, and no installed "
            "package declares it (reinstall rustybt, e.g. `pip install -e .` in a checkout, to "
            "refresh its entry points)"
        )
        return EXIT_USAGE
    args = parser.parse_args(argv)
    check_span(getattr(args, "_span_parser", parser), args)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _report(exc, args, full)


if __name__ == "__main__":
    sys.exit(main())
