"""Small templates and definitions for proving that each check fails on what it must catch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.checks import Template

LAMBDA_ERRORS = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                 "Lambda.TooManyRequestsException"]
GOOD_RETRY = {"ErrorEquals": LAMBDA_ERRORS, "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2,
              "MaxDelaySeconds": 4, "JitterStrategy": "FULL"}
NOTICE_RESOURCE = "arn:aws:states:::sns:publish"
FUNCTION = "${Fn}"  # where function Fn's ARN goes: CDK writes it as an Fn::GetAtt token in an Fn::Join


def template(resources: dict[str, Any], path: Path | None = None, **sections: Any) -> Template:
    body = {"Resources": resources, **sections}
    if path is not None:
        path.write_text(json.dumps(body, indent=1))
    return Template("probe", "Probe", path or Path("Probe.template.json"), body)


def lambda_task(**overrides: Any) -> dict[str, Any]:
    """A Task invoking function Fn, timed and retried as the rules want; an override of None removes that field."""
    state = {"Type": "Task", "Resource": FUNCTION, "TimeoutSeconds": 30, "Retry": [GOOD_RETRY], **overrides}
    return {key: value for key, value in state.items() if value is not None}


def machine_template(states: dict[str, Any], *, start: str | None = None, alarms: bool = True, join: bool = True,
                     extra: dict[str, Any] | None = None, **definition: Any) -> Template:
    """A template with one function `Fn` (timeout 10 s), a topic, and a state machine of `states`; its
    definition written as CDK writes it (an Fn::Join with tokens) unless join=False. A top-level field given as
    None is left out."""
    asl = {"StartAt": start or next(iter(states)), "TimeoutSeconds": 300, **definition, "States": states}
    asl = {key: value for key, value in asl.items() if value is not None}
    text = json.dumps(asl)
    if join:
        pieces = text.split(FUNCTION)
        parts: list[Any] = [pieces[0]]
        for piece in pieces[1:]:
            parts += [{"Fn::GetAtt": ["Fn", "Arn"]}, piece]
        definition_string: Any = {"Fn::Join": ["", parts]}
    else:
        definition_string = text.replace(FUNCTION, "arn:aws:lambda:us-east-1:123456789012:function:fn")
    resources: dict[str, Any] = {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 10, "Role": {"Fn::GetAtt": ["FnRole", "Arn"]}}},
        "FnRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": definition_string}},
    }
    if alarms:
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
            resources[f"Machine{metric}"] = alarm("AWS/States", metric, "StateMachineArn", {"Ref": "Machine"})
    return template({**resources, **(extra or {})})


def alarm(namespace: str, metric: str, dimension: str, value: Any, *, actions: bool = True) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "Namespace": namespace, "MetricName": metric, "Dimensions": [{"Name": dimension, "Value": value}],
        "Threshold": 1, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        **({"AlarmActions": [{"Ref": "Topic"}]} if actions else {})}}


def notice_then_fail(next_state: str = "Failed") -> dict[str, Any]:
    return {
        "Notify": {"Type": "Task", "Resource": NOTICE_RESOURCE, "TimeoutSeconds": 30,
                   "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message.$": "$.error"}, "Next": next_state},
        "Failed": {"Type": "Fail", "Error": "WorkflowFailed"},
    }
