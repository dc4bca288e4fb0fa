"""Helpers to read synthesized CloudFormation templates (no logical ids hardcoded)."""

from __future__ import annotations

from typing import Any, Iterator

from sandbox.definitions import definition_of


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def only_resource(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def state_machine_definition(template: dict[str, Any]) -> dict[str, Any]:
    """The state machine's ASL with every CloudFormation token replaced by a `<Ref|Fn::GetAtt ...>` string."""
    _, machine = only_resource(template, "AWS::StepFunctions::StateMachine")
    return definition_of(machine)


def all_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those inside Parallel branches and Map processors."""
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor)


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
