"""Every alarm can reach its topic in a real account: the topic policy and the topic's KMS key both
let CloudWatch in. moto emulates neither alarms nor topic policies, so this is a template test,
over every stack of both stages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.templates.cfn import as_list, resources_of_type

CLOUDWATCH = "cloudwatch.amazonaws.com"


def _templates(stage) -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, stage.template(path.name.removesuffix(".template.json")))
            for path in sorted(stage.assembly_dir.glob("*.template.json"))]


def _allows_cloudwatch(statement: dict[str, Any], action: str) -> bool:
    principal = statement.get("Principal") or {}
    services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
    return statement.get("Effect") == "Allow" and CLOUDWATCH in services and action in as_list(statement.get("Action"))


def _alarm_topics(template: dict[str, Any]) -> set[str]:
    topics = set()
    for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
        for action in alarm["Properties"].get("AlarmActions", []):
            assert isinstance(action, dict) and "Ref" in action, f"alarm action {action} is not a topic of this stack"
            topics.add(action["Ref"])
    return topics


def test_every_stack_has_alarms_with_actions(stage):
    for name, template in _templates(stage):
        assert _alarm_topics(template), f"{name}: no alarm has an action"


def test_every_alarm_topic_allows_this_stacks_alarms_to_publish(stage):
    for name, template in _templates(stage):
        policies = resources_of_type(template, "AWS::SNS::TopicPolicy").values()
        for topic in _alarm_topics(template):
            statements = [s for p in policies if {"Ref": topic} in p["Properties"]["Topics"]
                          for s in p["Properties"]["PolicyDocument"]["Statement"]]
            allowing = [s for s in statements if _allows_cloudwatch(s, "sns:Publish")]
            assert allowing, f"{name}: topic {topic}'s policy does not let CloudWatch alarms publish"
            (allow,) = allowing
            # scoped: this account, and alarms named after this stack
            assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
            source_arn = str(allow["Condition"]["ArnLike"]["aws:SourceArn"])
            assert f":alarm:{name.removesuffix('.template.json')}-{stage.name}-*" in source_arn


def test_every_alarm_topic_key_lets_cloudwatch_encrypt(stage):
    for name, template in _templates(stage):
        topics = resources_of_type(template, "AWS::SNS::Topic")
        keys = resources_of_type(template, "AWS::KMS::Key")
        for topic in _alarm_topics(template):
            key_ref = topics[topic]["Properties"].get("KmsMasterKeyId")
            if key_ref is None:
                continue  # unencrypted topics need no key grant (none of ours are: see cdk-nag)
            (key_id,) = [v[0] if isinstance(v, list) else v for v in key_ref.values()]
            statements = keys[key_id]["Properties"]["KeyPolicy"]["Statement"]
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                assert any(_allows_cloudwatch(s, action) for s in statements), f"{name}: key {key_id} does not allow CloudWatch {action}"


@pytest.mark.parametrize("broken", ["no topic statement", "no key statement"])
def test_the_check_fails_on_a_template_missing_a_grant(local_stage, broken):
    # GIVEN a copy of a real template with one of the two grants removed
    import copy

    (_, template), *_ = _templates(local_stage)
    template = copy.deepcopy(template)
    if broken == "no topic statement":
        for policy in resources_of_type(template, "AWS::SNS::TopicPolicy").values():
            policy["Properties"]["PolicyDocument"]["Statement"] = [
                s for s in policy["Properties"]["PolicyDocument"]["Statement"] if not _allows_cloudwatch(s, "sns:Publish")]
    else:
        for key in resources_of_type(template, "AWS::KMS::Key").values():
            key["Properties"]["KeyPolicy"]["Statement"] = [
                s for s in key["Properties"]["KeyPolicy"]["Statement"] if CLOUDWATCH not in str(s.get("Principal"))]

    class _Stage:
        name = local_stage.name
        assembly_dir = local_stage.assembly_dir

        @staticmethod
        def template(_stack_id: str) -> dict[str, Any]:
            return template

    # WHEN the checks run THEN the matching one fails
    check = test_every_alarm_topic_allows_this_stacks_alarms_to_publish if broken == "no topic statement" \
        else test_every_alarm_topic_key_lets_cloudwatch_encrypt
    with pytest.raises(AssertionError):
        check(_Stage)
