"""The scan's targets: every bucket name to scan, in one JSON array in S3, which the Map's ItemReader reads.

Why S3 and not the state: a name is up to 63 bytes, so 10,000 buckets (the default account quota;
up to a million on request) would make a 0.2-0.7 MB list, and ListBuckets' own answer for them
(name, creation date, region: ~100 B each) is about 1 MB, both past Step Functions' 256 KiB state
and task-result limit, which fails an execution with an uncatchable States.DataLimitExceeded. In S3
the list costs one PutObject and one GetObject, and the state holds only its key and count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from bucket_usage.errors import InvalidScanInput
from bucket_usage.request import ScanRequest, validate_bucket_name

LIST_BUCKETS_PAGE = 10_000  # ListBuckets' largest MaxBuckets


@dataclass(frozen=True)
class Targets:
    names: list[str]

    def as_json(self) -> bytes:
        return json.dumps(self.names, separators=(",", ":")).encode()


def given_names(raw: Any) -> Targets:
    """An explicit list: every element a bucket name (the first Choice already checked the types), each once."""
    if not isinstance(raw, list) or not raw:
        raise InvalidScanInput("buckets must be a non-empty list of bucket names")
    names: dict[str, None] = {}
    for index, value in enumerate(raw):
        try:
            names[validate_bucket_name(value)] = None
        except InvalidScanInput as exc:
            raise InvalidScanInput(f"buckets[{index}]: {exc}") from None
    return Targets(list(names))


def listed_names(list_buckets: Callable[..., dict[str, Any]], prefix: str | None) -> Targets:
    """Every bucket of the account (optionally starting with `prefix`), following ListBuckets' pages."""
    if prefix is not None and (not isinstance(prefix, str) or not 0 < len(prefix) <= 63):
        raise InvalidScanInput("name_prefix must be 1-63 characters")
    names: list[str] = []
    request: dict[str, Any] = {"MaxBuckets": LIST_BUCKETS_PAGE, **({"Prefix": prefix} if prefix else {})}
    while True:
        page = list_buckets(**request)
        names.extend(bucket["Name"] for bucket in page.get("Buckets", []))
        token = page.get("ContinuationToken")
        if not token:
            return Targets(names)
        request["ContinuationToken"] = token


def targets_key(prefix: str, execution: str) -> str:
    """One list per execution (a redrive rewrites the same key)."""
    return f"{prefix}{execution}.json"


def read_names(body: bytes) -> list[str]:
    names = json.loads(body)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidScanInput("the targets list in S3 is not a JSON array of names")
    return names


def normalized_request(request: ScanRequest) -> dict[str, Any]:
    """What each Map iteration carries instead of the execution input: a few bytes, whatever the list's size."""
    return {"scan_id": request.scan_id, "by_storage_class": request.by_storage_class}

