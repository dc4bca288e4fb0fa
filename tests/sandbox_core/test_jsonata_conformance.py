"""Conformance of the sandbox's engine to AWS's JSONata and variables, from data files.

Each case in tests/sandbox_core/conformance/*.json (except jsonata_language.json) holds a definition
taken from AWS's documentation (its `source` URL; `aws_recorded` names where the exact cause text or
history was recorded against AWS), an input and what AWS gives: status and output, or error and
cause, or a refused CreateStateMachine; where known, the history's event types and the variables
each state assigned. Every case runs twice:

(a) through the real engine: moto's Step Functions in process (mock_aws, execution enabled) with
    the sandbox's extensions installed, CreateStateMachine / StartExecution / GetExecutionHistory;
(b) as plain unit tests of the evaluator (sandbox.engine.jsonata.evaluate): each expression of the
    case with its bindings and its expected value or error.

jsonata_language.json holds the JSONata documentation's own examples: the evaluator must give them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.engine import install_extensions
from sandbox.engine.jsonata import QueryEvaluationError, evaluate

CONFORMANCE = Path(__file__).parent / "conformance"
LANGUAGE_FILE = "jsonata_language.json"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/conformance"
MACHINE_NAME = "conformance"
UNDEFINED = "undefined"


def _load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CONFORMANCE.glob("*.json")):
        if path.name == LANGUAGE_FILE:
            continue
        for case in json.loads(path.read_text())["cases"]:
            cases.append({**case, "file": path.name})
    return cases


CASES = _load_cases()
EVALUATIONS = [(f"{case['name']}[{index}]", evaluation)
               for case in CASES for index, evaluation in enumerate(case["evaluations"])]
LANGUAGE = json.loads((CONFORMANCE / LANGUAGE_FILE).read_text())


def same_json(actual: Any, expected: Any) -> bool:
    """JSON equality: 2 == 2.0, but True is not 1 and key order does not matter."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same_json, actual, expected))
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and set(actual) == set(expected)
                and all(same_json(actual[key], expected[key]) for key in expected))
    return actual == expected


def mismatches(run: dict[str, Any], case: dict[str, Any]) -> list[str]:
    """What a run of ``case`` did differently from what AWS does (empty when it conforms)."""
    expect = case["expect"]
    found: list[str] = []
    if "create_error" in expect:
        if run.get("create_error") is None or expect["create_error"] not in run["create_error"]:
            found.append(f"CreateStateMachine should fail naming {expect['create_error']!r}, got {run.get('create_error')!r}")
        return found
    if run.get("create_error") is not None:
        return [f"CreateStateMachine failed: {run['create_error']}"]
    if run["status"] != expect["status"]:
        found.append(f"status {run['status']} != {expect['status']} (error {run.get('error')!r}: {run.get('cause')!r})")
    if "output" in expect and not same_json(run.get("output"), expect["output"]):
        found.append(f"output {json.dumps(run.get('output'), ensure_ascii=False)} != {json.dumps(expect['output'], ensure_ascii=False)}")
    for key in ("error", "cause"):
        if key in expect and run.get(key) != expect[key]:
            found.append(f"{key} {run.get(key)!r} != {expect[key]!r}")
    if "cause_contains" in expect and expect["cause_contains"] not in (run.get("cause") or ""):
        found.append(f"cause {run.get('cause')!r} lacks {expect['cause_contains']!r}")
    if "history" in case and run["history"] != case["history"]:
        found.append(f"history {run['history']} != {case['history']}")
    for state, variables in case.get("assigned", {}).items():
        if run["assigned"].get(state) != variables:
            found.append(f"{state} assigned {run['assigned'].get(state)} != {variables}")
    return found


# --------------------------------------------------------------------------- (a) the real engine


@pytest.fixture(scope="module")
def engine():
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)  # failures are in the history
    with install_extensions(), mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION), boto3.client("s3", region_name=REGION)


