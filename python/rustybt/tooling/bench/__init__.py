"""The benchmark suite: the workloads of docs/performance/workloads.md on synthetic bundles,
each run in its own process, figures appended to a results history. ``rustybt bench run
--help``."""

from rustybt.tooling.bench.harness import run_suite
from rustybt.tooling.bench.scenarios import SCENARIOS, Scenario

__all__ = ["SCENARIOS", "Scenario", "run_suite"]
