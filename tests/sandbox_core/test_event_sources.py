"""The sandbox's Lambda-like SQS event source: moto's synchronous mapping disabled, SQS's FIFO
deduplication window kept, and the poller's delete / leave / DLQ / batchItemFailures behaviour.
moto in-process for SQS and Lambda's API; the function is a plain Python callable here (the
worker runtime is tested in test_emulator_core)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from sandbox.event_sources import (
    SqsMapping,
    SqsPoller,
    failed_message_ids,
    install_sqs_patch,
    sqs_event,
    sqs_patch_installed,
    uninstall_sqs_patch,
)
from sandbox.lambda_runtime import InvocationResult


def result(payload: Any = None, *, errored: bool = False) -> InvocationResult:
    return InvocationResult(function_name="f", request_id="r", payload=json.dumps(payload), errored=errored, logs="",
                            duration_ms=1.0, cold_start=False)


@pytest.fixture
def patched() -> Iterator[None]:
    install_sqs_patch()
    yield
    uninstall_sqs_patch()


@pytest.fixture
def sqs(monkeypatch) -> Iterator[Any]:
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("sqs")


def fifo_queue(sqs, name: str, *, visibility: int = 1, max_receive_count: int | None = None) -> tuple[str, str | None]:
    dlq_url = None
    attributes = {"FifoQueue": "true", "VisibilityTimeout": str(visibility)}
    if max_receive_count:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"]
    return url, dlq_url


def counts(sqs, url: str) -> tuple[int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def send(sqs, url: str, body: str = "{}", dedup: str = "d1") -> None:
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=dedup)


def poller_for(sqs, url: str, invoke, *, batch_size: int = 1, report: bool = True) -> SqsPoller:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = SqsMapping(uuid="u", function_name="f", queue_arn=arn, queue_url=url, batch_size=batch_size, report_batch_item_failures=report)
    return SqsPoller(mapping, sqs_client=sqs, invoke=invoke, region="us-east-1", wait_seconds=0)


def test_the_patch_stops_moto_invoking_a_mapped_function_inside_send_message(sqs, patched):
    # GIVEN a queue mapped to a function (moto would run it in Docker inside SendMessage)
    from moto.sqs.models import Queue

    url, _ = fifo_queue(sqs, "mapped")
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return None\n")
    lam = boto3.client("lambda")
    fn = lam.create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": code.getvalue()})
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn["FunctionArn"], BatchSize=1)
    # WHEN a message is sent
    started = time.monotonic()
    send(sqs, url)
    # THEN SendMessage returns at once and the message waits in the queue for a poller
    assert time.monotonic() - started < 2
    assert counts(sqs, url) == (1, 0)
    assert sqs_patch_installed() and Queue.add_message.__name__ == "_add_message_without_synchronous_invoke"


def test_uninstall_restores_moto_after_the_last_install(sqs):
    # GIVEN two holders of the patch (an emulator and a test, say)
    from moto.sqs.models import Queue

    original = Queue.add_message
    install_sqs_patch()
    install_sqs_patch()
    # WHEN one lets go, the patch stays; WHEN the other does too, moto's method is back
    uninstall_sqs_patch()
    assert sqs_patch_installed() and Queue.add_message is not original
    uninstall_sqs_patch()
    assert Queue.add_message is original and not sqs_patch_installed()
    uninstall_sqs_patch()  # an extra uninstall changes nothing
    assert Queue.add_message is original


def test_a_fifo_deduplication_id_is_remembered_after_the_message_is_deleted(sqs, patched):
    # GIVEN a FIFO message received and deleted
    url, _ = fifo_queue(sqs, "dedup")
    send(sqs, url, dedup="tick-1")
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # WHEN the same deduplication id is sent again within 5 minutes, and a new one too
    send(sqs, url, dedup="tick-1")
    send(sqs, url, dedup="tick-2")
    # THEN only the new one is delivered (SQS: accepted, not delivered; moto alone would deliver both)
    assert counts(sqs, url) == (1, 0)


def test_the_poller_deletes_a_message_when_the_function_succeeds(sqs, patched):
    url, _ = fifo_queue(sqs, "ok")
    seen = []
    poller = poller_for(sqs, url, lambda name, event: seen.append(event) or result(None))
    send(sqs, url, body='{"a": 1}')
    assert poller.poll_once() == 1
    (record,) = seen[0]["Records"]
    assert record["body"] == '{"a": 1}' and record["eventSource"] == "aws:sqs"
    assert record["attributes"]["MessageDeduplicationId"] == "d1" and record["attributes"]["ApproximateReceiveCount"] == "1"
    assert counts(sqs, url) == (0, 0) and poller.stats.deleted == 1


def test_the_message_is_hidden_while_the_function_runs(sqs, patched):
    url, _ = fifo_queue(sqs, "hidden", visibility=30)
    during = []
    poller = poller_for(sqs, url, lambda name, event: during.append(counts(sqs, url)) or result(None))
    send(sqs, url)
    poller.poll_once()
    assert during == [(0, 1)]  # in flight while running, as ApproximateNumberOfMessagesNotVisible


def test_a_function_error_leaves_the_message_and_sqs_moves_it_to_the_dlq_after_max_receives(sqs, patched):
    # GIVEN a queue with maxReceiveCount 2 and a function that always fails
    url, dlq_url = fifo_queue(sqs, "failing", visibility=1, max_receive_count=2)
    poller = poller_for(sqs, url, lambda name, event: result({"errorType": "Boom"}, errored=True))
    send(sqs, url)
    # WHEN the poller runs: receive 1, wait out the visibility, receive 2, wait, receive 3
    assert poller.poll_once() == 1
    assert counts(sqs, url) == (0, 1)
    time.sleep(1.1)
    assert poller.poll_once() == 1
    time.sleep(1.1)
    assert poller.poll_once() == 0
    # THEN the message was invoked twice, never deleted, and is now in the DLQ
    assert poller.stats.invocations == 2 and poller.stats.deleted == 0
    assert counts(sqs, url) == (0, 0) and counts(sqs, dlq_url) == (1, 0)


def test_batch_item_failures_leave_only_the_named_records():
    messages = [{"MessageId": "m1"}, {"MessageId": "m2"}, {"MessageId": "m3"}]
    partial = result({"batchItemFailures": [{"itemIdentifier": "m2"}]})
    assert failed_message_ids(partial, messages, report_batch_item_failures=True) == {"m2"}
    # without ReportBatchItemFailures the response is not read: all succeeded
    assert failed_message_ids(partial, messages, report_batch_item_failures=False) == set()
    assert failed_message_ids(result({"batchItemFailures": []}), messages, report_batch_item_failures=True) == set()
    assert failed_message_ids(result(None), messages, report_batch_item_failures=True) == set()
    # a function error, or a malformed response, fails the whole batch
    assert failed_message_ids(result({}, errored=True), messages, report_batch_item_failures=True) == {"m1", "m2", "m3"}
    unknown = result({"batchItemFailures": [{"itemIdentifier": "nope"}]})
    assert failed_message_ids(unknown, messages, report_batch_item_failures=True) == {"m1", "m2", "m3"}
    assert failed_message_ids(result({"batchItemFailures": "m1"}), messages, report_batch_item_failures=True) == {"m1", "m2", "m3"}


def test_the_poller_honours_batch_item_failures(sqs, patched):
    # GIVEN a standard-sized batch of two where the function reports the second failed
    url, _ = fifo_queue(sqs, "partial", visibility=30)
    send(sqs, url, dedup="a")
    send(sqs, url, dedup="b")

    def invoke(name, event):
        return result({"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]})

    poller = poller_for(sqs, url, invoke, batch_size=2)
    assert poller.poll_once() == 2
    # THEN the first was deleted, the second stays (in flight until its visibility ends)
    assert counts(sqs, url) == (0, 1) and poller.stats.deleted == 1 and poller.stats.left_for_redelivery == 1


def test_the_event_has_lambdas_shape():
    message = {"MessageId": "m", "ReceiptHandle": "h", "Body": "b", "MD5OfBody": "x",
               "Attributes": {"ApproximateReceiveCount": "1"},
               "MessageAttributes": {"K": {"DataType": "String", "StringValue": "v"}}}
    (record,) = sqs_event([message], queue_arn="arn:aws:sqs:us-east-1:1:q.fifo", region="us-east-1")["Records"]
    assert record["messageAttributes"]["K"] == {"stringValue": "v", "binaryValue": None, "stringListValues": [],
                                                "binaryListValues": [], "dataType": "String"}
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:1:q.fifo" and record["awsRegion"] == "us-east-1"
