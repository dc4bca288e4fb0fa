"""Resolve the run's target date and week, and the run-once guard's record.

Event: {"input": <the execution input>}: {"scheduledTime": ISO-8601} from the schedule, or
{"targetDate": "YYYY-MM-DD", "rerun": bool} by hand.
Result: {"targetDate", "weekStart", "weekEnd", "rerunnableStatus", "guardExpiresAt"}
Raises InvalidTargetDate on a malformed date or time (nothing is written).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from weekly_batch.dates import resolve_target_week
from weekly_batch.settings import PlanSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# A guard in this status may be taken over by a deliberate re-run ("rerun": true); "NONE" matches no status.
RERUNNABLE = "FAILED"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = PlanSettings.from_env()
    execution_input = event.get("input") if isinstance(event, dict) else None
    week = resolve_target_week(execution_input, zone=settings.business_timezone)
    rerun = execution_input.get("rerun") is True
    logger.info("run planned", extra={**week.as_dict(), "rerun": rerun, "scheduled": "targetDate" not in execution_input})
    return {
        **week.as_dict(),
        "rerunnableStatus": RERUNNABLE if rerun else "NONE",
        "guardExpiresAt": str(int(time.time()) + settings.guard_ttl_days * 86_400),
    }
