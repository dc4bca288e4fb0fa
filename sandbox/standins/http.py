"""A stand-in for an outside HTTP service: a real threaded server on 127.0.0.1, on a port the OS picks.

Subclasses implement `answer(request) -> Answer`; the base class serves every method, keeps a
request log under a lock, tracks how many requests are being answered at once, and can hang
up without answering (`Answer(drop=True)`) or answer late (`Answer(delay_s=...)`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer this late (the client may give up first)
    drop: bool = False  # close the connection without a status line


class HttpStandIn:
    """Use as a context manager. `base_url` is where it listens; `requests` holds what `record` kept."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- to implement -----------------------------------------------------------------
    def answer(self, request: Request) -> Answer:
        raise NotImplementedError

    # -- lifecycle --------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"stand-in {self.name} is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "HttpStandIn":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # a short poll: shutdown() waits for it (the default 0.5 s would be paid by every run's teardown)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"standin-{self.name}",
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, entry: dict[str, Any]) -> int:
        """Append to the request log; returns the entry's index (0 for the first request)."""
        with self.lock:
            self.requests.append(entry)
            return len(self.requests) - 1

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, url.path, parse_qs(url.query),
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                with standin.lock:
                    standin.in_flight += 1
                    standin.max_in_flight = max(standin.max_in_flight, standin.in_flight)
                try:
                    answer = standin.answer(request)
                    if answer.delay_s:
                        time.sleep(answer.delay_s)
                    if answer.drop:
                        self.close_connection = True
                        return
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout)
                finally:
                    with standin.lock:
                        standin.in_flight -= 1

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server API

            def log_message(self, *args: Any) -> None:  # keep the sandbox's output readable
                pass

        return Handler
