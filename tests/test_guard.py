"""No Rust panic reaches Python except as ``InternalError`` naming where it happened
(issue #18, item 3).

Every function and method of ``rustybt._core`` runs its body inside ``guard_at``. This test
lists the module's entry points from the module itself (so a new one without a line in
``CALLS`` fails here), injects a panic into each through the runtime failpoint
(``_core._set_failpoints``; no second build) and checks that the call raises
``InternalError`` naming the entry point — an ``Exception``, which a sweep's per-trial
handler catches, unlike pyo3's ``PanicException``.
"""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest

import rustybt
from rustybt import _core
from rustybt.errors import InternalError
from rustybt.finance import commission, slippage

#: Members pyo3 generates without a body of ours, which therefore cannot panic: field
#: reads (``#[pyo3(get)]``) and the comparisons and hash derived from Rust's ``Ord``/``Hash``.
GENERATED = {
    "Asset": {"sid", "symbol", "exchange", "start_day", "end_day"}
    | {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__"},
    "OrderRecord": {
        "sid",
        "amount",
        "filled",
        "commission",
        "limit",
        "stop",
        "status",
        "reason",
        "created_bar",
        "updated_bar",
    },
}
#: The failpoint switch itself.
NOT_GUARDED = {"_set_failpoints"}

ADJ = (np.zeros(0, np.uint32), np.zeros(0, np.uint32), np.zeros(0, np.float64))
M = np.ones((3, 2))
MASK = np.ones((3, 2), bool)
GROUPS = np.zeros((3, 2), np.int64)


def entry_points() -> set[str]:
    names = set()
    for name, obj in vars(_core).items():
        if name.startswith("__") or name in NOT_GUARDED:
            continue
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            for member in vars(obj):
                if member in ("__doc__", "__module__", "__dict__", "__weakref__"):
                    continue
                if member in GENERATED.get(name, ()):
                    continue
                names.add(f"{name}.{member}")
        elif isinstance(obj, types.BuiltinFunctionType):
            names.add(name)
    return names


@pytest.fixture(scope="module")
def o(hand_bundle, tmp_path_factory):
    """Sample objects whose methods are called."""
    from tests.conftest import hand_lines, write_csvdir

    root = write_csvdir(
        tmp_path_factory.mktemp("csv"), {"AAA": hand_lines(["11", "12", "13", "14", "15"])}
    )
    core = hand_bundle._core
    sim = _core.Simulation(core, 0, 4, 1000.0)
    ns = types.SimpleNamespace(
        bundle=core,
        asset=core.assets()[0],
        bar_data=_core.BarData(core),
        sim=sim,
        records=sim.perf([], None)["records"],
        exact=sim.perf([], None)["exact"],
        csv=_core.CsvDir.parse(root, "1d", 4),
        root=root,
        tmp=tmp_path_factory.mktemp("guard"),
    )
    return ns


#: One call of each entry point with arguments of the right types (the failpoint fires
#: before the body, so the values need not make sense).
CALLS = {
    "Asset.__new__": lambda o: _core.Asset(0, "X", "NYSE", 0, 1),
    "Asset.__repr__": lambda o: repr(o.asset),
    "Asset.asset_name": lambda o: o.asset.asset_name,
    "Asset.auto_close_date": lambda o: o.asset.auto_close_date,
    "Asset.end_date": lambda o: o.asset.end_date,
    "Asset.first_traded": lambda o: o.asset.first_traded,
    "Asset.price_multiplier": lambda o: o.asset.price_multiplier,
    "Asset.start_date": lambda o: o.asset.start_date,
    "Asset.tick_size": lambda o: o.asset.tick_size,
    "Asset.lot_size": lambda o: o.asset.lot_size,
    "Asset.lot_scale": lambda o: o.asset.lot_scale,
    "Asset.to_dict": lambda o: o.asset.to_dict(),
    "Asset.__reduce__": lambda o: o.asset.__reduce__(),
    "BarData.__new__": lambda o: _core.BarData(o.bundle),
    "BarData.current_bar": lambda o: o.bar_data.current_bar,
    "BarData._before_first": lambda o: o.bar_data._before_first,
    "BarData._current": lambda o: o.bar_data._current(0, "close"),
    "BarData._history": lambda o: o.bar_data._history([0], "close", 2),
    "BarData._set_bar": lambda o: o.bar_data._set_bar(0),
    "Simulation.add_restrictions": lambda o: o.sim.add_restrictions([]),
    "Simulation.set_cost_models": lambda o: o.sim.set_cost_models(o.bar_data),
    "Simulation.set_min_leverage": lambda o: o.sim.set_min_leverage(0.0, 0),
    "Simulation.periods_per_year": lambda o: o.sim.periods_per_year,
    "Simulation.set_periods_per_year": lambda o: o.sim.set_periods_per_year(365.0),
    "BarData._round_places": lambda o: o.bar_data._round_places,
    "BarData._set_round_places": lambda o: o.bar_data._set_round_places(3),
    "BarData._can_trade": lambda o: o.bar_data._can_trade(0),
    "BarData._is_stale": lambda o: o.bar_data._is_stale(0),
    "Bundle.open": lambda o: _core.Bundle.open(o.bundle.path),
    "Bundle.is_mapped": lambda o: o.bundle.is_mapped,
    "Bundle.name": lambda o: o.bundle.name,
    "Bundle.path": lambda o: o.bundle.path,
    "Bundle.frequency": lambda o: o.bundle.frequency,
    "Bundle.calendar": lambda o: o.bundle.calendar,
    "Bundle.price_scale": lambda o: o.bundle.price_scale,
    "Bundle.content_hash": lambda o: o.bundle.content_hash,
    "Bundle.created_at": lambda o: o.bundle.created_at,
    "Bundle.source": lambda o: o.bundle.source,
    "Bundle.n_assets": lambda o: o.bundle.n_assets,
    "Bundle.n_bars": lambda o: o.bundle.n_bars,
    "Bundle._session_closes": lambda o: o.bundle._session_closes(0),
    "Bundle.field_matrix": lambda o: o.bundle.field_matrix("close"),
    "Bundle.adjustment_ratios": lambda o: o.bundle.adjustment_ratios(),
    "Bundle.assets": lambda o: o.bundle.assets(),
    "Bundle.sessions": lambda o: o.bundle.sessions(),
    "Bundle.timestamps": lambda o: o.bundle.timestamps(),
    "Bundle.session_first_bar": lambda o: o.bundle.session_first_bar(),
    "Bundle.history": lambda o: o.bundle.history("close", [0], 2, 2),
    "Bundle.resample": lambda o: o.bundle.resample("close", "1d"),
    "Bundle.resampled_timestamps": lambda o: o.bundle.resampled_timestamps("1d"),
    "Bundle.cache_stats": lambda o: o.bundle.cache_stats("1d"),
    "CsvDir.parse": lambda o: _core.CsvDir.parse(o.root, "1d", 4),
    "CsvDir.parse_long": lambda o: _core.CsvDir.parse_long(o.root / "x.csv", "1d", 4),
    "CsvDir.date_range": lambda o: o.csv.date_range(),
    "CsvDir.rounded": lambda o: o.csv.rounded,
    "CsvDir.symbols": lambda o: o.csv.symbols(),
    "CsvDir.parse_table": lambda o: _core.CsvDir.parse_table("t", [], [], "1d", 4),
    "CsvDir.round_to_ticks": lambda o: o.csv.round_to_ticks([0] * len(o.csv.symbols())),
    "CsvDir.write": lambda o: o.csv.write(o.tmp, "x", "XNYS", [], [], []),
    "Simulation.__new__": lambda o: _core.Simulation(o.bundle, 0, 4, 1000.0),
    "Simulation.ledger": lambda o: o.sim.ledger,
    "Simulation.phase": lambda o: o.sim.phase,
    "Simulation.current_bar": lambda o: o.sim.current_bar,
    "Simulation.current_session": lambda o: o.sim.current_session,
    "Simulation.order": lambda o: o.sim.order("shares", 0, 1.0),
    "Simulation.order_many": lambda o: o.sim.order_many("shares", [0], [1.0]),
    "Simulation.cancel_order": lambda o: o.sim.cancel_order(1),
    "Simulation.open_orders": lambda o: o.sim.open_orders(),
    "Simulation.order_info": lambda o: o.sim.order_info(1),
    "Simulation.cash": lambda o: o.sim.cash(),
    "Simulation.portfolio_value": lambda o: o.sim.portfolio_value(),
    "Simulation.positions_value": lambda o: o.sim.positions_value(),
    "Simulation.starting_cash": lambda o: o.sim.starting_cash(),
    "Simulation.exact_state": lambda o: o.sim.exact_state(),
    "Simulation.positions": lambda o: o.sim.positions(),
    "Simulation.set_slippage": lambda o: o.sim.set_slippage(slippage.FixedSlippage()),
    "Simulation.set_commission": lambda o: o.sim.set_commission(commission.PerShare()),
    "Simulation.set_cancel_policy": lambda o: o.sim.set_cancel_policy("never"),
    "Simulation.add_control": lambda o: o.sim.add_control("long_only"),
    "Simulation.set_max_leverage": lambda o: o.sim.set_max_leverage(2.0),
    "Simulation.set_fill_model": lambda o: o.sim.set_fill_model("next_close"),
    "Simulation.run": lambda o: o.sim.run(None, o.bar_data, None, None, {}),
    "Simulation.perf": lambda o: o.sim.perf([], None),
    "PerfExact.build": lambda o: o.exact.build(),
    "PerfRecords.__len__": lambda o: len(o.records),
    "PerfRecords.column": lambda o: o.records.column("orders"),
    "Simulation.trial_summary": lambda o: o.sim.trial_summary([0, 0, 0]),
    "run_batch": lambda o: _core.run_batch(o.bundle, [M], 0, 2, [0, 1]),
    "cumulative_risk": lambda o: _core.cumulative_risk([0.0]),
    "final_risk": lambda o: _core.final_risk([0.0]),
    "cumulative_benchmark_risk": lambda o: _core.cumulative_benchmark_risk([0.0], [0.0]),
    "fifo_round_trips": lambda o: _core.fifo_round_trips([0], [1], [1.0], [0.0]),
    "_panic_for_tests": lambda o: _core._panic_for_tests("x"),
    "clean_bundle": lambda o: _core.clean_bundle(o.tmp / "none", False),
    "clean_cache_leftovers": lambda o: _core.clean_cache_leftovers(o.tmp),
    "ingest_synthetic": lambda o: _core.ingest_synthetic(
        o.tmp, "x", 1, 1, "1d", "XNYS", 4, [], [], []
    ),
    "pipeline_rolling": lambda o: _core.pipeline_rolling("latest", {}, [M], [ADJ], 1),
    "pipeline_rolling_stat": lambda o: _core.pipeline_rolling_stat(
        "pearson", {}, [M, M], [None, None], 2
    ),
    "pipeline_rank": lambda o: _core.pipeline_rank(M, MASK, None, "ordinal", True),
    "pipeline_normalize": lambda o: _core.pipeline_normalize("zscore", M, MASK, None, {}),
    "pipeline_quantiles": lambda o: _core.pipeline_quantiles(M, MASK, 2),
    "pipeline_percentile_between": lambda o: _core.pipeline_percentile_between(M, MASK, 0.0, 50.0),
    "pipeline_peer_count": lambda o: _core.pipeline_peer_count(GROUPS, MASK),
}


def test_every_entry_point_has_a_call():
    assert entry_points() == set(CALLS), (
        "entry points of _core without a line in CALLS (add one; the guard test then "
        f"covers it): {sorted(entry_points() - set(CALLS))}; "
        f"lines for names _core no longer has: {sorted(set(CALLS) - entry_points())}"
    )


@pytest.mark.parametrize("entry", sorted(CALLS))
def test_a_panic_in_each_entry_point_is_an_internal_error(o, entry):
    _core._set_failpoints([entry])
    try:
        with pytest.raises(InternalError, match=rf"internal error in {entry} \(a Rust panic"):
            CALLS[entry](o)
    finally:
        _core._set_failpoints([])
    assert issubclass(InternalError, Exception)


def test_without_failpoints_the_sample_calls_reach_their_bodies(o):
    """The failpoint, not a wrong argument, is what raised above: with it off, a call
    with good arguments succeeds."""
    assert o.bundle.n_assets == 3
    assert o.bar_data._can_trade(0) in (True, False)
    assert len(_core.final_risk([0.01, -0.01])) == 5


def test_a_panic_in_a_backtest_is_caught_by_except_exception(hand_bundle):
    """The sweep's case: a panic inside a run is an ``Exception``."""

    class Algo(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            self.order(self.symbol("AAA"), 1)

    _core._set_failpoints(["Simulation.order"])
    try:
        try:
            rustybt.run_algorithm(algorithm=Algo, bundle=hand_bundle, capital_base=1000)
        except Exception as exc:  # what a sweep's per-trial handler does
            caught = exc
    finally:
        _core._set_failpoints([])
    assert "internal error in Simulation.order" in str(caught)
