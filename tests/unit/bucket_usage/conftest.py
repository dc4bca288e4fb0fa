"""Fixtures for the bucket-usage handler tests.

The handlers' package lives in lambda_src/bucket_usage (the Lambda asset root),
which goes on sys.path as Lambda puts the asset root on it. AWS is moto, in-process.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from stacks.bucket_usage.stack import LAMBDA_SOURCE
from tests.unit.handler_testing import event_loader, use_lambda_asset

use_lambda_asset(LAMBDA_SOURCE, service="bucket-usage-test")

EVENTS = Path(__file__).parent / "events"
TABLE = "bucket-usage-results-test"


load_event = event_loader(EVENTS)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the results table, the notices topic (an SQS queue subscribed), and fresh cached clients."""
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from bucket_usage.aws import client

    client.cache_clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "scan_id", "KeyType": "HASH"}, {"AttributeName": "bucket", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "scan_id", "AttributeType": "S"}, {"AttributeName": "bucket", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="notices")["TopicArn"]
        queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("RESULTS_TABLE", TABLE)
        monkeypatch.setenv("SUMMARY_TOPIC_ARN", topic)
        monkeypatch.setenv("COMPOUND_EXTENSIONS", "tar.gz")
        monkeypatch.setenv("MAX_PAGES_PER_PASS", "1")
        monkeypatch.setenv("SCAN_TIME_RESERVE_SECONDS", "5")
        yield {"s3": boto3.client("s3"), "dynamodb": dynamodb, "sqs": sqs, "queue": queue, "topic": topic}
        client.cache_clear()


def put_objects(s3: Any, bucket: str, keys_and_sizes: list[tuple[str, int]], region: str = "us-east-1") -> None:
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **config)
    for key, size in keys_and_sizes:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * size)
