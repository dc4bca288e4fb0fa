"""Verified copy-then-delete of one object, and one batch: moto in-process, real boto3 calls."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.engine.s3_integrity import crc64nvme_base64
from tests.unit.distributed_copy.conftest import BUCKET, load_event

from distributed_copy.batch import process_batch  # noqa: E402  (asset root on sys.path via conftest)
from distributed_copy.copying import CopySettings, copied_from, equal_content, full_object_checksum, move_object
from distributed_copy.errors import InvalidBatch, InvalidCopyInput
from distributed_copy.planning import destination_key, is_target, plan_copy

SMALL = CopySettings()
MULTIPART = CopySettings(multipart_threshold_bytes=6 * 1024 * 1024, part_size_bytes=5 * 1024 * 1024)


def put(s3, key: str, body: bytes) -> dict:
    """Uploaded as boto3 does by default (with a CRC32); the listing item and the checksum."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    return {"Etag": head["ETag"], "Size": head["ContentLength"], "ChecksumCRC32": head.get("ChecksumCRC32")}


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


def test_a_listing_older_than_the_source_copies_and_deletes_nothing(s3):
    # GIVEN a different object already sitting at the destination, and a listing that no longer matches the source
    listed = put(s3, "incoming/a.csv", b"hello")
    s3.put_object(Bucket=BUCKET, Key="archive/a.csv", Body=b"other")
    # WHEN moved with the stale listing
    outcome = move(s3, "incoming/a.csv", "archive/a.csv", {"Etag": '"0000"', "Size": listed["Size"]})
    # THEN the source changed since the listing: nothing copied, nothing deleted
    assert outcome == {"key": "incoming/a.csv", "status": "failed", "reason": "SourceChanged"}
    assert body_of(s3, "incoming/a.csv") == b"hello" and body_of(s3, "archive/a.csv") == b"other"


def test_a_copy_whose_checksum_differs_from_the_sources_keeps_the_source(s3):
    # GIVEN S3 answering the copy with a checksum other than the source's (the copy's bytes differ)
    listed = put_with_crc64nvme(s3, "incoming/a.csv", b"hello")

    def corrupt(parsed, **_):
        parsed["CopyObjectResult"]["ChecksumCRC64NVME"] = "AAAAAAAAAAA="

    s3.meta.events.register("after-call.s3.CopyObject", corrupt)
    # WHEN moved THEN the copy is not verified and the source stays
    outcome = move(s3, "incoming/a.csv", "archive/a.csv", listed)
    assert outcome == {"key": "incoming/a.csv", "status": "failed", "reason": "CopyNotVerified", "copied": True}
    assert body_of(s3, "incoming/a.csv") == b"hello"


def test_vanished_source_without_copy_is_a_failed_result(s3):
    outcome = move(s3, "incoming/gone.csv", "archive/gone.csv", {"Etag": '"abc"', "Size": 3})
    assert outcome == {"key": "incoming/gone.csv", "status": "failed", "reason": "SourceVanished"}


