"""S3 access rules the emulator does not enforce, emulated at its WSGI entry (moto 5.2.5).

moto answers every request to every bucket: it does not evaluate IAM or bucket
policies unless its global IAM auth is switched on (which would then apply to
every service and every stack in the session), and it serves any bucket through
any region's signature. The bucket-usage workflow depends on both rules, so the
sandbox emulates them, by bucket name, for requests that are not the sandbox's
own (harness clients carry `HARNESS_USER_AGENT` and pass untouched):

* **denied buckets**: every request answers 403 `AccessDenied`, as an explicit
  `Deny` for the workflow's role in the bucket policy would;
* **region**: a request to a bucket signed for another region answers 301
  `PermanentRedirect` with `x-amz-bucket-region`, as S3's regional endpoints do
  (GetBucketLocation and CreateBucket excepted, as in S3). botocore follows such a
  redirect by itself, so the rule is *counted* (`wrong_region_requests`): a client
  that addresses the right region never sees one;
* **vanishing buckets**: after the first ListObjectsV2 page of such a bucket has
  been answered, the bucket and its objects are deleted (a bucket deleted mid-scan);
* **throttled buckets**: every request answers 503 `SlowDown`, as S3 does when a
  prefix's request rate is exceeded (counted as `throttled_requests`);
* **slow buckets**: every answer comes `slow_seconds` late; **garbage buckets**: every
  request answers 200 with an HTML page (a proxy in the way).

Only path-style requests are inspected (boto3 uses path style for the
emulator's 127.0.0.1 endpoint). A hook at the emulator's WSGI entry
(`sandbox.wsgi_hook`) for as long as the context manager is open.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote

from sandbox.emulator import HARNESS_USER_AGENT
from sandbox.wsgi_hook import EntryHook

_SIGNING = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/s3/aws4_request")
_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    "<BucketName>{bucket}</BucketName><RequestId>sandbox</RequestId></Error>"
)


@dataclass
class S3AccessRules:
    denied: set[str] = field(default_factory=set)
    vanish_after_first_page: set[str] = field(default_factory=set)
    throttled: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)
    slow_seconds: float = 0.0
    denied_requests: int = 0
    throttled_requests: int = 0
    wrong_region_requests: int = 0
    requests_by_region: dict[str, int] = field(default_factory=dict)  # bucket-level requests, by signing region
    vanished: list[str] = field(default_factory=list)


def bucket_region(bucket: str) -> str | None:
    """The region moto created `bucket` in (None if it does not exist)."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket)
    if owner is None:
        return None
    partition, account_id = owner
    found = s3_backends[account_id][partition].buckets.get(bucket)
    return found.region_name if found is not None else None


class S3AccessEmulation(EntryHook):
    """Context manager: while open, the emulator applies `rules` (mutable between runs)."""

    def __init__(self, rules: S3AccessRules, *, delete_bucket: Callable[[str], None]) -> None:
        self.rules = rules
        self._delete_bucket = delete_bucket
        self._lock = threading.Lock()

    def _handle(self, environ: dict[str, Any], start_response: Callable, forward: Callable) -> Iterable[bytes]:
        signing = _SIGNING.search(environ.get("HTTP_AUTHORIZATION", ""))
        if signing is None or HARNESS_USER_AGENT in environ.get("HTTP_USER_AGENT", ""):
            return forward(environ, start_response)
        parts = [p for p in unquote(environ.get("PATH_INFO", "")).split("/") if p]
        if not parts:
            return forward(environ, start_response)
        bucket, region = parts[0], signing.group(1)
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        rules = self.rules
        with self._lock:
            rules.requests_by_region[region] = rules.requests_by_region.get(region, 0) + 1
        if bucket in rules.denied:
            with self._lock:
                rules.denied_requests += 1
            return _error(start_response, "403 Forbidden", "AccessDenied", "Access Denied (sandbox: denied bucket)", bucket)
        if bucket in rules.garbage:
            body = b"<html><body>Gateway says hello</body></html>"
            start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
            return [body]
        if bucket in rules.slow:
            time.sleep(rules.slow_seconds)
        if bucket in rules.throttled:
            with self._lock:
                rules.throttled_requests += 1
            return _error(start_response, "503 Slow Down", "SlowDown", "Please reduce your request rate. (sandbox: throttled bucket)",
                          bucket)
        actual = bucket_region(bucket)
        is_location = "location" in query
        is_create = method == "PUT" and len(parts) == 1 and not query
        if actual and actual != region and not (is_location or is_create):
            with self._lock:
                rules.wrong_region_requests += 1
            return _error(
                start_response, "301 Moved Permanently", "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the specified endpoint.", bucket,
                headers=[("x-amz-bucket-region", actual)],
            )
        response = forward(environ, start_response)
        if bucket in rules.vanish_after_first_page and method == "GET" and query.get("list-type") == ["2"]:
            body = b"".join(response)  # answer this page, then make the bucket disappear
            with self._lock:
                rules.vanish_after_first_page.discard(bucket)
                rules.vanished.append(bucket)
            self._delete_bucket(bucket)
            return [body]
        return response


def error_xml(code: str, message: str, bucket: str) -> bytes:
    """An S3 error answer's body, as S3 sends it."""
    return _ERROR_XML.format(code=code, message=message, bucket=bucket).encode()


def _error(start_response: Callable, status: str, code: str, message: str, bucket: str,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = error_xml(code, message, bucket)
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]
