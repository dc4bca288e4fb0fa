"""One sandbox per test session (moto's state is process-global); workflows deploy on first use."""

from __future__ import annotations

from typing import Iterator

import pytest

from sandbox.session import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as session:
        yield session
