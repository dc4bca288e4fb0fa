"""State coverage: which states of a deployed definition the sandbox's executions entered.

State names are unique across a whole state machine (branches and Map processors included),
so a `*StateEntered` event's name identifies the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sandbox.asl import walk_states


def entered_states(history: Iterable[dict[str, Any]]) -> set[str]:
    """Names of the states entered in one execution history."""
    return {
        event["stateEnteredEventDetails"]["name"]
        for event in history
        if event["type"].endswith("StateEntered") and "stateEnteredEventDetails" in event
    }


@dataclass(frozen=True)
class StateCoverage:
    workflow: str
    state_machine: str  # logical id in the template
    states: tuple[str, ...]  # every state of the definition, in definition order
    entered: frozenset[str]

    @classmethod
    def of(cls, workflow: str, state_machine: str, definition: dict[str, Any], entered: Iterable[str]) -> "StateCoverage":
        return cls(workflow, state_machine, tuple(name for _, name, _, _ in walk_states(definition)), frozenset(entered))

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(name for name in self.states if name not in self.entered)

    @property
    def percent(self) -> float:
        return 100.0 * (len(self.states) - len(self.missed)) / len(self.states) if self.states else 100.0

    def to_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "state_machine": self.state_machine, "states": list(self.states),
                "entered": sorted(self.entered & set(self.states))}