def run_case(sfn: Any, s3: Any, case: dict[str, Any]) -> dict[str, Any]:
    for bucket in case.get("setup", {}).get("buckets", []):
        s3.create_bucket(Bucket=bucket)
    try:
        try:
            arn = sfn.create_state_machine(name=MACHINE_NAME, definition=json.dumps(case["definition"]),
                                           roleArn=ROLE)["stateMachineArn"]
        except sfn.exceptions.ClientError as exc:  # InvalidDefinition and the like
            return {"create_error": str(exc)}
        try:
            execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(case["input"]))["executionArn"]
            deadline = time.monotonic() + 30
            while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                assert time.monotonic() < deadline, f"{case['name']} did not finish"
                time.sleep(0.01)
            events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
            return {"status": described["status"], "error": described.get("error"), "cause": described.get("cause"),
                    "output": json.loads(described["output"]) if "output" in described else None,
                    "history": [event["type"] for event in events],
                    "assigned": {event["stateExitedEventDetails"]["name"]: event["stateExitedEventDetails"]["assignedVariables"]
                                 for event in events if "assignedVariables" in event.get("stateExitedEventDetails", {})}}
        finally:
            sfn.delete_state_machine(stateMachineArn=arn)
    finally:
        for bucket in case.get("setup", {}).get("buckets", []):
            for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):  # a ResultWriter's files
                s3.delete_object(Bucket=bucket, Key=listed["Key"])
            s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case_runs_in_the_engine_as_in_aws(engine, case):
    # GIVEN a definition from AWS's documentation and its input
    sfn, s3 = engine
    # WHEN the sandbox's engine runs it
    run = run_case(sfn, s3, case)
    # THEN it gives what AWS gives
    assert mismatches(run, case) == []


# --------------------------------------------------------------------------- (b) the evaluator alone


@pytest.mark.parametrize(("name", "evaluation"), EVALUATIONS, ids=[name for name, _ in EVALUATIONS])
def test_case_expression_evaluates_as_in_aws(name, evaluation):
    # GIVEN one expression of a case with the $states and variables it sees there
    def run() -> Any:
        return evaluate(evaluation["expression"], location=evaluation.get("location", ""),
                        states=evaluation.get("states"), variables=evaluation.get("variables"))

    # WHEN it is evaluated THEN it gives AWS's value, or AWS's error
    if "error_cause" in evaluation:
        with pytest.raises(QueryEvaluationError) as raised:
            run()
        assert raised.value.error == "States.QueryEvaluationError"
        assert raised.value.cause == evaluation["error_cause"]
    elif "predicate" in evaluation:
        assert evaluate(evaluation["predicate"], variables={"value": run()}) is True
    else:
        assert same_json(run(), evaluation["result"])


@pytest.mark.parametrize("example", LANGUAGE["cases"], ids=[f"{i}:{c['expression']}" for i, c in enumerate(LANGUAGE["cases"])])
def test_jsonata_documentation_example(example):
    # GIVEN an example of the JSONata documentation and the document it queries (its context)
    document = LANGUAGE["documents"].get(example.get("document", ""))
    # WHEN evaluated THEN it gives the documented result (undefined: AWS's "returned nothing" error)
    if example["result"] == UNDEFINED:
        with pytest.raises(QueryEvaluationError, match="returned nothing"):
            evaluate(example["expression"], context=document)
    else:
        assert same_json(evaluate(example["expression"], context=document), example["result"])


# --------------------------------------------------------------------------- the suite itself


def test_every_case_names_its_aws_source_and_has_an_expectation():
    assert len(CASES) >= 30
    for case in CASES:
        assert case["source"].startswith("https://docs.aws.amazon.com/step-functions/"), case["name"]
        assert {"status", "create_error"} & set(case["expect"]), case["name"]
    assert len({case["name"] for case in CASES}) == len(CASES)


def test_the_comparison_catches_a_wrong_output_error_history_and_assignment():
    # GIVEN a run that differs from the case in each respect the suite checks
    case = {"expect": {"status": "SUCCEEDED", "output": {"a": 1}, "error": None},
            "history": ["ExecutionStarted", "ExecutionSucceeded"], "assigned": {"S": {"x": "1"}}}
    run = {"status": "FAILED", "output": {"a": True}, "error": "States.Runtime", "cause": "c",
           "history": ["ExecutionStarted", "ExecutionFailed"], "assigned": {"S": {"x": "2"}}}
    # THEN every difference is reported
    found = mismatches(run, case)
    assert [item.split(" ")[0] for item in found] == ["status", "output", "error", "history", "S"]
    # AND a conforming run reports none
    good = {"status": "SUCCEEDED", "output": {"a": 1.0}, "error": None, "cause": None,
            "history": ["ExecutionStarted", "ExecutionSucceeded"], "assigned": {"S": {"x": "1"}}}
    assert mismatches(good, case) == []
    assert not same_json(1, True) and not same_json([1], [1, 2]) and not same_json({"a": 1}, {"a": 1, "b": 2})
