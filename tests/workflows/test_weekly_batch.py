"""weekly-batch run offline: the synthesized stack in moto, handlers from the assets,
bqemulator behind the BigQuery stand-in, a real Slack webhook receiver.

Every test uses its own target date: the run-once guard remembers each date.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timezone

import pytest

from sandbox.engine.status_events import deliveries, wait_for_events
from sandbox.scheduler import ScheduleError
from tests.workflows.notices import notice_inbox

WORKFLOW = "weekly-batch"


@pytest.fixture(scope="module")
def workflow(sandbox):
    return sandbox.deploy(WORKFLOW)


@pytest.fixture(scope="module")
def notices(workflow):
    """An SQS queue subscribed to the workflow's notice topic: what the on-call would receive."""
    return notice_inbox(workflow)


def guard_item(workflow, target_date: str) -> dict | None:
    (table,) = [workflow.stack.resources[lid] for lid, t in workflow.stack.resource_types.items() if t == "AWS::DynamoDB::Table"]
    item = workflow.emulator.client("dynamodb").get_item(TableName=table, Key={"targetDate": {"S": target_date}}).get("Item")
    return {key: next(iter(value.values())) for key, value in item.items()} if item else None


def slack_texts(workflow) -> list[str]:
    return [message["text"] for message in workflow.scenario.slack.messages]


def entered(report, state: str) -> int:
    return sum(1 for event in report.events if event.type.endswith("StateEntered") and event.state == state)


def test_rows_present_insert_the_week_with_two_slack_messages(workflow, notices):
    # GIVEN 3 rows for the target date at the first check
    report = workflow.run({"targetDate": "2026-10-14"}, standins={"bigquery": {"rows": "3"}})
    # THEN one check, the week MERGEd, Slack told "starting" and "done", the guard records success
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["outcome"] == "inserted" and report.output["rowsFound"] == 3 and report.output["checks"] == 1
    assert report.output["weekStart"] == "2026-10-08" and report.output["rowsAffected"] == 3
    messages = workflow.scenario.slack.messages
    assert [m["username"] for m in messages] == ["データ更新を確認した猫", "データ更新を終えた猫"]
    assert "2026-10-08〜2026-10-14" in messages[1]["text"]
    assert set(report.output["notices"]) == {"starting", "succeeded"}
    assert all(n["delivered"] for n in report.output["notices"].values())
    assert guard_item(workflow, "2026-10-14")["status"] == "SUCCEEDED"
    assert [row[2:] for row in workflow.scenario.bigquery.target_rows(date(2026, 10, 8))] == [
        ("u1", 7, 61),
        ("u2", 7, 62),
        ("u3", 1, 3),
    ]
    assert report.state_transitions == 9 and report.lambda_invocations == 5
    assert notices() == []


def test_rows_arriving_after_two_waits(workflow):
    # GIVEN the rows appear after 2 empty checks
    report = workflow.run({"targetDate": "2026-10-21"}, standins={"bigquery": {"appear_after_checks": "2", "rows": "2"}})
    # THEN 3 checks with 2 waits between, and Slack heard "waiting" twice before "starting" and "done"
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["checks"] == 3 and entered(report, "WaitForData") == 2
    assert [m["username"] for m in workflow.scenario.slack.messages] == ["データ更新を待つ猫"] * 2 + [
        "データ更新を確認した猫",
        "データ更新を終えた猫",
    ]
    assert "1秒待って再実行します" in slack_texts(workflow)[0] and "1/4" in slack_texts(workflow)[0]
    # each wait loop: CheckRows, RowsReady, NotifyWaiting, WaitForData
    assert report.state_transitions == 9 + 2 * 4 and report.lambda_invocations == 5 + 2 * 2


def test_data_that_never_arrives_gives_up_after_max_checks(workflow, notices):
    notices()
    # GIVEN no rows, ever
    report = workflow.run({"targetDate": "2026-10-28"}, standins={"bigquery": {"rows": "0"}})
    # THEN the loop stops at max_checks (4 locally), Slack hears "gave up", and it fails DataNotReady
    assert report.status == "FAILED" and report.error == "DataNotReady"
    assert entered(report, "CheckRows") == 4 and entered(report, "WaitForData") == 3
    assert workflow.scenario.bigquery.stats()["checks"] == 4
    assert "4 回確認しても更新されなかった" in slack_texts(workflow)[-1] and len(slack_texts(workflow)) == 3 + 1
    assert "no rows for 2026-10-28 after 4 checks" in report.cause
    assert guard_item(workflow, "2026-10-28")["status"] == "FAILED"
    (notice,) = notices()
    assert notice["error"] == "DataNotReady"


