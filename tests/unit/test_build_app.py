"""app.build_app builds every workflow stack by default, or only the ones asked for (the synth bench measures one at a time)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

import app
from stacks.common.registry import WorkflowError, discover_workflows


def _stack_ids(application: cdk.App) -> list[str]:
    return [child.node.id for child in application.node.children if isinstance(child, cdk.Stack)]


def test_no_workflows_builds_no_stack():
    # GIVEN an App for the prod stage WHEN built with an empty selection THEN it holds no stack
    application = app.build_app(cdk.App(context=app.cdk_context(stage="prod")), workflows=[])
    assert _stack_ids(application) == []


def test_an_unknown_workflow_is_refused_by_name():
    with pytest.raises(WorkflowError, match="no-such-flow"):
        app.build_app(cdk.App(context=app.cdk_context(stage="prod")), workflows=["no-such-flow"])


def test_a_selection_builds_exactly_those_stacks_in_order(prod_stage):
    # GIVEN the default build (every workflow) of the prod stage
    everything = _stack_ids(prod_stage.app)
    assert everything == [workflow.stack_id for workflow in discover_workflows()]
    # WHEN only the last workflow is asked for (twice), through the `workflow` context as `-c workflow=...` gives it
    last = discover_workflows()[-1]
    application = app.build_app(cdk.App(context=app.cdk_context(stage="prod", workflow=f"{last.name},{last.name}")))
    # THEN exactly its stack is built, once
    assert _stack_ids(application) == [last.stack_id]
