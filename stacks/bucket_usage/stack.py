"""BucketUsage: usage per file extension of every bucket, scanned in parallel by one fixed definition.

No state machine is created at run time and nothing polls: an inline Map runs one
bounded scan loop per bucket (a Lambda pass with a time budget, a Choice on its
continuation token), results go to DynamoDB, and one Lambda summarizes to SNS.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.bucket_usage.settings import BucketUsageSettings
from stacks.bucket_usage.workflow import WORKFLOW as DECLARED
from stacks.common.bundling import python_code_asset, target_platform
from stacks.common.retries import LAMBDA_SERVICE_ERRORS, retry_from_settings
from stacks.common.config import StageConfig
from stacks.common.lambda_function import PythonFunction, PythonFunctionProps
from stacks.common.nag import acknowledge_wildcard_resource
from stacks.common.notifications import NotificationTopic, NotificationTopicProps
from stacks.common.state_machine import MonitoredStateMachine, MonitoredStateMachineProps, notify_failure_then_fail
from stacks.common.table import DataTable, DataTableProps

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src" / "bucket_usage"
WORKFLOW = DECLARED.name
SETTINGS_KEY = DECLARED.settings_key

# Exception class names raised by lambda_src/bucket_usage/bucket_usage/errors.py.
RETRYABLE_SCAN_ERRORS = ["BucketScanThrottled", "ResultsStoreUnavailable"]
INVALID_INPUT_ERROR = "InvalidScanInput"
# SDK-integration errors are "S3." + the SDK's exception: 500/503/SlowDown arrive as the generic S3.S3Exception
# (so does AccessDenied, which the bounded retry then repeats three times before the Catch), network errors as
# S3.SdkClientException.
LIST_BUCKETS_ERRORS = ["S3.S3Exception", "S3.SdkClientException", "States.Timeout"]
# Merged over the execution input for every Map iteration (see ScanBuckets' ItemSelector).
REQUEST_OVERRIDES = {"request_overrides": {"buckets": []}}
# Read-only S3: the scan lists keys and asks a bucket's region; the state machine lists buckets.
SCAN_S3_ACTIONS = ["s3:ListBucket", "s3:GetBucketLocation"]
LIST_BUCKETS_ACTION = "s3:ListAllMyBuckets"


class BucketUsageStack(Stack):
    """Exposes `settings`, `notices` (topic: summaries and failure notices), `results` (DataTable),
    `scan_function`, `summary_function` and `workflow` (the monitored state machine).

    Settings: `DECLARED.settings_key` (stacks/<workflow>/stages.json per stage; preflight reads them)."""


    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, description="bucket-usage: usage per file extension of every bucket (Map, no polling)", **kwargs)
        self.settings = stage.workflow_settings(SETTINGS_KEY, BucketUsageSettings)
        self.notices = NotificationTopic(self, "Notices", props=NotificationTopicProps(display_name="bucket-usage notices", removal_policy=stage.removal_policy))
        self.results = DataTable(
            self,
            "Results",
            props=DataTableProps(partition_key="scan_id", sort_key="bucket", ttl_attribute="expires_at", removal_policy=stage.removal_policy),
        )
        code = python_code_asset(LAMBDA_SOURCE, target_platform(stage))
        self.scan_function = self._build_scan_function(code=code, stage=stage)
        self.summary_function = self._build_summary_function(code=code, stage=stage)
        self.workflow = MonitoredStateMachine(
            self,
            "Workflow",
            props=MonitoredStateMachineProps(
                definition=self._build_definition(),
                notices=self.notices,
                invoked_functions=(self.scan_function, self.summary_function),
                timeout=Duration.seconds(self.settings.execution_timeout_seconds),
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                comment="Usage per file extension of every bucket: one bounded scan loop per bucket in a Map",
            ),
        )
        acknowledge_wildcard_resource(
            self.workflow.state_machine.role, "*", "s3:ListAllMyBuckets supports no resource-level permissions."
        )

    # ------------------------------------------------------------------ functions

    def _function_props(self, stage: StageConfig, **overrides) -> PythonFunctionProps:
        base = dict(service=WORKFLOW, metrics_namespace=DECLARED.stack_id, log_retention=stage.log_retention, removal_policy=stage.removal_policy)
        return PythonFunctionProps(**{**base, **overrides})

    def _build_scan_function(self, *, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        s = self.settings
        scan = PythonFunction(
            self,
            "ScanFunction",
            props=self._function_props(
                stage,
                code=code,
                handler="bucket_usage.handlers.scan.handler",
                memory_size_mb=s.scan_memory_mb,
                timeout=Duration.seconds(s.scan_function_timeout_seconds),
                description="Lists one bucket for one time-boxed pass and counts objects and bytes per extension",
                environment={
                    "RESULTS_TABLE": self.results.table.table_name,
                    "COMPOUND_EXTENSIONS": ",".join(s.compound_extensions),
                    "MAX_PAGES_PER_PASS": str(s.scan_max_pages_per_pass),
                    "SCAN_TIME_RESERVE_SECONDS": str(s.scan_time_reserve_seconds),
                    "MAX_EXTENSIONS": str(s.max_extensions),
                    "RESULTS_TTL_DAYS": str(s.results_ttl_days),
                },
            ),
        ).function
        # Every bucket of the account is in scope, so the resource is every bucket; the actions are read-only.
        scan.add_to_role_policy(iam.PolicyStatement(actions=SCAN_S3_ACTIONS, resources=["arn:aws:s3:::*"]))
        acknowledge_wildcard_resource(
            scan.role, "arn:aws:s3:::*",
            "The workflow measures every bucket of the account; the grant is limited to ListBucket and GetBucketLocation (no object reads).",
        )
        self.results.table.grant(scan, "dynamodb:PutItem")
        return scan

    def _build_summary_function(self, *, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        s = self.settings
        summary = PythonFunction(
            self,
            "SummaryFunction",
            props=self._function_props(
                stage,
                code=code,
                handler="bucket_usage.handlers.summarize.handler",
                memory_size_mb=512,
                timeout=Duration.seconds(s.summary_function_timeout_seconds),
                description="Sums one scan's results, records failed buckets, publishes the summary",
                environment={
                    "RESULTS_TABLE": self.results.table.table_name,
                    "SUMMARY_TOPIC_ARN": self.notices.topic.topic_arn,
                    "TOP_EXTENSIONS": str(s.top_extensions),
                    "RESULTS_TTL_DAYS": str(s.results_ttl_days),
                },
            ),
        ).function
        self.results.table.grant(summary, "dynamodb:PutItem", "dynamodb:Query")
        self.notices.grant_publish(summary)
        return summary

    # ------------------------------------------------------------------ definition

    def _invoke(self, construct_id: str, function: lambda_.IFunction, payload: dict, timeout_s: int, **kwargs) -> tasks.LambdaInvoke:
        invoke = tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,  # replaced by the jittered retry below
            task_timeout=sfn.Timeout.duration(Duration.seconds(timeout_s + 10)),
            **kwargs,
        )
        retry_from_settings(invoke, LAMBDA_SERVICE_ERRORS, self.settings)
        return invoke

    def _list_buckets(self, construct_id: str, parameters: dict, comment: str) -> tasks.CallAwsService:
        listing = tasks.CallAwsService(
            self,
            construct_id,
            service="s3",
            action="listBuckets",
            iam_action=LIST_BUCKETS_ACTION,
            iam_resources=["*"],
            parameters=parameters,
            result_selector={"names.$": "$.Buckets[*].Name", **REQUEST_OVERRIDES},
            result_path="$.targets",
            task_timeout=sfn.Timeout.duration(Duration.seconds(30)),
            comment=comment,
        )
        retry_from_settings(listing, LIST_BUCKETS_ERRORS, self.settings)
        return listing

    def _build_bucket_scan(self) -> sfn.IChainable:
        """One Map iteration: scan passes until the bucket is done, bounded by max_scan_passes."""
        s = self.settings
        scan_payload = {
            "bucket.$": "$.bucket",
            "request.$": "$.request",
            "execution.$": "$.execution",
            "state.$": "$.scan",
        }
        scan = self._invoke(
            "ScanPass",
            self.scan_function,
            {**scan_payload, "pass.$": "States.MathAdd($.scan.pass, 1)"},
            s.scan_function_timeout_seconds,
            result_path="$.scan",
            comment="One time-boxed pass; returns a continuation token and partial counts, or the bucket's result",
        )
        finish = self._invoke(
            "RecordIncomplete",
            self.scan_function,
            {**scan_payload, "pass.$": "$.scan.pass", "finalize": True},
            s.scan_function_timeout_seconds,
            result_path="$.scan",
            output_path="$.scan",
            comment=f"Pass limit ({s.max_scan_passes}) reached: record the partial counts as incomplete",
        )
        for task in (scan, finish):
            retry_from_settings(task, RETRYABLE_SCAN_ERRORS, self.settings)
        failed = sfn.Pass(
            self,
            "ScanFailed",
            comment="The scan Lambda failed for good: the summary records this bucket as an error",
            parameters={"bucket.$": "$.bucket", "status": "error", "done": True, "error.$": "$.error.Error", "cause.$": "$.error.Cause"},
        )
        for task in (scan, finish):
            task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        done = sfn.Succeed(self, "BucketDone", output_path="$.scan")
        more = (
            sfn.Choice(self, "MoreToScan")
            .when(sfn.Condition.boolean_equals("$.scan.done", True), done)
            .when(sfn.Condition.number_less_than("$.scan.pass", s.max_scan_passes), scan)
            .otherwise(finish)
        )
        return scan.next(more)

    def _build_definition(self) -> sfn.IChainable:
        s = self.settings
        on_failure = notify_failure_then_fail(self, notices=self.notices, workflow=WORKFLOW)

        scan_buckets = sfn.Map(
            self,
            "ScanBuckets",
            items_path="$.targets.names",
            max_concurrency=s.max_concurrency,
            item_selector={
                "bucket.$": "$$.Map.Item.Value",
                # The execution input without its bucket list: each iteration carries a few bytes, not the whole list.
                "request.$": "States.JsonMerge($$.Execution.Input, $.targets.request_overrides, false)",
                "execution.$": "$$.Execution.Name",
                "scan": {"pass": 0, "done": False},
            },
            result_path="$.results",
            comment="One bounded scan loop per bucket; per-bucket failures are results, not errors",
        )
        scan_buckets.item_processor(self._build_bucket_scan())
        scan_buckets.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")

        summarize = self._invoke(
            "Summarize",
            self.summary_function,
            {"request.$": "$$.Execution.Input", "execution.$": "$$.Execution.Name", "results.$": "$.results"},
            s.summary_function_timeout_seconds,
            comment="Sum the scan's items, record failed buckets, publish the summary to SNS",
        )
        retry_from_settings(summarize, RETRYABLE_SCAN_ERRORS, self.settings)
        summarize.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
        scan_buckets.next(summarize)

        given = sfn.Pass(self, "UseGivenBuckets", parameters={"names.$": "$.buckets", **REQUEST_OVERRIDES}, result_path="$.targets")
        by_prefix = self._list_buckets("ListBucketsByPrefix", {"Prefix.$": "$.name_prefix"}, "Buckets whose name starts with name_prefix")
        every = self._list_buckets("ListAllBuckets", {}, "Every bucket of the account")
        for step in (given, by_prefix, every):
            step.next(scan_buckets)
        for listing in (by_prefix, every):
            listing.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")

        invalid = sfn.Fail(
            self,
            "InvalidInput",
            error=INVALID_INPUT_ERROR,
            cause="buckets must be a non-empty list of names (or omitted, with an optional name_prefix string); "
            "scan_id must be a string and by_storage_class a boolean",
        )
        present, c = sfn.Condition.is_present, sfn.Condition
        bad_input = c.or_(
            c.and_(present("$.scan_id"), c.not_(c.is_string("$.scan_id"))),
            c.and_(present("$.by_storage_class"), c.not_(c.is_boolean("$.by_storage_class"))),
            c.and_(present("$.name_prefix"), c.not_(c.is_string("$.name_prefix"))),
            c.and_(present("$.buckets"), present("$.name_prefix")),
            c.and_(present("$.buckets"), c.not_(c.and_(present("$.buckets[0]"), c.is_string("$.buckets[0]")))),
        )
        return (
            sfn.Choice(self, "ChooseBuckets")
            .when(bad_input, invalid)
            .when(present("$.buckets"), given)
            .when(present("$.name_prefix"), by_prefix)
            .otherwise(every)
        )
