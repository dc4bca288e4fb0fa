"""distributed-copy run offline: the synthesized stack in moto (Distributed Map through sandbox/engine),
handlers from the assets, real objects in the emulator's S3."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from tests.workflows.notices import notice_inbox


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


def assert_all_moved(scenario, *, except_keys: tuple[str, ...] = ()) -> None:
    """Every target-date object is at its dated destination, byte-identical; only the others remain."""
    for key, digest in scenario.expected.items():
        if key in except_keys:
            continue
        assert sha256(scenario, scenario.destination_of(key)) == digest
    assert scenario.keys(scenario.source_prefix) == sorted([*scenario.other_keys, *except_keys])


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


def test_second_run_is_idempotent(workflow, scenario, notices):
    # GIVEN a completed run
    first = workflow.run({}, standins={"source": {"objects": "20", "other_dates": "5"}})
    assert first.status == "SUCCEEDED", first.cause
    # WHEN it runs again on what it left
    second = workflow.run({}, standins={"source": {"fill": "false"}})
    # THEN no error, nothing moved twice, same end state
    assert second.status == "SUCCEEDED", second.cause
    assert (second.output["moved"], second.output["skipped"], second.output["failed"]) == (0, 5, 0)
    assert_all_moved(scenario)
    assert notices() == []


def test_denied_copies_keep_their_sources_and_one_notice_names_them(workflow, scenario, notices):
    # GIVEN 30 objects for the date, 3 of which S3 refuses to copy (AccessDenied)
    report = workflow.run({}, standins={"source": {"objects": "30", "other_dates": "4", "deny_keys": "3"}})
    denied = tuple(scenario.denied_keys)
    # THEN the run succeeds with 3 failed items: their sources stay, no copy of them exists
    assert report.status == "SUCCEEDED", report.cause
    assert (report.output["moved"], report.output["skipped"], report.output["failed"]) == (27, 4, 3)
    assert_all_moved(scenario, except_keys=denied)
    assert not set(map(scenario.destination_of, denied)) & set(scenario.keys(scenario.destination_prefix))
    # AND exactly one notice names the three keys and why
    (notice,) = notices()
    assert sorted(item["key"] for item in notice["failedKeys"]) == sorted(denied)
    assert {item["reason"] for item in notice["failedKeys"]} == {"AccessDenied"} and notice["failedCount"] == 3

    # WHEN the fault is gone and the workflow runs again
    rerun = workflow.run({}, standins={"source": {"fill": "false"}})
    # THEN the end state is that of an unfaulted run
    assert rerun.status == "SUCCEEDED", rerun.cause
    assert (rerun.output["moved"], rerun.output["failed"]) == (3, 0)
    assert_all_moved(scenario)
    assert notices() == []


def test_failures_over_the_tolerance_go_through_the_catch_to_fail(workflow, scenario, notices):
    # GIVEN one object whose copy S3 keeps throttling: its batch (all 20 objects) fails after retries
    report = workflow.run({}, standins={"source": {"objects": "15", "other_dates": "5", "throttle_keys": "1"}})
    # THEN 20 of 20 items failed > 5 %: the Map fails, the Catch publishes the notice, the execution fails
    assert report.status == "FAILED"
    assert report.error == "States.ExceedToleratedFailureThreshold"
    (notice,) = notices()
    assert notice["error"] == "States.ExceedToleratedFailureThreshold" and notice["workflow"] == "distributed-copy"
    # AND nothing of the throttled object was lost
    (throttled,) = scenario.throttled_keys
    assert sha256(scenario, throttled) == scenario.expected[throttled]


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


def test_malformed_target_date_is_a_named_error_and_nothing_is_deleted(workflow, scenario, notices):
    # GIVEN a filled source; WHEN the input's targetDate is not a date
    report = workflow.run({"targetDate": "2026-02-30"}, standins={"source": {"objects": "5", "other_dates": "1"}})
    # THEN the execution fails with the named error, after one notice, and every object is still there
    assert report.status == "FAILED" and report.error == "InvalidCopyInput"
    (notice,) = notices()
    assert notice["error"] == "InvalidCopyInput"
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


def test_objects_above_the_part_threshold_use_multipart_copy(workflow, scenario):
    # GIVEN 7 MiB objects and the local stage's 6 MiB part threshold
    report = workflow.run({}, standins={"source": {"objects": "2", "other_dates": "0", "size_bytes": str(7 * 1024 * 1024)}})
    # THEN they moved through UploadPartCopy, byte-identical
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["moved"] == 2
    assert_all_moved(scenario)
    counts = workflow.emulator.request_counts()
    assert counts["s3:CreateMultipartUpload"] == 2 and counts["s3:UploadPartCopy"] == 4
    assert "s3:CopyObject" not in counts and "s3:UploadPart" not in counts


def test_scale_more_than_a_page_and_many_batches(workflow, scenario):
    # GIVEN 900 objects for the date and 200 others: 1,100 keys, two ListObjectsV2 pages, 11 batches of 100
    started = time.monotonic()
    report = workflow.run({}, standins={"source": {"objects": "900", "other_dates": "200"}})
    elapsed = time.monotonic() - started
    # THEN every object was read and handled, in batches: 11 copy invocations (+ plan, summarize)
    assert report.status == "SUCCEEDED", report.cause
    assert (report.output["moved"], report.output["skipped"], report.output["failed"]) == (900, 200, 0)
    counts = workflow.emulator.request_counts()
    assert counts["s3:ListObjectsV2"] == 2 and counts["lambda:Invoke"] == 11 + 2
    assert len(scenario.keys(scenario.destination_prefix)) == 900
    assert elapsed < 30
