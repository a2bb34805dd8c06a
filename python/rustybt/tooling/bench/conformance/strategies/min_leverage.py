"""set_min_leverage(0.5, 30 days), met: the portfolio is invested at 0.8 from the first
day and rebalanced monthly."""

import pandas as pd
from zipline.api import (
    date_rules,
    order_target_percent,
    schedule_function,
    set_min_leverage,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage


def initialize(context):
    context.assets = [symbol(s) for s in ("JNJ", "PG", "WMT", "XOM")]
    set_min_leverage(0.5, pd.Timedelta(days=30))
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.0))
    context.started = False
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open())


def handle_data(context, data):
    if not context.started:
        rebalance(context, data)
        context.started = True


def rebalance(context, data):
    for asset in context.assets:
        order_target_percent(asset, 0.2)
