"""``data.history`` builds its pandas objects around reused parts (the window's labels, the
asset columns) and pandas' own internal block build (rustybt.data._series_from_block and
_frame_from_block): the objects must be exactly those a straightforward construction
gives, on every supported pandas (scripts/test.sh runs this file on pandas 2.2 as well),
and as safe to change: a strategy writing to (or renaming the axes of) what it got must
not change the bundle's data or any later window. The array path stays a view."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rustybt
from rustybt import data as data_module
from rustybt.data import BarData

FIELDS = ["open", "close"]


@pytest.fixture(scope="module")
def one_asset_bundle() -> rustybt.Bundle:
    """R1's shape: a bundle of one asset (its windows are read-only views of the bundle)."""
    return rustybt.ingest_synthetic(
        "floor1", assets=1, start="2022-01-03", end="2022-03-31", seed=3
    )


@pytest.fixture(scope="module")
def minute_bundle() -> rustybt.Bundle:
    return rustybt.ingest_synthetic(
        "floor_minutes", assets=3, start="2023-03-01", end="2023-03-03", frequency="minute", seed=5
    )


@pytest.fixture(params=["internal build", "public constructor"])
def builders(request, monkeypatch):
    """Every check runs with the internal builds and with the public constructors they
    stand in for (what a pandas without those internals gets)."""
    if request.param == "public constructor":
        monkeypatch.setattr(data_module, "_series_from_block", None)
        monkeypatch.setattr(data_module, "_frame_from_block", None)
        monkeypatch.setattr(data_module, "_cut_index", None)
    return request.param


def bar_data(bundle, bar: int) -> BarData:
    d = BarData(bundle)
    d._set_bar(bar)
    return d


def want_index(bundle, data, n: int, frequency: str) -> pd.DatetimeIndex:
    """The window's labels, from the bundle's sessions or bar times, NaT-padded in front."""
    if bundle.frequency == "1d" or frequency == "1d":
        labels = bundle.sessions
        now = data.current_session.tz_localize("UTC")
        end = int(np.flatnonzero(labels == now)[0]) + 1
    else:
        labels = bundle.bar_times
        end = data.current_bar + 1
    start = end - n
    if start >= 0:
        return pd.DatetimeIndex(list(labels[start:end]), tz="UTC")
    return pd.DatetimeIndex([pd.NaT] * -start + list(labels[:end]), tz="UTC")


def want(bundle, data, assets, fields, n: int, frequency: str):
    """The history object built the straightforward way, around copies of the array path."""
    index = want_index(bundle, data, n, frequency)
    arrays = data.history(assets, fields, n, frequency, return_type="array")
    one_asset = not isinstance(assets, list)
    if isinstance(fields, str):
        if one_asset:
            return pd.Series(arrays.copy(), index=index, name=assets)
        return pd.DataFrame(arrays.copy(), index=index, columns=pd.Index(assets, dtype=object))
    if one_asset:  # arrays: [bars, fields]
        return pd.DataFrame({f: arrays[:, i].copy() for i, f in enumerate(fields)}, index=index)
    multi = pd.MultiIndex.from_product([index, pd.Index(assets, dtype=object)])
    return pd.DataFrame({f: arrays[i].reshape(-1).copy() for i, f in enumerate(fields)}, multi)


def assert_identical(got, expected) -> None:
    assert type(got) is type(expected)
    if isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(
            got, expected, check_exact=True, check_index_type=True, check_flags=True
        )
        assert got.name is expected.name
    else:
        pd.testing.assert_frame_equal(
            got,
            expected,
            check_exact=True,
            check_index_type=True,
            check_column_type=True,
            check_flags=True,
        )
        assert list(got.dtypes) == list(expected.dtypes)
    index = got.index.levels[0] if isinstance(got.index, pd.MultiIndex) else got.index
    assert type(index) is pd.DatetimeIndex and str(index.tz) == "UTC"
    assert set(got.index.names) == {None}
    assert got.attrs == {}


