"""S3 data-integrity features as AWS has them, where moto 5.2.5 lacks them.

distributed-copy deletes a source only after S3's own checksums prove the copy equal, and only the
version it listed. moto 5.2.5 already honours `If-Match` on DeleteObject (412 on another ETag, 404
when the key is gone) and on HeadObject, and computes full-object checksums on CopyObject with
`x-amz-checksum-algorithm` and on CompleteMultipartUpload. It lacks, and this teaches it:

* **default CRC64NVME**: an object stored without a checksum gets a full-object CRC64NVME (S3 does so
  since December 2024; moto stored none), a multipart upload created without an algorithm too;
* **checksum type**: HeadObject with `x-amz-checksum-mode: ENABLED` reports `x-amz-checksum-type`
  (FULL_OBJECT or COMPOSITE, a composite value with its `-<parts>` suffix, as GetObject does); a
  copy keeps its source's type, a copy with a requested algorithm is FULL_OBJECT;
* **`x-amz-copy-source-if-match`** on CopyObject and UploadPartCopy: 412 PreconditionFailed when
  the source's ETag differs (moto copied whatever the key held);
* **part checksums**: UploadPartCopy answers the part's checksum when its upload was created with
  an algorithm; CompleteMultipartUpload answers the object's checksum and type.

moto computes CRC64NVME only with `awscrt` installed and silently computes CRC32 under that name
otherwise, so this refuses to install without it (`MissingCrc64Nvme`).
"""

from __future__ import annotations

import base64
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator
from urllib.parse import unquote, urlparse

DEFAULT_ALGORITHM = "CRC64NVME"
FULL_OBJECT = "FULL_OBJECT"


class MissingCrc64Nvme(RuntimeError):
    """awscrt is not installed: moto would label CRC32 values CRC64NVME."""


def crc64nvme_base64(body: bytes) -> str:
    """S3's CRC64NVME of `body` (base64 of the 8 big-endian bytes), computed by awscrt."""
    from awscrt import checksums

    return base64.b64encode(checksums.crc64nvme(body).to_bytes(8, "big")).decode()


def _require_awscrt() -> None:
    try:
        from awscrt import checksums  # noqa: F401
    except ImportError:
        raise MissingCrc64Nvme("awscrt is not installed: moto would compute CRC32 and call it CRC64NVME; "
                               "install the pinned requirements (make setup)") from None


def _insert_before(body: Any, closing_tag: str, elements: dict[str, str]) -> Any:
    """`elements` as XML children just before `closing_tag` of a serialized answer."""
    text = body.decode() if isinstance(body, bytes) else body
    if not elements or closing_tag not in text:
        return body
    extra = "".join(f"<{name}>{value}</{name}>" for name, value in elements.items())
    text = text.replace(closing_tag, extra + closing_tag, 1)
    return text.encode() if isinstance(body, bytes) else text


