"""`$$.Execution.StartTime` as AWS gives it: an ISO-8601 string, not a Python datetime.

moto 5.2.5 puts the execution's start `datetime` into the context object, so any
definition that reads `$$.Execution.StartTime` (e.g. into a DynamoDB item) fails with
"Object of type datetime is not JSON serializable". AWS passes a string such as
"2026-11-26T00:30:00.123Z". This makes moto's execution details carry that string.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

from moto.stepfunctions.parser.backend import execution as execution_module


def aws_timestamp(moment: datetime) -> str:
    """AWS's context-object time format: UTC, milliseconds, `Z`."""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@contextmanager
def iso_start_time() -> Iterator[None]:
    original = execution_module.Execution.get_start_execution_details

    def get_start_execution_details(self: Any) -> Any:
        details = original(self)
        if isinstance(details.start_time, datetime):
            details.start_time = aws_timestamp(details.start_time)
        return details

    execution_module.Execution.get_start_execution_details = get_start_execution_details
    try:
        yield
    finally:
        execution_module.Execution.get_start_execution_details = original
