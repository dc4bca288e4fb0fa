"""Settings of the parallel-search workflow (`stages.<stage>.workflows.parallel_search` in cdk.json)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SearchApiSettings:
    """One external search API.

    name: label used in item offers, S3 keys and metrics; default "shop-a".
    endpoint: HTTPS URL answering `GET ?keywords=`; default a placeholder to replace.
    api_key_secret_name: Secrets Manager secret (plain string) holding the API key; create it
        before deploying; default "parallel-search/shop-a/api-key".
    """

    name: str = "shop-a"
    endpoint: str = "https://search.shop-a.example/v1/items"
    api_key_secret_name: str = "parallel-search/shop-a/api-key"


@dataclass(frozen=True)
class ParallelSearchSettings:
    """Knobs of the parallel-search workflow.

    api_a, api_b: the two APIs searched in parallel.
    inline_threshold_bytes: results whose JSON is larger go through S3 (default 64 KiB: two
        branches plus metadata stay far below Step Functions' 256 KiB state limit).
    http_timeout_seconds: per request to a search API (default 10).
    function_timeout_seconds: search/merge Lambda timeout (default 30).
    merge_memory_mb: the merge function loads both results (default 1024).
    retry_interval_seconds, retry_max_attempts, retry_max_delay_seconds: backoff with full
        jitter on throttling, 5xx and timeouts (defaults 2 s, 3 attempts, 30 s).
    execution_timeout_seconds: whole execution (default 300).
    """

    api_a: SearchApiSettings = field(default_factory=SearchApiSettings)
    api_b: SearchApiSettings = field(
        default_factory=lambda: SearchApiSettings(
            name="shop-b",
            endpoint="https://search.shop-b.example/v1/items",
            api_key_secret_name="parallel-search/shop-b/api-key",
        )
    )
    inline_threshold_bytes: int = 64 * 1024
    http_timeout_seconds: int = 10
    function_timeout_seconds: int = 30
    merge_memory_mb: int = 1024
    retry_interval_seconds: int = 2
    retry_max_attempts: int = 3
    retry_max_delay_seconds: int = 30
    execution_timeout_seconds: int = 300

    def __post_init__(self) -> None:
        if not 1024 <= self.inline_threshold_bytes <= 100 * 1024:
            raise ValueError("inline_threshold_bytes must be between 1 KiB and 100 KiB (two branches must fit in 256 KiB)")
        if self.api_a.name == self.api_b.name:
            raise ValueError("api_a and api_b need different names")
