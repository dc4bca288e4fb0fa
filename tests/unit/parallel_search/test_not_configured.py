"""A run against an unconfigured endpoint ends in SearchApiNotConfigured, naming the setting, before any call."""

from __future__ import annotations

import pytest

from parallel_search.errors import SearchApiNotConfigured
from parallel_search.handlers import search
from parallel_search.search_api import is_placeholder_endpoint
from tests.unit.parallel_search.conftest import load_event
from tests.unit.test_preflight import PLACEHOLDERS, REAL_VALUES

SETTING = "parallel_search.api_a.endpoint"


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_the_lambda_recognises_the_same_placeholders_as_the_preflight(value):
    assert is_placeholder_endpoint(value)


@pytest.mark.parametrize("value", REAL_VALUES)
def test_the_lambda_accepts_what_the_preflight_accepts(value):
    assert not is_placeholder_endpoint(value)


def test_a_placeholder_endpoint_fails_with_a_named_error_before_reading_the_secret_or_calling_out(
    search_env, lambda_context, monkeypatch
):
    # GIVEN a deployed search function whose endpoint is still the shipped placeholder, and no secret readable
    monkeypatch.setenv("SEARCH_API_ENDPOINT", "https://search.shop-a.example/v1/items")
    monkeypatch.setenv("SEARCH_API_ENDPOINT_SETTING", SETTING)
    monkeypatch.setenv("SEARCH_API_KEY_SECRET_NAME", "parallel-search/not-created-yet")
    # WHEN it runs
    with pytest.raises(SearchApiNotConfigured) as raised:
        search.handler(load_event("search"), lambda_context)
    # THEN the error (its class name is what Step Functions matches) names the setting to set
    assert type(raised.value).__name__ == "SearchApiNotConfigured"
    assert SETTING in str(raised.value) and "search.shop-a.example" in str(raised.value)
    # AND no request reached any API (the stand-in saw none)
    assert search_env.requests == []


def test_a_configured_endpoint_is_searched_as_before(search_env, lambda_context, monkeypatch):
    monkeypatch.setenv("SEARCH_API_ENDPOINT_SETTING", SETTING)
    assert search.handler(load_event("search"), lambda_context)["source"] == "shop-a"
