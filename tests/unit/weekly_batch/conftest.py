"""Fixtures for the weekly-batch handler tests.

lambda_src/weekly_batch (the Lambda asset root) goes on sys.path, as Lambda puts the
asset root on it. AWS is moto in-process; BigQuery is the real bqemulator stand-in;
Slack is the real webhook receiver.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from sandbox.standins.bigquery import BigQueryStandIn
from sandbox.standins.slack import SlackStandIn
from stacks.weekly_batch.stack import LAMBDA_SOURCE
from tests.unit.handler_testing import event_loader, moto_aws, use_lambda_asset

use_lambda_asset(LAMBDA_SOURCE, service="weekly-batch-test")

EVENTS = Path(__file__).parent / "events"
WEBHOOK_SECRET = "weekly-batch/slack/webhook-url"
DATASET = "unit_weekly"


load_event = event_loader(EVENTS)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with moto_aws(monkeypatch):
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
