"""`make bench` for bucket-usage: this workflow measured in the sandbox, beside the seed's design computed
from its definitions, and beside this workflow's own previous design (an inline Map over a list in the state).

Measured (one run each): 3, 10 and 50 buckets of 200 objects: state transitions (the execution's own and its
child executions'), Lambda invocations, wall time, the execution's history events, and the largest state
payload anywhere (the execution's history, and every child's input and output). Goals for N buckets that each
fit in one scan: no polling, no state machine created, a constant number of states in the execution, 3N in
the children, N+2 Lambda invocations, and a largest state payload that does not grow with N.

State size at 5,000 buckets (`bench_state_at_scale`): 5,000 buckets are created in the emulator, and measured
there: ListBuckets' answer as the previous design's `listBuckets` task got it, and the deployed lister's list in
S3 and its answer (the state from then on). Beside them, the previous design's largest state (the Map's
results, one per bucket, with the names) built in its own shape from 5,000 results like this run's.

The seed (003) creates a state machine at run time with one Parallel branch per bucket (two Lambda
tasks each), starts it, polls it with a Lambda every 30 s, and deletes it. Its figures here come from
walking its two definitions - the outer one as published, the inner one generated as its
create-state-machine Lambda does - with the poll answering RUNNING until the inner execution's
scan (assumed 3 minutes) is over.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from sandbox.benches.goals import GOALS
from sandbox.engine.distributed_map import map_runs
from sandbox.engine.payload_size import utf8_json_size

BUCKET_COUNTS = (3, 10, 50)
OBJECTS_PER_BUCKET = 200
SCALE_BUCKETS = 5_000
STATE_LIMIT = 262_144  # 256 KiB of UTF-8, per state input/output and task result
SEED_SCAN_SECONDS = 180
SEED_POLL_SECONDS = 30
console = Console(width=150)

_LAMBDA = "arn:aws:lambda:ap-northeast-1:123456789000:function:"
SEED_OUTER = {  # as published in the seed
    "StartAt": "CreateStateMachine",
    "States": {
        "CreateStateMachine": {"Type": "Task", "Resource": _LAMBDA + "create-state-machine", "Next": "DescribeExecution"},
        "DescribeExecution": {"Type": "Task", "Resource": _LAMBDA + "describe-execution", "Next": "Choice"},
        "Choice": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.status", "StringEquals": "SUCCEEDED", "Next": "DeleteStateMachine"},
                {"Variable": "$.status", "StringEquals": "RUNNING", "Next": "Wait"},
            ],
            "Default": "Error",
        },
        "DeleteStateMachine": {"Type": "Task", "Resource": _LAMBDA + "delete-state-machine", "End": True},
        "Wait": {"Type": "Wait", "Seconds": SEED_POLL_SECONDS, "Next": "DescribeExecution"},
        "Error": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True},
    },
}


def seed_inner_definition(buckets: int) -> dict[str, Any]:
    """The definition the seed's create-state-machine Lambda builds for `buckets` buckets."""
    branches = [
        {
            "StartAt": f"ListObject{j}",
            "States": {
                f"ListObject{j}": {"Type": "Task", "Resource": _LAMBDA + "list-objects", "InputPath": f"$.{j}", "Next": f"PutDynamoDB{j}"},
                f"PutDynamoDB{j}": {"Type": "Task", "Resource": _LAMBDA + "put-dynamodb", "End": True},
            },
        }
        for j in range(buckets)
    ]
    return {
        "StartAt": "Pass",
        "States": {
            "Pass": {"Type": "Pass", "Next": "Parallel"},
            "Parallel": {"Type": "Parallel", "Next": "CreateMessage", "Branches": branches},
            "CreateMessage": {"Type": "Task", "Resource": _LAMBDA + "create-message", "Next": "Publish"},
            "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True},
        },
    }


def walk(definition: dict[str, Any], *, status_at: Any = None) -> dict[str, int]:
    """Follow a definition's states: transitions (start + states entered), Lambda tasks, Wait seconds.

    `status_at(clock)` answers the seed's describe-execution poll at a point in time.
    """
    figures = {"transitions": 1, "lambda": 0, "seconds": 0, "polls": 0}
    _walk_states(definition, figures, status_at)
    return figures


def _walk_states(definition: dict[str, Any], figures: dict[str, int], status_at: Any) -> None:
    name, status = definition["StartAt"], None
    while name:
        state = definition["States"][name]
        figures["transitions"] += 1
        kind = state["Type"]
        if kind == "Task" and ":function:" in state["Resource"]:
            figures["lambda"] += 1
            if state["Resource"].endswith("describe-execution"):
                figures["polls"] += 1
                status = status_at(figures["seconds"])
        if kind == "Parallel":
            for branch in state["Branches"]:
                branch_figures = {"transitions": 0, "lambda": 0, "seconds": 0, "polls": 0}
                _walk_states(branch, branch_figures, status_at)
                figures["transitions"] += branch_figures["transitions"]
                figures["lambda"] += branch_figures["lambda"]
        if kind == "Wait":
            figures["seconds"] += state["Seconds"]
        if kind == "Choice":
            name = next((c["Next"] for c in state["Choices"] if c.get("StringEquals") == status), state.get("Default"))
            continue
        name = None if state.get("End") else state.get("Next")


