"""Write the scan's bucket names to S3 (one JSON array) for the Map's ItemReader.

Event: {"request": <execution input>, "execution": str}
Result: {"bucket": str, "key": str, "count": int, "request": {"scan_id": str, "by_storage_class": bool}}
Raises InvalidScanInput (a bad scan_id, name_prefix or bucket name).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bucket_usage.aws import client
from bucket_usage.errors import InvalidScanState
from bucket_usage.request import parse_request
from bucket_usage.settings import TargetsSettings
from bucket_usage.targets import given_names, listed_names, normalized_request, targets_key

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("execution"), str):
        raise InvalidScanState("the event must be an object with the execution's name")
    raw = event.get("request") if isinstance(event.get("request"), dict) else {}
    request = parse_request(raw, event["execution"])
    settings = TargetsSettings.from_env()
    if "buckets" in raw:
        targets = given_names(raw["buckets"])
    else:
        targets = listed_names(client("s3").list_buckets, raw.get("name_prefix"))
    key = targets_key(settings.prefix, event["execution"])
    client("s3").put_object(Bucket=settings.bucket, Key=key, Body=targets.as_json(), ContentType="application/json")
    metrics.add_metric(name="BucketsToScan", unit=MetricUnit.Count, value=len(targets.names))
    logger.info("targets written", extra={"scan_id": request.scan_id, "count": len(targets.names), "key": key})
    return {"bucket": settings.bucket, "key": key, "count": len(targets.names), "request": normalized_request(request)}
