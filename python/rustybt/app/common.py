"""What the command line shares with the commands registered from elsewhere (the tear
sheet's ``rustybt report``, the tooling's ``rustybt bench`` and ``rustybt profile``): the
consoles, ``rustybt run``'s options, strategy-file loading and argument parsers.

Imports stay cheap: the command line imports this module on every invocation.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import math
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console

from rustybt.errors import InvalidRunParameters, StrategyError

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
# soft_wrap: an error is one line however long, not cut at the terminal's width
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def add_run_options(parser) -> None:
    """The options that say which backtest to run: ``rustybt run``'s, and ``rustybt
    profile``'s."""
    parser.add_argument(
        "strategy", help="a .py file with a TradingAlgorithm subclass or zipline functions"
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--bundle", metavar="BUNDLE", help="a bundle's name (or a path with a separator)"
    )
    where.add_argument(
        "--bundle-path",
        type=Path,
        dest="bundle",
        metavar="DIR",
        help="a bundle's directory, as a path",
    )
    parser.add_argument("--start", type=date_text, help="first session, YYYY-MM-DD")
    parser.add_argument("--end", type=date_text, help="last session, YYYY-MM-DD")
    parser.add_argument("--capital-base", type=positive_number, default=1_000_000.0)
    parser.add_argument("--data-frequency")
    parser.add_argument("--ledger", choices=("decimal", "float"), default="decimal")
    parser.add_argument("--algorithm", help="class name, when the file defines several")
    parser.add_argument("--param", action="append", type=_param, help="NAME=VALUE (repeatable)")
    parser.set_defaults(_span_parser=parser)


def _param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param takes NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name.strip(), value


# Argument types. argparse prefixes their messages with the option ("argument --seed: "),
# so each message says what is allowed and repeats the value given; a bad value is a usage
# error (exit code 2), never a traceback.


def _bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def integer(minimum: int | None = None, maximum: int | None = None, allowed: str | None = None):
    """An argparse ``type``: a whole number from ``minimum`` to ``maximum`` (inclusive);
    ``allowed`` says so in its error message (default: "a whole number from 2 to 8")."""
    allowed = allowed or f"a whole number{_bounds(minimum, maximum)}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def positive_number(text: str) -> float:
    """An argparse ``type``: a finite number above zero (``--capital-base``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def date_text(text: str) -> str:
    """An argparse ``type``: a date, ``YYYY-MM-DD`` (a time after it is allowed). Returns
    the text unchanged; :func:`parse_date` reads it."""
    try:
        parse_date(text)
    except ValueError as exc:
        reason = str(exc)
        detail = "" if "isoformat" in reason else f" ({reason})"
        raise argparse.ArgumentTypeError(
            f"expected a date as YYYY-MM-DD, got {text!r}{detail}"
        ) from None
    return text


def parse_date(text: str) -> datetime:
    """The datetime of a :func:`date_text` value (ValueError if it is not one)."""
    return datetime.fromisoformat(text.strip())


def check_span(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (exit code 2) when ``--end`` is before ``--start``."""
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    if start and end and parse_date(end).date() < parse_date(start).date():
        parser.error(f"--end {end} is before --start {start}")


def csv_list(kind, minimum: int | None = 1):
    """An argparse ``type`` for a comma-separated list of ``kind`` (``--assets 10,50``).
    Numbers must be at least ``minimum`` (1: the lists of numbers are counts)."""
    name = getattr(kind, "__name__", "value")

    def parse(text: str):
        try:
            values = [kind(x.strip()) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {name}, got {text!r}"
            ) from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one {name}, got {text!r}")
        if minimum is not None:
            low = [v for v in values if isinstance(v, int | float) and v < minimum]
            if low:
                raise argparse.ArgumentTypeError(
                    f"expected {name}s >= {minimum}, got {low[0]!r} in {text!r}"
                )
        return values

    return parse


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
