"""Fixtures for the weekly-batch handler tests.

lambda_src/weekly_batch (the Lambda asset root) goes on sys.path, as Lambda puts the
asset root on it. AWS is moto in-process; BigQuery is the real bqemulator stand-in;
Slack is the real webhook receiver.
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

from sandbox.standins.bigquery import BigQueryStandIn
from sandbox.standins.slack import SlackStandIn
from stacks.weekly_batch.stack import LAMBDA_SOURCE

sys.path.insert(0, str(LAMBDA_SOURCE))
os.environ.update(
    POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME="weekly-batch-test", POWERTOOLS_METRICS_NAMESPACE="Test"
)

EVENTS = Path(__file__).parent / "events"
WEBHOOK_SECRET = "weekly-batch/slack/webhook-url"
DATASET = "unit_weekly"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@dataclass
class FakeLambdaContext:
    function_name: str = "weekly-batch-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:weekly-batch-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/weekly-batch-test"
    log_stream_name: str = "2026/11/26/[$LATEST]test"
    function_version: str = "$LATEST"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    with mock_aws():
        yield


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch, aws: None) -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        boto3.client("secretsmanager").create_secret(Name=WEBHOOK_SECRET, SecretString=standin.webhook_url)
        monkeypatch.setenv("SLACK_WEBHOOK_SECRET_NAME", WEBHOOK_SECRET)
        monkeypatch.setenv("SLACK_TIMEOUT_SECONDS", "2")
        yield standin


@pytest.fixture(scope="session")
def bigquery_standin() -> Iterator[BigQueryStandIn]:
    with BigQueryStandIn(dataset=DATASET) as standin:
        yield standin


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch, bigquery_standin: BigQueryStandIn) -> BigQueryStandIn:
    bigquery_standin.configure(rows=3, appear_after_checks=0, fail_times=0)
    bigquery_standin.restore_target_table()
    for key, value in {
        "BIGQUERY_PROJECT": "local-project",
        "BIGQUERY_DATASET": DATASET,
        "BIGQUERY_SOURCE_TABLE": "events",
        "BIGQUERY_TARGET_TABLE": "weekly_summary",
        "BIGQUERY_API_ENDPOINT": bigquery_standin.url,
        "BIGQUERY_CREDENTIALS": "anonymous",
        "BIGQUERY_QUERY_TIMEOUT_SECONDS": "2",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SQL_TEMPLATES_BUCKET", raising=False)
    return bigquery_standin
