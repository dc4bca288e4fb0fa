"""DistributedCopy: a Distributed Map lists an S3 prefix; batches of objects are copied to a dated
prefix, verified, then deleted; failed keys go to SNS in one notice."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.common.bundling import python_code_asset, target_platform
from stacks.common.retries import LAMBDA_SERVICE_ERRORS, retry_from_settings, retry_publish
from stacks.common.config import StageConfig
from stacks.common.lambda_function import PythonFunction, PythonFunctionProps
from stacks.common.nag import acknowledge_wildcard_resource
from stacks.common.notifications import NotificationTopic, NotificationTopicProps
from stacks.common.payload_bucket import PayloadBucket, PayloadBucketProps
from stacks.common.state_machine import (
    MonitoredStateMachine,
    MonitoredStateMachineProps,
    acknowledge_distributed_map,
    notify_failure_then_fail_jsonata,
)
from stacks.distributed_copy.settings import DistributedCopySettings
from stacks.distributed_copy.workflow import WORKFLOW as DECLARED

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src" / "distributed_copy"
WORKFLOW = DECLARED.name
SETTINGS_KEY = DECLARED.settings_key

# Exception class names raised by lambda_src/distributed_copy/distributed_copy/errors.py.
INVALID_INPUT_ERROR = "InvalidCopyInput"
# The run's own error when more objects failed than tolerated_failed_objects_percentage allows.
THRESHOLD_ERROR = "TooManyObjectsFailed"
RETRYABLE_COPY_ERRORS = ["S3Throttled"]
RESULTS_PREFIX = "map-runs/"  # ResultWriter: <prefix><map run id>/manifest.json, SUCCEEDED_0.json, FAILED_0.json
FAILED_KEYS_PREFIX = "failed-keys/"  # failed-key lists too long for one SNS message
STATE_INPUT = sfn.TaskInput.from_text("{% $states.input %}")  # a function's event: the state's whole input


class DistributedCopyStack(Stack):
    """Exposes `settings`, `notices` (topic), `results` (bucket of Map Run results and failed-key
    lists), `source_bucket` (the configured, existing bucket), `plan_function`, `copy_function`,
    `summarize_function` and `workflow` (the monitored state machine).

    Settings: `DECLARED.settings_key` (stacks/<workflow>/stages.json per stage; preflight reads them)."""


    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, description="distributed-copy: batched, verified copy-then-delete of an S3 prefix (Distributed Map)", **kwargs)
        self.settings = stage.workflow_settings(SETTINGS_KEY, DistributedCopySettings)
        self.notices = NotificationTopic(self, "Notices", props=NotificationTopicProps(display_name="distributed-copy notices", removal_policy=stage.removal_policy))
        self.results = PayloadBucket(self, "Results", props=PayloadBucketProps(expire_after_days=self.settings.results_retention_days, removal_policy=stage.removal_policy))
        self.source_bucket = s3.Bucket.from_bucket_name(self, "SourceBucket", self.settings.source_bucket)
        code = python_code_asset(LAMBDA_SOURCE, target_platform(stage))
        self.plan_function = self._build_plan_function(code, stage)
        self.copy_function = self._build_copy_function(code, stage)
        self.summarize_function = self._build_summarize_function(code, stage)
        self.workflow = MonitoredStateMachine(
            self,
            "Workflow",
            props=MonitoredStateMachineProps(
                definition=self._build_definition(),
                notices=self.notices,
                invoked_functions=(self.plan_function, self.copy_function, self.summarize_function),
                timeout=Duration.seconds(self.settings.execution_timeout_seconds),
                query_language=sfn.QueryLanguage.JSONATA,
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                comment="Move one day's objects of an S3 prefix to a dated prefix (verified copy, then delete)",
            ),
        )
        self._scope_map_run_permissions()

    # ------------------------------------------------------------------ functions

    def _function(self, construct_id: str, code: lambda_.Code, stage: StageConfig, *, handler: str, description: str,
                  environment: dict[str, str], memory_size_mb: int = 256, timeout_seconds: int = 30) -> lambda_.Function:
        return PythonFunction(
            self,
            construct_id,
            props=PythonFunctionProps(
                service=WORKFLOW,
                metrics_namespace=DECLARED.stack_id,
                code=code,
                handler=handler,
                description=description,
                memory_size_mb=memory_size_mb,
                timeout=Duration.seconds(timeout_seconds),
                environment=environment,
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
            ),
        ).function

    def _build_plan_function(self, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        return self._function(
            "PlanFunction", code, stage,
            handler="distributed_copy.handlers.plan.handler",
            description="Validates the input and fixes the target date",
            environment={
                "SOURCE_BUCKET": self.settings.source_bucket,
                "SOURCE_PREFIX": self.settings.source_prefix,
                "DESTINATION_PREFIX": self.settings.destination_prefix,
                "TARGET_TIMEZONE": self.settings.target_timezone,
            },
        )

    def _build_copy_function(self, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        s = self.settings
        function = self._function(
            "CopyFunction", code, stage,
            handler="distributed_copy.handlers.copy_batch.handler",
            description="Copies a batch of objects, verifies each copy, then deletes its source",
            memory_size_mb=s.copy_memory_mb,
            timeout_seconds=s.copy_timeout_seconds,
            environment={
                "MULTIPART_THRESHOLD_BYTES": str(s.multipart_threshold_bytes),
                "PART_SIZE_BYTES": str(s.part_size_bytes),
                "S3_MAX_ATTEMPTS": str(s.s3_max_attempts),
                "COPY_THREADS": str(s.copy_threads),
            },
        )
        source = self.source_bucket.arn_for_objects(f"{s.source_prefix}*")
        destination = self.source_bucket.arn_for_objects(f"{s.destination_prefix}*")
        # Read + delete the source prefix; read (HeadObject to verify) + write the destination prefix.
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:DeleteObject"], resources=[source]))
        function.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], resources=[destination]))
        # Without ListBucket S3 answers HeadObject on a missing key with 403, not 404: "already moved"
        # or "vanished" could not be told from "denied". HeadObject carries no s3:prefix to condition on.
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.source_bucket.bucket_arn]))
        for prefix in (s.source_prefix, s.destination_prefix):
            acknowledge_wildcard_resource(
                function.role, f"arn:<AWS::Partition>:s3:::{s.source_bucket}/{prefix}*",
                f"Objects under the configured prefix {prefix} are the workflow's data; the grant is limited to that prefix.")
        return function

    def _build_summarize_function(self, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        function = self._function(
            "SummarizeFunction", code, stage,
            handler="distributed_copy.handlers.summarize.handler",
            description="Counts the Map Run's results and lists the failed keys",
            memory_size_mb=1024,
            timeout_seconds=120,
            environment={
                "RESULTS_BUCKET": self.results.bucket.bucket_name,
                "FAILED_KEYS_PREFIX": FAILED_KEYS_PREFIX,
                "NOTICE_MAX_KEYS": str(self.settings.notice_max_keys),
                "TOLERATED_FAILED_OBJECTS_PERCENTAGE": str(self.settings.tolerated_failed_objects_percentage),
            },
        )
        self.results.grant_prefix(function.role, RESULTS_PREFIX, read=True)
        self.results.grant_prefix(function.role, FAILED_KEYS_PREFIX, write=True)
        return function

    # ------------------------------------------------------------------ definition

    def _invoke(self, construct_id: str, function: lambda_.IFunction, payload: sfn.TaskInput, *, timeout_seconds: int,
                assign: dict[str, str] | None = None) -> tasks.LambdaInvoke:
        invoke = tasks.LambdaInvoke.jsonata(
            self,
            construct_id,
            lambda_function=function,
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,  # replaced by the jittered retry below
            assign=assign,
            task_timeout=sfn.Timeout.duration(Duration.seconds(timeout_seconds + 10)),
        )
        retry_from_settings(invoke, LAMBDA_SERVICE_ERRORS, self.settings)
        return invoke

    def _build_copy_map(self) -> sfn.DistributedMap:
        s = self.settings
        # LambdaInvoke.jsonata, not LambdaInvoke: a JSONata Map does not pass its query language on to the
        # states of its processor (aws-cdk #34352), and those would get JSONPath's Parameters.
        copy_batch = self._invoke("CopyBatch", self.copy_function, STATE_INPUT, timeout_seconds=s.copy_timeout_seconds)
        retry_from_settings(copy_batch, RETRYABLE_COPY_ERRORS, self.settings)
        copy_map = sfn.DistributedMap.jsonata(
            self,
            "CopyObjects",
            comment="Lists the source prefix; each child moves one batch of objects",
            # The plan's prefix: the configured one, or one below it from the input (checked by PlanCopy).
            item_reader=sfn.S3ObjectsItemReader(bucket=self.source_bucket, prefix="{% $plan.sourcePrefix %}"),
            item_batcher=sfn.ItemBatcher(
                max_items_per_batch=s.max_items_per_batch,
                max_input_bytes_per_batch=s.max_input_bytes_per_batch,
                batch_input={key: f"{{% $plan.{key} %}}" for key in ("bucket", "sourcePrefix", "destinationPrefix", "targetDate")},
            ),
            result_writer_v2=sfn.ResultWriterV2(bucket=self.results.bucket, prefix=RESULTS_PREFIX),
            tolerated_failure_percentage=s.tolerated_failure_percentage,
            map_execution_type=sfn.StateMachineType[s.child_execution_type],
            max_concurrency=s.max_concurrency,
            label="CopyObjects",
            assign={"results": "{% $states.result.ResultWriterDetails %}"},
        )
        copy_map.item_processor(copy_batch)
        return copy_map

    def _build_definition(self) -> sfn.IChainable:
        # Every Catch passes on only the caught error (a JSONata Catch's output): a rejected input, up to
        # 256 KiB, never rides into the notice.
        on_failure = notify_failure_then_fail_jsonata(self, notices=self.notices, workflow=WORKFLOW)
        plan = self._invoke("PlanCopy", self.plan_function, STATE_INPUT, timeout_seconds=30,
                            assign={"plan": "{% $states.result %}"})
        plan.add_catch(on_failure, errors=["States.ALL"])

        copy_map = self._build_copy_map()
        # An ItemReader failure and States.ExceedToleratedFailureThreshold both land here.
        copy_map.add_catch(on_failure, errors=["States.ALL"])

        summarize = self._invoke(
            "Summarize", self.summarize_function,
            sfn.TaskInput.from_object({
                "results": "{% $results %}",
                "targetDate": "{% $plan.targetDate %}",
                "execution": "{% $states.context.Execution.Name %}",
            }),
            timeout_seconds=120, assign={"summary": "{% $states.result %}"},
        )
        summarize.add_catch(on_failure, errors=["States.ALL"])

        publish_failed_keys = tasks.SnsPublish.jsonata(
            self,
            "PublishFailedKeys",
            topic=self.notices.topic,
            subject=f"{WORKFLOW}: objects not moved",
            message=sfn.TaskInput.from_text("{% $summary.notice %}"),
            task_timeout=sfn.Timeout.duration(Duration.seconds(30)),
        )
        retry_publish(publish_failed_keys)
        report = sfn.Pass.jsonata(self, "Report", comment="Counts only: per-object results stay in S3 (ResultWriter)", outputs={
            "targetDate": "{% $plan.targetDate %}",
            "moved": "{% $summary.moved %}",
            "skipped": "{% $summary.skipped %}",
            "failed": "{% $summary.failed %}",
            "results": "{% $results %}",
        })
        too_many_failed = sfn.Fail.jsonata(self, THRESHOLD_ERROR, error=THRESHOLD_ERROR, cause="{% $summary.cause %}")
        over_threshold = (
            sfn.Choice.jsonata(self, "OverFailureThreshold", comment="After the notice: past the tolerated share, the run fails")
            .when(sfn.Condition.jsonata("{% $summary.thresholdExceeded = true %}"), too_many_failed)
            .otherwise(report)
        )
        any_failed = (
            sfn.Choice.jsonata(self, "AnyFailedKeys")
            .when(sfn.Condition.jsonata("{% $summary.notice != null %}"), publish_failed_keys.next(over_threshold))
            .otherwise(report)
        )
        return plan.next(copy_map).next(summarize).next(any_failed)

    def _scope_map_run_permissions(self) -> None:
        """Acknowledge what CDK grants the state machine for the Map Run, with reasons."""
        acknowledge_distributed_map(self.workflow.state_machine, label="CopyObjects", bucket=self.results.bucket,
                                    holds="this workflow's Map Run results and failed-key lists")
