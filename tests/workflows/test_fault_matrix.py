"""The fault matrix (issue 13): every discovered workflow x every fault its scenario module declares
(`FAULTS`, see sandbox/faults.py), run through the sandbox.

Each case runs the workflow once with the fault's stand-in settings and checks, with `sandbox.faults.verify`:
the retries its execution history shows (Distributed Map children included), the run's outcome, the failure
notice and its cause, that nothing was lost (the scenario's `nothing_lost`), and that the end state equals a
clean run's (the scenario's `end_state`): the faulted run's own when it recovered, else that of a re-run once
the fault is cleared. One clean run per workflow and test process gives that end state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from sandbox.engine.distributed_map import map_runs
from sandbox.execution import retries_by_state
from sandbox.faults import FaultMatrix, Observation, fault_matrix_of, merge_retries, same_inputs, verify
from sandbox.session import DeployedWorkflow, Sandbox
from stacks.common.registry import discover_workflows
from tests.workflows.notices import notice_inbox

MATRICES: dict[str, FaultMatrix | None] = {workflow.name: fault_matrix_of(workflow.scenario()) for workflow in discover_workflows()}
CASES = [pytest.param(name, fault, id=f"{name}:{fault.id}") for name, matrix in MATRICES.items() if matrix for fault in matrix.faults]


@dataclass
class PreparedWorkflow:
    """A workflow deployed for the matrix: its notices inbox, the end state of its clean run, its run count."""

    workflow: DeployedWorkflow
    matrix: FaultMatrix
    notices: Callable[[], list[dict]]
    inputs: Callable[[int], tuple[dict[str, Any], dict[str, Any]]]
    restore: dict[str, dict[str, Any]] = field(default_factory=dict)  # function -> its configuration before
    clean_end_state: Any = None
    runs: int = 0

    def failure_notices(self) -> list[tuple[str, str]]:
        return [notice for notice in map(self.matrix.read_notice, self.notices()) if notice is not None]


class MatrixRuns:
    """Prepares each workflow on first use (deploy, function settings, clean run) and runs its faults."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._prepared: dict[str, PreparedWorkflow] = {}
        self._restore: list[PreparedWorkflow] = []  # whose functions to configure back

    def prepared(self, name: str) -> PreparedWorkflow:
        if name not in self._prepared:
            workflow = self._sandbox.deploy(name)
            matrix = MATRICES[name]
            assert matrix is not None, f"{name} declares no FAULTS"
            prepared = PreparedWorkflow(workflow, matrix, notice_inbox(workflow, wait_seconds=0),
                                        matrix.inputs or same_inputs(workflow.spec.sample_input))
            self._configure_functions(prepared)
            self._restore.append(prepared)
            run_input, _ = prepared.inputs(0)
            clean = workflow.run(run_input, standins=matrix.standins())
            assert clean.status == "SUCCEEDED", f"{name}: the clean run failed: {clean.error}: {clean.cause}"
            assert workflow.scenario.nothing_lost(clean) == [], f"{name}: the clean run lost something"
            prepared.clean_end_state = workflow.scenario.end_state(clean)
            prepared.notices()
            self._prepared[name] = prepared
        return self._prepared[name]

    def _configure_functions(self, prepared: PreparedWorkflow) -> None:
        client = prepared.workflow.emulator.client("lambda")
        for function, settings in prepared.matrix.functions.items():
            name = prepared.workflow.function_named(function)
            before = client.get_function_configuration(FunctionName=name)
            environment = before.get("Environment", {}).get("Variables", {})
            prepared.restore[name] = {"Environment": {"Variables": environment}, "Timeout": before["Timeout"]}
            change: dict[str, Any] = {"Environment": {"Variables": {**environment, **settings.environment}}}
            if settings.timeout_seconds is not None:
                change["Timeout"] = settings.timeout_seconds
            client.update_function_configuration(FunctionName=name, **change)

    def restore(self) -> None:
        for prepared in reversed(self._restore):  # a second preparation saved the first one's changes
            client = prepared.workflow.emulator.client("lambda")
            for name, configuration in prepared.restore.items():
                client.update_function_configuration(FunctionName=name, **configuration)

    def observe(self, name: str, fault: Any) -> Observation:
        """Run `fault` (and, when the run fails, a re-run with the fault cleared); what the matrix sees."""
        prepared = self.prepared(name)
        workflow, matrix, scenario = prepared.workflow, prepared.matrix, prepared.workflow.scenario
        prepared.runs += 1
        run_input, rerun_input = prepared.inputs(prepared.runs)
        prepared.notices()
        report = workflow.run(run_input, standins=matrix.standins(fault.standins))
        notices = prepared.failure_notices()
        lost = scenario.nothing_lost(report)
        if report.status == "SUCCEEDED" and not fault.rerun:
            return Observation(report.status, None, self.retries(workflow, report.execution_arn), notices, lost,
                               report.outside_world, scenario.end_state(report))
        rerun = workflow.run(rerun_input, standins=matrix.standins(matrix.rerun_standins))
        prepared.notices()  # a re-run's own notices (a summary) are not the fault's
        return Observation(report.status, report.error, self.retries(workflow, report.execution_arn), notices, lost,
                           report.outside_world, scenario.end_state(rerun) if rerun.status == "SUCCEEDED" else None,
                           rerun_status=rerun.status, rerun_lost=scenario.nothing_lost(rerun))

    @staticmethod
    def retries(workflow: DeployedWorkflow, execution_arn: str) -> dict[str, dict[str, int]]:
        """Retries per state and error in the execution's history and its Distributed Map children's."""
        paginator = workflow.emulator.client("stepfunctions").get_paginator("get_execution_history")
        history = [event for page in paginator.paginate(executionArn=execution_arn) for event in page["events"]]
        children = [child.retries for run in map_runs(execution_arn) for child in run.children.values()]
        return merge_retries([retries_by_state(history), *children])


@pytest.fixture(scope="module")
def matrix_runs(sandbox):
    runs = MatrixRuns(sandbox)
    yield runs
    runs.restore()


def test_every_workflow_declares_each_kind_of_fault_for_each_dependency():
    # GIVEN every discovered workflow's scenario module
    # THEN each declares a fault matrix, and it names each kind of fault for each dependency (or why not)
    problems = {name: matrix.problems() if matrix else ["no FAULTS in its scenario module"] for name, matrix in MATRICES.items()}
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize(("workflow", "fault"), CASES)
def test_a_fault_keeps_the_workflows_promise(matrix_runs, workflow, fault):
    # GIVEN the workflow deployed, and the end state of a clean run
    # WHEN it runs with the fault (and, if it failed, again once the fault is cleared)
    seen = matrix_runs.observe(workflow, fault)
    # THEN the history shows the declared retries, the run ends as declared with its notice,
    #      nothing is lost, and the end state is the clean run's
    assert verify(fault, seen, matrix_runs.prepared(workflow).clean_end_state) == []
