"""The sandbox CLI with parallel-search, as a user runs it in a child process: results, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from tests.conftest import REPO_ROOT
from tests.workflows.test_cli import assert_one_line_error, sandbox_cli


def documented_json_keys() -> set[str]:
    """The keys the README promises for `run --json` (the backticked names of that sentence)."""
    readme = (REPO_ROOT / "README.md").read_text()
    sentence = readme[readme.index("With `--json` it"):]
    sentence = sentence[: sentence.index("Exit code")]
    return set(re.findall(r"`([a-z_]+)`", sentence)) - {"json"}


def test_run_json_prints_exactly_the_documented_keys_and_a_timeline():
    # WHEN a user runs the documented command with 10 MB from each API
    result = sandbox_cli("run", "parallel-search", "--json", "--standin", "result_bytes=10000000")
    # THEN it exits 0, prints the timeline on stderr and on stdout exactly one JSON document (`| jq` reads it),
    # with every documented key
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert set(report) == documented_json_keys()
    assert report["status"] == "SUCCEEDED" and report["error"] is None
    assert report["max_state_payload_bytes"] < 256 * 1024
    assert "ParallelStateEntered" in result.stderr and "SearchAll" in result.stderr


def test_a_failed_run_exits_1_with_the_error_named_in_the_summary_on_stdout():
    # WHEN a plain run (no --json) fails
    result = sandbox_cli("run", "parallel-search", "--input", '{"keywords": ""}')
    # THEN it exits 1; stdout holds the summary naming the error (`| less` shows it), stderr the live timeline
    assert result.returncode == 1
    assert "parallel-search: FAILED" in result.stdout and "InvalidSearchInput" in result.stdout
    assert "state transitions" in result.stdout and "ExecutionStarted" not in result.stdout
    assert "ExecutionStarted" in result.stderr and "ExecutionFailed" in result.stderr


def test_a_runner_timeout_is_exit_5_in_one_line():
    # GIVEN shop-a answering every request only after 20 s, and a runner that waits 2 s
    result = sandbox_cli("run", "parallel-search", "--timeout", "2", "--standin", "shop-a.fail_mode=slow",
                         "--standin", "shop-a.fail_times=-1", "--standin", "shop-a.slow_seconds=20")
    # THEN the sandbox stops the execution and says so in one line, exit 5
    assert_one_line_error(result, 5, "did not finish within 2 s")


def test_fire_refuses_a_workflow_without_a_schedule():
    assert_one_line_error(sandbox_cli("fire", "parallel-search"), 2, "no AWS::Scheduler::Schedule")


def test_two_runs_at_once_both_succeed_even_with_the_old_fixed_ports_taken():
    # GIVEN the ports the stand-ins used to have fixed (18181, 18182) taken by another program
    holders = []
    for port in (18181, 18182):
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", port))
            holder.listen()
            holders.append(holder)
        except OSError:
            holder.close()  # already taken by someone else: just as good for this test
    try:
        # WHEN two sandbox runs start at the same time
        command = [sys.executable, "-m", "sandbox", "run", "parallel-search", "--json"]
        runs = [subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        results = [run.communicate(timeout=300) for run in runs]
    finally:
        for holder in holders:
            holder.close()
    # THEN both succeed, each with its own stand-ins
    for run, (stdout, stderr) in zip(runs, results):
        assert run.returncode == 0, stderr[-2000:]
        assert json.loads(stdout.strip().splitlines()[-1])["status"] == "SUCCEEDED"
@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "parallel-search", "--standin", "shop-z.fail_times=1"], "unknown stand-in(s) shop-z"),
    (["run", "parallel-search", "--standin", "colour=blue"], "given for every stand-in"),
    (["run", "parallel-search", "--standin", "shop-a.slow_seconds=-1"], "shop-a: slow_seconds"),
    (["run", "parallel-search", "--standin", "slow_seconds=nan"], "not a finite number"),
    (["run", "parallel-search", "--standin", "shop-b.fail_mode=sometimes"], "fail_mode must be one of"),
])
def test_bad_stand_in_settings_are_one_line_exit_2_before_any_synth(args, fragment):
    result = CliRunner().invoke(app, args)  # in-process: the CLI's own code path, without a process start per case
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(errors) == 1 and errors[0].startswith("error:") and fragment in errors[0], result.stderr
    assert "synth:" not in result.stderr
