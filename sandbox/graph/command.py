"""What `python -m sandbox graph` does, apart from argument parsing and printing (sandbox/cli.py)."""

from __future__ import annotations

from pathlib import Path
from sandbox.definitions import StateMachine, readable_logical_id, state_machines_in_assembly
from sandbox.graph.mermaid import mermaid
from sandbox.graph.page import Diagram, html_page, markdown_block, read_block, refresh_block
from sandbox.graph.run_path import RunPath
from sandbox.synth import synthesize_local
from sandbox.workflows import get_workflow


def workflow_state_machines(workflow: str, cloud_assembly: Path | None = None) -> list[StateMachine]:
    """The workflow's state machines from the synthesized local stage (synthesized only if an input changed)."""
    spec = get_workflow(workflow)
    return state_machines_in_assembly(cloud_assembly or synthesize_local().cloud_assembly, spec.stack_id)


def diagrams(workflow: str, machines: list[StateMachine], run: RunPath | None = None) -> list[Diagram]:
    """One diagram per state machine; `run` colours the one it ran on."""
    return [
        Diagram(f"{workflow}: {readable_logical_id(m.logical_id)} ({m.type})",
                mermaid(m, run if run is not None and run.state_machine == m.logical_id else None))
        for m in machines
    ]


def stale_states(run: RunPath, machines: list[StateMachine]) -> set[str]:
    """States the run entered that the current definition no longer has (the run is of an older one)."""
    from sandbox.graph.mermaid import state_names

    known = {name for m in machines if m.logical_id == run.state_machine for name in state_names(m)}
    return (set(run.states) | run.child_states) - known


def write_html(path: Path, workflow: str, drawn: list[Diagram], run: RunPath | None) -> None:
    caption = "Synthesized definition (local stage)."
    if run is not None:
        caption += (f" Coloured: the path of {run.execution_arn.rsplit(':', 1)[-1]} ({run.status}"
                    f"{': ' + run.error if run.error else ''}); green entered, orange an error caught there, red where it"
                    " failed, grey not entered; ✓ ×N entered N times, ↻ retries.")
    path.write_text(html_page(f"{workflow} state machine", drawn, caption=caption), encoding="utf-8")


def markdown_differs(path: Path, workflow: str, drawn: list[Diagram]) -> bool:
    """True if the file's diagram block is not what the definition gives (DiagramBlockMissing without a block)."""
    return read_block(path.read_text(encoding="utf-8"), source=str(path)) != markdown_block(workflow, drawn)


def refresh_markdown(path: Path, workflow: str, drawn: list[Diagram]) -> bool:
    return refresh_block(path, markdown_block(workflow, drawn))
