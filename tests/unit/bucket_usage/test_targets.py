"""The lister (handlers/list_targets.py): the scan's bucket names, one JSON array in S3, against moto."""

from __future__ import annotations

import json

import pytest

from bucket_usage.errors import InvalidScanInput, InvalidScanState
from bucket_usage.handlers import list_targets
from bucket_usage.targets import listed_names

LISTS = "bucket-usage-lists-test"


@pytest.fixture
def lists(aws, monkeypatch):
    aws["s3"].create_bucket(Bucket=LISTS)
    monkeypatch.setenv("TARGETS_BUCKET", LISTS)
    monkeypatch.setenv("TARGETS_PREFIX", "targets/")
    return lambda key: json.loads(aws["s3"].get_object(Bucket=LISTS, Key=key)["Body"].read())


def test_a_given_list_is_written_once_per_name_in_order(lists, lambda_context):
    result = list_targets.handler({"request": {"buckets": ["b-one", "a-two", "b-one"], "scan_id": "w47"}, "execution": "run-1"},
                                  lambda_context)
    assert result == {"bucket": LISTS, "key": "targets/run-1.json", "count": 2,
                      "request": {"scan_id": "w47", "by_storage_class": False}}
    assert lists(result["key"]) == ["b-one", "a-two"]


def test_without_a_list_every_bucket_or_those_with_the_prefix_is_listed(aws, lists, lambda_context):
    for name in ("logs-a", "logs-b", "photos"):
        aws["s3"].create_bucket(Bucket=name)
    every = list_targets.handler({"request": {}, "execution": "run-2"}, lambda_context)
    prefixed = list_targets.handler({"request": {"name_prefix": "logs-", "by_storage_class": True}, "execution": "run-3"},
                                    lambda_context)
    assert sorted(lists(every["key"])) == sorted(["logs-a", "logs-b", "photos", LISTS])
    assert every["request"] == {"scan_id": "run-2", "by_storage_class": False}  # the scan id defaults to the execution
    assert sorted(lists(prefixed["key"])) == ["logs-a", "logs-b"] and prefixed["count"] == 2
    assert prefixed["request"]["by_storage_class"] is True


def test_every_page_of_list_buckets_is_followed():
    # GIVEN ListBuckets answering in pages (moto 5.2.5 does not paginate ListBuckets: its answers are played here)
    pages = {None: {"Buckets": [{"Name": "a"}, {"Name": "b"}], "ContinuationToken": "t1"},
             "t1": {"Buckets": [{"Name": "c"}], "ContinuationToken": "t2"}, "t2": {"Buckets": []}}
    asked = []

    def list_buckets(**request):
        asked.append(request)
        return pages[request.get("ContinuationToken")]

    assert listed_names(list_buckets, "x").names == ["a", "b", "c"]
    assert asked[0] == {"MaxBuckets": 10_000, "Prefix": "x"} and asked[2]["ContinuationToken"] == "t2"


@pytest.mark.parametrize(
    ("request_", "message"),
    [({"buckets": ["ok-bucket", "Not A Bucket!"]}, r"buckets\[1\]"), ({"buckets": ["x" * 100_000]}, "not a bucket name"),
     ({"buckets": []}, "non-empty"), ({"scan_id": "has spaces"}, "scan_id"), ({"name_prefix": "p" * 64}, "name_prefix")],
)
def test_bad_requests_are_named_errors_with_short_messages(lists, lambda_context, request_, message):
    with pytest.raises(InvalidScanInput, match=message) as raised:
        list_targets.handler({"request": request_, "execution": "run-4"}, lambda_context)
    assert len(str(raised.value)) < 200


def test_an_event_without_the_execution_is_a_named_error(lists, lambda_context):
    with pytest.raises(InvalidScanState):
        list_targets.handler({"request": {}}, lambda_context)
