"""single-flight run offline: the EXPRESS tick in moto, the consumer behind the sandbox's
Lambda-like SQS poller, a real HTTP stand-in for the long API.

Before each call the consumer holds its message in flight for api.max_call_seconds (45 s in the
local stage), so a redelivery comes that long after a failed call. Redelivery tests shorten it
(`quick_redelivery`: the function's API_MAX_CALL_SECONDS, as update-function-configuration would)
to SHORT_MAX_CALL_S, with stand-in calls that end within it, and shorten the work queue's visibility
timeout to QUEUE_VISIBILITY_S, so that a call can outlast it; the fixture restores both.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sandbox.execution import run_execution
from sandbox.scenarios.base import function_environments, set_function_environment

from tests.workflows.notices import notice_inbox

SKIPPED = {"enqueued": False, "reason": "in flight"}
QUEUE_VISIBILITY_S = 3  # shorter than the calls below: only the consumer's hold keeps their message in flight
SHORT_MAX_CALL_S = 6  # the hold is never shorter than the rest of the invocation (5 s local function timeout)


@pytest.fixture(scope="module")
def workflow(sandbox):
    return sandbox.deploy("single-flight")


@pytest.fixture
def scenario(workflow):
    workflow.scenario.configure(workflow.spec.validate_standins({}))
    assert workflow.scenario.settle(30), "a previous test left work behind"
    _drain(workflow, workflow.scenario.resources.dead_letter_queue_url)
    return workflow.scenario


@pytest.fixture
def quick_redelivery(sandbox, workflow):
    sqs = workflow.emulator.client("sqs")
    url, consumer = workflow.scenario.resources.queue_url, workflow.scenario.resources.consumer
    # A ReceiveMessage takes the queue's visibility timeout when it arrives: change it between two polls.
    poller = sandbox.event_sources["single-flight"].for_function(consumer)
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"]
    max_call = function_environments(workflow.emulator, workflow.stack)[consumer]["API_MAX_CALL_SECONDS"]
    with poller.paused():
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(QUEUE_VISIBILITY_S)})
        set_function_environment(workflow.emulator, consumer, {"API_MAX_CALL_SECONDS": str(SHORT_MAX_CALL_S)})
    yield
    with poller.paused():
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": before})
        set_function_environment(workflow.emulator, consumer, {"API_MAX_CALL_SECONDS": max_call})


def _drain(workflow, queue_url) -> list[dict]:
    sqs = workflow.emulator.client("sqs")
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    MessageSystemAttributeNames=["All"]).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages += batch


def _tick_time() -> str:
    """A scheduled time no other test uses (SQS deduplicates equal ones for 5 minutes)."""
    return (datetime(2030, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=uuid.uuid4().int % 10**6)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_ticks_faster_than_the_api_never_overlap(workflow, scenario):
    # GIVEN an API that takes 3 s per call
    # WHEN the schedule fires 10 times, 1 s apart (each with its own scheduled time)
    report = workflow.fire(times=10, every_s=1, standins={"api": {"delay_seconds": "3"}})
    ticks = [fire.execution for fire in report.fires]
    # THEN every tick succeeds; ticks during a call are skipped with the exact output
    assert scenario.idle() and all(t.status == "SUCCEEDED" for t in ticks)
    enqueued = [t for t in ticks if t.output.get("enqueued") is True]
    skipped = [t for t in ticks if t.output == SKIPPED]
    assert len(enqueued) + len(skipped) == 10 and len(skipped) >= 5
    assert ticks[0] in enqueued and ticks[1] in skipped
    # AND the API saw one call per enqueued tick, never two at once, each with its tick's key
    world = report.outside_world
    assert world["max_concurrent_calls"] == 1
    assert world["api_calls"] == world["distinct_keys"] == world["completed"] == len(enqueued)
    assert world["consumer_invocations"] == report.lambda_invocations == len(enqueued) and world["dlq_messages"] == 0
    assert {call["idempotency_key"] for call in scenario.api.calls} == {t.output["deduplication_id"] for t in enqueued}
    # AND no tick ran a Lambda function: the tick is service integrations only
    assert all(t.lambda_invocations == 0 for t in ticks)
    # AND the report came once every call had ended
    assert world["calls_running"] == 0 and world["queue"] == {"visible": 0, "in_flight": 0}


def test_a_repeated_tick_enqueues_one_message(workflow, scenario):
    # GIVEN a tick that was enqueued and fully processed
    scenario.configure(workflow.spec.validate_standins({"api": {"delay_seconds": "0.2"}}))
    tick = {"scheduled_time": _tick_time()}
    first = workflow.run(tick)
    assert first.status == "SUCCEEDED" and first.output["enqueued"] is True
    # WHEN the scheduler delivers the same tick again (same scheduled time) - while it is in flight, and after
    second = workflow.run(tick, standins={"api": {"delay_seconds": "0.2"}})
    # THEN SQS deduplicates it (same deduplication id within 5 minutes): no second message, no second call
    assert second.status == "SUCCEEDED"
    assert second.outside_world["api_calls"] == 0 and second.outside_world["consumer_invocations"] == 0
    assert scenario.queue_counts() == {"visible": 0, "in_flight": 0}


def test_a_tick_while_a_message_waits_unreceived_is_skipped(sandbox, workflow, scenario):
    # GIVEN a tick message waiting in the queue, not yet received by the consumer's poller
    # (the seed counted only in-flight messages, so it would have enqueued a second one)
    poller = sandbox.event_sources["single-flight"].for_function(scenario.resources.consumer)
    sqs = workflow.emulator.client("sqs")
    with poller.paused():
        sqs.send_message(QueueUrl=scenario.resources.queue_url, MessageBody=json.dumps({"scheduled_time": _tick_time()}),
                         MessageGroupId="single-flight", MessageDeduplicationId=str(uuid.uuid4()))
        assert scenario.queue_counts() == {"visible": 1, "in_flight": 0}
        # WHEN a tick runs
        report = run_execution(workflow.emulator, state_machine_arn=workflow.state_machine_arn,
                               execution_input={"scheduled_time": _tick_time()})
    # THEN it is skipped, and only the waiting message is processed
    assert report.status == "SUCCEEDED" and report.output == SKIPPED
    assert scenario.settle(30)
    assert scenario.stats()["api_calls"] == 1


def test_crashes_past_the_receive_bound_end_in_the_dlq(workflow, scenario, quick_redelivery):
    # GIVEN a consumer that crashes on every call (local maxReceiveCount is 2)
    tick = {"scheduled_time": _tick_time()}
    # WHEN a tick is enqueued
    report = workflow.run(tick, standins={"api": {"delay_seconds": "0.5"}, "consumer": {"crash_times": "10"}})
    # THEN it was received twice, then SQS moved it to the FIFO DLQ: nothing lost
    world = report.outside_world
    assert world["consumer_invocations"] == 2 and world["consumer_crashes"] == 2, (world, scenario.api.calls)
    (dead,) = _drain(workflow, scenario.resources.dead_letter_queue_url)
    assert json.loads(dead["Body"]) == tick
    assert dead["Attributes"]["MessageDeduplicationId"] == f"tick-{tick['scheduled_time']}"


def test_a_malformed_message_goes_to_the_dlq_by_name_without_retries(workflow, scenario):
    # GIVEN a message on the work queue that is not a tick
    sqs = workflow.emulator.client("sqs")
    sqs.send_message(QueueUrl=scenario.resources.queue_url, MessageBody="not json {", MessageGroupId="single-flight",
                     MessageDeduplicationId=str(uuid.uuid4()))
    # WHEN the consumer receives it
    assert scenario.settle(30)
    # THEN it was invoked once, never called the API, and the message is in the DLQ with the error's name
    world = scenario.stats()
    assert world["consumer_invocations"] == 1 and world["api_calls"] == 0
    (dead,) = _drain(workflow, scenario.resources.dead_letter_queue_url)
    assert dead["Body"] == "not json {"
    assert dead["MessageAttributes"]["ErrorType"]["StringValue"] == "InvalidTickMessage"


def test_a_4xx_goes_to_the_dlq_without_pointless_retries(workflow, scenario):
    # GIVEN an API that rejects the call (400)
    tick = {"scheduled_time": _tick_time()}
    # WHEN a tick is enqueued
    report = workflow.run(tick, standins={"api": {"fail_mode": "4xx", "fail_times": "-1"}})
    # THEN one invocation, one call, and the message is in the DLQ named ApiRejected (not redelivered)
    world = report.outside_world
    assert world["consumer_invocations"] == 1 and world["api_calls"] == 1
    (dead,) = _drain(workflow, scenario.resources.dead_letter_queue_url)
    assert json.loads(dead["Body"]) == tick
    assert dead["MessageAttributes"]["ErrorType"]["StringValue"] == "ApiRejected"


def test_an_input_without_scheduled_time_fails_by_name(workflow, scenario):
    report = workflow.run({"not": "a tick"})
    assert report.status == "FAILED" and report.error == "InvalidTickInput"


def test_a_message_the_queue_refuses_fails_the_tick_with_a_notice(workflow, scenario):
    # GIVEN the on-call's view of the notices topic
    received = notice_inbox(workflow)
    # WHEN a tick's message is larger than the queue accepts (1 KiB; a real tick is ~50 bytes)
    report = workflow.run({"scheduled_time": "x" * 1100})
    # THEN the tick fails after its retries, with the SQS error's name, and a notice is published
    assert report.status == "FAILED" and report.error.startswith("SQS.")
    notices = received()
    assert [n["workflow"] for n in notices] == ["single-flight"] and notices[0]["error"] == report.error
    assert report.outside_world["api_calls"] == 0


@pytest.mark.parametrize("entry", ["run", "fire"])
def test_a_call_longer_than_the_visibility_timeout_is_never_overlapped_nor_dead_lettered(workflow, scenario, quick_redelivery, entry):
    # GIVEN an API whose call (5 s) outlasts the work queue's visibility timeout (3 s) and the consumer's
    # 4 s client timeout, and ends within the API's declared longest call (6 s)
    standins = {"api": {"delay_seconds": str(QUEUE_VISIBILITY_S + 2)}}
    # WHEN a tick is enqueued (`sandbox run`), or the schedule fires twice, the second tick during the call (`sandbox fire`)
    if entry == "run":
        report = workflow.run({"scheduled_time": _tick_time()}, standins=standins)
    else:
        report = workflow.fire(times=2, every_s=QUEUE_VISIBILITY_S + 1, standins=standins)
        assert [fire.execution.output.get("enqueued") for fire in report.fires] == [True, False]
    world = report.outside_world
    # THEN the API never had two calls at once: the redelivery came after the first call ended,
    # and got the job's result by its idempotency key (the job ran once)
    assert world["max_concurrent_calls"] == 1, (world, scenario.api.calls)
    first, second = scenario.api.calls
    assert second["started"] >= first["started"] + first["seconds"] and second.get("repeated") is True
    assert world["distinct_keys"] == 1 and world["outcomes"] == {"200": 2} and world["consumer_invocations"] == 2
    # AND the completed job is not in the DLQ, and nothing is lost
    assert world["dlq_messages"] == 0 and _drain(workflow, scenario.resources.dead_letter_queue_url) == []
    # AND the report came after every call ended, with nothing left in the queue
    assert world["calls_running"] == 0 and world["queue"] == {"visible": 0, "in_flight": 0}
