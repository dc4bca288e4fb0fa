"""Fixtures for the distributed-copy handler tests: the Lambda asset root on sys.path (as Lambda
puts it), AWS as moto in-process, a fake Lambda context."""

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

from stacks.distributed_copy.stack import LAMBDA_SOURCE

sys.path.insert(0, str(LAMBDA_SOURCE))
os.environ.update(
    POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME="distributed-copy-test", POWERTOOLS_METRICS_NAMESPACE="Test"
)

EVENTS = Path(__file__).parent / "events"
BUCKET = "source-test"
RESULTS = "results-test"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@dataclass
class FakeLambdaContext:
    function_name: str = "copy-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:copy-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/copy-test"
    log_stream_name: str = "2026/11/22/[$LATEST]test"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        from distributed_copy.aws import s3_client

        s3_client.cache_clear()
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=RESULTS)
        yield client
        s3_client.cache_clear()
