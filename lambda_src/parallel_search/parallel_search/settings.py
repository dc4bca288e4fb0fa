"""Function settings from environment variables (set by the stack; never secrets)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class MissingSetting(RuntimeError):
    """A required environment variable is not set: the function is misconfigured."""


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


@dataclass(frozen=True)
class PayloadSettings:
    bucket: str
    inline_threshold_bytes: int

    @classmethod
    def from_env(cls) -> "PayloadSettings":
        return cls(bucket=_required("PAYLOAD_BUCKET"), inline_threshold_bytes=int(_required("INLINE_THRESHOLD_BYTES")))


@dataclass(frozen=True)
class SearchApiSettings:
    """endpoint_setting: where the endpoint is configured (its settings key, e.g. parallel_search.api_a.endpoint), named in errors."""

    name: str
    endpoint: str
    api_key_secret_name: str
    timeout_s: float
    endpoint_setting: str = "SEARCH_API_ENDPOINT"

    @classmethod
    def from_env(cls) -> "SearchApiSettings":
        return cls(
            name=_required("SEARCH_API_NAME"),
            endpoint=_required("SEARCH_API_ENDPOINT"),
            api_key_secret_name=_required("SEARCH_API_KEY_SECRET_NAME"),
            timeout_s=float(os.environ.get("SEARCH_API_TIMEOUT_SECONDS", "10")),
            endpoint_setting=os.environ.get("SEARCH_API_ENDPOINT_SETTING", "").strip() or "SEARCH_API_ENDPOINT",
        )
