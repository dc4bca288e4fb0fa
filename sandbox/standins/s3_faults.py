"""Faults the sandbox injects into the emulator's S3, by source key (a sandbox-side hook).

AWS would answer a copy with 403 AccessDenied when a bucket or key policy denies it. moto 5.2.5
evaluates bucket policies only when IAM authorization is on for every request (every caller then
needs real IAM identities and policies, which the sandbox's deployed roles are not in moto), so the
sandbox plays the policy's part itself: while `S3Faults` is active, moto's S3 backend refuses to
copy a listed source key (CopyObject and UploadPartCopy) with the error AWS would send:

* `deny`: AccessDenied ("Access Denied"), as an explicit Deny in a bucket policy gives;
* `throttle`: SlowDown ("Please reduce your request rate."), as S3 answers under load.

Reads, HEADs, lists and deletes are untouched.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from moto.s3.exceptions import S3ClientError


class _AccessDenied(S3ClientError):
    code = "AccessDenied"

    def __init__(self) -> None:
        super().__init__("AccessDenied", "Access Denied")


class _SlowDown(S3ClientError):
    code = "SlowDown"

    def __init__(self) -> None:
        super().__init__("SlowDown", "Please reduce your request rate.")


class S3Faults:
    """Context manager: patches moto's S3 copy operations while open; `configure` sets the keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deny: set[tuple[str, str]] = set()
        self._throttle: set[tuple[str, str]] = set()
        self.refused: Counter[str] = Counter()  # "AccessDenied" / "SlowDown" -> copies refused
        self._originals: dict[str, Any] = {}

    def configure(self, *, deny: set[tuple[str, str]] = frozenset(), throttle: set[tuple[str, str]] = frozenset()) -> None:
        with self._lock:
            self._deny, self._throttle = set(deny), set(throttle)
            self.refused.clear()

    def _check(self, bucket: str, key: str) -> None:
        with self._lock:
            if (bucket, key) in self._deny:
                self.refused["AccessDenied"] += 1
                raise _AccessDenied()
            if (bucket, key) in self._throttle:
                self.refused["SlowDown"] += 1
                raise _SlowDown()

    def __enter__(self) -> "S3Faults":
        from moto.s3.models import S3Backend

        copy_object = S3Backend.copy_object
        upload_part_copy = S3Backend.upload_part_copy
        faults = self

        def guarded_copy_object(backend: Any, src_key: Any, *args: Any, **kwargs: Any) -> Any:
            faults._check(src_key.bucket_name, src_key.name)
            return copy_object(backend, src_key, *args, **kwargs)

        def guarded_upload_part_copy(backend: Any, dest_bucket_name: str, multipart_id: str, part_id: int,
                                     src_bucket_name: str, src_key_name: str, *args: Any, **kwargs: Any) -> Any:
            faults._check(src_bucket_name, src_key_name)
            return upload_part_copy(backend, dest_bucket_name, multipart_id, part_id, src_bucket_name, src_key_name,
                                    *args, **kwargs)

        self._originals = {"copy_object": copy_object, "upload_part_copy": upload_part_copy}
        S3Backend.copy_object = guarded_copy_object
        S3Backend.upload_part_copy = guarded_upload_part_copy
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.s3.models import S3Backend

        for name, original in self._originals.items():
            setattr(S3Backend, name, original)
        self._originals = {}
