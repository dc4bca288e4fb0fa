"""The workflow's SQL: packaged with the function, or (per stage) read from S3.

Templates hold only *identifiers* as `${project}`, `${dataset}`, `${source_table}`
and `${target_table}`, filled from validated settings (identifiers cannot be
query parameters in BigQuery). Every value (dates) is a query parameter (`@name`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any, Callable

from weekly_batch.errors import SqlTemplateMissing
from weekly_batch.settings import BigQuerySettings

PACKAGED = Path(__file__).resolve().parent / "sql"
COUNT_ROWS = "count_rows.sql"
WEEKLY_INSERT = "weekly_insert.sql"


def render(text: str, settings: BigQuerySettings) -> str:
    try:
        return Template(text).substitute(
            project=settings.project,
            dataset=settings.dataset,
            source_table=settings.source_table,
            target_table=settings.target_table,
        )
    except (KeyError, ValueError) as exc:
        raise SqlTemplateMissing(f"SQL template has an unknown placeholder: {exc}") from exc


@lru_cache(maxsize=8)
def _packaged(name: str) -> str:
    try:
        return (PACKAGED / name).read_text(encoding="utf-8")
    except OSError as exc:
        raise SqlTemplateMissing(f"packaged SQL template {name} is missing") from exc


def load(name: str, settings: BigQuerySettings, *, s3_client: Callable[[], Any]) -> str:
    """The rendered SQL of template `name`; from s3://SQL_TEMPLATES_BUCKET/<prefix><name> when a bucket is configured."""
    if not settings.sql_bucket:
        return render(_packaged(name), settings)
    key = f"{settings.sql_prefix}{name}"
    try:
        body = s3_client().get_object(Bucket=settings.sql_bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore ClientError: not imported to keep this module light
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise SqlTemplateMissing(f"cannot read s3://{settings.sql_bucket}/{key} ({code})") from exc
    return render(body.decode("utf-8"), settings)
