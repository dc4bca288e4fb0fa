"""One sandbox per test session (moto's state is process-global); workflows deploy on first use.

When the session's sandbox closes, the states each deployed definition entered are written for
the state-coverage check in tests/conftest.py. (Sandbox tests run last in each process, so no
in-process `mock_aws` can reset the backends before then.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from sandbox.session import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as session:
        yield session
        coverage_dir = os.environ.get("SANDBOX_COVERAGE_DIR")
        if coverage_dir:
            records = [coverage.to_dict() for workflow in session.deployed.values() for coverage in workflow.state_coverage()]
            Path(coverage_dir, f"coverage-{os.getpid()}.json").write_text(json.dumps(records))
