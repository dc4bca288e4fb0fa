"""What must be set before a deploy, checked offline: `python -m stacks.preflight STAGE [WORKFLOW ...]`.

`make deploy` runs it first; the app runs the same check whenever the CDK CLI runs it to deploy
(`refuse_deploy_with_placeholders`), so a direct `cdk deploy <stack>` is stopped too. It reads
the layered settings (stacks/common/config.py: each workflow's stages.json, your settings/<stage>.json,
`-c` values), makes no AWS call and needs no credentials, and refuses, one line per setting, while
any setting of the chosen workflows still holds a placeholder (a host under the reserved `.example`
TLD, or `NOT-CONFIGURED`):

    SettingNotConfigured: parallel_search.api_a.endpoint is the placeholder '...'; set it with -c ...

It also lists the Secrets Manager secrets the stacks read (every `*_secret_name` setting), as the
`aws secretsmanager create-secret` commands to run once per account and region. Synth never
refuses: `make synth`, `cdk synth` and the snapshot tests work with the placeholders.

Exit codes: 0 ready, 2 usage (unknown stage or workflow, the `local` stage, a bad setting), 4 a setting
is not configured. Kept free of jsii imports.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from stacks.common.config import (
    ConfigError,
    SettingNotConfigured,
    StageConfig,
    UnconfiguredSetting,
    resolve_stage,
    secret_name_settings,
    unconfigured_settings,
)
from stacks.common.registry import Workflow, WorkflowError, read_cdk_context, select_workflows

EXIT_USAGE = 2
EXIT_NOT_CONFIGURED = 4

# CDK CLI commands that deploy what the app synthesizes.
DEPLOYING_COMMANDS = frozenset({"deploy", "watch", "import"})
_CDK_COMMANDS = DEPLOYING_COMMANDS | {"synth", "synthesize", "diff", "list", "ls", "destroy", "drift", "refactor",
                                      "publish-assets", "rollback", "metadata", "acknowledge", "notices", "context",
                                      "docs", "doctor", "bootstrap", "gc", "flags", "migrate", "init"}


@dataclass(frozen=True)
class Preflight:
    """unconfigured: settings still holding a placeholder; secrets: (setting path, secret name) to create."""

    stage: StageConfig
    workflows: tuple[str, ...]
    unconfigured: list[UnconfiguredSetting] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.unconfigured

    def errors(self) -> list[str]:
        return [
            f"{SettingNotConfigured.__name__}: {item.path} is the placeholder {item.value!r}; "
            f"set it for stage {self.stage.name} with {self.stage.where_to_set(item.path)}"
            for item in self.unconfigured
        ]

    def secret_commands(self) -> list[str]:
        return [
            f"aws secretsmanager create-secret --name {name} --secret-string '<value>'   # {path}"
            for path, name in self.secrets
        ]


def check(stage: StageConfig, workflows: Iterable[Workflow]) -> Preflight:
    """Every placeholder and secret name in the settings of `workflows` for `stage`."""
    chosen = tuple(workflows)
    result = Preflight(stage, tuple(workflow.name for workflow in chosen))
    for workflow in chosen:
        settings = stage.workflow_settings(workflow.settings_key, workflow.settings_type())
        result.unconfigured.extend(unconfigured_settings(settings, workflow.settings_key))
        result.secrets.extend(secret_name_settings(settings, workflow.settings_key))
    return result


def run(stage_name: str, workflow_names: Sequence[str] = (), *, context: Mapping[str, Any] | None = None,
        settings_dir: Path | None = None, out=None, err=None) -> int:  # noqa: ANN001
    """Check `stage_name` for the named workflows (default all) against `context` (default: cdk.json's);
    print the verdict; return the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        workflows = select_workflows(list(workflow_names))
        context = {**(read_cdk_context() if context is None else context), "stage": stage_name}
        stage = resolve_stage(context, workflows=workflows, settings_dir="default" if settings_dir is None else settings_dir)
        if not stage.deployable:
            print("preflight: `local` is the offline sandbox's stage (.venv/bin/python -m sandbox); deploy dev, prod "
                  "or a stage based on them", file=err)
            return EXIT_USAGE
        result = check(stage, workflows)
    except (ConfigError, WorkflowError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=err)
        return EXIT_USAGE
    scope = ", ".join(result.workflows)
    if not result.ready:
        for line in result.errors():
            print(line, file=err)
        if result.secrets:
            print("These workflows also read these secrets; create each once in the account and region you deploy to:", file=err)
            for line in result.secret_commands():
                print(f"  {line}", file=err)
        print("See README.md, 'Deploy'.", file=err)
        return EXIT_NOT_CONFIGURED
    print(f"preflight {stage.name} ({scope}): every setting is configured.", file=out)
    if result.secrets:
        print("These workflows read these secrets; create any you have not yet (the functions fail until they exist):", file=out)
        for line in result.secret_commands():
            print(f"  {line}", file=out)
    return 0


# --------------------------------------------------------------------------- the app's own check
def cdk_cli_invocation(pid: int | None = None, max_depth: int = 8) -> list[str] | None:
    """The CDK CLI's arguments after `cdk` (e.g. ["deploy", "ParallelSearch-dev", "-c", "stage=dev"]) when this
    process was started by it, found among its ancestors' command lines (Linux /proc; elsewhere `ps`).
    None when no ancestor is the CDK CLI (tests, the sandbox, a plain `python app.py`)."""
    pid = os.getppid() if pid is None else pid
    for _ in range(max_depth):
        if pid <= 1:
            return None
        parent, argv = _process(pid)
        for index, arg in enumerate(argv):
            name = Path(arg).name
            if name == "cdk" or arg.endswith(("aws-cdk/bin/cdk", "aws-cdk/bin/cdk.js")):
                return argv[index + 1:]
        if parent is None:
            return None
        pid = parent
    return None


def _process(pid: int) -> tuple[int | None, list[str]]:
    """(parent pid, argv) of a process, or (None, []) if it cannot be read."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1]), [a.decode(errors="replace") for a in argv if a]
    except (OSError, ValueError, IndexError):
        pass
    import subprocess

    try:
        line = subprocess.run(["ps", "-o", "ppid=", "-o", "command=", "-p", str(pid)], capture_output=True, text=True,
                              timeout=5, check=False).stdout.strip()
        parent, _, command = line.partition(" ")
        return int(parent), command.split()
    except (OSError, ValueError, subprocess.SubprocessError):
        return None, []


def deploy_targets(cli_args: Sequence[str], stacks: Mapping[str, str]) -> list[str] | None:
    """Which of `stacks` (construct id -> stack name) a CDK CLI command line deploys; None if it does not deploy.

    The command is the first argument that is a CDK command; stack patterns are the other bare
    arguments that match a stack's id or name as the CLI matches them (glob); none given = all stacks.
    """
    command = next((arg for arg in cli_args if arg in _CDK_COMMANDS), None)
    if command not in DEPLOYING_COMMANDS:
        return None
    patterns = [arg for arg in cli_args[cli_args.index(command) + 1:] if not arg.startswith("-")]
    chosen = [stack_id for stack_id, name in stacks.items()
              if any(fnmatch.fnmatchcase(stack_id, p) or fnmatch.fnmatchcase(name, p) for p in patterns)]
    return chosen or list(stacks)


def refuse_deploy_with_placeholders(app: Any, cli_args: Sequence[str] | None = None) -> list[str]:
    """The lines that stop a CDK CLI deploy of a stack whose settings hold a placeholder ([] = go on).

    app: the built aws_cdk.App. cli_args: the CLI's arguments (default: read from the process's ancestors).
    """
    cli_args = cdk_cli_invocation() if cli_args is None else cli_args
    if not cli_args:
        return []
    stacks = {child.node.id: child.stack_name for child in app.node.children if hasattr(child, "stack_name")}
    targets = deploy_targets(cli_args, stacks)
    if not targets:
        return []
    from stacks.common.registry import discover_workflows

    workflows = [workflow for workflow in discover_workflows() if workflow.stack_id in targets]
    stage = resolve_stage(app.node.get_all_context(), workflows=workflows)
    if not stage.deployable:
        return [f"DeployRefused: stage {stage.name} runs only in the offline sandbox; deploy dev, prod or a stage based on them"]
    result = check(stage, workflows)
    if result.ready:
        return []
    return [*result.errors(), f"Nothing was deployed. Check offline with: .venv/bin/python -m stacks.preflight {stage.name} "
            + " ".join(result.workflows)]


def main(argv: list[str] | None = None) -> int:
    """`STAGE [WORKFLOW ...] [-c KEY=VALUE ...]`: the -c values override settings as `cdk -c` does."""
    args = sys.argv[1:] if argv is None else list(argv)
    positional, overrides = [], {}
    while args:
        arg = args.pop(0)
        if arg in ("-c", "--context") and args:
            key, sep, value = args.pop(0).partition("=")
            if not sep:
                positional = []
                break
            overrides[key] = value
        elif arg.startswith("-"):
            positional = []
            break
        else:
            positional.append(arg)
    if not positional:
        print("usage: .venv/bin/python -m stacks.preflight STAGE [WORKFLOW ...] [-c KEY=VALUE ...]   (STAGE: dev, prod or yours)",
              file=sys.stderr)
        return EXIT_USAGE
    context = {**read_cdk_context(), **overrides}
    return run(positional[0], positional[1:], context=context)


if __name__ == "__main__":
    sys.exit(main())
