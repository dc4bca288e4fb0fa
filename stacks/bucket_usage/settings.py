"""Settings of the bucket-usage workflow (`stages.<stage>.workflows.bucket_usage` in cdk.json)."""

from __future__ import annotations

from dataclasses import dataclass

# Kept in step with lambda_src/bucket_usage/bucket_usage/extensions.py (normalise_compounds validates them again).
DEFAULT_COMPOUND_EXTENSIONS = ("tar.gz", "tar.bz2", "tar.xz", "tar.zst")


@dataclass(frozen=True)
class BucketUsageSettings:
    """Knobs of the bucket-usage workflow.

    max_concurrency: buckets scanned at once by the Distributed Map (default 10; at most 10,000).
    scan_function_timeout_seconds: the scan Lambda's timeout, one pass's ceiling (default 900, Lambda's maximum).
    scan_time_reserve_seconds: a pass stops listing when less than this remains, and hands back its
        continuation token (default 60).
    scan_max_pages_per_pass: 0 (default) lists until the time budget is spent; a positive number caps the
        pages (of up to 1,000 keys) per pass.
    scan_memory_mb: the scan Lambda's memory (default 512; it holds one page and the counts).
    max_scan_passes: the state machine's loop bound per bucket; a bucket still unfinished after this many
        passes is recorded as `incomplete` with its partial counts (default 100: about 1.2 billion objects at
        ~12 M keys per 14-minute pass).
    max_extensions: distinct extension groups kept per bucket, the rest count as `(other)` (default 200:
        keeps the counts well under the 256 KiB state and 400 KB item limits).
    compound_extensions: suffixes counted whole, e.g. "tar.gz" (default tar.gz, tar.bz2, tar.xz, tar.zst).
    top_extensions: extensions listed in the summary (default 10).
    results_ttl_days: results expire this long after their scan (DynamoDB TTL; default 90).
    summary_function_timeout_seconds: default 60.
    targets_function_timeout_seconds: the lister's timeout (ListBuckets pages of 10,000 and one PutObject);
        default 300.
    lists_retention_days: the scans' bucket lists and Map Run results stay this long in the lists bucket
        (S3 lifecycle); default 7.
    retry_interval_seconds, retry_max_attempts, retry_max_delay_seconds: backoff with full jitter on
        throttling and transient errors (defaults 2 s, 3 attempts, 30 s).
    execution_timeout_seconds: the whole execution (default 86,400: a day).
    tolerated_failed_buckets_percentage: the share of buckets whose scan may fail (status `error`: the scan
        function kept failing after its retries) before the run fails with `TooManyBucketsFailed`, after the
        summary naming them is published (default 5; denied, missing and incomplete buckets are outcomes the
        summary reports, not failures of the run).
    """

    max_concurrency: int = 10
    scan_function_timeout_seconds: int = 900
    scan_time_reserve_seconds: int = 60
    scan_max_pages_per_pass: int = 0
    scan_memory_mb: int = 512
    max_scan_passes: int = 100
    max_extensions: int = 200
    compound_extensions: tuple[str, ...] = DEFAULT_COMPOUND_EXTENSIONS
    top_extensions: int = 10
    results_ttl_days: int = 90
    summary_function_timeout_seconds: int = 60
    targets_function_timeout_seconds: int = 300
    lists_retention_days: int = 7
    retry_interval_seconds: int = 2
    retry_max_attempts: int = 3
    retry_max_delay_seconds: int = 30
    execution_timeout_seconds: int = 86_400
    tolerated_failed_buckets_percentage: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.tolerated_failed_buckets_percentage <= 100:
            raise ValueError("tolerated_failed_buckets_percentage must be 0-100")
        if isinstance(self.compound_extensions, str):
            raise ValueError("compound_extensions must be a list such as [\"tar.gz\"]")
        object.__setattr__(self, "compound_extensions", tuple(self.compound_extensions))
        if not 1 <= self.max_concurrency <= 10_000:
            raise ValueError("max_concurrency must be 1-10000 (a Distributed Map runs at most 10,000 children at once)")
        if not 10 <= self.targets_function_timeout_seconds <= 900 or not 1 <= self.lists_retention_days <= 365:
            raise ValueError("targets_function_timeout_seconds must be 10-900 and lists_retention_days 1-365")
        if not 10 <= self.scan_function_timeout_seconds <= 900:
            raise ValueError("scan_function_timeout_seconds must be 10-900 (Lambda's limit)")
        if not 1 <= self.scan_time_reserve_seconds < self.scan_function_timeout_seconds // 2:
            raise ValueError("scan_time_reserve_seconds must be at least 1 and less than half the function timeout")
        if self.scan_max_pages_per_pass < 0 or not 1 <= self.max_scan_passes <= 10_000:
            raise ValueError("scan_max_pages_per_pass must be >= 0 and max_scan_passes 1-10000")
        if not 1 <= self.max_extensions <= 1000 or not 1 <= self.top_extensions <= 100:
            raise ValueError("max_extensions must be 1-1000 and top_extensions 1-100")
        for compound in self.compound_extensions:
            parts = str(compound).split(".")
            if len(parts) < 2 or not all(parts) or compound != compound.lower():
                raise ValueError(f"compound extension {compound!r} must be lower case like 'tar.gz'")
