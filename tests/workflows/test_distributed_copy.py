"""distributed-copy run offline: the synthesized stack in moto (Distributed Map through sandbox/engine),
handlers from the assets, real objects in the emulator's S3."""

from __future__ import annotations

import hashlib
import json

import pytest

from sandbox.engine.runtime import reader_item
from sandbox.engine.s3_integrity import crc64nvme_base64
from tests.workflows.notices import notice_inbox

MIB = 1024 * 1024
THRESHOLD_ERROR = "TooManyObjectsFailed"


@pytest.fixture(scope="module")
def workflow(sandbox):
    return sandbox.deploy("distributed-copy")


@pytest.fixture(scope="module")
def scenario(workflow):
    return workflow.scenario


@pytest.fixture(scope="module")
def notices(workflow):
    """An SQS queue subscribed to the workflow's notice topic: what the on-call would receive."""
    return notice_inbox(workflow)


def sha256(scenario, key: str) -> str:
    return hashlib.sha256(scenario.body(key)).hexdigest()


def assert_all_moved(scenario, *, except_keys: tuple[str, ...] = (), gone: tuple[str, ...] = ()) -> None:
    """Every target-date object is at its dated destination, byte-identical; only the others remain
    (and `gone`: objects deleted by someone else before they were copied, at neither place)."""
    for key, digest in scenario.expected.items():
        if key in except_keys or key in gone:
            continue
        assert sha256(scenario, scenario.destination_of(key)) == digest
    assert scenario.keys(scenario.source_prefix) == sorted([*scenario.other_keys, *except_keys])


def states_entered(report) -> list[str]:
    return [event.state for event in report.events if event.type.endswith("StateEntered")]


def test_mixed_dates_only_the_target_date_moves_byte_identical(workflow, scenario, notices):
    # GIVEN the sample: 50 objects for yesterday (Tokyo) and 10 of other dates
    # WHEN the workflow runs with no input
    report = workflow.run({})
    # THEN the 50 moved (byte-identical copies, sources deleted), the 10 stayed, nobody is paged
    assert report.status == "SUCCEEDED", report.cause
    assert report.output | {"results": None} == {"targetDate": scenario.target_date, "moved": 50, "skipped": 10,
                                                  "failed": 0, "results": None}
    assert_all_moved(scenario)
    assert notices() == []
    # AND the per-object results stayed in S3 (ResultWriter), the execution's payloads small
    assert report.output["results"]["Key"].endswith("/manifest.json")
    assert report.max_state_payload_bytes < 2_000
    # AND the one EXPRESS child (60 objects, one batch) is priced as Express, its Lambda request counted
    from sandbox.costs import PRICE_PER_EXPRESS_REQUEST, PRICE_PER_LAMBDA_REQUEST, PRICE_PER_STATE_TRANSITION, express_duration_cost
    from sandbox.engine.distributed_map import map_runs

    ((child,),) = [list(run.children.values()) for run in map_runs(report.execution_arn)]
    assert child.execution_type == "EXPRESS" and child.lambda_invocations == 1
    expected = (report.state_transitions * PRICE_PER_STATE_TRANSITION + PRICE_PER_EXPRESS_REQUEST
                + express_duration_cost(child.duration_ms / 1000))
    assert report.estimated_cost_usd["step_functions"] == round(expected, 8)
    assert report.lambda_invocations == 3  # plan, the child's copy batch, summarize
    assert report.estimated_cost_usd["lambda_requests"] == round(3 * PRICE_PER_LAMBDA_REQUEST, 8)


