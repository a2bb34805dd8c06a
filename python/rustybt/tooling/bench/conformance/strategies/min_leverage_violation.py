"""set_min_leverage(0.5, 20 days), broken: invested at 0.8, then all sold on 2022-03-01;
the account control stops the run (AccountControlViolation) after the sale."""

import pandas as pd
from zipline.api import get_datetime, order_target_percent, set_min_leverage, symbol
from zipline.finance import commission, slippage

SEEN = []


def initialize(context):
    context.assets = [symbol(s) for s in ("JNJ", "PG", "WMT", "XOM")]
    set_min_leverage(0.5, pd.Timedelta(days=20))
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.FixedSlippage(spread=0.0))


def handle_data(context, data):
    SEEN.append(get_datetime())
    sell = get_datetime().normalize().tz_localize(None) >= pd.Timestamp("2022-03-01")
    for asset in context.assets:
        order_target_percent(asset, 0.0 if sell else 0.2)
