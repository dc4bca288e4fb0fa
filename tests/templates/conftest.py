"""Fixtures of the per-workflow template tests: each module names its stack in `STACK`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.templates.cfn import state_machine_definition


@pytest.fixture
def template(stage, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The module's stack (`STACK`), synthesized for the `stage` (local and prod)."""
    return stage.template(request.module.STACK)


@pytest.fixture
def definition(template: dict[str, Any]) -> dict[str, Any]:
    """Its state machine's definition, with CloudFormation tokens as `<Ref ...>` strings."""
    return state_machine_definition(template)
