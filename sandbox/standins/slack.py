"""A Slack incoming-webhook stand-in: a real HTTP server on 127.0.0.1 (a port the OS picks).

`POST /services/<path secret>` with a JSON body holding `text` answers 200 "ok",
like Slack, and records the message (username, icon_emoji, text): what a person
in the channel would read. A wrong path answers 404 "no_service"; a body without
text 400 "no_text".

Failures on demand (`SlackBehaviour`): the first `fail_times` posts answer with
`fail_mode`: "5xx" (500), "429" (with `Retry-After: retry_after_seconds`),
"4xx" (400 invalid_payload), "drop" (closes the connection without answering),
"slow" (answers "ok", and records the message, after `slow_seconds`: past the
client's timeout it is a timeout), "garbage" (200 with an HTML page, as a proxy
or portal in the way would answer; nothing is delivered) or "crash" (`on_crash()` is
called, which the sandbox uses to kill the posting function mid-post, then the
connection is dropped); `fail_times=-1` fails every post.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, replace
from typing import Any

from sandbox.standins.http import Answer, HttpStandIn, Request

FAIL_MODES = ("5xx", "429", "4xx", "drop", "slow", "garbage", "crash")
MAX_RETRY_AFTER_S = 10**9  # far past any wait a notifier could honour


@dataclass(frozen=True)
class SlackBehaviour:
    """How the stand-in answers. Defaults: never fails; a 429 asks to retry after 1 s."""

    fail_mode: str = "5xx"
    fail_times: int = 0
    retry_after_seconds: float = 1.0
    slow_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}")
        if self.fail_times < -1:
            raise ValueError("fail_times must be -1 (always) or a count >= 0")
        if not (math.isfinite(self.retry_after_seconds) and 0 <= self.retry_after_seconds <= MAX_RETRY_AFTER_S):
            raise ValueError(f"retry_after_seconds must be a number between 0 and {MAX_RETRY_AFTER_S:,}")
        if not (math.isfinite(self.slow_seconds) and 0 <= self.slow_seconds <= 120):
            raise ValueError("slow_seconds must be a number between 0 and 120")

    @property
    def retry_after_header(self) -> str:
        """As Slack sends it: whole seconds as digits (never "1e+06"), fractions as plain decimals."""
        seconds = self.retry_after_seconds
        return str(int(seconds)) if seconds == int(seconds) else f"{seconds:.3f}".rstrip("0")


class SlackStandIn(HttpStandIn):
    """Use as a context manager; `webhook_url` is the URL to store in the secret.

    `requests` logs every post with its answer; `messages` the delivered ones.
    """

    def __init__(self, behaviour: SlackBehaviour | None = None) -> None:
        super().__init__("slack")
        self.path_secret = "T0LOCAL/B0LOCAL/" + secrets.token_urlsafe(18)
        self.behaviour = behaviour or SlackBehaviour()
        self.messages: list[dict[str, Any]] = []
        self._failures = 0
        self.on_crash: Any = None  # () -> None: kill the posting function mid-post

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/services/{self.path_secret}"

    def configure(self, behaviour: SlackBehaviour | None = None, **changes: Any) -> None:
        """Change the behaviour (a whole `SlackBehaviour`, or fields) and reset the logs."""
        new = replace(behaviour or self.behaviour, **changes)
        with self.lock:
            self.behaviour = new
            self.messages.clear()
            self._failures = 0
        self.reset_log()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "posts": len(self.requests),
                "delivered": len(self.messages),
                "messages": [
                    f"{m.get('icon_emoji') or ''} {m.get('username') or ''}: {m.get('text') or ''}" for m in self.messages
                ],
            }

    def answer(self, request: Request) -> Answer:
        answer, crash = self._answer(request)
        if crash:  # outside the lock: killing the poster waits for its worker to go
            if self.on_crash is not None:
                self.on_crash()
            return Answer(drop=True)
        return answer

    def _answer(self, request: Request) -> tuple[Answer, bool]:
        with self.lock:
            behaviour = self.behaviour
            if request.method != "POST" or request.path != f"/services/{self.path_secret}":
                self.requests.append({"answer": 404})
                return Answer(404, b"no_service", "text/plain"), False
            failing = behaviour.fail_times < 0 or self._failures < behaviour.fail_times
            if failing:
                self._failures += 1
            if failing and behaviour.fail_mode == "crash":
                self.requests.append({"answer": "crash"})
                return Answer(drop=True), True
            if failing and behaviour.fail_mode != "slow":
                self.requests.append({"answer": behaviour.fail_mode})
                return {
                    "5xx": Answer(500, b"internal_error", "text/plain"),
                    "429": Answer(
                        429, b"rate_limited", "text/plain", headers={"Retry-After": behaviour.retry_after_header}
                    ),
                    "4xx": Answer(400, b"invalid_payload", "text/plain"),
                    "drop": Answer(drop=True),
                    "garbage": Answer(200, b"<html><body>Gateway says hello</body></html>", "text/html"),
                }[behaviour.fail_mode], False
            try:
                message = json.loads(request.body)
            except ValueError:
                message = None
            if not isinstance(message, dict) or not message.get("text"):
                self.requests.append({"answer": 400})
                return Answer(400, b"no_text", "text/plain"), False
            self.requests.append({"answer": "slow" if failing else 200})
            self.messages.append({key: message.get(key) for key in ("username", "icon_emoji", "text")})
            return Answer(200, b"ok", "text/plain", delay_s=behaviour.slow_seconds if failing else 0.0), False
