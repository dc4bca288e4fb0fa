"""HTTP client for a product-search API, mapping every failure to a named error.

Contract expected from the API: `GET {endpoint}?keywords=...` with header
`X-Api-Key`, answering `{"items": [{"id", "title", "price", ...}, ...]}`.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from parallel_search.errors import (
    InvalidSearchInput,
    SearchApiBadResponse,
    SearchApiNotConfigured,
    SearchApiRejected,
    SearchApiThrottled,
    SearchApiTimeout,
    SearchApiUnavailable,
)

MAX_KEYWORDS_LENGTH = 256
# Same rule as stacks/common/config.py `is_placeholder` (Lambda code cannot import the CDK app;
# a unit test runs both over the same cases): hosts under names reserved for examples, or the sentinel.
PLACEHOLDER_DOMAINS = ("example", "invalid", "example.com", "example.net", "example.org")
NOT_CONFIGURED = "NOT-CONFIGURED"


def is_placeholder_endpoint(endpoint: str) -> bool:
    text = endpoint.strip()
    if text == NOT_CONFIGURED:
        return True
    try:
        host = urllib.parse.urlsplit(text).hostname if "://" in text else text.split("/", 1)[0].split(":", 1)[0]
    except ValueError:
        return False
    host = (host or "").lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in PLACEHOLDER_DOMAINS)


def require_configured_endpoint(name: str, endpoint: str, setting: str) -> None:
    """Raise SearchApiNotConfigured, naming the setting, while the endpoint is still a placeholder."""
    if is_placeholder_endpoint(endpoint):
        raise SearchApiNotConfigured(
            f"{name}: {setting} is the placeholder {endpoint!r}; set it to the API's real https:// endpoint "
            f"(-c {setting}=URL or your settings/<stage>.json) and deploy again"
        )


def validate_keywords(value: Any) -> str:
    """Return the keywords stripped, or raise InvalidSearchInput."""
    if not isinstance(value, str):
        raise InvalidSearchInput(f"keywords must be a string, got {type(value).__name__}")
    keywords = value.strip()
    if not keywords:
        raise InvalidSearchInput("keywords must not be empty")
    if len(keywords) > MAX_KEYWORDS_LENGTH:
        raise InvalidSearchInput(f"keywords must be at most {MAX_KEYWORDS_LENGTH} characters")
    try:
        keywords.encode("utf-8")
    except UnicodeEncodeError:  # e.g. a lone surrogate such as "\ud800", which JSON can carry
        raise InvalidSearchInput("keywords must be valid Unicode text (they cannot be encoded as UTF-8)") from None
    return keywords


@dataclass(frozen=True)
class SearchApiClient:
    """One search API. `name` labels errors and items; `timeout_s` bounds each request."""

    name: str
    endpoint: str
    api_key: str = field(repr=False)
    timeout_s: float = 10.0

    def search(self, keywords: str) -> list[dict[str, Any]]:
        url = f"{self.endpoint}?{urllib.parse.urlencode({'keywords': keywords})}"
        request = urllib.request.Request(url, headers={"X-Api-Key": self.api_key, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - endpoint from config
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise self._status_error(exc.code) from None
        except (TimeoutError, socket.timeout) as exc:
            raise SearchApiTimeout(f"{self.name}: no answer within {self.timeout_s:g}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise SearchApiTimeout(f"{self.name}: no answer within {self.timeout_s:g}s") from exc
            raise SearchApiUnavailable(f"{self.name}: cannot reach the API ({exc.reason})") from exc
        except (OSError, http.client.HTTPException) as exc:  # hung up mid-answer: reset, incomplete read
            raise SearchApiUnavailable(f"{self.name}: connection lost ({type(exc).__name__})") from exc
        return self._items(body)

    def _status_error(self, status: int) -> Exception:
        if status == 429:
            return SearchApiThrottled(f"{self.name}: HTTP 429 (throttled)")
        if status >= 500:
            return SearchApiUnavailable(f"{self.name}: HTTP {status}")
        return SearchApiRejected(f"{self.name}: HTTP {status} (request rejected; check the API key and parameters)")

    def _items(self, body: bytes) -> list[dict[str, Any]]:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SearchApiBadResponse(f"{self.name}: response is not JSON ({body[:60]!r}…)") from exc
        items = document.get("items") if isinstance(document, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise SearchApiBadResponse(f"{self.name}: response has no 'items' list of objects")
        return items
