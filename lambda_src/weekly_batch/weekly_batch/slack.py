"""Slack incoming webhook: post a message, map every answer to success or a named error.

- 2xx with Slack's "ok": delivered; a 2xx with anything else (a proxy or portal in the way): `SlackUnavailable`.
- 429: waits what `Retry-After` asks (seconds or an HTTP date; 1 s if absent or unreadable)
  and posts again, at most 3 posts, while the wait fits in the time left (minus the request
  timeout); otherwise `SlackRateLimited`, naming the wait Slack asked for. It is not retried
  by the state machine: its retries, seconds apart, would post before Slack allows.
- other 4xx: `SlackRejected` (a wrong URL or message; retrying cannot help).
- 5xx, a dropped connection, a timeout: `SlackUnavailable` (retried).
"""

from __future__ import annotations

import http.client
import json
import math
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import urlparse

from weekly_batch.errors import SlackRateLimited, SlackRejected, SlackUnavailable

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_POSTS = 3  # per invocation: the first, and at most two more after honoured waits
DEFAULT_RETRY_AFTER_S = 1.0  # a 429 without a readable Retry-After
_SECONDS = re.compile(r"\d+(\.\d+)?")


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
        for attempt in range(1, MAX_POSTS + 1):
            status, retry_after, body = self._send(message)
            if 200 <= status < 300:
                if body.strip().lower() not in (b"ok", b""):
                    raise SlackUnavailable(f"Slack answered HTTP {status} without its 'ok' ({len(body)} bytes of something else)")
                return {"status": status, "attempts": attempt}
            if status == 429:
                wait = retry_after_seconds(retry_after)
                wait = DEFAULT_RETRY_AFTER_S if wait is None else wait
                asked = f"Retry-After {describe_retry_after(retry_after)}"
                if attempt == MAX_POSTS:
                    raise SlackRateLimited(f"Slack still answered 429 after {MAX_POSTS} posts ({asked}): not sent")
                left = remaining_s()
                if wait + self.timeout_s + 1.0 >= left:
                    raise SlackRateLimited(
                        f"Slack answered 429 ({asked}); waiting {wait:.0f}s does not fit in the {left:.0f}s left: not sent"
                    )
                self.sleep(wait)
                continue
            if status >= 500:
                raise SlackUnavailable(f"Slack answered HTTP {status}")
            raise SlackRejected(f"Slack answered HTTP {status} (check the webhook URL and the message)")
        raise AssertionError("unreachable")

    def _send(self, message: dict[str, Any]) -> tuple[int, str | None, bytes]:
        """(HTTP status, the Retry-After header as sent, the first KiB of the body)."""
        body = json.dumps(message, ensure_ascii=False).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - validated URL
                return response.status, None, response.read(1024)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Retry-After") if exc.headers else None, b""
        except (TimeoutError, socket.timeout) as exc:
            raise SlackUnavailable(f"Slack did not answer within {self.timeout_s:g}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise SlackUnavailable(f"Slack did not answer within {self.timeout_s:g}s") from exc
            raise SlackUnavailable(f"cannot reach Slack ({type(exc.reason).__name__})") from exc
        except (OSError, http.client.HTTPException) as exc:  # hung up mid-answer
            raise SlackUnavailable(f"connection to Slack lost ({type(exc).__name__})") from exc


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After (RFC 9110) in seconds, whatever its size: delay-seconds or an HTTP date
    (0 when already past); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


def describe_retry_after(value: str | None) -> str:
    """The header as Slack sent it, for an error message: seconds as "3600s", anything else quoted, trimmed."""
    seconds = retry_after_seconds(value) if value is not None and _SECONDS.fullmatch(value.strip()) else None
    if seconds is not None:
        return f"{value.strip()[:20]}s"
    text = repr(value) if value is not None else "absent"
    return text if len(text) <= 60 else text[:60] + "…"
