"""Aggregation of minute bars to coarser bars: exact, cached, and free of look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rustybt
from rustybt.calendars import sessions
from rustybt.errors import HistoryWindowError, InvalidRunParameters
from tests.conftest import write_csvdir

# three XNYS sessions, the middle one an early close (13:00 on 2023-11-24)
DATES, OPENS, CLOSES = sessions("XNYS", "2023-11-22", "2023-11-27")
MINUTES = np.concatenate(
    [np.arange(o + 60_000_000_000, c + 1, 60_000_000_000) for o, c in zip(OPENS, CLOSES)]
)
_counter = iter(range(10_000))


def target_closes(freq: str) -> np.ndarray:
    """Close instants of the coarser bars, built independently of the engine."""
    if freq == "1d":
        return np.asarray(CLOSES)
    step = {"1h": 60, "15m": 15, "5m": 5}[freq] * 60_000_000_000
    out = []
    for o, c in zip(OPENS, CLOSES):
        out += [*range(int(o) + step, int(c), step), int(c)]
    return np.asarray(out)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    density=st.floats(0.05, 1.0),
    freq=st.sampled_from(["1d", "1h", "15m", "5m"]),
)
def test_aggregation_equals_an_independent_groupby(tmp_path_factory, seed, density, freq):
    rng = np.random.default_rng(seed)
    rows, records = {}, []
    for sym in ("AAA", "BBB"):
        keep = rng.random(len(MINUTES)) < density
        keep[rng.integers(len(MINUTES))] = True
        lines = []
        for ts in MINUTES[keep]:
            o, c = rng.integers(100, 100_000, 2) / 100
            hi, lo = (
                max(o, c) + rng.integers(0, 50) / 100,
                max(min(o, c) - rng.integers(0, 50) / 100, 0.01),
            )
            v = int(rng.integers(0, 10_000))
            stamp = pd.Timestamp(int(ts), tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{stamp},{o:.2f},{hi:.2f},{lo:.2f},{c:.2f},{v}")
            records.append((int(ts), sym, round(o, 2), round(hi, 2), round(lo, 2), round(c, 2), v))
        rows[sym] = lines
    root = tmp_path_factory.mktemp("minute")
    write_csvdir(root, rows, sub="minute")
    bundle = rustybt.ingest_csvdir(root, f"agg{next(_counter)}", frequency="minute")
    frame = pd.DataFrame(records, columns=["ts", "sym", "open", "high", "low", "close", "volume"])
    closes = target_closes(freq)
    frame["bar"] = np.searchsorted(closes, frame["ts"].to_numpy(), side="left")
    want = frame.groupby(["sym", "bar"]).agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
    )
    for field in ("open", "high", "low", "close", "volume"):
        got = bundle.resample(freq, field)
        assert list(got.index.asi8) == list(closes)
        for sym in ("AAA", "BBB"):
            w = want[field].xs(sym, level="sym").astype(float)
            g = got[sym].to_numpy()
            np.testing.assert_array_equal(g[w.index.to_numpy()], w.to_numpy())
            empty = np.setdiff1d(np.arange(len(closes)), w.index.to_numpy())
            if field == "volume":
                assert (g[empty] == 0).all()
            else:
                assert np.isnan(g[empty]).all()


@pytest.fixture(scope="module")
def minute_bundle():
    return rustybt.ingest_synthetic(
        "minutes", assets=3, start="2023-03-01", end="2023-03-07", frequency="minute", seed=5
    )


def test_daily_history_in_a_minute_run_is_partial_today_and_cached(minute_bundle):
    daily_close = minute_bundle.resample("1d", "close")
    daily_high = minute_bundle.resample("1d", "high")
    seen = []

    class Probe(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.a = self.symbol("S001")

        def handle_data(self, context, data):
            closes = data.history(context.a, "close", 3, "1d")
            highs = data.history([context.a], "high", 2, "1d", return_type="array")
            seen.append(
                (
                    self.get_datetime(),
                    closes,
                    highs[:, 0],
                    data.current(context.a, "close"),
                    data.current(context.a, "high"),
                )
            )

    rustybt.run_algorithm(algorithm=Probe, bundle=minute_bundle)
    assert len(seen) == 5 * 390
    running_high = None
    for i, (_dt, closes, highs, close_now, high_now) in enumerate(seen):
        day = i // 390
        running_high = high_now if i % 390 == 0 else max(running_high, high_now)
        # today's bar so far: its close is this minute's close, its high the running high
        assert closes.iloc[-1] == close_now
        assert highs[-1] == running_high
        # earlier days are complete days
        for back in (1, 2):
            if day - back >= 0:
                assert closes.iloc[-1 - back] == daily_close["S001"].iloc[day - back]
            else:
                assert np.isnan(closes.iloc[-1 - back])
        if day >= 1:
            assert highs[0] == daily_high["S001"].iloc[day - 1]
        assert closes.index[-1] == minute_bundle.sessions[day]
    stats = minute_bundle.cache_stats("1d")
    # 5 days; each completed day is computed once, then served from the cache
    assert stats["misses"] <= 5
    assert stats["hits"] > 5 * 390


def test_bad_aggregations(minute_bundle, small_bundle):
    with pytest.raises(InvalidRunParameters, match="coarser multiple"):
        minute_bundle.resample("1m")

    class Finer(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            data.history(self.symbol("S000"), "close", 2, "1m")

    with pytest.raises(HistoryWindowError, match="finer than this run's daily bars"):
        rustybt.run_algorithm(algorithm=Finer, bundle=small_bundle)


def test_aggregated_history_is_adjusted_as_of_the_simulation_time(tmp_path):
    day1 = MINUTES[:390]
    day2 = MINUTES[390:600]  # Nov 24th, an early close: 210 minutes
    d = tmp_path / "minute"
    d.mkdir()
    lines = ["date,open,high,low,close,volume,dividend,split"]
    for ts in day1:
        stamp = pd.Timestamp(int(ts), tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{stamp},100,101,99,100,10,0,1")
    for k, ts in enumerate(day2):
        stamp = pd.Timestamp(int(ts), tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{stamp},50,51,49,50,20,0,{2 if k == 0 else 1}")
    (d / "AAA.csv").write_text("\n".join(lines) + "\n")
    bundle = rustybt.ingest_csvdir(tmp_path, "split-minutes", frequency="minute")
    seen = {}

    class Look(rustybt.TradingAlgorithm):
        def handle_data(self, context, data):
            a = self.symbol("AAA")
            seen[self.get_datetime()] = (
                data.history(a, "close", 2, "1d").tolist(),
                data.history(a, "volume", 2, "1d").tolist(),
            )

    rustybt.run_algorithm(algorithm=Look, bundle=bundle, end="2023-11-24")
    times = sorted(seen)
    last_day1 = seen[times[389]]
    assert last_day1[0][-1] == 100.0  # the split of the 24th is not known on the 22nd
    first_day2 = seen[times[390]]
    assert first_day2[0] == [50.0, 50.0]  # day 1's close halved; day 2 so far
    assert first_day2[1] == [3900 * 2, 20]  # day 1's volume doubled
