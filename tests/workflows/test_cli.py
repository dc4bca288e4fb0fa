"""The sandbox CLI as a user runs it, in a child process: results, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def sandbox_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def documented_json_keys() -> set[str]:
    """The keys the README promises for `run --json` (the backticked names of that sentence)."""
    readme = (REPO_ROOT / "README.md").read_text()
    sentence = readme[readme.index("With `--json` it"):]
    sentence = sentence[: sentence.index("Exit code")]
    return set(re.findall(r"`([a-z_]+)`", sentence)) - {"json"}


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
    assert "parallel-search" in result.stdout and "ParallelSearch" in result.stdout


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


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "no-such-workflow"], "unknown workflow"),
    (["run", "parallel-search", "--standin", "shop-z.fail_times=1"], "unknown stand-in(s) shop-z"),
    (["run", "parallel-search", "--standin", "colour=blue"], "given for every stand-in"),
    (["run", "parallel-search", "--standin", "shop-a.slow_seconds=-1"], "shop-a: slow_seconds"),
    (["run", "parallel-search", "--standin", "slow_seconds=nan"], "not a finite number"),
    (["run", "parallel-search", "--standin", "shop-b.fail_mode=sometimes"], "fail_mode must be one of"),
    (["run", "parallel-search", "--input", "[1]"], "must be a JSON object"),
    (["run", "parallel-search", "--input", "@/no/such/file.json"], "cannot read the file"),
    (["run", "parallel-search", "--input", "@/"], "cannot read the file"),
    (["fire", "parallel-search", "--at", "next thursday"], "not an ISO 8601 time"),
])
def test_usage_errors_are_one_line_exit_2_before_any_synth(args, fragment):
    result = sandbox_cli(*args, timeout=60)
    assert_one_line_error(result, 2, fragment)
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
    assert_one_line_error(sandbox_cli("run", "parallel-search", "--input", f"@{latin1}"), 2, "not UTF-8")
    assert_one_line_error(sandbox_cli("run", "parallel-search", "--input", f"@{deep}"), 2, "nested too deeply")
    assert_one_line_error(sandbox_cli("run", "parallel-search", "--input", f"@{huge}"), 2, "at most 262,144")


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
