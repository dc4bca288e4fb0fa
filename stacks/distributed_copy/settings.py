"""Settings of the distributed-copy workflow (`stages.<stage>.workflows.distributed_copy` in cdk.json)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
GIB = 1024**3
EXPRESS_TASK_MAX_SECONDS = 240


@dataclass(frozen=True)
class DistributedCopySettings:
    """Knobs of the distributed-copy workflow.

    source_bucket: existing bucket holding the objects (not created by the stack; the roles are
        scoped to it); default the placeholder "distributed-copy-source.example", which
        `python -m stacks.preflight` (run by `make deploy`) refuses until it is set.
    source_prefix: objects listed under this prefix (ends in "/"); default "incoming/".
    destination_prefix: copies go to `<destination_prefix>YYYY/MM/DD/<name>` in the same bucket
        (ends in "/", must not overlap the source prefix); default "archive/".
    target_timezone: "yesterday" is computed in this zone unless the input gives `targetDate`;
        default "Asia/Tokyo" (the seed's).
    max_concurrency: child executions at once (Distributed Map MaxConcurrency); default 100.
    tolerated_failure_percentage: integer percent of items whose child execution may fail before
        the Map fails with States.ExceedToleratedFailureThreshold; default 5.
    tolerated_failed_objects_percentage: integer percent of the objects due to move (moved +
        failed) that may fail, per object or with their batch, before the run fails with
        TooManyObjectsFailed, after the notice naming them; default 5 (0: any failure fails the run).
    max_items_per_batch: ItemBatcher MaxItemsPerBatch (objects per Lambda invocation); default 200.
    max_input_bytes_per_batch: ItemBatcher MaxInputBytesPerBatch; also bounds a batch's output
        (one small result per item); default 131072 (128 KiB, half the 256 KiB state limit).
    child_execution_type: "EXPRESS" (default: a batch lasts seconds) or "STANDARD".
    multipart_threshold_bytes: objects larger than this are copied with UploadPartCopy; default
        5 GiB (CopyObject's limit); lower it only to exercise the multipart path.
    part_size_bytes: UploadPartCopy part size; default 512 MiB (raised to keep <= 10,000 parts).
    copy_memory_mb, copy_timeout_seconds: the copy function (I/O bound; a batch of 200 small
        objects takes seconds); defaults 512 MB, 240 s (at most 240 s with EXPRESS children, which
        last at most 5 minutes: use STANDARD children to copy objects of hundreds of GB).
    s3_max_attempts: botocore standard-mode attempts per S3 call; default 5.
    copy_threads: objects of a batch moved at once by one invocation (I/O-bound); default 8.
    notice_max_keys: failed keys named inline in the SNS notice; above, the full list goes to S3
        and the notice carries its reference; default 50 (50 keys of 1,024 bytes fit SNS's 256 KiB).
    results_retention_days: ResultWriter files and failed-key lists expire after; default 30.
    retry_interval_seconds, retry_max_attempts, retry_max_delay_seconds: backoff with full jitter
        on Lambda service errors, throttling and S3Throttled; defaults 2 s, 4 attempts, 60 s.
    execution_timeout_seconds: whole execution; default 86400 (a day).
    """

    source_bucket: str = "distributed-copy-source.example"
    source_prefix: str = "incoming/"
    destination_prefix: str = "archive/"
    target_timezone: str = "Asia/Tokyo"
    max_concurrency: int = 100
    tolerated_failure_percentage: int = 5
    tolerated_failed_objects_percentage: int = 5
    max_items_per_batch: int = 200
    max_input_bytes_per_batch: int = 128 * 1024
    child_execution_type: str = "EXPRESS"
    multipart_threshold_bytes: int = 5 * GIB
    part_size_bytes: int = 512 * 1024**2
    copy_memory_mb: int = 512
    copy_timeout_seconds: int = 240
    s3_max_attempts: int = 5
    copy_threads: int = 8
    notice_max_keys: int = 50
    results_retention_days: int = 30
    retry_interval_seconds: int = 2
    retry_max_attempts: int = 4
    retry_max_delay_seconds: int = 60
    execution_timeout_seconds: int = 86400

    def __post_init__(self) -> None:
        if not _BUCKET.match(self.source_bucket):
            raise ValueError(f"source_bucket {self.source_bucket!r} is not a valid bucket name")
        for name in ("source_prefix", "destination_prefix"):
            value = getattr(self, name)
            if not value.endswith("/") or value.startswith("/"):
                raise ValueError(f"{name} must end in '/' and not start with it, got {value!r}")
        if self.source_prefix.startswith(self.destination_prefix) or self.destination_prefix.startswith(self.source_prefix):
            raise ValueError("source_prefix and destination_prefix must not overlap (copies would be listed again)")
        if self.child_execution_type not in ("EXPRESS", "STANDARD"):
            raise ValueError("child_execution_type must be EXPRESS or STANDARD")
        for name in ("tolerated_failure_percentage", "tolerated_failed_objects_percentage"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                raise ValueError(f"{name} must be an integer between 0 and 100, got {value!r}")
        if not 1 <= self.max_items_per_batch <= 100_000_000:
            raise ValueError("max_items_per_batch must be positive")
        if not 1024 <= self.max_input_bytes_per_batch <= 256 * 1024:
            raise ValueError("max_input_bytes_per_batch must be between 1 KiB and 256 KiB")
        if not 1 <= self.max_concurrency <= 10_000:
            raise ValueError("max_concurrency must be between 1 and 10,000")
        if not 1 <= self.multipart_threshold_bytes <= 5 * GIB:
            raise ValueError("multipart_threshold_bytes must be between 1 byte and 5 GiB")
        if self.child_execution_type == "EXPRESS" and self.copy_timeout_seconds > EXPRESS_TASK_MAX_SECONDS:
            raise ValueError(f"copy_timeout_seconds must be <= {EXPRESS_TASK_MAX_SECONDS} with EXPRESS children "
                             "(an Express execution lasts at most 5 minutes); use STANDARD for longer copies")
        for name in ("part_size_bytes", "copy_memory_mb", "copy_timeout_seconds", "s3_max_attempts", "copy_threads", "notice_max_keys",
                     "results_retention_days", "retry_interval_seconds", "retry_max_attempts",
                     "retry_max_delay_seconds", "execution_timeout_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1 or math.isnan(value):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
