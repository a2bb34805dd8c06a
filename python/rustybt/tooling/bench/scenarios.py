"""The benchmark workloads: which bundle, which strategy, which parameters (described in
docs/performance/workloads.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

W1_SPAN = ("2022-01-03", "2023-12-29")
H1_SPAN = ("2023-07-03", "2023-12-29")
M1_SPAN = ("2023-03-01", "2023-03-31")
#: Pipeline workloads: 3 years of daily bars (the pipeline runs over the last 2)
P_SPAN = ("2021-01-04", "2023-12-29")
#: P3: 10 years
P3_SPAN = ("2014-01-02", "2023-12-29")
DEFAULT_ASSETS = (10, 50, 100, 500)


@dataclass(frozen=True)
class Scenario:
    """One benchmark workload.

    ``strategy`` is ``module:Class``; ``params`` are passed to ``run_algorithm``; the bundle
    is synthetic (seed 42) with ``frequency`` bars over ``span``.
    """

    name: str
    strategy: str
    frequency: str
    span: tuple[str, str]
    assets: tuple[int, ...]
    params: dict = field(default_factory=dict)
    description: str = ""

    def bundle_name(self, n_assets: int) -> str:
        return f"bench-{self.frequency}-{n_assets}-{self.span[0]}-{self.span[1]}"


EX = "rustybt.app.examples"
PR = "rustybt.tooling.bench.probes"
PW = "child:rustybt.tooling.bench.pipeline_workloads"

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "W1",
            f"{EX}.sma_crossover:SmaCross",
            "daily",
            W1_SPAN,
            DEFAULT_ASSETS,
            description="SMA(10/30) crossover, pandas history (.values then NumPy)",
        ),
        Scenario(
            "W1-array",
            f"{EX}.sma_crossover:SmaCross",
            "daily",
            W1_SPAN,
            DEFAULT_ASSETS,
            {"history_return_type": "array"},
            "W1 with return_type='array'",
        ),
        Scenario(
            "W2",
            f"{EX}.multi_indicator:MultiIndicator",
            "daily",
            W1_SPAN,
            DEFAULT_ASSETS,
            description="SMA + RSI + Bollinger + ATR filter",
        ),
        Scenario(
            "H1",
            f"{EX}.hourly_momentum:HourlyMomentum",
            "1h",
            H1_SPAN,
            (20,),
            description="hourly 24-bar momentum, top quartile",
        ),
        Scenario(
            "M1",
            f"{EX}.minute_mean_reversion:MinuteMeanReversion",
            "minute",
            M1_SPAN,
            (10,),
            description="minute z-score mean reversion",
        ),
        Scenario(
            "G1",
            "search:G1_GRID",
            "daily",
            W1_SPAN,
            (10,),
            description="GridSearch of SmaCross, 100 combos, process pool",
        ),
        Scenario(
            "G1-batch",
            "batch:G1_GRID",
            "daily",
            W1_SPAN,
            (10,),
            description="G1's 100 SMA combos as weight matrices through run_batch",
        ),
        Scenario(
            "B1",
            "batch:B1_GRID",
            "daily",
            W1_SPAN,
            (50,),
            description="1,000 SMA weight matrices through run_batch (25M asset-bars)",
        ),
        Scenario(
            "R1",
            "child:rustybt.tooling.bench.r1:run_child",
            "daily",
            ("2004-08-19", "2013-03-01"),
            (1,),
            description="GOOG (backtesting package's CSV), its quick-start SmaCross grid of 60 through GridSearch, cold and warm",
        ),
        Scenario(
            "WF1",
            "child:rustybt.tooling.bench.walkforward:run_walkforward_child",
            "daily",
            W1_SPAN,
            (10,),
            description="walk-forward, 4 x (12M train / 3M test), G1's grid per window",
        ),
        Scenario(
            "P1",
            f"{PW}:run_p1_child",
            "daily",
            P_SPAN,
            (500,),
            description="run_pipeline: 9 columns (SMA, returns, ADV, RSI, volatility, a "
            "CustomFactor, zscore, rank), top 50 screen, 2 of 3 years",
        ),
        Scenario(
            "P2",
            f"{PW}:run_p2_child",
            "daily",
            P_SPAN,
            (500,),
            description="backtest on P1's pipeline: long/short 25 by zscore, weekly",
        ),
        Scenario(
            "P3",
            f"{PW}:run_p1_child",
            "daily",
            P3_SPAN,
            (5000,),
            description="P1's pipeline over 5,000 assets x 10 years: peak RSS vs column data",
        ),
        Scenario(
            "pool-start",
            "child:rustybt.tooling.bench.pool_workloads:run_pool_start_child",
            "daily",
            W1_SPAN,
            (10,),
            description="process sweep: run() to first trial (wall: warm pool; "
            "first_start_s: the process's first sweep, pool started)",
        ),
        Scenario("noop", f"{PR}:Noop", "daily", W1_SPAN, (50,), description="empty handle_data"),
        Scenario(
            "history-only",
            f"{PR}:HistoryOnly",
            "daily",
            W1_SPAN,
            (50,),
            description="one 30-bar window per bar",
        ),
        Scenario(
            "orders-only",
            f"{PR}:OrdersOnly",
            "daily",
            W1_SPAN,
            (50,),
            description="rebalance every asset every bar",
        ),
    )
}

GROUPS = {
    "probes": ("noop", "history-only", "orders-only"),
    "pipeline": ("P1", "P2"),
    "all": (
        "W1",
        "W1-array",
        "W2",
        "H1",
        "M1",
        "G1",
        "G1-batch",
        "B1",
        "WF1",
        "noop",
        "history-only",
        "orders-only",
        "pool-start",
    ),
}


def resolve(names: list[str]) -> list[Scenario]:
    """Scenario objects for names and group names (``probes``, ``all``)."""
    out: list[Scenario] = []
    for name in names:
        for n in GROUPS.get(name, (name,)):
            if n not in SCENARIOS:
                known = ", ".join([*SCENARIOS, *GROUPS])
                raise ValueError(f"unknown scenario {n!r} (known: {known})")
            if SCENARIOS[n] not in out:
                out.append(SCENARIOS[n])
    return out
