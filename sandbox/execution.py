"""Run one Step Functions execution in the emulator and follow its history live.

Counting rules (documented for the cost report):

* ``state_transitions``: one per ``*StateEntered`` event (states inside Parallel branches and
  Map iterations included) plus one for the execution start, plus one per retry of a task
  (a second or later ``*Scheduled`` event in the same state entry) - the way AWS bills
  Standard workflows. An event belongs to the state entry it descends from through its
  ``previousEventId`` chain, so interleaved Map iterations and Parallel branches of the same
  state are told apart.
* ``lambda_invocations``: ``LambdaFunctionScheduled`` events (``"Resource": <function ARN>``)
  plus ``TaskScheduled`` events whose ``resourceType`` is ``lambda``
  (``arn:aws:states:::lambda:invoke``). Retries count each attempt.
* retries (``retries_by_state``): per state, the error each retry followed (the failure just before a
  second or later ``*Scheduled`` event of the same state entry), counted.
* ``max_state_payload_bytes``: the largest size of any input/output/parameters carried by a
  history event (execution input/output, state input/output, task parameters and results,
  Lambda input/output), as compact UTF-8 JSON: the measure of AWS's 256 KiB limit.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .engine.payload_size import MAX_STATE_PAYLOAD_BYTES, utf8_json_size
from .asl import walk_states
from .engine_limits import UnsupportedByLocalEngine, find_engine_gaps

if TYPE_CHECKING:
    from .emulator import Emulator

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
TERMINAL_EVENTS = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
_STATUS_POLL_S = 0.05
_PAYLOAD_KEYS = ("input", "output", "parameters")


@dataclass(frozen=True)
class TimelineEvent:
    timestamp: datetime
    type: str
    state: str | None
    detail: str  # short human text (error name, lambda function, ...)
    payload_bytes: int | None  # size of the input/output carried by that event, when it carries one
    event_id: int | None = None


class ExecutionInputTooLarge(ValueError):
    """The input exceeds StartExecution's 256 KiB (UTF-8) limit; AWS rejects it before starting."""


def check_input_size(execution_input: Any) -> int:
    """The input's size in UTF-8 bytes; `ExecutionInputTooLarge` over StartExecution's 256 KiB, as AWS refuses it."""
    input_bytes = utf8_json_size(execution_input)
    if input_bytes > MAX_STATE_PAYLOAD_BYTES:
        raise ExecutionInputTooLarge(f"the execution input is {input_bytes:,} bytes of UTF-8; "
                                     f"StartExecution accepts at most {MAX_STATE_PAYLOAD_BYTES:,}")
    return input_bytes


@dataclass(frozen=True)
class ExecutionReport:
    execution_arn: str
    state_machine_type: str  # STANDARD or EXPRESS (priced differently)
    status: str
    output: Any | None
    error: str | None
    cause: str | None
    duration_s: float
    state_transitions: int
    lambda_invocations: int
    max_state_payload_bytes: int
    events: tuple[TimelineEvent, ...]


class ExecutionTimeout(TimeoutError):
    """The runner gave up waiting; the execution was stopped. ``report`` holds what was seen."""

    def __init__(self, message: str, report: ExecutionReport) -> None:
        super().__init__(message)
        self.report = report


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _payload_bytes(details: dict[str, Any]) -> int | None:
    sizes = [utf8_json_size(details[k]) for k in _PAYLOAD_KEYS if isinstance(details.get(k), str)]
    return max(sizes) if sizes else None


def _short(text: str | None, limit: int = 160) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail(event_type: str, d: dict[str, Any]) -> str:
    if "error" in d or "cause" in d:
        cause = d.get("cause") or ""
        try:  # Lambda errors: the cause is the JSON error payload
            parsed = json.loads(cause)
            if isinstance(parsed, dict) and "errorMessage" in parsed:
                cause = parsed["errorMessage"]
        except (TypeError, ValueError):
            pass
        return _short(f"{d.get('error') or ''}: {cause}".strip(": "))
    if event_type == "LambdaFunctionScheduled":
        return _short(str(d.get("resource", "")).rsplit(":", 1)[-1])
    if event_type in ("TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"):
        resource = d.get("resource", "")
        if event_type == "TaskScheduled" and d.get("resourceType") == "lambda":
            try:
                fn = json.loads(d.get("parameters") or "{}").get("FunctionName", "")
                return _short(f"lambda:invoke {str(fn).rsplit(':', 1)[-1]}")
            except (TypeError, ValueError):
                pass
        return _short(f"{d.get('resourceType', '')}:{resource}".strip(":"))
    if event_type.startswith("MapRun") and d.get("mapRunArn"):
        return _short(d["mapRunArn"].rsplit(":", 2)[-2])
    if "length" in d:
        return f"{d['length']} items"
    if "index" in d:
        return f"item {d['index']}"
    return ""


