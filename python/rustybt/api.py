"""zipline's function-style api: ``from rustybt.api import order_target_percent, symbol``.

Each function acts on the algorithm that is running (the same methods as on
:class:`~rustybt.TradingAlgorithm`), so strategies written as module-level functions port
from zipline by changing the import line only. "Running" is per thread: backtests run side
by side in several threads each reach their own algorithm.

Example::

    from rustybt.api import order_target_percent, record, symbol

    def initialize(context):
        context.asset = symbol("S000")

    def handle_data(context, data):
        order_target_percent(context.asset, 0.5)
        record(price=data.current(context.asset, "price"))

Also exported, as from ``zipline.api``: the asset restrictions (``Restriction``,
``StaticRestrictions``, ``HistoricalRestrictions``, ``RESTRICTION_STATES``, for
``set_asset_restrictions``), ``math_utils``, ``events`` (:mod:`rustybt.schedule`),
``calendars``, ``date_rules``, ``time_rules``,
the cancel policies ``EODCancel`` and ``NeverCancel`` (for ``set_cancel_policy``), the
modules ``slippage``, ``commission``, ``execution`` and ``cancel_policy``, and the
slippage models ``FixedSlippage``, ``FixedBasisPointsSlippage`` and
``VolumeShareSlippage``. ``future_symbol``, ``continuous_future`` and ``fetch_csv`` raise
an error saying why (no futures yet; data comes from bundles).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from rustybt import math_utils
from rustybt import schedule as events
from rustybt.algorithm import TradingAlgorithm
from rustybt.errors import RustyBTError
from rustybt.finance import cancel_policy, commission, execution, slippage
from rustybt.finance.asset_restrictions import (
    RESTRICTION_STATES,
    HistoricalRestrictions,
    Restriction,
    StaticRestrictions,
)
from rustybt.finance.cancel_policy import EODCancel, NeverCancel
from rustybt.finance.slippage import FixedBasisPointsSlippage, FixedSlippage, VolumeShareSlippage
from rustybt.schedule import calendars, date_rules, time_rules

# The algorithm the api functions act on. A context variable, not a module global: each
# thread (and each asyncio task) has its own, so backtests running side by side in several
# threads each reach their own algorithm.
_running: ContextVar[TradingAlgorithm | None] = ContextVar(
    "rustybt_running_algorithm", default=None
)

_API_NAMES = (
    "attach_pipeline",
    "batch_market_order",
    "cancel_order",
    "continuous_future",
    "fetch_csv",
    "future_symbol",
    "get_datetime",
    "get_environment",
    "get_open_orders",
    "get_order",
    "order",
    "order_percent",
    "order_target",
    "order_target_percent",
    "order_target_value",
    "order_value",
    "pipeline_output",
    "record",
    "schedule_function",
    "set_asset_restrictions",
    "set_benchmark",
    "set_cancel_policy",
    "set_commission",
    "set_do_not_order_list",
    "set_fill_model",
    "set_history_before_data",
    "set_history_rounding",
    "set_long_only",
    "set_max_leverage",
    "set_max_order_count",
    "set_max_order_size",
    "set_max_position_size",
    "set_min_leverage",
    "set_slippage",
    "set_symbol_lookup_date",
    "sid",
    "symbol",
    "symbols",
)


@contextmanager
def running(algo: TradingAlgorithm):
    """Make ``algo`` the target of the api functions while the block runs, in the current
    thread (context) only; the previous target, if any, comes back after it."""
    token = _running.set(algo)
    try:
        yield algo
    finally:
        _running.reset(token)


def get_algo_instance() -> TradingAlgorithm:
    """The algorithm that is running (in this thread)."""
    algo = _running.get()
    if algo is None:
        raise RustyBTError("rustybt.api functions can only be called while an algorithm runs")
    return algo


def _make(name: str):
    method = getattr(TradingAlgorithm, name)

    def api_function(*args, **kwargs):
        return getattr(get_algo_instance(), name)(*args, **kwargs)

    api_function.__name__ = api_function.__qualname__ = name
    api_function.__doc__ = method.__doc__
    return api_function


attach_pipeline = _make("attach_pipeline")
batch_market_order = _make("batch_market_order")
cancel_order = _make("cancel_order")
continuous_future = _make("continuous_future")
fetch_csv = _make("fetch_csv")
future_symbol = _make("future_symbol")
get_datetime = _make("get_datetime")
get_environment = _make("get_environment")
get_open_orders = _make("get_open_orders")
get_order = _make("get_order")
order = _make("order")
order_percent = _make("order_percent")
order_target = _make("order_target")
order_target_percent = _make("order_target_percent")
order_target_value = _make("order_target_value")
order_value = _make("order_value")
pipeline_output = _make("pipeline_output")
record = _make("record")
schedule_function = _make("schedule_function")
set_asset_restrictions = _make("set_asset_restrictions")
set_benchmark = _make("set_benchmark")
set_cancel_policy = _make("set_cancel_policy")
set_commission = _make("set_commission")
set_do_not_order_list = _make("set_do_not_order_list")
set_fill_model = _make("set_fill_model")
set_history_before_data = _make("set_history_before_data")
set_history_rounding = _make("set_history_rounding")
set_long_only = _make("set_long_only")
set_max_leverage = _make("set_max_leverage")
set_max_order_count = _make("set_max_order_count")
set_max_order_size = _make("set_max_order_size")
set_max_position_size = _make("set_max_position_size")
set_min_leverage = _make("set_min_leverage")
set_slippage = _make("set_slippage")
set_symbol_lookup_date = _make("set_symbol_lookup_date")
sid = _make("sid")
symbol = _make("symbol")
symbols = _make("symbols")

__all__ = [
    *_API_NAMES,
    "EODCancel",
    "FixedBasisPointsSlippage",
    "FixedSlippage",
    "HistoricalRestrictions",
    "NeverCancel",
    "RESTRICTION_STATES",
    "Restriction",
    "StaticRestrictions",
    "VolumeShareSlippage",
    "events",
    "math_utils",
    "cancel_policy",
    "commission",
    "execution",
    "slippage",
    "calendars",
    "date_rules",
    "get_algo_instance",
    "time_rules",
]
