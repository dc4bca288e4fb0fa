"""Distributed Map as AWS runs it, in moto 5.2.5's Step Functions interpreter.

moto's ASL engine (moto/stepfunctions/parser, derived from LocalStack's) cannot parse or run some
Distributed Map features. ``distributed_map_extensions()`` teaches it, with AWS's semantics:

==========================================  ==================================================
gap in moto 5.2.5                           extension (module)
==========================================  ==================================================
``ItemBatcher`` does not parse              removed before parsing, batches built at run time
                                            (definition, batching, runtime.map_run)
integer ``ToleratedFailurePercentage``      parsed as the same float (definition)
  rejected; tolerances have no effect       applied over items at the end of the Map Run
                                            (runtime.tolerance_exceeded)
``ExecutionType: EXPRESS`` rejected         parsed as STANDARD, children run and recorded as
                                            EXPRESS for pricing (runtime.eval_job, records)
``listObjectsV2`` reader: one page, fails   every page, AWS's item shape, [] when empty
  on an empty prefix                        (runtime.list_objects_v2)
ResultWriter writes an empty manifest       manifest.json + SUCCEEDED_0.json / FAILED_0.json
                                            (runtime.put_object)
a JSONata Map's ``ResultWriter``            removed before parsing, written by the Map Run with
  (``Arguments``) does not parse            its Arguments evaluated (definition, runtime.map_run)
==========================================  ==================================================

The definition text stays the user's: CreateStateMachine stores it, DescribeStateMachine returns
it; only the parser's input is rewritten (``AmazonStateLanguageParser.parse`` is wrapped), and the
parsed Map states carry what the parser did not see. Combinations the extensions do not run raise
``EngineExtensionRefused`` (a named refusal) at CreateStateMachine, and ``find_engine_gaps`` names
them before deploy.

Child executions are not Step Functions executions in moto: ``map_runs(execution_arn)`` lists each
Map Run of an execution with its children (type, status, duration, transitions) for pricing.
"""

from __future__ import annotations

import threading
from typing import Any, ContextManager

from sandbox.engine.definition import EngineExtensionRefused, MapExtension, rewrite_definition_text
from sandbox.engine.patching import pinned_install
from sandbox.engine.records import ChildExecution, MapRunLog, child_entered_states, children_summary, map_runs

__all__ = ["ChildExecution", "child_entered_states", "children_summary", "EngineExtensionRefused", "MapExtension", "MapRunLog", "distributed_map_extensions",
           "installed", "map_runs"]

_LOCK = threading.Lock()
_ORIGINALS: dict[tuple[Any, str], Any] = {}


def _attach(program: Any, extensions: dict[str, MapExtension]) -> None:
    """Give each parsed Distributed Map's iteration component its extension."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap

    def walk(states: Any) -> None:
        for name, state in (getattr(states, "states", None) or {}).items():
            if isinstance(state, StateMap):
                component = state.iteration_component
                if name in extensions:
                    component._sandbox_ext = extensions[name]
                walk(getattr(component, "_states", None))
            for branch in getattr(getattr(state, "branches", None), "programs", None) or []:
                walk(getattr(branch, "states", None))

    walk(getattr(program, "states", None))


def _patch(owner: Any, name: str, replacement: Any) -> None:
    _ORIGINALS[(owner, name)] = owner.__dict__[name]
    setattr(owner, name, replacement)


def installed() -> bool:
    return bool(_ORIGINALS)


def _install() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as reader_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (
        DistributedItemProcessorWorker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3 as writer_s3,
    )
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from sandbox.engine import runtime

    original_parse = AmazonStateLanguageParser.__dict__["parse"].__func__

    def parse(definition: str) -> Any:
        rewritten, extensions = rewrite_definition_text(definition)
        program, tree = original_parse(rewritten)
        if extensions:
            _attach(program, extensions)
        return program, tree

    _patch(AmazonStateLanguageParser, "parse", staticmethod(parse))
    _patch(DistributedIterationComponent, "_map_run", runtime.map_run)
    _patch(DistributedItemProcessorWorker, "_eval_job", runtime.eval_job)
    _patch(reader_s3.ResourceEvalS3, "_handle_list_objects_v2", staticmethod(runtime.list_objects_v2))
    _patch(writer_s3.ResourceEvalS3, "_handle_put_object", staticmethod(runtime.put_object))


def _uninstall() -> None:
    from sandbox.engine import records

    for (owner, name), original in _ORIGINALS.items():
        setattr(owner, name, original)
    _ORIGINALS.clear()
    records.clear()  # the Map Run logs of this emulator's executions


def distributed_map_extensions() -> ContextManager[None]:
    """Patch moto's interpreter while the context is open (nested opens share one install)."""
    return pinned_install(source="sandbox/engine/distributed_map.py", extends="Step Functions interpreter", lock=_LOCK,
                          installed=installed, install=_install, uninstall=_uninstall)