def check_all_shapes(bundle, data, frequency: str, n: int) -> None:
    assets = bundle.asset_list
    subset = [assets[-1], assets[0]] if len(assets) > 1 else list(assets)
    for asset_arg in [assets[0], assets[-1], subset, list(assets), tuple(assets)]:
        for fields in ["close", "price", FIELDS]:
            got = data.history(asset_arg, fields, n, frequency)
            # a tuple of assets is a list of them: the same shapes
            arg = list(asset_arg) if isinstance(asset_arg, tuple) else asset_arg
            assert_identical(got, want(bundle, data, arg, fields, n, frequency))
            index = got.index.levels[0] if isinstance(got.index, pd.MultiIndex) else got.index
            assert index.dtype == bundle.sessions.dtype == bundle.bar_times.dtype
            assert index.freq is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # windows before the first bar
@pytest.mark.parametrize("bar", [0, 2, 40])
@pytest.mark.parametrize("n", [1, 3, 30])
def test_daily_history_is_the_straightforward_object(small_bundle, builders, bar, n):
    data = bar_data(small_bundle, bar)
    check_all_shapes(small_bundle, data, "1d", n)
    check_all_shapes(small_bundle, data, "1d", n)  # again, from the caches


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("bar", [0, 20])
@pytest.mark.parametrize("n", [1, 5, 25])
def test_one_asset_bundle_history_is_the_straightforward_object(one_asset_bundle, builders, bar, n):
    data = bar_data(one_asset_bundle, bar)
    check_all_shapes(one_asset_bundle, data, "1d", n)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("bar", [0, 389, 390, 500, 3 * 390 - 1])
@pytest.mark.parametrize(("frequency", "n"), [("1d", 1), ("1d", 2), ("1d", 4), ("1m", 3)])
def test_minute_run_history_is_the_straightforward_object(
    minute_bundle, builders, bar, frequency, n
):
    data = bar_data(minute_bundle, bar)
    check_all_shapes(minute_bundle, data, frequency, n)


@pytest.mark.parametrize(
    ("bundle_name", "frequency"),
    [("small_bundle", "1d"), ("minute_bundle", "1d"), ("minute_bundle", "1m")],
)
def test_history_in_a_run_is_the_straightforward_object(request, bundle_name, frequency):
    """Inside handle_data, as strategies call it: daily, and minute with '1d' windows."""
    bundle = request.getfixturevalue(bundle_name)
    checked = []

    class Probe(rustybt.TradingAlgorithm):
        def initialize(self, context):
            context.a = self.symbol("S001")
            context.assets = self.symbols("S002", "S000")

        def handle_data(self, context, data):
            if len(checked) > 30 and data.current_bar % 97:
                return
            for assets in (context.a, context.assets):
                for n in (1, 3):
                    got = data.history(assets, "close", n, frequency)
                    assert_identical(got, want(bundle, data, assets, "close", n, frequency))
            checked.append(data.current_bar)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rustybt.run_algorithm(algorithm=Probe, bundle=bundle, end=bundle.sessions[-1])
    assert len(checked) > 30


def test_the_internal_builds_are_used_on_this_pandas():
    """On each supported pandas (2.2 and the newest) the internal builds pass their own
    check against the public constructors, so the fast path is the one these tests see."""
    assert data_module._series_from_block is not None, pd.__version__
    assert data_module._frame_from_block is not None, pd.__version__
    assert data_module._cut_index is not None, pd.__version__


@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
def test_the_window_labels_cut_are_the_slice(tz):
    labels = pd.DatetimeIndex(
        ["2024-01-02", "2024-01-03", "2024-01-05", "2024-01-08", "2024-01-09"], tz=tz
    )
    for start, end in [(0, 5), (1, 3), (4, 5), (2, 2), (0, 0)]:
        got, want = data_module._cut_index(labels, start, end), labels[start:end]
        pd.testing.assert_index_equal(got, want, exact=True)
        assert got.freq is None and got.name is None
        assert repr(got) == repr(want)


