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
from typing import Any

_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
_LOGICAL_ID_HASH = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True)
class StateMachine:
    logical_id: str  # in the template
    type: str  # STANDARD | EXPRESS
    definition: dict[str, Any]


def token_text(value: dict[str, Any]) -> str:
    """`{"Ref": "X"}` -> `<Ref X>`; `{"Fn::GetAtt": ["X", "Arn"]}` -> `<Fn::GetAtt X.Arn>`."""
    (kind, arg), = value.items()
    return f"<{kind} {arg if isinstance(arg, str) else '.'.join(map(str, arg))}>"


def definition_of(resource: dict[str, Any]) -> dict[str, Any]:
    """The ASL of one `AWS::StepFunctions::StateMachine` resource, tokens as `<...>` strings."""
    props = resource["Properties"]
    if isinstance(props.get("Definition"), dict):
        return props["Definition"]
    text = props["DefinitionString"]
    if isinstance(text, dict) and "Fn::Join" in text:
        separator, parts = text["Fn::Join"]
        text = separator.join(part if isinstance(part, str) else token_text(part) for part in parts)
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + key + "}", value if isinstance(value, str) else token_text(value))
    return json.loads(text)


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
