"""ItemBatcher as AWS runs it: items grouped into ``{"Items": [...], "BatchInput": {...}}``."""

from __future__ import annotations

import json
from typing import Any, Callable

# Step Functions' own ceiling on a batch (and on any state input): 256 KiB of UTF-8.
MAX_BATCH_BYTES = 256 * 1024


class BatchingError(ValueError):
    """The batcher's settings or an item make batching impossible (the Map Run fails)."""


def batch_size_bytes(batch: dict[str, Any]) -> int:
    """Size of a batch as Step Functions measures state input: UTF-8 bytes of its JSON."""
    return len(json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def resolve_template(template: Any, data: Any, context: Any, extract: Callable[[str, Any], Any]) -> Any:
    """Evaluate a Parameters-style template: keys ending in ``.$`` take the value at a JSONPath
    of ``data`` (``$``) or of the context object (``$$``)."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                out[key[:-2]] = extract(value[1:], context) if value.startswith("$$") else extract(value, data)
            else:
                out[key] = resolve_template(value, data, context, extract)
        return out
    if isinstance(template, list):
        return [resolve_template(v, data, context, extract) for v in template]
    return template


def make_batches(items: list[Any], *, max_items: int | None, max_bytes: int | None,
                 batch_input: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Greedy batching in item order, as AWS does: a batch closes when adding the next item would
    exceed ``max_items`` items or ``max_bytes`` bytes (the whole batch JSON, BatchInput included)."""
    if max_items is not None and max_items < 1:
        raise BatchingError(f"MaxItemsPerBatch must be a positive integer, got {max_items}")
    if max_bytes is not None and not 1 <= max_bytes <= MAX_BATCH_BYTES:
        raise BatchingError(f"MaxInputBytesPerBatch must be between 1 and {MAX_BATCH_BYTES}, got {max_bytes}")
    limit_bytes = min(max_bytes or MAX_BATCH_BYTES, MAX_BATCH_BYTES)

    def new_batch() -> dict[str, Any]:
        return {"Items": []} if batch_input is None else {"Items": [], "BatchInput": batch_input}

    empty_bytes = batch_size_bytes(new_batch())
    batches: list[dict[str, Any]] = []
    current = new_batch()
    current_bytes = empty_bytes
    for index, item in enumerate(items):
        item_bytes = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if empty_bytes + item_bytes > limit_bytes:
            raise BatchingError(f"item {index} alone is {empty_bytes + item_bytes} bytes as a batch, "
                                f"over the {limit_bytes}-byte batch limit")
        grown = current_bytes + item_bytes + (1 if current["Items"] else 0)  # the comma
        full = (max_items is not None and len(current["Items"]) >= max_items) or grown > limit_bytes
        if current["Items"] and full:
            batches.append(current)
            current, current_bytes = new_batch(), empty_bytes
            grown = current_bytes + item_bytes
        current["Items"].append(item)
        current_bytes = grown
    if current["Items"]:
        batches.append(current)
    return batches
