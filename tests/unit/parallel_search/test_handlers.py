"""Search and merge handlers end to end in-process: moto for AWS, the stand-in for the API."""

from __future__ import annotations

import pytest

from parallel_search.errors import InvalidPayloadReference, InvalidSearchInput, PayloadIntegrityError
from parallel_search.handlers import merge, search
from tests.unit.parallel_search.conftest import BUCKET, load_event


def test_small_search_result_is_returned_inline(search_env, lambda_context, aws):
    # GIVEN an API answering ~5 KB
    search_env.configure(result_bytes=5_000)
    # WHEN the search handler runs
    result = search.handler(load_event("search"), lambda_context)
    # THEN the items travel inline and nothing is written to S3
    assert result["source"] == "shop-a" and result["result"]["kind"] == "inline"
    assert result["item_count"] == len(result["result"]["body"]["items"]) > 0
    assert aws["s3"].list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_large_search_result_is_stored_under_the_execution_key(search_env, lambda_context, aws):
    search_env.configure(result_bytes=300_000)
    result = search.handler(load_event("search"), lambda_context)
    assert result["result"]["kind"] == "s3"
    assert result["result"]["key"] == "searches/exec-0001/shop-a.json"
    assert result["result"]["size"] >= 300_000
    assert len(str(result)) < 1_000  # only the reference travels


def test_api_key_comes_from_secrets_manager_and_is_not_returned(search_env, lambda_context):
    result = search.handler(load_event("search"), lambda_context)
    assert search_env.requests[0]["authorized"] is True
    assert "test-key-123" not in str(result)


@pytest.mark.parametrize("event", [{}, {"keywords": "  "}, {"keywords": ["a"]}])
def test_bad_input_is_rejected_before_calling_the_api(search_env, lambda_context, event):
    with pytest.raises(InvalidSearchInput):
        search.handler(event, lambda_context)
    assert search_env.requests == []


def test_merge_folds_duplicates_and_ranks(search_env, lambda_context):
    result = merge.handler(load_event("merge_inline"), lambda_context)
    assert result["sources"] == {"shop-a": 2, "shop-b": 2}
    items = result["result"]["body"]["items"]
    assert result["item_count"] == len(items) == 3
    assert items[0]["key"] == "jan:4901234567894" and items[0]["best_price"] == 1100
    assert [offer["source"] for offer in items[0]["offers"]] == ["shop-a", "shop-b"]


def test_merge_reads_references_and_writes_a_large_result_by_reference(search_env, lambda_context, aws):
    # GIVEN two large search results in S3
    search_env.configure(result_bytes=200_000)
    first = search.handler(load_event("search"), lambda_context)
    second = dict(first)
    # WHEN merged
    result = merge.handler({"keywords": "wireless earbuds", "execution_name": "exec-0001", "results": [first, second]}, lambda_context)
    # THEN the merged result is itself a reference under merged/
    assert result["result"]["kind"] == "s3" and result["result"]["key"] == "merged/exec-0001.json"
    assert aws["s3"].head_object(Bucket=BUCKET, Key="merged/exec-0001.json")["ContentLength"] == result["result"]["size"]


def test_merge_refuses_a_tampered_reference(search_env, lambda_context, aws):
    search_env.configure(result_bytes=100_000)
    first = search.handler(load_event("search"), lambda_context)
    aws["s3"].put_object(Bucket=BUCKET, Key=first["result"]["key"], Body=b'{"items":[]}')
    with pytest.raises(PayloadIntegrityError):
        merge.handler({"keywords": "x", "execution_name": "e", "results": [first]}, lambda_context)


@pytest.mark.parametrize("results", [None, [], [{"no": "result"}]])
def test_merge_rejects_malformed_results(search_env, lambda_context, results):
    with pytest.raises(InvalidPayloadReference):
        merge.handler({"keywords": "x", "results": results}, lambda_context)
