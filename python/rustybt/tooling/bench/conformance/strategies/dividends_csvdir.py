"""A dividend payer (KO, four cash dividends in 2022) held through the year, from a csvdir
bundle: no pay dates."""

from zipline.api import order_target_percent, record, symbol
from zipline.finance import commission, slippage


def initialize(context):
    context.ko = symbol("KO")
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.0))
    context.bought = False


def handle_data(context, data):
    if not context.bought:
        order_target_percent(context.ko, 0.9)
        context.bought = True
    record(ko=data.current(context.ko, "price"))