def test_a_batch_retried_after_a_partial_run_converges_and_a_second_run_is_idempotent(workflow, scenario, notices):
    # GIVEN a run whose batch fails half-way: S3 fails the first delete of two objects (500), after their copies
    first = workflow.run({}, standins={"source": {"objects": "20", "other_dates": "5", "error_keys": "2",
                                                  "fault_on": "delete", "fault_times": "3"}})
    # THEN the state machine's retry replays the same items, and they all move
    assert first.status == "SUCCEEDED", first.cause
    assert (first.output["moved"], first.output["failed"]) == (20, 0)
    assert first.lambda_invocations == 4  # plan, the copy batch twice, summarize
    # (the local S3_MAX_ATTEMPTS is 2 retries: 3 attempts of each of the 2 deletes fail the first invocation)
    assert first.outside_world["faults_injected"] == {"error": 6}
    assert_all_moved(scenario)
    # WHEN it runs again on what it left
    second = workflow.run({}, standins={"source": {"fill": "false"}})
    # THEN no error, nothing moved twice, same end state
    assert second.status == "SUCCEEDED", second.cause
    assert (second.output["moved"], second.output["skipped"], second.output["failed"]) == (0, 5, 0)
    assert_all_moved(scenario)
    assert notices() == []


def test_failed_objects_up_to_the_threshold_keep_their_sources_and_one_notice_names_them(workflow, scenario, notices):
    # GIVEN 40 objects for the date: S3 refuses to copy one (AccessDenied), another is deleted before its copy
    report = workflow.run({}, standins={"source": {"objects": "40", "other_dates": "4", "deny_keys": "1", "vanish_keys": "1"}})
    (denied,), (vanished,) = scenario.denied_keys, scenario.fault_keys["vanish"]
    # THEN 2 of 40 (5 %, not past the default 5 %) failed: the run succeeds, the denied source stays
    assert report.status == "SUCCEEDED", report.cause
    assert (report.output["moved"], report.output["skipped"], report.output["failed"]) == (38, 4, 2)
    assert_all_moved(scenario, except_keys=(denied,), gone=(vanished,))
    assert not {scenario.destination_of(denied), scenario.destination_of(vanished)} & set(scenario.keys(scenario.destination_prefix))
    # AND exactly one notice names the two keys and why
    (notice,) = notices()
    assert sorted((item["key"], item["reason"]) for item in notice["failedKeys"]) == sorted(
        [(denied, "AccessDenied"), (vanished, "SourceVanished")])
    assert (notice["failedCount"], notice["failedPercentage"], notice["thresholdExceeded"]) == (2, 5.0, False)
    assert "OverFailureThreshold" in states_entered(report) and THRESHOLD_ERROR not in states_entered(report)

    # WHEN the fault is gone and the workflow runs again
    rerun = workflow.run({}, standins={"source": {"fill": "false"}})
    # THEN the end state is that of an unfaulted run
    assert rerun.status == "SUCCEEDED", rerun.cause
    assert (rerun.output["moved"], rerun.output["failed"]) == (1, 0)
    assert_all_moved(scenario, gone=(vanished,))
    assert notices() == []


@pytest.mark.parametrize("style", ["unicode", "spaces", "plus", "long"])
def test_keys_round_trip_exactly(workflow, scenario, style):
    # GIVEN objects named in a key style (long: a 1,024-byte destination key, S3's maximum)
    report = workflow.run({}, standins={"source": {"objects": "4", "other_dates": "2", "key_style": style}})
    # THEN every one moved to exactly its dated key, byte-identical
    assert report.status == "SUCCEEDED", report.cause
    assert (report.output["moved"], report.output["failed"]) == (4, 0)
    assert_all_moved(scenario)
    if style == "long":
        assert {len(k.encode()) for k in scenario.keys(scenario.destination_prefix)} == {1024}


def test_empty_prefix_is_a_zero_count_result(workflow, scenario):
    report = workflow.run({}, standins={"source": {"objects": "0", "other_dates": "0"}})
    assert report.status == "SUCCEEDED", report.cause
    assert (report.output["moved"], report.output["skipped"], report.output["failed"]) == (0, 0, 0)


