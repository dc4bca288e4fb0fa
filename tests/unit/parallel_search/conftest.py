"""Fixtures for the parallel-search handler tests.

The handlers' package lives in lambda_src/parallel_search (the Lambda asset
root), so that folder goes on sys.path, exactly as Lambda puts the asset root
on it. AWS is moto (in-process); the search API is the real stand-in server.
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

from sandbox.standins.search_api import SearchApiStandIn
from stacks.parallel_search.stack import LAMBDA_SOURCE

sys.path.insert(0, str(LAMBDA_SOURCE))
# Read by Powertools when the handler modules are imported (as Lambda sets them before import).
os.environ.update(
    POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME="parallel-search-test", POWERTOOLS_METRICS_NAMESPACE="Test"
)

EVENTS = Path(__file__).parent / "events"
BUCKET = "payloads-test"
SECRET_NAME = "parallel-search/shop-a/api-key"
API_KEY = "test-key-123"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@dataclass
class FakeLambdaContext:
    function_name: str = "search-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:search-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/search-test"
    log_stream_name: str = "2026/11/22/[$LATEST]test"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the payload bucket and the API key secret; the Powertools parameter cache cleared."""
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        boto3.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=API_KEY)
        yield {"s3": s3}


@pytest.fixture
def search_api() -> Iterator[SearchApiStandIn]:
    with SearchApiStandIn(shop="shop-a", api_key=API_KEY) as standin:
        yield standin


@pytest.fixture
def search_env(monkeypatch: pytest.MonkeyPatch, aws: dict[str, Any], search_api: SearchApiStandIn) -> SearchApiStandIn:
    for key, value in {
        "PAYLOAD_BUCKET": BUCKET, "INLINE_THRESHOLD_BYTES": str(64 * 1024), "SEARCH_API_NAME": "shop-a",
        "SEARCH_API_ENDPOINT": search_api.url, "SEARCH_API_KEY_SECRET_NAME": SECRET_NAME,
        "SEARCH_API_TIMEOUT_SECONDS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    return search_api
