"""One ItemBatcher batch: `{"Items": [<listObjectsV2 item>...], "BatchInput": {...}}` -> one result per item."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from distributed_copy.copying import CopySettings, move_object, result
from distributed_copy.errors import InvalidBatch
from distributed_copy.planning import destination_key, is_target

BATCH_INPUT_FIELDS = ("bucket", "sourcePrefix", "destinationPrefix", "targetDate")


def parse_batch(event: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    if not isinstance(event, dict) or not isinstance(event.get("Items"), list) or not isinstance(event.get("BatchInput"), dict):
        raise InvalidBatch('expected {"Items": [...], "BatchInput": {...}}')
    batch_input = event["BatchInput"]
    missing = [f for f in BATCH_INPUT_FIELDS if not isinstance(batch_input.get(f), str)]
    if missing:
        raise InvalidBatch(f"BatchInput lacks {missing}")
    for item in event["Items"]:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
            raise InvalidBatch("every item needs a string Key (an S3 listObjectsV2 item)")
    return event["Items"], batch_input


def process_batch(s3: Any, event: Any, settings: CopySettings, *, threads: int = 1) -> dict[str, Any]:
    """One result per item, in item order. `threads` objects move at once (S3 calls are I/O-bound;
    boto3 clients are thread-safe)."""
    items, plan = parse_batch(event)

    def one(item: dict[str, Any]) -> dict[str, Any]:
        key = item["Key"]
        if key.endswith("/") or not is_target(key, plan["sourcePrefix"], plan["targetDate"]):
            return result(key, "skipped", reason="OtherDate")
        dest = destination_key(key, source_prefix=plan["sourcePrefix"], destination_prefix=plan["destinationPrefix"],
                               target_date=plan["targetDate"])
        return move_object(s3, bucket=plan["bucket"], key=key, dest=dest, listed_etag=item.get("Etag"),
                           listed_size=item.get("Size"), settings=settings)

    if threads <= 1 or len(items) <= 1:
        results = [one(item) for item in items]
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
            results = list(pool.map(one, items))  # an S3Throttled in any item fails the batch (retried)
    counts = {status: sum(1 for r in results if r["status"] == status) for status in ("moved", "skipped", "failed")}
    return {"results": results, **counts}