def test_multipart_copy_above_the_threshold(s3):
    # GIVEN a 7 MiB object and a 6 MiB part threshold (5 MiB parts)
    body = bytes(range(256)) * (7 * 4096)
    listed = put(s3, "incoming/big.bin", body)
    # WHEN moved
    outcome = move(s3, "incoming/big.bin", "archive/big.bin", listed, MULTIPART)
    # THEN it was copied in two parts, verified by the full-object checksum, its source's ETag recorded
    assert outcome["status"] == "moved", outcome
    head = s3.head_object(Bucket=BUCKET, Key="archive/big.bin", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-2"') and head["Metadata"]["source-etag"] == listed["Etag"].strip('"')
    assert head["ChecksumType"] == "FULL_OBJECT" and head["ChecksumCRC32"] == listed["ChecksumCRC32"]  # boto3's default
    assert hashlib.sha256(s3.get_object(Bucket=BUCKET, Key="archive/big.bin")["Body"].read()).digest() == hashlib.sha256(body).digest()


def test_only_full_object_checksums_and_sizes_decide_equal_content():
    source = {"ContentLength": 5, "ETag": '"x-2"', "ChecksumCRC64NVME": "c1", "ChecksumType": "FULL_OBJECT"}
    checksum = ("CRC64NVME", "c1")
    assert equal_content({"ContentLength": 5, "ChecksumCRC64NVME": "c1"}, source, checksum)
    assert not equal_content({"ContentLength": 4, "ChecksumCRC64NVME": "c1"}, source, checksum)
    assert not equal_content({"ContentLength": 5, "ChecksumCRC64NVME": "c2"}, source, checksum)
    assert not equal_content({"ContentLength": 5, "ETag": '"x-2"', "Metadata": {"source-etag": "x-2"}}, source, checksum)
    assert not equal_content(None, source, checksum)
    # a composite checksum (of part checksums) is not a full-object one
    assert full_object_checksum({"ChecksumCRC32": "abc=-3", "ChecksumType": "COMPOSITE"}, "CRC32") is None
    assert full_object_checksum({"ChecksumCRC32": "abc=", "ChecksumType": "COMPOSITE"}, "CRC32") is None
    # without a checksum, a single-part source's ETag (its MD5) decides
    plain = {"ContentLength": 5, "ETag": '"m"'}
    assert equal_content({"ContentLength": 5, "ETag": '"m"'}, plain, None)
    assert not equal_content({"ContentLength": 5, "ETag": '"n"'}, plain, None)
    # what names the version a copy came from (to count a gone source as moved)
    assert copied_from({"ContentLength": 5, "ETag": '"y-2"', "Metadata": {"source-etag": "x-2"}}, etag='"x-2"', size=5)
    assert not copied_from({"ContentLength": 4, "ETag": '"x-2"'}, etag='"x-2"', size=5)


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


# ---------------------------------------------------------------- issue 13: delete only what was listed and verified

MIB = 1024 * 1024


def body_of(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def put_with_crc64nvme(s3, key: str, body: bytes) -> dict:
    """As S3 stores an object uploaded without a checksum since December 2024: a full-object CRC64NVME."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, ChecksumAlgorithm="CRC64NVME")
    head = s3.head_object(Bucket=BUCKET, Key=key)
    return {"Etag": head["ETag"], "Size": head["ContentLength"]}


def test_a_redrive_with_a_stale_listing_keeps_the_changed_source(s3):
    # GIVEN X (content A) moved with its listing item, then X uploaded again with content B
    listed_a = put_with_crc64nvme(s3, "incoming/x.csv", b"A" * 10)
    assert move(s3, "incoming/x.csv", "archive/x.csv", listed_a)["status"] == "moved"
    put_with_crc64nvme(s3, "incoming/x.csv", b"B" * 10)
    # WHEN A's listing item is processed again (what a redrive sends)
    outcome = move(s3, "incoming/x.csv", "archive/x.csv", listed_a)
    # THEN B, never copied, stays and is named as changed; the archive keeps A
    assert outcome == {"key": "incoming/x.csv", "status": "failed", "reason": "SourceChanged"}
    assert body_of(s3, "incoming/x.csv") == b"B" * 10 and body_of(s3, "archive/x.csv") == b"A" * 10


@pytest.mark.parametrize("size, copy_settings", [(10, SMALL), (7 * MIB, MULTIPART)], ids=["single-part", "multipart"])
def test_a_source_overwritten_between_copy_and_delete_stays(s3, size, copy_settings):
    # GIVEN a source that someone uploads again after its copy, just before its delete
    original, newer = os.urandom(size), os.urandom(size)
    listed = put_with_crc64nvme(s3, "incoming/x.bin", original)

    def overwrite_once(**_):
        s3.meta.events.unregister("before-call.s3.DeleteObject", overwrite_once)
        s3.put_object(Bucket=BUCKET, Key="incoming/x.bin", Body=newer)

    s3.meta.events.register("before-call.s3.DeleteObject", overwrite_once)
    # WHEN moved
    outcome = move(s3, "incoming/x.bin", "archive/x.bin", listed, copy_settings)
    # THEN the newer content stays at the source, named as changed; the copy of what was listed stays too
    assert (outcome["status"], outcome["reason"]) == ("failed", "SourceChanged")
    assert body_of(s3, "incoming/x.bin") == newer and body_of(s3, "archive/x.bin") == original


def test_a_destination_that_only_claims_to_be_the_copy_is_copied_again(s3):
    # GIVEN a 7 MiB source and, at its destination, other bytes of the same size whose metadata names the
    # source's ETag and size (what the multipart copy writes itself; all the old check compared)
    body = os.urandom(7 * MIB)
    listed = put_with_crc64nvme(s3, "incoming/big.bin", body)
    s3.put_object(Bucket=BUCKET, Key="archive/big.bin", Body=os.urandom(7 * MIB),
                  Metadata={"source-etag": listed["Etag"].strip('"'), "source-size": str(listed["Size"])})
    # WHEN moved
    outcome = move(s3, "incoming/big.bin", "archive/big.bin", listed, MULTIPART)
    # THEN it is copied again, and only a copy equal by content lets the source go
    assert outcome == {"key": "incoming/big.bin", "status": "moved", "copied": True}
    assert body_of(s3, "archive/big.bin") == body


@pytest.mark.parametrize("size, copy_settings", [(9, SMALL), (7 * MIB, MULTIPART)], ids=["CopyObject", "UploadPartCopy"])
def test_every_copy_carries_the_sources_full_object_crc64nvme(s3, size, copy_settings):
    # GIVEN a source whose bytes start with the CRC-64/NVME check input
    body = (b"123456789" + os.urandom(size))[:size]
    listed = put_with_crc64nvme(s3, "incoming/c.bin", body)
    # WHEN moved
    assert move(s3, "incoming/c.bin", "archive/c.bin", listed, copy_settings)["status"] == "moved"
    # THEN the copy carries a full-object CRC64NVME: awscrt's CRC64NVME of the bytes (not a CRC32)
    head = s3.head_object(Bucket=BUCKET, Key="archive/c.bin", ChecksumMode="ENABLED")
    assert (head.get("ChecksumCRC64NVME"), head.get("ChecksumType")) == (crc64nvme_base64(body), "FULL_OBJECT")
    if size == 9:
        assert base64.b64decode(head["ChecksumCRC64NVME"]) == 0xAE8B14860A799888.to_bytes(8, "big")
