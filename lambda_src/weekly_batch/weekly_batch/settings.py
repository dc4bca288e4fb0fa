"""Function settings from environment variables (set by the stack; never secrets, only secret *names*)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from weekly_batch.errors import BigQueryNotConfigured, MissingSetting

NOT_CONFIGURED = "NOT-CONFIGURED"  # the placeholder the stack ships (see stacks/common/config.py)
CREDENTIAL_MODES = ("workload_identity_federation", "service_account_key", "anonymous")
# BigQuery project/dataset/table identifiers: no backticks, quotes, dots or spaces can slip into the SQL.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,1023}")


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


def _number(name: str, default: str) -> float:
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        raise MissingSetting(f"environment variable {name}={text!r} is not a number") from None
    if not value > 0:
        raise MissingSetting(f"environment variable {name} must be positive")
    return value


def _identifier(name: str) -> str:
    value = _required(name)
    if not _IDENTIFIER.fullmatch(value):
        raise MissingSetting(f"environment variable {name}={value!r} is not a BigQuery identifier")
    return value


@dataclass(frozen=True)
class PlanSettings:
    business_timezone: str
    guard_ttl_days: int

    @classmethod
    def from_env(cls) -> "PlanSettings":
        return cls(
            business_timezone=_required("BUSINESS_TIMEZONE"),
            guard_ttl_days=int(_number("GUARD_TTL_DAYS", "35")),
        )


@dataclass(frozen=True)
class BigQuerySettings:
    project: str
    dataset: str
    source_table: str
    target_table: str
    location: str
    api_endpoint: str  # "" means Google's endpoint
    credentials: str  # one of CREDENTIAL_MODES
    credentials_secret_name: str
    query_timeout_s: float
    sql_bucket: str  # "" means the templates packaged with the function
    sql_prefix: str

    @classmethod
    def from_env(cls) -> "BigQuerySettings":
        credentials = _required("BIGQUERY_CREDENTIALS")
        if credentials not in CREDENTIAL_MODES:
            raise MissingSetting(f"BIGQUERY_CREDENTIALS={credentials!r} is not one of {', '.join(CREDENTIAL_MODES)}")
        secret_name = os.environ.get("BIGQUERY_CREDENTIALS_SECRET_NAME", "").strip()
        if credentials != "anonymous" and not secret_name:
            raise MissingSetting(f"BIGQUERY_CREDENTIALS_SECRET_NAME is required with BIGQUERY_CREDENTIALS={credentials}")
        project = _required("BIGQUERY_PROJECT")
        if project == NOT_CONFIGURED:  # before the secret: it may not exist yet either
            setting = os.environ.get("BIGQUERY_PROJECT_SETTING", "").strip() or "BIGQUERY_PROJECT"
            raise BigQueryNotConfigured(
                f"{setting} is the placeholder {NOT_CONFIGURED!r}; set the Google Cloud project (-c {setting}=PROJECT or your settings/<stage>.json) and deploy again"
            )
        return cls(
            project=_identifier("BIGQUERY_PROJECT"),
            dataset=_identifier("BIGQUERY_DATASET"),
            source_table=_identifier("BIGQUERY_SOURCE_TABLE"),
            target_table=_identifier("BIGQUERY_TARGET_TABLE"),
            location=os.environ.get("BIGQUERY_LOCATION", "").strip(),
            api_endpoint=os.environ.get("BIGQUERY_API_ENDPOINT", "").strip(),
            credentials=credentials,
            credentials_secret_name=secret_name,
            query_timeout_s=_number("BIGQUERY_QUERY_TIMEOUT_SECONDS", "60"),
            sql_bucket=os.environ.get("SQL_TEMPLATES_BUCKET", "").strip(),
            sql_prefix=os.environ.get("SQL_TEMPLATES_PREFIX", "").strip(),
        )


@dataclass(frozen=True)
class SlackSettings:
    webhook_secret_name: str
    timeout_s: float
    secret_cache_s: int

    @classmethod
    def from_env(cls) -> "SlackSettings":
        return cls(
            webhook_secret_name=_required("SLACK_WEBHOOK_SECRET_NAME"),
            timeout_s=_number("SLACK_TIMEOUT_SECONDS", "5"),
            secret_cache_s=int(_number("SLACK_SECRET_CACHE_SECONDS", "300")),
        )


@dataclass(frozen=True)
class ReleaseSettings:
    guard_table: str
    business_timezone: str

    @classmethod
    def from_env(cls) -> "ReleaseSettings":
        return cls(guard_table=_required("GUARD_TABLE"), business_timezone=_required("BUSINESS_TIMEZONE"))
