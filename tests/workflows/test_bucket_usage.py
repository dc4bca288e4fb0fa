"""bucket-usage run offline: the synthesized stack in moto, handlers from the assets, a fleet of buckets
(some denied, some in another region, some vanishing mid-scan) created per run.

Expected figures are computed here, from a direct listing of each bucket, with the counting rules
written out again (not imported from the handlers), so a bug in them cannot hide in both places.
"""

from __future__ import annotations

import json

import pytest
from boto3.dynamodb.types import TypeDeserializer

from sandbox.engine.distributed_map import map_runs
from tests.workflows.notices import notice_inbox

COMPOUNDS = ("tar.gz",)  # of the configured ones, the only one the fleet's names use


def expected_group(key: str) -> str:
    name = key.rsplit("/", 1)[-1].lower()
    if any(name.endswith("." + c) and name[: -len(c) - 1].strip(".") for c in COMPOUNDS):
        return next(c for c in COMPOUNDS if name.endswith("." + c))
    if "." not in name or name.endswith("."):
        return "(none)"
    if name.startswith(".") and "." not in name.lstrip("."):
        return "(dotfile)"
    return name.rsplit(".", 1)[1]


def direct_listing(workflow, bucket: str) -> dict:
    """{group: {"objects", "bytes"}} from the harness's own listing of `bucket`."""
    groups: dict = {}
    for page in workflow.emulator.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            group = groups.setdefault(expected_group(entry["Key"]), {"objects": 0, "bytes": 0})
            group["objects"] += 1
            group["bytes"] += entry["Size"]
    return groups


def items(workflow, scan_id: str) -> dict:
    pages = workflow.emulator.client("dynamodb").get_paginator("query").paginate(
        TableName=workflow.scenario.table_name, KeyConditionExpression="scan_id = :s", ExpressionAttributeValues={":s": {"S": scan_id}}
    )
    found = {}
    for page in pages:
        for raw in page["Items"]:
            item = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}
            found[item["bucket"]] = json.loads(json.dumps(item, default=int))
    return found


def entered(report, state: str) -> int:
    return sum(1 for e in report.events if e.type.endswith("StateEntered") and e.state == state)


def transitions(report) -> int:
    """Billed transitions of a run without retries, counted here from the events: the start plus every state
    entered. The report's own figure must agree (it once counted phantom retries of concurrent Map iterations)."""
    counted = 1 + sum(1 for e in report.events if e.type.endswith("StateEntered"))
    assert report.state_transitions == counted
    return counted


def children(report) -> list:
    """The Distributed Map's child executions (one per bucket), as the sandbox recorded them."""
    return [child for run in map_runs(report.execution_arn) for child in run.ordered_children()]


def child_of(report, bucket: str):
    (child,) = [c for c in children(report) if c.input["bucket"] == bucket]
    return child


def fleet_names(workflow, kind: str | None = None) -> list[str]:
    return [b.name for b in workflow.scenario.fleet if kind is None or b.kind == kind]


@pytest.fixture(scope="module")
def workflow(sandbox):
    return sandbox.deploy("bucket-usage")


@pytest.fixture(scope="module")
def notices(workflow):
    """An SQS queue subscribed to the notices topic: what the owner of the scan receives."""
    return notice_inbox(workflow, topic_arn=workflow.scenario.topic_arn)


MIXED = {"buckets": "3", "objects_per_bucket": "40", "extensions": "jpg,PNG,Csv,tar.gz", "other_region_buckets": "1",
         "denied_buckets": "1", "empty_buckets": "1", "storage_classes": "STANDARD,STANDARD_IA"}