def seed_figures(buckets: int, scan_seconds: int = SEED_SCAN_SECONDS) -> dict[str, int]:
    """The seed's design for `buckets` buckets: outer machine polling, plus the created inner machine."""
    outer = walk(SEED_OUTER, status_at=lambda clock: "SUCCEEDED" if clock >= scan_seconds else "RUNNING")
    inner = walk(seed_inner_definition(buckets))
    return {
        "transitions": outer["transitions"] + inner["transitions"],
        "lambda": outer["lambda"] + inner["lambda"],
        "polls": outer["polls"],
        "wall_seconds": outer["seconds"],
        "state_machines_created": 1,
    }


def largest_payload(report: Any) -> int:
    """The largest state payload of the run: the execution's own (its history), and each child's input/output."""
    children = [c for run in map_runs(report.execution_arn) for c in run.children.values()]
    return max([report.max_state_payload_bytes, *(utf8_json_size(json.dumps(c.input)) for c in children),
                *(utf8_json_size(json.dumps(c.output)) for c in children if c.output is not None)])


def previous_design_largest_state(request: dict[str, Any], execution: str, results: list[dict[str, Any]]) -> int:
    """The previous design's largest state (its Summarize input and the Map's output state, whichever is larger),
    in its own shape: the bucket names in `targets.names`, and one result per bucket in `results`."""
    names = [r["bucket"] for r in results]
    map_output = {**request, "targets": {"names": names, "request_overrides": {"buckets": []}}, "results": results}
    summarize_input = {"request": request, "execution": execution, "results": results}
    return max(utf8_json_size(json.dumps(map_output)), utf8_json_size(json.dumps(summarize_input)))


def results_in_previous_shape(workflow: Any, scan_id: str) -> list[dict[str, Any]]:
    """This run's per-bucket results, as the previous design's Map collected them (from the items written)."""
    from boto3.dynamodb.types import TypeDeserializer

    pages = workflow.emulator.client("dynamodb").get_paginator("query").paginate(
        TableName=workflow.scenario.table_name, KeyConditionExpression="scan_id = :s", ExpressionAttributeValues={":s": {"S": scan_id}})
    results = []
    for page in pages:
        for raw in page["Items"]:
            item = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}
            result = {"bucket": item["bucket"], "pass": int(item.get("passes", 1)), "done": True, "status": item["status"],
                      "region": item.get("region", "us-east-1"), "objects": int(item.get("objects", 0)), "bytes": int(item.get("bytes", 0))}
            if item.get("error"):
                result["error"] = item["error"]
            results.append(result)
    return results


def history_events(workflow: Any, execution_arn: str) -> int:
    sfn = workflow.emulator.client("stepfunctions")
    return sum(len(page["events"]) for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn))


def bench_bucket_usage(sandbox: Any) -> None:
    workflow = sandbox.deploy("bucket-usage")
    table = Table(title=f"bucket-usage: N buckets x {OBJECTS_PER_BUCKET} objects, this workflow (sandbox) vs the seed's design (computed)")
    transitions_goal, invocations_goal = GOALS["bucket_usage_transitions"], GOALS["bucket_usage_invocations"]
    for column in ("N", "status", "transitions: execution + children", transitions_goal.header, "Lambda", invocations_goal.header, "wall time",
                   "history events", "largest state", "previous design's largest state", "seed: transitions", "seed: Lambda",
                   f"seed: polls / wall (scan {SEED_SCAN_SECONDS // 60} min)"):
        table.add_column(column)
    sizes, previous_sizes = [], []
    for buckets in BUCKET_COUNTS:
        fleet = {"fleet": {"buckets": str(buckets), "objects_per_bucket": str(OBJECTS_PER_BUCKET), "other_region_buckets": "0", "denied_buckets": "0"}}
        workflow.scenario.configure(workflow.spec.validate_standins(fleet))  # set-up outside the timed run
        scan_id = f"bench-{buckets}"
        request = {"name_prefix": "usage-", "scan_id": scan_id}
        started = time.perf_counter()
        report = workflow.run(request, standins=fleet)
        wall = time.perf_counter() - started
        entered = 1 + sum(1 for e in report.events if e.type.endswith("StateEntered"))
        child_transitions = sum(c.transitions for run in map_runs(report.execution_arn) for c in run.children.values())
        largest = largest_payload(report)
        sizes.append(largest)
        previous = previous_design_largest_state(request, report.execution_arn.rsplit(":", 1)[-1],
                                                 results_in_previous_shape(workflow, scan_id))
        previous_sizes.append(previous)
        seed = seed_figures(buckets)
        shown = str(report.state_transitions) if report.state_transitions == entered else f"{entered} (reported {report.state_transitions})"
        table.add_row(
            str(buckets), report.status, f"{shown} + {child_transitions}",
            transitions_goal.verdict(entered + child_transitions, buckets),
            str(report.lambda_invocations), invocations_goal.verdict(report.lambda_invocations, buckets),
            f"{wall:.2f} s", str(history_events(workflow, report.execution_arn)), f"{largest:,} B", f"{previous:,} B",
            str(seed["transitions"]), str(seed["lambda"]), f"{seed['polls']} / >= {seed['wall_seconds']} s",
        )
    console.print(table)
    per_bucket = (previous_sizes[-1] - previous_sizes[0]) / (BUCKET_COUNTS[-1] - BUCKET_COUNTS[0])
    console.print(f"[dim]largest state: the execution's history and every child's input and output, compact UTF-8 JSON: "
                  f"{min(sizes):,}-{max(sizes):,} B at every N (a spread of {max(sizes) - min(sizes)} B: the digits of byte totals); "
                  f"the previous design grows {per_bucket:,.0f} B per bucket, so {STATE_LIMIT:,} B at about "
                  f"{(STATE_LIMIT - previous_sizes[0]) / per_bucket + BUCKET_COUNTS[0]:,.0f} buckets. "
                  "Previous design: built in its shape from this run's per-bucket results. Transitions: the start plus every "
                  "state entered, from the history; shown as 'reported' too when the sandbox's own count differs. Seed: its "
                  "outer and inner machines walked from their definitions.[/dim]")
    bench_state_at_scale(workflow)


