"""The differences between rustybt and zipline-reloaded the conformance suite knows about:
``{(strategy, aspect): reason}``. An aspect is ``run``, ``index``, ``fills`` or a column
of zipline's perf frame. Everything not listed must match; a listed item that matches is
reported as "now matches: remove it from KNOWN_DIFFERENCES" (and fails the suite, so the
table never keeps a stale entry).
"""

from __future__ import annotations

KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}
