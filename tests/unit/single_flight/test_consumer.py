"""The consumer end to end in-process: moto for DynamoDB/SQS/Secrets Manager, the real long API stand-in."""

from __future__ import annotations

import threading
import time

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from single_flight.handlers import consume
from single_flight.message_hold import SQS_MAX_VISIBILITY_SECONDS, hold_seconds, queue_url
from tests.unit.single_flight.conftest import (
    DEDUPLICATION_ID,
    TABLE,
    TOKEN,
    handle_as_lambda,
    messages_in,
    receive_tick,
    redeliver,
    tick_event,
)


def _dead_letters(aws) -> list[dict]:
    return aws["sqs"].receive_message(QueueUrl=aws["dlq_url"], MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                      MessageSystemAttributeNames=["All"]).get("Messages", [])


def _receivable(aws) -> list[dict]:
    return aws["sqs"].receive_message(QueueUrl=aws["work_url"], MaxNumberOfMessages=10).get("Messages", [])


def test_a_tick_calls_the_api_once_with_its_deduplication_id_as_idempotency_key(consumer_env, lambda_context, aws):
    # GIVEN a tick message
    # WHEN the consumer handles it
    result = consume.handler(receive_tick(aws), lambda_context)
    # THEN no record failed, and the API got one authorized call keyed by the tick
    assert result == {"batchItemFailures": []}
    (call,) = consumer_env.calls
    assert call["idempotency_key"] == DEDUPLICATION_ID and call["authorized"] is True
    # AND the completed call is recorded in the idempotency table
    (item,) = aws["dynamodb"].scan(TableName=TABLE)["Items"]
    assert item["status"]["S"] == "COMPLETED"


def test_before_calling_the_message_is_held_in_flight_for_the_longest_call(consumer_env, lambda_context, aws):
    # GIVEN a work queue whose visibility timeout (1 s) is shorter than the call and its wait (a 5xx after 0.8 s)
    aws["sqs"].set_queue_attributes(QueueUrl=aws["work_url"], Attributes={"VisibilityTimeout": "1"})
    consumer_env.configure(delay_seconds=0.8, fail_mode="5xx", fail_times=-1)
    # WHEN the consumer handles a tick and its call fails
    error, _ = handle_as_lambda(aws, receive_tick(aws), lambda_context)
    assert isinstance(error, BatchProcessingError)
    # THEN the message is still in flight after the queue's visibility timeout: it was held for
    # API_MAX_CALL_SECONDS (60 s here), so no redelivery can start a call while the API may still work
    time.sleep(0.5)
    assert _receivable(aws) == [] and messages_in(aws) == 1


def test_a_message_that_cannot_be_held_is_not_called(consumer_env, lambda_context, aws):
    # GIVEN a record whose queue refuses ChangeMessageVisibility (here: a queue that does not exist)
    # WHEN the consumer handles it
    with pytest.raises(BatchProcessingError) as failure:
        consume.handler(tick_event(), lambda_context)
    # THEN the record fails by name and the API was never called (its redelivery could overlap the call)
    assert "MessageNotHeld" in str(failure.value.child_exceptions)
    assert consumer_env.calls == []


@pytest.mark.parametrize(("max_call_s", "remaining_ms", "expected"), [
    (60, 30_000, 60),  # the API's limit
    (10, 30_000, 31),  # never shorter than the invocation's rest: the in-progress lock lasts that long
    (50_000, 1_000, SQS_MAX_VISIBILITY_SECONDS),  # SQS's 12 h limit
])
def test_the_hold_covers_the_longest_call_and_the_invocation(max_call_s, remaining_ms, expected):
    assert hold_seconds(max_call_s, remaining_ms) == expected


def test_the_work_queue_url_comes_from_the_records_queue_arn():
    assert queue_url("arn:aws:sqs:eu-west-1:123456789012:q.fifo") == "https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo"


def test_a_redelivered_message_whose_call_completed_does_not_call_again(consumer_env, lambda_context, aws):
    # GIVEN a tick whose call completed (but, say, the delete of its message was lost)
    event = receive_tick(aws)
    consume.handler(event, lambda_context)
    # WHEN SQS delivers it again
    result = consume.handler(redeliver(aws, event), lambda_context)
    # THEN it succeeds from the stored result, and the API saw one call only
    assert result == {"batchItemFailures": []}
    assert len(consumer_env.calls) == 1


def test_a_different_tick_is_a_different_call(consumer_env, lambda_context, aws):
    assert handle_as_lambda(aws, receive_tick(aws), lambda_context)[0] is None
    consume.handler(receive_tick(aws, deduplication_id="tick-2026-11-23T04:01:00Z"), lambda_context)
    assert [c["idempotency_key"] for c in consumer_env.calls] == [DEDUPLICATION_ID, "tick-2026-11-23T04:01:00Z"]


@pytest.mark.parametrize(("fail_mode", "expected"), [
    ("5xx", "ApiUnavailable"),
    ("drop", "ApiUnavailable"),
    ("timeout", "ApiTimeout"),
    ("429", "ApiThrottled"),
    ("garbage", "ApiBadAnswer"),
])
def test_a_transient_failure_leaves_the_message_for_redelivery_and_frees_the_key(consumer_env, lambda_context, aws,
                                                                                 fail_mode, expected):
    # GIVEN an API whose first call fails transiently (timeout: holds longer than the 1 s client timeout)
    consumer_env.configure(delay_seconds=0, fail_mode=fail_mode, fail_times=1, hold_seconds=2)
    # WHEN the consumer handles the tick
    event = receive_tick(aws)
    error, _ = handle_as_lambda(aws, event, lambda_context)
    # THEN the record failed with the named error, and the message stays in the work queue (not in the DLQ)
    assert isinstance(error, BatchProcessingError) and expected in str(error.child_exceptions)
    assert messages_in(aws) == 1 and _dead_letters(aws) == []
    # AND the redelivery (which the hold delays until the API is done with the first call) calls again
    # (the in-progress record was released) and succeeds
    while consumer_env.stats()["calls_running"]:
        time.sleep(0.05)
    assert handle_as_lambda(aws, redeliver(aws, event), lambda_context) == (None, {"batchItemFailures": []})
    assert len(consumer_env.calls) == 2 and messages_in(aws) == 0


