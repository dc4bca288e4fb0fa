"""Scan and summarize handlers in-process against moto (S3, DynamoDB, SNS -> SQS)."""

from __future__ import annotations

import json

import boto3
import pytest

from bucket_usage.errors import InvalidScanInput, InvalidScanState
from bucket_usage.handlers import scan, summarize
from tests.unit.bucket_usage.conftest import TABLE, load_event, put_objects


def _item(scan_id: str, bucket: str) -> dict:
    from boto3.dynamodb.types import TypeDeserializer

    raw = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"scan_id": {"S": scan_id}, "bucket": {"S": bucket}}).get("Item")
    return {k: TypeDeserializer().deserialize(v) for k, v in raw.items()} if raw else {}


def _loop(event: dict, context, max_passes: int = 10) -> list[dict]:
    """Call the scan handler as the state machine's loop does: pass + 1, state = last result."""
    results = []
    state = event["state"]
    while True:
        result = scan.handler({**event, "pass": state["pass"] + 1, "state": state}, context)
        results.append(result)
        if result["done"] or result["pass"] >= max_passes:
            return results
        state = result


def test_a_bucket_scanned_in_passes_writes_one_item_with_its_totals(aws, lambda_context, monkeypatch):
    # GIVEN a bucket of 5 objects, listed 2 keys a page and one page a pass
    monkeypatch.setenv("LIST_PAGE_SIZE", "2")
    put_objects(aws["s3"], "photos-archive", [("a.JPG", 100), ("b.jpg", 50), ("c.tar.gz", 7), ("README", 3), (".env", 1)])
    # WHEN the loop runs
    results = _loop(load_event("scan_first_pass"), lambda_context)
    # THEN three passes; partial counts travel until the last one, which returns only totals
    assert [r["pass"] for r in results] == [1, 2, 3] and [r["done"] for r in results] == [False, False, True]
    assert "counts" in results[0] and "counts" not in results[-1]
    assert results[-1] == {"bucket": "photos-archive", "pass": 3, "done": True, "status": "scanned", "region": "us-east-1", "objects": 5, "bytes": 161}
    item = _item("weekly-2026-47", "photos-archive")
    assert item["status"] == "scanned" and item["objects"] == 5 and item["bytes"] == 161 and item["passes"] == 3
    assert item["extensions"] == {
        "jpg": {"objects": 2, "bytes": 150}, "tar.gz": {"objects": 1, "bytes": 7},
        "(none)": {"objects": 1, "bytes": 3}, "(dotfile)": {"objects": 1, "bytes": 1},
    }
    assert item["expires_at"] > 0 and "storage_classes" not in item


def test_a_second_scan_with_the_same_id_replaces_the_item_instead_of_adding(aws, lambda_context):
    put_objects(aws["s3"], "photos-archive", [("a.png", 10)])
    for _ in range(2):
        _loop(load_event("scan_first_pass"), lambda_context)
    assert _item("weekly-2026-47", "photos-archive")["extensions"] == {"png": {"objects": 1, "bytes": 10}}


def test_counts_per_storage_class_when_asked(aws, lambda_context):
    aws["s3"].create_bucket(Bucket="photos-archive")
    aws["s3"].put_object(Bucket="photos-archive", Key="a.png", Body=b"12", StorageClass="STANDARD_IA")
    aws["s3"].put_object(Bucket="photos-archive", Key="b.png", Body=b"1")
    event = load_event("scan_first_pass")
    event["request"]["by_storage_class"] = True
    _loop(event, lambda_context)
    assert _item("weekly-2026-47", "photos-archive")["storage_classes"] == {
        "STANDARD_IA": {"png": {"objects": 1, "bytes": 2}}, "STANDARD": {"png": {"objects": 1, "bytes": 1}},
    }


def test_finalize_records_the_partial_counts_as_incomplete(aws, lambda_context):
    aws["s3"].create_bucket(Bucket="photos-archive")
    event = {**load_event("scan_first_pass"), "pass": 2, "finalize": True,
             "state": {"pass": 2, "done": False, "region": "us-east-1", "token": "t", "counts": {"extensions": {"jpg": {"objects": 4, "bytes": 40}}}}}
    result = scan.handler(event, lambda_context)
    assert result["status"] == "incomplete" and result["done"] is True and result["objects"] == 4
    item = _item("weekly-2026-47", "photos-archive")
    assert item["status"] == "incomplete" and item["extensions"] == {"jpg": {"objects": 4, "bytes": 40}} and "partial" in item["error"]


