"""Faults the sandbox injects into the emulator's S3, by object (a sandbox-side hook).

AWS would answer a copy with 403 AccessDenied when a bucket or key policy denies it. moto 5.2.5
evaluates bucket policies only when IAM authorization is on for every request (every caller then
needs real IAM identities and policies, which the sandbox's deployed roles are not in moto), so the
sandbox plays the policy's part itself; and it plays S3 under load, S3 failing, and people changing
the bucket while the workflow runs. While `S3Faults` is open, every *workflow* request about an
object (the source object of CopyObject / UploadPartCopy, the request's object otherwise; the
sandbox's own harness requests pass untouched) meets the faults configured for that object:

* `deny`: CopyObject / UploadPartCopy answer 403 AccessDenied, as an explicit Deny in a bucket
  policy gives;
* `throttle`: 503 SlowDown ("Please reduce your request rate."), as S3 answers under load;
* `error`: 500 InternalError ("We encountered an internal error. Please try again.");
* `slow`: the answer comes `slow_seconds` late (a slow S3; past the Lambda's timeout, a timeout);
* `garbage`: the request is carried out, then answered 200 with a body that is not S3's XML (a
  corrupted or truncated answer; HeadObject and DeleteObject answers carry no body to garble);
* `change`: just before the object's first DeleteObject, the object is uploaded again with other
  bytes (someone re-uploads it between the copy and the delete);
* `vanish`: just before the first request about the object, the object is deleted (it vanished
  between the listing and the copy).

throttle / error / slow / garbage hit the operations `fault_on` names (`copy`: CopyObject and
UploadPartCopy; `delete`: DeleteObject; `head`: HeadObject; `any`: those and GetObject), and only the
first `fault_times` of them per object (-1: every one), so a fault can be transient or permanent.
Installed by wrapping moto's `S3Response._key_response` for as long as the context manager is open.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from sandbox.emulator import HARNESS_USER_AGENT, _s3_operation
from sandbox.engine.s3_integrity import copy_source
from sandbox.s3_access import error_xml

FAULT_OPERATIONS = {
    "copy": frozenset({"CopyObject", "UploadPartCopy"}),
    "delete": frozenset({"DeleteObject"}),
    "head": frozenset({"HeadObject"}),
    "any": frozenset({"CopyObject", "UploadPartCopy", "DeleteObject", "HeadObject", "GetObject"}),
}
# (HTTP status, S3 error code, message) of the answers a refused request gets
_ANSWERS = {
    "deny": ("403 Forbidden", "AccessDenied", "Access Denied"),
    "throttle": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    "error": ("500 Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
}
GARBAGE_BODY = b"\x00<?xml garbage from a broken answer"

Object = tuple[str, str]  # (bucket, key)


@dataclass(frozen=True)
class FaultPlan:
    """Which objects meet which fault during one run."""

    deny: frozenset[Object] = frozenset()
    throttle: frozenset[Object] = frozenset()
    error: frozenset[Object] = frozenset()
    slow: frozenset[Object] = frozenset()
    garbage: frozenset[Object] = frozenset()
    change: frozenset[Object] = frozenset()
    vanish: frozenset[Object] = frozenset()
    fault_on: str = "copy"
    fault_times: int = -1
    slow_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.fault_on not in FAULT_OPERATIONS:
            raise ValueError(f"fault_on must be one of {', '.join(FAULT_OPERATIONS)}")


@dataclass
class FaultRecord:
    """What the faults did since the last `configure`."""

    injected: Counter[str] = field(default_factory=Counter)  # fault -> requests it hit
    changed: dict[str, str] = field(default_factory=dict)  # key -> sha256 of the bytes it was re-uploaded with
    vanished: list[str] = field(default_factory=list)


class S3Faults:
    """Context manager: while open, workflow requests to moto's S3 meet the configured `FaultPlan`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._hits: Counter[tuple[str, Object]] = Counter()
        self.record = FaultRecord()
        self._original: Any = None

    def configure(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan, self._hits, self.record = plan, Counter(), FaultRecord()

    def __enter__(self) -> "S3Faults":
        from moto.s3.responses import S3Response

        self._original = S3Response.__dict__["_key_response"]
        original, faults = self._original, self

        def _key_response(response: Any, request: Any, full_url: str) -> Any:
            return faults._handle(response, request, full_url, lambda: original(response, request, full_url))

        S3Response._key_response = _key_response
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.s3.responses import S3Response

        if self._original is not None:
            S3Response._key_response = self._original
            self._original = None

    # ------------------------------------------------------------------ per request

    def _handle(self, response: Any, request: Any, full_url: str, forward: Any) -> Any:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if HARNESS_USER_AGENT in headers.get("user-agent", ""):
            return forward()
        bucket = response.parse_bucket_name_from_url(request, full_url)
        key = response.parse_key_name()
        query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
        operation = _s3_operation(request.method.upper(), f"/{bucket}/{key}", query, headers)
        subject = copy_source(headers["x-amz-copy-source"])[:2] if "x-amz-copy-source" in headers else (bucket, key)
        plan = self._plan
        self._before(response, operation, subject, plan)
        if operation in FAULT_OPERATIONS["copy"] and subject in plan.deny:
            return self._refuse("deny", subject, request.method)
        fault = next((name for name in ("throttle", "error", "slow", "garbage") if subject in getattr(plan, name)), None)
        if fault is None or operation not in FAULT_OPERATIONS[plan.fault_on] or not self._counts(fault, subject, plan):
            return forward()
        if fault in ("throttle", "error"):
            return self._refuse(fault, subject, request.method)
        if fault == "slow":
            time.sleep(plan.slow_seconds)
            return forward()
        status, out_headers, body = forward()  # garbage: carried out, then answered with a broken body
        if 200 <= int(status) < 300 and request.method.upper() not in ("HEAD", "DELETE"):
            return 200, {k: v for k, v in out_headers.items() if k.lower() != "content-length"}, GARBAGE_BODY
        return status, out_headers, body

    def _before(self, response: Any, operation: str | None, subject: Object, plan: FaultPlan) -> None:
        """vanish / change: the bucket changes under the request, then S3 answers it."""
        bucket, key = subject
        with self._lock:
            vanish = subject in plan.vanish and key not in self.record.vanished
            change = operation == "DeleteObject" and subject in plan.change and key not in self.record.changed
            if vanish:
                self.record.vanished.append(key)
            if change:
                existing = response.backend.get_object(bucket, key)
                body = os.urandom(max(existing.size if existing is not None else 0, 1))
                self.record.changed[key] = hashlib.sha256(body).hexdigest()
        if vanish:
            response.backend.delete_object(bucket, key)
        if change:
            response.backend.put_object(bucket, key, body)

    def _counts(self, fault: str, subject: Object, plan: FaultPlan) -> bool:
        with self._lock:
            if plan.fault_times >= 0 and self._hits[(fault, subject)] >= plan.fault_times:
                return False
            self._hits[(fault, subject)] += 1
            self.record.injected[fault] += 1
            return True

    def _refuse(self, fault: str, subject: Object, method: str) -> tuple[int, dict[str, str], bytes]:
        status, code, message = _ANSWERS[fault]
        if fault == "deny":
            with self._lock:
                self.record.injected[fault] += 1
        body = b"" if method.upper() == "HEAD" else error_xml(code, message, subject[0])
        return int(status.split()[0]), {"Content-Type": "application/xml"}, body
