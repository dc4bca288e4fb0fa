"""Rewrite an ASL definition into the subset moto 5.2.5 parses, keeping what it drops as extensions.

Pure JSON in, JSON out; no moto import. The rewrite is applied inside the parser call only (see
``sandbox.engine.install``): the definition stored by CreateStateMachine, returned by
DescribeStateMachine and run by the execution is the one the user deployed.

Per Distributed Map state (names are unique across a whole state machine, so the name is the key):

* ``ItemBatcher``                    -> removed; batching done by ``sandbox.engine.map_run``
* integer ``ToleratedFailurePercentage`` -> the same number as a float (the grammar's only form)
* ``ProcessorConfig.ExecutionType: EXPRESS`` -> STANDARD for the parser; children are run and
  recorded (and billed) as Express by ``sandbox.engine.map_run``
* ``ResultWriter`` of a JSONata Map (``Arguments``: moto's grammar knows only ``Parameters``, which
  AWS refuses in JSONata) -> removed; the results are written by ``sandbox.engine.runtime.map_run``
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterator


class EngineExtensionRefused(ValueError):
    """A definition combines features in a way the sandbox's engine extensions do not run."""


@dataclass(frozen=True)
class MapExtension:
    """What the parser does not see of one Distributed Map state."""

    state: str
    batcher: dict[str, Any] | None = None  # the ItemBatcher object, verbatim
    execution_type: str = "STANDARD"  # of the child executions
    tolerated_count_declared: bool = False  # ToleratedFailureCount(Path) present
    tolerated_percentage_declared: bool = False  # ToleratedFailurePercentage(Path) present
    result_writer: dict[str, Any] | None = field(default=None)
    writes_results: bool = False  # the sandbox writes the ResultWriter's files (a JSONata Map's writer)


BATCHER_KEYS = {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath",
                "BatchInput"}


def _maps(states: dict[str, Any], language: str = "JSONPath") -> Iterator[tuple[str, dict[str, Any], str]]:
    """(name, state, query language) of every Map state, nested ones included."""
    for name, state in (states or {}).items():
        if not isinstance(state, dict):
            continue
        state_language = state.get("QueryLanguage", language)
        if state.get("Type") == "Map":
            yield name, state, state_language
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(key), dict):
                    yield from _maps(state[key].get("States") or {}, state[key].get("QueryLanguage", state_language))
        elif state.get("Type") == "Parallel":
            for branch in state.get("Branches") or []:
                yield from _maps(branch.get("States") or {}, branch.get("QueryLanguage", state_language))


def _check_batcher(name: str, state: dict[str, Any], batcher: Any, distributed: bool) -> None:
    if not isinstance(batcher, dict):
        raise EngineExtensionRefused(f"{name}: ItemBatcher must be an object")
    if not distributed:
        raise EngineExtensionRefused(f"{name}: ItemBatcher needs ProcessorConfig.Mode DISTRIBUTED (AWS rejects it too)")
    unknown = set(batcher) - BATCHER_KEYS
    if unknown:
        raise EngineExtensionRefused(f"{name}: ItemBatcher field(s) {sorted(unknown)} are not run by the sandbox")
    if not {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"} & set(batcher):
        raise EngineExtensionRefused(f"{name}: ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch")
    if "ItemSelector" in state or "Parameters" in state:
        raise EngineExtensionRefused(f"{name}: ItemBatcher with ItemSelector is not run by the sandbox "
                                     "(select fields in the child workflow instead)")
    batch_input = batcher.get("BatchInput", {})
    if not isinstance(batch_input, dict):
        raise EngineExtensionRefused(f"{name}: ItemBatcher.BatchInput must be an object")
    for value in _path_values(batch_input):
        if not value.startswith("$"):
            raise EngineExtensionRefused(f"{name}: ItemBatcher.BatchInput value {value!r}: only JSONPath "
                                         "($ or $$) is run by the sandbox, not intrinsic functions")


def _path_values(template: Any) -> Iterator[str]:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                yield value
            else:
                yield from _path_values(value)
    elif isinstance(template, list):
        for value in template:
            yield from _path_values(value)


def rewrite_definition(definition: dict[str, Any]) -> tuple[dict[str, Any], dict[str, MapExtension]]:
    """Return (a copy moto's parser accepts, extensions by Distributed Map state name)."""
    rewritten = copy.deepcopy(definition)
    extensions: dict[str, MapExtension] = {}
    for name, state, language in _maps(rewritten.get("States") or {}, rewritten.get("QueryLanguage", "JSONPath")):
        processor = state.get("ItemProcessor") if isinstance(state.get("ItemProcessor"), dict) else {}
        config = processor.get("ProcessorConfig") or {}
        distributed = config.get("Mode") == "DISTRIBUTED"
        batcher = state.pop("ItemBatcher", None)
        if batcher is not None:
            _check_batcher(name, state, batcher, distributed)
        if not distributed:
            continue
        tfp = state.get("ToleratedFailurePercentage")
        if isinstance(tfp, int) and not isinstance(tfp, bool):
            state["ToleratedFailurePercentage"] = float(tfp)
        writer = state.get("ResultWriter")
        writer_fields = {"Resource", "Arguments" if language == "JSONata" else "Parameters"}
        if isinstance(writer, dict) and set(writer) - writer_fields:
            raise EngineExtensionRefused(f"{name}: ResultWriter fields {sorted(set(writer) - writer_fields)} "
                                         "are not run by the sandbox")
        writes_results = isinstance(writer, dict) and language == "JSONata"
        if writes_results:
            if not str(writer.get("Resource", "")).endswith(":states:::s3:putObject") or not isinstance(writer.get("Arguments"), dict):
                raise EngineExtensionRefused(f"{name}: a JSONata ResultWriter is run by the sandbox with the s3:putObject "
                                             "resource and an Arguments object only")
            del state["ResultWriter"]  # moto's grammar has no Arguments there; runtime.map_run writes the files
        execution_type = config.get("ExecutionType", "STANDARD")
        if execution_type == "EXPRESS":
            config["ExecutionType"] = "STANDARD"
        extensions[name] = MapExtension(
            state=name,
            batcher=batcher,
            execution_type=execution_type,
            tolerated_count_declared=bool({"ToleratedFailureCount", "ToleratedFailureCountPath"} & set(state)),
            tolerated_percentage_declared=bool({"ToleratedFailurePercentage", "ToleratedFailurePercentagePath"} & set(state)),
            result_writer=writer,
            writes_results=writes_results,
        )
    return rewritten, extensions


def rewrite_definition_text(text: str) -> tuple[str, dict[str, MapExtension]]:
    """String form of ``rewrite_definition``; text that is not a JSON object is returned unchanged."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text, {}
    if not isinstance(parsed, dict):
        return text, {}
    rewritten, extensions = rewrite_definition(parsed)
    if rewritten == parsed:
        return text, extensions
    return json.dumps(rewritten), extensions
