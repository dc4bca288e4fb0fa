"""Move a permanently failed message to the FIFO dead-letter queue, with why it failed."""

from __future__ import annotations

from typing import Any, Protocol

MAX_ATTRIBUTE_LENGTH = 1024


class SqsClient(Protocol):  # the subset of boto3's SQS client used here
    def send_message(self, **kwargs: Any) -> Any: ...


def dead_letter(sqs: SqsClient, *, queue_url: str, record: Any, error: Exception) -> str:
    """Send `record`'s body to the DLQ (same group and deduplication id); return the new message id.

    `record` is a Powertools `SQSRecord`. Raises whatever the send raises: the caller then
    reports the record failed, and SQS redelivers it (nothing is lost).
    """
    attributes = record.attributes
    response = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=record.body,
        MessageGroupId=attributes.message_group_id or "dead-letter",
        MessageDeduplicationId=attributes.message_deduplication_id or record.message_id,
        MessageAttributes={
            "ErrorType": {"DataType": "String", "StringValue": type(error).__name__},
            "ErrorMessage": {"DataType": "String", "StringValue": (str(error) or "-")[:MAX_ATTRIBUTE_LENGTH]},
            "SourceMessageId": {"DataType": "String", "StringValue": record.message_id},
            "ReceiveCount": {"DataType": "Number", "StringValue": str(attributes.approximate_receive_count)},
        },
    )
    return response["MessageId"]
