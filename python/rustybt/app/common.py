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
import sys
from pathlib import Path

from rich.console import Console

from rustybt.errors import InvalidRunParameters, StrategyError

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, highlight=False)


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


def csv_list(kind):
    """An argparse ``type`` for a comma-separated list of ``kind`` (``--assets 10,50``)."""

    def parse(text: str):
        try:
            return [kind(x) for x in text.split(",") if x]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list, got {text!r}"
            ) from None

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
