"""sandbox/engine/s3_integrity: moto 5.2.5's S3 answers checksums, checksum types and copy preconditions
as AWS does, and its own conditional delete is what distributed-copy relies on.

Real moto in-process, real boto3 calls; expected CRC64NVME values from awscrt and from the CRC-64/NVME
check value."""

from __future__ import annotations

import base64
import os

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.engine import s3_integrity
from sandbox.engine.s3_integrity import FULL_OBJECT, crc64nvme_base64, s3_integrity as s3_integrity_extension

BUCKET = "integrity"
MIB = 1024 * 1024
# CRC-64/NVME of b"123456789" (the catalogue's check value); CRC32 of the same bytes is 0xCBF43926.
CRC64NVME_CHECK = 0xAE8B14860A799888


@pytest.fixture()
def s3():
    with s3_integrity_extension(), mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_crc64nvme_is_the_real_algorithm_not_crc32():
    # GIVEN the CRC-64/NVME check value THEN awscrt (which moto uses) computes it, 8 bytes, not a CRC32
    assert crc64nvme_base64(b"123456789") == base64.b64encode(CRC64NVME_CHECK.to_bytes(8, "big")).decode()
    assert len(base64.b64decode(crc64nvme_base64(b"x"))) == 8


def test_an_object_stored_without_a_checksum_gets_a_full_object_crc64nvme(s3):
    # GIVEN an object uploaded without any checksum (what S3 checksums by default since December 2024)
    s3.put_object(Bucket=BUCKET, Key="plain", Body=b"123456789", ChecksumAlgorithm="CRC64NVME")
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    backend.put_object(BUCKET, "raw", b"123456789")  # no checksum at all: as the sandbox's scenarios store objects
    for key in ("plain", "raw"):
        head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        # THEN S3's full-object CRC64NVME of its bytes is reported, with its type
        assert (head["ChecksumCRC64NVME"], head["ChecksumType"]) == (crc64nvme_base64(b"123456789"), FULL_OBJECT), key


def test_copies_report_a_requested_full_object_checksum(s3):
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"hello", ChecksumAlgorithm="CRC32")
    answer = s3.copy_object(Bucket=BUCKET, Key="b", CopySource={"Bucket": BUCKET, "Key": "a"}, ChecksumAlgorithm="CRC64NVME")
    assert answer["CopyObjectResult"]["ChecksumCRC64NVME"] == crc64nvme_base64(b"hello")
    assert answer["CopyObjectResult"]["ChecksumType"] == FULL_OBJECT
    head = s3.head_object(Bucket=BUCKET, Key="b", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC64NVME"], head["ChecksumType"]) == (crc64nvme_base64(b"hello"), FULL_OBJECT)


def test_copy_source_if_match_refuses_a_changed_source(s3):
    # GIVEN a source that changed after it was listed
    listed = s3.put_object(Bucket=BUCKET, Key="src", Body=b"A" * 6 * MIB)["ETag"]
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"B" * 6 * MIB)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="dst")["UploadId"]
    # WHEN a copy or a part copy is made conditional on the listed ETag THEN S3 refuses it (moto alone copied B)
    with pytest.raises(ClientError) as copy_error:
        s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"}, CopySourceIfMatch=listed)
    with pytest.raises(ClientError) as part_error:
        s3.upload_part_copy(Bucket=BUCKET, Key="dst", UploadId=upload, PartNumber=1, CopySource={"Bucket": BUCKET, "Key": "src"},
                            CopySourceRange="bytes=0-99", CopySourceIfMatch=listed)
    assert code(copy_error.value) == code(part_error.value) == "PreconditionFailed"
    # AND the current ETag still copies
    current = s3.head_object(Bucket=BUCKET, Key="src")["ETag"]
    s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"}, CopySourceIfMatch=current)


def test_a_multipart_copy_answers_part_checksums_and_the_full_object_checksum(s3):
    # GIVEN a 7 MiB source copied in a 5 MiB and a 2 MiB part into a FULL_OBJECT CRC64NVME upload
    body = os.urandom(7 * MIB)
    s3.put_object(Bucket=BUCKET, Key="big", Body=body, ChecksumAlgorithm="CRC64NVME")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="copy", ChecksumAlgorithm="CRC64NVME", ChecksumType=FULL_OBJECT)["UploadId"]
    parts = []
    for number, (start, end) in enumerate([(0, 5 * MIB - 1), (5 * MIB, 7 * MIB - 1)], start=1):
        answer = s3.upload_part_copy(Bucket=BUCKET, Key="copy", UploadId=upload, PartNumber=number,
                                     CopySource={"Bucket": BUCKET, "Key": "big"}, CopySourceRange=f"bytes={start}-{end}")
        # THEN each part answers its own CRC64NVME
        assert answer["CopyPartResult"]["ChecksumCRC64NVME"] == crc64nvme_base64(body[start:end + 1])
        parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"],
                      "ChecksumCRC64NVME": answer["CopyPartResult"]["ChecksumCRC64NVME"]})
    done = s3.complete_multipart_upload(Bucket=BUCKET, Key="copy", UploadId=upload, MultipartUpload={"Parts": parts})
    # AND the completed object answers the full-object CRC64NVME of all its bytes, equal to the source's
    assert (done["ChecksumCRC64NVME"], done["ChecksumType"]) == (crc64nvme_base64(body), FULL_OBJECT)
    source = s3.head_object(Bucket=BUCKET, Key="big", ChecksumMode="ENABLED")
    assert source["ChecksumCRC64NVME"] == done["ChecksumCRC64NVME"]


def test_moto_itself_honours_if_match_on_delete(s3):
    # (no teaching needed: a check that moto 5.2.5 does what distributed-copy's delete relies on)
    etag = s3.put_object(Bucket=BUCKET, Key="k", Body=b"A")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"B")
    with pytest.raises(ClientError) as changed:
        s3.delete_object(Bucket=BUCKET, Key="k", IfMatch=etag)
    assert code(changed.value) == "PreconditionFailed"
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"B"
    s3.delete_object(Bucket=BUCKET, Key="k", IfMatch=s3.head_object(Bucket=BUCKET, Key="k")["ETag"])
    with pytest.raises(ClientError) as gone:
        s3.delete_object(Bucket=BUCKET, Key="k", IfMatch=etag)
    assert code(gone.value) == "NoSuchKey"


def test_without_awscrt_the_extension_refuses_to_install(monkeypatch):
    # GIVEN awscrt cannot be imported (moto would then label CRC32 values CRC64NVME)
    import builtins

    real_import = builtins.__import__

    def no_awscrt(name, *args, **kwargs):
        if name.startswith("awscrt"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_awscrt)
    with pytest.raises(s3_integrity.MissingCrc64Nvme):
        with s3_integrity_extension():
            pass
