"""A user's own SlippageModel and CommissionModel subclasses, as zipline calls them:
``process_order(data, order)`` for every open order on every bar, returning (price,
amount), and ``calculate(order, transaction)`` per fill. Orders larger than the volume
cap fill over several bars."""

from zipline.api import (
    date_rules,
    get_datetime,
    order_target_percent,
    record,
    schedule_function,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage


class CappedSpread(slippage.SlippageModel):
    """Fills at the close plus half a spread in the order's direction, at most
    ``volume_share`` of the bar's volume across the bar's orders."""

    def __init__(self, spread=0.04, volume_share=0.02):
        super().__init__()
        self.spread = spread
        self.volume_share = volume_share

    def process_order(self, data, order):
        price = data.current(order.asset, "close")
        room = int(data.current(order.asset, "volume") * self.volume_share) - self.volume_for_bar
        if room <= 0:
            return None, None
        amount = min(abs(order.open_amount), room)
        direction = 1 if order.amount > 0 else -1
        return price + direction * self.spread / 2, direction * amount


class TicketAndBps(commission.CommissionModel):
    """A ticket fee on an order's first fill, then 8 basis points of each fill's value."""

    def __init__(self, ticket=1.5, bps=8.0):
        self.ticket = ticket
        self.rate = bps / 10_000

    def calculate(self, order, transaction):
        fee = abs(transaction.amount) * transaction.price * self.rate
        if order.filled == 0 and order.commission == 0:
            fee += self.ticket
        return fee


def initialize(context):
    context.assets = [symbol("MMM"), symbol("IBM"), symbol("CSCO")]
    context.set_slippage(CappedSpread())
    context.set_commission(TicketAndBps())
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())


def rebalance(context, data):
    weight = 0.3 if get_datetime().month % 2 else 0.1
    for asset in context.assets:
        order_target_percent(asset, weight)
    record(weight=weight)
