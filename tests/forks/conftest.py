"""Fork tests run in temporary copies of this project. `--forks all` (make check-forks) forks every workflow
and exports one as a standalone project; the default forks the first workflow only (make test)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sandbox.fork import copy_project, link_caches
from stacks.common.registry import REPO_ROOT, Workflow, discover_workflows


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "source" in metafunc.fixturenames:
        workflows = discover_workflows()
        chosen = workflows if metafunc.config.getoption("forks") == "all" else workflows[:1]
        metafunc.parametrize("source", chosen, ids=[w.name for w in chosen])


@pytest.fixture
def all_forks(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("forks") != "all":
        pytest.skip("runs with --forks all (make check-forks): it sets up a whole new project")


def project_copy(destination: Path, keep: list[Workflow]) -> Path:
    """A git checkout of this project holding `keep`, sharing our environments (same pins) and dependency cache."""
    copy_project(destination, keep)
    link_caches(destination)
    for shared in (".venv", ".venv-tools", "node_modules"):
        (destination / shared).symlink_to(REPO_ROOT / shared)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=destination, check=True)
    subprocess.run([*git, "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=destination, check=True)
    return destination


def run_in(folder: Path, *command: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKFLOW_SETTINGS_DIR": ""}
    env.pop("SANDBOX_COVERAGE_DIR", None)  # the copy's pytest keeps its own state coverage
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(list(command), cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False)
