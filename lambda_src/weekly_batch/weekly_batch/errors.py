"""Errors the state machine matches by name (`Retry`/`Catch` `ErrorEquals`).

Lambda reports an unhandled exception's class name as the error, so each class
name here is part of the workflow's contract: rename one only together with the
stack's retry and catch rules (stacks/weekly_batch/stack.py).
"""


class WeeklyBatchError(Exception):
    """Base class: every error this workflow raises on purpose."""


class InvalidTargetDate(WeeklyBatchError):
    """The input's `targetDate` is not YYYY-MM-DD, or its `scheduledTime` is not an ISO-8601 time."""


class MissingSetting(WeeklyBatchError):
    """A required environment variable is not set, or has a bad value: the function is misconfigured."""


class BigQueryNotConfigured(WeeklyBatchError):
    """`bigquery.project` is still the placeholder NOT-CONFIGURED: the setting it names must be set
    (-c or settings/<stage>.json) and the stack deployed again. Never retried."""


class SlackWebhookNotConfigured(WeeklyBatchError):
    """The webhook secret cannot be read (not created yet, or no access). Never retried."""


class BigQueryCredentialsInvalid(WeeklyBatchError):
    """The credentials secret is missing, not JSON, or of the wrong kind for the configured mode. Not retried."""


class BigQueryAuthFailed(WeeklyBatchError):
    """BigQuery answered 401/403 (not quota) or the token exchange failed: retried, tokens can be transiently refused."""


class BigQueryQuotaExceeded(WeeklyBatchError):
    """BigQuery answered 429 or a quota/rate-limit 403: retried with backoff."""


class BigQueryUnavailable(WeeklyBatchError):
    """BigQuery answered 5xx, something that is not its JSON (a proxy in the way), or could not be reached:
    retried with backoff."""


class BigQueryTimeout(WeeklyBatchError):
    """The query did not finish within the configured timeout: retried with backoff."""


class BigQueryRejected(WeeklyBatchError):
    """BigQuery rejected the query (400/404: bad SQL, missing table): retrying will not help."""


class SqlTemplateMissing(WeeklyBatchError):
    """The SQL template (packaged or in S3) could not be read."""


class SlackRejected(WeeklyBatchError):
    """Slack answered 4xx (not 429): a bad webhook URL or message. Not retried."""


class SlackRateLimited(WeeklyBatchError):
    """Slack answered 429 and the wait its Retry-After asks for (named in the message) does not fit in the
    notifier's time left, or Slack still refused after 3 posts. Not retried: the notice is recorded as missed."""


class SlackUnavailable(WeeklyBatchError):
    """Slack answered 5xx, dropped the connection or timed out: retried."""


class InvalidNotice(WeeklyBatchError):
    """The notifier was called with an unknown notice kind: a definition/code mismatch."""


class RunGuardUnavailable(WeeklyBatchError):
    """The run-once guard's table could not be updated (throttled, unavailable): raised so that Lambda's
    asynchronous retries (then the dead-letter queue) take over."""


class InvalidStatusChange(WeeklyBatchError):
    """The guard releaser was called with something other than a Step Functions execution status change."""
