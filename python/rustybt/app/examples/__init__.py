"""Example strategies, runnable with ``rustybt run`` (also reachable as ``examples/`` in the
repository)."""
