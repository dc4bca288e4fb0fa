"""sandbox/engine/status_events: every status change of a STANDARD execution reaches EventBridge in AWS's
shape, rules match it, and a rule's Lambda target is invoked asynchronously (with Lambda's retries).

Real moto (in-process for the events, the embedded server with the local Lambda runtime for a Lambda
target), real rules and targets, no mocks of our code."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sandbox.emulator import Emulator
from sandbox.engine import EngineVersionError
from sandbox.engine import status_events as engine

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"
FIXTURES = Path(__file__).parent / "fixtures" / "cloud_assembly"

MACHINES = {
    "ends-well": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}, "STANDARD"),
    "breaks": ({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}}, "STANDARD"),
    "waits": ({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}, "STANDARD"),
    "too-slow": ({"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}}, "STANDARD"),
    "express": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "EXPRESS"),
}


def wait_until_ended(sfn, arn: str, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


@pytest.fixture()
def aws():
    with engine.status_events(), mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION), boto3.client("events", region_name=REGION), \
            boto3.client("sqs", region_name=REGION)


def test_every_status_change_of_a_standard_execution_reaches_a_matching_rule(aws):
    # GIVEN a rule for Step Functions status changes whose target is an SQS queue, and five machines
    sfn, events, sqs = aws
    queue = sqs.create_queue(QueueName="status")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="status", EventPattern=json.dumps({"source": ["aws.states"], "detail-type": [engine.DETAIL_TYPE]}))
    events.put_targets(Rule="status", Targets=[{"Id": "q", "Arn": queue_arn}])
    arns = {}
    for name, (definition, kind) in MACHINES.items():
        machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, type=kind)
        arns[name] = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run", input='{"day":"2026-11-25"}')["executionArn"]
    # WHEN they end: by themselves, by a Fail state, by StopExecution and by their own TimeoutSeconds
    sfn.stop_execution(executionArn=arns["waits"], error="Operator", cause="stopped by hand")
    ended = {name: wait_until_ended(sfn, arn) for name, arn in arns.items() if name != "express"}
    assert {name: e["status"] for name, e in ended.items()} == {
        "ends-well": "SUCCEEDED", "breaks": "FAILED", "waits": "ABORTED", "too-slow": "TIMED_OUT"}
    for arn in arns.values():
        assert engine.wait_for_events(arn, 10)
    # THEN each STANDARD execution put RUNNING and its final status, in AWS's shape; the EXPRESS one nothing
    received = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        received += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    seen = sorted((e["detail"]["executionArn"].split(":")[-2], e["detail"]["status"]) for e in received)
    assert seen == sorted([(name, status) for name, e in ended.items() for status in ("RUNNING", e["status"])])
    failed = next(e for e in received if e["detail"]["status"] == "FAILED")
    assert failed["source"] == "aws.states" and failed["detail-type"] == engine.DETAIL_TYPE
    assert failed["resources"] == [arns["breaks"]] and failed["region"] == REGION  # (moto's SQS delivery drops "account")
    assert failed["detail"]["error"] == "Broken" and failed["detail"]["cause"] == "on purpose"
    assert failed["detail"]["input"] == '{"day":"2026-11-25"}' and failed["detail"]["stopDate"] >= failed["detail"]["startDate"]
    succeeded = next(e for e in received if e["detail"]["status"] == "SUCCEEDED")
    assert json.loads(succeeded["detail"]["output"]) == {"ok": 1}
    running = next(e for e in received if e["detail"]["status"] == "RUNNING")
    assert running["detail"]["stopDate"] is None and running["detail"]["output"] is None


def test_a_rule_for_other_statuses_or_machines_gets_nothing(aws):
    sfn, events, sqs = aws
    queue = sqs.create_queue(QueueName="aborted-only")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    machine = sfn.create_state_machine(name="ends-well", definition=json.dumps(MACHINES["ends-well"][0]), roleArn=ROLE)
    events.put_rule(Name="aborted", EventPattern=json.dumps({"source": ["aws.states"], "detail": {
        "status": ["ABORTED"], "stateMachineArn": [machine["stateMachineArn"]]}}))
    events.put_targets(Rule="aborted", Targets=[{"Id": "q", "Arn": queue_arn}])
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    assert wait_until_ended(sfn, arn)["status"] == "SUCCEEDED" and engine.wait_for_events(arn, 10)
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []) == []


def test_install_refuses_other_moto_versions(monkeypatch):
    import moto

    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(EngineVersionError, match="status_events"):
        with engine.status_events():
            pass


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


def test_a_lambda_target_is_invoked_with_the_event_and_retried_twice_when_it_fails(emulator):
    # GIVEN the fixture stack's function as the target of two rules: one sends the event, one an Input making it fail
    stack = emulator.deploy(stack_name="StatusEventsFixture", template_path=FIXTURES / "FixtureStack.template.json",
                            assets_manifest_path=FIXTURES / "FixtureStack.assets.json")
    function_arn = emulator.client("lambda").get_function(FunctionName=stack.resources["FnA"])["Configuration"]["FunctionArn"]
    sfn, events = emulator.client("stepfunctions"), emulator.client("events")
    machine = sfn.create_state_machine(name="breaks", definition=json.dumps(MACHINES["breaks"][0]), roleArn=ROLE)
    pattern = json.dumps({"source": ["aws.states"], "detail": {"status": ["FAILED"]}})
    events.put_rule(Name="as-is", EventPattern=pattern)
    events.put_targets(Rule="as-is", Targets=[{"Id": "fn", "Arn": function_arn}])
    events.put_rule(Name="failing", EventPattern=pattern)
    events.put_targets(Rule="failing", Targets=[{"Id": "fn", "Arn": function_arn, "Input": '{"action": "bad"}'}])
    before = emulator.lambda_runtime.invocations[stack.resources["FnA"]]
    # WHEN an execution fails
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    assert wait_until_ended(sfn, arn)["status"] == "FAILED"
    assert engine.wait_for_events(arn, 30)
    # THEN the function ran once with the event, and three times (1 + Lambda's 2 retries) for the failing rule
    by_rule = {d.rule: d for d in engine.deliveries() if d.execution_arn == arn}
    assert set(by_rule) == {"as-is", "failing"}
    assert by_rule["as-is"].outcome == "delivered" and by_rule["as-is"].attempts == 1
    assert by_rule["as-is"].result["action"] == "ok" and by_rule["as-is"].status == "FAILED"
    assert by_rule["failing"].outcome == "failed" and by_rule["failing"].attempts == 3 and "BadThing" in by_rule["failing"].error
    assert emulator.lambda_runtime.invocations[stack.resources["FnA"]] - before == 4
