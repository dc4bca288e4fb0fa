"""Each workflow's README shows the diagram of its synthesized definition, kept equal by `sandbox graph --markdown`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.graph.command import diagrams, markdown_differs, refresh_markdown, workflow_state_machines
from sandbox.graph.mermaid import state_names
from sandbox.graph.page import BLOCK_END, BLOCK_START, markdown_block, read_block
from stacks.common.registry import discover_workflows, get_workflow
from tests.conftest import REPO_ROOT, requires_workflows


def workflow_readme(workflow: str) -> Path:
    return get_workflow(workflow).readme


@pytest.mark.parametrize("workflow", [workflow.name for workflow in discover_workflows()])
def test_the_workflow_readme_shows_the_diagram_of_its_definition(workflow, local_stage):
    readme = workflow_readme(workflow)
    machines = workflow_state_machines(workflow, local_stage.assembly_dir)
    block = read_block(readme.read_text(encoding="utf-8"), source=str(readme))  # DiagramBlockMissing: no diagram
    assert block == markdown_block(workflow, diagrams(workflow, machines)), (
        f"{readme} shows another definition's diagram: python -m sandbox graph {workflow} --markdown {readme}")


@pytest.mark.parametrize("workflow", [workflow.name for workflow in discover_workflows()])
def test_every_state_of_the_definition_is_in_its_diagram(workflow, local_stage):
    (machine,) = workflow_state_machines(workflow, local_stage.assembly_dir)
    (drawn,) = diagrams(workflow, [machine])
    names = list(state_names(machine))
    assert len(names) == len(set(names)) >= 5
    for name in names:
        assert f'"{name}' in drawn.mermaid or f'["{name} ·' in drawn.mermaid, name


@requires_workflows("parallel-search")
def test_a_stale_diagram_block_is_found_and_refreshed(tmp_path: Path, local_stage):
    # GIVEN a README whose block was generated from the definition, then edited by hand
    workflow = "parallel-search"
    drawn = diagrams(workflow, workflow_state_machines(workflow, local_stage.assembly_dir))
    readme = tmp_path / "README.md"
    readme.write_text(f"# {workflow}\n\n{BLOCK_START}\n{BLOCK_END}\n")
    assert refresh_markdown(readme, workflow, drawn) is True
    assert not markdown_differs(readme, workflow, drawn)
    readme.write_text(readme.read_text().replace("MergeResults", "MergeAll", 1))
    # THEN the check finds it, and the CLI says so (exit 1) and then refreshes it (exit 0)
    assert markdown_differs(readme, workflow, drawn)
    runner = CliRunner()
    checked = runner.invoke(app, ["graph", workflow, "--markdown", str(readme), "--check"])
    assert checked.exit_code == 1 and "differs from the definition" in checked.output
    refreshed = runner.invoke(app, ["graph", workflow, "--markdown", str(readme)])
    assert refreshed.exit_code == 0, refreshed.output
    assert not markdown_differs(readme, workflow, drawn) and "MergeAll" not in readme.read_text()


@requires_workflows("parallel-search")
def test_a_readme_without_markers_is_a_usage_error_and_stays_as_it_was(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text("# parallel-search\n")
    result = CliRunner().invoke(app, ["graph", "parallel-search", "--markdown", str(readme)])
    assert result.exit_code == 2 and "diagram:start" in result.output
    assert readme.read_text() == "# parallel-search\n"
