"""zipline's semantics where they are subtle: the benchmark from adjusted prices, history
rounded to 3 places as zipline rounds it. Each expectation is computed independently here
from the bundle's raw CSV values, never read back from the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt import reference
from rustybt.errors import BenchmarkAssetNotAvailableTooEarly, InvalidRunParameters

DATES = pd.bdate_range("2022-01-03", periods=12, freq="C", holidays=["2022-01-17"])
#: raw closes of the benchmark asset: a 2-for-1 split on session 5, a 0.25 dividend on 8
BENCH_CLOSES = [40.0, 40.4, 41.0, 40.2, 40.9, 20.7, 20.9, 21.3, 21.0, 21.4, 21.6, 21.5]
SPLIT_AT, SPLIT = 5, 2.0
DIV_AT, DIV = 8, 0.25
#: a second asset whose 3-for-2 split leaves adjusted prices with many decimals
ODD_CLOSES = [10.01, 10.07, 10.13, 10.19, 10.23, 6.83, 6.86, 6.9, 6.93, 6.97, 7.0, 7.03]
ODD_SPLIT_AT, ODD_SPLIT = 5, 1.5


def _write(root, symbol, closes, actions):
    lines = ["date,open,high,low,close,volume,dividend,split"]
    for i, (d, c) in enumerate(zip(DATES, closes)):
        div, split = actions.get(i, (0.0, 1.0))
        o = round(c * 0.99, 2)
        lines.append(f"{d.date()},{o},{c + 0.5:.2f},{o - 0.5:.2f},{c},10000,{div},{split}")
    (root / "daily").mkdir(parents=True, exist_ok=True)
    (root / "daily" / f"{symbol}.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def actions_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("actions")
    _write(root, "BEN", BENCH_CLOSES, {SPLIT_AT: (0.0, SPLIT), DIV_AT: (DIV, 1.0)})
    _write(root, "ODD", ODD_CLOSES, {ODD_SPLIT_AT: (0.0, ODD_SPLIT)})
    late = [f"{d.date()},5,5.5,4.5,5,100,0,1" for d in DATES[3:]]
    (root / "daily" / "LATE.csv").write_text(
        "date,open,high,low,close,volume,dividend,split\n" + "\n".join(late) + "\n"
    )
    return rustybt.ingest_csvdir(root, "zl-semantics")


def _adjusted_closes(closes, actions_as_of_end):
    """Closes adjusted as of the last session: zipline's ratios (1 / split, 1 − dividend /
    previous raw close) multiplied into every earlier close."""
    out = np.array(closes, dtype=float)
    for at, kind, value in actions_as_of_end:
        ratio = 1.0 / value if kind == "split" else 1.0 - value / closes[at - 1]
        out[:at] *= ratio
    return out


def _bench_algo(symbol):
    class Bench(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.set_benchmark(self.symbol(symbol))

    return Bench


def test_benchmark_uses_adjusted_prices_and_the_first_open(actions_bundle):
    perf = rustybt.run_algorithm(algorithm=_bench_algo("BEN"), bundle=actions_bundle)
    adjusted = np.round(
        _adjusted_closes(BENCH_CLOSES, [(SPLIT_AT, "split", SPLIT), (DIV_AT, "div", DIV)]), 3
    )
    expected = adjusted[1:] / adjusted[:-1] - 1.0
    first_open = round(BENCH_CLOSES[0] * 0.99, 2)
    expected = np.concatenate(([BENCH_CLOSES[0] / first_open - 1.0], expected))
    got = np.diff(np.concatenate(([0.0], np.log1p(perf["benchmark_period_return"]))))
    np.testing.assert_allclose(np.expm1(got), expected, rtol=0, atol=1e-12)
    # the split day is the asset's move, not −49%; the dividend is reinvested
    assert abs(np.expm1(got)[SPLIT_AT]) < 0.03
    raw_move = BENCH_CLOSES[DIV_AT] / BENCH_CLOSES[DIV_AT - 1] - 1.0
    assert np.expm1(got)[DIV_AT] > raw_move
    ref = reference.run_algorithm(algorithm=_bench_algo("BEN"), bundle=actions_bundle)
    np.testing.assert_array_equal(
        ref["benchmark_period_return"].to_numpy(), perf["benchmark_period_return"].to_numpy()
    )


def test_benchmark_first_session_uses_the_previous_close_when_there_is_one(actions_bundle):
    perf = rustybt.run_algorithm(
        algorithm=_bench_algo("BEN"), bundle=actions_bundle, start=DATES[2], end=DATES[-1]
    )
    adjusted = np.round(
        _adjusted_closes(BENCH_CLOSES, [(SPLIT_AT, "split", SPLIT), (DIV_AT, "div", DIV)]), 3
    )
    assert perf["benchmark_period_return"].iloc[0] == pytest.approx(
        adjusted[2] / adjusted[1] - 1.0, abs=1e-15
    )


def test_benchmark_asset_starting_late_is_refused(actions_bundle):
    with pytest.raises(BenchmarkAssetNotAvailableTooEarly, match=r"LATE.*starts on 2022-01-06"):
        rustybt.run_algorithm(algorithm=_bench_algo("LATE"), bundle=actions_bundle)
    assert issubclass(BenchmarkAssetNotAvailableTooEarly, InvalidRunParameters)


class _RecordHistory(rustybt.TradingAlgorithm):
    places = "default"

    def initialize(self, context):
        context.odd = self.symbol("ODD")
        if self.places != "default":
            self.set_history_rounding(self.places)

    def handle_data(self, context, data):
        if data.current_dt.normalize().tz_localize(None) == DATES[-1]:
            context.series = data.history(context.odd, "close", len(DATES), "1d").to_numpy()
            context.array = data.history([context.odd], "close", len(DATES), "1d", "array")

    def analyze(self, context, perf):
        type(self).seen = (context.series, context.array[:, 0])


@pytest.mark.parametrize("places", ["default", None, 2])
def test_history_is_rounded_as_zipline_rounds_it(actions_bundle, places):
    algo = type("Rec", (_RecordHistory,), {"places": places})
    rustybt.run_algorithm(algorithm=algo, bundle=actions_bundle)
    series, array = algo.seen
    exact = _adjusted_closes(ODD_CLOSES, [(ODD_SPLIT_AT, "split", ODD_SPLIT)])
    # NumPy's around: multiply, round half to even, divide
    digits = 3 if places == "default" else places
    expected = exact if places is None else np.round(exact, digits)
    np.testing.assert_array_equal(series, expected)
    np.testing.assert_array_equal(array, expected)
    assert not np.array_equal(np.round(exact, 3), exact)  # the rounding did something
    # the reference engine reads the same windows
    ref_algo = type("RefRec", (_RecordHistory,), {"places": places})
    reference.run_algorithm(algorithm=ref_algo, bundle=actions_bundle)
    np.testing.assert_array_equal(ref_algo.seen[0], expected)


def test_history_rounding_is_validated(actions_bundle):
    class Bad(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.set_history_rounding(13)

    with pytest.raises(InvalidRunParameters, match=r"0\.\.12 decimal places or None, got 13"):
        rustybt.run_algorithm(algorithm=Bad, bundle=actions_bundle)


# -- dividends: earned on the ex-date, paid on the pay date -------------------------------

PAY_DATES = pd.bdate_range("2022-03-01", periods=10)  # XNYS sessions: no holiday here


def _dividend_table(tmp_path, pay_dates: dict[str, str], name: str):
    """Three payers with a 0.5 dividend on session 3, differing in their pay dates."""
    lines = ["symbol,date,open,high,low,close,volume,dividend,split,pay_date"]
    for symbol, pay in pay_dates.items():
        for i, d in enumerate(PAY_DATES):
            div, pay_text = ("0.5", pay) if i == 3 else ("0", "")
            lines.append(f"{symbol},{d.date()},20,20.5,19.5,20,100000,{div},1,{pay_text}")
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return rustybt.ingest_table(path, name)


class _HoldPayers(rustybt.TradingAlgorithm):
    def initialize(self, context):
        context.done = False

    def handle_data(self, context, data):
        if not context.done:
            for a in self._bundle.asset_list:
                self.order(a, 100)
            context.done = True


def test_dividends_are_paid_on_the_pay_date(tmp_path):
    # the ex-date is 2022-03-04 (session 3), a Friday
    bundle = _dividend_table(
        tmp_path,
        {"EXD": "", "SAT": "2022-03-05", "LATER": "2022-03-10", "NEVER": "2022-06-01"},
        "paydates",
    )
    perf = rustybt.run_algorithm(algorithm=_HoldPayers, bundle=bundle, capital_base=100000)
    ref = reference.run_algorithm(algorithm=_HoldPayers, bundle=bundle, capital_base=100000)
    moved = perf["ending_cash"].diff().round(6)
    moved.index = moved.index.date
    after_buying = moved.loc[pd.Timestamp("2022-03-04").date() :]
    # 100 shares × 0.5 each: EXD on its ex-date, SAT on the next session (Monday 03-07),
    # LATER on 03-10, NEVER not within the bundle
    assert after_buying.to_dict() == {
        pd.Timestamp("2022-03-04").date(): 50.0,
        pd.Timestamp("2022-03-07").date(): 50.0,
        pd.Timestamp("2022-03-08").date(): 0.0,
        pd.Timestamp("2022-03-09").date(): 0.0,
        pd.Timestamp("2022-03-10").date(): 50.0,
        pd.Timestamp("2022-03-11").date(): 0.0,
        pd.Timestamp("2022-03-14").date(): 0.0,
    }
    for col in ("ending_cash", "portfolio_value", "returns", "capital_used"):
        np.testing.assert_array_equal(ref[col].to_numpy(), perf[col].to_numpy(), err_msg=col)
    # the same table as Parquet, pay dates as timestamps, is the same bundle
    frame = pd.read_csv(tmp_path / "paydates.csv", parse_dates=["date", "pay_date"])
    frame.to_parquet(tmp_path / "paydates.parquet")
    again = rustybt.ingest_table(tmp_path / "paydates.parquet", "paydates-pq")
    assert again.content_hash == bundle.content_hash


def test_pay_date_refusals(tmp_path):
    from rustybt.errors import IngestError

    base = "symbol,date,open,high,low,close,volume,dividend,pay_date\n"
    cases = {
        "A,2022-03-01,20,20,20,20,1,0.5,2022-02-28": "pay date 2022-02-28 is before the ex-date",
        "A,2022-03-01,20,20,20,20,1,0,2022-03-02": "pay date 2022-03-02 on a row without a dividend",
        "A,2022-03-01,20,20,20,20,1,0.5,03/02/2022": "'03/02/2022' is not a date",
    }
    for i, (row, reason) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.csv"
        path.write_text(base + row + "\n")
        with pytest.raises(IngestError, match=reason) as info:
            rustybt.ingest_table(path, f"bad{i}")
        assert f"bad{i}.csv:2: column 'pay_date'" in str(info.value)
    path = tmp_path / "nodiv.csv"
    path.write_text("symbol,date,open,high,low,close,volume,pay_date\nA,2022-03-01,1,1,1,1,1,\n")
    with pytest.raises(IngestError, match="a pay_date column needs a dividend column"):
        rustybt.ingest_table(path, "nodiv")


# -- restrictions, min leverage, the rest of zipline.api ----------------------------------


def test_api_has_every_name_of_zipline_api():
    import rustybt.api as api

    # zipline-reloaded 3.2's dir(zipline.api), public names
    zipline_names = [
        "EODCancel",
        "FixedBasisPointsSlippage",
        "FixedSlippage",
        "HistoricalRestrictions",
        "NeverCancel",
        "RESTRICTION_STATES",
        "Restriction",
        "StaticRestrictions",
        "VolumeShareSlippage",
        "attach_pipeline",
        "batch_market_order",
        "calendars",
        "cancel_order",
        "cancel_policy",
        "commission",
        "continuous_future",
        "date_rules",
        "events",
        "execution",
        "fetch_csv",
        "future_symbol",
        "get_datetime",
        "get_environment",
        "get_open_orders",
        "get_order",
        "math_utils",
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
        "set_long_only",
        "set_max_leverage",
        "set_max_order_count",
        "set_max_order_size",
        "set_max_position_size",
        "set_min_leverage",
        "set_slippage",
        "set_symbol_lookup_date",
        "sid",
        "slippage",
        "symbol",
        "symbols",
        "time_rules",
    ]
    assert [n for n in zipline_names if not hasattr(api, n)] == []
    assert api.math_utils.round_if_near_integer(2.99995) == 3
    assert api.events.date_rules is api.date_rules


class _Restricted(rustybt.TradingAlgorithm):
    on_error = "fail"
    kind = "historical"

    def initialize(self, context):
        from rustybt.api import (
            RESTRICTION_STATES,
            HistoricalRestrictions,
            Restriction,
            StaticRestrictions,
        )

        ben, odd = self.symbol("BEN"), self.symbol("ODD")
        context.assets = [ben, odd]
        context.seen = []
        if self.kind == "historical":
            frozen = HistoricalRestrictions(
                [
                    Restriction(ben, pd.Timestamp(DATES[3], tz="UTC"), RESTRICTION_STATES.FROZEN),
                    Restriction(ben, pd.Timestamp(DATES[6], tz="UTC"), RESTRICTION_STATES.ALLOWED),
                ]
            )
            self.set_asset_restrictions(frozen | StaticRestrictions([]), on_error=self.on_error)
        else:
            self.set_do_not_order_list([odd], on_error=self.on_error)

    def handle_data(self, context, data):
        context.seen.append(tuple(bool(data.can_trade(a)) for a in context.assets))
        for a in context.assets:
            self.order(a, 1)

    def analyze(self, context, perf):
        type(self).seen = context.seen


@pytest.mark.parametrize("engine", ["rust", "reference"])
def test_restrictions_refuse_orders_and_can_trade(actions_bundle, engine):
    from rustybt.errors import TradingControlViolation

    run = rustybt.run_algorithm if engine == "rust" else reference.run_algorithm
    algo = type("R", (_Restricted,), {})
    with pytest.raises(
        TradingControlViolation, match=r"BEN at 2022-01-06.*RestrictedListOrder\(\{\}\)"
    ):
        run(algorithm=algo, bundle=actions_bundle)
    logged = type("L", (_Restricted,), {"on_error": "log"})
    perf = run(algorithm=logged, bundle=actions_bundle)
    # frozen from session 3 until session 6: can_trade says so; "log" still places orders
    assert [s[0] for s in logged.seen] == [i not in (3, 4, 5) for i in range(len(DATES))]
    placed = {o["id"] for orders in perf["orders"] for o in orders}
    assert len(placed) == 2 * len(DATES)
    dnol = type("D", (_Restricted,), {"kind": "do_not_order", "on_error": "log"})
    run(algorithm=dnol, bundle=actions_bundle)
    assert [s[1] for s in dnol.seen] == [False] * len(DATES)


def test_restrictions_of_ones_own_are_refused(actions_bundle):
    from rustybt.finance.asset_restrictions import Restrictions

    class Mine(Restrictions):
        def is_restricted(self, assets, dt):
            return False

    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.set_asset_restrictions(Mine())

    with pytest.raises(InvalidRunParameters, match="Mine is a Restrictions subclass of your own"):
        rustybt.run_algorithm(algorithm=Algo, bundle=actions_bundle)


@pytest.mark.parametrize("engine", ["rust", "reference"])
def test_min_leverage_fails_after_the_grace_period(actions_bundle, engine):
    from rustybt.errors import AccountControlViolation

    class Idle(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.set_min_leverage(0.5, pd.Timedelta(days=3))

    run = rustybt.run_algorithm if engine == "rust" else reference.run_algorithm
    # the deadline is 2022-01-06 00:00; the first bar after it is that session's close
    with pytest.raises(
        AccountControlViolation,
        match=r"MinLeverage\(min_leverage=0.5, deadline=2022-01-06T00:00:00Z\) at "
        r"2022-01-06T21:00:00Z: gross leverage 0.000000",
    ):
        run(algorithm=Idle, bundle=actions_bundle)


# -- run_algorithm's zipline keywords ------------------------------------------------------


def test_run_algorithm_takes_ziplines_keywords(actions_bundle, tmp_path):
    import os

    from rustybt.bundles import bundles_dir

    class Noop(rustybt.TradingAlgorithm):
        pass

    base = rustybt.run_algorithm(algorithm=Noop, bundle="zl-semantics")
    same = rustybt.run_algorithm(
        algorithm=Noop,
        bundle="zl-semantics",
        trading_calendar="XNYS",
        bundle_timestamp=pd.Timestamp.now(tz="UTC"),
        environ=dict(os.environ),
        default_extension=True,
        strict_extensions=True,
        custom_loader=None,
        blotter="default",
    )
    pd.testing.assert_series_equal(same["portfolio_value"], base["portfolio_value"])
    refusals = {
        "trading_calendar": ("XLON", r"trading_calendar='XLON'.*'XNYS'"),
        "bundle_timestamp": ("2000-01-01", r"no version of bundle 'zl-semantics' was ingested"),
        "extensions": (["ext.py"], r"extensions=\['ext.py'\]: rustybt loads no zipline"),
        "custom_loader": (object(), "custom_loader: Pipeline columns come from the bundle"),
        "blotter": ("mine", "blotter='mine': rustybt's engine has one blotter"),
    }
    for keyword, (value, message) in refusals.items():
        with pytest.raises(InvalidRunParameters, match=message):
            rustybt.run_algorithm(algorithm=Noop, bundle="zl-semantics", **{keyword: value})
    # environ names the data root: a root without the bundle does not find it
    from rustybt.errors import BundleNotFound

    with pytest.raises(BundleNotFound, match=str(tmp_path)):
        rustybt.run_algorithm(
            algorithm=Noop, bundle="zl-semantics", environ={"RUSTYBT_ROOT": str(tmp_path)}
        )
    assert (bundles_dir() / "zl-semantics").is_dir()


# -- assets and the session ---------------------------------------------------------------


def test_assets_carry_ziplines_attributes_and_equal_their_sids(actions_bundle):
    ben = actions_bundle.symbol("BEN")
    assert ben == ben.sid and ben.sid == ben and hash(ben) == hash(ben.sid)
    assert ben != ben.sid + 1 and ben < ben.sid + 1 and ben != "BEN"
    assert {ben.sid: "x"}[ben] == "x"
    assert ben.start_date == pd.Timestamp(DATES[0]) and ben.end_date == pd.Timestamp(DATES[-1])
    assert ben.auto_close_date == pd.Timestamp(DATES[-1]) + pd.Timedelta(days=1)
    assert (ben.asset_name, ben.tick_size, ben.price_multiplier, ben.first_traded) == (
        "BEN",
        0.01,
        1.0,
        None,
    )
    d = ben.to_dict()
    assert d["sid"] == ben.sid and d["symbol"] == "BEN" and d["end_date"] == ben.end_date
    assert d["auto_close_date"] == ben.auto_close_date and d["multiplier"] == 1.0


def test_data_current_session_and_its_minutes(actions_bundle):
    class Sessions(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.seen = []

        def handle_data(self, context, data):
            minutes = data.current_session_minutes
            context.seen.append((data.current_session, minutes[0], minutes[-1], len(minutes)))

        def analyze(self, context, perf):
            type(self).seen = context.seen

    rustybt.run_algorithm(algorithm=Sessions, bundle=actions_bundle)
    first = Sessions.seen[0]
    assert first[0] == pd.Timestamp(DATES[0])
    # XNYS in January: 14:30-21:00 UTC, minutes labelled by their end
    assert first[1:] == (
        pd.Timestamp("2022-01-03 14:31", tz="UTC"),
        pd.Timestamp("2022-01-03 21:00", tz="UTC"),
        390,
    )
    assert [s[0] for s in Sessions.seen] == list(DATES)


# -- a strategy's own cost models ---------------------------------------------------------


def _custom_models_algo(fail_at: int | None = None, liquidity: bool = False):
    from rustybt.finance.commission import CommissionModel
    from rustybt.finance.slippage import LiquidityExceeded, SlippageModel

    class TenthOfBarVolume(SlippageModel):
        def process_order(self, data, order):
            if (
                fail_at is not None
                and data.current_dt.normalize().tz_localize(None) == DATES[fail_at]
            ):
                raise ZeroDivisionError("model bug")
            if liquidity and self.volume_for_bar > 0:
                raise LiquidityExceeded()
            price = data.current(order.asset, "close")
            cap = int(data.current(order.asset, "volume") * 0.1) - self.volume_for_bar
            shares = min(abs(order.open_amount), cap)
            if shares < 1:
                return None
            return price + 0.013 * order.direction, shares * order.direction

    class CentAndMinimum(CommissionModel):
        def calculate(self, order, transaction):
            owed = abs(transaction.amount) * 0.0125
            return max(owed, 1.0) if order.commission == 0 else owed

    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.set_slippage(TenthOfBarVolume())
            self.set_commission(CentAndMinimum())

        def handle_data(self, context, data):
            a = self.symbol("ODD")
            if data.current_dt.normalize().tz_localize(None) in (DATES[1], DATES[7]):
                self.order(
                    a, 1500 if data.current_dt.normalize().tz_localize(None) == DATES[1] else -700
                )
                self.order(a, 300)

    return Algo


def test_custom_cost_models_in_both_engines(actions_bundle):
    rust = rustybt.run_algorithm(algorithm=_custom_models_algo(), bundle=actions_bundle)
    ref = reference.run_algorithm(algorithm=_custom_models_algo(), bundle=actions_bundle)
    assert reference.exact_values(rust) == reference.exact_values(ref)
    fills = rustybt.results.transactions_frame(rust)
    # volume 10000 a bar: at most 1000 shares a bar, the first order's first fill 1000
    assert fills["amount"].abs().max() == 1000 and fills["amount"].iloc[0] == 1000
    close = ODD_CLOSES[2]
    assert fills["price"].iloc[0] == pytest.approx(close + 0.013)
    assert fills["commission"].iloc[0] == pytest.approx(12.5)  # 1000 × 0.0125 ≥ 1.0
    # with LiquidityExceeded the second order of a bar never fills on it
    rust_l = rustybt.run_algorithm(
        algorithm=_custom_models_algo(liquidity=True), bundle=actions_bundle
    )
    ref_l = reference.run_algorithm(
        algorithm=_custom_models_algo(liquidity=True), bundle=actions_bundle
    )
    assert reference.exact_values(rust_l) == reference.exact_values(ref_l)
    per_bar = rustybt.results.transactions_frame(rust_l).groupby("dt").size()
    assert per_bar.max() == 1


@pytest.mark.parametrize("engine", ["rust", "reference"])
def test_a_builtin_model_replaces_ones_own(actions_bundle, engine):
    from rustybt.finance.commission import PerShare
    from rustybt.finance.slippage import FixedSlippage

    base = _custom_models_algo()

    class Replaced(base):
        def initialize(self, context):
            super().initialize(context)
            self.set_slippage(FixedSlippage(spread=0.0))
            self.set_commission(PerShare(cost=0.0, min_trade_cost=0.0))

    run = rustybt.run_algorithm if engine == "rust" else reference.run_algorithm
    fills = rustybt.results.transactions_frame(run(algorithm=Replaced, bundle=actions_bundle))
    # the engine's models fill whole orders at the close, free
    closes = dict(zip(DATES, ODD_CLOSES))
    assert fills["amount"].tolist() == [1500, 300, -700, 300]
    assert fills["price"].tolist() == [closes[d] for d in (DATES[2], DATES[2], DATES[8], DATES[8])]
    assert fills["commission"].tolist() == [0.0] * 4


def test_a_failing_custom_model_stops_the_run_naming_it(actions_bundle):
    from rustybt.errors import StrategyError

    for run in (rustybt.run_algorithm, reference.run_algorithm):
        with pytest.raises(
            StrategyError, match=r"a cost model raised ZeroDivisionError at 2022-01-06.*model bug"
        ):
            run(algorithm=_custom_models_algo(fail_at=3), bundle=actions_bundle)


def test_run_batch_refuses_python_models(actions_bundle):
    from rustybt.finance.slippage import SlippageModel

    class Mine(SlippageModel):
        def process_order(self, data, order):
            return None

    weights = np.zeros((len(DATES), 3))
    with pytest.raises(InvalidRunParameters, match="run_batch computes costs in Rust only: Mine"):
        rustybt.run_batch(bundle=actions_bundle, weights=weights, slippage=Mine())