def test_a_key_the_api_is_still_working_on_is_retried_later_not_dead_lettered(consumer_env, lambda_context, aws):
    # GIVEN the API still working on this tick's key (a call the consumer gave up on, past api.max_call_seconds)
    consumer_env.configure(delay_seconds=1.5)
    earlier = threading.Thread(target=_call_directly, args=(consumer_env,))
    earlier.start()
    while not consumer_env.calls:
        time.sleep(0.01)
    # WHEN the consumer calls with the same key
    error, _ = handle_as_lambda(aws, receive_tick(aws), lambda_context)
    earlier.join()
    # THEN the API answered 409 without starting a second job; the record failed as throttled (transient),
    # so the message stays for a later redelivery instead of going to the DLQ as a rejection
    assert [call["outcome"] for call in consumer_env.calls] == ["200", "409"]
    assert isinstance(error, BatchProcessingError) and "ApiThrottled" in str(error.child_exceptions)
    assert messages_in(aws) == 1 and _dead_letters(aws) == []


def _call_directly(standin) -> None:
    """A call with this tick's key, made outside the consumer (as one it gave up on, still running)."""
    import urllib.request

    request = urllib.request.Request(standin.url, data=b'{"scheduled_time": "2026-11-23T04:00:00Z"}', method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": DEDUPLICATION_ID})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local stand-in
        response.read()


def test_a_4xx_moves_the_message_to_the_dlq_itself_and_is_not_retried(consumer_env, lambda_context, aws):
    # GIVEN an API that rejects the call
    consumer_env.configure(delay_seconds=0, fail_mode="4xx", fail_times=-1)
    event = receive_tick(aws)
    # WHEN the consumer handles the tick
    error, result = handle_as_lambda(aws, event, lambda_context)
    # THEN the record is reported processed (Lambda deletes it: no redelivery, no second call) ...
    assert error is None and result == {"batchItemFailures": []} and len(consumer_env.calls) == 1
    assert messages_in(aws) == 0
    # ... because the handler put it in the DLQ, named, with its group and deduplication id
    (dead,) = _dead_letters(aws)
    assert dead["Body"] == event["Records"][0]["body"]
    assert dead["MessageAttributes"]["ErrorType"]["StringValue"] == "ApiRejected"
    assert dead["Attributes"]["MessageDeduplicationId"] == DEDUPLICATION_ID
    assert dead["Attributes"]["MessageGroupId"] == "single-flight"


def test_a_wrong_token_is_a_4xx(consumer_env, lambda_context, aws):
    aws_secrets = __import__("boto3").client("secretsmanager")
    aws_secrets.put_secret_value(SecretId="single-flight/long-api/token", SecretString=TOKEN + "-old")
    consume.handler(receive_tick(aws), lambda_context)
    (dead,) = _dead_letters(aws)
    assert dead["MessageAttributes"]["ErrorType"]["StringValue"] == "ApiRejected"
    assert "401" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"scheduled_time": ""}', '{"other": 1}'])
def test_a_malformed_message_goes_to_the_dlq_without_calling(consumer_env, lambda_context, aws, body):
    result = consume.handler(receive_tick(aws, body=body), lambda_context)
    assert result == {"batchItemFailures": []} and consumer_env.calls == []
    (dead,) = _dead_letters(aws)
    assert dead["Body"] == body and dead["MessageAttributes"]["ErrorType"]["StringValue"] == "InvalidTickMessage"


def test_when_the_dlq_cannot_take_a_permanent_failure_the_record_fails_and_nothing_is_lost(consumer_env, lambda_context, aws, monkeypatch):
    # GIVEN a DLQ that does not exist (deleted, or no permission)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", aws["dlq_url"].replace("dlq-test", "missing"))
    # WHEN a malformed message arrives, and Lambda acts on the consumer's outcome
    event = receive_tick(aws, body="not json")
    error, _ = handle_as_lambda(aws, event, lambda_context)
    # THEN the message stays in the work queue: the record failed, so Lambda deleted nothing ...
    assert messages_in(aws) == 1 and _dead_letters(aws) == []
    assert isinstance(error, BatchProcessingError)
    # ... and SQS hands it out again, unchanged (its own DLQ takes it after maxReceiveCount)
    (record,) = redeliver(aws, event)["Records"]
    assert record["messageId"] == event["Records"][0]["messageId"] and record["body"] == "not json"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_placeholder_endpoint_fails_by_name_naming_the_setting(consumer_env, lambda_context, aws, monkeypatch):
    # GIVEN a deploy whose endpoint is still the shipped placeholder
    monkeypatch.setenv("API_ENDPOINT", "https://long-api.example/v1/jobs")
    monkeypatch.setenv("API_ENDPOINT_SETTING", "single_flight.api.endpoint")
    # WHEN a tick arrives
    with pytest.raises(BatchProcessingError) as failure:
        consume.handler(receive_tick(aws), lambda_context)
    # THEN the record fails with ApiNotConfigured naming the setting (SQS keeps it; DLQ after maxReceiveCount), no call
    assert "ApiNotConfigured" in str(failure.value.child_exceptions)
    assert "single_flight.api.endpoint" in str(failure.value.child_exceptions)
    assert consumer_env.calls == [] and _dead_letters(aws) == []
