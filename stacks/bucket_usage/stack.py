"""BucketUsage: usage per file extension of every bucket, scanned in parallel by one fixed definition.

No state machine is created at run time and nothing polls: the bucket names go to S3 (one JSON
array), a Distributed Map reads them and runs one bounded scan loop per bucket as a child execution
(a Lambda pass with a time budget, a Choice on its continuation token), results go to DynamoDB, the
Map Run's results to S3, and one Lambda summarizes to SNS. The state stays the same size whatever
the number of buckets.
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
from stacks.common.payload_bucket import PayloadBucket, PayloadBucketProps
from stacks.common.state_machine import (
    MonitoredStateMachine,
    MonitoredStateMachineProps,
    acknowledge_distributed_map,
    notify_failure_then_fail_jsonata,
)
from stacks.common.table import DataTable, DataTableProps

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src" / "bucket_usage"
WORKFLOW = DECLARED.name
SETTINGS_KEY = DECLARED.settings_key

# Exception class names raised by lambda_src/bucket_usage/bucket_usage/errors.py.
RETRYABLE_SCAN_ERRORS = ["BucketScanThrottled", "ResultsStoreUnavailable"]
INVALID_INPUT_ERROR = "InvalidScanInput"
# The run's own error when more buckets' scans failed than tolerated_failed_buckets_percentage allows.
THRESHOLD_ERROR = "TooManyBucketsFailed"
# Read-only S3: the scan lists keys and asks a bucket's region; the lister lists buckets.
SCAN_S3_ACTIONS = ["s3:ListBucket", "s3:GetBucketLocation"]
LIST_BUCKETS_ACTION = "s3:ListAllMyBuckets"
TARGETS_PREFIX = "targets/"  # <prefix><execution name>.json: the scan's bucket names, one JSON array
MAP_RUNS_PREFIX = "map-runs/"  # ResultWriter: <prefix><map run id>/manifest.json, SUCCEEDED_0.json, FAILED_0.json
EXECUTION_NAME = "{% $states.context.Execution.Name %}"
# What makes an input invalid, each a JSONata condition on the execution input. A given list must hold as many strings as
# elements: `$type($) = 'string'` in a filter, not `!= 'string'`, since a filter drops an empty-array element (`[]`).
_INPUT = "$states.input"
INPUT_PROBLEMS = (
    f"($exists({_INPUT}.scan_id) and $type({_INPUT}.scan_id) != 'string')",
    f"($exists({_INPUT}.by_storage_class) and $type({_INPUT}.by_storage_class) != 'boolean')",
    f"($exists({_INPUT}.name_prefix) and $type({_INPUT}.name_prefix) != 'string')",
    f"($exists({_INPUT}.buckets) and $exists({_INPUT}.name_prefix))",
    f"($exists({_INPUT}.buckets) and $not($type({_INPUT}.buckets) = 'array' and $count({_INPUT}.buckets) > 0"
    f" and $count({_INPUT}.buckets[$type($) = 'string']) = $count({_INPUT}.buckets)))",
)


class BucketUsageStack(Stack):
    """Exposes `settings`, `notices` (topic: summaries and failure notices), `results` (DataTable), `lists`
    (PayloadBucket: the scans' bucket lists and Map Run results), `targets_function`, `scan_function`,
    `summary_function` and `workflow` (the monitored state machine).

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
        self.lists = PayloadBucket(
            self, "Lists", props=PayloadBucketProps(expire_after_days=self.settings.lists_retention_days, removal_policy=stage.removal_policy)
        )
        code = python_code_asset(LAMBDA_SOURCE, target_platform(stage))
        self.targets_function = self._build_targets_function(code=code, stage=stage)
        self.scan_function = self._build_scan_function(code=code, stage=stage)
        self.summary_function = self._build_summary_function(code=code, stage=stage)
        self.workflow = MonitoredStateMachine(
            self,
            "Workflow",
            props=MonitoredStateMachineProps(
                definition=self._build_definition(),
                notices=self.notices,
                invoked_functions=(self.targets_function, self.scan_function, self.summary_function),
                timeout=Duration.seconds(self.settings.execution_timeout_seconds),
                query_language=sfn.QueryLanguage.JSONATA,
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                comment="Usage per file extension of every bucket: one bounded scan loop per bucket in a Map",
            ),
        )
        acknowledge_distributed_map(self.workflow.state_machine, label="ScanBuckets", bucket=self.lists.bucket,
                                    holds="this workflow's bucket lists and Map Run results")

    # ------------------------------------------------------------------ functions

    def _function_props(self, stage: StageConfig, **overrides) -> PythonFunctionProps:
        base = dict(service=WORKFLOW, metrics_namespace=DECLARED.stack_id, log_retention=stage.log_retention, removal_policy=stage.removal_policy)
        return PythonFunctionProps(**{**base, **overrides})

    def _build_targets_function(self, *, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        targets = PythonFunction(
            self,
            "TargetsFunction",
            props=self._function_props(
                stage,
                code=code,
                handler="bucket_usage.handlers.list_targets.handler",
                memory_size_mb=512,
                timeout=Duration.seconds(self.settings.targets_function_timeout_seconds),
                description="Writes the scan's bucket names (given, or every page of ListBuckets) to S3 as one JSON array",
                environment={"TARGETS_BUCKET": self.lists.bucket.bucket_name, "TARGETS_PREFIX": TARGETS_PREFIX},
            ),
        ).function
        targets.add_to_role_policy(iam.PolicyStatement(actions=[LIST_BUCKETS_ACTION], resources=["*"]))
        acknowledge_wildcard_resource(targets.role, "*", "s3:ListAllMyBuckets supports no resource-level permissions.")
        self.lists.grant_prefix(targets.role, TARGETS_PREFIX, write=True)
        return targets

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
                    "TOLERATED_FAILED_BUCKETS_PERCENTAGE": str(s.tolerated_failed_buckets_percentage),
                    "RESULTS_TTL_DAYS": str(s.results_ttl_days),
                },
            ),
        ).function
        self.results.table.grant(summary, "dynamodb:Query")
        self.lists.grant_prefix(summary.role, TARGETS_PREFIX, read=True)
        self.notices.grant_publish(summary)
        return summary

    # ------------------------------------------------------------------ definition

    def _invoke(self, construct_id: str, function: lambda_.IFunction, payload: dict, timeout_s: int, **kwargs) -> tasks.LambdaInvoke:
        # LambdaInvoke.jsonata, not LambdaInvoke: a JSONata Map does not pass its query language on to the states of
        # its processor (aws-cdk #34352), and those would get JSONPath's Parameters.
        invoke = tasks.LambdaInvoke.jsonata(
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

    def _build_bucket_scan(self) -> sfn.IChainable:
        """One child execution: scan passes until the bucket is done, bounded by max_scan_passes. The loop's state travels
        in the payload from the Map's ItemSelector on (bucket, request, execution, `scan`: the last pass's result, `passes`:
        the counter ScanPass raises and MoreToScan bounds): no state before the loop, no variable a child cannot read."""
        s = self.settings
        item = {key: f"{{% $states.input.{key} %}}" for key in ("bucket", "request", "execution")}
        scan = self._invoke(
            "ScanPass",
            self.scan_function,
            {**item, "state": "{% $states.input.scan %}", "pass": "{% $states.input.passes + 1 %}"},
            s.scan_function_timeout_seconds,
            outputs="{% $merge([$states.input, {'scan': $states.result, 'passes': $states.input.passes + 1}]) %}",
            comment="One time-boxed pass; returns a continuation token and partial counts, or the bucket's result",
        )
        finish = self._invoke(
            "RecordIncomplete",
            self.scan_function,
            {**item, "state": "{% $states.input.scan %}", "pass": "{% $states.input.passes %}", "finalize": True},
            s.scan_function_timeout_seconds,
            comment=f"Pass limit ({s.max_scan_passes}) reached: record the partial counts as incomplete",
        )
        for task in (scan, finish):
            retry_from_settings(task, RETRYABLE_SCAN_ERRORS, self.settings)
        failed = self._invoke(
            "ScanFailed",
            self.scan_function,
            {**item, "state": "{% $states.input.scan %}", "pass": "{% $states.input.passes %}", "failure": "{% $states.input.failure %}"},
            s.scan_function_timeout_seconds,
            comment="The scan failed for good: record the bucket as an error (unless this execution already wrote it)",
        )
        retry_from_settings(failed, RETRYABLE_SCAN_ERRORS, self.settings)
        for task in (scan, finish):  # the failed state's input (the loop's state) and the caught error
            task.add_catch(failed, errors=["States.ALL"], outputs="{% $merge([$states.input, {'failure': $states.errorOutput}]) %}")
        done = sfn.Succeed.jsonata(self, "BucketDone", outputs="{% $states.input.scan %}")
        more = (
            sfn.Choice.jsonata(self, "MoreToScan")
            .when(sfn.Condition.jsonata("{% $states.input.scan.done = true %}"), done)
            .when(sfn.Condition.jsonata(f"{{% $states.input.passes < {s.max_scan_passes} %}}"), scan)
            .otherwise(finish)
        )
        return scan.next(more)

    def _build_definition(self) -> sfn.IChainable:
        """Variables: $targets (where the lister wrote the bucket names, their count and the checked request)."""
        s = self.settings
        on_failure = notify_failure_then_fail_jsonata(self, notices=self.notices, workflow=WORKFLOW)

        list_targets = self._invoke(
            "ListTargets",
            self.targets_function,
            {"request": "{% $states.input %}", "execution": EXECUTION_NAME},
            s.targets_function_timeout_seconds,
            assign={"targets": "{% $states.result %}"},  # {bucket, key, count, request}: never the list itself
            comment="The bucket names (given, or every page of ListBuckets) to S3 as one JSON array",
        )
        list_targets.add_catch(on_failure, errors=["States.ALL"])  # the caught error is the output

        scan_buckets = sfn.DistributedMap.jsonata(
            self,
            "ScanBuckets",
            item_reader=sfn.S3JsonItemReader(bucket=self.lists.bucket, key="{% $targets.key %}"),
            item_selector={
                "bucket": "{% $states.context.Map.Item.Value %}",
                "request": "{% $targets.request %}",  # the checked scan_id and by_storage_class: a few bytes per child
                "execution": EXECUTION_NAME,
                "scan": {"pass": 0, "done": False},  # the scan loop's state before its first pass
                "passes": 0,
            },
            # The children's results go to S3: the state keeps only where (a constant size, whatever N).
            result_writer_v2=sfn.ResultWriterV2(bucket=self.lists.bucket, prefix=MAP_RUNS_PREFIX),
            max_concurrency=s.max_concurrency,
            map_execution_type=sfn.StateMachineType.STANDARD,  # a scan loop may outlast an Express child's 5 minutes
            label="ScanBuckets",
            comment="One child execution per bucket, each a bounded scan loop; a bucket that fails is recorded, not raised",
        )
        scan_buckets.item_processor(self._build_bucket_scan())
        scan_buckets.add_catch(on_failure, errors=["States.ALL"])

        summarize = self._invoke(
            "Summarize",
            self.summary_function,
            {"targets": "{% $targets %}", "execution": EXECUTION_NAME},
            s.summary_function_timeout_seconds,
            comment="Sum this execution's items, name the buckets that failed, publish the summary to SNS",
        )
        retry_from_settings(summarize, RETRYABLE_SCAN_ERRORS, self.settings)
        summarize.add_catch(on_failure, errors=["States.ALL"])
        over_threshold = (
            sfn.Choice.jsonata(self, "OverFailureThreshold", comment="After the summary (the notice naming them): past the "
                                                                   "tolerated share of failed scans, the run fails")
            .when(sfn.Condition.jsonata("{% $states.input.verdict.thresholdExceeded = true %}"),
                  sfn.Fail.jsonata(self, THRESHOLD_ERROR, error=THRESHOLD_ERROR, cause="{% $states.input.verdict.cause %}"))
            .otherwise(sfn.Succeed.jsonata(self, "ScanSummarized"))
        )
        list_targets.next(scan_buckets).next(summarize).next(over_threshold)

        invalid = sfn.Fail.jsonata(
            self,
            "InvalidInput",
            error=INVALID_INPUT_ERROR,
            cause="buckets must be a non-empty list of bucket names (or omitted, with an optional name_prefix string); "
            "scan_id must be a string and by_storage_class a boolean",
        )
        return (
            sfn.Choice.jsonata(self, "ChooseBuckets", comment="The input's types, every element of a given list included")
            .when(sfn.Condition.jsonata(f"{{% {' or '.join(INPUT_PROBLEMS)} %}}"), invalid)
            .otherwise(list_targets)
        )
