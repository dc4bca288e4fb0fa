"""Fixtures for the bucket-usage handler tests.

The handlers' package lives in lambda_src/bucket_usage (the Lambda asset root),
which goes on sys.path as Lambda puts the asset root on it. AWS is moto, in-process.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from stacks.bucket_usage.stack import LAMBDA_SOURCE

sys.path.insert(0, str(LAMBDA_SOURCE))
os.environ.update(
    POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME="bucket-usage-test", POWERTOOLS_METRICS_NAMESPACE="Test"
)

EVENTS = Path(__file__).parent / "events"
TABLE = "bucket-usage-results-test"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@dataclass
class FakeLambdaContext:
    function_name: str = "scan-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:scan-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/scan-test"
    log_stream_name: str = "2026/11/23/[$LATEST]test"
    function_version: str = "$LATEST"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


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