def test_a_hostile_target_date_is_a_named_error_with_a_notice_and_nothing_is_deleted(workflow, scenario, notices):
    # GIVEN a filled source; WHEN the input's targetDate is a string as long as the input limit allows
    # (the message used to repeat it whole: the caught error outgrew 256 KiB, States.DataLimitExceeded)
    hostile = {"targetDate": "9" * (256 * 1024 - 200)}
    report = workflow.run(hostile, standins={"source": {"objects": "5", "other_dates": "1"}})
    # THEN the execution fails with the named error, after one notice, and every object is still there
    assert report.status == "FAILED" and report.error == "InvalidCopyInput", (report.error, report.cause and report.cause[:200])
    (notice,) = notices()
    assert notice["error"] == "InvalidCopyInput" and "targetDate" in notice["cause"]
    # AND every error text stays small: the input is not repeated, the payloads stay far from the limit
    assert len(notice["cause"]) < 8 * 1024 and len(report.cause) < 8 * 1024
    assert len(scenario.keys(scenario.source_prefix)) == 6 and scenario.keys(scenario.destination_prefix) == []


def test_a_prefix_outside_the_configured_one_is_refused(workflow, scenario, notices):
    # GIVEN a filled source; WHEN the input names a prefix the roles do not cover
    report = workflow.run({"sourcePrefix": "elsewhere/"}, standins={"source": {"objects": "2", "other_dates": "0"}})
    # THEN it is refused by name before anything is listed or moved
    assert report.status == "FAILED" and report.error == "InvalidCopyInput"
    assert notices()[0]["error"] == "InvalidCopyInput"
    assert len(scenario.keys(scenario.source_prefix)) == 2


def test_given_target_date_moves_that_day(workflow, scenario):
    report = workflow.run({"targetDate": "2024-02-29"},
                          standins={"source": {"objects": "3", "other_dates": "2", "target_date": "2024-02-29"}})
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["moved"] == 3
    assert all(k.startswith(f"{scenario.destination_prefix}2024/02/29/") for k in scenario.keys(scenario.destination_prefix))


def test_multipart_copies_are_verified_by_content_and_past_the_threshold_the_run_fails_after_the_notice(
        workflow, scenario, notices):
    # GIVEN three 7 MiB objects (multipart copies at the local stage's 6 MiB threshold): S3 denies the copy of
    # one, and another is uploaded again between its copy and its delete
    report = workflow.run({}, standins={"source": {"objects": "3", "other_dates": "0", "size_bytes": str(7 * MIB),
                                                   "deny_keys": "1", "change_keys": "1"}})
    (denied,), (changed,) = scenario.denied_keys, scenario.fault_keys["change"]
    (moved,) = set(scenario.expected) - {denied, changed}
    # THEN the moved one went through UploadPartCopy, byte-identical, and carries the full-object CRC64NVME of its bytes
    counts = workflow.emulator.request_counts()
    assert "s3:CopyObject" not in counts and counts["s3:UploadPartCopy"] >= 4
    copy = scenario.destination_of(moved)
    assert sha256(scenario, copy) == scenario.expected[moved]
    head = workflow.emulator.client("s3").head_object(Bucket=scenario.bucket, Key=copy, ChecksumMode="ENABLED")
    assert (head["ChecksumCRC64NVME"], head["ChecksumType"]) == (crc64nvme_base64(scenario.body(copy)), "FULL_OBJECT")
    # AND the changed source survived with its new bytes, the denied one untouched, no copy of it made
    assert sha256(scenario, changed) == scenario.changed[changed] != scenario.expected[changed]
    assert sha256(scenario, denied) == scenario.expected[denied]
    assert scenario.destination_of(denied) not in scenario.keys(scenario.destination_prefix)
    # AND 2 of 3 failed, past the 5 % tolerated: one notice names both, then the run fails by name
    (notice,) = notices()
    assert sorted((item["key"], item["reason"]) for item in notice["failedKeys"]) == sorted(
        [(denied, "AccessDenied"), (changed, "SourceChanged")])
    assert notice["thresholdExceeded"] is True
    assert report.status == "FAILED" and report.error == THRESHOLD_ERROR, report.cause
    assert "2 of 3" in report.cause
    entered = states_entered(report)
    assert entered.index("PublishFailedKeys") < entered.index(THRESHOLD_ERROR)


