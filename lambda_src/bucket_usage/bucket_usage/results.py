"""The results table: one item per (scan_id, bucket), written whole with PutItem.

Writing the whole item (never `ADD`) makes every write idempotent: a retried
write, a redrive, or a second scan with the same `scan_id` replaces the item
with the same kind of content instead of adding to it. `expires_at` (epoch
seconds) is the table's TTL attribute.

A user reads one scan with a Query on the partition key:
    aws dynamodb query --table-name <table> --key-condition-expression "scan_id = :s" \
        --expression-attribute-values '{":s": {"S": "<scan id>"}}'
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from bucket_usage.aws import error_code
from bucket_usage.counting import UsageCounts
from bucket_usage.errors import ResultsStoreUnavailable

RETRYABLE_CODES = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable",
}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class ResultsTable:
    def __init__(self, dynamodb: Any, table: str, *, ttl_days: int, clock: Callable[[], float] = time.time) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._dynamodb = dynamodb
        self._table = table
        self._ttl_days = ttl_days
        self._clock = clock
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    def put_bucket(
        self,
        *,
        scan_id: str,
        bucket: str,
        status: str,
        execution: str,
        region: str | None = None,
        counts: UsageCounts | None = None,
        passes: int = 0,
        error: str | None = None,
        keep_if_same_execution: bool = False,
    ) -> dict[str, Any] | None:
        """Write the bucket's whole item; return it (as plain JSON).

        `keep_if_same_execution`: leave an item this execution already wrote (return None). The summary
        records a failed scan this way, so a scan Lambda that wrote its item and then timed out is not
        overwritten by its own failure.
        """
        now = self._clock()
        item: dict[str, Any] = {
            "scan_id": scan_id,
            "bucket": bucket,
            "status": status,
            "execution": execution,
            "scanned_at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
            "expires_at": int(now) + self._ttl_days * 86_400,
            "passes": passes,
        }
        if region:
            item["region"] = region
        if error:
            item["error"] = error[:1000]
        if counts is not None:
            item.update(objects=counts.objects, bytes=counts.bytes, **counts.to_json())
        request: dict[str, Any] = {"TableName": self._table, "Item": {k: self._serialize(v) for k, v in item.items()}}
        if keep_if_same_execution:
            request.update(
                ConditionExpression="attribute_not_exists(scan_id) OR #execution <> :execution",
                ExpressionAttributeNames={"#execution": "execution"},
                ExpressionAttributeValues={":execution": {"S": execution}},
            )
        try:
            self._dynamodb.put_item(**request)
        except Exception as exc:
            if keep_if_same_execution and error_code(exc) == "ConditionalCheckFailedException":
                return None
            if error_code(exc) in RETRYABLE_CODES:
                raise ResultsStoreUnavailable(f"PutItem {scan_id}/{bucket}: {error_code(exc)}") from exc
            raise
        return item

    def scan_items(self, scan_id: str, *, execution: str | None = None) -> dict[str, dict[str, Any]]:
        """Every item of one scan, by bucket name; with `execution`, only the items that execution wrote
        (an earlier scan with the same id may have left items for buckets this one does not list)."""
        items: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "scan_id = :s",
            "ExpressionAttributeValues": {":s": {"S": scan_id}},
            "ConsistentRead": True,
        }
        if execution is not None:
            request.update(FilterExpression="#execution = :e", ExpressionAttributeNames={"#execution": "execution"})
            request["ExpressionAttributeValues"][":e"] = {"S": execution}
        try:
            while True:
                page = self._dynamodb.query(**request)
                for raw in page.get("Items", []):
                    item = _plain({k: self._deserialize(v) for k, v in raw.items()})
                    items[item["bucket"]] = item
                if "LastEvaluatedKey" not in page:
                    return items
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except Exception as exc:
            if error_code(exc) in RETRYABLE_CODES:
                raise ResultsStoreUnavailable(f"Query {scan_id}: {error_code(exc)}") from exc
            raise
