"""`make bench` for bucket-usage: this workflow measured in the sandbox, beside the seed's design computed
from its definitions.

Measured (one run each): 3, 10 and 50 buckets of 200 objects: state transitions, Lambda invocations,
wall time. Goals for N buckets that each fit in one scan: no polling, no state machine created,
at most 3N+5 transitions and N+1 Lambda invocations.

The seed (003) creates a state machine at run time with one Parallel branch per bucket (two Lambda
tasks each), starts it, polls it with a Lambda every 30 s, and deletes it. Its figures here come from
walking its two definitions - the outer one as published, the inner one generated as its
create-state-machine Lambda does - with the poll answering RUNNING until the inner execution's
scan (assumed 3 minutes) is over.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from sandbox.benches.goals import GOALS

BUCKET_COUNTS = (3, 10, 50)
OBJECTS_PER_BUCKET = 200
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


def bench_bucket_usage(sandbox: Any) -> None:
    workflow = sandbox.deploy("bucket-usage")
    table = Table(title=f"bucket-usage: N buckets x {OBJECTS_PER_BUCKET} objects, this workflow (sandbox) vs the seed's design (computed)")
    transitions_goal, invocations_goal = GOALS["bucket_usage_transitions"], GOALS["bucket_usage_invocations"]
    for column in ("N", "status", "transitions", transitions_goal.header, "Lambda", invocations_goal.header, "wall time", "polls / machines created",
                   f"seed: transitions", "seed: Lambda", f"seed: polls / wall (scan {SEED_SCAN_SECONDS // 60} min)"):
        table.add_column(column)
    for buckets in BUCKET_COUNTS:
        fleet = {"fleet": {"buckets": str(buckets), "objects_per_bucket": str(OBJECTS_PER_BUCKET), "other_region_buckets": "0", "denied_buckets": "0"}}
        workflow.scenario.configure(workflow.spec.validate_standins(fleet))  # set-up outside the timed run
        started = time.perf_counter()
        report = workflow.run({"name_prefix": "usage-"}, standins=fleet)
        wall = time.perf_counter() - started
        entered = 1 + sum(1 for e in report.events if e.type.endswith("StateEntered"))
        seed = seed_figures(buckets)
        shown = str(report.state_transitions) if report.state_transitions == entered else f"{entered} (reported {report.state_transitions})"
        table.add_row(
            str(buckets), report.status, shown, transitions_goal.verdict(entered, buckets),
            str(report.lambda_invocations), invocations_goal.verdict(report.lambda_invocations, buckets),
            f"{wall:.2f} s", "0 / 0",
            str(seed["transitions"]), str(seed["lambda"]), f"{seed['polls']} / >= {seed['wall_seconds']} s",
        )
    console.print(table)
    console.print("[dim]transitions: the start plus every state entered, from the history; shown as 'reported' too when the "
                  "sandbox's own count differs. Seed: its outer and inner machines walked from their definitions.[/dim]")


def run(sandbox) -> None:  # noqa: ANN001 - what `make bench` calls for this workflow
    bench_bucket_usage(sandbox)