def test_a_replayed_batch_after_a_partial_run_and_changed_sources_deletes_only_what_it_copied(workflow, scenario):
    # GIVEN six objects, and the batch the reader makes of them (what a redrive or a retry sends again)
    scenario.configure(workflow.spec.validate_standins(
        {"source": {"objects": "6", "other_dates": "0", "error_keys": "2", "fault_on": "delete"}}))
    s3 = workflow.emulator.client("s3")
    listing = s3.list_objects_v2(Bucket=scenario.bucket, Prefix=scenario.source_prefix)["Contents"]
    batch = {"Items": [reader_item(obj) for obj in listing],
             "BatchInput": {"bucket": scenario.bucket, "sourcePrefix": scenario.source_prefix,
                            "destinationPrefix": scenario.destination_prefix, "targetDate": scenario.target_date}}
    undeleted = scenario.fault_keys["error"]
    moved_first = [key for key in scenario.expected if key not in undeleted]
    (copy_function,) = [name for lid, name in workflow.stack.resources.items()
                        if lid.startswith("CopyFunction") and workflow.stack.resource_types[lid] == "AWS::Lambda::Function"]

    def invoke() -> dict:
        answer = workflow.emulator.client("lambda").invoke(FunctionName=copy_function, Payload=json.dumps(batch))
        return json.loads(answer["Payload"].read())

    # WHEN the copy function runs it and S3 keeps failing the delete of two objects: a partial run
    partial = invoke()
    assert partial["errorType"] == "S3Throttled"
    assert set(scenario.keys(scenario.source_prefix)) == set(undeleted)
    # AND then two sources change: one already moved is uploaded again (B), one copied but not deleted too
    newer = {moved_first[0]: b"B" * 64, undeleted[0]: b"C" * 64}
    for key, body in newer.items():
        s3.put_object(Bucket=scenario.bucket, Key=key, Body=body)
    scenario.configure(workflow.spec.validate_standins({"source": {"fill": "false"}}))  # S3 answers normally again
    # WHEN the same batch is replayed
    replay = invoke()
    # THEN what was copied and unchanged counts as moved, what changed is named and stays
    reasons = {r["key"]: (r["status"], r.get("reason")) for r in replay["results"]}
    assert reasons == {key: ("failed", "SourceChanged") if key in newer else ("moved", "AlreadyCopied")
                       for key in scenario.expected}
    assert {key: scenario.body(key) for key in scenario.keys(scenario.source_prefix)} == newer
    # AND every copy holds what was listed
    for key, digest in scenario.expected.items():
        assert sha256(scenario, scenario.destination_of(key)) == digest

    # WHEN the workflow then runs on what is there (a fresh listing)
    rerun = workflow.run({}, standins={"source": {"fill": "false"}})
    # THEN the changed objects move too: the end state of a clean run, with their newer bytes
    assert rerun.status == "SUCCEEDED", rerun.cause
    assert (rerun.output["moved"], rerun.output["failed"]) == (2, 0)
    assert scenario.keys(scenario.source_prefix) == []
    assert {key: scenario.body(scenario.destination_of(key)) for key in newer} == newer


def test_scale_more_than_a_page_and_many_batches(workflow, scenario):
    # GIVEN 900 objects for the date and 200 others: 1,100 keys, two ListObjectsV2 pages, 11 batches of 100
    # (its wall time is a figure of `make bench`, not a test)
    report = workflow.run({}, standins={"source": {"objects": "900", "other_dates": "200"}})
    # THEN every object was read and handled, in batches: 11 copy invocations (+ plan, summarize)
    assert report.status == "SUCCEEDED", report.cause
    assert (report.output["moved"], report.output["skipped"], report.output["failed"]) == (900, 200, 0)
    counts = workflow.emulator.request_counts()
    assert counts["s3:ListObjectsV2"] == 2 and counts["lambda:Invoke"] == 11 + 2
    assert len(scenario.keys(scenario.destination_prefix)) == 900
