"""What the checks read: the templates of a cloud assembly and the state machines in them.

Templates are found through the assembly's manifest (every CloudFormation stack artifact) and
nested-stack templates beside them, never through a list of stacks, so a new or forked workflow is
checked as soon as `app.py` builds it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sandbox.definitions import DefinitionNotInline, definition_of, join_text, token_text

STACK_ARTIFACT = "aws:cloudformation:stack"

# Values a validator may take for CloudFormation pseudo parameters (it needs an ARN's shape, not a real account).
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
}
_PLACEHOLDER = re.compile(r"<(Ref|Fn::GetAtt) ([^>.]+)(?:\.([^>]+))?>")


@dataclass(frozen=True)
class Template:
    stage: str
    stack: str  # the artifact id in the cloud assembly (the construct id of the stack)
    path: Path
    body: dict[str, Any] = field(repr=False, compare=False)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources") or {}

    def of_type(self, *resource_types: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r.get("Type") in resource_types}

    def __str__(self) -> str:
        return f"{self.stage}/{self.stack}"


@dataclass(frozen=True)
class StateMachine:
    template: Template
    logical_id: str
    definition: dict[str, Any] = field(repr=False, compare=False)  # tokens as "<Ref X>" / "<Fn::GetAtt X.Attr>"

    def __str__(self) -> str:
        return f"{self.template}/{self.logical_id}"


def templates_of(assembly_dir: Path, stage: str) -> list[Template]:
    """Every stack template of a cloud assembly (manifest order), then any nested-stack template beside them."""
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    found: list[Template] = []
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        if artifact.get("type") == STACK_ARTIFACT:
            path = assembly_dir / artifact["properties"]["templateFile"]
            found.append(Template(stage, artifact_id, path, json.loads(path.read_text())))
    for path in sorted(assembly_dir.glob("*.nested.template.json")):
        found.append(Template(stage, path.name.removesuffix(".template.json"), path, json.loads(path.read_text())))
    return found


def state_machines(template: Template) -> list[StateMachine]:
    """Each AWS::StepFunctions::StateMachine of the template with its definition parsed (tokens as placeholders)."""
    return [
        StateMachine(template, logical_id, definition_of(resource))
        for logical_id, resource in template.of_type("AWS::StepFunctions::StateMachine").items()
    ]


def referenced_resource(value: Any) -> tuple[str, str | None] | None:
    """(logical id, attribute or None for Ref) of a `{"Ref": X}`, `{"Fn::GetAtt": [X, A]}` or their placeholders."""
    if isinstance(value, dict) and len(value) == 1:
        (kind, argument), = value.items()
        if kind == "Ref" and isinstance(argument, str):
            return argument, None
        if kind == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
            return parts[0], (parts[1] if len(parts) > 1 else None)
    if isinstance(value, str):
        match = _PLACEHOLDER.fullmatch(value)
        if match:
            return match.group(2), match.group(3)
    return None


def dead_letter_targets(resource: dict[str, Any]) -> list[Any]:
    """Where a resource sends what it could not deliver or process (the ARN values, as written): a queue's redrive,
    a function's DLQ, a schedule's or a rule target's DLQ, an on-failure destination of an event source mapping
    or of a function's asynchronous invocations, an SNS subscription's redrive."""
    properties = resource.get("Properties") or {}
    on_failure = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    targets = {
        "AWS::SQS::Queue": [(properties.get("RedrivePolicy") or {}).get("deadLetterTargetArn")],
        "AWS::Lambda::Function": [(properties.get("DeadLetterConfig") or {}).get("TargetArn")],
        "AWS::Scheduler::Schedule": [((properties.get("Target") or {}).get("DeadLetterConfig") or {}).get("Arn")],
        "AWS::Events::Rule": [(target.get("DeadLetterConfig") or {}).get("Arn") for target in properties.get("Targets") or []],
        "AWS::Lambda::EventSourceMapping": [on_failure],
        "AWS::Lambda::EventInvokeConfig": [on_failure],
        "AWS::SNS::Subscription": [(properties.get("RedrivePolicy") or {}).get("deadLetterTargetArn")],
    }.get(resource.get("Type") or "", [])
    return [target for target in targets if target is not None]


def realistic_token(template: Template) -> Callable[[str, Any], str]:
    """A `token` writer for validators that check ARNs' shape: each token becomes a value of the form AWS gives it."""

    def write(kind: str, argument: Any) -> str:
        if kind == "Ref" and argument in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[argument]
        logical_id, attribute = referenced_resource({kind: argument}) or (str(argument), None)
        resource_type = (template.resources.get(logical_id) or {}).get("Type", "")
        service = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else "unknown"
        region, account = PSEUDO_PARAMETERS["AWS::Region"], PSEUDO_PARAMETERS["AWS::AccountId"]
        arn = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{logical_id}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{logical_id}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{logical_id.lower()}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{logical_id}",
        }.get(resource_type, f"arn:aws:{service}:{region}:{account}:{logical_id}")
        if attribute == "Arn" or (attribute is None and resource_type in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine")):
            return arn
        if attribute is None and resource_type == "AWS::SQS::Queue":
            return f"https://sqs.{region}.amazonaws.com/{account}/{logical_id}"
        return logical_id.lower() if resource_type == "AWS::S3::Bucket" else logical_id

    return write


def string_leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path of keys, string) of every string in a JSON value; list items keep their parent's key."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from string_leaves(item, path)
