"""A state machine definition as one graph: every state (Parallel branches and Map processors included)
with where each transition leads, leaving a branch or Map iteration included.

Nodes are state paths as `sandbox.asl.walk_states` writes them ("CopyObjects/ItemProcessor/CopyBatch");
two more nodes stand for the execution's own ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import networkx as nx

from sandbox.asl import walk_states

SUCCEEDED = "(execution succeeds)"
FAILED = "(execution fails)"


@dataclass(frozen=True)
class FlatState:
    path: str
    name: str
    scope: str  # "" at the top level, else the path prefix of its branch or Map processor ("Map/ItemProcessor/")
    parent: str | None  # the Parallel or Map state that holds this scope
    state: dict[str, Any]

    @property
    def type(self) -> str:
        return self.state.get("Type", "")


class StateGraph:
    def __init__(self, definition: dict[str, Any]) -> None:
        self.states: dict[str, FlatState] = {}
        for path, name, state, _ in walk_states(definition):
            scope = path[: len(path) - len(name)]
            parent = scope.rsplit("/", 2)[0] if scope else None
            self.states[path] = FlatState(path, name, scope, parent, state)

    def __iter__(self) -> Iterator[FlatState]:
        return iter(self.states.values())

    def _in_scope(self, scope: str, name: str | None) -> list[str]:
        return [scope + name] if name and scope + name in self.states else []

    def local_edges(self, path: str) -> list[tuple[str, str]]:
        """(target path, kind) of the transitions that stay in the state's own scope: next, choice, default, catch."""
        flat = self.states[path]
        state, scope = flat.state, flat.scope
        edges = [(t, "next") for t in self._in_scope(scope, state.get("Next"))]
        edges += [(t, "choice") for rule in state.get("Choices") or [] for t in self._in_scope(scope, rule.get("Next"))]
        edges += [(t, "default") for t in self._in_scope(scope, state.get("Default"))]
        edges += [(t, "catch") for catcher in state.get("Catch") or [] for t in self._in_scope(scope, catcher.get("Next"))]
        return edges

    def successors(self, path: str) -> list[str]:
        """Every state (or execution end) that can follow this one, across scope ends and failures."""
        flat = self.states[path]
        targets = [target for target, _ in self.local_edges(path)]
        if flat.type == "Succeed" or flat.state.get("End"):
            targets += self.scope_end(flat.scope)
        if flat.type == "Fail":
            targets += self.scope_failure(flat.scope)
        return targets

    def scope_end(self, scope: str) -> list[str]:
        """Where a run goes when a branch or Map iteration (or the whole machine) ends well."""
        if not scope:
            return [SUCCEEDED]
        holder = self.states[scope.rsplit("/", 2)[0]]
        nexts = self._in_scope(holder.scope, holder.state.get("Next"))
        return nexts if nexts else self.scope_end(holder.scope)

    def scope_failure(self, scope: str) -> list[str]:
        """Where a Fail in this scope leads: the holding state's Catch targets, and on up when none catches everything."""
        if not scope:
            return [FAILED]
        holder = self.states[scope.rsplit("/", 2)[0]]
        catchers = holder.state.get("Catch") or []
        targets = [t for catcher in catchers for t in self._in_scope(holder.scope, catcher.get("Next"))]
        if not any("States.ALL" in catcher.get("ErrorEquals", []) for catcher in catchers):
            targets += self.scope_failure(holder.scope)
        return targets

    def reachable(self, start: str, *, stop_at: Iterable[str] = ()) -> set[str]:
        """Nodes reachable from `start` (itself included), not going past any node in `stop_at`."""
        stops, seen, todo = set(stop_at), set(), [start]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in self.states and node not in stops:
                todo.extend(self.successors(node))
        return seen

    def scope_graphs(self) -> dict[str, nx.DiGraph]:
        """scope -> directed graph of its states' local transitions (loops never cross a scope)."""
        graphs: dict[str, nx.DiGraph] = {}
        for flat in self:
            graph = graphs.setdefault(flat.scope, nx.DiGraph())
            graph.add_node(flat.path)
            for target, kind in self.local_edges(flat.path):
                graph.add_edge(flat.path, target, kind=kind)
        return graphs
