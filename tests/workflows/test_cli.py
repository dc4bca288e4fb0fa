"""The sandbox CLI as a user runs it, in a child process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

REQUIRED_KEYS = {
    "workflow", "status", "output", "error", "cause", "duration_s", "state_transitions",
    "lambda_invocations", "max_state_payload_bytes",
}


def sandbox_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_list_names_every_workflow_and_its_stack():
    result = sandbox_cli("list")
    assert result.returncode == 0, result.stderr
    assert "parallel-search" in result.stdout and "ParallelSearch" in result.stdout


def test_run_json_prints_one_result_object_and_a_timeline():
    # WHEN a user runs the documented command with 10 MB from each API
    result = sandbox_cli("run", "parallel-search", "--json", "--standin", "result_bytes=10000000")
    # THEN it exits 0, prints the timeline on stderr and one JSON object on stdout
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert REQUIRED_KEYS <= set(report)
    assert report["status"] == "SUCCEEDED" and report["error"] is None
    assert report["max_state_payload_bytes"] < 256 * 1024
    assert "ParallelStateEntered" in result.stderr and "SearchAll" in result.stderr


def test_a_failed_run_exits_non_zero_with_the_error_named():
    result = sandbox_cli("run", "parallel-search", "--json", "--input", '{"keywords": ""}')
    assert result.returncode == 1
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == "FAILED" and report["error"] == "InvalidSearchInput"


def test_bad_options_are_usage_errors():
    assert sandbox_cli("run", "no-such-workflow").returncode == 2
    assert sandbox_cli("run", "parallel-search", "--standin", "shop-z.fail_times=1").returncode == 2
    assert sandbox_cli("run", "parallel-search", "--input", "[1]").returncode == 2
