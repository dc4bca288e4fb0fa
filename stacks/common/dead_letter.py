"""An encrypted SQS dead-letter queue whose depth pages the notices topic."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common.alarms import alarm_on_any
from stacks.common.nag import acknowledge
from stacks.common.notifications import NotificationTopic


def alarmed_dead_letter_queue(
    scope: Construct,
    *,
    notices: NotificationTopic,
    why_no_dlq: str,
    alarm_description: str,
    retention: Duration = Duration.days(14),
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    queue_id: str = "DeadLetterQueue",
    alarm_id: str = "DeadLetterAlarm",
) -> tuple[sqs.Queue, cloudwatch.Alarm]:
    """SQS-managed encryption, TLS only, `retention`; an alarm as soon as one message is visible.

    `why_no_dlq`: the cdk-nag acknowledgement (a DLQ has no DLQ of its own), saying whose DLQ it is.
    """
    queue = sqs.Queue(
        scope,
        queue_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=retention,
        removal_policy=removal_policy,
    )
    acknowledge(queue, "AwsSolutions-SQS3", why_no_dlq)
    acknowledge(
        queue, "Serverless-SQSRedrivePolicy", "A dead-letter queue has no redrive target of its own; its depth is alarmed instead."
    )
    alarm = alarm_on_any(
        scope,
        alarm_id,
        notices=notices,
        description=alarm_description,
        metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM),
    )
    return queue, alarm
