"""State transitions as AWS bills them, also when Map iterations run at once and retry.

A Map over 4 items calls a Lambda; two items make it fail, so each of those is retried twice,
then caught into a Pass state. Hand count (AWS bills the execution start, every state entered,
and every retry):
  execution start 1 + Map 1 + 2 good items x (task 1) + 2 bad items x (task 1 + 2 retries + Pass 1) = 12.
The count must be the same whether the iterations run one by one or all at once.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from sandbox.emulator import Emulator
from sandbox.execution import run_execution

FIXTURES = Path(__file__).parent / "fixtures" / "cloud_assembly"
HAND_COUNT = 12
ITEMS = [{"action": "ok"}, {"action": "bad"}, {"action": "ok"}, {"action": "bad"}]


@pytest.fixture(scope="module")
def deployed():
    with Emulator() as emulator:
        stack = emulator.deploy(stack_name="FixtureStack", template_path=FIXTURES / "FixtureStack.template.json",
                                assets_manifest_path=FIXTURES / "FixtureStack.assets.json")
        function_arn = emulator.client("lambda").get_function(FunctionName=stack.resources["FnA"])["Configuration"]["FunctionArn"]
        yield emulator, function_arn


def _map_machine(emulator: Emulator, function_arn: str, max_concurrency: int) -> str:
    definition = {
        "StartAt": "EachItem",
        "States": {
            "EachItem": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": max_concurrency, "End": True,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "CallFunction",
                    "States": {
                        "CallFunction": {
                            "Type": "Task", "Resource": function_arn, "End": True,
                            "Retry": [{"ErrorEquals": ["BadThing"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}],
                            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recovered"}],
                        },
                        "Recovered": {"Type": "Pass", "End": True},
                    },
                },
            }
        },
    }
    return emulator.client("stepfunctions").create_state_machine(
        name=f"map-{max_concurrency}-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sandbox-test")["stateMachineArn"]


@pytest.mark.parametrize("max_concurrency", [1, 8])
def test_map_iterations_with_retries_are_counted_once_each(deployed, max_concurrency):
    # GIVEN a Map of 4 items (2 failing twice, then caught) at the given concurrency
    emulator, function_arn = deployed
    arn = _map_machine(emulator, function_arn, max_concurrency)
    # WHEN it runs
    report = run_execution(emulator, state_machine_arn=arn, execution_input={"items": ITEMS}, timeout_s=120, poll_interval_s=0.05)
    # THEN every iteration ran, and the transitions match the hand count
    assert report.status == "SUCCEEDED", report.cause
    assert report.lambda_invocations == 2 + 2 * 3
    assert report.state_transitions == HAND_COUNT


def _follow(recorded: dict) -> "object":
    from sandbox.execution import _HistoryFollower

    follower = _HistoryFollower(None, recorded["definition"])
    for event in recorded["events"]:
        follower.consume(event)
    return follower


def test_a_recorded_interleaved_history_is_counted_by_hand():
    # GIVEN a history recorded from the concurrency-8 run above, in which iterations interleave
    #       (a state-name-only count finds 14 here: phantom retries, and lost real ones)
    recorded = json.loads((Path(__file__).parent / "fixtures" / "map_concurrent_retries_history.json").read_text())
    # WHEN the sandbox's follower reads it
    follower = _follow(recorded)
    # THEN each retry is told apart by the state entry it belongs to
    assert follower.transitions == HAND_COUNT


def test_map_and_parallel_events_are_labelled_with_their_map_state():
    recorded = json.loads((Path(__file__).parent / "fixtures" / "map_concurrent_retries_history.json").read_text())
    labels = {(event.type, event.state) for event in _follow(recorded).events}
    assert {state for kind, state in labels if kind.startswith("Map")} == {"EachItem"}
    assert {state for kind, state in labels if kind.startswith("Execution")} == {None}


def test_retries_are_counted_per_state_and_error_in_an_interleaved_history():
    # GIVEN the recorded history above: two items each fail, are retried twice (BadThing), then caught
    from sandbox.execution import retries_by_state

    recorded = json.loads((Path(__file__).parent / "fixtures" / "map_concurrent_retries_history.json").read_text())
    # WHEN its retries are counted, in whatever order the events come
    retries = retries_by_state(reversed(recorded["events"]))
    # THEN 2 items x 2 retries, each after a BadThing, and no retry anywhere else
    assert retries == {"CallFunction": {"BadThing": 4}}
    # AND a history without the failed attempts shows none
    assert retries_by_state([e for e in recorded["events"] if e["id"] not in (28, 29, 30, 31, 32, 33, 34, 35, 36, 41, 42, 43)]) == {}
