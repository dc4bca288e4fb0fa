"""HTTP client of the long API, mapping every failure to a named error.

Contract expected from the API: `POST {endpoint}` with JSON `{"scheduled_time": ...}`,
headers `Authorization: Bearer <token>` and `Idempotency-Key: <tick deduplication id>`
(a repeated call with the same key must not start a second job: it answers the first call's
result, or 409 while that call is still running), answering 2xx when done, and working on one
call at most `api.max_call_seconds` (its own limit), whether or not the caller still waits.
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

from single_flight.errors import ApiBadAnswer, ApiNotConfigured, ApiRejected, ApiThrottled, ApiTimeout, ApiUnavailable

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Same rule as stacks/common/config.py `is_placeholder` (Lambda code cannot import the CDK app):
# hosts under names reserved for examples, or the sentinel.
PLACEHOLDER_DOMAINS = ("example", "invalid", "example.com", "example.net", "example.org")
NOT_CONFIGURED = "NOT-CONFIGURED"


def require_configured_endpoint(endpoint: str, setting: str) -> None:
    """Raise ApiNotConfigured, naming the setting, while the endpoint is a placeholder."""
    text = endpoint.strip()
    host = (urllib.parse.urlsplit(text).hostname or "") if "://" in text else text.split("/", 1)[0].split(":", 1)[0]
    host = host.lower().rstrip(".")
    if text == NOT_CONFIGURED or any(host == d or host.endswith("." + d) for d in PLACEHOLDER_DOMAINS):
        raise ApiNotConfigured(f"{setting} is the placeholder {endpoint!r}; set the API's real https:// endpoint (-c {setting}=URL or your settings/<stage>.json) and deploy again")


@dataclass(frozen=True)
class LongApiClient:
    endpoint: str
    token: str = field(repr=False)
    timeout_s: float = 150.0

    def call(self, tick: dict[str, str]) -> dict[str, Any]:
        """Make the call for one tick; return {"status", "idempotency_key", "answer"} on a 2xx with a JSON
        object (or no body); a 2xx with anything else raises ApiBadAnswer."""
        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps({"scheduled_time": tick["scheduled_time"]}).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                IDEMPOTENCY_HEADER: tick["deduplication_id"],
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - endpoint from config
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise self._status_error(exc.code) from None
        except (TimeoutError, socket.timeout) as exc:
            raise ApiTimeout(f"no answer within {self.timeout_s:g}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise ApiTimeout(f"no answer within {self.timeout_s:g}s") from exc
            raise ApiUnavailable(f"cannot reach the API ({exc.reason})") from exc
        except (OSError, http.client.HTTPException) as exc:  # hung up mid-answer
            raise ApiUnavailable(f"connection lost ({type(exc).__name__})") from exc
        return {"status": status, "idempotency_key": tick["deduplication_id"], "answer": _summary(_json_object(status, body))}

    @staticmethod
    def _status_error(status: int) -> Exception:
        if status in (408, 409, 429):  # 409: still working on this Idempotency-Key (IETF idempotency-key draft)
            return ApiThrottled(f"HTTP {status}")
        if status >= 500:
            return ApiUnavailable(f"HTTP {status}")
        return ApiRejected(f"HTTP {status} (request rejected; check the token and the request)")


def _json_object(status: int, body: bytes) -> dict[str, Any] | None:
    """The answer's JSON object; None for an empty body (204); ApiBadAnswer for anything else."""
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if not isinstance(document, dict):
        raise ApiBadAnswer(f"HTTP {status} with {len(body)} bytes that are not a JSON object")
    return document


def _summary(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    """The answer if it is small, else its size (kept in the idempotency record)."""
    size = len(json.dumps(answer))
    return answer if size <= 2048 else {"bytes": size}
