"""What moto 5.2.5's Step Functions interpreter cannot run (or runs differently), found statically.

``find_engine_gaps(definition)`` walks every state - including Parallel branches and Map
ItemProcessor/Iterator - and returns one ``EngineGap`` per feature. ``blocking=True`` gaps make
the local run fail or be refused by moto; ``blocking=False`` ones run but behave differently from
AWS (the runner reports them as notes).

Each rule was checked against moto 5.2.5 (in-process ``mock_aws`` with execution enabled):

* ``ItemBatcher``, ``ProcessorConfig.ExecutionType=EXPRESS``, integer ``ToleratedFailurePercentage``
  (all ASLParserException in moto alone), tolerances (no effect in moto alone), the ``listObjectsV2``
  reader's pagination and ResultWriter's files run through ``sandbox/engine`` (installed by the
  Emulator); the combinations it refuses (e.g. ItemBatcher with ItemSelector) are blocking gaps
* JSONata (``QueryLanguage``, ``{% %}`` fields, ``$states``, the Step Functions-only functions) and
  workflow variables (``Assign``, ``$x`` reads in JSONPath fields, scope, limits) run through
  ``sandbox/engine/jsonata_states.py``; a JSONata Map's ``ResultWriter`` (``Arguments``, which moto's grammar
  lacks) is written by ``sandbox/engine/runtime.py``
* ``arn:aws:states:::http:invoke``      -> CreateStateMachine: "Unknown service 'http'" (blocking)
* ``aws-sdk:sfn:startSyncExecution``    -> StartSyncExecution is not implemented (blocking)
* ``Wait``                              -> really sleeps (note when long or absolute)
* ``.waitForTaskToken``                 -> waits until something calls SendTaskSuccess (note)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.asl import walk_states

LONG_WAIT_SECONDS = 30


@dataclass(frozen=True)
class EngineGap:
    state: str  # state path, e.g. "CopyObjects" or "lookupItems/branch 1/searchA"
    feature: str  # short name, e.g. "ItemBatcher"
    detail: str  # one sentence: what the local engine does instead / why it cannot run it
    blocking: bool = True

    def __str__(self) -> str:
        level = "blocking" if self.blocking else "note"
        return f"[{level}] {self.state}: {self.feature} - {self.detail}"


class UnsupportedByLocalEngine(Exception):
    """The definition uses features the local Step Functions engine (moto) cannot run."""

    def __init__(self, gaps: tuple[EngineGap, ...] | list[EngineGap], state_machine: str | None = None) -> None:
        self.gaps = tuple(gaps)
        self.state_machine = state_machine
        where = f" {state_machine}" if state_machine else ""
        lines = [f"state machine{where} uses {len(self.gaps)} feature(s) the local engine (moto) cannot run:"]
        lines += [f"  - {g.state}: {g.feature}: {g.detail}" for g in self.gaps]
        lines.append("See README.md, 'Limits of the local engine'.")
        super().__init__("\n".join(lines))

    def summary(self) -> str:
        """One line: the state machine, then each state and feature."""
        where = f"state machine {self.state_machine}: " if self.state_machine else ""
        return where + "; ".join(f"{g.state}: {g.feature} ({g.detail})" for g in self.gaps) + " - see README.md, 'Limits of the local engine'"



def _resource_gaps(path: str, resource: str) -> list[EngineGap]:
    gaps = []
    if resource.startswith("arn:aws:states:::http:invoke") or ":states:::http:" in resource:
        gaps.append(EngineGap(path, "http:invoke",
                              "moto has no HTTP Task integration (CreateStateMachine fails with \"Unknown service 'http'\"); "
                              "call the endpoint from a Lambda function instead"))
    lowered = resource.lower()
    if "startsyncexecution" in lowered:
        gaps.append(EngineGap(path, "StartSyncExecution",
                              "moto does not implement StartSyncExecution; start EXPRESS machines with StartExecution"))
    if resource.endswith(".waitForTaskToken"):
        gaps.append(EngineGap(path, "waitForTaskToken",
                              "the task waits until something calls SendTaskSuccess/Failure with its token; "
                              "the sandbox must play that part or the run hangs until its timeout", blocking=False))
    return gaps


def find_engine_gaps(definition: dict[str, Any]) -> list[EngineGap]:
    """Every feature of ``definition`` that moto's interpreter cannot run (blocking) or runs differently (note)."""
    gaps: list[EngineGap] = []
    for path, _name, state, ql in walk_states(definition):
        typ = state.get("Type")
        resource = state.get("Resource")
        if typ == "Task" and isinstance(resource, str):
            gaps.extend(_resource_gaps(path, resource))
        if typ == "Wait":
            seconds = state.get("Seconds")
            if any(k in state for k in ("Timestamp", "TimestampPath")):
                gaps.append(EngineGap(path, "Wait (timestamp)",
                                      "the local engine really waits until the timestamp; drive it from input", False))
            elif isinstance(seconds, (int, float)) and seconds >= LONG_WAIT_SECONDS:
                gaps.append(EngineGap(path, f"Wait {seconds}s",
                                      "the local engine really sleeps; use SecondsPath and a short value for 'local'",
                                      False))
        if typ == "Map":
            # ItemBatcher, integer ToleratedFailurePercentage, EXPRESS children, tolerances, the
            # paginated listObjectsV2 reader and ResultWriter run through sandbox/engine; only the
            # combinations it refuses are gaps.
            from sandbox.engine.definition import EngineExtensionRefused, rewrite_definition
            try:
                rewrite_definition({"QueryLanguage": ql, "States": {path.rsplit("/", 1)[-1]: state}})
            except EngineExtensionRefused as exc:
                gaps.append(EngineGap(path, "Distributed Map (sandbox/engine)", str(exc)))
            reader = state.get("ItemReader")
            if isinstance(reader, dict):
                if (reader.get("ReaderConfig") or {}).get("MaxItems") is not None:
                    gaps.append(EngineGap(path, "ItemReader MaxItems",
                                          "not verified against the local engine; may be ignored", False))
    return gaps
