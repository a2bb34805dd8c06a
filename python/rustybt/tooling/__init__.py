"""Developer tooling: the benchmark suite (:mod:`rustybt.tooling.bench`, ``rustybt bench
...``, including the peer backtesters' scripts) and the profiler (:mod:`rustybt.tooling.profile`,
``rustybt profile ...``).

It ships in the wheel as a subpackage (maturin packages ``python/rustybt/`` only) but is the
top layer: it may import the application (:mod:`rustybt.app`) and the library, and neither
imports it. The command line reaches its commands only through the ``rustybt.commands``
entry points declared in pyproject.toml. The layering is checked by import-linter (see
``[tool.importlinter]`` in pyproject.toml).
"""
