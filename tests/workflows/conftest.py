"""One sandbox per test session (moto's state is process-global); workflows deploy on first use.

After each test module, the states each deployed definition entered so far are collected;
when the session ends they are written for the state-coverage check in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from sandbox.coverage import StateCoverage
from sandbox.session import Sandbox

_COLLECTED: dict[tuple[str, str], StateCoverage] = {}
_ACTIVE: list[Sandbox] = []


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as session:
        _ACTIVE.append(session)
        yield session
        _collect(session)
        _ACTIVE.remove(session)
    coverage_dir = os.environ.get("SANDBOX_COVERAGE_DIR")
    if coverage_dir and _COLLECTED:
        records = [coverage.to_dict() for coverage in _COLLECTED.values()]
        Path(coverage_dir, f"coverage-{os.getpid()}.json").write_text(json.dumps(records))


@pytest.fixture(scope="module", autouse=True)
def _collect_state_coverage() -> Iterator[None]:
    yield
    for session in _ACTIVE:
        _collect(session)


def _collect(session: Sandbox) -> None:
    for workflow in session.deployed.values():
        for coverage in workflow.state_coverage():
            key = (coverage.workflow, coverage.state_machine)
            previous = _COLLECTED.get(key)
            _COLLECTED[key] = coverage if previous is None else StateCoverage(
                coverage.workflow, coverage.state_machine, coverage.states, coverage.entered | previous.entered)
