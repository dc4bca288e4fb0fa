"""The real CDK CLI (the pinned one) against the app, offline and without credentials: a direct `cdk deploy`
of a stack with placeholder settings stops before anything is uploaded, naming the settings of that stack
only; bad settings are one line, never a traceback; a custom stage synthesizes from its base."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from stacks.common.registry import REPO_ROOT, discover_workflows
from tests.conftest import requires_workflows

CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
# No credentials and no metadata service: nothing here may reach AWS.
OFFLINE = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "CDK_DISABLE_CLI_TELEMETRY": "true"}


def cdk(*args: str, outdir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | OFFLINE
    env.pop("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", None)  # the app itself must keep jsii quiet
    return subprocess.run([str(CDK), "--no-notices", *args, "-o", str(outdir)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def assert_no_traceback_or_banner(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "end-of-life" not in output and "b'!!" not in output, output[-2000:]


@requires_workflows(count=2)
def test_a_direct_cdk_deploy_with_placeholders_stops_naming_only_the_targeted_stacks_settings(tmp_path):
    first, second = discover_workflows()[:2]
    # GIVEN the shipped dev settings; WHEN `cdk deploy` targets the first stack (the app also builds a second)
    # (the CLI selects stacks by construct id: `cdk deploy ParallelSearch -c stage=dev`, not by stack name)
    result = cdk("deploy", first.stack_id, "-c", "stage=dev", "-c", f"workflow={first.name},{second.name}",
                 "--require-approval", "never", outdir=tmp_path)
    named = [line for line in result.stderr.splitlines() if line.startswith("SettingNotConfigured: ")]
    if not named:
        pytest.skip(f"{first.name} ships no placeholder to stop a deploy")
    # THEN it fails before any upload, naming the first workflow's settings and none of the second's
    assert result.returncode != 0
    assert all(line.split()[1].startswith(first.settings_key + ".") for line in named)
    assert "Nothing was deployed" in result.stderr
    assert not (tmp_path / "manifest.json").exists()  # no cloud assembly, so nothing to publish
    assert_no_traceback_or_banner(result)
    # AND once those settings are given, the app lets the deploy go on (it then needs credentials, which we do not have)
    given = [arg for line in named for arg in ("-c", f"{line.split()[1]}=https://api.corp.jp/v1")]
    result = cdk("deploy", first.stack_id, "-c", "stage=dev", "-c", f"workflow={first.name},{second.name}", *given,
                 "--require-approval", "never", outdir=tmp_path)
    assert "SettingNotConfigured" not in result.stderr and (tmp_path / "manifest.json").exists()
    assert result.returncode != 0 and "Unable to resolve AWS account" in result.stderr


@pytest.mark.parametrize(
    ("context", "message"),
    [(["-c", "stage=staging"], "ConfigError: stage 'staging' is not built in"),
     (["-c", "stage=dev", "-c", "no_such_flow.x=1"], "ConfigError: no_such_flow.x: unknown setting (from -c)"),
     (["-c", "workflow=no-such-flow"], "WorkflowError: unknown workflow 'no-such-flow'")],
)
def test_a_bad_setting_on_the_cdk_command_line_is_one_line(tmp_path, context, message):
    result = cdk("synth", "-q", *context, outdir=tmp_path)
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if "Error: " in line and "Subprocess" not in line] == [
        next(line for line in result.stderr.splitlines() if line.startswith(message))]
    assert_no_traceback_or_banner(result)


def test_a_custom_stage_synthesizes_from_its_base_under_its_own_name(tmp_path):
    last = discover_workflows()[-1]
    result = cdk("synth", "-q", "-c", "stage=staging", "-c", "based_on=prod", "-c", f"workflow={last.name}", outdir=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = {name: a for name, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"}
    assert [a["properties"].get("stackName", name) for name, a in stacks.items()] == [last.stack_name("staging")]
    template = json.loads((tmp_path / f"{last.stack_id}.template.json").read_text())
    # prod's stage-wide values (data retained on deletion) with staging's name in the tags
    assert any(r.get("DeletionPolicy") == "Retain" for r in template["Resources"].values())
    assert_no_traceback_or_banner(result)
