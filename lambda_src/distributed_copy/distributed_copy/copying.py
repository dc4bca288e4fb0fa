"""Move one object: copy, verify by content, then delete the listed version. Idempotent; failures are results.

An object moves only as the version its listing names (its ETag), so a redrive or a retry that
replays an old listing can never delete newer data:
* the source is read with HeadObject `If-Match: <listed ETag>` and its checksum (`ChecksumMode`);
  412 means it changed since the listing: `SourceChanged`, nothing is copied or deleted;
* the copy is conditional on that ETag (`CopySourceIfMatch` on CopyObject and every UploadPartCopy);
* the copy is verified by content: S3's full-object checksum of the copy, computed by S3 over the
  copied bytes and answered by CopyObject / CompleteMultipartUpload, equals the source's. The copy
  asks for the source's algorithm: CRC64NVME (what S3 stores for every object uploaded without a
  checksum since December 2024), or CRC32 / CRC32C when the uploader chose one. A single-part source
  without such a checksum (stored earlier) is verified by its ETag, the MD5 of its bytes, which
  CopyObject answers for the copy (the copy gets a CRC64NVME). A multipart source without one
  cannot be verified without reading it: it stays (`NoContentChecksum`);
* the source is deleted with `If-Match: <listed ETag>`: uploaded again after the copy (412), the
  newer object stays (`SourceChanged`); already gone (404), the verified copy counts as moved.

Re-runs converge: a destination already equal by content is not copied again (the source is only
deleted, conditionally); a source that is gone counts as moved when its destination was copied from
the listed version (the same ETag, or the `source-etag` a multipart copy records). That record only
names the version a copy came from, for the count: nothing is ever deleted on its strength.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from distributed_copy.errors import S3Throttled
from distributed_copy.planning import MAX_KEY_BYTES

# S3's own limits: CopyObject copies up to 5 GiB; parts are 5 MiB..5 GiB, at most 10,000 of them.
COPY_OBJECT_MAX_BYTES = 5 * 1024**3
MAX_PARTS = 10_000
SOURCE_ETAG = "source-etag"
SOURCE_SIZE = "source-size"
# Full-object checksums a multipart copy can carry as well; CRC64NVME is S3's default.
FULL_OBJECT_ALGORITHMS = ("CRC64NVME", "CRC32", "CRC32C")
DEFAULT_ALGORITHM = "CRC64NVME"
_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "InternalError",
               "ServiceUnavailable", "503", "500"}
_DENIED = {"AccessDenied", "403", "AllAccessDisabled"}
_MISSING = {"NoSuchKey", "404", "NotFound"}
_CHANGED = {"PreconditionFailed", "412"}


@dataclass(frozen=True)
class CopySettings:
    multipart_threshold_bytes: int = COPY_OBJECT_MAX_BYTES  # above this, UploadPartCopy
    part_size_bytes: int = 512 * 1024**2

    def __post_init__(self) -> None:
        if not 1 <= self.multipart_threshold_bytes <= COPY_OBJECT_MAX_BYTES:
            raise ValueError("multipart_threshold_bytes must be between 1 byte and 5 GiB")
        if self.part_size_bytes < 1:
            raise ValueError("part_size_bytes must be positive")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _raise_if_throttled(error: ClientError) -> None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if _code(error) in _THROTTLING or status >= 500:  # 5xx after the client's retries: retry the batch
        raise S3Throttled(f"S3 {error.operation_name}: {_code(error) or status}") from error


def result(key: str, status: str, *, reason: str | None = None, destination: str | None = None,
           copied: bool = False) -> dict[str, Any]:
    """One item's result. Kept small (the destination key is derivable): a batch's output stays
    about as large as its input, which MaxInputBytesPerBatch bounds."""
    out: dict[str, Any] = {"key": key, "status": status}
    if reason:
        out["reason"] = reason
    if copied:
        out["copied"] = True
    return out


def _head(s3: Any, bucket: str, key: str, *, if_match: str | None = None) -> dict[str, Any] | None:
    """HeadObject with its checksum; None when the key does not exist (412 on another ETag is raised)."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
    if if_match:
        kwargs["IfMatch"] = if_match
    try:
        return s3.head_object(**kwargs)
    except ClientError as error:
        _raise_if_throttled(error)
        if _code(error) in _MISSING:
            return None
        raise


def full_object_checksum(answer: dict[str, Any], algorithm: str) -> str | None:
    """The full-object checksum in `algorithm` that an S3 answer reports (HeadObject with ChecksumMode,
    CopyObjectResult, CompleteMultipartUpload), or None (absent, or composite: a checksum of part checksums)."""
    value = answer.get(f"Checksum{algorithm}")
    if not value or "-" in value or answer.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    return value


def source_checksum(head: dict[str, Any]) -> tuple[str, str] | None:
    """(algorithm, value) of the source's full-object checksum, CRC64NVME first."""
    for algorithm in FULL_OBJECT_ALGORITHMS:
        value = full_object_checksum(head, algorithm)
        if value:
            return algorithm, value
    return None


def equal_content(copy: dict[str, Any] | None, source: dict[str, Any], checksum: tuple[str, str] | None) -> bool:
    """Does `copy` (a HeadObject answer) hold the source's bytes, by S3's checksums of both?"""
    if copy is None or copy.get("ContentLength") != source["ContentLength"]:
        return False
    if checksum is not None:
        return full_object_checksum(copy, checksum[0]) == checksum[1]
    return copy.get("ETag") == source["ETag"]  # a single-part source: both ETags are MD5s of the bytes