def test_bigquery_failing_transiently_is_retried_then_succeeds(workflow):
    report = workflow.run({"targetDate": "2026-11-04"}, standins={"bigquery": {"fail_mode": "5xx", "fail_times": "1"}})
    assert report.status == "SUCCEEDED", report.cause
    retried = [e for e in report.events if e.type == "LambdaFunctionFailed" and e.state == "CheckRows"]
    assert len(retried) == 1 and "BigQueryUnavailable" in retried[0].detail
    assert workflow.scenario.bigquery.stats()["failures_injected"] == 1


def test_bigquery_failing_permanently_notifies_failure_and_fails_with_its_name(workflow, notices):
    notices()
    report = workflow.run({"targetDate": "2026-11-11"}, standins={"bigquery": {"fail_mode": "auth", "fail_times": "-1"}})
    assert report.status == "FAILED" and report.error == "BigQueryAuthFailed"
    assert entered(report, "CheckRows") == 1 and workflow.scenario.bigquery.stats()["failures_injected"] == 3  # 1 + 2 retries
    (text,) = slack_texts(workflow)
    assert "失敗しました: BigQueryAuthFailed" in text and "stackTrace" not in text
    assert guard_item(workflow, "2026-11-11")["status"] == "FAILED"
    (notice,) = notices()
    assert notice["error"] == "BigQueryAuthFailed"


def test_an_insert_error_notifies_failure_and_fails_with_its_name(workflow):
    report = workflow.run(
        {"targetDate": "2026-09-02"}, standins={"bigquery": {"fail_on": "insert", "fail_mode": "4xx", "fail_times": "-1"}}
    )
    assert report.status == "FAILED" and report.error == "BigQueryRejected"
    # 4xx is not retried: one insert attempt
    assert workflow.scenario.bigquery.stats()["failures_injected"] == 1
    assert [m["username"] for m in workflow.scenario.slack.messages] == ["データ更新を確認した猫", "処理の失敗を知らせる猫"]


def test_slack_down_does_not_stop_the_batch_and_the_missed_notices_are_recorded(workflow):
    report = workflow.run({"targetDate": "2026-09-09"}, standins={"slack": {"fail_mode": "5xx", "fail_times": "-1"}})
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["outcome"] == "inserted"
    for kind in ("starting", "succeeded"):
        assert report.output["notices"][kind]["Error"] == "SlackUnavailable"
    assert workflow.scenario.slack.messages == [] and len(workflow.scenario.slack.requests) == 2 * 3  # 1 + 2 retries each


def test_slack_asking_to_wait_an_hour_is_not_hammered_and_its_real_wait_is_reported(workflow):
    # GIVEN Slack answers every post 429 with Retry-After: 3600 (the notifier has 20 s locally)
    report = workflow.run({"targetDate": "2026-09-23"}, standins={"slack": {"fail_mode": "429", "fail_times": "-1",
                                                                            "retry_after_seconds": "3600"}})
    # THEN the batch goes on, each notice gives up after one post (no retry can honour an hour),
    # and what was missed says how long Slack asked to wait
    assert report.status == "SUCCEEDED", report.cause
    assert len(workflow.scenario.slack.requests) == 2 and workflow.scenario.slack.messages == []
    for kind in ("starting", "succeeded"):
        missed = report.output["notices"][kind]
        assert missed["Error"] == "SlackRateLimited" and "Retry-After 3600s" in missed["Cause"], missed
    # AND the state machine did not retry them either: one failed invocation per notice
    assert [e.state for e in report.events if e.type == "LambdaFunctionFailed"] == ["NotifyStarting", "NotifySucceeded"]


