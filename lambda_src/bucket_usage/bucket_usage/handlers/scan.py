"""One scan pass over one bucket; on the last pass, the bucket's item is written to DynamoDB.

Event (built by the state machine):
    {"bucket": str, "request": {"scan_id", "by_storage_class"}, "execution": str, "pass": int (1-based),
     "state": {"pass", "done", "region"?, "token"?, "counts"?}, "finalize"?: true, "failure"?: {"Error", "Cause"}}
Result, more to list:  {"bucket", "pass", "done": false, "status": "scanning", "region", "token", "counts", "objects", "bytes"}
Result, done:          {"bucket", "pass", "done": true, "status": scanned|denied|missing|incomplete|error, "region", "objects", "bytes", "error"?}

`finalize` (the state machine's pass limit was reached) writes the partial counts as `incomplete`.
`failure` (the scan failed for good; the Map's Catch) writes the bucket as `error` with the error's name and
message, unless this execution's scan already wrote its item (a scan that wrote, then timed out).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bucket_usage.aws import client
from bucket_usage.counting import UsageCounts
from bucket_usage.errors import InvalidScanState
from bucket_usage.request import parse_request, validate_bucket_name
from bucket_usage.results import ResultsTable
from bucket_usage.scanner import FAILED, INCOMPLETE, PassOutcome, scan_pass
from bucket_usage.summary import short_error
from bucket_usage.settings import ScanSettings

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
    bucket = validate_bucket_name(event.get("bucket"))
    settings = ScanSettings.from_env()
    state = event.get("state") or {}
    pass_number = event.get("pass")
    if not isinstance(state, dict) or not isinstance(pass_number, int) or pass_number < 0:
        raise InvalidScanState("'state' must be an object and 'pass' a non-negative integer")
    counts = UsageCounts.from_json(state.get("counts"), by_storage_class=request.by_storage_class, max_extensions=settings.max_extensions)
    region, token = state.get("region"), state.get("token")
    logger.append_keys(bucket=bucket, scan_id=request.scan_id, scan_pass=pass_number)
    if isinstance(event.get("failure"), dict):
        return _record_failure(event["failure"], bucket=bucket, scan_id=request.scan_id, execution=str(event.get("execution")),
                               pass_number=pass_number, settings=settings)

    if event.get("finalize"):
        outcome = PassOutcome(INCOMPLETE, region, token, counts, 0,
                              error=f"stopped after {pass_number} passes (the workflow's limit); counts are partial")
    else:
        outcome = scan_pass(
            bucket=bucket, region=region, token=token, counts=counts, s3_for=lambda r: client("s3", r),
            page_size=settings.page_size, max_pages=settings.max_pages_per_pass, compounds=settings.compounds,
            seconds_left=lambda: context.get_remaining_time_in_millis() / 1000, reserve_s=settings.time_reserve_s,
        )
    metrics.add_metric(name="PagesListed", unit=MetricUnit.Count, value=outcome.pages)
    result: dict[str, Any] = {
        "bucket": bucket, "pass": pass_number, "done": outcome.done, "status": outcome.status, "region": outcome.region,
        "objects": counts.objects, "bytes": counts.bytes,
    }
    if not outcome.done:
        logger.info("pass done, more to list", extra={"pages": outcome.pages, "objects": counts.objects})
        return {**result, "token": outcome.token, "counts": counts.to_json()}

    table = ResultsTable(client("dynamodb"), settings.table, ttl_days=settings.ttl_days)
    table.put_bucket(
        scan_id=request.scan_id, bucket=bucket, status=outcome.status, execution=str(event.get("execution")),
        region=outcome.region, counts=counts if outcome.status in ("scanned", INCOMPLETE) else None,
        passes=pass_number, error=outcome.error,
    )
    metrics.add_metric(name=f"Buckets_{outcome.status}", unit=MetricUnit.Count, value=1)
    logger.info("bucket done", extra={"status": outcome.status, "objects": counts.objects, "bytes": counts.bytes, "error": outcome.error})
    if outcome.error:
        result["error"] = outcome.error
    return result


def _record_failure(failure: dict[str, Any], *, bucket: str, scan_id: str, execution: str, pass_number: int,
                    settings: ScanSettings) -> dict[str, Any]:
    error = f"{str(failure.get('Error'))[:100]}: {short_error(failure.get('Cause'))}"
    table = ResultsTable(client("dynamodb"), settings.table, ttl_days=settings.ttl_days)
    written = table.put_bucket(scan_id=scan_id, bucket=bucket, status=FAILED, execution=execution, passes=pass_number,
                               error=error, keep_if_same_execution=True)
    metrics.add_metric(name=f"Buckets_{FAILED}", unit=MetricUnit.Count, value=1)
    logger.warning("bucket scan failed", extra={"error": error, "recorded": written is not None})
    return {"bucket": bucket, "pass": pass_number, "done": True, "status": FAILED, "error": error}
