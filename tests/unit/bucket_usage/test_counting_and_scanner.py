"""Counting (cap, storage classes, state round trip) and one scan pass against moto's S3."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from bucket_usage.counting import UsageCounts
from bucket_usage.errors import BucketScanThrottled, InvalidScanState
from bucket_usage.extensions import OTHER
from bucket_usage.scanner import DENIED, MISSING, SCANNED, SCANNING, location_to_region, scan_pass
from tests.unit.bucket_usage.conftest import put_objects


def test_counts_sum_objects_and_bytes_per_group_and_class():
    counts = UsageCounts(by_storage_class=True)
    for key, size, cls in [("a.JPG", 10, "STANDARD"), ("b.jpg", 5, "GLACIER"), ("c", 1, None), (".env", 2, "STANDARD")]:
        counts.add(key, size, cls)
    assert counts.extensions == {"jpg": {"objects": 2, "bytes": 15}, "(none)": {"objects": 1, "bytes": 1}, "(dotfile)": {"objects": 1, "bytes": 2}}
    assert counts.storage_classes["GLACIER"] == {"jpg": {"objects": 1, "bytes": 5}}
    assert counts.storage_classes["STANDARD"]["jpg"] == {"objects": 1, "bytes": 10}
    assert (counts.objects, counts.bytes) == (4, 18)


def test_extensions_beyond_the_cap_count_as_other_and_nothing_is_lost():
    counts = UsageCounts(max_extensions=2)
    for i, ext in enumerate(["a", "b", "c", "d", "a"]):
        counts.add(f"k{i}.{ext}", 1, None)
    assert set(counts.extensions) == {"a", "b", OTHER}
    assert counts.extensions[OTHER] == {"objects": 2, "bytes": 2} and counts.objects == 5


def test_counts_survive_the_state_payload_round_trip():
    counts = UsageCounts(by_storage_class=True)
    counts.add("x.png", 7, "STANDARD_IA")
    again = UsageCounts.from_json(counts.to_json(), by_storage_class=True, max_extensions=10)
    assert again.to_json() == counts.to_json()


@pytest.mark.parametrize("bad", [[], {"extensions": []}, {"extensions": {"jpg": {"objects": -1, "bytes": 0}}}, {"extensions": {"jpg": {}}}])
def test_malformed_counts_in_the_state_are_a_named_error(bad):
    with pytest.raises(InvalidScanState):
        UsageCounts.from_json(bad, by_storage_class=False, max_extensions=10)


@pytest.mark.parametrize(("location", "region"), [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("ap-northeast-1", "ap-northeast-1")])
def test_location_constraint_to_region(location, region):
    assert location_to_region(location) == region


def _s3_for(regions_used: list):
    def s3_for(region):
        regions_used.append(region)
        return boto3.client("s3", region_name=region) if region else boto3.client("s3")

    return s3_for


def test_a_bucket_is_listed_in_passes_of_a_page_each_until_done(aws):
    # GIVEN a bucket of 25 objects in another region, listed 10 keys a page, one page a pass
    put_objects(aws["s3"], "tokyo-bucket", [(f"k{i:02d}.txt", i) for i in range(25)], region="ap-northeast-1")
    regions: list = []
    counts, token, region, outcomes = UsageCounts(), None, None, []
    # WHEN passes run as the state machine loops them
    while True:
        outcome = scan_pass(bucket="tokyo-bucket", region=region, token=token, counts=counts, s3_for=_s3_for(regions), page_size=10, max_pages=1)
        outcomes.append(outcome.status)
        if outcome.done:
            break
        token, region = outcome.token, outcome.region
    # THEN three passes, the region asked once and then used for every listing
    assert outcomes == [SCANNING, SCANNING, SCANNED]
    assert regions == [None, "ap-northeast-1", "ap-northeast-1", "ap-northeast-1"]
    assert counts.extensions == {"txt": {"objects": 25, "bytes": sum(range(25))}}


def test_a_pass_stops_when_its_time_budget_is_spent_but_lists_at_least_one_page(aws):
    put_objects(aws["s3"], "busy", [(f"k{i}", 1) for i in range(30)])
    outcome = scan_pass(bucket="busy", region=None, token=None, counts=UsageCounts(), s3_for=_s3_for([]), page_size=10,
                        seconds_left=lambda: 3.0, reserve_s=5)
    assert outcome.status == SCANNING and outcome.pages == 1 and outcome.token


def test_an_empty_bucket_is_scanned_with_no_counts(aws):
    aws["s3"].create_bucket(Bucket="empty")
    outcome = scan_pass(bucket="empty", region=None, token=None, counts=UsageCounts(), s3_for=_s3_for([]))
    assert outcome.status == SCANNED and outcome.counts.extensions == {}


def test_a_missing_bucket_is_recorded_not_raised(aws):
    outcome = scan_pass(bucket="gone", region=None, token=None, counts=UsageCounts(), s3_for=_s3_for([]))
    assert outcome.status == MISSING and outcome.error.startswith("NoSuchBucket")


class _Failing:
    def __init__(self, code: str, status: int) -> None:
        self.error = ClientError({"Error": {"Code": code, "Message": "nope"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "ListObjectsV2")

    def get_bucket_location(self, **_):
        return {"LocationConstraint": None}

    def list_objects_v2(self, **_):
        raise self.error


def test_access_denied_is_recorded_not_raised():
    outcome = scan_pass(bucket="locked", region=None, token=None, counts=UsageCounts(), s3_for=lambda r: _Failing("AccessDenied", 403))
    assert outcome.status == DENIED and "AccessDenied" in outcome.error


def test_s3_throttling_after_the_sdk_retries_is_a_retryable_named_error():
    with pytest.raises(BucketScanThrottled):
        scan_pass(bucket="hot", region=None, token=None, counts=UsageCounts(), s3_for=lambda r: _Failing("SlowDown", 503))


def test_an_unexpected_s3_error_is_not_swallowed():
    with pytest.raises(ClientError):
        scan_pass(bucket="odd", region=None, token=None, counts=UsageCounts(), s3_for=lambda r: _Failing("InvalidArgument", 400))


class _Garbage:
    """What botocore makes of a 200 with an HTML page (a proxy in the way): an answer with no listing in it."""

    def get_bucket_location(self, **_):
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def list_objects_v2(self, **_):
        return {"ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {"content-type": "text/html"}}}


def test_an_answer_that_is_not_a_listing_is_a_named_error_not_an_empty_bucket():
    from bucket_usage.errors import BucketAnswerInvalid

    with pytest.raises(BucketAnswerInvalid, match="not an S3 listing"):
        scan_pass(bucket="proxied", region=None, token=None, counts=UsageCounts(), s3_for=lambda r: _Garbage())
