"""Before anyone deploys: placeholders in the settings stop `make deploy` with a named, one-line error per setting."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import pytest

import app
from stacks.common.config import (
    NOT_CONFIGURED,
    StageConfig,
    UnconfiguredSetting,
    is_placeholder,
    secret_name_settings,
    unconfigured_settings,
)
from stacks.preflight import EXIT_NOT_CONFIGURED, EXIT_USAGE, run

# Shared with the Lambda's copy of the rule (tests/unit/parallel_search/test_not_configured.py).
PLACEHOLDERS = [
    "https://search.shop-a.example/v1/items", "https://EXAMPLE/", "http://api.example:8443/x", "search.example",
    "https://api.example./v1", "https://api.example.com/v1", "https://example.org/", "https://x.invalid/",
    NOT_CONFIGURED, f"  {NOT_CONFIGURED} ",
]
REAL_VALUES = [
    "https://myexample/v1", "https://search.shop.jp/items", "https://example.co.jp/", "https://notexample.com/",
    "http://127.0.0.1:0/v1/items", "parallel-search/shop-a/api-key", "", "http://[::1/",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_hosts_under_reserved_example_names_and_the_sentinel_are_placeholders(value):
    assert is_placeholder(value)


@pytest.mark.parametrize("value", REAL_VALUES)
def test_real_hosts_local_endpoints_and_other_strings_are_not(value):
    assert not is_placeholder(value)


@dataclass(frozen=True)
class _Api:
    endpoint: str = "https://search.example/items"
    api_key_secret_name: str = "wf/api-key"


@dataclass(frozen=True)
class _Settings:
    api: _Api = field(default_factory=_Api)
    webhook_url: str = "https://hooks.slack.com/services/T0/B0/x"
    region: str = NOT_CONFIGURED
    retries: int = 3


def test_unconfigured_settings_names_each_placeholder_by_its_full_path_nested_ones_included():
    # GIVEN settings with a nested placeholder endpoint, a sentinel and a real URL
    # WHEN checked under the workflow's path
    found = unconfigured_settings(_Settings(), "stages.dev.workflows.wf")
    # THEN exactly the two placeholders are named, by path, with their values
    assert found == [
        UnconfiguredSetting("stages.dev.workflows.wf.api.endpoint", "https://search.example/items"),
        UnconfiguredSetting("stages.dev.workflows.wf.region", NOT_CONFIGURED),
    ]
    assert secret_name_settings(_Settings(), "w") == [("w.api.api_key_secret_name", "wf/api-key")]


def test_every_workflow_stack_declares_where_its_settings_live():
    # preflight cannot check a stack that does not say which section and dataclass are its settings
    for workflow, (_, stack_class) in app.WORKFLOW_STACKS.items():
        assert isinstance(stack_class.settings_key, str), workflow
        assert hasattr(stack_class.settings_type, "__dataclass_fields__"), workflow


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deploying_the_shipped_cdk_json_stops_naming_each_placeholder_and_the_secrets_to_create(stage):
    # GIVEN cdk.json as shipped (the search APIs point at search.shop-*.example)
    out, err = io.StringIO(), io.StringIO()
    # WHEN the deploy's preflight runs for the stage
    code = run(stage, out=out, err=err)
    # THEN it exits non-zero with one named error per unset endpoint, saying where to set it
    assert code == EXIT_NOT_CONFIGURED
    errors = [line for line in err.getvalue().splitlines() if line.startswith("SettingNotConfigured: ")]
    assert [re.match(r"SettingNotConfigured: (\S+) is the placeholder", line)[1] for line in errors] == [
        f"stages.{stage}.workflows.parallel_search.api_a.endpoint",
        f"stages.{stage}.workflows.parallel_search.api_b.endpoint",
        f"stages.{stage}.workflows.weekly_batch.bigquery.project",
        f"stages.{stage}.workflows.distributed_copy.source_bucket",
        f"stages.{stage}.workflows.single_flight.api.endpoint",
    ]
    assert all("set it in cdk.json" in line for line in errors)
    # AND it lists the secrets to create, as commands
    for name in ("parallel-search/shop-a/api-key", "parallel-search/shop-b/api-key", "single-flight/long-api/token",
                 "weekly-batch/bigquery/credentials", "weekly-batch/slack/webhook-url"):
        assert f"aws secretsmanager create-secret --name {name} " in err.getvalue()
    assert out.getvalue() == ""


def test_configured_endpoints_pass_the_preflight_and_still_list_the_secrets():
    # GIVEN real endpoints for both APIs
    context = app.cdk_context()
    apis = {"api_a": {"endpoint": "https://api.shop-a.jp/v1/items"},
            "api_b": {"name": "shop-b", "endpoint": "https://api.shop-b.jp/v1/items",
                      "api_key_secret_name": "parallel-search/shop-b/api-key"}}
    context["stages"] = {**context["stages"], "dev": {"workflows": {
        "parallel_search": apis, "single_flight": {"api": {"endpoint": "https://long-api.corp.jp/v1/jobs"}},
        "weekly_batch": {"bigquery": {"project": "shop-analytics"}},
        "distributed_copy": {"source_bucket": "my-archive-bucket"}}}}
    out, err = io.StringIO(), io.StringIO()
    # WHEN the preflight runs
    code = run("dev", context=context, out=out, err=err)
    # THEN the deploy may go on, reminded of the secrets
    assert code == 0 and err.getvalue() == ""
    assert "create-secret --name parallel-search/shop-a/api-key" in out.getvalue()


@pytest.mark.parametrize("stage", ["local", "staging"])
def test_local_and_unknown_stages_are_refused_as_usage_errors(stage):
    err = io.StringIO()
    assert run(stage, out=io.StringIO(), err=err) == EXIT_USAGE
    assert len(err.getvalue().splitlines()) == 1
