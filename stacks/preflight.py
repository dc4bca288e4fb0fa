"""`python -m stacks.preflight STAGE`: what must be set before `cdk deploy`, checked offline.

`make deploy` runs this first. It reads cdk.json's context (no AWS calls, no credentials),
parses every workflow's settings for STAGE and refuses, one line per setting, while any
still holds a placeholder (a host under the reserved `.example` TLD, or `NOT-CONFIGURED`):

    SettingNotConfigured: stages.dev.workflows.parallel_search.api_a.endpoint is the placeholder ...

It also lists the Secrets Manager secrets the stacks read (every `*_secret_name` setting), as
the `aws secretsmanager create-secret` commands to run once per account and region.
Synth never runs this: `make synth` and the snapshot tests work with the placeholders.

A workflow's stack class declares where its settings live with two class attributes,
`settings_key` (its `workflows.<key>` section) and `settings_type` (its settings dataclass).
Exit codes: 0 ready, 2 usage (unknown stage, the `local` stage), 4 a setting is not configured.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from stacks.common.config import (
    ConfigError,
    SettingNotConfigured,
    StageConfig,
    UnconfiguredSetting,
    secret_name_settings,
    unconfigured_settings,
)

EXIT_USAGE = 2
EXIT_NOT_CONFIGURED = 4


@dataclass(frozen=True)
class Preflight:
    """unconfigured: settings still holding a placeholder; secrets: (setting path, secret name) to create."""

    stage: str
    unconfigured: list[UnconfiguredSetting] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.unconfigured

    def errors(self) -> list[str]:
        return [
            f"{SettingNotConfigured.__name__}: {item.path} is the placeholder {item.value!r}; set it in cdk.json "
            f"(context -> {' -> '.join(item.path.split('.'))}), then run `make deploy STAGE={self.stage}` again"
            for item in self.unconfigured
        ]

    def secret_commands(self) -> list[str]:
        return [
            f"aws secretsmanager create-secret --name {name} --secret-string '<value>'   # {path}"
            for path, name in self.secrets
        ]


def check(stage: StageConfig, stack_classes: Iterable[type]) -> Preflight:
    """Every placeholder and secret name in the settings of `stack_classes` for `stage`."""
    result = Preflight(stage.name)
    for stack_class in stack_classes:
        key, settings_type = getattr(stack_class, "settings_key", None), getattr(stack_class, "settings_type", None)
        if key is None or settings_type is None:
            raise ConfigError(
                f"{stack_class.__name__} declares no settings_key/settings_type: preflight cannot check its settings"
            )
        settings = stage.workflow_settings(key, settings_type)
        result.unconfigured.extend(unconfigured_settings(settings, stage.workflow_path(key)))
        result.secrets.extend(secret_name_settings(settings, stage.workflow_path(key)))
    return result


def run(stage_name: str, context: Mapping[str, Any] | None = None, out=None, err=None) -> int:  # noqa: ANN001
    """Check `stage_name` against `context` (default: cdk.json's) and print the verdict; returns the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    if stage_name == "local":
        print("preflight: `local` is the offline sandbox's stage (python -m sandbox); deploy dev or prod", file=err)
        return EXIT_USAGE
    import app  # after the cheap checks: it loads aws-cdk-lib (jsii)

    context = app.cdk_context() if context is None else context
    try:
        stage = StageConfig.from_context(context.get("stages"), stage_name)
        result = check(stage, (stack_class for _, stack_class in app.WORKFLOW_STACKS.values()))
    except ConfigError as exc:
        print(f"{type(exc).__name__}: {exc}", file=err)
        return EXIT_USAGE
    if not result.ready:
        for line in result.errors():
            print(line, file=err)
        if result.secrets:
            print("The stacks also read these secrets; create each once in the account and region you deploy to:", file=err)
            for line in result.secret_commands():
                print(f"  {line}", file=err)
        print("See README.md, 'Before you deploy'.", file=err)
        return EXIT_NOT_CONFIGURED
    print(f"preflight {stage.name}: every setting is configured.", file=out)
    if result.secrets:
        print("The stacks read these secrets; create any you have not yet (the functions fail until they exist):", file=out)
        for line in result.secret_commands():
            print(f"  {line}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m stacks.preflight STAGE   (dev or prod)", file=sys.stderr)
        return EXIT_USAGE
    return run(args[0])


if __name__ == "__main__":
    sys.exit(main())
