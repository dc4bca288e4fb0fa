"""The execution input, as every handler reads it (`$$.Execution.Input`), with its defaults.

    {"scan_id"?: str, "buckets"?: [str, ...], "name_prefix"?: str, "by_storage_class"?: bool}

`scan_id` defaults to the execution name, so a redrive keeps its id and a new run
gets a new one; give the same `scan_id` again to overwrite a scan's results.
The state machine's first Choice already rejects wrong types; these checks are
the handlers' own line of defence (and the values' shape: length, characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bucket_usage.errors import InvalidScanInput

SCAN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")
# S3 bucket naming rules (general purpose buckets), loose enough for legacy names with capitals/underscores.
BUCKET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


@dataclass(frozen=True)
class ScanRequest:
    scan_id: str
    by_storage_class: bool


def parse_request(raw: Any, execution_name: Any) -> ScanRequest:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidScanInput("the execution input must be a JSON object")
    scan_id = raw.get("scan_id", execution_name)
    if not isinstance(scan_id, str) or not SCAN_ID.match(scan_id):
        raise InvalidScanInput("scan_id must be 1-80 characters of letters, digits and . _ : -")
    by_class = raw.get("by_storage_class", False)
    if not isinstance(by_class, bool):
        raise InvalidScanInput("by_storage_class must be true or false")
    return ScanRequest(scan_id=scan_id, by_storage_class=by_class)


def validate_bucket_name(value: Any) -> str:
    if not isinstance(value, str) or not BUCKET_NAME.match(value):
        raise InvalidScanInput(f"{str(value)[:70]!r} is not a bucket name")
    return value
