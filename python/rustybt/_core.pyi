"""Type stubs for the native module ``rustybt._core`` (crates/pybind)."""

from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any, final

import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

__all__ = [
    "CACHE_FORMAT",
    "COMMISSION_MODELS",
    "DIV_SCALE",
    "SLIPPAGE_MODELS",
    "Asset",
    "BarData",
    "Bundle",
    "CsvDir",
    "OrderRecord",
    "PerfExact",
    "PerfRecords",
    "Simulation",
    "__version__",
    "_panic_for_tests",
    "_set_failpoints",
    "clean_bundle",
    "clean_cache_leftovers",
    "cumulative_benchmark_risk",
    "cumulative_risk",
    "fifo_round_trips",
    "final_risk",
    "ingest_synthetic",
    "pipeline_normalize",
    "pipeline_peer_count",
    "pipeline_percentile_between",
    "pipeline_quantiles",
    "pipeline_rank",
    "pipeline_rolling",
    "pipeline_rolling_stat",
    "run_batch",
]
__version__: str
DIV_SCALE: int
#: the pool cache's file format (files are named HASH.fN.cols)
CACHE_FORMAT: int
#: (model name, [(parameter, zipline's default), ...]) of each slippage model, default first
SLIPPAGE_MODELS: list[tuple[str, list[tuple[str, float]]]]
#: (model name, [(parameter, zipline's default), ...]) of each commission model, default first
COMMISSION_MODELS: list[tuple[str, list[tuple[str, float]]]]

@final
class Asset:
    @property
    def sid(self) -> int: ...
    @property
    def symbol(self) -> str: ...
    @property
    def exchange(self) -> str: ...
    @property
    def start_day(self) -> int: ...
    @property
    def end_day(self) -> int: ...
    @property
    def lot_scale(self) -> int: ...
    @property
    def lot_size(self) -> float: ...
    def __new__(
        cls,
        sid: int,
        symbol: str,
        exchange: str,
        start_day: int,
        end_day: int,
        lot_scale: int = 0,
    ) -> Asset: ...
    def __lt__(self, other: Asset | int, /) -> bool: ...
    def __le__(self, other: Asset | int, /) -> bool: ...
    def __gt__(self, other: Asset | int, /) -> bool: ...
    def __ge__(self, other: Asset | int, /) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    @property
    def start_date(self) -> Any: ...
    @property
    def end_date(self) -> Any: ...
    @property
    def auto_close_date(self) -> Any: ...
    @property
    def first_traded(self) -> int | None: ...
    @property
    def asset_name(self) -> str: ...
    @property
    def tick_size(self) -> float: ...
    @property
    def price_multiplier(self) -> float: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __reduce__(self) -> tuple[Any, tuple[int, str, str, int, int]]: ...

