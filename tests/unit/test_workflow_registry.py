"""Workflows are found by discovery: each `stacks/*/workflow.py` declares one, and every part follows from it."""

from __future__ import annotations

import pytest

from sandbox.workflows import all_workflows
from stacks.common.registry import REPO_ROOT, Workflow, WorkflowError, check_name, discover_workflows, owner_of


def test_every_declared_workflow_has_all_its_parts():
    for workflow in discover_workflows():
        # GIVEN a declaration THEN its stack, settings, per-stage values, README, Lambda package, scenario and tests exist
        assert workflow.stack_class().__name__ == f"{workflow.stack_id}Stack"
        assert hasattr(workflow.settings_type(), "__dataclass_fields__")
        assert workflow.stages_file.is_file() and workflow.readme.is_file()
        assert (workflow.lambda_dir / workflow.package / "handlers").is_dir()
        assert {p.parent.name for p in workflow.test_paths() if p.is_file()} >= {"templates", "workflows"}, workflow.name


def test_the_sandbox_knows_exactly_the_declared_workflows_by_the_same_stack():
    assert {name: spec.stack_id for name, spec in all_workflows().items()} == {
        workflow.name: workflow.stack_id for workflow in discover_workflows()
    }


def test_spellings_follow_from_the_kebab_name():
    workflow = Workflow(name="my-new-search", summary="x")
    assert (workflow.package, workflow.stack_id, workflow.stack_name("dev")) == ("my_new_search", "MyNewSearch", "MyNewSearch-dev")
    assert workflow.folder == REPO_ROOT / "stacks" / "my_new_search"


@pytest.mark.parametrize("name", ["", "My-Search", "my_search", "-x", "x-", "a--b", "9lives", "json", "class", "boto3", "x" * 41, "café"])
def test_bad_names_are_refused_with_the_reason(name):
    with pytest.raises(WorkflowError, match="invalid workflow name"):
        check_name(name)


def test_a_test_file_belongs_to_the_longest_workflow_name_it_carries():
    short, long = Workflow(name="my-search", summary="x"), Workflow(name="my-search-2", summary="x")
    assert owner_of(REPO_ROOT / "tests/workflows/test_my_search_2.py", [short, long]) == long
    assert owner_of(REPO_ROOT / "tests/workflows/test_my_search.py", [short, long]) == short
    assert owner_of(REPO_ROOT / "tests/unit/my_search", [short, long]) == short
    assert owner_of(REPO_ROOT / "tests/workflows/test_my_searches.py", [short, long]) is None


def test_a_test_that_takes_particular_workflows_as_examples_is_skipped_by_name_only_where_they_are_missing():
    from tests.conftest import requires_workflows

    # GIVEN a workflow this project holds, one it does not, and more workflows than it holds
    held = discover_workflows()[0].name
    present, absent, too_many = requires_workflows(held), requires_workflows("no-such-flow"), requires_workflows(count=999)
    # THEN only the missing ones skip, saying what is missing
    assert present.args == (False,)
    assert absent.args == (True,) and "no-such-flow" in absent.kwargs["reason"]
    assert too_many.args == (True,) and "needs 999 workflows" in too_many.kwargs["reason"]