def bench_state_at_scale(workflow: Any, buckets: int = SCALE_BUCKETS) -> None:
    """5,000 buckets in the emulator: what the list weighs where it travels, before and after."""
    from moto.s3.models import s3_backends

    emulator = workflow.emulator
    backend = s3_backends[emulator.account_id]["aws"]
    names = [f"usage-scale-{index:05d}-{'x' * (index % 30)}" for index in range(buckets)]  # 18-47 characters
    for name in names:  # set-up straight into moto's backend: 5,000 CreateBucket round trips are not the point
        backend.create_bucket(name, emulator.region)
    try:
        s3 = emulator.client("s3")
        listing = s3.list_buckets(Prefix="usage-scale-")
        # As the previous design's aws-sdk:s3:listBuckets task result (dates as ISO text), and with the BucketRegion
        # field AWS adds (moto does not): the task result is limited to 256 KiB like any state.
        as_task_result = {"Buckets": [{"Name": b["Name"], "CreationDate": b["CreationDate"].isoformat()} for b in listing["Buckets"]],
                          "Owner": listing.get("Owner", {})}
        with_region = {**as_task_result, "Buckets": [{**b, "BucketRegion": emulator.region} for b in as_task_result["Buckets"]]}
        names_in_state = {"names": [b["Name"] for b in listing["Buckets"]], "request_overrides": {"buckets": []}}
        (lister,) = [name for lid, name in workflow.stack.resources.items() if lid.startswith("TargetsFunction")
                     and workflow.stack.resource_types[lid] == "AWS::Lambda::Function"]
        answer = emulator.lambda_runtime.invoke_direct(lister, {"request": {"name_prefix": "usage-scale-", "scan_id": "scale"},
                                                                "execution": "bench-scale"})
        targets = answer.payload_obj
        listed = s3.get_object(Bucket=targets["bucket"], Key=targets["key"])["Body"].read()
        typical = {"pass": 1, "done": True, "status": "scanned", "region": "us-east-1", "objects": OBJECTS_PER_BUCKET, "bytes": 205_000}
        previous = previous_design_largest_state({"name_prefix": "usage-scale-", "scan_id": "scale"}, "bench-scale",
                                                 [{"bucket": n, **typical} for n in names])
        table = Table(title=f"bucket-usage state at {buckets:,} buckets (names of 18-47 characters; limit {STATE_LIMIT:,} B)")
        for column in ("where the list travels", "bytes", "within 256 KiB"):
            table.add_column(column)
        rows = [
            ("previous: listBuckets task result (moto's answer)", utf8_json_size(json.dumps(as_task_result))),
            ("previous: listBuckets task result (with AWS's BucketRegion)", utf8_json_size(json.dumps(with_region))),
            ("previous: the names in the state ($.targets)", utf8_json_size(json.dumps(names_in_state))),
            ("previous: largest state (names + one result per bucket)", previous),
            ("now: the list in S3 (not in any state)", len(listed)),
            (f"now: the lister's answer, the state from then on ({targets['count']:,} names)", utf8_json_size(json.dumps(targets))),
        ]
        for label, size in rows:
            verdict = "n/a: S3, not a state" if label.startswith("now: the list in S3") else (
                "yes" if size <= STATE_LIMIT else "NO (States.DataLimitExceeded)")
            table.add_row(label, f"{size:,}", verdict)
        console.print(table)
    finally:
        for name in names:
            backend.delete_bucket(name)


def run(sandbox) -> None:  # noqa: ANN001 - what `make bench` calls for this workflow
    bench_bucket_usage(sandbox)
