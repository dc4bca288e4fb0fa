"""The suite finds what it checks through the cloud assembly, and reads every way a template may hold a definition."""

from __future__ import annotations

import json

import pytest

from sandbox.checks import state_machines, templates_of
from sandbox.checks.templates import DefinitionNotInline, definition_of, realistic_token
from tests.reliability.probes import template


def test_templates_are_found_through_the_manifest_and_nested_stacks_beside_them(tmp_path):
    # GIVEN an assembly with a stack artifact under a name no list knows, an asset, and a nested stack's template
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "MyForkedFlow": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "MyForkedFlow.template.json"}},
        "MyForkedFlow.assets": {"type": "cdk:asset-manifest", "properties": {"file": "MyForkedFlow.assets.json"}},
    }}))
    (tmp_path / "MyForkedFlow.template.json").write_text('{"Resources": {}}')
    (tmp_path / "Inner.nested.template.json").write_text('{"Resources": {}}')
    # WHEN discovered
    found = templates_of(tmp_path, "dev")
    # THEN both templates are checked, and nothing else
    assert [str(t) for t in found] == ["dev/MyForkedFlow", "dev/Inner.nested"]


def test_definitions_are_read_inline_joined_and_substituted():
    # GIVEN a Definition object, and a DefinitionString with a substitution
    inline = {"Properties": {"Definition": {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}}}
    substituted = {"Properties": {
        "DefinitionString": '{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Fn}", "End": true}}}',
        "DefinitionSubstitutions": {"Fn": {"Fn::GetAtt": ["Worker", "Arn"]}}}}
    # THEN each is read; the token is written as a placeholder, or as an ARN for validators
    assert definition_of(inline)["States"]["A"] == {"Type": "Succeed"}
    assert definition_of(substituted)["States"]["A"]["Resource"] == "<Fn::GetAtt Worker.Arn>"
    probe = template({"Worker": {"Type": "AWS::Lambda::Function"}, "Machine": {"Type": "AWS::StepFunctions::StateMachine", **substituted}})
    assert definition_of(substituted, realistic_token(probe))["States"]["A"]["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:Worker")


def test_a_definition_kept_outside_the_template_is_refused_by_name():
    probe = template({"Machine": {"Type": "AWS::StepFunctions::StateMachine",
                                  "Properties": {"DefinitionS3Location": {"Bucket": "b", "Key": "k"}}}})
    with pytest.raises(DefinitionNotInline):
        state_machines(probe)
