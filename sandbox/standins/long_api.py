"""The long API stand-in: a real HTTP server on 127.0.0.1 (port picked by the OS).

`POST /v1/jobs` with `Authorization: Bearer <token>` and an `Idempotency-Key` header
takes `delay_seconds` and answers `{"job": <key>, "status": "done"}`. It records every
call: when, its idempotency key, how it ended, and how many calls were running at once
(`max_concurrent`), which is what single-flight promises to keep at 1.

A key seen on a call that completed is answered at once with the same result (the
contract a real idempotent API offers), counted in `repeated_keys`.

Failures on demand (`LongApiBehaviour`): the first `fail_times` calls answer with
`fail_mode`: "5xx" (503), "4xx" (400), "timeout" (holds the connection `hold_seconds`, then
closes it without answering) or "drop" (closes it at once). `on_call` lets a scenario
act mid-call (the single-flight scenario kills the calling Lambda worker there).
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

FAIL_MODES = ("5xx", "4xx", "timeout", "drop")
PATH = "/v1/jobs"


@dataclass(frozen=True)
class LongApiBehaviour:
    """How the stand-in answers. Defaults: 3 s per call, never fails.

    delay_seconds: how long a call takes (the seed's API: 40-120 s); default 3.
    fail_mode: 5xx | 4xx | timeout | drop; default "5xx".
    fail_times: the first N calls fail with `fail_mode` (-1: every call); default 0.
    hold_seconds: how long a "timeout" call holds the connection before closing it; default 10.
    """

    delay_seconds: float = 3.0
    fail_mode: str = "5xx"
    fail_times: int = 0
    hold_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}")
        for name in ("delay_seconds", "hold_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or not 0 <= value <= 3600:
                raise ValueError(f"{name} must be a number of seconds between 0 and 3600, got {value!r}")
        if self.fail_times < -1:
            raise ValueError("fail_times must be -1 (always) or a count >= 0")


@dataclass
class LongApiStandIn:
    """Use as a context manager; `url` is its endpoint, `calls` its call log."""

    token: str
    behaviour: LongApiBehaviour = field(default_factory=LongApiBehaviour)
    on_call: Callable[[dict[str, Any]], None] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._active = 0
        self.max_concurrent = 0
        self._completed: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        assert self._server, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"

    def configure(self, **changes: Any) -> None:
        """Change the behaviour and reset the call log and the concurrency high-water mark."""
        with self._lock:
            self.behaviour = replace(self.behaviour, **changes)
            self.calls.clear()
            self.max_concurrent = 0
            self._completed.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            keys = [call["idempotency_key"] for call in self.calls]
            return {
                "api_calls": len(self.calls),
                "max_concurrent_calls": self.max_concurrent,
                "completed": sum(1 for call in self.calls if call["outcome"] == "200"),
                "distinct_keys": len(set(keys)),
                "repeated_keys": sum(1 for call in self.calls if call.get("repeated")),
                "outcomes": _count(call["outcome"] for call in self.calls),
            }

    def __enter__(self) -> "LongApiStandIn":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="standin-long-api", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _begin(self, key: str | None, authorized: bool) -> tuple[dict[str, Any], LongApiBehaviour, bool]:
        with self._lock:
            attempt = len(self.calls)
            call = {"started": time.time(), "idempotency_key": key, "authorized": authorized, "outcome": "running"}
            self.calls.append(call)
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)
            behaviour = self.behaviour
        failing = behaviour.fail_times < 0 or attempt < behaviour.fail_times
        return call, behaviour, failing

    def _end(self, call: dict[str, Any], outcome: str) -> None:
        with self._lock:
            self._active -= 1
            call["outcome"] = outcome
            call["seconds"] = round(time.time() - call["started"], 3)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path != PATH:
                    self._send(404, {"message": "not found"})
                    return
                key = self.headers.get("Idempotency-Key")
                authorized = self.headers.get("Authorization") == f"Bearer {standin.token}"
                call, behaviour, failing = standin._begin(key, authorized)
                outcome = "dropped"
                try:
                    if not authorized:
                        outcome = "401"
                        self._send(401, {"message": "invalid token"})
                        return
                    if not key:
                        outcome = "400"
                        self._send(400, {"message": "Idempotency-Key header required"})
                        return
                    if standin.on_call is not None:
                        standin.on_call(call)
                    with standin._lock:
                        done = standin._completed.get(key)
                    if done is not None:
                        call["repeated"] = True
                        outcome = "200"
                        self._send(200, done)
                        return
                    mode = behaviour.fail_mode if failing else None
                    if mode == "drop":
                        self.close_connection = True
                        return
                    if mode == "timeout":
                        outcome = "timeout"
                        time.sleep(behaviour.hold_seconds)
                        self.close_connection = True
                        return
                    if mode == "4xx":
                        outcome = "400"
                        self._send(400, {"message": "bad request"})
                        return
                    time.sleep(behaviour.delay_seconds)
                    if mode == "5xx":
                        outcome = "503"
                        self._send(503, {"message": "service unavailable"})
                        return
                    result = {"job": key, "status": "done", "request": json.loads(body or b"null")}
                    with standin._lock:
                        standin._completed[key] = result
                    outcome = "200" if self._send(200, result) else "client gone"
                finally:
                    standin._end(call, outcome)

            def _send(self, status: int, document: Any) -> bool:
                data = json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return True
                except (BrokenPipeError, ConnectionResetError):
                    return False  # the client is gone (crashed or gave up)

            def log_message(self, *args: Any) -> None:  # keep the sandbox's output readable
                pass

        return Handler


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
