"""Move one ItemBatcher batch of objects (a copy verified by S3's checksums, then a delete of the listed
version only); one result per item. Replaying a batch (a retry, a redrive) deletes nothing it did not copy.

Event: {"Items": [<listObjectsV2 item>...], "BatchInput": {"bucket", "sourcePrefix", "destinationPrefix", "targetDate"}}
Result: {"results": [{"key", "status": "moved"|"skipped"|"failed", "reason"?, "copied"?}...], "moved", "skipped", "failed"}
Raises S3Throttled (retried by the state machine) and InvalidBatch; every per-object failure is a result.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from distributed_copy.aws import s3_client
from distributed_copy.batch import process_batch
from distributed_copy.copying import COPY_OBJECT_MAX_BYTES, CopySettings
from distributed_copy.errors import bounded_errors

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def copy_settings() -> CopySettings:
    return CopySettings(
        multipart_threshold_bytes=int(os.environ.get("MULTIPART_THRESHOLD_BYTES", str(COPY_OBJECT_MAX_BYTES))),
        part_size_bytes=int(os.environ.get("PART_SIZE_BYTES", str(512 * 1024**2))),
    )


@bounded_errors
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    outcome = process_batch(s3_client(), event, copy_settings(), threads=int(os.environ.get("COPY_THREADS", "8")))
    for status in ("moved", "skipped", "failed"):
        metrics.add_metric(name=f"Objects{status.capitalize()}", unit=MetricUnit.Count, value=outcome[status])
    failed = [r for r in outcome["results"] if r["status"] == "failed"]
    if failed:
        logger.warning("objects not moved", extra={"failed": failed})
    logger.info("batch done", extra={k: outcome[k] for k in ("moved", "skipped", "failed")})
    return outcome