def copied_from(copy: dict[str, Any] | None, *, etag: str, size: int) -> bool:
    """Was `copy` made from the version with `etag` and `size`? (Counts a gone source as moved; never deletes.)"""
    if copy is None or copy.get("ContentLength") != size:
        return False
    return copy.get("ETag") == etag or (copy.get("Metadata") or {}).get(SOURCE_ETAG) == etag.strip('"')


def _metadata(source: dict[str, Any]) -> dict[str, str]:
    return {**(source.get("Metadata") or {}), SOURCE_ETAG: source["ETag"].strip('"'), SOURCE_SIZE: str(source["ContentLength"])}


def _copy_single(s3: Any, bucket: str, key: str, dest: str, source: dict[str, Any], algorithm: str) -> dict[str, Any]:
    """CopyObject, conditional on the listed ETag; answers CopyObjectResult (ETag, checksum). A
    single-part source keeps its metadata (its ETag names it); a multipart one's copy records its ETag."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": dest, "CopySource": {"Bucket": bucket, "Key": key},
                              "CopySourceIfMatch": source["ETag"], "ChecksumAlgorithm": algorithm}
    if "-" in source["ETag"]:
        kwargs.update(MetadataDirective="REPLACE", Metadata=_metadata(source))
        if source.get("ContentType"):
            kwargs["ContentType"] = source["ContentType"]
    return s3.copy_object(**kwargs)["CopyObjectResult"]


def _copy_multipart(s3: Any, bucket: str, key: str, dest: str, source: dict[str, Any], part_size: int,
                    algorithm: str) -> dict[str, Any]:
    """UploadPartCopy in parts (each conditional on the source ETag) into an upload that carries a
    full-object checksum; answers CompleteMultipartUpload (its full-object checksum)."""
    etag, size = source["ETag"], source["ContentLength"]
    part_size = max(part_size, -(-size // MAX_PARTS))
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": dest, "Metadata": _metadata(source),
                              "ChecksumAlgorithm": algorithm, "ChecksumType": "FULL_OBJECT"}
    if source.get("ContentType"):
        kwargs["ContentType"] = source["ContentType"]
    upload_id = s3.create_multipart_upload(**kwargs)["UploadId"]
    try:
        parts = []
        for number, start in enumerate(range(0, size, part_size), start=1):
            end = min(start + part_size, size) - 1
            answer = s3.upload_part_copy(Bucket=bucket, Key=dest, UploadId=upload_id, PartNumber=number,
                                         CopySource={"Bucket": bucket, "Key": key},
                                         CopySourceRange=f"bytes={start}-{end}", CopySourceIfMatch=etag)["CopyPartResult"]
            part = {"PartNumber": number, "ETag": answer["ETag"]}
            if answer.get(f"Checksum{algorithm}"):  # S3 answers it for an upload created with the algorithm
                part[f"Checksum{algorithm}"] = answer[f"Checksum{algorithm}"]
            parts.append(part)
        return s3.complete_multipart_upload(Bucket=bucket, Key=dest, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=dest, UploadId=upload_id)
        except ClientError:
            pass
        raise


def _delete_listed(s3: Any, bucket: str, key: str, etag: str) -> None:
    """Delete the source only as the listed version (412 if it was uploaded again); gone already is fine."""
    try:
        s3.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as error:
        if _code(error) not in _MISSING:
            raise


def move_object(s3: Any, *, bucket: str, key: str, dest: str, listed_etag: str | None, listed_size: int | None,
                settings: CopySettings) -> dict[str, Any]:
    """Copy the listed version of `key` to `dest`, verify it by content, delete that version of `key`."""
    if len(dest.encode("utf-8")) > MAX_KEY_BYTES:
        return result(key, "failed", reason="DestinationKeyTooLong", destination=dest)
    try:
        source = _head(s3, bucket, key, if_match=listed_etag or None)  # 412 if it changed since the listing
        if source is None:  # moved by an earlier run that did not report, or deleted by someone else
            if listed_etag and listed_size is not None and copied_from(_head(s3, bucket, dest), etag=listed_etag, size=listed_size):
                return result(key, "moved", reason="AlreadyCopied", destination=dest)
            return result(key, "failed", reason="SourceVanished", destination=dest)
        checksum = source_checksum(source)
        multipart = source["ContentLength"] > settings.multipart_threshold_bytes
        if checksum is None and (multipart or "-" in source["ETag"]):
            return result(key, "failed", reason="NoContentChecksum", destination=dest)
        if equal_content(_head(s3, bucket, dest), source, checksum):  # copied by an earlier run
            _delete_listed(s3, bucket, key, source["ETag"])
            return result(key, "moved", reason="AlreadyCopied", destination=dest)
        algorithm = checksum[0] if checksum else DEFAULT_ALGORITHM
        if multipart:
            answer = _copy_multipart(s3, bucket, key, dest, source, settings.part_size_bytes, algorithm)
        else:
            answer = _copy_single(s3, bucket, key, dest, source, algorithm)
        if checksum is not None:
            ok = full_object_checksum(answer, algorithm) == checksum[1]
        else:
            ok = answer.get("ETag") == source["ETag"]
        if not ok:
            return result(key, "failed", reason="CopyNotVerified", destination=dest, copied=True)
        _delete_listed(s3, bucket, key, source["ETag"])
        return result(key, "moved", destination=dest, copied=True)
    except ClientError as error:
        _raise_if_throttled(error)
        code = _code(error)
        if code in _DENIED:
            return result(key, "failed", reason="AccessDenied", destination=dest)
        if code in _MISSING:
            return result(key, "failed", reason="SourceVanished", destination=dest)
        if code in _CHANGED:
            return result(key, "failed", reason="SourceChanged", destination=dest)
        return result(key, "failed", reason=code or "S3Error", destination=dest)
