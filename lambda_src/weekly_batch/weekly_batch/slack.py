"""Slack incoming webhook: post a message, map every answer to success or a named error.

- 2xx: delivered.
- 429: waits `Retry-After` and tries once more when that fits in the time left
  (minus the request timeout); otherwise `SlackRateLimited` (the state machine retries).
- other 4xx: `SlackRejected` (a wrong URL or message; retrying cannot help).
- 5xx, a dropped connection, a timeout: `SlackUnavailable` (retried).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlparse

from weekly_batch.errors import SlackRateLimited, SlackRejected, SlackUnavailable

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def validate_webhook_url(url: str) -> str:
    """https only, except to this machine (the local stand-in). The URL itself is never logged."""
    parsed = urlparse(url.strip())
    if parsed.scheme == "https" and parsed.hostname:
        return url.strip()
    if parsed.scheme == "http" and parsed.hostname in _LOCAL_HOSTS:
        return url.strip()
    raise SlackRejected("the webhook secret does not hold an https:// URL")


@dataclass(frozen=True)
class SlackWebhook:
    url: str = field(repr=False)
    timeout_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def post(self, message: dict[str, Any], *, remaining_s: Callable[[], float]) -> dict[str, Any]:
        """Deliver `message`; returns {"status": int, "attempts": int}."""
        for attempt in (1, 2):
            status, retry_after = self._send(message)
            if 200 <= status < 300:
                return {"status": status, "attempts": attempt}
            if status == 429:
                wait = retry_after if retry_after is not None else 1.0
                if attempt == 1 and wait + self.timeout_s + 1.0 < remaining_s():
                    self.sleep(wait)
                    continue
                raise SlackRateLimited(f"Slack answered 429 (Retry-After {wait:g}s does not fit in the time left)")
            if status >= 500:
                raise SlackUnavailable(f"Slack answered HTTP {status}")
            raise SlackRejected(f"Slack answered HTTP {status} (check the webhook URL and the message)")
        raise AssertionError("unreachable")

    def _send(self, message: dict[str, Any]) -> tuple[int, float | None]:
        body = json.dumps(message, ensure_ascii=False).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - validated URL
                response.read()
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        except (TimeoutError, socket.timeout) as exc:
            raise SlackUnavailable(f"Slack did not answer within {self.timeout_s:g}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise SlackUnavailable(f"Slack did not answer within {self.timeout_s:g}s") from exc
            raise SlackUnavailable(f"cannot reach Slack ({type(exc.reason).__name__})") from exc
        except (OSError, http.client.HTTPException) as exc:  # hung up mid-answer
            raise SlackUnavailable(f"connection to Slack lost ({type(exc).__name__})") from exc


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 3600 else None
