"""Errors the state machine matches by name (`Retry`/`Catch` `ErrorEquals`), and the bound on their text.

Lambda reports an unhandled exception's class name as the error, so each class name here is part
of the workflow's contract: rename one only together with the stack's retry and catch rules.

Per-object failures (access denied, a vanished object, a copy that does not verify) are *results*
of the copy handler, never exceptions; these are the batch- and workflow-level errors.

Every error message this workflow produces is at most `MAX_MESSAGE_CHARS` characters: a `Catch`
puts the message (inside the Lambda error's cause) into the state, where AWS allows 256 KiB, and an
error that outgrows it becomes `States.DataLimitExceeded`, which no `Catch` can handle. So messages
quote inputs through `preview`, and `bounded_errors` cuts any other exception's message.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

MAX_MESSAGE_CHARS = 1_000
PREVIEW_CHARS = 80
F = TypeVar("F", bound=Callable[..., Any])


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text`, cut to `limit` characters with a note of how much was cut."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text):,} characters, cut)"
    return text[: max(limit - len(note), 0)] + note


def preview(value: Any) -> str:
    """A value as a message may quote it: its repr, cut to `PREVIEW_CHARS` characters."""
    return bounded(repr(value), PREVIEW_CHARS)


class CopyWorkflowError(Exception):
    """Base class: every error this workflow raises on purpose (its message bounded)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(bounded(str(message)))


class InvalidCopyInput(CopyWorkflowError):
    """The execution input is unusable (e.g. a malformed `targetDate`, a prefix outside the configured one)."""


class InvalidBatch(CopyWorkflowError):
    """The copy handler's event is not an ItemBatcher batch `{"Items": [...], "BatchInput": {...}}`."""


class S3Throttled(CopyWorkflowError):
    """S3 answered SlowDown / 5xx after the client's own retries: the state machine retries the batch."""


class ResultsUnreadable(CopyWorkflowError):
    """The Map Run's ResultWriter manifest or result files are missing or not the expected JSON."""


def bounded_errors(handler: F) -> F:
    """Re-raise any exception escaping `handler` with its message cut to `MAX_MESSAGE_CHARS`, keeping
    its class name (the error name a `Catch` matches)."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            if len(str(error)) <= MAX_MESSAGE_CHARS:
                raise
            text = bounded(str(error))
            error.args = (text,)
            if len(str(error)) <= MAX_MESSAGE_CHARS:
                raise
            # a class whose message ignores its args: the same name, the bounded text
            raise type(type(error).__name__, (Exception,), {})(text) from None

    return wrapper  # type: ignore[return-value]
