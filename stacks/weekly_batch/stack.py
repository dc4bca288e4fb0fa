"""WeeklyBatch: Thursday 09:30 JST, check BigQuery for yesterday's rows (bounded wait loop),
MERGE the week idempotently, Slack notices on every path, once per target date."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.common.bundling import python_code_asset, target_platform
from stacks.common.retries import LAMBDA_SERVICE_ERRORS, retry_from_settings
from stacks.common.config import ConfigError, StageConfig
from stacks.common.dead_letter import alarmed_dead_letter_queue
from stacks.common.lambda_function import PythonFunction, PythonFunctionProps
from stacks.common.nag import acknowledge_wildcard_resource, arn_token
from stacks.common.notifications import NotificationTopic, NotificationTopicProps
from stacks.common.schedule import SCHEDULED_TIME, StateMachineSchedule, StateMachineScheduleProps
from stacks.common.state_machine import MonitoredStateMachine, MonitoredStateMachineProps, notify_failure_then_fail_jsonata
from stacks.common.table import DataTable, DataTableProps
from stacks.common.alarms import alarm_on_any
from stacks.weekly_batch.settings import WeeklyBatchSettings
from stacks.weekly_batch.workflow import WORKFLOW as DECLARED

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src" / "weekly_batch"
WORKFLOW = DECLARED.name
SETTINGS_KEY = DECLARED.settings_key
SQL_TEMPLATES = ("count_rows.sql", "weekly_insert.sql")

# Exception class names raised by lambda_src/weekly_batch/weekly_batch/errors.py.
BIGQUERY_RETRYABLE_ERRORS = ["BigQueryAuthFailed", "BigQueryQuotaExceeded", "BigQueryUnavailable", "BigQueryTimeout"]
# Not SlackRateLimited: the notifier already waited what Retry-After allowed; retries seconds apart would not.
SLACK_RETRYABLE_ERRORS = ["SlackUnavailable"]
DATA_NOT_READY = "DataNotReady"
DYNAMODB_TRANSIENT_ERRORS = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
]
GUARD_TAKEN = "DynamoDB.ConditionalCheckFailedException"
NOTICE_KINDS = ("starting", "waiting", "succeeded", "failed", "gave_up")
# Endings the definition cannot record in the guard itself (StopExecution, the execution timeout, an
# uncatchable States.* error); FAILED also covers a MarkRunFailed that failed. The releaser is a no-op
# for a guard whose outcome is already recorded.
UNSUCCESSFUL_END_STATUSES = ["ABORTED", "TIMED_OUT", "FAILED"]
STATUS_CHANGE = "Step Functions Execution Status Change"
STATE_INPUT = "{% $states.input %}"
EXECUTION_ID = "{% $states.context.Execution.Id %}"


class WeeklyBatchStack(Stack):
    """Exposes `settings`, `notices` (topic), `guard` (table), `plan_function`, `check_function`,
    `insert_function`, `notify_function`, `notifier_errors_alarm`, `workflow`, `schedule`, and the guard's
    releaser: `release_guard_function`, `release_guard_rule`, `release_guard_dead_letter_queue` (+ `_alarm`).

    Settings: `DECLARED.settings_key` (stacks/<workflow>/stages.json per stage; preflight reads them)."""


    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs) -> None:
        super().__init__(
            scope,
            construct_id,
            description="weekly-batch: weekly BigQuery check-and-wait, idempotent insert, Slack notices",
            **kwargs,
        )
        self.settings = stage.workflow_settings(SETTINGS_KEY, WeeklyBatchSettings)
        bigquery = self.settings.bigquery
        if stage.name != "local" and (bigquery.credentials == "anonymous" or bigquery.api_endpoint.startswith("http://")):
            raise ConfigError(f"{WORKFLOW}: anonymous credentials and http:// endpoints are for the local stage only")
        self.notices = NotificationTopic(
            self,
            "Notices",
            props=NotificationTopicProps(display_name="weekly-batch notices", removal_policy=stage.removal_policy),
        )
        self.guard = DataTable(
            self,
            "RunGuard",
            props=DataTableProps(
                partition_key="targetDate", sort_key=None, ttl_attribute="expiresAt", removal_policy=stage.removal_policy
            ),
        ).table
        code = python_code_asset(LAMBDA_SOURCE, target_platform(stage))
        self.plan_function = self._function(
            "PlanFunction",
            code,
            stage,
            handler="weekly_batch.handlers.plan.handler",
            timeout_s=10,
            memory_mb=256,
            description="Resolves the target date and week",
            environment={
                "BUSINESS_TIMEZONE": self.settings.schedule_timezone,
                "GUARD_TTL_DAYS": str(self.settings.guard_ttl_days),
            },
        )
        self.check_function = self._bigquery_function(
            "CheckFunction",
            code,
            stage,
            "check",
            self.settings.check_timeout_seconds,
            "Counts the target date's rows in BigQuery",
        )
        self.insert_function = self._bigquery_function(
            "InsertFunction", code, stage, "insert", self.settings.insert_timeout_seconds, "MERGEs the week's summary in BigQuery"
        )
        self.notify_function = self._build_notify_function(code, stage)
        self.workflow = MonitoredStateMachine(
            self,
            "Workflow",
            props=MonitoredStateMachineProps(
                definition=self._build_definition(),
                notices=self.notices,
                invoked_functions=(self.plan_function, self.check_function, self.insert_function, self.notify_function),
                timeout=Duration.seconds(self.settings.execution_timeout_seconds),
                query_language=sfn.QueryLanguage.JSONATA,
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                comment="Weekly: wait (bounded) for yesterday's BigQuery rows, MERGE the week, notify Slack",
            ),
        )
        self.guard.grant(self.workflow.state_machine, "dynamodb:PutItem", "dynamodb:UpdateItem")
        self._build_guard_release(code, stage)
        self.schedule = StateMachineSchedule(
            self,
            "Schedule",
            props=StateMachineScheduleProps(
                state_machine=self.workflow.state_machine,
                alarm_topic=self.notices,
                expression=self.settings.schedule_expression,
                timezone=self.settings.schedule_timezone,
                input={"scheduledTime": SCHEDULED_TIME},
                enabled=self.settings.schedule_enabled,
                description="weekly-batch: Thursday 09:30 Asia/Tokyo",
                removal_policy=stage.removal_policy,
            ),
        )

    # ---- functions -------------------------------------------------------------------------

    def _function(
        self,
        construct_id: str,
        code: lambda_.Code,
        stage: StageConfig,
        *,
        handler: str,
        timeout_s: int,
        memory_mb: int,
        description: str,
        environment: dict[str, str],
    ) -> lambda_.Function:
        return PythonFunction(
            self,
            construct_id,
            props=PythonFunctionProps(
                code=code,
                handler=handler,
                service=WORKFLOW,
                metrics_namespace=DECLARED.stack_id,
                memory_size_mb=memory_mb,
                timeout=Duration.seconds(timeout_s),
                environment=environment,
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                description=description,
            ),
        ).function

    def _bigquery_function(
        self, construct_id: str, code: lambda_.Code, stage: StageConfig, module: str, timeout_s: int, description: str
    ) -> lambda_.Function:
        bq = self.settings.bigquery
        environment = {
            "BIGQUERY_PROJECT": bq.project,
            "BIGQUERY_PROJECT_SETTING": f"{stage.workflow_path(SETTINGS_KEY)}.bigquery.project",
            "BIGQUERY_DATASET": bq.dataset,
            "BIGQUERY_SOURCE_TABLE": bq.source_table,
            "BIGQUERY_TARGET_TABLE": bq.target_table,
            "BIGQUERY_LOCATION": bq.location,
            "BIGQUERY_API_ENDPOINT": bq.api_endpoint,
            "BIGQUERY_CREDENTIALS": bq.credentials,
            "BIGQUERY_QUERY_TIMEOUT_SECONDS": str(bq.query_timeout_seconds),
        }
        if bq.credentials != "anonymous":
            environment["BIGQUERY_CREDENTIALS_SECRET_NAME"] = bq.credentials_secret_name
        if bq.sql_templates_bucket:
            environment.update(SQL_TEMPLATES_BUCKET=bq.sql_templates_bucket, SQL_TEMPLATES_PREFIX=bq.sql_templates_prefix)
        function = self._function(
            construct_id,
            code,
            stage,
            handler=f"weekly_batch.handlers.{module}.handler",
            timeout_s=timeout_s,
            memory_mb=512,
            description=description,
            environment=environment,
        )
        if bq.credentials != "anonymous":
            secretsmanager.Secret.from_secret_name_v2(self, f"{construct_id}Credentials", bq.credentials_secret_name).grant_read(
                function
            )
        if bq.sql_templates_bucket:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[
                        self.format_arn(
                            service="s3",
                            region="",
                            account="",
                            resource=bq.sql_templates_bucket,
                            resource_name=f"{bq.sql_templates_prefix}{name}",
                        )
                        for name in SQL_TEMPLATES
                    ],
                )
            )
        return function

    def _build_notify_function(self, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        slack = self.settings.slack
        function = self._function(
            "NotifyFunction",
            code,
            stage,
            handler="weekly_batch.handlers.notify.handler",
            timeout_s=slack.function_timeout_seconds,
            memory_mb=256,
            description="Posts the batch's Slack notices",
            environment={
                "SLACK_WEBHOOK_SECRET_NAME": slack.webhook_secret_name,
                "SLACK_TIMEOUT_SECONDS": str(slack.http_timeout_seconds),
            },
        )
        secretsmanager.Secret.from_secret_name_v2(self, "SlackWebhookUrl", slack.webhook_secret_name).grant_read(function)
        # A notice that fails after its retries does not stop the batch, so someone must hear about it.
        self.notifier_errors_alarm = alarm_on_any(
            self, "NotifierErrors", notices=self.notices,
            description="Slack notices failed (the batch went on without them)",
            metric=function.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
        )
        return function

    def _build_guard_release(self, code: lambda_.Code, stage: StageConfig) -> None:
        """An execution that ends ABORTED, TIMED_OUT or FAILED while holding its date's guard at RUNNING
        releases it (FAILED), so that a deliberate re-run may proceed: a rule on Step Functions' own status
        events, whatever ended the run, rather than states that an abort or a timeout never reaches."""
        state_machine = self.workflow.state_machine
        self.release_guard_function = self._function(
            "ReleaseGuardFunction",
            code,
            stage,
            handler="weekly_batch.handlers.release_guard.handler",
            timeout_s=30,
            memory_mb=256,
            description="Releases the run guard of an execution that ended aborted, timed out or failed",
            environment={"GUARD_TABLE": self.guard.table_name, "BUSINESS_TIMEZONE": self.settings.schedule_timezone},
        )
        self.guard.grant(self.release_guard_function, "dynamodb:UpdateItem")
        # Only when the event left out a large input: read it back from the execution (of this machine only).
        executions = self.format_arn(
            service="states", resource="execution", resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.release_guard_function.add_to_role_policy(iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]))
        acknowledge_wildcard_resource(
            self.release_guard_function.role,
            f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{arn_token(state_machine, 'Name')}:*",
            "DescribeExecution on the executions of this workflow's own state machine only.",
        )
        self.release_guard_dead_letter_queue, self.release_guard_dead_letter_alarm = alarmed_dead_letter_queue(
            self,
            notices=self.notices,
            why_no_dlq="This queue is itself the dead-letter queue of the run-guard releaser; its depth is alarmed.",
            alarm_description="A run guard could not be released (see the DLQ's events): a re-run of that date stays refused",
            removal_policy=stage.removal_policy,
            queue_id="ReleaseGuardDeadLetterQueue",
            alarm_id="ReleaseGuardDeadLetterAlarm",
        )
        # Function errors (the table throttled): Lambda's two asynchronous retries, then the DLQ.
        self.release_guard_function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.release_guard_dead_letter_queue),
        )
        self.release_guard_rule = events.Rule(
            self,
            "ReleaseGuardOnUnsuccessfulEnd",
            description="weekly-batch: release the run guard of an execution that ended without success",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[STATUS_CHANGE],
                detail={"stateMachineArn": [state_machine.state_machine_arn], "status": UNSUCCESSFUL_END_STATUSES},
            ),
            # Events EventBridge could not deliver (throttled, no permission) also land in the DLQ.
            targets=[
                targets.LambdaFunction(
                    self.release_guard_function,
                    dead_letter_queue=self.release_guard_dead_letter_queue,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

    # ---- states ----------------------------------------------------------------------------

    def _invoke(self, construct_id: str, function: lambda_.IFunction, payload: dict, *, timeout_s: int,
                assign: dict[str, object] | None = None, outputs: object = None) -> tasks.LambdaInvoke:
        invoke = tasks.LambdaInvoke.jsonata(
            self,
            construct_id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,  # replaced by the jittered retry below
            assign=assign,
            outputs=outputs,
            task_timeout=sfn.Timeout.duration(Duration.seconds(timeout_s + 10)),
        )
        retry_from_settings(invoke, LAMBDA_SERVICE_ERRORS, self.settings)
        return invoke

    def _notice(self, construct_id: str, kind: str, facts: dict[str, object], then: sfn.IChainable) -> tasks.LambdaInvoke:
        """Post a Slack notice; whether delivered or not (after retries), record it in $notices.<kind> and go on to
        `then` with the state's input unchanged."""
        notice = self._invoke(
            construct_id,
            self.notify_function,
            {"kind": kind, **facts},
            timeout_s=self.settings.slack.function_timeout_seconds,
            assign={"notices": f"{{% $merge([$notices, {{'{kind}': $states.result}}]) %}}"},
            outputs=STATE_INPUT,
        )
        retry_from_settings(notice, SLACK_RETRYABLE_ERRORS, self.settings, max_attempts=self.settings.slack.retry_max_attempts)
        notice.add_catch(then, errors=["States.ALL"], outputs=STATE_INPUT,
                         assign={"notices": f"{{% $merge([$notices, {{'{kind}': $states.errorOutput}}]) %}}"})
        return notice

    def _guard_task(self, construct_id: str, status: str, *, outputs: object) -> tasks.DynamoUpdateItem:
        update = tasks.DynamoUpdateItem.jsonata(
            self,
            construct_id,
            table=self.guard,
            key={"targetDate": tasks.DynamoAttributeValue.from_string("{% $plan.targetDate %}")},
            update_expression="SET #status = :status, finishedAt = :now",
            condition_expression="executionId = :me",  # only the run holding the guard records its outcome
            expression_attribute_names={"#status": "status"},
            expression_attribute_values={
                ":status": tasks.DynamoAttributeValue.from_string(status),
                ":now": tasks.DynamoAttributeValue.from_string("{% $states.context.State.EnteredTime %}"),
                ":me": tasks.DynamoAttributeValue.from_string(EXECUTION_ID),
            },
            outputs=outputs,
            task_timeout=sfn.Timeout.duration(Duration.seconds(20)),
        )
        retry_from_settings(update, DYNAMODB_TRANSIENT_ERRORS, self.settings)
        return update

    def _build_definition(self) -> sfn.IChainable:
        """Variables: $plan (the dates and the guard's record), $checks (the loop's counter), $rows, $rowsAffected and
        $notices (each notice's delivery or error, by kind). A caught error travels as the state input (a JSONata
        Catch's output) through NotifyFailed and MarkRunFailed to the failure notice."""
        s = self.settings
        on_failure = notify_failure_then_fail_jsonata(self, notices=self.notices, workflow=WORKFLOW)
        dates = {key: f"{{% $plan.{key} %}}" for key in ("targetDate", "weekStart", "weekEnd")}

        plan = self._invoke("ResolveTargetDate", self.plan_function, {"input": STATE_INPUT}, timeout_s=10,
                            assign={"plan": "{% $states.result %}", "checks": 0, "notices": {}})
        plan.add_catch(on_failure, errors=["States.ALL"])

        acquire = tasks.DynamoPutItem.jsonata(
            self,
            "AcquireRunGuard",
            table=self.guard,
            item={
                "targetDate": tasks.DynamoAttributeValue.from_string("{% $plan.targetDate %}"),
                "status": tasks.DynamoAttributeValue.from_string("RUNNING"),
                "executionId": tasks.DynamoAttributeValue.from_string(EXECUTION_ID),
                "startedAt": tasks.DynamoAttributeValue.from_string("{% $states.context.Execution.StartTime %}"),
                "expiresAt": tasks.DynamoAttributeValue.number_from_string("{% $plan.guardExpiresAt %}"),
            },
            # First run for the date, or a deliberate re-run ("rerun": true) of a FAILED one.
            condition_expression="attribute_not_exists(targetDate) OR #status = :rerunnable",
            expression_attribute_names={"#status": "status"},
            expression_attribute_values={":rerunnable": tasks.DynamoAttributeValue.from_string("{% $plan.rerunnableStatus %}")},
            task_timeout=sfn.Timeout.duration(Duration.seconds(20)),
        )
        retry_from_settings(acquire, DYNAMODB_TRANSIENT_ERRORS, self.settings)
        already_ran = sfn.Pass.jsonata(self, "AlreadyRan", outputs={"outcome": "already ran", "targetDate": dates["targetDate"]})
        acquire.add_catch(already_ran, errors=[GUARD_TAKEN])
        acquire.add_catch(on_failure, errors=["States.ALL"])

        # The caught error is the input: record FAILED, then notify with that error (not the guard's own, if any).
        mark_failed = self._guard_task("MarkRunFailed", "FAILED", outputs=STATE_INPUT)
        mark_failed.add_catch(on_failure, errors=["States.ALL"], outputs=STATE_INPUT)
        mark_failed.next(on_failure)

        notify_failed = self._notice(
            "NotifyFailed", "failed", {**dates, "error": "{% $states.input.Error %}", "cause": "{% $states.input.Cause %}"},
            mark_failed,
        ).next(mark_failed)

        # The loop's counter: one more check done.
        check = self._invoke(
            "CheckRows",
            self.check_function,
            {"targetDate": dates["targetDate"]},
            timeout_s=s.check_timeout_seconds,
            assign={"rows": "{% $states.result.rows %}", "checks": "{% $checks + 1 %}"},
        )
        retry_from_settings(check, BIGQUERY_RETRYABLE_ERRORS, self.settings)
        check.add_catch(notify_failed, errors=["States.ALL"])

        wait = sfn.Wait.jsonata(self, "WaitForData", time=sfn.WaitTime.duration(Duration.seconds(s.wait_seconds)))
        wait.next(check)
        notify_waiting = self._notice(
            "NotifyWaiting",
            "waiting",
            {"targetDate": dates["targetDate"], "checks": "{% $checks %}", "maxChecks": s.max_checks,
             "waitSeconds": s.wait_seconds},
            wait,
        ).next(wait)

        data_not_ready = sfn.Pass.jsonata(
            self,
            "DataNotReady",
            outputs={"Error": DATA_NOT_READY,
                     "Cause": "{% 'no rows for ' & $plan.targetDate & ' after ' & $checks & ' checks' %}"},
        ).next(mark_failed)
        notify_gave_up = self._notice(
            "NotifyGaveUp", "gave_up", {"targetDate": dates["targetDate"], "checks": "{% $checks %}"}, data_not_ready
        ).next(data_not_ready)

        mark_succeeded = self._guard_task("MarkRunSucceeded", "SUCCEEDED", outputs={
            "outcome": "inserted",
            **dates,
            "rowsFound": "{% $rows %}",
            "rowsAffected": "{% $rowsAffected %}",
            "checks": "{% $checks %}",
            "notices": "{% $notices %}",
        })
        # The week is in, but a guard left RUNNING would refuse every later run of the date as "already ran":
        # say so and fail (the status-event rule then releases the guard; a re-run MERGEs the same rows).
        mark_succeeded.add_catch(on_failure, errors=["States.ALL"])
        notify_succeeded = self._notice(
            "NotifySucceeded", "succeeded", {**dates, "rowsAffected": "{% $rowsAffected %}"}, mark_succeeded
        ).next(mark_succeeded)
        insert = self._invoke(
            "InsertWeek",
            self.insert_function,
            {"weekStart": dates["weekStart"], "weekEnd": dates["weekEnd"]},
            timeout_s=s.insert_timeout_seconds,
            assign={"rowsAffected": "{% $states.result.rowsAffected %}"},
        )
        retry_from_settings(insert, BIGQUERY_RETRYABLE_ERRORS, self.settings)
        insert.add_catch(notify_failed, errors=["States.ALL"])
        insert.next(notify_succeeded)
        notify_starting = self._notice("NotifyStarting", "starting", {**dates, "rows": "{% $rows %}"}, insert).next(insert)

        rows_ready = (
            sfn.Choice.jsonata(self, "RowsReady")
            .when(sfn.Condition.jsonata("{% $rows > 0 %}"), notify_starting)
            .when(sfn.Condition.jsonata(f"{{% $checks >= {s.max_checks} %}}"), notify_gave_up)
            .otherwise(notify_waiting)
        )
        return plan.next(acquire).next(check).next(rows_ready)
