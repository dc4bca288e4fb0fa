"""`python -m sandbox fork` as a user runs it, in a temporary copy of this project: one command makes a whole new
workflow (its own names everywhere, its settings, its snapshots), nothing shared is edited, and the fork's own
copied tests, cdk-nag, cfn-lint and its sandbox runs (100% state coverage) pass."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.fork import Renamer
from stacks.common.registry import Workflow, discover_workflows
from tests.forks.conftest import project_copy, run_in

PYTHON = sys.executable


def new_name_for(source: Workflow) -> str:
    """A name no workflow of this project has, holding no spelling of the source's (in an exported project the
    source may be a fork already, e.g. parallel-fork)."""
    taken = {workflow.name for workflow in discover_workflows()}
    candidates = (f"{source.name.split('-')[0]}-{suffix}" for suffix in ("fork", "copy", "twin", "next"))
    return next(name for name in candidates if name not in taken and source.name not in name)


def test_one_command_forks_a_workflow_into_a_new_one_that_passes_its_own_tests(source: Workflow, tmp_path: Path):
    # GIVEN a copy of this project holding the source workflow (a git checkout, to see what the fork changes)
    copy = project_copy(tmp_path / "project", [source])
    new = Workflow(name=new_name_for(source), summary="")
    # WHEN the user forks it, in one command
    forked = run_in(copy, PYTHON, "-m", "sandbox", "fork", source.name, new.name)
    assert forked.returncode == 0, forked.stderr[-3000:]
    assert "Next:" in forked.stdout and f"sandbox run {new.name}" in forked.stdout
    # THEN only new files appear: no shared file, and none of the source's files or snapshots, was edited
    status = run_in(copy, "git", "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
    assert status and all(line.startswith("?? ") for line in status), [s for s in status if not s.startswith("??")]
    created = [line[3:].strip('"') for line in status]
    assert any(f"[{new.stack_id}-local]" in path for path in created) and any(f"[{new.stack_id}-prod]" in path for path in created)
    # AND its templates (both stages, as snapshotted) hold no spelling of the source's name
    renamer = Renamer(source.name, new.name)
    for path in created:
        if "__snapshots__" in path:
            text = (copy / path).read_text()
            assert renamer.leftovers(text) == [], (path, renamer.leftovers(text))
            assert new.name in text or new.stack_id in text
    # AND its dev/prod settings start unset wherever the source's ship as placeholders (preflight names them)
    preflight = run_in(copy, PYTHON, "-m", "stacks.preflight", "dev", new.name)
    source_preflight = run_in(copy, PYTHON, "-m", "stacks.preflight", "dev", source.name)
    assert preflight.returncode == source_preflight.returncode
    assert preflight.stderr.count("SettingNotConfigured") == source_preflight.stderr.count("SettingNotConfigured")
    assert source.settings_key + "." not in preflight.stderr
    # AND its own copied tests, the snapshot, cdk-nag, reliability and cfn-lint checks and its sandbox runs all pass,
    # with every state of its definition entered (the copy's conftest enforces it for a whole workflow test file)
    owned = sorted((copy / "tests").rglob(f"*{new.package}*"))
    own_tests = [str(p.relative_to(copy)) for p in owned if (p.suffix == ".py" or p.is_dir()) and not set(p.parents) & set(owned)]
    tested = run_in(copy, PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *own_tests,
                    "tests/templates/test_snapshots.py", "tests/templates/test_lint_and_nag.py", "tests/templates/test_stage_parity.py",
                    "tests/reliability/test_properties.py",
                    "tests/reliability/test_outside_checkers.py::test_cfn_lint_and_its_serverless_rules_pass")
    assert tested.returncode == 0, tested.stdout[-4000:]
    assert f"{new.name} (" in tested.stdout and "100% of" in tested.stdout and f"enforced for: {new.name}" in tested.stdout
    # AND `sandbox run` of the fork succeeds, as the user's next step says
    ran = run_in(copy, PYTHON, "-m", "sandbox", "run", new.name, "--json")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.strip().splitlines()[-1])["status"] == "SUCCEEDED"


@pytest.mark.parametrize("args, message", [
    (["parallel-search-x", "y-z"], "unknown workflow 'parallel-search-x'"),
    (["{source}", "{source}"], "exists already"),
    (["{source}", "Bad_Name"], "invalid workflow name 'Bad_Name'"),
    (["{source}", "json"], "would shadow a Python module"),
])
def test_bad_names_are_one_line_exit_2_and_write_nothing(source: Workflow, args, message, tmp_path: Path):
    from stacks.common.registry import REPO_ROOT

    args = [a.format(source=source.name) for a in args]
    result = CliRunner().invoke(app, ["fork", *args, "--no-snapshots"])  # in-process: refused before anything is written
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(errors) == 1 and message in errors[0], result.stderr
    assert not (REPO_ROOT / "stacks" / args[1].replace("-", "_") / "stack.py").exists() or args[1] == source.name


def test_a_standalone_export_passes_its_own_make_test(tmp_path: Path, all_forks):
    # GIVEN one workflow (the first; each is forked above) exported as a standalone project (its own Makefile, CI,
    # README, pins)
    source = discover_workflows()[0]
    export = tmp_path / "standalone"
    new = Workflow(name=new_name_for(source), summary="")
    result = run_in(Path.cwd(), PYTHON, "-m", "sandbox", "fork", source.name, new.name, "--into", str(export))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (export / ".ci" / "run").is_file() and (export / "Makefile").is_file()
    assert [p.name for p in (export / "stacks").iterdir() if (p / "workflow.py").exists()] == [new.package]
    readme = (export / "README.md").read_text()
    assert readme.startswith(f"# {new.name}\n") and "make demo" in readme and "make test" in readme
    # WHEN its README's test command runs there, from nothing (a new .venv, npm ci)
    tested = run_in(export, "make", "test", timeout=3600)
    # THEN it passes
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-5000:]
