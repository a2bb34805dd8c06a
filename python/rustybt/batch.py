"""``run_batch``: many precomputed strategies through the Rust batch runner.

Each strategy is a matrix over the run's bars and a set of assets: target weights
(``order_target_percent`` per asset per bar) or share quantities (``order``). Runs use the
same ledger, costs and fill rules as the event-driven engine, in parallel on rayon's
threads with the GIL released.

Example:
    >>> import numpy as np, rustybt
    >>> b = rustybt.load_bundle("demo")  # doctest: +SKIP
    >>> w = np.full((len(b.sessions), 2), 0.5)  # doctest: +SKIP
    >>> res = rustybt.run_batch(b, weights=[w, w * 0.5], assets=["S000", "S001"])  # doctest: +SKIP
    >>> res.stats[["final_portfolio_value", "sharpe"]]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rustybt import _core
from rustybt.bundles import load_bundle
from rustybt.errors import InvalidRunParameters
from rustybt.finance.commission import CommissionModel, PerShare
from rustybt.finance.slippage import FixedBasisPointsSlippage, SlippageModel


@dataclass
class BatchResults:
    """``stats``: one row per matrix (final value, total return, Sharpe, Sortino, max
    drawdown, volatility, fills, exact final value, error). With ``perf=True`` also
    ``returns`` and ``portfolio_value``: sessions × runs."""

    stats: pd.DataFrame
    returns: pd.DataFrame | None = None
    portfolio_value: pd.DataFrame | None = None


def _matrices(values, n_bars: int, n_assets: int, what: str) -> list[np.ndarray]:
    if isinstance(values, np.ndarray) and values.ndim == 3:
        items = list(values)
    elif isinstance(values, np.ndarray) and values.ndim == 2:
        items = [values]
    else:
        items = list(values)
    out = []
    for i, m in enumerate(items):
        m = np.ascontiguousarray(m, dtype=np.float64)
        if m.shape != (n_bars, n_assets):
            raise InvalidRunParameters(
                f"{what}[{i}] has shape {m.shape}; the run has {n_bars} bars x {n_assets} assets"
            )
        out.append(m)
    if not out:
        raise InvalidRunParameters(f"{what} is empty")
    return out


def run_batch(
    bundle,
    weights=None,
    *,
    orders=None,
    assets=None,
    start=None,
    end=None,
    capital_base: float = 1_000_000.0,
    ledger: str = "decimal",
    slippage: SlippageModel | None = None,
    commission: CommissionModel | None = None,
    cancel_policy: str = "never",
    fill_model: str = "next_close",
    perf: bool = False,
) -> BatchResults:
    """Simulate each matrix of ``weights`` (or ``orders``): ``[bars, assets]``, a list of
    them or one ``[runs, bars, assets]`` array. Rows are the run's bars (``start``..``end``,
    default the bundle's span); columns follow ``assets`` (Assets or symbols; default every
    asset by sid). NaN means no order for that asset on that bar. Costs default to zipline's
    (``FixedBasisPointsSlippage()``, ``PerShare()``). A run that fails reports its error in
    ``stats.error``; the others go on.

    Parameters
    ----------
    bundle : str, path or Bundle
        The bundle.
    weights, orders : array-like
        Target weights (``order_target_percent``) or share orders (``order``), one of them.
    assets : list of Asset or str, optional
        The matrices' columns (default every asset).
    start, end : date-like, optional
        The run's span (default the bundle's).
    capital_base : float
        Starting cash.
    ledger : {"decimal", "float"}
        Exact books (default) or f64.
    slippage, commission : built-in models, optional
        The engine's models; a Python model of your own is refused (use
        :func:`rustybt.run_algorithm`).
    cancel_policy : {"never", "eod"}
    fill_model : {"next_close", "next_open"}
    perf : bool
        Also keep each run's per-session portfolio values.

    Returns
    -------
    BatchResults
        ``stats`` (a row per run) and, with ``perf``, the per-session values.

    Raises
    ------
    InvalidRunParameters
        Matrices of the wrong shape, a bad argument or a Python cost model.

    Examples
    --------
    >>> import numpy as np, rustybt
    >>> b = rustybt.ingest_synthetic("doc-batch", assets=2, start="2022-01-03", end="2022-03-31")
    >>> n = len(b.sessions)
    >>> runs = rustybt.run_batch(b, [np.full((n, 2), 0.5), np.full((n, 2), 0.25)])
    >>> len(runs.stats), bool(runs.stats["error"].isna().all())
    (2, True)
    """
    if (weights is None) == (orders is None):
        raise InvalidRunParameters("pass exactly one of weights= or orders=")
    bundle = load_bundle(bundle)
    first, last = bundle.session_range(
        bundle.start if start is None else start, bundle.end if end is None else end
    )
    if assets is None:
        asset_objs = bundle.asset_list
    else:
        asset_objs = [a if isinstance(a, _core.Asset) else bundle.symbol(a) for a in assets]
    sids = [a.sid for a in asset_objs]
    bounds = bundle._core.session_first_bar()
    n_bars = int(bounds[last + 1] - bounds[first])
    kind = "weights" if weights is not None else "orders"
    mats = _matrices(weights if weights is not None else orders, n_bars, len(sids), kind)
    slippage = slippage or FixedBasisPointsSlippage()
    commission = commission or PerShare()
    for model, method in ((slippage, "process_order"), (commission, "calculate")):
        if hasattr(type(model), method):
            raise InvalidRunParameters(
                f"run_batch computes costs in Rust only: {type(model).__name__} is a model "
                f"of your own ({method} in Python); run it with run_algorithm, or use a "
                "built-in model"
            )
    cols = _core.run_batch(
        bundle._core,
        mats,
        first,
        last,
        sids,
        kind,
        float(capital_base),
        ledger,
        slippage,
        commission,
        cancel_policy,
        fill_model,
        perf,
    )
    returns = cols.pop("returns", None)
    values = cols.pop("portfolio_value", None)
    stats = pd.DataFrame(cols)
    stats.index.name = "run"
    out = BatchResults(stats)
    if perf:
        index = bundle.session_closes[first : last + 1]
        out.returns = pd.DataFrame(returns.T, index=index)
        out.portfolio_value = pd.DataFrame(values.T, index=index)
    return out
