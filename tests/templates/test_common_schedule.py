"""stacks/common/schedule.py: a Scheduler schedule that starts one state machine, with retries, an encrypted DLQ,
a depth alarm and a role scoped to that machine."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from stacks.common.notifications import NotificationTopic
from stacks.common.schedule import SCHEDULED_TIME, StateMachineSchedule, StateMachineScheduleProps


def _stack_with(**props):
    stack = cdk.Stack(cdk.App(), "Probe")
    machine = sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P")))
    topic = NotificationTopic(stack, "Notices")
    schedule = StateMachineSchedule(
        stack, "Schedule", props=StateMachineScheduleProps(state_machine=machine, alarm_topic=topic, **props)
    )
    return stack, schedule, Template.from_stack(stack).to_json()


def _only(template, resource_type):
    (found,) = [(lid, r) for lid, r in template["Resources"].items() if r["Type"] == resource_type]
    return found


def test_defaults_start_on_time_with_the_scheduled_time_and_bounded_retries():
    _, _, template = _stack_with()
    _, schedule = _only(template, "AWS::Scheduler::Schedule")
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 day)" and props["ScheduleExpressionTimezone"] == "UTC"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"} and props["State"] == "ENABLED"
    assert json.loads(props["Target"]["Input"]) == {"scheduledTime": SCHEDULED_TIME}
    assert props["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}


def test_the_role_may_only_start_that_machine_and_send_to_its_dlq():
    _, _, template = _stack_with(expression="rate(1 minute)", flexible_window_minutes=5)
    machine_id, _ = _only(template, "AWS::StepFunctions::StateMachine")
    queue_id, queue = _only(template, "AWS::SQS::Queue")
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    _, schedule = _only(template, "AWS::Scheduler::Schedule")
    assert schedule["Properties"]["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert sorted((s["Action"], json.dumps(s["Resource"])) for s in statements) == sorted(
        [
            ("states:StartExecution", json.dumps({"Ref": machine_id})),
            ("sqs:SendMessage", json.dumps({"Fn::GetAtt": [queue_id, "Arn"]})),
        ]
    )
    (trust,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"} and "aws:SourceAccount" in json.dumps(trust)


def test_the_dlq_depth_alarm_goes_to_the_topic():
    _, schedule, template = _stack_with()
    topic_id, _ = _only(template, "AWS::SNS::Topic")
    _, queue_alarm = [
        (lid, a)
        for lid, a in template["Resources"].items()
        if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ][0]
    assert queue_alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}] and queue_alarm["Properties"]["Threshold"] == 1
    assert schedule.dlq_alarm is not None and schedule.dead_letter_queue is not None and schedule.role is not None


@pytest.mark.parametrize(
    "bad",
    [
        {"retry_attempts": 186},
        {"retry_attempts": -1},
        {"maximum_event_age": cdk.Duration.seconds(30)},
        {"flexible_window_minutes": -1},
    ],
)
def test_out_of_range_props_are_refused(bad):
    with pytest.raises(ValueError):
        StateMachineScheduleProps(**bad)


def test_the_target_and_topic_are_required():
    with pytest.raises(ValueError, match="required"):
        StateMachineSchedule(cdk.Stack(cdk.App(), "Probe"), "Schedule", props=StateMachineScheduleProps())
