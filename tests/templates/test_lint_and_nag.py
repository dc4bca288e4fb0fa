"""Real cdk-nag over the synthesized app (cfn-lint runs in the reliability suite: tests/reliability)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stacks.common.nag import acknowledge, rule_packs


def _violations(app: cdk.App) -> list[str]:
    found = []
    for pack in rule_packs(app):
        report = pack.validate_scope(app)
        found += [f"{v.rule_name} at {[r.resource_logical_id for r in v.violating_resources]}" for v in report.violations]
    return found


def test_prod_app_has_no_unacknowledged_nag_findings(prod_stage):
    # GIVEN the prod app with every workflow stack
    # WHEN AwsSolutions and Serverless packs validate the construct tree
    # THEN nothing is left unacknowledged
    assert _violations(prod_stage.app) == []


def test_nag_reports_a_violation_when_there_is_one():
    # GIVEN a stack with a bucket that allows plain HTTP and has one acknowledged rule
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    bucket = s3.Bucket(stack, "Open", enforce_ssl=False)
    acknowledge(bucket, "AwsSolutions-S1", "probe bucket: access logs are not the point of this test")
    # WHEN validated
    violations = _violations(app)
    # THEN the TLS rule fires, and the acknowledged one does not
    assert any(v.startswith("AwsSolutions-S10") for v in violations)
    assert not any(v.startswith("AwsSolutions-S1 ") for v in violations)


def test_acknowledgement_needs_a_real_reason():
    stack = cdk.Stack(cdk.App(), "Probe")
    with pytest.raises(ValueError, match="reason"):
        acknowledge(stack, "AwsSolutions-S1", "ok")
