"""The path one execution took, read from its history, for colouring a diagram.

From the Step Functions history (`GetExecutionHistory` events: `id`, `previousEventId`, `type`,
`*EventDetails`):

- a state was *entered* once per `*StateEntered` event with its name;
- an edge A -> B was *taken* when B's `*StateEntered` event follows A's `*StateExited` (its
  `previousEventId`); it was a *caught* error when the event before that exit is a failure
  (`TaskFailed`, `LambdaFunctionFailed`, ...), whose error name is kept;
- a state was *retried* once per second or later `*Scheduled` event within one entry of it;
- the execution *failed* in the state whose event precedes `ExecutionFailed`/`TimedOut`/`Aborted`,
  and in every `Fail` state entered.

Distributed Map children have no history in moto: the sandbox's records of them (states entered,
status, error) are kept beside it.

`sandbox run` keeps the last run of each workflow (sandbox/last_run.py), so `sandbox graph WORKFLOW --last`
can colour it later.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

_ENDED = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")


def _is_failure(event_type: str) -> bool:
    return not event_type.startswith("Execution") and event_type.endswith(("Failed", "TimedOut"))


def _own_failure(event_type: str) -> bool:
    """A failure of the state's own work (a task attempt), not a Parallel or Map passing on a failure within it."""
    return _is_failure(event_type) and not event_type.startswith(("Parallel", "Map"))


