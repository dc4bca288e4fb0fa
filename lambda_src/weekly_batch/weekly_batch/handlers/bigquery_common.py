"""What the check and insert handlers share: settings, credentials (cached), client, SQL."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities import parameters

from weekly_batch import bigquery, sql_templates
from weekly_batch.aws import s3_client
from weekly_batch.errors import BigQueryCredentialsInvalid
from weekly_batch.settings import BigQuerySettings

CREDENTIALS_CACHE_SECONDS = 300


def settings() -> BigQuerySettings:
    return BigQuerySettings.from_env()


def runner(config: BigQuerySettings) -> bigquery.QueryRunner:
    def client() -> Any:
        secret = None
        if config.credentials != "anonymous":
            try:
                secret = parameters.get_secret(config.credentials_secret_name, max_age=CREDENTIALS_CACHE_SECONDS)
            except parameters.GetParameterError as exc:
                raise BigQueryCredentialsInvalid(
                    f"secret {config.credentials_secret_name} cannot be read (create it: see README, weekly-batch)"
                ) from exc
        return _client(config, secret)

    return bigquery.QueryRunner(client_factory=client, timeout_s=config.query_timeout_s)


@lru_cache(maxsize=2)
def _client(config: BigQuerySettings, secret: str | None) -> Any:
    """One client per settings + secret value, reused while warm (a rotated secret makes a new one)."""
    return bigquery.make_client(config, bigquery.credentials_from_secret(config.credentials, secret))


def sql(name: str, config: BigQuerySettings) -> str:
    return sql_templates.load(name, config, s3_client=s3_client)
