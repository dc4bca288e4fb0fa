"""The reliability suite (`make check`; `make test` runs it too): every check over every template of every
stage, as the cloud assemblies hold them. Nothing here names a stack: a forked workflow is checked as is."""

from __future__ import annotations

import pytest

from sandbox.checks import StateMachine, Template, state_machines, templates_of

STAGES = ("local", "dev", "prod")


@pytest.fixture(scope="session", params=STAGES)
def stage_templates(request: pytest.FixtureRequest) -> list[Template]:
    """Every template of one stage's cloud assembly (each stage synthesized once per session)."""
    stage = request.getfixturevalue(f"{request.param}_stage")
    templates = templates_of(stage.assembly_dir, stage.name)
    assert templates, f"the {stage.name} cloud assembly at {stage.assembly_dir} holds no stack"
    return templates


@pytest.fixture(scope="session")
def stage_machines(stage_templates: list[Template]) -> list[StateMachine]:
    return [machine for template in stage_templates for machine in state_machines(template)]


@pytest.fixture(scope="session")
def all_templates(request: pytest.FixtureRequest) -> list[Template]:
    """Every template of every stage, for the checkers that pay a start-up per run (one run over all of them)."""
    found = []
    for name in STAGES:
        stage = request.getfixturevalue(f"{name}_stage")
        found += templates_of(stage.assembly_dir, stage.name)
    return found
