"""Which day a run is for, and which week it inserts.

A scheduled run passes the scheduler's `scheduledTime` (ISO-8601, UTC: what
EventBridge Scheduler renders for `<aws.scheduler.scheduled-time>`); the target
date is the day before that instant's calendar day in the business time zone
(Asia/Tokyo: Thursday 09:30 JST -> Wednesday). A manual run passes `targetDate`
(YYYY-MM-DD) instead, which wins when both are given.

The week inserted is the seven days ending on the target date (Thursday..Wednesday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from weekly_batch.errors import InvalidTargetDate

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
WEEK_DAYS = 7


@dataclass(frozen=True)
class TargetWeek:
    target_date: date
    week_start: date

    @property
    def week_end(self) -> date:
        return self.target_date

    def as_dict(self) -> dict[str, str]:
        return {
            "targetDate": self.target_date.isoformat(),
            "weekStart": self.week_start.isoformat(),
            "weekEnd": self.week_end.isoformat(),
        }


def parse_target_date(value: Any) -> date:
    """`YYYY-MM-DD` exactly (no time, no week dates, no surrounding spaces), a real calendar day."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidTargetDate(f"targetDate must be a YYYY-MM-DD string, got {_show(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidTargetDate(f"targetDate {value!r} is not a calendar date") from exc  # 10 characters: bounded


def parse_scheduled_time(value: Any) -> datetime:
    """An ISO-8601 instant with an offset or `Z` (the scheduler sends UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidTargetDate(f"scheduledTime must be an ISO-8601 time, got {_show(value)}")
    text = value.strip()
    try:
        instant = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as exc:
        raise InvalidTargetDate(f"scheduledTime {_show(value)} is not an ISO-8601 time") from exc
    if instant.tzinfo is None:
        raise InvalidTargetDate(f"scheduledTime {_show(value)} has no time zone offset")
    return instant


def yesterday_in(instant: datetime, zone: str) -> date:
    """The calendar day before `instant`'s day in `zone`."""
    try:
        return instant.astimezone(ZoneInfo(zone)).date() - timedelta(days=1)
    except OverflowError as exc:  # e.g. 9999-12-31T23:00Z is already year 10000 in Tokyo
        raise InvalidTargetDate(f"scheduledTime {_show(instant.isoformat())} is outside the calendar in {zone}") from exc


def resolve_target_week(event: Any, *, zone: str) -> TargetWeek:
    """From `targetDate`, else `scheduledTime`; a start with neither is refused (no guessing the week)."""
    if not isinstance(event, dict):
        raise InvalidTargetDate(f"the input must be an object with targetDate or scheduledTime, got {_show(event)}")
    if event.get("targetDate") is not None:
        target = parse_target_date(event["targetDate"])
    elif event.get("scheduledTime") is not None:
        target = yesterday_in(parse_scheduled_time(event["scheduledTime"]), zone)
    else:
        raise InvalidTargetDate("the input needs targetDate (YYYY-MM-DD) or scheduledTime (ISO-8601)")
    if target < date.min + timedelta(days=WEEK_DAYS - 1):
        raise InvalidTargetDate(f"the week ending {target.isoformat()} starts outside the calendar (before 0001-01-01)")
    return TargetWeek(target_date=target, week_start=target - timedelta(days=WEEK_DAYS - 1))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"
