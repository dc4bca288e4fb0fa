"""Function settings from environment variables (set by the stack; never secrets)."""

from __future__ import annotations

import os


class MissingSetting(RuntimeError):
    """A required environment variable is not set: the function is misconfigured."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value
