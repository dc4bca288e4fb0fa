"""Before anyone deploys: placeholders stop a deploy (make deploy's preflight, or the app under `cdk deploy`)
with one named line per setting, for the chosen workflows only. Generic: runs over whatever workflows exist."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from stacks.common.config import (
    NOT_CONFIGURED,
    UnconfiguredSetting,
    is_placeholder,
    secret_name_settings,
    unconfigured_settings,
)
from stacks.common.registry import discover_workflows, read_cdk_context
from stacks.preflight import EXIT_NOT_CONFIGURED, EXIT_USAGE, deploy_targets, main, refuse_deploy_with_placeholders, run
from tests.conftest import requires_workflows

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
NAMED = re.compile(r"^SettingNotConfigured: (\S+) is the placeholder '([^']*)'; set it for stage (\S+) with -c (\S+)=VALUE, "
                   r"or in settings/(\S+)\.json \(git-ignored\)$")


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
    # GIVEN settings with a nested placeholder endpoint, a sentinel and a real URL WHEN checked under the workflow's key
    found = unconfigured_settings(_Settings(), "wf")
    # THEN exactly the two placeholders are named, by path, with their values
    assert found == [UnconfiguredSetting("wf.api.endpoint", "https://search.example/items"), UnconfiguredSetting("wf.region", NOT_CONFIGURED)]
    assert secret_name_settings(_Settings(), "w") == [("w.api.api_key_secret_name", "wf/api-key")]


def _named(err: str) -> list[tuple[str, str]]:
    lines = [line for line in err.splitlines() if line.startswith("SettingNotConfigured")]
    matches = [NAMED.match(line) for line in lines]
    assert all(matches), lines
    return [(m[1], m[2]) for m in matches]


def _real_value(placeholder: str) -> str:
    """A value a user would set instead of the placeholder (same shape: a URL keeps its path)."""
    parts = urlsplit(placeholder.strip())
    return f"https://api.corp.jp{parts.path}" if parts.scheme else "configured-by-user"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_shipped_settings_stop_a_deploy_naming_each_placeholder_until_each_is_set(stage):
    keys = {workflow.settings_key for workflow in discover_workflows()}
    # GIVEN the shipped settings WHEN the deploy's preflight runs for every workflow
    out, err = io.StringIO(), io.StringIO()
    code = run(stage, out=out, err=err, settings_dir=None)
    named = _named(err.getvalue())
    if not named:  # nothing to configure in these workflows
        assert code == 0
        return
    # THEN it exits 4, one line per placeholder naming its key (under a workflow's key) and how to set it
    assert code == EXIT_NOT_CONFIGURED and out.getvalue() == ""
    assert all(path.split(".")[0] in keys and is_placeholder(value) for path, value in named)
    # AND once the user sets each named key (-c values), the same check lets the deploy go on
    overrides = {path: _real_value(value) for path, value in named}
    out, err = io.StringIO(), io.StringIO()
    assert run(stage, context={**read_cdk_context(), **overrides}, out=out, err=err, settings_dir=None) == 0, err.getvalue()
    assert err.getvalue() == "" and f"preflight {stage}" in out.getvalue()


def test_one_workflow_is_checked_alone():
    for workflow in discover_workflows():
        err = io.StringIO()
        run("dev", [workflow.name], out=io.StringIO(), err=err, settings_dir=None)
        # THEN only its own settings (and secrets) are named
        assert all(path.startswith(workflow.settings_key + ".") for path, _ in _named(err.getvalue()))
        assert all(f"# {workflow.settings_key}." in line for line in err.getvalue().splitlines() if "create-secret" in line)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["local"], "offline sandbox's stage"), (["staging"], "stage 'staging' is not built in"),
     (["dev", "no-such-flow"], "unknown workflow 'no-such-flow'"), ([], "usage:"), (["dev", "-c", "noequals"], "usage:"),
     (["dev", "-c", "log_retention_days=10"], "log_retention_days=10 is not one of")],
)
def test_usage_errors_are_one_line_exit_2(args, message, capsys):
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_command_line_values_reach_the_check_and_a_custom_stage_derives_from_its_base(capsys):
    # GIVEN a stage of the user's, based on prod, with every placeholder of every workflow set on the command line
    err = io.StringIO()
    run("prod", out=io.StringIO(), err=err, settings_dir=None)
    args = [arg for path, value in _named(err.getvalue()) for arg in ("-c", f"{path}={_real_value(value)}")]
    # WHEN the preflight runs for it THEN it is ready
    assert main(["staging", "-c", "based_on=prod", *args]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("cli", "expected"),
    [
        (["deploy", "Alpha-dev", "-c", "stage=dev"], ["Alpha"]),
        (["--profile", "p", "deploy", "Be*", "--require-approval", "never"], ["Beta"]),
        (["deploy", "--all"], ["Alpha", "Beta"]),
        (["watch", "Beta"], ["Beta"]),
        (["synth", "Alpha-dev"], None),
        (["diff"], None),
        (["ls"], None),
    ],
)
def test_the_stacks_a_cdk_command_line_deploys(cli, expected):
    assert deploy_targets(cli, {"Alpha": "Alpha-dev", "Beta": "Beta-dev"}) == expected


@requires_workflows(count=2)
def test_under_cdk_deploy_the_app_refuses_only_the_targeted_stack_with_placeholders():
    import aws_cdk as cdk

    import app

    first, second = discover_workflows()[:2]
    application = app.build_app(cdk.App(context=app.cdk_context(stage="dev", workflow=f"{first.name},{second.name}")), nag=False)
    # WHEN the CLI deploys the first stack only (its settings as shipped)
    lines = refuse_deploy_with_placeholders(application, ["deploy", first.stack_name("dev")])
    err = io.StringIO()
    run("dev", [first.name], out=io.StringIO(), err=err, settings_dir=None)
    # THEN exactly the placeholders the preflight names for that workflow stop it, and nothing of the other
    assert _named("\n".join(lines)) == _named(err.getvalue())
    assert not any(f"{second.settings_key}." in line for line in lines)
    # AND a plain synth (no deploy) is never refused
    assert refuse_deploy_with_placeholders(application, ["synth"]) == []
    assert refuse_deploy_with_placeholders(application, []) == []