def test_exact_counts_for_a_mixed_fleet_with_denied_empty_and_other_region_buckets(workflow, notices):
    # GIVEN 3 ordinary buckets, 1 in eu-west-1, 1 denying access and 1 empty, names in mixed case,
    # without extension, dotfiles and tar.gz
    notices()  # earlier runs' summaries
    report = workflow.run({"name_prefix": "usage-", "scan_id": "mixed-1"}, standins={"fleet": MIXED})
    # THEN it succeeds, one item per bucket holds exactly what a direct listing says
    assert report.status == "SUCCEEDED", report.cause
    found = items(workflow, "mixed-1")
    assert set(found) == set(fleet_names(workflow))
    for name in fleet_names(workflow):
        if name in fleet_names(workflow, "denied"):
            assert found[name]["status"] == "denied" and "AccessDenied" in found[name]["error"]
            continue
        assert found[name]["status"] == "scanned", found[name]
        assert found[name].get("extensions", {}) == direct_listing(workflow, name), name
    assert found[fleet_names(workflow, "empty")[0]]["objects"] == 0
    assert {g for n in fleet_names(workflow, "ordinary") for g in found[n]["extensions"]} == {"jpg", "png", "csv", "tar.gz", "(none)", "(dotfile)"}
    # the other-region bucket was listed through its own region, never redirected
    (other,) = fleet_names(workflow, "other-region")
    assert found[other]["region"] == "eu-west-1"
    assert report.outside_world["wrong_region_requests"] == 0 and report.outside_world["s3_requests_by_region"]["eu-west-1"] >= 1
    # the lister, one scan Lambda per bucket (each in its own child execution: 3 states, ScanPass, MoreToScan, BucketDone) and the summary;
    # the execution itself enters 6 states whatever the number of buckets, and its state stays small
    n = len(fleet_names(workflow))
    assert report.lambda_invocations == n + 2
    assert transitions(report) == 7 and entered(report, "ListTargets") == 1 and entered(report, "ScanSummarized") == 1
    assert len(children(report)) == n and all(c.status == "SUCCEEDED" and c.transitions == 3 and "BucketDone" in c.entered
                                              for c in children(report))
    assert report.max_state_payload_bytes < 2048
    # AND the summary names the failure and ranks the extensions by bytes, as the listing does
    (summary,) = notices()
    totals: dict = {}
    for name in fleet_names(workflow):
        if name not in fleet_names(workflow, "denied"):
            for group, entry in direct_listing(workflow, name).items():
                totals.setdefault(group, 0)
                totals[group] += entry["bytes"]
    assert [t["extension"] for t in summary["top_extensions"]] == sorted(totals, key=lambda g: (-totals[g], g))
    assert [t["bytes"] for t in summary["top_extensions"]] == sorted(totals.values(), reverse=True)
    assert summary["buckets"] == n and summary["buckets_scanned"] == n - 1
    assert summary["failures"] == [{"bucket": fleet_names(workflow, "denied")[0], "status": "denied", "error": found[fleet_names(workflow, "denied")[0]]["error"]}]
    assert report.output == {k: v for k, v in summary.items() if k != "workflow"}


def test_a_second_scan_with_the_same_id_does_not_double_count(workflow, notices):
    # GIVEN the mixed fleet scanned once under scan id "again"
    notices()  # earlier runs' summaries
    first = workflow.run({"name_prefix": "usage-", "scan_id": "again"}, standins={"fleet": MIXED})
    before = items(workflow, "again")
    # WHEN scanned again with the same id (same buckets)
    second = workflow.run({"name_prefix": "usage-", "scan_id": "again"}, standins={"fleet": MIXED})
    after = items(workflow, "again")
    # THEN every item holds the same counts (replaced, not added to) and the summaries agree
    assert first.status == second.status == "SUCCEEDED"
    strip = lambda found: {b: {k: v for k, v in item.items() if k not in ("execution", "scanned_at", "expires_at")} for b, item in found.items()}
    assert strip(after) == strip(before)
    assert {k: v for k, v in second.output.items() if k != "execution"} == {k: v for k, v in first.output.items() if k != "execution"}
    assert len(notices()) == 2


def test_counts_per_storage_class_when_asked(workflow):
    report = workflow.run({"name_prefix": "usage-", "scan_id": "classes", "by_storage_class": True}, standins={"fleet": MIXED})
    assert report.status == "SUCCEEDED", report.cause
    name = fleet_names(workflow, "ordinary")[0]
    item = items(workflow, "classes")[name]
    assert set(item["storage_classes"]) == {"STANDARD", "STANDARD_IA"}
    for group, entry in item["extensions"].items():
        assert sum(c.get(group, {"objects": 0})["objects"] for c in item["storage_classes"].values()) == entry["objects"]


