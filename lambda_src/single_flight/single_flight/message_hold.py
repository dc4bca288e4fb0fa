"""Keep a tick's message in flight for as long as the API may still be working on its call.

Why: a call can end, for the consumer, before it ends at the API (client timeout, dropped
connection, crash, function timeout). SQS would then hand the message out again after the
queue's visibility timeout, and a second call would start while the first may still run. So,
just before calling, the consumer sets its message's visibility to the longest the API may work
on one call (`api.max_call_seconds`), and never less than what is left of this invocation
(Powertools' in-progress lock on the key lasts until then). Whatever ends the call, the message
cannot be received before that; while it is in flight the FIFO group is blocked and the tick
enqueues nothing. A call that succeeds deletes it earlier.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from single_flight.errors import MessageNotHeld

SQS_MAX_VISIBILITY_SECONDS = 43200  # 12 h, counted from the receive


class SqsClient(Protocol):  # the subset of boto3's SQS client used here
    def change_message_visibility(self, **kwargs: Any) -> Any: ...


def queue_url(queue_arn: str) -> str:
    """The queue URL of an SQS queue ARN (`arn:aws:sqs:<region>:<account>:<name>`)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise MessageNotHeld(f"the record's eventSourceARN is not an SQS queue: {queue_arn!r}")
    _, partition, _, region, account, name = parts
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"


def hold_seconds(max_call_s: float, remaining_invocation_ms: int) -> int:
    """How long to keep the message hidden: the API's limit, never less than the invocation's rest."""
    seconds = max(math.ceil(max_call_s), math.ceil(remaining_invocation_ms / 1000) + 1)
    return min(seconds, SQS_MAX_VISIBILITY_SECONDS)


def hold_message(sqs: SqsClient, *, record: Any, seconds: int) -> None:
    """Hide `record` (a Powertools `SQSRecord`) for `seconds`; raise MessageNotHeld if SQS refuses,
    so that no call starts whose message could be handed out again while it runs."""
    try:
        sqs.change_message_visibility(QueueUrl=queue_url(record.event_source_arn),
                                      ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds)
    except MessageNotHeld:
        raise
    except Exception as exc:  # botocore ClientError or a connection error: do not call
        raise MessageNotHeld(
            f"could not keep the message in flight for {seconds}s ({type(exc).__name__}: {exc}); no call made"
        ) from exc