def test_the_schedule_fired_twice_runs_one_batch_with_no_duplicate_notices(workflow):
    # GIVEN the scheduler delivers the same Thursday 09:30 JST event twice
    at = datetime(2026, 12, 3, 0, 30, tzinfo=timezone.utc)
    report = workflow.fire(at=at, times=2)
    first, second = (fire.execution for fire in report.fires)
    # THEN the first inserts yesterday's (Tokyo) week, the second ends at once with "already ran"
    assert first.status == second.status == "SUCCEEDED"
    assert first.output["outcome"] == "inserted" and first.output["targetDate"] == "2026-12-02"
    assert second.output == {"outcome": "already ran", "targetDate": "2026-12-02"}
    assert entered(second, "CheckRows") == 0 and second.lambda_invocations == 1
    assert len(workflow.scenario.slack.messages) == 2 and report.outside_world["bigquery"]["inserts"] == 1


@pytest.mark.parametrize("at", [datetime(2026, 12, 3, 0, 31, tzinfo=timezone.utc),  # Thursday 09:31 JST
                                datetime(2026, 12, 2, 0, 30, tzinfo=timezone.utc),  # Wednesday 09:30 JST
                                datetime(2026, 12, 3, 0, 30, 15, tzinfo=timezone.utc)])  # 15 s past the minute
def test_firing_at_a_time_the_schedule_never_fires_is_refused_naming_its_next_times(workflow, at):
    # WHEN a user asks the sandbox to fire the schedule at a time it would never fire at
    with pytest.raises(ScheduleError, match=r"never fires at that time; it fires next at 2026-12-(03|10)T00:30:00Z"):
        workflow.fire(at=at)


def test_a_failed_date_is_rerun_only_when_asked(workflow):
    # GIVEN a run for the date that failed
    failed = workflow.run({"targetDate": "2026-09-16"}, standins={"bigquery": {"fail_mode": "5xx", "fail_times": "-1"}})
    assert failed.status == "FAILED"
    # WHEN it is started again without asking for a re-run, THEN nothing happens
    again = workflow.run({"targetDate": "2026-09-16"})
    assert again.output == {"outcome": "already ran", "targetDate": "2026-09-16"} and workflow.scenario.slack.messages == []
    # WHEN it is re-run deliberately, THEN the batch runs
    rerun = workflow.run({"targetDate": "2026-09-16", "rerun": True})
    assert rerun.status == "SUCCEEDED" and rerun.output["outcome"] == "inserted"
    assert guard_item(workflow, "2026-09-16")["status"] == "SUCCEEDED"
    # AND a succeeded date is never re-run, even when asked
    assert workflow.run({"targetDate": "2026-09-16", "rerun": True}).output["outcome"] == "already ran"


def test_the_deployed_insert_run_twice_leaves_the_same_rows(workflow):
    # GIVEN a week inserted by the workflow
    report = workflow.run({"targetDate": "2026-08-26"})
    assert report.status == "SUCCEEDED"
    before = workflow.scenario.bigquery.target_rows(date(2026, 8, 20))
    # WHEN the deployed insert function runs again for that week (e.g. a retry after a lost answer)
    (function,) = [
        workflow.stack.resources[lid]
        for lid, t in workflow.stack.resource_types.items()
        if t == "AWS::Lambda::Function" and "InsertFunction" in lid
    ]
    answer = workflow.emulator.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps({"weekStart": "2026-08-20", "weekEnd": "2026-08-26"})
    )
    assert "FunctionError" not in answer
    # THEN the target holds exactly the same rows
    assert workflow.scenario.bigquery.target_rows(date(2026, 8, 20)) == before and len(before) == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"targetDate": "2026-02-30"},
        {"targetDate": "2026/11/18"},
        {"targetDate": "next thursday"},
        {"targetDate": "0001-01-03"},  # its week would start before year 1
        {"scheduledTime": "9999-12-31T23:00:00Z"},  # already year 10000 in Tokyo
        {"scheduledTime": "9" * 200_000},  # a cause repeating it would pass the 256 KiB state limit
    ],
    ids=["Feb-30", "slashes", "words", "week-before-year-1", "Tokyo-in-year-10000", "200-KB"],
)
def test_a_malformed_target_date_is_a_named_error_and_nothing_is_written(workflow, notices, bad):
    notices()  # drop what earlier runs sent
    report = workflow.run(bad)
    assert report.status == "FAILED" and report.error == "InvalidTargetDate"
    assert entered(report, "AcquireRunGuard") == 0 and guard_item(workflow, str(bad.get("targetDate"))[:1000]) is None
    assert workflow.scenario.bigquery.stats()["queries"] == 0 and workflow.scenario.slack.messages == []
    (notice,) = notices()
    assert notice["error"] == "InvalidTargetDate" and len(report.cause) < 10_000  # bounded: never the whole input