def test_a_missing_bucket_is_recorded_as_missing(aws, lambda_context):
    result = scan.handler(load_event("scan_first_pass"), lambda_context)
    assert result["status"] == "missing" and result["done"]
    assert _item("weekly-2026-47", "photos-archive")["status"] == "missing"


def test_the_scan_id_defaults_to_the_execution_name(aws, lambda_context):
    aws["s3"].create_bucket(Bucket="photos-archive")
    scan.handler({**load_event("scan_first_pass"), "request": {}}, lambda_context)
    assert _item("exec-0001", "photos-archive")["status"] == "scanned"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"request": {"scan_id": "has space"}}, InvalidScanInput),
        ({"request": {"scan_id": 7}}, InvalidScanInput),
        ({"request": {"by_storage_class": "yes"}}, InvalidScanInput),
        ({"request": []}, InvalidScanInput),
        ({"bucket": "no/slashes"}, InvalidScanInput),
        ({"pass": "1"}, InvalidScanState),
        ({"state": {"counts": {"extensions": "x"}}}, InvalidScanState),
    ],
)
def test_bad_events_are_named_errors(aws, lambda_context, change, error):
    with pytest.raises(error):
        scan.handler({**load_event("scan_first_pass"), **change}, lambda_context)


LISTS = "bucket-usage-lists-test"


def _targets(aws, names: list) -> dict:
    """The list the lister wrote for this execution, as the summary reads it back."""
    event = load_event("summarize")
    aws["s3"].create_bucket(Bucket=LISTS)
    aws["s3"].put_object(Bucket=LISTS, Key=event["targets"]["key"], Body=json.dumps(names).encode())
    return event


def _failure(bucket: str, error: str, cause: str, execution: str = "exec-0001") -> dict:
    """What the Map's Catch hands ScanFailed: the bucket's state and the caught error."""
    return {**load_event("scan_first_pass"), "bucket": bucket, "execution": execution, "pass": 0,
            "failure": {"Error": error, "Cause": cause}}


def test_summary_sums_this_executions_items_names_every_failure_and_publishes(aws, lambda_context):
    # GIVEN one bucket scanned, one whose scan failed for good (recorded by ScanFailed), one listed bucket with no
    # item at all, and a stale item of another bucket left under the same scan id by an earlier execution
    put_objects(aws["s3"], "photos-archive", [("a.jpg", 200), ("b.png", 100), ("c.png", 5)])
    _loop(load_event("scan_first_pass"), lambda_context)
    recorded = scan.handler(_failure("locked-bucket", "Sandbox.Timedout", '{"errorMessage": "Task timed out after 30.00 seconds"}'),
                            lambda_context)
    _loop({**load_event("scan_first_pass"), "bucket": "old-bucket-gone", "execution": "exec-0000"}, lambda_context)
    event = _targets(aws, ["photos-archive", "locked-bucket", "never-scanned"])
    # WHEN summarized, twice (a retried or redriven step)
    first = summarize.handler(event, lambda_context)
    second = summarize.handler(event, lambda_context)
    # THEN the same summary; only this execution's listed buckets; every failure named
    assert recorded == {"bucket": "locked-bucket", "pass": 0, "done": True, "status": "error",
                        "error": "Sandbox.Timedout: Task timed out after 30.00 seconds"}
    assert first == second
    assert first["buckets"] == 3 and first["buckets_scanned"] == 1
    assert first["failures"] == [
        {"bucket": "locked-bucket", "status": "error", "error": "Sandbox.Timedout: Task timed out after 30.00 seconds"},
        {"bucket": "never-scanned", "status": "error", "error": summarize.NO_RESULT},
    ]
    assert first["top_extensions"] == [{"extension": "jpg", "objects": 1, "bytes": 200}, {"extension": "png", "objects": 2, "bytes": 105}]
    assert _item("weekly-2026-47", "locked-bucket")["status"] == "error"
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)["Messages"]
    notices = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert len(notices) == 2 and notices[0]["workflow"] == "bucket-usage" and notices[0]["top_extensions"] == first["top_extensions"]
    assert json.loads(messages[0]["Body"])["Subject"].startswith("bucket-usage weekly-2026-47: 1/3 buckets scanned, 2 failed")
    # AND the notice carries the verdict the state machine acts on: 2 of 3 failed scans is past the 5% tolerated
    assert first["verdict"] == notices[0]["verdict"] == {
        "failedBuckets": 2, "failedPercentage": 66.7, "thresholdExceeded": True,
        "cause": "2 of 3 buckets (66.7%) could not be scanned, more than the 5% tolerated "
                 "(tolerated_failed_buckets_percentage); the summary names them"}


