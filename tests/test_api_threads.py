"""zipline's function-style api in two threads: each backtest's ``order`` calls reach its
own algorithm, also while another backtest runs in another thread.

The threads are forced to interleave: A enters its backtest and blocks inside
``handle_data``; B starts its backtest, signals A from its own ``handle_data`` and blocks;
A orders while both backtests are inside ``rustybt.api.running``; then B orders. Every wait
has a timeout, so a failure cannot hang the suite.
"""

from __future__ import annotations

import threading

import pytest

import rustybt
from rustybt.api import get_algo_instance, order, symbol
from rustybt.errors import RustyBTError

TIMEOUT = 60.0
START, END = "2022-01-03", "2022-01-31"


class Handoff:
    """The events the two backtests wait on; ``abort`` releases every wait after a failure."""

    def __init__(self):
        self.a_inside = threading.Event()
        self.b_inside = threading.Event()
        self.a_ordered = threading.Event()
        self.aborted = False

    def wait(self, event: threading.Event, what: str) -> None:
        if not event.wait(TIMEOUT) or self.aborted:
            self.abort()
            raise AssertionError(f"timed out (or aborted) waiting for {what}")

    def abort(self) -> None:
        self.aborted = True
        for e in (self.a_inside, self.b_inside, self.a_ordered):
            e.set()


def backtest(bundle, sym: str, handoff: Handoff, role: str, out: dict) -> None:
    """One function-style backtest that orders 10 shares of ``sym`` on its first bar."""
    algos = []

    def initialize(context):
        context.asset = symbol(sym)
        context.ordered = False
        algos.append(get_algo_instance())

    def handle_data(context, data):
        if context.ordered:
            return
        context.ordered = True
        if role == "A":
            handoff.a_inside.set()
            handoff.wait(handoff.b_inside, "B inside handle_data")
            # B's backtest is running (blocked in its handle_data) in the other thread
            out["algo at order"] = get_algo_instance()
            order(context.asset, 10)
            handoff.a_ordered.set()
        else:
            handoff.b_inside.set()
            handoff.wait(handoff.a_ordered, "A's order")
            out["algo at order"] = get_algo_instance()
            order(context.asset, 10)

    try:
        out["perf"] = rustybt.run_algorithm(
            start=START,
            end=END,
            initialize=initialize,
            handle_data=handle_data,
            capital_base=100_000,
            bundle=bundle,
        )
        out["algo"] = algos[0]
    except BaseException as exc:
        out["error"] = exc
        handoff.abort()


def traded(perf) -> set[str]:
    return {t["sid"].symbol for ts in perf["transactions"] for t in ts}


def test_two_function_style_backtests_in_two_threads_get_their_own_orders(small_bundle):
    handoff = Handoff()
    out_a: dict = {}
    out_b: dict = {}
    a = threading.Thread(
        target=backtest, args=(small_bundle, "S000", handoff, "A", out_a), daemon=True
    )
    b = threading.Thread(
        target=backtest, args=(small_bundle, "S001", handoff, "B", out_b), daemon=True
    )
    a.start()
    assert handoff.a_inside.wait(TIMEOUT), "A never reached handle_data"
    b.start()
    a.join(TIMEOUT * 2)
    b.join(TIMEOUT * 2)
    assert not a.is_alive() and not b.is_alive(), "a backtest thread hung"
    assert "error" not in out_a, f"A raised {out_a.get('error')!r}"
    assert "error" not in out_b, f"B raised {out_b.get('error')!r}"
    assert (traded(out_a["perf"]), traded(out_b["perf"])) == ({"S000"}, {"S001"})
    assert out_a["algo at order"] is out_a["algo"]
    assert out_b["algo at order"] is out_b["algo"]


def test_api_outside_a_backtest_raises_in_a_fresh_thread():
    """The running algorithm is per thread: a thread that runs none has none."""
    got = []

    def probe():
        try:
            get_algo_instance()
        except RustyBTError as exc:
            got.append(exc)

    t = threading.Thread(target=probe)
    t.start()
    t.join(TIMEOUT)
    assert len(got) == 1
    with pytest.raises(RustyBTError, match="only be called while an algorithm runs"):
        get_algo_instance()
