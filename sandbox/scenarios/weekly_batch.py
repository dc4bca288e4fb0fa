"""weekly-batch's outside world: BigQuery (bqemulator behind a proxy) and a Slack webhook receiver.

The Slack webhook URL, with the receiver's real port and a random path secret, is
written into the Secrets Manager secret the notifier reads; the BigQuery functions
are pointed at the proxy's real port through their `BIGQUERY_API_ENDPOINT`.
The run guard's table (the stack's own DynamoDB table) can be made to fail on demand
(stand-in `guard`, see `GuardBehaviour`).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.faults import CRASH, ERRORING, GARBAGE, THROTTLED, TIMING_OUT, Fault, FaultMatrix, Notice
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

    # -- the fault matrix's questions (sandbox.faults) -------------------------------------------
    def guard_status(self, target_date: str) -> str | None:
        """The run guard's status for a date (None: no guard written)."""
        key = {"targetDate": {"S": target_date}}
        item = self._emulator.client("dynamodb").get_item(TableName=self.guard_table, Key=key).get("Item")
        return item["status"]["S"] if item else None

    def _target_date(self, report: Any) -> str | None:
        output = report.output if isinstance(report.output, dict) else {}
        if isinstance(output.get("targetDate"), str):
            return output["targetDate"]
        described = self._emulator.client("stepfunctions").describe_execution(executionArn=report.execution_arn)
        given = json.loads(described.get("input") or "{}")
        return given.get("targetDate") if isinstance(given, dict) and isinstance(given.get("targetDate"), str) else None

    def nothing_lost(self, report: Any) -> list[str]:
        """No run guard left stuck: once a run has ended (and its status rule has run), its date's guard is not
        RUNNING (a stuck guard answers every later start, deliberate re-runs included, with "already ran")."""
        target_date = self._target_date(report)
        if target_date is not None and self.guard_status(target_date) == "RUNNING":
            return [f"the run guard of {target_date} is stuck at RUNNING after the run ended {report.status}"]
        return []

    def end_state(self, report: Any) -> dict[str, Any]:
        """The outcome, the date's guard, and the week's rows in the target table (user, events, amount)."""
        assert self.bigquery, "enter the scenario first"
        output = report.output
        rows = self.bigquery.target_rows(date.fromisoformat(output["weekStart"])) if output.get("weekStart") else []
        return {"outcome": output.get("outcome"), "guard": self.guard_status(output["targetDate"]),
                "rows": [list(row[2:]) for row in rows]}


SCENARIO = WeeklyBatchScenario  # what the sandbox starts around a deployed stack of this workflow


def _dates(number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A target date of its own per run (the guard runs each date once), and its deliberate re-run."""
    target = (date(2033, 1, 5) + timedelta(weeks=number)).isoformat()
    return {"targetDate": target}, {"targetDate": target, "rerun": True}


def _once(mode: str, **more: str) -> dict[str, str]:
    return {"fail_mode": mode, "fail_times": "1", **more}


_DELIVERED = {"slack.delivered": 2}  # "starting" and "succeeded": nothing missed
FAULTS = FaultMatrix(
    inputs=_dates,
    faults=(
        # a quota answer is retried: the second check passes
        Fault("bigquery", THROTTLED, {"bigquery": _once("quota", fail_on="check")},
              retries={"CheckRows": {"BigQueryQuotaExceeded": 1}}, observed={"bigquery.failures_injected": 1, **_DELIVERED}),
        # the insert fails once (503): retried, the MERGE then runs once
        Fault("bigquery", ERRORING, {"bigquery": _once("5xx", fail_on="insert")},
              retries={"InsertWeek": {"BigQueryUnavailable": 1}}, observed={"bigquery.inserts": 1, **_DELIVERED}),
        # answers 1 s after the local stage's 3 s query timeout: retried
        Fault("bigquery", TIMING_OUT, {"bigquery": _once("timeout", fail_on="check", slow_seconds="4")},
              retries={"CheckRows": {"BigQueryTimeout": 1}}, observed=_DELIVERED),
        # a 200 HTML page (a proxy in the way) is an unavailable BigQuery: retried
        Fault("bigquery", GARBAGE, {"bigquery": _once("garbage", fail_on="check")},
              retries={"CheckRows": {"BigQueryUnavailable": 1}}, observed=_DELIVERED),
        # the insert function's worker dies mid-query: not retried, caught, notified (Slack and SNS), the guard
        # marked FAILED; the deliberate re-run's MERGE leaves the rows of a single run
        Fault("bigquery", CRASH, {"bigquery": _once("crash", fail_on="insert")}, error="Runtime.ExitError",
              notice=Notice("Runtime.ExitError", "signal: killed")),
        # a 429 is waited out by the notifier itself (its Retry-After fits the time left): no state retry
        Fault("slack", THROTTLED, {"slack": _once("429", retry_after_seconds="0")}, observed={"slack.posts": 3, **_DELIVERED}),
        Fault("slack", ERRORING, {"slack": _once("5xx")}, retries={"NotifyStarting": {"SlackUnavailable": 1}},
              observed={"slack.posts": 3, **_DELIVERED}),
        # "ok" 1 s after the 2 s client timeout: retried; Slack had taken the first post, so it shows twice (at least once)
        Fault("slack", TIMING_OUT, {"slack": _once("slow", slow_seconds="3")}, retries={"NotifyStarting": {"SlackUnavailable": 1}},
              observed={"slack.posts": 3, "slack.delivered": 3}),
        # a 2xx without "ok" is not Slack's acceptance: retried
        Fault("slack", GARBAGE, {"slack": _once("garbage")}, retries={"NotifyStarting": {"SlackUnavailable": 1}},
              observed={"slack.posts": 3, **_DELIVERED}),
        # the notifier's worker dies mid-post: the notice is recorded as missed, the batch goes on
        Fault("slack", CRASH, {"slack": _once("crash")}, observed={"slack.delivered": 1}),
    ),
)
