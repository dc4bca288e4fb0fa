"""BigQuery access: credentials by mode, parameterised queries, every failure mapped to a named error.

The client's own retries are off (`retry=None`, `job_retry=None`): the state
machine retries with exponential backoff and full jitter, visibly and within
its bounds, so one Lambda invocation is one attempt.
"""

from __future__ import annotations

import concurrent.futures
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from weekly_batch.errors import (
    BigQueryAuthFailed,
    BigQueryCredentialsInvalid,
    BigQueryQuotaExceeded,
    BigQueryRejected,
    BigQueryTimeout,
    BigQueryUnavailable,
    WeeklyBatchError,
)
from weekly_batch.settings import BigQuerySettings

SCOPES = ("https://www.googleapis.com/auth/bigquery",)
# The secret's "type" each mode accepts (google-auth's credential file types).
SECRET_TYPES = {"workload_identity_federation": "external_account", "service_account_key": "service_account"}
_QUOTA_REASONS = {"quotaExceeded", "rateLimitExceeded"}


def credentials_from_secret(mode: str, secret_text: str | None) -> Any:
    """google-auth credentials for `mode` from the secret's JSON (None for anonymous)."""
    from google.auth.credentials import AnonymousCredentials

    if mode == "anonymous":
        return AnonymousCredentials()
    try:
        info = json.loads(secret_text or "")
    except json.JSONDecodeError:
        raise BigQueryCredentialsInvalid(f"the {mode} secret is not JSON") from None
    expected = SECRET_TYPES[mode]
    if not isinstance(info, dict) or info.get("type") != expected:
        kind = info.get("type") if isinstance(info, dict) else type(info).__name__
        raise BigQueryCredentialsInvalid(f"the {mode} secret must hold a {expected!r} credential file, got {kind!r}")
    try:
        if expected == "service_account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        # Workload Identity Federation: AWS credentials of the Lambda role (from its environment) are
        # exchanged for a short-lived Google token; no long-lived key exists anywhere.
        from google.auth import aws

        return aws.Credentials.from_info(info, scopes=SCOPES)
    except (ValueError, KeyError) as exc:
        raise BigQueryCredentialsInvalid(f"the {mode} secret is not a valid {expected} credential file: {exc}") from None


def make_client(settings: BigQuerySettings, credentials: Any) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    options = ClientOptions(api_endpoint=settings.api_endpoint) if settings.api_endpoint else None
    return bigquery.Client(
        project=settings.project, credentials=credentials, client_options=options, location=settings.location or None
    )


def map_error(exc: BaseException) -> WeeklyBatchError | None:
    """The named error for an exception raised by google-cloud-bigquery, google-auth or requests (None: not ours)."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc
    from requests import exceptions as rexc

    message = str(exc)[:500]
    if isinstance(exc, WeeklyBatchError):
        return exc
    if isinstance(exc, (concurrent.futures.TimeoutError, gexc.DeadlineExceeded, rexc.Timeout, TimeoutError)):
        return BigQueryTimeout(f"BigQuery did not answer in time: {message}")
    if isinstance(exc, gexc.TooManyRequests):
        return BigQueryQuotaExceeded(message)
    if isinstance(exc, (gexc.Unauthorized, gexc.Forbidden)):
        reasons = {error.get("reason") for error in (getattr(exc, "errors", None) or []) if isinstance(error, dict)}
        return BigQueryQuotaExceeded(message) if reasons & _QUOTA_REASONS else BigQueryAuthFailed(message)
    # A 401 makes the client refresh its token: a refused or impossible refresh is an auth failure.
    if isinstance(exc, auth_exc.RefreshError | auth_exc.TransportError | auth_exc.InvalidOperation):
        return BigQueryAuthFailed(f"BigQuery refused the credentials: {message}")
    if isinstance(exc, auth_exc.GoogleAuthError):
        return BigQueryCredentialsInvalid(message)
    if isinstance(exc, gexc.ServerError | gexc.RetryError | rexc.ConnectionError):
        return BigQueryUnavailable(message)
    # A 200 whose body is not BigQuery's JSON (a proxy or portal in the way): retried like a 5xx.
    if isinstance(exc, rexc.JSONDecodeError):
        return BigQueryUnavailable(f"BigQuery's answer is not JSON: {message}")
    if isinstance(exc, gexc.ClientError):  # 400 bad SQL, 404 missing table/dataset, 409 ...
        return BigQueryRejected(message)
    return None


@dataclass(frozen=True)
class QueryRunner:
    """Runs one parameterised statement and maps failures. `client_factory` builds the client lazily."""

    client_factory: Callable[[], Any]
    timeout_s: float

    def run(self, sql: str, parameters: dict[str, date]) -> Any:
        from google.cloud import bigquery

        job_config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter(name, "DATE", value) for name, value in parameters.items()]
        )
        try:
            job = self.client_factory().query(sql, job_config=job_config, retry=None, job_retry=None, timeout=self.timeout_s)
            rows = job.result(retry=None, timeout=self.timeout_s)
            return job, rows
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def count(self, sql: str, parameters: dict[str, date]) -> int:
        _, rows = self.run(sql, parameters)
        values = [row[0] for row in rows]
        if len(values) != 1 or not isinstance(values[0], int):
            raise BigQueryRejected(f"the count query must return one integer, got {values[:3]!r}")
        return values[0]

    def execute(self, sql: str, parameters: dict[str, date]) -> int:
        """A DML statement; returns the rows it affected."""
        job, _ = self.run(sql, parameters)
        return int(job.num_dml_affected_rows or 0)
