"""order_target_percent rebalancing to fixed weights at each month's start (AMD splits
3-for-2 on 2022-03-01, INTC 2-for-1 on 2022-09-01), with a short (GE) and a mid-month
trim."""

from zipline.api import (
    date_rules,
    order_target_percent,
    record,
    schedule_function,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage

WEIGHTS = {"AAPL": 0.25, "AMD": 0.2, "INTC": 0.2, "MMM": 0.15, "COST": 0.1, "GE": -0.1}


def initialize(context):
    context.weights = {symbol(s): w for s, w in WEIGHTS.items()}
    context.set_commission(commission.PerShare(cost=0.0075, min_trade_cost=1.0))
    context.set_slippage(slippage.VolumeShareSlippage())
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open())
    schedule_function(trim, date_rules.month_start(days_offset=10), time_rules.market_open())


def rebalance(context, data):
    for asset, w in context.weights.items():
        order_target_percent(asset, w)
    record(account_leverage=context.account.leverage)


def trim(context, data):
    order_target_percent(symbol("AAPL"), 0.15)
