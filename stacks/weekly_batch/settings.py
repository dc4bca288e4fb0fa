"""Settings of the weekly-batch workflow (`stages.<stage>.workflows.weekly_batch` in cdk.json)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

CREDENTIAL_MODES = ("workload_identity_federation", "service_account_key", "anonymous")
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,1023}")


@dataclass(frozen=True)
class BigQuerySettings:
    """Where the rows are and how to reach BigQuery.

    project: Google Cloud project id; default "NOT-CONFIGURED" (a placeholder: `make deploy` refuses it,
        and a deployed function raises BigQueryNotConfigured naming this setting).
    dataset: default "analytics".
    source_table: the daily rows (`event_date DATE, user_id STRING, amount INT64`); default "events".
    target_table: the weekly summary the MERGE writes; default "weekly_summary".
    location: dataset location, e.g. "asia-northeast1"; default "" (the client's default).
    api_endpoint: "" means Google's endpoint (default); the local stage points at the emulator.
    credentials: "workload_identity_federation" (default, preferred: no long-lived key),
        "service_account_key", or "anonymous" (only for the local emulator).
    credentials_secret_name: Secrets Manager secret holding the WIF credential configuration
        (type external_account) or the service-account key JSON; default "weekly-batch/bigquery/credentials".
    query_timeout_seconds: per request and per query; default 60.
    sql_templates_bucket: "" (default) uses the SQL shipped with the function; else read
        `<prefix>count_rows.sql` and `<prefix>weekly_insert.sql` from this bucket (read access
        is granted on exactly those two keys).
    sql_templates_prefix: key prefix in that bucket; default "weekly-batch/sql/".
    """

    project: str = "NOT-CONFIGURED"
    dataset: str = "analytics"
    source_table: str = "events"
    target_table: str = "weekly_summary"
    location: str = ""
    api_endpoint: str = ""
    credentials: str = "workload_identity_federation"
    credentials_secret_name: str = "weekly-batch/bigquery/credentials"
    query_timeout_seconds: int = 60
    sql_templates_bucket: str = ""
    sql_templates_prefix: str = "weekly-batch/sql/"

    def __post_init__(self) -> None:
        if self.credentials not in CREDENTIAL_MODES:
            raise ValueError(f"bigquery.credentials must be one of {', '.join(CREDENTIAL_MODES)}")
        for name in ("project", "dataset", "source_table", "target_table"):
            if not _IDENTIFIER.fullmatch(getattr(self, name)):
                raise ValueError(f"bigquery.{name}={getattr(self, name)!r} is not a BigQuery identifier")
        if self.query_timeout_seconds <= 0:
            raise ValueError("bigquery.query_timeout_seconds must be positive")


@dataclass(frozen=True)
class SlackSettings:
    """The Slack incoming webhook.

    webhook_secret_name: Secrets Manager secret (plain string) holding the webhook URL; create it
        before deploying; default "weekly-batch/slack/webhook-url".
    http_timeout_seconds: per request to Slack; default 5.
    function_timeout_seconds: the notifier's timeout, which also bounds how long a 429's
        Retry-After is honoured; default 30.
    retry_max_attempts: retries of SlackUnavailable (5xx, dropped, timed out); default 3. SlackRateLimited is not
        retried: the notifier itself waits what Retry-After asks when that fits in its time left.
    """

    webhook_secret_name: str = "weekly-batch/slack/webhook-url"
    http_timeout_seconds: int = 5
    function_timeout_seconds: int = 30
    retry_max_attempts: int = 3


@dataclass(frozen=True)
class WeeklyBatchSettings:
    """Knobs of the weekly-batch workflow.

    schedule_expression: EventBridge Scheduler expression; default "cron(30 9 ? * THU *)".
    schedule_timezone: the zone it is read in, and the business day's zone; default "Asia/Tokyo".
    schedule_enabled: default True.
    max_checks: BigQuery checks before giving up with DataNotReady; default 18 (3 hours at 600 s).
    wait_seconds: between checks; default 600 (the local stage waits 1 s).
    guard_ttl_days: the run-once guard's record expires after this; default 35.
    check_timeout_seconds / insert_timeout_seconds: Lambda timeouts; defaults 120 / 600.
    retry_interval_seconds, retry_max_attempts, retry_max_delay_seconds: backoff with full
        jitter for BigQuery auth/quota/5xx/timeouts; defaults 5 s, 4 attempts, 60 s.
    execution_timeout_seconds: whole execution; default 4 hours (18 x 600 s of waiting plus work).
    bigquery, slack: see their classes.
    """

    schedule_expression: str = "cron(30 9 ? * THU *)"
    schedule_timezone: str = "Asia/Tokyo"
    schedule_enabled: bool = True
    max_checks: int = 18
    wait_seconds: int = 600
    guard_ttl_days: int = 35
    check_timeout_seconds: int = 120
    insert_timeout_seconds: int = 600
    retry_interval_seconds: int = 5
    retry_max_attempts: int = 4
    retry_max_delay_seconds: int = 60
    execution_timeout_seconds: int = 4 * 3600
    bigquery: BigQuerySettings = field(default_factory=BigQuerySettings)
    slack: SlackSettings = field(default_factory=SlackSettings)

    def __post_init__(self) -> None:
        if not 1 <= self.max_checks <= 1000:
            raise ValueError("max_checks must be between 1 and 1000 (the loop must be bounded)")
        if self.wait_seconds < 1:
            raise ValueError("wait_seconds must be at least 1")
        worst_wait = (self.max_checks - 1) * self.wait_seconds
        if worst_wait >= self.execution_timeout_seconds:
            raise ValueError(
                f"execution_timeout_seconds={self.execution_timeout_seconds} is shorter than the waits alone "
                f"({self.max_checks - 1} x {self.wait_seconds} s)"
            )
        if not math.isfinite(self.guard_ttl_days) or self.guard_ttl_days < 8:
            raise ValueError("guard_ttl_days must be at least 8 (longer than the week between runs)")
