"""One scan pass over a bucket: list pages until the listing ends or the pass's budget is spent.

A pass stops after `max_pages` pages (0 = no page limit) or when less than
`reserve_s` seconds of the invocation remain, and hands back the continuation
token with the counts so far. Every pass lists at least one page, so a scan
always progresses. The state machine loops passes (bounded) until `done`.

A bucket in another region is listed through that region's endpoint: its region
comes from GetBucketLocation on the first pass and travels with the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from bucket_usage.aws import error_code
from bucket_usage.counting import UsageCounts
from bucket_usage.errors import BucketAnswerInvalid, BucketScanThrottled

SCANNING, SCANNED, DENIED, MISSING = "scanning", "scanned", "denied", "missing"
INCOMPLETE, FAILED = "incomplete", "error"  # set by the handler / the summary
DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "403"}
MISSING_CODES = {"NoSuchBucket", "404"}
THROTTLED_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}


@dataclass
class PassOutcome:
    status: str  # SCANNING (more to list), SCANNED, DENIED or MISSING
    region: str | None
    token: str | None
    counts: UsageCounts
    pages: int
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status != SCANNING


def location_to_region(location: str | None) -> str:
    """GetBucketLocation's LocationConstraint to a region name (null means us-east-1, "EU" eu-west-1)."""
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


def scan_pass(
    *,
    bucket: str,
    region: str | None,
    token: str | None,
    counts: UsageCounts,
    s3_for: Callable[[str | None], Any],
    page_size: int = 1000,
    max_pages: int = 0,
    compounds: tuple[str, ...] = (),
    seconds_left: Callable[[], float] = lambda: float("inf"),
    reserve_s: float = 60,
) -> PassOutcome:
    """`s3_for(region)` returns an S3 client for that region (None: the function's own region)."""
    pages = 0
    try:
        if region is None:
            region = location_to_region(s3_for(None).get_bucket_location(Bucket=bucket).get("LocationConstraint"))
        s3 = s3_for(region)
        while True:
            request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": page_size}
            if token:
                request["ContinuationToken"] = token
            page = s3.list_objects_v2(**request)
            if "IsTruncated" not in page:  # every ListObjectsV2 answer has it; an HTML page parses to nothing
                raise BucketAnswerInvalid(f"{bucket}: the answer to ListObjectsV2 is not an S3 listing")
            for entry in page.get("Contents", []):
                counts.add(entry["Key"], entry.get("Size", 0), entry.get("StorageClass"), compounds)
            pages += 1
            if not page.get("IsTruncated"):
                return PassOutcome(SCANNED, region, None, counts, pages)
            token = page["NextContinuationToken"]
            if (max_pages and pages >= max_pages) or seconds_left() < reserve_s:
                return PassOutcome(SCANNING, region, token, counts, pages)
    except Exception as exc:
        code = error_code(exc)
        if code in DENIED_CODES:
            return PassOutcome(DENIED, region, None, counts, pages, error=f"{code}: {_message(exc)}")
        if code in MISSING_CODES:
            return PassOutcome(MISSING, region, None, counts, pages, error=f"{code}: {_message(exc)}")
        if code in THROTTLED_CODES:
            raise BucketScanThrottled(f"{bucket}: S3 answered {code} after the SDK's retries") from exc
        raise


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Message") or exc)[:300]
