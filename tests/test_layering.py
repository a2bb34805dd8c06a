"""The package's layers: library <- application (rustybt.app) <- tooling (rustybt.tooling).

import-linter checks them statically (the contracts are in pyproject.toml): it passes on the
tree and fails when a library module imports the command line. The rest checks the two
run-time lookups that replace upward imports: the command line finds the tooling's
commands through the ``rustybt.commands`` entry points, and ``Results.tearsheet()`` finds
the tear sheet through a registration or the ``rustybt.renderers`` entry point.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import rustybt
from rustybt.app import cli
from rustybt.errors import RustyBTError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "rustybt"
PYPROJECT = ROOT / "pyproject.toml"

LINT = (
    "import sys\n"
    "from importlinter.cli import lint_imports_command\n"
    "sys.argv[0] = 'lint-imports'\n"
    "sys.exit(lint_imports_command())\n"
)


def lint_imports(package_parent: Path, config: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the ``rustybt`` package found in ``package_parent``, with the
    contracts of ``config`` (a pyproject.toml, read from its directory)."""
    try:
        import importlinter  # noqa: F401
    except ImportError:
        pytest.fail(
            "import-linter is not installed (it is in the test extra: pip install -e '.[test]')"
        )
    env = dict(os.environ, PYTHONPATH=str(package_parent), NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_layering_holds_on_the_tree():
    assert Path(rustybt.__file__).resolve().parent == PACKAGE.resolve()
    out = lint_imports(PACKAGE.parent, PYPROJECT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def _copy_with(tmp_path: Path, fixtures: dict[str, str]) -> Path:
    """The package and pyproject.toml copied under ``tmp_path``, plus ``fixtures``
    (path inside the package -> source)."""
    shutil.copytree(
        PACKAGE, tmp_path / "rustybt", ignore=shutil.ignore_patterns("__pycache__", "*.so")
    )
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    for rel, source in fixtures.items():
        (tmp_path / "rustybt" / rel).write_text(source)
    return tmp_path / "pyproject.toml"


@pytest.mark.parametrize(
    ("fixtures", "named"),
    [
        # a library module imports the command line
        (
            {"finance/_layering_fixture.py": "import rustybt.app.cli\n"},
            ["rustybt.finance._layering_fixture -> rustybt.app.cli"],
        ),
        # ... inside a function (as results.py once imported the tear sheet)
        (
            {
                "optimize/_layering_fixture.py": (
                    "def show():\n    from rustybt.app.cli import main\n\n    return main\n"
                )
            },
            ["rustybt.optimize._layering_fixture -> rustybt.app.cli (l.2)"],
        ),
        # the application imports the tooling
        (
            {"app/_layering_fixture.py": "from rustybt.tooling import profile\n"},
            ["rustybt.app._layering_fixture -> rustybt.tooling.profile"],
        ),
        # a new top-level module must be given a layer (the contract is exhaustive)
        (
            {"_layering_fixture.py": "import rustybt.app.cli\n"},
            ["rustybt._layering_fixture"],
        ),
    ],
    ids=["library-imports-cli", "in-a-function", "app-imports-tooling", "unlisted-module"],
)
def test_layering_check_fails_on_an_upward_import(tmp_path, fixtures, named):
    config = _copy_with(tmp_path, fixtures)
    out = lint_imports(tmp_path, config)
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "BROKEN" in text
    for what in named:
        assert what in text, text


def test_the_package_root_may_not_import_the_application(tmp_path):
    config = _copy_with(tmp_path, {})
    init = tmp_path / "rustybt" / "__init__.py"
    init.write_text(init.read_text() + "from rustybt.app.common import console\n")
    out = lint_imports(tmp_path, config)
    assert out.returncode != 0
    assert "rustybt -> rustybt.app.common" in out.stdout


def test_the_library_loads_neither_the_application_nor_the_tooling():
    code = (
        "import sys, rustybt, rustybt.api, rustybt.optimize, rustybt.reference\n"
        "loaded = [m for m in sys.modules if m.startswith(('rustybt.app', 'rustybt.tooling'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ---- the command line finds the tooling only through entry points ---------------------------


class FakeEntryPoint:
    def __init__(self, name, register):
        self.name, self._register = name, register

    def load(self):
        return self._register


def test_tool_commands_come_from_the_entry_points(monkeypatch, capsys):
    seen = []

    def register(sub):
        p = sub.add_parser("fake-tool", help="a command from an entry point")
        p.add_argument("--x", type=int)
        p.set_defaults(func=lambda args: seen.append(args.x) or 0)

    monkeypatch.setattr(cli, "_tool_commands", lambda: [FakeEntryPoint("fake-tool", register)])
    assert cli.main(["fake-tool", "--x", "7"]) == 0
    assert seen == [7]


def test_without_entry_points_the_tooling_commands_are_absent(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_tool_commands", list)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert not {"bench", "profile"} & set(sub.choices)
    assert {"run", "report", "demo"} <= set(sub.choices)
    for command in ("bench", "profile"):
        assert cli.main([command, "run", "--quick"]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"`rustybt {command}` is not available" in err
        assert "rustybt.commands" in err


def _declared(group: str) -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return project["entry-points"][group]


def test_pyproject_declares_the_tooling_commands(monkeypatch, capsys):
    """What an install puts in the entry points: ``rustybt bench`` and ``rustybt profile``
    work through them (the real lookup needs a (re)install to see pyproject's table)."""
    declared = _declared(cli.COMMANDS_GROUP)
    assert set(declared) == set(cli.TOOLING_COMMANDS)
    eps = [EntryPoint(name, value, cli.COMMANDS_GROUP) for name, value in declared.items()]
    monkeypatch.setattr(cli, "_tool_commands", lambda: eps)
    for argv in (["bench", "--help"], ["bench", "peers", "--help"], ["profile", "--help"]):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 0
        assert f"usage: rustybt {' '.join(argv[:-1])}" in capsys.readouterr().out


# ---- Results.tearsheet() finds the tear sheet through a registration or an entry point -------


def test_pyproject_declares_the_tearsheet_renderer():
    from rustybt.app.tearsheet import write_tearsheet
    from rustybt.results import RENDERERS_GROUP

    declared = _declared(RENDERERS_GROUP)
    assert EntryPoint("tearsheet", declared["tearsheet"], RENDERERS_GROUP).load() is write_tearsheet


def test_results_tearsheet_without_a_renderer_says_so(monkeypatch):
    from rustybt import results

    monkeypatch.setattr(results, "_renderers", {})
    monkeypatch.setattr("importlib.metadata.entry_points", lambda **kw: [])
    with pytest.raises(RustyBTError, match="no 'tearsheet' renderer is installed"):
        results.renderer("tearsheet")


def test_results_tearsheet_uses_the_registered_renderer(monkeypatch, tmp_path):
    from rustybt import results

    calls = []
    monkeypatch.setattr(results, "_renderers", {})
    results.register_renderer("tearsheet", lambda res, path: calls.append((res, path)) or path)
    res = object.__new__(results.Results)
    assert results.Results.tearsheet(res, tmp_path / "x.html") == tmp_path / "x.html"
    assert calls == [(res, tmp_path / "x.html")]
