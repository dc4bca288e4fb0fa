"""Walking an Amazon States Language definition: every state, those in Parallel branches and Map processors too."""

from __future__ import annotations

from typing import Any, Iterator


def walk_states(definition: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(path, name, state, query language) of every state; the path names where it sits,
    e.g. "SearchAll/branch 1/Search shop-a" or "CopyObjects/ItemProcessor/Copy"."""
    yield from _walk(definition.get("States") or {}, "", definition.get("QueryLanguage", "JSONPath"))


def _walk(states: dict[str, Any], prefix: str, query_language: str) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    for name, state in (states or {}).items():
        if not isinstance(state, dict):
            continue
        path = f"{prefix}{name}"
        language = state.get("QueryLanguage", query_language)
        yield path, name, state, language
        if state.get("Type") == "Parallel":
            for index, branch in enumerate(state.get("Branches") or [], start=1):
                yield from _walk(branch.get("States") or {}, f"{path}/branch {index}/", branch.get("QueryLanguage", language))
        if state.get("Type") == "Map":
            for key in ("ItemProcessor", "Iterator"):
                processor = state.get(key)
                if isinstance(processor, dict):
                    yield from _walk(processor.get("States") or {}, f"{path}/{key}/", processor.get("QueryLanguage", language))
