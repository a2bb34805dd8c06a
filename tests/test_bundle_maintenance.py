"""Bundle maintenance that cannot lose a version in use (issue #18, items 1 and 7): clean
racing ingests, leases held by open bundles, orphaned cache temporaries, errors that are
RustyBTErrors, and a bounded open-bundle cache in long-lived processes."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import time

import pytest

import rustybt
from rustybt.bundles import _OPEN, OPEN_LIMIT, bundles_dir, cache_dir, clean_bundle
from rustybt.errors import BundleError, BundleNotFound, RustyBTError
from rustybt.optimize.executors import rss_mb


def _ingest(name: str, seed: int) -> rustybt.Bundle:
    return rustybt.ingest_synthetic(name, assets=2, start="2022-01-03", end="2022-01-31", seed=seed)


def _versions(name: str) -> list[str]:
    return sorted(p.name for p in (bundles_dir() / name).iterdir() if p.name.startswith("v"))


def test_clean_racing_ingests_never_loses_the_live_version(tmp_path):
    """A child ingests 30 times in a row and checks after each that CURRENT names a
    complete version; this process cleans in a tight loop meanwhile (before the lock, a
    clean between an ingest's publish and its CURRENT swap removed the new version)."""
    _ingest("race", 0)
    script = tmp_path / "ingester.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            import rustybt
            from rustybt.bundles import bundles_dir
            bad = 0
            for seed in range(1, 31):
                rustybt.ingest_synthetic(
                    "race", assets=2, start="2022-01-03", end="2022-01-31", seed=seed
                )
                live = (bundles_dir() / "race" / "CURRENT").read_text().strip()
                if not (bundles_dir() / "race" / live / "manifest.json").is_file():
                    bad += 1
            print("dangling", bad)
            """
        )
    )
    child = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    cleans = 0
    while child.poll() is None:
        clean_bundle("race")
        cleans += 1
    out = child.stdout.read()
    assert child.returncode == 0
    assert "dangling 0" in out, out
    assert cleans > 10
    live = (bundles_dir() / "race" / "CURRENT").read_text().strip()
    assert (bundles_dir() / "race" / live / "manifest.json").is_file()
    _OPEN.clear()
    gc.collect()
    assert rustybt.load_bundle("race").content_hash


def test_an_open_bundle_keeps_its_version_until_released():
    held = _ingest("leased", 1)
    first = _versions("leased")
    assert len(first) == 1
    _ingest("leased", 2)
    _ingest("leased", 3)  # the prune after this ingest would remove the first version
    removed = clean_bundle("leased")
    assert first[0] in removed["leased"], removed
    assert first[0] in _versions("leased")
    # the held bundle still reads: a backtest on it runs
    perf = rustybt.run_algorithm(
        algorithm=_Noop, bundle=held, start="2022-01-10", end="2022-01-20", capital_base=1000
    )
    assert len(perf) == 8  # Jan 10-20, MLK day off
    with pytest.raises(BundleError, match=r"in use .*" + first[0]):
        clean_bundle("leased", remove=True)
    assert (bundles_dir() / "leased").is_dir()
    del held, perf
    gc.collect()
    removed = clean_bundle("leased")
    assert first[0] in removed["versions"], removed
    clean_bundle("leased", remove=True)
    assert not (bundles_dir() / "leased").exists()


class _Noop(rustybt.TradingAlgorithm):
    def handle_data(self, context, data):
        pass


def test_clean_removes_cache_temporaries_of_dead_writers():
    _ingest("tmpcache", 1)
    cache_dir().mkdir(parents=True, exist_ok=True)
    dead = cache_dir() / ".0123abcd.999999999.42.tmp"  # no such pid
    mine = cache_dir() / f".0123abcd.{os.getpid()}.42.tmp"  # a live writer's
    dead.write_bytes(b"x" * 1000)
    mine.write_bytes(b"x")
    removed = clean_bundle("tmpcache")
    assert dead.name in removed["caches"]
    assert not dead.exists() and mine.exists()
    mine.unlink()


def test_clean_errors_are_rustybt_errors():
    with pytest.raises(BundleNotFound, match="nope"):
        clean_bundle("nope")
    assert issubclass(BundleNotFound, RustyBTError) and issubclass(BundleError, RustyBTError)


def test_the_open_bundle_cache_is_bounded():
    _OPEN.clear()
    for i in range(OPEN_LIMIT + 3):
        _ingest(f"many{i}", 1)
    assert len(_OPEN) == OPEN_LIMIT
    _ingest("many0", 2)  # a new version replaces its bundle's entry
    assert sum(1 for k in _OPEN if k.endswith("many0")) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_re_ingest_and_run_cycles_do_not_grow_memory():
    """100 re-ingest + run cycles in one process: RSS after the 100th within 20 MB of after
    the 10th (before the bound, 60 cycles grew it by 228 MB)."""

    def cycle(seed):
        bundle = rustybt.ingest_synthetic(
            "cycles", assets=100, start="2022-01-03", end="2022-12-30", seed=seed
        )
        rustybt.run_algorithm(
            algorithm=_Noop, bundle=bundle, start="2022-02-01", end="2022-03-01", capital_base=1e4
        )

    start = time.perf_counter()
    for seed in range(10):
        cycle(seed)
    gc.collect()
    after_10 = rss_mb()
    for seed in range(10, 100):
        cycle(seed)
    gc.collect()
    after_100 = rss_mb()
    assert after_100 - after_10 <= 20, (after_10, after_100, time.perf_counter() - start)


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_a_search_runs_on_the_version_it_was_built_against(backend):
    """Built, then run after its bundle was re-ingested twice (and cleaned): the search
    holds its version's lease, so the version is still there and every trial runs on it."""
    from rustybt.app.examples.sma_crossover import SmaCross
    from rustybt.optimize import GridSearch
    from rustybt.optimize.pool import shutdown_pool

    name = f"pinned-{backend}"
    rustybt.ingest_synthetic(name, assets=3, start="2022-01-03", end="2022-06-30", seed=1)
    search = GridSearch(
        SmaCross,
        {"fast": [5, 8], "slow": [20], "n_assets": [3]},
        bundle=name,
        n_jobs=2 if backend == "process" else 1,
        backend=backend,
        progress=False,
    )
    expected_hash = search.bundle.content_hash
    for seed in (2, 3):
        rustybt.ingest_synthetic(name, assets=3, start="2022-01-03", end="2022-06-30", seed=seed)
    assert clean_bundle(name)["leased"]
    try:
        result = search.run()
    finally:
        shutdown_pool()
    assert result.table["error"].isna().all(), result.table["error"].tolist()
    assert len(result.table) == 2
    assert search.bundle.content_hash == expected_hash != rustybt.load_bundle(name).content_hash


# -- integrity of the pool cache and the manifest (item 2) ---------------------------------------

_RUN = textwrap.dedent(
    """
    import rustybt
    from rustybt.app.examples.sma_crossover import SmaCross
    perf = rustybt.run_algorithm(algorithm=SmaCross, bundle="{name}", start="2022-02-01",
                                 end="2022-06-30", capital_base=100000)
    print(repr(float(perf["portfolio_value"].iloc[-1])))
    """
)


def _fresh_run(name: str) -> subprocess.CompletedProcess:
    """A backtest in a fresh process (so the pool cache is mapped, not reused)."""
    return subprocess.run(
        [sys.executable, "-c", _RUN.format(name=name)], capture_output=True, text=True
    )


def test_a_flipped_block_in_the_pool_cache_never_changes_a_result():
    """4 KB flipped a third into the .cols file, in the close prices (before checksums the
    run's final value went from 100,205.18 to 5,365,455.65 with exit 0): the next
    fresh-process run gives the same value, from a rebuilt cache."""
    bundle = rustybt.ingest_synthetic(
        "flipped", assets=20, start="2022-01-03", end="2022-06-30", seed=3
    )
    clean = _fresh_run("flipped")
    assert clean.returncode == 0, clean.stderr
    (cols,) = cache_dir().glob(f"{bundle.content_hash}.f*.cols")
    data = bytearray(cols.read_bytes())
    at = len(data) // 3
    data[at : at + 4096] = bytes(b ^ 0xFF for b in data[at : at + 4096])
    cols.write_bytes(bytes(data))
    again = _fresh_run("flipped")
    assert again.returncode == 0, again.stderr
    assert again.stdout == clean.stdout
    assert cols.read_bytes() != bytes(data)  # rewritten


def test_an_edited_price_scale_in_the_manifest_is_refused():
    import json

    bundle = rustybt.ingest_synthetic(
        "rescaled", assets=3, start="2022-01-03", end="2022-03-31", seed=3
    )
    live = (bundles_dir() / "rescaled" / "CURRENT").read_text().strip()
    manifest = bundles_dir() / "rescaled" / live / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["price_scale"] = doc["price_scale"] - 2
    manifest.write_text(json.dumps(doc))
    out = _fresh_run("rescaled")
    assert out.returncode != 0
    assert "BundleError" in out.stderr and "manifest.json" in out.stderr, out.stderr[-800:]
    assert "price_scale" in out.stderr
    del bundle
