"""Fixtures for the distributed-copy handler tests: the Lambda asset root on sys.path (as Lambda
puts it), AWS as moto in-process (with the sandbox's S3 integrity extension, so that its S3 checksums
and copy preconditions behave as AWS's), a fake Lambda context."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from sandbox.engine.s3_integrity import s3_integrity
from stacks.distributed_copy.stack import LAMBDA_SOURCE
from tests.unit.handler_testing import event_loader, use_lambda_asset

use_lambda_asset(LAMBDA_SOURCE, service="distributed-copy-test")

EVENTS = Path(__file__).parent / "events"
BUCKET = "source-test"
RESULTS = "results-test"


load_event = event_loader(EVENTS)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with s3_integrity(), mock_aws():
        from distributed_copy.aws import s3_client

        s3_client.cache_clear()
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=RESULTS)
        yield client
        s3_client.cache_clear()
