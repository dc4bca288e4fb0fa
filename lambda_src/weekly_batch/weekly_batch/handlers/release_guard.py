"""Release the run-once guard of an execution that ended ABORTED, TIMED_OUT or FAILED while still holding it.

Event: EventBridge "Step Functions Execution Status Change" (the stack's rule: this state machine, those statuses).
Result: {"released": bool, "targetDate": str | None, "executionStatus": str}
Raises RunGuardUnavailable (DynamoDB throttled/unavailable: Lambda's asynchronous retries, then the DLQ),
InvalidStatusChange (not such an event).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from weekly_batch.aws import client, error_code
from weekly_batch.run_guard import ENDED_WITHOUT_SUCCESS, parse_status_change, release, target_date_of
from weekly_batch.settings import ReleaseSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse_status_change(event)
    settings = ReleaseSettings.from_env()
    logger.append_keys(execution=change.execution_arn, execution_status=change.status)
    if change.status not in ENDED_WITHOUT_SUCCESS:
        logger.info("nothing to release: the execution did not end without success")
        return {"released": False, "targetDate": None, "executionStatus": change.status}
    execution_input = change.execution_input
    if execution_input is None:  # the event leaves out inputs over its size limit: ask Step Functions
        execution_input = _described_input(change.execution_arn)
    target_date = target_date_of(execution_input, zone=settings.business_timezone)
    released = target_date is not None and release(
        client("dynamodb"), table=settings.guard_table, target_date=target_date, change=change, error_code=error_code
    )
    if released:
        metrics.add_metric(name="RunGuardsReleased", unit=MetricUnit.Count, value=1)
    logger.info("run guard checked", extra={"targetDate": target_date, "released": released})
    return {"released": released, "targetDate": target_date, "executionStatus": change.status}


def _described_input(execution_arn: str) -> Any:
    import json

    described = client("stepfunctions").describe_execution(executionArn=execution_arn)
    try:
        return json.loads(described.get("input") or "null")
    except ValueError:
        return None
