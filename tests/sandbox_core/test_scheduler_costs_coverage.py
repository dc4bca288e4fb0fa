"""The sandbox's scheduler, cost model and state coverage, on hand-made inputs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from sandbox.costs import PRICE_PER_EXPRESS_GB_SECOND, PRICE_PER_EXPRESS_REQUEST, estimate_cost_usd
from sandbox.coverage import StateCoverage, entered_states
from sandbox.execution import ExecutionReport
from sandbox.scheduler import Schedule, ScheduleError, fire_times, is_scheduled_time, render_input, schedules_in

TOKYO = ZoneInfo("Asia/Tokyo")


def _schedule(expression: str, zone: str = "Asia/Tokyo", input_template: str = "{}") -> Schedule:
    return Schedule(logical_id="Weekly", expression=expression, timezone=zone, target_logical_id="Machine",
                    input_template=input_template)


def test_thursday_0930_tokyo_is_found_from_a_monday():
    weekly = _schedule("cron(30 9 ? * THU *)")
    (first, second) = fire_times(weekly, after=datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc), count=2)
    assert first == datetime(2026, 11, 26, 9, 30, tzinfo=TOKYO)
    assert second == datetime(2026, 12, 3, 9, 30, tzinfo=TOKYO)
    assert first.astimezone(timezone.utc) == datetime(2026, 11, 26, 0, 30, tzinfo=timezone.utc)


def test_aws_numeric_weekdays_count_from_sunday_as_1():
    # 5 is Thursday in AWS cron (1 = Sunday)
    (first,) = fire_times(_schedule("cron(30 9 ? * 5 *)"), after=datetime(2026, 11, 23, tzinfo=TOKYO), count=1)
    assert first.strftime("%A") == "Thursday"
    assert is_scheduled_time(_schedule("cron(30 9 ? * THU *)"), datetime(2026, 11, 26, 9, 30, tzinfo=TOKYO))
    assert not is_scheduled_time(_schedule("cron(30 9 ? * THU *)"), datetime(2026, 11, 27, 9, 30, tzinfo=TOKYO))


def test_rate_schedules_tick_every_period_from_the_next_minute():
    times = fire_times(_schedule("rate(1 minute)", "UTC"), after=datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc), count=3)
    assert [t.strftime("%H:%M:%S") for t in times] == ["00:01:00", "00:02:00", "00:03:00"]


@pytest.mark.parametrize("expression", ["cron(30 9 * *)", "cron(0 0 * * ? 2027)", "every minute"])
def test_unreadable_expressions_are_named_errors(expression):
    with pytest.raises(ScheduleError):
        fire_times(_schedule(expression), after=datetime(2026, 1, 1, tzinfo=timezone.utc), count=1)


def test_the_input_carries_the_scheduled_time_in_utc():
    schedule = _schedule("cron(30 9 ? * THU *)", input_template='{"scheduledTime": "<aws.scheduler.scheduled-time>", "n": 1}')
    rendered = render_input(schedule, datetime(2026, 11, 26, 9, 30, tzinfo=TOKYO), region="us-east-1", account_id="123456789012")
    assert rendered == {"scheduledTime": "2026-11-26T00:30:00Z", "n": 1}


def test_schedules_are_read_from_a_template_with_their_target():
    template = {"Resources": {
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}},
        "Weekly": {"Type": "AWS::Scheduler::Schedule", "Properties": {
            "ScheduleExpression": "cron(30 9 ? * THU *)", "ScheduleExpressionTimezone": "Asia/Tokyo",
            "Target": {"Arn": {"Ref": "Machine"}, "RoleArn": "r", "Input": '{"t": "<aws.scheduler.scheduled-time>"}'}}},
    }}
    (schedule,) = schedules_in(template)
    assert (schedule.target_logical_id, schedule.timezone) == ("Machine", "Asia/Tokyo")
    template["Resources"]["Weekly"]["Properties"]["Target"]["Arn"] = "arn:aws:lambda:::function:x"
    with pytest.raises(ScheduleError, match="state machine"):
        schedules_in(template)


def _report(kind: str, *, duration_s: float, transitions: int, lambdas: int = 0) -> ExecutionReport:
    return ExecutionReport(execution_arn="arn", state_machine_type=kind, status="SUCCEEDED", output=None, error=None,
                           cause=None, duration_s=duration_s, state_transitions=transitions, lambda_invocations=lambdas,
                           max_state_payload_bytes=0, events=())


def test_express_is_priced_per_request_and_duration_not_transitions():
    # GIVEN the same 4-transition run as Standard and as Express, 0.25 s long
    standard = estimate_cost_usd(_report("STANDARD", duration_s=0.25, transitions=4), {})
    express = estimate_cost_usd(_report("EXPRESS", duration_s=0.25, transitions=4), {"sqs": 2})
    # THEN Standard pays 4 transitions; Express one request plus 0.3 s (100 ms steps) at 64 MB
    assert standard["step_functions"] == pytest.approx(4 * 0.000025)
    assert express["step_functions"] == pytest.approx(PRICE_PER_EXPRESS_REQUEST + 0.3 * (64 / 1024) * PRICE_PER_EXPRESS_GB_SECOND)
    assert express["api_requests"] == pytest.approx(2 * 0.0000005)
    assert express["total"] < standard["total"]


def test_coverage_names_the_states_never_entered():
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Parallel", "Next": "C", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]},
        "C": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "D", "States": {"D": {"Type": "Pass", "End": True}}}},
    }}
    history = [{"type": "ParallelStateEntered", "stateEnteredEventDetails": {"name": "A"}},
               {"type": "PassStateEntered", "stateEnteredEventDetails": {"name": "B"}},
               {"type": "ExecutionSucceeded"}]
    coverage = StateCoverage.of("wf", "Machine", definition, entered_states(history))
    assert coverage.states == ("A", "B", "C", "D") and coverage.missed == ("C", "D") and coverage.percent == 50.0
    assert json.loads(json.dumps(coverage.to_dict()))["entered"] == ["A", "B"]
