"""Read a Map Run's ResultWriter output and turn it into counts, the failure threshold's verdict and one notice."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from distributed_copy.errors import ResultsUnreadable, preview


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body)
    except (ClientError, ValueError) as exc:
        raise ResultsUnreadable(f"s3://{bucket}/{key}: {exc}") from exc


def collect(s3: Any, manifest_ref: dict[str, str]) -> dict[str, Any]:
    """Counts and failed items over every child execution of the Map Run.

    A child that failed as a whole (its Lambda kept failing) counts every item of its batch as failed,
    with the child's error as the reason, as the Map's tolerance counts them."""
    if not isinstance(manifest_ref, dict) or not manifest_ref.get("Bucket") or not manifest_ref.get("Key"):
        raise ResultsUnreadable(f"not a ResultWriter reference: {preview(manifest_ref)}")
    manifest = _read_json(s3, manifest_ref["Bucket"], manifest_ref["Key"])
    files = (manifest or {}).get("ResultFiles") or {}
    counts = {"moved": 0, "skipped": 0, "failed": 0}
    failures: list[dict[str, str]] = []
    bucket = manifest.get("DestinationBucket") or manifest_ref["Bucket"]
    for ref in files.get("SUCCEEDED", []):
        for entry in _read_json(s3, bucket, ref["Key"]):
            output = json.loads(entry.get("Output") or "{}")
            for item in output.get("results", []):
                counts[item["status"]] = counts.get(item["status"], 0) + 1
                if item["status"] == "failed":
                    failures.append({"key": item["key"], "reason": item.get("reason", "Unknown")})
    for ref in files.get("FAILED", []) + files.get("PENDING", []):
        for entry in _read_json(s3, bucket, ref["Key"]):
            batch = json.loads(entry.get("Input") or "{}")
            for item in batch.get("Items", []):
                counts["failed"] += 1
                failures.append({"key": item.get("Key", "?"), "reason": entry.get("Error") or "ChildExecutionFailed"})
    return {**counts, "failures": failures}


def failure_verdict(moved: int, failed: int, tolerated_percentage: int) -> dict[str, Any]:
    """Failed objects against the tolerated share of the objects due to move (moved + failed; objects of
    other dates are not due). Past it (strictly more), the run fails after its notice."""
    due = moved + failed
    exceeded = failed * 100 > tolerated_percentage * due
    percentage = round(failed * 100 / due, 1) if due else 0.0
    cause = (f"{failed:,} of {due:,} objects ({percentage}%) were not moved, more than the {tolerated_percentage}% "
             "tolerated (tolerated_failed_objects_percentage); the notice names them") if exceeded else None
    return {"failedPercentage": percentage, "thresholdExceeded": exceeded, "cause": cause}


def build_notice(collected: dict[str, Any], *, workflow: str, execution: str, target_date: str, max_keys: int,
                 tolerated_percentage: int, s3: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """The summary, the threshold's verdict and, when items failed, the one notice naming them. Above
    `max_keys` failures the full list goes to S3 and the notice carries its reference (SNS messages
    are limited to 256 KiB)."""
    failures = collected["failures"]
    summary: dict[str, Any] = {k: collected[k] for k in ("moved", "skipped", "failed")}
    verdict = failure_verdict(collected["moved"], collected["failed"], tolerated_percentage)
    summary.update(verdict)
    if not failures:
        return {**summary, "notice": None}
    notice: dict[str, Any] = {"workflow": workflow, "execution": execution, "targetDate": target_date,
                              "failedCount": len(failures), "failedPercentage": verdict["failedPercentage"],
                              "toleratedFailedPercentage": tolerated_percentage,
                              "thresholdExceeded": verdict["thresholdExceeded"]}
    if len(failures) <= max_keys:
        notice["failedKeys"] = failures
    else:
        key = f"{prefix}{execution}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(failures, ensure_ascii=False).encode("utf-8"),
                      ContentType="application/json")
        notice["failedKeys"] = failures[:max_keys]
        notice["failedKeysList"] = {"Bucket": bucket, "Key": key}
    return {**summary, "notice": notice}
