"""The boundary between the bindings and the core crates (``crates/pybind`` is glue):
Python exceptions are made in one module, model and policy names live in the core
crates, and the cost models' defaults are defined once, in the ledger, and equal
zipline-reloaded's."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from rustybt import _core
from rustybt.finance import commission, slippage
from rustybt.reference import engine as reference_engine
from rustybt.reference.ledger import DecimalNum, Ledger

PYBIND = Path(__file__).resolve().parent.parent / "crates" / "pybind" / "src"

#: zipline-reloaded 3.2.1's documented defaults: ``zipline/finance/slippage.py``
#: (``FixedBasisPointsSlippage(basis_points=5.0, volume_limit=0.1)``,
#: ``VolumeShareSlippage(volume_limit=DEFAULT_EQUITY_VOLUME_SLIPPAGE_BAR_LIMIT = 0.025,
#: price_impact=0.1)``, ``FixedSlippage(spread=0.0)``) and ``zipline/finance/commission.py``
#: (``DEFAULT_PER_SHARE_COST = 0.001``, ``DEFAULT_MINIMUM_COST_PER_EQUITY_TRADE = 0.0``,
#: ``DEFAULT_PER_DOLLAR_COST = 0.0015``; ``PerTrade(cost=DEFAULT_MINIMUM_COST_PER_EQUITY_TRADE)``).
ZIPLINE_SLIPPAGE = {
    "FixedBasisPointsSlippage": {"basis_points": 5.0, "volume_limit": 0.1},
    "VolumeShareSlippage": {"volume_limit": 0.025, "price_impact": 0.1},
    "FixedSlippage": {"spread": 0.0},
    "NoSlippage": {},
}
ZIPLINE_COMMISSION = {
    "PerShare": {"cost": 0.001, "min_trade_cost": 0.0},
    "PerTrade": {"cost": 0.0},
    "PerDollar": {"cost": 0.0015},
    "NoCommission": {},
}
#: zipline's equity defaults (``zipline.finance.metrics`` / ``SimulationBlotter``).
ZIPLINE_DEFAULT_MODELS = ("FixedBasisPointsSlippage", "PerShare")

#: Names of the models and policies, which only the core crates may spell out.
POLICY_NAMES = {
    "never", "eod", "end_of_day",  # cancel policies
    "next_close", "next_open",  # fill models
    "fail", "log",  # what a control does
    "decimal", "float",  # ledgers
    "max_order_size", "max_position_size", "max_order_count", "long_only",  # controls
    # the string kinds the bindings used to dispatch on
    "fixed", "fixed_basis_points", "volume_share", "per_share", "per_trade", "per_dollar",
}  # fmt: skip


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a Rust file without comments (doc comments name things freely)."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("//", 1)[0] if not line.lstrip().startswith("#[") else line
        out.append((n, code))
    return out


def _binding_files() -> list[Path]:
    files = sorted(PYBIND.glob("*.rs"))
    assert len(files) >= 8, files  # split by Python type
    return files


def test_python_exceptions_are_made_only_in_the_error_module():
    offenders = [
        f"{path.name}:{n}: {code.strip()}"
        for path in _binding_files()
        if path.name != "errors.rs"
        for n, code in _code_lines(path)
        if "new_err(" in code
    ]
    assert offenders == []
    # and the check sees what it looks for
    assert any("new_err(" in code for _, code in _code_lines(PYBIND / "errors.rs"))


def test_no_model_or_policy_is_named_in_the_bindings():
    names = POLICY_NAMES | {name for name, _ in _core.SLIPPAGE_MODELS + _core.COMMISSION_MODELS}
    literal = re.compile(r'"((?:[^"\\]|\\.)*)"')
    offenders = [
        f"{path.name}:{n}: {value!r}"
        for path in _binding_files()
        for n, code in _code_lines(path)
        for value in literal.findall(code)
        if value in names
    ]
    assert offenders == []


def test_the_ledger_s_model_tables_are_zipline_s_defaults():
    slip = {name: dict(params) for name, params in _core.SLIPPAGE_MODELS}
    comm = {name: dict(params) for name, params in _core.COMMISSION_MODELS}
    assert slip == ZIPLINE_SLIPPAGE
    assert comm == ZIPLINE_COMMISSION
    # the first of each table is the engine's default model
    assert (_core.SLIPPAGE_MODELS[0][0], _core.COMMISSION_MODELS[0][0]) == ZIPLINE_DEFAULT_MODELS


@pytest.mark.parametrize(
    ("module", "table"),
    [(slippage, _core.SLIPPAGE_MODELS), (commission, _core.COMMISSION_MODELS)],
)
def test_python_finance_defaults_are_the_values_core_exposes(module, table):
    for name, params in table:
        cls = getattr(module, name)
        model = cls()
        assert {f.name: getattr(model, f.name) for f in dataclasses.fields(cls)} == dict(params)
        assert model._spec() == (name, tuple(v for _, v in params))


def test_the_reference_engine_s_own_defaults_are_zipline_s():
    ledger = Ledger(DecimalNum, 1, DecimalNum.from_int(1000))
    fbp = ZIPLINE_SLIPPAGE["FixedBasisPointsSlippage"]
    per_share = ZIPLINE_COMMISSION["PerShare"]
    assert type(ledger.slippage).__name__ == "FixedBasisPointsSlippage"
    assert float(ledger.slippage.basis_points) == fbp["basis_points"]
    assert float(ledger.slippage.volume_limit) == fbp["volume_limit"]
    assert type(ledger.commission).__name__ == "PerShareCommission"
    assert float(ledger.commission.cost) == per_share["cost"]
    assert float(ledger.commission.min_trade_cost) == per_share["min_trade_cost"]
    # and it knows every model by zipline's name, with zipline's parameters
    for table, want in (
        (reference_engine.SLIPPAGE_MODELS, ZIPLINE_SLIPPAGE),
        (reference_engine.COMMISSION_MODELS, ZIPLINE_COMMISSION),
    ):
        assert {name: list(p) for name, (_, p) in table.items()} == {
            name: list(params) for name, params in want.items()
        }
