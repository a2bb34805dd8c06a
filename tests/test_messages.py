"""Every message of the command line says what was wrong, where, and what to do: a bad
option value is a usage error naming the option and the value (exit code 2, no traceback);
a strategy's error shows the strategy's own frames and the bar it happened at (exit code
1); any other RustyBTError is one line (exit code 2); a bug in rustybt says so (exit code
3) and ``--traceback`` / RUSTYBT_TRACEBACK=1 shows everything."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rustybt.app.cli import main

SYNTHETIC = ["ingest", "synthetic", "--bundle", "msg", "--assets", "2"]
SPAN = ["--start", "2022-01-03", "--end", "2022-01-31"]

NOOP = """
import rustybt

class Noop(rustybt.TradingAlgorithm):
    pass
"""


def usage_error(argv: list[str], capsys) -> str:
    """Run ``argv``, expecting argparse's usage error; its stderr."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return captured.err


@pytest.mark.parametrize(
    ("argv", "option", "value", "allowed"),
    [
        ([*SYNTHETIC, *SPAN, "--price-scale", "-1"], "--price-scale", "'-1'", "from 2 to 8"),
        ([*SYNTHETIC, *SPAN, "--price-scale", "20"], "--price-scale", "'20'", "from 2 to 8"),
        ([*SYNTHETIC, *SPAN, "--seed", "-1"], "--seed", "'-1'", ">= 0"),
        ([*SYNTHETIC, *SPAN, "--seed", "1.5"], "--seed", "'1.5'", "whole number"),
        ([*SYNTHETIC[:-1], "0", *SPAN], "--assets", "'0'", ">= 1"),
        ([*SYNTHETIC[:-1], "many", *SPAN], "--assets", "'many'", ">= 1"),
        (
            [*SYNTHETIC, "--start", "2022-13-45", "--end", "2022-01-31"],
            "--start",
            "'2022-13-45'",
            "YYYY-MM-DD",
        ),
        (
            [*SYNTHETIC, "--start", "2022-01-03", "--end", "tomorrow"],
            "--end",
            "'tomorrow'",
            "YYYY-MM-DD",
        ),
        (
            ["ingest", "csvdir", "somewhere", "--bundle", "m", "--price-scale", "13"],
            "--price-scale",
            "'13'",
            "from 0 to 12",
        ),
        (
            ["ingest", "table", "t.csv", "--bundle", "m", "--price-scale", "-1"],
            "--price-scale",
            "'-1'",
            "from 0 to 12",
        ),
        (["run", "s.py", "--bundle", "b", "--start", "2022-02-30"], "--start", "'2022-02-30'", "YYYY-MM-DD"),
        (["run", "s.py", "--bundle", "b", "--end", "2022/01/31"], "--end", "'2022/01/31'", "YYYY-MM-DD"),
        (["run", "s.py", "--bundle", "b", "--capital-base", "-5"], "--capital-base", "'-5'", "positive"),
        (["run", "s.py", "--bundle", "b", "--capital-base", "0"], "--capital-base", "'0'", "positive"),
        (["run", "s.py", "--bundle", "b", "--capital-base", "nan"], "--capital-base", "'nan'", "positive"),
        (["run", "s.py", "--bundle", "b", "--capital-base", "lots"], "--capital-base", "'lots'", "positive"),
        (["profile", "s.py", "--bundle", "b", "--capital-base", "-1"], "--capital-base", "'-1'", "positive"),
        (["bench", "run", "--assets", "10,0"], "--assets", "'10,0'", ">= 1"),
        (["bench", "run", "--assets", "10,x"], "--assets", "'10,x'", "comma-separated"),
    ],
)  # fmt: skip
def test_a_bad_option_value_is_a_usage_error_naming_option_and_value(
    argv, option, value, allowed, capsys
):
    err = usage_error(argv, capsys)
    lines = err.strip().splitlines()
    assert len(lines) == 2, err  # a short usage line and the error
    assert lines[0].startswith("usage: rustybt ")
    assert lines[1].startswith("rustybt ") and ": error: argument " in lines[1]
    assert option in lines[1] and value in lines[1] and allowed in lines[1]


