"""Stage configuration: one typed object per stage, layered from four places.

For stage S (`-c stage=S`; default `dev`), each value is the last one found in:

1. the settings dataclass's default (`stacks/<workflow>/settings.py`: production values, placeholders
   where only you know the value);
2. the workflow's committed per-stage values, `stacks/<workflow>/stages.json` (its section for S's
   base stage, then its section for S itself);
3. your own git-ignored `settings/S.json`;
4. the command line: `-c <workflow>.<setting>=VALUE` (dotted, e.g. `-c parallel_search.api_a.endpoint=https://...`).

Stage-wide settings (`log_retention_days`, `retain_data`, `bundle_for_host`) layer the same way
from `StageConfig`'s defaults, cdk.json's `context.stages.<base>` and `.<S>`, `settings/S.json`
and `-c log_retention_days=30`. `local`, `dev` and `prod` are built in; any other stage name
derives from `dev` or `prod` (`based_on`, given in cdk.json's `stages.S`, `settings/S.json` or `-c`).

Every bad value is a `ConfigError` naming the key and where it was set. Kept free of jsii imports
(aws_cdk is imported only by the two properties that return CDK types) so the sandbox and the fork
tool can read settings without starting Node.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from aws_cdk import RemovalPolicy
    from aws_cdk import aws_logs as logs

    from stacks.common.registry import Workflow

BUILT_IN_STAGES = ("local", "dev", "prod")
DEPLOYABLE_BASES = ("dev", "prod")
STAGES = BUILT_IN_STAGES  # kept for callers that list the built-in ones
DEFAULT_STAGE = "dev"
USER_SETTINGS_DIR = Path(__file__).resolve().parents[2] / "settings"
# Tests set this to "" so a developer's own settings/<stage>.json never changes what they synthesize.
USER_SETTINGS_ENV = "WORKFLOW_SETTINGS_DIR"

# Context keys the app reads besides settings (make/CLI plumbing), never treated as overrides.
STAGE_KEY, STAGES_KEY, WORKFLOW_SELECTION_KEY, BASED_ON_KEY = "stage", "stages", "workflow", "based_on"
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")

T = TypeVar("T")

# CloudWatch Logs retention periods (days -> aws_logs.RetentionDays member name).
_RETENTION_DAYS = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH", 60: "TWO_MONTHS",
    90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS", 2192: "SIX_YEARS",
    2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS", 3653: "TEN_YEARS",
}


class ConfigError(ValueError):
    """The CDK context, a stages.json or a settings file does not describe a valid stage."""


class SettingNotConfigured(ConfigError):
    """A setting still holds its placeholder: it must be set before deploying."""


# --------------------------------------------------------------------------- placeholders
# Placeholders a deploy must not go out with: any host under a name reserved for examples
# (RFC 2606: the `.example` and `.invalid` TLDs, example.com/.net/.org), or this explicit
# sentinel as a setting's whole value.
PLACEHOLDER_DOMAINS = ("example", "invalid", "example.com", "example.net", "example.org")
NOT_CONFIGURED = "NOT-CONFIGURED"


class UnconfiguredSetting(NamedTuple):
    """`path` (e.g. parallel_search.api_a.endpoint) holds placeholder `value`."""

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


def _walk(settings: Any, where: str) -> Iterable[tuple[str, str, Any]]:
    """(path, field name, value) of every leaf of a (nested) settings dataclass."""
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        path = f"{where}.{item.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _walk(value, path)
        else:
            yield path, item.name, value


def unconfigured_settings(settings: Any, where: str) -> list[UnconfiguredSetting]:
    """Every setting of `settings` (a dataclass, nested ones walked) that is still a placeholder."""
    return [UnconfiguredSetting(path, value) for path, _, value in _walk(settings, where) if is_placeholder(value)]


def secret_name_settings(settings: Any, where: str) -> list[tuple[str, str]]:
    """(path, secret name) of every `*_secret_name` setting: the secrets to create before deploying."""
    return [(path, value) for path, name, value in _walk(settings, where)
            if name.endswith("_secret_name") and isinstance(value, str) and value]


# --------------------------------------------------------------------------- the stage object
@dataclass(frozen=True)
class StageConfig:
    """Settings every stack of one stage shares.

    name: `local` (the offline sandbox), `dev`, `prod`, or a stage of yours derived from dev or prod.
    base: the built-in stage `name` derives from (itself for local, dev and prod).
    log_retention_days: CloudWatch Logs retention for functions and state machines (default 30).
    retain_data: keep buckets/tables/log groups on stack deletion (default False; True in prod).
    bundle_for_host: bundle Lambda dependencies for this machine's Python instead of
        the Lambda runtime's (only `local`, whose handlers run on the host).
    workflows: each workflow's layered raw settings, by settings key (parsed by `workflow_settings`).
    origins: where each workflow setting was last set ("parallel_search.api_a.endpoint" -> "-c"), for messages.
    """

    name: str = DEFAULT_STAGE
    base: str = ""
    log_retention_days: int = 30
    retain_data: bool = False
    bundle_for_host: bool = False
    workflows: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.base:
            object.__setattr__(self, "base", self.name if self.name in BUILT_IN_STAGES else DEFAULT_STAGE)
        if self.log_retention_days not in _RETENTION_DAYS:
            raise ConfigError(f"log_retention_days={self.log_retention_days} is not one of "
                              f"{', '.join(map(str, _RETENTION_DAYS))}")

    @property
    def deployable(self) -> bool:
        """dev, prod and stages derived from them go to AWS; `local` runs only in the sandbox."""
        return self.base in DEPLOYABLE_BASES

    @property
    def removal_policy(self) -> "RemovalPolicy":
        from aws_cdk import RemovalPolicy

        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> "logs.RetentionDays":
        from aws_cdk import aws_logs as logs

        return getattr(logs.RetentionDays, _RETENTION_DAYS[self.log_retention_days])

    def workflow_settings(self, key: str, settings_type: type[T]) -> T:
        """Parse workflow `key`'s layered settings into `settings_type` (a frozen dataclass)."""
        return parse_dataclass(settings_type, self.workflows.get(key, {}), where=key, origins=self.origins)

    def workflow_path(self, key: str) -> str:
        """The dotted key of a workflow's settings (`-c <key>.<setting>=...`, `settings/<stage>.json`'s section)."""
        return key

    def where_to_set(self, path: str) -> str:
        """How a user sets `path` for this stage, without editing a committed file."""
        return f"-c {path}=VALUE, or in settings/{self.name}.json (git-ignored)"

    @classmethod
    def from_context(cls, stages: Mapping[str, Any] | None, stage: str | None) -> "StageConfig":
        """Only the stage-wide part, from cdk.json-shaped `stages` (workflow settings: `resolve_stage`)."""
        return resolve_stage({STAGES_KEY: stages or {}, STAGE_KEY: stage or DEFAULT_STAGE}, workflows=(), settings_dir=None)


