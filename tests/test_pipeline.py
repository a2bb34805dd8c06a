"""Pipeline: zipline's names, the Rust engine against the reference kernels on random
bundles (missing bars, late starts, delistings, splits, dividends), zipline's timing and
adjustments, backtests with ``attach_pipeline`` / ``pipeline_output`` on both engines,
and the errors for bad input."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rustybt
import rustybt.reference as reference
from rustybt.calendars import sessions
from rustybt.errors import (
    NoFurtherDataError,
    NonWindowSafeInput,
    NoSuchPipeline,
    PipelineOutputDuringInitialize,
    WindowLengthNotSpecified,
)
from rustybt.pipeline import CustomFactor, Pipeline, run_pipeline
from rustybt.pipeline.classifiers import Everything
from rustybt.pipeline.data import EquityPricing, USEquityPricing
from rustybt.pipeline.factors import (
    EWMA,
    EWMSTD,
    RSI,
    VWAP,
    AnnualizedVolatility,
    Aroon,
    AverageDollarVolume,
    BollingerBands,
    DailyReturns,
    FastStochasticOscillator,
    IchimokuKinkoHyo,
    LinearWeightedMovingAverage,
    MACDSignal,
    MaxDrawdown,
    PercentChange,
    RateOfChangePercentage,
    Returns,
    RollingLinearRegressionOfReturns,
    RollingPearsonOfReturns,
    RollingSpearmanOfReturns,
    SimpleBeta,
    SimpleMovingAverage,
    TrueRange,
)
from rustybt.pipeline.filters import AllPresent, StaticSids

_DAYS = sessions("XNYS", "2022-01-03", "2022-03-31")[0][:45]
DATES = [pd.Timestamp(int(d), unit="D").strftime("%Y-%m-%d") for d in _DAYS]
HEADER = "date,open,high,low,close,volume,dividend,split"
_names = itertools.count()

#: zipline-reloaded 3.2.1's public names (``__all__`` of each package).
ZIPLINE_NAMES = {
    "rustybt.pipeline": """Classifier CustomFactor CustomFilter CustomClassifier Domain
        ExecutionPlan Factor Filter LoadableTerm ComputableTerm Pipeline SimplePipelineEngine
        Term TermGraph""",
    "rustybt.pipeline.factors": """AnnualizedVolatility Aroon AverageDollarVolume
        BollingerBands BusinessDaysSincePreviousEvent BusinessDaysUntilNextEvent CustomFactor
        DailyReturns EWMA EWMSTD ExponentialWeightedMovingAverage
        ExponentialWeightedMovingStdDev Factor FastStochasticOscillator IchimokuKinkoHyo
        Latest LinearWeightedMovingAverage MACDSignal MaxDrawdown
        MovingAverageConvergenceDivergenceSignal PeerCount PercentChange RSI
        RateOfChangePercentage RecarrayField Returns RollingLinearRegressionOfReturns
        RollingPearson RollingPearsonOfReturns RollingSpearman RollingSpearmanOfReturns
        SimpleBeta SimpleMovingAverage TrueRange VWAP WeightedAverageValue
        RollingLinearRegression""",
    "rustybt.pipeline.filters": """All AllPresent Any ArrayPredicate AtLeastN CustomFilter
        Filter Latest MaximumFilter NotNullFilter NullFilter NumExprFilter PercentileFilter
        SingleAsset StaticAssets StaticSids""",
    "rustybt.pipeline.classifiers": "Classifier CustomClassifier Everything Latest Quantiles",
    "rustybt.pipeline.data": """BoundColumn Column DataSet EquityPricing DataSetFamily
        DataSetFamilySlice USEquityPricing""",
}


@pytest.mark.parametrize("module", sorted(ZIPLINE_NAMES))
def test_every_public_name_of_zipline_s_pipeline_exists(module):
    import importlib

    mod = importlib.import_module(module)
    missing = [n for n in ZIPLINE_NAMES[module].split() if not hasattr(mod, n)]
    assert missing == []
    assert USEquityPricing is EquityPricing
    assert hasattr(rustybt.api, "attach_pipeline") and hasattr(rustybt.api, "pipeline_output")


# -- bundles ---------------------------------------------------------------------------------


def _write_bundle(files: dict[str, list[str]]) -> rustybt.Bundle:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "daily").mkdir()
        for symbol, rows in files.items():
            (Path(tmp) / "daily" / f"{symbol}.csv").write_text("\n".join([HEADER, *rows]) + "\n")
        return rustybt.ingest_csvdir(tmp, f"pipe{next(_names)}")


@st.composite
def asset_rows(draw, first: bool) -> list[str]:
    """One asset: a random walk with missing bars; the first asset spans every session,
    the others may start late and end early; now and then a split or a dividend."""
    start = 0 if first else draw(st.integers(0, 20))
    end = len(DATES) if first else draw(st.integers(start + 12, len(DATES)))
    price = draw(st.integers(500, 20_000))
    rows = []
    for i, date in enumerate(DATES[start:end]):
        present = i == 0 or (first and i == end - start - 1) or draw(st.integers(0, 7)) > 0
        step = draw(st.integers(-300, 300))
        price = max(100, price + step * price // 10_000)
        if not present:
            continue
        hi = price + draw(st.integers(0, 50))
        lo = max(1, price - draw(st.integers(0, 50)))
        op = draw(st.integers(lo, hi))
        volume = draw(st.sampled_from([0, 100, 12_345, 1_000_000]))
        dividend, split = "0", "1"
        if rows and draw(st.integers(0, 25)) == 0:
            dividend = f"{draw(st.integers(1, max(1, price // 20))) / 100:.2f}"
        if rows and draw(st.integers(0, 25)) == 0:
            split = draw(st.sampled_from(["2", "0.5", "3", "1.5"]))
        rows.append(
            f"{date},{op / 100:.2f},{hi / 100:.2f},{lo / 100:.2f},{price / 100:.2f},{volume},"
            f"{dividend},{split}"
        )
    return rows


@st.composite
def pipeline_bundles(draw) -> rustybt.Bundle:
    n = draw(st.integers(2, 5))
    return _write_bundle({f"A{k}": draw(asset_rows(first=k <= 1)) for k in range(n)})


class MeanOverStd(CustomFactor):
    """The P1 workload's custom factor: mean / std of daily returns over the window."""

    inputs = (DailyReturns(),)
    window_length = 6
    window_safe = True

    def compute(self, today, assets, out, returns):
        with np.errstate(all="ignore"):
            out[:] = np.nanmean(returns, axis=0) / np.nanstd(returns, axis=0)


