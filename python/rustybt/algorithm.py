"""``TradingAlgorithm``: subclass it and write ``initialize`` / ``handle_data`` as in zipline.

The ``context`` passed to every callback is the algorithm itself, so every api function is
also a method (``self.order_target_percent(...)``, ``context.set_commission(...)``), and
attributes set on ``context`` live on the instance. Class attributes are the strategy's
parameters: ``run_algorithm(..., params={"fast": 12})`` overrides them for one run.

Example:
    >>> import rustybt
    >>> class BuyAndHold(rustybt.TradingAlgorithm):
    ...     symbol_name = "S000"
    ...     def initialize(self, context):
    ...         context.asset = self.symbol(self.symbol_name)
    ...     def handle_data(self, context, data):
    ...         if not context.portfolio.positions:
    ...             self.order_target_percent(context.asset, 1.0)
"""

from __future__ import annotations

import numbers

import pandas as pd

from rustybt.errors import (
    BadOrderParameters,
    InvalidRunParameters,
    RegisterTradingControlPostInit,
    SetBenchmarkOutsideInitialize,
    SymbolNotFound,
)
from rustybt.finance.commission import CommissionModel
from rustybt.finance.execution import ExecutionStyle
from rustybt.finance.slippage import SlippageModel
from rustybt.protocol import Account, Order, Portfolio, Position


