"""Errors the state machine matches by name (`Retry`/`Catch` `ErrorEquals`).

Lambda reports an unhandled exception's class name as the error, so each class name here is part
of the workflow's contract: rename one only together with the stack's retry and catch rules.

Per-object failures (access denied, a vanished object, a copy that does not verify) are *results*
of the copy handler, never exceptions; these are the batch- and workflow-level errors.
"""


class CopyWorkflowError(Exception):
    """Base class: every error this workflow raises on purpose."""


class InvalidCopyInput(CopyWorkflowError):
    """The execution input is unusable (e.g. a malformed `targetDate`, a prefix outside the configured one)."""


class InvalidBatch(CopyWorkflowError):
    """The copy handler's event is not an ItemBatcher batch `{"Items": [...], "BatchInput": {...}}`."""


class S3Throttled(CopyWorkflowError):
    """S3 answered SlowDown / 5xx after the client's own retries: the state machine retries the batch."""


class ResultsUnreadable(CopyWorkflowError):
    """The Map Run's ResultWriter manifest or result files are missing or not the expected JSON."""
