"""A Slack incoming-webhook stand-in: a real HTTP server on 127.0.0.1 (a port the OS picks).

`POST /services/<path secret>` with a JSON body holding `text` answers 200 "ok",
like Slack, and records the message (username, icon_emoji, text): what a person
in the channel would read. A wrong path answers 404 "no_service"; a body without
text 400 "no_text".

Failures on demand (`SlackBehaviour`): the first `fail_times` posts answer with
`fail_mode`: "5xx" (500), "429" (with `Retry-After: retry_after_seconds`),
"4xx" (400 invalid_payload) or "drop" (closes the connection without answering);
`fail_times=-1` fails every post.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAIL_MODES = ("5xx", "429", "4xx", "drop")


@dataclass(frozen=True)
class SlackBehaviour:
    """How the stand-in answers. Defaults: never fails; a 429 asks to retry after 1 s."""

    fail_mode: str = "5xx"
    fail_times: int = 0
    retry_after_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}")
        if self.fail_times < -1:
            raise ValueError("fail_times must be -1 (always) or a count >= 0")
        if not (math.isfinite(self.retry_after_seconds) and 0 <= self.retry_after_seconds <= 3600):
            raise ValueError("retry_after_seconds must be a number between 0 and 3600")


@dataclass
class SlackStandIn:
    """Use as a context manager; `webhook_url` is the URL to store in the secret."""

    path_secret: str = field(default_factory=lambda: "T0LOCAL/B0LOCAL/" + secrets.token_urlsafe(18), repr=False)
    behaviour: SlackBehaviour = field(default_factory=SlackBehaviour)
    messages: list[dict[str, Any]] = field(default_factory=list)  # delivered (answered 200)
    attempts: list[dict[str, Any]] = field(default_factory=list)  # every post, with the answer

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._failures = 0

    @property
    def webhook_url(self) -> str:
        assert self._server, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/{self.path_secret}"

    def configure(self, **changes: Any) -> None:
        """Change the behaviour and reset the message log."""
        with self._lock:
            self.behaviour = replace(self.behaviour, **changes)
            self.messages.clear()
            self.attempts.clear()
            self._failures = 0

    def __enter__(self) -> "SlackStandIn":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="standin-slack", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "posts": len(self.attempts),
                "delivered": len(self.messages),
                "messages": [f"{m.get('icon_emoji', '')} {m.get('username', '')}: {m.get('text', '')}" for m in self.messages],
            }

    def _answer(self, path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            behaviour = self.behaviour
            if path != f"/services/{self.path_secret}":
                self.attempts.append({"answer": 404})
                return 404, b"no_service", {}
            failing = behaviour.fail_times < 0 or self._failures < behaviour.fail_times
            if failing:
                self._failures += 1
                self.attempts.append({"answer": behaviour.fail_mode})
                if behaviour.fail_mode == "5xx":
                    return 500, b"internal_error", {}
                if behaviour.fail_mode == "429":
                    return 429, b"rate_limited", {"Retry-After": f"{behaviour.retry_after_seconds:g}"}
                if behaviour.fail_mode == "4xx":
                    return 400, b"invalid_payload", {}
                return 0, b"", {}
            try:
                message = json.loads(body)
            except ValueError:
                self.attempts.append({"answer": 400})
                return 400, b"invalid_payload", {}
            if not isinstance(message, dict) or not message.get("text"):
                self.attempts.append({"answer": 400})
                return 400, b"no_text", {}
            self.attempts.append({"answer": 200})
            self.messages.append({key: message.get(key) for key in ("username", "icon_emoji", "text")})
            return 200, b"ok", {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, headers = standin._answer(self.path, body)
                if status == 0:  # "drop": hang up without a status line
                    self.close_connection = True
                    return
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
