"""Sweeps that survive their trials and do not outlive their driver: a trial that kills its
worker is a failed row and the sweep goes on (and a resume skips it unless asked to
retry); workers, forkserver and resource tracker die with a SIGKILLed driver; a script
without a main guard is explained; a torn checkpoint line never swallows the next row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.optimize import GridSearch, shutdown_pool


@pytest.fixture(scope="module", autouse=True)
def _no_workers_left():
    yield
    shutdown_pool()


class Crasher(SmaCross):
    """Kills its own worker process as ``mode`` says; ``log``: a file each run appends
    ``mode fast`` to."""

    mode = "ok"
    log = ""

    def initialize(self, context):
        if self.log:
            with open(self.log, "a") as fh:
                fh.write(f"{self.mode} {self.fast}\n")
        if self.mode == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif self.mode == "exit3":
            os._exit(3)
        elif self.mode == "oom":  # what the kernel's OOM killer does
            os.kill(os.getpid(), signal.SIGKILL)
        super().initialize(context)


MODES = ["ok", "segv", "exit3", "oom"]


def _crash_sweep(bundle, log: Path, checkpoint=None, **kw):
    space = {"mode": MODES, "fast": [5, 6], "n_assets": [3], "log": [str(log)]}
    return GridSearch(Crasher, space, bundle=bundle, n_jobs=2, backend="process",
                      progress=False, end="2022-02-28", checkpoint=checkpoint, **kw)  # fmt: skip


def test_a_trial_that_kills_its_worker_is_a_failed_row(small_bundle, tmp_path):
    res = _crash_sweep(small_bundle, tmp_path / "runs.txt").run()
    t = res.table.set_index(["mode", "fast"])
    assert len(t) == 8
    ok = t.loc["ok"]
    assert ok["error"].isna().all() and ok["sharpe"].notna().all() and ok["trades"].gt(0).all()
    how = {"segv": "was killed by signal SIGSEGV", "exit3": "exited with code 3",
           "oom": "was killed by signal SIGKILL"}  # fmt: skip
    for mode, words in how.items():
        for fast in (5, 6):
            error = t.loc[(mode, fast), "error"]
            assert error.startswith("WorkerDied: the worker process (pid ")
            assert words in error
            assert f"'mode': '{mode}'" in error and f"'fast': {fast}" in error
            assert pd.isna(t.loc[(mode, fast), "sharpe"])
    assert res.best["mode"] == "ok"
    # every trial ran exactly once: no death took a neighbour's trial with it
    runs = (tmp_path / "runs.txt").read_text().split("\n")[:-1]
    assert sorted(runs) == sorted(f"{m} {f}" for m in MODES for f in (5, 6))


def test_resume_skips_failed_trials_unless_asked_to_retry(small_bundle, tmp_path):
    log, ck = tmp_path / "runs.txt", tmp_path / "ck.jsonl"
    first = _crash_sweep(small_bundle, log, ck).run()
    assert first.table["error"].notna().sum() == 6
    assert len(log.read_text().splitlines()) == 8
    again = _crash_sweep(small_bundle, log, ck).run()
    assert len(log.read_text().splitlines()) == 8  # nothing ran: the deaths are recorded
    pd.testing.assert_series_equal(again.table["error"], first.table["error"])
    retried = _crash_sweep(small_bundle, log, ck, retry_failed=True).run()
    ran_again = log.read_text().splitlines()[8:]
    assert sorted(ran_again) == sorted(f"{m} {f}" for m in MODES[1:] for f in (5, 6))
    assert len(retried.table) == 8 and retried.table["error"].notna().sum() == 6


def _children() -> dict[int, int]:
    """pid -> parent pid of every live (not zombie) process, from /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if state not in ("Z", "X"):
            out[int(entry)] = int(ppid)
    return out


def _descendants(root: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


SLOW = """
import os, sys, time
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.optimize import GridSearch

class Slow(SmaCross):
    pids = ""

    def initialize(self, context):
        with open(self.pids, "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        time.sleep(30)

if __name__ == "__main__":
    GridSearch(Slow, {"fast": range(5, 15), "pids": [sys.argv[1]], "n_assets": [3]},
               bundle="small", end="2022-02-28", n_jobs=2, backend="process",
               progress=False).run()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_workers_die_with_a_sigkilled_driver(small_bundle, tmp_path):
    script, pids = tmp_path / "slow.py", tmp_path / "pids.txt"
    script.write_text(SLOW)
    driver = subprocess.Popen([sys.executable, str(script), str(pids)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if pids.exists() and len(pids.read_text().split()) == 2:
                break
            assert driver.poll() is None, "the driver ended early"
            time.sleep(0.05)
        workers = {int(p) for p in pids.read_text().split()}
        family = _descendants(driver.pid)
        assert workers <= family
        # the forkserver and multiprocessing's resource tracker are in the family too
        assert len(family) >= len(workers) + 2
        driver.kill()
        driver.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and family & set(_children()):
            time.sleep(0.05)
        assert not family & set(_children()), "processes outlived their driver"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


UNGUARDED = """
from rustybt.app.examples.sma_crossover import SmaCross
from rustybt.optimize import GridSearch

GridSearch(SmaCross, {"fast": [5, 6], "n_assets": [3]}, bundle="small", end="2022-02-28",
           n_jobs=2, backend="process", progress=False).run()
print("finished")
"""


def test_a_script_without_a_main_guard_is_explained(small_bundle, tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "finished" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rustybt.errors.SweepError: ")
    assert 'if __name__ == "__main__":' in last


def test_a_torn_checkpoint_line_never_swallows_the_next_row(small_bundle, tmp_path):
    log, ck = tmp_path / "runs.txt", tmp_path / "ck.jsonl"
    space = {"fast": [5, 6, 7, 8], "n_assets": [3], "log": [str(log)]}
    kw = dict(bundle=small_bundle, end="2022-02-28", progress=False, checkpoint=ck)
    GridSearch(Crasher, space, **kw).run()
    whole = ck.read_bytes()
    lines = whole.splitlines(keepends=True)
    assert len(lines) == 4 and all(line.endswith(b"\n") for line in lines)
    torn = json.loads(lines[-1])["fast"]
    ck.write_bytes(whole[: len(whole) - len(lines[-1]) // 2])  # a crash mid-write
    with pytest.warns(RuntimeWarning, match="cut off mid-write"):
        res = GridSearch(Crasher, space, **kw).run()
    runs = [int(line.split()[1]) for line in log.read_text().splitlines()]
    assert runs[4:] == [torn]  # only the torn trial ran again
    rows = [json.loads(line) for line in ck.read_text().splitlines()]  # every line parses
    assert sorted(r["fast"] for r in rows) == [5, 6, 7, 8]
    assert ck.read_bytes().endswith(b"\n")
    assert sorted(res.table["fast"]) == [5, 6, 7, 8] and res.table["error"].isna().all()
