"""Orders at call-overhead cost (issue #16 item 2): a whole rebalance in one engine call
(``order_batch``, zipline's ``batch_market_order``) gives the same orders and fills as the
loop of single calls, in both engines; an asset of another bundle is refused, never traded
as this bundle's asset of the same sid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt import reference
from rustybt.errors import BadOrderParameters, SymbolNotFound, TradingControlViolation


@pytest.fixture(scope="module")
def bundle() -> rustybt.Bundle:
    return rustybt.ingest_synthetic(
        "batch-orders", assets=6, start="2022-01-03", end="2022-03-31", seed=7
    )


def _weights(bar: int, n: int) -> list[float]:
    rng = np.random.default_rng(bar)
    w = rng.uniform(-0.3, 0.3, n)
    w[rng.integers(0, n)] = 0.0  # one flat target each time
    return [float(x) for x in w]


class Loop(rustybt.TradingAlgorithm):
    """Rebalances with one call per asset (the reference behaviour)."""

    kind = "target_percent"

    def initialize(self, context):
        context.assets = list(self._bundle.asset_list)
        context.bar = 0
        context.ids = []

    def targets(self, context):
        if self.kind == "shares":
            return [(a, round(w * 100)) for a, w in zip(context.assets, _weights(context.bar, 6))]
        return list(zip(context.assets, _weights(context.bar, 6)))

    def handle_data(self, context, data):
        context.bar += 1
        if context.bar % 5:
            return
        context.ids.extend(self.place(context))

    def place(self, context):
        method = {"target_percent": self.order_target_percent, "shares": self.order}[self.kind]
        return [method(a, w) for a, w in self.targets(context)]


class Batched(Loop):
    def place(self, context):
        return self.order_batch(self.targets(context), kind=self.kind)


class SeriesBatched(Loop):
    def place(self, context):
        targets = self.targets(context)
        series = pd.Series([w for _, w in targets], index=[a for a, _ in targets])
        return self.order_batch(series, kind=self.kind)


class MarketBatch(Loop):
    kind = "shares"

    def place(self, context):
        counts = self.targets(context)
        return self.batch_market_order(dict(counts))


class MarketLoop(Loop):
    kind = "shares"

    def place(self, context):
        return [self.order(a, n) for a, n in self.targets(context) if n]


def _fills(perf) -> list:
    return perf.attrs["rustybt"]["exact"]["transactions"]


@pytest.mark.parametrize("run", [rustybt.run_algorithm, reference.run_algorithm])
def test_a_batch_places_and_fills_what_the_loop_does(bundle, run):
    loop = run(algorithm=Loop, bundle=bundle.name, capital_base=1e6)
    for batched in (Batched, SeriesBatched):
        perf = run(algorithm=batched, bundle=bundle.name, capital_base=1e6)
        assert _fills(perf) == _fills(loop)
        pd.testing.assert_frame_equal(perf, loop, check_exact=True)
    assert len(_fills(loop)) > 20
    market_loop = run(algorithm=MarketLoop, bundle=bundle.name, capital_base=1e6)
    market_batch = run(algorithm=MarketBatch, bundle=bundle.name, capital_base=1e6)
    assert _fills(market_batch) == _fills(market_loop)
    pd.testing.assert_frame_equal(market_batch, market_loop, check_exact=True)


def test_a_batch_returns_ids_in_order_and_none_for_nothing(bundle):
    class Ids(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            if not hasattr(context, "ids"):
                a, b, c = self._bundle.asset_list[:3]
                context.ids = self.order_batch({a: 10, b: 0.4, c: -3}, kind="shares")

    algo = Ids()  # in class style, context is the algorithm itself
    rustybt.run_algorithm(algorithm=algo, bundle=bundle.name, capital_base=1e6)
    got = algo.ids
    assert [type(i) for i in got] == [str, type(None), str]
    assert int(got[2], 16) == int(got[0], 16) + 1


@pytest.mark.parametrize("run", [rustybt.run_algorithm, reference.run_algorithm])
def test_a_refusal_in_a_batch_keeps_the_orders_before_it(bundle, run):
    class Capped(rustybt.TradingAlgorithm):
        def initialize(self, context):
            a = self._bundle.asset_list[1]
            self.set_max_order_size(a, max_shares=5)
            context.placed = None

        def handle_data(self, context, data):
            if context.placed is None:
                a, b, c = self._bundle.asset_list[:3]
                try:
                    self.order_batch({a: 3, b: 50, c: 4}, kind="shares")
                except TradingControlViolation:
                    context.placed = [s for s, _ in self._sim.open_orders()]

    algo = Capped()
    run(algorithm=algo, bundle=bundle.name, capital_base=1e6)
    assert algo.placed == [0]  # the first order stands; the third was never placed


def test_bad_kinds_and_values_are_refused_by_name(bundle):
    class Bad(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            a = self._bundle.asset_list[0]
            with pytest.raises(BadOrderParameters, match="kind must be one of"):
                self.order_batch({a: 1}, kind="everything")
            with pytest.raises(BadOrderParameters, match="must be a number"):
                self.order_batch({a: "1"}, kind="shares")
            context.checked = True

    algo = Bad()
    rustybt.run_algorithm(algorithm=algo, bundle=bundle.name, capital_base=1e6)
    assert algo.checked


def test_an_asset_of_another_bundle_is_refused(bundle):
    other = rustybt.ingest_synthetic(
        "batch-other", assets=2, start="2022-01-03", end="2022-03-31", seed=8
    )
    stranger = rustybt.load_bundle(other.name).asset_list[0]
    stranger = rustybt._core.Asset(stranger.sid, "ZZZ", "XNYS", 0, 1)

    class Wrong(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            for place in (
                lambda: self.order(stranger, 10),
                lambda: self.order_target_percent(stranger, 0.5),
                lambda: self.order_batch({stranger: 0.5}),
            ):
                with pytest.raises(SymbolNotFound, match="is not in bundle 'batch-orders'"):
                    place()
            context.checked = True

    algo = Wrong()
    rustybt.run_algorithm(algorithm=algo, bundle=bundle.name, capital_base=1e6)
    assert algo.checked


def test_perf_records_stay_off_the_cyclic_gc(bundle):
    """The perf frame's order, fill and position dicts (and the exact fills) hold atomic
    values only, so they are built untracked, as CPython untracks such dicts itself: no
    collection after a run has to walk them. A dict the strategy stores a container in is
    tracked again."""
    import gc

    perf = rustybt.run_algorithm(algorithm=Batched, bundle=bundle.name, capital_base=1e6)
    records = [r for col in ("orders", "transactions", "positions") for rs in perf[col] for r in rs]
    assert len(records) > 50
    assert not any(gc.is_tracked(r) for r in records)
    assert not any(gc.is_tracked(f) for f in perf.attrs["rustybt"]["exact"]["transactions"])
    record = records[0]
    record["notes"] = []
    assert gc.is_tracked(record)
