"""Verified copy-then-delete of one object, and one batch: moto in-process, real boto3 calls."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.distributed_copy.conftest import BUCKET, load_event

from distributed_copy.batch import process_batch  # noqa: E402  (asset root on sys.path via conftest)
from distributed_copy.copying import CopySettings, composite_etag, move_object, verified
from distributed_copy.errors import InvalidBatch, InvalidCopyInput
from distributed_copy.planning import destination_key, is_target, plan_copy

SMALL = CopySettings()
MULTIPART = CopySettings(multipart_threshold_bytes=6 * 1024 * 1024, part_size_bytes=5 * 1024 * 1024)


def put(s3, key: str, body: bytes) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    return {"Etag": head["ETag"], "Size": head["ContentLength"]}


def move(s3, key: str, dest: str, listed: dict, settings: CopySettings = SMALL) -> dict:
    return move_object(s3, bucket=BUCKET, key=key, dest=dest, listed_etag=listed["Etag"], listed_size=listed["Size"],
                       settings=settings)


def test_copy_is_verified_then_source_deleted(s3):
    # GIVEN a source object
    listed = put(s3, "incoming/a.csv", b"hello")
    # WHEN moved
    outcome = move(s3, "incoming/a.csv", "archive/2026/11/22/a.csv", listed)
    # THEN the copy is byte-identical and the source is gone
    assert outcome == {"key": "incoming/a.csv", "status": "moved", "copied": True}
    assert s3.get_object(Bucket=BUCKET, Key="archive/2026/11/22/a.csv")["Body"].read() == b"hello"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="incoming/")


def test_rerun_after_copy_deletes_without_copying_again(s3):
    # GIVEN a run that copied but died before deleting (the copy exists, the source too)
    listed = put(s3, "incoming/a.csv", b"hello")
    s3.copy_object(Bucket=BUCKET, Key="archive/a.csv", CopySource={"Bucket": BUCKET, "Key": "incoming/a.csv"})
    # WHEN moved again, and once more after the source is gone
    first = move(s3, "incoming/a.csv", "archive/a.csv", listed)
    second = move(s3, "incoming/a.csv", "archive/a.csv", listed)
    # THEN it verifies and deletes without copying; a missing source with a verified copy counts as moved
    assert first == {"key": "incoming/a.csv", "status": "moved", "reason": "AlreadyCopied"}
    assert second == first


def test_a_copy_that_does_not_verify_keeps_the_source(s3):
    # GIVEN a different object already sitting at the destination, and a listing that no longer matches
    listed = put(s3, "incoming/a.csv", b"hello")
    s3.put_object(Bucket=BUCKET, Key="archive/a.csv", Body=b"other")
    # WHEN the listing's ETag is stale (the source changed after listing; moto ignores CopySourceIfMatch)
    outcome = move(s3, "incoming/a.csv", "archive/a.csv", {"Etag": '"0000"', "Size": listed["Size"]})
    # THEN the copy is not verified and the source stays
    assert outcome["status"] == "failed" and outcome["reason"] == "CopyNotVerified"
    assert s3.head_object(Bucket=BUCKET, Key="incoming/a.csv")["ContentLength"] == 5


def test_vanished_source_without_copy_is_a_failed_result(s3):
    outcome = move(s3, "incoming/gone.csv", "archive/gone.csv", {"Etag": '"abc"', "Size": 3})
    assert outcome == {"key": "incoming/gone.csv", "status": "failed", "reason": "SourceVanished"}


def test_multipart_copy_above_the_threshold(s3):
    # GIVEN a 7 MiB object and a 6 MiB part threshold (5 MiB parts)
    body = bytes(range(256)) * (7 * 4096)
    listed = put(s3, "incoming/big.bin", body)
    # WHEN moved
    outcome = move(s3, "incoming/big.bin", "archive/big.bin", listed, MULTIPART)
    # THEN it was copied in two parts, verified by the composite ETag and the recorded source ETag
    assert outcome["status"] == "moved", outcome
    head = s3.head_object(Bucket=BUCKET, Key="archive/big.bin")
    assert head["ETag"].endswith('-2"') and head["Metadata"]["source-etag"] == listed["Etag"].strip('"')
    assert hashlib.sha256(s3.get_object(Bucket=BUCKET, Key="archive/big.bin")["Body"].read()).digest() == hashlib.sha256(body).digest()


def test_verified_needs_size_and_etag_or_recorded_source():
    assert verified({"ContentLength": 5, "ETag": '"x"'}, size=5, etag='"x"')
    assert not verified({"ContentLength": 4, "ETag": '"x"'}, size=5, etag='"x"')
    assert not verified({"ContentLength": 5, "ETag": '"y"-2'}, size=5, etag='"x-2"')
    assert verified({"ContentLength": 5, "ETag": '"y-2"', "Metadata": {"source-etag": "x-2", "source-size": "5"}},
                    size=5, etag='"x-2"')
    assert composite_etag(['"' + "00" * 16 + '"']).endswith('-1"')


def test_destination_key_over_1024_bytes_is_a_named_failure(s3):
    key = "incoming/" + "k" * 1010
    outcome = move(s3, key, destination_key(key, source_prefix="incoming/", destination_prefix="archive/",
                                             target_date="2026-11-22"), {"Etag": '"a"', "Size": 1})
    assert outcome["reason"] == "DestinationKeyTooLong"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60))
def test_any_key_round_trips(s3, name):
    # GIVEN any printable unicode name carrying the target date
    key = f"incoming/{name}-2026-11-22"
    listed = put(s3, key, name.encode())
    dest = destination_key(key, source_prefix="incoming/", destination_prefix="archive/", target_date="2026-11-22")
    # WHEN moved THEN the destination key is exactly the dated name, content intact
    assert move(s3, key, dest, listed)["status"] == "moved"
    assert dest == f"archive/2026/11/22/{name}-2026-11-22"
    assert s3.get_object(Bucket=BUCKET, Key=dest)["Body"].read() == name.encode()


def test_batch_returns_one_result_per_item(s3):
    # GIVEN a batch of one target-date object and one of another date
    event = load_event("batch")
    for item in event["Items"]:
        item.update(put(s3, item["Key"], b"12345"))
    # WHEN processed (with threads)
    outcome = process_batch(s3, event, SMALL, threads=4)
    # THEN one result per item, in order; only the target date moved
    assert [r["status"] for r in outcome["results"]] == ["moved", "skipped"]
    assert (outcome["moved"], outcome["skipped"], outcome["failed"]) == (1, 1, 0)


@pytest.mark.parametrize("event", [{}, {"Items": []}, {"Items": [{"Key": 1}], "BatchInput": {}}, []])
def test_malformed_batch_is_a_named_error(s3, event):
    with pytest.raises(InvalidBatch):
        process_batch(s3, event, SMALL)


def test_plan_defaults_to_yesterday_in_tokyo_and_rejects_bad_dates():
    # GIVEN 2026-11-22 16:00 UTC = 2026-11-23 01:00 in Tokyo
    now = datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)
    plan = plan_copy({}, bucket="b", source_prefix="in/", destination_prefix="out/", now=now, timezone="Asia/Tokyo")
    # THEN yesterday in Tokyo is the 22nd
    assert plan.target_date == "2026-11-22"
    assert plan_copy({"targetDate": "2024-02-29"}, bucket="b", source_prefix="in/", destination_prefix="out/",
                     now=now, timezone="Asia/Tokyo").target_date == "2024-02-29"
    for bad in ("2026-13-01", "2023-02-29", "22-11-2026", 20261122, ""):
        with pytest.raises(InvalidCopyInput):
            plan_copy({"targetDate": bad}, bucket="b", source_prefix="in/", destination_prefix="out/", now=now,
                      timezone="Asia/Tokyo")
    narrowed = plan_copy({"sourcePrefix": "in/team-a/", "destinationPrefix": "out/team-a/"}, bucket="b",
                         source_prefix="in/", destination_prefix="out/", now=now, timezone="Asia/Tokyo")
    assert (narrowed.source_prefix, narrowed.destination_prefix) == ("in/team-a/", "out/team-a/")
    for bad in ({"sourcePrefix": "other/"}, {"sourcePrefix": "in/x"}, {"destinationPrefix": "in/"},
                {"sourcePrefix": 3}, {"destinationPrefix": "out//"}):
        with pytest.raises(InvalidCopyInput):
            plan_copy(bad, bucket="b", source_prefix="in/", destination_prefix="out/", now=now, timezone="Asia/Tokyo")
    with pytest.raises(InvalidCopyInput, match="unknown input"):
        plan_copy({"bucket": "other"}, bucket="b", source_prefix="in/", destination_prefix="out/", now=now,
                  timezone="Asia/Tokyo")
    assert is_target("in/x-2026-11-22.csv", "in/", "2026-11-22") and not is_target("in/2026-11-22/x.csv", "in/", "2026-11-22")
