"""The README a fork writes: an exported project's README shows no example of a workflow it does not hold (its
commands would fail there), and a forked workflow's README says where it came from without a bare `python -m`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox.fork import COMMAND_SPAN, Renamer, _adapt, names_pattern, standalone_readme, without_examples_of
from stacks.common.registry import REPO_ROOT, Workflow, discover_workflows

WORKFLOWS = discover_workflows()
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.M | re.S)


def named(text: str, workflows: list[Workflow]) -> list[str]:
    """The workflows of `workflows` that `text` names (kebab or snake spelling, as a whole word)."""
    return [w.name for w in workflows if names_pattern([w]).search(text)]


@pytest.mark.parametrize("source", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_an_exported_readme_shows_no_example_of_a_workflow_it_does_not_hold(source: Workflow, tmp_path: Path):
    # GIVEN an export's folder: this project's README and the fork's own README
    new = Workflow(name="exported-flow", summary="")
    others = [w for w in WORKFLOWS if w.name != source.name]
    (tmp_path / "stacks" / new.package).mkdir(parents=True)
    (tmp_path / "README.md").write_text((REPO_ROOT / "README.md").read_text())
    (tmp_path / "stacks" / new.package / "README.md").write_text(Renamer(source.name, new.name).text(source.readme.read_text()))
    # WHEN its README is written
    readme = standalone_readme(tmp_path, new, source=source, others=others)
    # THEN no shell line and no inline command names another workflow, nor the source's old name
    shell_lines = [line for block in SHELL_BLOCK.findall(readme) for line in block.splitlines()]
    assert [line for line in shell_lines if named(line, [*others, source])] == []
    assert [cmd for cmd in COMMAND_SPAN.findall(readme) if named(cmd, [*others, source])] == []
    # AND it starts with the two commands, and the generic sections are there
    assert readme.startswith(f"# {new.name}\n\n```sh\nmake demo") and "## Deploy" in readme and "## Limits of the local engine" in readme


def test_examples_of_other_workflows_are_dropped_from_shell_blocks_and_made_generic_in_prose():
    # GIVEN a section with a shell block and prose naming the kept workflow and another one
    kept, other = WORKFLOWS[0], Workflow(name="other-flow", summary="")
    text = (f"Run `.venv/bin/python -m sandbox run {other.name}` or `make synth WORKFLOW={kept.name}`; {other.name} is scheduled.\n"
            f"```sh\n.venv/bin/python -m sandbox run {kept.name}\n.venv/bin/python -m sandbox fire {other.name}\n```\n")
    # WHEN the other workflow's examples are taken out
    result = without_examples_of(text, [other])
    # THEN its shell line is gone, its prose command names <workflow>, the rest is unchanged
    assert result == (f"Run `.venv/bin/python -m sandbox run <workflow>` or `make synth WORKFLOW={kept.name}`; {other.name} is scheduled.\n"
                      f"```sh\n.venv/bin/python -m sandbox run {kept.name}\n```\n")


def test_a_forked_readme_says_where_it_came_from_without_a_command_that_needs_an_activated_venv():
    # GIVEN the source's README WHEN adapted for its fork THEN the note names the source and no bare `python -m`
    source, new = WORKFLOWS[0], Workflow(name="new-flow", summary="")
    adapted = _adapt(Path(f"stacks/{source.package}/README.md"), source.readme.read_text(), source, new)
    note = adapted.splitlines()[2]
    assert note.startswith(f"_Forked from `{source.name}` on ") and COMMAND_SPAN.findall(note) == []


def test_in_another_checkout_a_workflows_own_tests_are_found_by_its_name(tmp_path: Path):
    # GIVEN a copy of this project holding one workflow (as an export starts), whose declarations are read as text
    from sandbox.fork import copy_project, unit_files

    source = WORKFLOWS[0]
    copy_project(tmp_path / "copy", [source])
    # WHEN its files there are listed
    files = {path.as_posix() for path in unit_files(source, tmp_path / "copy")}
    # THEN its tests are among them, as in this checkout (an export removes them after renaming their copies)
    assert f"tests/workflows/test_{source.package}.py" in files
    assert {p for p in files if p.startswith("tests/")} == {p.as_posix() for p in unit_files(source, REPO_ROOT) if p.parts[0] == "tests"}
