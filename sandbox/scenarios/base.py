"""Pieces every scenario shares: typed stand-in settings, secrets, and pointing deployed functions at stand-ins.

Stand-in settings arrive from the command line as strings (`--standin [NAME.]SETTING=VALUE`).
`validate_standin_options` turns them into one frozen settings dataclass per stand-in, before
anything is synthesized or deployed, so a bad value is a usage error and never a crash later.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sandbox.emulator import DeployedStack, Emulator

GLOBAL = "*"  # the stand-in name meaning "every stand-in that has this setting"
T = TypeVar("T")
LAMBDA_STANDIN = "lambda"  # a stand-in every workflow has: its own functions' workers, crashing on demand


class ScenarioError(ValueError):
    """A stand-in option names an unknown stand-in or setting, or has a bad value."""


class Scenario(Protocol):
    def __enter__(self) -> "Scenario": ...
    def __exit__(self, *exc: object) -> None: ...
    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply one validated settings object per stand-in name (see `validate_standin_options`)."""
    def stats(self) -> dict[str, Any]:
        """What the outside world saw since the last `configure` (e.g. requests per stand-in)."""


@dataclass(frozen=True)
class FunctionCrashes:
    """`--standin lambda.SETTING=VALUE`, in every workflow: one of its functions crashing mid-invocation, as
    Lambda's platform can end one (out of memory, a host lost): its worker process is killed and the invocation
    ends as `Runtime.ExitError` (`sandbox.lambda_runtime.LocalLambdaRuntime.crash`).

    function: which function, by its logical id without CDK's hash (e.g. CopyFunction, as `sandbox graph`
        names it); default "" = none.
    crashes: its first N invocations of the run crash; default 1.
    crash_after_seconds: how far into each; an invocation that ends sooner crashes as it ends (its work
        done, its answer lost); 0: as it starts, before its handler runs; default 0.5.
    """

    function: str = ""
    crashes: int = 1
    crash_after_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.crashes < 0:
            raise ValueError("crashes must be >= 0")
        if not (math.isfinite(self.crash_after_seconds) and 0 <= self.crash_after_seconds <= 900):
            raise ValueError("crash_after_seconds must be a number of seconds between 0 and 900")


def settle(scenario: Any, timeout_s: float) -> bool:
    """Wait until the work a scenario's runs set going outside their executions has ended (single-flight's
    consumer): its `settle(timeout_s)` when it has one. True when it has none or the work ended in time."""
    wait = getattr(scenario, "settle", None)
    return True if wait is None else bool(wait(timeout_s))


def coerce_settings(settings_type: type[T], raw: Mapping[str, str], *, where: str) -> T:
    """Command-line strings to a settings dataclass; its `__post_init__` checks the values."""
    hints = typing.get_type_hints(settings_type)
    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in hints:
            raise ScenarioError(f"{where}: unknown setting {key!r}; known: {', '.join(hints)}")
        kind = hints[key] if hints[key] in (int, float, str, bool) else str
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                values[key] = text.lower() in ("true", "1")
            else:
                values[key] = kind(text)
        except ValueError:
            raise ScenarioError(f"{where}.{key}: {text!r} is not a {kind.__name__}") from None
        if kind is float and not math.isfinite(values[key]):
            raise ScenarioError(f"{where}.{key}: {text!r} is not a finite number")
    try:
        return settings_type(**values)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def validate_standin_options(options: Mapping[str, Mapping[str, str]], settings_types: Mapping[str, type]) -> dict[str, Any]:
    """`{name or "*": {setting: text}}` -> `{name: settings object}` for every stand-in of the workflow.

    A setting under "*" applies to every stand-in whose settings have it, and must be known to one of them.
    """
    unknown = sorted(set(options) - set(settings_types) - {GLOBAL})
    if unknown:
        known = ", ".join([GLOBAL, *settings_types]) if settings_types else "none (this workflow has no stand-ins)"
        raise ScenarioError(f"unknown stand-in(s) {', '.join(unknown)}; known: {known}")
    shared = dict(options.get(GLOBAL, {}))
    all_settings = {key for kind in settings_types.values() for key in typing.get_type_hints(kind)}
    for key in shared:
        if key not in all_settings:
            raise ScenarioError(f"unknown setting {key!r} (given for every stand-in); known: {', '.join(sorted(all_settings)) or 'none'}")
    validated = {}
    for name, kind in settings_types.items():
        hints = typing.get_type_hints(kind)
        raw = {**{k: v for k, v in shared.items() if k in hints}, **options.get(name, {})}
        validated[name] = coerce_settings(kind, raw, where=name)
    return validated


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


def set_function_environment(emulator: Emulator, function_name: str, updates: Mapping[str, str]) -> None:
    """Change some environment variables of a deployed function (as `aws lambda update-function-configuration` would)."""
    lambda_client = emulator.client("lambda")
    current = lambda_client.get_function_configuration(FunctionName=function_name).get("Environment", {}).get("Variables", {})
    lambda_client.update_function_configuration(FunctionName=function_name, Environment={"Variables": {**current, **updates}})


def local_endpoint(configured: str, *, port: int, setting: str) -> str:
    """The stage's configured 127.0.0.1 endpoint, on the port a stand-in actually got.

    The `local` stage configures stand-in endpoints as `http://127.0.0.1:0/path` ("a free port");
    the sandbox starts each stand-in on a port the OS picks and points the function there.
    """
    parts = urlsplit(configured)
    if parts.hostname != "127.0.0.1":
        raise ScenarioError(f"{setting}: endpoint {configured} is not on 127.0.0.1 (is this the local stage?)")
    return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, parts.fragment))


def put_secret(emulator: Emulator, name: str, value: str) -> None:
    """Create the secret, or give it a new value, in the emulator's Secrets Manager."""
    client = emulator.client("secretsmanager")
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


def default_settings(settings_types: Mapping[str, type]) -> dict[str, Any]:
    """Every stand-in's default settings."""
    return {name: kind() for name, kind in settings_types.items()}


__all__ = [
    "GLOBAL", "LAMBDA_STANDIN", "FunctionCrashes", "Scenario", "ScenarioError", "coerce_settings", "default_settings",
    "function_environments", "local_endpoint", "put_secret", "set_function_environment", "validate_standin_options",
]
