"""The workflows the sandbox can run: stack, sample input, and the outside world each needs.

A *scenario* prepares what a deployed stack expects to exist outside it
(secrets it reads by name, stand-in servers at the endpoints its functions are
configured with) and can change stand-in behaviour between runs.
"""

from __future__ import annotations

import dataclasses
import secrets
import typing
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import urlparse

from sandbox.emulator import DeployedStack, Emulator
from sandbox.standins.search_api import SearchApiBehaviour, SearchApiStandIn


class ScenarioError(ValueError):
    """A stand-in option names an unknown stand-in or setting, or has a bad value."""


class Scenario(Protocol):
    def __enter__(self) -> "Scenario": ...
    def __exit__(self, *exc: object) -> None: ...
    def configure(self, options: Mapping[str, Mapping[str, str]]) -> None:
        """Per stand-in settings, e.g. {"shop-a": {"fail_times": "2"}}; "*" means every stand-in."""
    def stats(self) -> dict[str, Any]:
        """What the outside world saw since the last `configure` (e.g. requests per stand-in)."""


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    stack_id: str  # the CDK construct id in app.py (template file <stack_id>.template.json)
    summary: str
    sample_input: Mapping[str, Any]
    scenario: Callable[[Emulator, DeployedStack], Scenario]


def function_environments(emulator: Emulator, stack: DeployedStack) -> dict[str, dict[str, str]]:
    """Deployed Lambda function name -> its environment variables."""
    lambda_client = emulator.client("lambda")
    environments = {}
    for logical_id, resource_type in stack.resource_types.items():
        if resource_type == "AWS::Lambda::Function":
            name = stack.resources[logical_id]
            config = lambda_client.get_function_configuration(FunctionName=name)
            environments[name] = config.get("Environment", {}).get("Variables", {})
    return environments


def _coerce(settings_type: type, raw: Mapping[str, str], where: str) -> dict[str, Any]:
    """Command-line strings to the types of a settings dataclass's fields."""
    fields = typing.get_type_hints(settings_type)
    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in fields:
            raise ScenarioError(f"{where}: unknown setting {key!r}; known: {', '.join(fields)}")
        kind = fields[key] if fields[key] in (int, float, str) else str
        try:
            values[key] = kind(text)
        except ValueError as exc:
            raise ScenarioError(f"{where}.{key}: {text!r} is not a {kind.__name__}") from exc
    return values


class ParallelSearchScenario:
    """The two search APIs: a random API key per API in Secrets Manager (under the
    secret name the function is configured with) and a stand-in server on the
    port of the function's configured endpoint, checking that key."""

    def __init__(self, emulator: Emulator, stack: DeployedStack) -> None:
        self._emulator = emulator
        self._stack = stack
        self._exit = ExitStack()
        self.standins: dict[str, SearchApiStandIn] = {}

    def __enter__(self) -> "ParallelSearchScenario":
        secrets_client = self._emulator.client("secretsmanager")
        for env in function_environments(self._emulator, self._stack).values():
            if "SEARCH_API_NAME" not in env:
                continue
            api_key = secrets.token_urlsafe(24)
            secret_name = env["SEARCH_API_KEY_SECRET_NAME"]
            try:
                secrets_client.create_secret(Name=secret_name, SecretString=api_key)
            except secrets_client.exceptions.ResourceExistsException:
                secrets_client.put_secret_value(SecretId=secret_name, SecretString=api_key)
            endpoint = urlparse(env["SEARCH_API_ENDPOINT"])
            if endpoint.hostname != "127.0.0.1" or not endpoint.port:
                raise ScenarioError(f"{env['SEARCH_API_NAME']}: endpoint {endpoint.geturl()} is not a 127.0.0.1 port (is this the local stage?)")
            standin = SearchApiStandIn(shop=env["SEARCH_API_NAME"], api_key=api_key, port=endpoint.port)
            self.standins[standin.shop] = self._exit.enter_context(standin)
        if len(self.standins) != 2:
            raise ScenarioError(f"expected two search functions in {self._stack.stack_name}, found {len(self.standins)}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def configure(self, options: Mapping[str, Mapping[str, str]]) -> None:
        unknown = set(options) - set(self.standins) - {"*"}
        if unknown:
            raise ScenarioError(f"unknown stand-in(s) {', '.join(sorted(unknown))}; known: *, {', '.join(self.standins)}")
        for shop, standin in self.standins.items():
            raw = {**options.get("*", {}), **options.get(shop, {})}
            try:
                standin.configure(**{**dataclasses.asdict(SearchApiBehaviour()), **_coerce(SearchApiBehaviour, raw, shop)})
            except ValueError as exc:
                raise ScenarioError(f"{shop}: {exc}") from exc

    def stats(self) -> dict[str, Any]:
        return {"api_requests": {shop: len(standin.requests) for shop, standin in self.standins.items()}}


from sandbox.scenarios.single_flight import SingleFlightScenario  # noqa: E402 - needs ScenarioError above (until scenarios/base.py)

WORKFLOWS: dict[str, WorkflowSpec] = {
    spec.name: spec
    for spec in (
        WorkflowSpec(
            name="parallel-search",
            stack_id="ParallelSearch",
            summary="two search APIs in a Parallel state, merged; large results through S3 (claim check)",
            sample_input={"keywords": "wireless earbuds"},
            scenario=ParallelSearchScenario,
        ),
        WorkflowSpec(
            name="single-flight",
            stack_id="SingleFlight",
            summary="an EXPRESS tick enqueues to SQS FIFO only when nothing is in flight; one long API call at a time",
            sample_input={"scheduled_time": "<aws.scheduler.scheduled-time>"},
            scenario=SingleFlightScenario,
        ),
    )
}


def get_workflow(name: str) -> WorkflowSpec:
    try:
        return WORKFLOWS[name]
    except KeyError:
        raise ScenarioError(f"unknown workflow {name!r}; known: {', '.join(WORKFLOWS)}") from None
