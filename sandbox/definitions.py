"""State machines as a synthesized template declares them, read without deploying anything.

CloudFormation tokens inside a definition (`{"Fn::GetAtt": [...]}` in CDK's `Fn::Join`) become
`<Fn::GetAtt X.Arn>`-style strings, so the definition parses as JSON and still names what it
refers to (a diagram labels a Lambda task by its function's logical id).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
_LOGICAL_ID_HASH = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True)
class StateMachine:
    logical_id: str  # in the template
    type: str  # STANDARD | EXPRESS
    definition: dict[str, Any]


class DefinitionNotInline(ValueError):
    """A state machine's definition is not in the template (DefinitionS3Location), so it cannot be read here."""


def token_text(kind: str, argument: Any) -> str:
    """`Ref X` -> `<Ref X>`; `Fn::GetAtt [X, Arn]` -> `<Fn::GetAtt X.Arn>`."""
    return f"<{kind} {argument if isinstance(argument, str) else '.'.join(map(str, argument))}>"


def definition_of(resource: dict[str, Any], token: Callable[[str, Any], str] | None = None) -> dict[str, Any]:
    """The ASL of one `AWS::StepFunctions::StateMachine` resource. `token(kind, argument)` writes each
    CloudFormation token (default `token_text`); DefinitionSubstitutions are applied the same way."""
    token = token or token_text
    properties = resource.get("Properties") or {}
    if "Definition" in properties:
        text = json.dumps(properties["Definition"])
    elif "DefinitionString" in properties:
        text = join_text(properties["DefinitionString"], token)
    else:
        raise DefinitionNotInline("the definition is not in the template (DefinitionS3Location?)")
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + name + "}", join_text(value, token))
    return json.loads(text)


def join_text(value: Any, token: Callable[[str, Any], str] = token_text) -> str:
    """A string, or an `Fn::Join` of strings and tokens, as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(join_text(part, token) for part in parts)
    if isinstance(value, dict) and len(value) == 1:
        (kind, argument), = value.items()
        return token(kind, argument)
    raise ValueError(f"cannot read {json.dumps(value)[:200]} as text")


def state_machines(template: dict[str, Any]) -> list[StateMachine]:
    """Every state machine of a template, in template order."""
    return [
        StateMachine(logical_id, resource["Properties"].get("StateMachineType", "STANDARD"), definition_of(resource))
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == _STATE_MACHINE
    ]


def state_machines_in_assembly(cloud_assembly: Path, stack_id: str) -> list[StateMachine]:
    return state_machines(json.loads((cloud_assembly / f"{stack_id}.template.json").read_text()))


def readable_logical_id(logical_id: str) -> str:
    """`SearchAFunction3FF1D780` -> `SearchAFunction` (CDK's 8-hex-digit suffix dropped)."""
    return _LOGICAL_ID_HASH.sub("", logical_id) or logical_id
