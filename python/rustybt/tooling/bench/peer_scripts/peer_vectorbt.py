"""vectorbt side of ``rustybt bench peers``: G1 and B1 as target-weight matrices through
``Portfolio.from_orders(size_type="targetpercent")`` (zipline-like: one group per combo,
cash shared, sells first) and G1 also through ``Portfolio.from_signals``; R1 as a
``from_signals`` grid.

The weight matrices are W1's rule in the same NumPy as rustybt's batch runner gets
(``_common.sma_crossover_weights``), shifted one bar so that an order decided on bar t
fills at bar t+1's close, as in rustybt and zipline. As for rustybt's ``run_batch``, the
matrices are built before the clock starts; the clock covers the simulation and the
objective (Sharpe per combo). vectorbt has no per-share commission: fees are 0 for G1/B1
(per-share 0.001 in rustybt), 0.2% of value for R1. ``first_call_s`` is the first,
cold call in this process (numba compilation, or loading numba's on-disk cache).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import vectorbt as vbt
from _common import load_bars, result, sma_crossover_weights, timed

vbt.settings.returns["year_freq"] = "252 days"


def _shift(m: np.ndarray, fill) -> np.ndarray:
    out = np.empty_like(m)
    out[0] = fill
    out[1:] = m[:-1]
    return out


def _weights(config: dict, bars: dict):
    n, nb = config["assets"], config["bars"]
    closes = bars["close"][:nb, :n]
    mats = [sma_crossover_weights(closes, f, s) for f, s in config["combos"]]
    w = _shift(np.concatenate(mats, axis=1), np.nan)
    index = pd.DatetimeIndex(bars["sessions"][:nb].astype("datetime64[ns]"))
    close = pd.DataFrame(np.tile(closes, (1, len(mats))), index=index)
    groups = np.repeat(np.arange(len(mats)), n)
    return close, w, groups


def _time_with_first(fn, repeats):
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    walls, cpus, out = timed(fn, repeats)
    return first, walls, cpus, out


def run(config: dict) -> dict:
    bars = load_bars(config["export"])
    w, n, nb, reps = config["workload"], config["assets"], config["bars"], config["repeats"]
    if w in ("G1", "B1"):
        close, weights, groups = _weights(config, bars)

        def orders():
            pf = vbt.Portfolio.from_orders(
                close,
                size=weights,
                size_type="targetpercent",
                group_by=groups,
                cash_sharing=True,
                call_seq="auto",
                init_cash=1_000_000.0,
                freq="1D",
            )
            return pf, pf.sharpe_ratio()

        first, walls, cpus, (pf, sr) = _time_with_first(orders, reps)
        value = pf.value()
        out = {
            "vectorbt": result(
                walls,
                cpus,
                nb,
                n,
                runs=len(config["combos"]),
                first_call_s=first,
                final_value=float(value.iloc[-1, 0]),
                best_sharpe=float(sr.max()),
                mode="from_orders targetpercent (zipline-like), warm",
            )
        }
        if w == "G1":
            entries, exits = weights > 0, weights == 0

            def signals():
                pf = vbt.Portfolio.from_signals(
                    close,
                    entries,
                    exits,
                    group_by=groups,
                    init_cash=1_000_000.0 / n,
                    freq="1D",
                )
                return pf, pf.sharpe_ratio()

            first, walls, cpus, (pf, sr) = _time_with_first(signals, reps)
            out["vectorbt-signals"] = result(
                walls,
                cpus,
                nb,
                n,
                runs=len(config["combos"]),
                first_call_s=first,
                final_value=float(pf.value().iloc[-1, 0]),
                best_sharpe=float(sr.max()),
                mode="from_signals, warm",
            )
        return {"results": out}
    if w == "R1":
        closes = bars["close"][:nb, 0]
        index = pd.DatetimeIndex(bars["sessions"][:nb].astype("datetime64[ns]"))
        combos = config["combos"]
        price = pd.Series(closes, index=index)

        def grid():
            sma = {k: price.rolling(k).mean().to_numpy() for k in {x for c in combos for x in c}}
            ent, ex = [], []
            for a, b in combos:
                above = sma[a] > sma[b]
                below = sma[a] < sma[b]
                ent.append(np.r_[False, above[1:] & (sma[a][:-1] < sma[b][:-1])])
                ex.append(np.r_[False, below[1:] & (sma[a][:-1] > sma[b][:-1])])
            entries = _shift(np.column_stack(ent), False)
            exits = _shift(np.column_stack(ex), False)
            close = pd.DataFrame(np.tile(closes[:, None], (1, len(combos))), index=index)
            pf = vbt.Portfolio.from_signals(
                close, entries, exits, fees=0.002, init_cash=1_000_000.0, freq="1D"
            )
            return pf, pf.sharpe_ratio()

        first, walls, cpus, (pf, sr) = _time_with_first(grid, reps)
        ref = (
            [tuple(c) for c in combos].index(tuple(config["reference_combo"]))
            if tuple(config["reference_combo"]) in [tuple(c) for c in combos]
            else 0
        )
        best = int(np.nanargmax(sr.to_numpy()))
        return {
            "results": {
                "vectorbt": result(
                    walls,
                    cpus,
                    nb,
                    1,
                    runs=len(combos),
                    first_call_s=first,
                    final_value=float(pf.value().iloc[-1, ref]),
                    best={
                        "fast": combos[best][0],
                        "slow": combos[best][1],
                        "sharpe": float(sr.iloc[best]),
                    },
                    mode="from_signals grid (signals timed), warm",
                )
            }
        }
    raise ValueError(f"vectorbt runs G1, B1, R1, not {w}")
