"""The well-kept checkers find nothing in any template or definition of any stage
(runners and skip lists with their reasons: sandbox/checks/tools.py)."""

from __future__ import annotations

from sandbox.checks import tools


def test_cfn_lint_and_its_serverless_rules_pass(all_templates):
    findings = [str(f) for f in tools.cfn_lint(all_templates)]
    assert findings == [], "\n".join(findings)


def test_checkov_cloudformation_checks_pass(all_templates):
    findings = [str(f) for f in tools.checkov(all_templates)]
    assert findings == [], "\n".join(findings)


def test_asl_validator_passes_every_definition(stage_machines):
    findings = [str(f) for f in tools.asl_validator(stage_machines)]
    assert findings == [], "\n".join(findings)