@pytest.mark.parametrize("command", [SYNTHETIC, ["run", "s.py", "--bundle", "b"]])
def test_end_before_start_is_a_usage_error(command, capsys):
    err = usage_error([*command, "--start", "2022-03-01", "--end", "2022-02-01"], capsys)
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith("error: --end 2022-02-01 is before --start 2022-03-01")
    )


def test_a_missing_argument_names_it_on_one_usage_line(capsys):
    err = usage_error(["run", "s.py"], capsys)
    lines = err.strip().splitlines()
    assert lines == [
        "usage: rustybt run STRATEGY --bundle BUNDLE|--bundle-path DIR [options]  "
        "(`rustybt run -h` for help)",
        "rustybt run: error: one of the arguments --bundle --bundle-path is required",
    ]


def test_from_a_fresh_process_a_bad_value_prints_no_traceback(tmp_path):
    """The command that used to end in OverflowError's traceback."""
    env = {**os.environ, "RUSTYBT_ROOT": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "rustybt", *SYNTHETIC, *SPAN, "--price-scale", "-1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "OverflowError" not in proc.stderr
    assert "argument --price-scale: expected a whole number from 2 to 8, got '-1'" in proc.stderr
    assert not (tmp_path / "bundles" / "msg").exists()


def test_a_valid_command_line_still_runs(tmp_path, capsys):
    assert main([*SYNTHETIC, *SPAN, "--seed", "0", "--price-scale", "2"]) == 0
    path = tmp_path / "noop.py"
    path.write_text(NOOP)
    argv = ["run", str(path), "--bundle", "msg", "--start", "2022-01-10", "--end", "2022-01-10"]
    assert main([*argv, "--capital-base", "1e4"]) == 0
    assert "final value" in capsys.readouterr().out


def test_a_rustybt_error_is_one_line(capsys):
    assert main(["bundle", "info", "no-such-bundle"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error (BundleNotFound): no bundle 'no-such-bundle' in ")
    assert "Traceback" not in captured.out + captured.err


def test_a_long_rustybt_error_is_not_wrapped(tmp_path, capsys):
    deep = tmp_path.joinpath(*["a-long-directory-name"] * 6, "strategy.py")
    assert main(["run", str(deep), "--bundle", "b"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"strategy file {deep} does not exist" in err


def write(tmp_path, text: str):
    path = tmp_path / "strategy.py"
    path.write_text(text)
    return str(path)


RAISES = """
import rustybt

def rebalance_weights(n):
    return 1 / (n - n)

class Raises(rustybt.TradingAlgorithm):
    def initialize(self, context):
        context.n = 0

    def handle_data(self, context, data):
        context.n += 1
        if context.n == 3:
            rebalance_weights(context.n)
"""


def test_a_strategy_error_shows_the_strategys_frames_and_the_session(hand_bundle, tmp_path, capsys):
    assert main(["run", write(tmp_path, RAISES), "--bundle", hand_bundle.name]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n")
    # the user's frames, down to the line that raised
    assert "in handle_data\n    rebalance_weights(context.n)" in err
    assert "in rebalance_weights\n    return 1 / (n - n)" in err
    assert "ZeroDivisionError: division by zero" in err
    # the session it happened at (the third of 2022-01-03..07)
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "error (StrategyError): handle_data raised ZeroDivisionError at 2022-01-05"
    )
    # rustybt's own frames are trimmed
    assert "runner.py" not in err and "cli.py" not in err


BAD_ORDER = """
import rustybt

class BadOrder(rustybt.TradingAlgorithm):
    def initialize(self, context):
        context.n = 0

    def handle_data(self, context, data):
        context.n += 1
        if context.n == 4:
            self.order(self.symbol("AAA"), float("nan"))
"""


def test_a_rule_broken_by_the_strategy_says_where_and_when(hand_bundle, tmp_path, capsys):
    """BadOrderParameters passes through the engine unwrapped: the command line still
    shows the strategy's line and the bar."""
    assert main(["run", write(tmp_path, BAD_ORDER), "--bundle", hand_bundle.name]) == 1
    err = capsys.readouterr().err
    assert 'in handle_data\n    self.order(self.symbol("AAA"), float("nan"))' in err
    assert "algorithm.py" not in err and "runner.py" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error (BadOrderParameters) in handle_data at 2022-01-06")
    assert "(bar 3)" in last and "got NaN" in last


ORDER_IN_INITIALIZE = """
from rustybt.api import order, symbol

def initialize(context):
    order(symbol("AAA"), 1)
"""


def test_a_function_style_error_in_initialize(hand_bundle, tmp_path, capsys):
    assert main(["run", write(tmp_path, ORDER_IN_INITIALIZE), "--bundle", hand_bundle.name]) == 1
    err = capsys.readouterr().err
    assert 'in initialize\n    order(symbol("AAA"), 1)' in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            "error (OrderDuringInitialize) in initialize: orders cannot be placed in initialize"
        )
    )


MARKUP = """
import rustybt

class Markup(rustybt.TradingAlgorithm):
    def handle_data(self, context, data):
        raise ValueError("weights [red] and [bold]x[/bold] must sum to 1")
"""


def test_brackets_in_a_message_are_printed_as_written(hand_bundle, tmp_path, capsys):
    assert main(["run", write(tmp_path, MARKUP), "--bundle", hand_bundle.name]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith("weights [red] and [bold]x[/bold] must sum to 1")


@pytest.mark.parametrize("how", ["option-last", "option-first", "env"])
def test_traceback_option_shows_rustybts_frames_too(
    how, hand_bundle, tmp_path, capsys, monkeypatch
):
    argv = ["run", write(tmp_path, BAD_ORDER), "--bundle", hand_bundle.name]
    if how == "option-last":
        argv.append("--traceback")
    elif how == "option-first":
        argv.insert(0, "--traceback")
    else:
        monkeypatch.setenv("RUSTYBT_TRACEBACK", "1")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("Traceback (most recent call last):") == 1
    assert "runner.py" in err and "algorithm.py" in err and "in handle_data" in err
    assert err.strip().splitlines()[-1].startswith("error (BadOrderParameters) in handle_data")


def test_a_bug_in_rustybt_says_so_and_how_to_see_the_traceback(capsys, monkeypatch):
    import rustybt

    def broken(name):
        raise RuntimeError("unexpected state in the bundle cache")

    monkeypatch.setattr(rustybt, "load_bundle", broken)
    assert main(["bundle", "info", "anything"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("internal error (RuntimeError): unexpected state in the bundle cache\n")
    assert "rerun with --traceback (or RUSTYBT_TRACEBACK=1)" in err
    assert main(["bundle", "info", "anything", "--traceback"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err and "in broken" in err
    assert "internal error (RuntimeError)" in err


def test_an_error_importing_the_strategy_file_shows_its_line(hand_bundle, tmp_path, capsys):
    path = write(tmp_path, "import rustybt\n\nWINDOW = undefined_name + 1\n")
    assert main(["run", path, "--bundle", hand_bundle.name]) == 1
    err = capsys.readouterr().err
    assert "in <module>\n    WINDOW = undefined_name + 1" in err and "importlib" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"error (StrategyError): importing {path} raised NameError")
    )
    write(tmp_path, "def initialize(context)\n    pass\n")
    assert main(["run", path, "--bundle", hand_bundle.name]) == 1
    err = capsys.readouterr().err
    assert f'File "{path}", line 1' in err and "def initialize(context)" in err
    assert "SyntaxError" in err.strip().splitlines()[-1]
