"""A workflow declares itself once, in `stacks/<package>/workflow.py`; everything else finds it there.

    WORKFLOW = Workflow(name="parallel-search", summary="two search APIs in parallel, merged", order=10)

From its kebab-case `name`, every part of the unit is found by convention (`Workflow`'s
properties say where), so the app, preflight, the sandbox, the benches, the coverage report,
the tests and `sandbox fork` discover workflows by listing `stacks/*/workflow.py`, and adding,
removing or renaming one touches no shared file. Kept free of jsii/CDK imports: the sandbox
CLI and the fork tool read manifests without starting Node.
"""

from __future__ import annotations

import importlib
import keyword
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS_DIR = REPO_ROOT / "stacks"
MANIFEST = "workflow.py"

_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class WorkflowError(ValueError):
    """A workflow name is invalid or unknown, or a manifest is malformed."""


def check_name(name: str) -> None:
    """A workflow name is kebab-case ASCII whose snake form is a usable Python package name."""
    if not _KEBAB.fullmatch(name or ""):
        raise WorkflowError(
            f"invalid workflow name {name!r}: use lower-case letters, digits and single hyphens, starting with a letter "
            "(e.g. my-search)"
        )
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or package in sys.stdlib_module_names or package in _RESERVED_PACKAGES:
        raise WorkflowError(f"invalid workflow name {name!r}: its package name {package!r} would shadow a Python module")
    if len(name) > 40:
        raise WorkflowError(f"invalid workflow name {name!r}: at most 40 characters (stack names and log groups carry it)")


# Top-level names a Lambda package must not shadow: the runtime's and this repository's.
_RESERVED_PACKAGES = frozenset(
    {"boto3", "botocore", "aws_lambda_powertools", "common", "stacks", "sandbox", "tests", "app", "lambda_src",
     "google", "handlers", "awslambdaric", "bootstrap"}
)


@dataclass(frozen=True)
class Workflow:
    """One workflow's declaration.

    name: kebab-case short name (`parallel-search`): CLI argument, service name, secret-name prefix.
    summary: one line saying what it does (sandbox list, demo, README table).
    order: where it sorts in listings (default 100; ties by name).

    Everything else follows from `name` (each property below says where it lives).
    """

    name: str
    summary: str
    order: int = 100

    def __post_init__(self) -> None:
        check_name(self.name)

    # --- spellings of the name
    @property
    def package(self) -> str:
        """snake_case: the `stacks/` folder, the Lambda package, the settings key (`parallel_search`)."""
        return self.name.replace("-", "_")

    @property
    def stack_id(self) -> str:
        """PascalCase: CDK construct id, template file `<stack_id>.template.json`, metrics namespace."""
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def settings_key(self) -> str:
        """Its settings' key: `-c <settings_key>.<setting>=...`, `settings/<stage>.json`'s section."""
        return self.package

    def stack_name(self, stage: str) -> str:
        """CloudFormation stack name: stage-suffixed so dev and prod can share an account."""
        return f"{self.stack_id}-{stage}"

    # --- where its parts live
    @property
    def folder(self) -> Path:
        """stacks/<package>/: manifest, stack, settings, per-stage values, README."""
        return STACKS_DIR / self.package

    @property
    def stages_file(self) -> Path:
        """stacks/<package>/stages.json: its settings per stage (committed)."""
        return self.folder / "stages.json"

    @property
    def readme(self) -> Path:
        return self.folder / "README.md"

    @property
    def lambda_dir(self) -> Path:
        """lambda_src/<package>/: one Lambda asset (package `<package>` + requirements.txt)."""
        return REPO_ROOT / "lambda_src" / self.package

    @property
    def scenario_module(self) -> str:
        """sandbox/scenarios/<package>.py: its outside world in the sandbox (SCENARIO, STANDIN_SETTINGS, SAMPLE_INPUT)."""
        return f"sandbox.scenarios.{self.package}"

    @property
    def bench_module(self) -> str:
        """sandbox/benches/<package>.py, if it has one: `run(sandbox)` prints its figures."""
        return f"sandbox.benches.{self.package}"

    def test_paths(self, root: Path = REPO_ROOT) -> list[Path]:
        """Its tests: the files and folders under tests/ named after its package (see `owner_of`)."""
        found: list[Path] = []
        for path in sorted((root / "tests").rglob(f"*{self.package}*")):
            if {"__pycache__", "__snapshots__"} & set(path.parts) or any(parent in found for parent in path.parents):
                continue
            if owner_of(path, discover_workflows()) == self:
                found.append(path)
        return found

    # --- loaded on demand (these import CDK)
    def stack_class(self) -> type:
        """`stacks.<package>.stack.<StackId>Stack`."""
        return getattr(importlib.import_module(f"stacks.{self.package}.stack"), f"{self.stack_id}Stack")

    def settings_type(self) -> type:
        """`stacks.<package>.settings.<StackId>Settings` (a frozen dataclass, a default on every field)."""
        return getattr(importlib.import_module(f"stacks.{self.package}.settings"), f"{self.stack_id}Settings")

    def scenario(self) -> Any:
        """Its sandbox scenario module."""
        return importlib.import_module(self.scenario_module)


def read_cdk_context() -> dict[str, Any]:
    """cdk.json's `context`, as the CDK CLI passes it to the app (without `-c` values)."""
    import json

    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


def _load_manifest(path: Path) -> Workflow:
    package = path.parent.name
    module = importlib.import_module(f"stacks.{package}.workflow")
    workflow = getattr(module, "WORKFLOW", None)
    if not isinstance(workflow, Workflow):
        raise WorkflowError(f"{path.relative_to(REPO_ROOT)} must define WORKFLOW = Workflow(...)")
    if workflow.package != package:
        raise WorkflowError(f"{path.relative_to(REPO_ROOT)} declares {workflow.name!r}, but its folder is {package!r}")
    return workflow


@cache
def _discover(stacks_dir: Path) -> tuple[Workflow, ...]:
    found = [_load_manifest(path) for path in sorted(stacks_dir.glob(f"*/{MANIFEST}")) if path.parent.name != "common"]
    return tuple(sorted(found, key=lambda workflow: (workflow.order, workflow.name)))


def discover_workflows() -> tuple[Workflow, ...]:
    """Every workflow of this repository (a `stacks/*/workflow.py`), in listing order."""
    return _discover(STACKS_DIR)


def workflow_names() -> list[str]:
    return [workflow.name for workflow in discover_workflows()]


def get_workflow(name: str) -> Workflow:
    """The workflow called `name` (WorkflowError naming the known ones if there is none)."""
    for workflow in discover_workflows():
        if workflow.name == name:
            return workflow
    raise WorkflowError(f"unknown workflow {name!r}; known: {', '.join(workflow_names()) or 'none'}")


def select_workflows(names: str | list[str] | tuple[str, ...] | None) -> tuple[Workflow, ...]:
    """`None`/"" = all; else the named ones (a comma-separated string or a list; [] = none), in listing order."""
    if names is None or names == "":
        return discover_workflows()
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    chosen = {get_workflow(name).name for name in wanted}
    return tuple(workflow for workflow in discover_workflows() if workflow.name in chosen)


def owner_of(path: Path, workflows: tuple[Workflow, ...] | list[Workflow]) -> Workflow | None:
    """The workflow a test file or folder is named after: the longest package name found in its
    name as whole `_`-separated words (so `test_my_search_2.py` belongs to my-search-2, not my-search)."""
    words = f"_{path.name.split('.')[0]}_"
    named = [workflow for workflow in workflows if f"_{workflow.package}_" in words]
    return max(named, key=lambda workflow: len(workflow.package), default=None)
