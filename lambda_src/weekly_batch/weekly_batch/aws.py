"""AWS clients, created on first use and reused while the function stays warm."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    import boto3  # imported on first use: keeps the module's cold import short

    return boto3.client(service)


def s3_client() -> Any:
    return client("s3")


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    return (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None