def _every_builtin(target) -> Pipeline:
    close = EquityPricing.close
    returns = Returns(window_length=3)
    sma = SimpleMovingAverage(inputs=[close], window_length=5)
    bb = BollingerBands(window_length=5, k=2.0)
    ichimoku = IchimokuKinkoHyo(
        window_length=8, tenkan_sen_length=3, kijun_sen_length=5, chikou_span_length=4
    )
    regression = RollingLinearRegressionOfReturns(
        target=target, returns_length=2, regression_length=6
    )
    # distinct ranks of at least two assets: no tied bin edges (zipline refuses those)
    quantiles = returns.fillna(0.0).rank().quantiles(2)
    return Pipeline(
        {
            "close": close.latest,
            "volume": EquityPricing.volume.latest,
            "sma": sma,
            "ewma": EWMA.from_span(inputs=[close], window_length=6, span=4),
            "ewmstd": EWMSTD(inputs=[close], window_length=6, decay_rate=0.7),
            "lwma": LinearWeightedMovingAverage(inputs=[close], window_length=4),
            "returns": returns,
            "daily": DailyReturns(),
            "pct": PercentChange(inputs=[close], window_length=4),
            "roc": RateOfChangePercentage(inputs=[close], window_length=4),
            "vwap": VWAP(window_length=4),
            "adv": AverageDollarVolume(window_length=5),
            "rsi": RSI(window_length=6),
            "vol": AnnualizedVolatility(window_length=5),
            "mdd": MaxDrawdown(inputs=[close], window_length=6),
            "bb_lower": bb.lower,
            "bb_upper": bb.upper,
            "true_range": TrueRange(),
            "stoch": FastStochasticOscillator(window_length=5),
            "aroon_up": Aroon(window_length=5).up,
            "macd": MACDSignal(fast_period=2, slow_period=4, signal_period=3),
            "tenkan": ichimoku.tenkan_sen,
            "senkou_b": ichimoku.senkou_span_b,
            "chikou": ichimoku.chikou_span,
            "pearson": RollingPearsonOfReturns(
                target=target, returns_length=2, correlation_length=6
            ),
            "spearman": RollingSpearmanOfReturns(
                target=target, returns_length=2, correlation_length=6
            ),
            "beta": regression.beta,
            "p_value": regression.p_value,
            "simple_beta": SimpleBeta(target=target, regression_length=6),
            "custom": MeanOverStd(),
            "rank": sma.rank(),
            "rank_desc_min": returns.rank(method="min", ascending=False),
            "zscore": returns.zscore(),
            "demean_grouped": returns.demean(groupby=quantiles),
            "winsorized": returns.winsorize(0.2, 0.8),
            "quantile": quantiles,
            "peers": quantiles.peer_count(),
            "top2": sma.top(2),
            "bottom1": sma.bottom(1, groupby=Everything()),
            "between": returns.percentile_between(20, 80),
            "all_present": AllPresent(inputs=[close], window_length=4),
            "arith": (sma - close.latest) / sma * 100 + returns.abs(),
            "cmp": (returns > 0) & ~(sma < 50) | StaticSids([0]),
            "fill": returns.fillna(0.0),
            "monthly": sma.downsample("month_start"),
        },
        screen=close.latest.notnull(),
    )