# --------------------------------------------------------------------------- parsing
_STAGE_WIDE = {f.name for f in dataclasses.fields(StageConfig)} - {"name", "base", "workflows", "origins"}


def _coerce(value: Any, hint: Any, where: str, origin: str = "") -> Any:
    """A command-line string to the field's type (ints, floats, booleans; JSON for lists and objects)."""
    if not isinstance(value, str) or hint is str:
        return value
    generic = typing.get_origin(hint)
    try:
        if hint is bool:
            if value.lower() not in ("true", "false"):
                raise ValueError
            return value.lower() == "true"
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
        if dataclasses.is_dataclass(hint) or generic in (tuple, list, dict) or hint in (tuple, list, dict):
            return json.loads(value)
    except ValueError:
        kind = getattr(hint, "__name__", "JSON")
        raise ConfigError(f"{where} must be {'a JSON value' if kind == 'JSON' or dataclasses.is_dataclass(hint) else kind}, "
                          f"got {value!r}{origin}") from None
    return value


def parse_dataclass(settings_type: type[T], raw: Mapping[str, Any], *, where: str, origins: Mapping[str, str] | None = None,
                    base: T | None = None) -> T:
    """Build a (possibly nested) frozen dataclass from layered settings, rejecting unknown keys and wrong types.

    base: the value the settings start from (default: the type's defaults). A nested section that sets
    only some fields keeps the others from its parent's default (e.g. `api_b.endpoint` alone keeps
    api_b's default name).
    """
    origins = origins or {}

    def origin(path: str) -> str:
        return f" (set in {origins[path]})" if path in origins else ""

    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object, got {type(raw).__name__}{origin(where)}")
    fields = {f.name: f for f in dataclasses.fields(settings_type)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown setting{origin(f'{where}.{unknown[0]}')}; "
                          f"known: {', '.join(fields)}")
    hints = typing.get_type_hints(settings_type)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        hint, path = hints.get(key), f"{where}.{key}"
        value = _coerce(value, hint, path, origin(path))
        if dataclasses.is_dataclass(hint):
            start = getattr(base, key) if base is not None else _field_default(fields[key])
            value = parse_dataclass(hint, value, where=path, origins=origins, base=start)  # type: ignore[arg-type]
        elif hint in (int, float, str, bool) and (not isinstance(value, hint) or (hint is not bool and isinstance(value, bool))):
            if not (hint is float and isinstance(value, int) and not isinstance(value, bool)):
                raise ConfigError(f"{path} must be {hint.__name__}, got {value!r}{origin(path)}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        return dataclasses.replace(base, **values) if base is not None else settings_type(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _field_default(item: dataclasses.Field) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return None


# --------------------------------------------------------------------------- layering
def _load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read {what}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: {what} must be a JSON object")
    return data


def _overlay(target: dict[str, Any], layer: Mapping[str, Any], *, where: str, source: str, origins: dict[str, str],
             schema: type | None) -> None:
    """Deep-merge `layer` into `target`, checking keys against `schema` (a dataclass) as it goes."""
    if not isinstance(layer, Mapping):
        raise ConfigError(f"{where} must be an object, got {type(layer).__name__} (set in {source})")
    hints = typing.get_type_hints(schema) if schema else {}
    for key, value in layer.items():
        path = f"{where}.{key}" if where else key
        if schema is not None and key not in hints:
            raise ConfigError(f"{path}: unknown setting (set in {source}); known: {', '.join(hints)}")
        hint = hints.get(key)
        nested = dataclasses.is_dataclass(hint)
        if nested and isinstance(value, str):
            value = _coerce(value, hint, path, f" (set in {source})")
        if nested and isinstance(value, Mapping):
            _overlay(target.setdefault(key, {}), value, where=path, source=source, origins=origins, schema=hint)
        else:
            target[key] = value
            origins[path] = source


def _dotted(key: str, value: Any) -> dict[str, Any]:
    head, _, rest = key.partition(".")
    return {head: _dotted(rest, value) if rest else value}


def _stage_name(context: Mapping[str, Any]) -> str:
    name = context.get(STAGE_KEY) or DEFAULT_STAGE
    if not isinstance(name, str) or not _STAGE_NAME.fullmatch(name):
        raise ConfigError(f"stage {name!r} is not a valid stage name (lower-case letters, digits, hyphens; at most 20)")
    return name


def _stages_map(context: Mapping[str, Any]) -> Mapping[str, Any]:
    stages = context.get(STAGES_KEY) or {}
    if isinstance(stages, str):  # `-c stages=...` arrives as a string
        try:
            stages = json.loads(stages)
        except json.JSONDecodeError:
            raise ConfigError("stages (from -c) must be a JSON object; to change one setting use "
                              "-c <workflow>.<setting>=VALUE or -c log_retention_days=N") from None
    if not isinstance(stages, Mapping) or not all(isinstance(v, Mapping) for v in stages.values()):
        raise ConfigError("stages must be an object of stage name -> object (cdk.json context.stages or -c stages=...)")
    for name, section in stages.items():
        if "workflows" in section:
            raise ConfigError(f"stages.{name}.workflows in cdk.json is no longer read: each workflow's values live in "
                              f"stacks/<workflow>/stages.json; yours go in settings/{name}.json or -c <workflow>.<setting>=VALUE")
    return stages


def user_settings_dir() -> Path | None:
    """Where the git-ignored `<stage>.json` files are: `settings/`, or $WORKFLOW_SETTINGS_DIR ("" = none)."""
    value = os.environ.get(USER_SETTINGS_ENV)
    if value is None:
        return USER_SETTINGS_DIR
    return Path(value) if value else None


def resolve_stage(context: Mapping[str, Any], *, workflows: Iterable["Workflow"],
                  settings_dir: Path | None | str = "default") -> StageConfig:
    """The stage `context` chooses (CDK context as the app sees it: cdk.json's plus `-c`), every layer applied.

    workflows: the workflows whose settings to layer (their stages.json and settings types).
    settings_dir: where the git-ignored `<stage>.json` files are (default `user_settings_dir()`; None: not read).
    """
    if settings_dir == "default":
        settings_dir = user_settings_dir()
    assert not isinstance(settings_dir, str)
    name = _stage_name(context)
    stages = _stages_map(context)
    user_file = settings_dir / f"{name}.json" if settings_dir else None
    user = _load_json(user_file, "your settings") if user_file else {}
    user_source = f"settings/{name}.json"
    workflows = list(workflows)
    by_key = {workflow.settings_key: workflow for workflow in workflows}

    # Which built-in stage this one derives from.
    declared = [(src, value) for src, value in (("-c", context.get(BASED_ON_KEY)), (user_source, user.get(BASED_ON_KEY)),
                                                 ("cdk.json", stages.get(name, {}).get(BASED_ON_KEY))) if value]
    if name in BUILT_IN_STAGES:
        if any(value != name for _, value in declared):
            raise ConfigError(f"stage {name} is built in: based_on does not apply (set in {declared[0][0]})")
        base = name
    elif not declared:
        raise ConfigError(f"stage {name!r} is not built in ({', '.join(BUILT_IN_STAGES)}): say which one it derives from with "
                          f"-c based_on=prod, \"based_on\": \"prod\" in settings/{name}.json, or stages.{name}.based_on in cdk.json")
    else:
        source, base = declared[0]
        if base not in DEPLOYABLE_BASES:
            raise ConfigError(f"based_on must be one of {', '.join(DEPLOYABLE_BASES)}, got {base!r} (set in {source})")

    # Stage-wide values.
    wide: dict[str, Any] = {}
    wide_origins: dict[str, str] = {}
    for layer_name, source in ((base, "cdk.json"), (name, "cdk.json")):
        section = {k: v for k, v in stages.get(layer_name, {}).items() if k != BASED_ON_KEY}
        _check_stage_wide(section, f"stages.{layer_name}", source)
        wide.update(section)
        wide_origins.update({k: f"{source} stages.{layer_name}" for k in section})
        if base == name:
            break
    user_wide = {k: v for k, v in user.items() if k not in by_key and k != BASED_ON_KEY}
    unknown = sorted(set(user_wide) - _STAGE_WIDE)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key (set in {user_source}); expected a stage-wide setting "
                          f"({', '.join(sorted(_STAGE_WIDE))}), based_on, or a workflow: {', '.join(by_key) or 'none'}")
    wide.update(user_wide)
    wide_origins.update({k: user_source for k in user_wide})
    cli_wide = {k: context[k] for k in _STAGE_WIDE if k in context}
    wide.update(cli_wide)
    wide_origins.update({k: "-c" for k in cli_wide})

    # Per-workflow values.
    raw: dict[str, dict[str, Any]] = {key: {} for key in by_key}
    origins: dict[str, str] = {}
    overrides = _cli_overrides(context, by_key)
    for key, workflow in by_key.items():
        schema = workflow.settings_type()
        committed = _load_json(workflow.stages_file, "per-stage settings")
        rel = f"stacks/{workflow.package}/stages.json"
        for layer_name in dict.fromkeys((base, name)):
            if layer_name in committed:
                _overlay(raw[key], committed[layer_name], where=key, source=f"{rel} ({layer_name})", origins=origins, schema=schema)
        if key in user:
            _overlay(raw[key], user[key], where=key, source=user_source, origins=origins, schema=schema)
        if key in overrides:
            _overlay(raw[key], overrides[key], where=key, source="-c", origins=origins, schema=schema)
    stage_values = parse_dataclass(StageConfig, {**wide, "name": name, "base": base}, where=f"stage {name}",
                                   origins=wide_origins)
    return dataclasses.replace(stage_values, workflows=raw, origins=origins)


