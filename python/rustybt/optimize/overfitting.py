"""How much of a sweep's best result is luck: the deflated Sharpe ratio and the probability
of backtest overfitting.

Both take what a search keeps with ``keep_returns=True``: the daily returns of every trial,
a T×N matrix (sessions × trials). ``SearchResult.deflated_sharpe()`` and
``SearchResult.pbo()`` call these on a search's own matrix.

* :func:`deflated_sharpe_ratio` (Bailey & López de Prado, "The Deflated Sharpe Ratio",
  2014): the probability that the selected strategy's true Sharpe ratio is above zero,
  after allowing for having picked the best of N trials (the benchmark is the Sharpe ratio
  the best of N skill-less trials would reach, from the trials' Sharpe variance) and for
  non-normal returns (skewness, kurtosis) and a finite sample. Read it as a probability:
  above 0.95, the best trial's edge is unlikely to be selection luck.
* :func:`probability_of_backtest_overfitting` (Bailey, Borwein, López de Prado & Zhu, "The
  Probability of Backtest Overfitting", 2015), by combinatorially symmetric
  cross-validation (CSCV): split the sessions into S blocks; for each of the C(S, S/2)
  ways to pick half of them as in-sample, take the trial that is best in-sample and see
  where it ranks out-of-sample. PBO is the share of splits where the in-sample winner is
  at or below the out-of-sample median. Near 0: selection carries over; near 0.5: the
  winner is no better than a random trial; above 0.5: the selection is worse than random.

Sharpe ratios here are per period (daily: mean / standard deviation with ddof=1, not
annualised), as in the papers; the results also report the annualised figure.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(0, 0.01, size=(1000, 20))      # 20 skill-less strategies
    >>> round(deflated_sharpe_ratio(noise[:, 0], trial_sharpes=noise.mean(0) / noise.std(0, ddof=1)).dsr, 2) < 0.95
    True
    >>> 0.2 < probability_of_backtest_overfitting(noise, blocks=8).pbo < 0.8
    True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rustybt.errors import InvalidRunParameters

#: the Euler–Mascheroni constant, in the expected maximum of N normal draws
EULER_GAMMA = 0.5772156649015329
PERIODS_PER_YEAR = 252


def _norm():
    from scipy.stats import norm

    return norm


def sharpe_ratio(returns) -> float:
    """Per-period Sharpe ratio: mean / standard deviation (ddof=1), risk-free 0."""
    r = np.asarray(returns, dtype=float)
    if len(r) < 2:
        return math.nan
    sd = r.std(ddof=1)
    return float(r.mean() / sd) if sd > 0 else math.nan


def expected_max_sharpe(n_trials: int, sharpe_variance: float, mean: float = 0.0) -> float:
    """The expected largest Sharpe ratio among ``n_trials`` skill-less trials whose Sharpe
    ratios have variance ``sharpe_variance`` (Bailey & López de Prado 2014, eq. 6, the
    false-strategy theorem):

        E[max SR] = mean + sqrt(V) · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N·e)))

    with γ the Euler–Mascheroni constant. One trial: ``mean`` (nothing was selected).

    Example:
        >>> round(expected_max_sharpe(100, 0.5 / 250), 4)  # the paper's example, per day
        0.1132
    """
    if n_trials < 1:
        raise InvalidRunParameters(f"n_trials must be at least 1, got {n_trials}")
    if sharpe_variance < 0 or not math.isfinite(sharpe_variance):
        raise InvalidRunParameters(f"sharpe_variance must be >= 0, got {sharpe_variance}")
    if n_trials == 1:
        return float(mean)
    norm = _norm()
    z = (1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials) + EULER_GAMMA * norm.ppf(
        1 - 1 / (n_trials * math.e)
    )
    return float(mean + math.sqrt(sharpe_variance) * z)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    """P(true Sharpe > ``benchmark``) given an observed per-period ``sharpe`` over
    ``n_obs`` returns with that ``skew`` and (Pearson, normal = 3) ``kurtosis``
    (Bailey & López de Prado 2012):

        Φ( (SR − SR*) · sqrt(T − 1) / sqrt(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) )
    """
    denom = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if n_obs < 2 or not denom > 0 or not math.isfinite(sharpe):
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denom)
    return float(_norm().cdf(z))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio of one strategy and what went into it.

    ``dsr``: P(true Sharpe > 0) after selection out of ``n_trials``; ``psr``: the same
    without the selection allowance (benchmark 0); ``sharpe`` / ``expected_max_sharpe``:
    per period; ``sharpe_annualised``: ``sharpe`` × sqrt(periods per year).
    """

    dsr: float
    psr: float
    sharpe: float
    sharpe_annualised: float
    expected_max_sharpe: float
    n_trials: int
    sharpe_variance: float
    n_obs: int
    skew: float
    kurtosis: float