def test_more_than_a_thousand_objects_are_paginated_and_a_bucket_deleted_mid_scan_is_recorded(workflow):
    # GIVEN a bucket of 1,500 objects (two pages, one page per pass locally) and one deleted after its first page
    fleet = {"buckets": "1", "objects_per_bucket": "1500", "other_region_buckets": "0", "denied_buckets": "0", "vanishing_buckets": "1"}
    report = workflow.run({"name_prefix": "usage-", "scan_id": "big"}, standins={"fleet": fleet})
    assert report.status == "SUCCEEDED", report.cause
    (big,), (gone,) = fleet_names(workflow, "ordinary"), fleet_names(workflow, "vanishing")
    found = items(workflow, "big")
    assert found[big]["status"] == "scanned" and found[big]["passes"] == 2 and found[big]["objects"] == 1500
    assert found[big]["extensions"] == direct_listing(workflow, big)
    assert report.outside_world["vanished"] == [gone]
    assert found[gone]["status"] == "missing" and "NoSuchBucket" in found[gone]["error"]
    # two passes each (ScanPass and MoreToScan twice, then BucketDone), in their own child executions
    assert [c.transitions for c in children(report)] == [5, 5] and report.lambda_invocations == 1 + 4 + 1
    assert report.output["failures"] == [{"bucket": gone, "status": "missing", "error": found[gone]["error"]}]


def test_a_bucket_over_the_pass_limit_is_recorded_incomplete_with_partial_counts(workflow):
    # GIVEN a bucket needing three passes where the local stage allows two
    fleet = {"buckets": "1", "objects_per_bucket": "2001", "other_region_buckets": "0", "denied_buckets": "0"}
    report = workflow.run({"name_prefix": "usage-", "scan_id": "too-big"}, standins={"fleet": fleet})
    assert report.status == "SUCCEEDED", report.cause
    (name,) = fleet_names(workflow)
    item = items(workflow, "too-big")[name]
    assert item["status"] == "incomplete" and item["objects"] == 2000 and item["passes"] == 2
    (child,) = children(report)
    assert "RecordIncomplete" in child.entered and child.transitions == 5 and child.lambda_invocations == 3


def test_an_explicit_list_is_scanned_as_given_and_an_unknown_bucket_is_missing(workflow):
    workflow.scenario.configure(workflow.spec.validate_standins({"fleet": MIXED}))
    chosen = fleet_names(workflow, "ordinary")[:2]
    report = workflow.run({"buckets": [*chosen, "no-such-bucket-here"], "scan_id": "explicit"}, standins={"fleet": MIXED})
    assert report.status == "SUCCEEDED", report.cause
    assert entered(report, "ChooseBuckets") == 1  # the list's elements checked by its condition: no other state
    found = items(workflow, "explicit")
    assert set(found) == {*chosen, "no-such-bucket-here"} and found["no-such-bucket-here"]["status"] == "missing"
    assert report.lambda_invocations == 1 + 3 + 1 and transitions(report) == 7
    # each child carries its bucket and the checked request, never the list (it would grow with N)
    assert sorted(c.input["bucket"] for c in children(report)) == sorted([*chosen, "no-such-bucket-here"])
    assert all(c.input["request"] == {"scan_id": "explicit", "by_storage_class": False} for c in children(report))
    assert report.output["buckets"] == 3


def test_without_a_filter_every_bucket_of_the_account_is_scanned(workflow):
    # GIVEN the account's buckets: the fleet, the CDK asset bucket and any other stack's buckets
    workflow.scenario.configure(workflow.spec.validate_standins({"fleet": {**MIXED, "denied_buckets": "0"}}))
    every = [b["Name"] for b in workflow.emulator.client("s3").list_buckets()["Buckets"]]
    report = workflow.run({"scan_id": "everything"}, standins={"fleet": {**MIXED, "denied_buckets": "0"}})
    assert report.status == "SUCCEEDED", report.cause
    assert entered(report, "ListTargets") == 1 and len(children(report)) == len(every)
    found = items(workflow, "everything")
    assert sorted(found) == sorted(every)
    own_lists = workflow.stack.resources[next(lid for lid, t in workflow.stack.resource_types.items()
                                              if t == "AWS::S3::Bucket" and "Lists" in lid)]
    for name in every:
        assert found[name]["status"] == "scanned", name
        if name != own_lists:  # the run itself writes there (its list, then its Map Run's results) while it scans
            assert found[name].get("extensions", {}) == direct_listing(workflow, name), name