def _check_stage_wide(section: Mapping[str, Any], where: str, source: str) -> None:
    unknown = sorted(set(section) - _STAGE_WIDE)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown setting (set in {source}); known: {', '.join(sorted(_STAGE_WIDE))}")


def _cli_overrides(context: Mapping[str, Any], by_key: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`-c <workflow>.<setting>=VALUE` keys as nested objects per workflow; any other dotted key is an error."""
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in context.items():
        if "." not in key or key.startswith(("@", "aws:")):
            continue
        head, _, rest = key.partition(".")
        if head not in by_key:
            raise ConfigError(f"{key}: unknown setting (from -c); a dotted key starts with a workflow: "
                              f"{', '.join(by_key) or 'none'}")
        if not rest or "" in rest.split("."):
            raise ConfigError(f"{key}: not a setting path (from -c)")
        _merge(overrides.setdefault(head, {}), _dotted(rest, value))
    return overrides


def _merge(target: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def load_stage(stage: str | None = None, overrides: Mapping[str, Any] | None = None, *,
               workflows: Iterable["Workflow"] | None = None, settings_dir: Path | None | str = "default") -> StageConfig:
    """A stage as the app would see it: cdk.json's context, then `overrides` (as `-c` would give them).

    workflows: whose settings to layer (default: every discovered workflow).
    """
    from stacks.common.registry import discover_workflows, read_cdk_context

    context = {**read_cdk_context(), **(overrides or {})}
    if stage is not None:
        context[STAGE_KEY] = stage
    return resolve_stage(context, workflows=discover_workflows() if workflows is None else workflows, settings_dir=settings_dir)
