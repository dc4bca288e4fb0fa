"""The workflows the sandbox can run: stack, sample input, stand-in settings and scenario of each.

A *scenario* prepares what a deployed stack expects to exist outside it (secrets it reads by
name, stand-in servers at the endpoints its functions are configured with) and can change
stand-in behaviour between runs. Kept free of jsii/CDK imports so the CLI starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.scenarios.base import Scenario, ScenarioError, validate_standin_options
from sandbox.scenarios.distributed_copy import STANDIN_SETTINGS as DISTRIBUTED_COPY_STANDINS
from sandbox.scenarios.distributed_copy import DistributedCopyScenario
from sandbox.scenarios.bucket_usage import STANDIN_SETTINGS as BUCKET_USAGE_STANDINS
from sandbox.scenarios.bucket_usage import BucketUsageScenario, headline as bucket_usage_headline
from sandbox.scenarios.parallel_search import STANDIN_SETTINGS as PARALLEL_SEARCH_STANDINS
from sandbox.scenarios.parallel_search import ParallelSearchScenario
from sandbox.scenarios.single_flight import STANDIN_SETTINGS as SINGLE_FLIGHT_STANDINS
from sandbox.scenarios.single_flight import SingleFlightScenario
from sandbox.scenarios.weekly_batch import STANDIN_SETTINGS as WEEKLY_BATCH_STANDINS
from sandbox.scenarios.weekly_batch import WeeklyBatchScenario
from sandbox.scenarios.weekly_batch import headline as weekly_batch_headline


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    stack_id: str  # the CDK construct id in app.py (template file <stack_id>.template.json)
    summary: str
    sample_input: Mapping[str, Any]
    scenario: Callable[[Emulator, DeployedStack], Scenario]
    standin_settings: Mapping[str, type] = field(default_factory=dict)  # stand-in name -> settings dataclass
    # One line about a successful run's output for the demo table (None: nothing to show).
    headline: Callable[[Any], str] | None = None

    def validate_standins(self, options: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        """`--standin` strings -> one validated settings object per stand-in (ScenarioError if not)."""
        return validate_standin_options(options, self.standin_settings)


WORKFLOWS: dict[str, WorkflowSpec] = {
    spec.name: spec
    for spec in (
        WorkflowSpec(
            name="parallel-search",
            stack_id="ParallelSearch",
            summary="two search APIs in a Parallel state, merged; large results through S3 (claim check)",
            sample_input={"keywords": "wireless earbuds"},
            scenario=ParallelSearchScenario,
            standin_settings=PARALLEL_SEARCH_STANDINS,
        ),
        WorkflowSpec(
            name="weekly-batch",
            stack_id="WeeklyBatch",
            summary="weekly schedule; wait (bounded) for yesterday's BigQuery rows; idempotent MERGE of the week; Slack notices",
            sample_input={"targetDate": "2026-11-18"},
            scenario=WeeklyBatchScenario,
            standin_settings=WEEKLY_BATCH_STANDINS,
            headline=weekly_batch_headline,
        ),
        WorkflowSpec(
            name="distributed-copy",
            stack_id="DistributedCopy",
            summary="Distributed Map over an S3 prefix: yesterday's objects, batched, verified copy then delete",
            sample_input={},  # target date: yesterday in Asia/Tokyo; the sandbox fills 50 + 10 objects
            scenario=DistributedCopyScenario,
            standin_settings=DISTRIBUTED_COPY_STANDINS,
        ),
        WorkflowSpec(
            name="bucket-usage",
            stack_id="BucketUsage",
            summary="usage per file extension of every bucket: a Map of bounded scan loops, results in DynamoDB, summary to SNS",
            # The account also holds the CDK asset bucket and other stacks' buckets: the sample scans the fleet only.
            sample_input={"name_prefix": "usage-"},
            scenario=BucketUsageScenario,
            standin_settings=BUCKET_USAGE_STANDINS,
            headline=bucket_usage_headline,
        ),
        WorkflowSpec(
            name="single-flight",
            stack_id="SingleFlight",
            summary="an EXPRESS tick enqueues to SQS FIFO only when nothing is in flight; one long API call at a time",
            # What the schedule sends (its scheduled time); `fire` sends the schedule's own times.
            sample_input={"scheduled_time": "2026-01-01T00:00:00Z"},
            scenario=SingleFlightScenario,
            standin_settings=SINGLE_FLIGHT_STANDINS,
        ),
    )
}


def get_workflow(name: str) -> WorkflowSpec:
    try:
        return WORKFLOWS[name]
    except KeyError:
        raise ScenarioError(f"unknown workflow {name!r}; known: {', '.join(WORKFLOWS)}") from None


__all__ = ["WORKFLOWS", "Scenario", "ScenarioError", "WorkflowSpec", "get_workflow"]