@pytest.mark.parametrize(
    "execution_input",
    [{"buckets": "not-a-list"}, {"buckets": []}, {"buckets": [1, 2]}, {"scan_id": 7}, {"by_storage_class": "yes"},
     {"name_prefix": 3}, {"buckets": ["a-bucket"], "name_prefix": "a"},
     # every element's type, not only the first's
     {"buckets": ["b", 5]}, {"buckets": ["b", -1.5]}, {"buckets": ["b", None]}, {"buckets": ["b", True]},
     {"buckets": ["b", False]}, {"buckets": ["b", {"name": "c"}]}, {"buckets": ["b", ["c"]]}, {"buckets": ["b", "c", 7]},
     # an empty list as an element: a JSONata filter drops it, so the elements are counted, not filtered for non-strings
     {"buckets": ["b", []]}, {"buckets": [[]]}],
)
def test_bad_input_fails_at_once_with_a_named_error_having_written_nothing(workflow, execution_input):
    report = workflow.run(execution_input)
    assert report.status == "FAILED" and report.error == "InvalidScanInput"
    assert report.lambda_invocations == 0 and entered(report, "InvalidInput") == 1 and children(report) == []
    # nothing read or written: no S3 list, no item, no notice
    assert not {"s3", "dynamodb", "sns"} & set(report.aws_requests), report.aws_requests


@pytest.mark.parametrize(
    ("execution_input", "named"),
    [({"buckets": ["usage-fine", "Not A Bucket!"], "scan_id": "bad-name"}, "buckets[1]"),
     ({"buckets": ["usage-fine", "n" * 200_000], "scan_id": "huge-name"}, "buckets[1]"),  # a cause repeating it would
     ({"scan_id": "s" * 200_000}, "scan_id")],                                              # pass the 256 KiB state limit
    ids=["bad-name", "200-KB-name", "200-KB-scan-id"],
)
def test_a_value_the_lister_refuses_fails_before_any_scan_with_a_short_cause(workflow, notices, execution_input, named):
    notices()
    report = workflow.run(execution_input)
    assert report.status == "FAILED" and report.error == "InvalidScanInput" and named in report.cause
    assert len(report.cause) < 10_000 and report.lambda_invocations == 1 and children(report) == []
    assert "dynamodb" not in report.aws_requests
    (notice,) = notices()
    assert notice["error"] == "InvalidScanInput"


def test_a_scan_id_the_handlers_refuse_is_caught_notified_and_failed(workflow, notices):
    # GIVEN a scan id that passes the type check but not the handlers' rules
    notices()  # earlier runs' summaries
    report = workflow.run({"name_prefix": "usage-", "scan_id": "has spaces"}, standins={"fleet": MIXED})
    # THEN the lister refuses it before any bucket is scanned, and the owner is told
    assert report.status == "FAILED" and report.error == "InvalidScanInput"
    assert entered(report, "ListTargets") == 1 and children(report) == [] and report.lambda_invocations == 1
    (notice,) = notices()
    assert notice["workflow"] == "bucket-usage" and notice["error"] == "InvalidScanInput"
    assert notice["execution"] == report.execution_arn


