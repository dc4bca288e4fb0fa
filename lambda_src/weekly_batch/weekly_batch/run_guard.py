"""The once-per-date run guard, as the execution-status rule sees it: release a guard that an execution
still holds after it ended without recording its outcome (aborted, timed out, or failed past the
definition's own MarkRunFailed).

The state machine writes `{targetDate, status: RUNNING, executionId}` when it starts a date and records
SUCCEEDED or FAILED itself on every path it controls. What it cannot control (StopExecution, the
execution's timeout, an uncatchable States.* error) ends the execution with the guard at RUNNING, and a
RUNNING date is never re-run. The rule's event names the execution; the guard becomes FAILED (which a
deliberate `"rerun": true` may take over) only if that execution still holds it at RUNNING, so a late or
repeated event never touches a guard another run took over, nor an outcome already recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from weekly_batch.dates import resolve_target_week
from weekly_batch.errors import InvalidStatusChange, InvalidTargetDate, RunGuardUnavailable

DETAIL_TYPE = "Step Functions Execution Status Change"
ENDED_WITHOUT_SUCCESS = ("ABORTED", "TIMED_OUT", "FAILED")
RELEASED_STATUS = "FAILED"  # the status a deliberate re-run may take over (see handlers/plan.py)
_RETRYABLE = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable",
}


@dataclass(frozen=True)
class StatusChange:
    execution_arn: str
    status: str
    stopped_at: str  # ISO-8601 UTC, or "" when the event has no stop date
    execution_input: Any  # the execution's input as JSON, or None when the event left it out


def parse_status_change(event: Any) -> StatusChange:
    """The facts the release needs from EventBridge's event (detail-type DETAIL_TYPE)."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict) or event.get("detail-type") != DETAIL_TYPE:
        raise InvalidStatusChange(f"expected a {DETAIL_TYPE!r} event")
    arn, status = detail.get("executionArn"), detail.get("status")
    if not isinstance(arn, str) or not arn.startswith("arn:") or len(arn) > 2048 or not isinstance(status, str):
        raise InvalidStatusChange("the event's detail has no executionArn or status")
    included = (detail.get("inputDetails") or {}).get("included", True)
    raw = detail.get("input")
    execution_input = None
    if included and isinstance(raw, str):
        try:
            execution_input = json.loads(raw)
        except ValueError:
            execution_input = None
    stop = detail.get("stopDate")
    stopped_at = _iso_millis(stop) if isinstance(stop, (int, float)) and not isinstance(stop, bool) else ""
    return StatusChange(execution_arn=arn, status=status[:20], stopped_at=stopped_at, execution_input=execution_input)


def target_date_of(execution_input: Any, *, zone: str) -> str | None:
    """The guard's key for that input, as ResolveTargetDate computed it; None if the input names no valid
    date (then ResolveTargetDate failed before any guard was taken)."""
    try:
        return resolve_target_week(execution_input, zone=zone).target_date.isoformat()
    except InvalidTargetDate:
        return None


def release(dynamodb: Any, *, table: str, target_date: str, change: StatusChange,
            error_code: Callable[[BaseException], str | None]) -> bool:
    """Mark the date FAILED if `change`'s execution still holds its guard at RUNNING; True if it did."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"targetDate": {"S": target_date}},
            UpdateExpression="SET #status = :released, executionStatus = :ended, finishedAt = :at",
            ConditionExpression="executionId = :execution AND #status = :running",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":released": {"S": RELEASED_STATUS},
                ":ended": {"S": change.status},
                ":at": {"S": change.stopped_at or "unknown"},
                ":execution": {"S": change.execution_arn},
                ":running": {"S": "RUNNING"},
            },
        )
    except Exception as exc:  # botocore's ClientError: classified by its code
        code = error_code(exc)
        if code == "ConditionalCheckFailedException":
            return False  # outcome already recorded, another run holds it, or no guard was taken
        if code in _RETRYABLE:
            raise RunGuardUnavailable(f"UpdateItem on the run guard: {code}") from exc
        raise
    return True


def _iso_millis(epoch_ms: float) -> str:
    from datetime import datetime, timezone

    try:
        return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return ""