@pytest.mark.parametrize(("statuses", "tolerated", "exceeded"), [
    (["scanned"] * 19 + ["error"], 5, False),  # exactly 5%: tolerated
    (["scanned"] * 18 + ["error"] * 2, 5, True),
    (["scanned"] + ["denied", "missing", "incomplete"], 0, False),  # outcomes the summary reports, not failed scans
    (["error"], 0, True),
    ([], 0, False),  # nothing to scan
])
def test_the_verdict_counts_failed_scans_against_the_tolerated_share(statuses, tolerated, exceeded):
    from bucket_usage.summary import failure_verdict

    summary = {"buckets": len(statuses), "failures": [{"bucket": f"b{i}", "status": s, "error": None}
                                                      for i, s in enumerate(statuses) if s != "scanned"]}
    verdict = failure_verdict(summary, tolerated)
    assert verdict["thresholdExceeded"] is exceeded and (verdict["cause"] is not None) is exceeded


@pytest.mark.parametrize(
    ("event", "error"),
    [({"execution": "exec-0001"}, InvalidScanState), ({"targets": {"bucket": 1, "key": "k"}, "execution": "x"}, InvalidScanState),
     ({"targets": {"bucket": "b", "key": "k", "request": {"scan_id": "has spaces"}}, "execution": "x"}, InvalidScanInput)],
)
def test_summary_rejects_events_without_usable_targets(aws, lambda_context, event, error):
    with pytest.raises(error):
        summarize.handler(event, lambda_context)


def test_a_list_in_s3_that_is_not_names_is_a_named_error(aws, lambda_context):
    event = _targets(aws, ["photos-archive", 5])
    with pytest.raises(InvalidScanInput):
        summarize.handler(event, lambda_context)


def test_a_failure_does_not_overwrite_an_item_the_same_execution_wrote(aws, lambda_context):
    # GIVEN a scan Lambda that wrote its item and then failed (e.g. timed out before returning)
    put_objects(aws["s3"], "photos-archive", [("a.jpg", 200)])
    _loop(load_event("scan_first_pass"), lambda_context)
    # WHEN ScanFailed records the failure, and the scan is summarized
    scan.handler(_failure("photos-archive", "Sandbox.Timedout", "late"), lambda_context)
    summary = summarize.handler(_targets(aws, ["photos-archive"]), lambda_context)
    # THEN the item keeps its counts, and the bucket counts as scanned
    assert _item("weekly-2026-47", "photos-archive")["status"] == "scanned"
    assert summary["buckets_scanned"] == 1 and summary["failures"] == []


def test_a_failure_replaces_an_item_left_by_an_earlier_execution(aws, lambda_context):
    put_objects(aws["s3"], "photos-archive", [("a.jpg", 200)])
    _loop({**load_event("scan_first_pass"), "execution": "earlier-run"}, lambda_context)
    scan.handler(_failure("photos-archive", "Boom", "x"), lambda_context)
    summary = summarize.handler(_targets(aws, ["photos-archive"]), lambda_context)
    assert _item("weekly-2026-47", "photos-archive")["status"] == "error"
    assert summary["failures"] == [{"bucket": "photos-archive", "status": "error", "error": "Boom: x"}]


def test_a_huge_failure_cause_is_trimmed_in_the_item_and_the_result(aws, lambda_context):
    result = scan.handler(_failure("photos-archive", "E" * 10_000, "c" * 300_000), lambda_context)
    assert len(result["error"]) < 500 and len(_item("weekly-2026-47", "photos-archive")["error"]) < 500


@pytest.mark.parametrize(
    "state",
    [{"pass": 1, "done": False, "counts": {"extensions": {"x" * 100_000: {"objects": "many", "bytes": 1}}}},
     {"pass": 1, "done": False, "counts": {"extensions": {}, "storage_classes": {"S" * 100_000: {"jpg": {"objects": -1, "bytes": 1}}}}}],
)
def test_a_malformed_state_with_huge_names_is_a_short_named_error(aws, lambda_context, state):
    with pytest.raises(InvalidScanState) as raised:
        scan.handler({**load_event("scan_first_pass"), "request": {"scan_id": "w", "by_storage_class": True}, "state": state},
                     lambda_context)
    assert len(str(raised.value)) < 200
