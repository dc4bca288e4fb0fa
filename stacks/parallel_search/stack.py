"""ParallelSearch: two search APIs in a Parallel state, results merged, large payloads through S3."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.common.bundling import python_code_asset, target_platform
from stacks.common.retries import LAMBDA_SERVICE_ERRORS, retry_from_settings
from stacks.common.config import ConfigError, StageConfig
from stacks.common.lambda_function import PythonFunction, PythonFunctionProps
from stacks.common.notifications import NotificationTopic, NotificationTopicProps
from stacks.common.payload_bucket import PayloadBucket, PayloadBucketProps
from stacks.common.state_machine import MonitoredStateMachine, MonitoredStateMachineProps, notify_failure_then_fail_jsonata
from stacks.parallel_search.settings import ParallelSearchSettings, SearchApiSettings
from stacks.parallel_search.workflow import WORKFLOW as DECLARED

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src" / "parallel_search"
WORKFLOW = DECLARED.name
SETTINGS_KEY = DECLARED.settings_key

# The one list of API errors that are retried: exception class names of
# lambda_src/parallel_search/parallel_search/errors.py (the stack does not import Lambda code;
# a template test checks every name is a class there and every other class is deliberately not retried).
RETRYABLE_API_ERRORS = ["SearchApiThrottled", "SearchApiUnavailable", "SearchApiTimeout"]
INVALID_INPUT_ERROR = "InvalidSearchInput"
# Each execution writes its payloads under its own name, so concurrent runs never overwrite each other.
EXECUTION_NAME = "{% $states.context.Execution.Name %}"


class ParallelSearchStack(Stack):
    """Exposes `settings`, `notices` (topic), `payloads` (bucket), `search_functions`
    (API name -> function), `merge_function` and `workflow` (the monitored state machine).

    Settings: `DECLARED.settings_key` (stacks/<workflow>/stages.json per stage; preflight reads them)."""


    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, description="parallel-search: two search APIs in parallel, merged (claim-check payloads)", **kwargs)
        self.settings = stage.workflow_settings(SETTINGS_KEY, ParallelSearchSettings)
        for api in (self.settings.api_a, self.settings.api_b):
            if stage.name != "local" and not api.endpoint.startswith("https://"):
                raise ConfigError(f"{api.name}: endpoint {api.endpoint} must be https:// (the API key travels with each request)")
        self.notices = NotificationTopic(self, "Notices", props=NotificationTopicProps(display_name="parallel-search notices", removal_policy=stage.removal_policy))
        self.payloads = PayloadBucket(self, "Payloads", props=PayloadBucketProps(expire_after_days=1, removal_policy=stage.removal_policy))
        code = python_code_asset(LAMBDA_SOURCE, target_platform(stage))
        self.search_functions = {
            api.name: self._build_search_function(
                f"Search{suffix}", api=api, code=code, stage=stage, setting=f"{stage.workflow_path(SETTINGS_KEY)}.{field}"
            )
            for suffix, field, api in (("A", "api_a", self.settings.api_a), ("B", "api_b", self.settings.api_b))
        }
        self.merge_function = self._build_merge_function(code=code, stage=stage)
        self.workflow = MonitoredStateMachine(
            self,
            "Workflow",
            props=MonitoredStateMachineProps(
                definition=self._build_definition(),
                notices=self.notices,
                invoked_functions=(*self.search_functions.values(), self.merge_function),
                timeout=Duration.seconds(self.settings.execution_timeout_seconds),
                query_language=sfn.QueryLanguage.JSONATA,
                log_retention=stage.log_retention,
                removal_policy=stage.removal_policy,
                comment="Search two APIs in parallel and merge the results",
            ),
        )

    def _function_props(self, stage: StageConfig, **overrides) -> PythonFunctionProps:
        base = dict(
            service=WORKFLOW,
            metrics_namespace=DECLARED.stack_id,
            timeout=Duration.seconds(self.settings.function_timeout_seconds),
            log_retention=stage.log_retention,
            removal_policy=stage.removal_policy,
        )
        return PythonFunctionProps(**{**base, **overrides})

    def _payload_environment(self) -> dict[str, str]:
        return {
            "PAYLOAD_BUCKET": self.payloads.bucket.bucket_name,
            "INLINE_THRESHOLD_BYTES": str(self.settings.inline_threshold_bytes),
        }

    def _build_search_function(
        self, construct_id: str, *, api: SearchApiSettings, code: lambda_.Code, stage: StageConfig, setting: str
    ) -> lambda_.Function:
        """`setting`: where `api` lives in cdk.json, named by the function's error while its endpoint is a placeholder."""
        api_key = secretsmanager.Secret.from_secret_name_v2(self, f"{construct_id}ApiKey", api.api_key_secret_name)
        search = PythonFunction(
            self,
            construct_id,
            props=self._function_props(
                stage,
                code=code,
                handler="parallel_search.handlers.search.handler",
                memory_size_mb=512,
                description=f"Searches {api.name}",
                environment={
                    **self._payload_environment(),
                    "SEARCH_API_NAME": api.name,
                    "SEARCH_API_ENDPOINT": api.endpoint,
                    "SEARCH_API_ENDPOINT_SETTING": f"{setting}.endpoint",
                    "SEARCH_API_KEY_SECRET_NAME": api.api_key_secret_name,
                    "SEARCH_API_TIMEOUT_SECONDS": str(self.settings.http_timeout_seconds),
                },
            ),
        ).function
        api_key.grant_read(search)
        self.payloads.grant_prefix(search.role, "searches/", write=True)
        return search

    def _build_merge_function(self, *, code: lambda_.Code, stage: StageConfig) -> lambda_.Function:
        merge = PythonFunction(
            self,
            "Merge",
            props=self._function_props(
                stage,
                code=code,
                handler="parallel_search.handlers.merge.handler",
                memory_size_mb=self.settings.merge_memory_mb,
                description="Merges and ranks both searches",
                environment=self._payload_environment(),
            ),
        ).function
        self.payloads.grant_prefix(merge.role, "searches/", read=True)
        self.payloads.grant_prefix(merge.role, "merged/", write=True)
        return merge

    def _invoke(self, construct_id: str, function: lambda_.IFunction, payload: dict) -> tasks.LambdaInvoke:
        invoke = tasks.LambdaInvoke.jsonata(
            self,
            construct_id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,  # the result only: no invocation metadata in the payload
            retry_on_service_exceptions=False,  # replaced by the jittered retry below
            task_timeout=sfn.Timeout.duration(Duration.seconds(self.settings.function_timeout_seconds + 10)),
        )
        retry_from_settings(invoke, LAMBDA_SERVICE_ERRORS, self.settings)
        return invoke

    def _build_definition(self) -> sfn.IChainable:
        on_failure = notify_failure_then_fail_jsonata(self, notices=self.notices, workflow=WORKFLOW)
        search_all = sfn.Parallel.jsonata(self, "SearchAll", comment="Both APIs at once")
        for api_name, function in self.search_functions.items():
            search = self._invoke(f"Search {api_name}", function, {"keywords": "{% $keywords %}", "execution_name": EXECUTION_NAME})
            retry_from_settings(search, RETRYABLE_API_ERRORS, self.settings)
            search_all.branch(search)
        search_all.add_catch(on_failure, errors=["States.ALL"])  # the caught error is the output

        merge = self._invoke(
            "MergeResults",
            self.merge_function,
            {"keywords": "{% $keywords %}", "execution_name": EXECUTION_NAME, "results": "{% $states.input %}"},
        )
        merge.add_catch(on_failure, errors=["States.ALL"])

        invalid_input = sfn.Fail.jsonata(self, "InvalidInput", error=INVALID_INPUT_ERROR, cause="keywords must be a non-empty string")
        has_keywords = sfn.Condition.jsonata("{% $type($states.input.keywords) = 'string' and $states.input.keywords != '' %}")
        # Only the keywords go on, as a variable: other input fields would ride along through every state.
        return (
            sfn.Choice.jsonata(self, "ValidateInput")
            .when(has_keywords, search_all.next(merge), assign={"keywords": "{% $states.input.keywords %}"}, outputs={})
            .otherwise(invalid_input)
        )
