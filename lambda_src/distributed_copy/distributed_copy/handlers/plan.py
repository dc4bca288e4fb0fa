"""Validate the execution input and fix the plan: bucket, prefixes and target date.

Event: the execution input, `{}` or `{"targetDate": "YYYY-MM-DD", "sourcePrefix": ..., "destinationPrefix": ...}`
(prefixes below the configured ones).
Result: {"bucket", "sourcePrefix", "destinationPrefix", "targetDate"}; InvalidCopyInput otherwise.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from distributed_copy.errors import bounded_errors
from distributed_copy.planning import plan_copy
from distributed_copy.settings import required

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@bounded_errors
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    plan = plan_copy(event, bucket=required("SOURCE_BUCKET"), source_prefix=required("SOURCE_PREFIX"),
                     destination_prefix=required("DESTINATION_PREFIX"), now=datetime.now(timezone.utc),
                     timezone=required("TARGET_TIMEZONE"))
    logger.info("plan", extra=plan.as_batch_input())
    return plan.as_batch_input()
