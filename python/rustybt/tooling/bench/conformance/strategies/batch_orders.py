"""batch_market_order: a pd.Series of share counts (zeros skipped), weekly; the number of
order ids it returns is recorded."""

import pandas as pd
from zipline.api import (
    batch_market_order,
    date_rules,
    record,
    schedule_function,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage


def initialize(context):
    context.assets = [symbol(s) for s in ("GE", "F", "T", "XOM")]
    context.week = 0
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    context.set_slippage(slippage.VolumeShareSlippage())
    schedule_function(trade, date_rules.week_start(), time_rules.market_open())


def trade(context, data):
    context.week += 1
    k = context.week
    counts = pd.Series(
        {a: (((k + i) % 4) - 1) * 25 for i, a in enumerate(context.assets)}, dtype="int64"
    )
    ids = batch_market_order(counts)
    record(batch_ids=len(ids))
