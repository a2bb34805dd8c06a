"""The bundle pool: a columnar cache keyed by content hash, mapped by later processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

import rustybt
from rustybt import _core
from rustybt.bundles import cache_dir

PROBE = """
import json, sys, time
import rustybt
from rustybt import _core
t = time.perf_counter()
b = _core.Bundle.open(sys.argv[1], sys.argv[2])
opened = time.perf_counter() - t
h = b.history("close", list(range(b.n_assets)), b.n_bars - 1, 5)
print(json.dumps({"mapped": b.is_mapped, "open_s": opened, "tail": h.tolist(), "hash": b.content_hash}))
"""


def probe(path, cache):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_first_open_builds_then_every_process_maps(tmp_path):
    b = rustybt.ingest_synthetic("pool", assets=4, start="2022-01-03", end="2022-06-30", seed=3)
    cache = tmp_path / "cache"
    first = probe(b.path, cache)
    files = list(cache.glob("*.cols"))
    assert [f.name.split(".")[0] for f in files] == [b.content_hash]
    second = probe(b.path, cache)
    assert second["mapped"] is True
    assert second["tail"] == first["tail"]
    direct = _core.Bundle.open(b.path)  # no pool: straight from Parquet
    assert not direct.is_mapped
    np.testing.assert_array_equal(
        np.array(second["tail"]), direct.history("close", [0, 1, 2, 3], direct.n_bars - 1, 5)
    )


def test_a_stale_or_corrupt_cache_is_rebuilt_not_read(tmp_path):
    b = rustybt.ingest_synthetic("pool2", assets=2, start="2022-01-03", end="2022-02-28", seed=4)
    cache = tmp_path / "cache"
    good = probe(b.path, cache)
    (f,) = cache.glob("*.cols")
    data = bytearray(f.read_bytes())
    data[10:20] = b"XXXXXXXXXX"  # break the header
    f.write_bytes(bytes(data))
    again = probe(b.path, cache)
    assert again["tail"] == good["tail"]
    assert probe(b.path, cache)["mapped"] is True  # rebuilt file maps again
    # a new ingest under the same name has a new hash and a new cache file
    b2 = rustybt.ingest_synthetic("pool2", assets=2, start="2022-01-03", end="2022-02-28", seed=5)
    assert b2.content_hash != b.content_hash
    probe(b2.path, cache)
    assert {p.name.split(".")[0] for p in cache.glob("*.cols")} == {b.content_hash, b2.content_hash}


def test_concurrent_first_opens_are_safe(tmp_path):
    b = rustybt.ingest_synthetic("pool3", assets=8, start="2022-01-03", end="2022-12-30", seed=6)
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROBE, str(b.path), str(cache)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [json.loads(p.communicate()[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len({json.dumps(r["tail"]) for r in results}) == 1
    assert [p.name for p in cache.iterdir() if p.name.endswith(".tmp")] == []


def test_load_bundle_uses_the_pool(small_bundle):
    env_root = os.environ["RUSTYBT_ROOT"]
    assert str(cache_dir()).startswith(env_root)
    assert any(p.name.startswith(small_bundle.content_hash) for p in cache_dir().glob("*.cols"))
