"""Every goal `make bench` prints against, in one table. A bench reads its goal here and prints
`met` or `MISSED` beside the figure; it never asserts (speed belongs to the bench, not to a test)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    text: str  # what is measured, as the bench's table says it
    limit: float  # the bound; with `per_item`, the bound for N items is limit + per_item * N
    at_least: bool = False  # False: the figure must not exceed the bound
    unit: str = ""
    per_item: float = 0.0

    def bound(self, items: int = 0) -> float:
        return self.limit + self.per_item * items

    def met(self, value: float, items: int = 0) -> bool:
        return value >= self.bound(items) if self.at_least else value <= self.bound(items)

    def verdict(self, value: float, items: int = 0) -> str:
        return "met" if self.met(value, items) else "MISSED"

    @property
    def header(self) -> str:
        """`goal <= 50 ms`, `goal >= 50x`, `goal <= 3N+5`."""
        sign = ">=" if self.at_least else "<="
        if self.per_item:
            return f"goal {sign} {'' if self.per_item == 1 else f'{self.per_item:g}'}N+{self.limit:g}"
        return f"goal {sign} {self.limit:,g}{' ' if self.unit not in ('x', '') else ''}{self.unit}"


GOALS: dict[str, Goal] = {
    # sandbox/bench.py
    "synth_ratio": Goal("whole-app synth (prod) / an empty cdk.App() synth, fresh process each", 2.0, unit="x"),
    "handler_import_overhead_ms": Goal(
        "a handler module's cold import over a process that imports boto3 and creates Powertools' Tracer()", 50.0, unit="ms"),
    # sandbox/benches/hot_swap.py: both beyond the execution's own duration in the same run
    "warm_run_overhead_s": Goal(
        "a warm `sandbox run parallel-search` (synth cached): its wall time beyond the execution's own duration", 1.5, unit="s"),
    "watch_edit_to_result_s": Goal(
        "`sandbox watch parallel-search`: from saving a handler to the result, beyond the execution's own duration", 2.0, unit="s"),
    # sandbox/benches/weekly_batch.py
    "bigquery_import_ms": Goal("a BigQuery handler's cold import with google.cloud.bigquery", 800.0, unit="ms"),
    # sandbox/benches/single_flight.py
    "single_flight_tick_cost_ratio": Goal("single-flight's cost per tick / the seed's", 0.1),
    # sandbox/benches/distributed_copy.py
    "distributed_copy_invocations_per_million": Goal("Lambda invocations to move 1,000,000 objects", 10_000),
    "distributed_copy_orchestration_ratio": Goal(
        "the seed's orchestration cost (Step Functions + Lambda) / this stack's, at 1,000,000 objects", 50.0, at_least=True, unit="x"),
    # sandbox/benches/bucket_usage.py
    "bucket_usage_transitions": Goal("state transitions (execution + its Map's children) to scan N buckets that each fit one scan",
                                     5, per_item=3),
    "bucket_usage_invocations": Goal("Lambda invocations to scan N buckets that each fit one scan (the lister and the summary)",
                                     2, per_item=1),
}