def test_internal_series_build_is_an_ordinary_series():
    index = pd.date_range("2024-01-01", periods=5, tz="UTC")
    values = np.arange(5.0)
    got = data_module._series_from_block(values, index, "x")
    assert_identical(got, pd.Series(values.copy(), index=index, name="x"))
    got.iloc[1] = 9.0
    got["2024-01-06"] = 1.0  # enlarged in place, as any Series
    assert got.tolist() == [0.0, 9.0, 2.0, 3.0, 4.0, 1.0]
    assert (got + 1).name == "x" and got.rename("y").name == "y"
    assert got.to_frame().columns.tolist() == ["x"]


def writable(x) -> bool:
    try:
        if isinstance(x, pd.Series):
            x.iloc[0] = -12345.0
            x[:] = -12345.0
        else:
            x.iloc[0, 0] = -12345.0
            x.iloc[:, :] = -12345.0
    except ValueError as e:  # a read-only view of the bundle's rows refuses writes
        if "read-only" not in str(e):
            raise
        return False
    raw = np.asarray(x)
    if raw.flags.writeable:  # pandas 2 without copy-on-write: the array itself
        raw[...] = -54321.0
    return True


@pytest.mark.parametrize("which", ["one asset", "a subset", "all assets in sid order"])
@pytest.mark.parametrize("bundle_name", ["small_bundle", "one_asset_bundle"])
def test_writing_to_what_history_returned_changes_nothing_else(
    request, builders, which, bundle_name
):
    bundle = request.getfixturevalue(bundle_name)
    data = bar_data(bundle, 30)
    assets = bundle.asset_list
    arg = {"one asset": assets[0], "a subset": assets[:1], "all assets in sid order": assets}[which]
    array_before = data.history(arg, "close", 10, "1d", return_type="array").copy()
    want_before = want(bundle, data, arg, "close", 10, "1d")
    first = data.history(arg, "close", 10, "1d")
    kept = data.history(arg, "close", 10, "1d")  # another object of the same window
    ok = writable(first)
    if isinstance(first, pd.Series):
        assert ok  # a Series is always its strategy's own (a copy of a read-only view)
    else:  # a frame of every asset in sid order is a read-only view of the bundle's rows
        assert ok is not (len(arg) == len(assets))
    # nothing else changed: the bundle, an object handed out before, later windows
    np.testing.assert_array_equal(data.history(arg, "close", 10, "1d", "array"), array_before)
    assert_identical(kept, want_before)
    assert_identical(data.history(arg, "close", 10, "1d"), want_before)
    data._set_bar(31)
    data._set_bar(30)
    assert_identical(data.history(arg, "close", 10, "1d"), want_before)
    assert_identical(bar_data(bundle, 30).history(arg, "close", 10, "1d"), want_before)


@pytest.mark.parametrize("bundle_name", ["small_bundle", "one_asset_bundle"])
def test_the_one_asset_series_is_writable_on_every_pandas(request, builders, bundle_name):
    """It was a view on pandas 2 (read-only where the bundle's rows are) and a copy on
    pandas 3; it is now a fresh writable array everywhere, the bundle untouched."""
    bundle = request.getfixturevalue(bundle_name)
    data = bar_data(bundle, 30)
    a = bundle.asset_list[0]
    before = data.history(a, "close", 5, "1d", "array").copy()
    s = data.history(a, "close", 5, "1d")
    s.iloc[-1] = 0.0
    s.loc[s.index[0]] = 1.0
    assert s.iloc[-1] == 0.0 and s.iloc[0] == 1.0
    np.testing.assert_array_equal(data.history(a, "close", 5, "1d", "array"), before)
    np.testing.assert_array_equal(data.history(a, "close", 5, "1d").to_numpy(), before)


