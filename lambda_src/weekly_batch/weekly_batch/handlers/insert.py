"""Insert the week's summary with one idempotent MERGE (running it twice leaves the same rows).

Event: {"weekStart": "YYYY-MM-DD", "weekEnd": "YYYY-MM-DD"}
Result: {"rowsAffected": int}
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from weekly_batch.dates import WEEK_DAYS, parse_target_date
from weekly_batch.errors import InvalidTargetDate
from weekly_batch.handlers import bigquery_common
from weekly_batch.sql_templates import WEEKLY_INSERT

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = event if isinstance(event, dict) else {}
    week_start, week_end = parse_target_date(event.get("weekStart")), parse_target_date(event.get("weekEnd"))
    if (week_end - week_start).days != WEEK_DAYS - 1:
        raise InvalidTargetDate(f"week {week_start}..{week_end} is not {WEEK_DAYS} days")
    config = bigquery_common.settings()
    affected = bigquery_common.runner(config).execute(
        bigquery_common.sql(WEEKLY_INSERT, config), {"week_start": week_start, "week_end": week_end}
    )
    metrics.add_metric(name="RowsMerged", unit=MetricUnit.Count, value=affected)
    logger.info("week merged", extra={"weekStart": week_start.isoformat(), "rowsAffected": affected})
    return {"rowsAffected": affected}
