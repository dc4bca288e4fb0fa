"""EventBridge Scheduler, played by the sandbox: moto's CloudFormation ignores `AWS::Scheduler::Schedule`.

`schedules_in(template)` reads every schedule of a synthesized template: its expression, time
zone and target (a state machine of the same template, with the input the scheduler sends).
`fire_times(schedule, at, count)` gives the scheduled times the scheduler would use, and
`render_input(schedule, scheduled_time)` the exact input of that invocation, with the
scheduler's context attributes (`<aws.scheduler.scheduled-time>` ...) filled in.

Cron expressions are AWS's six fields (minutes hours day-of-month month day-of-week year);
croniter evaluates them after the year field and AWS's 1-7 day-of-week numbering are mapped.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    """A schedule in the template cannot be read or evaluated."""


@dataclass(frozen=True)
class Schedule:
    logical_id: str
    expression: str  # cron(...), rate(...) or at(...)
    timezone: str  # IANA name; UTC when the template sets none
    target_logical_id: str  # the state machine the schedule starts
    input_template: str  # the target's Input (a JSON text with <aws.scheduler.*> placeholders)
    state: str = "ENABLED"

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"{self.logical_id}: unknown time zone {self.timezone!r}") from None


def _referenced_logical_id(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def schedules_in(template: dict[str, Any]) -> list[Schedule]:
    """Every `AWS::Scheduler::Schedule` of a template whose target is a state machine in it."""
    resources = template.get("Resources") or {}
    found = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Scheduler::Schedule":
            continue
        props = resource.get("Properties") or {}
        target = props.get("Target") or {}
        target_id = _referenced_logical_id(target.get("Arn"))
        if target_id is None or (resources.get(target_id) or {}).get("Type") != "AWS::StepFunctions::StateMachine":
            raise ScheduleError(f"{logical_id}: the sandbox fires schedules whose target is a state machine of the same stack")
        input_template = target.get("Input", "{}")
        if not isinstance(input_template, str):
            raise ScheduleError(f"{logical_id}: Target.Input must be a plain JSON string, got {json.dumps(input_template)[:80]}")
        found.append(Schedule(logical_id=logical_id, expression=props["ScheduleExpression"],
                              timezone=props.get("ScheduleExpressionTimezone", "UTC"),
                              target_logical_id=target_id, input_template=input_template,
                              state=props.get("State", "ENABLED")))
    return found


def _croniter_expression(fields: str, logical_id: str) -> str:
    parts = fields.split()
    if len(parts) != 6:
        raise ScheduleError(f"{logical_id}: cron needs 6 fields (min hour day month weekday year), got {fields!r}")
    minute, hour, day, month, weekday, year = parts
    if year not in ("*", "?"):
        raise ScheduleError(f"{logical_id}: a year field other than * is not supported by the sandbox ({fields!r})")
    # AWS numbers weekdays 1-7 from Sunday; croniter 0-6.
    weekday = re.sub(r"\d", lambda m: str(int(m.group()) - 1), weekday)
    return " ".join(p.replace("?", "*") for p in (minute, hour, day, month, weekday))


def fire_times(schedule: Schedule, *, after: datetime, count: int) -> list[datetime]:
    """The next `count` scheduled times strictly after `after` (aware datetimes, in the schedule's zone)."""
    zone = schedule.zone
    start = after.astimezone(zone)
    if (m := _CRON.match(schedule.expression)):
        iterator = croniter(_croniter_expression(m.group(1), schedule.logical_id), start)
        return [iterator.get_next(datetime) for _ in range(count)]
    if (m := _RATE.match(schedule.expression)):
        step = timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")])
        first = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return [first + step * i for i in range(count)]
    if (m := _AT.match(schedule.expression)):
        return [datetime.fromisoformat(m.group(1)).replace(tzinfo=zone)][:count]
    raise ScheduleError(f"{schedule.logical_id}: cannot read schedule expression {schedule.expression!r}")


def is_scheduled_time(schedule: Schedule, moment: datetime) -> bool:
    """Whether the schedule would fire at `moment` (to the minute)."""
    candidate = moment.astimezone(schedule.zone).replace(second=0, microsecond=0)
    (next_time,) = fire_times(schedule, after=candidate - timedelta(seconds=1), count=1)
    return next_time == candidate


def render_input(schedule: Schedule, scheduled_time: datetime, *, region: str, account_id: str,
                 attempt: int = 1) -> dict[str, Any]:
    """The execution input the scheduler sends for `scheduled_time` (its context attributes filled in)."""
    values = {
        "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.schedule-arn>": f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{schedule.logical_id}",
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    text = schedule.input_template
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    try:
        rendered = json.loads(text)
    except ValueError as exc:
        raise ScheduleError(f"{schedule.logical_id}: the rendered target input is not JSON: {exc}") from None
    if not isinstance(rendered, dict):
        raise ScheduleError(f"{schedule.logical_id}: the target input must be a JSON object")
    return rendered