def test_renaming_the_axes_of_a_window_leaves_later_windows_alone(small_bundle, builders):
    """The labels and the columns are shared by the windows of the bundle (and so by the
    runs of a sweep in one process); their name is the one thing a strategy can change."""
    data = bar_data(small_bundle, 30)
    assets = small_bundle.asset_list[:3]
    a = assets[0]
    s = data.history(a, "close", 5, "1d")
    s.index.name = "date"
    frame = data.history(assets, "close", 5, "1d")
    assert frame.index.name is None
    frame.columns.name = "asset"
    frame.index.names = ["when"]
    s2 = data.history(a, "close", 5, "1d")
    frame2 = data.history(assets, "close", 5, "1d")
    assert s2.index.name is None and frame2.index.name is None and frame2.columns.name is None
    # what the strategy renamed keeps its names
    assert s.index.name == "date" and frame.index.name == "when"
    assert frame.columns.name == "asset"
    assert_identical(s2, want(small_bundle, data, a, "close", 5, "1d"))
    assert_identical(frame2, want(small_bundle, data, assets, "close", 5, "1d"))
    # and in a fresh BarData of the bundle (another run of a sweep)
    other = bar_data(small_bundle, 30)
    assert other.history(a, "close", 5, "1d").index.name is None
    frame3 = other.history(assets, "close", 5, "1d")
    assert frame3.index.name is None and frame3.columns.name is None


def test_a_changed_asset_list_is_a_new_request(small_bundle, builders):
    data = bar_data(small_bundle, 30)
    assets = list(small_bundle.asset_list[:2])
    first = data.history(assets, "close", 3, "1d")
    assets.append(small_bundle.asset_list[4])  # the strategy's own list, changed in place
    second = data.history(assets, "close", 3, "1d")
    assert list(first.columns) == small_bundle.asset_list[:2]
    assert list(second.columns) == [*small_bundle.asset_list[:2], small_bundle.asset_list[4]]
    assert_identical(second, want(small_bundle, data, assets, "close", 3, "1d"))
    # as a tuple, and again as the list: the same frames
    assert_identical(data.history(tuple(assets), "close", 3, "1d"), second)
    assert_identical(data.history(assets, "close", 3, "1d"), second)


def test_history_accepts_sids_only_where_it_did(small_bundle):
    """The array path reads sids as assets; the pandas path wants Assets (it names columns
    and Series by them)."""
    from rustybt.errors import HistoryWindowError

    data = bar_data(small_bundle, 10)
    a = small_bundle.asset_list[2]
    np.testing.assert_array_equal(
        data.history(2, "close", 3, "1d", "array"), data.history(a, "close", 3, "1d", "array")
    )
    with pytest.raises(HistoryWindowError, match="expected an Asset"):
        data.history(2, "close", 3, "1d")
    with pytest.raises(HistoryWindowError, match="expected an Asset"):
        data.history([a, 2], "close", 3, "1d")


def test_the_array_path_is_a_view(small_bundle, one_asset_bundle):
    """No copy on the array path: one asset is a view of the window Rust returns, and a
    window of every asset in sid order a read-only view of the bundle's own rows."""
    for bundle in (small_bundle, one_asset_bundle):
        data = bar_data(bundle, 30)
        assets = bundle.asset_list
        whole = data.history(assets, "close", 10, "1d", "array")
        again = data.history(assets, "close", 10, "1d", "array")
        assert not whole.flags.writeable and not whole.flags.owndata
        assert np.shares_memory(whole, again)
        one = data.history(assets[0], "close", 10, "1d", "array")
        assert one.shape == (10,) and not one.flags.owndata and one.base is not None
        if len(assets) == 1:
            assert np.shares_memory(one, whole) and not one.flags.writeable


def test_bench_data_reports_both_shapes_and_their_floor():
    from rustybt.tooling.bench.data_layer import history_latency

    rows = history_latency(asset_counts=(1, 3), windows=(5,), calls_per_bar=1, quick=True)
    got = {(r["shape"], r["assets"], r["mode"]) for r in rows}
    assert got == {
        (shape, n, mode)
        for shape, n in [("Series", 1), ("DataFrame", 1), ("DataFrame", 3)]
        for mode in ("array", "pandas")
    }
    for r in rows:
        assert r["calls"] == 61 and r["p50_us"] > 0
        if r["mode"] == "pandas":
            assert r["ctor_p50_us"] > 0 and r["build_p50_us"] > 0
        else:
            assert r["ctor_p50_us"] is None and r["build_p50_us"] is None
