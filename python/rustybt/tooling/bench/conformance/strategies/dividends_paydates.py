"""Dividends with pay dates (the bundle written with each dividend's ex, record, declared
and pay dates): KO held through its four 2022 dividends, AAPL through its 2021 split."""

from zipline.api import order_target_percent, record, symbol
from zipline.finance import commission, slippage


def initialize(context):
    context.ko, context.aapl = symbol("KO"), symbol("AAPL")
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.0))
    context.bought = False


def handle_data(context, data):
    if not context.bought:
        order_target_percent(context.ko, 0.5)
        order_target_percent(context.aapl, 0.4)
        context.bought = True
    record(ko=data.current(context.ko, "price"), aapl=data.current(context.aapl, "price"))
