"""OLMAR-style weights from adjusted history over a 3-for-2 split (AMD, 2022-03-01) and a
2-for-1 split (INTC, 2022-09-01): each day the 5-session mean over the price, normalised
into weights, whole-share amounts by np.round, orders of the difference. The weights are
recorded, so a difference in the adjusted history shows before it changes an amount."""

import numpy as np
from zipline.api import order, record, symbol
from zipline.finance import commission, slippage

NAMES = ["AMD", "INTC", "MMM", "COST"]


def initialize(context):
    context.assets = [symbol(s) for s in NAMES]
    context.spy = symbol("SPY")
    context.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.0))


def handle_data(context, data):
    window = data.history(context.assets, "price", 5, "1d")
    prices = np.array([data.current(a, "price") for a in context.assets])
    score = window.mean().values / prices
    weights = score / score.sum()
    record(**{f"w_{s}": w for s, w in zip(NAMES, weights)})
    # the benchmark asset splits and pays dividends: its adjusted history, recorded
    record(spy_mean5=data.history(context.spy, "price", 5, "1d").mean())
    value = context.portfolio.portfolio_value
    target = np.round(0.95 * weights * value / prices)
    for asset, want in zip(context.assets, target):
        diff = want - context.portfolio.positions[asset].amount
        if diff:
            order(asset, diff)
