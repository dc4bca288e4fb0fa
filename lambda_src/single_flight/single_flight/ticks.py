"""A tick message: what the tick state machine enqueues, read back from an SQS record.

Body `{"scheduled_time": "<ISO time>"}`; the FIFO deduplication id (`tick-<scheduled_time>`)
names the tick and is the idempotency key of its API call.
"""

from __future__ import annotations

import json
from typing import Any

from single_flight.errors import InvalidTickMessage

MAX_FIELD_LENGTH = 128  # SQS limit of a deduplication id


def parse_tick(body: Any, deduplication_id: Any) -> dict[str, str]:
    """Return {"scheduled_time", "deduplication_id"} or raise InvalidTickMessage."""
    if not isinstance(deduplication_id, str) or not deduplication_id.strip():
        raise InvalidTickMessage("the message has no MessageDeduplicationId (not from a FIFO queue?)")
    try:
        document = json.loads(body) if isinstance(body, str) else None
    except json.JSONDecodeError as exc:
        raise InvalidTickMessage(f"body is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(document, dict):
        raise InvalidTickMessage("body must be a JSON object with scheduled_time")
    scheduled_time = document.get("scheduled_time")
    if not isinstance(scheduled_time, str) or not scheduled_time.strip():
        raise InvalidTickMessage("scheduled_time must be a non-empty string")
    if len(scheduled_time) > MAX_FIELD_LENGTH:
        raise InvalidTickMessage(f"scheduled_time must be at most {MAX_FIELD_LENGTH} characters")
    return {"scheduled_time": scheduled_time, "deduplication_id": deduplication_id}
