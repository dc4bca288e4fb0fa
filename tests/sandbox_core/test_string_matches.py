"""sandbox/engine/string_matches: Choice StringMatches compares as AWS does (only `*` is a wildcard).

Real moto in-process, a real Choice state; no mocks."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from sandbox.engine.string_matches import aws_string_matches, string_matches


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ('["a","b"]', '["*"]', True),  # fnmatch: a one-character class, never this
        ('["a",5]', '["*"]', False),
        ("a?c", "a?c", True),
        ("abc", "a?c", False),  # fnmatch: ? is any character
        ("[x]", "[x]", True),
        ("x", "[x]", False),  # fnmatch: a class holding x
        ("log-*.txt", "log-\\*.txt", True),  # \* is a literal star
        ("log-1.txt", "log-\\*.txt", False),
        ("a\\b", "a\\\\b", True),  # \\ is a literal backslash
        ("", "*", True),
        ("multi\nline", "multi*", True),
        (5, "*", False),  # only strings match
    ],
)
def test_only_the_star_is_a_wildcard(value, pattern, expected):
    assert string_matches(value, pattern) is expected


def test_a_choice_in_the_engine_uses_aws_rules():
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.text", "StringMatches": '["*"]', "Next": "Yes"}], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": {"branch": "yes"}, "End": True},
            "No": {"Type": "Pass", "Result": {"branch": "no"}, "End": True},
        },
    }
    with aws_string_matches(), mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
        outputs = []
        for index, text in enumerate(('["a","b"]', '["a",5]')):
            execution = sfn.start_execution(stateMachineArn=arn, name=f"run-{index}", input=json.dumps({"text": text}))["executionArn"]
            deadline = time.monotonic() + 20
            while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            outputs.append(json.loads(described["output"])["branch"])
    assert outputs == ["yes", "no"]
