"""The search API client against the real stand-in server: every failure has a name."""

from __future__ import annotations

import pytest

from parallel_search.errors import (
    InvalidSearchInput,
    SearchApiBadResponse,
    SearchApiRejected,
    SearchApiThrottled,
    SearchApiTimeout,
    SearchApiUnavailable,
)
from parallel_search.search_api import SearchApiClient, validate_keywords
from tests.unit.parallel_search.conftest import API_KEY


def client(standin, *, api_key=API_KEY, timeout_s=1.0):
    return SearchApiClient(name="shop-a", endpoint=standin.url, api_key=api_key, timeout_s=timeout_s)


def test_returns_items_of_about_the_requested_size(search_api):
    search_api.configure(result_bytes=50_000)
    items = client(search_api).search("tea")
    assert len(items) > 100 and all({"id", "title", "price"} <= set(item) for item in items)
    assert search_api.requests == [{"keywords": "tea", "authorized": True}]


@pytest.mark.parametrize(
    ("fail_mode", "error"),
    [("5xx", SearchApiUnavailable), ("429", SearchApiThrottled), ("4xx", SearchApiRejected),
     ("non-json", SearchApiBadResponse), ("slow", SearchApiTimeout), ("drop", SearchApiUnavailable)],
)
def test_failures_map_to_named_errors(search_api, fail_mode, error):
    search_api.configure(fail_mode=fail_mode, fail_times=1, slow_seconds=2.0)
    with pytest.raises(error, match="shop-a"):
        client(search_api, timeout_s=0.5).search("tea")


def test_wrong_api_key_is_rejected_not_retried(search_api):
    with pytest.raises(SearchApiRejected, match="401"):
        client(search_api, api_key="wrong").search("tea")


def test_unreachable_api_is_unavailable():
    unreachable = SearchApiClient(name="shop-a", endpoint="http://127.0.0.1:9/v1/items", api_key="k", timeout_s=0.5)
    with pytest.raises(SearchApiUnavailable):
        unreachable.search("tea")


@pytest.mark.parametrize("value", [None, 3, "", "   ", "x" * 257, "\ud800", "tea \udfff"])
def test_unusable_keywords_are_invalid_input(value):
    with pytest.raises(InvalidSearchInput):
        validate_keywords(value)


def test_api_key_is_not_in_the_clients_repr(search_api):
    assert API_KEY not in repr(client(search_api))


def test_keywords_are_stripped():
    assert validate_keywords("  green tea ") == "green tea"


def test_a_64_mib_answer_is_built_before_serving_so_the_first_request_gets_it(search_api):
    # GIVEN the stand-in configured for its largest answer (the body is built here, not per request)
    search_api.configure(result_bytes=64 * 1024 * 1024)
    # WHEN the client asks with the local stage's 3 s timeout
    items = client(search_api, timeout_s=3.0).search("tea")
    # THEN the first request gets the whole answer (no timeout, so no retry needed)
    assert len(search_api.requests) == 1 and len(items) > 100_000
