"""Count the target date's rows in the source table (one attempt; the state machine retries).

Event: {"targetDate": "YYYY-MM-DD"}
Result: {"rows": int}
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from weekly_batch.dates import parse_target_date
from weekly_batch.handlers import bigquery_common
from weekly_batch.sql_templates import COUNT_ROWS

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    target = parse_target_date(event.get("targetDate") if isinstance(event, dict) else None)
    config = bigquery_common.settings()
    rows = bigquery_common.runner(config).count(bigquery_common.sql(COUNT_ROWS, config), {"target_date": target})
    metrics.add_metric(name="SourceRows", unit=MetricUnit.Count, value=rows)
    logger.info("rows counted", extra={"targetDate": target.isoformat(), "rows": rows})
    return {"rows": rows}
