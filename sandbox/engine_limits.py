"""What moto 5.2.5's Step Functions interpreter cannot run (or runs differently), found statically.

``find_engine_gaps(definition)`` walks every state - including Parallel branches and Map
ItemProcessor/Iterator - and returns one ``EngineGap`` per feature. ``blocking=True`` gaps make
the local run fail or be refused by moto; ``blocking=False`` ones run but behave differently from
AWS (the runner reports them as notes).

Each rule was checked against moto 5.2.5 (in-process ``mock_aws`` with execution enabled):

* ``ItemBatcher``                       -> CreateStateMachine: ASLParserException (blocking)
* ``ProcessorConfig.ExecutionType=EXPRESS`` -> ASLParserException "expecting STANDARD" (blocking)
* ``ToleratedFailurePercentage: 5``     -> ASLParserException "no viable alternative" (blocking);
  ``5.5``, ``ToleratedFailureCount`` and the ``...Path`` forms parse but have no effect (note)
* ``QueryLanguage: JSONata``            -> execution fails with States.Runtime TypeError (blocking)
* ``Assign`` (setting variables)        -> runs (the values are stored)
* reading a variable (``"$x"``)          -> States.Runtime TypeError in a Pass/Task; a Choice rule on it silently
  falls through to Default (blocking)
* ``arn:aws:states:::http:invoke``      -> CreateStateMachine: "Unknown service 'http'" (blocking)
* ``aws-sdk:sfn:startSyncExecution``    -> StartSyncExecution is not implemented (blocking)
* S3 ``listObjectsV2`` ItemReader       -> one call, no pagination (<= 1000 keys) (note)
* ``Wait``                              -> really sleeps (note when long or absolute)
* ``.waitForTaskToken``                 -> waits until something calls SendTaskSuccess (note)
"""

from __future__ import annotations

import re
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



_VARIABLE = re.compile(r"(?:^|[\s(,])\$([A-Za-z_][A-Za-z0-9_]*)")
_NESTED_STATES = ("Branches", "ItemProcessor", "Iterator")


def variables_read(state: dict[str, Any]) -> set[str]:
    """Names of workflow variables a state reads (`$x`, `$x.field`, `States.Format('{}', $x)`), in any
    path-valued field (keys ending in `.$` or `Path`, and `Variable`); nested states not included."""
    found: set[str] = set()

    def visit(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in _NESTED_STATES:
                    visit(v, k)
        elif isinstance(value, list):
            for item in value:
                visit(item, key)
        elif isinstance(value, str) and (key.endswith((".$", "Path")) or key == "Variable"):
            found.update(match.group(1) for match in _VARIABLE.finditer(value))

    visit(state)
    return found


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
    top_ql = definition.get("QueryLanguage", "JSONPath")
    if top_ql == "JSONata":
        gaps.append(EngineGap("(state machine)", "JSONata",
                              "moto's JSONata evaluation is a stub (executions fail with States.Runtime); "
                              "write the definition in JSONPath"))
    for path, _name, state, ql in walk_states(definition):
        typ = state.get("Type")
        if ql == "JSONata" and top_ql != "JSONata":
            gaps.append(EngineGap(path, "JSONata",
                                  "moto's JSONata evaluation is a stub (the state fails with States.Runtime); use JSONPath"))
        reads = sorted(variables_read(state))
        if reads:
            gaps.append(EngineGap(path, "reading workflow variables",
                                  f"moto cannot read {', '.join('$' + v for v in reads)} (a Pass or Task fails with "
                                  "States.Runtime TypeError; a Choice silently takes Default); setting them with Assign "
                                  "works; carry values in the state's JSON instead"))
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
            proc = state.get("ItemProcessor") or {}
            cfg = proc.get("ProcessorConfig") or {}
            if "ItemBatcher" in state:
                gaps.append(EngineGap(path, "ItemBatcher",
                                      "moto's parser rejects ItemBatcher (ASLParserException); "
                                      "process one item per child execution in the 'local' stage"))
            if cfg.get("ExecutionType") == "EXPRESS":
                gaps.append(EngineGap(path, "ProcessorConfig.ExecutionType=EXPRESS",
                                      "moto only accepts STANDARD child executions (ASLParserException)"))
            tfp = state.get("ToleratedFailurePercentage")
            if isinstance(tfp, int) and not isinstance(tfp, bool):
                gaps.append(EngineGap(path, "ToleratedFailurePercentage (integer)",
                                      f"moto rejects the integer {tfp} (ASLParserException); "
                                      f"write it as a float such as {tfp}.0 (it has no effect locally anyway)"))
            elif isinstance(tfp, float):
                gaps.append(EngineGap(path, "ToleratedFailurePercentage",
                                      "accepted but ignored locally: any failed item fails the Map", False))
            for key in ("ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"):
                if key in state:
                    gaps.append(EngineGap(path, key, "accepted but ignored locally: any failed item fails the Map",
                                          False))
            reader = state.get("ItemReader")
            if isinstance(reader, dict):
                res = str(reader.get("Resource", ""))
                if res.endswith("s3:listObjectsV2"):
                    gaps.append(EngineGap(path, "ItemReader s3:listObjectsV2",
                                          "the local engine makes a single ListObjectsV2 call (no pagination, "
                                          "at most 1000 keys) and may fail on an empty prefix", False))
                if (reader.get("ReaderConfig") or {}).get("MaxItems") is not None:
                    gaps.append(EngineGap(path, "ItemReader MaxItems",
                                          "not verified against the local engine; may be ignored", False))
    return gaps
