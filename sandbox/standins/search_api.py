"""A product-search API stand-in: a real HTTP server on 127.0.0.1 (port picked by the OS).

`GET /v1/items?keywords=...` with header `X-Api-Key` answers `{"items": [...]}` whose JSON is
about `result_bytes` long. Items are deterministic, and every third item of any shop shares its
JAN code and title with the other shops' third items, so the merge step has duplicates to fold.

The body for a size is built once, when the behaviour is configured (a 64 MiB body takes seconds
to build, longer than the local HTTP timeout); each request only writes its keywords into it.

Failures on demand (`SearchApiBehaviour`): the first `fail_times` requests answer with
`fail_mode`: "5xx" (503), "429", "4xx" (400), "non-json" (200 with an HTML body), "slow"
(answers after `slow_seconds`) or "drop" (closes the connection without answering);
`fail_times=-1` fails every request.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sandbox.standins.http import Answer, HttpStandIn, Request

FAIL_MODES = ("5xx", "429", "4xx", "non-json", "slow", "drop")
LANGUAGES = ("en", "ja")
PATH = "/v1/items"
_KEYWORDS = b"{{keywords}}"  # placeholder in the prebuilt body


@dataclass(frozen=True)
class SearchApiBehaviour:
    """How the stand-in answers. Defaults: ~2 KB of items, never fails."""

    result_bytes: int = 2048
    fail_mode: str = "5xx"
    fail_times: int = 0
    slow_seconds: float = 10.0
    language: str = "en"  # "ja": Japanese titles and descriptions (3 bytes a character in UTF-8)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        if self.fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}")
        if not 0 < self.result_bytes <= 64 * 1024 * 1024:
            raise ValueError("result_bytes must be between 1 and 64 MiB")
        if self.fail_times < -1:
            raise ValueError("fail_times must be -1 (always) or a count >= 0")
        if not (math.isfinite(self.slow_seconds) and 0 <= self.slow_seconds <= 900):
            raise ValueError("slow_seconds must be a number of seconds between 0 and 900")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=8)
def search_body_template(shop: str, result_bytes: int, language: str = "en") -> bytes:
    """Deterministic UTF-8 JSON of about `result_bytes` bytes, with `{{keywords}}` where the keywords go."""
    parts: list[bytes] = []  # each item serialized once
    size = len(b'{"items":[]}')
    index = 0
    while size < result_bytes:
        shared = index % 3 == 0  # listed by every shop: same JAN and title
        seed = hashlib.sha256(f"{index}|{'' if shared else shop}".encode()).hexdigest()
        item = {
            "id": f"{shop}-{index:07d}",
            "title": f"{_KEYWORDS.decode()} {('モデル' if language == 'ja' else 'model') if shared else shop} {seed[:8]}",
            "price": 500 + int(seed[8:14], 16) % 50_000 + (0 if shared else len(shop)),
            "currency": "JPY",
            "url": f"https://{shop}.example/items/{index}",
            "jan": f"49{int(seed[14:26], 16) % 10**11:011d}" if shared else None,
            "description": "日本のお茶🍵🍵🍵🍵🍵🍵" * 12 if language == "ja" else seed * 2,
        }
        parts.append(_dumps(item).encode())
        size += len(parts[-1]) + (1 if index else 0)
        index += 1
    return b'{"items":[' + b",".join(parts) + b"]}"


def search_body(shop: str, keywords: str, result_bytes: int, language: str = "en") -> bytes:
    """The answer to one search: the prebuilt body with the keywords written in (JSON-escaped)."""
    escaped = json.dumps(keywords, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass")
    return search_body_template(shop, result_bytes, language).replace(_KEYWORDS, escaped)


class SearchApiStandIn(HttpStandIn):
    """One search API. `url` is its endpoint; `requests` holds {"keywords", "authorized"} per request."""

    def __init__(self, *, shop: str, api_key: str, behaviour: SearchApiBehaviour | None = None) -> None:
        super().__init__(shop)
        self.shop = shop
        self.api_key = api_key
        self.behaviour = behaviour or SearchApiBehaviour()
        search_body_template(shop, self.behaviour.result_bytes, self.behaviour.language)

    @property
    def url(self) -> str:
        return f"{self.base_url}{PATH}"

    def configure(self, behaviour: SearchApiBehaviour | None = None, **changes: Any) -> None:
        """Change the behaviour (a whole `SearchApiBehaviour`, or fields), build its body, reset the log."""
        new = replace(behaviour or self.behaviour, **changes)
        search_body_template(self.shop, new.result_bytes, new.language)  # before serving, not during a request
        with self.lock:
            self.behaviour = new
        self.reset_log()

    def answer(self, request: Request) -> Answer:
        if request.method != "GET" or request.path != PATH:
            return Answer(404, b'{"message":"not found"}')
        keywords = request.query.get("keywords", [""])[0]
        api_key = request.headers.get("x-api-key")
        with self.lock:
            attempt = len(self.requests)
            self.requests.append({"keywords": keywords, "authorized": api_key == self.api_key})
            behaviour = self.behaviour
        if api_key != self.api_key:
            return Answer(401, b'{"message":"invalid api key"}')
        failing = behaviour.fail_times < 0 or attempt < behaviour.fail_times
        mode = behaviour.fail_mode if failing else None
        if mode == "5xx":
            return Answer(503, b'{"message":"service unavailable"}')
        if mode == "429":
            return Answer(429, b'{"message":"too many requests"}')
        if mode == "4xx":
            return Answer(400, b'{"message":"bad request"}')
        if mode == "non-json":
            return Answer(200, b"<html><body>maintenance</body></html>", "text/html")
        if mode == "drop":
            return Answer(drop=True)
        delay = behaviour.slow_seconds if mode == "slow" else 0.0
        return Answer(200, search_body(self.shop, keywords, behaviour.result_bytes, behaviour.language),
                      content_type="application/json; charset=utf-8", delay_s=delay)
