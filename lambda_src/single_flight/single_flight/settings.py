"""Function settings from environment variables (set by the stack; never secrets)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from single_flight.errors import MissingSetting


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


@dataclass(frozen=True)
class ConsumerSettings:
    api_endpoint: str
    api_credentials_secret_name: str
    api_timeout_s: float
    api_max_call_s: float
    dead_letter_queue_url: str
    api_endpoint_setting: str = "API_ENDPOINT"

    @classmethod
    def from_env(cls) -> "ConsumerSettings":
        return cls(
            api_endpoint=_required("API_ENDPOINT"),
            api_credentials_secret_name=_required("API_CREDENTIALS_SECRET_NAME"),
            api_timeout_s=float(os.environ.get("API_TIMEOUT_SECONDS", "150")),
            api_max_call_s=float(os.environ.get("API_MAX_CALL_SECONDS", "900")),
            dead_letter_queue_url=_required("DEAD_LETTER_QUEUE_URL"),
            api_endpoint_setting=os.environ.get("API_ENDPOINT_SETTING", "").strip() or "API_ENDPOINT",
        )
