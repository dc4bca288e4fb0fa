"""Each reliability property holds in every template of every stage (rules: sandbox/checks/properties.py)."""

from __future__ import annotations

import pytest

from stacks.common.registry import discover_workflows
from sandbox.checks import PROPERTY_CHECKS


@pytest.mark.parametrize("check", PROPERTY_CHECKS)
def test_property_holds_in_every_template(stage_templates, check):
    # GIVEN every template of the stage's cloud assembly
    # WHEN the property is checked in each (and in each state machine of each)
    violations = [str(v) for template in stage_templates for v in PROPERTY_CHECKS[check](template)]
    # THEN none violates it
    assert violations == [], "\n".join(violations)


def test_the_assembly_holds_every_workflow_and_its_state_machines(stage_templates, stage_machines):
    # GIVEN the templates found through the cloud assembly's manifest
    # THEN every workflow the app builds is among them, each with a state machine whose definition was read
    assert {workflow.stack_id for workflow in discover_workflows()} <= {t.stack for t in stage_templates}
    assert {m.template.stack for m in stage_machines} >= {workflow.stack_id for workflow in discover_workflows()}
    assert all(machine.definition.get("States") for machine in stage_machines)