class TradingAlgorithm:
    """Base class of a strategy. Override any of :meth:`initialize`, :meth:`handle_data`,
    :meth:`before_trading_start` and :meth:`analyze`."""

    # -- lifecycle hooks (override) -----------------------------------------------------
    def initialize(self, context) -> None:
        """Called once before the first bar. Choose assets, set costs, schedule functions."""

    def handle_data(self, context, data) -> None:
        """Called at every bar; ``data`` shows bars up to and including this one."""

    def before_trading_start(self, context, data) -> None:
        """Called before each session's first bar. Ordering is not allowed here."""

    def analyze(self, context, perf: pd.DataFrame) -> None:
        """Called once after the run with the perf DataFrame."""

    # -- parameters -----------------------------------------------------------------------
    @classmethod
    def parameters(cls) -> dict[str, object]:
        """The strategy's parameters: public, non-callable class attributes of the subclasses."""
        params: dict[str, object] = {}
        for klass in reversed(cls.__mro__):
            if (
                klass is object
                or klass is TradingAlgorithm
                or not issubclass(klass, TradingAlgorithm)
            ):
                continue
            for name, value in vars(klass).items():
                if (
                    name.startswith("_")
                    or callable(value)
                    or isinstance(value, (property, classmethod, staticmethod))
                ):
                    continue
                params[name] = value
        return params

    # -- engine wiring (set by the runner) ------------------------------------------------
    def _attach(self, bundle, sim, data) -> None:
        self._bundle = bundle
        self._sim = sim
        self._data = data
        self._recorded: dict[str, object] = {}
        self._benchmark = None
        self._scheduled: list = []

    def _require_initialize(self, what: str) -> None:
        if self._sim.phase != "initialize":
            raise RegisterTradingControlPostInit(f"{what} can only be called in initialize")

    # -- assets -----------------------------------------------------------------------------
    def symbol(self, symbol: str):
        """The asset with this ticker."""
        return self._bundle.symbol(symbol)

    def symbols(self, *symbols: str) -> list:
        """The assets with these tickers."""
        return [self._bundle.symbol(s) for s in symbols]

    def sid(self, sid: int):
        """The asset with this sid."""
        return self._bundle.sid(sid)

    # -- orders -------------------------------------------------------------------------------
    def _place(self, kind: str, asset, value, limit_price, stop_price, style):
        if style is not None:
            if not isinstance(style, ExecutionStyle):
                raise BadOrderParameters(f"style must be an ExecutionStyle, got {style!r}")
            if limit_price is not None or stop_price is not None:
                raise BadOrderParameters("pass either style= or limit_price/stop_price, not both")
            limit_price, stop_price = style.limit_price, style.stop_price
        try:
            sid = asset.sid
        except AttributeError:
            raise BadOrderParameters(f"expected an Asset (from symbol()), got {asset!r}") from None
        # exact type checks first: the ABC isinstance is slow on the per-order path
        if (type(value) is not float and type(value) is not int) and (
            not isinstance(value, numbers.Real) or isinstance(value, bool)
        ):
            raise BadOrderParameters(f"order {kind} must be a number, got {value!r}")
        try:
            return self._sim.order(
                kind,
                sid,
                float(value),
                None if limit_price is None else float(limit_price),
                None if stop_price is None else float(stop_price),
            )
        except SymbolNotFound:
            raise SymbolNotFound(f"{asset!r} is not in bundle '{self._bundle.name}'") from None

    def order(self, asset, amount, limit_price=None, stop_price=None, style=None):
        """Order ``amount`` shares (negative sells). Returns the order id, or None for 0 shares."""
        return self._place("shares", asset, amount, limit_price, stop_price, style)

    def order_value(self, asset, value, limit_price=None, stop_price=None, style=None):
        """Order ``value`` worth of shares at the current price."""
        return self._place("value", asset, value, limit_price, stop_price, style)

    def order_percent(self, asset, percent, limit_price=None, stop_price=None, style=None):
        """Order ``percent`` (a fraction) of portfolio value."""
        return self._place("percent", asset, percent, limit_price, stop_price, style)

    def order_target(self, asset, target, limit_price=None, stop_price=None, style=None):
        """Order enough shares to hold ``target`` shares."""
        return self._place("target", asset, target, limit_price, stop_price, style)

    def order_target_value(self, asset, target, limit_price=None, stop_price=None, style=None):
        """Order enough shares to hold ``target`` worth."""
        return self._place("target_value", asset, target, limit_price, stop_price, style)

    def order_target_percent(self, asset, target, limit_price=None, stop_price=None, style=None):
        """Order enough shares to hold ``target`` (a fraction) of portfolio value."""
        return self._place("target_percent", asset, target, limit_price, stop_price, style)

    def cancel_order(self, order) -> None:
        """Cancel an open order (an id or an Order)."""
        self._sim.cancel_order(order.id if isinstance(order, Order) else int(order))

    def get_order(self, order_id) -> Order:
        """The order with this id."""
        sid, amount, filled, commission, limit, stop, status, reason, created, updated = (
            self._sim.order_info(int(order_id))
        )
        times = self._bundle.bar_times
        return Order(
            int(order_id),
            self._bundle.asset_list[sid],
            amount,
            filled,
            commission,
            limit,
            stop,
            status,
            reason,
            times[created],
            times[updated],
        )

    def get_open_orders(self, asset=None):
        """Open orders of ``asset`` (a list), or of every asset (a dict asset → list)."""
        if asset is not None:
            return [self.get_order(oid) for _, oid in self._sim.open_orders(asset.sid)]
        out: dict = {}
        for sid, oid in self._sim.open_orders(None):
            out.setdefault(self._bundle.asset_list[sid], []).append(self.get_order(oid))
        return out

    # -- costs ------------------------------------------------------------------------------
    def set_slippage(self, us_equities=None, us_futures=None) -> None:
        """Choose the slippage model (in ``initialize``)."""
        self._require_initialize("set_slippage")
        model = us_equities
        if not isinstance(model, SlippageModel):
            raise BadOrderParameters(f"set_slippage needs a SlippageModel, got {model!r}")
        self._sim.set_slippage(model.kind, *model._params())

    def set_commission(self, us_equities=None, us_futures=None) -> None:
        """Choose the commission model (in ``initialize``)."""
        self._require_initialize("set_commission")
        model = us_equities
        if not isinstance(model, CommissionModel):
            raise BadOrderParameters(f"set_commission needs a CommissionModel, got {model!r}")
        self._sim.set_commission(model.kind, *model._params())

    def set_benchmark(self, benchmark) -> None:
        """Measure ``alpha``, ``beta`` and the benchmark columns against this asset of the
        bundle (its session-to-session close returns). Call in ``initialize``.

        Example::

            def initialize(self, context):
                self.set_benchmark(self.symbol("SPY"))
        """
        if self._sim.phase != "initialize":
            raise SetBenchmarkOutsideInitialize("set_benchmark can only be called in initialize")
        sid = getattr(benchmark, "sid", None)
        if not isinstance(sid, int) or not 0 <= sid < len(self._bundle.asset_list):
            raise InvalidRunParameters(
                f"set_benchmark expects an Asset of bundle '{self._bundle.name}' (from "
                f"symbol()), got {benchmark!r}"
            )
        self._benchmark = self._bundle.asset_list[sid]

    def set_cancel_policy(self, policy) -> None:
        """``"never"`` (default) or ``"eod"`` (cancel what is open at each session's end)."""
        self._require_initialize("set_cancel_policy")
        self._sim.set_cancel_policy(getattr(policy, "name", policy))

    def schedule_function(
        self, func, date_rule=None, time_rule=None, half_days=True, calendar=None
    ):
        """Call ``func(context, data)`` on the bars the rules pick (zipline's
        ``schedule_function``), after ``handle_data``; it may place orders. Call in
        ``initialize``.

        Example::

            self.schedule_function(self.rebalance, date_rules.month_start(),
                                   time_rules.market_open(hours=1))
        """
        from rustybt.schedule import DateRule, TimeRule, date_rules, time_rules

        if self._sim.phase != "initialize":
            raise RegisterTradingControlPostInit(
                "schedule_function can only be called in initialize"
            )
        if not callable(func):
            raise InvalidRunParameters(f"schedule_function needs a callable, got {func!r}")
        date_rule = date_rule or date_rules.every_day()
        time_rule = time_rule or time_rules.market_open()
        if not isinstance(date_rule, DateRule) or not isinstance(time_rule, TimeRule):
            raise InvalidRunParameters(
                "schedule_function takes a date_rules.* and a time_rules.* rule"
            )
        self._scheduled.append((func, date_rule, time_rule, bool(half_days)))

    def set_fill_model(self, model: str) -> None:
        """Which price of the next bar orders fill at: ``"next_close"`` (zipline's rule, the
        default) or ``"next_open"`` (backtrader's). Limit/stop triggers and slippage then use
        that price; positions are still marked at closes. Call in ``initialize``."""
        self._require_initialize("set_fill_model")
        self._sim.set_fill_model(model)

    # -- trading controls (zipline's; set in initialize) -----------------------------------
    def _control(
        self,
        what,
        kind,
        asset=None,
        max_shares=None,
        max_notional=None,
        max_count=None,
        on_error="fail",
    ):
        self._require_initialize(what)
        sid = None if asset is None else asset.sid
        self._sim.add_control(
            kind,
            sid,
            None if max_shares is None else float(max_shares),
            None if max_notional is None else float(max_notional),
            None if max_count is None else int(max_count),
            on_error,
        )

    def set_max_order_size(self, asset=None, max_shares=None, max_notional=None, on_error="fail"):
        """Refuse (``on_error="fail"``) or log (``"log"``) orders above ``max_shares`` shares or
        ``max_notional`` value, for one asset or all."""
        self._control(
            "set_max_order_size",
            "max_order_size",
            asset,
            max_shares,
            max_notional,
            on_error=on_error,
        )

    def set_max_position_size(
        self, asset=None, max_shares=None, max_notional=None, on_error="fail"
    ):
        """Refuse or log orders that would leave a position above ``max_shares`` /
        ``max_notional``."""
        self._control(
            "set_max_position_size",
            "max_position_size",
            asset,
            max_shares,
            max_notional,
            on_error=on_error,
        )

    def set_max_order_count(self, max_count, on_error="fail"):
        """Refuse or log orders past ``max_count`` in one session."""
        self._control(
            "set_max_order_count", "max_order_count", max_count=max_count, on_error=on_error
        )

    def set_long_only(self, on_error="fail"):
        """Refuse or log orders that would leave a short position."""
        self._control("set_long_only", "long_only", on_error=on_error)

    def set_max_leverage(self, max_leverage):
        """Fail the run (AccountControlViolation) if gross leverage exceeds ``max_leverage``
        after any bar."""
        self._require_initialize("set_max_leverage")
        self._sim.set_max_leverage(float(max_leverage))

    # -- state --------------------------------------------------------------------------------
    @property
    def portfolio(self) -> Portfolio:
        """Cash, value and positions at the current bar."""
        sim, assets = self._sim, self._bundle.asset_list
        positions = {
            assets[sid]: Position(assets[sid], amount, cost_basis, last)
            for sid, amount, cost_basis, last in sim.positions()
        }
        return Portfolio(
            cash=sim.cash(),
            portfolio_value=sim.portfolio_value(),
            positions_value=sim.positions_value(),
            starting_cash=sim.starting_cash(),
            positions=positions,
        )

    @property
    def account(self) -> Account:
        """zipline's account view of the books (cash account: no margin, no interest)."""
        p = self.portfolio
        gross = sum(abs(q.amount * q.last_sale_price) for q in p.positions.values())
        net = sum(q.amount * q.last_sale_price for q in p.positions.values())
        return Account.from_portfolio(p, gross, net)

    def record(self, *args, **kwargs) -> None:
        """Record values to the perf frame: ``record(x=1)`` or ``record("x", 1)``. A value
        stays recorded for later sessions until set again (as in zipline)."""
        if len(args) % 2:
            raise TypeError("record() takes name, value pairs or keyword arguments")
        self._recorded.update(zip(args[::2], args[1::2]))
        self._recorded.update(kwargs)

    def get_datetime(self, tz=None) -> pd.Timestamp:
        """The current bar's close time (UTC, or converted to ``tz``)."""
        if self._sim.phase == "before_trading_start":
            # before the session's first bar: the last bar seen (or, at the bundle's very
            # first session, its open), never a bar of the session itself
            if self._data._before_first:
                dt = self._bundle.session_opens[0]
            else:
                dt = self._bundle.bar_times[self._data.current_bar]
        else:
            dt = self._bundle.bar_times[self._sim.current_bar]
        return dt.tz_convert(tz) if tz is not None else dt

    def get_environment(self, field: str = "platform"):
        """``platform`` is ``'rustybt'``; also ``data_frequency``, ``start``, ``end``,
        ``capital_base``, ``ledger``, ``bundle``, or ``'*'`` for all."""
        env = dict(self._environment)
        return env if field == "*" else env[field]


class FunctionAlgorithm(TradingAlgorithm):
    """zipline's function style: ``initialize(context)``, ``handle_data(context, data)``,
    ... given as plain functions."""

    def __init__(self, initialize=None, handle_data=None, before_trading_start=None, analyze=None):
        self._fn = {
            "initialize": initialize,
            "handle_data": handle_data,
            "before_trading_start": before_trading_start,
            "analyze": analyze,
        }

    def initialize(self, context):
        if self._fn["initialize"] is not None:
            self._fn["initialize"](context)

    def handle_data(self, context, data):
        self._fn["handle_data"](context, data)

    def before_trading_start(self, context, data):
        self._fn["before_trading_start"](context, data)

    def analyze(self, context, perf):
        if self._fn["analyze"] is not None:
            self._fn["analyze"](context, perf)