def test_a_bucket_that_stays_throttled_is_recorded_the_others_go_on_and_past_the_threshold_the_run_fails(workflow, notices):
    # GIVEN one ordinary bucket and one answering every request 503 SlowDown, and the results table
    # throttling the first 3 writes
    fleet = {"buckets": "1", "objects_per_bucket": "30", "other_region_buckets": "0", "denied_buckets": "0",
             "throttled_buckets": "1"}
    report = workflow.run({"name_prefix": "usage-", "scan_id": "throttled"},
                          standins={"fleet": fleet, "results": {"fail_on": "scan", "fail_times": "3"}})
    # THEN the throttled bucket's pass was retried (3 retries), then caught and recorded; the other was scanned;
    # the summary naming the failure was published; and 1 failed scan of 2 is past the 5% tolerated: the run fails
    (summary,) = notices()
    assert summary["verdict"]["thresholdExceeded"] is True and summary["buckets_scanned"] == 1
    assert report.status == "FAILED" and report.error == "TooManyBucketsFailed", report.cause
    assert "1 of 2 buckets (50.0%) could not be scanned" in report.cause
    (ordinary,), (throttled,) = fleet_names(workflow, "ordinary"), fleet_names(workflow, "throttled")
    failed = child_of(report, throttled)
    assert failed.status == "SUCCEEDED" and "ScanFailed" in failed.entered and failed.lambda_invocations == 1 + 3 + 1
    found = items(workflow, "throttled")
    assert found[throttled]["status"] == "error" and "BucketScanThrottled" in found[throttled]["error"]
    assert found[ordinary]["status"] == "scanned" and found[ordinary]["extensions"] == direct_listing(workflow, ordinary)
    assert summary["failures"] == [{"bucket": throttled, "status": "error", "error": found[throttled]["error"]}]
    # AND the throttled writes were retried by the SDK, not lost
    assert report.outside_world["results_faults_injected"] == {"PutItem": 3}
    assert report.outside_world["throttled_requests"] >= 4


def test_the_sandbox_emulates_denied_buckets_and_regional_endpoints_for_non_harness_clients(workflow):
    # GIVEN the mixed fleet, and a client like a handler's (no harness tag in its User-Agent)
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    workflow.scenario.configure(workflow.spec.validate_standins({"fleet": MIXED}))
    emulator = workflow.emulator

    def client(region: str):
        return boto3.client("s3", endpoint_url=emulator.endpoint_url, region_name=region, aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))

    (denied,), (other,) = fleet_names(workflow, "denied"), fleet_names(workflow, "other-region")
    # WHEN it lists a denied bucket, and the other-region bucket through the wrong and the right region
    with pytest.raises(ClientError) as refused:
        client("us-east-1").list_objects_v2(Bucket=denied)
    client("us-east-1").list_objects_v2(Bucket=other)  # botocore follows the 301 by itself
    client("eu-west-1").list_objects_v2(Bucket=other)
    # THEN the denied bucket answers AccessDenied, the wrong region is redirected (and counted), the harness passes
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert workflow.scenario.rules.wrong_region_requests == 1 and workflow.scenario.rules.denied_requests == 1
    assert emulator.client("s3").list_objects_v2(Bucket=denied)["KeyCount"] > 0


def test_the_sandbox_plays_throttled_slow_and_garbage_answering_buckets_for_non_harness_clients(workflow):
    # (what the scan does with each: tests/unit/bucket_usage, and the throttled bucket's run above)
    # GIVEN one bucket of each faulty kind, and a client like a handler's with a 0.5 s read timeout
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, ReadTimeoutError

    fleet = {"buckets": "0", "other_region_buckets": "0", "denied_buckets": "0", "throttled_buckets": "1", "slow_buckets": "1",
             "garbage_buckets": "1", "slow_seconds": "1.5", "objects_per_bucket": "3"}
    workflow.scenario.configure(workflow.spec.validate_standins({"fleet": fleet}))
    s3 = boto3.client("s3", endpoint_url=workflow.emulator.endpoint_url, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}, read_timeout=0.5))
    (throttled,), (slow,), (garbage,) = (fleet_names(workflow, kind) for kind in ("throttled", "slow", "garbage"))
    # THEN S3 throttles the first, answers the second too late, and the third with something that is not S3's XML
    with pytest.raises(ClientError) as refused:
        s3.list_objects_v2(Bucket=throttled)
    assert refused.value.response["Error"]["Code"] == "SlowDown" and workflow.scenario.rules.throttled_requests == 1
    with pytest.raises(ReadTimeoutError):
        s3.list_objects_v2(Bucket=slow)
    assert "IsTruncated" not in s3.list_objects_v2(Bucket=garbage)  # botocore parses the HTML page to nothing
    # AND the harness still sees every bucket as it is
    assert all(workflow.emulator.client("s3").list_objects_v2(Bucket=b)["KeyCount"] == 3 for b in (throttled, slow, garbage))
