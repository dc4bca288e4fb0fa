"""The sandbox's workflow list (kept free of jsii so the CLI starts fast) must match the app's."""

from __future__ import annotations

from app import WORKFLOW_STACKS
from sandbox.workflows import WORKFLOWS


def test_sandbox_knows_every_workflow_of_the_app_by_the_same_stack():
    assert {name: spec.stack_id for name, spec in WORKFLOWS.items()} == {
        name: stack_id for name, (stack_id, _) in WORKFLOW_STACKS.items()
    }
