"""Fire a workflow's EventBridge Scheduler schedule the way Scheduler would (moto ignores
`AWS::Scheduler::Schedule`): read the schedule from the synthesized template, fill the
target input's context attributes, start the target state machine.

Context attributes filled (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html):
`<aws.scheduler.scheduled-time>` (the firing's time, ISO 8601 UTC to the second),
`<aws.scheduler.execution-id>`, `<aws.scheduler.attempt-number>` (1) and
`<aws.scheduler.schedule-arn>`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


@dataclass(frozen=True)
class ScheduleSpec:
    logical_id: str
    expression: str
    timezone: str
    target_logical_id: str  # the state machine the schedule starts
    input: Any  # the target input, parsed, placeholders unfilled


def read_schedules(template: dict[str, Any]) -> list[ScheduleSpec]:
    """Every `AWS::Scheduler::Schedule` whose target is a state machine of the template."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Scheduler::Schedule":
            continue
        props = resource["Properties"]
        target = props["Target"]
        arn = target["Arn"]
        ref = arn.get("Ref") if isinstance(arn, dict) else None
        if ref is None or template["Resources"].get(ref, {}).get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        raw_input = target.get("Input", "{}")
        if isinstance(raw_input, dict):  # Fn::Join of literal parts (Stack.to_json_string)
            separator, parts = raw_input["Fn::Join"]
            raw_input = separator.join(part for part in parts if isinstance(part, str))
        found.append(ScheduleSpec(logical_id=logical_id, expression=props["ScheduleExpression"],
                                  timezone=props.get("ScheduleExpressionTimezone", "UTC"),
                                  target_logical_id=ref, input=json.loads(raw_input)))
    return found


def fill_context_attributes(value: Any, *, scheduled_time: datetime, schedule_arn: str = "", execution_id: str | None = None) -> Any:
    """`value` with Scheduler's context attributes replaced, in every string at any depth."""
    replacements = {
        SCHEDULED_TIME: scheduled_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": execution_id or str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
        "<aws.scheduler.schedule-arn>": schedule_arn,
    }
    if isinstance(value, str):
        for placeholder, text in replacements.items():
            value = value.replace(placeholder, text)
        return value
    if isinstance(value, list):
        return [fill_context_attributes(v, scheduled_time=scheduled_time, schedule_arn=schedule_arn, execution_id=execution_id) for v in value]
    if isinstance(value, dict):
        return {k: fill_context_attributes(v, scheduled_time=scheduled_time, schedule_arn=schedule_arn, execution_id=execution_id)
                for k, v in value.items()}
    return value


def now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- firing a deployed workflow


@dataclass(frozen=True)
class TickReport:
    index: int
    scheduled_time: str
    status: str
    output: Any
    error: str | None
    duration_s: float
    state_transitions: int
    lambda_invocations: int


@dataclass(frozen=True)
class FireReport:
    """What `python -m sandbox fire` prints with --json."""

    workflow: str
    schedule_expression: str
    times: int
    every_s: float
    ticks: tuple[TickReport, ...]
    settled: bool  # the work the ticks handed on (queue consumers) finished before the report
    wall_s: float
    lambda_invocations: int  # every function: inside the ticks and behind them (event sources)
    aws_requests: dict[str, int]  # by service, made by the workflow (not by the sandbox)
    outside_world: dict[str, Any]

    def to_json(self) -> str:
        from dataclasses import asdict

        return json.dumps(asdict(self), default=str, ensure_ascii=False)


def fire(workflow: Any, template: dict[str, Any], *, times: int, every_s: float,
         standins: Any = None, on_tick: Any = None, settle_timeout_s: float = 300) -> FireReport:
    """Fire `workflow`'s schedule `times` times, `every_s` seconds apart (compressed time: the
    scheduled times are `every_s` apart too), then wait for the work they handed on to finish."""
    import time as _time
    from datetime import timedelta

    from sandbox.execution import run_execution

    if times < 1 or every_s < 0:
        raise ValueError("times must be >= 1 and every_s >= 0")
    arn_by_logical_id = workflow.stack.state_machine_arns
    schedules = [s for s in read_schedules(template) if arn_by_logical_id.get(s.target_logical_id) == workflow.state_machine_arn]
    if not schedules:
        raise ValueError(f"{workflow.spec.name} has no EventBridge Scheduler schedule that starts its state machine")
    schedule = schedules[0]
    workflow.scenario.configure(standins or {})
    emulator = workflow.emulator
    emulator.reset_request_counts()
    runtime = emulator.lambda_runtime
    invocations_before = sum(runtime.invocations.values())
    base = now().replace(microsecond=0)
    started = _time.monotonic()
    ticks = []
    for index in range(times):
        delay = started + index * every_s - _time.monotonic()
        if delay > 0:
            _time.sleep(delay)
        scheduled = base + timedelta(seconds=index * every_s)
        execution_input = fill_context_attributes(schedule.input, scheduled_time=scheduled)
        report = run_execution(emulator, state_machine_arn=workflow.state_machine_arn, execution_input=execution_input, timeout_s=120)
        tick = TickReport(index=index + 1, scheduled_time=execution_input.get("scheduled_time", scheduled.isoformat())
                          if isinstance(execution_input, dict) else scheduled.isoformat(),
                          status=report.status, output=report.output, error=report.error, duration_s=report.duration_s,
                          state_transitions=report.state_transitions, lambda_invocations=report.lambda_invocations)
        ticks.append(tick)
        if on_tick is not None:
            on_tick(tick)
    settle = getattr(workflow.scenario, "settle", None)
    settled = settle(settle_timeout_s) if settle is not None else True
    counts = emulator.request_counts()
    return FireReport(
        workflow=workflow.spec.name, schedule_expression=schedule.expression, times=times, every_s=every_s,
        ticks=tuple(ticks), settled=bool(settled), wall_s=round(_time.monotonic() - started, 3),
        lambda_invocations=sum(runtime.invocations.values()) - invocations_before,
        aws_requests={key: count for key, count in sorted(counts.items()) if ":" not in key},
        outside_world=workflow.scenario.stats(),
    )
