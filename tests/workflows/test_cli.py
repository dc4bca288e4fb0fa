"""The sandbox CLI as a user runs it, in a child process: one-line errors and exit codes that hold for any workflow
(parallel-search's own CLI runs: tests/workflows/test_parallel_search_cli.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from stacks.common.registry import discover_workflows
from tests.conftest import REPO_ROOT

FIRST = discover_workflows()[0].name  # any workflow: these checks come before its stand-ins matter


def sandbox_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_list_names_every_workflow_and_its_stack():
    result = sandbox_cli("list")
    assert result.returncode == 0, result.stderr
    for workflow in discover_workflows():
        assert workflow.name in result.stdout and workflow.stack_id in result.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "no-such-workflow"], "unknown workflow"),
    (["run", FIRST, "--input", "[1]"], "must be a JSON object"),
    (["run", FIRST, "--input", "@/no/such/file.json"], "cannot read the file"),
    (["run", FIRST, "--input", "@/"], "cannot read the file"),
    (["run", FIRST, "--timeout", "0"], "--timeout must be at least 0.1"),
    (["fire", FIRST, "--at", "next thursday"], "not an ISO 8601 time"),
    (["fire", FIRST, "--times", "0"], "--times must be from 1 to 10,000, got 0"),
    (["fire", FIRST, "--every", "-1"], "--every must be at least 0, got -1"),
    (["fork", FIRST, "Not_Kebab", "--no-snapshots"], "invalid workflow name 'Not_Kebab'"),
])
def test_usage_errors_are_one_line_exit_2_before_any_synth(args, fragment):
    # in-process (the CLI's own code path, without paying a process start per case)
    result = CliRunner().invoke(app, args)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(errors) == 1 and errors[0].startswith("error:") and fragment in errors[0], result.stderr
    assert "synth:" not in result.stderr  # refused before synth and deploy


def test_unreadable_inputs_are_usage_errors(tmp_path: Path):
    # GIVEN a file that is not UTF-8, JSON nested 5,000 deep, and Japanese input over 256 KiB of UTF-8
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"keywords": "café"}'.encode("latin-1"))
    deep = tmp_path / "deep.json"
    deep.write_text('{"keywords": ' + "[" * 5000 + "]" * 5000 + "}")
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"keywords": "tea", "memo": "日本語" * 30_000}, ensure_ascii=False))
    # WHEN/THEN each is one line, exit 2
    for path, fragment in ((latin1, "not UTF-8"), (deep, "nested too deeply"), (huge, "at most 262,144")):
        result = CliRunner().invoke(app, ["run", FIRST, "--input", f"@{path}"])
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(errors) == 1 and fragment in errors[0], result.stderr




def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_run_stopped_by_a_signal_exits_128_plus_its_number_in_one_line(signum, code, word):
    # GIVEN a run under way (past synth: the emulator and stand-ins are up), started as from a terminal: with
    # Ctrl-C's default action (a suite started in the background by a non-interactive shell ignores SIGINT, and
    # a child inherits that, so the run would rightly ignore it too)
    run = subprocess.Popen([sys.executable, "-m", "sandbox", "run", FIRST], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible)
    seen = ""
    while "synth:" not in seen:
        line = run.stderr.readline()
        assert line, f"the run ended before synth finished: {seen}"
        seen += line
    # WHEN the user presses Ctrl-C (or a supervisor sends SIGTERM)
    run.send_signal(signum)
    _, rest = run.communicate(timeout=60)
    # THEN it stops with 128 + the signal's number, in one line, without a traceback
    errors = [line for line in rest.splitlines() if line.startswith("error:")]
    assert run.returncode == code and len(errors) == 1 and word in errors[0], (run.returncode, rest[-2000:])
    assert "Traceback" not in rest
