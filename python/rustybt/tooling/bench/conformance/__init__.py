"""``rustybt bench conformance``: rustybt against zipline-reloaded, strategy by strategy, to
the last perf column.

- The suite (:mod:`.suite`): zipline-reloaded's shipped examples, read from zipline's
  virtualenv with their import lines rewritten (nothing else changed), and strategies of
  our own written against zipline's API (``strategies/``): benchmarks over splits and
  dividends, splits, custom Python slippage and commission models, restrictions,
  ``batch_market_order``, ``set_min_leverage``, ``order_target_percent`` rebalancing,
  dividends with and without pay dates.
- The bars (:mod:`.bars`): synthetic, deterministic, with splits and dividends, written as
  a csvdir bundle both engines ingest (and, for pay dates, through zipline's own writers
  and rustybt's ``ingest_table``).
- The comparison (:mod:`.diffing`): fills, daily portfolio values and every column of
  zipline's perf frame, values and dtypes; :mod:`.known` lists the differences known and
  explained; anything else fails.
- The CI half (``tests/test_conformance.py``) runs rustybt's side against zipline's runs
  stored by ``rustybt bench conformance --store`` (``tests/conformance/expected/``).

The earlier pipeline comparison (momentum_pipeline's daily pipeline outputs on the W1
bench bundle) is :mod:`.pipeline_outputs`, run by the same command.
"""

from __future__ import annotations

from rustybt.tooling.bench.conformance.pipeline_outputs import compare, run_conformance
from rustybt.tooling.bench.conformance.suite import rewrite_imports


def cmd_bench_conformance(args) -> int:
    from pathlib import Path

    from rustybt.app.common import console
    from rustybt.errors import InvalidRunParameters
    from rustybt.tooling.bench.conformance import run as suite_run
    from rustybt.tooling.bench.conformance.suite import BY_NAME, venv_from_env

    say = lambda msg: console.print(msg, markup=False)  # noqa: E731
    venv = venv_from_env(args.venv)
    for name in args.strategies or ():
        if name not in BY_NAME:
            raise InvalidRunParameters(f"--strategies takes {', '.join(BY_NAME)}; got {name!r}")
    store = Path(args.store) if args.store else None
    report = suite_run.run_suite(venv, args.strategies, store, say, args.zipline_cache)
    failing = []
    for name, entry in report["strategies"].items():
        if "skip" in entry:
            say(f"{name}: skipped ({entry['skip']})")
            continue
        failing += suite_run.problems(name, entry["aspects"])
    for line in suite_run.report_lines(report):
        say(line)
    if store is not None:
        say(f"zipline's runs stored in {store}")
    if args.docs:
        suite_run.write_docs(report, Path(args.docs))
        say(f"results table written to {args.docs}")
    if not args.no_pipeline and not args.strategies:
        say("pipeline outputs (momentum_pipeline on the W1 bench bundle) ...")
        result = run_conformance(venv, None, say)
        report["pipeline_outputs"] = result
        for key, value in result.items():
            if isinstance(value, list) and len(value) > 10:
                value = f"{len(value)} (first {value[:5]})"
            say(f"  {key}: {value}")
        if not result["same"]:
            failing.append("pipeline outputs: differ")
    if args.out:
        import json

        Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    for line in failing:
        say(f"FAIL {line}")
    say(f"{len(failing)} problem(s)" if failing else "every difference is known and explained")
    return 1 if failing else 0


__all__ = ["cmd_bench_conformance", "compare", "rewrite_imports", "run_conformance"]
