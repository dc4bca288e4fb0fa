"""Errors the state machine matches by name (`Retry`/`Catch` `ErrorEquals`).

Lambda reports an unhandled exception's class name as the error, so each class
name here is part of the workflow's contract: rename one only together with the
stack's retry and catch rules. Which ones are retried is decided in one place, the
stack (stacks/parallel_search/stack.py, RETRYABLE_API_ERRORS); a template test checks
that every class here is retried there or deliberately left to fail.
"""


class SearchWorkflowError(Exception):
    """Base class: every error this workflow raises on purpose."""


class InvalidSearchInput(SearchWorkflowError):
    """The execution input lacks a usable `keywords` string."""


class SearchApiRejected(SearchWorkflowError):
    """The search API answered 4xx (other than 429): retrying will not help."""


class SearchApiThrottled(SearchWorkflowError):
    """The search API answered 429: retry with backoff."""


class SearchApiUnavailable(SearchWorkflowError):
    """The search API answered 5xx or could not be reached: retry with backoff."""


class SearchApiTimeout(SearchWorkflowError):
    """The search API did not answer within the client timeout: retry with backoff."""


class SearchApiNotConfigured(SearchWorkflowError):
    """The API endpoint is still a placeholder (e.g. a host under the reserved `.example` TLD):
    the setting it names must be set (-c or settings/<stage>.json) and the stack deployed again. Never retried."""


class SearchApiBadResponse(SearchWorkflowError):
    """The search API answered 2xx with a body that is not the expected JSON."""


class InvalidPayloadReference(SearchWorkflowError):
    """A payload envelope is neither a valid inline payload nor a valid S3 reference."""


class PayloadReferenceMissing(SearchWorkflowError):
    """The S3 object a reference points to does not exist (expired or deleted)."""


class PayloadIntegrityError(SearchWorkflowError):
    """The S3 object's size or sha256 differs from the reference: it was changed or truncated."""

