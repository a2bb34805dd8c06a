"""vectorbt side of ``rustybt bench peers``: G1 and B1 as target-weight matrices through
``Portfolio.from_orders(size_type="targetpercent")`` (zipline-like: one group per combo,
cash shared, sells first) and G1 also through ``Portfolio.from_signals``; R1 as a
``from_signals`` grid.

The weight matrices are W1's rule in the same NumPy as rustybt's batch runner gets
(``_common.sma_crossover_weights``), shifted one bar so that an order decided on bar t
fills at bar t+1's close, as in rustybt and zipline. As for rustybt's ``run_batch``, the
matrices are built before the clock starts; the clock covers the simulation and the
objective (Sharpe per combo). vectorbt has no per-share commission: fees are 0 for G1/B1
(per-share 0.001 in rustybt), 0.2% of value for R1. R1 is backtesting.py's SmaCross, long
and short, filled at the next open; building its frames is ``load_s``, its SMAs and
signals are inside the clock. ``first_call_s`` is the first,
cold call in this process (numba compilation, or loading numba's on-disk cache).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pandas as pd
import vectorbt as vbt
from _common import load_bars, result, sma_crossover_weights, timed, timed_split

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
        t = time.perf_counter()
        close, weights, groups = _weights(config, bars)
        load_s = time.perf_counter() - t  # the weight matrices, before the clock

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
                load_s=load_s,
                final_value=float(value.iloc[-1, 0]),
                best_sharpe=float(sr.max()),
                mode="from_orders targetpercent, warm",
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
                load_s=load_s,
                final_value=float(pf.value().iloc[-1, 0]),
                best_sharpe=float(sr.max()),
                mode="from_signals, warm",
            )
        return {"results": out}
    if w == "R1":
        # backtesting.py's SmaCross: a cross up (SMA(n1) over SMA(n2), at a close) enters
        # long, a cross down short (vectorbt reverses the position), each filled at the
        # next bar's open: signals shifted one bar, price = open; 0.2% fees, cash 10,000
        closes = bars["close"][:nb, 0]
        opens = bars["open"][:nb, 0]
        index = pd.DatetimeIndex(bars["sessions"][:nb].astype("datetime64[ns]"))
        combos = config["combos"]
        price = pd.Series(closes, index=index)

        def load():
            return (
                pd.DataFrame(np.tile(closes[:, None], (1, len(combos))), index=index),
                pd.DataFrame(np.tile(opens[:, None], (1, len(combos))), index=index),
            )

        def grid(frames):
            close, open_ = frames
            sma = {k: price.rolling(k).mean().to_numpy() for k in {x for c in combos for x in c}}
            up, down = [], []
            for a, b in combos:
                up.append(np.r_[False, (sma[a][1:] > sma[b][1:]) & (sma[a][:-1] < sma[b][:-1])])
                down.append(np.r_[False, (sma[a][1:] < sma[b][1:]) & (sma[a][:-1] > sma[b][:-1])])
            pf = vbt.Portfolio.from_signals(
                close,
                entries=_shift(np.column_stack(up), False),
                exits=False,
                short_entries=_shift(np.column_stack(down), False),
                short_exits=False,
                price=open_,
                fees=0.002,
                init_cash=10_000.0,
                freq="1D",
            )
            return pf, pf.final_value()

        frames = load()
        t = time.perf_counter()
        grid(frames)
        first = time.perf_counter() - t
        loads, walls, cpus, (pf, final) = timed_split(load, grid, reps)
        keys = [tuple(c) for c in combos]
        ref = (
            keys.index(tuple(config["reference_combo"]))
            if tuple(config["reference_combo"]) in keys
            else 0
        )
        best = int(np.nanargmax(final.to_numpy()))
        return {
            "results": {
                "vectorbt": result(
                    walls,
                    cpus,
                    nb,
                    1,
                    runs=len(combos),
                    first_call_s=first,
                    load_s=statistics.median(loads),
                    load_wall_s=loads,
                    final_value=float(final.iloc[ref]),
                    best={
                        "fast": combos[best][0],
                        "slow": combos[best][1],
                        "final_value": float(final.iloc[best]),
                    },
                    mode="from_signals grid, next open, warm",
                )
            }
        }
    raise ValueError(f"vectorbt runs G1, B1, R1, not {w}")