def _details(event: Mapping[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


@dataclass
class StateVisit:
    entered: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)  # every failed attempt's error name
    caught: list[str] = field(default_factory=list)  # errors a Catch of this state handled
    failed: bool = False  # the execution failed here


@dataclass
class ChildRun:
    """One Distributed Map child execution, as the sandbox recorded it."""

    status: str
    error: str | None
    entered: list[str]


@dataclass
class RunPath:
    workflow: str
    state_machine: str  # logical id in the template
    execution_arn: str
    status: str
    error: str | None
    states: dict[str, StateVisit]
    edges: set[tuple[str, str]]
    caught_edges: set[tuple[str, str]]
    last_states: set[str]  # states whose exit ended the execution (the end marker's edges)
    children: list[ChildRun] = field(default_factory=list)
    iterations: dict[str, int] = field(default_factory=dict)  # inline Map state -> iterations started

    @property
    def child_states(self) -> set[str]:
        return {name for child in self.children for name in child.entered}

    @classmethod
    def from_history(cls, events: Iterable[Mapping[str, Any]], *, workflow: str, state_machine: str, execution_arn: str,
                     status: str, error: str | None, children: Iterable[ChildRun] = ()) -> "RunPath":
        states: dict[str, StateVisit] = {}
        edges: set[tuple[str, str]] = set()
        caught_edges: set[tuple[str, str]] = set()
        last: set[str] = set()
        by_id: dict[int, Mapping[str, Any]] = {}
        entry_of: dict[int, int] = {}  # event id -> id of the StateEntered event it descends from
        name_of_entry: dict[int, str] = {}
        attempts: Counter[int] = Counter()
        iterations: Counter[str] = Counter()
        last_error = "error"  # a Parallel/Map failure event names no error: the latest one inside it does
        for event in sorted(events, key=lambda e: int(e["id"])):
            eid, kind, previous = int(event["id"]), event["type"], int(event.get("previousEventId") or 0)
            details = _details(event)
            by_id[eid] = event
            if kind.endswith("StateEntered"):
                entry_of[eid] = eid
                name = details["name"]
                name_of_entry[eid] = name
                visit = states.setdefault(name, StateVisit())
                visit.entered += 1
                if kind == "FailStateEntered":
                    visit.failed = True
                before = by_id.get(previous)
                if before is not None and before["type"].endswith("StateExited"):
                    source = _details(before)["name"]
                    failure = by_id.get(int(before.get("previousEventId") or 0))
                    if failure is not None and _is_failure(failure["type"]):
                        caught_edges.add((source, name))
                        states.setdefault(source, StateVisit()).caught.append(_details(failure).get("error") or last_error)
                    else:
                        edges.add((source, name))
                elif before is not None and _is_failure(before["type"]):  # AWS may skip the exit event on a Catch
                    source = name_of_entry.get(entry_of.get(previous, 0))
                    if source:
                        caught_edges.add((source, name))
                        states.setdefault(source, StateVisit()).caught.append(_details(before).get("error") or last_error)
                continue
            entry = entry_of.get(previous, 0)
            entry_of[eid] = entry
            if kind == "MapIterationStarted" and details.get("name"):
                iterations[details["name"]] += 1
            if _is_failure(kind) and details.get("error"):
                last_error = details["error"]
            state = name_of_entry.get(entry)
            if state is None:
                if kind == "ExecutionSucceeded" and previous in by_id and by_id[previous]["type"].endswith("StateExited"):
                    last.add(_details(by_id[previous])["name"])
                continue
            visit = states.setdefault(state, StateVisit())
            if kind.endswith("Scheduled"):
                attempts[entry] += 1
                if attempts[entry] > 1:
                    visit.retries += 1
            if _own_failure(kind):
                visit.errors.append(details.get("error") or kind)
            if kind in _ENDED:
                before = by_id.get(previous)
                failed_in = _details(before).get("name") if before is not None and before["type"].endswith("StateExited") else state
                states.setdefault(failed_in, StateVisit()).failed = True
            if kind == "ExecutionSucceeded":
                before = by_id.get(previous)
                last.add(_details(before).get("name") if before is not None and before["type"].endswith("StateExited") else state)
        return cls(workflow=workflow, state_machine=state_machine, execution_arn=execution_arn, status=status, error=error, states=states,
                   edges=edges, caught_edges=caught_edges, last_states=last, children=list(children),
                   iterations=dict(iterations))

    def note(self, name: str) -> str | None:
        """What the run did in one state, for its label: `✓ ×2 · ↻ 1 retry · caught X · ✗ failed`."""
        visit = self.states.get(name)
        parts = []
        if visit is not None and visit.entered:
            parts.append("✓" if visit.entered == 1 else f"✓ ×{visit.entered}")
            if visit.retries:
                parts.append(f"↻ {visit.retries} {'retry' if visit.retries == 1 else 'retries'}")
            uncaught = sorted(set(visit.errors) - set(visit.caught))
            if uncaught and not visit.failed:  # its own attempts failed; a retry or an enclosing Catch took over
                parts.append("✗ " + ", ".join(uncaught))
            if visit.caught:
                parts.append("caught " + ", ".join(sorted(set(visit.caught))))
            if visit.failed:
                parts.append(f"✗ failed{': ' + self.error if self.error else ''}")
        in_children = [c for c in self.children if name in c.entered]
        if in_children:
            failed = [c for c in in_children if c.status != "SUCCEEDED"]
            parts.append(f"✓ in {len(in_children)} {'child' if len(in_children) == 1 else 'children'}"
                         + (f", {len(failed)} failed" if failed else ""))
        return " · ".join(parts) or None

    # -- keeping the last run -------------------------------------------------
    def to_json(self) -> str:
        data = asdict(self)
        data["edges"], data["caught_edges"] = sorted(map(list, self.edges)), sorted(map(list, self.caught_edges))
        data["last_states"] = sorted(self.last_states)
        return json.dumps(data, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "RunPath":
        data = json.loads(text)
        return cls(
            workflow=data["workflow"], state_machine=data["state_machine"], execution_arn=data["execution_arn"], status=data["status"], error=data["error"],
            states={name: StateVisit(**visit) for name, visit in data["states"].items()},
            edges={tuple(e) for e in data["edges"]}, caught_edges={tuple(e) for e in data["caught_edges"]},
            last_states=set(data["last_states"]), children=[ChildRun(**c) for c in data["children"]],
            iterations=data.get("iterations", {}),
        )


def record_run(emulator: Any, *, workflow: str, state_machine: str, execution_arn: str, status: str,
               error: str | None) -> RunPath:
    """The path of a finished execution in a running emulator (its history plus its Map Runs' children)."""
    from sandbox.engine.distributed_map import map_runs

    sfn = emulator.client("stepfunctions")
    events = [event for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
              for event in page["events"]]
    children = [ChildRun(status=child.status, error=child.error, entered=sorted(child.entered))
                for run in map_runs(execution_arn) for child in run.ordered_children()]
    return RunPath.from_history(events, workflow=workflow, state_machine=state_machine, execution_arn=execution_arn,
                                status=status, error=error, children=children)
