"""Every stack's `local` definition has prod's state graph: the same state names, types and
transitions (the stages may differ only in values: endpoints, timeouts, waits, concurrency)."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.common.registry import discover_workflows
from tests.templates.cfn import resources_of_type, state_machine_definition


def state_graph(states: dict[str, Any], prefix: str = "") -> dict[str, tuple]:
    """state path -> (type, transitions, processor config), recursing into branches and Map processors."""
    graph: dict[str, tuple] = {}
    for name, state in states.items():
        transitions = (
            state.get("Next"),
            state.get("End", False),
            state.get("Default"),
            tuple(choice.get("Next") for choice in state.get("Choices", [])),
            tuple((tuple(c["ErrorEquals"]), c["Next"]) for c in state.get("Catch", [])),
            tuple(tuple(r["ErrorEquals"]) for r in state.get("Retry", [])),
        )
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        shape = (
            tuple(sorted(k for k in state if k in {"ItemReader", "ItemBatcher", "ResultWriter", "ItemSelector",
                                                   "ToleratedFailurePercentage", "ToleratedFailureCount"})),
            tuple(sorted((processor.get("ProcessorConfig") or {}).items())),
        )
        graph[f"{prefix}{name}"] = (state["Type"], transitions, shape)
        for index, branch in enumerate(state.get("Branches", [])):
            graph |= state_graph(branch["States"], f"{prefix}{name}/branch {index}/")
        if processor:
            graph |= state_graph(processor["States"], f"{prefix}{name}/processor/")
            graph[f"{prefix}{name}/processor"] = ("StartAt", processor["StartAt"], ())
    return graph


@pytest.mark.parametrize("stack_id", [workflow.stack_id for workflow in discover_workflows()])
def test_local_and_prod_run_the_same_state_graph(local_stage, prod_stage, stack_id):
    # GIVEN the stack's state machines in both stages
    local, prod = local_stage.template(stack_id), prod_stage.template(stack_id)
    local_machines = resources_of_type(local, "AWS::StepFunctions::StateMachine")
    prod_machines = resources_of_type(prod, "AWS::StepFunctions::StateMachine")
    # THEN they have the same machines, and each the same start state and graph
    assert sorted(local_machines) == sorted(prod_machines)
    for logical_id in local_machines:
        local_def = state_machine_definition({"Resources": {logical_id: local_machines[logical_id]}})
        prod_def = state_machine_definition({"Resources": {logical_id: prod_machines[logical_id]}})
        assert local_def["StartAt"] == prod_def["StartAt"]
        assert state_graph(local_def["States"]) == state_graph(prod_def["States"])


def test_parity_check_sees_a_changed_transition():
    # GIVEN two definitions differing only in one Next
    a = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}, "C": {"Type": "Succeed"}}
    b = {"A": {"Type": "Pass", "Next": "C"}, "B": {"Type": "Succeed"}, "C": {"Type": "Succeed"}}
    # THEN the graphs differ (and equal values do not)
    assert state_graph(a) != state_graph(b)
    assert state_graph(a) == state_graph({**a, "A": {"Type": "Pass", "Next": "B", "Comment": "x"}})
