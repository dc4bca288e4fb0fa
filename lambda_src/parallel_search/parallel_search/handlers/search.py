"""Query one search API; return its items inline or as an S3 reference.

Event: {"keywords": str, "execution_name": str}
Result: {"source": str, "item_count": int, "result": <claim-check envelope of {"source", "keywords", "items"}>}
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from parallel_search.aws import s3_client
from parallel_search.claim_check import PayloadStore
from parallel_search.search_api import SearchApiClient, require_configured_endpoint, validate_keywords
from parallel_search.settings import PayloadSettings, SearchApiSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

API_KEY_CACHE_SECONDS = 300


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    keywords = validate_keywords(event.get("keywords") if isinstance(event, dict) else None)
    api = SearchApiSettings.from_env()
    require_configured_endpoint(api.name, api.endpoint, api.endpoint_setting)  # before the secret: it may not exist yet
    payloads = PayloadSettings.from_env()
    api_key = parameters.get_secret(api.api_key_secret_name, max_age=API_KEY_CACHE_SECONDS)
    client = SearchApiClient(name=api.name, endpoint=api.endpoint, api_key=str(api_key), timeout_s=api.timeout_s)

    items = client.search(keywords)
    execution_name = str(event.get("execution_name") or context.aws_request_id)
    store = PayloadStore(s3=s3_client(), bucket=payloads.bucket, inline_threshold_bytes=payloads.inline_threshold_bytes)
    envelope = store.put({"source": api.name, "keywords": keywords, "items": items}, key=f"searches/{execution_name}/{api.name}.json")

    metrics.add_dimension(name="Api", value=api.name)
    metrics.add_metric(name="ItemsFound", unit=MetricUnit.Count, value=len(items))
    metrics.add_metric(name="ResultBytes", unit=MetricUnit.Bytes, value=envelope["size"])
    logger.info("search done", extra={"api": api.name, "items": len(items), "size": envelope["size"], "kind": envelope["kind"]})
    return {"source": api.name, "item_count": len(items), "result": envelope}
