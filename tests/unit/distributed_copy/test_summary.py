"""Summarize handler: counts from ResultWriter files, one notice, long lists through S3."""

from __future__ import annotations

import json

import pytest

from tests.unit.distributed_copy.conftest import RESULTS

from distributed_copy.handlers import summarize
from distributed_copy.summary import failure_verdict


def write_results(s3, succeeded: list[dict], failed: list[dict]) -> dict:
    files = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for group, entries in (("SUCCEEDED", succeeded), ("FAILED", failed)):
        if entries:
            key = f"map-runs/run/{group}_0.json"
            s3.put_object(Bucket=RESULTS, Key=key, Body=json.dumps(entries).encode())
            files[group].append({"Key": key, "Size": 1})
    s3.put_object(Bucket=RESULTS, Key="map-runs/run/manifest.json",
                  Body=json.dumps({"DestinationBucket": RESULTS, "MapRunArn": "arn", "ResultFiles": files}).encode())
    return {"Bucket": RESULTS, "Key": "map-runs/run/manifest.json"}


def output(results: list[dict]) -> dict:
    return {"Output": json.dumps({"results": results}), "Status": "SUCCEEDED"}


def test_counts_and_notice_naming_failed_keys(s3, lambda_context, monkeypatch):
    # GIVEN one successful batch with a denied key, and one batch whose child failed as a whole
    monkeypatch.setenv("RESULTS_BUCKET", RESULTS)
    monkeypatch.setenv("FAILED_KEYS_PREFIX", "failed-keys/")
    monkeypatch.setenv("NOTICE_MAX_KEYS", "50")
    monkeypatch.setenv("TOLERATED_FAILED_OBJECTS_PERCENTAGE", "5")
    ref = write_results(s3, [output([{"key": "a", "status": "moved"}, {"key": "b", "status": "skipped"},
                                     {"key": "c", "status": "failed", "reason": "AccessDenied"}])],
                        [{"Input": json.dumps({"Items": [{"Key": "d"}, {"Key": "e"}]}), "Error": "S3Throttled", "Status": "FAILED"}])
    # WHEN summarized
    summary = summarize.handler({"results": ref, "targetDate": "2026-11-22", "execution": "run-1"}, lambda_context)
    # THEN counts cover every item and the notice names every failed key with its reason
    assert (summary["moved"], summary["skipped"], summary["failed"]) == (1, 1, 3)
    assert summary["notice"]["failedKeys"] == [{"key": "c", "reason": "AccessDenied"}, {"key": "d", "reason": "S3Throttled"},
                                               {"key": "e", "reason": "S3Throttled"}]
    assert "failedKeysList" not in summary["notice"]


def test_too_many_failed_keys_go_to_s3(s3, lambda_context, monkeypatch):
    monkeypatch.setenv("RESULTS_BUCKET", RESULTS)
    monkeypatch.setenv("FAILED_KEYS_PREFIX", "failed-keys/")
    monkeypatch.setenv("NOTICE_MAX_KEYS", "2")
    monkeypatch.setenv("TOLERATED_FAILED_OBJECTS_PERCENTAGE", "5")
    ref = write_results(s3, [output([{"key": f"k{i}", "status": "failed", "reason": "AccessDenied"} for i in range(5)])], [])
    summary = summarize.handler({"results": ref, "targetDate": "d", "execution": "run-2"}, lambda_context)
    listed = summary["notice"]["failedKeysList"]
    assert listed == {"Bucket": RESULTS, "Key": "failed-keys/run-2.json"}
    assert len(json.loads(s3.get_object(**listed)["Body"].read())) == 5 and len(summary["notice"]["failedKeys"]) == 2


def test_no_failure_no_notice(s3, lambda_context, monkeypatch):
    monkeypatch.setenv("RESULTS_BUCKET", RESULTS)
    monkeypatch.setenv("FAILED_KEYS_PREFIX", "failed-keys/")
    monkeypatch.setenv("TOLERATED_FAILED_OBJECTS_PERCENTAGE", "0")
    ref = write_results(s3, [], [])
    assert summarize.handler({"results": ref, "targetDate": "d", "execution": "e"}, lambda_context) == {
        "moved": 0, "skipped": 0, "failed": 0, "failedPercentage": 0.0, "thresholdExceeded": False, "cause": None,
        "notice": None}


def test_when_every_copy_is_denied_the_verdict_fails_the_run_and_the_notice_says_so(s3, lambda_context, monkeypatch):
    # GIVEN a run where every object due to move was denied (and one of another date skipped)
    monkeypatch.setenv("RESULTS_BUCKET", RESULTS)
    monkeypatch.setenv("FAILED_KEYS_PREFIX", "failed-keys/")
    monkeypatch.setenv("TOLERATED_FAILED_OBJECTS_PERCENTAGE", "5")
    ref = write_results(s3, [output([{"key": k, "status": "failed", "reason": "AccessDenied"} for k in "abc"]
                                    + [{"key": "d", "status": "skipped", "reason": "OtherDate"}])], [])
    summary = summarize.handler({"results": ref, "targetDate": "d", "execution": "e"}, lambda_context)
    # THEN the threshold is exceeded, with a cause for the failed run, and the notice names the keys and the verdict
    assert (summary["failedPercentage"], summary["thresholdExceeded"]) == (100.0, True)
    assert summary["cause"].startswith("3 of 3 objects (100.0%) were not moved")
    assert summary["notice"]["thresholdExceeded"] is True and len(summary["notice"]["failedKeys"]) == 3


@pytest.mark.parametrize("moved, failed, tolerated, exceeded", [
    (38, 2, 5, False),   # exactly the tolerated share: not past it
    (37, 3, 5, True),
    (0, 0, 0, False),    # nothing due to move
    (10, 1, 0, True),    # 0: any failure fails the run
    (0, 1, 100, False),
])
def test_the_verdict_is_past_the_tolerated_share_of_objects_due_to_move(moved, failed, tolerated, exceeded):
    assert failure_verdict(moved, failed, tolerated)["thresholdExceeded"] is exceeded
