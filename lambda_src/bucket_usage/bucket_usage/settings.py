"""Function settings from environment variables (set by the stack; never secrets)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bucket_usage.errors import MissingSetting
from bucket_usage.extensions import normalise_compounds


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise MissingSetting(f"environment variable {name}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class ScanSettings:
    """table: results table; compounds: compound extensions; page_size: ListObjectsV2 MaxKeys;
    max_pages_per_pass: 0 = until the time budget; time_reserve_s: stop a pass this long before the
    function's timeout; max_extensions: groups kept per bucket; ttl_days: results expire after."""

    table: str
    compounds: tuple[str, ...]
    page_size: int
    max_pages_per_pass: int
    time_reserve_s: int
    max_extensions: int
    ttl_days: int

    @classmethod
    def from_env(cls) -> "ScanSettings":
        raw_compounds = [c for c in os.environ.get("COMPOUND_EXTENSIONS", "").split(",") if c.strip()]
        try:
            compounds = normalise_compounds(raw_compounds)
        except ValueError as exc:
            raise MissingSetting(f"COMPOUND_EXTENSIONS: {exc}") from None
        return cls(
            table=_required("RESULTS_TABLE"),
            compounds=compounds,
            page_size=max(1, min(1000, _int("LIST_PAGE_SIZE", 1000))),
            max_pages_per_pass=max(0, _int("MAX_PAGES_PER_PASS", 0)),
            time_reserve_s=max(1, _int("SCAN_TIME_RESERVE_SECONDS", 60)),
            max_extensions=max(1, _int("MAX_EXTENSIONS", 200)),
            ttl_days=max(1, _int("RESULTS_TTL_DAYS", 90)),
        )


@dataclass(frozen=True)
class SummarySettings:
    table: str
    topic_arn: str
    top_extensions: int
    ttl_days: int
    tolerated_failed_percentage: int = 5

    @classmethod
    def from_env(cls) -> "SummarySettings":
        return cls(
            table=_required("RESULTS_TABLE"),
            topic_arn=_required("SUMMARY_TOPIC_ARN"),
            top_extensions=max(1, _int("TOP_EXTENSIONS", 10)),
            ttl_days=max(1, _int("RESULTS_TTL_DAYS", 90)),
            tolerated_failed_percentage=min(100, max(0, _int("TOLERATED_FAILED_BUCKETS_PERCENTAGE", 5))),
        )


@dataclass(frozen=True)
class TargetsSettings:
    """bucket/prefix: where the scan's bucket list is written (and read back by the summary)."""

    bucket: str
    prefix: str

    @classmethod
    def from_env(cls) -> "TargetsSettings":
        return cls(bucket=_required("TARGETS_BUCKET"), prefix=_required("TARGETS_PREFIX"))
