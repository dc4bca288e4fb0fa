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
