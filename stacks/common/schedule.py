"""An EventBridge Scheduler schedule that starts a Step Functions state machine.

The target has a bounded retry policy, an encrypted SQS dead-letter queue for
events the scheduler could not deliver (with an alarm on its depth), and a role
that may only start that one state machine (and send to its own DLQ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.common.dead_letter import alarmed_dead_letter_queue
from stacks.common.notifications import NotificationTopic

# What EventBridge Scheduler substitutes in a target's input (its "context attributes").
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
SCHEDULE_EXECUTION_ID = "<aws.scheduler.execution-id>"
SCHEDULE_ATTEMPT = "<aws.scheduler.attempt-number>"
SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"


@dataclass(frozen=True)
class StateMachineScheduleProps:
    """Props of `StateMachineSchedule`.

    state_machine: the target; required.
    alarm_topic: receives the DLQ depth alarm; required.
    expression: `cron(...)`, `rate(...)` or `at(...)`; default "rate(1 day)".
    timezone: IANA zone the expression is read in; default "UTC".
    input: the execution input; strings may hold the scheduler's context attributes
        (SCHEDULED_TIME etc.); default {"scheduledTime": SCHEDULED_TIME}.
    enabled: default True.
    description: default "".
    flexible_window_minutes: 0 starts on time (default); N lets the scheduler spread starts over N minutes.
    retry_attempts: deliveries retried by the scheduler when StartExecution fails (throttled,
        unavailable); default 3 (0-185).
    maximum_event_age: give up (and dead-letter) an event older than this; default 1 hour (60 s-24 h).
    dlq_retention: how long undeliverable events stay in the DLQ; default 14 days.
    removal_policy: of the DLQ; default DESTROY.
    """

    state_machine: sfn.IStateMachine | None = None
    alarm_topic: NotificationTopic | None = None
    expression: str = "rate(1 day)"
    timezone: str = "UTC"
    input: Mapping[str, Any] = field(default_factory=lambda: {"scheduledTime": SCHEDULED_TIME})
    enabled: bool = True
    description: str = ""
    flexible_window_minutes: int = 0
    retry_attempts: int = 3
    maximum_event_age: Duration = field(default_factory=lambda: Duration.hours(1))
    dlq_retention: Duration = field(default_factory=lambda: Duration.days(14))
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY

    def __post_init__(self) -> None:
        if not 0 <= self.retry_attempts <= 185:
            raise ValueError("retry_attempts must be between 0 and 185")
        if not 60 <= self.maximum_event_age.to_seconds() <= 86_400:
            raise ValueError("maximum_event_age must be between 60 seconds and 24 hours")
        if self.flexible_window_minutes < 0 or self.flexible_window_minutes > 1440:
            raise ValueError("flexible_window_minutes must be between 0 and 1440")


class StateMachineSchedule(Construct):
    """Exposes `schedule` (CfnSchedule), `role`, `dead_letter_queue` and `dlq_alarm`."""

    def __init__(self, scope: Construct, construct_id: str, *, props: StateMachineScheduleProps) -> None:
        super().__init__(scope, construct_id)
        if props.state_machine is None or props.alarm_topic is None:
            raise ValueError("StateMachineScheduleProps.state_machine and .alarm_topic are required")
        account = Stack.of(self).account
        self.dead_letter_queue, self.dlq_alarm = alarmed_dead_letter_queue(
            self,
            notices=props.alarm_topic,
            why_no_dlq="This queue is itself the scheduler target's dead-letter queue; its depth is alarmed.",
            alarm_description="Scheduled starts could not be delivered (see the DLQ's messages)",
            retention=props.dlq_retention,
            removal_policy=props.removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            description="EventBridge Scheduler: start one state machine",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}
            ),
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[props.state_machine.state_machine_arn])
        )
        # The scheduler sends undeliverable events to the DLQ with this same role.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn])
        )
        window = (
            scheduler.CfnSchedule.FlexibleTimeWindowProperty(
                mode="FLEXIBLE", maximum_window_in_minutes=props.flexible_window_minutes
            )
            if props.flexible_window_minutes
            else scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF")
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            schedule_expression=props.expression,
            schedule_expression_timezone=props.timezone,
            flexible_time_window=window,
            state="ENABLED" if props.enabled else "DISABLED",
            description=props.description or None,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=props.state_machine.state_machine_arn,
                role_arn=self.role.role_arn,
                input=json.dumps(dict(props.input), ensure_ascii=False, sort_keys=True),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=props.retry_attempts,
                    maximum_event_age_in_seconds=int(props.maximum_event_age.to_seconds()),
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            ),
        )
