"""Shared fixtures: each stage is synthesized at most once per test session.

`local` comes from the sandbox's cached cloud assembly (the same one the
workflow tests deploy); `dev` and `prod` are synthesized in-process so tests can
also run cdk-nag's `validate_scope` on the construct tree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
# Hermetic: a developer's own settings/<stage>.json must not change what the tests synthesize.
os.environ["WORKFLOW_SETTINGS_DIR"] = ""

REPO_ROOT = Path(__file__).resolve().parents[1]


def requires_workflows(*names: str, count: int = 0) -> pytest.MarkDecorator:
    """For a test of a shared part that takes particular workflows (or at least `count` of them) as its examples:
    in a project without them (an exported workflow's own project) it is skipped, saying what is missing."""
    from stacks.common.registry import discover_workflows

    present = [workflow.name for workflow in discover_workflows()]
    missing = [name for name in names if name not in present]
    if missing:
        return pytest.mark.skipif(True, reason=f"its example is {', '.join(missing)}, which this project does not hold")
    return pytest.mark.skipif(len(present) < count, reason=f"needs {count} workflows, this project holds {len(present)}")


@dataclass(frozen=True)
class SynthesizedStage:
    name: str
    assembly_dir: Path
    app: Any = None  # the aws_cdk.App, when synthesized in this process

    def template(self, stack_id: str) -> dict[str, Any]:
        return json.loads((self.assembly_dir / f"{stack_id}.template.json").read_text())


@pytest.fixture(scope="session")
def local_stage() -> SynthesizedStage:
    from sandbox.synth import synthesize_local

    return SynthesizedStage("local", synthesize_local().cloud_assembly)


def _synthesize_in_process(stage: str, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    import aws_cdk as cdk

    import app as cdk_app

    outdir = tmp_path_factory.mktemp(f"cdk.out.{stage}")
    application = cdk_app.build_app(cdk.App(context=cdk_app.cdk_context(stage=stage), outdir=str(outdir)))
    application.synth()
    return SynthesizedStage(stage, outdir, application)


@pytest.fixture(scope="session")
def prod_stage(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    return _synthesize_in_process("prod", tmp_path_factory)


@pytest.fixture(scope="session")
def dev_stage(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    """Only the reliability suite reads `dev`, and needs no construct tree: under xdist the first worker to ask
    synthesizes it into the session's shared temp folder and the others read that assembly (no `app`)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _synthesize_in_process("dev", tmp_path_factory)
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # one folder per session, above each worker's own
    done = shared / "cdk.out.dev.done"
    with FileLock(str(shared / "cdk.out.dev.lock")):
        if done.exists():
            return SynthesizedStage("dev", Path(done.read_text()))
        stage = _synthesize_in_process("dev", tmp_path_factory)
        done.write_text(str(stage.assembly_dir))
    return stage


@pytest.fixture(params=["local", "prod"])
def stage(request: pytest.FixtureRequest) -> SynthesizedStage:
    return request.getfixturevalue(f"{request.param}_stage")


# --------------------------------------------------------------------------- state coverage
# Every state of every deployed definition must be entered by some sandbox test. A session that runs
# a workflow's whole sandbox test file (or all of tests/workflows; no -k/-m selection) fails, naming
# the states, when one of that workflow's states was not.

_COVERAGE_DIR_ENV = "SANDBOX_COVERAGE_DIR"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--forks", default="first", choices=("first", "all"),
                     help="tests/forks: fork the first workflow only (default), or every workflow plus a standalone export")


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and _COVERAGE_DIR_ENV not in os.environ:
        import tempfile

        os.environ[_COVERAGE_DIR_ENV] = tempfile.mkdtemp(prefix="sandbox-coverage-")


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items and _COVERAGE_DIR_ENV in os.environ:
        Path(os.environ[_COVERAGE_DIR_ENV], f"deselected-{os.getpid()}").touch()


def _enforced_workflows(config: pytest.Config, coverage_dir: Path) -> set[str]:
    """The workflows whose sandbox tests all ran: the whole tests/workflows folder, or a workflow's whole test file."""
    from stacks.common.registry import discover_workflows, owner_of

    if any(coverage_dir.glob("deselected-*")) or config.getoption("lf", False) or config.getoption("exitfirst", False):
        return set()
    workflows = REPO_ROOT / "tests" / "workflows"
    chosen = [(Path(arg.split("::")[0]).resolve(), "::" in arg) for arg in (config.args or ["tests"])]
    every = {workflow.name for workflow in discover_workflows()}
    enforced: set[str] = set()
    for path, partial in chosen:
        if partial:
            continue
        if path == workflows or path in workflows.parents:
            enforced |= every
        elif path.parent == workflows and (owner := owner_of(path, discover_workflows())):
            enforced.add(owner.name)
    return enforced


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or _COVERAGE_DIR_ENV not in os.environ:
        return
    from sandbox.coverage import StateCoverage

    coverage_dir = Path(os.environ[_COVERAGE_DIR_ENV])
    merged: dict[tuple[str, str], StateCoverage] = {}
    for path in coverage_dir.glob("coverage-*.json"):
        for record in json.loads(path.read_text()):
            key = (record["workflow"], record["state_machine"])
            seen = merged[key].entered if key in merged else frozenset()
            merged[key] = StateCoverage(record["workflow"], record["state_machine"], tuple(record["states"]),
                                        seen | frozenset(record["entered"]))
    enforced = _enforced_workflows(config, coverage_dir) if merged else set()
    lines, problems = [], []
    for (workflow, machine), coverage in sorted(merged.items()):
        lines.append(f"{workflow} ({machine}): {coverage.percent:.0f}% of {len(coverage.states)} states entered"
                     + (f"; never entered: {', '.join(coverage.missed)}" if coverage.missed else ""))
        if coverage.missed and workflow in enforced:
            problems.append(f"{workflow} ({machine}) never entered: {', '.join(coverage.missed)}")
    problems += [f"{name}: no sandbox test deployed it" for name in sorted(enforced) if name not in {w for w, _ in merged}]
    config._sandbox_coverage = (lines, problems, enforced)  # type: ignore[attr-defined]
    if problems and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    lines, problems, enforced = getattr(config, "_sandbox_coverage", ([], [], False))
    if not lines:
        return
    terminalreporter.section("state coverage of the sandbox runs")
    for line in lines:
        terminalreporter.write_line(line)
    if not enforced:
        terminalreporter.write_line("(not enforced: no workflow's whole sandbox test file ran)")
    else:
        terminalreporter.write_line(f"(enforced for: {', '.join(sorted(enforced))})")
    for problem in problems:
        terminalreporter.write_line(f"STATE COVERAGE FAILED: {problem}", red=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Sandbox runs last in each process: in-process moto (`mock_aws`) in unit tests resets the
    backends the sandbox's deployed stacks live in, so none may start after the sandbox has."""
    items.sort(key=lambda item: "sandbox" in getattr(item, "fixturenames", ()))
