"""AWS clients, created on first use and reused while the function stays warm."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def sqs_client() -> Any:
    import boto3  # imported on first use: keeps the module's cold import short

    return boto3.client("sqs")
