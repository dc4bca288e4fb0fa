"""An EventBridge Scheduler schedule that starts a state machine, with a retry policy,
an encrypted dead-letter queue (alarmed) and a role that may only start that machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.common.nag import acknowledge
from stacks.common.notifications import NotificationTopic


@dataclass(frozen=True)
class StateMachineScheduleProps:
    """Props of `StateMachineSchedule`.

    expression: `rate(...)`, `cron(...)` or `at(...)`; default "rate(1 minute)".
    timezone: IANA zone the expression is read in; default "UTC".
    state_machine: the machine each firing starts; required.
    input: execution input, a JSON object; strings may hold Scheduler context attributes
        such as "<aws.scheduler.scheduled-time>"; default {"scheduled_time": "<aws.scheduler.scheduled-time>"}.
    retry_attempts: how often Scheduler retries a failed StartExecution (0-185); default 3.
    max_event_age: drop (to the DLQ) a firing not delivered within this (60 s - 24 h); default 5 minutes.
    notices: topic the dead-letter alarm notifies; required.
    enabled: default True.
    description: default "".
    dlq_retention: how long undelivered firings stay in the DLQ; default 14 days.
    removal_policy: of the DLQ; default DESTROY.
    """

    expression: str = "rate(1 minute)"
    timezone: str = "UTC"
    state_machine: sfn.IStateMachine | None = None
    input: Mapping[str, Any] = field(default_factory=lambda: {"scheduled_time": "<aws.scheduler.scheduled-time>"})
    retry_attempts: int = 3
    max_event_age: Duration = field(default_factory=lambda: Duration.minutes(5))
    notices: NotificationTopic | None = None
    enabled: bool = True
    description: str = ""
    dlq_retention: Duration = field(default_factory=lambda: Duration.days(14))
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY

    def __post_init__(self) -> None:
        if not 0 <= self.retry_attempts <= 185:
            raise ValueError("retry_attempts must be between 0 and 185")
        if not self.expression.startswith(("rate(", "cron(", "at(")):
            raise ValueError(f"expression {self.expression!r} must be rate(...), cron(...) or at(...)")


class StateMachineSchedule(Construct):
    """Exposes `schedule` (CfnSchedule), `role`, `dead_letter_queue` and `dead_letter_alarm`.

    The role may start this one state machine and send undelivered firings to this
    one DLQ (Scheduler sends to the DLQ with the target's role), nothing else.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: StateMachineScheduleProps) -> None:
        super().__init__(scope, construct_id)
        if props.state_machine is None or props.notices is None:
            raise ValueError("StateMachineScheduleProps.state_machine and .notices are required")
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=props.dlq_retention,
            removal_policy=props.removal_policy,
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(self.dead_letter_queue, rule, "This queue is itself the schedule's dead-letter queue.")
        account = Stack.of(self).account
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}),
            description="EventBridge Scheduler: start one state machine, dead-letter undelivered firings",
        )
        props.state_machine.grant_start_execution(self.role)
        # Scheduler sends undelivered firings to the DLQ with this role: SendMessage only.
        self.role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]))
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            schedule_expression=props.expression,
            schedule_expression_timezone=props.timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if props.enabled else "DISABLED",
            description=props.description or None,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=props.state_machine.state_machine_arn,
                role_arn=self.role.role_arn,
                input=Stack.of(self).to_json_string(dict(props.input)),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=props.retry_attempts,
                    maximum_event_age_in_seconds=int(props.max_event_age.to_seconds()),
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            ),
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterAlarm",
            alarm_description="A scheduled firing could not start the state machine (see the schedule's DLQ)",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letter_alarm.add_alarm_action(cw_actions.SnsAction(props.notices.topic))
