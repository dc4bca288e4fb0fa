"""SingleFlight: a Lambda-free EXPRESS tick enqueues to an SQS FIFO queue only when nothing
is queued or in flight; a consumer makes one long API call per message, never two at once."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.common.bundling import python_code_asset, target_platform
from stacks.common.config import ConfigError, StageConfig
from stacks.common.lambda_function import PythonFunction, PythonFunctionProps
from stacks.common.nag import acknowledge
from stacks.common.notifications import NotificationTopic, NotificationTopicProps
from stacks.common.schedule import SCHEDULED_TIME, StateMachineSchedule, StateMachineScheduleProps
from stacks.common.state_machine import MonitoredStateMachine, MonitoredStateMachineProps, notify_failure_then_fail_jsonata
from stacks.common.retries import retry_with_jitter
from stacks.common.alarms import alarm_on_any
from stacks.single_flight.settings import SingleFlightSettings
from stacks.single_flight.workflow import WORKFLOW as DECLARED

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src" / "single_flight"
WORKFLOW = DECLARED.name
SETTINGS_KEY = DECLARED.settings_key

INVALID_INPUT_ERROR = "InvalidTickInput"
# What the scheduler sends: the firing's scheduled time, which names the tick (deduplication id).
SCHEDULE_INPUT = {"scheduled_time": SCHEDULED_TIME}
SKIPPED_OUTPUT = {"enqueued": False, "reason": "in flight"}
# The tick's message is named by its scheduled time: a repeated firing cannot enqueue twice (FIFO deduplication).
DEDUPLICATION_ID = "{% 'tick-' & $scheduledTime %}"
# Transient errors of the two SQS calls (aws-sdk integration names "Sqs.*", optimized integration "SQS.*").
RETRYABLE_SQS_ERRORS = [
    "Sqs.SdkClientException",
    "Sqs.SqsException",
    "Sqs.RequestThrottledException",
    "SQS.SdkClientException",
    "SQS.AmazonSQSException",
    "States.Timeout",
]
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


class SingleFlightStack(Stack):
    """Exposes `settings`, `notices`, `queue`, `dead_letter_queue`, `dead_letter_alarm`,
    `idempotency_table`, `consumer`, `tick` (the monitored EXPRESS state machine) and `schedule`.

    Settings: `DECLARED.settings_key` (stacks/<workflow>/stages.json per stage; preflight reads them)."""


    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, description="single-flight: a tick enqueues to SQS FIFO when nothing is in flight; one long API call at a time", **kwargs)
        self.settings = stage.workflow_settings(SETTINGS_KEY, SingleFlightSettings)
        if stage.name != "local" and not self.settings.api.endpoint.startswith("https://"):
            raise ConfigError(f"single_flight.api.endpoint {self.settings.api.endpoint} must be https:// (the token travels with each request)")
        self.notices = NotificationTopic(self, "Notices", props=NotificationTopicProps(display_name="single-flight notices", removal_policy=stage.removal_policy))
        self.dead_letter_queue, self.queue = self._build_queues(stage)
        self.dead_letter_alarm = self._build_dead_letter_alarm()
        self.idempotency_table = self._build_idempotency_table(stage)
        self.consumer = self._build_consumer(stage, endpoint_setting=f"{stage.workflow_path(SETTINGS_KEY)}.api.endpoint")
        self.tick = MonitoredStateMachine(
            self,
            "Tick",
            props=MonitoredStateMachineProps(
                definition=self._build_definition(),
                notices=self.notices,
                timeout=Duration.seconds(self.settings.tick_timeout_seconds),
                state_machine_type=sfn.StateMachineType.EXPRESS,
                query_language=sfn.QueryLanguage.JSONATA,
                # One execution a minute: ERROR keeps log ingestion below the execution's own price.
                log_level=sfn.LogLevel.ERROR,
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                comment="Enqueue one tick message unless one is queued or in flight",
            ),
        )
        self.schedule = StateMachineSchedule(
            self,
            "Schedule",
            props=StateMachineScheduleProps(
                state_machine=self.tick.state_machine,
                alarm_topic=self.notices,
                expression=self.settings.schedule_expression,
                timezone=self.settings.schedule_timezone,
                input=SCHEDULE_INPUT,
                enabled=self.settings.schedule_enabled,
                description="single-flight tick",
                retry_attempts=self.settings.schedule_retry_attempts,
                maximum_event_age=Duration.seconds(self.settings.schedule_max_event_age_seconds),
                dlq_retention=Duration.days(self.settings.dlq_retention_days),
                removal_policy=stage.removal_policy,
            ),
        )

    def _build_queues(self, stage: StageConfig) -> tuple[sqs.Queue, sqs.Queue]:
        dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            fifo=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(self.settings.dlq_retention_days),
            removal_policy=stage.removal_policy,
        )
        acknowledge(dead_letter_queue, "AwsSolutions-SQS3", "This queue is itself the work queue's dead-letter queue.")
        acknowledge(dead_letter_queue, "Serverless-SQSRedrivePolicy", "This queue is itself the work queue's dead-letter queue.")
        queue = sqs.Queue(
            self,
            "Queue",
            fifo=True,
            content_based_deduplication=False,  # every message carries its tick's deduplication id
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(self.settings.visibility_timeout_seconds),
            max_message_size_bytes=1024,  # a tick message is ~100 bytes; refuse anything else
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=self.settings.max_receive_count),
            removal_policy=stage.removal_policy,
        )
        return dead_letter_queue, queue

    def _build_dead_letter_alarm(self) -> cloudwatch.Alarm:
        return alarm_on_any(
            self, "DeadLetterAlarm", notices=self.notices,
            description="A tick message could not be processed (see the work queue's DLQ)",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
        )

    def _build_idempotency_table(self, stage: StageConfig) -> dynamodb.Table:
        # The attribute names are Powertools Idempotency's defaults.
        return dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            time_to_live_attribute="expiration",
            removal_policy=stage.removal_policy,
        )

    def _build_consumer(self, stage: StageConfig, *, endpoint_setting: str) -> lambda_.Function:
        """`endpoint_setting`: where the endpoint lives in cdk.json, named by the function's error while it is a placeholder."""
        api = self.settings.api
        credentials = secretsmanager.Secret.from_secret_name_v2(self, "ApiCredentials", api.credentials_secret_name)
        consumer = PythonFunction(
            self,
            "Consumer",
            props=PythonFunctionProps(
                code=python_code_asset(LAMBDA_SOURCE, target_platform(stage)),
                handler="single_flight.handlers.consume.handler",
                service=WORKFLOW,
                metrics_namespace=DECLARED.stack_id,
                memory_size_mb=self.settings.function_memory_mb,
                timeout=Duration.seconds(self.settings.function_timeout_seconds),
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                description="Calls the long API once per tick message",
                environment={
                    "API_ENDPOINT": api.endpoint,
                    "API_ENDPOINT_SETTING": endpoint_setting,
                    "API_CREDENTIALS_SECRET_NAME": api.credentials_secret_name,
                    "API_TIMEOUT_SECONDS": str(api.timeout_seconds),
                    "API_MAX_CALL_SECONDS": str(api.max_call_seconds),
                    "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
                    "IDEMPOTENCY_EXPIRY_SECONDS": str(self.settings.idempotency_expiry_seconds),
                    "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue.queue_url,
                },
            ),
        ).function
        credentials.grant_read(consumer)
        consumer.add_to_role_policy(iam.PolicyStatement(actions=IDEMPOTENCY_ACTIONS, resources=[self.idempotency_table.table_arn]))
        # Permanent failures (4xx, malformed message) are moved to the DLQ by the handler itself.
        # (The event source grants sqs:ChangeMessageVisibility on the work queue, which holds a message for its call.)
        consumer.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]))
        consumer.add_event_source(
            event_sources.SqsEventSource(self.queue, batch_size=1, report_batch_item_failures=True)
        )
        acknowledge(consumer, "Serverless-LambdaDLQ",
            "Invoked by an SQS event source mapping: failed messages go to the queue's FIFO DLQ, not to a function DLQ.")
        acknowledge(consumer, "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings support no on-failure destination; the queue's redrive policy (FIFO DLQ) is it.")
        return consumer

    def _retry_with_jitter(self, task: sfn.TaskStateBase) -> None:
        interval = self.settings.tick_retry_interval_seconds
        retry_with_jitter(task, RETRYABLE_SQS_ERRORS, interval_seconds=interval,
                          max_attempts=self.settings.tick_retry_max_attempts, max_delay_seconds=max(interval * 4, 1))

    def _build_definition(self) -> sfn.IChainable:
        on_failure = notify_failure_then_fail_jsonata(self, notices=self.notices, workflow=WORKFLOW)
        read_counts = tasks.CallAwsService.jsonata(
            self,
            "ReadQueueCounts",
            service="sqs",
            action="getQueueAttributes",
            iam_action="sqs:GetQueueAttributes",
            iam_resources=[self.queue.queue_arn],
            parameters={
                "QueueUrl": self.queue.queue_url,
                "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            },
            outputs={
                "visible": "{% $number($states.result.Attributes.ApproximateNumberOfMessages) %}",
                "in_flight": "{% $number($states.result.Attributes.ApproximateNumberOfMessagesNotVisible) %}",
            },
            task_timeout=sfn.Timeout.duration(Duration.seconds(10)),
            comment="Queued (visible) and in-flight (received, not deleted) messages",
        )
        self._retry_with_jitter(read_counts)
        read_counts.add_catch(on_failure, errors=["States.ALL"])  # the caught error is the output

        enqueue = tasks.SqsSendMessage.jsonata(
            self,
            "Enqueue",
            queue=self.queue,
            message_body=sfn.TaskInput.from_object({"scheduled_time": "{% $scheduledTime %}"}),
            message_group_id=self.settings.message_group_id,
            message_deduplication_id=DEDUPLICATION_ID,
            outputs={"enqueued": True, "message_id": "{% $states.result.MessageId %}", "deduplication_id": DEDUPLICATION_ID},
            task_timeout=sfn.Timeout.duration(Duration.seconds(10)),
        )
        self._retry_with_jitter(enqueue)
        enqueue.add_catch(on_failure, errors=["States.ALL"])
        skipped = sfn.Pass.jsonata(self, "Skipped", outputs=SKIPPED_OUTPUT, comment="A message is queued or in flight")

        nothing_in_flight = sfn.Condition.jsonata("{% $states.input.visible = 0 and $states.input.in_flight = 0 %}")
        decide = sfn.Choice.jsonata(self, "AnythingInFlight").when(nothing_in_flight, enqueue).otherwise(skipped)

        invalid_input = sfn.Fail.jsonata(self, "InvalidInput", error=INVALID_INPUT_ERROR, cause="scheduled_time must be a non-empty string")
        has_time = sfn.Condition.jsonata("{% $type($states.input.scheduled_time) = 'string' and $states.input.scheduled_time != '' %}")
        # Only the scheduled time goes on, as a variable: it names the tick's message.
        return (
            sfn.Choice.jsonata(self, "ValidateInput")
            .when(has_time, read_counts.next(decide), assign={"scheduledTime": "{% $states.input.scheduled_time %}"}, outputs={})
            .otherwise(invalid_input)
        )
