"""`$$.Execution.StartTime` is an ISO-8601 string, as in AWS (moto 5.2.5 passes a datetime)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sandbox.emulator import Emulator
from sandbox.engine import context_times

# A definition that carries the start time into its output (json-serialised, as any task parameter is).
START_TIME = {
    "StartAt": "When",
    "States": {"When": {"Type": "Pass", "Parameters": {"started.$": "$$.Execution.StartTime"}, "End": True}},
}


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


def _run(emulator: Emulator) -> dict:
    sfn = emulator.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"times-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(START_TIME),
        roleArn="arn:aws:iam::123456789012:role/sandbox-test",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


def test_the_start_time_reaches_the_definition_as_aws_formats_it(emulator):
    described = _run(emulator)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    started = json.loads(described["output"])["started"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", started)
    assert abs(datetime.fromisoformat(started[:-1] + "+00:00") - described["startDate"].astimezone(timezone.utc)) < timedelta(
        seconds=1
    )


def test_aws_timestamp_is_utc_with_milliseconds():
    moment = datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
    assert context_times.aws_timestamp(moment) == "2026-11-26T00:30:00.123Z"
