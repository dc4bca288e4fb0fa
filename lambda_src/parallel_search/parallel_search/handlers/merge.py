"""Merge both searches' items (inline or by reference); return the ranked result the same way.

Event: {"keywords": str, "execution_name": str, "results": [<search handler result>, ...]}
Result: {"keywords": str, "item_count": int, "sources": {name: item_count}, "result": <envelope of {"keywords", "items"}>}
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from parallel_search.aws import s3_client
from parallel_search.claim_check import PayloadStore
from parallel_search.errors import InvalidPayloadReference
from parallel_search.merging import merge_results
from parallel_search.search_api import validate_keywords
from parallel_search.settings import PayloadSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    keywords = validate_keywords(event.get("keywords") if isinstance(event, dict) else None)
    results = event.get("results")
    if not isinstance(results, list) or not results:
        raise InvalidPayloadReference("'results' must be a non-empty list of search results")
    payloads = PayloadSettings.from_env()
    store = PayloadStore(s3=s3_client(), bucket=payloads.bucket, inline_threshold_bytes=payloads.inline_threshold_bytes)

    searches = [_load_search(store, result) for result in results]
    products = merge_results(keywords, ((search["source"], search["items"]) for search in searches))
    execution_name = str(event.get("execution_name") or context.aws_request_id)
    envelope = store.put({"keywords": keywords, "items": products}, key=f"merged/{execution_name}.json")

    metrics.add_metric(name="MergedItems", unit=MetricUnit.Count, value=len(products))
    logger.info("merge done", extra={"products": len(products), "size": envelope["size"], "kind": envelope["kind"]})
    return {
        "keywords": keywords,
        "item_count": len(products),
        "sources": {search["source"]: len(search["items"]) for search in searches},
        "result": envelope,
    }


@tracer.capture_method
def _load_search(store: PayloadStore, result: Any) -> dict[str, Any]:
    if not isinstance(result, dict) or "result" not in result:
        raise InvalidPayloadReference("each search result must be an object with a 'result' envelope")
    search = store.get(result["result"])
    if not isinstance(search, dict) or not isinstance(search.get("items"), list) or "source" not in search:
        raise InvalidPayloadReference("a search payload must hold 'source' and an 'items' list")
    return search
