"""StaticRestrictions with zipline's default on_error='fail': ordering the restricted
asset stops the run (TradingControlViolation) on 2022-02-15."""

import pandas as pd
from zipline.api import (
    StaticRestrictions,
    get_datetime,
    order,
    set_asset_restrictions,
    symbol,
)

SEEN = []


def initialize(context):
    context.msft, context.cost = symbol("MSFT"), symbol("COST")
    set_asset_restrictions(StaticRestrictions([context.msft]))


def handle_data(context, data):
    SEEN.append(get_datetime())
    order(context.cost, 5)
    if get_datetime().normalize().tz_localize(None) >= pd.Timestamp("2022-02-15"):
        order(context.msft, 5)
