"""Stage configuration: one typed object read from CDK context.

`cdk.json` holds a `stages` map (local, dev, prod); `-c stage=NAME` picks one.
Each workflow parses its own section with its own frozen dataclass, so a
forked stack carries its settings with it.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, TypeVar
from urllib.parse import urlsplit

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

STAGES = ("local", "dev", "prod")
DEFAULT_STAGE = "dev"

T = TypeVar("T")

_RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


class ConfigError(ValueError):
    """The CDK context does not describe a valid stage."""


class SettingNotConfigured(ConfigError):
    """A setting still holds its placeholder: it must be set before deploying."""


# Placeholders a deploy must not go out with: any host under a name reserved for examples
# (RFC 2606: the `.example` and `.invalid` TLDs, example.com/.net/.org), or this explicit
# sentinel as a setting's whole value.
PLACEHOLDER_DOMAINS = ("example", "invalid", "example.com", "example.net", "example.org")
NOT_CONFIGURED = "NOT-CONFIGURED"


class UnconfiguredSetting(NamedTuple):
    """`path` (e.g. stages.dev.workflows.parallel_search.api_a.endpoint) holds placeholder `value`."""

    path: str
    value: str


def is_placeholder(value: Any) -> bool:
    """True for the sentinel and for URLs or bare host names under a reserved example name."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if text == NOT_CONFIGURED:
        return True
    try:
        host = urlsplit(text).hostname if "://" in text else text.split("/", 1)[0].split(":", 1)[0]
    except ValueError:
        return False
    host = (host or "").lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in PLACEHOLDER_DOMAINS)


def unconfigured_settings(settings: Any, where: str) -> list[UnconfiguredSetting]:
    """Every setting of `settings` (a dataclass, nested ones walked) that is still a placeholder."""
    found: list[UnconfiguredSetting] = []
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        path = f"{where}.{item.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found += unconfigured_settings(value, path)
        elif is_placeholder(value):
            found.append(UnconfiguredSetting(path, value))
    return found


def secret_name_settings(settings: Any, where: str) -> list[tuple[str, str]]:
    """(path, secret name) of every `*_secret_name` setting: the secrets to create before deploying."""
    found: list[tuple[str, str]] = []
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        path = f"{where}.{item.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found += secret_name_settings(value, path)
        elif item.name.endswith("_secret_name") and isinstance(value, str) and value:
            found.append((path, value))
    return found


@dataclass(frozen=True)
class StageConfig:
    """Settings every stack of one stage shares.

    name: `local` (the offline sandbox), `dev` or `prod`.
    log_retention_days: CloudWatch Logs retention for functions and state machines (default 30).
    retain_data: keep buckets/tables/log groups on stack deletion (default False; True in prod).
    bundle_for_host: bundle Lambda dependencies for this machine's Python instead of
        the Lambda runtime's (only `local`, whose handlers run on the host).
    workflows: raw per-workflow sections, parsed by each workflow's settings class.
    """

    name: str = DEFAULT_STAGE
    log_retention_days: int = 30
    retain_data: bool = False
    bundle_for_host: bool = False
    workflows: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        try:
            return _RETENTION_BY_DAYS[self.log_retention_days]
        except KeyError:
            allowed = ", ".join(str(days) for days in sorted(_RETENTION_BY_DAYS))
            raise ConfigError(f"log_retention_days={self.log_retention_days} is not one of {allowed}") from None

    def workflow_settings(self, key: str, settings_type: type[T]) -> T:
        """Parse the `workflows.<key>` section into `settings_type` (a frozen dataclass)."""
        return parse_dataclass(settings_type, self.workflows.get(key, {}), where=self.workflow_path(key))

    def workflow_path(self, key: str) -> str:
        """Where a workflow's settings live in cdk.json's context, e.g. stages.dev.workflows.parallel_search."""
        return f"stages.{self.name}.workflows.{key}"

    @classmethod
    def from_context(cls, stages: Mapping[str, Any] | None, stage: str | None) -> "StageConfig":
        name = stage or DEFAULT_STAGE
        if name not in STAGES:
            raise ConfigError(f"unknown stage {name!r}; expected one of {', '.join(STAGES)}")
        section = dict((stages or {}).get(name, {}))
        section["name"] = name
        return parse_dataclass(cls, section, where=f"stages.{name}")


def parse_dataclass(settings_type: type[T], raw: Mapping[str, Any], *, where: str) -> T:
    """Build a (possibly nested) frozen dataclass from a context mapping, rejecting unknown keys."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(settings_type)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    hints = typing.get_type_hints(settings_type)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        hint = hints.get(key)
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            value = parse_dataclass(hint, value, where=f"{where}.{key}")  # type: ignore[arg-type]
        elif isinstance(hint, type) and hint in (int, float, str, bool) and not isinstance(value, hint):
            if not (hint is float and isinstance(value, int) and not isinstance(value, bool)):
                raise ConfigError(f"{where}.{key} must be {hint.__name__}, got {value!r}")
        values[key] = value
    return settings_type(**values)
