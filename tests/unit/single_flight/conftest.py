"""Fixtures for the single-flight consumer tests.

The handlers' package lives in lambda_src/single_flight (the Lambda asset root), so that
folder goes on sys.path as Lambda puts the asset root on it. AWS is moto (in-process), with a
real FIFO work queue: events are built from messages received from it, so what the consumer
does to its message (hold it, leave it) can be observed; the long API is the real stand-in server.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from sandbox.event_sources import failed_message_ids, sqs_event
from sandbox.lambda_runtime import InvocationResult
from sandbox.standins.long_api import LongApiStandIn
from stacks.single_flight.stack import LAMBDA_SOURCE
from tests.unit.handler_testing import event_loader, moto_aws, use_lambda_asset

TABLE = "idempotency-test"
WORK_QUEUE_VISIBILITY_S = 30
DEDUPLICATION_ID = "tick-2026-11-23T04:00:00Z"
use_lambda_asset(LAMBDA_SOURCE, service="single-flight-test", IDEMPOTENCY_TABLE=TABLE, AWS_DEFAULT_REGION="us-east-1")

EVENTS = Path(__file__).parent / "events"
SECRET_NAME = "single-flight/long-api/token"
TOKEN = "test-token-123"


load_event = event_loader(EVENTS)


def tick_event(*, body: str | None = None, deduplication_id: str = DEDUPLICATION_ID, receive_count: int = 1) -> dict[str, Any]:
    """An event as Lambda delivers it, for a message that is not in any queue (see `receive_tick`)."""
    event = copy.deepcopy(load_event("sqs_tick"))
    record = event["Records"][0]
    if body is not None:
        record["body"] = body
    record["attributes"]["MessageDeduplicationId"] = deduplication_id
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return event


def receive_tick(aws: dict[str, Any], *, body: str | None = None, deduplication_id: str = DEDUPLICATION_ID) -> dict[str, Any]:
    """Send a tick message to the work queue and receive it: the event Lambda's poller would hand the consumer."""
    scheduled_time = deduplication_id.removeprefix("tick-")
    body = body if body is not None else json.dumps({"scheduled_time": scheduled_time})
    aws["sqs"].send_message(QueueUrl=aws["work_url"], MessageBody=body, MessageGroupId="single-flight",
                            MessageDeduplicationId=deduplication_id)
    return _receive(aws)


def redeliver(aws: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The event's message, visible again (its visibility over) and received a second time."""
    receipt_handle = event["Records"][0]["receiptHandle"]
    aws["sqs"].change_message_visibility(QueueUrl=aws["work_url"], ReceiptHandle=receipt_handle, VisibilityTimeout=0)
    return _receive(aws)


def _receive(aws: dict[str, Any]) -> dict[str, Any]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["work_url"], MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"],
                                          MessageAttributeNames=["All"]).get("Messages", [])
    assert len(messages) == 1, "expected one message to receive"
    return sqs_event(messages, queue_arn=aws["work_arn"], region="us-east-1")


def messages_in(aws: dict[str, Any], queue: str = "work_url") -> int:
    """Messages in a queue, visible or in flight."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counts = aws["sqs"].get_queue_attributes(QueueUrl=aws[queue], AttributeNames=names)["Attributes"]
    return int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"])


def handle_as_lambda(aws: dict[str, Any], event: dict[str, Any], context: Any) -> tuple[Exception | None, Any]:
    """Invoke the consumer as Lambda's SQS event source mapping does: a raised error fails the whole
    batch, otherwise the records not named in `batchItemFailures` are deleted from the work queue.
    Returns (the error raised, or None; the handler's result)."""
    from single_flight.handlers import consume

    error, result = None, None
    try:
        result = consume.handler(event, context)
    except Exception as exc:  # what Lambda reports as a function error
        error = exc
    outcome = InvocationResult(function_name="consumer", request_id="r", payload=json.dumps(result), errored=error is not None,
                               logs="", duration_ms=0, cold_start=False)
    records = event["Records"]
    kept = failed_message_ids(outcome, [{"MessageId": r["messageId"]} for r in records], report_batch_item_failures=True)
    for record in records:
        if record["messageId"] not in kept:
            aws["sqs"].delete_message(QueueUrl=aws["work_url"], ReceiptHandle=record["receiptHandle"])
    return error, result


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the idempotency table, the token secret and the FIFO DLQ; Powertools caches cleared."""
    with moto_aws(monkeypatch):
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        boto3.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=TOKEN)
        sqs = boto3.client("sqs")
        dlq_url = sqs.create_queue(QueueName="dlq-test.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        work_url = sqs.create_queue(QueueName="work-test.fifo", Attributes={
            "FifoQueue": "true", "VisibilityTimeout": str(WORK_QUEUE_VISIBILITY_S),
        })["QueueUrl"]
        work_arn = sqs.get_queue_attributes(QueueUrl=work_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        from single_flight.aws import sqs_client
        from single_flight.handlers import consume

        sqs_client.cache_clear()
        # The module-level persistence layer made its client at import: give it one inside moto.
        consume.persistence.client = dynamodb
        yield {"dynamodb": dynamodb, "sqs": sqs, "dlq_url": dlq_url, "work_url": work_url, "work_arn": work_arn}


@pytest.fixture
def long_api() -> Iterator[LongApiStandIn]:
    with LongApiStandIn(token=TOKEN) as standin:
        standin.configure(delay_seconds=0)
        yield standin


@pytest.fixture
def consumer_env(monkeypatch: pytest.MonkeyPatch, aws: dict[str, Any], long_api: LongApiStandIn) -> LongApiStandIn:
    for key, value in {
        "API_ENDPOINT": long_api.url, "API_CREDENTIALS_SECRET_NAME": SECRET_NAME,
        "API_TIMEOUT_SECONDS": "1", "API_MAX_CALL_SECONDS": "60",
        "DEAD_LETTER_QUEUE_URL": aws["dlq_url"], "IDEMPOTENCY_EXPIRY_SECONDS": "3600",
    }.items():
        monkeypatch.setenv(key, value)
    return long_api
