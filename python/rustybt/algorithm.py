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

import numpy as np
import pandas as pd

from rustybt.errors import (
    AttachPipelineAfterInitialize,
    BadOrderParameters,
    DuplicatePipelineName,
    InvalidRunParameters,
    RegisterAccountControlPostInit,
    RegisterTradingControlPostInit,
    SetBenchmarkOutsideInitialize,
    SetCancelPolicyPostInit,
    SetCommissionPostInit,
    SetSlippagePostInit,
    StrategyError,
    SymbolNotFound,
)
from rustybt.finance.cancel_policy import CancelPolicy
from rustybt.finance.commission import CommissionModel
from rustybt.finance.execution import ExecutionStyle
from rustybt.finance.slippage import SlippageModel
from rustybt.protocol import (
    ORDER_STATUS,
    Account,
    Order,
    Portfolio,
    Position,
    Positions,
    Transaction,
)

#: zipline's names of the bar sizes zipline has (``get_environment("data_frequency")``).
_ZIPLINE_FREQUENCY = {"1d": "daily", "1m": "minute"}


def _is_real(value) -> bool:
    """A real number, not a bool (exact type checks first: the ABC isinstance is slow)."""
    return (type(value) is float or type(value) is int) or (
        isinstance(value, numbers.Real) and not isinstance(value, bool)
    )


def _order_id(order_id, what: str):
    """An order id: the text ``order()`` returned (32 hex digits, as zipline's uuid hex
    ids), or the integer it encodes (an :class:`Order` is taken by ``cancel_order``
    before this)."""
    if type(order_id) is str or type(order_id) is int:
        return order_id
    if isinstance(order_id, numbers.Integral) and not isinstance(order_id, bool):
        return int(order_id)
    if isinstance(order_id, str):
        return str(order_id)
    raise BadOrderParameters(f"{what} needs an order id (a str), got {order_id!r}")


def _bad_price(name: str, value):
    return BadOrderParameters(f"{name} must be a number, got {value!r}")


def _no_futures(function: str, model) -> None:
    """zipline's ``us_futures=`` model: refused, not ignored (no futures here yet)."""
    if model is not None:
        raise InvalidRunParameters(
            f"{function}(us_futures={model!r}): futures are not supported yet; pass the "
            "equity model as us_equities (or positionally)"
        )


def _engine_model(model, method: str) -> None:
    """A model without ``method`` must be one the engine computes (a built-in or a
    subclass of one): else it is refused, naming what it lacks."""
    try:
        model._spec()
    except TypeError:
        raise InvalidRunParameters(
            f"{type(model).__name__} is a cost model of your own without {method}(): "
            f"define zipline's {method} (see rustybt.finance.slippage / commission)"
        ) from None


def _model_order(algo, fields) -> Order:
    """The order a cost model sees, from the engine's fields of it."""
    oid, sid, amount, filled, commission, limit, stop, created = fields
    times = algo._bundle.bar_times
    return Order(
        oid,
        algo._bundle.asset_list[sid],
        amount,
        filled,
        commission,
        limit,
        stop,
        ORDER_STATUS.OPEN,
        None,
        times[created],
        algo._data.current_dt,
    )


#: What a cost model may not do while the engine fills orders.
_IN_FILL = (
    "a slippage or commission model runs while the engine fills orders: it can read the "
    "data and the order it is given (as zipline's models do), not the portfolio, the "
    "account or the order book, and cannot place or cancel orders"
)


def _in_fill(algo, call):
    """``call()``, a cost model's, with the strategy marked as inside a fill: the engine's
    books are being changed, and a model that reads them (or orders) is refused in words,
    the same in both engines (the Rust engine's books are borrowed for the fill)."""
    algo._filling = True
    try:
        return call()
    except RuntimeError as exc:
        if "borrowed" in str(exc):  # the Rust engine's books, borrowed for the fill
            raise StrategyError(f"{_IN_FILL} ({exc})") from exc
        raise
    finally:
        algo._filling = False


def _slippage_adapter(algo, model):
    """zipline's call of a ``SlippageModel`` subclass: ``process_order(data, order)`` per
    triggered open order; its :class:`LiquidityExceeded` stops the asset's bar."""
    from rustybt.finance.slippage import LiquidityExceeded

    def process(fields, volume_for_bar):
        model._volume_for_bar = volume_for_bar
        try:
            return _in_fill(
                algo, lambda: model.process_order(algo._data, _model_order(algo, fields))
            )
        except LiquidityExceeded:
            return "liquidity"

    return process


def _commission_adapter(algo, model):
    """zipline's call of a ``CommissionModel`` subclass: ``calculate(order, transaction)``
    per fill."""

    def calculate(fields, price, amount):
        order = _model_order(algo, fields)
        txn = Transaction(order.asset, amount, price, algo._data.current_dt, order.id)
        return _in_fill(algo, lambda: model.calculate(order, txn))

    return calculate


