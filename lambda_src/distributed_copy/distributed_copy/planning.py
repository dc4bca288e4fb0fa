"""Which objects move where: the target date and the destination key of a source key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from distributed_copy.errors import InvalidCopyInput, preview

MAX_KEY_BYTES = 1024
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CopyPlan:
    bucket: str
    source_prefix: str
    destination_prefix: str
    target_date: str  # YYYY-MM-DD

    def as_batch_input(self) -> dict[str, str]:
        return {"bucket": self.bucket, "sourcePrefix": self.source_prefix,
                "destinationPrefix": self.destination_prefix, "targetDate": self.target_date}


def default_target_date(now: datetime, timezone: str) -> str:
    """Yesterday in `timezone` (the seed's Asia/Tokyo batch runs after midnight)."""
    return (now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)).isoformat()


def parse_target_date(value: Any) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise InvalidCopyInput(f"targetDate must be a YYYY-MM-DD string, got {preview(value)}")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise InvalidCopyInput(f"targetDate {preview(value)} is not a calendar date") from exc


def _prefix(event: dict[str, Any], field: str, allowed: str) -> str:
    """The configured prefix, or a prefix below it given in the input (the roles allow no other)."""
    value = event.get(field, allowed)
    if not isinstance(value, str) or not value.startswith(allowed) or not value.endswith("/") or "//" in value:
        raise InvalidCopyInput(f"{field} must be a prefix ending in '/' under the configured {allowed!r} "
                               f"(the roles are scoped to it), got {preview(value)}")
    if len(value.encode("utf-8")) >= MAX_KEY_BYTES:
        raise InvalidCopyInput(f"{field} is {len(value.encode('utf-8')):,} bytes: no key under it fits S3's "
                               f"{MAX_KEY_BYTES:,}-byte limit")
    return value


def plan_copy(event: Any, *, bucket: str, source_prefix: str, destination_prefix: str, now: datetime,
              timezone: str) -> CopyPlan:
    """The plan for an execution input. The input may give `targetDate`, and `sourcePrefix` /
    `destinationPrefix` below the configured ones; the bucket is the configured one (the roles are
    scoped to it and to those prefixes)."""
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise InvalidCopyInput("the execution input must be a JSON object")
    unknown = set(event) - {"targetDate", "sourcePrefix", "destinationPrefix"}
    if unknown:
        raise InvalidCopyInput(f"unknown input field(s) {preview(sorted(unknown))}; the bucket comes from the "
                               "stack's settings (its roles are scoped to it)")
    target = parse_target_date(event["targetDate"]) if "targetDate" in event else default_target_date(now, timezone)
    source = _prefix(event, "sourcePrefix", source_prefix)
    destination = _prefix(event, "destinationPrefix", destination_prefix)
    if source.startswith(destination) or destination.startswith(source):
        raise InvalidCopyInput("sourcePrefix and destinationPrefix must not overlap")
    return CopyPlan(bucket=bucket, source_prefix=source, destination_prefix=destination, target_date=target)


def name_of(key: str, source_prefix: str) -> str:
    """The object's name below the source prefix (sub-folders kept, so names cannot collide)."""
    return key[len(source_prefix):] if key.startswith(source_prefix) else key


def is_target(key: str, source_prefix: str, target_date: str) -> bool:
    """The seed's rule: the object's file name carries the target date (YYYY-MM-DD)."""
    return target_date in name_of(key, source_prefix).rsplit("/", 1)[-1]


def destination_key(key: str, *, source_prefix: str, destination_prefix: str, target_date: str) -> str:
    """`<destination prefix>YYYY/MM/DD/<name>`."""
    return f"{destination_prefix}{target_date.replace('-', '/')}/{name_of(key, source_prefix)}"