class _HistoryFollower:
    """Reads history events in order; `definition` (optional) lets Map/Parallel events be labelled
    with their Map or Parallel state instead of the last state that ran inside it."""

    def __init__(self, on_event: Callable[[TimelineEvent], None] | None, definition: dict[str, Any] | None = None) -> None:
        self.on_event = on_event
        self.kind_of: dict[str, str] = {}
        self.container_of: dict[str, str | None] = {}  # state -> the Map/Parallel state it runs inside
        for path, name, state, _ in walk_states(definition or {}):
            self.kind_of[name] = state.get("Type", "")
            parents = [part for part in path.split("/")[:-1] if part not in ("ItemProcessor", "Iterator") and not part.startswith("branch ")]
            self.container_of[name] = parents[-1] if parents else None
        self.events: list[TimelineEvent] = []
        self.last_id = 0
        self.state_of: dict[int, str | None] = {}
        self.entry_of: dict[int, int] = {}  # event id -> id of the StateEntered event it descends from
        self.type_of: dict[int, str] = {}
        self.transitions = 0
        self.attempts_in_entry: dict[int, int] = {}  # task attempts per state entry
        self.last_error_in_entry: dict[int, str] = {}  # the latest error an attempt in that entry ended with
        self.retries: dict[str, Counter[str]] = {}  # state -> {error retried: count}
        self.lambda_invocations = 0
        self.max_payload = 0
        self.final_error: str | None = None
        self.final_cause: str | None = None

    def _label(self, event_type: str, previous: int) -> str | None:
        """The state an unnamed event belongs to (Task events: their state; Map/Parallel events: the Map/Parallel)."""
        if event_type.startswith("Execution"):
            return None
        state = self.state_of.get(previous)
        if not event_type.startswith(("Map", "Parallel")) or state is None or not self.kind_of:
            return state
        if self.kind_of.get(state) in ("Map", "Parallel") and not self.type_of.get(previous, "").endswith("StateExited"):
            return state  # e.g. MapStateStarted right after MapStateEntered
        return self.container_of.get(state)

    def emit(self, ev: TimelineEvent) -> None:
        self.events.append(ev)
        if self.on_event is not None:
            self.on_event(ev)

    def consume(self, raw: dict[str, Any]) -> None:
        eid = int(raw["id"])
        if eid <= self.last_id:
            return
        self.last_id = eid
        typ = raw["type"]
        d = _details(raw)
        previous = int(raw.get("previousEventId") or 0)
        state = d.get("name") if typ.endswith(("StateEntered", "StateExited")) else None
        if state is None:
            state = self._label(typ, previous)
        self.state_of[eid] = state
        self.type_of[eid] = typ
        entry = eid if typ.endswith("StateEntered") else self.entry_of.get(previous, 0)
        self.entry_of[eid] = entry
        if typ.endswith("StateEntered") or typ == "ExecutionStarted":
            self.transitions += 1
        if typ.endswith("Scheduled"):  # AWS bills every retry of a task as one more state transition
            self.attempts_in_entry[entry] = self.attempts_in_entry.get(entry, 0) + 1
            if self.attempts_in_entry[entry] > 1:
                self.transitions += 1
                retried = self.retries.setdefault(self.state_of.get(entry) or "", Counter())
                retried[self.last_error_in_entry.get(entry, "")] += 1
        elif d.get("error") and entry:
            self.last_error_in_entry[entry] = str(d["error"])
        if typ == "LambdaFunctionScheduled" or (typ == "TaskScheduled" and d.get("resourceType") == "lambda"):
            self.lambda_invocations += 1
        if typ in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            self.final_error, self.final_cause = d.get("error"), d.get("cause")
        size = _payload_bytes(d)
        if size is not None:
            self.max_payload = max(self.max_payload, size)
        ts = raw.get("timestamp")
        if not isinstance(ts, datetime):
            ts = datetime.now(timezone.utc)
        self.emit(TimelineEvent(timestamp=ts, type=typ, state=state, detail=_detail(typ, d), payload_bytes=size,
                                event_id=eid))


