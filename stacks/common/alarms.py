"""The one alarm shape every workflow uses: page the notices topic as soon as a metric reaches 1."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from constructs import Construct

from stacks.common.notifications import NotificationTopic


def alarm_on_any(scope: Construct, construct_id: str, *, metric: cloudwatch.IMetric, notices: NotificationTopic,
                 description: str | None = None) -> cloudwatch.Alarm:
    """An alarm that fires when `metric` (its own statistic and period) is >= 1 in one period, treats
    missing data as fine, and publishes to `notices` (whose topic and key policies let this stack's alarms in)."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(notices.topic))
    return alarm
