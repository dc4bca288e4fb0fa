"""The long API stand-in: a real HTTP server on 127.0.0.1 (port picked by the OS).

`POST /v1/jobs` with `Authorization: Bearer <token>` and an `Idempotency-Key` header
takes `delay_seconds` and answers `{"job": <key>, "status": "done"}`. It records every
call: when, its idempotency key, how it ended, and how many calls were running at once
(`max_concurrent_calls`), which is what single-flight promises to keep at 1.

A key seen on a call that completed is answered at once with the same result, and a key whose
first call is still running gets 409 at once (the contract of an idempotent API, as in the
IETF Idempotency-Key draft): both are counted in `repeated_keys`. The job itself runs once
per key, also when the caller gave up waiting for it; `calls_running` says how many requests
are being answered now.

Failures on demand (`LongApiBehaviour`): the first `fail_times` calls answer with
`fail_mode`: "5xx" (503), "429" (throttled, with `Retry-After`), "4xx" (400), "garbage" (200 with a
body that is not JSON), "timeout" (holds the connection `hold_seconds`, then closes it without
answering) or "drop" (closes it at once). `on_call` lets a scenario act mid-call (the
single-flight scenario kills the calling Lambda worker there).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from sandbox.standins.http import Answer, HttpStandIn, Request

FAIL_MODES = ("5xx", "429", "4xx", "garbage", "timeout", "drop")
PATH = "/v1/jobs"


@dataclass(frozen=True)
class LongApiBehaviour:
    """How the stand-in answers. Defaults: 3 s per call, never fails.

    delay_seconds: how long a call takes (the seed's API: 40-120 s); default 3.
    fail_mode: 5xx | 429 | 4xx | garbage | timeout | drop; default "5xx".
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
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 3600:
                raise ValueError(f"{name} must be a number of seconds between 0 and 3600, got {value!r}")
        if self.fail_times < -1:
            raise ValueError("fail_times must be -1 (always) or a count >= 0")


class LongApiStandIn(HttpStandIn):
    """The long API. `url` is its endpoint; `calls` its call log; `max_in_flight` (from the base)
    the most calls it answered at once."""

    def __init__(self, *, token: str, behaviour: LongApiBehaviour | None = None,
                 on_call: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__("long-api")
        self.token = token
        self.behaviour = behaviour or LongApiBehaviour()
        self.on_call = on_call
        self._completed: dict[str, Any] = {}
        self._running: set[str] = set()  # keys whose job is under way

    @property
    def url(self) -> str:
        return f"{self.base_url}{PATH}"

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self.requests

    def configure(self, behaviour: LongApiBehaviour | None = None, **changes: Any) -> None:
        """Change the behaviour (a whole `LongApiBehaviour`, or fields); reset the log and the high-water mark."""
        new = replace(behaviour or self.behaviour, **changes)
        with self.lock:
            self.behaviour = new
            self._completed.clear()
        self.reset_log()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            calls = [dict(call) for call in self.requests]
            max_in_flight, running = self.max_in_flight, self.in_flight
        return {
            "api_calls": len(calls),
            "max_concurrent_calls": max_in_flight,
            "completed": sum(1 for call in calls if call["outcome"] == "200"),
            "distinct_keys": len({call["idempotency_key"] for call in calls}),
            "repeated_keys": sum(1 for call in calls if call.get("repeated")),
            "outcomes": _count(call["outcome"] for call in calls),
            "calls_running": running,
        }

    def answer(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != PATH:
            return Answer(404, b'{"message":"not found"}')
        key = request.headers.get("idempotency-key")
        call = {"started": time.time(), "idempotency_key": key, "outcome": "running",
                "authorized": request.headers.get("authorization") == f"Bearer {self.token}"}
        attempt = self.record(call)
        with self.lock:
            behaviour = self.behaviour
        answer = self._answer(call, request, behaviour, failing=behaviour.fail_times < 0 or attempt < behaviour.fail_times)
        with self.lock:
            call["outcome"] = "dropped" if answer.drop else str(answer.status)
            call["seconds"] = round(time.time() - call["started"], 3)
        return answer

    def _answer(self, call: dict[str, Any], request: Request, behaviour: LongApiBehaviour, *, failing: bool) -> Answer:
        if not call["authorized"]:
            return Answer(401, b'{"message":"invalid token"}')
        key = call["idempotency_key"]
        if not key:
            return Answer(400, b'{"message":"Idempotency-Key header required"}')
        if self.on_call is not None:
            self.on_call(call)  # e.g. the scenario kills the calling worker here (mid-call)
        with self.lock:
            done = self._completed.get(key)
            running = key in self._running
            if done is None and not running:
                self._running.add(key)
        if done is not None:  # an idempotent API answers a repeated key with the first result
            call["repeated"] = True
            return Answer(200, done)
        if running:  # ... and a key whose first call still runs with 409, starting nothing
            call["repeated"] = True
            return Answer(409, b'{"message":"a request with this Idempotency-Key is still being processed"}')
        try:
            return self._work(key, request, behaviour, failing=failing)
        finally:
            with self.lock:
                self._running.discard(key)

    def _work(self, key: str, request: Request, behaviour: LongApiBehaviour, *, failing: bool) -> Answer:
        mode = behaviour.fail_mode if failing else None
        if mode == "drop":
            return Answer(drop=True)
        if mode == "timeout":
            time.sleep(behaviour.hold_seconds)
            return Answer(drop=True)
        if mode == "4xx":
            return Answer(400, b'{"message":"bad request"}')
        if mode == "429":
            return Answer(429, b'{"message":"too many requests"}', headers={"Retry-After": "1"})
        time.sleep(behaviour.delay_seconds)  # the call's work, inside the in-flight count
        if mode == "5xx":
            return Answer(503, b'{"message":"service unavailable"}')
        if mode == "garbage":
            return Answer(200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        try:
            job = json.loads(request.body or b"null")
        except ValueError:
            return Answer(400, b'{"message":"body is not JSON"}')
        body = json.dumps({"job": key, "status": "done", "request": job}).encode()
        with self.lock:
            self._completed[key] = body
        return Answer(200, body)


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