def _assert_same_frames(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    assert fast.index.equals(slow.index)
    assert list(fast.columns) == list(slow.columns)
    for name in fast.columns:
        a, b = fast[name].to_numpy(), slow[name].to_numpy()
        assert a.dtype == b.dtype, name
        if a.dtype != np.float64:
            assert np.array_equal(a, b), name
            continue
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        assert np.array_equal(nan_a, nan_b), (name, fast.index[nan_a != nan_b][:3])
        ok = ~nan_a
        x, y = a[ok], b[ok]
        same_inf = (x == y) | ~np.isfinite(x)
        assert np.array_equal(np.isinf(x), np.isinf(y)), name
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        tol = 1e-12 * np.maximum(np.abs(x), np.abs(y)) + 1e-14
        bad = np.abs(x - y) > tol
        assert not bad.any(), (name, x[bad][:3], y[bad][:3])
        assert same_inf.any() or len(x) == 0 or True


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(bundle=pipeline_bundles(), first=st.integers(12, 30))
def test_rust_pipeline_matches_the_reference_kernels(bundle, first):
    pipe = _every_builtin(bundle.asset_list[0])
    start, end = bundle.sessions[first], bundle.sessions[-1]
    fast = run_pipeline(pipe, start, end, bundle=bundle, chunksize=7)
    # the same chunks: a downsampled term restarts at each chunk, as in zipline
    slow = reference.run_pipeline(pipe, start, end, bundle=bundle, chunksize=7)
    _assert_same_frames(fast, slow)


# -- timing and adjustments -------------------------------------------------------------------


@pytest.fixture(scope="module")
def split_bundle() -> rustybt.Bundle:
    """A: closes 10, 11, ..., a 2-for-1 split on the 8th session (closes halve), a 0.50
    dividend on the 12th; B: constant 20, from the 3rd session to the 15th."""
    a, b = [], []
    for i, date in enumerate(DATES[:20]):
        close = 10 + i if i < 7 else (10 + i) / 2
        split = "2" if i == 7 else "1"
        dividend = "0.50" if i == 11 else "0"
        a.append(f"{date},{close},{close},{close},{close},1000,{dividend},{split}")
        if 2 <= i <= 14:
            b.append(f"{date},20,20,20,20,500,0,1")
    return _write_bundle({"A": a, "B": b})


def test_a_date_sees_the_previous_session_adjusted_as_of_itself(split_bundle):
    pipe = Pipeline(
        {
            "close": EquityPricing.close.latest,
            "sma": SimpleMovingAverage(inputs=[EquityPricing.close], window_length=3),
            "vol": EquityPricing.volume.latest,
        }
    )
    out = run_pipeline(pipe, DATES[3], DATES[19], bundle=split_bundle)
    a = out.xs(split_bundle.symbol("A"), level=1)
    ts = pd.DatetimeIndex(a.index)
    close = a["close"].set_axis(ts.strftime("%Y-%m-%d"))
    # date t shows the close of t - 1 ...
    assert close[DATES[3]] == 12 and close[DATES[6]] == 15
    # ... adjusted as of t: on the ex-date the previous close (16) is halved
    assert close[DATES[7]] == pytest.approx(8.0)
    assert close[DATES[8]] == pytest.approx(8.5)
    # the day before the split's ex-date, nothing is adjusted yet: SMA of 14, 15, 16
    sma = a["sma"].set_axis(close.index)
    assert sma[DATES[7 - 0]] == pytest.approx((14 + 15 + 16) / 2 / 3)  # as of the ex-date
    assert sma[DATES[6]] == pytest.approx((13 + 14 + 15) / 3)
    vol = a["vol"].set_axis(close.index)
    assert vol[DATES[6]] == 1000 and vol[DATES[7]] == 2000  # volumes double on a 2-for-1
    # the dividend: 1 - 0.50 / previous close (20.5 / 2 = 10.5 ... the close before the ex-date)
    prev = (10 + 10) / 2
    assert close[DATES[11]] == pytest.approx(prev * (1 - 0.50 / prev))
    # B exists from the day after its first bar until its last bar's session
    b = out.xs(split_bundle.symbol("B"), level=1)
    bdates = list(pd.DatetimeIndex(b.index).strftime("%Y-%m-%d"))
    assert bdates[0] == DATES[3] and bdates[-1] == DATES[14]


def test_chunks_and_engines_agree(split_bundle):
    pipe = Pipeline({"r": Returns(window_length=4), "rank": Returns(window_length=4).rank()})
    whole = run_pipeline(pipe, DATES[5], DATES[19], bundle=split_bundle, chunksize=None)
    chunked = run_pipeline(pipe, DATES[5], DATES[19], bundle=split_bundle, chunksize=3)
    pd.testing.assert_frame_equal(whole, chunked)


def test_custom_factor_windows_are_read_only_views(split_bundle):
    seen = []

    class Probe(CustomFactor):
        inputs = (EquityPricing.close,)
        window_length = 2

        def compute(self, today, assets, out, close):
            seen.append((close.flags.writeable, close.base is not None))
            out[:] = close[-1]

    run_pipeline(Pipeline({"p": Probe()}), DATES[2], DATES[5], bundle=split_bundle)
    assert seen and all(not writeable for writeable, _ in seen)


def test_custom_factor_today_is_each_date_s_timestamp(split_bundle):
    days = []

    class Today(CustomFactor):
        inputs = (EquityPricing.close,)
        window_length = 1

        def compute(self, today, assets, out, close):
            days.append(today)
            out[:] = 0.0

    out = run_pipeline(
        Pipeline({"t": Today()}), DATES[2], DATES[6], bundle=split_bundle, chunksize=2
    )
    dates = out.index.get_level_values(0).unique()
    assert all(type(day) is pd.Timestamp for day in days)
    assert list(days) == list(dates)
    assert [str(day.tz) for day in days] == [str(d.tz) for d in dates]


def test_polars_output(split_bundle):
    pl = pytest.importorskip("polars")
    pipe = Pipeline({"close": EquityPricing.close.latest})
    out = run_pipeline(pipe, DATES[2], DATES[6], bundle=split_bundle, output="polars")
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["date", "asset", "sid", "close"]
    pdf = run_pipeline(pipe, DATES[2], DATES[6], bundle=split_bundle)
    assert out["close"].to_list() == pdf["close"].tolist()
    # built per chunk straight from the kernels' arrays: the same rows in any chunking
    chunked = run_pipeline(
        pipe, DATES[2], DATES[6], bundle=split_bundle, output="polars", chunksize=2
    )
    assert chunked.equals(out)
    assert out["sid"].to_list() == [a.sid for a in pdf.index.get_level_values(1)]
    dates = pdf.index.get_level_values(0)
    assert out["date"].to_list() == list(dates.tz_localize(None) if dates.tz else dates)


# -- in a backtest -------------------------------------------------------------------------------


def _long_short_rsi(context):
    from rustybt.api import attach_pipeline, schedule_function

    rsi = RSI(window_length=5)
    attach_pipeline(Pipeline({"longs": rsi.top(1), "shorts": rsi.bottom(1)}), "rsi")
    schedule_function(_rebalance)


def _bts(context, data):
    from rustybt.api import pipeline_output

    context.out = pipeline_output("rsi")


def _rebalance(context, data):
    from rustybt.api import order_target_percent, record

    out = context.out
    record(universe=len(out))
    for asset in out.index[out["longs"]]:
        order_target_percent(asset, 0.4)
    for asset in out.index[out["shorts"]]:
        order_target_percent(asset, -0.4)
    for asset in list(context.portfolio.positions):
        if asset not in set(out.index[out["longs"] | out["shorts"]]) and data.can_trade(asset):
            order_target_percent(asset, 0)


@pytest.fixture(scope="module")
def walk_bundle() -> rustybt.Bundle:
    rng = np.random.default_rng(7)
    files = {}
    for k in range(6):
        price = 20.0 + 5 * k
        rows = []
        end = len(DATES) if k != 3 else 30  # C03 stops trading: dropped, positions closed
        for date in DATES[:end]:
            price = max(1.0, round(price * (1 + rng.normal(0, 0.02)), 2))
            split = "2" if (k == 1 and date == DATES[25]) else "1"
            rows.append(f"{date},{price},{price},{price},{price},1000000,0,{split}")
        files[f"C{k:02d}"] = rows
    return _write_bundle(files)


def test_a_pipeline_backtest_matches_the_reference_engine(walk_bundle):
    kwargs = dict(
        start=DATES[8],
        end=DATES[-1],
        initialize=_long_short_rsi,
        before_trading_start=_bts,
        capital_base=100_000,
        bundle=walk_bundle,
    )
    fast = rustybt.run_algorithm(**kwargs)
    slow = reference.run_algorithm(**kwargs)
    assert reference.exact_values(fast) == reference.exact_values(slow)
    assert fast["universe"].tolist() == slow["universe"].tolist()
    assert len(reference.exact_values(fast)["transactions"]) > 5
    # the stopped asset leaves the universe after its last session
    assert fast["universe"].iloc[-1] == 5


SMA4 = SimpleMovingAverage(inputs=[EquityPricing.close], window_length=4)


@pytest.mark.parametrize(
    "columns",
    [
        pytest.param({"sma": SMA4}, id="one-float"),
        # one dtype: the frame is cut from one stacked block
        pytest.param({"sma": SMA4, "ret": Returns(window_length=3)}, id="floats"),
        # mixed dtypes: column by column
        pytest.param(
            {"sma": SMA4, "up": SMA4 > 100, "bucket": SMA4.quartiles()}, id="float-bool-int"
        ),
    ],
)
def test_pipeline_output_is_run_pipeline_s_row_of_the_session(walk_bundle, columns):
    seen = {}
    pipe = Pipeline(columns)

    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.attach_pipeline(pipe, "p", chunks=4)

        def handle_data(self, context, data):
            seen[self.get_datetime().normalize()] = self.pipeline_output("p")

    rustybt.run_algorithm(algorithm=Algo, start=DATES[10], end=DATES[20], bundle=walk_bundle)
    whole = run_pipeline(pipe, DATES[10], DATES[20], bundle=walk_bundle)
    assert len(seen) == 11
    for day, frame in seen.items():
        expected = whole.xs(day.tz_localize(None).tz_localize(whole.index.levels[0].tz), level=0)
        pd.testing.assert_frame_equal(frame, expected, check_names=False)
        # the frame the public constructor builds from the same values, block for block
        public = pd.DataFrame(
            {name: frame[name].to_numpy() for name in frame.columns}, index=frame.index
        )
        pd.testing.assert_frame_equal(frame, public)
        assert [b.dtype for b in frame._mgr.blocks] == [b.dtype for b in public._mgr.blocks]
    # a day's frame is the strategy's own: written to, it changes no other day's
    first, second = list(seen.values())[:2]
    before = second.copy()
    first.iloc[:, 0] = -1.0
    first["added"] = 1
    pd.testing.assert_frame_equal(second, before)


# -- bad input ------------------------------------------------------------------------------------


def test_bad_input_is_refused_by_name(walk_bundle):
    with pytest.raises(AttributeError, match="no attribute 'bogus'"):
        EquityPricing.bogus  # noqa: B018

    class NoWindow(CustomFactor):
        inputs = (EquityPricing.close,)

        def compute(self, today, assets, out, close):
            out[:] = 0

    with pytest.raises(WindowLengthNotSpecified, match="NoWindow needs a window_length"):
        NoWindow()
    with pytest.raises(NonWindowSafeInput, match="SimpleMovingAverage"):
        SimpleMovingAverage(inputs=[MeanOverStd(window_safe=False)], window_length=3)
    long_sma = SimpleMovingAverage(inputs=[EquityPricing.close], window_length=40)
    with pytest.raises(
        NoFurtherDataError, match=r"SimpleMovingAverage\(window_length=40\) needs 40"
    ):
        run_pipeline(Pipeline({"s": long_sma}), DATES[5], DATES[10], bundle=walk_bundle)

    def ask_unknown(context, data):
        from rustybt.api import pipeline_output

        pipeline_output("nope")

    with pytest.raises(NoSuchPipeline, match="no pipeline named 'nope' is attached"):
        rustybt.run_algorithm(
            start=DATES[5], end=DATES[8], initialize=lambda c: None,
            handle_data=ask_unknown, bundle=walk_bundle,
        )  # fmt: skip

    def in_initialize(context):
        from rustybt.api import attach_pipeline, pipeline_output

        attach_pipeline(Pipeline(), "p")
        pipeline_output("p")

    with pytest.raises(
        PipelineOutputDuringInitialize,
        match=r"pipeline_output\('p'\) cannot be called in initialize",
    ):
        rustybt.run_algorithm(
            start=DATES[5], end=DATES[8], initialize=in_initialize,
            handle_data=lambda c, d: None, bundle=walk_bundle,
        )  # fmt: skip


# -- minute bundles ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minute_bundle():
    return rustybt.ingest_synthetic(
        "pipe-minute", assets=3, start="2023-03-01", end="2023-03-17", frequency="minute", seed=5
    )


def test_a_minute_bundle_s_pipeline_sees_its_daily_bars(minute_bundle):
    """On a minute bundle a pipeline computes over the bundle's daily aggregation: the row
    of session t holds session t-1's daily bar, as on a daily bundle."""
    close = EquityPricing.close
    pipe = Pipeline(
        {"c": close.latest, "sma": SimpleMovingAverage(inputs=[close], window_length=3)}
    )
    out = run_pipeline(pipe, "2023-03-08", "2023-03-16", bundle=minute_bundle)
    daily = minute_bundle.resample("1d", "close")
    daily.index = daily.index.normalize()
    sessions = daily.index
    for day in out.index.levels[0]:
        prev = sessions[sessions.get_loc(day.tz_convert(sessions.tz).normalize()) - 1]
        row = out.xs(day, level=0)
        want = daily.loc[prev].to_numpy()
        np.testing.assert_array_equal(row["c"].to_numpy(), want)
        window = daily.loc[:prev].tail(3).to_numpy()
        np.testing.assert_allclose(row["sma"].to_numpy(), window.mean(axis=0), rtol=1e-12)


def test_pipeline_output_in_a_minute_backtest(minute_bundle):
    pipe = Pipeline({"c": EquityPricing.close.latest})
    seen = {}

    class Algo(rustybt.TradingAlgorithm):
        def initialize(self, context):
            self.attach_pipeline(pipe, "p")

        def before_trading_start(self, context, data):
            seen[self.get_datetime().normalize()] = self.pipeline_output("p")

    rustybt.run_algorithm(
        algorithm=Algo, start="2023-03-08", end="2023-03-10", bundle=minute_bundle
    )
    whole = run_pipeline(pipe, "2023-03-08", "2023-03-10", bundle=minute_bundle)
    assert len(seen) == 3
    for frame, day in zip(seen.values(), whole.index.levels[0]):
        pd.testing.assert_frame_equal(frame, whole.xs(day, level=0), check_names=False)