def deflated_sharpe_ratio(
    returns,
    *,
    trial_sharpes=None,
    n_trials: int | None = None,
    sharpe_variance: float | None = None,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> DeflatedSharpe:
    """The deflated Sharpe ratio of the selected strategy's ``returns`` (per period).

    The selection is described either by ``trial_sharpes`` (the per-period Sharpe ratio of
    every trial of the sweep, the selected one included: N and their variance are taken
    from it) or by ``n_trials`` and ``sharpe_variance`` directly; ``n_trials`` also
    overrides the count when you judge that the trials were not independent (e.g. the
    number of clusters of correlated trials). Skewness and kurtosis are the sample moments
    of ``returns`` (biased estimators, kurtosis not excess).

    Example (the paper's numbers: SR 2.5 a year over 5 years of daily data, 100 trials with
    annualised Sharpe variance 0.5, skew −3, kurtosis 10 give DSR ≈ 0.90)::

        >>> e = expected_max_sharpe(100, 0.5 / 250)
        >>> round(probabilistic_sharpe_ratio(2.5 / 250 ** 0.5, e, 1250, -3, 10), 4)
        0.9004
    """
    from scipy import stats

    r = np.asarray(returns, dtype=float)
    if r.ndim != 1 or len(r) < 3:
        raise InvalidRunParameters("returns must be one series of at least 3 returns")
    if np.isnan(r).any():
        raise InvalidRunParameters("returns contain NaN")
    if trial_sharpes is not None:
        s = np.asarray(trial_sharpes, dtype=float)
        s = s[np.isfinite(s)]
        if len(s) < 1:
            raise InvalidRunParameters("trial_sharpes has no finite value")
        n = int(n_trials) if n_trials is not None else len(s)
        var = float(s.var(ddof=1)) if len(s) > 1 else 0.0
        if sharpe_variance is not None:
            var = float(sharpe_variance)
    else:
        if n_trials is None or sharpe_variance is None:
            raise InvalidRunParameters("pass trial_sharpes, or both n_trials and sharpe_variance")
        n, var = int(n_trials), float(sharpe_variance)
    sr = sharpe_ratio(r)
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r, fisher=False))
    sr0 = expected_max_sharpe(n, var)
    return DeflatedSharpe(
        dsr=probabilistic_sharpe_ratio(sr, sr0, len(r), skew, kurt),
        psr=probabilistic_sharpe_ratio(sr, 0.0, len(r), skew, kurt),
        sharpe=sr,
        sharpe_annualised=sr * math.sqrt(periods_per_year),
        expected_max_sharpe=sr0,
        n_trials=n,
        sharpe_variance=var,
        n_obs=len(r),
        skew=skew,
        kurtosis=kurt,
    )


@dataclass(frozen=True)
class PBO:
    """The outcome of CSCV.

    ``pbo``: share of splits whose logit is ≤ 0. Per split (``n_combinations`` of them):
    ``logits`` λ = ln(ω / (1 − ω)) with ω the out-of-sample relative rank (rank / (N + 1))
    of the in-sample best trial; ``is_performance`` / ``oos_performance`` its metric in and
    out of sample. ``prob_oos_loss``: share of splits where that out-of-sample metric is
    below 0. ``degradation_slope``: the least-squares slope of out-of-sample on in-sample
    performance (near 0 or negative: in-sample merit does not carry over).
    """

    pbo: float
    logits: np.ndarray
    rank_oos: np.ndarray
    is_performance: np.ndarray
    oos_performance: np.ndarray
    prob_oos_loss: float
    degradation_slope: float
    blocks: int
    n_combinations: int
    n_trials: int

    def plot(self):
        """A figure: the histogram of the logits, and out-of-sample vs in-sample metric."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
        finite = self.logits[np.isfinite(self.logits)]
        a.hist(finite, bins=40, color="tab:blue", alpha=0.8)
        a.axvline(0, color="k", lw=1)
        a.set_xlabel("logit of the IS-best trial's OOS rank")
        a.set_ylabel("splits")
        a.set_title(f"PBO = {self.pbo:.2f} ({self.n_combinations} splits, S = {self.blocks})")
        b.scatter(self.is_performance, self.oos_performance, s=6, alpha=0.4)
        b.axhline(0, color="k", lw=1)
        b.set_xlabel("in-sample metric of the selected trial")
        b.set_ylabel("its out-of-sample metric")
        b.set_title(f"P(OOS loss) = {self.prob_oos_loss:.2f}")
        fig.tight_layout()
        return fig


def _safe_ratio(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """mean / sd, with a flat series scoring 0 (or ±inf when it drifts with no variance)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / sd
    flat = ~(sd > 1e-300)
    out[flat] = np.where(mean[flat] == 0, 0.0, np.sign(mean[flat]) * np.inf)
    return out


def _moment_metric(kind: str, s: np.ndarray, q: np.ndarray, n: int) -> np.ndarray:
    mean = s / n
    if kind == "mean":
        return mean
    var = np.maximum(q - n * mean**2, 0.0) / (n - 1)
    return _safe_ratio(mean, np.sqrt(var))


