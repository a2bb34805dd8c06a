"""set_benchmark(asset) over a 2-for-1 split and two cash dividends of the benchmark (SPY),
the portfolio AAPL and MSFT rebalanced at each month's start."""

from zipline.api import (
    date_rules,
    order_target_percent,
    schedule_function,
    set_benchmark,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage


def initialize(context):
    set_benchmark(symbol("SPY"))
    context.assets = [symbol("AAPL"), symbol("MSFT")]
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.02))
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open())


def rebalance(context, data):
    for asset in context.assets:
        order_target_percent(asset, 0.45)
