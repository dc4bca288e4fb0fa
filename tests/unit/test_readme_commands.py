"""Every command the READMEs show runs as shown from a fresh clone: each shell-block line and each inline
command is checked against the thing it calls. `make` lines dry-run (`make -n`), sandbox lines are parsed by
the sandbox CLI itself (options, types, known workflows), preflight lines run for real (offline), and a bare
`python -m` (which needs an activated venv) is refused."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from sandbox.cli import app
from sandbox.fork import COMMAND_SPAN
from stacks.common.registry import REPO_ROOT, discover_workflows

READMES = [REPO_ROOT / "README.md", *(workflow.readme for workflow in discover_workflows())]
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.M | re.S)
INLINE = COMMAND_SPAN
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Commands of other tools a README may show (the user's AWS and Google CLIs), not this project's.
OTHER_TOOLS = ("aws", "gcloud", "cd", "git", "export", "jq", "less", "head")


def shown_commands() -> list[tuple[str, str]]:
    """(where, command line) of every command shown: shell-block lines and inline code that starts like a command."""
    found = []
    for readme in READMES:
        text = HTML_COMMENT.sub("", readme.read_text(encoding="utf-8"))
        name = readme.relative_to(REPO_ROOT).as_posix()
        for block in SHELL_BLOCK.findall(text):
            found += [(name, line.strip()) for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        found += [(name, match) for match in INLINE.findall(text) if "[" not in match and "<" not in match and "..." not in match]
    return found


def _sandbox_cli() -> click.Group:
    return typer.main.get_command(app)  # type: ignore[return-value]


def check_sandbox(args: list[str]) -> None:
    group = _sandbox_cli()
    command = group.get_command(click.Context(group), args[0])
    assert command is not None, f"no sandbox command {args[0]!r}"
    command.make_context(args[0], args[1:])  # raises click.UsageError on unknown options or bad values
    known = {workflow.name for workflow in discover_workflows()}
    if args[0] in ("run", "fire", "graph", "cost", "fork") and len(args) > 1:
        assert args[1] in known, f"{args[1]!r} is not a workflow ({', '.join(sorted(known))})"


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (REPO_ROOT / "Makefile").read_text(), flags=re.M))


COMMANDS = shown_commands()


def test_the_readmes_show_commands_to_check():
    assert len(COMMANDS) >= 10 and any(line.startswith("make demo") for _, line in COMMANDS)


@pytest.mark.parametrize(("where", "line"), COMMANDS, ids=[f"{w}:{line[:60]}" for w, line in COMMANDS])
def test_a_shown_command_runs_as_shown(where, line):
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    tokens = list(lexer)
    segments = [[]]
    for token in tokens:
        segments.append([]) if token == "|" else segments[-1].append(token)
    for piped in segments[1:]:  # what the output is piped into must be a common tool
        assert piped and piped[0] in OTHER_TOOLS, f"{where}: `{line}` pipes into {piped[:1]}"
    words = segments[0]
    env_prefix = 0
    while env_prefix < len(words) and re.fullmatch(r"[A-Z_]+=\S*", words[env_prefix]):
        env_prefix += 1  # `AWS_REGION=... make deploy ...`
    words = words[env_prefix:]
    assert words, line
    program, args = words[0], words[1:]
    if program in ("python", "python3"):
        pytest.fail(f"{where}: `{line}` needs an activated venv; show `.venv/bin/python ...`")
    if program == "make":
        target = next((a for a in args if "=" not in a), "")
        assert target in makefile_targets(), f"{where}: make has no target {target!r}"
        dry = subprocess.run(["make", "-n", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        assert dry.returncode == 0, f"{where}: `{line}`: {dry.stderr}"
    elif program == ".venv/bin/python" and args[:2] == ["-m", "sandbox"]:
        check_sandbox(args[2:])
    elif program == ".venv/bin/python" and args[:2] == ["-m", "stacks.preflight"]:
        result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False,
                                env={"PATH": "/usr/bin:/bin", "WORKFLOW_SETTINGS_DIR": ""})
        assert result.returncode in (0, 4), f"{where}: `{line}` exited {result.returncode}: {result.stderr}"
    elif program == ".venv/bin/python" and args[:1] == ["-m"]:
        module = args[1]
        assert (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file() or (REPO_ROOT / module.replace(".", "/")).is_dir(), module
    elif program in ("npx", "node_modules/.bin/cdk"):
        cdk_args = args[1:] if program == "npx" else args
        assert (program != "npx" or args[0] == "cdk") and cdk_args[0] in ("deploy", "synth", "diff", "bootstrap", "destroy", "ls")
    else:
        assert program in OTHER_TOOLS, f"{where}: `{line}`: {program!r} is not a command this project provides"