def probability_of_backtest_overfitting(
    returns,
    blocks: int = 16,
    metric: str | Callable[[np.ndarray], np.ndarray] | None = None,
) -> PBO:
    """PBO of choosing the best of N strategies, by CSCV over their T×N ``returns``.

    The T rows (oldest first) are cut into ``blocks`` (S, even) blocks of T // S rows; the
    T mod S oldest rows are dropped so every block is the same length. For each of the
    C(S, S/2) choices of S/2 blocks as the in-sample set (the rest, in order, out of
    sample), the strategy with the best in-sample ``metric`` is found, its out-of-sample
    rank ω among the N (average ranks for ties, 1 = worst) gives λ = ln(ω/(1 − ω)) with
    ω = rank/(N + 1), and PBO is the share of λ ≤ 0.

    ``metric``: ``"sharpe"`` (default; per-period mean/std, ddof=1), ``"mean"``, or a
    callable mapping a ``[rows, N]`` array to N scores (higher is better).

    Example:
        >>> rng = np.random.default_rng(1)
        >>> r = rng.normal(0, 0.01, size=(800, 10))
        >>> r[:, 3] += 0.003                                  # one real edge
        >>> probability_of_backtest_overfitting(r, blocks=8).pbo < 0.05
        True
    """
    from scipy.stats import rankdata

    m = (
        returns.to_numpy(dtype=float)
        if isinstance(returns, pd.DataFrame)
        else np.asarray(returns, dtype=float)
    )
    if m.ndim != 2:
        raise InvalidRunParameters("returns must be a 2-D matrix, sessions x trials")
    t, n = m.shape
    if not isinstance(blocks, int) or blocks < 2 or blocks % 2:
        raise InvalidRunParameters(f"blocks must be an even integer >= 2, got {blocks!r}")
    if n < 2:
        raise InvalidRunParameters(f"need at least 2 trials (columns), got {n}")
    size = t // blocks
    if size < 2:
        raise InvalidRunParameters(
            f"{t} rows cannot make {blocks} blocks of at least 2 rows; use fewer blocks"
        )
    if np.isnan(m).any():
        raise InvalidRunParameters("returns contain NaN (trials of different spans?)")
    m = m[t - size * blocks :]
    kind = metric or "sharpe"
    if isinstance(kind, str) and kind not in ("sharpe", "mean"):
        raise InvalidRunParameters(f"metric must be 'sharpe', 'mean' or a callable, got {kind!r}")
    chunks = m.reshape(blocks, size, n)
    combos = np.array(list(itertools.combinations(range(blocks), blocks // 2)))
    half = size * blocks // 2
    bsum, bsq = chunks.sum(axis=1), (chunks**2).sum(axis=1)  # per block and trial, [S, N]
    sel_is, sel_oos, rank = [], [], []
    for lo in range(0, len(combos), 2048):  # bounded memory: 2048 splits × N at a time
        part = combos[lo : lo + 2048]
        if callable(kind):
            inside = np.zeros((len(part), blocks), bool)
            np.put_along_axis(inside, part, True, axis=1)
            is_m = np.array([kind(chunks[i].reshape(-1, n)) for i in inside], dtype=float)
            oos_m = np.array([kind(chunks[~i].reshape(-1, n)) for i in inside], dtype=float)
        else:
            member = np.zeros((len(part), blocks))
            np.put_along_axis(member, part, 1.0, axis=1)
            s_in, q_in = member @ bsum, member @ bsq
            is_m = _moment_metric(kind, s_in, q_in, half)
            oos_m = _moment_metric(kind, bsum.sum(0) - s_in, bsq.sum(0) - q_in, half)
        best = np.argmax(np.nan_to_num(is_m, nan=-np.inf), axis=1)  # ties: the first trial
        rows = np.arange(len(part))
        rank.append(rankdata(np.nan_to_num(oos_m, nan=-np.inf), axis=1)[rows, best])
        sel_is.append(is_m[rows, best])
        sel_oos.append(oos_m[rows, best])
    sel_is, sel_oos = np.concatenate(sel_is), np.concatenate(sel_oos)
    omega = np.concatenate(rank) / (n + 1)
    logits = np.log(omega / (1 - omega))
    ok = np.isfinite(sel_is) & np.isfinite(sel_oos)
    slope = (
        float(np.polyfit(sel_is[ok], sel_oos[ok], 1)[0])
        if ok.sum() > 2 and np.ptp(sel_is[ok]) > 0
        else math.nan
    )
    return PBO(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        rank_oos=omega,
        is_performance=sel_is,
        oos_performance=sel_oos,
        prob_oos_loss=float(np.mean(sel_oos < 0)),
        degradation_slope=slope,
        blocks=blocks,
        n_combinations=len(combos),
        n_trials=n,
    )