#: The order functions by the engine's name for what they order.
_ORDER_KINDS = {
    "target_percent": "order_target_percent",
    "target_value": "order_target_value",
    "target": "order_target",
    "percent": "order_percent",
    "value": "order_value",
    "shares": "order",
}
#: Numbers an order takes as they are (anything else goes the checked way).
_PLAIN_NUMBERS = (float, int, np.float64, np.int64)


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
    def _attach(self, bundle, sim, data, span: tuple[int, int] | None = None) -> None:
        self._bundle = bundle
        self._sim = sim
        self._data = data
        #: the bundle's assets by sid: an order's asset must be one of them, not another
        #: bundle's asset of the same sid
        self._assets: list = bundle.asset_list
        self._recorded: dict[str, object] = {}
        self._benchmark = None
        self._scheduled: list = []
        self._pipelines: dict = {}
        self._span = span
        #: the strategy's own cost models, as the engine calls them (set_slippage /
        #: set_commission with a process_order / calculate of its own)
        self._custom_costs: dict = {}
        #: inside a cost model's call (see _in_fill)
        self._filling = False

    # -- pipeline ---------------------------------------------------------------------------
    def attach_pipeline(self, pipeline, name, chunks=None, eager=True):
        """Compute ``pipeline`` for every session of the run; read it with
        :meth:`pipeline_output` ``(name)``. Call in ``initialize``. ``chunks`` (an int or
        an iterable of ints; default 5, then 252; zipline's: 5, then 126) is how many sessions are
        computed at a time. Returns the pipeline.

        Example::

            def initialize(self, context):
                self.attach_pipeline(Pipeline({"rsi": RSI()}), "rsi")

            def before_trading_start(self, context, data):
                context.rsi = self.pipeline_output("rsi")["rsi"]
        """
        from rustybt.pipeline.attached import AttachedPipeline

        if self._sim.phase != "initialize":
            raise AttachPipelineAfterInitialize(
                f"attach_pipeline({name!r}) can only be called in initialize"
            )
        if name in self._pipelines:
            raise DuplicatePipelineName(f"a pipeline named {name!r} is already attached")
        self._pipelines[name] = AttachedPipeline(self, pipeline, name, chunks, eager)
        return pipeline

    def pipeline_output(self, name):
        """The output of the pipeline attached as ``name`` for the current session: a
        DataFrame indexed by asset, one column per pipeline column, the assets passing its
        screen. It is computed from data up to the previous session (zipline's timing)."""
        from rustybt.errors import NoSuchPipeline, PipelineOutputDuringInitialize

        if self._sim.phase == "initialize":
            raise PipelineOutputDuringInitialize(
                f"pipeline_output({name!r}) cannot be called in initialize: call it in "
                "before_trading_start, handle_data or a scheduled function"
            )
        attached = self._pipelines.get(name)
        if attached is None:
            known = ", ".join(repr(n) for n in self._pipelines) or "none"
            raise NoSuchPipeline(f"no pipeline named {name!r} is attached (attached: {known})")
        return attached.output(self._sim.current_session)

    def _require_initialize(self, what: str, error=RegisterTradingControlPostInit) -> None:
        if self._sim.phase != "initialize":
            raise error(f"{what} can only be called in initialize")

    # -- assets -----------------------------------------------------------------------------
    def symbol(self, symbol: str):
        """The asset with this ticker."""
        return self._bundle.symbol(symbol)

    def symbols(self, *symbols: str) -> list:
        """The assets with these tickers."""
        return [self._bundle.symbol(s) for s in symbols]

    def sid(self, sid: int):
        """The asset with this sid, or :class:`~rustybt.errors.SidsNotFound` (a
        :class:`~rustybt.errors.SymbolNotFound`) if the bundle has none."""
        return self._bundle.sid(sid)

    def future_symbol(self, symbol: str):
        """zipline's futures lookup: refused, futures are not supported yet."""
        raise InvalidRunParameters(
            f"future_symbol({symbol!r}): futures are not supported yet (bundles hold equities)"
        )

    def continuous_future(self, root_symbol_str: str, *args, **kwargs):
        """zipline's continuous futures: refused, futures are not supported yet."""
        raise InvalidRunParameters(
            f"continuous_future({root_symbol_str!r}): futures are not supported yet"
        )

    def fetch_csv(self, url, *args, **kwargs):
        """zipline's fetcher (a CSV read from a URL into ``data``): refused — ingest the
        data into a bundle instead (``rustybt ingest table``), so that runs are
        reproducible and need no network."""
        raise InvalidRunParameters(
            f"fetch_csv({url!r}) is not supported: ingest the data into a bundle "
            "(rustybt ingest table / rustybt.ingest_table) and read it with data.history"
        )

    def batch_market_order(self, share_counts) -> list:
        """zipline's ``batch_market_order``: a market order for each asset → share count of
        ``share_counts`` whose count is not zero; returns their order ids, in order. The
        same orders, rounding, rules and fills as calling :meth:`order` for each (unlike
        zipline, whose batch skips the trading controls).

        Parameters
        ----------
        share_counts : mapping, pandas.Series or iterable of (Asset, number) pairs
            Shares to order per asset (negative sells); zero counts are skipped.

        Returns
        -------
        list
            One entry per non-zero count, in order: the order id (32 hex digits), or
            None where the count rounds to zero shares (e.g. 0.5).

        Raises
        ------
        RustyBTError
            What :meth:`order` raises for a count (:class:`~rustybt.errors.BadOrderParameters`,
            :class:`~rustybt.errors.TradingControlViolation`, ...); the orders placed
            before the refused one stay placed.

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Batch(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.ids = None
        ...     def handle_data(self, context, data):
        ...         if context.ids is None:  # the first bar
        ...             a, b = self.symbols("S000", "S001")
        ...             context.ids = self.batch_market_order({a: 10, b: -5})
        ...     def analyze(self, context, perf):
        ...         context.orders = [self.get_order(i) for i in context.ids]
        >>> algo = Batch()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-03",
        ...                           end="2022-01-05")
        >>> [(o.asset.symbol, o.amount, o.status_name) for o in algo.orders]
        [('S000', 10, 'filled'), ('S001', -5, 'filled')]
        """
        items = share_counts.items() if hasattr(share_counts, "items") else share_counts
        return self._order_many("shares", [(a, n) for a, n in items if n])

    def order_batch(self, targets, kind: str = "target_percent") -> list:
        """A whole rebalance in one engine call: for each asset → value of ``targets``, in
        order, what ``order_<kind>(asset, value)`` does (``kind="target_percent"``:
        :meth:`order_target_percent` of each), with the same rounding, controls and fills
        as those calls one by one (each sees the orders before it).

        Parameters
        ----------
        targets : mapping, pandas.Series or iterable of (Asset, number) pairs
            The value per asset: a weight, a share count, a value, ... as ``kind`` reads it.
        kind : {"target_percent", "target_value", "target", "percent", "value", "shares"}
            Which order function each value is for (``"shares"``: :meth:`order`).

        Returns
        -------
        list
            One entry per asset, in order: the order id, or None where nothing was ordered
            (the amount rounded to zero).

        Raises
        ------
        RustyBTError
            What the order function raises for a value; the orders placed before the
            refused one stay placed, as in a loop of single calls.

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-batch", assets=3, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Rebalance(rustybt.TradingAlgorithm):
        ...     def handle_data(self, context, data):
        ...         assets = self.symbols("S000", "S001", "S002")
        ...         self.order_batch(dict(zip(assets, [0.5, 0.3, 0.0])))
        >>> perf = rustybt.run_algorithm(algorithm=Rebalance, bundle=bundle,
        ...                              capital_base=1e5)
        >>> sorted(p["sid"].symbol for p in perf["positions"].iloc[-1])
        ['S000', 'S001']
        """
        if kind not in _ORDER_KINDS:
            raise BadOrderParameters(
                f"kind must be one of {', '.join(map(repr, _ORDER_KINDS))}, got {kind!r}"
            )
        items = targets.items() if hasattr(targets, "items") else targets
        return self._order_many(kind, list(items))

    def _order_many(self, kind: str, items: list) -> list:
        """``items`` (asset, value) ordered by ``kind`` in one engine call when every pair
        is the common case (an asset of this bundle, a plain number); else the same calls
        one by one, the checked way (nothing is placed before that choice)."""
        assets, n = self._assets, len(self._assets)
        sids, values = [], []
        for asset, value in items:
            sid = getattr(asset, "sid", None)
            if (
                type(value) not in _PLAIN_NUMBERS
                or type(sid) is not int
                or not 0 <= sid < n
                or assets[sid] is not asset
            ):
                place = getattr(self, _ORDER_KINDS[kind])
                return [place(asset, value) for asset, value in items]
            sids.append(sid)
            values.append(value)
        return self._sim.order_many(kind, sids, values)

    # -- orders -------------------------------------------------------------------------------
    def _place(self, kind: str, asset, value, limit_price, stop_price, style):
        """An order the checked way: what the order functions' one-call path (a number, a
        market order, an asset of this bundle) leaves. No side effects until the engine
        accepts an order."""
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
        self._check_own(asset, sid)
        # exact type checks first: the ABC isinstance is slow on the per-order path; a str,
        # a bool or anything else float() would take is refused by name
        if (type(value) is not float and type(value) is not int) and (
            not isinstance(value, numbers.Real) or isinstance(value, bool)
        ):
            raise BadOrderParameters(f"order {kind} must be a number, got {value!r}")
        if limit_price is not None:
            t = type(limit_price)
            if t is not float and t is not int and not _is_real(limit_price):
                raise _bad_price("limit_price", limit_price)
            limit_price = float(limit_price)
        if stop_price is not None:
            t = type(stop_price)
            if t is not float and t is not int and not _is_real(stop_price):
                raise _bad_price("stop_price", stop_price)
            stop_price = float(stop_price)
        try:
            return self._sim.order(kind, sid, float(value), limit_price, stop_price)
        except SymbolNotFound:
            raise SymbolNotFound(f"{asset!r} is not in bundle '{self._bundle.name}'") from None

    def _check_own(self, asset, sid) -> None:
        """Refuse an asset that is not this bundle's (another bundle's asset of the same sid
        would otherwise trade this bundle's)."""
        own = self._assets[sid] if type(sid) is int and 0 <= sid < len(self._assets) else None
        if own is not None and own is not asset and own.symbol != asset.symbol:
            raise SymbolNotFound(
                f"{asset!r} is not in bundle '{self._bundle.name}' (its sid {sid} is {own!r} there)"
            )

    def order(self, asset, amount, limit_price=None, stop_price=None, style=None):
        """Order ``amount`` shares of ``asset`` (negative sells), as zipline's ``order``.

        The order is placed at the current bar and fills at a later one: at the next bar's
        close by default (zipline's rule; ``set_fill_model("next_open")`` for the open),
        through the slippage and commission models, which may fill it over several bars.
        It stays open until filled or cancelled (:meth:`cancel_order`,
        :meth:`set_cancel_policy`). Orders may be placed in ``handle_data`` and scheduled
        functions only.

        ``amount`` is rounded to whole shares as zipline rounds it: an amount within 0.0001
        of a whole number is that number (``2.99995`` → 3), any other is rounded toward
        zero (``2.9`` → 2, ``-2.9`` → -2). An asset traded in fractional lots (its
        ``lot_size``, e.g. ``0.0001`` for a coin: see ``lot_size`` of
        :func:`rustybt.ingest_table`) is rounded the same way to whole lots (``0.123456``
        → 0.1234). An amount that rounds to zero places nothing and returns None; as in
        zipline, the call is still checked by the trading controls and counted by
        ``set_max_order_count``.

        Parameters
        ----------
        asset : Asset
            An asset of the run's bundle (from :meth:`symbol`, :meth:`sid`, ...).
        amount : int or float
            Shares to buy (positive) or sell (negative); not a str or a bool.
        limit_price : float, optional
            Make it a limit order: a buy fills at or below this price, a sell at or above.
        stop_price : float, optional
            Make it a stop order: a market order once the price reaches it (a buy at or
            above it, a sell at or below). With ``limit_price``: a stop-limit order.
        style : ExecutionStyle, optional
            zipline's alternative to the two prices (not together with them):
            ``MarketOrder()``, ``LimitOrder(limit)``, ``StopOrder(stop)`` or
            ``StopLimitOrder(limit, stop)`` of :mod:`rustybt.finance.execution` (also in
            :mod:`rustybt.api`).

        Returns
        -------
        str or None
            The order id, 32 hex digits (as zipline's), for :meth:`get_order` and
            :meth:`cancel_order`; None when the amount rounds to zero.

        Raises
        ------
        OrderDuringInitialize
            Called in ``initialize`` or ``analyze``.
        OrderInBeforeTradingStart
            Called in ``before_trading_start`` (a subclass of ``OrderDuringInitialize``).
        BadOrderParameters
            ``asset`` is not an Asset; ``amount`` or a price is not a number, or not finite
            (NaN, inf); a price is not positive; ``style`` is not an ExecutionStyle or is
            given with a price; the order, or the position it would leave, is above
            10^15 shares (lots for a fractional asset) or 10^15 in value.
        CannotOrderDelistedAsset
            The asset's data has ended (a ``BadOrderParameters``).
        SymbolNotFound
            ``asset`` is not in the run's bundle (its sid is beyond the bundle's).
        TradingControlViolation
            The order breaks a control set with ``on_error="fail"``
            (:meth:`set_max_order_size`, :meth:`set_max_position_size`,
            :meth:`set_max_order_count`, :meth:`set_long_only`,
            :meth:`set_asset_restrictions`); with ``on_error="log"`` it is placed and a
            warning is logged (logger ``"rustybt"``).

        Raised in the strategy, these reach the caller of :func:`rustybt.run_algorithm`
        as they are (not wrapped in :class:`~rustybt.errors.StrategyError`).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Orders(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.asset = self.symbol("S000")
        ...         context.ids = None
        ...     def handle_data(self, context, data):
        ...         if context.ids is None:  # the first bar
        ...             context.ids = [
        ...                 self.order(context.asset, 10),
        ...                 self.order(context.asset, 2.99995),  # within 0.0001 of 3: 3
        ...                 self.order(context.asset, -2.9),  # toward zero: -2
        ...                 self.order(context.asset, 0.5),  # rounds to 0: no order
        ...                 self.order(context.asset, 5, limit_price=100.0),  # a limit
        ...             ]
        ...     def analyze(self, context, perf):
        ...         context.orders = [self.get_order(i) for i in context.ids if i]
        >>> algo = Orders()
        >>> perf = rustybt.run_algorithm(algorithm=algo, bundle=bundle, capital_base=10_000,
        ...                              start="2022-01-03", end="2022-01-05")
        >>> for order_id in algo.ids:
        ...     print(order_id)
        00000000000000000000000000000000
        00000000000000000000000000000001
        00000000000000000000000000000002
        None
        00000000000000000000000000000003
        >>> [(o.amount, o.filled, o.status_name) for o in algo.orders]
        [(10, 10, 'filled'), (3, 3, 'filled'), (-2, -2, 'filled'), (5, 0, 'open')]
        >>> [t["amount"] for t in perf["transactions"].iloc[1]]  # filled the next session
        [10, 3, -2]

        An asset traded in lots of 0.0001 is ordered in whole lots:

        >>> import pandas as pd
        >>> coin = pd.DataFrame({"symbol": "BTC", "date": ["2024-01-01", "2024-01-02"],
        ...     "open": 40_000.0, "high": 40_000.0, "low": 40_000.0, "close": 40_000.0,
        ...     "volume": 100})
        >>> btc = rustybt.ingest_table(coin, "doc-coin", calendar="24/7", lot_size=0.0001)
        >>> class Coin(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.ids = None
        ...     def handle_data(self, context, data):
        ...         if context.ids is None:  # the first bar
        ...             coin = self.symbol("BTC")
        ...             context.ids = [self.order(coin, 0.123456), self.order(coin, 0.00004)]
        ...     def analyze(self, context, perf):
        ...         context.amount = self.get_order(context.ids[0]).amount
        >>> algo = Coin()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=btc)
        >>> algo.amount, algo.ids[1]  # 0.00004 rounds to no lot: no order
        (0.1234, None)

        Orders are refused outside ``handle_data`` and scheduled functions:

        >>> class TooEarly(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         self.order(self.symbol("S000"), 10)
        >>> try:
        ...     rustybt.run_algorithm(algorithm=TooEarly, bundle=bundle)
        ... except rustybt.errors.OrderDuringInitialize as exc:
        ...     print(exc)
        orders cannot be placed in initialize; place them in handle_data or a scheduled function
        """
        if limit_price is None and stop_price is None and style is None:
            # the common call: one engine call (see _place for the rest)
            t = type(amount)
            if t is float or t is int:
                try:
                    if self._assets[sid := asset.sid] is asset:
                        return self._sim.order("shares", sid, amount, None, None)
                except (AttributeError, IndexError, TypeError):
                    pass
        return self._place("shares", asset, amount, limit_price, stop_price, style)

    def order_value(self, asset, value, limit_price=None, stop_price=None, style=None):
        """Order ``value`` worth of ``asset`` (negative sells), as zipline's
        ``order_value``: ``value / price`` shares at the asset's current price (its last
        close, forward-filled: ``data.current(asset, "price")``), rounded as :meth:`order`
        rounds (toward zero unless within 0.0001 of a whole number; whole lots for a
        fractional asset). The fill's price differs from the one the order was sized at.

        Parameters
        ----------
        asset : Asset
            An asset of the run's bundle.
        value : int or float
            Money to buy for (positive) or sell for (negative), in the bundle's currency.
        limit_price, stop_price, style : optional
            A limit, stop or stop-limit order, as for :meth:`order`.

        Returns
        -------
        str or None
            The order id (32 hex digits); None when the amount rounds to zero shares.

        Raises
        ------
        CannotOrderDelistedAsset
            The asset's data has ended, it has not started trading yet, or it has no price
            yet.
        OrderDuringInitialize, OrderInBeforeTradingStart, BadOrderParameters, SymbolNotFound
            As :meth:`order`; ``BadOrderParameters`` also for a value beyond the ledger's
            exact range.
        TradingControlViolation
            The computed order breaks a trading control (as :meth:`order`).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Value(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.asset = self.symbol("S000")
        ...         context.order_id = None
        ...     def handle_data(self, context, data):
        ...         if context.order_id is None:  # the first bar
        ...             context.price = data.current(context.asset, "price")
        ...             context.order_id = self.order_value(context.asset, 1000)
        ...     def analyze(self, context, perf):
        ...         context.amount = self.get_order(context.order_id).amount
        >>> algo = Value()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-03",
        ...                           end="2022-01-05")
        >>> algo.price, round(1000 / algo.price, 3), algo.amount
        (138.87, 7.201, 7)
        """
        if limit_price is None and stop_price is None and style is None:
            # the common call: one engine call (see _place for the rest)
            t = type(value)
            if t is float or t is int:
                try:
                    if self._assets[sid := asset.sid] is asset:
                        return self._sim.order("value", sid, value, None, None)
                except (AttributeError, IndexError, TypeError):
                    pass
        return self._place("value", asset, value, limit_price, stop_price, style)

    def order_percent(self, asset, percent, limit_price=None, stop_price=None, style=None):
        """Order ``percent`` of the portfolio's value worth of ``asset``, as zipline's
        ``order_percent``: :meth:`order_value` of ``percent × portfolio_value`` (cash plus
        positions at the current bar). ``percent`` is a fraction: ``0.1`` is 10%; a
        negative one sells.

        Parameters
        ----------
        asset : Asset
            An asset of the run's bundle.
        percent : int or float
            The fraction of the portfolio value to buy (positive) or sell (negative).
        limit_price, stop_price, style : optional
            A limit, stop or stop-limit order, as for :meth:`order`.

        Returns
        -------
        str or None
            The order id (32 hex digits); None when the amount rounds to zero shares.

        Raises
        ------
        CannotOrderDelistedAsset
            The asset's data has ended, it has not started trading yet, or it has no price
            yet.
        OrderDuringInitialize, OrderInBeforeTradingStart, BadOrderParameters, SymbolNotFound
            As :meth:`order`; ``BadOrderParameters`` also for a percent beyond the ledger's
            exact range.
        TradingControlViolation
            The computed order breaks a trading control (as :meth:`order`).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Percent(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.asset = self.symbol("S000")
        ...         context.order_id = None
        ...     def handle_data(self, context, data):
        ...         if context.order_id is None:  # the first bar
        ...             context.price = data.current(context.asset, "price")
        ...             context.order_id = self.order_percent(context.asset, 0.5)
        ...     def analyze(self, context, perf):
        ...         context.amount = self.get_order(context.order_id).amount
        >>> algo = Percent()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, capital_base=10_000,
        ...                           start="2022-01-03", end="2022-01-05")
        >>> algo.price, algo.amount  # 5,000 / 138.87 = 36.005 shares
        (138.87, 36)
        """
        if limit_price is None and stop_price is None and style is None:
            # the common call: one engine call (see _place for the rest)
            t = type(percent)
            if t is float or t is int:
                try:
                    if self._assets[sid := asset.sid] is asset:
                        return self._sim.order("percent", sid, percent, None, None)
                except (AttributeError, IndexError, TypeError):
                    pass
        return self._place("percent", asset, percent, limit_price, stop_price, style)

    def order_target(self, asset, target, limit_price=None, stop_price=None, style=None):
        """Order the shares that bring the position in ``asset`` to ``target`` shares, as
        zipline's ``order_target``: ``target`` minus the shares held now, rounded as
        :meth:`order` rounds ``target`` (whole lots for a fractional asset); nothing when
        the position is already there. ``order_target(asset, 0)`` closes the position.

        As in zipline, open orders are not counted: called again before its first order
        has filled (later in the same bar, or while a limit order waits), it orders again.
        Check :meth:`get_open_orders` first where that can happen.

        Parameters
        ----------
        asset : Asset
            An asset of the run's bundle.
        target : int or float
            The number of shares to hold (negative: a short position).
        limit_price, stop_price, style : optional
            A limit, stop or stop-limit order, as for :meth:`order`.

        Returns
        -------
        str or None
            The order id (32 hex digits); None when nothing needs ordering.

        Raises
        ------
        OrderDuringInitialize, OrderInBeforeTradingStart, BadOrderParameters
            As :meth:`order` (``target`` in place of the amount).
        CannotOrderDelistedAsset, SymbolNotFound, TradingControlViolation
            As :meth:`order`.

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Target(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.asset = self.symbol("S000")
        ...         context.log = []
        ...     def handle_data(self, context, data):
        ...         calls = 1 if context.log else 2  # twice on the first bar
        ...         for _ in range(calls):
        ...             order_id = self.order_target(context.asset, 10)
        ...             held = context.portfolio.positions[context.asset].amount
        ...             ordered = self.get_order(order_id).amount if order_id else None
        ...             context.log.append((held, ordered))
        >>> algo = Target()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-03",
        ...                           end="2022-01-05")
        >>> algo.log  # (shares held, shares ordered) per call: the second call ordered again
        [(0, 10), (0, 10), (20, -10), (10, None)]
        """
        if limit_price is None and stop_price is None and style is None:
            # the common call: one engine call (see _place for the rest)
            t = type(target)
            if t is float or t is int:
                try:
                    if self._assets[sid := asset.sid] is asset:
                        return self._sim.order("target", sid, target, None, None)
                except (AttributeError, IndexError, TypeError):
                    pass
        return self._place("target", asset, target, limit_price, stop_price, style)

    def order_target_value(self, asset, target, limit_price=None, stop_price=None, style=None):
        """Order the shares that bring the position in ``asset`` to ``target`` worth, as
        zipline's ``order_target_value``: ``target / price`` minus the shares held now at
        the asset's current price (its last close, forward-filled), rounded as
        :meth:`order` rounds (toward zero unless within 0.0001 of a whole number; whole
        lots for a fractional asset). ``target=0`` closes the position. As
        :meth:`order_target`, open orders are not counted.

        Parameters
        ----------
        asset : Asset
            An asset of the run's bundle.
        target : int or float
            The value to hold (negative: a short position), in the bundle's currency.
        limit_price, stop_price, style : optional
            A limit, stop or stop-limit order, as for :meth:`order`.

        Returns
        -------
        str or None
            The order id (32 hex digits); None when nothing needs ordering.

        Raises
        ------
        CannotOrderDelistedAsset
            The asset's data has ended, it has not started trading yet, or it has no price
            yet.
        OrderDuringInitialize, OrderInBeforeTradingStart, BadOrderParameters, SymbolNotFound
            As :meth:`order`; ``BadOrderParameters`` also for a target beyond the ledger's
            exact range.
        TradingControlViolation
            The computed order breaks a trading control (as :meth:`order`).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class TargetValue(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.asset = self.symbol("S000")
        ...         context.log = []
        ...     def handle_data(self, context, data):
        ...         target = 1000 if len(context.log) < 2 else 0  # then close the position
        ...         order_id = self.order_target_value(context.asset, target)
        ...         held = context.portfolio.positions[context.asset].amount
        ...         ordered = self.get_order(order_id).amount if order_id else None
        ...         context.log.append((data.current(context.asset, "price"), held, ordered))
        >>> algo = TargetValue()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-03",
        ...                           end="2022-01-05")
        >>> algo.log  # (price, shares held, shares ordered) per bar
        [(138.87, 0, 7), (137.93, 7, None), (138.25, 7, -7)]
        """
        if limit_price is None and stop_price is None and style is None:
            # the common call: one engine call (see _place for the rest)
            t = type(target)
            if t is float or t is int:
                try:
                    if self._assets[sid := asset.sid] is asset:
                        return self._sim.order("target_value", sid, target, None, None)
                except (AttributeError, IndexError, TypeError):
                    pass
        return self._place("target_value", asset, target, limit_price, stop_price, style)

    def order_target_percent(self, asset, target, limit_price=None, stop_price=None, style=None):
        """Order the shares that bring the position in ``asset`` to ``target`` of the
        portfolio's value, as zipline's ``order_target_percent``:
        :meth:`order_target_value` of ``target × portfolio_value`` (cash plus positions at
        the current bar). ``target`` is a fraction (``0.25`` is 25%); ``0`` closes the
        position. As :meth:`order_target`, open orders are not counted.

        Parameters
        ----------
        asset : Asset
            An asset of the run's bundle.
        target : int or float
            The fraction of the portfolio value to hold (negative: a short position).
        limit_price, stop_price, style : optional
            A limit, stop or stop-limit order, as for :meth:`order`.

        Returns
        -------
        str or None
            The order id (32 hex digits); None when nothing needs ordering.

        Raises
        ------
        CannotOrderDelistedAsset
            The asset's data has ended, it has not started trading yet, or it has no price
            yet.
        OrderDuringInitialize, OrderInBeforeTradingStart, BadOrderParameters, SymbolNotFound
            As :meth:`order`; ``BadOrderParameters`` also for a target beyond the ledger's
            exact range.
        TradingControlViolation
            The computed order breaks a trading control (as :meth:`order`).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Halves(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.assets = self.symbols("S000", "S001")
        ...         context.held = []
        ...     def handle_data(self, context, data):
        ...         s000, s001 = context.assets
        ...         self.order_target_percent(s000, 0.0 if context.held else 0.5)
        ...         self.order_target_percent(s001, 0.5)
        ...         positions = context.portfolio.positions
        ...         context.held.append([positions[a].amount for a in context.assets])
        >>> algo = Halves()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, capital_base=10_000,
        ...                           start="2022-01-03", end="2022-01-05")
        >>> algo.held  # [S000, S001] shares at each bar; 5,000 / 138.87 = 36.005, / 150.87 = 33.1
        [[0, 0], [36, 33], [0, 33]]
        """
        if limit_price is None and stop_price is None and style is None:
            # the common call: one engine call (see _place for the rest)
            t = type(target)
            if t is float or t is int:
                try:
                    if self._assets[sid := asset.sid] is asset:
                        return self._sim.order("target_percent", sid, target, None, None)
                except (AttributeError, IndexError, TypeError):
                    pass
        return self._place("target_percent", asset, target, limit_price, stop_price, style)

    def cancel_order(self, order) -> None:
        """Cancel an open order, as zipline's ``cancel_order``: its unfilled part is
        cancelled now (status ``CANCELLED``; what has filled stays filled). An order that
        is no longer open (filled, cancelled, rejected) is left as it is.

        Parameters
        ----------
        order : str or Order
            The order's id (the str :meth:`order` returned; also the int it encodes) or
            the :class:`~rustybt.protocol.Order` (from :meth:`get_order` or
            :meth:`get_open_orders`).

        Returns
        -------
        None

        Raises
        ------
        BadOrderParameters
            ``order`` is no order id (a float, a list, ...), or no order has that id
            (zipline ignores an unknown id).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Cancel(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.order_id = None
        ...     def handle_data(self, context, data):
        ...         asset = self.symbol("S000")
        ...         if context.order_id is None:  # a buy limit far below the price
        ...             context.order_id = self.order(asset, 10, limit_price=100.0)
        ...         else:
        ...             for order in self.get_open_orders(asset):
        ...                 self.cancel_order(order)
        ...     def analyze(self, context, perf):
        ...         context.order = self.get_order(context.order_id)
        >>> algo = Cancel()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-03",
        ...                           end="2022-01-05")
        >>> algo.order.status_name, algo.order.filled, algo.order.dt
        ('cancelled', 0, Timestamp('2022-01-04 21:00:00+0000', tz='UTC'))
        """
        if type(order) is Order:
            order_id = order.id
        elif type(order) is str:
            order_id = order
        else:
            order_id = order.id if isinstance(order, Order) else _order_id(order, "cancel_order")
        self._sim.cancel_order(order_id)

    def get_order(self, order_id) -> Order | None:
        """The order with this id as it stands now, as zipline's ``get_order``: a
        :class:`~rustybt.protocol.Order`, a snapshot (call again for a later state) of
        ``id``, ``asset``, ``amount`` (after rounding), ``filled``, ``commission``,
        ``limit``, ``stop``, ``status`` (an :class:`~rustybt.protocol.ORDER_STATUS`;
        ``status_name`` is its lower-case name), ``reason`` (why it was rejected, else
        None), ``created`` (the bar it was placed at) and ``dt`` (the bar it last changed
        at); ``open_amount`` is what remains to fill.

        Parameters
        ----------
        order_id : str
            The id :meth:`order` returned (32 hex digits; also the int it encodes).

        Returns
        -------
        Order or None
            The order; None for an id no order has (as zipline).

        Raises
        ------
        BadOrderParameters
            ``order_id`` is no order id at all (a float, a list, ...).

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Inspect(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.order_id = None
        ...         context.seen = []
        ...     def handle_data(self, context, data):
        ...         if context.order_id is None:  # the first bar
        ...             context.order_id = self.order(self.symbol("S000"), 10)
        ...         order = self.get_order(context.order_id)
        ...         context.seen.append((order.status_name, order.filled, order.open_amount))
        >>> algo = Inspect()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-03",
        ...                           end="2022-01-05")
        >>> algo.seen  # (status, filled, open amount) at each bar
        [('open', 0, 10), ('filled', 10, 0), ('filled', 10, 0)]
        >>> algo.get_order("f" * 32) is None  # no order has this id
        True
        """
        if type(order_id) is not str:
            order_id = _order_id(order_id, "get_order")
        try:
            o = self._sim.order_info(order_id)
        except BadOrderParameters as exc:
            if str(exc).startswith("unknown order id"):  # the ledger's UnknownOrder
                return None
            raise
        times = self._bundle.bar_times
        return Order(
            f"{int(order_id, 16) if type(order_id) is str else order_id:032x}",
            self._bundle.asset_list[o.sid],
            o.amount,
            o.filled,
            o.commission,
            o.limit,
            o.stop,
            ORDER_STATUS(o.status),
            o.reason,
            times[o.created_bar],
            times[o.updated_bar],
        )

    def get_open_orders(self, asset=None):
        """The open orders, as zipline's ``get_open_orders``: those of ``asset``, or of
        every asset. Each is a :class:`~rustybt.protocol.Order` snapshot (as
        :meth:`get_order`), in the order they were placed.

        Parameters
        ----------
        asset : Asset, optional
            One asset; None (the default) for every asset.

        Returns
        -------
        list of Order, or dict of Asset to list of Order
            With ``asset``: its open orders (an empty list when there are none). Without:
            a dict of each asset that has open orders to its list.

        Raises
        ------
        BadOrderParameters
            ``asset`` is neither an Asset nor None.

        Examples
        --------
        >>> import rustybt
        >>> bundle = rustybt.ingest_synthetic("doc-orders", assets=2, start="2022-01-03",
        ...                                   end="2022-01-14")
        >>> class Waiting(rustybt.TradingAlgorithm):
        ...     def initialize(self, context):
        ...         context.open = None
        ...     def handle_data(self, context, data):
        ...         if context.open is None:  # the first bar: a market and a limit order
        ...             self.order(self.symbol("S000"), 10)
        ...             self.order(self.symbol("S001"), 10, limit_price=100.0)
        ...             context.open = self.get_open_orders()
        ...         context.still_open = self.get_open_orders()
        >>> algo = Waiting()
        >>> _ = rustybt.run_algorithm(algorithm=algo, bundle=bundle, start="2022-01-03",
        ...                           end="2022-01-05")
        >>> {a.symbol: [o.amount for o in orders] for a, orders in algo.open.items()}
        {'S000': [10], 'S001': [10]}
        >>> {a.symbol: [o.limit for o in orders] for a, orders in algo.still_open.items()}
        {'S001': [100.0]}
        """
        if asset is not None:
            try:
                sid = asset.sid
            except AttributeError:
                raise BadOrderParameters(
                    f"get_open_orders expects an Asset (from symbol()) or None, got {asset!r}"
                ) from None
            return [self.get_order(oid) for _, oid in self._sim.open_orders(sid)]
        out: dict = {}
        for sid, oid in self._sim.open_orders(None):
            out.setdefault(self._bundle.asset_list[sid], []).append(self.get_order(oid))
        return out

    # -- costs ------------------------------------------------------------------------------
    def set_slippage(self, us_equities=None, us_futures=None) -> None:
        """Choose the slippage model (in ``initialize``; later:
        :class:`~rustybt.errors.SetSlippagePostInit`)."""
        self._require_initialize("set_slippage", SetSlippagePostInit)
        _no_futures("set_slippage", us_futures)
        model = us_equities
        if not isinstance(model, SlippageModel):
            raise BadOrderParameters(f"set_slippage needs a SlippageModel, got {model!r}")
        self._set_costs("slippage", model, "process_order", self._sim.set_slippage)

    def set_commission(self, us_equities=None, us_futures=None) -> None:
        """Choose the commission model (in ``initialize``; later:
        :class:`~rustybt.errors.SetCommissionPostInit`)."""
        self._require_initialize("set_commission", SetCommissionPostInit)
        _no_futures("set_commission", us_futures)
        model = us_equities
        if not isinstance(model, CommissionModel):
            raise BadOrderParameters(f"set_commission needs a CommissionModel, got {model!r}")
        self._set_costs("commission", model, "calculate", self._sim.set_commission)

    def _set_costs(self, kind: str, model, method: str, set_engine_model) -> None:
        """A cost model of the strategy's own (it defines zipline's ``method``) is called
        through the engine's cost hook; any other is one the engine computes. The hook is
        set anew each time, so a built-in model replacing one's own takes effect."""
        had_own = bool(self._custom_costs)
        if hasattr(type(model), method):
            adapter = _slippage_adapter if kind == "slippage" else _commission_adapter
            self._custom_costs[kind] = adapter(self, model)
        else:
            _engine_model(model, method)
            self._custom_costs.pop(kind, None)
            set_engine_model(model)
        if had_own or self._custom_costs:
            self._sim.set_cost_models(self._data, **self._custom_costs)

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
        """What happens to orders still open at a session's end: ``NeverCancel()`` or
        ``"never"`` (the default: they stay open), ``EODCancel()`` or ``"eod"`` (they are
        cancelled; as in zipline, on intraday bars only). Call in ``initialize`` (later:
        :class:`~rustybt.errors.SetCancelPolicyPostInit`); anything else raises
        :class:`~rustybt.errors.InvalidRunParameters`.

        Example::

            from rustybt.api import EODCancel
            self.set_cancel_policy(EODCancel())
        """
        self._require_initialize("set_cancel_policy", SetCancelPolicyPostInit)
        if isinstance(policy, CancelPolicy) and policy.name is not None:
            policy = policy.name
        elif type(policy) is not str:
            raise InvalidRunParameters(
                "cancel policy must be 'never', 'eod', NeverCancel() or EODCancel(), "
                f"got {policy!r}"
            )
        self._sim.set_cancel_policy(policy)

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
        from rustybt.errors import ScheduleFunctionInvalidCalendar
        from rustybt.schedule import DateRule, TimeRule, calendars, date_rules, time_rules

        if calendar not in (None, calendars.US_EQUITIES):
            why = (
                "futures are not supported yet"
                if calendar == calendars.US_FUTURES
                else "allowed: None (the run's calendar) or calendars.US_EQUITIES"
            )
            raise ScheduleFunctionInvalidCalendar(
                f"schedule_function(calendar={calendar!r}): {why}"
            )
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

    def set_history_before_data(self, policy: str) -> None:
        """What a ``data.history`` window reaching before the bundle's first bar does:
        ``"warn"`` (the default: NaN for the missing bars, one ``RuntimeWarning`` per run)
        or ``"raise"`` (zipline's :class:`~rustybt.errors.HistoryWindowStartsBeforeData`).
        The environment variable ``RUSTYBT_HISTORY_BEFORE_DATA`` sets the default. A window
        before one asset's late start is NaN either way, as in zipline."""
        if policy not in ("warn", "raise"):
            raise InvalidRunParameters(
                f"set_history_before_data takes 'warn' or 'raise', got {policy!r}"
            )
        self._data.before_data = policy

    def set_history_rounding(self, places: int | None = 3) -> None:
        """Decimal places ``data.history`` rounds prices to. zipline rounds every equity
        history window to 3 places (NumPy's ``around``: half to even on the binary value),
        after splits and dividends have rescaled it; that is the default here too, so
        strategies that size orders from adjusted prices make zipline's decisions.
        ``set_history_rounding(None)`` gives the exact adjusted values instead. ``data.current``
        and Pipeline inputs are never rounded (nor are they in zipline).

        >>> from rustybt.api import set_history_rounding  # doctest: +SKIP
        >>> set_history_rounding(None)  # in initialize  # doctest: +SKIP
        """
        if places is not None and (type(places) is not int or not 0 <= places <= 12):
            raise InvalidRunParameters(
                f"set_history_rounding takes 0..12 decimal places or None, got {places!r}"
            )
        self._data._set_round_places(places)

    def set_fill_model(self, model: str) -> None:
        """Which price of the next bar orders fill at: ``"next_close"`` (zipline's rule, the
        default) or ``"next_open"`` (backtrader's). Limit/stop triggers and slippage then use
        that price; positions are still marked at closes. Call in ``initialize``."""
        self._require_initialize("set_fill_model")
        if type(model) is not str:
            raise InvalidRunParameters(
                f"fill model must be 'next_close' or 'next_open', got {model!r}"
            )
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
        sid = None
        if asset is not None:
            sid = getattr(asset, "sid", None)
            if type(sid) is not int or not 0 <= sid < len(self._bundle.asset_list):
                raise InvalidRunParameters(
                    f"{what} expects an Asset of bundle '{self._bundle.name}' (from symbol()) "
                    f"or None for every asset, got {asset!r}"
                )
        for name, value in (("max_shares", max_shares), ("max_notional", max_notional)):
            if value is not None and not _is_real(value):
                raise InvalidRunParameters(f"{name} must be a number, got {value!r}")
        if max_count is not None:
            count = max_count
            if isinstance(count, float) and count.is_integer():
                count = int(count)
            if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 0:
                raise InvalidRunParameters(
                    f"max_count must be a non-negative integer, got {max_count!r}"
                )
            # no session holds 2**32 orders: a larger count is the same as none
            max_count = min(int(count), 2**32 - 1)
        if type(on_error) is not str:
            raise InvalidRunParameters(f"on_error must be 'fail' or 'log', got {on_error!r}")
        self._sim.add_control(
            kind,
            sid,
            None if max_shares is None else float(max_shares),
            None if max_notional is None else float(max_notional),
            max_count,
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
        """Refuse or log orders past ``max_count`` (a non-negative integer) in one session."""
        self._control(
            "set_max_order_count", "max_order_count", max_count=max_count, on_error=on_error
        )

    def set_long_only(self, on_error="fail"):
        """Refuse or log orders that would leave a short position."""
        self._control("set_long_only", "long_only", on_error=on_error)

    def set_max_leverage(self, max_leverage):
        """Fail the run (AccountControlViolation) if gross leverage exceeds ``max_leverage``
        (a finite, non-negative number) after any bar. An account control: call it in
        ``initialize`` (later: :class:`~rustybt.errors.RegisterAccountControlPostInit`)."""
        self._require_initialize("set_max_leverage", RegisterAccountControlPostInit)
        if not _is_real(max_leverage):
            raise InvalidRunParameters(
                f"max_leverage must be a finite, non-negative number, got {max_leverage!r}"
            )
        self._sim.set_max_leverage(float(max_leverage))

    def set_min_leverage(self, min_leverage, grace_period) -> None:
        """zipline's ``set_min_leverage``: once ``grace_period`` (a ``pd.Timedelta``) has
        passed since the first session, gross leverage below ``min_leverage`` after any bar
        fails the run (:class:`~rustybt.errors.AccountControlViolation`). An account
        control: call it in ``initialize``."""
        self._require_initialize("set_min_leverage", RegisterAccountControlPostInit)
        if not _is_real(min_leverage):
            raise InvalidRunParameters(
                f"min_leverage must be a finite, non-negative number, got {min_leverage!r}"
            )
        try:
            grace = pd.Timedelta(grace_period)
        except (TypeError, ValueError):
            raise InvalidRunParameters(
                f"grace_period must be a pandas Timedelta, got {grace_period!r}"
            ) from None
        first = self._bundle.sessions[self._span[0]]
        deadline = (first + grace).tz_localize(None).tz_localize("UTC")
        self._sim.set_min_leverage(float(min_leverage), int(deadline.value))

    def set_asset_restrictions(self, restrictions, on_error: str = "fail") -> None:
        """zipline's ``set_asset_restrictions``: an order for an asset ``restrictions``
        (:mod:`rustybt.finance.asset_restrictions`) freeze at the order's time breaks the
        ``RestrictedListOrder`` control — refused with
        :class:`~rustybt.errors.TradingControlViolation`, or with ``on_error="log"`` placed
        with a warning — and ``data.can_trade`` is False for it. Call in ``initialize``."""
        from rustybt.finance.asset_restrictions import compile_restrictions

        self._require_initialize("set_asset_restrictions")
        rules = []
        for asset, component, at, frozen in compile_restrictions(restrictions):
            sid = getattr(asset, "sid", None)
            if type(sid) is not int or sid >= len(self._bundle.asset_list):
                raise InvalidRunParameters(
                    f"restrictions name {asset!r}, not an Asset of bundle '{self._bundle.name}' "
                    "(use symbol())"
                )
            rules.append((sid, component, at, frozen))
        self._sim.add_restrictions(rules, on_error)
        self._data._restrictions.append(restrictions)

    def set_do_not_order_list(self, restricted_list, on_error: str = "fail") -> None:
        """zipline's ``set_do_not_order_list``: the assets of ``restricted_list`` may never
        be ordered (``set_asset_restrictions(StaticRestrictions(restricted_list))``)."""
        from rustybt.finance.asset_restrictions import StaticRestrictions

        self.set_asset_restrictions(StaticRestrictions(restricted_list), on_error)

    def set_symbol_lookup_date(self, dt) -> None:
        """zipline's ``set_symbol_lookup_date`` (which date ``symbol()`` resolves a ticker
        as of, for tickers reused over time). A bundle here maps each ticker to one asset,
        so every date resolves the same way: the date is checked and kept
        (``get_environment``-style, as ``self.symbol_lookup_date``) and changes nothing."""
        try:
            self.symbol_lookup_date = pd.Timestamp(dt)
        except (TypeError, ValueError):
            raise InvalidRunParameters(f"set_symbol_lookup_date needs a date, got {dt!r}") from None

    # -- state --------------------------------------------------------------------------------
    @property
    def portfolio(self) -> Portfolio:
        """Cash, value and positions at the current bar. ``positions`` maps each asset
        held to its :class:`~rustybt.protocol.Position`; as in zipline, an asset not held
        reads as an empty position (amount 0) without being added."""
        if self._filling:
            raise StrategyError(f"context.portfolio was read in a cost model: {_IN_FILL}")
        sim, assets = self._sim, self._bundle.asset_list
        positions = Positions()
        for sid, amount, cost_basis, last in sim.positions():
            asset = assets[sid]
            positions[asset] = Position(asset, amount, cost_basis, last)
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
        """The current bar's close time (UTC, or converted to ``tz``); in
        ``before_trading_start``, 8:45 US/Eastern of the session, as zipline's clock has it
        (whatever the calendar)."""
        if self._sim.phase == "before_trading_start":
            day = self._bundle.sessions[self._sim.current_session]
            dt = (
                pd.Timestamp(day.date())
                .tz_localize("US/Eastern")
                .replace(hour=8, minute=45)
                .tz_convert("UTC")
            )
        else:
            dt = self._bundle.bar_times[self._sim.current_bar]
        return dt.tz_convert(tz) if tz is not None else dt

    def get_environment(self, field: str = "platform"):
        """One field of the run's environment, or ``'*'`` for a dict of all of them:
        ``platform`` (``'rustybt'``), ``arena`` (``'backtest'``), ``data_frequency``,
        ``start`` and ``end`` (the first and last session), ``capital_base``, ``ledger``
        and ``bundle``. ``data_frequency`` is zipline's ``'daily'`` or ``'minute'`` for
        bundles of daily or minute bars, and the bar size (e.g. ``'1h'``) for others. An
        unknown field raises :class:`~rustybt.errors.InvalidRunParameters` (a
        ``ValueError``, as in zipline)."""
        env = self._environment
        if field == "*":
            env = dict(env)
            freq = env["data_frequency"]
            env["data_frequency"] = _ZIPLINE_FREQUENCY.get(freq, freq)
            return env
        try:
            value = env[field]
        except (KeyError, TypeError):
            raise InvalidRunParameters(
                f"{field!r} is not a valid field for get_environment (fields: "
                f"{', '.join(sorted(env))}, or '*' for all)"
            ) from None
        if field == "data_frequency":
            return _ZIPLINE_FREQUENCY.get(value, value)
        return value


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
