"""The scan's summary: buckets scanned, failures, and the top extensions by bytes."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from bucket_usage.scanner import FAILED, SCANNED

FAILED_RUN = "TooManyBucketsFailed"

SUBJECT_LIMIT = 100  # SNS Subject: at most 100 printable ASCII characters


def summarize(
    *, scan_id: str, execution: str, results: Iterable[Mapping[str, Any]], items: Mapping[str, Mapping[str, Any]], top: int = 10
) -> dict[str, Any]:
    """`results`: this run's buckets ({"bucket", "error"?: shown when the bucket has no item}); `items`: the
    table's items of `scan_id` that this execution wrote, by bucket.

    Only this run's buckets count, so an item left by an earlier run with the same
    scan_id for a bucket that is gone is not summed again.
    """
    totals: dict[str, dict[str, int]] = {}
    failures, scanned, objects, size, buckets = [], 0, 0, 0, 0
    seen: set[str] = set()
    for result in results:
        bucket = result["bucket"]
        if bucket in seen:  # a name given twice in an explicit list: one item, counted once
            continue
        seen.add(bucket)
        buckets += 1
        item = items.get(bucket) or {}
        status = item.get("status") or result.get("status") or FAILED
        if status == SCANNED:
            scanned += 1
        else:
            failures.append({"bucket": bucket, "status": status, "error": short_error(item.get("error") or result.get("error"))})
        objects += int(item.get("objects", 0))
        size += int(item.get("bytes", 0))
        for group, entry in (item.get("extensions") or {}).items():
            total = totals.setdefault(group, {"objects": 0, "bytes": 0})
            total["objects"] += int(entry["objects"])
            total["bytes"] += int(entry["bytes"])
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1]["bytes"], -kv[1]["objects"], kv[0]))[:top]
    return {
        "scan_id": scan_id,
        "execution": execution,
        "buckets": buckets,
        "buckets_scanned": scanned,
        "failures": failures,
        "objects": objects,
        "bytes": size,
        "top_extensions": [{"extension": group, **entry} for group, entry in ranked],
    }


def failure_verdict(summary: Mapping[str, Any], tolerated_percentage: int) -> dict[str, Any]:
    """Buckets whose scan failed (`error`) against the tolerated share of the run's buckets."""
    failed = sum(1 for failure in summary["failures"] if failure["status"] == FAILED)
    buckets = summary["buckets"]
    exceeded = failed * 100 > tolerated_percentage * buckets
    percentage = round(failed * 100 / buckets, 1) if buckets else 0.0
    cause = (f"{failed:,} of {buckets:,} buckets ({percentage}%) could not be scanned, more than the {tolerated_percentage}% "
             "tolerated (tolerated_failed_buckets_percentage); the summary names them") if exceeded else None
    return {"failedBuckets": failed, "failedPercentage": percentage, "thresholdExceeded": exceeded, "cause": cause}


def subject(summary: Mapping[str, Any]) -> str:
    text = (
        f"bucket-usage {summary['scan_id']}: {summary['buckets_scanned']}/{summary['buckets']} buckets scanned, "
        f"{len(summary['failures'])} failed"
    )
    text = text.encode("ascii", "replace").decode()
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def message(summary: Mapping[str, Any]) -> str:
    return json.dumps({"workflow": "bucket-usage", **summary}, ensure_ascii=False)


def short_error(text: Any, limit: int = 300) -> str | None:
    """A failure's text, at most `limit` characters; a Lambda error object (JSON) becomes its errorMessage."""
    if text is None:
        return None
    text = str(text)
    try:  # a Lambda error's Cause is its JSON error object: keep the message
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            text = str(parsed["errorMessage"])
    except ValueError:
        pass
    return text if len(text) <= limit else text[: limit - 1] + "…"
