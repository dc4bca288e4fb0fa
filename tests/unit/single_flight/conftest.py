"""Fixtures for the single-flight consumer tests.

The handlers' package lives in lambda_src/single_flight (the Lambda asset root), so that
folder goes on sys.path as Lambda puts the asset root on it. AWS is moto (in-process);
the long API is the real stand-in server.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from sandbox.standins.long_api import LongApiStandIn
from stacks.single_flight.stack import LAMBDA_SOURCE
from tests.unit.handler_testing import event_loader, moto_aws, use_lambda_asset

TABLE = "idempotency-test"
use_lambda_asset(LAMBDA_SOURCE, service="single-flight-test", IDEMPOTENCY_TABLE=TABLE, AWS_DEFAULT_REGION="us-east-1")

EVENTS = Path(__file__).parent / "events"
SECRET_NAME = "single-flight/long-api/token"
TOKEN = "test-token-123"


load_event = event_loader(EVENTS)


def tick_event(*, body: str | None = None, deduplication_id: str = "tick-2026-11-23T04:00:00Z", receive_count: int = 1) -> dict[str, Any]:
    event = copy.deepcopy(load_event("sqs_tick"))
    record = event["Records"][0]
    if body is not None:
        record["body"] = body
    record["attributes"]["MessageDeduplicationId"] = deduplication_id
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return event


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
        from single_flight.aws import sqs_client
        from single_flight.handlers import consume

        sqs_client.cache_clear()
        # The module-level persistence layer made its client at import: give it one inside moto.
        consume.persistence.client = dynamodb
        yield {"dynamodb": dynamodb, "sqs": sqs, "dlq_url": dlq_url}


@pytest.fixture
def long_api() -> Iterator[LongApiStandIn]:
    with LongApiStandIn(token=TOKEN) as standin:
        standin.configure(delay_seconds=0)
        yield standin


@pytest.fixture
def consumer_env(monkeypatch: pytest.MonkeyPatch, aws: dict[str, Any], long_api: LongApiStandIn) -> LongApiStandIn:
    for key, value in {
        "API_ENDPOINT": long_api.url, "API_CREDENTIALS_SECRET_NAME": SECRET_NAME, "API_TIMEOUT_SECONDS": "1",
        "DEAD_LETTER_QUEUE_URL": aws["dlq_url"], "IDEMPOTENCY_EXPIRY_SECONDS": "3600",
    }.items():
        monkeypatch.setenv(key, value)
    return long_api
