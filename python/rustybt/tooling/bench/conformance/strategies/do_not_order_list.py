"""set_do_not_order_list (zipline's deprecated spelling of StaticRestrictions) with
on_error='log': COST is on the list; the orders go through ``data.can_trade`` except one
a month, placed regardless."""

from zipline.api import (
    date_rules,
    order,
    order_target_percent,
    record,
    schedule_function,
    set_do_not_order_list,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage


def initialize(context):
    context.assets = [symbol("COST"), symbol("WMT"), symbol("PG")]
    set_do_not_order_list([symbol("COST")], on_error="log")
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.0))
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())
    schedule_function(force, date_rules.month_start(days_offset=2), time_rules.market_open())


def rebalance(context, data):
    for asset in context.assets:
        record(**{f"can_trade_{asset.symbol.lower()}": data.can_trade(asset)})
        if data.can_trade(asset):
            order_target_percent(asset, 0.3)


def force(context, data):
    order(context.assets[0], 7)