# ---- the run guard whatever way a run ends (ABORTED, TIMED_OUT, FAILED past MarkRunFailed) ------------------


def releases_of(execution_arn: str) -> list:
    """What the execution-status rule's target (the deployed releaser) did for this execution."""
    return [d for d in deliveries() if d.execution_arn == execution_arn]


def assert_released_then_rerun_only_when_asked(workflow, target_date: str, ended_as: str, execution_arn: str) -> None:
    # THEN the deployed rule ran the deployed releaser once, and it released the guard
    (release,) = releases_of(execution_arn)
    assert release.outcome == "delivered" and release.status == ended_as, release
    assert release.result == {"released": True, "targetDate": target_date, "executionStatus": ended_as}
    guard = guard_item(workflow, target_date)
    assert guard["status"] == "FAILED" and guard["executionStatus"] == ended_as and guard["executionId"] == execution_arn
    # AND a start that does not ask for a re-run still does nothing, while a deliberate re-run proceeds
    again = workflow.run({"targetDate": target_date})
    assert again.output == {"outcome": "already ran", "targetDate": target_date}
    rerun = workflow.run({"targetDate": target_date, "rerun": True})
    assert rerun.status == "SUCCEEDED" and rerun.output["outcome"] == "inserted", rerun.cause
    assert guard_item(workflow, target_date)["status"] == "SUCCEEDED"
    # AND the rule ignores those two successful runs
    assert releases_of(again.execution_arn) == releases_of(rerun.execution_arn) == []


def test_an_aborted_run_releases_its_guard_so_a_deliberate_rerun_proceeds(workflow):
    # GIVEN a run waiting for rows that never come, holding its date's guard
    target_date = "2026-08-05"
    workflow.scenario.configure(workflow.spec.validate_standins({"bigquery": {"rows": "0"}}))
    sfn = workflow.emulator.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=workflow.state_machine_arn, input=json.dumps({"targetDate": target_date}))["executionArn"]
    deadline = time.monotonic() + 30
    while (guard_item(workflow, target_date) or {}).get("status") != "RUNNING":
        assert time.monotonic() < deadline, "the run never took its guard"
        time.sleep(0.1)
    # WHEN an operator stops it (StopExecution: no state of the definition runs after that)
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the run did not stop"
        time.sleep(0.1)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED" and wait_for_events(arn, 60)
    assert_released_then_rerun_only_when_asked(workflow, target_date, "ABORTED", arn)


def test_a_run_that_timed_out_releases_its_guard_so_a_deliberate_rerun_proceeds(workflow):
    # GIVEN Slack asking to wait 10 s at every post (the notifier, 15 s locally, waits it once per notice) and rows
    # that come only at the third check: the run outlives the execution timeout (30 s locally) holding its guard
    target_date = "2026-08-12"
    report = workflow.run({"targetDate": target_date}, standins={
        "slack": {"fail_mode": "429", "fail_times": "-1", "retry_after_seconds": "10"},
        "bigquery": {"appear_after_checks": "2"}})
    assert report.status == "TIMED_OUT" and entered(report, "InsertWeek") == 0
    notifier = next(name for lid, name in workflow.stack.resources.items() if "NotifyFunction" in lid
                    and workflow.stack.resource_types[lid] == "AWS::Lambda::Function")
    while workflow.emulator.lambda_runtime.running(notifier):  # the notice in flight when it timed out, as in AWS
        time.sleep(0.2)
    assert_released_then_rerun_only_when_asked(workflow, target_date, "TIMED_OUT", report.execution_arn)


