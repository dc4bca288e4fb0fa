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


# Fields AWS allows only in JSONPath states (and Choice rules' Variable); "x.$" keys are JSONPath too.
JSONPATH_ONLY = {"InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "ItemsPath", "Iterator",
                 "TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "ErrorPath", "CausePath",
                 "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "MaxConcurrencyPath", "Variable"}


def jsonpath_fields(value: Any, where: str = "") -> list[str]:
    """Where JSONPath-only fields and `.$` keys sit in a state (its Catch, Choices, reader and writer included;
    the states of its branches and processor are not looked into)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("Branches", "ItemProcessor"):
                continue
            if key in JSONPATH_ONLY or key.endswith(".$"):
                found.append(f"{where}{key}")
            found += jsonpath_fields(inner, f"{where}{key}/")
    elif isinstance(value, list):
        for inner in value:
            found += jsonpath_fields(inner, where)
    return found


def jsonata_throughout(definition: dict[str, Any]) -> list[str]:
    """What keeps a definition from being JSONata throughout: a top level in another language, states in
    another language, JSONPath fields (each named by its state's path); empty when it is."""
    from sandbox.asl import walk_states

    found = [] if definition.get("QueryLanguage") == "JSONata" else ["the top level is not JSONata"]
    for path, _, state, language in walk_states(definition):
        found += [f"{path}: {language}"] if language != "JSONata" else []
        found += [f"{path}: {field}" for field in jsonpath_fields(state)]
    return found
