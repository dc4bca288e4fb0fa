"""Fixtures every handler test may use (see handler_testing.py)."""

from __future__ import annotations

import pytest

from tests.unit.handler_testing import FakeLambdaContext


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