@final
class Bundle:
    @staticmethod
    def open(path: str | PathLike[str], cache_dir: str | PathLike[str] | None = None) -> Bundle: ...
    @property
    def is_mapped(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def frequency(self) -> str: ...
    @property
    def calendar(self) -> str: ...
    @property
    def price_scale(self) -> int: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def created_at(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def n_assets(self) -> int: ...
    @property
    def n_bars(self) -> int: ...
    def _session_closes(self, sid: int) -> list[float]: ...
    def field_matrix(self, field: str) -> npt.NDArray[np.float64]: ...
    def adjustment_ratios(self) -> tuple[list[int], list[int], list[float], list[float]]: ...
    def assets(self) -> list[Asset]: ...
    def sessions(
        self,
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
    def timestamps(self) -> npt.NDArray[np.int64]: ...
    def session_first_bar(self) -> npt.NDArray[np.uint32]: ...
    def history(
        self,
        field: str,
        sids: Sequence[int],
        end_bar: int,
        count: int,
        frequency: str | None = None,
        round_places: int | None = None,
    ) -> npt.NDArray[np.float64]: ...
    def resample(
        self, field: str, frequency: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...
    def resampled_timestamps(self, frequency: str) -> npt.NDArray[np.int64]: ...
    def cache_stats(self, frequency: str) -> tuple[int, int]: ...

@final
class CsvDir:
    @staticmethod
    def parse(
        path: str | PathLike[str],
        frequency: str,
        price_scale: int,
        progress: Callable[[int, int], object] | None = None,
        allow_gaps: bool = False,
        round_prices: bool = False,
    ) -> CsvDir: ...
    @staticmethod
    def parse_long(
        path: str | PathLike[str],
        frequency: str,
        price_scale: int,
        allow_gaps: bool = False,
        round_prices: bool = False,
    ) -> CsvDir: ...
    @property
    def rounded(self) -> int: ...
    def date_range(self) -> tuple[int, int]: ...
    def symbols(self) -> list[str]: ...
    @staticmethod
    def parse_table(
        label: str | PathLike[str],
        names: Sequence[str],
        columns: Sequence[tuple[str, npt.NDArray[Any], Sequence[str] | None]],
        frequency: str,
        price_scale: int,
        allow_gaps: bool = False,
        round_prices: bool = False,
    ) -> CsvDir: ...
    def round_to_ticks(self, ticks: Sequence[int]) -> int: ...
    def write(
        self,
        bundles_dir: str | PathLike[str],
        name: str,
        calendar: str,
        dates: Sequence[int],
        opens: Sequence[int],
        closes: Sequence[int],
        drop_non_sessions: bool = False,
        lot_scales: Sequence[int] | None = None,
    ) -> tuple[str, int]: ...

def clean_bundle(bundle_dir: str | PathLike[str], remove: bool) -> dict[str, list[str]]: ...
def clean_cache_leftovers(cache_dir: str | PathLike[str]) -> list[str]: ...
def ingest_synthetic(
    bundles_dir: str | PathLike[str],
    name: str,
    n_assets: int,
    seed: int,
    frequency: str,
    calendar: str,
    price_scale: int,
    dates: Sequence[int],
    opens: Sequence[int],
    closes: Sequence[int],
    progress: Callable[[int, int], object] | None = None,
) -> str: ...

@disjoint_base
class BarData:
    def __new__(cls, bundle: Bundle) -> BarData: ...
    @property
    def current_bar(self) -> int: ...
    def _current(self, sid: int, field: str) -> float: ...
    def _history(
        self,
        assets: Sequence[Asset | int],
        field: str,
        count: int,
        frequency: str | None = None,
    ) -> npt.NDArray[np.float64]: ...
    def _set_bar(self, bar: int, before_first: bool = False) -> None: ...
    @property
    def _round_places(self) -> int | None: ...
    def _set_round_places(self, places: int | None) -> None: ...
    @property
    def _before_first(self) -> bool: ...
    def _can_trade(self, sid: int) -> bool: ...
    def _is_stale(self, sid: int) -> bool: ...

@final
class PerfExact:
    def build(self) -> dict[str, Any]: ...

@final
class PerfRecords:
    def __len__(self) -> int: ...
    def column(self, kind: str) -> npt.NDArray[np.object_]: ...

@final
class OrderRecord:
    @property
    def sid(self) -> int: ...
    @property
    def amount(self) -> int | float: ...
    @property
    def filled(self) -> int | float: ...
    @property
    def commission(self) -> float: ...
    @property
    def limit(self) -> float | None: ...
    @property
    def stop(self) -> float | None: ...
    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def created_bar(self) -> int: ...
    @property
    def updated_bar(self) -> int: ...

@final
class Simulation:
    def __new__(
        cls,
        bundle: Bundle,
        first_session: int,
        last_session: int,
        capital_base: float,
        ledger: str | None = None,
    ) -> Simulation: ...
    @property
    def ledger(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def current_bar(self) -> int: ...
    @property
    def current_session(self) -> int: ...
    def order(
        self,
        kind: str,
        sid: int,
        value: float,
        limit: float | None = None,
        stop: float | None = None,
    ) -> str | None: ...
    def cancel_order(self, order_id: str | int) -> None: ...
    def open_orders(self, sid: int | None = None) -> list[tuple[int, str]]: ...
    def order_info(self, order_id: str | int) -> OrderRecord: ...
    def cash(self) -> float: ...
    def portfolio_value(self) -> float: ...
    def positions_value(self) -> float: ...
    def starting_cash(self) -> float: ...
    def exact_state(self) -> tuple[str, str]: ...
    def positions(self) -> list[tuple[int, int | float, float, float]]: ...
    def set_slippage(self, model: Any) -> None: ...
    def set_commission(self, model: Any) -> None: ...
    def set_cancel_policy(self, policy: str) -> None: ...
    def order_many(
        self, kind: str, sids: Sequence[int], values: Sequence[float]
    ) -> list[str | None]: ...
    def add_control(
        self,
        kind: str,
        sid: int | None = None,
        max_shares: float | None = None,
        max_notional: float | None = None,
        max_count: int | None = None,
        on_error: str | None = None,
    ) -> None: ...
    def set_max_leverage(self, max_leverage: float) -> None: ...
    def set_min_leverage(self, min_leverage: float, deadline_ns: int) -> None: ...
    @property
    def periods_per_year(self) -> float: ...
    def set_periods_per_year(self, periods: float) -> None: ...
    def set_cost_models(
        self,
        data: BarData,
        slippage: Callable[..., Any] | None = None,
        commission: Callable[..., Any] | None = None,
    ) -> None: ...
    def add_restrictions(
        self, rules: Sequence[tuple[int, int, int, bool]], on_error: str | None = None
    ) -> None: ...
    def set_fill_model(self, model: str) -> None: ...
    def run(
        self,
        context: Any,
        data: BarData,
        handle_data: Any,
        before_trading_start: Any | None,
        recorded: dict[str, Any],
    ) -> list[dict[str, Any]]: ...
    def perf(self, assets: list[Asset], bar_times: Any, risk: bool = True) -> dict[str, Any]: ...
    def trial_summary(
        self, group_of_sid: Sequence[int], benchmark: Sequence[float] | None = None
    ) -> dict[str, Any]: ...

def run_batch(
    bundle: Bundle,
    matrices: Sequence[npt.NDArray[np.float64]],
    first_session: int,
    last_session: int,
    sids: Sequence[int],
    kind: str | None = None,
    capital_base: float = 1_000_000.0,
    ledger: str | None = None,
    slippage: Any | None = None,
    commission: Any | None = None,
    cancel_policy: str | None = None,
    fill_model: str | None = None,
    keep_perf: bool = False,
) -> dict[str, Any]: ...
def cumulative_risk(
    returns: Sequence[float], periods_per_year: float = 252.0
) -> dict[str, npt.NDArray[np.float64]]: ...
def final_risk(
    returns: Sequence[float], periods_per_year: float = 252.0
) -> tuple[float, float, float, float, float]: ...
def cumulative_benchmark_risk(
    returns: Sequence[float], benchmark: Sequence[float], periods_per_year: float = 252.0
) -> dict[str, npt.NDArray[np.float64]]: ...
def fifo_round_trips(
    group: Sequence[int], amount: Sequence[int], price: Sequence[float], commission: Sequence[float]
) -> dict[str, npt.NDArray[Any]]: ...
def _panic_for_tests(message: str) -> None: ...
def _set_failpoints(names: Sequence[str]) -> None: ...
def pipeline_rolling(
    kind: str,
    params: dict[str, float],
    inputs: Sequence[npt.NDArray[np.float64]],
    adjustments: Sequence[
        tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.float64]] | None
    ],
    window: int,
) -> list[npt.NDArray[np.float64]]: ...

#: (assets uint32, rows uint32, ratios float64) of one input's adjustments
_AdjustmentColumns = tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.float64]]

def pipeline_rolling_stat(
    kind: str,
    params: dict[str, float],
    inputs: Sequence[npt.NDArray[np.float64]],
    adjustments: Sequence[_AdjustmentColumns | None],
    window: int,
) -> list[npt.NDArray[np.float64]]: ...
def pipeline_rank(
    values: npt.NDArray[np.float64],
    mask: npt.NDArray[np.bool_],
    groups: npt.NDArray[np.int64] | None,
    method: str,
    ascending: bool,
) -> npt.NDArray[np.float64]: ...
def pipeline_normalize(
    kind: str,
    values: npt.NDArray[np.float64],
    mask: npt.NDArray[np.bool_],
    groups: npt.NDArray[np.int64] | None,
    params: dict[str, float],
) -> npt.NDArray[np.float64]: ...
def pipeline_quantiles(
    values: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_], bins: int
) -> npt.NDArray[np.int64]: ...
def pipeline_percentile_between(
    values: npt.NDArray[np.float64],
    mask: npt.NDArray[np.bool_],
    min_percentile: float,
    max_percentile: float,
) -> npt.NDArray[np.bool_]: ...
def pipeline_peer_count(
    groups: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]: ...