def retries_by_state(history: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Retries in a raw execution history (GetExecutionHistory's events, or a Map child's), per state:
    `{state: {error retried: count}}`, only for states that retried. A retry is a task's second or later
    `*Scheduled` event in one state entry; its error is the failure the attempt before it ended with."""
    follower = _HistoryFollower(None)
    for raw in sorted(history, key=lambda event: int(event["id"])):
        follower.consume(raw)
    return {state: dict(errors) for state, errors in follower.retries.items()}


def run_execution(emulator: "Emulator", *, state_machine_arn: str, execution_input: dict,
                  on_event: Callable[[TimelineEvent], None] | None = None,
                  timeout_s: float = 600, poll_interval_s: float = 0.2,
                  name: str | None = None) -> ExecutionReport:
    """Check the definition against the local engine's limits, start the execution, follow it.

    Raises ``UnsupportedByLocalEngine`` (before starting) if the definition has a blocking gap,
    and ``ExecutionTimeout`` (after stopping the execution) if it is not done within ``timeout_s``.
    """
    input_bytes = check_input_size(execution_input)
    sfn = emulator.client("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=state_machine_arn)
    gaps = find_engine_gaps(json.loads(described["definition"]))
    blocking = [g for g in gaps if g.blocking]
    if blocking:
        raise UnsupportedByLocalEngine(blocking, state_machine=described.get("name"))

    definition = json.loads(described["definition"])
    follower = _HistoryFollower(on_event, definition)
    for gap in gaps:
        follower.emit(TimelineEvent(timestamp=datetime.now(timezone.utc), type="EngineNote", state=gap.state,
                                    detail=f"{gap.feature}: {gap.detail}", payload_bytes=None))

    # moto names an unnamed execution "None", so a second unnamed start would collide: always name it.
    started = time.monotonic()
    execution_arn = sfn.start_execution(stateMachineArn=state_machine_arn,
                                        name=name or f"sandbox-{uuid.uuid4().hex[:12]}",
                                        input=json.dumps(execution_input))["executionArn"]
    paginator = sfn.get_paginator("get_execution_history")

    def read_history() -> str | None:
        """Consume the events not seen yet; the type of the last event."""
        last = None
        for page in paginator.paginate(executionArn=execution_arn):
            for raw in page.get("events", []):
                follower.consume(raw)
                last = raw["type"]
        return last

    # The status is polled often (cheap) so the end is seen soon after it happens; the history (the whole of
    # it on every read: moto does not page it) only every `poll_interval_s`, and once more at the end.
    timed_out = False
    history_read_at = 0.0
    while True:
        desc = sfn.describe_execution(executionArn=execution_arn)
        if desc["status"] in TERMINAL:
            # the terminal event may land just after the status flips: read until it is there
            for _ in range(50):
                if read_history() in TERMINAL_EVENTS:
                    break
                time.sleep(0.01)
            break
        if time.monotonic() - history_read_at >= poll_interval_s:
            read_history()
            history_read_at = time.monotonic()
        if time.monotonic() - started > timeout_s:
            timed_out = True
            try:
                sfn.stop_execution(executionArn=execution_arn, error="Sandbox.RunnerTimeout",
                                   cause=f"the sandbox runner stopped waiting after {timeout_s:.0f} s")
            except Exception:
                pass
            desc = sfn.describe_execution(executionArn=execution_arn)
            break
        time.sleep(_STATUS_POLL_S)
    duration = time.monotonic() - started
    if desc.get("startDate") and desc.get("stopDate"):
        duration = (desc["stopDate"] - desc["startDate"]).total_seconds()

    output = None
    if desc.get("output") is not None:
        try:
            output = json.loads(desc["output"])
        except ValueError:
            output = desc["output"]
        follower.max_payload = max(follower.max_payload, utf8_json_size(desc["output"]))
    error, cause = desc.get("error"), desc.get("cause")
    if desc["status"] != "SUCCEEDED":
        error = error or follower.final_error
        cause = cause or follower.final_cause
    report = ExecutionReport(
        execution_arn=execution_arn, state_machine_type=described.get("type", "STANDARD"), status=desc["status"], output=output, error=error, cause=cause,
        duration_s=round(duration, 3), state_transitions=follower.transitions, lambda_invocations=follower.lambda_invocations,
        max_state_payload_bytes=max(follower.max_payload, input_bytes),
        events=tuple(follower.events),
    )
    if timed_out:
        raise ExecutionTimeout(f"execution {execution_arn} did not finish within {timeout_s:g} s (stopped)", report)
    return report
