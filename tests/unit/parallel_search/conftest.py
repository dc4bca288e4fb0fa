"""Fixtures for the parallel-search handler tests.

The handlers' package lives in lambda_src/parallel_search (the Lambda asset
root), so that folder goes on sys.path, exactly as Lambda puts the asset root
on it. AWS is moto (in-process); the search API is the real stand-in server.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from sandbox.standins.search_api import SearchApiStandIn
from stacks.parallel_search.stack import LAMBDA_SOURCE
from tests.unit.handler_testing import event_loader, moto_aws, use_lambda_asset

use_lambda_asset(LAMBDA_SOURCE, service="parallel-search-test")

EVENTS = Path(__file__).parent / "events"
BUCKET = "payloads-test"
SECRET_NAME = "parallel-search/shop-a/api-key"
API_KEY = "test-key-123"


load_event = event_loader(EVENTS)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the payload bucket and the API key secret; the Powertools parameter cache cleared."""
    with moto_aws(monkeypatch):
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
