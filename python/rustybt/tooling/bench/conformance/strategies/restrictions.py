"""Restrictions that log: MSFT always restricted (StaticRestrictions), AAPL frozen from
2022-03-01 and allowed again from 2022-05-02 (HistoricalRestrictions). ``data.can_trade``
is recorded; orders go through ``can_trade`` weekly, and once a month MSFT is ordered
regardless (on_error='log': zipline logs the violation and places the order)."""

import pandas as pd
from zipline.api import (
    RESTRICTION_STATES,
    HistoricalRestrictions,
    Restriction,
    StaticRestrictions,
    date_rules,
    order,
    order_target_percent,
    record,
    schedule_function,
    set_asset_restrictions,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage


def initialize(context):
    context.aapl, context.msft, context.cost = symbol("AAPL"), symbol("MSFT"), symbol("COST")
    set_asset_restrictions(StaticRestrictions([context.msft]), on_error="log")
    set_asset_restrictions(
        HistoricalRestrictions(
            [
                Restriction(context.aapl, pd.Timestamp("2022-03-01"), RESTRICTION_STATES.FROZEN),
                Restriction(context.aapl, pd.Timestamp("2022-05-02"), RESTRICTION_STATES.ALLOWED),
            ]
        ),
        on_error="log",
    )
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.0))
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())
    schedule_function(force_msft, date_rules.month_end(), time_rules.market_open())


def handle_data(context, data):
    record(
        can_trade_aapl=data.can_trade(context.aapl),
        can_trade_msft=data.can_trade(context.msft),
        can_trade_cost=data.can_trade(context.cost),
    )


def rebalance(context, data):
    for asset in (context.aapl, context.msft, context.cost):
        if data.can_trade(asset):
            order_target_percent(asset, 0.3)


def force_msft(context, data):
    order(context.msft, 10)
