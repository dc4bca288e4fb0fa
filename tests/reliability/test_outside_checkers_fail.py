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


def test_an_asynchronously_invoked_function_is_accepted_only_with_an_on_failure_destination(tmp_path):
    # GIVEN a function an EventBridge rule may invoke asynchronously, with or without an on-failure destination
    function = {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "h.handler", "Runtime": "python3.14"}}
    permission = {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com", "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]}}}
    invoke_config = {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
        "FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST",
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Dlq", "Arn"]}}}}}
    with_destination = template({"Fn": function, "Allow": permission, "Config": invoke_config, "Dlq": _queue()},
                                tmp_path / "With.template.json")
    without = template({"Fn": function, "Allow": permission}, tmp_path / "Without.template.json")
    es1007, ckv116 = tools.CFN_LINT_ACCEPTED["ES1007"], tools.CHECKOV_ACCEPTED["CKV_AWS_116"]
    # THEN the permission and the function are accepted only where failed invocations have somewhere to go
    assert es1007.applies(with_destination, "Allow") and not es1007.applies(without, "Allow")
    assert ckv116.applies(with_destination, "Fn") and not ckv116.applies(without, "Fn")
    # AND that destination queue counts as a DLQ (no redrive policy of its own asked of it)
    assert tools.CFN_LINT_ACCEPTED["ES6000"].applies(with_destination, "Dlq")
