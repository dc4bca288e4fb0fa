"""Summarize one scan from this execution's items in DynamoDB and publish the summary to SNS.

Event: {"targets": {"bucket", "key", "count", "request": {"scan_id", "by_storage_class"}}, "execution": str}
Result: the summary (see bucket_usage.summary.summarize), also published as the SNS message, with the
failure threshold's verdict (`verdict`: failed buckets against tolerated_failed_buckets_percentage).

The bucket list comes back from S3 (the Map's results stay out of the state): every listed bucket is
summed from its item, and a bucket without an item from this execution is named as a failure.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bucket_usage.aws import client
from bucket_usage.errors import InvalidScanState
from bucket_usage.request import parse_request
from bucket_usage.results import ResultsTable
from bucket_usage.settings import SummarySettings
from bucket_usage.summary import failure_verdict, message, subject, summarize
from bucket_usage.targets import read_names

logger = Logger()
tracer = Tracer()
metrics = Metrics()

NO_RESULT = "no result was recorded for this bucket by this execution"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    targets = event.get("targets") if isinstance(event, dict) else None
    if not isinstance(targets, dict) or not all(isinstance(targets.get(k), str) for k in ("bucket", "key")):
        raise InvalidScanState("the event must carry the targets' bucket and key")
    execution = str(event.get("execution"))
    request = parse_request(targets.get("request"), execution)
    settings = SummarySettings.from_env()
    names = read_names(client("s3").get_object(Bucket=targets["bucket"], Key=targets["key"])["Body"].read())
    table = ResultsTable(client("dynamodb"), settings.table, ttl_days=settings.ttl_days)
    summary = summarize(scan_id=request.scan_id, execution=execution,
                        results=[{"bucket": name, "error": NO_RESULT} for name in names],
                        items=table.scan_items(request.scan_id, execution=execution), top=settings.top_extensions)
    summary["verdict"] = failure_verdict(summary, settings.tolerated_failed_percentage)
    client("sns").publish(TopicArn=settings.topic_arn, Subject=subject(summary), Message=message(summary))
    metrics.add_metric(name="BucketsScanned", unit=MetricUnit.Count, value=summary["buckets_scanned"])
    metrics.add_metric(name="BucketsFailed", unit=MetricUnit.Count, value=len(summary["failures"]))
    logger.info("scan summarized", extra={k: summary[k] for k in ("scan_id", "buckets", "buckets_scanned", "objects", "bytes")})
    return summary
