"""Post one of the batch's Slack notices; the webhook URL comes from Secrets Manager (cached).

Event: {"kind": "starting|waiting|succeeded|failed|gave_up", ...facts (dates, counts, error name)}
Result: {"delivered": true, "status": int, "attempts": int}
Raises SlackRejected, SlackRateLimited or SlackUnavailable (see weekly_batch.slack).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from weekly_batch.errors import SlackWebhookNotConfigured
from weekly_batch.notices import build_message
from weekly_batch.settings import SlackSettings
from weekly_batch.slack import SlackWebhook, validate_webhook_url

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    message = build_message(event)
    settings = SlackSettings.from_env()
    try:
        secret = parameters.get_secret(settings.webhook_secret_name, max_age=settings.secret_cache_s)
    except parameters.GetParameterError as exc:
        raise SlackWebhookNotConfigured(
            f"secret {settings.webhook_secret_name} cannot be read (create it: see README, weekly-batch)"
        ) from exc
    url = validate_webhook_url(str(secret))
    result = SlackWebhook(url=url, timeout_s=settings.timeout_s).post(
        message, remaining_s=lambda: context.get_remaining_time_in_millis() / 1000
    )
    metrics.add_dimension(name="Notice", value=event["kind"])
    metrics.add_metric(name="NoticesDelivered", unit=MetricUnit.Count, value=1)
    logger.info("notice delivered", extra={"kind": event["kind"], **result})
    return {"delivered": True, **result}