def test_a_failed_run_that_could_not_record_its_outcome_releases_its_guard(workflow, notices):
    # GIVEN BigQuery refusing every check and the guard table throttling every update by the state machine
    notices()
    target_date = "2026-08-19"
    report = workflow.run({"targetDate": target_date}, standins={
        "bigquery": {"fail_mode": "auth", "fail_times": "-1"}, "guard": {"fail_on": "record", "fail_times": "-1"}})
    # THEN MarkRunFailed was retried, then caught: the run failed with the error's name and its notice
    assert report.status == "FAILED" and report.error == "BigQueryAuthFailed"
    retried = [e for e in report.events if e.type == "TaskFailed" and e.state == "MarkRunFailed"]
    assert len(retried) == 3 and "ProvisionedThroughputExceeded" in retried[0].detail  # 1 + 2 retries
    assert report.outside_world["guard"]["faults_injected"] == {"UpdateItem": 3}
    (notice,) = notices()
    assert notice["error"] == "BigQueryAuthFailed"
    assert_released_then_rerun_only_when_asked(workflow, target_date, "FAILED", report.execution_arn)


def test_a_batch_whose_success_cannot_be_recorded_fails_after_a_notice_and_its_guard_is_released(workflow, notices):
    # GIVEN rows ready, and the guard table refusing every update by the state machine (so SUCCEEDED cannot be written)
    notices()
    target_date = "2026-06-17"
    report = workflow.run({"targetDate": target_date}, standins={"guard": {"fail_on": "record", "fail_times": "-1"}})
    # THEN the week was inserted and announced, MarkRunSucceeded was retried then caught, and the run fails loudly
    # instead of succeeding with a guard stuck at RUNNING
    assert [e.state for e in report.events if e.type == "TaskFailed"].count("MarkRunSucceeded") == 3  # 1 + 2 retries
    assert report.status == "FAILED" and "ProvisionedThroughputExceeded" in report.error + report.cause
    assert workflow.scenario.bigquery.target_rows(date(2026, 6, 11))
    (notice,) = notices()
    assert notice["workflow"] == "weekly-batch" and notice["execution"] == report.execution_arn
    # AND the status-event rule released the guard, so a deliberate re-run can MERGE the same rows again
    assert_released_then_rerun_only_when_asked(workflow, target_date, "FAILED", report.execution_arn)


def test_a_failed_run_that_recorded_its_outcome_is_left_as_it_recorded(workflow):
    # GIVEN a run that fails and records FAILED itself (MarkRunFailed)
    report = workflow.run({"targetDate": "2026-07-29"},
                          standins={"bigquery": {"fail_mode": "4xx", "fail_times": "-1"}})
    assert report.status == "FAILED" and guard_item(workflow, "2026-07-29")["status"] == "FAILED"
    # THEN the rule still ran the releaser, which found nothing to release (the outcome is the run's own)
    (release,) = releases_of(report.execution_arn)
    assert release.outcome == "delivered" and release.result["released"] is False
    assert "executionStatus" not in guard_item(workflow, "2026-07-29")


def test_functions_crashing_mid_call_end_in_a_named_failure_and_a_rerunnable_guard(workflow, notices):
    # GIVEN the notifier's worker dying while it posts the first notice, and the insert's while BigQuery runs the MERGE
    notices()
    report = workflow.run({"targetDate": "2026-07-22"}, standins={
        "slack": {"fail_mode": "crash", "fail_times": "1"}, "bigquery": {"fail_mode": "crash", "fail_on": "insert", "fail_times": "1"}})
    # THEN the missed notice is recorded and the batch goes on; the crashed insert (Runtime.ExitError, which no Retry
    # names) is caught: failure notice, guard FAILED, nothing half-done (the MERGE is one statement)
    assert report.output is None and report.status == "FAILED" and report.error == "Runtime.ExitError"
    assert [e.state for e in report.events if e.type == "LambdaFunctionFailed"] == ["NotifyStarting", "InsertWeek"]
    assert [m["username"] for m in workflow.scenario.slack.messages] == ["処理の失敗を知らせる猫"]
    assert guard_item(workflow, "2026-07-22")["status"] == "FAILED" and workflow.scenario.bigquery.target_rows(date(2026, 7, 16)) == []
    (notice,) = notices()
    assert notice["error"] == "Runtime.ExitError"
