"""distributed-copy bench: local runs over 1,000 and 5,000 objects, then the prod configuration
computed for 1,000,000 objects beside the seed's design (one STANDARD child and one Lambda
invocation per object), with costs from published prices (sandbox/costs.py).

The local figures are measured in one run each. The 1,000,000-object figures are computed: counts
from the definitions and settings (exact), durations from stated assumptions (below).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from sandbox.benches.goals import GOALS
from sandbox.costs import (
    EXPRESS_MEMORY_GB,
    PRICE_PER_EXPRESS_REQUEST,
    PRICE_PER_LAMBDA_GB_SECOND_ARM,
    PRICE_PER_LAMBDA_REQUEST,
    PRICE_PER_STATE_TRANSITION,
    express_duration_cost,
    request_price,
)
from sandbox.engine.distributed_map import children_summary

OBJECTS_AT_SCALE = 1_000_000
LOCAL_RUNS = ((900, 200), (1_000, 0), (5_000, 0))  # (objects due to move, objects of other dates)
# Assumptions for durations at scale (AWS, same region): one S3 request ~25 ms; a Lambda's own
# overhead per invocation ~50 ms; the seed's function: 128 MB, copy + delete ~100 ms billed.
S3_REQUEST_S = 0.025
INVOCATION_OVERHEAD_S = 0.05
SEED_LAMBDA_MEMORY_GB = 128 / 1024
SEED_LAMBDA_SECONDS = 0.1
AVERAGE_KEY_BYTES = 60

# The seed's child workflow (seed 002), success path: Task -> Choice -> Succeed.
SEED_CHILD = {
    "StartAt": "通常処理",
    "States": {
        "通常処理": {"Type": "Task", "Next": "処理結果分岐"},
        "処理結果分岐": {"Type": "Choice", "Default": "OK!!"},
        "OK!!": {"Type": "Succeed"},
    },
}
SEED_S3_REQUESTS_PER_OBJECT = {"s3:CopyObject": 1}  # + DeleteObject (free)
# HeadObject of the source (its checksum, If-Match the listed ETag) and of the destination (an earlier copy?),
# CopyObject (answers the copy's checksum); + the conditional DeleteObject (free)
OUR_S3_REQUESTS_PER_OBJECT = {"s3:HeadObject": 2, "s3:CopyObject": 1}

console = Console(width=150)


def success_path_transitions(definition: dict) -> int:
    """States entered on the success path (Next, or a Choice's Default) from StartAt to the end."""
    name, count = definition["StartAt"], 0
    while name:
        state = definition["States"][name]
        count += 1
        name = state.get("Next") or state.get("Default")
    return count


@dataclass(frozen=True)
class Design:
    label: str
    child_executions: int
    child_type: str
    lambda_invocations: int
    transitions_billed: int  # Standard transitions (parent, plus STANDARD children)
    express_seconds_each: float  # duration of one EXPRESS child
    lambda_gb_seconds: float
    s3_requests: dict[str, int]

    def costs(self) -> dict[str, float]:
        step_functions = self.transitions_billed * PRICE_PER_STATE_TRANSITION
        if self.child_type == "EXPRESS":
            step_functions += self.child_executions * (PRICE_PER_EXPRESS_REQUEST + express_duration_cost(self.express_seconds_each))
        lam = self.lambda_invocations * PRICE_PER_LAMBDA_REQUEST + self.lambda_gb_seconds * PRICE_PER_LAMBDA_GB_SECOND_ARM
        s3 = sum(request_price(*op.split(":", 1)) * n for op, n in self.s3_requests.items())
        return {"step_functions": step_functions, "lambda": lam, "orchestration": step_functions + lam, "s3": s3,
                "total": step_functions + lam + s3}


def seed_design(objects: int) -> Design:
    per_child = success_path_transitions(SEED_CHILD)
    parent = 2  # the Map state entered, then the end
    return Design(
        label="seed 002: STANDARD child + Lambda per object",
        child_executions=objects, child_type="STANDARD", lambda_invocations=objects,
        transitions_billed=parent + objects * per_child, express_seconds_each=0.0,
        lambda_gb_seconds=objects * SEED_LAMBDA_SECONDS * SEED_LAMBDA_MEMORY_GB,
        s3_requests={op: n * objects for op, n in SEED_S3_REQUESTS_PER_OBJECT.items()} | {"s3:ListObjectsV2": math.ceil(objects / 1000)},
    )


def our_design(objects: int, settings) -> Design:
    item_bytes = AVERAGE_KEY_BYTES + 100  # Etag, LastModified, Size, StorageClass and JSON punctuation
    per_batch = min(settings.max_items_per_batch, settings.max_input_bytes_per_batch // item_bytes)
    batches = math.ceil(objects / per_batch)
    rounds = math.ceil(per_batch / settings.copy_threads)
    lambda_seconds = INVOCATION_OVERHEAD_S + rounds * len(OUR_S3_REQUESTS_PER_OBJECT) * S3_REQUEST_S
    parent_transitions = 6  # PlanCopy, CopyObjects, Summarize, AnyFailedKeys, Report (+ PublishFailedKeys on failures)
    return Design(
        label=f"this stack (prod): {settings.child_execution_type} child per {per_batch} objects",
        child_executions=batches, child_type=settings.child_execution_type, lambda_invocations=batches + 2,
        transitions_billed=parent_transitions + (batches if settings.child_execution_type == "STANDARD" else 0),
        express_seconds_each=lambda_seconds + 0.05,
        lambda_gb_seconds=batches * lambda_seconds * settings.copy_memory_mb / 1024,
        s3_requests={op: n * objects for op, n in OUR_S3_REQUESTS_PER_OBJECT.items()} | {"s3:ListObjectsV2": math.ceil(objects / 1000)},
    )


def bench_local(sandbox) -> None:
    workflow = sandbox.deploy("distributed-copy")
    table = Table(title="distributed-copy, local (moto + local Lambda runtime), one run each")
    for column in ("objects (+ other dates)", "status", "moved", "wall time", "Lambda invocations", "child executions",
                   "transitions (parent + children)", "S3 requests", "ListObjectsV2 pages"):
        table.add_column(column)
    for objects, other_dates in LOCAL_RUNS:
        started = time.perf_counter()
        report = workflow.run({}, standins={"source": {"objects": str(objects), "other_dates": str(other_dates)}}, timeout_s=900)
        wall = time.perf_counter() - started
        children = children_summary(report.execution_arn)
        counts = workflow.emulator.request_counts()
        table.add_row(
            f"{objects:,}" + (f" (+ {other_dates:,})" if other_dates else ""), report.status,
            f"{(report.output or {}).get('moved', 0):,}", f"{wall:.1f} s",
            f"{counts.get('lambda:Invoke', 0):,}",
            f"{children['child_executions']:,} ({children['express_children']:,} EXPRESS)",
            f"{report.state_transitions} + {children['child_transitions']:,}",
            f"{report.aws_requests.get('s3', 0):,}", str(counts.get("s3:ListObjectsV2", 0)),
        )
    console.print(table)


def bench_at_scale() -> None:
    from stacks.common.config import load_stage
    from stacks.distributed_copy.settings import DistributedCopySettings

    settings = load_stage("prod").workflow_settings("distributed_copy", DistributedCopySettings)
    seed, ours = seed_design(OBJECTS_AT_SCALE), our_design(OBJECTS_AT_SCALE, settings)
    seed_cost, our_cost = seed.costs(), ours.costs()
    table = Table(title=f"{OBJECTS_AT_SCALE:,} objects, computed (us-east-1 list prices; S3 request latency {S3_REQUEST_S * 1000:.0f} ms, "
                        f"Express memory {EXPRESS_MEMORY_GB * 1024:.0f} MB assumed)")
    for column in ("design", "child executions", "Lambda invocations", "billed transitions", "Step Functions $",
                   "Lambda $", "orchestration $", "S3 requests $", "total $"):
        table.add_column(column)
    for design, cost in ((seed, seed_cost), (ours, our_cost)):
        table.add_row(design.label, f"{design.child_executions:,} {design.child_type}", f"{design.lambda_invocations:,}",
                      f"{design.transitions_billed:,}", f"{cost['step_functions']:.4f}", f"{cost['lambda']:.4f}",
                      f"{cost['orchestration']:.4f}", f"{cost['s3']:.2f}", f"{cost['total']:.2f}")
    console.print(table)
    invocations, orchestration = GOALS["distributed_copy_invocations_per_million"], GOALS["distributed_copy_orchestration_ratio"]
    ratio = seed_cost["orchestration"] / our_cost["orchestration"]
    total_ratio = seed_cost["total"] / our_cost["total"]
    console.print(
        f"Lambda invocations per million objects: {ours.lambda_invocations:,} ({invocations.header}: "
        f"{invocations.verdict(ours.lambda_invocations)}); orchestration cost (Step Functions + Lambda) {ratio:,.0f}x lower "
        f"({orchestration.header}: {orchestration.verdict(ratio)}); "
        f"with S3 request charges, which both designs pay per object (CopyObject $0.005/1,000), {total_ratio:.1f}x lower."
    )


def bench_distributed_copy(sandbox) -> None:
    bench_local(sandbox)
    bench_at_scale()


def run(sandbox) -> None:  # noqa: ANN001 - what `make bench` calls for this workflow
    bench_distributed_copy(sandbox)
