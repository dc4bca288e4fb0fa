"""Summarize one scan from its items in DynamoDB, record buckets whose scan failed, publish the summary to SNS.

Event: {"request": <execution input>, "execution": str, "results": [<per-bucket result of the Map>, ...]}
Result: the summary (see bucket_usage.summary.summarize), also published as the SNS message.
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
from bucket_usage.scanner import FAILED
from bucket_usage.settings import SummarySettings
from bucket_usage.summary import map_results, message, short_error, subject, summarize

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidScanState("the event must be an object")
    request = parse_request(event.get("request"), event.get("execution"))
    results = map_results(event.get("results"))
    settings = SummarySettings.from_env()
    execution = str(event.get("execution"))
    table = ResultsTable(client("dynamodb"), settings.table, ttl_days=settings.ttl_days)
    # A scan Lambda that failed for good could not write its bucket's item: record it here.
    for result in results:
        if result.get("status") == FAILED:
            table.put_bucket(scan_id=request.scan_id, bucket=result["bucket"], status=FAILED, execution=execution,
                             error=f"{result.get('error')}: {short_error(result.get('cause'))}", keep_if_same_execution=True)
    summary = summarize(scan_id=request.scan_id, execution=execution, results=results,
                        items=table.scan_items(request.scan_id), top=settings.top_extensions)
    client("sns").publish(TopicArn=settings.topic_arn, Subject=subject(summary), Message=message(summary))
    metrics.add_metric(name="BucketsScanned", unit=MetricUnit.Count, value=summary["buckets_scanned"])
    metrics.add_metric(name="BucketsFailed", unit=MetricUnit.Count, value=len(summary["failures"]))
    logger.info("scan summarized", extra={k: summary[k] for k in ("scan_id", "buckets", "buckets_scanned", "objects", "bytes")})
    return summary
