"""The run guard's releaser (handlers/release_guard.py) against a real table in moto."""

from __future__ import annotations

import json

import boto3
import pytest
from weekly_batch.errors import InvalidStatusChange, RunGuardUnavailable
from weekly_batch.handlers import release_guard
from weekly_batch.run_guard import DETAIL_TYPE, parse_status_change, target_date_of

TABLE = "run-guard"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:weekly"
RUN = "arn:aws:states:us-east-1:123456789012:execution:weekly:run-1"
OTHER_RUN = "arn:aws:states:us-east-1:123456789012:execution:weekly:run-2"


def status_change(status: str = "ABORTED", execution: str = RUN, execution_input: object = None, **detail: object) -> dict:
    execution_input = {"targetDate": "2026-11-25"} if execution_input is None else execution_input
    return {
        "version": "0", "id": "e-1", "detail-type": DETAIL_TYPE, "source": "aws.states", "account": "123456789012",
        "time": "2026-11-26T01:00:00Z", "region": "us-east-1", "resources": [execution],
        "detail": {"executionArn": execution, "stateMachineArn": MACHINE, "name": execution.rsplit(":", 1)[1], "status": status,
                   "startDate": 1795654800000, "stopDate": 1795658400000, "input": json.dumps(execution_input),
                   "inputDetails": {"included": True}, **detail},
    }


@pytest.fixture
def guard(aws, monkeypatch):
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "targetDate", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "targetDate", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    monkeypatch.setenv("GUARD_TABLE", TABLE)
    monkeypatch.setenv("BUSINESS_TIMEZONE", "Asia/Tokyo")
    from weekly_batch.aws import client

    client.cache_clear()  # a client made under another test's moto would point at a dead backend

    def put(target_date: str, status: str, execution: str = RUN) -> None:
        dynamodb.put_item(TableName=TABLE, Item={"targetDate": {"S": target_date}, "status": {"S": status},
                                                 "executionId": {"S": execution}})

    def get(target_date: str) -> dict | None:
        item = dynamodb.get_item(TableName=TABLE, Key={"targetDate": {"S": target_date}}).get("Item")
        return {k: next(iter(v.values())) for k, v in item.items()} if item else None

    return put, get


@pytest.mark.parametrize("status", ["ABORTED", "TIMED_OUT", "FAILED"])
def test_a_guard_still_held_at_running_is_released_as_failed(guard, lambda_context, status):
    put, get = guard
    put("2026-11-25", "RUNNING")
    result = release_guard.handler(status_change(status), lambda_context)
    assert result == {"released": True, "targetDate": "2026-11-25", "executionStatus": status}
    assert get("2026-11-25") == {"targetDate": "2026-11-25", "status": "FAILED", "executionId": RUN,
                                 "executionStatus": status, "finishedAt": "2026-11-26T02:00:00.000Z"}


@pytest.mark.parametrize(
    ("held_by", "status"),
    [(RUN, "SUCCEEDED"), (RUN, "FAILED"), (OTHER_RUN, "RUNNING"), (OTHER_RUN, "SUCCEEDED")],
    ids=["own-outcome-succeeded", "own-outcome-failed", "taken-over-by-a-rerun", "rerun-succeeded"],
)
def test_a_recorded_outcome_or_another_runs_guard_is_never_touched(guard, lambda_context, held_by, status):
    # GIVEN the guard records an outcome, or a later run holds it (a late or repeated event)
    put, get = guard
    put("2026-11-25", status, held_by)
    result = release_guard.handler(status_change("ABORTED"), lambda_context)
    assert result["released"] is False and get("2026-11-25") == {"targetDate": "2026-11-25", "status": status,
                                                                  "executionId": held_by}


def test_a_date_without_a_guard_or_an_input_without_a_date_is_left_alone(guard, lambda_context):
    _, get = guard
    assert release_guard.handler(status_change("FAILED"), lambda_context)["released"] is False
    assert get("2026-11-25") is None  # no item created
    bad = release_guard.handler(status_change("FAILED", execution_input={"targetDate": "2026-02-30"}), lambda_context)
    assert bad == {"released": False, "targetDate": None, "executionStatus": "FAILED"}


def test_a_scheduled_input_is_resolved_as_the_run_resolved_it(guard, lambda_context):
    put, get = guard
    put("2026-11-25", "RUNNING")  # Thursday 09:30 JST -> Wednesday
    result = release_guard.handler(status_change("TIMED_OUT", execution_input={"scheduledTime": "2026-11-26T00:30:00Z"}),
                                   lambda_context)
    assert result["released"] is True and get("2026-11-25")["status"] == "FAILED"


def test_an_input_the_event_left_out_is_read_back_from_the_execution(guard, lambda_context):
    # GIVEN an execution whose input the event did not include (AWS leaves out large inputs)
    put, get = guard
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(name="weekly", roleArn="arn:aws:iam::123456789012:role/r",
                                       definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="big",
                                    input=json.dumps({"targetDate": "2026-11-18", "note": "x" * 1000}))["executionArn"]
    put("2026-11-18", "RUNNING", execution)
    event = status_change("ABORTED", execution=execution)
    event["detail"].update(input=None, inputDetails={"included": False})
    # WHEN it is released
    result = release_guard.handler(event, lambda_context)
    # THEN the date came from DescribeExecution
    assert result == {"released": True, "targetDate": "2026-11-18", "executionStatus": "ABORTED"}


def test_a_throttled_table_is_a_named_error_for_lambdas_retries(guard, lambda_context, monkeypatch):
    put, _ = guard
    put("2026-11-25", "RUNNING")
    from botocore.exceptions import ClientError

    class Throttled:  # the table's answer under load (moto cannot be made to throttle in-process)
        def update_item(self, **_: object) -> None:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem")

    monkeypatch.setattr(release_guard, "client", lambda service: Throttled())
    with pytest.raises(RunGuardUnavailable, match="ProvisionedThroughputExceeded"):
        release_guard.handler(status_change("ABORTED"), lambda_context)


@pytest.mark.parametrize(
    "event",
    [{}, [], {"detail-type": "Other", "detail": {}}, {"detail-type": DETAIL_TYPE, "detail": {"status": "FAILED"}},
     {"detail-type": DETAIL_TYPE, "detail": {"executionArn": "x" * 100_000, "status": "FAILED"}}],
)
def test_anything_but_a_status_change_is_a_named_error(event):
    with pytest.raises(InvalidStatusChange) as raised:
        parse_status_change(event)
    assert len(str(raised.value)) < 200


def test_target_dates_agree_with_the_plan():
    assert target_date_of({"targetDate": "2026-11-25", "rerun": True}, zone="Asia/Tokyo") == "2026-11-25"
    assert target_date_of({"scheduledTime": "9999-12-31T23:00:00Z"}, zone="Asia/Tokyo") is None
    assert target_date_of(None, zone="Asia/Tokyo") is None
