"""Retries every workflow uses: bounded exponential backoff with full jitter."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

# Transient Lambda service errors, throttling included (CDK's default Lambda retry omits
# throttling and has no jitter, so tasks set retry_on_service_exceptions=False and use this).
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]


def retry_with_jitter(task: sfn.TaskStateBase, errors: list[str], *, interval_seconds: int, max_attempts: int,
                      max_delay_seconds: int, backoff_rate: float = 2) -> None:
    """Retry `errors` on `task`: `max_attempts` retries, starting `interval_seconds` apart, growing by
    `backoff_rate` up to `max_delay_seconds`, each wait drawn at random below that (full jitter)."""
    task.add_retry(
        errors=errors,
        interval=Duration.seconds(interval_seconds),
        max_attempts=max_attempts,
        backoff_rate=backoff_rate,
        max_delay=Duration.seconds(max_delay_seconds),
        jitter_strategy=sfn.JitterType.FULL,
    )


def retry_from_settings(task: sfn.TaskStateBase, errors: list[str], settings: object, *, max_attempts: int | None = None) -> None:
    """`retry_with_jitter` with a workflow settings object's `retry_interval_seconds`,
    `retry_max_attempts` (unless `max_attempts` is given) and `retry_max_delay_seconds`."""
    retry_with_jitter(task, errors, interval_seconds=settings.retry_interval_seconds,  # type: ignore[attr-defined]
                      max_attempts=settings.retry_max_attempts if max_attempts is None else max_attempts,  # type: ignore[attr-defined]
                      max_delay_seconds=settings.retry_max_delay_seconds)  # type: ignore[attr-defined]


# Transient errors of an SNS publish (optimized integration), and a Task that timed out.
SNS_TRANSIENT_ERRORS = ["SNS.InternalErrorException", "SNS.ThrottledException", "States.Timeout"]


def retry_publish(task: sfn.TaskStateBase) -> None:
    """A notice's retry: 3 retries of SNS's transient errors, from 1 s, doubling, full jitter."""
    task.add_retry(errors=SNS_TRANSIENT_ERRORS, max_attempts=3, backoff_rate=2, interval=Duration.seconds(1),
                   jitter_strategy=sfn.JitterType.FULL)
