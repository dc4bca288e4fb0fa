"""weekly-batch's outside world: BigQuery (bqemulator behind a proxy) and a Slack webhook receiver.

The Slack webhook URL, with the receiver's real port and a random path secret, is
written into the Secrets Manager secret the notifier reads; the BigQuery functions
are pointed at the proxy's real port through their `BIGQUERY_API_ENDPOINT`.
The run guard's table (the stack's own DynamoDB table) can be made to fail on demand
(stand-in `guard`, see `GuardBehaviour`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.scenarios.base import ScenarioError, function_environments, local_endpoint, put_secret, set_function_environment
from sandbox.standins.bigquery import BigQueryBehaviour, BigQueryStandIn
from sandbox.standins.dynamodb_faults import DynamoDBFaults, TableFaultBehaviour
from sandbox.standins.slack import SlackBehaviour, SlackStandIn

@dataclass(frozen=True)
class GuardBehaviour(TableFaultBehaviour):
    """The run guard's DynamoDB table (see TableFaultBehaviour). fail_on: acquire (AcquireRunGuard's PutItem),
    record (MarkRunSucceeded / MarkRunFailed's UpdateItem), release (the releaser's UpdateItem), any."""

    fail_on: str = "record"
    slow_seconds: float = 25.0

    @staticmethod
    def fail_on_choices() -> Mapping[str, tuple[frozenset[str], str]]:
        return {"acquire": (frozenset({"PutItem"}), "state-machine"), "record": (frozenset({"UpdateItem"}), "state-machine"),
                "release": (frozenset({"UpdateItem"}), "functions"), "any": (frozenset(), "any")}


STANDIN_SETTINGS = {"bigquery": BigQueryBehaviour, "slack": SlackBehaviour, "guard": GuardBehaviour}
SAMPLE_INPUT = {"targetDate": "2026-11-18"}  # what `sandbox run` sends without --input


def headline(output: Any) -> str:
    """The demo table's line for a successful run: what was inserted, or that the date already ran."""
    if output.get("outcome") != "inserted":
        return f"{output.get('outcome')} ({output.get('targetDate')})"
    missed = [kind for kind, notice in output.get("notices", {}).items() if not notice.get("delivered")]
    return (
        f"week {output.get('weekStart')}..{output.get('weekEnd')}: {output.get('rowsAffected')} rows merged after "
        f"{output.get('checks')} check(s)" + (f"; notices missed: {', '.join(missed)}" if missed else "")
    )


class WeeklyBatchScenario:
    """Exposes `bigquery`, `slack` (the stand-ins), `guard_table` and `guard_faults` once entered."""

    def __init__(self, emulator: Emulator, stack: DeployedStack) -> None:
        self._emulator = emulator
        self._stack = stack
        self._exit = ExitStack()
        self.bigquery: BigQueryStandIn | None = None
        self.slack: SlackStandIn | None = None
        self.guard_table = ""
        self.guard_faults: DynamoDBFaults | None = None

    def __enter__(self) -> "WeeklyBatchScenario":
        try:
            environments = function_environments(self._emulator, self._stack)
            bigquery_functions = {name: env for name, env in environments.items() if "BIGQUERY_API_ENDPOINT" in env}
            notifiers = [env for env in environments.values() if "SLACK_WEBHOOK_SECRET_NAME" in env]
            if not bigquery_functions or len(notifiers) != 1:
                raise ScenarioError(f"{self._stack.stack_name}: expected BigQuery functions and one Slack notifier")
            first = next(iter(bigquery_functions.values()))
            self.bigquery = self._exit.enter_context(
                BigQueryStandIn(
                    dataset=first["BIGQUERY_DATASET"],
                    source_table=first["BIGQUERY_SOURCE_TABLE"],
                    target_table=first["BIGQUERY_TARGET_TABLE"],
                )
            )
            port = int(self.bigquery.url.rsplit(":", 1)[1])
            for name, env in bigquery_functions.items():
                endpoint = local_endpoint(env["BIGQUERY_API_ENDPOINT"], port=port, setting="bigquery.api_endpoint")
                set_function_environment(self._emulator, name, {"BIGQUERY_API_ENDPOINT": endpoint})
            self.slack = self._exit.enter_context(SlackStandIn())
            put_secret(self._emulator, notifiers[0]["SLACK_WEBHOOK_SECRET_NAME"], self.slack.webhook_url)
            (self.guard_table,) = [self._stack.resources[lid] for lid, t in self._stack.resource_types.items()
                                   if t == "AWS::DynamoDB::Table"]
            # fail_mode=crash: the calling function's worker dies mid-call, as a crashed Lambda (Runtime.ExitError)
            runtime, function = self._emulator.lambda_runtime, self._function_named
            self.bigquery.on_crash = lambda kind: runtime.kill_running(function("CheckFunction" if kind == "check" else "InsertFunction"))
            self.slack.on_crash = lambda: runtime.kill_running(function("NotifyFunction"))
            self.guard_faults = self._exit.enter_context(DynamoDBFaults())
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _function_named(self, logical_prefix: str) -> str:
        (name,) = [self._stack.resources[lid] for lid, t in self._stack.resource_types.items()
                   if t == "AWS::Lambda::Function" and lid.startswith(logical_prefix)]
        return name

    def configure(self, settings: Mapping[str, Any]) -> None:
        assert self.bigquery and self.slack, "enter the scenario first"
        self.bigquery.configure(settings.get("bigquery", BigQueryBehaviour()))
        self.slack.configure(settings.get("slack", SlackBehaviour()))
        assert self.guard_faults is not None
        self.guard_faults.configure(settings.get("guard", GuardBehaviour()).fault(self.guard_table))

    def stats(self) -> dict[str, Any]:
        assert self.bigquery and self.slack and self.guard_faults, "enter the scenario first"
        return {"bigquery": self.bigquery.stats(), "slack": self.slack.stats(),
                "guard": {"faults_injected": dict(self.guard_faults.injected)}}
        return {"bigquery": self.bigquery.stats(), "slack": self.slack.stats()}


SCENARIO = WeeklyBatchScenario  # what the sandbox starts around a deployed stack of this workflow
