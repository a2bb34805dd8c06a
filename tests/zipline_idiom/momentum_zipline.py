"""A weekly momentum rotation written in zipline-reloaded's idiom (never run here: the
rustybt twin beside it differs only in its import lines, which a test checks)."""

from zipline.api import (
    date_rules,
    order_target_percent,
    record,
    schedule_function,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage


def initialize(context):
    context.assets = [symbol("S000"), symbol("S001"), symbol("S002"), symbol("S003")]
    context.lookback = 20
    context.set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
    context.set_slippage(slippage.VolumeShareSlippage(volume_limit=0.025, price_impact=0.1))
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open(minutes=30))


def handle_data(context, data):
    record(s000=data.current(context.assets[0], "price"))


def rebalance(context, data):
    prices = data.history(context.assets, "price", context.lookback, "1d")
    if prices.isnull().values.any():
        return
    momentum = prices.iloc[-1] / prices.iloc[0] - 1
    winners = momentum[momentum > 0].index
    for asset in context.assets:
        weight = 1.0 / len(winners) if asset in winners else 0.0
        order_target_percent(asset, weight)
    record(winners=len(winners))
