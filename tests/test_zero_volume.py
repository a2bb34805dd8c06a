"""zipline's ``SlippageModel.simulate`` fills nothing on a bar without volume, whatever the
model: FixedSlippage and NoSlippage inherit the rule as the volume-capped models do. Both
engines keep it."""

from __future__ import annotations

from pathlib import Path

import pytest

import rustybt
from rustybt import reference
from rustybt.finance import commission, slippage

ROWS = [
    "date,open,high,low,close,volume",
    "2022-01-03,10,10,10,10,100",
    "2022-01-04,11,11,11,11,0",  # no volume: the order waits
    "2022-01-05,12,12,12,12,50",
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> rustybt.Bundle:
    root = Path(tmp_path_factory.mktemp("zero-volume"))
    (root / "daily").mkdir()
    (root / "daily" / "AAA.csv").write_text("\n".join(ROWS) + "\n")
    return rustybt.ingest_csvdir(root, "zero-volume")


@pytest.mark.parametrize("model", [slippage.FixedSlippage(), slippage.NoSlippage()])
@pytest.mark.parametrize("run", [rustybt.run_algorithm, reference.run_algorithm])
def test_no_fill_on_a_bar_without_volume(bundle, model, run):
    class Buy(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.set_slippage(model)
            self.set_commission(commission.NoCommission())
            context.done = False

        def handle_data(self, context, data):
            if not context.done:
                self.order(self.symbol("AAA"), 10)
                context.done = True

    perf = run(algorithm=Buy, bundle=bundle.name, capital_base=1e4)
    fills = [(t["dt"].date().isoformat(), t["price"]) for ts in perf["transactions"] for t in ts]
    assert fills == [("2022-01-05", 12.0)]


@pytest.mark.parametrize("run", [rustybt.run_algorithm, reference.run_algorithm])
def test_a_cost_model_that_reads_the_portfolio_is_refused_in_words(bundle, run):
    """A model runs while the engine fills orders: the portfolio is refused, the same way
    in both engines (the Rust engine's books are borrowed for the fill)."""

    class Peek(slippage.SlippageModel):
        def process_order(self, data, order):
            _ = self.algo.portfolio.portfolio_value
            return data.current(order.asset, "close"), order.amount

    class Buy(rustybt.TradingAlgorithm):
        def initialize(self, context):
            model = Peek()
            model.algo = self
            self.set_slippage(model)
            context.done = False

        def handle_data(self, context, data):
            if not context.done:
                self.order(self.symbol("AAA"), 10)
                context.done = True

    with pytest.raises(rustybt.errors.StrategyError, match=r"context\.portfolio was read in a"):
        run(algorithm=Buy, bundle=bundle.name, capital_base=1e4)
