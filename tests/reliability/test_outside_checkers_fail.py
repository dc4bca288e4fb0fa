"""Each outside checker reports a finding on a small template or definition that breaks one of its rules, and
a narrowed rule drops a finding only where the template already does what the rule wants."""

from __future__ import annotations

import pytest

from sandbox.checks import state_machines, tools
from tests.reliability.probes import template

REDRIVE = {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3}


def _queue(**properties):
    return {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True, **properties}}


def test_cfn_lint_reports_its_own_and_serverless_findings_and_accepts_only_dlqs(tmp_path):
    # GIVEN a queue without a DLQ, a DLQ (no redrive of its own, by design), and a property cfn-lint does not know
    probe = template({
        "Loose": _queue(),
        "Work": _queue(RedrivePolicy=REDRIVE),
        "Dlq": _queue(),
        "Odd": _queue(NoSuchProperty=1),
    }, tmp_path / "Probe.template.json")
    # WHEN cfn-lint runs with the serverless rules
    found = {(f.rule, f.where) for f in tools.cfn_lint([probe])}
    # THEN the work queue without a DLQ and the unknown property are reported, the DLQ is not
    assert ("ES6000", "probe/Probe/Loose") in found
    assert ("E3002", "probe/Probe/Odd") in found
    assert not any(where == "probe/Probe/Dlq" for _, where in found)


def _function(**properties):
    return {"Type": "AWS::Lambda::Function", "Properties": {
        "Code": {"ZipFile": "def handler(event, context): return event"}, "Handler": "index.handler",
        "Role": "arn:aws:iam::123456789012:role/probe", "Runtime": "python3.13", **properties}}


def _async_invoked(function_id):
    return {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
        "Principal": "events.amazonaws.com"}}


def _failures_to(function_id, queue_id):
    return {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
        "FunctionName": {"Ref": function_id}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 2,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}}}


def test_asynchronously_invoked_functions_need_somewhere_for_their_failures(tmp_path):
    # GIVEN two functions EventBridge invokes asynchronously: one whose failures go nowhere, one whose async config
    #       sends them to a queue (its on-failure destination), and that queue
    probe = template({
        "Lost": _function(), "LostInvoke": _async_invoked("Lost"),
        "Kept": _function(), "KeptInvoke": _async_invoked("Kept"), "KeptConfig": _failures_to("Kept", "KeptFailures"),
        "KeptFailures": _queue(),
    }, tmp_path / "Probe.template.json")
    # WHEN checkov and cfn-lint run
    dlq_findings = {(f.rule, f.where) for f in tools.checkov([probe]) if f.rule == "CKV_AWS_116"}
    lint_findings = {(f.rule, f.where) for f in tools.cfn_lint([probe]) if f.rule in ("ES6000", "ES1007")}
    # THEN the function whose failures are lost, and the permission invoking it, are reported; the other function,
    #      its permission (written as CDK writes it: the Arn there, a Ref in the config) and its failures' queue are not
    assert dlq_findings == {("CKV_AWS_116", "probe/Probe/Lost")}
    assert lint_findings == {("ES1007", "probe/Probe/LostInvoke")}


def test_a_queue_only_an_event_rule_target_dead_letters_to_is_a_dlq_and_a_lone_queue_is_not(tmp_path):
    # GIVEN a rule whose target's DLQ is a queue, and a queue nothing sends to
    rule = {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.states"]}, "Targets": [
        {"Id": "Target", "Arn": {"Fn::GetAtt": ["Fn", "Arn"]}, "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["RuleDlq", "Arn"]}}}]}}
    probe = template({"Fn": _function(), "Rule": rule, "RuleDlq": _queue(), "Lone": _queue()}, tmp_path / "Probe.template.json")
    # WHEN cfn-lint runs
    found = {(f.rule, f.where) for f in tools.cfn_lint([probe]) if f.rule == "ES6000"}
    # THEN only the lone queue lacks a redrive policy
    assert found == {("ES6000", "probe/Probe/Lone")}


def test_checkov_reports_an_unencrypted_queue_and_accepts_sse_sqs(tmp_path):
    # GIVEN a queue without encryption and one with SQS-managed encryption
    probe = template({
        "Plain": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Encrypted": _queue(),
    }, tmp_path / "Probe.template.json")
    # WHEN checkov's CloudFormation checks run
    found = {(f.rule, f.where) for f in tools.checkov([probe])}
    # THEN only the plain queue is reported
    assert found == {("CKV_AWS_27", "probe/Probe/Plain")}


def test_asl_validator_reports_a_malformed_definition():
    # GIVEN a definition with a malformed ResultPath
    definition = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": "$$$bad", "End": true}}}'
    probe = template({"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": definition}}})
    # WHEN validated
    found = tools.asl_validator(state_machines(probe))
    # THEN the path is reported, on the machine (with what the schema then makes of the state)
    assert {f.where for f in found} == {"probe/Probe/Machine"}
    assert any("/States/A/ResultPath" in f.message for f in found)


@pytest.mark.parametrize("skips", [tools.CFN_LINT_SKIPPED, tools.CFN_LINT_ACCEPTED, tools.CHECKOV_SKIPPED,
                                   tools.CHECKOV_ACCEPTED, tools.ASL_VALIDATOR_SKIPPED])
def test_every_skipped_or_narrowed_rule_says_why(skips):
    reasons = {rule: getattr(entry, "reason", entry) for rule, entry in skips.items()}
    assert all(len(reason.split()) >= 12 for reason in reasons.values()), reasons
