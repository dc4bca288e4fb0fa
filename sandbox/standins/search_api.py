"""A product-search API stand-in: a real HTTP server on 127.0.0.1.

`GET /v1/items?keywords=...` with header `X-Api-Key` answers
`{"items": [...]}` whose JSON is about `result_bytes` long. Items are
deterministic (same keywords, same items), and every third item of any shop
shares its JAN code and title with the other shops' third items, so the
merge step has duplicates to fold.

Failures on demand (`SearchApiBehaviour`): the first `fail_times` requests
answer with `fail_mode`: "5xx" (503), "429", "4xx" (400), "non-json" (200 with
an HTML body), "slow" (answers after `slow_seconds`) or "drop" (closes the
connection without answering); `fail_times=-1` fails
every request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

FAIL_MODES = ("5xx", "429", "4xx", "non-json", "slow", "drop")


@dataclass(frozen=True)
class SearchApiBehaviour:
    """How the stand-in answers. Defaults: ~2 KB of items, never fails."""

    result_bytes: int = 2048
    fail_mode: str = "5xx"
    fail_times: int = 0
    slow_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}")
        if not 0 < self.result_bytes <= 64 * 1024 * 1024:
            raise ValueError("result_bytes must be between 1 and 64 MiB")


@lru_cache(maxsize=8)
def search_body(shop: str, keywords: str, result_bytes: int) -> bytes:
    """Deterministic JSON answer of about `result_bytes` bytes (never less, at most one item more)."""
    items: list[dict[str, Any]] = []
    size = len(b'{"items":[]}')
    index = 0
    while size < result_bytes:
        shared = index % 3 == 0  # listed by every shop: same JAN and title
        seed = hashlib.sha256(f"{keywords}|{index}|{'' if shared else shop}".encode()).hexdigest()
        item = {
            "id": f"{shop}-{index:07d}",
            "title": f"{keywords} {'model' if shared else shop} {seed[:8]}",
            "price": 500 + int(seed[8:14], 16) % 50_000 + (0 if shared else len(shop)),
            "currency": "JPY",
            "url": f"https://{shop}.example/items/{index}",
            "jan": f"49{int(seed[14:26], 16) % 10**11:011d}" if shared else None,
            "description": seed * 2,
        }
        items.append(item)
        size += len(json.dumps(item, separators=(",", ":"))) + (1 if index else 0)
        index += 1
    return json.dumps({"items": items}, separators=(",", ":")).encode()


@dataclass
class SearchApiStandIn:
    """One stand-in API. Use as a context manager; `url` is its endpoint, `requests` its request log."""

    shop: str
    api_key: str
    port: int = 0
    behaviour: SearchApiBehaviour = field(default_factory=SearchApiBehaviour)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/items"

    def configure(self, **changes: Any) -> None:
        """Change the behaviour (e.g. `configure(fail_times=2)`) and reset the request log."""
        with self._lock:
            self.behaviour = replace(self.behaviour, **changes)
            self.requests.clear()

    def __enter__(self) -> "SearchApiStandIn":
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=f"standin-{self.shop}", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _next_answer(self, keywords: str, api_key: str | None) -> tuple[int, bytes, str, float]:
        with self._lock:
            attempt = len(self.requests)
            self.requests.append({"keywords": keywords, "authorized": api_key == self.api_key})
            behaviour = self.behaviour
        if api_key != self.api_key:
            return 401, b'{"message":"invalid api key"}', "application/json", 0.0
        failing = behaviour.fail_times < 0 or attempt < behaviour.fail_times
        mode = behaviour.fail_mode if failing else None
        if mode == "5xx":
            return 503, b'{"message":"service unavailable"}', "application/json", 0.0
        if mode == "429":
            return 429, b'{"message":"too many requests"}', "application/json", 0.0
        if mode == "4xx":
            return 400, b'{"message":"bad request"}', "application/json", 0.0
        if mode == "non-json":
            return 200, b"<html><body>maintenance</body></html>", "text/html", 0.0
        if mode == "drop":
            return 0, b"", "", 0.0
        delay = behaviour.slow_seconds if mode == "slow" else 0.0
        return 200, search_body(self.shop, keywords, behaviour.result_bytes), "application/json", delay

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlparse(self.path)
                if url.path != "/v1/items":
                    self._send(404, b'{"message":"not found"}', "application/json")
                    return
                keywords = parse_qs(url.query).get("keywords", [""])[0]
                status, body, content_type, delay = standin._next_answer(keywords, self.headers.get("X-Api-Key"))
                if status == 0:  # "drop": hang up without a status line
                    self.close_connection = True
                    return
                if delay:
                    time.sleep(delay)
                self._send(status, body, content_type)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (e.g. its timeout during "slow")

            def log_message(self, *args: Any) -> None:  # keep the sandbox's output readable
                pass

        return Handler
