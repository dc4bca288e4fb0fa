"""Move one object: copy, verify, then delete the source. Idempotent; failures are results.

Verification before any delete:
* a single-part source copied with CopyObject: the copy's ETag (MD5 of its bytes, in CopyObject's
  answer) equals the source's listed ETag (equal bytes, so equal sizes);
* an existing copy (re-runs): its size and ETag (or recorded source ETag) match the listing;
* otherwise (multipart source, or a multipart copy above the part threshold): the copy carries the
  source's ETag in its metadata (`source-etag`), written only by a copy made *conditional* on that
  ETag (`CopySourceIfMatch` on CopyObject / every UploadPartCopy), and a multipart copy's own ETag
  must equal the composite ETag of the parts it was assembled from.
"""

from __future__ import annotations

import hashlib
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
_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "InternalError",
               "ServiceUnavailable", "503", "500"}
_DENIED = {"AccessDenied", "403", "AllAccessDisabled"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


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
    if _code(error) in _THROTTLING:
        raise S3Throttled(f"S3 {error.operation_name}: {_code(error)}") from error


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


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        _raise_if_throttled(error)
        if _code(error) in _MISSING:
            return None
        raise


def composite_etag(part_etags: list[str]) -> str:
    digest = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for e in part_etags), usedforsecurity=False)
    return f'"{digest.hexdigest()}-{len(part_etags)}"'


def verified(copy: dict[str, Any] | None, *, size: int, etag: str) -> bool:
    """Is `copy` (a HeadObject answer) a complete copy of the source with `size` and `etag`?"""
    if copy is None or copy.get("ContentLength") != size:
        return False
    if "-" not in etag.strip('"') and copy.get("ETag") == etag:
        return True
    meta = copy.get("Metadata") or {}
    return meta.get(SOURCE_ETAG) == etag.strip('"') and meta.get(SOURCE_SIZE) == str(size)


def _metadata(source: dict[str, Any], etag: str, size: int) -> dict[str, str]:
    return {**(source.get("Metadata") or {}), SOURCE_ETAG: etag.strip('"'), SOURCE_SIZE: str(size)}


def _copy_single(s3: Any, bucket: str, key: str, dest: str, etag: str, source: dict[str, Any] | None) -> dict[str, Any]:
    """CopyObject, conditional on the listed ETag. A single-part source keeps its metadata (its ETag
    verifies the copy); a multipart source's copy records the source ETag in its metadata."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": dest, "CopySource": {"Bucket": bucket, "Key": key},
                              "CopySourceIfMatch": etag}
    if source is not None:
        kwargs.update(MetadataDirective="REPLACE", Metadata=_metadata(source, etag, source["ContentLength"]))
        if source.get("ContentType"):
            kwargs["ContentType"] = source["ContentType"]
    return s3.copy_object(**kwargs)


def _copy_multipart(s3: Any, bucket: str, key: str, dest: str, source: dict[str, Any], part_size: int) -> str:
    """UploadPartCopy in parts (each conditional on the source ETag); returns the ETag the completed
    copy must have (the composite of the parts' MD5s)."""
    etag, size = source["ETag"], source["ContentLength"]
    part_size = max(part_size, -(-size // MAX_PARTS))
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": dest, "Metadata": _metadata(source, etag, size)}
    if source.get("ContentType"):
        kwargs["ContentType"] = source["ContentType"]
    upload_id = s3.create_multipart_upload(**kwargs)["UploadId"]
    try:
        parts = []
        for number, start in enumerate(range(0, size, part_size), start=1):
            end = min(start + part_size, size) - 1
            answer = s3.upload_part_copy(Bucket=bucket, Key=dest, UploadId=upload_id, PartNumber=number,
                                         CopySource={"Bucket": bucket, "Key": key},
                                         CopySourceRange=f"bytes={start}-{end}", CopySourceIfMatch=etag)
            parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
        s3.complete_multipart_upload(Bucket=bucket, Key=dest, UploadId=upload_id, MultipartUpload={"Parts": parts})
        return composite_etag([p["ETag"] for p in parts])
    except BaseException:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=dest, UploadId=upload_id)
        except ClientError:
            pass
        raise


def move_object(s3: Any, *, bucket: str, key: str, dest: str, listed_etag: str | None, listed_size: int | None,
                settings: CopySettings) -> dict[str, Any]:
    """Copy `key` to `dest`, verify, delete `key`. Re-running after any partial run converges:
    a verified copy is not copied again (its source is only deleted), and a missing source whose
    verified copy exists counts as moved."""
    if len(dest.encode("utf-8")) > MAX_KEY_BYTES:
        return result(key, "failed", reason="DestinationKeyTooLong", destination=dest)
    try:
        source = None
        if not listed_etag or listed_size is None:  # not from a listObjectsV2 reader: ask S3
            source = _head(s3, bucket, key)
            if source is None:
                return result(key, "failed", reason="SourceVanished", destination=dest)
            listed_etag, listed_size = source["ETag"], source["ContentLength"]
        etag, size = listed_etag, listed_size
        if verified(_head(s3, bucket, dest), size=size, etag=etag):  # copied by an earlier run
            s3.delete_object(Bucket=bucket, Key=key)  # no error when that run deleted it already
            return result(key, "moved", reason="AlreadyCopied", destination=dest)
        multipart = size > settings.multipart_threshold_bytes
        if (multipart or "-" in etag) and source is None:
            source = _head(s3, bucket, key)  # its metadata and content type travel with the copy
            if source is None:
                return result(key, "failed", reason="SourceVanished", destination=dest)
        if multipart:
            expected = _copy_multipart(s3, bucket, key, dest, source, settings.part_size_bytes)
            copy = _head(s3, bucket, dest)
            ok = verified(copy, size=size, etag=etag) and copy.get("ETag") == expected
        elif "-" in etag:
            _copy_single(s3, bucket, key, dest, etag, source)
            ok = verified(_head(s3, bucket, dest), size=size, etag=etag)
        else:
            # A single-part source's ETag is the MD5 of its bytes, and CopyObject answers the copy's:
            # equal ETags are equal bytes (and so equal sizes), without another request.
            answer = _copy_single(s3, bucket, key, dest, etag, None)
            ok = answer.get("CopyObjectResult", {}).get("ETag") == etag
        if not ok:
            return result(key, "failed", reason="CopyNotVerified", destination=dest, copied=True)
        s3.delete_object(Bucket=bucket, Key=key)
        return result(key, "moved", destination=dest, copied=True)
    except ClientError as error:
        _raise_if_throttled(error)
        code = _code(error)
        if code in _DENIED:
            return result(key, "failed", reason="AccessDenied", destination=dest)
        if code in _MISSING:
            return result(key, "failed", reason="SourceVanished", destination=dest)
        if code in {"PreconditionFailed", "412"}:
            return result(key, "failed", reason="SourceChanged", destination=dest)
        return result(key, "failed", reason=code or "S3Error", destination=dest)
