"""Consume tick messages from the FIFO queue: one long API call per tick, at most once per tick.

Event: an SQS event (batch size 1). Result: `{"batchItemFailures": [...]}` (ReportBatchItemFailures).

* Powertools Batch (`SqsFifoPartialProcessor`) reports failed records so that only they are
  redelivered, and stops at the first failure so the FIFO order holds.
* Just before calling, the consumer keeps its message in flight for `API_MAX_CALL_SECONDS`
  (`message_hold`): however the call ends for the consumer (answer, client timeout, dropped
  connection, crash, function timeout), SQS cannot hand the message out again, nor the tick
  enqueue another, while the API may still be working on it. Never two calls at once.
* Powertools Idempotency (DynamoDB) keys each call on the message's deduplication id:
  a redelivered message whose call completed returns the stored result without calling
  the API again; a call cut off by a crash is retried once its in-progress lock expires
  (at the function timeout, before the hold ends). The same id goes to the API as the
  `Idempotency-Key` header.
* Permanent failures (`errors.PERMANENT_ERRORS`: 4xx, malformed message) are moved to the
  DLQ by the handler and not retried; transient ones are redelivered by SQS and end in the
  DLQ after `maxReceiveCount` receives.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from single_flight.aws import sqs_client
from single_flight.dead_letter import dead_letter
from single_flight.errors import PERMANENT_ERRORS
from single_flight.long_api import LongApiClient, require_configured_endpoint
from single_flight.message_hold import hold_message, hold_seconds
from single_flight.settings import ConsumerSettings
from single_flight.ticks import parse_tick

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CREDENTIALS_CACHE_SECONDS = 300

processor = SqsFifoPartialProcessor()
persistence = DynamoDBPersistenceLayer(table_name=os.environ.get("IDEMPOTENCY_TABLE", "IDEMPOTENCY_TABLE-not-set"))
idempotency = IdempotencyConfig(
    event_key_jmespath="deduplication_id",
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_EXPIRY_SECONDS", "3600")),
    raise_on_no_idempotency_key=True,
)


@idempotent_function(data_keyword_argument="tick", persistence_store=persistence, config=idempotency)
def call_api_once(*, tick: dict[str, str], hold: Callable[[float], int]) -> dict[str, Any]:
    """The API call for one tick; its result is stored under the tick's deduplication id.

    `hold(max_call_s)` keeps the message in flight for the call's longest possible length (raises
    MessageNotHeld, and then no call is made) and returns the seconds it holds it."""
    settings = ConsumerSettings.from_env()
    require_configured_endpoint(settings.api_endpoint, settings.api_endpoint_setting)
    token = parameters.get_secret(settings.api_credentials_secret_name, max_age=CREDENTIALS_CACHE_SECONDS)
    client = LongApiClient(endpoint=settings.api_endpoint, token=str(token), timeout_s=settings.api_timeout_s)
    held_s = hold(settings.api_max_call_s)
    logger.info("calling the API", extra={"deduplication_id": tick["deduplication_id"], "message_held_seconds": held_s})
    result = client.call(tick)
    metrics.add_metric(name="ApiCalls", unit=MetricUnit.Count, value=1)
    return result


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
    def hold(max_call_s: float) -> int:
        seconds = hold_seconds(max_call_s, lambda_context.get_remaining_time_in_millis())
        hold_message(sqs_client(), record=record, seconds=seconds)
        return seconds

    try:
        tick = parse_tick(record.body, record.attributes.message_deduplication_id)
        return call_api_once(tick=tick, hold=hold)
    except PERMANENT_ERRORS as error:
        settings_url = os.environ.get("DEAD_LETTER_QUEUE_URL", "")
        moved_id = dead_letter(sqs_client(), queue_url=settings_url, record=record, error=error)
        metrics.add_metric(name="DeadLettered", unit=MetricUnit.Count, value=1)
        logger.error(
            "permanent failure: message moved to the DLQ, not retried",
            extra={"error": type(error).__name__, "detail": str(error), "message_id": record.message_id, "dlq_message_id": moved_id},
        )
        return {"dead_lettered": type(error).__name__}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)  # in-progress locks expire at this invocation's deadline
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
