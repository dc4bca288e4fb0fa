"""What the on-call would receive: an SQS queue subscribed to a deployed workflow's notice topic."""

from __future__ import annotations

import json
import uuid
from typing import Callable

from sandbox.session import DeployedWorkflow


def notice_inbox(workflow: DeployedWorkflow, *, topic_arn: str | None = None, wait_seconds: int = 1) -> Callable[[], list[dict]]:
    """Subscribe a new queue to `topic_arn` (default: the stack's only topic); return `received()`,
    which reads, deletes and returns the JSON notices that arrived since the last call (waiting up to
    `wait_seconds` for a first one; 0 suits a finished execution: the emulator's SNS delivers as it publishes)."""
    emulator = workflow.emulator
    if topic_arn is None:
        (topic_arn,) = [workflow.stack.resources[lid] for lid, t in workflow.stack.resource_types.items() if t == "AWS::SNS::Topic"]
    sqs = emulator.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"{workflow.spec.name}-notices-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    emulator.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    def received() -> list[dict]:
        messages, wait = [], wait_seconds
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", []):
            for message in batch:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages += batch
            wait = 0
        return [json.loads(message["Body"]) for message in messages]

    return received
