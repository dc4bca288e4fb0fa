"""Where the local engine is made to behave as AWS does, and where it refuses exactly what it cannot run.

Real moto engine (an `Emulator`), real executions; each test pins the boundary it documents.
"""

from __future__ import annotations

import json
import uuid

import pytest

from sandbox.emulator import Emulator
from sandbox.engine.payload_size import MAX_STATE_PAYLOAD_BYTES, utf8_json_size
from sandbox.engine_limits import find_engine_gaps
from sandbox.execution import ExecutionInputTooLarge, run_execution

SETS_VARIABLE = {"StartAt": "Remember", "States": {"Remember": {"Type": "Pass", "Assign": {"x": 1, "y.$": "$.a"}, "End": True}}}
READS_VARIABLE = {"StartAt": "Remember", "States": {
    "Remember": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Recall"},
    "Recall": {"Type": "Pass", "Parameters": {"y.$": "$x"}, "End": True}}}


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


def _register(emulator: Emulator, definition: dict) -> str:
    return emulator.client("stepfunctions").create_state_machine(
        name=f"fidelity-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sandbox-test")["stateMachineArn"]


def _run_raw(emulator: Emulator, arn: str, execution_input: dict) -> dict:
    """Start directly (no gap check) and wait: what the engine itself does."""
    import time

    sfn = emulator.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))["executionArn"]
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


# ----------------------------------------------------------------------------- variables


def test_setting_variables_is_not_refused_and_runs(emulator):
    # GIVEN a state that only assigns variables
    # THEN the gap check has nothing against it, and the engine runs it
    assert find_engine_gaps(SETS_VARIABLE) == []
    assert _run_raw(emulator, _register(emulator, SETS_VARIABLE), {"a": 1})["status"] == "SUCCEEDED"


def test_reading_a_variable_runs_in_the_emulator(emulator):
    # GIVEN a state reading $x (moto alone failed it with States.Runtime; the sandbox refused it)
    # THEN the gap check has nothing against it
    assert find_engine_gaps(READS_VARIABLE) == []
    # AND the emulator's engine runs it with the variable's value (the full rules: test_jsonata_conformance.py)
    described = _run_raw(emulator, _register(emulator, READS_VARIABLE), {})
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"y": 1}


# ----------------------------------------------------------------------------- payload size

JAPANESE = "日本語のテキスト"  # 8 characters, 24 bytes of UTF-8, 48 bytes as ASCII escapes


def _japanese_document(utf8_bytes: int) -> dict:
    text = JAPANESE * (utf8_bytes // len(JAPANESE.encode()))
    return {"text": text}


def test_payload_size_is_compact_utf8():
    assert utf8_json_size({"k": "é"}) == len('{"k":"é"}'.encode())
    assert utf8_json_size('{"k": "\\u65e5"}') == len('{"k":"日"}'.encode())  # JSON text is re-read


ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize("utf8_bytes", [150_000, MAX_STATE_PAYLOAD_BYTES - 200])
def test_japanese_payloads_under_256_kib_of_utf8_pass(emulator, utf8_bytes):
    # GIVEN Japanese text under AWS's limit in UTF-8, but over it as moto's ASCII-escaped JSON
    document = _japanese_document(utf8_bytes)
    assert utf8_json_size(document) <= MAX_STATE_PAYLOAD_BYTES < len(json.dumps(document))
    # WHEN a state passes it on
    report = run_execution(emulator, state_machine_arn=_register(emulator, ECHO), execution_input=document, timeout_s=60)
    # THEN it succeeds, as in AWS, and the report measures UTF-8
    assert report.status == "SUCCEEDED", report.cause
    assert report.max_state_payload_bytes == utf8_json_size(document)


def test_a_payload_over_the_limit_still_fails_with_data_limit_exceeded(emulator):
    # GIVEN a Pass state that doubles a 150 KB Japanese input (300 KB of UTF-8 out)
    doubling = {"StartAt": "Double", "States": {"Double": {
        "Type": "Pass", "Parameters": {"a.$": "$.text", "b.$": "$.text"}, "End": True}}}
    report = run_execution(emulator, state_machine_arn=_register(emulator, doubling),
                           execution_input=_japanese_document(150_000), timeout_s=60)
    # THEN AWS's limit still applies
    assert report.status == "FAILED" and report.error == "States.DataLimitExceeded"


def test_an_input_over_256_kib_is_rejected_before_starting(emulator):
    arn = _register(emulator, ECHO)
    with pytest.raises(ExecutionInputTooLarge, match="262,144"):
        run_execution(emulator, state_machine_arn=arn, execution_input=_japanese_document(MAX_STATE_PAYLOAD_BYTES + 100))
    assert emulator.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []
