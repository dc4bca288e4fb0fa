"""Claim check: pass small payloads inline, large ones through S3 by reference.

Step Functions caps a state's input/output at 256 KiB, so a value whose JSON is
larger than the threshold is written to S3 and replaced by a reference that
carries its size and sha256; the reader verifies both before using it.

Envelope shapes (what travels in the state machine):
    {"kind": "inline", "size": 123, "body": {...}}
    {"kind": "s3", "bucket": "...", "key": "...", "size": 123, "sha256": "..."}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from parallel_search.errors import InvalidPayloadReference, PayloadIntegrityError, PayloadReferenceMissing


class S3Client(Protocol):  # the subset of boto3's S3 client used here
    def put_object(self, **kwargs: Any) -> Any: ...
    def get_object(self, **kwargs: Any) -> Any: ...


def encode(value: Any) -> bytes:
    """Compact, deterministic JSON (the bytes that are measured, stored and hashed)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


@dataclass(frozen=True)
class PayloadStore:
    """Stores values inline when their JSON is at most `inline_threshold_bytes`, else in `bucket`."""

    s3: S3Client
    bucket: str
    inline_threshold_bytes: int

    def put(self, value: Any, *, key: str) -> dict[str, Any]:
        data = encode(value)
        if len(data) <= self.inline_threshold_bytes:
            return {"kind": "inline", "size": len(data), "body": value}
        digest = hashlib.sha256(data).hexdigest()
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ChecksumSHA256=_b64_sha256(data),
        )
        return {"kind": "s3", "bucket": self.bucket, "key": key, "size": len(data), "sha256": digest}

    def get(self, envelope: Any) -> Any:
        kind = envelope.get("kind") if isinstance(envelope, dict) else None
        if kind == "inline" and "body" in envelope:
            return envelope["body"]
        if kind != "s3":
            raise InvalidPayloadReference(f"expected an inline payload or an S3 reference, got {_describe(envelope)}")
        try:
            bucket, key, size, sha256 = envelope["bucket"], envelope["key"], int(envelope["size"]), str(envelope["sha256"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPayloadReference(f"S3 reference lacks bucket/key/size/sha256: {_describe(envelope)}") from exc
        if bucket != self.bucket:
            raise InvalidPayloadReference(f"reference points to bucket {bucket!r}, not this workflow's payload bucket")
        data = self._read(key)
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise PayloadIntegrityError(
                f"s3://{bucket}/{key} has {len(data)} bytes with sha256 {hashlib.sha256(data).hexdigest()[:12]}…, "
                f"reference says {size} bytes with sha256 {sha256[:12]}…"
            )
        return json.loads(data)

    def _read(self, key: str) -> bytes:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:  # botocore's ClientError; not imported to keep this module light
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise PayloadReferenceMissing(f"s3://{self.bucket}/{key} does not exist (expired or deleted)") from exc
            raise


def _b64_sha256(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "…"
