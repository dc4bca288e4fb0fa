"""sandbox/standins/s3_faults: the S3 faults distributed-copy's stand-in injects, as a client sees them.

Real moto in-process and real boto3 clients (one as the workflow, one as the sandbox's harness)."""

from __future__ import annotations

import hashlib
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.emulator import HARNESS_USER_AGENT
from sandbox.standins.s3_faults import FaultPlan, S3Faults

BUCKET = "faults"
ONE_ATTEMPT = {"retries": {"total_max_attempts": 1, "mode": "standard"}}


@pytest.fixture()
def s3():
    with S3Faults() as faults, mock_aws():
        workflow = boto3.client("s3", region_name="us-east-1", config=Config(**ONE_ATTEMPT))
        harness = boto3.client("s3", region_name="us-east-1", config=Config(user_agent_extra=HARNESS_USER_AGENT, **ONE_ATTEMPT))
        harness.create_bucket(Bucket=BUCKET)
        for key in ("a", "b"):
            harness.put_object(Bucket=BUCKET, Key=key, Body=key.encode() * 8)
        yield faults, workflow, harness


def plan(**faults) -> FaultPlan:
    options = {k: v for k, v in faults.items() if k in ("fault_on", "fault_times", "slow_seconds")}
    keys = {k: frozenset((BUCKET, key) for key in v) for k, v in faults.items() if k not in options}
    return FaultPlan(**keys, **options)


def copy(client, key: str = "a"):
    return client.copy_object(Bucket=BUCKET, Key=f"copy-{key}", CopySource={"Bucket": BUCKET, "Key": key})


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("fault, expected", [("deny", ("AccessDenied", 403)), ("throttle", ("SlowDown", 503)),
                                             ("error", ("InternalError", 500))])
def test_refused_copies_answer_as_s3_does_and_only_for_their_objects(s3, fault, expected):
    faults, workflow, harness = s3
    faults.configure(plan(**{fault: ["a"]}))
    # THEN the workflow's copy of that object is refused with S3's status and code
    assert error_of(lambda: copy(workflow)) == expected
    # AND another object, and the harness's own requests, pass untouched
    copy(workflow, "b")
    copy(harness)
    assert faults.record.injected == {fault: 1}


def test_fault_on_and_fault_times_choose_which_requests_fail(s3):
    faults, workflow, _ = s3
    faults.configure(plan(error=["a"], fault_on="delete", fault_times=1))
    copy(workflow)  # copies are not what this fault hits
    assert error_of(lambda: workflow.delete_object(Bucket=BUCKET, Key="a")) == ("InternalError", 500)
    workflow.delete_object(Bucket=BUCKET, Key="a")  # transient: the second delete goes through
    assert error_of(lambda: workflow.head_object(Bucket=BUCKET, Key="a"))[1] == 404
    faults.configure(plan(throttle=["b"], fault_on="head"))
    assert error_of(lambda: workflow.head_object(Bucket=BUCKET, Key="b")) == ("503", 503)  # a HEAD answer has no body


def test_a_slow_answer_comes_late(s3):
    faults, workflow, _ = s3
    faults.configure(plan(slow=["a"], slow_seconds=0.5))
    started = time.monotonic()
    copy(workflow)
    assert time.monotonic() - started >= 0.5 and faults.record.injected == {"slow": 1}


def test_a_garbage_answer_cannot_be_read_though_the_copy_happened(s3):
    faults, workflow, harness = s3
    faults.configure(plan(garbage=["a"]))
    # THEN botocore takes the unreadable 200 for a server error (it would retry it)
    assert error_of(lambda: copy(workflow))[1] == 500
    assert harness.get_object(Bucket=BUCKET, Key="copy-a")["Body"].read() == b"a" * 8


def test_a_changed_source_is_uploaded_again_just_before_its_delete(s3):
    faults, workflow, harness = s3
    faults.configure(plan(change=["a"]))
    listed = harness.head_object(Bucket=BUCKET, Key="a")["ETag"]
    copy(workflow)
    # WHEN the workflow deletes what it listed
    assert error_of(lambda: workflow.delete_object(Bucket=BUCKET, Key="a", IfMatch=listed)) == ("PreconditionFailed", 412)
    # THEN the object holds the new bytes the fault wrote
    body = harness.get_object(Bucket=BUCKET, Key="a")["Body"].read()
    assert faults.record.changed == {"a": hashlib.sha256(body).hexdigest()} and body != b"a" * 8


def test_a_vanished_source_is_gone_before_the_first_request_about_it(s3):
    faults, workflow, harness = s3
    faults.configure(plan(vanish=["a"]))
    assert error_of(lambda: workflow.head_object(Bucket=BUCKET, Key="a"))[1] == 404
    assert faults.record.vanished == ["a"]
    harness.put_object(Bucket=BUCKET, Key="a", Body=b"back")  # only the first request: a later upload stays
    assert workflow.get_object(Bucket=BUCKET, Key="a")["Body"].read() == b"back"
