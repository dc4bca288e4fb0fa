"""The consumer end to end in-process: moto for DynamoDB/SQS/Secrets Manager, the real long API stand-in."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from single_flight.handlers import consume
from tests.unit.single_flight.conftest import TABLE, TOKEN, tick_event


def _dead_letters(aws) -> list[dict]:
    return aws["sqs"].receive_message(QueueUrl=aws["dlq_url"], MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                      MessageSystemAttributeNames=["All"]).get("Messages", [])


def test_a_tick_calls_the_api_once_with_its_deduplication_id_as_idempotency_key(consumer_env, lambda_context, aws):
    # GIVEN a tick message
    # WHEN the consumer handles it
    result = consume.handler(tick_event(), lambda_context)
    # THEN no record failed, and the API got one authorized call keyed by the tick
    assert result == {"batchItemFailures": []}
    (call,) = consumer_env.calls
    assert call["idempotency_key"] == "tick-2026-11-23T04:00:00Z" and call["authorized"] is True
    # AND the completed call is recorded in the idempotency table
    (item,) = aws["dynamodb"].scan(TableName=TABLE)["Items"]
    assert item["status"]["S"] == "COMPLETED"


def test_a_redelivered_message_whose_call_completed_does_not_call_again(consumer_env, lambda_context):
    # GIVEN a tick whose call completed (but, say, the delete of its message was lost)
    consume.handler(tick_event(), lambda_context)
    # WHEN SQS delivers it again
    result = consume.handler(tick_event(receive_count=2), lambda_context)
    # THEN it succeeds from the stored result, and the API saw one call only
    assert result == {"batchItemFailures": []}
    assert len(consumer_env.calls) == 1


def test_a_different_tick_is_a_different_call(consumer_env, lambda_context):
    consume.handler(tick_event(), lambda_context)
    consume.handler(tick_event(deduplication_id="tick-2026-11-23T04:01:00Z"), lambda_context)
    assert [c["idempotency_key"] for c in consumer_env.calls] == ["tick-2026-11-23T04:00:00Z", "tick-2026-11-23T04:01:00Z"]


@pytest.mark.parametrize("fail_mode", ["5xx", "drop", "timeout"])
def test_a_transient_failure_fails_the_record_for_redelivery_and_frees_the_key(consumer_env, lambda_context, aws, fail_mode):
    # GIVEN an API whose first call fails transiently (timeout: holds longer than the 1 s client timeout)
    consumer_env.configure(delay_seconds=0, fail_mode=fail_mode, fail_times=1, hold_seconds=2)
    # WHEN the consumer handles the tick
    with pytest.raises(BatchProcessingError) as failure:
        consume.handler(tick_event(), lambda_context)
    # THEN the record failed with the named error (the whole batch of 1: Lambda leaves it for redelivery)
    expected = {"5xx": "ApiUnavailable", "drop": "ApiUnavailable", "timeout": "ApiTimeout"}[fail_mode]
    assert expected in str(failure.value.child_exceptions)
    assert _dead_letters(aws) == []
    # AND the redelivery calls again (the in-progress record was released) and succeeds
    assert consume.handler(tick_event(receive_count=2), lambda_context) == {"batchItemFailures": []}
    assert len(consumer_env.calls) == 2


def test_a_4xx_moves_the_message_to_the_dlq_itself_and_is_not_retried(consumer_env, lambda_context, aws):
    # GIVEN an API that rejects the call
    consumer_env.configure(delay_seconds=0, fail_mode="4xx", fail_times=-1)
    event = tick_event()
    # WHEN the consumer handles the tick
    result = consume.handler(event, lambda_context)
    # THEN the record is reported processed (SQS deletes it: no redelivery, no second call) ...
    assert result == {"batchItemFailures": []} and len(consumer_env.calls) == 1
    # ... because the handler put it in the DLQ, named, with its group and deduplication id
    (dead,) = _dead_letters(aws)
    assert dead["Body"] == event["Records"][0]["body"]
    assert dead["MessageAttributes"]["ErrorType"]["StringValue"] == "ApiRejected"
    assert dead["Attributes"]["MessageDeduplicationId"] == "tick-2026-11-23T04:00:00Z"
    assert dead["Attributes"]["MessageGroupId"] == "single-flight"


def test_a_wrong_token_is_a_4xx(consumer_env, lambda_context, aws):
    aws_secrets = __import__("boto3").client("secretsmanager")
    aws_secrets.put_secret_value(SecretId="single-flight/long-api/token", SecretString=TOKEN + "-old")
    consume.handler(tick_event(), lambda_context)
    (dead,) = _dead_letters(aws)
    assert dead["MessageAttributes"]["ErrorType"]["StringValue"] == "ApiRejected"
    assert "401" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"scheduled_time": ""}', '{"other": 1}'])
def test_a_malformed_message_goes_to_the_dlq_without_calling(consumer_env, lambda_context, aws, body):
    result = consume.handler(tick_event(body=body), lambda_context)
    assert result == {"batchItemFailures": []} and consumer_env.calls == []
    (dead,) = _dead_letters(aws)
    assert dead["Body"] == body and dead["MessageAttributes"]["ErrorType"]["StringValue"] == "InvalidTickMessage"


def test_when_the_dlq_cannot_take_a_permanent_failure_the_record_fails_and_nothing_is_lost(consumer_env, lambda_context, aws, monkeypatch):
    # GIVEN a DLQ that does not exist (deleted, or no permission)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", aws["dlq_url"].replace("dlq-test", "missing"))
    # WHEN a malformed message arrives
    with pytest.raises(BatchProcessingError):
        consume.handler(tick_event(body="not json"), lambda_context)
    # THEN the record failed, so SQS keeps it for redelivery (and its own DLQ after maxReceiveCount)


def test_a_placeholder_endpoint_fails_by_name_naming_the_setting(consumer_env, lambda_context, aws, monkeypatch):
    # GIVEN a deploy whose endpoint is still the shipped placeholder
    monkeypatch.setenv("API_ENDPOINT", "https://long-api.example/v1/jobs")
    monkeypatch.setenv("API_ENDPOINT_SETTING", "single_flight.api.endpoint")
    # WHEN a tick arrives
    with pytest.raises(BatchProcessingError) as failure:
        consume.handler(tick_event(), lambda_context)
    # THEN the record fails with ApiNotConfigured naming the setting (SQS keeps it; DLQ after maxReceiveCount), no call
    assert "ApiNotConfigured" in str(failure.value.child_exceptions)
    assert "single_flight.api.endpoint" in str(failure.value.child_exceptions)
    assert consumer_env.calls == [] and _dead_letters(aws) == []
