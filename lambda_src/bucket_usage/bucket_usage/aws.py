"""AWS clients, created on first use and reused while the function stays warm (one S3 client per region)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def client(service: str, region: str | None = None) -> Any:
    import boto3  # imported on first use: keeps the module's cold import short

    return boto3.client(service, region_name=region) if region else boto3.client(service)


def error_code(exc: BaseException) -> str:
    """botocore ClientError code ("" for anything else); botocore is not imported to keep this light."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", "") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
