"""Counts of the Map Run (from its ResultWriter files), the failure threshold's verdict, and the one
notice naming failed keys.

Event: {"results": {"Bucket", "Key"} (ResultWriterDetails), "targetDate", "execution"}
Result: {"moved", "skipped", "failed", "failedPercentage", "thresholdExceeded", "cause": null | str,
         "notice": null | {..., "failedKeys": [...], "failedKeysList"?: {"Bucket", "Key"}}}
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from distributed_copy.aws import s3_client
from distributed_copy.errors import ResultsUnreadable, bounded_errors
from distributed_copy.settings import required
from distributed_copy.summary import build_notice, collect

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@bounded_errors
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise ResultsUnreadable("expected {results, targetDate, execution}")
    s3 = s3_client()
    collected = collect(s3, event.get("results"))
    summary = build_notice(collected, workflow="distributed-copy", execution=str(event.get("execution", "")),
                           target_date=str(event.get("targetDate", "")),
                           max_keys=int(os.environ.get("NOTICE_MAX_KEYS", "50")),
                           tolerated_percentage=int(required("TOLERATED_FAILED_OBJECTS_PERCENTAGE")), s3=s3,
                           bucket=required("RESULTS_BUCKET"), prefix=required("FAILED_KEYS_PREFIX"))
    logger.info("summary", extra={k: summary[k] for k in ("moved", "skipped", "failed")})
    return summary
