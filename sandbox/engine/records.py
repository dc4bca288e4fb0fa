"""What the sandbox's engine extensions record about each Map Run and its child executions.

moto runs child workflows inside the parent's process without creating executions, so nothing in
the Step Functions API shows them. These records do: the runner prices child executions from them
(Express: requests and duration; Standard: state transitions) and ResultWriter writes them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ChildExecution:
    index: int
    name: str
    arn: str
    execution_type: str  # STANDARD | EXPRESS
    input: Any
    items: int  # items of the reader in this child (the batch size, or 1)
    status: str = "RUNNING"  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start: datetime | None = None
    stop: datetime | None = None
    transitions: int = 0  # states entered in the child's own history
    lambda_invocations: int = 0  # Lambda functions scheduled in the child's own history
    entered: frozenset[str] = frozenset()  # names of the states the child entered (state coverage)
    retries: dict[str, dict[str, int]] = field(default_factory=dict)  # state -> {error retried: count}, from its history

    @property
    def duration_ms(self) -> float:
        if self.start is None or self.stop is None:
            return 0.0
        return (self.stop - self.start).total_seconds() * 1000


@dataclass
class MapRunLog:
    map_run_arn: str
    execution_arn: str
    state_machine_arn: str
    state: str
    execution_type: str
    item_count: int = 0
    batched: bool = False  # children get {"Items": [...], "BatchInput": ...}
    children: dict[int, ChildExecution] = field(default_factory=dict)
    failed_items: int = 0
    outcome: str = "RUNNING"  # SUCCEEDED | FAILED

    def ordered_children(self) -> list[ChildExecution]:
        return [self.children[i] for i in sorted(self.children)]


_LOCK = threading.Lock()
_RUNS: dict[str, MapRunLog] = {}  # map run ARN -> log


def register(run: MapRunLog) -> None:
    with _LOCK:
        _RUNS[run.map_run_arn] = run


def get(map_run_arn: str) -> MapRunLog | None:
    with _LOCK:
        return _RUNS.get(map_run_arn)


def map_runs(execution_arn: str) -> list[MapRunLog]:
    """Map Runs of one (parent) execution, in start order."""
    with _LOCK:
        return [run for run in _RUNS.values() if run.execution_arn == execution_arn]


def children_summary(execution_arn: str) -> dict[str, float]:
    """What the child executions of an execution's Map Runs did, for pricing: their count by type,
    summed duration (ms), state transitions and Lambda invocations."""
    children = [child for run in map_runs(execution_arn) for child in run.children.values()]
    return {
        "child_executions": len(children),
        "express_children": sum(1 for c in children if c.execution_type == "EXPRESS"),
        "standard_children": sum(1 for c in children if c.execution_type != "EXPRESS"),
        "child_duration_ms": round(sum(c.duration_ms for c in children), 3),
        "child_transitions": sum(c.transitions for c in children),
        "child_lambda_invocations": sum(c.lambda_invocations for c in children),
    }


def child_entered_states(execution_arn: str) -> set[str]:
    """States entered by any child execution of an execution's Map Runs (moto keeps no history of them)."""
    return {name for run in map_runs(execution_arn) for child in run.children.values() for name in child.entered}


def clear() -> None:
    with _LOCK:
        _RUNS.clear()