@contextmanager
def _patched(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    original = owner.__dict__[name]
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def copy_source(source: str | bytes) -> tuple[str, str, str | None]:
    """(bucket, key, version id or None) of an `x-amz-copy-source` header."""
    if isinstance(source, bytes):
        source = source.decode()
    parsed = urlparse(source)
    bucket, key = unquote(parsed.path).lstrip("/").split("/", 1)
    version = dict(p.split("=", 1) for p in parsed.query.split("&") if "=" in p).get("versionId")
    return bucket, key, version


@contextmanager
def s3_integrity() -> Iterator[None]:
    _require_awscrt()
    from moto.s3.exceptions import PreconditionFailed
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response
    from moto.s3.utils import compute_checksum

    put_object, copy_object = S3Backend.put_object, S3Backend.copy_object
    complete_upload = S3Backend.complete_multipart_upload
    head_response, copy_response = S3Response.head_object, S3Response.copy_object
    part_copy_response, post_response = S3Response.upload_part_copy, S3Response._key_response_post

    def put_object_with_default_checksum(backend: Any, *args: Any, **kwargs: Any) -> FakeKey:
        key = put_object(backend, *args, **kwargs)
        if key.checksum_value is None:
            key.checksum_value = compute_checksum(key.value, DEFAULT_ALGORITHM).decode()
            key.checksum_algorithm = DEFAULT_ALGORITHM
        key.checksum_type = key.checksum_type or FULL_OBJECT  # a single PUT's checksum covers the whole object
        return key

    def copy_object_keeping_the_type(backend: Any, src_key: Any, dest_bucket_name: str, dest_key_name: str,
                                     *args: Any, **kwargs: Any) -> None:
        copy_object(backend, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
        if src_key.checksum_value:
            backend.get_object(dest_bucket_name, dest_key_name).checksum_type = src_key.checksum_type or FULL_OBJECT

    def complete_with_default_algorithm(backend: Any, *args: Any, **kwargs: Any) -> Any:
        key = complete_upload(backend, *args, **kwargs)
        if key is not None and key.checksum_algorithm is None:  # moto's builder computed CRC64NVME, FULL_OBJECT
            key.checksum_algorithm = DEFAULT_ALGORITHM
        return key

    def refuse_changed_source(response: Any) -> None:
        expected = response.headers.get("x-amz-copy-source-if-match")
        if not expected:
            return
        bucket, key, version = copy_source(response.headers["x-amz-copy-source"])
        source = response.backend.get_object(bucket, key, version_id=version)
        if source is not None and source.etag.strip('"') != expected.strip('"'):
            raise PreconditionFailed("x-amz-copy-source-If-Match")

    def head_with_checksum_type(response: Any, bucket_name: str, query: dict[str, Any], key_name: str,
                                headers: dict[str, Any]) -> Any:
        status, out_headers, body = head_response(response, bucket_name, query, key_name, headers)
        if status in (200, 206) and headers.get("x-amz-checksum-mode") == "ENABLED":
            key = response.backend.get_object(bucket_name, key_name, version_id=query.get("versionId", [None])[0])
            if key is not None and key.checksum_algorithm and key.checksum_type:
                out_headers["x-amz-checksum-type"] = key.checksum_type
                if key.checksum_type == "COMPOSITE" and key.checksum_parts:
                    out_headers[f"x-amz-checksum-{key.checksum_algorithm.lower()}"] = f"{key.checksum_value}-{key.checksum_parts}"
        return status, out_headers, body

    def copy_if_source_matches(response: Any) -> Any:
        refuse_changed_source(response)
        status, headers, body = copy_response(response)
        if response.headers.get("x-amz-checksum-algorithm") and status == 200:
            key = response.backend.get_object(response.bucket_name, response.parse_key_name())
            key.checksum_type = FULL_OBJECT  # S3 computed it over the copy's bytes
            body = _insert_before(body, "</CopyObjectResult>", {"ChecksumType": FULL_OBJECT})
        return status, headers, body

    def part_copy_if_source_matches(response: Any) -> Any:
        refuse_changed_source(response)
        status, headers, body = part_copy_response(response)
        if status == 200:
            upload = response.backend.get_bucket(response.bucket_name).multiparts.get(response._get_param("uploadId"))
            algorithm = upload.metadata.get("x-amz-checksum-algorithm") if upload is not None else None
            if algorithm:
                part = upload.parts[response._get_int_param("partNumber")]
                value = compute_checksum(part.value, algorithm.upper()).decode()
                body = _insert_before(body, "</CopyPartResult>", {f"Checksum{algorithm.upper()}": value})
        return status, headers, body

    def complete_answering_the_checksum(response: Any, request: Any, body: bytes, bucket_name: str,
                                        query: dict[str, Any], key_name: str) -> Any:
        status, headers, out = post_response(response, request, body, bucket_name, query, key_name)
        if status == 200 and query.get("uploadId"):
            key = response.backend.get_object(bucket_name, key_name)
            if key is not None and key.checksum_algorithm and key.checksum_value:
                value = key.checksum_value
                if key.checksum_type == "COMPOSITE" and key.checksum_parts:
                    value = f"{value}-{key.checksum_parts}"
                out = _insert_before(out, "</CompleteMultipartUploadResult>", {
                    f"Checksum{key.checksum_algorithm.upper()}": value, "ChecksumType": key.checksum_type or FULL_OBJECT})
        return status, headers, out

    with ExitStack() as stack:
        stack.enter_context(_patched(S3Backend, "put_object", put_object_with_default_checksum))
        stack.enter_context(_patched(S3Backend, "copy_object", copy_object_keeping_the_type))
        stack.enter_context(_patched(S3Backend, "complete_multipart_upload", complete_with_default_algorithm))
        stack.enter_context(_patched(S3Response, "head_object", head_with_checksum_type))
        stack.enter_context(_patched(S3Response, "copy_object", copy_if_source_matches))
        stack.enter_context(_patched(S3Response, "upload_part_copy", part_copy_if_source_matches))
        stack.enter_context(_patched(S3Response, "_key_response_post", complete_answering_the_checksum))
        yield


__all__ = ["DEFAULT_ALGORITHM", "FULL_OBJECT", "MissingCrc64Nvme", "copy_source", "crc64nvme_base64", "s3_integrity"]
