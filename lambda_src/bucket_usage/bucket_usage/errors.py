"""Errors the state machine matches by name (`Retry`/`Catch` `ErrorEquals`).

Lambda reports an unhandled exception's class name as the error, so each class
name here is part of the workflow's contract: rename one only together with the
stack's retry and catch rules.

A bucket that denies access or disappears is *not* an error: the scan records it
(status `denied` or `missing`) and the other buckets go on.
"""


class BucketUsageError(Exception):
    """Base class: every error this workflow raises on purpose."""


class InvalidScanInput(BucketUsageError):
    """The execution input (scan_id, by_storage_class, buckets) is not usable."""


class InvalidScanState(BucketUsageError):
    """The loop state handed from one scan pass to the next is malformed."""


class BucketScanThrottled(BucketUsageError):
    """S3 kept answering SlowDown/503/500 after the SDK's own retries: retry the pass with backoff."""


class BucketAnswerInvalid(BucketUsageError):
    """A listing came back that is not S3's (no IsTruncated: a proxy or portal in the way). Not retried: the
    Map's Catch records the bucket as an error, rather than counting it as empty."""


class ResultsStoreUnavailable(BucketUsageError):
    """DynamoDB throttled or failed the write after the SDK's own retries: retry with backoff."""


class MissingSetting(BucketUsageError):
    """A required environment variable is not set: the function is misconfigured."""


RETRYABLE_ERRORS = ("BucketScanThrottled", "ResultsStoreUnavailable")
