"""Settings of the single-flight workflow (`stages.<stage>.workflows.single_flight` in cdk.json)."""

from __future__ import annotations

from dataclasses import dataclass, field

VISIBILITY_FACTOR = 6  # AWS guidance for SQS event sources: visibility timeout >= 6 x function timeout
SQS_MAX_VISIBILITY_SECONDS = 43200  # 12 h from the receive, ChangeMessageVisibility included


@dataclass(frozen=True)
class LongApiSettings:
    """The external API the consumer calls, one call at a time.

    endpoint: HTTPS URL answering `POST` with the tick as JSON; default a placeholder to replace.
    credentials_secret_name: Secrets Manager secret (plain string) holding the bearer token;
        create it before deploying; default "single-flight/long-api/token".
    timeout_seconds: client timeout of one call (the seed's API takes 40-120 s); default 150.
    max_call_seconds: the longest the API works on one call, from its start, whether or not the
        consumer still waits for the answer (the API's own job limit: take it from its documentation).
        Before each call the consumer keeps the message in flight this long, so no second call can
        start while the API may still be working on the first; at least timeout_seconds, and with
        the function timeout at most SQS's 12 h visibility limit; default 900.
    """

    endpoint: str = "https://long-api.example/v1/jobs"
    credentials_secret_name: str = "single-flight/long-api/token"
    timeout_seconds: int = 150
    max_call_seconds: int = 900


@dataclass(frozen=True)
class SingleFlightSettings:
    """Knobs of the single-flight workflow.

    api: the long API.
    schedule_expression: how often the tick runs; default "rate(1 minute)".
    schedule_timezone: default "UTC".
    schedule_enabled: default True.
    schedule_retry_attempts: Scheduler retries of a failed StartExecution; default 2.
    schedule_max_event_age_seconds: a firing older than this goes to the schedule DLQ; default 120.
    tick_timeout_seconds: the tick machine's execution timeout; default 30.
    tick_retry_interval_seconds, tick_retry_max_attempts: backoff with full jitter on throttled or
        failed SQS calls inside the tick; defaults 1 s, 2 attempts.
    message_group_id: the one FIFO group every tick uses (one group = one message at a time); default "single-flight".
    function_timeout_seconds: consumer Lambda timeout (API timeout plus margin); default 180.
    function_memory_mb: default 256.
    visibility_timeout_seconds: of the work queue; at least 6 x function_timeout_seconds; default 1080.
    max_receive_count: receives before SQS moves a message to the FIFO DLQ; default 3.
    idempotency_expiry_seconds: how long a completed call is remembered per deduplication id; at least
        max_receive_count x the longest wait between two receives (visibility timeout, or api.max_call_seconds
        after a call); default 3600.
    dlq_retention_days: default 14.
    """

    api: LongApiSettings = field(default_factory=LongApiSettings)
    schedule_expression: str = "rate(1 minute)"
    schedule_timezone: str = "UTC"
    schedule_enabled: bool = True
    schedule_retry_attempts: int = 2
    schedule_max_event_age_seconds: int = 120
    tick_timeout_seconds: int = 30
    tick_retry_interval_seconds: int = 1
    tick_retry_max_attempts: int = 2
    message_group_id: str = "single-flight"
    function_timeout_seconds: int = 180
    function_memory_mb: int = 256
    visibility_timeout_seconds: int = 1080
    max_receive_count: int = 3
    idempotency_expiry_seconds: int = 3600
    dlq_retention_days: int = 14

    def __post_init__(self) -> None:
        if self.visibility_timeout_seconds < VISIBILITY_FACTOR * self.function_timeout_seconds:
            raise ValueError(
                f"visibility_timeout_seconds ({self.visibility_timeout_seconds}) must be at least "
                f"{VISIBILITY_FACTOR} x function_timeout_seconds ({self.function_timeout_seconds})"
            )
        if self.api.timeout_seconds >= self.function_timeout_seconds:
            raise ValueError("api.timeout_seconds must be below function_timeout_seconds (the handler must outlive its call)")
        if not 1 <= self.max_receive_count <= 1000:
            raise ValueError("max_receive_count must be between 1 and 1000")
        if not 1 <= self.tick_timeout_seconds <= 300:
            raise ValueError("tick_timeout_seconds must be between 1 and 300 (EXPRESS executions last at most 5 minutes)")
        if not 0 < self.visibility_timeout_seconds <= SQS_MAX_VISIBILITY_SECONDS:
            raise ValueError(f"visibility_timeout_seconds must be between 1 and {SQS_MAX_VISIBILITY_SECONDS} (SQS limit)")
        if self.api.max_call_seconds < self.api.timeout_seconds:
            raise ValueError("api.max_call_seconds must be at least api.timeout_seconds (the consumer itself waits that long)")
        if self.api.max_call_seconds + self.function_timeout_seconds > SQS_MAX_VISIBILITY_SECONDS:
            raise ValueError(
                f"api.max_call_seconds plus function_timeout_seconds must be at most {SQS_MAX_VISIBILITY_SECONDS} "
                "(SQS keeps a message in flight at most 12 h from its receive)"
            )
        longest_wait = max(self.visibility_timeout_seconds, self.api.max_call_seconds, self.function_timeout_seconds)
        if self.idempotency_expiry_seconds < longest_wait * self.max_receive_count:
            raise ValueError(
                "idempotency_expiry_seconds must cover every redelivery "
                "(max(visibility_timeout_seconds, api.max_call_seconds) x max_receive_count)"
            )
